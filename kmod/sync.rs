// SPDX-License-Identifier: GPL-2.0
//! Module-global state guarded by a C mutex (6.12's Rust `Mutex` cannot be a `static`).

use core::cell::UnsafeCell;

use crate::sys;

/// A value only reachable while holding the module's tunnel mutex (`kq_tunnel_mutex` in shim.c).
pub(crate) struct TunnelLocked<T> {
    data: UnsafeCell<T>,
}

// SAFETY: every access to `data` goes through `lock()`, which holds the C mutex for the lifetime of
// the guard, so at most one thread touches the value at a time.
unsafe impl<T: Send> Sync for TunnelLocked<T> {}

impl<T> TunnelLocked<T> {
    pub(crate) const fn new(v: T) -> Self {
        Self {
            data: UnsafeCell::new(v),
        }
    }

    /// Takes the mutex (may sleep: process context only).
    pub(crate) fn lock(&self) -> TunnelGuard<'_, T> {
        // SAFETY: the mutex is statically initialised in shim.c; process context per contract.
        unsafe { sys::kq_tunnel_lock() };
        TunnelGuard { cell: self }
    }
}

/// Holds the tunnel mutex; releases it on drop.
pub(crate) struct TunnelGuard<'a, T> {
    cell: &'a TunnelLocked<T>,
}

impl<T> core::ops::Deref for TunnelGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the mutex is held, so no other reference is live.
        unsafe { &*self.cell.data.get() }
    }
}

impl<T> core::ops::DerefMut for TunnelGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference through this guard.
        unsafe { &mut *self.cell.data.get() }
    }
}

impl<T> Drop for TunnelGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this guard took the mutex in `lock()` and releases it exactly once.
        unsafe { sys::kq_tunnel_unlock() };
    }
}
