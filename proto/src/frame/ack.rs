//! ACK and ACK_ECN frames (RFC 9000 §19.3).
//!
//! A received ACK keeps its ranges in wire form and is walked lazily by [`AckRanges`]; the
//! parser walks them once to reject ranges that would go below packet number 0, so the
//! iterator never fails. Sending goes through [`write_ack`] from any iterator of ranges.

use core::ops::RangeInclusive;

use super::types::FrameType;
use crate::codec::{CodecError, Reader, Writer};
use crate::error::Error;
use crate::varint;

/// ECN counts of an ACK_ECN frame (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcnCounts {
    /// Packets received with the ECT(0) codepoint.
    pub ect0: u64,
    /// Packets received with the ECT(1) codepoint.
    pub ect1: u64,
    /// Packets received with the ECN-CE codepoint.
    pub ce: u64,
}

/// A received ACK or ACK_ECN frame.
#[derive(Debug, Clone, Copy)]
pub struct Ack<'a> {
    /// Largest Acknowledged.
    pub largest: u64,
    /// ACK Delay as sent: in units of 2^ack_delay_exponent microseconds.
    pub delay: u64,
    /// First ACK Range: packets `largest - first_range ..= largest` are acknowledged.
    pub first_range: u64,
    /// ECN counts (ACK_ECN only).
    pub ecn: Option<EcnCounts>,
    range_count: u64,
    ranges: &'a [u8],
}

impl<'a> Ack<'a> {
    /// The acknowledged ranges, largest first, each as `smallest..=largest`.
    pub fn ranges(&self) -> AckRanges<'a> {
        AckRanges {
            reader: Reader::new(self.ranges),
            left: self.range_count,
            next: self
                .largest
                .checked_sub(self.first_range)
                .map(|smallest| smallest..=self.largest),
        }
    }

    /// Number of ACK Ranges after the first.
    pub fn additional_ranges(&self) -> u64 {
        self.range_count
    }

    /// The smallest acknowledged packet number.
    pub fn smallest(&self) -> u64 {
        self.ranges().last().map_or(0, |r| *r.start())
    }

    /// The frame type this ACK encodes to.
    pub fn frame_type(&self) -> FrameType {
        if self.ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        }
    }

    /// Parses the body of an ACK (`ecn` false) or ACK_ECN frame.
    pub(crate) fn parse(r: &mut Reader<'a>, ecn: bool) -> Result<Self, Error> {
        let ty = if ecn {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        };
        let trunc = |_| Error::frame_encoding(ty.0, "truncated ACK");
        let underflow = Error::frame_encoding(ty.0, "ACK range below packet number 0");
        let largest = r.varint().map_err(trunc)?;
        let delay = r.varint().map_err(trunc)?;
        let range_count = r.varint().map_err(trunc)?;
        let first_range = r.varint().map_err(trunc)?;
        let mut smallest = largest.checked_sub(first_range).ok_or(underflow)?;
        let before = r.peek_rest();
        let start = r.position();
        // Each range takes at least two bytes, so truncated input ends this loop quickly.
        for _ in 0..range_count {
            let gap = r.varint().map_err(trunc)?;
            let len = r.varint().map_err(trunc)?;
            let next_largest = smallest
                .checked_sub(gap)
                .and_then(|v| v.checked_sub(2))
                .ok_or(underflow)?;
            smallest = next_largest.checked_sub(len).ok_or(underflow)?;
        }
        let ranges = before
            .get(..r.position().saturating_sub(start))
            .unwrap_or(&[]);
        let ecn = if ecn {
            Some(EcnCounts {
                ect0: r.varint().map_err(trunc)?,
                ect1: r.varint().map_err(trunc)?,
                ce: r.varint().map_err(trunc)?,
            })
        } else {
            None
        };
        Ok(Self {
            largest,
            delay,
            first_range,
            ecn,
            range_count,
            ranges,
        })
    }

    /// Re-encodes this ACK (minimal varints).
    pub fn encode(&self, w: &mut Writer<'_>) -> Result<(), CodecError> {
        write_ack(w, self.ranges(), self.delay, self.ecn.as_ref())
    }

    /// Size of [`Ack::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        ack_encoded_len(self.ranges(), self.delay, self.ecn.as_ref()).unwrap_or(0)
    }
}

impl PartialEq for Ack<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.largest == other.largest
            && self.delay == other.delay
            && self.first_range == other.first_range
            && self.ecn == other.ecn
            && self.range_count == other.range_count
            && self.ranges().eq(other.ranges())
    }
}

impl Eq for Ack<'_> {}

/// Iterator over the ranges of a received ACK, largest first.
#[derive(Debug, Clone)]
pub struct AckRanges<'a> {
    reader: Reader<'a>,
    left: u64,
    next: Option<RangeInclusive<u64>>,
}

impl Iterator for AckRanges<'_> {
    type Item = RangeInclusive<u64>;

    fn next(&mut self) -> Option<Self::Item> {
        let cur = self.next.take()?;
        if self.left > 0 {
            self.left -= 1;
            // The parser validated these ranges; a failure here just ends the iteration.
            let following = (|| {
                let gap = self.reader.varint().ok()?;
                let len = self.reader.varint().ok()?;
                let largest = cur.start().checked_sub(gap)?.checked_sub(2)?;
                Some(largest.checked_sub(len)?..=largest)
            })();
            self.next = following;
        }
        Some(cur)
    }
}

/// Walks `ranges` (largest first) and returns (range count after the first, encoded length
/// of the ranges part), checking that they are ordered, disjoint and non-adjacent.
fn check_ranges<I>(mut ranges: I) -> Result<(RangeInclusive<u64>, u64, usize), CodecError>
where
    I: Iterator<Item = RangeInclusive<u64>>,
{
    let first = ranges.next().ok_or(CodecError::InvalidValue)?;
    if first.start() > first.end() || *first.end() > varint::MAX {
        return Err(CodecError::InvalidValue);
    }
    let mut smallest = *first.start();
    let mut count = 0u64;
    let mut len = 0usize;
    for r in ranges {
        // The next range must end at least 2 below the current smallest (a gap of >= 1).
        let gap = smallest
            .checked_sub(2)
            .and_then(|v| v.checked_sub(*r.end()))
            .ok_or(CodecError::InvalidValue)?;
        let rlen = r
            .end()
            .checked_sub(*r.start())
            .ok_or(CodecError::InvalidValue)?;
        len = len
            .saturating_add(varint::size(gap))
            .saturating_add(varint::size(rlen));
        count += 1;
        smallest = *r.start();
    }
    Ok((first, count, len))
}

/// Encoded size of the ACK frame that [`write_ack`] would write.
pub fn ack_encoded_len<I>(
    ranges: I,
    delay: u64,
    ecn: Option<&EcnCounts>,
) -> Result<usize, CodecError>
where
    I: Iterator<Item = RangeInclusive<u64>>,
{
    let (first, count, len) = check_ranges(ranges)?;
    let mut n = 1
        + varint::size(*first.end())
        + varint::size(delay)
        + varint::size(count)
        + varint::size(first.end() - first.start())
        + len;
    if let Some(e) = ecn {
        n += varint::size(e.ect0) + varint::size(e.ect1) + varint::size(e.ce);
    }
    Ok(n)
}

/// Writes an ACK frame (ACK_ECN when `ecn` is given) acknowledging `ranges`, which must be
/// given largest first, non-empty, and separated by at least one missing packet. `delay` is
/// already scaled by the ack_delay_exponent. To fit a limited space, pass fewer ranges
/// (e.g. `ranges.take(n)`). On error nothing is written.
pub fn write_ack<I>(
    w: &mut Writer<'_>,
    ranges: I,
    delay: u64,
    ecn: Option<&EcnCounts>,
) -> Result<(), CodecError>
where
    I: Iterator<Item = RangeInclusive<u64>> + Clone,
{
    let total = ack_encoded_len(ranges.clone(), delay, ecn)?;
    if w.remaining() < total {
        return Err(CodecError::BufferFull);
    }
    let start = w.position();
    let res = write_ack_unchecked(w, ranges, delay, ecn);
    if res.is_err() {
        w.rewind(start);
    }
    res
}

fn write_ack_unchecked<I>(
    w: &mut Writer<'_>,
    mut ranges: I,
    delay: u64,
    ecn: Option<&EcnCounts>,
) -> Result<(), CodecError>
where
    I: Iterator<Item = RangeInclusive<u64>> + Clone,
{
    let count = ranges.clone().count().saturating_sub(1) as u64;
    let first = ranges.next().ok_or(CodecError::InvalidValue)?;
    let ty = if ecn.is_some() {
        FrameType::ACK_ECN
    } else {
        FrameType::ACK
    };
    w.varint(ty.0)?;
    w.varint(*first.end())?;
    w.varint(delay)?;
    w.varint(count)?;
    w.varint(first.end().saturating_sub(*first.start()))?;
    let mut smallest = *first.start();
    for r in ranges {
        let gap = smallest
            .checked_sub(2)
            .and_then(|v| v.checked_sub(*r.end()))
            .ok_or(CodecError::InvalidValue)?;
        w.varint(gap)?;
        w.varint(r.end().saturating_sub(*r.start()))?;
        smallest = *r.start();
    }
    if let Some(e) = ecn {
        w.varint(e.ect0)?;
        w.varint(e.ect1)?;
        w.varint(e.ce)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportError;
    use std::vec::Vec;

    fn encode(ranges: &[RangeInclusive<u64>], ecn: Option<&EcnCounts>) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut w = Writer::new(&mut buf);
        write_ack(&mut w, ranges.iter().cloned(), 17, ecn).unwrap();
        let n = w.position();
        assert_eq!(ack_encoded_len(ranges.iter().cloned(), 17, ecn).unwrap(), n);
        buf[..n].to_vec()
    }

    fn parse(bytes: &[u8]) -> Result<Ack<'_>, Error> {
        let mut r = Reader::new(bytes);
        let ty = r.varint().unwrap();
        let ack = Ack::parse(&mut r, ty == 3)?;
        assert!(r.is_empty());
        Ok(ack)
    }

    #[test]
    fn ranges_roundtrip() {
        let ranges = [90..=100, 50..=60, 48..=48, 0..=10];
        let bytes = encode(&ranges, None);
        // type, largest 100, delay 17, count 3, first 10, (gap 28, len 10), (0, 0), (36, 10)
        assert_eq!(bytes, [2, 0x40, 100, 17, 3, 10, 28, 10, 0, 0, 36, 10]);
        let ack = parse(&bytes).unwrap();
        assert!(ack.ranges().eq(ranges.iter().cloned()));
        assert_eq!(ack.smallest(), 0);
        assert_eq!(ack.additional_ranges(), 3);
        assert_eq!(ack.frame_type(), FrameType::ACK);
        assert_eq!(ack.encoded_len(), bytes.len());

        let ecn = EcnCounts {
            ect0: 5,
            ect1: 0,
            ce: 1 << 40,
        };
        let bytes = encode(&[7..=7], Some(&ecn));
        let ack = parse(&bytes).unwrap();
        assert_eq!(ack.ecn, Some(ecn));
        assert!(ack.ranges().eq([7..=7]));
        assert_eq!(ack.frame_type(), FrameType::ACK_ECN);
    }

    #[test]
    fn underflow_rejected() {
        let check = |bytes: &[u8]| {
            let e = parse(bytes).unwrap_err();
            assert_eq!(e.code, TransportError::FrameEncodingError);
            assert_eq!(e.frame_type, 2);
        };
        // First range larger than largest.
        check(&[2, 5, 0, 0, 6]);
        // Gap below zero: smallest 5, gap 4 -> 5 - 4 - 2 < 0.
        check(&[2, 5, 0, 1, 0, 4, 0]);
        // Range length below zero: smallest 5, gap 0 -> largest 3, length 4.
        check(&[2, 5, 0, 1, 0, 0, 4]);
        // Truncated ranges and ECN counts.
        check(&[2, 5, 0, 2, 0, 0, 0]);
        check(&[2, 5, 0]);
        let e = parse(&[3, 5, 0, 0, 0, 1, 1]).unwrap_err();
        assert_eq!(e.frame_type, 3);
        // Exactly reaching zero is fine.
        let ack = parse(&[2, 5, 0, 1, 0, 0, 3]).unwrap();
        assert!(ack.ranges().eq([5..=5, 0..=3]));
    }

    #[test]
    fn huge_range_count_is_cheap() {
        // 2^62-1 ranges announced, two given: fails on truncation without looping forever.
        let bytes = [
            2, 0x40, 100, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0,
        ];
        assert!(parse(&bytes).is_err());
    }

    #[test]
    fn write_rejects_bad_ranges() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        let bad: [&[RangeInclusive<u64>]; 4] = [
            &[],
            &[10..=20, 19..=19],
            &[10..=20, 9..=9],
            &[RangeInclusive::new(5, 4)],
        ];
        for r in bad {
            assert_eq!(
                write_ack(&mut w, r.iter().cloned(), 0, None),
                Err(CodecError::InvalidValue)
            );
        }
        assert_eq!(
            write_ack(&mut w, [0..=varint::MAX + 1].into_iter(), 0, None),
            Err(CodecError::InvalidValue)
        );
        assert_eq!(
            write_ack(&mut w, [0..=1].into_iter(), 1 << 62, None),
            Err(CodecError::ValueTooLarge)
        );
        assert_eq!(w.position(), 0);
        let mut small = [0u8; 3];
        let mut w = Writer::new(&mut small);
        assert_eq!(
            write_ack(&mut w, [0..=1000].into_iter(), 0, None),
            Err(CodecError::BufferFull)
        );
        assert_eq!(w.position(), 0);
    }
}
