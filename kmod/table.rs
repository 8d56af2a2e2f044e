// SPDX-License-Identifier: GPL-2.0
//! Where a received datagram goes: the connection-ID table (our connection IDs, and a server
//! connection's original destination ID until the handshake ends, to the socket) and the
//! listener of each tunnel. Both live under one spinlock taken with bottom halves disabled:
//! the tunnel's `encap_rcv` (softirq) looks up and takes a socket reference under it, and a
//! socket leaves the table under it before it is released, so a reference taken here is
//! always to a live socket.
//!
//! Entries are keyed by network namespace as well: connection IDs are only unique per
//! namespace.

use quic_mem::Vec as MVec;
use quic_proto::cid::ConnectionId;

use crate::sync::TableLocked;
use crate::sys;

const BUCKETS: usize = 256;

struct Entry {
    net: usize,
    cid: ConnectionId,
    sk: *mut sys::sock,
}

struct Listener {
    tunnel: usize,
    sk: *mut sys::sock,
}

struct Table {
    buckets: [MVec<Entry>; BUCKETS],
    listeners: MVec<Listener>,
}

// SAFETY: the raw socket pointers are only dereferenced (sock_hold) under the table lock, while
// the socket is guaranteed live (see the module doc).
unsafe impl Send for Table {}

static TABLE: TableLocked<Table> = TableLocked::new(Table {
    buckets: [const { MVec::new() }; BUCKETS],
    listeners: MVec::new(),
});

fn bucket(net: usize, cid: &[u8]) -> usize {
    // FNV-1a over the ID, mixed with the namespace. Connection IDs are random (ours) or chosen
    // by an unauthenticated client (original DCIDs): a flood of equal-bucket IDs only costs
    // the flooder's own entries, which are bounded by the accept queue.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ (net as u64);
    for b in cid {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize % BUCKETS
}

/// Routes `cid` in `net` to `sk`. `EEXIST` if another socket has it.
pub(crate) fn insert(net: *mut sys::net, cid: &ConnectionId, sk: *mut sys::sock) -> Result<(), i32> {
    let net = net as usize;
    let mut t = TABLE.lock();
    let b = &mut t.buckets[bucket(net, cid.as_slice())];
    if let Some(e) = b.iter().find(|e| e.net == net && e.cid == *cid) {
        return if e.sk == sk { Ok(()) } else { Err(-(sys::EEXIST as i32)) };
    }
    b.push(Entry { net, cid: *cid, sk })
        .map_err(|_| -(sys::ENOMEM as i32))
}

/// Stops routing `cid` to `sk`.
pub(crate) fn remove(net: *mut sys::net, cid: &ConnectionId, sk: *mut sys::sock) {
    let net = net as usize;
    let mut t = TABLE.lock();
    t.buckets[bucket(net, cid.as_slice())].retain(|e| !(e.net == net && e.cid == *cid && e.sk == sk));
}

/// The socket `cid` routes to in `net`, with a reference the caller drops with `kq_sock_put`.
pub(crate) fn lookup(net: *mut sys::net, cid: &[u8]) -> Option<*mut sys::sock> {
    let net = net as usize;
    let t = TABLE.lock();
    let e = t.buckets[bucket(net, cid)]
        .iter()
        .find(|e| e.net == net && e.cid.as_slice() == cid)?;
    // SAFETY: a socket in the table is live (it leaves the table, under this lock, before it is
    // released).
    unsafe { sys::kq_sock_hold(e.sk) };
    Some(e.sk)
}

/// Makes `sk` the listener of `tunnel` (an address identifying the tunnel). `EADDRINUSE` if
/// another socket listens there.
pub(crate) fn listen(tunnel: usize, sk: *mut sys::sock) -> Result<(), i32> {
    let mut t = TABLE.lock();
    if let Some(l) = t.listeners.iter().find(|l| l.tunnel == tunnel) {
        return if l.sk == sk { Ok(()) } else { Err(-(sys::EADDRINUSE as i32)) };
    }
    t.listeners
        .push(Listener { tunnel, sk })
        .map_err(|_| -(sys::ENOMEM as i32))
}

/// Stops `sk` listening.
pub(crate) fn unlisten(sk: *mut sys::sock) {
    TABLE.lock().listeners.retain(|l| l.sk != sk);
}

/// The listener of `tunnel`, with a reference the caller drops with `kq_sock_put`.
pub(crate) fn listener(tunnel: usize) -> Option<*mut sys::sock> {
    let t = TABLE.lock();
    let l = t.listeners.iter().find(|l| l.tunnel == tunnel)?;
    // SAFETY: as in `lookup`.
    unsafe { sys::kq_sock_hold(l.sk) };
    Some(l.sk)
}

/// Frees the table's storage once nothing is left in it (module unload).
pub(crate) fn release_storage() {
    let mut t = TABLE.lock();
    for b in t.buckets.iter_mut() {
        if b.is_empty() {
            *b = MVec::new();
        }
    }
    if t.listeners.is_empty() {
        t.listeners = MVec::new();
    }
}
