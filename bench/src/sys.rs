//! The system interfaces the benchmark reads and sets: CPU time (`/proc/schedstat` or
//! `/proc/stat`, per-thread clocks), kernel memory (`/proc/meminfo`), the open-file limit, kTLS socket options and the
//! kernel's own counters of what kTLS did.

use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Machine-wide busy CPU time so far, summed over all CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    /// Nanoseconds.
    pub(crate) busy_ns: u64,
    /// From `/proc/stat` ticks (else from the scheduler's clock).
    pub(crate) from_ticks: bool,
}

/// Busy ticks from the aggregate `cpu ...` line of `/proc/stat`: user + nice + system + irq +
/// softirq + steal.
pub(crate) fn parse_stat_busy_ticks(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal ...
    if v.len() < 7 {
        return None;
    }
    Some(v[0] + v[1] + v[2] + v[5] + v[6] + v.get(7).copied().unwrap_or(0))
}

/// Time tasks (not the idle task) ran, summed over the `cpuN` lines of `/proc/schedstat`
/// (field 7: nanoseconds by the scheduler's clock).
pub(crate) fn parse_schedstat_run_ns(text: &str) -> Option<u64> {
    let mut sum = 0;
    let mut cpus = 0;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let Some(name) = it.next() else { continue };
        if !name.starts_with("cpu") || name.len() == 3 {
            continue;
        }
        sum += it.nth(6)?.parse::<u64>().ok()?;
        cpus += 1;
    }
    (cpus > 0).then_some(sum)
}

/// The machine's busy CPU time now: `/proc/schedstat` when the kernel has it
/// (CONFIG_SCHED_INFO), else `/proc/stat`, whose tick sampling undercounts when timer ticks are
/// lost (as in a TCG guest on a busy host).
pub(crate) fn cpu_times() -> Result<CpuTimes, String> {
    if let Some(ns) = std::fs::read_to_string("/proc/schedstat")
        .ok()
        .as_deref()
        .and_then(parse_schedstat_run_ns)
    {
        return Ok(CpuTimes {
            busy_ns: ns,
            from_ticks: false,
        });
    }
    let t = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    let ticks =
        parse_stat_busy_ticks(&t).ok_or_else(|| "/proc/stat: no aggregate cpu line".to_string())?;
    Ok(CpuTimes {
        busy_ns: (ticks as f64 * tick_secs() * 1e9) as u64,
        from_ticks: true,
    })
}

/// Seconds per clock tick of `/proc/stat`.
pub(crate) fn tick_secs() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        1.0 / hz as f64
    } else {
        0.01
    }
}

/// CPU time (user + system) the calling thread has used so far.
pub(crate) fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The `/proc/meminfo` counters that hold kernel memory of sockets and connections.
pub(crate) const KERNEL_MEM_KEYS: &[&str] = &["Slab", "KernelStack", "PageTables"];

/// Sum of the named `/proc/meminfo` fields, KiB; `None` if one is missing.
pub(crate) fn parse_meminfo(text: &str, keys: &[&str]) -> Option<u64> {
    let mut sum = 0;
    for k in keys {
        let line = text.lines().find(|l| l.split(':').next() == Some(*k))?;
        let v: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        sum += v;
    }
    Some(sum)
}

/// Slab + KernelStack + PageTables now, KiB.
pub(crate) fn kernel_mem_kib() -> Result<u64, String> {
    let t = std::fs::read_to_string("/proc/meminfo").map_err(|e| format!("/proc/meminfo: {e}"))?;
    parse_meminfo(&t, KERNEL_MEM_KEYS)
        .ok_or_else(|| format!("/proc/meminfo lacks one of {KERNEL_MEM_KEYS:?}"))
}

/// Raises RLIMIT_NOFILE (soft and, as root, hard) to at least `want` descriptors.
pub(crate) fn raise_nofile(want: u64) -> Result<(), String> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    if rl.rlim_cur >= want {
        return Ok(());
    }
    rl.rlim_cur = want;
    rl.rlim_max = rl.rlim_max.max(want);
    // SAFETY: `rl` is a valid rlimit, read by the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } != 0 {
        return Err(format!(
            "setrlimit(RLIMIT_NOFILE, {want}): {}",
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// `TCP_ULP` (include/uapi/linux/tcp.h).
const TCP_ULP: libc::c_int = 31;
/// `SOL_TLS` (include/linux/socket.h).
const SOL_TLS: libc::c_int = 282;
/// `TLS_TX` (include/uapi/linux/tls.h).
pub(crate) const TLS_TX: libc::c_int = 1;
/// `TLS_RX`.
pub(crate) const TLS_RX: libc::c_int = 2;
/// `TLS_1_3_VERSION`.
const TLS_1_3_VERSION: u16 = 0x0304;
/// `TLS_CIPHER_AES_GCM_128`.
const TLS_CIPHER_AES_GCM_128: u16 = 51;

/// `struct tls12_crypto_info_aes_gcm_128` (include/uapi/linux/tls.h), 40 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
struct Tls12CryptoInfoAesGcm128 {
    version: u16,
    cipher_type: u16,
    iv: [u8; 8],
    key: [u8; 16],
    salt: [u8; 4],
    rec_seq: [u8; 8],
}

const _: () = assert!(std::mem::size_of::<Tls12CryptoInfoAesGcm128>() == 40);

fn setsockopt_bytes(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    val: &[u8],
) -> io::Result<()> {
    // SAFETY: `val` is readable for `val.len()` bytes during the call; the kernel copies them.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Attaches the "tls" upper layer protocol to a connected TCP socket.
pub(crate) fn ktls_ulp(fd: RawFd) -> Result<(), String> {
    setsockopt_bytes(fd, libc::IPPROTO_TCP, TCP_ULP, b"tls")
        .map_err(|e| format!("setsockopt(TCP_ULP, \"tls\"): {e}"))
}

/// Installs fixed TLS 1.3 AES-128-GCM keys for one direction (`TLS_TX` or `TLS_RX`); the two
/// ends of one direction must use the same `seed`. No handshake: the keys are made up, which
/// is all a record layer throughput measurement needs.
pub(crate) fn ktls_keys(fd: RawFd, dir: libc::c_int, seed: u8) -> Result<(), String> {
    let info = Tls12CryptoInfoAesGcm128 {
        version: TLS_1_3_VERSION,
        cipher_type: TLS_CIPHER_AES_GCM_128,
        iv: [seed ^ 0x11; 8],
        key: [seed; 16],
        salt: [seed ^ 0x22; 4],
        rec_seq: [0; 8],
    };
    // SAFETY: `info` is a repr(C) struct of integers and byte arrays without padding (40 bytes,
    // checked above); the slice covers exactly its bytes and lives as long as `info`.
    let bytes = unsafe {
        std::slice::from_raw_parts(
            (&info as *const Tls12CryptoInfoAesGcm128).cast::<u8>(),
            std::mem::size_of::<Tls12CryptoInfoAesGcm128>(),
        )
    };
    let what = if dir == TLS_TX { "TLS_TX" } else { "TLS_RX" };
    setsockopt_bytes(fd, SOL_TLS, dir, bytes)
        .map_err(|e| format!("setsockopt(SOL_TLS, {what}): {e}"))
}

/// A counter of `/proc/net/tls_stat`.
pub(crate) fn tls_stat(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == key).then(|| it.next()?.parse().ok())?
    })
}

/// `(TlsTxSw, TlsRxSw, TlsTxDevice, TlsRxDevice)` now: kTLS contexts opened in software and
/// offloaded, since boot.
pub(crate) fn tls_counters() -> Option<[u64; 4]> {
    let t = std::fs::read_to_string("/proc/net/tls_stat").ok()?;
    Some([
        tls_stat(&t, "TlsTxSw")?,
        tls_stat(&t, "TlsRxSw")?,
        tls_stat(&t, "TlsTxDevice").unwrap_or(0),
        tls_stat(&t, "TlsRxDevice").unwrap_or(0),
    ])
}

/// The drivers `/proc/crypto` lists for algorithm `name` (e.g. `gcm(aes)`), with their
/// priority and whether they are asynchronous, highest priority first.
pub(crate) fn crypto_drivers(text: &str, name: &str) -> Vec<String> {
    let mut out: Vec<(i64, String)> = Vec::new();
    for block in text.split("\n\n") {
        let field = |k: &str| {
            block.lines().find_map(|l| {
                let (a, b) = l.split_once(':')?;
                (a.trim() == k).then(|| b.trim().to_string())
            })
        };
        if field("name").as_deref() != Some(name) {
            continue;
        }
        let driver = field("driver").unwrap_or_default();
        let prio = field("priority").and_then(|p| p.parse().ok()).unwrap_or(0);
        let asyn = if field("async").as_deref() == Some("yes") {
            ", async"
        } else {
            ""
        };
        out.push((prio, format!("{driver} (prio {prio}{asyn})")));
    }
    out.sort_by_key(|d| std::cmp::Reverse(d.0));
    out.into_iter().map(|(_, d)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_and_schedstat() {
        let t = "cpu  100 5 50 1000 7 3 2 1 0 0\ncpu0 50 2 25 500 3 1 1 0 0 0\n";
        assert_eq!(parse_stat_busy_ticks(t), Some(100 + 5 + 50 + 3 + 2 + 1));
        assert!(parse_stat_busy_ticks("cpu0 1 2 3\n").is_none());
        let t = "version 16\ntimestamp 4295\ncpu0 0 0 10 2 8 3 1000 50 9\n\
                 domain0 3 1 2 3\ncpu1 0 0 10 2 8 3 234 50 9\n";
        assert_eq!(parse_schedstat_run_ns(t), Some(1234));
        assert_eq!(parse_schedstat_run_ns("version 16\n"), None);
    }

    #[test]
    fn meminfo_fields() {
        let t = "MemTotal:  2000 kB\nSlab:  300 kB\nKernelStack:  40 kB\nPageTables:  8 kB\n\
                 SReclaimable: 100 kB\n";
        assert_eq!(parse_meminfo(t, KERNEL_MEM_KEYS), Some(348));
        assert_eq!(parse_meminfo(t, &["Slab", "Nope"]), None);
    }

    #[test]
    fn tls_stat_and_crypto() {
        let t = "TlsCurrTxSw    0\nTlsTxSw 4\nTlsRxSw 3\n";
        assert_eq!(tls_stat(t, "TlsTxSw"), Some(4));
        assert_eq!(tls_stat(t, "TlsRxDevice"), None);
        let c =
            "name         : gcm(aes)\ndriver       : gcm_base(ctr(aes-generic),ghash-generic)\n\
                 priority     : 100\nasync        : no\n\n\
                 name         : gcm(aes)\ndriver       : generic-gcm-aesni\npriority     : 400\n\
                 async        : yes\n\nname         : aes\ndriver       : aes-aesni\n";
        assert_eq!(
            crypto_drivers(c, "gcm(aes)"),
            vec![
                "generic-gcm-aesni (prio 400, async)".to_string(),
                "gcm_base(ctr(aes-generic),ghash-generic) (prio 100)".to_string()
            ]
        );
    }

    #[test]
    fn thread_clock_advances() {
        let a = thread_cpu();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() >= a);
        assert!(tick_secs() > 0.0);
    }
}
