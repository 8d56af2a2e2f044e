//! The agent's state machine: READY → ACCEPT → handshake → DONE, concurrently, over any
//! [`Transport`] (the kernel's netlink family, or a mock in tests) and any [`Handshaker`].
//!
//! Rules kept on every path:
//! - a socket the kernel installed is answered with exactly one DONE, then closed;
//! - a handshake ends by its deadline (the request's timeout, bounded by the configuration):
//!   the handshaker is given the deadline, and a watchdog answers DONE with `ETIMEDOUT` should
//!   it overrun;
//! - at shutdown, in-flight handshakes get a grace period, then are answered with
//!   `ESHUTDOWN`;
//! - a malformed ACCEPT reply is logged, and if it named a socket, that socket is failed
//!   with `EINVAL` and closed.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Limits;
use crate::genl::{AcceptError, AcceptRequest, Done, Role};
use crate::handshake::{Failure, Handshaker};

/// What an ACCEPT got.
#[derive(Debug)]
pub enum AcceptOutcome {
    /// A request, its socket installed in this process.
    Request(AcceptRequest),
    /// Nothing queued for the class (`EAGAIN`): another handler took it, or it was cancelled.
    Empty,
    /// A reply that cannot be served.
    Malformed(AcceptError),
}

/// How the agent talks to the kernel. Both calls block (the agent runs them on blocking
/// threads) and are made one at a time or concurrently: implementations serialise as needed.
pub trait Transport: Send + Sync + 'static {
    /// ACCEPT for `class`.
    fn accept(&self, class: u32) -> io::Result<AcceptOutcome>;
    /// DONE.
    fn done(&self, done: &Done) -> io::Result<()>;
}

/// What the notification listener tells the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// READY for our class: a request is waiting.
    Ready,
    /// Notifications were lost (`ENOBUFS`): look for requests anyway.
    Overrun,
}

/// Counters, for the log and the tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Requests accepted (sockets received).
    pub accepted: AtomicU64,
    /// Handshakes answered with status 0.
    pub succeeded: AtomicU64,
    /// Sockets answered with an error status.
    pub failed: AtomicU64,
    /// DONE messages the kernel refused or that could not be sent.
    pub done_errors: AtomicU64,
    /// Malformed ACCEPT replies.
    pub malformed: AtomicU64,
    /// Handshakes running now.
    pub running: AtomicUsize,
    /// Most handshakes seen running at once.
    pub peak: AtomicUsize,
}

impl Stats {
    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// One line for the log.
    pub fn summary(&self) -> String {
        format!(
            "{} accepted, {} succeeded, {} failed, {} malformed replies, {} DONE errors",
            Self::get(&self.accepted),
            Self::get(&self.succeeded),
            Self::get(&self.failed),
            Self::get(&self.malformed),
            Self::get(&self.done_errors)
        )
    }
}

/// Descriptors the agent must never take as a request's socket: its own (netlink sockets,
/// standard streams) and the sockets of requests in flight.
#[derive(Debug, Default)]
pub struct FdRegistry {
    fds: Mutex<HashSet<RawFd>>,
}

impl FdRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<RawFd>> {
        self.fds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks one of the agent's own descriptors.
    pub fn reserve(&self, fd: RawFd) {
        self.lock().insert(fd);
    }

    /// Takes ownership of `fd`, named by an ACCEPT reply, unless it is one of the agent's
    /// own or already in use by another request (a forged or confused reply).
    fn adopt(self: &Arc<Self>, fd: RawFd) -> Option<TrackedFd> {
        let mut g = self.lock();
        if fd <= 2 || !g.insert(fd) {
            return None;
        }
        drop(g);
        Some(TrackedFd {
            // SAFETY: the kernel installed fd for this request (ACCEPT); no other owner exists
            // in this process: it is not one of ours (registry) nor another request's.
            fd: Some(unsafe { OwnedFd::from_raw_fd(fd) }),
            reg: Arc::clone(self),
        })
    }

    /// Whether `fd` is registered.
    pub fn contains(&self, fd: RawFd) -> bool {
        self.lock().contains(&fd)
    }
}

/// A request's socket: closed, and removed from the registry in the same step, on drop.
#[derive(Debug)]
struct TrackedFd {
    fd: Option<OwnedFd>,
    reg: Arc<FdRegistry>,
}

impl TrackedFd {
    fn raw(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }

    fn dup(&self) -> io::Result<OwnedFd> {
        match &self.fd {
            Some(f) => f.try_clone(),
            None => Err(io::Error::from_raw_os_error(libc::EBADF)),
        }
    }
}

impl Drop for TrackedFd {
    fn drop(&mut self) {
        // Under the lock: the number cannot be handed out again (by a later ACCEPT) while it
        // is still registered.
        let mut g = self.reg.lock();
        if let Some(f) = self.fd.take() {
            g.remove(&f.as_raw_fd());
            drop(f);
        }
    }
}

/// The agent's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Handler class asked for.
    pub class: u32,
    /// Limits.
    pub limits: Limits,
}

impl Settings {
    /// The time limit of a request.
    pub fn timeout_of(&self, req: &AcceptRequest) -> Duration {
        let ms = req
            .timeout_ms
            .map_or(self.limits.default_timeout_ms, u64::from)
            .min(self.limits.max_timeout_ms);
        Duration::from_millis(ms)
    }
}

/// How long past its deadline a handshake thread may take before the watchdog answers.
pub const WATCHDOG_SLACK: Duration = Duration::from_millis(1000);

/// The agent.
pub struct Agent<T, H> {
    transport: Arc<T>,
    handshaker: Arc<H>,
    settings: Settings,
    fds: Arc<FdRegistry>,
    stats: Arc<Stats>,
}

impl<T: Transport, H: Handshaker> Agent<T, H> {
    /// An agent over `transport`, running handshakes with `handshaker`.
    pub fn new(transport: T, handshaker: H, settings: Settings) -> Self {
        Self {
            transport: Arc::new(transport),
            handshaker: Arc::new(handshaker),
            settings,
            fds: Arc::new(FdRegistry::default()),
            stats: Arc::new(Stats::default()),
        }
    }

    /// The registry of descriptors (reserve the agent's own with it).
    pub fn fds(&self) -> Arc<FdRegistry> {
        Arc::clone(&self.fds)
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        Arc::clone(&self.stats)
    }

    /// Serves requests until `shutdown` turns true (or its sender goes) or `events` closes,
    /// then lets in-flight handshakes finish within the grace period and fails the rest.
    /// Looks for queued requests once at the start.
    pub async fn run(self, mut events: mpsc::Receiver<Event>, mut shutdown: watch::Receiver<bool>) {
        let mut tasks = JoinSet::new();
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let mut pending = true;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if pending && tasks.len() < self.settings.limits.max_handshakes {
                pending = self.drain(&mut tasks, &cancel_rx).await;
            }
            tokio::select! {
                biased;
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                ev = events.recv() => match ev {
                    Some(ev) => {
                        debug!("{ev:?}");
                        pending = true;
                    }
                    None => {
                        warn!("notification listener stopped");
                        break;
                    }
                },
                Some(r) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Err(e) = r {
                        error!("handshake task: {e}");
                    }
                }
            }
        }
        if !tasks.is_empty() {
            info!(
                "shutting down: {} handshake(s) in flight, {} ms to finish",
                tasks.len(),
                self.settings.limits.shutdown_grace_ms
            );
            let grace = tokio::time::sleep(Duration::from_millis(
                self.settings.limits.shutdown_grace_ms,
            ));
            tokio::pin!(grace);
            loop {
                tokio::select! {
                    () = &mut grace => break,
                    r = tasks.join_next() => if r.is_none() { break },
                }
            }
        }
        let _ = cancel_tx.send(true);
        while tasks.join_next().await.is_some() {}
        info!("stopped: {}", self.stats.summary());
    }

    /// ACCEPTs until the kernel has nothing more or the limit is reached; true if requests
    /// may still be waiting.
    async fn drain(&self, tasks: &mut JoinSet<()>, cancel: &watch::Receiver<bool>) -> bool {
        while tasks.len() < self.settings.limits.max_handshakes {
            let t = Arc::clone(&self.transport);
            let class = self.settings.class;
            let r = tokio::task::spawn_blocking(move || t.accept(class)).await;
            match r {
                Ok(Ok(AcceptOutcome::Request(req))) => self.start(tasks, req, cancel),
                Ok(Ok(AcceptOutcome::Empty)) => return false,
                Ok(Ok(AcceptOutcome::Malformed(e))) => {
                    self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    warn!("{e}");
                    if let Some(fd) = e.sockfd.and_then(|fd| self.adopt(fd)) {
                        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                        let f =
                            Failure::new(libc::EINVAL, format!("malformed request: {}", e.reason));
                        tasks.spawn(finish(
                            Arc::clone(&self.transport),
                            Arc::clone(&self.stats),
                            fd,
                            Err(f),
                            Instant::now(),
                        ));
                    }
                }
                Ok(Err(e)) => {
                    let hint = if e.raw_os_error() == Some(libc::EPERM) {
                        " (ACCEPT needs CAP_NET_ADMIN)"
                    } else {
                        ""
                    };
                    warn!("ACCEPT: {e}{hint}");
                    return false;
                }
                Err(e) => {
                    error!("ACCEPT thread: {e}");
                    return false;
                }
            }
        }
        true
    }

    fn adopt(&self, fd: RawFd) -> Option<TrackedFd> {
        let t = self.fds.adopt(fd);
        if t.is_none() {
            error!("ACCEPT reply names fd {fd}, which is not a new descriptor: ignored");
        }
        t
    }

    fn start(&self, tasks: &mut JoinSet<()>, req: AcceptRequest, cancel: &watch::Receiver<bool>) {
        let Some(fd) = self.adopt(req.sockfd) else {
            return;
        };
        self.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let timeout = self.settings.timeout_of(&req);
        debug!(
            "fd {}: {} request, {:?} auth, peer {:?}, timeout {timeout:?}, {} certificate(s), \
             {} identit(y/ies)",
            req.sockfd,
            if req.role == Role::Client {
                "client"
            } else {
                "server"
            },
            req.auth,
            req.peername,
            req.certificates.len(),
            req.peer_identities.len()
        );
        tasks.spawn(serve(
            Arc::clone(&self.transport),
            Arc::clone(&self.handshaker),
            Arc::clone(&self.stats),
            req,
            fd,
            timeout,
            cancel.clone(),
        ));
    }
}

async fn cancelled(mut c: watch::Receiver<bool>) {
    loop {
        if *c.borrow() {
            return;
        }
        if c.changed().await.is_err() {
            // The agent is gone without saying: treat as cancelled.
            return;
        }
    }
}

/// Decrements `running` on drop.
struct Running(Arc<Stats>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `shutdown(SHUT_RDWR)`: wakes a thread blocked on the socket (the socket is failed anyway).
fn shutdown_socket(fd: RawFd) {
    // SAFETY: plain system call on a descriptor this task owns.
    if unsafe { libc::shutdown(fd, libc::SHUT_RDWR) } < 0 {
        debug!("fd {fd}: shutdown: {}", io::Error::last_os_error());
    }
}

async fn serve<T: Transport, H: Handshaker>(
    transport: Arc<T>,
    handshaker: Arc<H>,
    stats: Arc<Stats>,
    req: AcceptRequest,
    fd: TrackedFd,
    timeout: Duration,
    cancel: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let deadline = start + timeout;
    let now = stats.running.fetch_add(1, Ordering::Relaxed) + 1;
    stats.peak.fetch_max(now, Ordering::Relaxed);
    let running = Running(Arc::clone(&stats));
    let result = match fd.dup() {
        Err(e) => Err(Failure::new(
            e.raw_os_error().unwrap_or(libc::EMFILE),
            format!("dup: {e}"),
        )),
        Ok(dup) => {
            let job =
                tokio::task::spawn_blocking(move || handshaker.handshake(&req, dup, deadline));
            let watchdog = tokio::time::Instant::from_std(deadline + WATCHDOG_SLACK);
            let (result, abandoned) = tokio::select! {
                r = job => (
                    r.unwrap_or_else(|e| Err(Failure::new(libc::EIO, format!("handshake thread: {e}")))),
                    false,
                ),
                () = tokio::time::sleep_until(watchdog) => (
                    Err(Failure::new(
                        libc::ETIMEDOUT,
                        format!("no result within the {} ms limit", timeout.as_millis()),
                    )),
                    true,
                ),
                () = cancelled(cancel) => (
                    Err(Failure::new(libc::ESHUTDOWN, "the agent is shutting down")),
                    true,
                ),
            };
            if abandoned {
                // The handshake thread may still be blocked on the socket: wake it, so that it
                // lets go of the socket instead of acting on it after DONE.
                shutdown_socket(fd.raw());
            }
            result
        }
    };
    drop(running);
    finish(transport, stats, fd, result, start).await;
}

/// Answers DONE for `fd`, then closes it.
async fn finish<T: Transport>(
    transport: Arc<T>,
    stats: Arc<Stats>,
    fd: TrackedFd,
    result: Result<crate::handshake::Outcome, Failure>,
    start: Instant,
) {
    let raw = fd.raw();
    let ms = start.elapsed().as_millis();
    let done = match result {
        Ok(o) => {
            stats.succeeded.fetch_add(1, Ordering::Relaxed);
            info!("fd {raw}: handshake done in {ms} ms: {}", o.summary);
            Done {
                sockfd: raw,
                status: 0,
                remote_auth: o.remote_auth,
            }
        }
        Err(f) => {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            warn!("fd {raw}: handshake failed after {ms} ms: {f}");
            Done {
                sockfd: raw,
                status: f.errno.clamp(1, crate::genl::MAX_ERRNO as i32) as u32,
                remote_auth: Vec::new(),
            }
        }
    };
    let r = tokio::task::spawn_blocking(move || {
        let r = transport.done(&done);
        // Closed only once DONE has been sent: the kernel looks the socket up by this number.
        drop(fd);
        r
    })
    .await;
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            stats.done_errors.fetch_add(1, Ordering::Relaxed);
            warn!("fd {raw}: DONE: {e}");
        }
        Err(e) => {
            stats.done_errors.fetch_add(1, Ordering::Relaxed);
            error!("fd {raw}: DONE thread: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genl::AuthMode;
    use crate::handshake::Outcome;
    use std::collections::VecDeque;
    use std::net::UdpSocket;
    use std::os::fd::IntoRawFd;
    use std::sync::Barrier;

    /// A kernel stand-in: hands out queued ACCEPT outcomes, records DONEs.
    #[derive(Default)]
    struct MockKernel {
        queue: Mutex<VecDeque<io::Result<AcceptOutcome>>>,
        dones: Mutex<Vec<Done>>,
        accepts: AtomicUsize,
        /// Inode of each socket handed out, by fd, to check at DONE time that the fd still
        /// names that socket (not closed before DONE).
        inodes: Mutex<Vec<(RawFd, u64)>>,
        done_fails: bool,
    }

    fn inode(fd: RawFd) -> Option<u64> {
        // SAFETY: st is plain data, written by fstat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: st is writable; fstat only reads the descriptor number.
        (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st.st_ino)
    }

    impl MockKernel {
        /// Queues a request on a fresh UDP socket (standing in for the kernel's socket); its
        /// descriptor number is returned.
        fn push_request(&self, peer: &str, role: Role, timeout_ms: Option<u32>) -> RawFd {
            let fd = UdpSocket::bind("127.0.0.1:0").unwrap().into_raw_fd();
            self.inodes.lock().unwrap().push((fd, inode(fd).unwrap()));
            self.queue
                .lock()
                .unwrap()
                .push_back(Ok(AcceptOutcome::Request(AcceptRequest {
                    sockfd: fd,
                    role,
                    timeout_ms,
                    auth: AuthMode::X509,
                    peer_identities: vec![],
                    certificates: vec![],
                    peername: Some(peer.into()),
                    keyring: None,
                })));
            fd
        }

        fn dones(&self) -> Vec<Done> {
            self.dones.lock().unwrap().clone()
        }
    }

    impl Transport for Arc<MockKernel> {
        fn accept(&self, _class: u32) -> io::Result<AcceptOutcome> {
            self.accepts.fetch_add(1, Ordering::Relaxed);
            self.queue
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Ok(AcceptOutcome::Empty))
        }

        fn done(&self, d: &Done) -> io::Result<()> {
            let want = self
                .inodes
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|(fd, _)| *fd == d.sockfd)
                .map(|x| x.1);
            assert_eq!(inode(d.sockfd), want, "fd {} is open at DONE", d.sockfd);
            self.dones.lock().unwrap().push(d.clone());
            if self.done_fails {
                Err(io::Error::from_raw_os_error(libc::EBUSY))
            } else {
                Ok(())
            }
        }
    }

    /// Behaves by the request's peer name.
    struct MockHandshaker {
        barrier: Option<Barrier>,
        /// "blocks" handshakes that were woken from their blocking read.
        woke: Arc<AtomicUsize>,
    }

    fn mock() -> MockHandshaker {
        MockHandshaker {
            barrier: None,
            woke: Arc::default(),
        }
    }

    impl Handshaker for MockHandshaker {
        fn handshake(
            &self,
            req: &AcceptRequest,
            sock: OwnedFd,
            deadline: Instant,
        ) -> Result<Outcome, Failure> {
            assert!(inode(sock.as_raw_fd()).is_some());
            match req.peername.as_deref().unwrap_or("") {
                "ok" => Ok(Outcome {
                    remote_auth: vec![0x42],
                    alpn: Some("smbd".into()),
                    summary: "ok".into(),
                }),
                "together" => {
                    self.barrier.as_ref().unwrap().wait();
                    Ok(Outcome::default())
                }
                "refused" => Err(Failure::new(libc::EACCES, "certificate refused")),
                "overrun" => {
                    // Ignores its deadline: the watchdog must answer.
                    std::thread::sleep(deadline - Instant::now() + Duration::from_millis(1500));
                    Ok(Outcome::default())
                }
                "blocks" => {
                    // Waits on the socket with no timeout of its own, as a handshake waiting
                    // for a peer that never answers: only a shutdown of the socket ends it.
                    let udp = UdpSocket::from(sock);
                    // (A safety net, far beyond what the test waits: without the shutdown the
                    // test fails instead of hanging.)
                    udp.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
                    let mut buf = [0u8; 16];
                    let r = udp.recv(&mut buf);
                    self.woke.fetch_add(1, Ordering::SeqCst);
                    Err(Failure::new(libc::EIO, format!("woken: {r:?}")))
                }
                "slow" => {
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(Outcome::default())
                }
                "panic" => panic!("handshaker bug"),
                other => panic!("unexpected peer {other}"),
            }
        }
    }

    fn settings(max: usize, grace_ms: u64) -> Settings {
        Settings {
            class: 1,
            limits: Limits {
                max_handshakes: max,
                default_timeout_ms: 400,
                max_timeout_ms: 2000,
                shutdown_grace_ms: grace_ms,
            },
        }
    }

    /// The descriptor was closed by the agent (or closed and reused for another file).
    fn closed(fd: RawFd, ino: u64) -> bool {
        inode(fd) != Some(ino)
    }

    fn ino_of(k: &MockKernel, fd: RawFd) -> u64 {
        // The latest socket of that number (numbers are reused once closed).
        k.inodes
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|x| x.0 == fd)
            .unwrap()
            .1
    }

    /// Runs the agent until `until` holds (checked every 10 ms, 10 s at most), then shuts it
    /// down.
    async fn run_until(
        agent: Agent<Arc<MockKernel>, MockHandshaker>,
        readies: usize,
        until: impl Fn() -> bool,
    ) {
        let (ev_tx, ev_rx) = mpsc::channel(16);
        let (sd_tx, sd_rx) = watch::channel(false);
        let h = tokio::spawn(agent.run(ev_rx, sd_rx));
        for _ in 0..readies {
            ev_tx.send(Event::Ready).await.unwrap();
        }
        let t0 = Instant::now();
        while !until() && t0.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sd_tx.send(true).unwrap();
        h.await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ready_accept_done_success_and_failures() {
        let k = Arc::new(MockKernel::default());
        let ok = k.push_request("ok", Role::Client, Some(1000));
        let refused = k.push_request("refused", Role::Server, None);
        let panics = k.push_request("panic", Role::Client, None);
        let agent = Agent::new(Arc::clone(&k), mock(), settings(8, 1000));
        let stats = agent.stats();
        let fds = agent.fds();
        let k2 = Arc::clone(&k);
        run_until(agent, 1, move || k2.dones().len() == 3).await;

        let mut dones = k.dones();
        dones.sort_by_key(|d| d.sockfd);
        let by_fd = |fd| dones.iter().find(|d| d.sockfd == fd).unwrap().clone();
        assert_eq!(
            by_fd(ok),
            Done {
                sockfd: ok,
                status: 0,
                remote_auth: vec![0x42]
            }
        );
        assert_eq!(by_fd(refused).status, libc::EACCES as u32);
        assert_eq!(by_fd(panics).status, libc::EIO as u32);
        assert!(by_fd(panics).remote_auth.is_empty());
        for fd in [ok, refused, panics] {
            assert!(closed(fd, ino_of(&k, fd)), "fd {fd} leaked");
            assert!(!fds.contains(fd));
        }
        assert_eq!(stats.succeeded.load(Ordering::Relaxed), 1);
        assert_eq!(stats.failed.load(Ordering::Relaxed), 2);
        // The start-up drain and the READY each ACCEPT until EAGAIN.
        assert!(k.accepts.load(Ordering::Relaxed) >= 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn handshakes_run_concurrently() {
        let n = 6;
        let k = Arc::new(MockKernel::default());
        let fds: Vec<_> = (0..n)
            .map(|_| k.push_request("together", Role::Client, Some(5000)))
            .collect();
        let agent = Agent::new(
            Arc::clone(&k),
            // Every handshake waits for all the others: only concurrency gets them through.
            MockHandshaker {
                barrier: Some(Barrier::new(n)),
                woke: Arc::default(),
            },
            settings(n, 1000),
        );
        let stats = agent.stats();
        let k2 = Arc::clone(&k);
        run_until(agent, 0, move || k2.dones().len() == n).await;
        let dones = k.dones();
        assert_eq!(dones.len(), n);
        assert!(dones.iter().all(|d| d.status == 0));
        assert_eq!(stats.peak.load(Ordering::Relaxed), n);
        for fd in fds {
            assert!(closed(fd, ino_of(&k, fd)));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_limit_holds_requests_back_until_a_slot_frees() {
        let k = Arc::new(MockKernel::default());
        for _ in 0..5 {
            k.push_request("slow", Role::Server, None);
        }
        let agent = Agent::new(Arc::clone(&k), mock(), settings(2, 1000));
        let stats = agent.stats();
        let k2 = Arc::clone(&k);
        run_until(agent, 0, move || k2.dones().len() == 5).await;
        assert_eq!(k.dones().len(), 5);
        assert!(k.dones().iter().all(|d| d.status == 0));
        assert_eq!(stats.peak.load(Ordering::Relaxed), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_overrunning_handshake_is_answered_by_the_watchdog() {
        let k = Arc::new(MockKernel::default());
        let fd = k.push_request("overrun", Role::Client, Some(200));
        let agent = Agent::new(Arc::clone(&k), mock(), settings(4, 1000));
        let t0 = Instant::now();
        let k2 = Arc::clone(&k);
        run_until(agent, 0, move || !k2.dones().is_empty()).await;
        let dones = k.dones();
        assert_eq!(dones[0].status, libc::ETIMEDOUT as u32);
        assert_eq!(dones[0].sockfd, fd);
        // Not before the 200 ms limit + the watchdog's slack; the status tells it was the
        // watchdog (the handshaker itself answers at 1.7 s, with status 0).
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(1200), "{took:?}");
        assert!(closed(fd, ino_of(&k, fd)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_handshake_thread_is_woken_from_the_socket() {
        let k = Arc::new(MockKernel::default());
        let fd = k.push_request("blocks", Role::Server, Some(100));
        let h = mock();
        let woke = Arc::clone(&h.woke);
        let agent = Agent::new(Arc::clone(&k), h, settings(4, 1000));
        let k2 = Arc::clone(&k);
        run_until(agent, 0, move || !k2.dones().is_empty()).await;
        assert_eq!(k.dones()[0].status, libc::ETIMEDOUT as u32);
        let t0 = Instant::now();
        while woke.load(Ordering::SeqCst) == 0 && t0.elapsed() < Duration::from_secs(2) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(
            woke.load(Ordering::SeqCst),
            1,
            "the thread still holds the socket"
        );
        // Its duplicate is gone too: the socket's inode is no longer reachable here.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(closed(fd, ino_of(&k, fd)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_fails_what_the_grace_period_does_not_finish() {
        let k = Arc::new(MockKernel::default());
        let fd = k.push_request("overrun", Role::Client, Some(2000));
        let agent = Agent::new(Arc::clone(&k), mock(), settings(4, 100));
        let stats = agent.stats();
        let (_ev_tx, ev_rx) = mpsc::channel(4);
        let (sd_tx, sd_rx) = watch::channel(false);
        let h = tokio::spawn(agent.run(ev_rx, sd_rx));
        while stats.running.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let t0 = Instant::now();
        sd_tx.send(true).unwrap();
        h.await.unwrap();
        // The handshaker would take 3.5 s: the grace period (0.1 s) ended it.
        assert!(t0.elapsed() < Duration::from_millis(3000));
        let dones = k.dones();
        assert_eq!(dones.len(), 1);
        assert_eq!(dones[0].status, libc::ESHUTDOWN as u32);
        assert!(closed(fd, ino_of(&k, fd)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_lets_quick_handshakes_finish() {
        let k = Arc::new(MockKernel::default());
        k.push_request("slow", Role::Client, None);
        let agent = Agent::new(Arc::clone(&k), mock(), settings(4, 2000));
        let stats = agent.stats();
        let (_ev_tx, ev_rx) = mpsc::channel(4);
        let (sd_tx, sd_rx) = watch::channel(false);
        let h = tokio::spawn(agent.run(ev_rx, sd_rx));
        while stats.running.load(Ordering::Relaxed) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sd_tx.send(true).unwrap();
        h.await.unwrap();
        assert_eq!(k.dones()[0].status, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_replies_and_transport_errors_are_survived() {
        let k = Arc::new(MockKernel::default());
        let stdin_ino = inode(0);
        // A malformed reply with a socket: failed with EINVAL and closed.
        let bad_fd = UdpSocket::bind("127.0.0.1:0").unwrap().into_raw_fd();
        let bad_ino = inode(bad_fd).unwrap();
        k.inodes.lock().unwrap().push((bad_fd, bad_ino));
        {
            let mut q = k.queue.lock().unwrap();
            q.push_back(Ok(AcceptOutcome::Malformed(AcceptError {
                sockfd: Some(bad_fd),
                reason: "truncated".into(),
            })));
            // One without: only logged.
            q.push_back(Ok(AcceptOutcome::Malformed(AcceptError {
                sockfd: None,
                reason: "garbage".into(),
            })));
            // A reply naming standard input, which is never a request's: ignored, not closed.
            q.push_back(Ok(AcceptOutcome::Malformed(AcceptError {
                sockfd: Some(0),
                reason: "forged".into(),
            })));
            // The transport fails once: the agent waits for the next READY.
            q.push_back(Err(io::Error::from_raw_os_error(libc::ENOBUFS)));
        }
        let agent = Agent::new(Arc::clone(&k), mock(), settings(4, 1000));
        let stats = agent.stats();
        let k2 = Arc::clone(&k);
        let good = Arc::new(Mutex::new(None));
        let good2 = Arc::clone(&good);
        let (ev_tx, ev_rx) = mpsc::channel(16);
        let (sd_tx, sd_rx) = watch::channel(false);
        let h = tokio::spawn(agent.run(ev_rx, sd_rx));
        // After the error the agent still serves the next READY.
        while k2.accepts.load(Ordering::Relaxed) < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        *good2.lock().unwrap() = Some(k2.push_request("ok", Role::Server, None));
        ev_tx.send(Event::Overrun).await.unwrap();
        let t0 = Instant::now();
        while k2.dones().len() < 2 && t0.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sd_tx.send(true).unwrap();
        h.await.unwrap();

        let dones = k.dones();
        assert_eq!(dones.len(), 2, "{dones:?}");
        // (The good request's socket may reuse the bad one's number, closed by then.)
        assert!(dones
            .iter()
            .any(|d| d.sockfd == bad_fd && d.status == libc::EINVAL as u32));
        assert!(closed(bad_fd, bad_ino));
        let g = good.lock().unwrap().unwrap();
        assert!(dones
            .iter()
            .any(|d| d.sockfd == g && d.status == 0 && d.remote_auth == [0x42]));
        assert!(closed(g, ino_of(&k, g)));
        assert_eq!(stats.malformed.load(Ordering::Relaxed), 3);
        assert_eq!(inode(0), stdin_ino, "standard input left alone");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_done_still_closes_the_socket() {
        let k = Arc::new(MockKernel {
            done_fails: true,
            ..MockKernel::default()
        });
        let fd = k.push_request("ok", Role::Client, None);
        let agent = Agent::new(Arc::clone(&k), mock(), settings(4, 1000));
        let stats = agent.stats();
        let k2 = Arc::clone(&k);
        run_until(agent, 0, move || !k2.dones().is_empty()).await;
        assert!(closed(fd, ino_of(&k, fd)));
        assert_eq!(stats.done_errors.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn registry_refuses_own_and_duplicate_descriptors() {
        let reg = Arc::new(FdRegistry::default());
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = udp.into_raw_fd();
        reg.reserve(1000);
        assert!(reg.adopt(1000).is_none());
        assert!(reg.adopt(2).is_none());
        let t = reg.adopt(fd).unwrap();
        assert!(reg.contains(fd));
        assert!(reg.adopt(fd).is_none(), "a second owner");
        let ino = inode(fd).unwrap();
        drop(t);
        assert!(!reg.contains(fd));
        assert!(closed(fd, ino));
    }

    #[test]
    fn time_limits() {
        let s = settings(1, 0);
        let mut r = AcceptRequest {
            sockfd: 3,
            role: Role::Client,
            timeout_ms: None,
            auth: AuthMode::X509,
            peer_identities: vec![],
            certificates: vec![],
            peername: None,
            keyring: None,
        };
        assert_eq!(s.timeout_of(&r), Duration::from_millis(400));
        r.timeout_ms = Some(100);
        assert_eq!(s.timeout_of(&r), Duration::from_millis(100));
        r.timeout_ms = Some(100_000);
        assert_eq!(s.timeout_of(&r), Duration::from_millis(2000));
    }
}
