// SPDX-License-Identifier: GPL-2.0
//! kquic: QUIC sockets (`IPPROTO_QUIC`) in the Linux kernel.
//!
//! This crate is the kernel glue, one file per concern (in the style of net/sctp and
//! net/mptcp): `family` registers the protocol, `socket` holds the socket layout and its proto
//! callbacks, `tunnel` the shared UDP tunnel sockets, `sockopt` the SOL_QUIC options. The protocol
//! itself lives in the `quic_proto` crate (sans-IO, no unsafe), which is linked in.

use kernel::prelude::*;

mod crypto;
mod family;
mod selftest;
mod socket;
mod sockopt;
mod sync;
mod sys;
mod tunnel;

module! {
    type: QuicModule,
    name: "quic",
    author: "kquic developers",
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

struct QuicModule {
    _reg: KBox<family::Registration>,
}

impl kernel::Module for QuicModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // The core must protect packets correctly through the kernel crypto API before any
        // socket can exist.
        selftest::run()?;
        let reg = family::Registration::register(module)?;
        pr_info!(
            "IPPROTO_QUIC ({}) registered for AF_INET and AF_INET6\n",
            family::IPPROTO_QUIC
        );
        Ok(QuicModule { _reg: reg })
    }
}

impl Drop for QuicModule {
    fn drop(&mut self) {
        let left = tunnel::count();
        if left != 0 {
            pr_err!("{} UDP tunnel sockets still open at unload\n", left);
        }
        pr_info!("unloaded\n");
    }
}
