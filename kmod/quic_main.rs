// SPDX-License-Identifier: GPL-2.0
//! kquic: QUIC sockets (`IPPROTO_QUIC`) in the Linux kernel.
//!
//! This crate is the kernel glue, one file per concern (in the style of net/sctp and
//! net/mptcp): `family` registers the protocol, `socket` holds the socket layout and its proto
//! callbacks, `tunnel` the shared UDP tunnel sockets, `sockopt` the SOL_QUIC options. The protocol
//! itself lives in the `quic_proto` crate (sans-IO, no unsafe), which is linked in.

use kernel::prelude::*;

mod addr;
mod crypto;
mod driver;
mod family;
mod listen;
mod msg;
mod rx;
mod selftest;
mod socket;
mod sockopt;
mod sync;
mod sys;
mod table;
mod tunnel;
mod tx;

/// The module's metadata; the author key is spelled per kernel (`authors` in 7.x, probed by
/// Kbuild as `kq_module_authors`).
macro_rules! quic_module {
    ($($author:tt)*) => {
        module! {
            type: QuicModule,
            name: "quic",
            $($author)*
            description: "QUIC sockets (IPPROTO_QUIC) over UDP tunnels",
            license: "GPL",
            alias: [
                "net-pf-2-proto-261",
                "net-pf-10-proto-261",
                "net-pf-2-proto-261-type-1",
                "net-pf-2-proto-261-type-2",
                "net-pf-10-proto-261-type-1",
                "net-pf-10-proto-261-type-2",
            ],
        }
    };
}

#[cfg(kq_module_authors)]
quic_module!(authors: ["kquic developers"],);
#[cfg(not(kq_module_authors))]
quic_module!(author: "kquic developers",);

/// Fields drop in order: the socket registration before the namespaces' tunnel tables.
struct QuicModule {
    _reg: KBox<family::Registration>,
    _pernet: Pernet,
}

/// The `pernet_operations` that give each network namespace its tunnel table; unregistering
/// runs the exit hook of every namespace, freeing their tables.
struct Pernet;

impl Pernet {
    fn register() -> Result<Self> {
        // SAFETY: module init, process context; undone by `drop`.
        kernel::error::to_result(unsafe { sys::kq_pernet_register() })?;
        Ok(Pernet)
    }
}

impl Drop for Pernet {
    fn drop(&mut self) {
        // SAFETY: registered by `register`; no socket of ours exists any more.
        unsafe { sys::kq_pernet_unregister() };
    }
}

impl kernel::Module for QuicModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // The core must protect packets correctly through the kernel crypto API before any
        // socket can exist.
        // The socket layout Rust uses (bindgen's view of shim.h) must be the C compiler's.
        // SAFETY: compares numbers only.
        kernel::error::to_result(unsafe {
            sys::kq_layout_check(
                core::mem::size_of::<socket::QuicSock>(),
                core::mem::size_of::<socket::Quic6Sock>(),
                core::mem::offset_of!(socket::Quic6Sock, v6),
            )
        })?;
        selftest::run()?;
        // Namespaces first (each gets its tunnel table), then the workqueue, then sockets.
        let pernet = Pernet::register()?;
        // SAFETY: module init, process context; undone in `drop`.
        kernel::error::to_result(unsafe { sys::kq_wq_init() })?;
        let reg = match family::Registration::register(module) {
            Ok(r) => r,
            Err(e) => {
                // SAFETY: created above; no socket can exist.
                unsafe { sys::kq_wq_exit() };
                return Err(e);
            }
        };
        pr_info!(
            "IPPROTO_QUIC ({}) registered for AF_INET and AF_INET6\n",
            family::IPPROTO_QUIC
        );
        Ok(QuicModule {
            _reg: reg,
            _pernet: pernet,
        })
    }
}

impl Drop for QuicModule {
    fn drop(&mut self) {
        // Every socket is gone (each held a module reference), so no work item is queued.
        // SAFETY: created in `init`.
        unsafe { sys::kq_wq_exit() };
        table::release_storage();
        let left = tunnel::count();
        if left != 0 {
            pr_err!("{} UDP tunnel sockets still open at unload\n", left);
        }
        pr_info!("unloaded\n");
    }
}
