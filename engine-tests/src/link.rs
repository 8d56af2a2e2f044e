//! One direction of the simulated network.

use quic_proto::recovery::ecn::EcnCodepoint;

use crate::rng::SimRng;

/// Behaviour of one direction of the link. Probabilities are parts per million.
#[derive(Debug, Clone)]
pub struct LinkParams {
    /// One-way delay (µs).
    pub delay: u64,
    /// Extra random delay up to this (µs): datagrams overtake each other.
    pub jitter: u64,
    /// Probability of dropping a datagram.
    pub loss: u32,
    /// Probability of delivering a datagram twice.
    pub dup: u32,
    /// Probability of flipping a random bit of a datagram.
    pub corrupt: u32,
    /// Datagrams larger than this are dropped.
    pub mtu: usize,
    /// Bottleneck rate in bytes per second (0: unlimited).
    pub rate: u64,
    /// Longest queueing delay at the bottleneck before datagrams are dropped (µs).
    pub queue: u64,
    /// Drop everything (a broken path).
    pub down: bool,
    /// Probability of marking an ECN-capable datagram CE (congestion experienced).
    pub ce: u32,
    /// Clear the ECN bits of every datagram (a bleaching middlebox).
    pub bleach: bool,
}

impl Default for LinkParams {
    fn default() -> Self {
        Self {
            delay: 10_000,
            jitter: 0,
            loss: 0,
            dup: 0,
            corrupt: 0,
            mtu: 1500,
            rate: 0,
            queue: 50_000,
            down: false,
            ce: 0,
            bleach: false,
        }
    }
}

/// What the link does with a datagram sent at some time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Delivered at these times (twice when duplicated), possibly corrupted.
    Deliver {
        /// Delivery times.
        at: Vec<u64>,
        /// Flip this bit (index into the datagram's bits) first.
        corrupt_bit: Option<usize>,
        /// The ECN codepoint on arrival.
        ecn: EcnCodepoint,
    },
    /// Lost.
    Drop,
}

/// Link state: the bottleneck's queue.
#[derive(Debug, Default, Clone)]
pub struct Link {
    /// The parameters in force.
    pub params: LinkParams,
    busy_until: u64,
    /// Datagrams offered.
    pub sent: u64,
    /// Bytes offered.
    pub bytes: u64,
    /// Datagrams dropped.
    pub dropped: u64,
    /// Datagrams sent with an ECN-capable codepoint.
    pub ecn_marked: u64,
}

impl Link {
    /// A link with `params`.
    pub fn new(params: LinkParams) -> Self {
        Self {
            params,
            ..Self::default()
        }
    }

    /// Decides the fate of a datagram of `len` bytes sent at `now` with ECN codepoint `ecn`.
    pub fn offer(&mut self, now: u64, len: usize, ecn: EcnCodepoint, rng: &mut SimRng) -> Fate {
        self.sent += 1;
        self.bytes += len as u64;
        let p = &self.params;
        if p.down || len > p.mtu || rng.chance(p.loss) {
            self.dropped += 1;
            return Fate::Drop;
        }
        let mut depart = now;
        if p.rate > 0 {
            let start = self.busy_until.max(now);
            if start - now > p.queue {
                self.dropped += 1;
                return Fate::Drop;
            }
            let tx = (len as u64 * 1_000_000).div_ceil(p.rate);
            self.busy_until = start + tx;
            depart = self.busy_until;
        }
        let mut at = vec![depart + p.delay + rng.below(p.jitter + 1)];
        if rng.chance(p.dup) {
            at.push(depart + p.delay + rng.below(p.jitter + 1));
        }
        let corrupt_bit = rng
            .chance(p.corrupt)
            .then(|| rng.below(len as u64 * 8) as usize);
        let ecn = if p.bleach {
            EcnCodepoint::NotEct
        } else if ecn != EcnCodepoint::NotEct && rng.chance(p.ce) {
            EcnCodepoint::Ce
        } else {
            ecn
        };
        Fate::Deliver {
            at,
            corrupt_bit,
            ecn,
        }
    }
}
