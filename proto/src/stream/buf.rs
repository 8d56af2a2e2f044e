//! A contiguous window of a stream's bytes, addressed by stream offset.
//!
//! Holds the bytes from a *live start* offset up to an end offset. The sending side appends at
//! the end and releases acknowledged bytes at the front; the receiving side writes at any offset
//! at or after the live start (growing the window, gaps zero-filled until their data arrives)
//! and releases bytes as the application reads them. Released space is reclaimed by moving the
//! live bytes down once at least half of the array is dead, so every byte is moved a bounded
//! number of times (amortised O(1) per byte).

use core::cmp::min;

use quic_mem::{AllocError, Vec};

/// Once the window is empty, an array with more capacity than this is freed, not kept.
const KEEP_CAPACITY: usize = 16 * 1024;

/// Bytes at stream offsets `live_start()..end()`.
#[derive(Debug, Default)]
pub(crate) struct ByteBuf {
    data: Vec<u8>,
    /// Stream offset of `data[0]`.
    start: u64,
    /// Index in `data` of the first live byte; bytes before it were released.
    head: usize,
}

fn to_usize(x: u64) -> Result<usize, AllocError> {
    usize::try_from(x).map_err(|_| AllocError)
}

impl ByteBuf {
    /// An empty window at offset 0; does not allocate.
    pub(crate) const fn new() -> Self {
        Self {
            data: Vec::new(),
            start: 0,
            head: 0,
        }
    }

    /// The offset of the first byte held.
    pub(crate) fn live_start(&self) -> u64 {
        self.start.saturating_add(self.head as u64)
    }

    /// The offset just after the last byte held.
    pub(crate) fn end(&self) -> u64 {
        self.start.saturating_add(self.data.len() as u64)
    }

    /// Bytes of memory the window occupies (its array's capacity).
    pub(crate) fn footprint(&self) -> usize {
        self.data.capacity()
    }

    /// Stores `bytes` at stream offset `off`. Bytes before the live start are skipped (they were
    /// released); a gap between the current end and `off` is zero-filled. On allocation failure
    /// some bytes may have been stored, but the window never shrinks.
    pub(crate) fn write_at(&mut self, off: u64, bytes: &[u8]) -> Result<(), AllocError> {
        let live = self.live_start();
        let (off, bytes) = if off < live {
            let skip = to_usize(live - off).unwrap_or(usize::MAX);
            match bytes.get(skip..) {
                Some(rest) => (live, rest),
                None => return Ok(()),
            }
        } else {
            (off, bytes)
        };
        if bytes.is_empty() {
            return Ok(());
        }
        let end = off.checked_add(bytes.len() as u64).ok_or(AllocError)?;
        // Reclaim the released prefix before growing, once it is at least half the array
        // (compacting on every append would move the whole buffer each time: quadratic).
        if end > self.end() && self.head > 0 && self.head >= self.data.len() / 2 {
            self.compact();
        }
        let i = to_usize(off - self.start)?;
        if i > self.data.len() {
            self.data.resize(i, 0)?;
        }
        let overlap = min(self.data.len() - i, bytes.len());
        if let (Some(dst), Some(src)) = (self.data.get_mut(i..i + overlap), bytes.get(..overlap)) {
            dst.copy_from_slice(src);
        }
        self.data
            .extend_from_slice(bytes.get(overlap..).unwrap_or(&[]))
    }

    /// The `len` bytes from offset `off`, if all of them are held.
    pub(crate) fn get(&self, off: u64, len: usize) -> Option<&[u8]> {
        if off < self.live_start() {
            return None;
        }
        let i = usize::try_from(off - self.start).ok()?;
        self.data.get(i..i.checked_add(len)?)
    }

    /// Forgets the bytes before offset `off`.
    pub(crate) fn release_to(&mut self, off: u64) {
        if off <= self.live_start() {
            return;
        }
        if off >= self.end() {
            self.clear_to(off);
            return;
        }
        // `live_start() < off < end()`, so the index fits in `data`.
        self.head = usize::try_from(off - self.start).unwrap_or(self.data.len());
        if self.head >= self.data.len() / 2 {
            self.compact();
            self.shrink();
        }
    }

    /// After a release, gives back an array that is mostly unused (a few live bytes left
    /// behind a gap would otherwise pin the largest size the window ever had). Copies at
    /// most a quarter of the capacity, so shrinking stays amortised O(1) per byte.
    fn shrink(&mut self) {
        let cap = self.data.capacity();
        let len = self.data.len();
        if cap <= KEEP_CAPACITY || len > cap / 4 {
            return;
        }
        let Ok(mut smaller) = Vec::with_capacity(len.saturating_mul(2).max(KEEP_CAPACITY)) else {
            return;
        };
        if smaller.extend_from_slice(self.data.as_slice()).is_ok() {
            self.data = smaller;
        }
    }

    /// Forgets every byte and moves the live start to `off`; frees a large array.
    pub(crate) fn clear_to(&mut self, off: u64) {
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        } else {
            self.data.clear();
        }
        self.start = off;
        self.head = 0;
    }

    fn compact(&mut self) {
        self.data.drain_front(self.head);
        self.start = self.start.saturating_add(self.head as u64);
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_gives_back_a_mostly_unused_array() {
        let mut b = ByteBuf::new();
        let chunk = [7u8; 4096];
        for i in 0..64u64 {
            b.write_at(i * 4096, &chunk).unwrap();
        }
        // One byte stays behind a gap at the end.
        b.write_at(64 * 4096 + 10, &[1]).unwrap();
        assert!(b.footprint() >= 256 * 1024);
        b.release_to(64 * 4096);
        assert!(
            b.footprint() <= KEEP_CAPACITY,
            "kept {} bytes for {} live",
            b.footprint(),
            b.end() - b.live_start()
        );
        assert_eq!(b.get(64 * 4096 + 10, 1), Some(&[1u8][..]));
        assert_eq!(b.live_start(), 64 * 4096);
    }

    #[test]
    fn append_release() {
        let mut b = ByteBuf::new();
        b.write_at(0, b"hello").unwrap();
        b.write_at(5, b" world").unwrap();
        assert_eq!(b.get(0, 11), Some(&b"hello world"[..]));
        assert_eq!(b.get(6, 6), None);
        b.release_to(6);
        assert_eq!(b.live_start(), 6);
        assert_eq!(b.get(0, 1), None);
        assert_eq!(b.get(6, 5), Some(&b"world"[..]));
        b.release_to(11);
        assert_eq!((b.live_start(), b.end()), (11, 11));
        b.write_at(11, b"!").unwrap();
        assert_eq!(b.get(11, 1), Some(&b"!"[..]));
    }

    #[test]
    fn out_of_order_and_overlap() {
        let mut b = ByteBuf::new();
        b.write_at(6, b"world").unwrap();
        b.write_at(0, b"hel").unwrap();
        b.write_at(2, b"llo ").unwrap();
        assert_eq!(b.get(0, 11), Some(&b"hello world"[..]));
        b.release_to(4);
        // Bytes before the live start are skipped, the rest stored.
        b.write_at(0, b"hellO").unwrap();
        assert_eq!(b.get(4, 7), Some(&b"O world"[..]));
        b.write_at(0, b"abc").unwrap();
        assert_eq!(b.get(4, 1), Some(&b"O"[..]));
    }

    #[test]
    fn compaction_keeps_bytes_and_bounds_memory() {
        let mut b = ByteBuf::new();
        let mut next = 0u64;
        let mut released = 0u64;
        for round in 0..2000u64 {
            let chunk = [(round % 251) as u8; 100];
            b.write_at(next, &chunk).unwrap();
            next += 100;
            released += 90;
            b.release_to(released);
            let held = next - released;
            // The array never holds more than twice the live bytes plus one chunk.
            assert!(
                b.footprint() as u64 <= 4 * (held + 100) + 64,
                "round {round}"
            );
            assert_eq!(b.get(next - 1, 1), Some(&[(round % 251) as u8][..]));
        }
        b.clear_to(next);
        assert_eq!(b.live_start(), next);
        assert_eq!(b.get(next, 0), Some(&[][..]));
    }
}
