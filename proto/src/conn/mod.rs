//! The connection engine: a sans-IO QUIC connection (RFC 9000, 9001, 9002, 9221, 9287, 9368,
//! 9369) in the style of quinn-proto.
//!
//! A [`Connection`] is fed datagrams ([`Connection::recv_datagram`]), time
//! ([`Connection::on_timeout`]) and application calls, and hands back datagrams to send
//! ([`Connection::poll_transmit`]), the next deadline ([`Connection::poll_timeout`]) and
//! [`Event`]s. TLS runs outside, exactly as the kernel exchanges it with userspace: CRYPTO bytes
//! per level ([`Connection::crypto_read`], [`Connection::crypto_write`]), raw traffic secrets
//! ([`Connection::install_secret`]), the transport parameters extension
//! ([`Connection::local_transport_params_ext`], [`Connection::set_peer_transport_params_ext`]),
//! and the end of the handshake ([`Connection::handshake_complete`]).
//!
//! What happens before a connection exists (accepting an Initial, Version Negotiation, Retry,
//! stateless resets) is in [`crate::endpoint`].
//!
//! Times are microseconds on any monotonic clock; addresses are [`core::net::SocketAddr`].
//!
//! # Driving a connection
//!
//! After every [`Connection::recv_datagram`], [`Connection::on_timeout`] or application call,
//! the owner drains [`Connection::poll_event`], sends every [`Connection::poll_transmit`]
//! datagram, and re-arms its timer with [`Connection::poll_timeout`].
//!
//! The handshake, as the socket layer relays it to the userspace TLS stack:
//! - client: [`Connection::client`]; start TLS with [`Connection::local_transport_params_ext`]
//!   (for 0-RTT also [`Connection::set_remembered_transport_params`]);
//! - server: [`crate::endpoint::handle`] accepts the first Initial, [`Connection::server`],
//!   [`Connection::recv_datagram`] of that datagram, then start TLS with
//!   [`Connection::version`] and [`Connection::local_transport_params_ext`];
//! - on [`Event::CryptoData`], [`Connection::crypto_read`] and hand the bytes to TLS;
//!   install every secret TLS derives ([`Connection::install_secret`]) before queueing the
//!   bytes it writes ([`Connection::crypto_write`]); pass the peer's transport parameters
//!   ([`Connection::set_peer_transport_params_ext`]) as soon as TLS has them (server: after
//!   the ClientHello; client: at the latest before [`Connection::handshake_complete`]); a
//!   client whose 0-RTT was refused calls [`Connection::early_data_rejected`]; a TLS failure
//!   is [`Connection::tls_error`].
//!
//! # The socket API on top
//!
//! | abi.md | engine |
//! |---|---|
//! | `QUIC_SOCKOPT_EVENT` | filter [`Event`]s in the glue (the engine reports all) |
//! | `QUIC_SOCKOPT_STREAM_OPEN` | [`Connection::stream_open`], [`Connection::stream_open_id`] |
//! | `QUIC_SOCKOPT_STREAM_RESET` | [`Connection::stream_reset`] |
//! | `QUIC_SOCKOPT_STREAM_STOP_SENDING` | [`Connection::stream_stop_sending`] |
//! | `QUIC_SOCKOPT_CONNECTION_ID` | [`Connection::connection_id_info`], [`Connection::set_connection_id`] |
//! | `QUIC_SOCKOPT_CONNECTION_CLOSE` | [`Connection::close`], [`Connection::close_info`] |
//! | `QUIC_SOCKOPT_CONNECTION_MIGRATION` | [`Connection::migrate`]; server: [`Connection::set_preferred_address`] |
//! | `QUIC_SOCKOPT_KEY_UPDATE` | [`Connection::key_update`] |
//! | `QUIC_SOCKOPT_TRANSPORT_PARAM` | [`Config::transport_params`], [`Connection::local_transport_params`], [`Connection::peer_transport_params`], [`Connection::set_remembered_transport_params`]; disable_1rtt_encryption: [`Connection::is_1rtt_unprotected`] |
//! | `QUIC_SOCKOPT_CONFIG` | [`Config`] |
//! | `QUIC_SOCKOPT_TOKEN` | client: [`Connection::set_token`]; server: [`Connection::issue_token`] |
//! | `QUIC_SOCKOPT_CRYPTO_SECRET` | [`Connection::install_secret`] |
//! | `QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` | [`Connection::local_transport_params_ext`], [`Connection::set_peer_transport_params_ext`] |
//! | `sendmsg`/`recvmsg` with `QUIC_HANDSHAKE_INFO` | [`Connection::crypto_write`], [`Connection::crypto_read`] |
//! | `sendmsg`/`recvmsg` with `QUIC_STREAM_INFO` | [`Connection::stream_write`], [`Connection::stream_read`] |
//! | `MSG_DATAGRAM` | [`Connection::datagram_send`], [`Connection::datagram_recv`] |
//!
//! | event | [`Event`] |
//! |---|---|
//! | `STREAM_UPDATE`, `STREAM_MAX_DATA`, `STREAM_MAX_STREAM` | [`Event::Stream`] |
//! | `CONNECTION_ID` | [`Event::ConnectionId`] |
//! | `CONNECTION_CLOSE` | [`Event::Closed`] |
//! | `CONNECTION_MIGRATION` | [`Event::Migration`] |
//! | `KEY_UPDATE` | [`Event::KeyUpdate`] |
//! | `NEW_TOKEN` | [`Event::NewToken`] |
//! | `NEW_SESSION_TICKET` | [`Event::CryptoData`] at [`Level::App`] |
//!
//! Routing: [`Event::LocalCidIssued`] / [`Event::LocalCidRetired`] keep the endpoint's
//! connection ID table current ([`Connection::local_cids`] lists them; the server also routes
//! [`Connection::original_dcid`] until the handshake is confirmed).

mod cids;
mod close;
pub mod config;
mod crypto_stream;
mod datagram;
mod delivery;
pub mod events;
mod frames;
mod handshake;
mod key_update;
mod keys;
mod path;
mod pmtud;
mod queue;
mod rand;
mod recv;
mod send;
mod space;
mod stats;
mod timers;
pub mod token;
pub mod version;

pub use config::{Config, Key32, VersionList};
pub use datagram::DatagramError;
pub use events::{CloseInfo, CloseSource, Event};
pub use stats::Stats;

use quic_mem::{AllocError, Box, Vec};

use crate::cid::ConnectionId;
use crate::crypto::{initial_keys, Crypto, Rng, Side, Version};
use crate::error::{Error, TransportError};
use crate::recovery::cc::{CcConfig, Controller};
use crate::recovery::ecn::EcnCodepoint;
use crate::recovery::loss::{LossConfig, LossDetector};
use crate::recovery::pacer::{Pacer, DEFAULT_BURST};
use crate::recovery::Space;
use crate::stream::{ApiError, Dir, EventKind, ReadOutcome, StreamId, Streams};
use crate::transport_params::{TransportParams, VersionInformation};

use self::cids::Cids;
use self::close::CloseState;
use self::datagram::Datagrams;
use self::handshake::Handshake;
use self::keys::Keys;
use self::path::Paths;
use self::pmtud::Pmtud;
use self::queue::Queue;
use self::rand::Drbg;
use self::recv::Undecryptable;
use self::space::{PacketSpace, SentMeta};

/// A UDP address (IPv4 or IPv6 with port).
pub type Addr = core::net::SocketAddr;

/// An encryption level, numbered as the socket ABI's `QUIC_CRYPTO_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// 1-RTT (`QUIC_CRYPTO_APP`, 0).
    App = 0,
    /// Initial (`QUIC_CRYPTO_INITIAL`, 1).
    Initial = 1,
    /// Handshake (`QUIC_CRYPTO_HANDSHAKE`, 2).
    Handshake = 2,
    /// 0-RTT (`QUIC_CRYPTO_EARLY`, 3).
    Early = 3,
}

impl Level {
    /// The level with ABI number `v`.
    pub const fn from_abi(v: u8) -> Option<Self> {
        match v {
            0 => Some(Self::App),
            1 => Some(Self::Initial),
            2 => Some(Self::Handshake),
            3 => Some(Self::Early),
            _ => None,
        }
    }

    /// The ABI number.
    pub const fn abi(self) -> u8 {
        self as u8
    }

    /// The packet number space of this level.
    pub const fn space(self) -> Space {
        match self {
            Self::Initial => Space::Initial,
            Self::Handshake => Space::Handshake,
            Self::App | Self::Early => Space::Application,
        }
    }
}

/// A datagram [`Connection::poll_transmit`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Bytes written at the start of the buffer.
    pub len: usize,
    /// Where to send it.
    pub to: Addr,
    /// The local address to send it from.
    pub from: Addr,
    /// The ECN codepoint to mark it with.
    pub ecn: EcnCodepoint,
    /// When set, the buffer holds several datagrams of this size (the last may be shorter),
    /// to be sent with UDP GSO.
    pub segment_size: Option<usize>,
}

/// What the server's endpoint learned from the client's first Initial, needed to build the
/// server side of the connection (see [`crate::endpoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The version of the client's Initial.
    pub version: u32,
    /// The Destination Connection ID of the client's Initial: Initial keys derive from it.
    pub initial_dcid: ConnectionId,
    /// The client's original Destination Connection ID (before a Retry), for the
    /// original_destination_connection_id transport parameter.
    pub original_dcid: ConnectionId,
    /// The Source Connection ID of our Retry, when the client's token came from one.
    pub retry_scid: Option<ConnectionId>,
    /// The client's Source Connection ID.
    pub client_scid: ConnectionId,
    /// The client's address was validated by a token: no anti-amplification limit.
    pub address_validated: bool,
}

/// The result of connection-level operations that can only fail by being out of memory or
/// by the connection being closed.
pub type Result<T> = core::result::Result<T, Error>;

pub(crate) fn oom(_: AllocError) -> Error {
    Error::new(TransportError::InternalError, "out of memory")
}

pub(crate) fn internal(reason: &'static str) -> Error {
    Error::new(TransportError::InternalError, reason)
}

/// A QUIC connection, client or server.
///
/// The larger parts are boxed so that the structure stays small (about 3 KiB): the kernel
/// builds it on its stack before moving it to the heap.
pub struct Connection<C: Crypto> {
    pub(crate) crypto: C,
    pub(crate) side: Side,
    pub(crate) cfg: Box<Config>,
    /// The last time we were given.
    pub(crate) now: u64,
    pub(crate) rng: Drbg,
    /// The version on the wire now.
    pub(crate) version: u32,
    pub(crate) spaces: Box<[PacketSpace; 3]>,
    pub(crate) keys: Box<Keys<C>>,
    pub(crate) loss: Box<LossDetector<SentMeta>>,
    pub(crate) cc: Box<Controller>,
    pub(crate) pacer: Pacer,
    pub(crate) streams: Box<Streams>,
    pub(crate) cids: Box<Cids>,
    pub(crate) paths: Box<Paths>,
    pub(crate) hs: Box<Handshake>,
    pub(crate) close: CloseState,
    pub(crate) events: Queue<Event>,
    pub(crate) dgram: Datagrams,
    pub(crate) pmtud: Pmtud,
    pub(crate) stats: Stats,
    pub(crate) timers: timers::Timers,
    pub(crate) undecryptable: Undecryptable,
    /// Application packets processed without being acknowledged.
    pub(crate) seen_unacked: recv::SeenUnacked,
    /// The token our Initial packets carry (client).
    pub(crate) token: Vec<u8>,
    /// A write was cut short by the send buffer: report when room opens up.
    pub(crate) write_blocked: bool,
}

impl<C: Crypto> Connection<C> {
    #[allow(clippy::too_many_arguments)]
    fn new_common<R: Rng + ?Sized>(
        crypto: C,
        side: Side,
        config: &Config,
        version: u32,
        local_cid: ConnectionId,
        local: Addr,
        peer: Addr,
        now: u64,
        rng: &mut R,
    ) -> Result<Self> {
        if !crate::packet::is_supported_version(version) {
            return Err(Error::new(
                TransportError::VersionNegotiationError,
                "unsupported version",
            ));
        }
        let tp = &config.transport_params;
        tp.validate()?;
        let mds = config
            .max_datagram_size
            .clamp(1200, tp.max_udp_payload_size.max(1200));
        let cc = Controller::new(
            config.congestion,
            CcConfig {
                max_datagram_size: mds,
                initial_window: None,
                hystart: config.hystart,
            },
        );
        let local_max_ack_delay = tp.max_ack_delay.saturating_mul(1000);
        let thr = config.ack_eliciting_threshold;
        let spaces = Box::new([
            PacketSpace::new(Space::Initial, thr, local_max_ack_delay),
            PacketSpace::new(Space::Handshake, thr, local_max_ack_delay),
            PacketSpace::new(Space::Application, thr, local_max_ack_delay),
        ])
        .map_err(oom)?;
        let stream_side = match side {
            Side::Client => crate::stream::Side::Client,
            Side::Server => crate::stream::Side::Server,
        };
        let mut streams = Streams::new(stream_side, config.streams_config());
        for kind in [EventKind::Update, EventKind::MaxData, EventKind::MaxStreams] {
            streams.set_event_enabled(kind, true);
        }
        let mut drbg = Drbg::new(rng);
        let cids = Cids::new(&crypto, config, local_cid, &mut drbg)?;
        let mut conn = Self {
            hs: Box::new(Handshake::new(side, config)).map_err(oom)?,
            crypto,
            side,
            cfg: Box::new(config.clone()).map_err(oom)?,
            now,
            rng: drbg,
            version,
            spaces,
            keys: Box::new(Keys::new()).map_err(oom)?,
            loss: Box::new(LossDetector::new(LossConfig::default(), config.initial_rtt))
                .map_err(oom)?,
            cc: Box::new(cc).map_err(oom)?,
            pacer: Pacer::new(mds, DEFAULT_BURST),
            streams: Box::new(streams).map_err(oom)?,
            cids: Box::new(cids).map_err(oom)?,
            paths: Box::new(Paths::new(local, peer, mds, side == Side::Client)).map_err(oom)?,
            close: CloseState::new(),
            events: Queue::new(),
            dgram: Datagrams::new(),
            pmtud: Pmtud::new(config, mds),
            stats: Stats::default(),
            timers: timers::Timers::default(),
            undecryptable: Undecryptable::new(),
            seen_unacked: recv::SeenUnacked::new(),
            token: Vec::new(),
            write_blocked: false,
        };
        conn.hs.original_version = version;
        conn.timers.idle_start = now;
        Ok(conn)
    }

    /// A client connection to `peer`, sending from `local`. `local_cid` is our Source
    /// Connection ID, `initial_dcid` the random Destination Connection ID of our first Initial
    /// (at least 8 bytes). Nothing is sent until TLS writes the ClientHello with
    /// [`Connection::crypto_write`].
    #[allow(clippy::too_many_arguments)]
    pub fn client<R: Rng + ?Sized>(
        crypto: C,
        config: &Config,
        local_cid: ConnectionId,
        initial_dcid: ConnectionId,
        local: Addr,
        peer: Addr,
        now: u64,
        rng: &mut R,
    ) -> Result<Self> {
        if initial_dcid.len() < 8 {
            return Err(internal(
                "initial Destination Connection ID shorter than 8 bytes",
            ));
        }
        let mut c = Self::new_common(
            crypto,
            Side::Client,
            config,
            config.version,
            local_cid,
            local,
            peer,
            now,
            rng,
        )?;
        c.hs.odcid = initial_dcid;
        c.hs.initial_dcid = initial_dcid;
        c.cids.set_initial_peer_cid(initial_dcid);
        c.build_local_tp()?;
        c.install_initial_keys()?;
        Ok(c)
    }

    /// The server side of a connection whose first Initial the endpoint accepted
    /// ([`crate::endpoint::handle`]). `local_cid` is the Source Connection ID we chose. Feed
    /// the client's datagram to [`Connection::recv_datagram`] next, then start TLS with
    /// [`Connection::version`] and [`Connection::local_transport_params_ext`] (compatible
    /// version negotiation may change the version while that first Initial is processed).
    #[allow(clippy::too_many_arguments)]
    pub fn server<R: Rng + ?Sized>(
        crypto: C,
        config: &Config,
        accepted: &Accepted,
        local_cid: ConnectionId,
        local: Addr,
        peer: Addr,
        now: u64,
        rng: &mut R,
    ) -> Result<Self> {
        let mut c = Self::new_common(
            crypto,
            Side::Server,
            config,
            accepted.version,
            local_cid,
            local,
            peer,
            now,
            rng,
        )?;
        c.hs.odcid = accepted.original_dcid;
        c.hs.initial_dcid = accepted.initial_dcid;
        c.hs.retry_scid = accepted.retry_scid;
        c.hs.peer_initial_scid = Some(accepted.client_scid);
        c.cids.set_initial_peer_cid(accepted.client_scid);
        if accepted.address_validated {
            c.paths.active.validated = true;
        }
        c.build_local_tp()?;
        c.install_initial_keys()?;
        if let Some(addr) = config.preferred_address {
            c.set_preferred_address(addr)?;
        }
        Ok(c)
    }

    /// Fills in the transport parameters the connection owns.
    fn build_local_tp(&mut self) -> Result<()> {
        let mut tp = self.cfg.transport_params;
        tp.initial_source_connection_id = Some(self.cids.local_cid(0).unwrap_or_default());
        tp.original_destination_connection_id = None;
        tp.retry_source_connection_id = None;
        tp.stateless_reset_token = None;
        tp.preferred_address = None;
        if self.side == Side::Server {
            tp.original_destination_connection_id = Some(self.hs.odcid);
            tp.retry_source_connection_id = self.hs.retry_scid;
            tp.stateless_reset_token = self.cids.local_token(0);
        }
        tp.version_information = if self.cfg.disable_compatible_version {
            None
        } else {
            VersionInformation::new(self.version, self.cfg.versions.as_slice())
        };
        tp.validate()?;
        self.hs.local_tp = tp;
        Ok(())
    }

    /// Derives the Initial keys for the current version and Initial DCID.
    pub(crate) fn install_initial_keys(&mut self) -> Result<()> {
        let v = Version::from_wire(self.version).ok_or(internal("unsupported version"))?;
        let k = initial_keys(&self.crypto, v, &self.hs.initial_dcid, self.side)
            .map_err(|_| internal("cannot derive Initial keys"))?;
        self.keys.initial = Some(k);
        Ok(())
    }

    // -------------------------------------------------------------------------------------
    // Queries
    // -------------------------------------------------------------------------------------

    /// Client or server.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The QUIC version in use (it may change once, by compatible version negotiation).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// True once [`Connection::handshake_complete`] was called.
    pub fn is_handshake_complete(&self) -> bool {
        self.hs.complete
    }

    /// True once the handshake is confirmed (RFC 9001 §4.1.2).
    pub fn is_handshake_confirmed(&self) -> bool {
        self.hs.confirmed
    }

    /// True once a packet from the peer was authenticated. A server connection made from a
    /// datagram none of whose packets authenticates (a corrupted or forged header) should be
    /// dropped by the endpoint.
    pub fn peer_authenticated(&self) -> bool {
        self.stats.packets_received > 0
    }

    /// True once the connection is closing, draining or closed.
    pub fn is_closed(&self) -> bool {
        !self.close.is_open()
    }

    /// True once nothing more will happen: the closing or draining period is over.
    pub fn is_drained(&self) -> bool {
        self.close.is_finished()
    }

    /// How the connection ended, once it did.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.close.info.as_ref()
    }

    /// Our transport parameters as advertised.
    pub fn local_transport_params(&self) -> &TransportParams {
        &self.hs.local_tp
    }

    /// The peer's transport parameters (or the remembered ones for 0-RTT).
    pub fn peer_transport_params(&self) -> Option<&TransportParams> {
        self.hs.peer_tp.as_ref()
    }

    /// Our address on the active path.
    pub fn local_addr(&self) -> Addr {
        self.paths.active.local
    }

    /// The peer's address on the active path.
    pub fn peer_addr(&self) -> Addr {
        self.paths.active.remote
    }

    /// The original Destination Connection ID of the client's first Initial (servers route
    /// it to this connection until the handshake is confirmed).
    pub fn original_dcid(&self) -> ConnectionId {
        self.hs.odcid
    }

    /// The stream layer, for stream states, limits and credit.
    pub fn streams(&self) -> &Streams {
        &self.streams
    }

    /// Resizes the send buffer shared by all streams (see [`Streams::set_send_buffer`]); a
    /// larger one lets blocked writers go on.
    pub fn set_send_buffer(&mut self, bytes: u64) {
        self.streams.set_send_buffer(bytes);
    }

    /// The key phase bit of the keys we send with.
    pub fn key_phase(&self) -> bool {
        self.keys.app.tx_phase()
    }

    /// True when both sides sent disable_1rtt_encryption: 1-RTT packets go without payload
    /// and header protection.
    pub fn is_1rtt_unprotected(&self) -> bool {
        self.hs.plain_1rtt
    }

    /// The size of the largest datagram we currently send on the active path.
    pub fn max_datagram_size(&self) -> u64 {
        self.paths.active.mtu
    }

    // -------------------------------------------------------------------------------------
    // Streams
    // -------------------------------------------------------------------------------------

    fn check_open_for_app(&self) -> core::result::Result<(), ApiError> {
        if self.close.is_open() {
            Ok(())
        } else {
            Err(ApiError::Closed)
        }
    }

    /// Opens our next stream of direction `dir` (`QUIC_SOCKOPT_STREAM_OPEN` with id -1).
    /// Fails with [`ApiError::StreamLimit`] (and queues STREAMS_BLOCKED) at the peer's limit.
    pub fn stream_open(&mut self, dir: Dir) -> core::result::Result<StreamId, ApiError> {
        self.check_open_for_app()?;
        self.streams.open(dir)
    }

    /// Opens our stream `id` and every lower one of its type (`MSG_STREAM_NEW`).
    pub fn stream_open_id(&mut self, id: StreamId) -> core::result::Result<(), ApiError> {
        self.check_open_for_app()?;
        self.streams.open_id(id)
    }

    /// Writes to a stream; see [`Streams::write`]. Returns the bytes taken (fewer than given
    /// when the send buffer is full; [`Event::StreamWritable`] follows when room opens up).
    pub fn stream_write(
        &mut self,
        id: StreamId,
        data: &[u8],
        fin: bool,
    ) -> core::result::Result<usize, ApiError> {
        self.check_open_for_app()?;
        let n = self.streams.write(id, data, fin)?;
        if n < data.len() || (data.is_empty() && !fin) {
            self.write_blocked = true;
        }
        Ok(n)
    }

    /// Reads from a stream; see [`Streams::read`].
    pub fn stream_read(
        &mut self,
        id: StreamId,
        out: &mut [u8],
    ) -> core::result::Result<ReadOutcome, ApiError> {
        self.streams.read(id, out)
    }

    /// Copies stream data into `out` without consuming it (`MSG_PEEK`).
    pub fn stream_peek(
        &self,
        id: StreamId,
        out: &mut [u8],
    ) -> core::result::Result<ReadOutcome, ApiError> {
        self.streams.peek(id, out)
    }

    /// Resets the sending part of a stream (RESET_STREAM, `QUIC_SOCKOPT_STREAM_RESET`).
    pub fn stream_reset(&mut self, id: StreamId, code: u64) -> core::result::Result<(), ApiError> {
        self.check_open_for_app()?;
        self.streams.reset(id, code)
    }

    /// Asks the peer to stop sending on a stream (STOP_SENDING,
    /// `QUIC_SOCKOPT_STREAM_STOP_SENDING`).
    pub fn stream_stop_sending(
        &mut self,
        id: StreamId,
        code: u64,
    ) -> core::result::Result<(), ApiError> {
        self.check_open_for_app()?;
        self.streams.stop_sending(id, code)
    }

    // -------------------------------------------------------------------------------------
    // Events
    // -------------------------------------------------------------------------------------

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = self.events.pop() {
            return Some(e);
        }
        if let Some(e) = self.streams.poll_event() {
            return Some(Event::Stream(e));
        }
        if let Some(id) = self.streams.pop_readable() {
            return Some(Event::StreamReadable(id));
        }
        None
    }

    pub(crate) fn emit(&mut self, e: Event) {
        // An event that cannot be queued is lost; the socket layer still sees the state.
        let _ = self.events.push(e);
    }

    /// Current statistics.
    pub fn stats(&self) -> Stats {
        self.current_stats()
    }

    /// Sends a token for a future connection (server, after the handshake;
    /// `QUIC_SOCKOPT_TOKEN` set on a server socket).
    pub fn issue_token(&mut self) -> Result<()> {
        if self.side != Side::Server {
            return Err(internal("only servers issue tokens"));
        }
        self.hs.new_token_pending = true;
        Ok(())
    }

    /// Client: the token (from a NEW_TOKEN frame of an earlier connection, or a Retry) to put
    /// in our Initial packets (`QUIC_SOCKOPT_TOKEN`). Call before the first packet is sent.
    pub fn set_token(&mut self, token: &[u8]) -> Result<()> {
        self.token.clear();
        self.token.extend_from_slice(token).map_err(oom)
    }

    pub(crate) fn space(&self, s: Space) -> &PacketSpace {
        let [i, h, a] = &*self.spaces;
        match s {
            Space::Initial => i,
            Space::Handshake => h,
            Space::Application => a,
        }
    }

    pub(crate) fn space_mut(&mut self, s: Space) -> &mut PacketSpace {
        let [i, h, a] = &mut *self.spaces;
        match s {
            Space::Initial => i,
            Space::Handshake => h,
            Space::Application => a,
        }
    }
}

impl<C: Crypto> core::fmt::Debug for Connection<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("version", &self.version)
            .field("complete", &self.hs.complete)
            .field("confirmed", &self.hs.confirmed)
            .field("close", &self.close)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
