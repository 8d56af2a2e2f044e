//! Sets of stream offsets, kept as sorted, disjoint, non-adjacent half-open ranges.
//!
//! Used for received data (reassembly), and for acknowledged and lost data on the sending side.
//! Lookups are binary searches; an insert or removal touches only the ranges it overlaps, plus a
//! `memmove` of the tail of the array.

use core::cmp::{max, min};

use quic_mem::{AllocError, Vec};

/// The offsets `start..end`, with `start < end` when stored in a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    /// First offset in the range.
    pub(crate) start: u64,
    /// First offset after the range.
    pub(crate) end: u64,
}

impl Range {
    /// Number of offsets in the range.
    pub(crate) fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// A set of offsets.
#[derive(Debug, Default)]
pub(crate) struct RangeSet {
    ranges: Vec<Range>,
}

impl RangeSet {
    /// An empty set; does not allocate.
    pub(crate) const fn new() -> Self {
        Self { ranges: Vec::new() }
    }

    /// Number of ranges.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// True when the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The lowest range.
    pub(crate) fn first(&self) -> Option<Range> {
        self.ranges.first().copied()
    }

    /// The ranges, lowest first.
    #[cfg(test)]
    pub(crate) fn as_slice(&self) -> &[Range] {
        self.ranges.as_slice()
    }

    /// Empties the set and frees its memory.
    pub(crate) fn clear(&mut self) {
        self.ranges = Vec::new();
    }

    /// The end of the run of offsets in the set that starts at `from`; `from` itself when
    /// `from` is not in the set.
    pub(crate) fn contiguous_end(&self, from: u64) -> u64 {
        let i = self.ranges.partition_point(|r| r.end <= from);
        match self.ranges.get(i) {
            Some(r) if r.start <= from => r.end,
            _ => from,
        }
    }

    /// Indices `i..j` of the ranges that overlap or touch `start..end`.
    fn touching(&self, start: u64, end: u64) -> (usize, usize) {
        let i = self.ranges.partition_point(|r| r.end < start);
        let j = self.ranges.partition_point(|r| r.start <= end);
        (i, max(i, j))
    }

    /// The number of ranges the set would hold after [`insert`](Self::insert)`(start, end)`.
    pub(crate) fn len_after_insert(&self, start: u64, end: u64) -> usize {
        if start >= end {
            return self.len();
        }
        let (i, j) = self.touching(start, end);
        self.len() - (j - i) + 1
    }

    /// Adds `start..end` (nothing when empty). On allocation failure the set is unchanged.
    pub(crate) fn insert(&mut self, start: u64, end: u64) -> Result<(), AllocError> {
        if start >= end {
            return Ok(());
        }
        let (i, j) = self.touching(start, end);
        let merged = match (
            self.ranges.get(i),
            j.checked_sub(1).and_then(|k| self.ranges.get(k)),
        ) {
            (Some(first), Some(last)) if i < j => Range {
                start: min(start, first.start),
                end: max(end, last.end),
            },
            _ => Range { start, end },
        };
        self.splice(i, j, &[merged])
    }

    /// Removes `start..end`. Allocates only to split a range in two; on failure the set is
    /// unchanged.
    pub(crate) fn remove(&mut self, start: u64, end: u64) -> Result<(), AllocError> {
        if start >= end {
            return Ok(());
        }
        let i = self.ranges.partition_point(|r| r.end <= start);
        let j = max(i, self.ranges.partition_point(|r| r.start < end));
        if i == j {
            return Ok(());
        }
        let (Some(first), Some(last)) =
            (self.ranges.get(i).copied(), self.ranges.get(j - 1).copied())
        else {
            return Ok(());
        };
        let mut pieces = [Range { start: 0, end: 0 }; 2];
        let mut n = 0;
        if first.start < start {
            pieces[n] = Range {
                start: first.start,
                end: start,
            };
            n += 1;
        }
        if last.end > end {
            pieces[n] = Range {
                start: end,
                end: last.end,
            };
            n += 1;
        }
        self.splice(i, j, pieces.get(..n).unwrap_or(&[]))
    }

    /// Removes every offset below `off`; never allocates.
    pub(crate) fn remove_below(&mut self, off: u64) {
        let i = self.ranges.partition_point(|r| r.end <= off);
        if i > 0 {
            self.ranges.drain_front(i);
        }
        if let Some(first) = self.ranges.first_mut() {
            if first.start < off {
                first.start = off;
            }
        }
    }

    /// Removes and returns at most `max_len` offsets from the front of the lowest range.
    pub(crate) fn take_front(&mut self, max_len: u64) -> Option<Range> {
        let first = self.ranges.first_mut()?;
        let take = min(first.len(), max_len);
        if take == 0 {
            return None;
        }
        let taken = Range {
            start: first.start,
            end: first.start + take,
        };
        if taken.end >= first.end {
            self.ranges.remove(0);
        } else {
            first.start = taken.end;
        }
        Some(taken)
    }

    /// Calls `f(a, b)`, in order, for each maximal run `a..b` of `start..end` not in the set.
    pub(crate) fn for_each_gap<E>(
        &self,
        start: u64,
        end: u64,
        mut f: impl FnMut(u64, u64) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut cur = start;
        let i = self.ranges.partition_point(|r| r.end <= start);
        for r in self.ranges.get(i..).unwrap_or(&[]) {
            if r.start >= end || cur >= end {
                break;
            }
            if r.start > cur {
                f(cur, r.start)?;
            }
            cur = max(cur, r.end);
        }
        if cur < end {
            f(cur, end)?;
        }
        Ok(())
    }

    /// Replaces ranges `i..j` by `new` (at most two ranges).
    fn splice(&mut self, i: usize, j: usize, new: &[Range]) -> Result<(), AllocError> {
        let len = self.ranges.len();
        if i > j || j > len {
            return Ok(());
        }
        let removed = j - i;
        let keep = min(new.len(), removed);
        // Allocate first, so that a failure leaves the set as it was.
        if new.len() > removed {
            self.ranges.reserve(new.len() - removed)?;
        }
        for (k, r) in new.iter().take(keep).enumerate() {
            if let Some(slot) = self.ranges.get_mut(i + k) {
                *slot = *r;
            }
        }
        for (k, r) in new.iter().skip(keep).enumerate() {
            self.ranges.insert(i + keep + k, *r)?;
        }
        if removed > new.len() {
            let gone = removed - new.len();
            self.ranges.as_mut_slice().copy_within(j..len, j - gone);
            self.ranges.truncate(len - gone);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn pairs(s: &RangeSet) -> std::vec::Vec<(u64, u64)> {
        s.as_slice().iter().map(|r| (r.start, r.end)).collect()
    }

    fn check_invariants(s: &RangeSet) {
        for r in s.as_slice() {
            assert!(r.start < r.end);
        }
        for w in s.as_slice().windows(2) {
            assert!(
                w[0].end < w[1].start,
                "ranges must be disjoint and non-adjacent"
            );
        }
    }

    #[test]
    fn insert_merges() {
        let mut s = RangeSet::new();
        s.insert(10, 20).unwrap();
        s.insert(30, 40).unwrap();
        s.insert(0, 5).unwrap();
        assert_eq!(pairs(&s), [(0, 5), (10, 20), (30, 40)]);
        assert_eq!(s.len_after_insert(20, 30), 2);
        s.insert(20, 30).unwrap();
        assert_eq!(pairs(&s), [(0, 5), (10, 40)]);
        s.insert(5, 5).unwrap();
        assert_eq!(pairs(&s), [(0, 5), (10, 40)]);
        assert_eq!(s.len_after_insert(6, 8), 3);
        s.insert(3, 50).unwrap();
        assert_eq!(pairs(&s), [(0, 50)]);
        assert_eq!(s.contiguous_end(0), 50);
        assert_eq!(s.contiguous_end(49), 50);
        assert_eq!(s.contiguous_end(50), 50);
    }

    #[test]
    fn remove_splits_and_trims() {
        let mut s = RangeSet::new();
        s.insert(0, 100).unwrap();
        s.remove(10, 20).unwrap();
        assert_eq!(pairs(&s), [(0, 10), (20, 100)]);
        s.remove(5, 25).unwrap();
        assert_eq!(pairs(&s), [(0, 5), (25, 100)]);
        s.remove(0, 200).unwrap();
        assert!(s.is_empty());
        s.insert(0, 10).unwrap();
        s.remove(10, 20).unwrap();
        assert_eq!(pairs(&s), [(0, 10)]);
    }

    #[test]
    fn take_front_and_gaps() {
        let mut s = RangeSet::new();
        s.insert(5, 10).unwrap();
        s.insert(20, 22).unwrap();
        let mut gaps = std::vec::Vec::new();
        s.for_each_gap::<()>(0, 30, |a, b| {
            gaps.push((a, b));
            Ok(())
        })
        .unwrap();
        assert_eq!(gaps, [(0, 5), (10, 20), (22, 30)]);
        assert_eq!(s.take_front(3), Some(Range { start: 5, end: 8 }));
        assert_eq!(s.take_front(0), None);
        assert_eq!(s.take_front(100), Some(Range { start: 8, end: 10 }));
        assert_eq!(pairs(&s), [(20, 22)]);
    }

    proptest! {
        #[test]
        fn matches_model(ops in proptest::collection::vec((any::<bool>(), 0u64..200, 0u64..30), 0..200)) {
            let mut s = RangeSet::new();
            let mut model = BTreeSet::new();
            for (add, start, len) in ops {
                let end = start + len;
                if add {
                    let expect = s.len_after_insert(start, end);
                    s.insert(start, end).unwrap();
                    prop_assert_eq!(s.len(), expect);
                    model.extend(start..end);
                } else if len % 7 == 0 {
                    s.remove_below(start);
                    model.retain(|x| *x >= start);
                } else {
                    s.remove(start, end).unwrap();
                    for x in start..end {
                        model.remove(&x);
                    }
                }
                check_invariants(&s);
                let flat: BTreeSet<u64> =
                    s.as_slice().iter().flat_map(|r| r.start..r.end).collect();
                prop_assert_eq!(&flat, &model);
                let mut gaps = BTreeSet::new();
                s.for_each_gap::<()>(50, 150, |a, b| {
                    gaps.extend(a..b);
                    Ok(())
                }).unwrap();
                let expect_gaps: BTreeSet<u64> = (50..150).filter(|x| !model.contains(x)).collect();
                prop_assert_eq!(gaps, expect_gaps);
            }
        }
    }
}
