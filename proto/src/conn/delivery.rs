//! What happens when the peer acknowledges our packets, or loss recovery declares them lost
//! (RFC 9002): ACK frames are handed to the loss detector, and each packet it hands back has
//! its frames marked delivered or queued for retransmission (RFC 9000 §13.3).

use quic_mem::Vec;

use crate::crypto::{Crypto, Side};
use crate::error::{Error, TransportError};
use crate::frame::{Ack, FrameType};
use crate::recovery::cc::CongestionControl;
use crate::recovery::ecn::EcnCounts;
use crate::recovery::loss::{AckFrame, Fate};
use crate::recovery::sent::{AckError, SentPacket};
use crate::recovery::Space;

use super::space::{SentFrame, SentMeta};
use super::{oom, Connection, Result};

impl<C: Crypto> Connection<C> {
    /// An ACK or ACK_ECN frame received in `space`.
    pub(crate) fn on_ack_frame(&mut self, space: Space, ack: &Ack<'_>) -> Result<()> {
        let exponent = match space {
            Space::Application => self.hs.peer_tp.map_or(3, |t| t.ack_delay_exponent),
            _ => 3,
        };
        let delay = if exponent >= 64 || ack.delay.leading_zeros() < exponent as u32 {
            u64::MAX
        } else {
            ack.delay << exponent
        };
        let ecn = ack.ecn.map(|e| EcnCounts {
            ect0: e.ect0,
            ect1: e.ect1,
            ce: e.ce,
        });
        let frame = AckFrame {
            ranges: ack.ranges().map(|r| (*r.start(), *r.end())),
            ack_delay: delay,
            ecn,
        };
        let path = self.path_state();
        let now = self.now;
        let mut handed: Vec<(Space, Fate, SentPacket<SentMeta>)> = Vec::new();
        let mut failed = false;
        let res = self
            .loss
            .on_ack_received(space, frame, now, &path, &mut *self.cc, |s, f, p| {
                if handed.push((s, f, p)).is_err() {
                    failed = true;
                }
            });
        let ty = ack.frame_type().0;
        let outcome = match res {
            Ok(o) => o,
            Err(AckError::InvalidRanges) => {
                return Err(Error::frame(
                    TransportError::FrameEncodingError,
                    ty,
                    "invalid ACK ranges",
                ))
            }
            Err(AckError::UnsentPacket) => {
                return Err(Error::frame(
                    TransportError::ProtocolViolation,
                    ty,
                    "ACK of a packet never sent",
                ))
            }
        };
        if failed {
            return Err(oom(quic_mem::AllocError));
        }
        if outcome.persistent_congestion {
            self.stats.persistent_congestion += 1;
        }
        if outcome.ecn == crate::recovery::ecn::EcnCheck::Failed {
            self.paths.active.ecn_failed = true;
        }
        if outcome.ecn_ce {
            self.stats.ecn_ce += 1;
        }
        if space == Space::Handshake && self.side == Side::Client {
            self.hs.handshake_acked = true;
        }
        let mut acked_1rtt = false;
        for (s, f, p) in handed.iter_mut() {
            if *s == Space::Application && *f == Fate::Acked && !p.meta.zero_rtt {
                acked_1rtt = true;
                self.keys.app.on_acked(p.pn);
            }
            self.on_packet_fate(*s, *f, p)?;
        }
        // A client may take an acknowledged 1-RTT packet as confirmation (RFC 9001 §4.1.2).
        if acked_1rtt && self.side == Side::Client && self.hs.complete {
            self.confirm_handshake();
        }
        if self.keys.app.needs_update() && self.keys.app.can_initiate() {
            self.keys
                .app
                .initiate(&self.crypto)
                .map_err(|_| super::internal("key update failed"))?;
        }
        self.maybe_writable();
        Ok(())
    }

    /// A packet came back from loss recovery.
    pub(crate) fn on_packet_fate(
        &mut self,
        space: Space,
        fate: Fate,
        p: &mut SentPacket<SentMeta>,
    ) -> Result<()> {
        if fate == Fate::Lost {
            self.stats.packets_lost += 1;
            self.stats.bytes_lost = self.stats.bytes_lost.saturating_add(u64::from(p.size));
        }
        if p.meta.pmtu_probe > 0 {
            let size = u64::from(p.meta.pmtu_probe);
            match fate {
                Fate::Acked => {
                    if let Some(mds) = self.pmtud.on_acked(self.now, size) {
                        self.set_mtu(mds);
                    }
                }
                Fate::Lost => self.pmtud.on_lost(self.now, size),
                Fate::Discarded => {}
            }
        }
        if fate == Fate::Discarded {
            return Ok(());
        }
        let frames = core::mem::take(&mut p.meta.frames);
        self.on_frames_fate(space, fate, &frames, p.pn)
    }

    fn set_mtu(&mut self, mds: u64) {
        if mds > self.paths.active.mtu {
            self.paths.active.mtu = mds;
            self.cc.set_max_datagram_size(mds);
            self.pacer.set_max_datagram_size(mds);
        }
    }

    /// Marks the frames of packet `pn` delivered (`Acked`) or queues them again (`Lost`).
    pub(crate) fn on_frames_fate(
        &mut self,
        space: Space,
        fate: Fate,
        frames: &[SentFrame],
        _pn: u64,
    ) -> Result<()> {
        let acked = fate == Fate::Acked;
        for f in frames {
            match *f {
                SentFrame::Ack { largest } => {
                    if acked {
                        self.space_mut(space).received.on_ack_acked(largest);
                    }
                }
                SentFrame::Crypto { offset, len } => {
                    let sp = self.space_mut(space);
                    if sp.discarded {
                        continue;
                    }
                    if acked {
                        sp.crypto.on_acked(offset, len as usize)?;
                    } else {
                        sp.crypto.on_lost(offset, len as usize)?;
                    }
                }
                SentFrame::Stream {
                    id,
                    offset,
                    len,
                    fin,
                } => {
                    let r = if acked {
                        self.streams.on_stream_acked(id, offset, len as usize, fin)
                    } else {
                        self.streams.on_stream_lost(id, offset, len as usize, fin)
                    };
                    r.map_err(|e| e.into_error(FrameType::STREAM.0))?;
                }
                SentFrame::Control(c) => {
                    let r = if acked {
                        self.streams.on_control_acked(&c)
                    } else {
                        self.streams.on_control_lost(&c)
                    };
                    r.map_err(|e| e.into_error(0))?;
                }
                SentFrame::HandshakeDone => {
                    if !acked {
                        self.hs.done_pending = true;
                    }
                }
                SentFrame::NewToken => {
                    if !acked {
                        self.hs.new_token_pending = true;
                    }
                }
                SentFrame::NewCid { seq } => {
                    if !acked {
                        self.cids.on_new_cid_lost(seq)?;
                    }
                }
                SentFrame::RetireCid { seq } => {
                    if acked {
                        self.cids.on_retire_acked(seq);
                    } else {
                        self.cids.on_retire_lost(seq)?;
                    }
                }
            }
        }
        Ok(())
    }
}
