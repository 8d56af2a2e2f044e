//! kquic-vm-bench: kquic (quic.ko) against TCP and TCP + kTLS in one guest boot, over
//! loopback, side by side; run in the VM by `bench/vm-bench.sh` (`make bench-vm`).
//!
//! Measured, each `--repeat` times (median and min-max printed):
//! - bulk throughput of one connection, one direction, for each message size: kquic with
//!   AES-128-GCM, kquic with `disable_1rtt_encryption`, TCP, TCP + kTLS AES-128-GCM, with the
//!   CPU time it took (all vCPUs from `/proc/stat`, and the sending and receiving threads);
//! - request/response latency, 1 KB each way on one connection, mean and p99;
//! - full handshakes per second (ECDSA P-256 and RSA-2048 certificates) and connections opened
//!   and closed per second (kquic);
//! - kernel memory per idle kquic connection (`/proc/meminfo` Slab + KernelStack + PageTables
//!   before and after opening `--idle-conns` connections).
//!
//! Progress goes to stderr; stdout gets one markdown table and its notes.

mod kquic;
mod stats;
mod sys;
mod table;
mod tcp;

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use kquic::CertKind;
use stats::{cell, num, ratio, summarize, Summary};

/// SO_RCVTIMEO / SO_SNDTIMEO of every socket: a stuck measurement fails instead of hanging.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes per read() / recvmsg() of the bulk receivers.
pub(crate) const RECV_BUF: usize = 64 * 1024;
/// Request and response size of the latency rows.
pub(crate) const RR_MSG: usize = 1024;
/// Below this many `/proc/stat` ticks a CPU figure is marked as coarse.
const FEW_TICKS: u64 = 20;
/// Round trips before the measured ones.
pub(crate) const RR_WARMUP: usize = 20;

/// Adds what was being done to an error.
pub(crate) trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

/// Runs `server` in a thread and `client` here. The client keeps its socket in the `Option`
/// it is given, which outlives the server thread when the client succeeds (so the server sees
/// everything before the close) and is closed first when it fails (so the server does not
/// wait for its timeout).
pub(crate) fn pair<T, U, K>(
    server: impl FnOnce() -> Result<T, String> + Send + 'static,
    client: impl FnOnce(&mut Option<K>) -> Result<U, String>,
) -> Result<(T, U), String>
where
    T: Send + 'static,
{
    let h = thread::spawn(server);
    let mut keep = None;
    let cr = client(&mut keep);
    if cr.is_err() {
        drop(keep.take());
    }
    let sr = h.join().unwrap_or_else(|p| Err(panic_message(p)));
    drop(keep);
    match (cr, sr) {
        (Ok(c), Ok(s)) => Ok((s, c)),
        (Err(c), Ok(_)) => Err(format!("client: {c}")),
        (Ok(_), Err(s)) => Err(format!("server: {s}")),
        (Err(c), Err(s)) => Err(format!("client: {c}; server: {s}")),
    }
}

/// One bulk run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BulkRun {
    mib_per_sec: f64,
    /// Busy CPU seconds of all vCPUs per GB (10^9 bytes).
    cpu_per_gb: f64,
    /// CPU seconds of the sending thread per GB.
    snd_per_gb: f64,
    /// CPU seconds of the receiving thread per GB.
    rcv_per_gb: f64,
    /// `cpu_per_gb` rests on fewer than [`FEW_TICKS`] `/proc/stat` ticks.
    coarse: bool,
}

impl BulkRun {
    pub(crate) fn new(
        bytes: u64,
        secs: f64,
        st0: sys::CpuTimes,
        st1: sys::CpuTimes,
        snd: Duration,
        rcv: Duration,
    ) -> Self {
        let gb = bytes as f64 / 1e9;
        let busy = st1.busy_ns.saturating_sub(st0.busy_ns) as f64 / 1e9;
        Self {
            coarse: st0.from_ticks && busy < FEW_TICKS as f64 * sys::tick_secs(),
            mib_per_sec: bytes as f64 / (1u64 << 20) as f64 / secs.max(1e-9),
            cpu_per_gb: busy / gb,
            snd_per_gb: snd.as_secs_f64() / gb,
            rcv_per_gb: rcv.as_secs_f64() / gb,
        }
    }
}

/// One request/response run, microseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RrRun {
    mean_us: f64,
    p99_us: f64,
}

impl RrRun {
    pub(crate) fn from_times(t: &[f64]) -> Result<Self, String> {
        Ok(Self {
            mean_us: stats::mean(t).ok_or("no round trips")?,
            p99_us: stats::percentile(t, 99.0).ok_or("no round trips")?,
        })
    }
}

/// One handshake loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HsRun {
    hs_per_sec: f64,
    conns_per_sec: f64,
}

/// One idle-connection memory run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemRun {
    conns: usize,
    /// Growth of Slab + KernelStack + PageTables, KiB.
    delta_kib: f64,
}

/// The four stacks compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Stack {
    Kquic,
    KquicPlain,
    Tcp,
    Ktls,
}

impl Stack {
    const ALL: [Stack; 4] = [Stack::Kquic, Stack::KquicPlain, Stack::Tcp, Stack::Ktls];

    fn label(self) -> &'static str {
        match self {
            Stack::Kquic => "kquic AES-128-GCM",
            Stack::KquicPlain => "kquic no encryption",
            Stack::Tcp => "TCP",
            Stack::Ktls => "TCP + kTLS AES-128-GCM",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Section {
    Bulk,
    Rr,
    Handshake,
    Memory,
}

#[derive(Parser, Debug)]
#[command(
    name = "kquic-vm-bench",
    about = "kquic vs TCP and TCP + kTLS over loopback in the guest: one markdown table"
)]
struct Args {
    /// Bytes sent per bulk run.
    #[arg(long, default_value_t = 32 << 20)]
    bulk_bytes: u64,
    /// Message sizes of the bulk rows (bytes per sendmsg/write).
    #[arg(long, value_delimiter = ',', default_value = "1024,16384,65536")]
    sizes: Vec<usize>,
    /// Runs of every measurement; the table shows the median and the min-max spread.
    #[arg(long, short = 'r', default_value_t = 3)]
    repeat: usize,
    /// Measured round trips per request/response run.
    #[arg(long, default_value_t = 1000)]
    round_trips: usize,
    /// Full handshakes per run with the ECDSA P-256 certificate.
    #[arg(long, default_value_t = 100)]
    handshakes: usize,
    /// Full handshakes per run with the RSA-2048 certificate (0: skip).
    #[arg(long, default_value_t = 50)]
    rsa_handshakes: usize,
    /// Idle kquic connections opened for the memory row.
    #[arg(long, default_value_t = 1000)]
    idle_conns: usize,
    /// Runs of the memory row (each opens --idle-conns connections).
    #[arg(long, default_value_t = 1)]
    mem_repeat: usize,
    /// What to measure.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "bulk,rr,handshake,memory"
    )]
    only: Vec<Section>,
    /// End the run (exit status 2) if it takes longer than this many seconds.
    #[arg(long, default_value_t = 1800)]
    watchdog: u64,
}

/// Samples of one measurement, or why there are none.
type Slot<T> = Result<Vec<T>, String>;

/// Adds a sample; the first failure replaces the samples (later runs are skipped).
fn record<T>(slot: &mut Slot<T>, r: Result<T, String>) {
    if let Ok(v) = slot {
        match r {
            Ok(x) => v.push(x),
            Err(e) => *slot = Err(e),
        }
    }
}

/// Footnotes: each distinct text once, numbered.
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    fn mark(&mut self, text: &str) -> String {
        let i = match self.0.iter().position(|t| t == text) {
            Some(i) => i,
            None => {
                self.0.push(text.to_string());
                self.0.len() - 1
            }
        };
        format!("[{}]", i + 1)
    }
}

#[derive(Default)]
struct Results {
    bulk: HashMap<(Stack, usize), Slot<BulkRun>>,
    rr: HashMap<Stack, Slot<RrRun>>,
    hs: HashMap<CertKind, Slot<HsRun>>,
    mem: Option<Slot<MemRun>>,
    /// kTLS software contexts (TX, RX) and offloaded ones opened during the run.
    tls_ctx: Option<[u64; 4]>,
}

fn size_label(n: usize) -> String {
    if n & 1023 == 0 {
        format!("{} KB", n / 1024)
    } else {
        format!("{n} B")
    }
}

/// The lxin/quic, TCP and kTLS figures of issue 11 (MiB/s, same VM, an earlier run).
fn reference_bulk(size: usize) -> &'static str {
    match size {
        1024 => "21.7 · 126 · 163 · 25.3",
        16384 => "21.6 · 175 · 277 · 35.7",
        65536 => "21.2 · 171 · 359 · 36.1",
        _ => "—",
    }
}

fn progress(what: &str, r: &Result<String, String>) {
    match r {
        Ok(v) => eprintln!("[bench] {what}: {v}"),
        Err(e) => eprintln!("[bench] {what}: FAILED: {e}"),
    }
}

fn bulk_once(
    stack: Stack,
    tls: &Result<Arc<kquic::Tls>, String>,
    size: usize,
    bytes: u64,
) -> Result<BulkRun, String> {
    match stack {
        Stack::Kquic | Stack::KquicPlain => {
            let tls = tls.as_ref().map_err(Clone::clone)?;
            kquic::bulk(tls, stack == Stack::KquicPlain, size, bytes)
        }
        Stack::Tcp => tcp::bulk(false, size, bytes),
        Stack::Ktls => tcp::bulk(true, size, bytes),
    }
}

fn rr_once(stack: Stack, tls: &Result<Arc<kquic::Tls>, String>, n: usize) -> Result<RrRun, String> {
    match stack {
        Stack::Kquic | Stack::KquicPlain => {
            let tls = tls.as_ref().map_err(Clone::clone)?;
            kquic::rr(tls, stack == Stack::KquicPlain, n)
        }
        Stack::Tcp => tcp::rr(false, n),
        Stack::Ktls => tcp::rr(true, n),
    }
}

fn run(args: &Args) -> Results {
    let mut res = Results::default();
    let want = |s: Section| args.only.contains(&s);
    let ecdsa = kquic::Tls::new(CertKind::EcdsaP256);
    let tls0 = sys::tls_counters();

    if want(Section::Bulk) {
        for &size in &args.sizes {
            for s in Stack::ALL {
                res.bulk.insert((s, size), Ok(Vec::new()));
            }
        }
        // Repetitions outermost: drift over the run spreads over every row alike.
        for rep in 1..=args.repeat {
            for &size in &args.sizes {
                for s in Stack::ALL {
                    let slot = res.bulk.get_mut(&(s, size)).expect("inserted above");
                    if slot.is_err() {
                        continue;
                    }
                    let r = bulk_once(s, &ecdsa, size, args.bulk_bytes);
                    progress(
                        &format!("bulk {} {} run {rep}", s.label(), size_label(size)),
                        &r.as_ref()
                            .map(|b| {
                                format!("{:.1} MiB/s, {:.1} CPU s/GB", b.mib_per_sec, b.cpu_per_gb)
                            })
                            .map_err(Clone::clone),
                    );
                    record(slot, r);
                }
            }
        }
    }

    if want(Section::Rr) {
        for s in Stack::ALL {
            res.rr.insert(s, Ok(Vec::new()));
        }
        for rep in 1..=args.repeat {
            for s in Stack::ALL {
                let slot = res.rr.get_mut(&s).expect("inserted above");
                if slot.is_err() {
                    continue;
                }
                let r = rr_once(s, &ecdsa, args.round_trips);
                progress(
                    &format!("req/resp {} run {rep}", s.label()),
                    &r.as_ref()
                        .map(|x| format!("mean {:.0} µs, p99 {:.0} µs", x.mean_us, x.p99_us))
                        .map_err(Clone::clone),
                );
                record(slot, r);
            }
        }
    }
    res.tls_ctx = match (tls0, sys::tls_counters()) {
        (Some(a), Some(b)) => Some([0, 1, 2, 3].map(|i| b[i].saturating_sub(a[i]))),
        _ => None,
    };

    if want(Section::Handshake) {
        let mut kinds = vec![(CertKind::EcdsaP256, args.handshakes)];
        if args.rsa_handshakes > 0 {
            kinds.push((CertKind::Rsa2048, args.rsa_handshakes));
        }
        for (kind, n) in kinds {
            let tls = match kind {
                CertKind::EcdsaP256 => ecdsa.clone(),
                CertKind::Rsa2048 => kquic::Tls::new(kind),
            };
            let mut slot = tls.as_ref().map(|_| Vec::new()).map_err(Clone::clone);
            for rep in 1..=args.repeat {
                let Ok(tls) = &tls else { break };
                if slot.is_err() {
                    break;
                }
                let r = kquic::handshakes(tls, n);
                progress(
                    &format!("{n} handshakes {kind:?} run {rep}"),
                    &r.as_ref()
                        .map(|h| format!("{:.1}/s, {:.1} conns/s", h.hs_per_sec, h.conns_per_sec))
                        .map_err(Clone::clone),
                );
                record(&mut slot, r);
            }
            res.hs.insert(kind, slot);
        }
    }

    if want(Section::Memory) {
        let mut slot = ecdsa.as_ref().map(|_| Vec::new()).map_err(Clone::clone);
        for rep in 1..=args.mem_repeat {
            let Ok(tls) = &ecdsa else { break };
            if slot.is_err() {
                break;
            }
            eprintln!(
                "[bench] memory: opening {} idle connections (run {rep})",
                args.idle_conns
            );
            let r = kquic::idle_memory(tls, args.idle_conns);
            progress(
                &format!("memory run {rep}"),
                &r.as_ref()
                    .map(|m| format!("{:.0} KiB for {} connections", m.delta_kib, m.conns))
                    .map_err(Clone::clone),
            );
            record(&mut slot, r);
        }
        res.mem = Some(slot);
    }
    res
}

/// A table cell from a slot: `median (min–max)` of `f`, or `n/a [k]` with the reason as a note.
fn slot_cell<T>(
    slot: Option<&Slot<T>>,
    f: impl Fn(&T) -> f64,
    notes: &mut Notes,
) -> (String, Option<f64>) {
    match slot {
        None => ("not run".to_string(), None),
        Some(Err(e)) => (format!("n/a {}", notes.mark(e)), None),
        Some(Ok(v)) => {
            let xs: Vec<f64> = v.iter().map(f).collect();
            match summarize(&xs) {
                Some(s) => (cell(&s), Some(s.median)),
                None => ("not run".to_string(), None),
            }
        }
    }
}

fn median_of<T>(slot: Option<&Slot<T>>, f: impl Fn(&T) -> f64) -> Option<Summary> {
    match slot {
        Some(Ok(v)) => summarize(&v.iter().map(f).collect::<Vec<_>>()),
        _ => None,
    }
}

fn render(args: &Args, res: &Results) -> String {
    let header: Vec<String> = [
        "measurement",
        Stack::Kquic.label(),
        Stack::KquicPlain.label(),
        Stack::Tcp.label(),
        Stack::Ktls.label(),
        "kquic / kTLS",
        "kquic no-enc / TCP",
        "kquic / TCP",
        "reference, issue 11 (earlier run, not this one): lxin/quic · lxin/quic no enc · TCP · kTLS",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    let mut notes = Notes::default();
    let dash = || "—".to_string();

    // Four stack cells and the three ratios of their medians.
    let four = |label: String,
                cells: [(String, Option<f64>); 4],
                reference: &str,
                rows: &mut Vec<Vec<String>>| {
        let m: Vec<Option<f64>> = cells.iter().map(|c| c.1).collect();
        let mut row = vec![label];
        row.extend(cells.into_iter().map(|c| c.0));
        row.push(ratio(m[0], m[3]));
        row.push(ratio(m[1], m[2]));
        row.push(ratio(m[0], m[2]));
        row.push(reference.to_string());
        rows.push(row);
    };

    if !res.bulk.is_empty() {
        for &size in &args.sizes {
            let cells = Stack::ALL
                .map(|s| slot_cell(res.bulk.get(&(s, size)), |b| b.mib_per_sec, &mut notes));
            four(
                format!("bulk, {} writes, MiB/s", size_label(size)),
                cells,
                reference_bulk(size),
                &mut rows,
            );
        }
        for &size in &args.sizes {
            let cells = Stack::ALL.map(|s| {
                let slot = res.bulk.get(&(s, size));
                let (mut c, m) = slot_cell(slot, |b| b.cpu_per_gb, &mut notes);
                if let Some(Ok(v)) = slot {
                    if v.iter().any(|b| b.coarse) {
                        c = format!("≈{c}");
                    }
                }
                let snd = median_of(slot, |b| b.snd_per_gb);
                let rcv = median_of(slot, |b| b.rcv_per_gb);
                match (snd, rcv) {
                    (Some(a), Some(b)) => (
                        format!("{c}; snd {} · rcv {}", num(a.median), num(b.median)),
                        m,
                    ),
                    _ => (c, m),
                }
            });
            four(
                format!(
                    "CPU s per GB, {} bulk: all vCPUs; snd · rcv threads",
                    size_label(size)
                ),
                cells,
                "—",
                &mut rows,
            );
        }
    }
    if !res.rr.is_empty() {
        let cells = Stack::ALL.map(|s| slot_cell(res.rr.get(&s), |r| r.mean_us, &mut notes));
        four(
            "req/resp 1 KB, mean µs".into(),
            cells,
            "753 · 473 · 240 · 646",
            &mut rows,
        );
        let cells = Stack::ALL.map(|s| slot_cell(res.rr.get(&s), |r| r.p99_us, &mut notes));
        four("req/resp 1 KB, p99 µs".into(), cells, "—", &mut rows);
    }
    let kquic_only = |label: String, c: String, reference: &str| {
        vec![
            label,
            c,
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            dash(),
            reference.to_string(),
        ]
    };
    if !res.hs.is_empty() {
        for (kind, label, reference) in [
            (CertKind::EcdsaP256, "handshakes/s, full, ECDSA P-256", "—"),
            (
                CertKind::Rsa2048,
                "handshakes/s, full, RSA-2048",
                "lxin/quic 3.25",
            ),
        ] {
            if let Some(slot) = res.hs.get(&kind) {
                let (c, _) = slot_cell(Some(slot), |h| h.hs_per_sec, &mut notes);
                rows.push(kquic_only(label.into(), c, reference));
            }
        }
        let na = notes.mark(
            "resumed and PSK handshakes: session resumption in quic.ko is not done yet, and \
             rustls has no external PSK (libquic's TlsConfig::psk_file fails with PskUnsupported)",
        );
        rows.push(kquic_only(
            "handshakes/s, resumed / PSK".into(),
            format!("n/a {na}"),
            "lxin/quic PSK 44.2",
        ));
        if let Some(slot) = res.hs.get(&CertKind::EcdsaP256) {
            let (c, _) = slot_cell(Some(slot), |h| h.conns_per_sec, &mut notes);
            rows.push(kquic_only(
                "connections/s opened + closed (ECDSA P-256, full handshake)".into(),
                c,
                "—",
            ));
        }
    }
    if let Some(slot) = &res.mem {
        let (c, _) = slot_cell(
            Some(slot),
            |m| m.delta_kib / (2 * m.conns) as f64,
            &mut notes,
        );
        let pair = median_of(Some(slot), |m| m.delta_kib / m.conns as f64);
        let c = match pair {
            Some(p) => format!("{c} (client + server pair: {})", num(p.median)),
            None => c,
        };
        rows.push(kquic_only(
            format!(
                "kernel memory per idle connection endpoint, KiB (N = {})",
                args.idle_conns
            ),
            c,
            "—",
        ));
    }

    let mut out = table::render(&header, &rows);
    out.push('\n');
    let mut add = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    add(format!(
        "Median of {} runs, (min–max) when they differ. Runs interleave (repetition outermost).",
        args.repeat
    ));
    if !res.bulk.is_empty() {
        add(format!(
            "Bulk: one connection, client → server, {} MiB per run in writes of the row's size \
             (kquic: sendmsg on one stream, FIN with the last); the server reads up to {} KiB \
             per call and is timed from its first byte to the FIN (EOF for TCP).",
            args.bulk_bytes as f64 / (1u64 << 20) as f64,
            RECV_BUF / 1024
        ));
        add(format!(
            "CPU: time all vCPUs spent running tasks from the first write to the FIN ({}), \
             and CPU time of the sending and receiving threads (CLOCK_THREAD_CPUTIME_ID; \
             kquic's work items run in kworkers and count only in the first figure). Per GB = \
             10^9 bytes.{}",
            if sys::cpu_times().is_ok_and(|c| !c.from_ticks) {
                "/proc/schedstat, the scheduler's clock; softirq work done on an idle CPU is \
                 not in it"
            } else {
                "/proc/stat user+nice+system+irq+softirq+steal ticks"
            },
            if res.bulk.values().flatten().flatten().any(|b| b.coarse) {
                format!(
                    " ≈: a run of that cell spanned fewer than {FEW_TICKS} ticks of {} ms.",
                    num(sys::tick_secs() * 1e3)
                )
            } else {
                String::new()
            }
        ));
    }
    if !res.bulk.is_empty() || !res.rr.is_empty() {
        add(
            "kquic no encryption: disable_1rtt_encryption set with QUIC_SOCKOPT_TRANSPORT_PARAM \
             on the client and the listener; each end checks that the peer's transport \
             parameters as the TLS handshake delivered them carry it (else the run fails)."
                .into(),
        );
        add(
            "kTLS: TCP_ULP \"tls\" with TLS_TX on the sender and TLS_RX on the receiver, TLS 1.3 \
             AES-128-GCM with fixed keys, IV, salt and record sequence: no handshake is done \
             (not needed for a record-layer measurement). kquic uses rustls restricted to \
             TLS13_AES_128_GCM_SHA256."
                .into(),
        );
        if let Some(c) = res.tls_ctx {
            add(format!(
                "kTLS contexts opened during the run (/proc/net/tls_stat): {} TX and {} RX in \
                 software, {} TX and {} RX offloaded.",
                c[0], c[1], c[2], c[3]
            ));
        }
        if let Ok(t) = std::fs::read_to_string("/proc/crypto") {
            let d = sys::crypto_drivers(&t, "gcm(aes)");
            if !d.is_empty() {
                add(format!(
                    "gcm(aes) instances in /proc/crypto: {}.",
                    d.join(", ")
                ));
            }
        }
    }
    if !res.rr.is_empty() {
        add(format!(
            "Request/response: {} round trips per run after {RR_WARMUP} warm-up ones, 1 KB \
             request and 1 KB response on one connection (one stream for kquic), TCP_NODELAY \
             / stream_data_nodelay on both ends.",
            args.round_trips
        ));
    }
    if !res.hs.is_empty() {
        add(format!(
            "Handshakes: {} (ECDSA) and {} (RSA) per run, one after another on one listener, \
             no session tickets or cache (every one full, rustls, AES-128-GCM); handshakes/s \
             counts from connect() until both ends are done; connections/s is the whole loop \
             (connect, handshake, close, accept). RSA keys come from `openssl genpkey`.",
            args.handshakes, args.rsa_handshakes
        ));
    }
    if res.mem.is_some() {
        add(format!(
            "Memory: /proc/meminfo Slab + KernelStack + PageTables after minus before opening \
             N = {} handshaken, idle connections (max_idle_timeout 600 s), divided by the 2N \
             kquic sockets (both ends are in this kernel; the pair figure is per client + \
             server; each client socket binds its own UDP tunnel socket, the accepted ones \
             share the listener's). {} run(s).",
            args.idle_conns, args.mem_repeat
        ));
    }
    for (i, n) in notes.0.iter().enumerate() {
        add(format!("[{}] {}", i + 1, n.replace('\n', " ")));
    }
    out
}

fn main() {
    let args = Args::parse();
    if args.repeat == 0 {
        eprintln!("--repeat must be at least 1");
        std::process::exit(2);
    }
    let limit = Duration::from_secs(args.watchdog);
    thread::spawn(move || {
        thread::sleep(limit);
        eprintln!("[bench] watchdog: still running after {limit:?}, giving up");
        std::process::exit(2);
    });
    let started = Instant::now();
    let res = run(&args);
    print!("{}", render(&args, &res));
    eprintln!("[bench] done in {:.0} s", started.elapsed().as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args::parse_from(["kquic-vm-bench"])
    }

    #[test]
    fn defaults() {
        let a = args();
        assert_eq!(a.sizes, vec![1024, 16384, 65536]);
        assert_eq!(a.repeat, 3);
        assert_eq!(a.only.len(), 4);
        let a = Args::parse_from(["kquic-vm-bench", "--only", "bulk,rr", "--sizes", "4096"]);
        assert_eq!(a.only, vec![Section::Bulk, Section::Rr]);
        assert_eq!(a.sizes, vec![4096]);
    }

    #[test]
    fn record_keeps_the_first_failure() {
        let mut s: Slot<u32> = Ok(Vec::new());
        record(&mut s, Ok(1));
        record(&mut s, Err("broke".into()));
        record(&mut s, Ok(2));
        assert_eq!(s, Err("broke".to_string()));
    }

    #[test]
    fn table_with_ratios_and_notes() {
        let a = Args::parse_from(["kquic-vm-bench", "--sizes", "1024", "-r", "2"]);
        let mut res = Results::default();
        let run = |mib: f64| BulkRun {
            mib_per_sec: mib,
            cpu_per_gb: 10.0,
            snd_per_gb: 4.0,
            rcv_per_gb: 3.0,
            coarse: false,
        };
        res.bulk
            .insert((Stack::Kquic, 1024), Ok(vec![run(10.0), run(12.0)]));
        res.bulk.insert(
            (Stack::KquicPlain, 1024),
            Err("no disable_1rtt_encryption".into()),
        );
        res.bulk
            .insert((Stack::Tcp, 1024), Ok(vec![run(100.0), run(100.0)]));
        res.bulk
            .insert((Stack::Ktls, 1024), Ok(vec![run(22.0), run(22.0)]));
        let t = render(&a, &res);
        let row = t.lines().find(|l| l.starts_with("| bulk, 1 KB")).unwrap();
        assert!(
            row.contains("| 11.0 (10.0–12.0) | n/a [1] | 100 | 22.0 | 0.50 | — | 0.11 |"),
            "{row}"
        );
        assert!(t.contains("[1] no disable_1rtt_encryption"), "{t}");
        assert!(t.contains("snd 4.00 · rcv 3.00"), "{t}");
    }
}
