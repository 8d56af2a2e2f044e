//! The blocking API: [`QuicListener`], [`QuicConnection`] and its [`QuicStream`]s.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use quic_uapi::{
    quic_stream_info, quic_transport_param, MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_UNI,
    QUIC_SOCKOPT_EVENT, QUIC_SOCKOPT_KEY_UPDATE, QUIC_SOCKOPT_STREAM_OPEN,
};

use super::demux::{Demux, RECV_BUF};
use super::event::{Event, EventKind};
use super::options::Options;
use crate::ksock::{client_handshake, server_handshake, HandshakeInfo, SockType, Socket};
use crate::tls::TlsConfig;

/// A listening QUIC socket whose [`accept`](QuicListener::accept) returns handshaken
/// connections.
#[derive(Debug)]
pub struct QuicListener {
    sock: Socket,
    tls: Arc<TlsConfig>,
    opts: Options,
}

impl QuicListener {
    /// Binds to `addr` with `opts` and listens; `tls` is a server configuration
    /// ([`TlsConfig::server`] or [`TlsConfig::from_rustls_server`]).
    pub fn bind(addr: SocketAddr, tls: TlsConfig, opts: Options) -> io::Result<Self> {
        let sock = Socket::for_addr(&addr, SockType::Stream)?;
        opts.apply(&sock)?;
        sock.bind(&addr)?;
        sock.listen(128)?;
        Ok(Self {
            sock,
            tls: Arc::new(tls),
            opts,
        })
    }

    /// The address bound (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Waits for a client and runs the server handshake with it.
    pub fn accept(&self) -> io::Result<(QuicConnection, SocketAddr)> {
        let (sock, peer) = self.sock.accept()?;
        if let Some(t) = self.opts.timeout {
            sock.set_read_timeout(Some(t))?;
            sock.set_write_timeout(Some(t))?;
        }
        let info = server_handshake(&sock, &self.tls)?;
        Ok((QuicConnection::new(sock, info, false), peer))
    }

    /// The listening socket, for options this API does not wrap.
    pub fn socket(&self) -> &Socket {
        &self.sock
    }
}

impl AsRawFd for QuicListener {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// A connection's socket and the receive queue its streams share.
#[derive(Debug)]
struct Shared {
    sock: Socket,
    demux: Mutex<Demux>,
    /// Signalled whenever the queue changes or the reader role is free.
    changed: Condvar,
}

impl Shared {
    fn demux(&self) -> MutexGuard<'_, Demux> {
        self.demux.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until `take` finds what it wants in the queue. One caller at a time reads the
    /// socket for everyone; the others wait for it to sort what it read.
    fn wait_for<T>(&self, mut take: impl FnMut(&mut Demux) -> Option<T>) -> io::Result<T> {
        let mut d = self.demux();
        loop {
            if let Some(v) = take(&mut d) {
                return Ok(v);
            }
            if let Some(e) = d.error() {
                return Err(e);
            }
            if d.reading {
                d = self.changed.wait(d).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            d.reading = true;
            drop(d);
            let mut buf = vec![0u8; RECV_BUF];
            let r = self.sock.recv(&mut buf);
            d = self.demux();
            d.reading = false;
            self.changed.notify_all();
            match r {
                Ok(r) => d.dispatch(&r, &buf[..r.len])?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // SO_RCVTIMEO: this caller's wait is over, the connection is not.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(e),
                Err(e) => {
                    d.fail(&e);
                    return Err(e);
                }
            }
        }
    }
}

/// An established QUIC connection (client or server side). Streams are opened with
/// [`open_stream`](Self::open_stream) and the peer's taken with
/// [`accept_stream`](Self::accept_stream); each is read and written on its own, from any thread.
#[derive(Debug, Clone)]
pub struct QuicConnection {
    shared: Arc<Shared>,
    info: Arc<HandshakeInfo>,
}

impl QuicConnection {
    fn new(sock: Socket, info: HandshakeInfo, is_client: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                sock,
                demux: Mutex::new(Demux::new(is_client)),
                changed: Condvar::new(),
            }),
            info: Arc::new(info),
        }
    }

    /// Connects to `addr` with `opts` and runs the client handshake; `tls` is a client
    /// configuration ([`TlsConfig::client`] or [`TlsConfig::from_rustls_client`]).
    pub fn connect(addr: SocketAddr, tls: &TlsConfig, opts: &Options) -> io::Result<Self> {
        let sock = Socket::for_addr(&addr, SockType::Stream)?;
        opts.apply(&sock)?;
        sock.connect(&addr)?;
        // Reads go through `Socket::recv`, which hands the server's tickets to TLS.
        sock.want_ticket_events()?;
        let info = client_handshake(&sock, tls, opts.server_name.as_deref())?;
        Ok(Self::new(sock, info, true))
    }

    /// What the handshake negotiated (ALPN, cipher, resumption).
    pub fn handshake_info(&self) -> &HandshakeInfo {
        &self.info
    }

    /// The connection's socket, for options this API does not wrap. Reading from it directly
    /// takes data away from the streams.
    pub fn socket(&self) -> &Socket {
        &self.shared.sock
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.local_addr()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.shared.sock.peer_addr()
    }

    /// Opens a new stream (`QUIC_SOCKOPT_STREAM_OPEN`): bidirectional, or unidirectional
    /// (send only) with `uni`.
    pub fn open_stream(&self, uni: bool) -> io::Result<QuicStream> {
        let si = quic_stream_info {
            stream_id: -1,
            stream_flags: if uni { MSG_QUIC_STREAM_UNI } else { 0 },
        };
        let si = self.shared.sock.quic_opt(QUIC_SOCKOPT_STREAM_OPEN, &si)?;
        self.shared.demux().register(si.stream_id);
        Ok(self.stream(si.stream_id))
    }

    /// Waits for the next stream the peer opened.
    pub fn accept_stream(&self) -> io::Result<QuicStream> {
        let id = self.shared.wait_for(Demux::take_incoming)?;
        Ok(self.stream(id))
    }

    /// A handle on stream `id` (one opened or accepted before, or one to open implicitly by
    /// writing to it).
    pub fn stream(&self, id: i64) -> QuicStream {
        QuicStream {
            shared: self.shared.clone(),
            id,
        }
    }

    /// Sends one datagram (RFC 9221; both ends need [`Options::datagrams`]).
    pub fn send_datagram(&self, data: &[u8]) -> io::Result<()> {
        self.shared.sock.send_datagram(data, 0).map(drop)
    }

    /// Waits for the next datagram.
    pub fn recv_datagram(&self) -> io::Result<Vec<u8>> {
        self.shared.wait_for(Demux::take_datagram)
    }

    /// Turns delivery of one event type on or off.
    pub fn set_event(&self, kind: EventKind, on: bool) -> io::Result<()> {
        self.shared
            .sock
            .set_quic_opt(QUIC_SOCKOPT_EVENT, &kind.option(on))
    }

    /// Waits for the next event (of a type turned on).
    pub fn next_event(&self) -> io::Result<Event> {
        self.shared.wait_for(Demux::take_event)
    }

    /// The peer's (`remote`) or our transport parameters.
    pub fn transport_params(&self, remote: bool) -> io::Result<quic_transport_param> {
        self.shared.sock.transport_param(remote)
    }

    /// Starts a key update (`QUIC_SOCKOPT_KEY_UPDATE`).
    pub fn key_update(&self) -> io::Result<()> {
        self.shared
            .sock
            .set_quic_opt_bytes(QUIC_SOCKOPT_KEY_UPDATE, &[])
    }

    /// Closes the connection now: CONNECTION_CLOSE with an application error code and reason
    /// (`QUIC_SOCKOPT_CONNECTION_CLOSE`, then `shutdown(SHUT_WR)`). What was already received
    /// stays readable; the socket itself is closed when the last handle is dropped.
    pub fn close(&self, code: u32, reason: &str) -> io::Result<()> {
        self.shared.sock.close_connection(code, reason)?;
        self.shared.sock.shutdown(Shutdown::Write)
    }
}

impl AsFd for QuicConnection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.sock.as_fd()
    }
}

/// One stream of a [`QuicConnection`]: [`Read`] takes this stream's bytes only (0 at its
/// end), [`Write`] sends on it, [`finish`](Self::finish) ends the sending side.
#[derive(Debug, Clone)]
pub struct QuicStream {
    shared: Arc<Shared>,
    id: i64,
}

impl QuicStream {
    /// The stream id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Reads this stream's next bytes: 0 once the peer finished it.
    pub fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared.wait_for(|d| d.read_stream(self.id, buf))
    }

    /// Queues bytes on the stream; blocks while flow control allows none.
    pub fn write_some(&self, data: &[u8]) -> io::Result<usize> {
        self.shared.sock.send(data, self.id, 0)
    }

    /// Writes all of `data`, then ends the stream.
    pub fn write_all_and_finish(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            match self.write_some(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n.min(data.len())..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.finish()
    }

    /// Ends the sending side (a FIN with no more data).
    pub fn finish(&self) -> io::Result<()> {
        self.shared
            .sock
            .send(&[], self.id, MSG_QUIC_STREAM_FIN)
            .map(drop)
    }

    /// Reads to the end of the stream.
    pub fn read_to_end_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; RECV_BUF];
        loop {
            match self.read_some(&mut buf)? {
                0 => return Ok(out),
                n => out.extend_from_slice(&buf[..n]),
            }
        }
    }
}

impl Read for QuicStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_some(buf)
    }
}

impl Write for QuicStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_some(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
