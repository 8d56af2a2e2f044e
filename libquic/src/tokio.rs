//! The [`crate::api`] types over tokio (feature `tokio`): the sockets are non-blocking and
//! registered with the runtime ([`AsyncFd`]); stream, datagram and event reads wait for
//! readiness. The TLS handshakes run on the blocking pool (`spawn_blocking`) with the library's
//! blocking driver, so a runtime handles many handshakes at once without stalling.
//!
//! [`AsyncQuicStream`] implements [`tokio::io::AsyncRead`] and [`tokio::io::AsyncWrite`]
//! (`poll_shutdown` sends the FIN), so `tokio::io::copy`, `AsyncReadExt::read_to_end`,
//! `AsyncWriteExt::write_all` and friends work on a stream; several streams of a connection
//! can be driven at once from different tasks.
//!
//! ```no_run
//! use quic::api::{Options, TlsConfig};
//! use quic::tokio::AsyncQuicConnection;
//!
//! # async fn run(tls: TlsConfig) -> std::io::Result<()> {
//! let conn = AsyncQuicConnection::connect("192.0.2.1:4433".parse().unwrap(), tls, Options::new()).await?;
//! let s = conn.open_stream(false)?;
//! s.write_all(b"hello").await?;
//! s.finish().await?;
//! let reply = s.read_to_end().await?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll};

use quic_uapi::{
    quic_stream_info, MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_UNI, QUIC_SOCKOPT_EVENT,
    QUIC_SOCKOPT_STREAM_OPEN,
};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::api::demux::{Demux, RECV_BUF};
use crate::api::{Event, EventKind, HandshakeInfo, Options, TlsConfig};
use crate::ksock::{client_handshake, server_handshake, SockType, Socket};

/// Registers a socket with the runtime's reactor.
fn register(sock: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: a Socket owns its descriptor (an OwnedFd closed only when the Socket is dropped,
    // which the AsyncFd does last) and its as_raw_fd always returns that same descriptor.
    unsafe { AsyncFd::register(sock) }.map_err(io::Error::from)
}

/// Runs a blocking handshake on the blocking pool; the socket comes back non-blocking.
async fn handshake(
    sock: Socket,
    run: impl FnOnce(&Socket) -> Result<HandshakeInfo, crate::ksock::Error> + Send + 'static,
) -> io::Result<(Socket, HandshakeInfo)> {
    tokio::task::spawn_blocking(move || {
        let info = run(&sock)?;
        sock.set_nonblocking(true)?;
        Ok((sock, info))
    })
    .await
    .map_err(io::Error::other)?
}

/// A listening socket whose [`accept`](Self::accept) returns handshaken connections.
#[derive(Debug)]
pub struct AsyncQuicListener {
    fd: AsyncFd<Socket>,
    tls: Arc<TlsConfig>,
    opts: Options,
}

impl AsyncQuicListener {
    /// Binds to `addr` with `opts` and listens (within a tokio runtime); `tls` is a server
    /// configuration.
    pub fn bind(addr: SocketAddr, tls: TlsConfig, opts: Options) -> io::Result<Self> {
        let sock = Socket::for_addr(&addr, SockType::Stream)?;
        opts.apply(&sock)?;
        sock.bind(&addr)?;
        sock.listen(1024)?;
        sock.set_nonblocking(true)?;
        Ok(Self {
            fd: register(sock)?,
            tls: Arc::new(tls),
            opts,
        })
    }

    /// The address bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// Waits for a client (no handshake yet): [`AsyncIncoming::handshake`] brings it up, so
    /// that a server can accept the next client while this one's handshake runs.
    pub async fn accept_incoming(&self) -> io::Result<AsyncIncoming> {
        loop {
            let mut g = self.fd.readable().await?;
            match g.try_io(|fd| fd.get_ref().accept()) {
                Ok(r) => {
                    let (sock, peer) = r?;
                    if let Some(t) = self.opts.timeout {
                        sock.set_read_timeout(Some(t))?;
                        sock.set_write_timeout(Some(t))?;
                    }
                    return Ok(AsyncIncoming {
                        sock,
                        peer,
                        tls: self.tls.clone(),
                    });
                }
                Err(_would_block) => continue,
            }
        }
    }

    /// Waits for a client and runs the server handshake with it.
    pub async fn accept(&self) -> io::Result<(AsyncQuicConnection, SocketAddr)> {
        let inc = self.accept_incoming().await?;
        let peer = inc.peer;
        Ok((inc.handshake().await?, peer))
    }
}

/// An accepted client whose handshake has not run yet.
#[derive(Debug)]
pub struct AsyncIncoming {
    sock: Socket,
    peer: SocketAddr,
    tls: Arc<TlsConfig>,
}

impl AsyncIncoming {
    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Runs the server handshake.
    pub async fn handshake(self) -> io::Result<AsyncQuicConnection> {
        let tls = self.tls;
        let (sock, info) = handshake(self.sock, move |s| server_handshake(s, &tls)).await?;
        AsyncQuicConnection::new(sock, info, false)
    }
}

#[derive(Debug)]
struct Shared {
    fd: AsyncFd<Socket>,
    demux: Mutex<Demux>,
    /// Woken whenever a reader sorted something into the queue.
    changed: Notify,
}

impl Shared {
    fn demux(&self) -> MutexGuard<'_, Demux> {
        self.demux.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sock(&self) -> &Socket {
        self.fd.get_ref()
    }

    /// Waits until `take` finds what it wants: whichever task sees the socket readable reads
    /// it for everyone and wakes the others.
    async fn wait_for<T>(&self, mut take: impl FnMut(&mut Demux) -> Option<T>) -> io::Result<T> {
        let mut buf = Vec::new();
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut d = self.demux();
                if let Some(v) = take(&mut d) {
                    return Ok(v);
                }
                if let Some(e) = d.error() {
                    return Err(e);
                }
            }
            tokio::select! {
                g = self.fd.readable() => {
                    let mut g = g?;
                    buf.resize(RECV_BUF, 0);
                    let r = match g.try_io(|fd| fd.get_ref().recv(&mut buf)) {
                        Ok(r) => r,
                        Err(_would_block) => continue,
                    };
                    let mut d = self.demux();
                    let r = match r {
                        Ok(r) => d.dispatch(&r, &buf[..r.len]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
                        Err(e) => {
                            d.fail(&e);
                            Err(e)
                        }
                    };
                    drop(d);
                    self.changed.notify_waiters();
                    r?;
                }
                () = &mut changed => {}
            }
        }
    }

    /// Runs a non-blocking send until the socket takes it.
    async fn send_with<T>(&self, mut f: impl FnMut(&Socket) -> io::Result<T>) -> io::Result<T> {
        loop {
            let mut g = self.fd.writable().await?;
            match g.try_io(|fd| f(fd.get_ref())) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

/// An established connection on a tokio runtime; cheap to clone (all clones share it).
#[derive(Debug, Clone)]
pub struct AsyncQuicConnection {
    shared: Arc<Shared>,
    info: Arc<HandshakeInfo>,
}

impl AsyncQuicConnection {
    fn new(sock: Socket, info: HandshakeInfo, is_client: bool) -> io::Result<Self> {
        Ok(Self {
            shared: Arc::new(Shared {
                fd: register(sock)?,
                demux: Mutex::new(Demux::new(is_client)),
                changed: Notify::new(),
            }),
            info: Arc::new(info),
        })
    }

    /// Connects to `addr` with `opts` and runs the client handshake (on the blocking pool);
    /// `tls` is a client configuration.
    pub async fn connect(addr: SocketAddr, tls: TlsConfig, opts: Options) -> io::Result<Self> {
        let sock = Socket::for_addr(&addr, SockType::Stream)?;
        opts.apply(&sock)?;
        sock.connect(&addr)?;
        // Reads go through `Socket::recv`, which hands the server's tickets to TLS.
        sock.want_ticket_events()?;
        let name = opts.server_name;
        let (sock, info) =
            handshake(sock, move |s| client_handshake(s, &tls, name.as_deref())).await?;
        Self::new(sock, info, true)
    }

    /// What the handshake negotiated.
    pub fn handshake_info(&self) -> &HandshakeInfo {
        &self.info
    }

    /// The connection's (non-blocking) socket, for options this API does not wrap.
    pub fn socket(&self) -> &Socket {
        self.shared.sock()
    }

    /// Opens a new stream: bidirectional, or unidirectional (send only) with `uni`.
    pub fn open_stream(&self, uni: bool) -> io::Result<AsyncQuicStream> {
        let si = quic_stream_info {
            stream_id: -1,
            stream_flags: if uni { MSG_QUIC_STREAM_UNI } else { 0 },
        };
        let si = self.shared.sock().quic_opt(QUIC_SOCKOPT_STREAM_OPEN, &si)?;
        self.shared.demux().register(si.stream_id);
        Ok(self.stream(si.stream_id))
    }

    /// Waits for the next stream the peer opened.
    pub async fn accept_stream(&self) -> io::Result<AsyncQuicStream> {
        let id = self.shared.wait_for(Demux::take_incoming).await?;
        Ok(self.stream(id))
    }

    /// A handle on stream `id`.
    pub fn stream(&self, id: i64) -> AsyncQuicStream {
        AsyncQuicStream::new(self.shared.clone(), id)
    }

    /// Sends one datagram.
    pub async fn send_datagram(&self, data: &[u8]) -> io::Result<()> {
        self.shared
            .send_with(|s| s.send_datagram(data, 0))
            .await
            .map(drop)
    }

    /// Waits for the next datagram.
    pub async fn recv_datagram(&self) -> io::Result<Vec<u8>> {
        self.shared.wait_for(Demux::take_datagram).await
    }

    /// Turns delivery of one event type on or off.
    pub fn set_event(&self, kind: EventKind, on: bool) -> io::Result<()> {
        self.shared
            .sock()
            .set_quic_opt(QUIC_SOCKOPT_EVENT, &kind.option(on))
    }

    /// Waits for the next event.
    pub async fn next_event(&self) -> io::Result<Event> {
        self.shared.wait_for(Demux::take_event).await
    }

    /// Closes the connection now with an application error code and reason (as
    /// [`QuicConnection::close`](crate::api::QuicConnection::close) does).
    pub fn close(&self, code: u32, reason: &str) -> io::Result<()> {
        self.shared.sock().close_connection(code, reason)?;
        self.shared.sock().shutdown(Shutdown::Write)
    }
}

type BoxIo<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

/// What the `poll_*` methods of a stream wait on between calls.
#[derive(Default)]
struct PollState {
    /// Until the stream has bytes (or its end) queued, or the connection fails.
    read: Option<BoxIo<()>>,
    /// A write in progress: the bytes it sends (copied at the first `poll_write`) and then
    /// how many went.
    write: Option<BoxIo<usize>>,
    /// The FIN being sent.
    shutdown: Option<BoxIo<()>>,
}

/// One stream of an [`AsyncQuicConnection`]: the async methods below, or
/// [`AsyncRead`]/[`AsyncWrite`] (`poll_shutdown` ends the sending side with a FIN).
///
/// A clone is another handle on the same stream (e.g. a reader and a writer for
/// `tokio::io::copy`); a read or write in progress stays with the handle that started it.
/// As with other `AsyncWrite`s that copy, a `poll_write` left pending must be called again
/// with the same bytes.
pub struct AsyncQuicStream {
    shared: Arc<Shared>,
    id: i64,
    /// Behind a mutex only to keep the stream `Sync`; `poll_*` take it with `get_mut`.
    polls: Mutex<PollState>,
}

impl Clone for AsyncQuicStream {
    fn clone(&self) -> Self {
        Self::new(self.shared.clone(), self.id)
    }
}

impl fmt::Debug for AsyncQuicStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncQuicStream")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AsyncQuicStream {
    fn new(shared: Arc<Shared>, id: i64) -> Self {
        Self {
            shared,
            id,
            polls: Mutex::new(PollState::default()),
        }
    }

    fn polls(&mut self) -> &mut PollState {
        self.polls.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The stream id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Reads this stream's next bytes: 0 once the peer finished it.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.wait_for(|d| d.read_stream(self.id, buf)).await
    }

    /// Reads to the end of the stream.
    pub async fn read_to_end(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            match self.read(&mut buf).await? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Queues some of `data` on the stream, waiting while flow control allows none.
    pub async fn write(&self, data: &[u8]) -> io::Result<usize> {
        self.shared.send_with(|s| s.send(data, self.id, 0)).await
    }

    /// Queues all of `data`.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.write(data).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => data = &data[n.min(data.len())..],
            }
        }
        Ok(())
    }

    /// Ends the sending side.
    pub async fn finish(&self) -> io::Result<()> {
        self.shared
            .send_with(|s| s.send(&[], self.id, MSG_QUIC_STREAM_FIN))
            .await
            .map(drop)
    }
}

impl AsyncRead for AsyncQuicStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            // What is queued already (or the end of the stream) comes first.
            let got = this
                .shared
                .demux()
                .read_stream(this.id, buf.initialize_unfilled());
            if let Some(n) = got {
                buf.advance(n);
                this.polls().read = None;
                return Poll::Ready(Ok(()));
            }
            let (shared, id) = (this.shared.clone(), this.id);
            let wait = this.polls().read.get_or_insert_with(|| {
                Box::pin(async move {
                    shared
                        .wait_for(|d| d.stream_readable(id).then_some(()))
                        .await
                })
            });
            let r = ready!(wait.as_mut().poll(cx));
            this.polls().read = None;
            // Another handle on this stream may have taken the bytes: look again.
            r?;
        }
    }
}

impl AsyncWrite for AsyncQuicStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let (shared, id) = (this.shared.clone(), this.id);
        let w = this.polls().write.get_or_insert_with(|| {
            let data = buf[..buf.len().min(RECV_BUF)].to_vec();
            Box::pin(async move { shared.send_with(|s| s.send(&data, id, 0)).await })
        });
        let r = ready!(w.as_mut().poll(cx));
        this.polls().write = None;
        Poll::Ready(r)
    }

    /// Nothing to do: a write completes once the kernel has taken the bytes.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Ends the sending side (a FIN), as [`AsyncQuicStream::finish`].
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (shared, id) = (this.shared.clone(), this.id);
        let f = this.polls().shutdown.get_or_insert_with(|| {
            Box::pin(async move {
                shared
                    .send_with(|s| s.send(&[], id, MSG_QUIC_STREAM_FIN))
                    .await
                    .map(drop)
            })
        });
        let r = ready!(f.as_mut().poll(cx));
        this.polls().shutdown = None;
        Poll::Ready(r)
    }
}
