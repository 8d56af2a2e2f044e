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
//!
//! Nothing allocates under the spinlock: a bucket that is full is replaced by a larger one
//! allocated outside the lock (process context, may sleep), and the old storage is freed
//! outside it too.

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

/// Where `push_locked` found no room: the capacity a replacement needs.
struct Full(usize);

/// Adds `x` to `v` if it has room (never allocates).
fn push_locked<T>(v: &mut MVec<T>, x: T) -> Result<(), (T, Full)> {
    if v.len() < v.capacity() {
        // Cannot fail or allocate: there is room.
        let _ = v.push(x);
        Ok(())
    } else {
        Err((x, Full((v.capacity() * 2).max(4))))
    }
}

/// Moves everything of `old` into `new` (which has room for it) and returns the emptied old
/// storage, to be freed outside the lock.
fn regrow<T>(old: &mut MVec<T>, mut new: MVec<T>) -> MVec<T> {
    while let Some(x) = old.pop() {
        let _ = new.push(x);
    }
    core::mem::replace(old, new)
}

/// Routes `cid` in `net` to `sk`. `EEXIST` if another socket has it. Process context.
pub(crate) fn insert(
    net: *mut sys::net,
    cid: &ConnectionId,
    sk: *mut sys::sock,
) -> Result<(), i32> {
    let net = net as usize;
    let i = bucket(net, cid.as_slice());
    let mut entry = Entry { net, cid: *cid, sk };
    let mut spare: Option<MVec<Entry>> = None;
    loop {
        let old = {
            let mut t = TABLE.lock();
            let b = &mut t.buckets[i];
            if let Some(e) = b.iter().find(|e| e.net == net && e.cid == *cid) {
                return if e.sk == sk {
                    Ok(())
                } else {
                    Err(-(sys::EEXIST as i32))
                };
            }
            if let Some(new) = spare.take() {
                if new.capacity() > b.capacity() {
                    Some(regrow(b, new))
                } else {
                    Some(new)
                }
            } else {
                match push_locked(b, entry) {
                    Ok(()) => return Ok(()),
                    Err((e, Full(cap))) => {
                        entry = e;
                        drop(t);
                        spare = Some(MVec::with_capacity(cap).map_err(|_| -(sys::ENOMEM as i32))?);
                        continue;
                    }
                }
            }
        };
        // Freed outside the lock (vmalloc'd storage must not be freed under a spinlock).
        drop(old);
    }
}

/// Stops routing `cid` to `sk`.
pub(crate) fn remove(net: *mut sys::net, cid: &ConnectionId, sk: *mut sys::sock) {
    let net = net as usize;
    let mut t = TABLE.lock();
    t.buckets[bucket(net, cid.as_slice())]
        .retain(|e| !(e.net == net && e.cid == *cid && e.sk == sk));
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
/// another socket listens there. Process context.
pub(crate) fn listen(tunnel: usize, sk: *mut sys::sock) -> Result<(), i32> {
    let mut l = Listener { tunnel, sk };
    let mut spare: Option<MVec<Listener>> = None;
    loop {
        let old = {
            let mut t = TABLE.lock();
            if let Some(x) = t.listeners.iter().find(|x| x.tunnel == tunnel) {
                return if x.sk == sk {
                    Ok(())
                } else {
                    Err(-(sys::EADDRINUSE as i32))
                };
            }
            if let Some(new) = spare.take() {
                if new.capacity() > t.listeners.capacity() {
                    Some(regrow(&mut t.listeners, new))
                } else {
                    Some(new)
                }
            } else {
                match push_locked(&mut t.listeners, l) {
                    Ok(()) => return Ok(()),
                    Err((x, Full(cap))) => {
                        l = x;
                        drop(t);
                        spare = Some(MVec::with_capacity(cap).map_err(|_| -(sys::ENOMEM as i32))?);
                        continue;
                    }
                }
            }
        };
        drop(old);
    }
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
    for i in 0..BUCKETS {
        let old = {
            let mut t = TABLE.lock();
            if t.buckets[i].is_empty() {
                core::mem::take(&mut t.buckets[i])
            } else {
                MVec::new()
            }
        };
        drop(old);
    }
    let old = {
        let mut t = TABLE.lock();
        if t.listeners.is_empty() {
            core::mem::take(&mut t.listeners)
        } else {
            MVec::new()
        }
    };
    drop(old);
}
