//! A first-in first-out queue on a fallible [`quic_mem::Vec`], for values that are not `Copy`
//! (events carrying bytes). The dead front is reclaimed once it is at least half the array, so
//! each value is moved a bounded number of times.

use quic_mem::{AllocError, Vec};

/// A FIFO queue.
#[derive(Debug, Default)]
pub(crate) struct Queue<T> {
    items: Vec<Option<T>>,
    head: usize,
}

impl<T> Queue<T> {
    /// An empty queue; does not allocate.
    pub(crate) const fn new() -> Self {
        Self {
            items: Vec::new(),
            head: 0,
        }
    }

    /// Number of queued values.
    pub(crate) fn len(&self) -> usize {
        self.items.len().saturating_sub(self.head)
    }

    /// True when nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `x` at the back.
    pub(crate) fn push(&mut self, x: T) -> Result<(), AllocError> {
        if self.items.len() == self.items.capacity() && self.head > 0 {
            self.items.drain_front(self.head);
            self.head = 0;
        }
        self.items.push(Some(x))
    }

    /// Removes the value at the front.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let x = self.items.get_mut(self.head)?.take();
        self.head += 1;
        if self.head >= self.items.len() {
            self.items.clear();
            self.head = 0;
        }
        x
    }

    /// The value at the front.
    pub(crate) fn peek(&self) -> Option<&T> {
        self.items.get(self.head).and_then(|x| x.as_ref())
    }

    /// The queued values, front first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.items
            .get(self.head..)
            .unwrap_or(&[])
            .iter()
            .filter_map(|x| x.as_ref())
    }

    /// Drops every value.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order() {
        let mut q = Queue::new();
        for i in 0..100 {
            q.push(i).unwrap();
            if i % 3 == 0 {
                q.pop();
            }
        }
        let mut last = None;
        let n = q.len();
        let mut seen = 0;
        while let Some(x) = q.pop() {
            assert!(last.map_or(true, |l| x > l));
            last = Some(x);
            seen += 1;
        }
        assert_eq!(seen, n);
        assert!(q.is_empty());
        assert!(q.peek().is_none());
    }
}
