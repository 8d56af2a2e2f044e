//! Ending a connection (RFC 9000 §10): immediate close with CONNECTION_CLOSE and the closing
//! period, the draining period after the peer's CONNECTION_CLOSE or a stateless reset, and
//! the idle timeout.

use quic_mem::Vec;

use crate::crypto::Crypto;
use crate::error::TransportError;

use super::events::{CloseInfo, CloseSource, Event, MAX_REASON_LEN};
use super::Connection;

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Handshaking or established.
    Open,
    /// We sent CONNECTION_CLOSE; we answer packets with it until `until`.
    Closing {
        /// End of the closing period.
        until: u64,
    },
    /// The peer closed (or reset); we send nothing until `until`.
    Draining {
        /// End of the draining period.
        until: u64,
    },
    /// Over.
    Closed,
}

/// The CONNECTION_CLOSE frame we send while closing.
#[derive(Debug)]
pub(crate) struct CloseFrame {
    pub(crate) app: bool,
    pub(crate) code: u64,
    pub(crate) frame_type: u64,
    pub(crate) reason: Vec<u8>,
}

/// Close state of a connection.
#[derive(Debug)]
pub(crate) struct CloseState {
    pub(crate) phase: Phase,
    pub(crate) info: Option<CloseInfo>,
    pub(crate) frame: Option<CloseFrame>,
    /// A datagram with CONNECTION_CLOSE is due.
    pub(crate) send_pending: bool,
    /// Packets received while closing, and the count at which we answer next.
    rx_count: u32,
    next_answer: u32,
}

impl CloseState {
    pub(crate) fn new() -> Self {
        Self {
            phase: Phase::Open,
            info: None,
            frame: None,
            send_pending: false,
            rx_count: 0,
            next_answer: 1,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.phase, Phase::Closing { .. })
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// When the closing or draining period ends.
    pub(crate) fn timer(&self) -> Option<u64> {
        match self.phase {
            Phase::Closing { until } | Phase::Draining { until } => Some(until),
            _ => None,
        }
    }

    /// A packet arrived while closing: answer with CONNECTION_CLOSE, less and less often
    /// (after 1, 2, 4, 8... packets) so that a peer cannot make us amplify.
    pub(crate) fn on_packet_while_closing(&mut self) {
        self.rx_count = self.rx_count.saturating_add(1);
        if self.rx_count >= self.next_answer {
            self.send_pending = true;
            self.next_answer = self.next_answer.saturating_mul(2);
        }
    }
}

fn truncated(reason: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let r = reason
        .get(..reason.len().min(MAX_REASON_LEN))
        .unwrap_or(&[]);
    // Without memory the reason phrase is dropped; the close itself still happens.
    let _ = v.extend_from_slice(r);
    v
}

impl<C: Crypto> Connection<C> {
    /// Closes the connection (`close()` of the socket, with the
    /// `QUIC_SOCKOPT_CONNECTION_CLOSE` values): sends CONNECTION_CLOSE of type 0x1d (`app`)
    /// or 0x1c with `code`, `frame_type` (transport closes only) and `reason`, then stays in
    /// the closing period for three PTOs. Does nothing when already closed.
    pub fn close(&mut self, app: bool, code: u64, frame_type: u64, reason: &[u8]) {
        self.close_with(CloseSource::Local, app, code, frame_type, reason);
    }

    pub(crate) fn close_with(
        &mut self,
        source: CloseSource,
        app: bool,
        code: u64,
        frame_type: u64,
        reason: &[u8],
    ) {
        if !self.close.is_open() {
            if source == CloseSource::Peer && self.close.is_closing() {
                // Both sides closed: stop answering, drain for the rest of the period.
                let until = self.close.timer().unwrap_or(self.now);
                self.close.phase = super::close::Phase::Draining { until };
                self.close.send_pending = false;
            }
            return;
        }
        let code = code.min(crate::varint::MAX);
        let frame_type = if app {
            0
        } else {
            frame_type.min(crate::varint::MAX)
        };
        let mut info = CloseInfo::new(source, app, code, frame_type);
        info.reason = truncated(reason);
        let period = self.loss.rtt().pto_duration(false, 0).saturating_mul(3);
        let until = self.now.saturating_add(period);
        match source {
            CloseSource::Local => {
                self.close.frame = Some(super::close::CloseFrame {
                    app,
                    code,
                    frame_type,
                    reason: truncated(reason),
                });
                // Without keys to protect a CONNECTION_CLOSE there is nothing to wait for.
                let can_send = [
                    crate::recovery::Space::Initial,
                    crate::recovery::Space::Handshake,
                    crate::recovery::Space::Application,
                ]
                .iter()
                .any(|s| self.keys.can_send(*s) && !self.space(*s).discarded);
                if can_send {
                    self.close.phase = Phase::Closing { until };
                    self.close.send_pending = true;
                } else {
                    self.close.phase = Phase::Closed;
                }
            }
            CloseSource::Peer | CloseSource::StatelessReset => {
                self.close.phase = Phase::Draining { until };
            }
            CloseSource::IdleTimeout | CloseSource::VersionNegotiation { .. } => {
                self.close.phase = Phase::Closed;
            }
        }
        self.emit(Event::Closed(info.duplicate()));
        self.close.info = Some(info);
        self.streams_closed();
    }

    /// The connection is over for the application: nothing more is sent for streams or
    /// datagrams.
    fn streams_closed(&mut self) {
        self.dgram.clear();
        self.undecryptable.clear();
    }

    /// Ends the closing or draining period when due.
    pub(crate) fn close_on_timeout(&mut self, now: u64) {
        if self.close.timer().is_some_and(|t| now >= t) {
            self.close.phase = Phase::Closed;
            self.close.send_pending = false;
        }
    }

    /// The effective idle timeout (RFC 9000 §10.1): the smaller of both sides' non-zero
    /// values, at least three PTOs; 0 when neither side has one.
    pub(crate) fn idle_timeout(&self) -> u64 {
        let local = self.hs.local_tp.max_idle_timeout;
        let peer = self.hs.peer_tp.map_or(0, |t| t.max_idle_timeout);
        let ms = match (local, peer) {
            (0, p) => p,
            (l, 0) => l,
            (l, p) => l.min(p),
        };
        if ms == 0 {
            return 0;
        }
        let pto3 = self.loss.rtt().pto_duration(false, 0).saturating_mul(3);
        ms.saturating_mul(1000).max(pto3)
    }

    /// Idle timeout expired: close silently.
    pub(crate) fn on_idle_timeout(&mut self) {
        self.close_with(
            CloseSource::IdleTimeout,
            false,
            TransportError::NoError.code(),
            0,
            b"idle timeout",
        );
    }
}
