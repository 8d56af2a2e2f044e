//! The handshake as the engine sees it (RFC 9001 §4): TLS bytes in and out per level, key
//! installation, transport parameters, key discard, completion and confirmation.

use crate::cid::ConnectionId;
use crate::crypto::{CipherSuite, Crypto, DirectionalKeys, Side, Version};
use crate::error::{Error, TransportError};
use crate::recovery::loss::{Fate, PathState};
use crate::recovery::Space;
use crate::stream::PeerLimits;
use crate::transport_params::TransportParams;

use super::events::{CloseSource, Event};
use super::{internal, oom, Config, Connection, Level, Result};

/// 0-RTT as seen by this endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EarlyData {
    /// Not attempted (no early secret installed).
    None,
    /// Client: 0-RTT keys installed and data may be sent. Server: accepted.
    Active,
    /// Client: the server rejected 0-RTT.
    Rejected,
}

/// Handshake progress and the identifiers the transport parameters are checked against.
#[derive(Debug)]
pub(crate) struct Handshake {
    pub(crate) local_tp: TransportParams,
    pub(crate) peer_tp: Option<TransportParams>,
    /// Both sides sent disable_1rtt_encryption: 1-RTT packets carry neither payload nor
    /// header protection (lxin/quic's testing extension, for trusted paths only).
    pub(crate) plain_1rtt: bool,
    /// `peer_tp` came from this handshake (not remembered from an earlier connection).
    pub(crate) peer_tp_final: bool,
    /// Client: the DCID of our very first Initial. Server: the client's (before any Retry).
    pub(crate) odcid: ConnectionId,
    /// The DCID the Initial keys are derived from.
    pub(crate) initial_dcid: ConnectionId,
    /// The Source Connection ID of the Retry (server: ours; client: the server's).
    pub(crate) retry_scid: Option<ConnectionId>,
    /// The Source Connection ID of the peer's first Initial.
    pub(crate) peer_initial_scid: Option<ConnectionId>,
    /// The version of the client's first Initial.
    pub(crate) original_version: u32,
    /// Server: compatible version negotiation was decided (switched or not).
    pub(crate) version_decided: bool,
    pub(crate) complete: bool,
    pub(crate) confirmed: bool,
    /// Server: HANDSHAKE_DONE to send.
    pub(crate) done_pending: bool,
    /// Server: NEW_TOKEN to send.
    pub(crate) new_token_pending: bool,
    /// Client: a packet from the server was processed (no more Retry or VN accepted).
    pub(crate) heard_from_peer: bool,
    /// Client: a Retry was processed.
    pub(crate) retried: bool,
    /// Client: an ACK of a Handshake packet arrived (the server validated our address).
    pub(crate) handshake_acked: bool,
    /// Client: HANDSHAKE_DONE arrived before TLS reported completion.
    pub(crate) done_received: bool,
    /// Client: the server's preferred address (of our family), to move to once confirmed.
    pub(crate) preferred: Option<super::Addr>,
    pub(crate) early: EarlyData,
}

impl Handshake {
    pub(crate) fn new(_side: Side, config: &Config) -> Self {
        Self {
            local_tp: config.transport_params,
            peer_tp: None,
            plain_1rtt: false,
            peer_tp_final: false,
            odcid: ConnectionId::EMPTY,
            initial_dcid: ConnectionId::EMPTY,
            retry_scid: None,
            peer_initial_scid: None,
            original_version: config.version,
            version_decided: false,
            complete: false,
            confirmed: false,
            done_pending: false,
            new_token_pending: false,
            heard_from_peer: false,
            retried: false,
            handshake_acked: false,
            done_received: false,
            preferred: None,
            early: EarlyData::None,
        }
    }
}

fn tp_error(reason: &'static str) -> Error {
    Error::transport_parameter(reason)
}

impl<C: Crypto> Connection<C> {
    /// Copies in-order CRYPTO bytes received at `level` into `buf` for the TLS stack and
    /// returns how many (0 when none are waiting).
    pub fn crypto_read(&mut self, level: Level, buf: &mut [u8]) -> usize {
        if level == Level::Early {
            return 0;
        }
        self.space_mut(level.space()).crypto.read(buf)
    }

    /// Copies the received TLS bytes of `level` into `buf` without consuming them.
    pub fn crypto_peek(&self, level: Level, buf: &mut [u8]) -> usize {
        if level == Level::Early {
            return 0;
        }
        self.space(level.space()).crypto.peek(buf)
    }

    /// Queues TLS bytes to send in CRYPTO frames at `level` (Initial, Handshake, or App for
    /// post-handshake messages such as NewSessionTicket).
    pub fn crypto_write(&mut self, level: Level, data: &[u8]) -> Result<()> {
        if level == Level::Early {
            return Err(internal("no CRYPTO frames at the 0-RTT level"));
        }
        if !self.close.is_open() {
            return Err(internal("connection closed"));
        }
        let space = level.space();
        if self.space(space).discarded {
            return Err(internal("keys of that level were discarded"));
        }
        let r = self.space_mut(space).crypto.write(data);
        if let Err(e) = r {
            self.close_on_error(e);
        }
        r
    }

    /// Installs a traffic secret from TLS (`QUIC_SOCKOPT_CRYPTO_SECRET`): `cipher` is the
    /// kernel's `TLS_CIPHER_*` number.
    pub fn install_secret(
        &mut self,
        level: Level,
        send: bool,
        cipher: u32,
        secret: &[u8],
    ) -> Result<()> {
        let suite = u16::try_from(cipher)
            .ok()
            .and_then(CipherSuite::from_tls_cipher)
            .ok_or(internal("unknown cipher type"))?;
        self.install_secret_suite(level, send, suite, secret)
    }

    /// [`Connection::install_secret`] with the suite given as a [`CipherSuite`].
    pub fn install_secret_suite(
        &mut self,
        level: Level,
        send: bool,
        suite: CipherSuite,
        secret: &[u8],
    ) -> Result<()> {
        if !self.close.is_open() {
            return Err(internal("connection closed"));
        }
        // 0-RTT keys use the version the client started with (RFC 9368 §4).
        let wire = if level == Level::Early {
            self.hs.original_version
        } else {
            self.version
        };
        let version = Version::from_wire(wire).ok_or(internal("unsupported version"))?;
        let keys = DirectionalKeys::new(&self.crypto, suite, version, secret)
            .map_err(|_| internal("bad traffic secret"))?;
        self.keys.integrity.set_suite(suite);
        match (level, send) {
            (Level::Initial, _) => return Err(internal("Initial keys are derived, not installed")),
            (Level::Handshake, true) => self.keys.handshake_tx = Some(keys),
            (Level::Handshake, false) => self.keys.handshake_rx = Some(keys),
            (Level::Early, true) => {
                if self.side != Side::Client || self.keys.app.tx.is_some() {
                    return Err(internal("unexpected 0-RTT send secret"));
                }
                self.keys.early_tx = Some(keys);
                self.hs.early = EarlyData::Active;
            }
            (Level::Early, false) => {
                if self.side != Side::Server {
                    return Err(internal("unexpected 0-RTT receive secret"));
                }
                self.keys.early_rx = Some(keys);
                self.hs.early = EarlyData::Active;
            }
            (Level::App, true) => {
                self.keys.app.install_tx(keys);
                if self.side == Side::Client {
                    self.keys.early_tx = None;
                }
            }
            (Level::App, false) => self
                .keys
                .app
                .install_rx(&self.crypto, keys)
                .map_err(|_| internal("key update derivation failed"))?,
        }
        if !send {
            self.process_undecryptable();
        }
        Ok(())
    }

    /// Writes the body of our quic_transport_parameters TLS extension (0x39) into `out` and
    /// returns its length (`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` get).
    pub fn local_transport_params_ext(&self, out: &mut [u8]) -> Result<usize> {
        let mut w = crate::codec::Writer::new(out);
        self.hs
            .local_tp
            .encode(&mut w, self.side)
            .map_err(|_| internal("transport parameters do not fit"))?;
        Ok(w.position())
    }

    /// Takes the peer's quic_transport_parameters extension body from TLS
    /// (`QUIC_SOCKOPT_TRANSPORT_PARAM_EXT` set). Invalid parameters close the connection with
    /// TRANSPORT_PARAMETER_ERROR (or VERSION_NEGOTIATION_ERROR) and return the error.
    pub fn set_peer_transport_params_ext(&mut self, ext: &[u8]) -> Result<()> {
        let peer = match self.side {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        };
        let r = TransportParams::decode(ext, peer).and_then(|tp| {
            self.check_peer_tp(&tp)?;
            self.apply_peer_tp(&tp, false)
        });
        if let Err(e) = r {
            self.close_on_error(e);
        }
        r
    }

    /// Client: transport parameters remembered from an earlier connection, for 0-RTT
    /// (`QUIC_SOCKOPT_TRANSPORT_PARAM` with `remote` set). Only the limits RFC 9000 §7.4.1
    /// allows to be remembered are used.
    pub fn set_remembered_transport_params(&mut self, tp: &TransportParams) -> Result<()> {
        if self.side != Side::Client || self.hs.peer_tp_final {
            return Err(internal(
                "remembered parameters are for a client before the handshake",
            ));
        }
        tp.validate()?;
        let kept = TransportParams {
            active_connection_id_limit: tp.active_connection_id_limit,
            initial_max_data: tp.initial_max_data,
            initial_max_stream_data_bidi_local: tp.initial_max_stream_data_bidi_local,
            initial_max_stream_data_bidi_remote: tp.initial_max_stream_data_bidi_remote,
            initial_max_stream_data_uni: tp.initial_max_stream_data_uni,
            initial_max_streams_bidi: tp.initial_max_streams_bidi,
            initial_max_streams_uni: tp.initial_max_streams_uni,
            max_datagram_frame_size: tp.max_datagram_frame_size,
            ..TransportParams::default()
        };
        self.apply_peer_tp(&kept, true)
    }

    /// [`Connection::set_remembered_transport_params`] from an extension body (as rustls
    /// reports the remembered parameters).
    pub fn set_remembered_transport_params_ext(&mut self, ext: &[u8]) -> Result<()> {
        let tp = TransportParams::decode(ext, Side::Server)?;
        self.set_remembered_transport_params(&tp)
    }

    /// RFC 9000 §7.3 (connection IDs) and RFC 9368 §4 (version_information) checks.
    fn check_peer_tp(&self, tp: &TransportParams) -> Result<()> {
        if self.hs.peer_tp_final {
            return Err(tp_error("transport parameters set twice"));
        }
        if tp.initial_source_connection_id != self.hs.peer_initial_scid {
            return Err(tp_error("initial_source_connection_id mismatch"));
        }
        let vn = |r| Error::new(TransportError::VersionNegotiationError, r);
        match self.side {
            Side::Client => {
                if tp.original_destination_connection_id != Some(self.hs.odcid) {
                    return Err(tp_error("original_destination_connection_id mismatch"));
                }
                if tp.retry_source_connection_id != self.hs.retry_scid {
                    return Err(tp_error("retry_source_connection_id mismatch"));
                }
                match tp.version_information {
                    Some(vi) if vi.chosen != self.version => {
                        return Err(vn("server chose another version"));
                    }
                    None if self.version != self.hs.original_version => {
                        return Err(vn("version changed without version_information"));
                    }
                    _ => {}
                }
            }
            Side::Server => {
                if let Some(vi) = tp.version_information {
                    if vi.chosen != self.hs.original_version {
                        return Err(vn("client's chosen version does not match its Initial"));
                    }
                }
            }
        }
        Ok(())
    }

    fn apply_peer_tp(&mut self, tp: &TransportParams, remembered: bool) -> Result<()> {
        self.streams
            .set_peer_limits(&PeerLimits {
                max_streams_bidi: tp.initial_max_streams_bidi,
                max_streams_uni: tp.initial_max_streams_uni,
                max_data: tp.initial_max_data,
                max_stream_data_bidi_local: tp.initial_max_stream_data_bidi_local,
                max_stream_data_bidi_remote: tp.initial_max_stream_data_bidi_remote,
                max_stream_data_uni: tp.initial_max_stream_data_uni,
            })
            .map_err(|e| e.into_error(0))?;
        self.dgram.peer_max_frame_size = tp.max_datagram_frame_size;
        if !remembered {
            self.loss
                .rtt_mut()
                .set_max_ack_delay(tp.max_ack_delay.saturating_mul(1000));
            self.cids
                .set_peer_limit(tp.active_connection_id_limit, self.cfg.max_local_cids);
            if let Some(token) = tp.stateless_reset_token {
                self.cids.set_peer_token(0, token);
            }
            if let Some(pa) = tp.preferred_address.filter(|_| self.side == Side::Client) {
                self.cids.add_peer_cid(1, pa.cid, pa.reset_token)?;
                self.hs.preferred = super::path::preferred_for(&pa, self.paths.active.remote);
            }
            self.paths.set_peer_max_udp_payload(tp.max_udp_payload_size);
            self.pmtud.set_peer_max(tp.max_udp_payload_size);
            self.hs.plain_1rtt =
                self.hs.local_tp.disable_1rtt_encryption && tp.disable_1rtt_encryption;
            self.hs.peer_tp_final = true;
        }
        self.hs.peer_tp = Some(*tp);
        Ok(())
    }

    /// TLS finished the handshake (`handshake_complete` of the kernel glue): the server
    /// confirms at once and sends HANDSHAKE_DONE; the client waits for it.
    pub fn handshake_complete(&mut self) -> Result<()> {
        if self.hs.complete {
            return Ok(());
        }
        if !self.close.is_open() {
            return Err(internal("connection closed"));
        }
        if !self.hs.peer_tp_final {
            let e = tp_error("missing transport parameters");
            self.close_on_error(e);
            return Err(e);
        }
        if !self.keys.has_1rtt_tx() || self.keys.app.rx.is_none() {
            return Err(internal("1-RTT keys not installed"));
        }
        self.hs.complete = true;
        if self.side == Side::Server {
            self.hs.done_pending = true;
            self.confirm_handshake();
            // 1-RTT packets that waited for the end of the handshake can be read now.
            self.process_undecryptable();
        } else if self.hs.done_received {
            self.confirm_handshake();
        }
        self.rearm_loss_timer();
        Ok(())
    }

    /// Client: TLS reports that the server rejected 0-RTT. Everything sent in 0-RTT is sent
    /// again in 1-RTT packets.
    pub fn early_data_rejected(&mut self) -> Result<()> {
        if self.side != Side::Client {
            return Err(internal("only clients learn of 0-RTT rejection"));
        }
        self.keys.early_tx = None;
        if self.hs.early == EarlyData::Active {
            self.hs.early = EarlyData::Rejected;
            self.requeue_zero_rtt()?;
        }
        Ok(())
    }

    /// True when the client sent 0-RTT data that was neither accepted nor rejected yet, or
    /// the server accepted 0-RTT.
    pub fn early_data_active(&self) -> bool {
        self.hs.early == EarlyData::Active
    }

    /// The TLS stack failed with `alert`: closes with CRYPTO_ERROR (0x100 + alert).
    pub fn tls_error(&mut self, alert: u8) {
        self.close_on_error(Error::new(
            TransportError::Crypto(alert),
            "TLS handshake failed",
        ));
    }

    pub(crate) fn confirm_handshake(&mut self) {
        if self.hs.confirmed {
            return;
        }
        self.hs.confirmed = true;
        self.discard_space(Space::Handshake);
        if self.side == Side::Server {
            self.keys.early_rx = None;
            if self.cfg.new_token_on_confirm {
                self.hs.new_token_pending = true;
            }
        }
        self.paths.active.validated = true;
        if let Err(e) = self.issue_cids() {
            self.close_on_error(e);
            return;
        }
        self.pmtud.on_confirmed(self.now);
        if let Some(addr) = self.hs.preferred.take() {
            self.migrate_to_preferred(addr);
        }
        self.emit(Event::HandshakeConfirmed);
        self.rearm_loss_timer();
    }

    /// Drops the keys and state of `space` (Initial or Handshake).
    pub(crate) fn discard_space(&mut self, space: Space) {
        if self.space(space).discarded {
            return;
        }
        match space {
            Space::Initial => {
                self.keys.initial = None;
                self.keys.initial_old_rx = None;
            }
            Space::Handshake => {
                self.keys.handshake_tx = None;
                self.keys.handshake_rx = None;
            }
            Space::Application => return,
        }
        let sp = self.space_mut(space);
        sp.discarded = true;
        sp.probes = 0;
        sp.ping = false;
        self.undecryptable.drop_space(space);
        self.drop_loss_space(space, false);
    }

    /// Empties `space` in loss recovery; with `requeue`, what the packets carried is sent
    /// again (Retry, rejected 0-RTT).
    pub(crate) fn drop_loss_space(&mut self, space: Space, requeue: bool) {
        let path = self.path_state();
        let mut handed = quic_mem::Vec::new();
        let mut failed = false;
        let now = self.now;
        self.loss
            .discard_space(space, now, &path, &mut *self.cc, |s, _fate, p| {
                if handed.push((s, p)).is_err() {
                    failed = true;
                }
            });
        if failed {
            self.close_on_error(oom(quic_mem::AllocError));
            return;
        }
        if requeue {
            for (s, p) in handed.iter_mut() {
                let frames = core::mem::take(&mut p.meta.frames);
                if let Err(e) = self.on_frames_fate(*s, Fate::Lost, &frames, p.pn) {
                    self.close_on_error(e);
                    return;
                }
            }
        }
    }

    /// Client after a rejected 0-RTT: the 0-RTT packets are forgotten and their data sent
    /// again. Only 0-RTT packets can be in the application space before 1-RTT keys exist.
    fn requeue_zero_rtt(&mut self) -> Result<()> {
        if self.keys.has_1rtt_tx() && self.space(Space::Application).next_pn > 0 {
            // 1-RTT packets were already sent: loss detection will find the 0-RTT ones lost.
            return Ok(());
        }
        self.drop_loss_space(Space::Application, true);
        Ok(())
    }

    /// The loss detector's view of the connection.
    pub(crate) fn path_state(&self) -> PathState {
        let validated = match self.side {
            Side::Server => true,
            Side::Client => self.hs.handshake_acked || self.hs.confirmed,
        };
        PathState {
            handshake_confirmed: self.hs.confirmed,
            has_handshake_keys: self.keys.handshake_tx.is_some(),
            peer_completed_address_validation: validated,
            at_amplification_limit: self.side == Side::Server
                && self.paths.active.amplification_allowance() == 0,
        }
    }

    pub(crate) fn rearm_loss_timer(&mut self) {
        let path = self.path_state();
        let now = self.now;
        self.loss.arm_timer(now, &path);
    }

    /// Closes the connection because of a protocol error we detected.
    pub(crate) fn close_on_error(&mut self, e: Error) {
        self.close_with(
            CloseSource::Local,
            false,
            e.code.code(),
            e.frame_type,
            e.reason.as_bytes(),
        );
    }
}
