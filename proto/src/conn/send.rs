//! Sending: [`Connection::poll_transmit`] builds one datagram at a time. Long header packets
//! of the Initial and Handshake spaces are coalesced with the application packet that
//! follows; datagrams carrying an Initial (and path validation probes) are padded to 1200
//! bytes; what each packet carries is chosen under the congestion window, the pacer and the
//! anti-amplification limit, and recorded for loss recovery.

use crate::cid::{ConnectionId, MAX_CID_LEN};
use crate::codec::Writer;
use crate::crypto::{Crypto, Side, TAG_LEN};
use crate::error::{Error, TransportError};
use crate::frame::{
    write_ack, ConnectionClose, Crypto as CryptoFrame, Datagram, Dir as FrameDir, EcnCounts, Frame,
    ResetStream, StopSending, Stream as StreamFrame,
};
use crate::packet::{
    number, write_long, write_short, HeaderLayout, LongHeader, LongType, PacketType, ShortHeader,
};
use crate::recovery::cc::CongestionControl;
use crate::recovery::ecn::EcnCodepoint;
use crate::recovery::sent::SentPacket;
use crate::recovery::Space;
use crate::stream::{ControlFrame, Dir};

use super::space::{SentFrame, SentMeta};
use super::token;
use super::{internal, oom, Connection, Result, Transmit};

/// Smallest datagram a client Initial (and a path probe) is padded to (RFC 9000 §14.1, §8.2).
const MIN_INITIAL_SIZE: usize = 1200;
/// Room below which no packet is attempted.
const MIN_PACKET_ROOM: usize = 48;

/// What a packet is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Regular data; ack-eliciting frames only when `allow_ae`.
    Normal { allow_ae: bool },
    /// CONNECTION_CLOSE only.
    Close,
    /// A DPLPMTUD probe.
    PmtuProbe,
    /// PATH_CHALLENGE / PATH_RESPONSE on the probing path.
    PathProbe,
}

/// A datagram [`Connection::build_datagram`] wrote.
#[derive(Debug, Clone, Copy)]
struct Datagram1 {
    /// Its length.
    len: usize,
    /// The size it was allowed to take.
    limit: usize,
    /// Only 1-RTT packets, not padded: may be batched for GSO.
    short_only: bool,
}

/// A packet written into the datagram buffer but not yet protected.
#[derive(Debug)]
struct Built {
    space: Space,
    ptype: PacketType,
    start: usize,
    layout: HeaderLayout,
    pn: u64,
    /// End of the frames (absolute offset); the tag follows.
    payload_end: usize,
    /// Length of the AEAD tag: 0 for unprotected 1-RTT packets (disable_1rtt_encryption).
    tag_len: usize,
    ack_eliciting: bool,
    in_flight: bool,
    /// Carries PATH_CHALLENGE or PATH_RESPONSE: pad the datagram.
    path_frames: bool,
    meta: SentMeta,
}

impl Built {
    /// End of the packet (absolute offset), after its tag.
    fn end(&self) -> usize {
        self.payload_end + self.tag_len
    }
}

fn frame_dir(d: Dir) -> FrameDir {
    match d {
        Dir::Bidi => FrameDir::Bidi,
        Dir::Uni => FrameDir::Uni,
    }
}

fn control_to_frame(c: &ControlFrame) -> Frame<'static> {
    match *c {
        ControlFrame::MaxData(x) => Frame::MaxData(x),
        ControlFrame::DataBlocked(x) => Frame::DataBlocked(x),
        ControlFrame::MaxStreams { dir, max } => Frame::MaxStreams {
            dir: frame_dir(dir),
            max,
        },
        ControlFrame::StreamsBlocked { dir, limit } => Frame::StreamsBlocked {
            dir: frame_dir(dir),
            limit,
        },
        ControlFrame::MaxStreamData { id, max } => Frame::MaxStreamData {
            stream_id: id.raw(),
            max,
        },
        ControlFrame::StreamDataBlocked { id, limit } => Frame::StreamDataBlocked {
            stream_id: id.raw(),
            limit,
        },
        ControlFrame::ResetStream {
            id,
            code,
            final_size,
        } => Frame::ResetStream(ResetStream {
            stream_id: id.raw(),
            error_code: code,
            final_size,
        }),
        ControlFrame::StopSending { id, code } => Frame::StopSending(StopSending {
            stream_id: id.raw(),
            error_code: code,
        }),
    }
}

impl<C: Crypto> Connection<C> {
    /// Writes the next datagram to send into `out` (at least 1200 bytes; more lets larger
    /// datagrams out once DPLPMTUD raised the size) and says where it goes; `None` when
    /// nothing is due now (see [`Connection::poll_timeout`]).
    pub fn poll_transmit(&mut self, now: u64, out: &mut [u8]) -> Option<Transmit> {
        self.now = now.max(self.now);
        if self.close.is_open() {
            match self.transmit(out) {
                Ok(t) => return t,
                Err(e) => self.close_on_error(e),
            }
        }
        if self.close.is_closing() && self.close.send_pending {
            self.close.send_pending = false;
            return self.send_close(out).unwrap_or(None);
        }
        None
    }

    fn transmit(&mut self, out: &mut [u8]) -> Result<Option<Transmit>> {
        if self.keys.app.needs_update() && self.keys.app.can_initiate() {
            self.keys
                .app
                .initiate(&self.crypto)
                .map_err(|_| internal("key update failed"))?;
        }
        if let Some(t) = self.send_path_probe(out)? {
            return Ok(Some(t));
        }
        if let Some(t) = self.send_pmtu_probe(out)? {
            return Ok(Some(t));
        }
        self.send_datagram(out)
    }

    /// The packet type for the application space now, if we can send in it.
    fn app_packet_type(&self) -> Option<PacketType> {
        let one_rtt = self.keys.has_1rtt_tx() && (self.side == Side::Server || self.hs.complete);
        if one_rtt {
            Some(PacketType::OneRtt)
        } else if self.keys.early_tx.is_some() && !self.keys.has_1rtt_tx() {
            Some(PacketType::ZeroRtt)
        } else {
            None
        }
    }

    fn packet_type(&self, space: Space) -> Option<PacketType> {
        if self.space(space).discarded || !self.keys.can_send(space) {
            return None;
        }
        match space {
            Space::Initial => Some(PacketType::Initial),
            Space::Handshake => Some(PacketType::Handshake),
            Space::Application => self.app_packet_type(),
        }
    }

    /// True when an ACK frame can be sent in `space` now: a packet type that carries one, and
    /// room for such a packet within the anti-amplification limit (else the ACK deadline
    /// would be a timer nothing can act on).
    pub(crate) fn can_send_ack(&self, space: Space) -> bool {
        let room = match self.packet_type(space) {
            Some(PacketType::ZeroRtt) | None => return false,
            Some(PacketType::OneRtt) => 1 + MAX_CID_LEN + 4,
            Some(PacketType::Initial | PacketType::Handshake) => {
                // Long header at its largest; only a client's Initial carries a token.
                let token = if space == Space::Initial && self.side == Side::Client {
                    9 + self.token.len()
                } else {
                    1
                };
                7 + 2 * MAX_CID_LEN + token + 4 + 4
            }
        };
        // An ACK with one range and ECN counts, all numbers at their largest, then the tag.
        let room = room + (1 + 8 + 8 + 1 + 8 + 3 * 8) + TAG_LEN;
        self.paths.active.amplification_allowance() >= room.max(MIN_PACKET_ROOM) as u64
    }

    fn ack_due(&self, space: Space) -> bool {
        let r = &self.space(space).received;
        r.has_pending() && (r.ack_now() || r.ack_deadline().is_some_and(|d| d <= self.now))
    }

    fn has_work(&self, space: Space, ptype: PacketType, allow_ae: bool) -> bool {
        if ptype != PacketType::ZeroRtt && self.ack_due(space) {
            return true;
        }
        if !allow_ae {
            return false;
        }
        let sp = self.space(space);
        if sp.probes > 0 || sp.ping {
            return true;
        }
        match space {
            Space::Initial | Space::Handshake => sp.crypto.has_data(),
            Space::Application => {
                let one_rtt_only = ptype == PacketType::OneRtt
                    && (self.paths.active.has_probe_frames()
                        || self.hs.done_pending
                        || sp.crypto.has_data()
                        || self.cids.next_new_cid().is_some()
                        || self.cids.next_retire().is_some()
                        || (self.hs.new_token_pending && self.hs.confirmed));
                one_rtt_only
                    || self.streams.has_control()
                    || !self.dgram.send.is_empty()
                    || (self.streams.has_stream_data() && !self.nagle_holds(ptype))
            }
        }
    }

    /// Nagle's rule (unless [`Config::stream_data_nodelay`](super::Config)): new 1-RTT
    /// stream data smaller than a full packet waits while ack-eliciting 1-RTT packets are in
    /// flight; their acknowledgment (or loss) releases it. 0-RTT data never waits.
    fn nagle_holds(&self, ptype: PacketType) -> bool {
        if self.cfg.stream_data_nodelay
            || ptype != PacketType::OneRtt
            || self.loss.sent(Space::Application).ack_eliciting_in_flight() == 0
        {
            return false;
        }
        // A full packet's payload: the datagram less the short header, the tag and a STREAM
        // frame header at their largest.
        let full = self.paths.active.mtu.saturating_sub(1 + 20 + 4 + 16 + 25);
        !self.streams.stream_data_worth_sending(full)
    }

    /// Builds the next datagram for the active path; with GSO enabled, more full-size
    /// datagrams of 1-RTT packets follow it in `out` (same size, the last one may be shorter).
    fn send_datagram(&mut self, out: &mut [u8]) -> Result<Option<Transmit>> {
        let max_segments = self.cfg.max_segments.max(1);
        let mut total = 0usize;
        let mut count = 0usize;
        let mut seg = 0usize;
        loop {
            let room = if count == 0 {
                out.len()
            } else {
                seg.min(out.len().saturating_sub(total))
            };
            let Some(d) = self.build_datagram(out, total, room)? else {
                break;
            };
            count += 1;
            if count == 1 {
                seg = d.len;
            }
            total += d.len;
            self.account_datagram(d.len, false);
            let full = d.len == seg && d.len == d.limit;
            if !(d.short_only
                && full
                && count < max_segments
                && out.len().saturating_sub(total) >= seg)
            {
                break;
            }
        }
        if count == 0 {
            return Ok(None);
        }
        let p = &self.paths.active;
        Ok(Some(Transmit {
            len: total,
            to: p.remote,
            from: p.local,
            ecn: self.ecn_mark(false),
            segment_size: (count > 1).then_some(seg),
        }))
    }

    /// One datagram at `out[base..base + room]`.
    fn build_datagram(
        &mut self,
        out: &mut [u8],
        base: usize,
        room: usize,
    ) -> Result<Option<Datagram1>> {
        let now = self.now;
        let path = &self.paths.active;
        let mut limit = room.min(usize::try_from(path.mtu).unwrap_or(1200));
        let allowance = path.amplification_allowance();
        if allowance < limit as u64 {
            limit = allowance as usize;
        }
        if limit < MIN_PACKET_ROOM {
            return Ok(None);
        }
        let probing = self.spaces.iter().any(|s| s.probes > 0);
        let cwnd_ok = self.cc.bytes_in_flight() < self.cc.window();
        let mut allow_ae = cwnd_ok || probing;
        if allow_ae && !probing && self.cfg.pacing {
            let srtt = self.loss.rtt().smoothed();
            let t = self
                .pacer
                .next_send_time(now, limit as u64, self.cc.window(), srtt);
            if t > now {
                self.timers.pacing = Some(t);
                allow_ae = false;
            } else {
                self.timers.pacing = None;
            }
        }
        let dcid = self.cids.active_dcid();
        let mut built: [Option<Built>; 3] = [None, None, None];
        let mut n = 0usize;
        let mut pos = base;
        let limit_len = limit;
        let limit = base.saturating_add(limit);
        for space in Space::ALL {
            let Some(ptype) = self.packet_type(space) else {
                continue;
            };
            if !self.has_work(space, ptype, allow_ae) {
                continue;
            }
            if limit.saturating_sub(pos) < MIN_PACKET_ROOM {
                break;
            }
            let b = self.build_packet(
                out,
                pos,
                limit,
                space,
                ptype,
                dcid,
                Mode::Normal { allow_ae },
            )?;
            if let Some(b) = b {
                pos = b.end();
                if let Some(slot) = built.get_mut(n) {
                    *slot = Some(b);
                    n += 1;
                }
            }
            if ptype == PacketType::OneRtt {
                break;
            }
        }
        if n == 0 {
            if cwnd_ok && allow_ae {
                self.cc.set_app_limited(true);
            }
            return Ok(None);
        }
        self.cc.set_app_limited(false);
        let needs_padding = built.iter().flatten().any(|b| {
            (b.ptype == PacketType::Initial && (self.side == Side::Client || b.ack_eliciting))
                || b.path_frames
        });
        if needs_padding {
            pos = Self::pad_last(&mut built, out, pos, base + MIN_INITIAL_SIZE.min(limit_len));
        }
        let short_only = !needs_padding
            && built
                .iter()
                .flatten()
                .all(|b| b.ptype == PacketType::OneRtt);
        let mut sent_handshake = false;
        for b in built.iter_mut() {
            if let Some(b) = b.take() {
                sent_handshake |= b.ptype == PacketType::Handshake;
                self.finalize(out, b, false)?;
            }
        }
        if sent_handshake && self.side == Side::Client {
            // RFC 9001 §4.9.1: the client stops using Initial keys once it sends Handshake.
            self.discard_space(Space::Initial);
        }
        Ok(Some(Datagram1 {
            len: pos - base,
            limit: limit_len,
            short_only,
        }))
    }

    /// Grows the last packet with PADDING so that the datagram is `target` bytes.
    fn pad_last(
        built: &mut [Option<Built>; 3],
        out: &mut [u8],
        pos: usize,
        target: usize,
    ) -> usize {
        if pos >= target {
            return pos;
        }
        let Some(last) = built.iter_mut().flatten().last() else {
            return pos;
        };
        let extra = target - pos;
        let end = last.payload_end.saturating_add(extra);
        if let Some(pad) = out.get_mut(last.payload_end..end) {
            pad.fill(0);
            last.payload_end = end;
            last.in_flight = true;
            return target;
        }
        pos
    }

    /// The ECN codepoint for packets on the active path (or the probing path).
    fn ecn_mark(&self, probe_path: bool) -> EcnCodepoint {
        let p = if probe_path {
            self.paths.probe.as_ref().unwrap_or(&self.paths.active)
        } else {
            &self.paths.active
        };
        if self.cfg.ecn && !p.ecn_failed {
            EcnCodepoint::Ect0
        } else {
            EcnCodepoint::NotEct
        }
    }

    /// Counts a datagram of `len` bytes sent on the active path (or the probing path).
    fn account_datagram(&mut self, len: usize, probe_path: bool) {
        self.stats.datagrams_sent += 1;
        self.stats.bytes_sent = self.stats.bytes_sent.saturating_add(len as u64);
        let paths = &mut *self.paths;
        let p = if probe_path {
            paths.probe.as_mut().unwrap_or(&mut paths.active)
        } else {
            &mut paths.active
        };
        p.bytes_tx = p.bytes_tx.saturating_add(len as u64);
    }

    /// Bookkeeping for a datagram of `len` bytes sent on the active path (or the probing
    /// path), and its [`Transmit`].
    fn datagram_sent(&mut self, len: usize, probe_path: bool) -> Transmit {
        let ecn = self.ecn_mark(probe_path);
        self.account_datagram(len, probe_path);
        let p = if probe_path {
            self.paths.probe.as_ref().unwrap_or(&self.paths.active)
        } else {
            &self.paths.active
        };
        Transmit {
            len,
            to: p.remote,
            from: p.local,
            ecn,
            segment_size: None,
        }
    }

    /// Builds one packet at `out[start..limit]`. Nothing is consumed (not even a packet
    /// number) when nothing is written.
    #[allow(clippy::too_many_arguments)]
    fn build_packet(
        &mut self,
        out: &mut [u8],
        start: usize,
        limit: usize,
        space: Space,
        ptype: PacketType,
        dcid: ConnectionId,
        mode: Mode,
    ) -> Result<Option<Built>> {
        let tag_len = if ptype == PacketType::OneRtt && self.hs.plain_1rtt {
            0
        } else {
            TAG_LEN
        };
        let body_end = limit.saturating_sub(tag_len);
        if body_end <= start {
            return Ok(None);
        }
        let Some(buf) = out.get_mut(start..body_end) else {
            return Ok(None);
        };
        let pn = self.space(space).next_pn;
        let pn_len = number::encoded_len(pn, self.loss.largest_acked(space));
        let mut w = Writer::new(buf);
        let layout = match ptype {
            PacketType::OneRtt => {
                let fixed = !(self.hs.peer_tp.is_some_and(|t| t.grease_quic_bit)
                    && self.rng.next_u64(&self.crypto) & 7 == 0);
                write_short(
                    &mut w,
                    &ShortHeader { dcid, spin: false },
                    self.keys.app.tx_phase(),
                    pn,
                    pn_len,
                    fixed,
                )
            }
            _ => {
                let lt = match ptype {
                    PacketType::Initial => LongType::Initial,
                    PacketType::Handshake => LongType::Handshake,
                    _ => LongType::ZeroRtt,
                };
                let token: &[u8] = if ptype == PacketType::Initial && self.side == Side::Client {
                    &self.token
                } else {
                    &[]
                };
                let scid = self.cids.local_cid(0).unwrap_or_default();
                let length_len = if limit - start <= 16383 { 2 } else { 4 };
                write_long(
                    &mut w,
                    lt,
                    &LongHeader {
                        version: self.version,
                        dcid,
                        scid,
                        token,
                    },
                    pn,
                    pn_len,
                    length_len,
                    true,
                )
            }
        };
        let Ok(layout) = layout else {
            return Ok(None);
        };
        let header_end = w.position();
        let mut meta = SentMeta {
            zero_rtt: ptype == PacketType::ZeroRtt,
            ..SentMeta::default()
        };
        let mut ae = false;
        let mut path_frames = false;
        match mode {
            Mode::Close => self.write_close(&mut w, space)?,
            Mode::PmtuProbe => {
                w.u8(0x01).map_err(|_| internal("probe"))?;
                ae = true;
                let rest = w.remaining();
                w.zeros(rest).map_err(|_| internal("probe"))?;
            }
            Mode::PathProbe => {
                path_frames = self.write_path_frames(&mut w, true);
                ae = path_frames;
            }
            Mode::Normal { allow_ae } => {
                if ptype != PacketType::ZeroRtt && self.space(space).received.has_pending() {
                    self.write_ack(&mut w, space, &mut meta)?;
                }
                if allow_ae {
                    let (a, p) = self.write_data(&mut w, space, ptype, &mut meta)?;
                    ae = a;
                    path_frames = p;
                }
            }
        }
        let written = w.position();
        if written == header_end {
            return Ok(None);
        }
        // Header protection samples 4 bytes past the packet number start. An unprotected packet
        // is padded as far as a protected one would reach with its tag, so that it is still
        // large enough to draw a stateless reset (RFC 9000 §10.3).
        let min_end = layout
            .pn_offset
            .saturating_add(4)
            .saturating_add(TAG_LEN - tag_len);
        let mut payload_len = written;
        if payload_len < min_end {
            if w.zeros(min_end - payload_len).is_err() {
                return Ok(None);
            }
            payload_len = min_end;
        }
        self.space_mut(space).take_pn();
        if ae {
            let sp = self.space_mut(space);
            sp.ping = false;
            sp.probes = sp.probes.saturating_sub(1);
        }
        Ok(Some(Built {
            space,
            ptype,
            start,
            layout,
            pn,
            payload_end: start + payload_len,
            tag_len,
            ack_eliciting: ae,
            in_flight: ae,
            path_frames,
            meta,
        }))
    }

    fn write_ack(&mut self, w: &mut Writer<'_>, space: Space, meta: &mut SentMeta) -> Result<()> {
        let exponent = if space == Space::Application {
            self.hs.local_tp.ack_delay_exponent
        } else {
            3
        };
        let sp = self.space(space);
        let delay = sp.received.ack_delay(self.now) >> exponent.min(63);
        let counts = sp.received.ecn_counts();
        let ecn = (counts.ect0 | counts.ect1 | counts.ce != 0).then_some(EcnCounts {
            ect0: counts.ect0,
            ect1: counts.ect1,
            ce: counts.ce,
        });
        let set = sp.received.range_set().as_slice();
        let Some(largest) = set.last().map(|r| r.end) else {
            return Ok(());
        };
        let mut written = false;
        for max in [usize::MAX, 32, 8, 1] {
            let ranges = set.iter().rev().take(max).map(|r| r.start..=r.end);
            if write_ack(w, ranges, delay, ecn.as_ref()).is_ok() {
                written = true;
                break;
            }
        }
        if written {
            if space == Space::Application {
                self.keys.app.on_ack_sent(largest);
            }
            self.space_mut(space).received.on_ack_sent();
            meta.frames.push(SentFrame::Ack { largest }).map_err(oom)?;
        }
        Ok(())
    }

    fn write_close(&mut self, w: &mut Writer<'_>, space: Space) -> Result<()> {
        let Some(f) = self.close.frame.as_ref() else {
            return Ok(());
        };
        // An application close before 1-RTT is a transport APPLICATION_ERROR without the
        // reason (RFC 9000 §10.2.3).
        let (code, frame_type, reason): (u64, Option<u64>, &[u8]) =
            if f.app && space != Space::Application {
                (TransportError::ApplicationError.code(), Some(0), &[])
            } else if f.app {
                (f.code, None, &f.reason)
            } else {
                (f.code, Some(f.frame_type), &f.reason)
            };
        let room = w.remaining().saturating_sub(24);
        let reason = reason.get(..reason.len().min(room)).unwrap_or(&[]);
        let frame = Frame::ConnectionClose(ConnectionClose {
            error_code: code,
            frame_type,
            reason,
        });
        let _ = frame.encode(w);
        Ok(())
    }

    /// PATH_CHALLENGE / PATH_RESPONSE of the probing path (`probe`) or the active path.
    fn write_path_frames(&mut self, w: &mut Writer<'_>, probe: bool) -> bool {
        let p = if probe {
            match self.paths.probe.as_mut() {
                Some(p) => p,
                None => return false,
            }
        } else {
            &mut self.paths.active
        };
        let mut wrote = false;
        if let Some(d) = p.response {
            if Frame::PathResponse(d).encode(w).is_ok() {
                p.response = None;
                wrote = true;
            }
        }
        let mut challenge = false;
        if p.challenge_pending {
            if let Some(d) = p.challenge {
                if Frame::PathChallenge(d).encode(w).is_ok() {
                    challenge = true;
                    wrote = true;
                }
            }
        }
        if challenge {
            self.on_challenge_sent(probe);
        }
        wrote
    }

    /// The ack-eliciting frames of a packet. Returns (ack-eliciting, path frames written).
    fn write_data(
        &mut self,
        w: &mut Writer<'_>,
        space: Space,
        ptype: PacketType,
        meta: &mut SentMeta,
    ) -> Result<(bool, bool)> {
        let mut ae = false;
        let mut path_frames = false;
        let one_rtt = ptype == PacketType::OneRtt;
        if one_rtt {
            path_frames = self.write_path_frames(w, false);
            ae |= path_frames;
            if self.hs.done_pending && Frame::HandshakeDone.encode(w).is_ok() {
                self.hs.done_pending = false;
                meta.frames.push(SentFrame::HandshakeDone).map_err(oom)?;
                ae = true;
            }
        }
        if space != Space::Application || one_rtt {
            ae |= self.write_crypto(w, space, meta)?;
        }
        if one_rtt {
            ae |= self.write_cid_frames(w, meta)?;
            if self.hs.new_token_pending && self.hs.confirmed && self.side == Side::Server {
                ae |= self.write_new_token(w, meta)?;
            }
        }
        if space == Space::Application {
            ae |= self.write_stream_control(w, meta)?;
            ae |= self.write_datagrams(w);
            // Small stream data rides along with other frames or a probe, else Nagle's rule.
            if ae || self.space(space).probes > 0 || !self.nagle_holds(ptype) {
                ae |= self.write_streams(w, meta)?;
            }
        }
        let sp = self.space(space);
        if !ae && (sp.ping || sp.probes > 0) && Frame::Ping.encode(w).is_ok() {
            ae = true;
        }
        Ok((ae, path_frames))
    }

    fn write_crypto(
        &mut self,
        w: &mut Writer<'_>,
        space: Space,
        meta: &mut SentMeta,
    ) -> Result<bool> {
        let mut ae = false;
        while w.remaining() > 8 {
            let sp = self.space_mut(space);
            let Some(chunk) = sp.crypto.next_frame(w.remaining()) else {
                break;
            };
            let data = sp.crypto.chunk_data(&chunk);
            let f = CryptoFrame {
                offset: chunk.offset,
                data,
            };
            if f.encode(w).is_err() {
                sp.crypto.on_lost(chunk.offset, chunk.len)?;
                break;
            }
            meta.frames
                .push(SentFrame::Crypto {
                    offset: chunk.offset,
                    len: chunk.len as u32,
                })
                .map_err(oom)?;
            ae = true;
        }
        Ok(ae)
    }

    fn write_cid_frames(&mut self, w: &mut Writer<'_>, meta: &mut SentMeta) -> Result<bool> {
        let mut ae = false;
        while let Some(seq) = self.cids.next_retire() {
            if Frame::RetireConnectionId(seq).encode(w).is_err() {
                break;
            }
            self.cids.pop_retire();
            meta.frames
                .push(SentFrame::RetireCid { seq })
                .map_err(oom)?;
            ae = true;
        }
        while let Some(f) = self.cids.next_new_cid() {
            if Frame::NewConnectionId(f).encode(w).is_err() {
                break;
            }
            self.cids.pop_new_cid();
            meta.frames
                .push(SentFrame::NewCid { seq: f.seq })
                .map_err(oom)?;
            ae = true;
        }
        Ok(ae)
    }

    fn write_new_token(&mut self, w: &mut Writer<'_>, meta: &mut SentMeta) -> Result<bool> {
        let mut nonce = [0u8; crate::crypto::NONCE_LEN];
        self.rng.fill(&self.crypto, &mut nonce);
        let mut buf = [0u8; token::MAX_TOKEN_LEN];
        let Some(n) = token::mint_new_token(
            &self.crypto,
            &self.cfg.token_key.0,
            nonce,
            self.now,
            self.paths.active.remote,
            &mut buf,
        ) else {
            self.hs.new_token_pending = false;
            return Ok(false);
        };
        let t = buf.get(..n).unwrap_or(&[]);
        if Frame::NewToken(t).encode(w).is_err() {
            return Ok(false);
        }
        self.hs.new_token_pending = false;
        meta.frames.push(SentFrame::NewToken).map_err(oom)?;
        Ok(true)
    }

    fn write_stream_control(&mut self, w: &mut Writer<'_>, meta: &mut SentMeta) -> Result<bool> {
        let mut ae = false;
        let srtt = if self.loss.rtt().has_sample() {
            self.loss.rtt().smoothed()
        } else {
            0
        };
        let mut budget = 64;
        while budget > 0 && w.remaining() > 4 {
            budget -= 1;
            let Some(c) = self
                .streams
                .poll_control(self.now, srtt)
                .map_err(|e| e.into_error(0))?
            else {
                break;
            };
            let f = control_to_frame(&c);
            if f.encode(w).is_err() {
                self.streams
                    .on_control_lost(&c)
                    .map_err(|e| e.into_error(0))?;
                break;
            }
            meta.frames.push(SentFrame::Control(c)).map_err(oom)?;
            ae = true;
        }
        Ok(ae)
    }

    fn write_datagrams(&mut self, w: &mut Writer<'_>) -> bool {
        let mut ae = false;
        while let Some(d) = self.dgram.send.peek() {
            let f = Datagram { data: d };
            let len = f.encoded_len(true);
            if len <= w.remaining() {
                let _ = f.encode(w, true);
                self.dgram.send.pop();
                ae = true;
                continue;
            }
            if len
                > self
                    .datagram_max_size()
                    .saturating_add(Datagram::header_len(len, true))
            {
                // It can never fit (the path shrank): drop it.
                self.dgram.send.pop();
                continue;
            }
            break;
        }
        ae
    }

    fn write_streams(&mut self, w: &mut Writer<'_>, meta: &mut SentMeta) -> Result<bool> {
        let mut ae = false;
        while w.remaining() > 8 {
            let Some(c) = self
                .streams
                .poll_stream_frame(w.remaining())
                .map_err(|e| e.into_error(0))?
            else {
                break;
            };
            let (id, offset, len, fin) = (c.id, c.offset, c.data.len(), c.fin);
            let f = StreamFrame {
                id: id.raw(),
                offset,
                data: c.data,
                fin,
            };
            if f.encode(w, true).is_err() {
                self.streams
                    .on_stream_lost(id, offset, len, fin)
                    .map_err(|e| e.into_error(0))?;
                break;
            }
            meta.frames
                .push(SentFrame::Stream {
                    id,
                    offset,
                    len: len as u32,
                    fin,
                })
                .map_err(oom)?;
            ae = true;
        }
        Ok(ae)
    }

    /// Sets the Length field, protects the packet and records it for loss recovery.
    fn finalize(&mut self, out: &mut [u8], b: Built, probe_path: bool) -> Result<()> {
        let ecn = self.ecn_mark(probe_path);
        let end = b.end();
        let pkt = out
            .get_mut(b.start..end)
            .ok_or(internal("packet outside the buffer"))?;
        let len = end - b.start;
        b.layout
            .set_length(pkt, len)
            .map_err(|_| internal("cannot set packet length"))?;
        let keys = match b.ptype {
            PacketType::Initial => self.keys.initial.as_mut().map(|k| &mut k.local),
            PacketType::Handshake => self.keys.handshake_tx.as_mut(),
            PacketType::ZeroRtt => self.keys.early_tx.as_mut(),
            PacketType::OneRtt => self.keys.app.tx.as_mut(),
        }
        .ok_or(internal("no keys for the packet"))?;
        // Without a tag the packet goes out as written (disable_1rtt_encryption).
        if b.tag_len != 0 {
            keys.seal_packet(pkt, b.layout.pn_offset, b.pn)
                .map_err(|e| match e {
                    crate::crypto::CryptoError::LimitReached => Error::new(
                        TransportError::AeadLimitReached,
                        "confidentiality limit reached",
                    ),
                    _ => internal("packet protection failed"),
                })?;
        }
        if b.ptype == PacketType::OneRtt {
            self.keys.app.on_sent(b.pn);
        }
        self.stats.packets_sent += 1;
        if b.ack_eliciting {
            if !self.timers.ae_sent_since_rx {
                self.timers.idle_start = self.now;
                self.timers.ae_sent_since_rx = true;
            }
            self.timers.last_ae_sent = Some(self.now);
        }
        let in_flight = b.in_flight && b.meta.pmtu_probe == 0;
        if in_flight {
            let srtt = self.loss.rtt().smoothed();
            self.pacer
                .on_sent(self.now, len as u64, self.cc.window(), srtt);
        }
        let pkt = SentPacket {
            pn: b.pn,
            time_sent: self.now,
            size: u16::try_from(len).unwrap_or(u16::MAX),
            ack_eliciting: b.ack_eliciting,
            in_flight,
            ecn,
            meta: b.meta,
        };
        let path = self.path_state();
        self.loss
            .on_packet_sent(b.space, pkt, &path, &mut *self.cc)
            .map_err(|_| oom(quic_mem::AllocError))?;
        Ok(())
    }

    /// CONNECTION_CLOSE in every space we can send in.
    fn send_close(&mut self, out: &mut [u8]) -> Result<Option<Transmit>> {
        let path = &self.paths.active;
        let mut limit = out.len().min(usize::try_from(path.mtu).unwrap_or(1200));
        let allowance = path.amplification_allowance();
        if allowance < limit as u64 {
            limit = allowance as usize;
        }
        let dcid = self.cids.active_dcid();
        let mut built: [Option<Built>; 3] = [None, None, None];
        let mut n = 0;
        let mut pos = 0;
        for space in Space::ALL {
            let Some(ptype) = self.packet_type(space) else {
                continue;
            };
            if ptype == PacketType::ZeroRtt || limit.saturating_sub(pos) < MIN_PACKET_ROOM {
                continue;
            }
            if let Some(b) = self.build_packet(out, pos, limit, space, ptype, dcid, Mode::Close)? {
                pos = b.end();
                if let Some(slot) = built.get_mut(n) {
                    *slot = Some(b);
                    n += 1;
                }
            }
            if ptype == PacketType::OneRtt {
                break;
            }
        }
        if n == 0 {
            return Ok(None);
        }
        let has_initial = built
            .iter()
            .flatten()
            .any(|b| b.ptype == PacketType::Initial);
        if has_initial && self.side == Side::Client {
            pos = Self::pad_last(&mut built, out, pos, MIN_INITIAL_SIZE.min(limit));
        }
        for b in built.iter_mut() {
            if let Some(b) = b.take() {
                self.finalize(out, b, false)?;
            }
        }
        Ok(Some(self.datagram_sent(pos, false)))
    }

    /// PATH_CHALLENGE / PATH_RESPONSE on the path being probed.
    fn send_path_probe(&mut self, out: &mut [u8]) -> Result<Option<Transmit>> {
        let Some(p) = self.paths.probe.as_ref() else {
            return Ok(None);
        };
        if !p.has_probe_frames() || self.app_packet_type() != Some(PacketType::OneRtt) {
            return Ok(None);
        }
        let dcid = p
            .dcid_seq
            .and_then(|s| self.cids.peer_cid(s))
            .unwrap_or_else(|| self.cids.active_dcid());
        let mut limit = out.len().min(MIN_INITIAL_SIZE);
        let allowance = p.amplification_allowance();
        if allowance < limit as u64 {
            limit = allowance as usize;
        }
        if limit < MIN_PACKET_ROOM {
            return Ok(None);
        }
        let Some(b) = self.build_packet(
            out,
            0,
            limit,
            Space::Application,
            PacketType::OneRtt,
            dcid,
            Mode::PathProbe,
        )?
        else {
            return Ok(None);
        };
        let mut built = [Some(b), None, None];
        let pos = built.iter().flatten().map(|b| b.end()).sum();
        let pos = Self::pad_last(&mut built, out, pos, limit);
        if let Some(b) = built[0].take() {
            self.finalize(out, b, true)?;
        }
        Ok(Some(self.datagram_sent(pos, true)))
    }

    /// A DPLPMTUD probe: PING and PADDING filling a datagram of the probed size.
    fn send_pmtu_probe(&mut self, out: &mut [u8]) -> Result<Option<Transmit>> {
        let Some(size) = self.pmtud.pending else {
            return Ok(None);
        };
        let size_us = usize::try_from(size).unwrap_or(usize::MAX);
        let ok = self.hs.confirmed
            && self.app_packet_type() == Some(PacketType::OneRtt)
            && size_us <= out.len()
            && self.cc.bytes_in_flight() < self.cc.window();
        if !ok {
            self.pmtud.postpone(self.now);
            return Ok(None);
        }
        let dcid = self.cids.active_dcid();
        let Some(mut b) = self.build_packet(
            out,
            0,
            size_us,
            Space::Application,
            PacketType::OneRtt,
            dcid,
            Mode::PmtuProbe,
        )?
        else {
            self.pmtud.postpone(self.now);
            return Ok(None);
        };
        b.meta.pmtu_probe = u16::try_from(size).unwrap_or(u16::MAX);
        let len = b.end();
        self.pmtud.on_sent(size);
        self.finalize(out, b, false)?;
        Ok(Some(self.datagram_sent(len, false)))
    }
}
