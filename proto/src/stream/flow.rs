//! Flow control (RFC 9000 §4.1, §4.2), for one stream or for the whole connection.
//!
//! - [`SendCredit`]: the limit the peer gives us (MAX_DATA or MAX_STREAM_DATA) and how much of
//!   it we used; decides when DATA_BLOCKED / STREAM_DATA_BLOCKED is due.
//! - [`RecvWindow`]: the limit we give the peer, what it sent and what the application
//!   consumed; decides when to send MAX_DATA / MAX_STREAM_DATA and grows the window when the
//!   application keeps up with the network (auto-tuning).
//!
//! Times are microseconds chosen by the caller; only differences matter.

use core::cmp::{max, min};

use crate::varint;

use super::error::StreamError;

/// The peer's limit on what we send, and our use of it.
#[derive(Debug, Clone)]
pub struct SendCredit {
    limit: u64,
    used: u64,
    /// The limit at which we last decided to report being blocked.
    blocked_at: Option<u64>,
}

impl SendCredit {
    /// Credit up to `limit` bytes, none used.
    pub const fn new(limit: u64) -> Self {
        Self {
            limit,
            used: 0,
            blocked_at: None,
        }
    }

    /// The peer's current limit: the total bytes we may send.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes sent so far.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Bytes we may still send.
    pub fn available(&self) -> u64 {
        self.limit.saturating_sub(self.used)
    }

    /// Uses `n` bytes of credit; fails, changing nothing, when fewer are available.
    pub fn consume(&mut self, n: u64) -> bool {
        if n > self.available() {
            return false;
        }
        self.used += n;
        true
    }

    /// Applies a new limit from the peer; limits never decrease (RFC 9000 §4.1: a frame that
    /// does not raise the limit is ignored). Returns true when the limit went up.
    pub fn raise(&mut self, limit: u64) -> bool {
        if limit <= self.limit {
            return false;
        }
        self.limit = limit;
        true
    }

    /// Called when we have data that the limit keeps us from sending: returns the limit to put
    /// in a DATA_BLOCKED / STREAM_DATA_BLOCKED frame, once per limit value.
    pub fn note_blocked(&mut self) -> Option<u64> {
        if self.available() > 0 || self.blocked_at == Some(self.limit) {
            return None;
        }
        self.blocked_at = Some(self.limit);
        Some(self.limit)
    }

    /// True while we are blocked at exactly `limit`: a lost blocked frame for `limit` is then
    /// worth sending again.
    pub fn is_blocked_at(&self, limit: u64) -> bool {
        self.limit == limit && self.available() == 0
    }
}

/// The limit we give the peer, and how the window behind it moves.
#[derive(Debug, Clone)]
pub struct RecvWindow {
    /// The limit advertised last (or the initial transport parameter).
    limit: u64,
    /// The peer's highest offset (summed over streams for the connection).
    received: u64,
    /// Bytes the application consumed (read or discarded).
    consumed: u64,
    /// The credit kept ahead of `consumed`.
    window: u64,
    /// The largest `window` auto-tuning may reach.
    max_window: u64,
    /// When the limit was last raised.
    last_raise: Option<u64>,
}

impl RecvWindow {
    /// A window of `window` bytes, which auto-tuning may grow up to `max_window`.
    pub fn new(window: u64, max_window: u64) -> Self {
        let window = min(window, varint::MAX);
        Self {
            limit: window,
            received: 0,
            consumed: 0,
            window,
            max_window: min(max(window, max_window), varint::MAX),
            last_raise: None,
        }
    }

    /// The limit last advertised.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The peer's highest offset.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes the application consumed.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The current window size.
    pub fn window(&self) -> u64 {
        self.window
    }

    /// Bytes the peer may still send.
    pub fn available(&self) -> u64 {
        self.limit.saturating_sub(self.received)
    }

    /// Records `n` more bytes of credit used by the peer; FLOW_CONTROL_ERROR, changing nothing,
    /// when that goes beyond the limit.
    pub fn on_received(&mut self, n: u64) -> Result<(), StreamError> {
        if n > self.available() {
            return Err(StreamError::FlowControl);
        }
        self.received += n;
        Ok(())
    }

    /// Records `n` bytes consumed by the application (never more than was received).
    pub fn on_consumed(&mut self, n: u64) {
        self.consumed = min(self.consumed.saturating_add(n), self.received);
    }

    /// True when at least half the window was consumed since the limit was last set, so a
    /// MAX_DATA / MAX_STREAM_DATA frame is worth sending. Never true for an empty window
    /// (a limit of 0 that stays 0); when true, [`update`](Self::update) raises the limit.
    pub fn wants_update(&self) -> bool {
        self.window > 0
            && self.limit.saturating_sub(self.consumed) <= self.window / 2
            && self.limit < varint::MAX
    }

    /// Grows the window to at least `window` bytes (within the configured maximum): the
    /// connection window follows the largest stream window.
    pub fn grow_to(&mut self, window: u64) {
        self.window = max(self.window, min(window, self.max_window));
    }

    /// When an update is due, raises the limit to `consumed + window` and returns it.
    ///
    /// Auto-tuning: when the previous raise happened less than two smoothed RTTs ago, the
    /// application drains the window faster than a round trip can refill it, so the window is
    /// doubled first (up to the maximum). A caller without an RTT sample passes 0, which turns
    /// auto-tuning off.
    pub fn update(&mut self, now_us: u64, srtt_us: u64) -> Option<u64> {
        if !self.wants_update() {
            return None;
        }
        if let Some(last) = self.last_raise {
            if srtt_us > 0 && now_us.saturating_sub(last) < srtt_us.saturating_mul(2) {
                self.grow_to(self.window.saturating_mul(2));
            }
        }
        let limit = min(self.consumed.saturating_add(self.window), varint::MAX);
        if limit <= self.limit {
            return None;
        }
        self.limit = limit;
        self.last_raise = Some(now_us);
        Some(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn send_credit() {
        let mut c = SendCredit::new(100);
        assert!(c.consume(60));
        assert!(!c.consume(41));
        assert_eq!(c.used(), 60);
        assert_eq!(c.note_blocked(), None);
        assert!(c.consume(40));
        assert_eq!(c.available(), 0);
        assert_eq!(c.note_blocked(), Some(100));
        // Once per limit.
        assert_eq!(c.note_blocked(), None);
        assert!(c.is_blocked_at(100));
        assert!(!c.raise(90));
        assert_eq!(c.limit(), 100);
        assert!(c.raise(150));
        assert!(!c.is_blocked_at(100));
        assert_eq!(c.note_blocked(), None);
        assert!(c.consume(50));
        assert_eq!(c.note_blocked(), Some(150));
    }

    #[test]
    fn recv_window_updates_after_half() {
        let mut w = RecvWindow::new(100, 100);
        assert_eq!(w.on_received(101), Err(StreamError::FlowControl));
        assert_eq!(w.received(), 0);
        w.on_received(100).unwrap();
        w.on_consumed(49);
        assert!(!w.wants_update());
        assert_eq!(w.update(0, 1000), None);
        w.on_consumed(1);
        assert!(w.wants_update());
        assert_eq!(w.update(0, 1000), Some(150));
        assert_eq!(w.limit(), 150);
        assert!(!w.wants_update());
        // Consumption is capped by what was received.
        w.on_consumed(1000);
        assert_eq!(w.consumed(), 100);
        assert_eq!(w.update(10, 0), Some(200));
        assert_eq!(w.window(), 100, "no RTT sample: no auto-tuning");
    }

    #[test]
    fn empty_window_never_wants_update() {
        let mut w = RecvWindow::new(0, 0);
        assert!(!w.wants_update());
        assert_eq!(w.update(0, 0), None);
        assert_eq!(w.on_received(1), Err(StreamError::FlowControl));
        // Once grown, it works as usual.
        let mut w = RecvWindow::new(0, 100);
        w.grow_to(10);
        assert!(w.wants_update());
        assert_eq!(w.update(0, 0), Some(10));
    }

    #[test]
    fn recv_window_grows_only_when_fast() {
        let srtt = 10_000;
        // Slow consumer: updates more than 2 RTT apart keep the window.
        let mut slow = RecvWindow::new(1000, 8000);
        let mut now = 0;
        for _ in 0..10 {
            let n = slow.available();
            slow.on_received(n).unwrap();
            slow.on_consumed(n);
            now += 3 * srtt;
            assert!(slow.update(now, srtt).is_some());
        }
        assert_eq!(slow.window(), 1000);
        // Fast consumer: updates within 2 RTT double it, up to the maximum.
        let mut fast = RecvWindow::new(1000, 8000);
        let mut now = 0;
        let mut windows = std::vec::Vec::new();
        for _ in 0..10 {
            let n = fast.available();
            fast.on_received(n).unwrap();
            fast.on_consumed(n);
            now += srtt / 2;
            fast.update(now, srtt).unwrap();
            windows.push(fast.window());
        }
        assert_eq!(windows[..5], [1000, 2000, 4000, 8000, 8000]);
        assert_eq!(fast.window(), 8000);
        fast.grow_to(1 << 40);
        assert_eq!(fast.window(), 8000);
    }

    proptest! {
        /// Whatever the peer offers, `received` never passes the limit, and updates never
        /// lower it.
        #[test]
        fn recv_never_exceeds(steps in proptest::collection::vec((0u64..500, 0u64..500, 0u64..50_000), 1..100)) {
            let mut w = RecvWindow::new(300, 3000);
            let mut now = 0;
            for (recv, consume, dt) in steps {
                let before = w.received();
                match w.on_received(recv) {
                    Ok(()) => prop_assert_eq!(w.received(), before + recv),
                    Err(e) => {
                        prop_assert_eq!(e, StreamError::FlowControl);
                        prop_assert!(before + recv > w.limit());
                        prop_assert_eq!(w.received(), before);
                    }
                }
                prop_assert!(w.received() <= w.limit());
                w.on_consumed(consume);
                prop_assert!(w.consumed() <= w.received());
                now += dt;
                let old = w.limit();
                let wanted = w.wants_update();
                let updated = w.update(now, 10_000);
                prop_assert_eq!(wanted, updated.is_some());
                if let Some(l) = updated {
                    prop_assert!(l > old);
                    prop_assert_eq!(l, w.consumed() + w.window());
                }
                prop_assert!(w.limit() >= old);
                prop_assert!(w.window() <= 3000);
            }
        }

        /// The sender never uses more than the largest limit it was given.
        #[test]
        fn send_never_exceeds(steps in proptest::collection::vec((any::<bool>(), 0u64..300), 1..100)) {
            let mut c = SendCredit::new(100);
            let mut max_limit = 100;
            for (raise, n) in steps {
                if raise {
                    c.raise(n * 3);
                    max_limit = max_limit.max(n * 3);
                } else {
                    let avail = c.available();
                    prop_assert_eq!(c.consume(n), n <= avail);
                }
                prop_assert_eq!(c.limit(), max_limit);
                prop_assert!(c.used() <= c.limit());
            }
        }
    }
}
