// SPDX-License-Identifier: GPL-2.0
//! Raw kernel bindings, generated at module build time from `bindings.h` (which also declares the
//! C shim of `shim.c`). Only the glue files of this module use them.
#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    dead_code,
    improper_ctypes,
    unnecessary_transmutes,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::as_underscore,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::ref_as_ptr,
    clippy::ptr_cast_constness,
    clippy::as_ptr_cast_mut,
    missing_docs,
    unreachable_pub,
    rustdoc::all
)]

use kernel::ffi;
// Newer trees have bindgen derive `MaybeZeroable` on every struct and union (probed by Kbuild),
// as the kernel's own bindings do.
#[cfg(kq_bindings_zeroable)]
use pin_init::{MaybeZeroable, Zeroable};
#[cfg(kq_bindings_zeroable)]
// SAFETY: `__BindgenBitfieldUnit<Storage>` is a transparent wrapper of `Storage`, so all-zero
// bytes are a valid value of it whenever they are of `Storage`.
unsafe impl<Storage> Zeroable for __BindgenBitfieldUnit<Storage> where Storage: Zeroable {}
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");

/// Decodes an `ERR_PTR`-style return: `Ok(ptr)` for a valid pointer, `Err(errno)` otherwise.
pub(crate) fn from_err_ptr<T>(ptr: *mut T) -> Result<*mut T, i32> {
    // SAFETY: `kq_ptr_err` only inspects the pointer value (IS_ERR/PTR_ERR), never dereferences.
    let err = unsafe { kq_ptr_err(ptr.cast()) };
    if err != 0 {
        Err(err as i32)
    } else if ptr.is_null() {
        Err(-(ENOMEM as i32))
    } else {
        Ok(ptr)
    }
}
