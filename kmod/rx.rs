// SPDX-License-Identifier: GPL-2.0
//! Receive: the tunnel's `encap_rcv` (softirq) finds the socket a datagram is for and queues
//! it there; the socket's work item (process context, socket lock held) hands it to the
//! engine or, on a listener, to the accept logic.
//!
//! Softirq does no protocol work at all: only the routing lookup, a reference and a queue
//! append. Everything the engine does (decryption, key derivation, allocation) then runs in
//! process context, where it may sleep.

use core::net::SocketAddr;
use core::ptr;
use kernel::ffi::c_int;

use quic_proto::recovery::ecn::EcnCodepoint;

use crate::addr;
use crate::sys;
use crate::table;

/// Length of the connection IDs kquic issues (short headers carry no length).
pub(crate) const LOCAL_CID_LEN: usize = 8;

/// Datagrams arrive here for every tunnel socket (softirq, under RCU).
///
/// # Safety
/// Called by the UDP stack with a valid tunnel socket `usk` and an `skb` we now own.
pub(crate) unsafe extern "C" fn encap_rcv(usk: *mut sys::sock, skb: *mut sys::sk_buff) -> c_int {
    // SAFETY: `usk` is a live UDP socket; its user data is our tunnel (or NULL while it is
    // being released).
    let tunnel = unsafe { sys::kq_sk_user_data(usk) } as usize;
    // SAFETY: as above.
    let net = unsafe { sys::kq_sock_net(usk) };
    let mut avail = 0u32;
    // A long header's DCID ends at most 6 + 20 bytes in.
    // SAFETY: `skb` is ours; the returned pointer covers `avail` linear bytes.
    let head = unsafe { sys::kq_skb_peek(skb, 26, &mut avail) };
    let sk = if tunnel == 0 || head.is_null() {
        None
    } else {
        // SAFETY: `head` points to `avail` readable bytes of the skb, which we own.
        let bytes = unsafe { core::slice::from_raw_parts(head, avail as usize) };
        match quic_proto::endpoint::dcid(bytes, LOCAL_CID_LEN) {
            Some(dcid) => table::lookup(net, dcid).or_else(|| table::listener(tunnel)),
            None => None,
        }
    };
    match sk {
        Some(sk) => {
            // SAFETY: `sk` is live (we hold a reference); the skb is handed over; `net` is the
            // tunnel's live namespace.
            unsafe {
                sys::kq_mib_add(net, sys::kq_mib_KQ_MIB_IN_DATAGRAMS as i32, 1);
                sys::kq_rx_enqueue(sk, skb);
                sys::kq_sock_put(sk);
            }
        }
        // SAFETY: nobody wants it: we own the skb.
        None => unsafe {
            sys::kq_mib_add(net, sys::kq_mib_KQ_MIB_IN_NO_SOCKET as i32, 1);
            sys::kq_kfree_skb(skb);
        },
    }
    0
}

/// A datagram taken off a socket's receive queue, made linear and private.
pub(crate) struct RxDatagram {
    skb: *mut sys::sk_buff,
    data: *mut u8,
    len: usize,
    /// The sender.
    pub(crate) from: SocketAddr,
    /// The local address it was sent to.
    pub(crate) to: SocketAddr,
    /// The IP header's ECN codepoint.
    pub(crate) ecn: EcnCodepoint,
}

impl RxDatagram {
    /// The next datagram queued for `sk`, if any; malformed ones are dropped.
    ///
    /// # Safety
    /// `sk` is a live QUIC socket (process context).
    pub(crate) unsafe fn next(sk: *mut sys::sock) -> Option<RxDatagram> {
        loop {
            // SAFETY: `sk` is live; the queue has its own lock.
            let skb = unsafe { sys::kq_rx_dequeue(sk) };
            if skb.is_null() {
                return None;
            }
            let mut a = sys::kq_dgram_addr::default();
            let mut data = ptr::null_mut();
            let mut len = 0u32;
            // SAFETY: we own `skb`; the out-pointers are valid.
            if unsafe { sys::kq_skb_rx_prepare(skb, &mut a, &mut data, &mut len) } != 0 {
                // SAFETY: still ours.
                unsafe { sys::kq_kfree_skb(skb) };
                continue;
            }
            let ecn = match a.ecn & 3 {
                1 => EcnCodepoint::Ect1,
                2 => EcnCodepoint::Ect0,
                3 => EcnCodepoint::Ce,
                _ => EcnCodepoint::NotEct,
            };
            return Some(RxDatagram {
                skb,
                data,
                len: len as usize,
                from: addr::from_raw(a.family, &a.saddr, a.sport),
                to: addr::from_raw(a.family, &a.daddr, a.dport),
                ecn,
            });
        }
    }

    /// The UDP payload, writable (the engine decrypts in place).
    pub(crate) fn payload(&mut self) -> &mut [u8] {
        // SAFETY: `kq_skb_rx_prepare` made `len` bytes at `data` linear and private to this
        // skb, which we own until drop; `&mut self` makes the slice unique.
        unsafe { core::slice::from_raw_parts_mut(self.data, self.len) }
    }

    /// Gives up ownership of the skb (a listener keeps it for `accept`).
    pub(crate) fn into_raw(self) -> *mut sys::sk_buff {
        let skb = self.skb;
        core::mem::forget(self);
        skb
    }

    /// Takes back an skb from `into_raw`, re-reading its addresses.
    ///
    /// # Safety
    /// `skb` came from `into_raw` and is not used elsewhere.
    pub(crate) unsafe fn from_raw(skb: *mut sys::sk_buff) -> Option<RxDatagram> {
        let mut a = sys::kq_dgram_addr::default();
        let mut data = ptr::null_mut();
        let mut len = 0u32;
        // SAFETY: per the contract we own `skb`, already prepared once (idempotent).
        if unsafe { sys::kq_skb_rx_prepare(skb, &mut a, &mut data, &mut len) } != 0 {
            // SAFETY: ours.
            unsafe { sys::kq_kfree_skb(skb) };
            return None;
        }
        Some(RxDatagram {
            skb,
            data,
            len: len as usize,
            from: addr::from_raw(a.family, &a.saddr, a.sport),
            to: addr::from_raw(a.family, &a.daddr, a.dport),
            ecn: EcnCodepoint::NotEct,
        })
    }
}

impl Drop for RxDatagram {
    fn drop(&mut self) {
        // SAFETY: we own the skb.
        unsafe { sys::kq_kfree_skb(self.skb) };
    }
}
