//! Fallible storage for the kquic protocol core.
//!
//! The core (`quic-proto`) has no `unsafe` and must build both inside `quic.ko` and on the host.
//! This crate is the one place where its heap storage comes from:
//! - in the kernel (`--cfg kernel_build`) [`Vec`] wraps `KVVec` (kmalloc, falling back to
//!   vmalloc for large buffers such as a connection's send buffer) and [`Box`] wraps `KBox`;
//!   both allocate with `GFP_KERNEL_ACCOUNT`: quic.ko runs the core only in process context (a
//!   socket's system calls and its work item, never under a spinlock), so allocations may sleep
//!   and reclaim, and they are charged to the memory cgroup of the task that makes them (the
//!   application for what its system calls queue). The few operations 6.12's vector lacks (`pop`, `truncate`) are built here, as
//!   kernel glue, each unsafe block justified in place (newer kernels' own are used there);
//! - on the host they wrap `alloc`'s types and use `try_reserve`, so that tests see the same
//!   fallible API.
//!
//! Every growing operation returns `Result<_, AllocError>`; nothing here aborts on OOM.
#![cfg_attr(not(kernel_build), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(not(kernel_build))]
extern crate alloc;

use core::fmt;
use core::ops::{Deref, DerefMut};

/// An allocation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError;

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("out of memory")
    }
}

#[cfg(kernel_build)]
mod imp {
    use super::AllocError;
    use kernel::alloc::flags::GFP_KERNEL_ACCOUNT as GFP;
    pub(crate) type RawVec<T> = kernel::alloc::KVVec<T>;
    pub(crate) type RawBox<T> = kernel::alloc::KBox<T>;

    pub(crate) const fn new_vec<T>() -> RawVec<T> {
        RawVec::new()
    }
    pub(crate) fn reserve<T>(v: &mut RawVec<T>, n: usize) -> Result<(), AllocError> {
        v.reserve(n, GFP).map_err(|_| AllocError)
    }
    pub(crate) fn push<T>(v: &mut RawVec<T>, x: T) -> Result<(), AllocError> {
        v.push(x, GFP).map_err(|_| AllocError)
    }
    // Newer kernels' vector has `pop` and `truncate` (probed by Kbuild: `kq_kvec_truncate`).
    #[cfg(kq_kvec_truncate)]
    pub(crate) fn pop<T>(v: &mut RawVec<T>) -> Option<T> {
        v.pop()
    }
    #[cfg(kq_kvec_truncate)]
    pub(crate) fn truncate<T>(v: &mut RawVec<T>, len: usize) {
        v.truncate(len)
    }
    #[cfg(not(kq_kvec_truncate))]
    pub(crate) fn pop<T>(v: &mut RawVec<T>) -> Option<T> {
        let len = v.len();
        if len == 0 {
            return None;
        }
        // SAFETY: `len - 1 < len`, so the element is initialised; after `set_len(len - 1)` the
        // vector no longer owns it, so reading it out moves ownership to the caller exactly once.
        unsafe {
            v.set_len(len - 1);
            Some(core::ptr::read(v.as_ptr().add(len - 1)))
        }
    }
    #[cfg(not(kq_kvec_truncate))]
    pub(crate) fn truncate<T>(v: &mut RawVec<T>, len: usize) {
        let old = v.len();
        if len >= old {
            return;
        }
        // SAFETY: elements `len..old` are initialised and owned by the vector. Shrinking the
        // length first means a panicking destructor cannot cause a double drop; then each
        // element in the tail is dropped exactly once.
        unsafe {
            v.set_len(len);
            let tail = core::ptr::slice_from_raw_parts_mut(v.as_mut_ptr().add(len), old - len);
            core::ptr::drop_in_place(tail);
        }
    }
    pub(crate) fn new_box<T>(x: T) -> Result<RawBox<T>, AllocError> {
        RawBox::new(x, GFP).map_err(|_| AllocError)
    }
    pub(crate) fn extend<T: Clone>(v: &mut RawVec<T>, s: &[T]) -> Result<(), AllocError> {
        v.extend_from_slice(s, GFP).map_err(|_| AllocError)
    }
}

#[cfg(not(kernel_build))]
mod imp {
    use super::AllocError;
    pub(crate) type RawVec<T> = alloc::vec::Vec<T>;
    pub(crate) type RawBox<T> = alloc::boxed::Box<T>;

    pub(crate) const fn new_vec<T>() -> RawVec<T> {
        RawVec::new()
    }
    pub(crate) fn reserve<T>(v: &mut RawVec<T>, n: usize) -> Result<(), AllocError> {
        v.try_reserve(n).map_err(|_| AllocError)
    }
    pub(crate) fn push<T>(v: &mut RawVec<T>, x: T) -> Result<(), AllocError> {
        reserve(v, 1)?;
        v.push(x);
        Ok(())
    }
    pub(crate) fn pop<T>(v: &mut RawVec<T>) -> Option<T> {
        v.pop()
    }
    pub(crate) fn truncate<T>(v: &mut RawVec<T>, len: usize) {
        v.truncate(len)
    }
    pub(crate) fn new_box<T>(x: T) -> Result<RawBox<T>, AllocError> {
        // `Box::try_new` is unstable on the host; the host is only where the core is tested,
        // and the kernel build, which matters, allocates fallibly.
        Ok(alloc::boxed::Box::new(x))
    }
    pub(crate) fn extend<T: Clone>(v: &mut RawVec<T>, s: &[T]) -> Result<(), AllocError> {
        reserve(v, s.len())?;
        v.extend_from_slice(s);
        Ok(())
    }
}

/// A growable array whose every growing operation is fallible.
pub struct Vec<T> {
    raw: imp::RawVec<T>,
}

impl<T> Vec<T> {
    /// An empty vector; does not allocate.
    pub const fn new() -> Self {
        Self {
            raw: imp::new_vec(),
        }
    }

    /// A vector with room for at least `n` elements.
    pub fn with_capacity(n: usize) -> Result<Self, AllocError> {
        let mut v = Self::new();
        v.reserve(n)?;
        Ok(v)
    }

    /// Makes room for at least `n` more elements.
    pub fn reserve(&mut self, n: usize) -> Result<(), AllocError> {
        imp::reserve(&mut self.raw, n)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    /// Elements the vector can hold without allocating.
    pub fn capacity(&self) -> usize {
        self.raw.capacity()
    }

    /// Appends `x`; on failure `x` is dropped and the vector is unchanged.
    pub fn push(&mut self, x: T) -> Result<(), AllocError> {
        imp::push(&mut self.raw, x)
    }

    /// Removes and returns the last element.
    pub fn pop(&mut self) -> Option<T> {
        imp::pop(&mut self.raw)
    }

    /// Drops every element from index `len` on.
    pub fn truncate(&mut self, len: usize) {
        imp::truncate(&mut self.raw, len)
    }

    /// Drops every element.
    pub fn clear(&mut self) {
        self.truncate(0)
    }

    /// Inserts `x` at `index` (at most `len()`), shifting later elements right.
    pub fn insert(&mut self, index: usize, x: T) -> Result<(), AllocError> {
        if index > self.len() {
            return Err(AllocError);
        }
        self.push(x)?;
        self.raw[index..].rotate_right(1);
        Ok(())
    }

    /// Removes and returns the element at `index`, shifting later elements left.
    pub fn remove(&mut self, index: usize) -> Option<T> {
        if index >= self.len() {
            return None;
        }
        self.raw[index..].rotate_left(1);
        self.pop()
    }

    /// Removes the first `n` elements (all of them if `n >= len()`).
    pub fn drain_front(&mut self, n: usize) {
        let n = n.min(self.len());
        self.raw.rotate_left(n);
        let keep = self.len() - n;
        self.truncate(keep);
    }

    /// Keeps only the elements for which `keep` returns true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let mut w = 0;
        for r in 0..self.len() {
            if keep(&self.raw[r]) {
                self.raw.swap(w, r);
                w += 1;
            }
        }
        self.truncate(w);
    }

    /// The elements as a slice.
    pub fn as_slice(&self) -> &[T] {
        &self.raw
    }

    /// The elements as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        &mut self.raw
    }
}

impl<T: Clone> Vec<T> {
    /// Appends clones of every element of `s`; on failure nothing is appended.
    pub fn extend_from_slice(&mut self, s: &[T]) -> Result<(), AllocError> {
        imp::extend(&mut self.raw, s)
    }

    /// Resizes to `len`, filling new slots with clones of `value`.
    pub fn resize(&mut self, len: usize, value: T) -> Result<(), AllocError> {
        if len <= self.len() {
            self.truncate(len);
            return Ok(());
        }
        self.reserve(len - self.len())?;
        while self.len() < len {
            self.push(value.clone())?;
        }
        Ok(())
    }

    /// A copy of the vector.
    pub fn try_clone(&self) -> Result<Self, AllocError> {
        let mut v = Self::with_capacity(self.len())?;
        v.extend_from_slice(self)?;
        Ok(v)
    }
}

impl<T> Default for Vec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Deref for Vec<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.raw
    }
}

impl<T> DerefMut for Vec<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.raw
    }
}

impl<T: fmt::Debug> fmt::Debug for Vec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: PartialEq> PartialEq for Vec<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Eq> Eq for Vec<T> {}

/// A heap-allocated value, allocated fallibly.
pub struct Box<T> {
    raw: imp::RawBox<T>,
}

impl<T> Box<T> {
    /// Moves `x` to the heap.
    pub fn new(x: T) -> Result<Self, AllocError> {
        Ok(Self {
            raw: imp::new_box(x)?,
        })
    }
}

impl<T> Deref for Box<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.raw
    }
}

impl<T> DerefMut for Box<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.raw
    }
}

impl<T: fmt::Debug> fmt::Debug for Box<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_ops() {
        let mut v = Vec::new();
        for i in 0..10 {
            v.push(i).unwrap();
        }
        assert_eq!(v.pop(), Some(9));
        v.insert(0, 100).unwrap();
        assert_eq!(&v[..3], &[100, 0, 1]);
        assert_eq!(v.remove(0), Some(100));
        assert_eq!(v.remove(99), None);
        assert!(v.insert(99, 1).is_err());
        v.drain_front(2);
        assert_eq!(v.as_slice(), &[2, 3, 4, 5, 6, 7, 8]);
        v.retain(|x| x % 2 == 0);
        assert_eq!(v.as_slice(), &[2, 4, 6, 8]);
        v.truncate(1);
        assert_eq!(v.as_slice(), &[2]);
        v.resize(3, 7).unwrap();
        assert_eq!(v.as_slice(), &[2, 7, 7]);
        let w = v.try_clone().unwrap();
        assert_eq!(v, w);
        v.clear();
        assert!(v.is_empty());
        let b = Box::new([1u8; 64]).unwrap();
        assert_eq!(b[63], 1);
    }

    #[test]
    fn drops_exactly_once() {
        use core::cell::Cell;
        struct D<'a>(&'a Cell<u32>);
        impl Drop for D<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let n = Cell::new(0);
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(D(&n)).unwrap();
        }
        v.truncate(2);
        assert_eq!(n.get(), 3);
        drop(v.pop());
        assert_eq!(n.get(), 4);
        drop(v);
        assert_eq!(n.get(), 5);
    }
}
