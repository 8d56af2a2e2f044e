// SPDX-License-Identifier: GPL-2.0
//! Module-global state guarded by a C lock (6.12's Rust locks cannot be `static`s): the
//! connection table's spinlock (taken with bottom halves disabled, so softirq readers and
//! process-context writers exclude each other). The tunnel tables are per namespace (tunnel.rs).

use core::cell::UnsafeCell;
use core::marker::PhantomData;

use crate::sys;

/// A lock defined in shim.c.
pub(crate) trait RawLock {
    /// Takes the lock.
    fn lock();
    /// Releases the lock taken by `lock`.
    fn unlock();
}

/// `kq_table_spin`, taken with `spin_lock_bh`: any context, never sleeps.
pub(crate) struct TableSpin;

impl RawLock for TableSpin {
    fn lock() {
        // SAFETY: the spinlock is statically initialised in shim.c; valid in any context.
        unsafe { sys::kq_table_lock() }
    }
    fn unlock() {
        // SAFETY: paired with `lock` by `Guard`.
        unsafe { sys::kq_table_unlock() }
    }
}

/// A value only reachable while holding the C lock `L`.
pub(crate) struct Locked<T, L: RawLock> {
    data: UnsafeCell<T>,
    _lock: PhantomData<L>,
}

/// Guarded by the table spinlock.
pub(crate) type TableLocked<T> = Locked<T, TableSpin>;

// SAFETY: every access to `data` goes through `lock()`, which holds the C lock for the lifetime
// of the guard, so at most one thread touches the value at a time.
unsafe impl<T: Send, L: RawLock> Sync for Locked<T, L> {}

impl<T, L: RawLock> Locked<T, L> {
    pub(crate) const fn new(v: T) -> Self {
        Self {
            data: UnsafeCell::new(v),
            _lock: PhantomData,
        }
    }

    /// Takes the lock (for the tunnel mutex: may sleep, process context only).
    pub(crate) fn lock(&self) -> Guard<'_, T, L> {
        L::lock();
        Guard { cell: self }
    }
}

/// Holds the lock; releases it on drop.
pub(crate) struct Guard<'a, T, L: RawLock> {
    cell: &'a Locked<T, L>,
}

impl<T, L: RawLock> core::ops::Deref for Guard<'_, T, L> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held, so no other reference is live.
        unsafe { &*self.cell.data.get() }
    }
}

impl<T, L: RawLock> core::ops::DerefMut for Guard<'_, T, L> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through this guard.
        unsafe { &mut *self.cell.data.get() }
    }
}

impl<T, L: RawLock> Drop for Guard<'_, T, L> {
    fn drop(&mut self) {
        L::unlock();
    }
}
