//! A FIFO queue on a fallible [`quic_mem::Vec`]: a read index moves forward, and the dead
//! front is reclaimed once it is at least half of the array (amortised O(1) per element).

use quic_mem::{AllocError, Vec};

/// A first-in first-out queue of small `Copy` values (stream IDs, events).
#[derive(Debug, Default)]
pub(crate) struct Fifo<T> {
    items: Vec<T>,
    head: usize,
}

impl<T: Copy> Fifo<T> {
    /// An empty queue; does not allocate.
    pub(crate) const fn new() -> Self {
        Self {
            items: Vec::new(),
            head: 0,
        }
    }

    /// Number of queued values.
    pub(crate) fn len(&self) -> usize {
        self.items.len() - self.head
    }

    /// True when nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn compact(&mut self) {
        if self.head > 0 && self.head >= self.items.len() / 2 {
            self.items.drain_front(self.head);
            self.head = 0;
        }
    }

    /// Makes sure the next [`push`](Self::push) cannot fail.
    pub(crate) fn reserve_one(&mut self) -> Result<(), AllocError> {
        if self.items.len() == self.items.capacity() {
            self.compact();
        }
        self.items.reserve(1)
    }

    /// Appends `x` at the back.
    pub(crate) fn push(&mut self, x: T) -> Result<(), AllocError> {
        self.reserve_one()?;
        self.items.push(x)
    }

    /// Removes the value at the front.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let x = *self.items.get(self.head)?;
        self.head += 1;
        if self.head == self.items.len() {
            self.items.clear();
            self.head = 0;
        }
        Some(x)
    }

    /// The queued values, front first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.items.get(self.head..).unwrap_or(&[]).iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_bounded_memory() {
        let mut q = Fifo::new();
        assert_eq!(q.pop(), None::<u32>);
        let mut next_out = 0u32;
        for i in 0..10_000u32 {
            q.push(i).unwrap();
            if i % 3 != 0 {
                assert_eq!(q.pop(), Some(next_out));
                next_out += 1;
            }
            // Dead slots never exceed live ones by much.
            assert!(q.items.capacity() <= 4 * (q.len() + 8));
        }
        assert_eq!(q.iter().next(), Some(&next_out));
        while let Some(x) = q.pop() {
            assert_eq!(x, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, 10_000);
        assert!(q.is_empty());
    }
}
