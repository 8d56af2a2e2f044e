//! Processing the frames of a received packet (RFC 9000 §19): each frame is routed to the
//! part of the engine it concerns, and every rule a frame can break is reported with its
//! transport error code.

use crate::cid::ConnectionId;
use crate::crypto::{Crypto, Side};
use crate::error::{Error, TransportError};
use crate::frame::{Dir as FrameDir, Frame, FrameType, PacketSummary};
use crate::recovery::Space;
use crate::stream::{Delivery, Dir, StreamError, StreamId};

use super::events::{CloseSource, Event};
use super::version;
use super::{Addr, Connection, Result};

/// The packet a frame came in.
#[derive(Debug)]
pub(crate) struct FrameCtx {
    pub(crate) space: Space,
    pub(crate) local: Addr,
    pub(crate) remote: Addr,
    pub(crate) dcid: ConnectionId,
    pub(crate) summary: PacketSummary,
    /// A STREAM frame could not be stored: the packet must not be acknowledged.
    pub(crate) dont_ack: bool,
    /// A 1-RTT packet protected with older keys than our current send keys.
    pub(crate) old_keys: bool,
}

fn dir(d: FrameDir) -> Dir {
    match d {
        FrameDir::Bidi => Dir::Bidi,
        FrameDir::Uni => Dir::Uni,
    }
}

fn stream_err(e: StreamError, ty: u64) -> Error {
    e.into_error(ty)
}

fn violation(ty: FrameType, reason: &'static str) -> Error {
    Error::frame(TransportError::ProtocolViolation, ty.0, reason)
}

impl<C: Crypto> Connection<C> {
    pub(crate) fn on_frame(&mut self, ctx: &mut FrameCtx, frame: Frame<'_>) -> Result<()> {
        let ty = frame.frame_type();
        ctx.summary.add(ty);
        match frame {
            Frame::Padding(_) | Frame::Ping => {}
            Frame::Ack(ack) => {
                if ctx.old_keys {
                    self.keys.app.check_ack_in_old_phase(ack.largest)?;
                }
                self.on_ack_frame(ctx.space, &ack)?
            }
            Frame::Crypto(c) => {
                let space = ctx.space;
                if self.side == Side::Server
                    && space == Space::Initial
                    && !self.hs.version_decided
                    && c.offset == 0
                {
                    self.decide_version(c.data)?;
                }
                let readable = self.space_mut(space).crypto.on_frame(c.offset, c.data)?;
                if readable {
                    let level = match space {
                        Space::Initial => super::Level::Initial,
                        Space::Handshake => super::Level::Handshake,
                        Space::Application => super::Level::App,
                    };
                    if !self.events.iter().any(|e| *e == Event::CryptoData(level)) {
                        self.emit(Event::CryptoData(level));
                    }
                }
            }
            Frame::NewToken(token) => {
                if self.side == Side::Server {
                    return Err(violation(
                        FrameType::NEW_TOKEN,
                        "NEW_TOKEN sent by a client",
                    ));
                }
                let mut v = quic_mem::Vec::new();
                if v.extend_from_slice(token).is_ok() {
                    self.emit(Event::NewToken(v));
                }
            }
            Frame::Stream(s) => {
                let t = ty.0;
                let id = StreamId::new(s.id);
                match self
                    .streams
                    .on_stream_frame(id, s.offset, s.data, s.fin)
                    .map_err(|e| stream_err(e, t))?
                {
                    Delivery::Accepted => {}
                    Delivery::Dropped => ctx.dont_ack = true,
                }
            }
            Frame::ResetStream(r) => self
                .streams
                .on_reset_stream(StreamId::new(r.stream_id), r.error_code, r.final_size)
                .map_err(|e| stream_err(e, ty.0))?,
            Frame::StopSending(s) => self
                .streams
                .on_stop_sending(StreamId::new(s.stream_id), s.error_code)
                .map_err(|e| stream_err(e, ty.0))?,
            Frame::MaxData(max) => {
                self.streams
                    .on_max_data(max)
                    .map_err(|e| stream_err(e, ty.0))?;
                self.maybe_writable();
            }
            Frame::MaxStreamData { stream_id, max } => {
                self.streams
                    .on_max_stream_data(StreamId::new(stream_id), max)
                    .map_err(|e| stream_err(e, ty.0))?;
                self.maybe_writable();
            }
            Frame::MaxStreams { dir: d, max } => self
                .streams
                .on_max_streams(dir(d), max)
                .map_err(|e| stream_err(e, ty.0))?,
            Frame::DataBlocked(limit) => self.streams.on_data_blocked(limit),
            Frame::StreamDataBlocked { stream_id, limit } => self
                .streams
                .on_stream_data_blocked(StreamId::new(stream_id), limit)
                .map_err(|e| stream_err(e, ty.0))?,
            Frame::StreamsBlocked { dir: d, limit } => self
                .streams
                .on_streams_blocked(dir(d), limit)
                .map_err(|e| stream_err(e, ty.0))?,
            Frame::NewConnectionId(f) => {
                if self.cids.on_new_cid(&f)? {
                    let (a, p) = self.cids.peer_info();
                    self.emit(Event::ConnectionId {
                        dest: true,
                        active: a,
                        prior_to: p,
                    });
                }
            }
            Frame::RetireConnectionId(seq) => {
                let dcid = ctx.dcid;
                self.on_retire_cid_frame(seq, &dcid)?;
            }
            Frame::PathChallenge(data) => self.on_path_challenge(ctx.local, ctx.remote, data),
            Frame::PathResponse(data) => self.on_path_response(data),
            Frame::ConnectionClose(c) => {
                let app = c.frame_type.is_none();
                self.close_with(
                    CloseSource::Peer,
                    app,
                    c.error_code,
                    c.frame_type.unwrap_or(0),
                    c.reason,
                );
            }
            Frame::HandshakeDone => {
                if self.side == Side::Server {
                    return Err(violation(
                        FrameType::HANDSHAKE_DONE,
                        "HANDSHAKE_DONE sent by a client",
                    ));
                }
                // Confirmation needs our own completion too (the TLS stack may lag behind).
                self.hs.done_received = true;
                if self.hs.complete {
                    self.confirm_handshake();
                }
            }
            Frame::Datagram(d) => {
                let len = frame.encoded_len();
                self.on_datagram_frame(d.data, len)?;
            }
        }
        Ok(())
    }

    /// Server, first Initial: compatible version negotiation (RFC 9368 §2.3).
    fn decide_version(&mut self, client_hello: &[u8]) -> Result<()> {
        self.hs.version_decided = true;
        if self.cfg.disable_compatible_version {
            return Ok(());
        }
        let Some(vi) = version::client_hello_version_info(client_hello) else {
            return Ok(());
        };
        let Some(v) = version::choose(self.cfg.versions.as_slice(), self.version, &vi) else {
            return Ok(());
        };
        let old_rx = self.keys.initial.take().map(|k| k.remote);
        self.version = v;
        self.install_initial_keys()?;
        self.keys.initial_old_rx = old_rx;
        // The version_information we send names the new version.
        if let Some(info) =
            crate::transport_params::VersionInformation::new(v, self.cfg.versions.as_slice())
        {
            self.hs.local_tp.version_information = Some(info);
        }
        Ok(())
    }

    /// Flow control or the send buffer may have opened up: tell a blocked writer.
    pub(crate) fn maybe_writable(&mut self) {
        if self.write_blocked && self.streams.send_buffer_available() > 0 {
            self.write_blocked = false;
            self.emit(Event::StreamWritable);
        }
    }
}
