//! What the kernel says about quic.ko and about our tasks: the module's reference count (every
//! QUIC socket, orphans in their closing period included, holds one), `/proc/net/quic/sockets`,
//! which system call a task is blocked in, kernel stacks for hang reports, `SCM_RIGHTS` and
//! `delete_module(2)`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

/// The module's reference count (`/sys/module/quic/refcnt`).
pub fn module_refcnt() -> Result<i64, String> {
    let t = std::fs::read_to_string("/sys/module/quic/refcnt")
        .map_err(|e| format!("/sys/module/quic/refcnt: {e} (is quic.ko loaded?)"))?;
    t.trim()
        .parse()
        .map_err(|e| format!("/sys/module/quic/refcnt {t:?}: {e}"))
}

/// Whether quic.ko is loaded (`/proc/modules`).
pub fn module_loaded() -> bool {
    std::fs::read_to_string("/proc/modules")
        .map(|t| t.lines().any(|l| l.starts_with("quic ")))
        .unwrap_or(false)
}

/// Waits until the module's reference count is at most `base` (every socket made since is
/// gone); returns how long that took, or an error with what is left after `limit`.
pub fn wait_refcnt(base: i64, limit: Duration) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let n = module_refcnt()?;
        if n <= base {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(format!(
                "quic.ko refcnt {n}, {base} before: QUIC sockets still exist {limit:?} later \
                 (an open socket holds two references, an orphan one; {})",
                quic_sockets_summary()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The sockets `/proc/net/quic/sockets` lists in this task's namespace, one line each.
pub fn quic_sockets_summary() -> String {
    match std::fs::read_to_string("/proc/net/quic/sockets") {
        Ok(t) => {
            let lines: Vec<&str> = t.lines().skip(1).collect();
            format!(
                "{} in this namespace's /proc/net/quic/sockets{}",
                lines.len(),
                lines
                    .iter()
                    .take(4)
                    .map(|l| format!("; {}", l.split_whitespace().collect::<Vec<_>>().join(" ")))
                    .collect::<String>()
            )
        }
        Err(e) => format!("/proc/net/quic/sockets: {e}"),
    }
}

/// The counters of `/proc/net/quic/snmp` in the calling thread's namespace, the non-zero ones
/// as `Name value` (the `Quic` prefix dropped), joined with commas.
pub fn quic_snmp_here() -> String {
    match std::fs::read_to_string("/proc/thread-self/net/quic/snmp") {
        Ok(t) => t
            .lines()
            .filter_map(|l| {
                let mut it = l.split_whitespace();
                let name = it.next()?;
                let v: u64 = it.next()?.parse().ok()?;
                (v != 0).then(|| format!("{} {v}", name.trim_start_matches("Quic")))
            })
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("/proc/thread-self/net/quic/snmp: {e}"),
    }
}

/// The calling thread's id.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// A task as /proc shows it.
#[derive(Debug, Clone)]
pub struct TaskState {
    /// The state letter of `stat` (R, S, D, ...).
    pub state: char,
    /// The system call it is in (`syscall`), `None` when running in user space.
    pub syscall: Option<i64>,
    /// `wchan`: the kernel function it sleeps in.
    pub wchan: String,
}

/// The state of task `tid` of process `pid`; `None` when it is gone.
pub fn task_state(pid: i32, tid: i32) -> Option<TaskState> {
    let dir = format!("/proc/{pid}/task/{tid}");
    let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
    // The state follows the command name, which is in parentheses and may hold spaces.
    let state = stat.rsplit(')').next()?.trim_start().chars().next()?;
    let syscall = std::fs::read_to_string(format!("{dir}/syscall"))
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()));
    let wchan = std::fs::read_to_string(format!("{dir}/wchan")).unwrap_or_default();
    Some(TaskState {
        state,
        syscall,
        wchan,
    })
}

/// Waits until task `tid` of `pid` sleeps (state S) in one of `syscalls`, and stays so for
/// 200 ms; returns its state, or an error after `limit`.
pub fn wait_blocked_in(
    pid: i32,
    tid: i32,
    syscalls: &[i64],
    limit: Duration,
) -> Result<TaskState, String> {
    let start = Instant::now();
    let mut since: Option<Instant> = None;
    loop {
        let st = task_state(pid, tid);
        let blocked = st
            .as_ref()
            .is_some_and(|s| s.state == 'S' && s.syscall.is_some_and(|n| syscalls.contains(&n)));
        if blocked {
            let t0 = *since.get_or_insert_with(Instant::now);
            if t0.elapsed() >= Duration::from_millis(200) {
                return Ok(st.unwrap_or(TaskState {
                    state: 'S',
                    syscall: None,
                    wchan: String::new(),
                }));
            }
        } else {
            since = None;
        }
        if start.elapsed() >= limit {
            return Err(format!(
                "task {tid} of {pid} not blocked in system call {syscalls:?} after {limit:?}: {st:?}"
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The pids of the processes in process group `pgid`.
pub fn group_pids(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After "(comm)": state ppid pgrp ...
        let rest: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if rest.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

/// TAP comment lines describing every task of the processes in group `pgid`: state, system
/// call, wchan and kernel stack (for hang reports).
pub fn describe_group(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for pid in group_pids(pgid) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let comm =
                std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap_or_default();
            let st = task_state(pid, tid);
            out.push(format!(
                "task {pid}/{tid} ({}): {:?}",
                comm.trim(),
                st.map(|s| (s.state, s.syscall, s.wchan))
            ));
            if let Ok(stack) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stack")) {
                for l in stack.lines().take(12) {
                    out.push(format!("    {l}"));
                }
            }
        }
    }
    out
}

/// `SIGKILL` to process group `pgid` (errors ignored: it may be gone).
pub fn kill_group(pgid: i32) {
    // SAFETY: plain system call with integer arguments.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

/// Sends `fds` with one byte over a Unix stream socket (`SCM_RIGHTS`).
pub fn send_fds(unix: &UnixStream, fds: &[RawFd]) -> io::Result<()> {
    let payload = [b'F'];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: 1,
    };
    let data_len = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(data_len as u32) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points at `space` writable, aligned bytes, room for one cmsg header
    // and `data_len` bytes of data; CMSG_FIRSTHDR/CMSG_DATA stay inside it.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(data_len as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(c), data_len);
    }
    // SAFETY: msg and what it points at are valid for the call.
    let r = unsafe { libc::sendmsg(unix.as_raw_fd(), &msg, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Receives the descriptors of one [`send_fds`] message (close-on-exec).
pub fn recv_fds(unix: &UnixStream) -> io::Result<Vec<OwnedFd>> {
    let mut payload = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = vec![0u64; 64];
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = (control.len() * 8) as _;
    // SAFETY: msg and what it points at are valid for the call.
    let r = unsafe { libc::recvmsg(unix.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    if r == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut out = Vec::new();
    // SAFETY: the kernel filled msg_control with msg_controllen bytes of well-formed cmsgs;
    // the CMSG_* macros walk them within those bounds; SCM_RIGHTS data is an array of fds,
    // read unaligned, that this process now owns.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<RawFd>();
                let p = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..n {
                    out.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(p.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(out)
}

/// `delete_module(name, O_NONBLOCK)`, as rmmod calls it.
pub fn delete_module(name: &str) -> io::Result<()> {
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `n` is a NUL-terminated string that outlives the call.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, n.as_ptr(), libc::O_NONBLOCK) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
