// SPDX-License-Identifier: GPL-2.0
//! sendmsg, recvmsg and poll: stream data with `QUIC_STREAM_INFO`, handshake bytes with
//! `QUIC_HANDSHAKE_INFO`, datagrams with `MSG_QUIC_DATAGRAM` (spec §4).
//!
//! Blocking calls wait on the socket's wait queue with the lock released and look at the
//! socket state afresh after every wake-up (another thread may have changed it meanwhile).

use kernel::ffi::{c_int, c_long};
use kernel::prelude::*;
use quic_proto::conn::{DatagramError, Level};
use quic_proto::stream::{ApiError, Dir, StreamId};
use quic_uapi as uapi;

use crate::driver::ConnState;
use crate::socket::{self, SockState};
use crate::sys;

/// Bytes copied between user memory and the engine per step.
const CHUNK: usize = 16 * 1024;

/// Stream flags a `QUIC_STREAM_INFO` cmsg may carry.
const STREAM_FLAGS: u32 = uapi::MSG_QUIC_STREAM_NEW
    | uapi::MSG_QUIC_STREAM_FIN
    | uapi::MSG_QUIC_STREAM_UNI
    | uapi::MSG_QUIC_STREAM_DONTWAIT
    | uapi::MSG_QUIC_STREAM_SNDBLOCK;

const MSG_DONTWAIT: i32 = 0x40;
// The poll bits (uapi/linux/eventpoll.h; bindgen cannot read their casted macros).
const EPOLLIN: u32 = 0x1;
const EPOLLOUT: u32 = 0x4;
const EPOLLERR: u32 = 0x8;
const EPOLLHUP: u32 = 0x10;
const EPOLLRDNORM: u32 = 0x40;
const EPOLLWRNORM: u32 = 0x100;
const EPOLLRDHUP: u32 = 0x2000;
const MSG_EOR: i32 = 0x80;
/// `MSG_PEEK`: copy without consuming.
const MSG_PEEK: i32 = 0x2;

fn err(e: u32) -> i32 {
    -(e as i32)
}

/// What a sendmsg carries.
enum Send {
    Stream { id: Option<i64>, flags: u32 },
    Handshake(Level),
    Datagram,
}

/// Waits for a wake-up with the lock released. `Err` for a signal or when `timeo` ran out.
///
/// # Safety
/// `sk` is live and locked by the caller.
unsafe fn wait(sk: *mut sys::sock, timeo: &mut c_long) -> Result<(), i32> {
    // SAFETY: reads the current task's signal state.
    let e = unsafe { sys::kq_signal_errno(*timeo) };
    if e != 0 {
        return Err(e);
    }
    // SAFETY: per the contract; the lock is retaken before returning.
    *timeo = unsafe { sys::kq_wait(sk, *timeo) };
    // What woke us may be datagrams for this task to process (see `kq_rx_enqueue`).
    // SAFETY: locked again.
    unsafe { socket::process_queued(sk) };
    Ok(())
}

/// The state of a locked socket, fetched afresh (after a wait).
///
/// # Safety
/// `sk` is live and locked by the caller for the lifetime of the result.
unsafe fn st<'a>(sk: *mut sys::sock) -> Result<&'a mut SockState, i32> {
    // SAFETY: per the contract.
    unsafe { socket::state(sk) }.ok_or(err(sys::EBADF))
}

/// The connection, or the errno for a socket without one.
fn conn_of(st: &mut SockState) -> Result<&mut ConnState, i32> {
    if st.listener.is_some() {
        return Err(err(sys::EINVAL));
    }
    st.conn.as_deref_mut().ok_or(err(sys::ENOTCONN))
}

fn api_errno(e: ApiError) -> i32 {
    match e {
        ApiError::StreamLimit => err(sys::EAGAIN),
        ApiError::OutOfMemory => err(sys::ENOMEM),
        ApiError::Closed | ApiError::Stopped(_) | ApiError::Reset(_) => err(sys::EPIPE),
        ApiError::UnknownStream | ApiError::WrongDirection => err(sys::EINVAL),
    }
}

/// Parses the control data and flags of a sendmsg.
///
/// # Safety
/// `msg` is the sendmsg's kernel msghdr.
unsafe fn parse_send(msg: *mut sys::msghdr, flags: u32) -> Result<Send, i32> {
    let mut data = [0u8; 16];
    // SAFETY: `msg` is valid; `data` has the 16 bytes the C side may write.
    let ty = unsafe { sys::kq_cmsg_quic(msg, data.as_mut_ptr().cast(), data.len() as c_int) };
    let sflags = match ty {
        t if t == uapi::QUIC_STREAM_INFO => {
            let id = i64::from_ne_bytes(data[..8].try_into().unwrap_or_default());
            let f = u32::from_ne_bytes(data[8..12].try_into().unwrap_or_default());
            if f & !STREAM_FLAGS != 0 {
                return Err(err(sys::EINVAL));
            }
            if flags & uapi::MSG_QUIC_DATAGRAM != 0 {
                return Err(err(sys::EINVAL));
            }
            return Ok(Send::Stream {
                id: Some(id),
                flags: f | (flags & STREAM_FLAGS),
            });
        }
        t if t == uapi::QUIC_HANDSHAKE_INFO => {
            let level = Level::from_abi(data[0]).ok_or(err(sys::EINVAL))?;
            if level == Level::Early || flags & uapi::MSG_QUIC_DATAGRAM != 0 {
                return Err(err(sys::EINVAL));
            }
            return Ok(Send::Handshake(level));
        }
        t if t == -(sys::ENOENT as i32) => flags,
        t => return Err(t),
    };
    if sflags & uapi::MSG_QUIC_DATAGRAM != 0 {
        return Ok(Send::Datagram);
    }
    Ok(Send::Stream {
        id: None,
        flags: sflags & STREAM_FLAGS,
    })
}

/// Copies `len` bytes of the message into a new kernel buffer.
///
/// # Safety
/// `msg` is the sendmsg's msghdr.
unsafe fn copy_in(msg: *mut sys::msghdr, len: usize) -> Result<KVec<u8>, i32> {
    let mut v = KVec::from_elem(0u8, len, GFP_KERNEL).map_err(|_| err(sys::ENOMEM))?;
    // SAFETY: `v` has `len` initialised bytes; the C side copies from the iterator.
    let rc = unsafe { sys::kq_copy_from_msg(v.as_mut_ptr().cast(), msg, len) };
    if rc != 0 {
        return Err(rc);
    }
    Ok(v)
}

/// Resolves (and opens, if needed) the stream a send goes to.
///
/// # Safety
/// `sk` is live and locked.
unsafe fn send_stream(
    sk: *mut sys::sock,
    id: Option<i64>,
    flags: u32,
    nonblock: bool,
    timeo: &mut c_long,
) -> Result<StreamId, i32> {
    loop {
        // SAFETY: locked per the contract.
        let cs = conn_of(unsafe { st(sk) }?)?;
        if cs.error != 0 {
            return Err(err(sys::EPIPE));
        }
        let side = crate::driver::stream_side(&cs.conn);
        let want = id.or(cs.last_stream).unwrap_or(-1);
        let r = if want == -1 {
            let dir = if flags & uapi::MSG_QUIC_STREAM_UNI != 0 {
                Dir::Uni
            } else {
                Dir::Bidi
            };
            cs.conn.stream_open(dir)
        } else {
            let sid = StreamId::new(u64::try_from(want).map_err(|_| err(sys::EINVAL))?);
            if !sid.can_send(side) {
                return Err(err(sys::EINVAL));
            }
            if sid.is_local(side) && cs.conn.streams().get(sid).is_none() {
                cs.conn.stream_open_id(sid).map(|()| sid)
            } else {
                Ok(sid)
            }
        };
        match r {
            Ok(sid) => {
                cs.last_stream = Some(sid.raw() as i64);
                return Ok(sid);
            }
            Err(ApiError::StreamLimit) => {
                // SAFETY: `sk` is live and locked.
                unsafe { cs.drive(sk) };
                if nonblock || flags & uapi::MSG_QUIC_STREAM_DONTWAIT != 0 {
                    return Err(err(sys::EAGAIN));
                }
                // SAFETY: as above.
                unsafe { wait(sk, timeo) }?;
            }
            Err(e) => return Err(api_errno(e)),
        }
    }
}

/// `QUIC_SOCKOPT_STREAM_OPEN` get of the next stream without `MSG_QUIC_STREAM_DONTWAIT`: opens
/// it, waiting up to `SO_SNDTIMEO` for the peer's MAX_STREAMS when at its limit (as a sendmsg
/// on a new stream does); returns the stream ID.
///
/// # Safety
/// `sk` is a live socket of ours, not locked by the caller (process context).
pub(crate) unsafe fn stream_open_wait(sk: *mut sys::sock, uni: bool) -> Result<i64, i32> {
    let flags = if uni { uapi::MSG_QUIC_STREAM_UNI } else { 0 };
    // SAFETY: `sk` is live.
    let mut timeo = unsafe { sys::kq_sndtimeo(sk, 0) };
    // SAFETY: `sk` is live; process context.
    unsafe { sys::kq_lock_sock(sk) };
    // SAFETY: locked until the release below.
    let r = unsafe { send_stream(sk, Some(-1), flags, false, &mut timeo) };
    // SAFETY: taken above; released right after.
    unsafe {
        socket::process_queued(sk);
        sys::kq_release_sock(sk);
    }
    r.map(|sid| sid.raw() as i64)
}

/// Writes the message to stream `sid`, waiting for buffer room unless non-blocking.
///
/// # Safety
/// `sk` is live and locked; `msg` the sendmsg's msghdr.
unsafe fn send_data(
    sk: *mut sys::sock,
    msg: *mut sys::msghdr,
    sid: StreamId,
    fin: bool,
    nonblock: bool,
    timeo: &mut c_long,
) -> Result<usize, i32> {
    // SAFETY: `msg` is valid.
    let mut left = unsafe { sys::kq_msg_left(msg) };
    let mut buf =
        KVec::from_elem(0u8, CHUNK.min(left.max(1)), GFP_KERNEL).map_err(|_| err(sys::ENOMEM))?;
    let mut total = 0usize;
    // An SO_SNDBUF set since the last drive sizes this write already.
    // SAFETY: locked per the contract.
    unsafe { conn_of(st(sk)?)?.account(sk) };
    loop {
        // SAFETY: locked per the contract.
        let cs = conn_of(unsafe { st(sk) }?)?;
        if cs.error != 0 {
            return if total > 0 {
                Ok(total)
            } else {
                Err(err(sys::EPIPE))
            };
        }
        if left == 0 {
            // An empty message with FIN ends the stream; otherwise FIN went with the last byte.
            if fin && total == 0 {
                cs.conn.stream_write(sid, &[], true).map_err(api_errno)?;
            }
            // SAFETY: `sk` is live and locked.
            unsafe { cs.drive(sk) };
            return Ok(total);
        }
        let room = usize::try_from(cs.conn.streams().send_buffer_available()).unwrap_or(usize::MAX);
        if room == 0 {
            // SAFETY: `sk` is live and locked.
            unsafe { cs.drive(sk) };
            if total > 0 && nonblock {
                return Ok(total);
            }
            if nonblock {
                return Err(err(sys::EAGAIN));
            }
            // SAFETY: as above.
            match unsafe { wait(sk, timeo) } {
                Ok(()) => continue,
                Err(e) if total > 0 => {
                    let _ = e;
                    return Ok(total);
                }
                Err(e) => return Err(e),
            }
        }
        let n = left.min(room).min(buf.len());
        // SAFETY: `buf` has `n` bytes; the iterator has at least `left >= n`.
        let rc = unsafe { sys::kq_copy_from_msg(buf.as_mut_ptr().cast(), msg, n) };
        if rc != 0 {
            return if total > 0 { Ok(total) } else { Err(rc) };
        }
        let last = n == left;
        let w = match cs.conn.stream_write(sid, &buf[..n], fin && last) {
            Ok(w) => w,
            Err(e) => {
                return if total > 0 {
                    Ok(total)
                } else {
                    Err(api_errno(e))
                }
            }
        };
        if w < n {
            // The engine took less than it said it had room for: give the rest back to the
            // iterator so the caller sees an exact count.
            // SAFETY: `msg` is valid; `n - w` bytes were just consumed from it.
            unsafe { sys::kq_msg_revert(msg, n - w) };
        }
        total += w;
        left -= w;
        // SAFETY: `sk` is live and locked.
        unsafe { cs.drive(sk) };
    }
}

/// `proto_ops.sendmsg`.
///
/// # Safety
/// Called by the socket layer with a live socket and msghdr.
pub(crate) unsafe extern "C" fn quic_sendmsg(
    sock: *mut sys::socket,
    msg: *mut sys::msghdr,
    _len: usize,
) -> c_int {
    // SAFETY: the socket layer passes a live socket and msghdr.
    let (sk, flags) = unsafe { ((*sock).sk, (*msg).msg_flags) };
    let nonblock = flags as i32 & MSG_DONTWAIT != 0;
    // SAFETY: `msg` is valid.
    let what = match unsafe { parse_send(msg, flags) } {
        Ok(w) => w,
        Err(e) => return e,
    };
    // SAFETY: `sk` is live.
    let mut timeo = unsafe { sys::kq_sndtimeo(sk, c_int::from(nonblock)) };
    // SAFETY: `sk` is live; process context.
    unsafe { sys::kq_lock_sock(sk) };
    // SAFETY: locked until the release below.
    let r = unsafe { sendmsg_locked(sk, msg, what, nonblock, &mut timeo) };
    // Datagrams that arrived meanwhile (ACKs for what was sent, data) are processed here, by
    // the lock's owner, rather than by the work item.
    // SAFETY: taken above; released right after.
    unsafe {
        socket::process_queued(sk);
        sys::kq_release_sock(sk);
    }
    match r {
        Ok(n) => n.min(i32::MAX as usize) as c_int,
        Err(e) => e,
    }
}

/// # Safety
/// `sk` is live and locked; `msg` the sendmsg's msghdr.
unsafe fn sendmsg_locked(
    sk: *mut sys::sock,
    msg: *mut sys::msghdr,
    what: Send,
    nonblock: bool,
    timeo: &mut c_long,
) -> Result<usize, i32> {
    // SAFETY: per the contract.
    let cs = conn_of(unsafe { st(sk) }?)?;
    // SAFETY: `sk` is live.
    if unsafe { sys::kq_sk_shutdown(sk) } & sys::SEND_SHUTDOWN as i32 != 0 || cs.error != 0 {
        return Err(err(sys::EPIPE));
    }
    // SAFETY: `msg` is valid.
    let len = unsafe { sys::kq_msg_left(msg) };
    match what {
        Send::Handshake(level) => {
            // SAFETY: `msg` is valid.
            let data = unsafe { copy_in(msg, len) }?;
            let r = cs
                .conn
                .crypto_write(level, &data)
                .map_err(|_| err(sys::EINVAL));
            // SAFETY: `sk` is live and locked.
            unsafe { cs.drive(sk) };
            r.map(|()| len)
        }
        Send::Datagram => {
            if !cs.may_send_data() {
                return Err(err(sys::ENOTCONN));
            }
            // SAFETY: `msg` is valid.
            let data = unsafe { copy_in(msg, len) }?;
            let r = cs.conn.datagram_send(&data).map_err(|e| match e {
                // The peer takes no datagrams at all (lxin/quic: EINVAL).
                DatagramError::Unsupported => err(sys::EINVAL),
                DatagramError::Blocked => err(sys::EAGAIN),
                DatagramError::OutOfMemory => err(sys::ENOMEM),
                DatagramError::Closed => err(sys::EPIPE),
                DatagramError::TooLarge => err(sys::EMSGSIZE),
            });
            // SAFETY: `sk` is live and locked.
            unsafe { cs.drive(sk) };
            r.map(|()| len)
        }
        Send::Stream { id, flags } => {
            if !cs.may_send_data() {
                return Err(err(sys::ENOTCONN));
            }
            // SAFETY: per the contract.
            let sid = unsafe { send_stream(sk, id, flags, nonblock, timeo) }?;
            let fin = flags & uapi::MSG_QUIC_STREAM_FIN != 0;
            // SAFETY: per the contract.
            unsafe { send_data(sk, msg, sid, fin, nonblock, timeo) }
        }
    }
}

/// Puts a cmsg into the recvmsg's control buffer (silently truncated as put_cmsg does).
///
/// # Safety
/// `msg` is the recvmsg's msghdr.
unsafe fn put_cmsg(msg: *mut sys::msghdr, ty: i32, data: &mut [u8]) {
    // SAFETY: `data` is valid for its length.
    unsafe { sys::kq_put_cmsg(msg, ty, data.len() as c_int, data.as_mut_ptr().cast()) };
}

/// `proto_ops.recvmsg`.
///
/// # Safety
/// Called by the socket layer with a live socket and msghdr.
pub(crate) unsafe extern "C" fn quic_recvmsg(
    sock: *mut sys::socket,
    msg: *mut sys::msghdr,
    size: usize,
    flags: c_int,
) -> c_int {
    // SAFETY: the socket layer passes a live socket.
    let sk = unsafe { (*sock).sk };
    let nonblock = flags & MSG_DONTWAIT != 0;
    // SAFETY: `sk` is live.
    let mut timeo = unsafe { sys::kq_rcvtimeo(sk, c_int::from(nonblock)) };
    // SAFETY: `msg` is valid.
    let has_ctl = unsafe { sys::kq_msg_has_control(msg) } != 0;
    let mut buf = match KVec::from_elem(0u8, CHUNK.min(size.max(1)), GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => return err(sys::ENOMEM),
    };
    // SAFETY: `sk` is live; process context.
    unsafe { sys::kq_lock_sock(sk) };
    let peek = flags & MSG_PEEK != 0;
    // SAFETY: locked until the release below.
    let r = unsafe { recvmsg_locked(sk, msg, size, has_ctl, peek, &mut buf, &mut timeo) };
    // Datagrams that arrived meanwhile (ACKs for what was sent, data) are processed here, by
    // the lock's owner, rather than by the work item.
    // SAFETY: taken above; released right after.
    unsafe {
        socket::process_queued(sk);
        sys::kq_release_sock(sk);
    }
    match r {
        Ok(n) => n.min(i32::MAX as usize) as c_int,
        Err(e) => e,
    }
}

/// # Safety
/// `sk` is live and locked; `msg` the recvmsg's msghdr.
unsafe fn recvmsg_locked(
    sk: *mut sys::sock,
    msg: *mut sys::msghdr,
    size: usize,
    has_ctl: bool,
    peek: bool,
    buf: &mut [u8],
    timeo: &mut c_long,
) -> Result<usize, i32> {
    // SAFETY: per the contract.
    conn_of(unsafe { st(sk) }?)?;
    // Nothing fits: return at once, consuming nothing (and never spinning on a readable
    // stream that a zero-byte read cannot drain).
    if size == 0 {
        return Ok(0);
    }
    loop {
        // SAFETY: per the contract.
        let cs = conn_of(unsafe { st(sk) }?)?;
        if let Some(level) = cs.crypto_pending() {
            let complete = cs.conn.is_handshake_complete();
            if !has_ctl {
                if !complete {
                    return Err(err(sys::EINVAL));
                }
                // Post-handshake TLS messages are for callers that can tell them apart.
                while cs.conn.crypto_read(level, buf) > 0 {}
                cs.crypto_drained(level);
                continue;
            }
            let want = size.min(buf.len());
            let n = if peek {
                cs.conn.crypto_peek(level, &mut buf[..want])
            } else {
                cs.conn.crypto_read(level, &mut buf[..want])
            };
            if n == 0 {
                cs.crypto_drained(level);
                continue;
            }
            // SAFETY: `msg` is valid; `buf[..n]` initialised.
            let rc = unsafe { sys::kq_copy_to_msg(msg, buf.as_ptr().cast(), n) };
            if rc != 0 {
                return Err(rc);
            }
            let mut lv = [level.abi()];
            // SAFETY: `msg` is valid.
            unsafe { put_cmsg(msg, uapi::QUIC_HANDSHAKE_INFO, &mut lv) };
            if n < want {
                if !peek {
                    cs.crypto_drained(level);
                }
                // SAFETY: `msg` is valid.
                unsafe { sys::kq_msg_set_flags(msg, MSG_EOR) };
            }
            return Ok(n);
        }
        if let Some(note) = cs.note_front() {
            // A notification (MSG_QUIC_NOTIFICATION): its type byte and payload; a partial
            // read leaves MSG_EOR clear until the rest is read.
            let n = note.len().min(size);
            // SAFETY: `msg` is valid; `note[..n]` is initialised.
            let rc = unsafe { sys::kq_copy_to_msg(msg, note.as_ptr().cast(), n) };
            if rc != 0 {
                return Err(rc);
            }
            let done = if peek {
                n == note.len()
            } else {
                cs.note_consume(n)
            };
            let f = uapi::MSG_QUIC_NOTIFICATION as i32 | if done { MSG_EOR } else { 0 };
            // SAFETY: `msg` is valid.
            unsafe { sys::kq_msg_set_flags(msg, f) };
            return Ok(n);
        }
        if let Some(id) = cs.readable_front().filter(|_| peek) {
            // MSG_PEEK: a copy of what a read would return first, nothing consumed.
            let sid = StreamId::new(id);
            let want = size.min(buf.len());
            let o = match cs.conn.stream_peek(sid, &mut buf[..want]) {
                Ok(o) if o.len > 0 || o.fin => o,
                // Nothing after all (or an error a real read reports): let a read find out.
                _ => {
                    cs.readable_pop(id);
                    continue;
                }
            };
            // SAFETY: `msg` is valid; `buf[..o.len]` initialised.
            let rc = unsafe { sys::kq_copy_to_msg(msg, buf.as_ptr().cast(), o.len) };
            if rc != 0 {
                return Err(rc);
            }
            if has_ctl {
                let mut si = [0u8; 16];
                si[..8].copy_from_slice(&(id as i64).to_ne_bytes());
                let f = if o.fin { uapi::MSG_QUIC_STREAM_FIN } else { 0 };
                si[8..12].copy_from_slice(&f.to_ne_bytes());
                // SAFETY: `msg` is valid.
                unsafe { put_cmsg(msg, uapi::QUIC_STREAM_INFO, &mut si) };
            }
            if o.fin {
                // SAFETY: `msg` is valid.
                unsafe { sys::kq_msg_set_flags(msg, MSG_EOR) };
            }
            return Ok(o.len);
        }
        if let Some(id) = cs.readable_front() {
            let sid = StreamId::new(id);
            let mut total = 0usize;
            let mut fin = false;
            let mut err_out = None;
            while total < size {
                let want = (size - total).min(buf.len());
                match cs.conn.stream_read(sid, &mut buf[..want]) {
                    Ok(o) => {
                        if o.len > 0 {
                            // SAFETY: `msg` is valid; `buf[..o.len]` initialised.
                            let rc =
                                unsafe { sys::kq_copy_to_msg(msg, buf.as_ptr().cast(), o.len) };
                            if rc != 0 {
                                err_out = Some(rc);
                                break;
                            }
                        }
                        total += o.len;
                        if o.fin {
                            fin = true;
                            cs.readable_pop(id);
                            break;
                        }
                        if o.len < want {
                            cs.readable_pop(id);
                            break;
                        }
                    }
                    Err(_) => {
                        cs.readable_pop(id);
                        break;
                    }
                }
            }
            // SAFETY: `sk` is live and locked (reading may open flow control windows).
            unsafe { cs.drive(sk) };
            if let Some(e) = err_out {
                if total == 0 {
                    return Err(e);
                }
            }
            if total == 0 && !fin {
                continue;
            }
            if has_ctl {
                let mut si = [0u8; 16];
                si[..8].copy_from_slice(&(id as i64).to_ne_bytes());
                let f = if fin { uapi::MSG_QUIC_STREAM_FIN } else { 0 };
                si[8..12].copy_from_slice(&f.to_ne_bytes());
                // SAFETY: `msg` is valid.
                unsafe { put_cmsg(msg, uapi::QUIC_STREAM_INFO, &mut si) };
            }
            if fin {
                // SAFETY: `msg` is valid.
                unsafe { sys::kq_msg_set_flags(msg, MSG_EOR) };
            }
            return Ok(total);
        }
        if let Some(n) = cs.conn.datagram_peek_len() {
            // A datagram is read like an event: a short read leaves the rest for the next
            // recvmsg, and MSG_EOR marks the part that ends it.
            let off = cs.dgram_read.min(n);
            let out = (n - off).min(size).min(buf.len());
            cs.conn.datagram_peek_from(off, &mut buf[..out]);
            // SAFETY: `msg` is valid; `buf[..out]` initialised.
            let rc = unsafe { sys::kq_copy_to_msg(msg, buf.as_ptr().cast(), out) };
            if rc != 0 {
                return Err(rc);
            }
            let end = off + out == n;
            if !peek {
                if end {
                    cs.conn.datagram_recv(&mut []);
                    cs.dgram_read = 0;
                } else {
                    cs.dgram_read = off + out;
                }
            }
            // SAFETY: `msg` is valid.
            unsafe {
                sys::kq_msg_set_flags(
                    msg,
                    uapi::MSG_QUIC_DATAGRAM as i32 | if end { MSG_EOR } else { 0 },
                )
            };
            return Ok(out);
        }
        if cs.error != 0 {
            return Err(cs.error);
        }
        // SAFETY: `sk` is live.
        if unsafe { sys::kq_sk_shutdown(sk) } & sys::RCV_SHUTDOWN as i32 != 0 {
            return Ok(0);
        }
        if *timeo == 0 {
            return Err(err(sys::EAGAIN));
        }
        // SAFETY: `sk` is live and locked.
        unsafe { wait(sk, timeo) }?;
    }
}

/// `proto_ops.poll`: readable with data, handshake bytes or a request to accept; writable when
/// the handshake is complete and the send buffer has room; HUP/ERR once closed.
///
/// # Safety
/// Called by the socket layer with a live socket.
pub(crate) unsafe extern "C" fn quic_poll(
    file: *mut sys::file,
    sock: *mut sys::socket,
    wait: *mut sys::poll_table_struct,
) -> sys::__poll_t {
    // SAFETY: the socket layer passes a live socket.
    let sk = unsafe { (*sock).sk };
    // SAFETY: valid arguments from the socket layer.
    unsafe { sys::kq_poll_wait(file, sock, wait) };
    const IN: u32 = EPOLLIN | EPOLLRDNORM;
    const OUT: u32 = EPOLLOUT | EPOLLWRNORM;
    // SAFETY: `sk` is live; process context.
    unsafe { sys::kq_lock_sock(sk) };
    // SAFETY: locked.
    let shut = unsafe { sys::kq_sk_shutdown(sk) } as u32;
    let mut mask = 0u32;
    // SAFETY: locked.
    if let Some(st) = unsafe { socket::state(sk) } {
        if let Some(l) = st.listener.as_deref() {
            if l.ready() {
                mask |= IN;
            }
        } else if let Some(cs) = st.conn.as_deref() {
            if cs.has_input() || cs.conn.datagram_peek_len().is_some() {
                mask |= IN;
            }
            if cs.error != 0 {
                mask |= EPOLLERR | EPOLLHUP | IN;
            } else if cs.conn.is_handshake_complete()
                && cs.conn.streams().send_buffer_available() > 0
                && shut & sys::SEND_SHUTDOWN == 0
            {
                mask |= OUT;
            }
        }
    }
    if shut & sys::RCV_SHUTDOWN != 0 {
        mask |= EPOLLRDHUP | IN;
    }
    if shut == sys::SHUTDOWN_MASK {
        mask |= EPOLLHUP;
    }
    // SAFETY: taken above.
    unsafe { sys::kq_release_sock(sk) };
    mask
}
