//! kquic's QUIC protocol core.
//!
//! A sans-IO engine: it is fed bytes and time and returns bytes and timer deadlines. It makes no
//! kernel or OS calls, so the same code is built into `quic.ko` (with `--cfg kernel_build`) and
//! tested on the host with `cargo test` and `cargo fuzz`.
//!
//! Rules that hold for every line of this crate:
//! - no `std`, no `alloc` in kernel builds; every allocation is fallible;
//! - integer math only (no floats, no `u128`);
//! - never panics on any input: checked arithmetic, bounds-checked slices;
//! - no recursion driven by peer data;
//! - no `unsafe`.
// Kbuild already passes `-Zcrate-attr=no_std`; a second one would fail under WERROR.
#![cfg_attr(not(kernel_build), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![deny(clippy::float_arithmetic)]

#[cfg(test)]
extern crate std;

pub mod cid;
pub mod codec;
pub mod conn;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod frame;
pub mod packet;
pub mod recovery;
pub mod stream;
pub mod transport_params;
pub mod varint;

/// `true` for `None`, else `f` of the value: `Option::is_none_or`, which the kernels' Rust
/// lints disagree on (6.12's minimum Rust version predates it; 7.x's clippy asks for it in
/// place of `map_or(true, ..)`).
#[inline]
pub(crate) fn none_or<T>(o: Option<T>, f: impl FnOnce(T) -> bool) -> bool {
    match o {
        Some(v) => f(v),
        None => true,
    }
}
