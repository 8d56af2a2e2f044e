//! The set of received packet numbers of one space, as ranges, for ACK frames and duplicate
//! detection (RFC 9000 §12.3, §13.2.3, §13.2.4).
//!
//! Ranges are kept sorted, disjoint and non-adjacent. Memory is bounded: past `max_ranges`
//! the lowest range is dropped, and packet numbers below a *floor* are then reported as
//! duplicates (a late packet there may be dropped, never processed twice).

use quic_mem::{AllocError, Vec};

/// Default bound on the number of ranges kept per space.
pub const DEFAULT_MAX_RANGES: usize = 64;

/// An inclusive range of packet numbers, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PnRange {
    /// Smallest packet number in the range.
    pub start: u64,
    /// Largest packet number in the range.
    pub end: u64,
}

/// What [`AckRanges::insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// The packet number was new and is now in the set.
    New,
    /// The packet number was already received (or is below the floor): a duplicate.
    Duplicate,
}

/// Received packet numbers of one space.
#[derive(Debug)]
pub struct AckRanges {
    ranges: Vec<PnRange>,
    max_ranges: usize,
    floor: u64,
}

impl AckRanges {
    /// An empty set keeping at most `max_ranges` ranges (at least 1).
    pub fn new(max_ranges: usize) -> Self {
        Self {
            ranges: Vec::new(),
            max_ranges: max_ranges.max(1),
            floor: 0,
        }
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True when no range is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Packet numbers below this are treated as already received.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// The ranges, lowest first.
    pub fn as_slice(&self) -> &[PnRange] {
        self.ranges.as_slice()
    }

    /// The ranges as `(smallest, largest)` pairs, highest first: the order of an ACK frame.
    pub fn iter_desc(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().rev().map(|r| (r.start, r.end))
    }

    /// The largest packet number held.
    pub fn largest(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.end)
    }

    /// True when `pn` was received or lies below the floor.
    pub fn contains(&self, pn: u64) -> bool {
        if pn < self.floor {
            return true;
        }
        let i = self.ranges.partition_point(|r| r.end < pn);
        self.ranges.get(i).is_some_and(|r| r.start <= pn)
    }

    /// Records `pn`; on allocation failure the set is unchanged.
    pub fn insert(&mut self, pn: u64) -> Result<Insert, AllocError> {
        if pn < self.floor {
            return Ok(Insert::Duplicate);
        }
        // First range that contains pn or touches it from above or below.
        let i = self
            .ranges
            .partition_point(|r| r.end.saturating_add(1) < pn);
        let Some(r) = self.ranges.get(i).copied() else {
            self.ranges.push(PnRange { start: pn, end: pn })?;
            self.enforce_bound();
            return Ok(Insert::New);
        };
        if r.start <= pn && pn <= r.end {
            return Ok(Insert::Duplicate);
        }
        if r.end.saturating_add(1) == pn {
            // Extends r upwards; may now touch the next range.
            let next = i.saturating_add(1);
            match self.ranges.get(next).copied() {
                Some(n) if n.start == pn.saturating_add(1) => {
                    if let Some(cur) = self.ranges.get_mut(i) {
                        cur.end = n.end;
                    }
                    self.ranges.remove(next);
                }
                _ => {
                    if let Some(cur) = self.ranges.get_mut(i) {
                        cur.end = pn;
                    }
                }
            }
            return Ok(Insert::New);
        }
        if pn.saturating_add(1) == r.start {
            // Extends r downwards; the range below ends before pn - 1 by construction of i.
            if let Some(cur) = self.ranges.get_mut(i) {
                cur.start = pn;
            }
            return Ok(Insert::New);
        }
        self.ranges.insert(i, PnRange { start: pn, end: pn })?;
        self.enforce_bound();
        Ok(Insert::New)
    }

    /// Forgets every packet number below `pn`, which then count as duplicates: used once the
    /// peer acknowledged an ACK frame of ours whose largest acknowledged was `pn - 1`
    /// (RFC 9000 §13.2.4).
    pub fn remove_below(&mut self, pn: u64) {
        if pn <= self.floor {
            return;
        }
        self.floor = pn;
        let whole = self.ranges.partition_point(|r| r.end < pn);
        self.ranges.drain_front(whole);
        if let Some(first) = self.ranges.get_mut(0) {
            first.start = first.start.max(pn);
        }
    }

    /// Drops the lowest ranges while more than `max_ranges` are held.
    fn enforce_bound(&mut self) {
        while self.ranges.len() > self.max_ranges {
            if let Some(lowest) = self.ranges.first().copied() {
                self.floor = self.floor.max(lowest.end.saturating_add(1));
            }
            self.ranges.drain_front(1);
        }
    }
}

impl Default for AckRanges {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_RANGES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn pairs(s: &AckRanges) -> std::vec::Vec<(u64, u64)> {
        s.as_slice().iter().map(|r| (r.start, r.end)).collect()
    }

    fn check_invariants(s: &AckRanges) -> Result<(), TestCaseError> {
        prop_assert!(s.len() <= s.max_ranges);
        for r in s.as_slice() {
            prop_assert!(r.start <= r.end);
            prop_assert!(r.start >= s.floor());
        }
        for w in s.as_slice().windows(2) {
            // Sorted, disjoint and not adjacent (adjacent ones must have been merged).
            prop_assert!(w[0].end.saturating_add(1) < w[1].start, "{:?}", w);
        }
        Ok(())
    }

    #[test]
    fn merges_and_duplicates() {
        let mut s = AckRanges::default();
        for pn in [5, 7, 6, 1, 0, 9] {
            assert_eq!(s.insert(pn).unwrap(), Insert::New);
        }
        assert_eq!(pairs(&s), [(0, 1), (5, 7), (9, 9)]);
        assert_eq!(s.insert(6).unwrap(), Insert::Duplicate);
        assert_eq!(s.insert(8).unwrap(), Insert::New);
        assert_eq!(pairs(&s), [(0, 1), (5, 9)]);
        assert_eq!(s.insert(3).unwrap(), Insert::New);
        assert_eq!(s.insert(4).unwrap(), Insert::New);
        assert_eq!(s.insert(2).unwrap(), Insert::New);
        assert_eq!(pairs(&s), [(0, 9)]);
        assert_eq!(s.iter_desc().collect::<std::vec::Vec<_>>(), [(0, 9)]);
        assert!(s.contains(0) && s.contains(9) && !s.contains(10));
        assert_eq!(s.largest(), Some(9));
    }

    #[test]
    fn bounded_ranges_drop_the_oldest() {
        let mut s = AckRanges::new(3);
        for pn in [0, 2, 4, 6] {
            s.insert(pn).unwrap();
        }
        assert_eq!(pairs(&s), [(2, 2), (4, 4), (6, 6)]);
        assert_eq!(s.floor(), 1);
        // Below the floor: reported as a duplicate, never processed twice.
        assert_eq!(s.insert(0).unwrap(), Insert::Duplicate);
        // A gap above the floor is still accepted, but the set stays bounded.
        assert_eq!(s.insert(1).unwrap(), Insert::New);
        assert_eq!(pairs(&s), [(1, 2), (4, 4), (6, 6)]);
        assert_eq!(s.insert(3).unwrap(), Insert::New);
        assert_eq!(pairs(&s), [(1, 4), (6, 6)]);
    }

    #[test]
    fn remove_below_trims() {
        let mut s = AckRanges::default();
        for pn in [0, 1, 2, 5, 6, 10] {
            s.insert(pn).unwrap();
        }
        s.remove_below(6);
        assert_eq!(pairs(&s), [(6, 6), (10, 10)]);
        assert_eq!(s.insert(3).unwrap(), Insert::Duplicate);
        s.remove_below(2); // lower than the floor: no-op
        assert_eq!(s.floor(), 6);
        s.remove_below(100);
        assert!(s.is_empty());
        assert_eq!(s.insert(100).unwrap(), Insert::New);
    }

    #[test]
    fn extreme_packet_numbers() {
        let mut s = AckRanges::default();
        assert_eq!(s.insert(u64::MAX).unwrap(), Insert::New);
        assert_eq!(s.insert(u64::MAX - 1).unwrap(), Insert::New);
        assert_eq!(s.insert(u64::MAX).unwrap(), Insert::Duplicate);
        assert_eq!(pairs(&s), [(u64::MAX - 1, u64::MAX)]);
        s.remove_below(u64::MAX);
        assert_eq!(pairs(&s), [(u64::MAX, u64::MAX)]);
    }

    proptest! {
        #[test]
        fn random_inserts_keep_invariants(
            pns in proptest::collection::vec(0u64..300, 0..400),
            max in 1usize..80,
        ) {
            let mut s = AckRanges::new(max);
            let mut seen = BTreeSet::new();
            for pn in pns {
                let was_seen = seen.contains(&pn);
                let below_floor = pn < s.floor();
                let r = s.insert(pn).unwrap();
                // Duplicate exactly for repeats or packets the bound already forgot.
                prop_assert_eq!(r == Insert::Duplicate, was_seen || below_floor);
                seen.insert(pn);
                check_invariants(&s)?;
                // Every received packet number is still known (in a range or below the floor).
                for &p in &seen {
                    prop_assert!(s.contains(p));
                }
                // And no packet number that was never received is in a range.
                for r in s.as_slice() {
                    for p in r.start..=r.end {
                        prop_assert!(seen.contains(&p));
                    }
                }
            }
        }

        #[test]
        fn remove_below_keeps_invariants(
            pns in proptest::collection::vec(0u64..200, 0..200),
            cut in 0u64..220,
        ) {
            let mut s = AckRanges::default();
            for pn in &pns {
                s.insert(*pn).unwrap();
            }
            s.remove_below(cut);
            check_invariants(&s)?;
            for pn in pns {
                prop_assert!(s.contains(pn));
                let in_range = s.as_slice().iter().any(|r| r.start <= pn && pn <= r.end);
                prop_assert_eq!(in_range, pn >= cut);
            }
        }
    }
}
