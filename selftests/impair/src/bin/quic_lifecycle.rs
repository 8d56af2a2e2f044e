//! quic_lifecycle: the lives of kquic sockets around the edges, run in the VM with quic.ko
//! loaded: unloading the module while sockets exist, processes killed (SIGKILL) while blocked
//! in the handshake (a QUIC connect), accept, recvmsg and sendmsg, descriptors passed between
//! processes with SCM_RIGHTS, close() and shutdown() from another thread while a call is
//! blocked, and network namespaces deleted with live connections.
//!
//! After every case the runner checks that quic.ko's reference count is back where it was:
//! every socket the case made, in any process or namespace, is freed (see
//! `kquic_impair::runner`). Helper processes are this program again (`--role NAME ...`).
//! `KQUIC_TESTS=a,b` runs only the named cases.

use std::io::{BufRead, BufReader};
use std::mem::ManuallyDrop;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use kquic_impair::netns::{self, Pair, Side, SERVER_DEV};
use kquic_impair::runner::{self, Case, Outcome};
use kquic_impair::sys::{self, gettid, wait_blocked_in};
use kquic_impair::{
    client_no_verify, connect_to, describe, ensure, listener_on, note, panic_message, pattern,
    read_to_fin, send_all, serve_echo, sha256_hex, slowdown, tls_configs, wait_closed, Context,
    TResult, Tls,
};
use quic::ksock::{client_handshake, server_handshake, Socket};
use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};

/// Timeouts of sockets that are not meant to block for ever.
const T: Duration = Duration::from_secs(10);
/// How long a blocked call may take to return once it has reason to.
fn wake() -> Duration {
    Duration::from_secs(3) * slowdown()
}

/// How long the sockets of a case may take to be freed (closing periods, namespaces).
fn settle() -> Duration {
    Duration::from_secs(20) * slowdown()
}

fn lo() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
}

// ------------------------------------------------------------------------------------------------
// Helpers: connected pairs, blocked threads, helper processes
// ------------------------------------------------------------------------------------------------

/// A handshaken loopback pair (client, server) that has done one echo (so the client has
/// consumed the server's session ticket).
fn loopback_pair(tls: &Tls) -> Result<(Socket, Socket), String> {
    let (l, addr) = listener_on(lo(), Some(T), None)?;
    let stls = tls.server.clone();
    let h = thread::spawn(move || -> Result<Socket, String> {
        let (a, _) = l.accept().ctx("accept")?;
        a.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
        a.set_write_timeout(Some(T)).ctx("SO_SNDTIMEO")?;
        server_handshake(&a, &stls).ctx("server handshake")?;
        serve_echo(&a)?;
        Ok(a)
    });
    let c = connect_to(&addr, Some(T), None)?;
    let r = client_handshake(&c, &tls.client, None)
        .ctx("client handshake")
        .and_then(|_| kquic_impair::echo_once(&c, b"hello"));
    let s = h.join().map_err(panic_message)?;
    r?;
    Ok((c, s?))
}

/// Accepts one connection on `l` and runs the server handshake in a thread.
fn serve_one(l: Socket, tls: &Tls) -> thread::JoinHandle<Result<Socket, String>> {
    let stls = tls.server.clone();
    thread::spawn(move || {
        let (a, _) = l.accept().ctx("accept")?;
        a.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
        a.set_write_timeout(Some(T)).ctx("SO_SNDTIMEO")?;
        server_handshake(&a, &stls).ctx("server handshake")?;
        Ok(a)
    })
}

fn join<R>(h: thread::JoinHandle<Result<R, String>>) -> Result<R, String> {
    h.join().map_err(panic_message)?
}

/// A thread making one blocking call, and what it returned.
struct Blocked<R> {
    tid: i32,
    started: Instant,
    rx: mpsc::Receiver<(R, Duration)>,
}

impl<R: Send + 'static> Blocked<R> {
    fn spawn(f: impl FnOnce() -> R + Send + 'static) -> Self {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tid_tx.send(gettid());
            let t = Instant::now();
            let r = f();
            let _ = tx.send((r, t.elapsed()));
        });
        let tid = tid_rx.recv().unwrap_or(0);
        Blocked {
            tid,
            started: Instant::now(),
            rx,
        }
    }

    /// Waits until the thread sleeps in one of `syscalls`.
    fn wait_blocked(&self, syscalls: &[i64], what: &str) -> TResult {
        let st = wait_blocked_in(std::process::id() as i32, self.tid, syscalls, T)
            .ctx(&format!("{what} did not block"))?;
        note!("{what} blocked (wchan {})", st.wchan);
        Ok(())
    }

    /// What the call returned, within `limit`.
    fn result(&self, limit: Duration) -> Result<(R, Duration), String> {
        self.rx.recv_timeout(limit).map_err(|_| {
            format!(
                "the blocked call had not returned {:.1} s after it started",
                self.started.elapsed().as_secs_f64()
            )
        })
    }

    fn returned(&self) -> Option<(R, Duration)> {
        self.rx.try_recv().ok()
    }
}

/// A helper process: this program with `--role ...`, its standard output read line by line.
struct Role {
    child: Child,
    lines: mpsc::Receiver<String>,
    name: String,
}

impl Role {
    /// Starts `--role args...`; `stdin`, when given, becomes its standard input (a Unix socket
    /// for SCM_RIGHTS).
    fn spawn(args: &[&str], stdin: Option<OwnedFd>) -> Result<Role, String> {
        let exe = std::env::current_exe().ctx("current_exe")?;
        let mut cmd = Command::new(exe);
        cmd.arg("--role").args(args).stdout(Stdio::piped());
        cmd.stdin(match stdin {
            Some(fd) => Stdio::from(fd),
            None => Stdio::null(),
        });
        let mut child = cmd.spawn().ctx("spawning a helper process")?;
        let out = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            if let Some(out) = out {
                for l in BufReader::new(out).lines() {
                    let Ok(l) = l else { break };
                    if tx.send(l).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Role {
            child,
            lines: rx,
            name: args.first().copied().unwrap_or("").to_string(),
        })
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for a line starting with `key ` and returns the rest of it. Other lines are shown
    /// as comments; `error ...` fails.
    fn expect(&self, key: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let l = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("helper {}: no `{key}` line within {limit:?}", self.name))?;
            if let Some(rest) = l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')) {
                return Ok(rest.to_string());
            }
            if let Some(e) = l.strip_prefix("error ") {
                return Err(format!("helper {}: {e}", self.name));
            }
            note!("{}: {l}", self.name);
        }
    }

    /// SIGKILL; returns how long it took to be gone.
    fn kill(&mut self) -> Result<Duration, String> {
        let t = Instant::now();
        // SAFETY: plain system call with integer arguments on our own child.
        unsafe { libc::kill(self.pid(), libc::SIGKILL) };
        self.wait(Duration::from_secs(10))?;
        Ok(t.elapsed())
    }

    /// Waits for the process to exit.
    fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus, String> {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().ctx("waitpid")? {
                return Ok(s);
            }
            if t.elapsed() >= limit {
                let stacks = sys::describe_group(self.pid());
                return Err(format!(
                    "helper {} (pid {}) still there {limit:?} later: {}",
                    self.name,
                    self.pid(),
                    stacks.join(" | ")
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blocking-call system call numbers.
const RECVMSG: &[i64] = &[libc::SYS_recvmsg];
const SENDMSG: &[i64] = &[libc::SYS_sendmsg];
const ACCEPT: &[i64] = &[libc::SYS_accept, libc::SYS_accept4];

fn refcnt_base() -> Result<i64, String> {
    sys::module_refcnt()
}

/// Every socket made since `base` is freed within [`settle`].
fn settled(base: i64) -> TResult {
    let d = sys::wait_refcnt(base, settle())?;
    note!("all sockets freed ({:.2} s)", d.as_secs_f64());
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Module unload
// ------------------------------------------------------------------------------------------------

/// delete_module("quic") must fail while `what` exists, with the module still loaded.
fn unload_refused(what: &str) -> TResult {
    let refs = sys::module_refcnt()?;
    let r = sys::delete_module("quic");
    let still = sys::module_loaded();
    note!(
        "delete_module(quic) with {what} open (refcnt {refs}): {}",
        describe(&r)
    );
    ensure!(
        still,
        "quic.ko was unloaded while {what} existed (delete_module returned {})",
        describe(&r)
    );
    let e = r.err().and_then(|e| e.raw_os_error());
    ensure!(
        e == Some(libc::EWOULDBLOCK) || e == Some(libc::EBUSY),
        "delete_module: wanted EWOULDBLOCK/EBUSY (module in use), got {e:?}"
    );
    Ok(())
}

/// `rmmod quic` is refused (module in use) while any kind of QUIC socket exists: an unbound
/// socket, a listener, both ends of a connection, a socket whose only reference is a
/// descriptor in flight in a Unix socket. (`selftests/run.sh` checks the real rmmod command
/// the same way, then that it succeeds once every socket is closed.)
fn rmmod_refused_while_sockets_exist() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        {
            let s = kquic_impair::new_socket(&lo(), None)?;
            unload_refused("an unbound socket")?;
            drop(s);
        }
        {
            let (l, _) = listener_on(lo(), None, None)?;
            unload_refused("a listener")?;
            drop(l);
        }
        {
            let (c, s) = loopback_pair(&tls)?;
            unload_refused("a connection")?;
            drop((c, s));
        }
        {
            let s = kquic_impair::new_socket(&lo(), None)?;
            let (a, b) = UnixStream::pair().ctx("socketpair")?;
            sys::send_fds(&a, &[s.as_raw_fd()]).ctx("SCM_RIGHTS")?;
            drop(s);
            unload_refused("a socket only in flight in SCM_RIGHTS")?;
            drop((a, b));
        }
        settled(base)
    })()
    .into()
}

// ------------------------------------------------------------------------------------------------
// SIGKILL while blocked
// ------------------------------------------------------------------------------------------------

/// A process blocked in the handshake of a QUIC connect (connect() itself returns at once, the
/// handshake's recvmsg waits for the server, which here never accepts) is killed.
fn kill_blocked_in_connect() -> Outcome {
    (|| -> TResult {
        let base = refcnt_base()?;
        let (l, addr) = listener_on(lo(), Some(T), None)?;
        let mut r = Role::spawn(&["handshake", &addr.to_string()], None)?;
        let ms = r.expect("connected", T)?;
        note!("connect() returned after {ms} ms");
        let tid: i32 = r.expect("ready", T)?.parse().ctx("tid")?;
        wait_blocked_in(r.pid(), tid, RECVMSG, T).ctx("the handshake did not block")?;
        let took = r.kill()?;
        note!(
            "killed in the handshake's recvmsg: gone in {:.0} ms",
            took.as_secs_f64() * 1e3
        );
        // The request it left in the accept queue is still there to take (and drop).
        l.set_nonblocking(true).ctx("O_NONBLOCK")?;
        note!(
            "accept() of the dead client's request: {}",
            describe(&l.accept().map(|x| x.1))
        );
        drop(l);
        settled(base)
    })()
    .into()
}

fn kill_blocked_in_accept() -> Outcome {
    (|| -> TResult {
        let base = refcnt_base()?;
        let mut r = Role::spawn(&["accept"], None)?;
        let addr: SocketAddr = r.expect("addr", T)?.parse().ctx("addr")?;
        let tid: i32 = r.expect("ready", T)?.parse().ctx("tid")?;
        wait_blocked_in(r.pid(), tid, ACCEPT, T).ctx("accept did not block")?;
        let took = r.kill()?;
        note!(
            "killed in accept: gone in {:.0} ms",
            took.as_secs_f64() * 1e3
        );
        settled(base)?;
        // Its port is free again.
        let (l, _) = listener_on(addr, None, None).ctx("binding the dead listener's port")?;
        drop(l);
        Ok(())
    })()
    .into()
}

/// A client process killed while blocked in recvmsg (or sendmsg, when `send`): the server end,
/// here, sees the connection end, and everything is freed.
fn kill_blocked_in_io(send: bool) -> TResult {
    let tls = tls_configs()?;
    let base = refcnt_base()?;
    let (l, addr) = listener_on(lo(), Some(T), None)?;
    let h = serve_one(l, &tls);
    let role = if send { "send" } else { "recv" };
    let mut r = Role::spawn(&[role, &addr.to_string()], None)?;
    let tid: i32 = r.expect("ready", T)?.parse().ctx("tid")?;
    let s = join(h)?;
    let call = if send { SENDMSG } else { RECVMSG };
    let st = wait_blocked_in(r.pid(), tid, call, T).ctx(&format!("{role}msg did not block"))?;
    let took = r.kill()?;
    note!(
        "killed in {role}msg (wchan {}): gone in {:.0} ms",
        st.wchan,
        took.as_secs_f64() * 1e3
    );
    let (how, bytes) = wait_closed(&s, T)?;
    note!("the server end saw the connection end: {how} (after {bytes} bytes of stream data)");
    drop(s);
    settled(base)
}

fn kill_blocked_in_recvmsg() -> Outcome {
    kill_blocked_in_io(false).into()
}

fn kill_blocked_in_sendmsg() -> Outcome {
    kill_blocked_in_io(true).into()
}

// ------------------------------------------------------------------------------------------------
// SCM_RIGHTS
// ------------------------------------------------------------------------------------------------

/// A connected socket handshaken here is passed to another process, closed here, and used
/// there: the echo it does arrives at the server end here.
fn scm_rights_to_child() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (c, s) = loopback_pair(&tls)?;
        let (mine, theirs) = UnixStream::pair().ctx("socketpair")?;
        let mut r = Role::spawn(&["scm-to"], Some(OwnedFd::from(theirs)))?;
        sys::send_fds(&mine, &[c.as_raw_fd()]).ctx("SCM_RIGHTS")?;
        drop(c);
        let echo = thread::spawn(move || serve_echo(&s).map(|d| (d, s)));
        r.expect("echoed", T)?;
        let (data, s) = join(echo)?;
        ensure!(data == b"from the other process", "the server got {data:?}");
        r.wait(T)?;
        let (how, _) = wait_closed(&s, T)?;
        note!("the server end saw the other process's close: {how}");
        drop(s);
        settled(base)
    })()
    .into()
}

/// A process connects and handshakes, passes the socket here and exits; here the socket, with
/// no TLS session in this process, carries an echo.
fn scm_rights_from_child() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (l, addr) = listener_on(lo(), Some(T), None)?;
        let h = serve_one(l, &tls);
        let (mine, theirs) = UnixStream::pair().ctx("socketpair")?;
        let mut r = Role::spawn(
            &["scm-from", &addr.to_string()],
            Some(OwnedFd::from(theirs)),
        )?;
        let s = join(h)?;
        serve_echo(&s)?;
        let fds = sys::recv_fds(&mine).ctx("receiving the socket")?;
        r.wait(T)?;
        ensure!(fds.len() == 1, "{} descriptors received", fds.len());
        let c = Socket::from(fds.into_iter().next().unwrap_or_else(|| unreachable!()));
        let peer = c.peer_addr().ctx("getpeername of the received socket")?;
        ensure!(peer == s.local_addr().ctx("getsockname")?, "peer {peer}");
        c.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
        let h = thread::spawn(move || serve_echo(&s).map(|_| s));
        let r1 = kquic_impair::echo_once(&c, b"after SCM_RIGHTS");
        let s = join(h)?;
        r1?;
        drop(c);
        let (how, _) = wait_closed(&s, T)?;
        note!("echo through the received socket done; the server saw its close: {how}");
        drop(s);
        settled(base)
    })()
    .into()
}

/// A listener goes to another process, which accepts a connection on it and sends the accepted
/// socket back; the handshake and an echo then run here on that socket.
fn scm_rights_listener_round_trip() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (l, addr) = listener_on(lo(), Some(T), None)?;
        let (mine, theirs) = UnixStream::pair().ctx("socketpair")?;
        let mut r = Role::spawn(&["scm-listener"], Some(OwnedFd::from(theirs)))?;
        sys::send_fds(&mine, &[l.as_raw_fd()]).ctx("SCM_RIGHTS")?;
        drop(l);
        r.expect("listening", T)?;
        let ctls = tls.client.clone();
        let client = thread::spawn(move || -> Result<Socket, String> {
            let c = connect_to(&addr, Some(T), None)?;
            client_handshake(&c, &ctls, None).ctx("client handshake")?;
            kquic_impair::echo_once(&c, b"accepted elsewhere")?;
            Ok(c)
        });
        let fds = sys::recv_fds(&mine).ctx("receiving the accepted socket")?;
        r.expect("accepted", T)?;
        r.wait(T)?;
        ensure!(fds.len() == 1, "{} descriptors received", fds.len());
        let a = Socket::from(fds.into_iter().next().unwrap_or_else(|| unreachable!()));
        a.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
        server_handshake(&a, &tls.server).ctx("server handshake on the received socket")?;
        let data = serve_echo(&a)?;
        ensure!(data == b"accepted elsewhere", "echoed {data:?}");
        let c = join(client)?;
        drop((a, c));
        settled(base)?;
        // The listener died with the other process: its port is free.
        let (l, _) = listener_on(addr, None, None).ctx("binding the listener's port again")?;
        drop(l);
        Ok(())
    })()
    .into()
}

/// Sockets whose only references are descriptors in flight are freed when the Unix sockets
/// carrying them go: dropped unread, and in a cycle (a Unix socket sent into itself) that only
/// the Unix garbage collector frees.
fn scm_rights_in_flight_freed() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (c, s) = loopback_pair(&tls)?;
        let (a, b) = UnixStream::pair().ctx("socketpair")?;
        sys::send_fds(&a, &[c.as_raw_fd(), s.as_raw_fd()]).ctx("SCM_RIGHTS")?;
        drop((c, s));
        ensure!(
            sys::module_refcnt()? >= base + 2,
            "the sockets in flight do not hold the module"
        );
        drop((a, b));
        settled(base)?;
        let l = kquic_impair::new_socket(&lo(), None)?;
        let (a, b) = UnixStream::pair().ctx("socketpair")?;
        // b's own descriptor goes into b's queue (through a): a cycle.
        sys::send_fds(&a, &[l.as_raw_fd(), b.as_raw_fd()]).ctx("SCM_RIGHTS")?;
        drop((l, a, b));
        // Another Unix socket's close runs the collector.
        drop(UnixStream::pair());
        settled(base)
    })()
    .into()
}

// ------------------------------------------------------------------------------------------------
// close() / shutdown() from another thread
// ------------------------------------------------------------------------------------------------

/// A view of descriptor `fd` that is never closed through it.
fn borrowed(fd: RawFd) -> ManuallyDrop<Socket> {
    // SAFETY: `fd` is an open QUIC socket; ManuallyDrop keeps this view from closing it.
    ManuallyDrop::new(unsafe { Socket::from_raw_fd(fd) })
}

fn close_fd(fd: RawFd) -> TResult {
    // SAFETY: `fd` is ours; no owner closes it again (views of it are ManuallyDrop).
    let r = unsafe { libc::close(fd) };
    ensure!(r == 0, "close: {}", std::io::Error::last_os_error());
    Ok(())
}

/// close() from another thread while a thread is blocked in recvmsg (SO_RCVTIMEO 2 s). On
/// Linux a close() does not end a call in progress on the same file (as with TCP): the call
/// returns with its timeout, then the socket, its last reference gone, is freed and the peer
/// sees the connection close.
fn close_during_recvmsg() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (c, s) = loopback_pair(&tls)?;
        c.set_read_timeout(Some(Duration::from_secs(2)))
            .ctx("SO_RCVTIMEO")?;
        let fd = c.into_raw_fd();
        let b = Blocked::spawn(move || {
            let v = borrowed(fd);
            let mut buf = [0u8; 64];
            describe(&v.recv(&mut buf).map(|r| r.len))
        });
        b.wait_blocked(RECVMSG, "recvmsg")?;
        close_fd(fd)?;
        thread::sleep(Duration::from_millis(300));
        match b.returned() {
            Some((r, d)) => note!(
                "close() woke recvmsg: {r} after {:.0} ms",
                d.as_secs_f64() * 1e3
            ),
            None => {
                note!("recvmsg still blocked 300 ms after close() (as with TCP)");
                let (r, d) = b.result(Duration::from_secs(2) + wake())?;
                note!(
                    "recvmsg returned {r} after {:.2} s (its SO_RCVTIMEO)",
                    d.as_secs_f64()
                );
            }
        }
        let (how, _) = wait_closed(&s, T)?;
        note!("the peer saw the closed socket's CONNECTION_CLOSE: {how}");
        drop(s);
        settled(base)
    })()
    .into()
}

/// close() from another thread while a thread is blocked in accept (SO_RCVTIMEO 2 s): the
/// call returns (by its timeout at the latest), the listener is freed and its port with it.
fn close_during_accept() -> Outcome {
    (|| -> TResult {
        let base = refcnt_base()?;
        let (l, addr) = listener_on(lo(), Some(Duration::from_secs(2)), None)?;
        let fd = l.into_raw_fd();
        let b = Blocked::spawn(move || describe(&borrowed(fd).accept().map(|x| x.1)));
        b.wait_blocked(ACCEPT, "accept")?;
        close_fd(fd)?;
        let (r, d) = b.result(Duration::from_secs(2) + wake())?;
        note!(
            "accept returned {r} {:.2} s after it blocked",
            d.as_secs_f64()
        );
        settled(base)?;
        let (l, _) = listener_on(addr, None, None).ctx("binding the closed listener's port")?;
        drop(l);
        Ok(())
    })()
    .into()
}

/// shutdown(SHUT_RDWR) from another thread wakes a recvmsg blocked without a timeout; the peer
/// sees the connection close.
fn shutdown_during_recvmsg() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (c, s) = loopback_pair(&tls)?;
        c.set_read_timeout(None).ctx("SO_RCVTIMEO off")?;
        let c = Arc::new(c);
        let c2 = c.clone();
        let b = Blocked::spawn(move || {
            let mut buf = [0u8; 64];
            describe(&c2.recv(&mut buf).map(|r| (r.len, r.stream_id)))
        });
        b.wait_blocked(RECVMSG, "recvmsg")?;
        c.shutdown(Shutdown::Both).ctx("shutdown(SHUT_RDWR)")?;
        let (r, d) = b.result(wake())?;
        note!(
            "recvmsg returned {r} {:.0} ms after shutdown",
            d.as_secs_f64() * 1e3
        );
        let (how, _) = wait_closed(&s, T)?;
        note!("the peer saw the connection close: {how}");
        drop((c, s));
        settled(base)
    })()
    .into()
}

/// shutdown(SHUT_RD) from another thread wakes an accept blocked without a timeout.
fn shutdown_during_accept() -> Outcome {
    (|| -> TResult {
        let base = refcnt_base()?;
        let (l, _) = listener_on(lo(), None, None)?;
        let l = Arc::new(l);
        let l2 = l.clone();
        let b = Blocked::spawn(move || describe(&l2.accept().map(|x| x.1)));
        b.wait_blocked(ACCEPT, "accept")?;
        l.shutdown(Shutdown::Read).ctx("shutdown(SHUT_RD)")?;
        let (r, d) = b.result(wake())?;
        note!(
            "accept returned {r} {:.0} ms after shutdown",
            d.as_secs_f64() * 1e3
        );
        ensure!(!r.starts_with("success"), "accept succeeded after shutdown");
        drop(l);
        settled(base)
    })()
    .into()
}

/// shutdown(SHUT_WR) from another thread wakes a sendmsg blocked on flow control (the peer
/// reads nothing).
fn shutdown_during_sendmsg() -> Outcome {
    (|| -> TResult {
        let tls = tls_configs()?;
        let base = refcnt_base()?;
        let (c, s) = loopback_pair(&tls)?;
        c.set_write_timeout(None).ctx("SO_SNDTIMEO off")?;
        let c = Arc::new(c);
        let c2 = c.clone();
        let b = Blocked::spawn(move || {
            let data = vec![7u8; 16 << 20];
            describe(&c2.send(&data, -1, MSG_QUIC_STREAM_NEW))
        });
        b.wait_blocked(SENDMSG, "sendmsg")?;
        c.shutdown(Shutdown::Write).ctx("shutdown(SHUT_WR)")?;
        let (r, d) = b.result(wake())?;
        note!(
            "sendmsg returned {r} {:.0} ms after shutdown",
            d.as_secs_f64() * 1e3
        );
        let (how, bytes) = wait_closed(&s, T)?;
        note!("the peer saw the connection close: {how} after {bytes} bytes");
        drop((c, s));
        settled(base)
    })()
    .into()
}

// ------------------------------------------------------------------------------------------------
// Network namespaces
// ------------------------------------------------------------------------------------------------

/// Canaries for both namespaces of `pair`: links in this namespace that go when theirs are
/// dismantled. Returns their names.
fn canaries(pair: &Pair) -> Result<[String; 2], String> {
    let tag = std::process::id() % 100_000;
    let names = [format!("kqcn{tag}c"), format!("kqcn{tag}s")];
    netns::canary(&pair.c, &names[0])?;
    netns::canary(&pair.s, &names[1])?;
    Ok(names)
}

/// Both namespaces are dismantled (their canaries gone) within [`settle`].
fn dismantled(names: &[String; 2]) -> TResult {
    let t = Instant::now();
    let limit = settle();
    while names.iter().any(|n| netns::link_exists(n)) {
        ensure!(
            t.elapsed() < limit,
            "the deleted namespaces were not dismantled within {limit:?} (canary links {:?} \
             still exist: something still holds them)",
            names
                .iter()
                .filter(|n| netns::link_exists(n))
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(50));
    }
    note!(
        "both namespaces dismantled {:.2} s after the last socket was closed",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A transfer between two namespaces whose names are deleted (`ip netns del`) halfway: the
/// namespaces live on while sockets use them, the data arrives intact; once the sockets are
/// closed the namespaces are dismantled (their UDP tunnel sockets with them) and nothing is
/// left.
fn netns_deleted_during_transfer() -> Outcome {
    (|| -> TResult {
        const LEN: usize = 2 << 20;
        let base = refcnt_base()?;
        let pair = Pair::create(&runner::prefix())?;
        // 4 Mbit/s: the transfer takes seconds, the deletion (two `ip` runs) far less.
        for side in [Side::Client, Side::Server] {
            pair.impair(side, Some("4mbit"), Some("delay 10ms"))?;
        }
        let names = canaries(&pair)?;
        let tls = Arc::new(tls_configs()?);
        let data = Arc::new(pattern(9, LEN));
        let progress = Arc::new(AtomicUsize::new(0));
        let (atx, arx) = mpsc::channel();
        let (s_ns, stls, d2, p2) = (pair.s.clone(), tls.clone(), data.clone(), progress.clone());
        let server = thread::spawn(move || -> Result<Socket, String> {
            netns::enter(&s_ns)?;
            let (l, addr) = listener_on(Pair::server_addr(0), Some(T), None)?;
            let _ = atx.send(addr);
            let (a, _) = l.accept().ctx("accept")?;
            a.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
            server_handshake(&a, &stls.server).ctx("server handshake")?;
            let (_, got) = read_to_fin(&a, Some(0), LEN, Some((&p2, 0))).ctx("server reading")?;
            ensure!(
                got == *d2,
                "received {} bytes, SHA-256 {}",
                got.len(),
                sha256_hex(&got)
            );
            // Confirms on the same stream (recvmsg returns any stream's data, so a new stream
            // could come between the reads of this one).
            a.send(b"all in", 0, MSG_QUIC_STREAM_FIN)
                .ctx("server confirming")?;
            Ok(a)
        });
        let addr = arx.recv_timeout(T).ctx("listener address")?;
        let (c_ns, ctls, d3) = (pair.c.clone(), tls.clone(), data.clone());
        let client = thread::spawn(move || -> Result<Socket, String> {
            netns::enter(&c_ns)?;
            let c = connect_to(&addr, Some(T), None)?;
            client_handshake(&c, &ctls.client, None).ctx("client handshake")?;
            send_all(&c, &d3, 0, MSG_QUIC_STREAM_NEW, true).ctx("client sending")?;
            let (_, ack) = read_to_fin(&c, Some(0), 64, None).ctx("client reading")?;
            ensure!(ack == b"all in", "the server answered {ack:?}");
            Ok(c)
        });
        let t = Instant::now();
        while progress.load(Ordering::Relaxed) < LEN / 8 && !server.is_finished() {
            ensure!(t.elapsed() < T * 3, "the transfer did not start");
            thread::sleep(Duration::from_millis(5));
        }
        let before = progress.load(Ordering::Relaxed);
        pair.delete()?;
        let after = progress.load(Ordering::Relaxed);
        note!(
            "namespace names deleted while {before}..{after} of {LEN} bytes had arrived at the \
             server"
        );
        ensure!(
            after < LEN,
            "the transfer was over before the namespaces were deleted (too fast: make it slower)"
        );
        let (c, s) = match (join(client), join(server)) {
            (Ok(c), Ok(s)) => (c, s),
            (c, s) => {
                return Err(format!(
                    "client: {}; server: {}",
                    c.err().unwrap_or_else(|| "ok".into()),
                    s.err().unwrap_or_else(|| "ok".into())
                ))
            }
        };
        note!("the transfer completed intact after the deletion");
        drop((c, s));
        settled(base)?;
        dismantled(&names)
    })()
    .into()
}

/// A process with connections in two namespaces, mid-transfer (writers blocked on flow
/// control), one handshake waiting for an accept, is killed; the namespaces are deleted: they
/// are dismantled and nothing is left.
fn netns_deleted_after_kill() -> Outcome {
    (|| -> TResult {
        let base = refcnt_base()?;
        let pair = Pair::create(&runner::prefix())?;
        for side in [Side::Client, Side::Server] {
            pair.impair(side, None, Some("delay 5ms"))?;
        }
        let names = canaries(&pair)?;
        let mut r = Role::spawn(&["netns-busy", &pair.c, &pair.s], None)?;
        let n = r.expect("ready", T * 4)?;
        note!("helper has {n} (quic.ko refcnt {})", sys::module_refcnt()?);
        let took = r.kill()?;
        note!("killed: gone in {:.0} ms", took.as_secs_f64() * 1e3);
        pair.delete()?;
        settled(base)?;
        dismantled(&names)
    })()
    .into()
}

/// Connections closed while their peer is unreachable (the server's link down) spend their
/// closing period as orphans; the namespaces are deleted at once: they are dismantled when the
/// orphans end, and nothing is left.
fn netns_deleted_with_orphans() -> Outcome {
    (|| -> TResult {
        let base = refcnt_base()?;
        let pair = Pair::create(&runner::prefix())?;
        let names = canaries(&pair)?;
        let tls = Arc::new(tls_configs()?);
        let (atx, arx) = mpsc::channel();
        let (s_ns, stls) = (pair.s.clone(), tls.clone());
        const N: usize = 3;
        let server = thread::spawn(move || -> Result<Vec<Socket>, String> {
            netns::enter(&s_ns)?;
            let (l, addr) = listener_on(Pair::server_addr(0), Some(T), None)?;
            let _ = atx.send(addr);
            let mut v = Vec::new();
            for _ in 0..N {
                let (a, _) = l.accept().ctx("accept")?;
                a.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
                server_handshake(&a, &stls.server).ctx("server handshake")?;
                serve_echo(&a)?;
                v.push(a);
            }
            Ok(v)
        });
        let addr = arx.recv_timeout(T).ctx("listener address")?;
        let (c_ns, ctls) = (pair.c.clone(), tls.clone());
        let client = thread::spawn(move || -> Result<Vec<Socket>, String> {
            netns::enter(&c_ns)?;
            let mut v = Vec::new();
            for i in 0..N {
                let c = connect_to(&addr, Some(T), None)?;
                client_handshake(&c, &ctls.client, None).ctx("client handshake")?;
                kquic_impair::echo_once(&c, format!("connection {i}").as_bytes())?;
                v.push(c);
            }
            Ok(v)
        });
        let cs = join(client)?;
        let ss = join(server)?;
        netns::ip(&["-n", &pair.s, "link", "set", SERVER_DEV, "down"])?;
        let before = sys::module_refcnt()?;
        drop((cs, ss));
        let after = sys::module_refcnt()?;
        note!(
            "{} sockets closed with the link down: quic.ko refcnt {before} -> {after} ({base} \
             before the case; an open socket holds two references, an orphan in its closing \
             period one)",
            2 * N
        );
        pair.delete()?;
        settled(base)?;
        dismantled(&names)
    })()
    .into()
}

// ------------------------------------------------------------------------------------------------
// Helper processes (--role)
// ------------------------------------------------------------------------------------------------

fn role_main(args: &[String]) -> ! {
    let r = role(args);
    match r {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            println!("error {}", e.replace('\n', " "));
            std::process::exit(1)
        }
    }
}

fn arg_addr(args: &[String], i: usize) -> Result<SocketAddr, String> {
    args.get(i).ok_or("missing address")?.parse().ctx("address")
}

/// Standard input as the Unix socket the parent passed.
fn stdin_unix() -> UnixStream {
    // SAFETY: the parent made standard input a Unix stream socket for this role; we own it.
    unsafe { UnixStream::from_raw_fd(0) }
}

fn role(args: &[String]) -> TResult {
    let name = args.first().map(String::as_str).unwrap_or("");
    match name {
        "handshake" => {
            let addr = arg_addr(args, 1)?;
            let t = Instant::now();
            let c = connect_to(&addr, None, None)?;
            println!("connected {}", t.elapsed().as_millis());
            println!("ready {}", gettid());
            let r = client_handshake(&c, &client_no_verify()?, None);
            Err(format!("the handshake returned: {:?}", r.err()))
        }
        "accept" => {
            let (l, addr) = listener_on(lo(), None, None)?;
            println!("addr {addr}");
            println!("ready {}", gettid());
            let r = l.accept().map(|x| x.1);
            Err(format!("accept returned {}", describe(&r)))
        }
        "recv" | "send" => {
            let addr = arg_addr(args, 1)?;
            let c = connect_to(&addr, Some(T), None)?;
            client_handshake(&c, &client_no_verify()?, None).ctx("client handshake")?;
            c.set_read_timeout(None).ctx("SO_RCVTIMEO")?;
            c.set_write_timeout(None).ctx("SO_SNDTIMEO")?;
            println!("ready {}", gettid());
            if name == "recv" {
                let mut buf = [0u8; 4096];
                let r = c.recv(&mut buf).map(|r| r.len);
                Err(format!("recvmsg returned {}", describe(&r)))
            } else {
                let data = vec![5u8; 16 << 20];
                let r = c.send(&data, -1, MSG_QUIC_STREAM_NEW);
                Err(format!("sendmsg returned {}", describe(&r)))
            }
        }
        "scm-to" => {
            let u = stdin_unix();
            let fds = sys::recv_fds(&u).ctx("receiving the socket")?;
            let fd = fds.into_iter().next().ok_or("no descriptor received")?;
            let c = Socket::from(fd);
            c.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
            kquic_impair::echo_once(&c, b"from the other process")?;
            println!("echoed 1");
            Ok(())
        }
        "scm-from" => {
            let addr = arg_addr(args, 1)?;
            let c = connect_to(&addr, Some(T), None)?;
            client_handshake(&c, &client_no_verify()?, None).ctx("client handshake")?;
            kquic_impair::echo_once(&c, b"before passing")?;
            sys::send_fds(&stdin_unix(), &[c.as_raw_fd()]).ctx("SCM_RIGHTS")?;
            println!("sent 1");
            Ok(())
        }
        "scm-listener" => {
            let u = stdin_unix();
            let fds = sys::recv_fds(&u).ctx("receiving the listener")?;
            let fd = fds.into_iter().next().ok_or("no descriptor received")?;
            let l = Socket::from(fd);
            l.set_read_timeout(Some(T)).ctx("SO_RCVTIMEO")?;
            println!("listening 1");
            let (a, peer) = l.accept().ctx("accept on the received listener")?;
            sys::send_fds(&u, &[a.as_raw_fd()]).ctx("SCM_RIGHTS back")?;
            println!("accepted {peer}");
            Ok(())
        }
        "netns-busy" => netns_busy(
            args.get(1).ok_or("missing namespace")?,
            args.get(2).ok_or("missing namespace")?,
        ),
        _ => Err(format!("unknown role {name:?}")),
    }
}

/// Four connections from namespace `c` to `s`, their clients writing 8 MiB each to servers that
/// never read, and a fifth client in its handshake, never accepted; then waits to be killed.
fn netns_busy(c: &str, s: &str) -> TResult {
    const N: usize = 4;
    let tls = Arc::new(tls_configs()?);
    let (atx, arx) = mpsc::channel();
    let (s_ns, stls) = (s.to_string(), tls.clone());
    let server = thread::spawn(move || -> Result<Vec<Socket>, String> {
        netns::enter(&s_ns)?;
        let (l, addr) = listener_on(Pair::server_addr(0), Some(T), None)?;
        let _ = atx.send(addr);
        let mut v = Vec::new();
        for _ in 0..N {
            let (a, _) = l.accept().ctx("accept")?;
            server_handshake(&a, &stls.server).ctx("server handshake")?;
            v.push(a);
        }
        // The listener stays, with the fifth client's request in its queue.
        v.push(l);
        Ok(v)
    });
    let addr = arx.recv_timeout(T).ctx("listener address")?;
    let (tx, rx) = mpsc::channel::<Result<usize, String>>();
    let client = |i: usize| {
        let (c_ns, ctls, tx) = (c.to_string(), tls.clone(), tx.clone());
        thread::spawn(move || {
            let r = (|| -> TResult {
                netns::enter(&c_ns)?;
                let c = connect_to(&addr, None, None)?;
                if i == N {
                    let _ = tx.send(Ok(i));
                    let r = client_handshake(&c, &ctls.client, None);
                    return Err(format!("the unaccepted handshake returned {:?}", r.err()));
                }
                client_handshake(&c, &ctls.client, None).ctx("client handshake")?;
                let _ = tx.send(Ok(i));
                let data = pattern(i as u64, 8 << 20);
                send_all(&c, &data, 0, MSG_QUIC_STREAM_NEW, true).ctx("sending")?;
                Err("sending 8 MiB to a server that reads nothing completed".into())
            })();
            if let Err(e) = r {
                let _ = tx.send(Err(format!("client {i}: {e}")));
            }
        })
    };
    for i in 0..N {
        client(i);
    }
    for _ in 0..N {
        rx.recv_timeout(T * 2)
            .map_err(|_| "the clients did not connect".to_string())??;
    }
    // Kept until the process is killed.
    let kept = join(server)?;
    client(N);
    rx.recv_timeout(T)
        .map_err(|_| "the fifth client did not connect".to_string())??;
    thread::sleep(Duration::from_millis(500));
    if let Ok(Err(e)) = rx.try_recv() {
        return Err(e);
    }
    println!(
        "ready {N} connections mid-transfer, a listener ({} sockets here), a client in its handshake",
        kept.len() + N + 1
    );
    loop {
        thread::sleep(Duration::from_secs(60));
    }
}

const CASES: &[Case] = &[
    Case {
        name: "rmmod_refused_while_sockets_exist",
        deadline: Duration::from_secs(60),
        run: rmmod_refused_while_sockets_exist,
    },
    Case {
        name: "kill_blocked_in_connect",
        deadline: Duration::from_secs(60),
        run: kill_blocked_in_connect,
    },
    Case {
        name: "kill_blocked_in_accept",
        deadline: Duration::from_secs(60),
        run: kill_blocked_in_accept,
    },
    Case {
        name: "kill_blocked_in_recvmsg",
        deadline: Duration::from_secs(60),
        run: kill_blocked_in_recvmsg,
    },
    Case {
        name: "kill_blocked_in_sendmsg",
        deadline: Duration::from_secs(60),
        run: kill_blocked_in_sendmsg,
    },
    Case {
        name: "scm_rights_to_child",
        deadline: Duration::from_secs(60),
        run: scm_rights_to_child,
    },
    Case {
        name: "scm_rights_from_child",
        deadline: Duration::from_secs(60),
        run: scm_rights_from_child,
    },
    Case {
        name: "scm_rights_listener_round_trip",
        deadline: Duration::from_secs(60),
        run: scm_rights_listener_round_trip,
    },
    Case {
        name: "scm_rights_in_flight_freed",
        deadline: Duration::from_secs(60),
        run: scm_rights_in_flight_freed,
    },
    Case {
        name: "close_during_recvmsg",
        deadline: Duration::from_secs(60),
        run: close_during_recvmsg,
    },
    Case {
        name: "close_during_accept",
        deadline: Duration::from_secs(60),
        run: close_during_accept,
    },
    Case {
        name: "shutdown_during_recvmsg",
        deadline: Duration::from_secs(60),
        run: shutdown_during_recvmsg,
    },
    Case {
        name: "shutdown_during_accept",
        deadline: Duration::from_secs(60),
        run: shutdown_during_accept,
    },
    Case {
        name: "shutdown_during_sendmsg",
        deadline: Duration::from_secs(60),
        run: shutdown_during_sendmsg,
    },
    Case {
        name: "netns_deleted_during_transfer",
        deadline: Duration::from_secs(90),
        run: netns_deleted_during_transfer,
    },
    Case {
        name: "netns_deleted_after_kill",
        deadline: Duration::from_secs(90),
        run: netns_deleted_after_kill,
    },
    Case {
        name: "netns_deleted_with_orphans",
        deadline: Duration::from_secs(90),
        run: netns_deleted_with_orphans,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() >= 3 && args[1] == "--role" {
        role_main(&args[2..]);
    }
    runner::main("quic_lifecycle: kquic sockets around the edges", CASES)
}
