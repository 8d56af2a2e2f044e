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
    missing_docs,
    unreachable_pub,
    rustdoc::all
)]

use kernel::ffi;
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
