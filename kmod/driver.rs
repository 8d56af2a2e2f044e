// SPDX-License-Identifier: GPL-2.0
//! The driver: the only code that feeds a connection and acts on what it says. After every
//! input (a datagram, the timer, an application call) `drive` drains the engine's events
//! (routing connection IDs, noting readable streams and CRYPTO data, the close), sends every
//! datagram it has ready, re-arms the socket's timer from `poll_timeout` and wakes waiters.
//! Always called with the socket lock held, in process context.

use kernel::prelude::*;
use quic_mem::Vec as MVec;
use quic_proto::cid::ConnectionId;
use quic_proto::conn::{CloseSource, Config, Connection, Event, Key32, Level};
use quic_proto::crypto::{Rng, Side};
use quic_proto::recovery::cc::Algorithm;
use quic_proto::stream::StreamEvent;
use quic_proto::transport_params::TransportParams;
use quic_uapi::{self as uapi, AbiStruct};

use crate::crypto::KernelCrypto;
use crate::rx::{RxDatagram, LOCAL_CID_LEN};
use crate::sockopt::Options;
use crate::sync::TableLocked;
use crate::sys;
use crate::table;
use crate::tunnel::TunnelRef;
use crate::tx;

/// The kernel's random source for the engine.
pub(crate) struct KernelRng;

impl Rng for KernelRng {
    fn fill(&mut self, dest: &mut [u8]) {
        // SAFETY: `dest` is valid for `dest.len()` bytes; get_random_bytes works in any context.
        unsafe { sys::kq_get_random_bytes(dest.as_mut_ptr().cast(), dest.len() as u32) };
    }
}

/// Our side, as the stream layer names it.
pub(crate) fn stream_side(conn: &Connection<KernelCrypto>) -> quic_proto::stream::Side {
    match conn.side() {
        quic_proto::crypto::Side::Client => quic_proto::stream::Side::Client,
        quic_proto::crypto::Side::Server => quic_proto::stream::Side::Server,
    }
}

/// Monotonic time in microseconds, the engine's clock.
pub(crate) fn now_us() -> u64 {
    // SAFETY: reads the monotonic clock; any context.
    unsafe { sys::kq_now_us() }
}

/// A random connection ID of our length.
pub(crate) fn random_cid(len: usize) -> ConnectionId {
    let mut b = [0u8; 20];
    let len = len.min(b.len());
    KernelRng.fill(&mut b[..len]);
    ConnectionId::new(&b[..len]).unwrap_or_default()
}

/// The keys every connection of the module shares: stateless reset tokens and address
/// validation tokens must verify across connections. Made once, at first use.
static KEYS: TableLocked<Option<([u8; 32], [u8; 32])>> = TableLocked::new(None);

fn endpoint_keys() -> ([u8; 32], [u8; 32]) {
    let mut k = KEYS.lock();
    if let Some(keys) = *k {
        return keys;
    }
    let mut reset = [0u8; 32];
    let mut token = [0u8; 32];
    KernelRng.fill(&mut reset);
    KernelRng.fill(&mut token);
    *k = Some((reset, token));
    (reset, token)
}

/// The engine configuration of a socket's options (`QUIC_SOCKOPT_CONFIG`,
/// `QUIC_SOCKOPT_TRANSPORT_PARAM`).
pub(crate) fn config(opts: &Options) -> Config {
    let c = opts.config();
    let mut cfg = Config::new();
    if c.version != 0 {
        cfg.version = c.version;
    }
    cfg.transport_params = TransportParams::from_uapi(opts.local_tp());
    cfg.initial_rtt = u64::from(c.initial_smoothed_rtt);
    cfg.congestion = if c.congestion_control_algo == uapi::QUIC_CONG_ALG_RENO {
        Algorithm::Reno
    } else {
        Algorithm::Cubic
    };
    cfg.validate_peer_address = c.validate_peer_address != 0;
    cfg.stream_data_nodelay = c.stream_data_nodelay != 0;
    cfg.keepalive_interval = u64::from(c.keepalive_probe_interval);
    cfg.plpmtud_probe_interval = u64::from(c.plpmtud_probe_interval);
    cfg.cid_len = LOCAL_CID_LEN;
    // Runs of full-size 1-RTT datagrams go out as one GSO skb (see tx.rs).
    cfg.max_segments = tx::GSO_SEGMENTS;
    let (reset, token) = endpoint_keys();
    cfg.reset_key = Key32(reset);
    cfg.token_key = Key32(token);
    cfg
}

/// A client connection on the heap (see `ConnState::conn`). Not inlined: the engine's
/// constructor returns the connection by value, and only this frame should hold it.
#[inline(never)]
pub(crate) fn new_client(
    config: &Config,
    local: core::net::SocketAddr,
    peer: core::net::SocketAddr,
) -> Result<KBox<Connection<KernelCrypto>>, i32> {
    let conn = Connection::client(
        KernelCrypto::new()?,
        config,
        random_cid(LOCAL_CID_LEN),
        random_cid(16),
        local,
        peer,
        now_us(),
        &mut KernelRng,
    )
    .map_err(|_| -(sys::EINVAL as i32))?;
    KBox::new(conn, GFP_KERNEL).map_err(|_| -(sys::ENOMEM as i32))
}

/// A server connection for an accepted client Initial, on the heap; see `new_client`.
#[inline(never)]
pub(crate) fn new_server(
    config: &Config,
    accepted: &quic_proto::conn::Accepted,
    local: core::net::SocketAddr,
    peer: core::net::SocketAddr,
) -> Result<KBox<Connection<KernelCrypto>>, i32> {
    let conn = Connection::server(
        KernelCrypto::new()?,
        config,
        accepted,
        random_cid(LOCAL_CID_LEN),
        local,
        peer,
        now_us(),
        &mut KernelRng,
    )
    .map_err(|_| -(sys::EINVAL as i32))?;
    KBox::new(conn, GFP_KERNEL).map_err(|_| -(sys::ENOMEM as i32))
}

/// A socket's connection and what the socket layer tracks beside it.
pub(crate) struct ConnState {
    /// The engine (boxed on its own: it is built on the stack by the engine's constructors,
    /// and every further copy on a 16 KiB kernel stack counts).
    pub(crate) conn: KBox<Connection<KernelCrypto>>,
    /// The socket's tunnel.
    pub(crate) tunnel: TunnelRef,
    /// Streams with something to read, oldest first.
    readable: MVec<u64>,
    /// ABI crypto levels (bit per level) with CRYPTO bytes waiting for userspace.
    crypto: u8,
    /// The most recently opened stream (send/recv without a cmsg use it).
    pub(crate) last_stream: Option<i64>,
    /// Negative errno once the connection ended (0 while it lives).
    pub(crate) error: i32,
    /// 1-RTT secrets installed (rx, tx).
    pub(crate) app_keys: (bool, bool),
    /// The peer's transport parameters extension was set.
    pub(crate) peer_tp: bool,
    /// Connection IDs routed to this socket.
    routes: MVec<ConnectionId>,
    /// A server's Initial DCID (routed until the handshake is confirmed).
    initial_dcid: Option<ConnectionId>,
    net: *mut sys::net,
    /// Engine counters already added to the namespace's (lost, dropped, key updates).
    counted: (u64, u64, u64),
    /// `QUIC_SOCKOPT_EVENT`: bit `1 << type` for each event the application wants.
    pub(crate) events_on: u32,
    /// Notifications waiting for `recvmsg` (`MSG_QUIC_NOTIFICATION`), each the event type
    /// byte and its payload, oldest first; `note_read` bytes of the first were read already.
    notes: MVec<MVec<u8>>,
    pub(crate) note_read: usize,
    /// Client: the server's latest NewSessionTicket message (`QUIC_SOCKOPT_SESSION_TICKET`
    /// get), until the user sets session data in its place.
    pub(crate) ticket: Option<MVec<u8>>,
    /// Client: the latest token from a NEW_TOKEN frame (`QUIC_SOCKOPT_TOKEN` get).
    pub(crate) token: Option<MVec<u8>>,
    /// Client: the start of a post-handshake message whose end has not arrived yet.
    nst_partial: MVec<u8>,
    /// Client: the server's parameters of an earlier connection were set, so stream data and
    /// datagrams may be queued before the handshake (sent as 0-RTT once TLS installs the
    /// early keys, else as 1-RTT).
    pub(crate) remembered: bool,
    /// Bytes of the oldest received datagram already read (a partial read keeps the rest).
    pub(crate) dgram_read: usize,
    /// A second tunnel: a migrating client's previous one (for what is in flight on the old
    /// path) or the one of a server's preferred address.
    pub(crate) extra_tunnel: Option<TunnelRef>,
}

/// Largest post-handshake message kept (a NewSessionTicket is a few hundred bytes).
const TICKET_MAX: usize = 4096;

/// Notifications kept for an application that does not read them, at most.
const NOTES_MAX: usize = 1024;

impl ConnState {
    /// Wraps a new connection of socket `sk`.
    pub(crate) fn new(
        sk: *mut sys::sock,
        conn: KBox<Connection<KernelCrypto>>,
        tunnel: TunnelRef,
        initial_dcid: Option<ConnectionId>,
    ) -> Result<KBox<Self>, i32> {
        // SAFETY: `sk` is live.
        let net = unsafe { sys::kq_sock_net(sk) };
        let mut cs = KBox::new(
            ConnState {
                conn,
                tunnel,
                readable: MVec::new(),
                crypto: 0,
                last_stream: None,
                error: 0,
                app_keys: (false, false),
                peer_tp: false,
                routes: MVec::new(),
                initial_dcid,
                net,
                counted: (0, 0, 0),
                events_on: 0,
                notes: MVec::new(),
                note_read: 0,
                ticket: None,
                token: None,
                nst_partial: MVec::new(),
                remembered: false,
                dgram_read: 0,
                extra_tunnel: None,
            },
            GFP_KERNEL,
        )
        .map_err(|_| -(sys::ENOMEM as i32))?;
        let mut cids = MVec::new();
        for (_, cid) in cs.conn.local_cids() {
            cids.push(cid).map_err(|_| -(sys::ENOMEM as i32))?;
        }
        if let Some(d) = initial_dcid {
            cids.push(d).map_err(|_| -(sys::ENOMEM as i32))?;
        }
        for cid in cids.iter() {
            cs.route(sk, cid)?;
        }
        Ok(cs)
    }

    fn route(&mut self, sk: *mut sys::sock, cid: &ConnectionId) -> Result<(), i32> {
        if self.routes.iter().any(|c| c == cid) {
            return Ok(());
        }
        self.routes.reserve(1).map_err(|_| -(sys::ENOMEM as i32))?;
        table::insert(self.net, cid, sk)?;
        let _ = self.routes.push(*cid);
        Ok(())
    }

    fn unroute(&mut self, sk: *mut sys::sock, cid: &ConnectionId) {
        table::remove(self.net, cid, sk);
        self.routes.retain(|c| c != cid);
    }

    /// The lowest level with CRYPTO bytes for userspace, in handshake order.
    pub(crate) fn crypto_pending(&self) -> Option<Level> {
        [Level::Initial, Level::Handshake, Level::App]
            .into_iter()
            .find(|l| self.crypto & (1 << l.abi()) != 0)
    }

    /// The CRYPTO bytes of `level` were all read.
    pub(crate) fn crypto_drained(&mut self, level: Level) {
        self.crypto &= !(1 << level.abi());
    }

    /// The stream to read from next.
    pub(crate) fn readable_front(&self) -> Option<u64> {
        self.readable.first().copied()
    }

    /// `id` has nothing more to read for now.
    pub(crate) fn readable_pop(&mut self, id: u64) {
        self.readable.retain(|s| *s != id);
    }

    /// Stream data and datagrams may be sent: the handshake is complete, 0-RTT is on, or a
    /// client may queue early data (see `remembered`).
    pub(crate) fn may_send_data(&self) -> bool {
        self.conn.is_handshake_complete() || self.conn.early_data_active() || self.remembered
    }

    /// Something to read: stream data, CRYPTO bytes or a notification.
    pub(crate) fn has_input(&self) -> bool {
        !self.readable.is_empty() || self.crypto != 0 || !self.notes.is_empty()
    }

    /// The unread part of the oldest notification.
    pub(crate) fn note_front(&self) -> Option<&[u8]> {
        self.notes.first().and_then(|n| n.get(self.note_read..))
    }

    /// `n` more bytes of the oldest notification were read; returns true when it is done.
    pub(crate) fn note_consume(&mut self, n: usize) -> bool {
        let len = self.notes.first().map_or(0, |v| v.len());
        self.note_read += n;
        if self.note_read >= len {
            self.note_read = 0;
            if !self.notes.is_empty() {
                drop(self.notes.remove(0));
            }
            return true;
        }
        false
    }

    /// Queues notification `ty` with `payload` if the application enabled that event.
    fn notify(&mut self, ty: u8, payload: &[u8]) {
        if self.events_on & (1 << ty) == 0 || self.notes.len() >= NOTES_MAX {
            return;
        }
        let mut v = MVec::new();
        if v.reserve(1 + payload.len()).is_err() || self.notes.reserve(1).is_err() {
            return;
        }
        let _ = v.push(ty);
        let _ = v.extend_from_slice(payload);
        let _ = self.notes.push(v);
    }

    /// Queues the ABI struct `v` as the payload of notification `ty`.
    fn notify_struct<T: AbiStruct>(&mut self, ty: u8, v: &T) {
        let mut image = [0u8; 96];
        let n = v.write_prefix(&mut image[..T::SIZE.min(96)]);
        self.notify(ty, &image[..n]);
    }

    /// The application's events, from the engine's.
    fn on_notification(&mut self, ev: &Event) {
        match ev {
            Event::Stream(StreamEvent::Update {
                id,
                state,
                errcode,
                final_size,
            }) => self.notify_struct(
                uapi::QUIC_EVENT_STREAM_UPDATE,
                &uapi::quic_stream_update {
                    id: id.raw() as i64,
                    state: state.abi(),
                    errcode: *errcode as u32,
                    finalsz: *final_size,
                    ..Default::default()
                },
            ),
            Event::Stream(StreamEvent::MaxData { id, max_data }) => self.notify_struct(
                uapi::QUIC_EVENT_STREAM_MAX_DATA,
                &uapi::quic_stream_max_data {
                    id: id.raw() as i64,
                    max_data: *max_data,
                },
            ),
            Event::Stream(StreamEvent::MaxStreams { last_id, .. }) => {
                // The last stream ID the new limit lets us open (lxin/quic's value).
                let id = last_id.raw();
                self.notify(uapi::QUIC_EVENT_STREAM_MAX_STREAM, &id.to_ne_bytes());
            }
            Event::ConnectionId {
                dest,
                active,
                prior_to,
            } => self.notify_struct(
                uapi::QUIC_EVENT_CONNECTION_ID,
                &uapi::quic_connection_id_info {
                    dest: u8::from(*dest),
                    active: *active as u32,
                    prior_to: *prior_to as u32,
                    ..Default::default()
                },
            ),
            Event::Migration { local } => {
                self.notify(uapi::QUIC_EVENT_CONNECTION_MIGRATION, &[u8::from(*local)])
            }
            Event::KeyUpdate { phase } => {
                self.notify(uapi::QUIC_EVENT_KEY_UPDATE, &[u8::from(*phase)])
            }
            Event::NewToken(t) => self.notify(uapi::QUIC_EVENT_NEW_TOKEN, t),
            Event::Closed(info) => {
                let mut c = uapi::quic_connection_close {
                    errcode: info.code as u32,
                    frame: info.frame_type as u8,
                    ..Default::default()
                };
                let n = info.reason.len().min(c.phrase.len() - 1);
                c.phrase[..n].copy_from_slice(&info.reason[..n]);
                self.notify_struct(uapi::QUIC_EVENT_CONNECTION_CLOSE, &c);
            }
            _ => {}
        }
    }

    fn on_event(&mut self, sk: *mut sys::sock, ev: Event) {
        if self.events_on != 0 {
            self.on_notification(&ev);
        }
        match ev {
            Event::LocalCidIssued { cid, .. } => {
                // A connection ID we cannot route is one the peer's packets will not reach us
                // with; the peer uses another.
                let _ = self.route(sk, &cid);
            }
            Event::LocalCidRetired { cid, .. } => self.unroute(sk, &cid),
            Event::StreamReadable(id) => {
                if !self.readable.iter().any(|s| *s == id.raw()) {
                    // Without room the stream is found again by the next StreamReadable.
                    let _ = self.readable.push(id.raw());
                }
            }
            // A client's post-handshake messages are the server's tickets: kept for the
            // SESSION_TICKET option and the NEW_SESSION_TICKET event, not read by recvmsg.
            Event::CryptoData(Level::App) if self.conn.side() == Side::Client => {
                self.take_tickets()
            }
            Event::CryptoData(level) => self.crypto |= 1 << level.abi(),
            // getsockname/getpeername follow the active path.
            Event::Migration { .. } => {
                // SAFETY: `sk` is live and locked (the contract of `drive`).
                let family = unsafe { sys::kq_sk_family(sk) };
                let (l, p) = (self.conn.local_addr(), self.conn.peer_addr());
                // SAFETY: as above; the arrays hold the 4 or 16 bytes of the socket's family.
                unsafe {
                    sys::kq_sk_set_local(
                        sk,
                        crate::addr::for_sock(family, &l.ip()).as_ptr().cast(),
                        l.port(),
                    );
                    sys::kq_sk_set_peer(
                        sk,
                        crate::addr::for_sock(family, &p.ip()).as_ptr().cast(),
                        p.port(),
                    );
                }
            }
            Event::NewToken(t) if self.conn.side() == Side::Client => {
                let mut v = MVec::new();
                if v.extend_from_slice(&t).is_ok() {
                    self.token = Some(v);
                }
            }
            Event::HandshakeConfirmed => {
                if let Some(d) = self.initial_dcid.take() {
                    if !self.conn.local_cids().any(|(_, c)| c == d) {
                        self.unroute(sk, &d);
                    }
                }
            }
            Event::Closed(info) => {
                pr_debug!(
                    "connection closed: {:?}, {} code {:#x} frame {:#x}: {}\n",
                    info.source,
                    if info.app { "application" } else { "transport" },
                    info.code,
                    info.frame_type,
                    core::str::from_utf8(&info.reason).unwrap_or("?")
                );
                let counter = match info.source {
                    CloseSource::IdleTimeout => sys::kq_mib_KQ_MIB_CLOSED_IDLE,
                    CloseSource::Peer => sys::kq_mib_KQ_MIB_CLOSED_PEER,
                    CloseSource::StatelessReset => sys::kq_mib_KQ_MIB_CLOSED_RESET,
                    _ => sys::kq_mib_KQ_MIB_CLOSED_LOCAL,
                };
                mib(sk, counter, 1);
                self.error = match info.source {
                    CloseSource::IdleTimeout => -(sys::ETIMEDOUT as i32),
                    CloseSource::VersionNegotiation { .. } => -(sys::ECONNREFUSED as i32),
                    CloseSource::Local => -(sys::ECONNABORTED as i32),
                    CloseSource::Peer | CloseSource::StatelessReset => -(sys::ECONNRESET as i32),
                };
            }
            _ => {}
        }
    }

    /// Client: moves the server's post-handshake TLS messages (RFC 9001 §4.1.3 leaves
    /// NewSessionTicket as the only one) out of the APP-level CRYPTO stream, one whole message
    /// at a time (type, 24-bit length, body), as lxin/quic does: the latest is kept for
    /// `QUIC_SOCKOPT_SESSION_TICKET` and each goes out as a NEW_SESSION_TICKET event.
    fn take_tickets(&mut self) {
        let mut buf = [0u8; 256];
        loop {
            let n = self.conn.crypto_read(Level::App, &mut buf);
            if n == 0 {
                break;
            }
            if self.nst_partial.extend_from_slice(&buf[..n]).is_err() {
                // Out of memory: this message is lost; the next one starts afresh.
                self.nst_partial.clear();
            }
            while self.nst_partial.len() >= 4 {
                let p = &self.nst_partial;
                let len =
                    4 + (usize::from(p[1]) << 16 | usize::from(p[2]) << 8 | usize::from(p[3]));
                if len > TICKET_MAX {
                    // Not a ticket we can keep: drop what we have of it.
                    self.nst_partial.clear();
                    break;
                }
                if p.len() < len {
                    break;
                }
                let mut msg = MVec::new();
                if msg.extend_from_slice(&p[..len]).is_ok() {
                    self.notify(uapi::QUIC_EVENT_NEW_SESSION_TICKET, &msg);
                    self.ticket = Some(msg);
                }
                self.nst_partial.drain_front(len);
            }
        }
    }

    /// Removes every route to this connection (close).
    pub(crate) fn unroute_all(&mut self, sk: *mut sys::sock) {
        for cid in self.routes.iter() {
            table::remove(self.net, cid, sk);
        }
        self.routes.clear();
    }

    /// Feeds every datagram queued for `sk` to the engine.
    ///
    /// # Safety
    /// `sk` is the live socket of this connection, locked by the caller.
    pub(crate) unsafe fn receive_queued(&mut self, sk: *mut sys::sock) {
        // SAFETY: per the contract.
        while let Some(mut d) = unsafe { RxDatagram::next(sk) } {
            let (from, to, ecn) = (d.from, d.to, d.ecn);
            self.conn
                .recv_datagram(now_us(), from, to, d.payload(), ecn);
        }
    }

    /// Feeds one datagram (an Initial a listener kept for `accept`).
    pub(crate) fn receive(&mut self, d: &mut RxDatagram) {
        let (from, to, ecn) = (d.from, d.to, d.ecn);
        self.conn
            .recv_datagram(now_us(), from, to, d.payload(), ecn);
    }

    /// Events, transmit, timer, wake: see the module doc.
    ///
    /// # Safety
    /// `sk` is the live socket of this connection, locked by the caller (process context).
    pub(crate) unsafe fn drive(&mut self, sk: *mut sys::sock) {
        let now = now_us();
        loop {
            let mut any = false;
            while let Some(ev) = self.conn.poll_event() {
                any = true;
                self.on_event(sk, ev);
            }
            // SAFETY: per the contract.
            let sent = unsafe { tx::flush(sk, &self.tunnel, &mut self.conn, now) };
            if !any && sent == 0 {
                break;
            }
        }
        // SAFETY: `sk` is live; its timer is ours to arm while the socket is not closed (the
        // caller holds the lock and close runs `kq_ext_kill` after taking the state).
        unsafe {
            match self.conn.poll_timeout() {
                Some(t) if !self.conn.is_drained() => sys::kq_timer_arm(sk, t),
                _ => sys::kq_timer_stop(sk),
            }
            self.account(sk);
            self.publish(sk);
            sys::kq_wake(sk);
        }
    }

    /// Adds the engine's new losses, drops and key updates to the namespace's counters and
    /// refreshes what /proc/net/quic/sockets shows of this connection.
    ///
    /// # Safety
    /// `sk` is the live socket of this connection, locked by the caller.
    unsafe fn publish(&mut self, sk: *mut sys::sock) {
        let s = self.conn.stats();
        let (lost, dropped, updates) = self.counted;
        mib(
            sk,
            sys::kq_mib_KQ_MIB_PACKETS_LOST,
            s.packets_lost.saturating_sub(lost),
        );
        mib(
            sk,
            sys::kq_mib_KQ_MIB_PACKETS_DROPPED,
            s.packets_dropped.saturating_sub(dropped),
        );
        mib(
            sk,
            sys::kq_mib_KQ_MIB_KEY_UPDATES,
            s.key_updates.saturating_sub(updates),
        );
        self.counted = (s.packets_lost, s.packets_dropped, s.key_updates);
        let mut info = sys::kq_info {
            pkts_in: s.packets_received,
            pkts_out: s.packets_sent,
            bytes_in: s.bytes_received,
            bytes_out: s.bytes_sent,
            lost: s.packets_lost,
            dropped: s.packets_dropped,
            rtt_us: s.rtt,
            cwnd: s.cwnd,
            inflight: s.bytes_in_flight,
            key_updates: s.key_updates,
            streams: u32::try_from(self.conn.streams().len()).unwrap_or(u32::MAX),
            established: u8::from(self.conn.is_handshake_complete()),
            ..Default::default()
        };
        if let Some((_, cid)) = self.conn.local_cids().next() {
            let b = cid.as_slice();
            let n = b.len().min(info.lcid.len());
            info.lcid[..n].copy_from_slice(&b[..n]);
            info.lcid_len = n as u8;
        }
        let b = self.conn.remote_cid();
        let n = b.len().min(info.rcid.len());
        info.rcid[..n].copy_from_slice(&b.as_slice()[..n]);
        info.rcid_len = n as u8;
        // SAFETY: `sk` is live; `info` is read during the call.
        unsafe { sys::kq_info_set(sk, &info) };
    }

    /// Sizes the socket's buffers from flow control and mirrors what the engine holds in them.
    /// Unless the application set them, `SO_SNDBUF` grows to twice the peer's connection window
    /// (so one window can be in flight while the next is written) and `SO_RCVBUF` to twice ours
    /// as auto-tuning grows it, each capped; the engine's send buffer is `SO_SNDBUF`, so writers
    /// block (or get EAGAIN) when unacknowledged data fills it.
    ///
    /// # Safety
    /// `sk` is the live socket of this connection, locked by the caller.
    pub(crate) unsafe fn account(&mut self, sk: *mut sys::sock) {
        let (mut snd, mut rcv) = (0i32, 0i32);
        let (mut snd_locked, mut rcv_locked) = (false, false);
        // SAFETY: `sk` is live; the out-pointers are valid locals.
        unsafe { sys::kq_sk_bufs(sk, &mut snd, &mut rcv, &mut snd_locked, &mut rcv_locked) };
        let twice = |w: u64, cap: u64| i32::try_from(w.saturating_mul(2).min(cap)).unwrap_or(0);
        let want_snd = match (snd_locked, self.conn.peer_transport_params()) {
            (false, Some(tp)) => twice(tp.initial_max_data, SNDBUF_MAX),
            _ => 0,
        };
        let want_rcv = if rcv_locked {
            0
        } else {
            twice(self.conn.streams().conn_recv_window().window(), RCVBUF_MAX)
        };
        if want_snd > snd || want_rcv > rcv {
            // SAFETY: `sk` is live and locked.
            unsafe { sys::kq_sk_grow_bufs(sk, want_snd, want_rcv) };
            snd = snd.max(want_snd);
        }
        let size = u64::try_from(snd).unwrap_or(0);
        if self.conn.streams().send_buffer() != size {
            self.conn.set_send_buffer(size);
        }
        let streams = self.conn.streams();
        // SAFETY: `sk` is live and locked.
        unsafe { sys::kq_sk_account(sk, streams.send_buffered(), streams.recv_buffered()) };
    }
}

/// Adds `n` to counter `which` of the namespace of socket `sk` (`/proc/net/quic/snmp`);
/// `KQ_MIB_MAX` counts nothing.
pub(crate) fn mib(sk: *mut sys::sock, which: sys::kq_mib, n: u64) {
    // SAFETY: callers pass a live socket; the counters live as long as its namespace.
    unsafe { sys::kq_mib_add(sys::kq_sock_net(sk), which as i32, n) };
}

/// The largest `SO_SNDBUF` flow control grows a socket to (TCP's default `tcp_wmem` maximum).
const SNDBUF_MAX: u64 = 4 << 20;
/// The largest `SO_RCVBUF` flow control grows a socket to: twice the largest connection
/// window auto-tuning reaches.
const RCVBUF_MAX: u64 = 32 << 20;
