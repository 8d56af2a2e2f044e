// SPDX-License-Identifier: GPL-2.0
//! SOL_QUIC socket options. Other levels fall through to the IPv4/IPv6 options.
//!
//! Error conventions (checked in this order): an unknown option is `ENOPROTOOPT`; a buffer
//! shorter than the option's struct is `EINVAL`; an out-of-range value is `EINVAL`; an option
//! that acts on a connection on a socket that has none is `ENOTCONN`.

use kernel::ffi::{c_char, c_int, c_uint, c_void};

use kernel::prelude::*;
use quic_mem::Vec as MVec;
use quic_uapi as uapi;
use uapi::AbiStruct;

use quic_proto::conn::Level;
use quic_proto::crypto::{Rng, Side};
use quic_proto::stream::{ApiError, Dir, StreamId};
use quic_proto::transport_params::TransportParams;

use crate::socket::{self, SockState};
use crate::sys;

fn einval<T>() -> Result<T, i32> {
    Err(-(sys::EINVAL as i32))
}

/// Largest ALPN list (comma separated), as in the ABI.
const ALPN_MAX: usize = 128;
/// Largest address-validation token a client may hold.
const TOKEN_MAX: usize = 120;
/// Largest session ticket (or server ticket key) accepted.
const TICKET_MAX: usize = 4096;

/// Socket options of one QUIC socket, as set by the user.
pub(crate) struct Options {
    config: uapi::quic_config,
    local_tp: uapi::quic_transport_param,
    remote_tp: uapi::quic_transport_param,
    pub(crate) events: u32,
    close: uapi::quic_connection_close,
    alpn: MVec<u8>,
    token: MVec<u8>,
    ticket: MVec<u8>,
}

/// Length of the session ticket key a listener makes for itself when none was set.
const TICKET_KEY_LEN: usize = 64;

/// Defaults of the ABI (RFC 9000 where the ABI does not say otherwise).
fn default_tp(remote: bool) -> uapi::quic_transport_param {
    uapi::quic_transport_param {
        remote: u8::from(remote),
        max_udp_payload_size: 65527,
        ack_delay_exponent: 3,
        max_ack_delay: 25_000,
        active_connection_id_limit: 7,
        max_idle_timeout: 30_000_000,
        max_data: 65536 * 32,
        max_stream_data_bidi_local: 65536 * 4,
        max_stream_data_bidi_remote: 65536 * 4,
        max_stream_data_uni: 65536 * 4,
        max_streams_bidi: 100,
        max_streams_uni: 100,
        ..Default::default()
    }
}

impl Options {
    /// The `QUIC_SOCKOPT_CONFIG` value.
    pub(crate) fn config(&self) -> &uapi::quic_config {
        &self.config
    }

    /// Our transport parameters (`QUIC_SOCKOPT_TRANSPORT_PARAM`, remote = 0).
    pub(crate) fn local_tp(&self) -> &uapi::quic_transport_param {
        &self.local_tp
    }

    /// The application close code, frame type and phrase set by `QUIC_SOCKOPT_CONNECTION_CLOSE`.
    pub(crate) fn close_info(&self) -> (u64, u64, &[u8]) {
        let p = &self.close.phrase;
        let n = p.iter().position(|c| *c == 0).unwrap_or(p.len());
        (
            u64::from(self.close.errcode),
            u64::from(self.close.frame),
            &p[..n],
        )
    }

    /// The address validation token set by the user (a client's, for its Initials).
    pub(crate) fn token(&self) -> &[u8] {
        &self.token
    }

    /// A listener without a session ticket key gets a random one, which its accepted sockets
    /// inherit and hand to the TLS library (`QUIC_SOCKOPT_SESSION_TICKET` get).
    pub(crate) fn ensure_ticket_key(&mut self) -> Result<(), i32> {
        if !self.ticket.is_empty() {
            return Ok(());
        }
        let mut key = [0u8; TICKET_KEY_LEN];
        crate::driver::KernelRng.fill(&mut key);
        self.ticket
            .extend_from_slice(&key)
            .map_err(|_| -(sys::ENOMEM as i32))
    }

    /// A copy for an accepted socket, which inherits its listener's options.
    pub(crate) fn try_clone(&self) -> Result<Self, i32> {
        let e = |_| -(sys::ENOMEM as i32);
        Ok(Options {
            config: self.config,
            local_tp: self.local_tp,
            remote_tp: self.remote_tp,
            events: self.events,
            close: self.close,
            alpn: self.alpn.try_clone().map_err(e)?,
            token: self.token.try_clone().map_err(e)?,
            ticket: self.ticket.try_clone().map_err(e)?,
        })
    }

    pub(crate) fn new() -> Self {
        Options {
            config: uapi::quic_config {
                version: uapi::QUIC_VERSION_V1,
                initial_smoothed_rtt: 333_000,
                congestion_control_algo: uapi::QUIC_CONG_ALG_RENO,
                ..Default::default()
            },
            local_tp: default_tp(false),
            remote_tp: default_tp(true),
            events: 0,
            close: Default::default(),
            alpn: MVec::new(),
            token: MVec::new(),
            ticket: MVec::new(),
        }
    }
}

fn check_config(c: &uapi::quic_config) -> Result<(), i32> {
    if c.version != 0 && c.version != uapi::QUIC_VERSION_V1 && c.version != uapi::QUIC_VERSION_V2 {
        return einval();
    }
    // Only the algorithms the engine implements.
    if c.congestion_control_algo > uapi::QUIC_CONG_ALG_CUBIC {
        return einval();
    }
    if c.payload_cipher_type != 0 && !(51..=54).contains(&c.payload_cipher_type) {
        return einval();
    }
    if c.initial_smoothed_rtt != 0 && !(1_000..=60_000_000).contains(&c.initial_smoothed_rtt) {
        return einval();
    }
    if c.validate_peer_address > 1
        || c.stream_data_nodelay > 1
        || c.receive_session_ticket > 1
        || c.certificate_request > 3
    {
        return einval();
    }
    Ok(())
}

/// `cur` with every non-zero field of `given` (lxin/quic's rule for QUIC_SOCKOPT_CONFIG: a
/// zeroed struct with one field set changes that field only; a field cannot be set to 0).
fn merge_config(cur: &uapi::quic_config, given: &uapi::quic_config) -> uapi::quic_config {
    fn pick<T: PartialEq + Default + Copy>(cur: T, given: T) -> T {
        if given == T::default() {
            cur
        } else {
            given
        }
    }
    uapi::quic_config {
        version: pick(cur.version, given.version),
        plpmtud_probe_interval: pick(cur.plpmtud_probe_interval, given.plpmtud_probe_interval),
        initial_smoothed_rtt: pick(cur.initial_smoothed_rtt, given.initial_smoothed_rtt),
        payload_cipher_type: pick(cur.payload_cipher_type, given.payload_cipher_type),
        congestion_control_algo: pick(cur.congestion_control_algo, given.congestion_control_algo),
        validate_peer_address: pick(cur.validate_peer_address, given.validate_peer_address),
        stream_data_nodelay: pick(cur.stream_data_nodelay, given.stream_data_nodelay),
        receive_session_ticket: pick(cur.receive_session_ticket, given.receive_session_ticket),
        certificate_request: pick(cur.certificate_request, given.certificate_request),
        reserved: cur.reserved,
        keepalive_probe_interval: pick(
            cur.keepalive_probe_interval,
            given.keepalive_probe_interval,
        ),
    }
}

/// `cur` with every non-zero field of `given` (the same rule for QUIC_SOCKOPT_TRANSPORT_PARAM;
/// `remote` is taken from `given`).
fn merge_tp(
    cur: &uapi::quic_transport_param,
    given: &uapi::quic_transport_param,
) -> uapi::quic_transport_param {
    fn pick<T: PartialEq + Default + Copy>(cur: T, given: T) -> T {
        if given == T::default() {
            cur
        } else {
            given
        }
    }
    uapi::quic_transport_param {
        remote: given.remote,
        disable_active_migration: pick(
            cur.disable_active_migration,
            given.disable_active_migration,
        ),
        grease_quic_bit: pick(cur.grease_quic_bit, given.grease_quic_bit),
        stateless_reset: pick(cur.stateless_reset, given.stateless_reset),
        disable_1rtt_encryption: pick(cur.disable_1rtt_encryption, given.disable_1rtt_encryption),
        disable_compatible_version: pick(
            cur.disable_compatible_version,
            given.disable_compatible_version,
        ),
        active_connection_id_limit: pick(
            cur.active_connection_id_limit,
            given.active_connection_id_limit,
        ),
        ack_delay_exponent: pick(cur.ack_delay_exponent, given.ack_delay_exponent),
        max_datagram_frame_size: pick(cur.max_datagram_frame_size, given.max_datagram_frame_size),
        max_udp_payload_size: pick(cur.max_udp_payload_size, given.max_udp_payload_size),
        max_idle_timeout: pick(cur.max_idle_timeout, given.max_idle_timeout),
        max_ack_delay: pick(cur.max_ack_delay, given.max_ack_delay),
        max_streams_bidi: pick(cur.max_streams_bidi, given.max_streams_bidi),
        max_streams_uni: pick(cur.max_streams_uni, given.max_streams_uni),
        max_data: pick(cur.max_data, given.max_data),
        max_stream_data_bidi_local: pick(
            cur.max_stream_data_bidi_local,
            given.max_stream_data_bidi_local,
        ),
        max_stream_data_bidi_remote: pick(
            cur.max_stream_data_bidi_remote,
            given.max_stream_data_bidi_remote,
        ),
        max_stream_data_uni: pick(cur.max_stream_data_uni, given.max_stream_data_uni),
    }
}

fn check_tp(p: &uapi::quic_transport_param) -> Result<(), i32> {
    const VARINT_MAX: u64 = (1 << 62) - 1;
    let bad = p.remote > 1
        || p.max_udp_payload_size < 1200
        || p.max_udp_payload_size > 65527
        || p.ack_delay_exponent > 20
        || p.max_ack_delay >= (1 << 14) * 1000
        || p.active_connection_id_limit < 2
        || p.max_data > VARINT_MAX
        || p.max_stream_data_bidi_local > VARINT_MAX
        || p.max_stream_data_bidi_remote > VARINT_MAX
        || p.max_stream_data_uni > VARINT_MAX
        || p.disable_active_migration > 1
        || p.grease_quic_bit > 1
        || p.stateless_reset > 1
        || p.disable_1rtt_encryption > 1
        || p.disable_compatible_version > 1;
    if bad {
        einval()
    } else {
        Ok(())
    }
}

/// Largest ABI struct copied through a sockopt (`quic_connection_close`, 72 bytes).
const STRUCT_MAX: usize = 128;

/// Reads a struct option given by the user; `min` is the shortest prefix accepted (older,
/// shorter structs are copied by their length and the rest keeps the value of `base`; bytes
/// beyond the struct are ignored).
fn read_struct<T: AbiStruct>(
    optval: sys::sockptr_t,
    optlen: c_uint,
    min: usize,
    base: T,
) -> Result<T, i32> {
    let len = optlen as usize;
    if len < min || T::SIZE > STRUCT_MAX {
        return einval();
    }
    let mut image = [0u8; STRUCT_MAX];
    base.write_prefix(&mut image[..T::SIZE]);
    let n = len.min(T::SIZE);
    // SAFETY: `image` has room for `n <= T::SIZE <= STRUCT_MAX` bytes; `optval` is the pointer
    // the socket layer handed us with `optlen >= n` bytes (copy_from_sockptr checks user memory).
    to_errno(unsafe { sys::kq_copy_from_sockptr(image.as_mut_ptr().cast::<c_void>(), optval, n) })?;
    Ok(T::from_bytes_prefix(&image[..T::SIZE]))
}

fn read_bytes(optval: sys::sockptr_t, optlen: c_uint, max: usize) -> Result<MVec<u8>, i32> {
    let len = optlen as usize;
    if len > max {
        return einval();
    }
    let mut v = MVec::new();
    v.resize(len, 0u8).map_err(|_| -(sys::ENOMEM as i32))?;
    // SAFETY: `v` has exactly `len` initialised bytes; `optval` holds `optlen` bytes.
    to_errno(unsafe { sys::kq_copy_from_sockptr(v.as_mut_ptr().cast(), optval, len) })?;
    Ok(v)
}

fn to_errno(rc: c_int) -> Result<(), i32> {
    if rc < 0 {
        Err(rc)
    } else {
        Ok(())
    }
}

fn set(
    opts: &mut Options,
    optname: c_int,
    optval: sys::sockptr_t,
    optlen: c_uint,
) -> Result<(), i32> {
    use core::mem::size_of;
    match optname {
        uapi::QUIC_SOCKOPT_EVENT => {
            let e: uapi::quic_event_option = read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_event_option>(),
                Default::default(),
            )?;
            // Any non-zero `on` turns the event on, as in lxin/quic.
            if e.r#type == 0 || e.r#type >= uapi::QUIC_EVENT_MAX {
                return einval();
            }
            let bit = 1u32 << e.r#type;
            opts.events = if e.on != 0 {
                opts.events | bit
            } else {
                opts.events & !bit
            };
            Ok(())
        }
        uapi::QUIC_SOCKOPT_CONFIG => {
            // As lxin/quic: only the non-zero fields of what the caller passes change.
            let given = read_struct(optval, optlen, 4, uapi::quic_config::default())?;
            let c = merge_config(&opts.config, &given);
            check_config(&c)?;
            opts.config = c;
            if opts.config.version == 0 {
                opts.config.version = uapi::QUIC_VERSION_V1;
            }
            Ok(())
        }
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM => {
            // The first byte says whose parameters these are; read it before choosing the base.
            let head: uapi::quic_transport_param =
                read_struct(optval, optlen, 4, Default::default())?;
            let base = if head.remote != 0 {
                opts.remote_tp
            } else {
                opts.local_tp
            };
            // As lxin/quic: only the non-zero fields of what the caller passes change.
            let given = read_struct(optval, optlen, 4, uapi::quic_transport_param::default())?;
            let p = merge_tp(&base, &given);
            check_tp(&p)?;
            if p.remote != 0 {
                // The peer's parameters are set between connect() and the handshake (the
                // live-connection path), as in lxin/quic.
                return einval();
            } else {
                opts.local_tp = p;
            }
            Ok(())
        }
        uapi::QUIC_SOCKOPT_CONNECTION_CLOSE => {
            let c: uapi::quic_connection_close =
                read_struct(optval, optlen, 8, uapi::quic_connection_close::default())?;
            // The phrase is a C string: it must end within its 64 bytes.
            if !c.phrase.contains(&0) {
                return einval();
            }
            opts.close = c;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_ALPN => {
            let mut v = read_bytes(optval, optlen, ALPN_MAX)?;
            // Accept a C string: drop a trailing NUL.
            if v.last() == Some(&0) {
                let n = v.len() - 1;
                v.truncate(n);
            }
            let bad_entry = !v.is_empty()
                && v.split(|c| *c == b',')
                    .any(|a| a.is_empty() || a.len() > 255);
            if v.contains(&0) || bad_entry {
                return einval();
            }
            opts.alpn = v;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_TOKEN => {
            opts.token = read_bytes(optval, optlen, TOKEN_MAX)?;
            Ok(())
        }
        uapi::QUIC_SOCKOPT_SESSION_TICKET => {
            opts.ticket = read_bytes(optval, optlen, TICKET_MAX)?;
            Ok(())
        }
        // Options that act on a live connection: check the size, then there is none yet.
        uapi::QUIC_SOCKOPT_STREAM_RESET | uapi::QUIC_SOCKOPT_STREAM_STOP_SENDING => {
            read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_errinfo>(),
                uapi::quic_errinfo::default(),
            )?;
            Err(-(sys::ENOTCONN as i32))
        }
        uapi::QUIC_SOCKOPT_CONNECTION_ID => {
            read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_connection_id_info>(),
                Default::default(),
            )
            .map(|_: uapi::quic_connection_id_info| ())?;
            Err(-(sys::ENOTCONN as i32))
        }
        uapi::QUIC_SOCKOPT_CRYPTO_SECRET => {
            let s: uapi::quic_crypto_secret = read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_crypto_secret>(),
                Default::default(),
            )?;
            if s.send > 1 || s.level >= uapi::QUIC_CRYPTO_MAX || !(51..=54).contains(&s.r#type) {
                return einval();
            }
            Err(-(sys::ENOTCONN as i32))
        }
        uapi::QUIC_SOCKOPT_CONNECTION_MIGRATION => {
            if (optlen as usize) < core::mem::size_of::<sys::sockaddr_in>() {
                return einval();
            }
            Err(-(sys::ENOTCONN as i32))
        }
        uapi::QUIC_SOCKOPT_KEY_UPDATE | uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => {
            Err(-(sys::ENOTCONN as i32))
        }
        // Get-only.
        uapi::QUIC_SOCKOPT_STREAM_OPEN => Err(-(sys::ENOPROTOOPT as i32)),
        _ => Err(-(sys::ENOPROTOOPT as i32)),
    }
}

/// A user buffer for getsockopt output.
struct UserOut {
    /// Where the value goes (user or kernel memory).
    optval: sys::sockptr_t,
    /// Where its length goes (an `int`, user or kernel memory).
    optlen: sys::sockptr_t,
    len: usize,
}

impl UserOut {
    /// Copies `bytes` (truncated to the caller's length) out and stores the length written.
    fn put(&self, bytes: &[u8]) -> Result<(), i32> {
        let n = bytes.len().min(self.len);
        // SAFETY: `optval` has room for `len >= n` bytes per getsockopt's contract; for user
        // memory copy_to_sockptr checks it.
        to_errno(unsafe { sys::kq_copy_to_sockptr(self.optval, bytes.as_ptr().cast(), n) })?;
        let n = (n as c_int).to_ne_bytes();
        // SAFETY: `optlen` is the caller's length pointer (an int), checked as above.
        to_errno(unsafe { sys::kq_copy_to_sockptr(self.optlen, n.as_ptr().cast(), n.len()) })
    }

    fn put_struct<T: AbiStruct>(&self, v: &T, min: usize) -> Result<(), i32> {
        if self.len < min || T::SIZE > STRUCT_MAX {
            return einval();
        }
        let mut image = [0u8; STRUCT_MAX];
        let n = v.write_prefix(&mut image[..T::SIZE]);
        self.put(&image[..n])
    }

    /// Reads the struct the user passed in (getsockopt options that take an argument).
    fn get_struct<T: AbiStruct>(&self) -> Result<T, i32> {
        if self.len < T::SIZE {
            return einval();
        }
        read_struct(self.user_ptr(), T::SIZE as c_uint, T::SIZE, T::default())
    }

    /// The output buffer, for reading what the caller passed in.
    fn user_ptr(&self) -> sys::sockptr_t {
        self.optval
    }
}

fn get(opts: &Options, optname: c_int, out: &UserOut) -> Result<(), i32> {
    use core::mem::size_of;
    match optname {
        uapi::QUIC_SOCKOPT_EVENT => {
            let mut e: uapi::quic_event_option = out.get_struct()?;
            if e.r#type == 0 || e.r#type >= uapi::QUIC_EVENT_MAX {
                return einval();
            }
            e.on = ((opts.events >> e.r#type) & 1) as u8;
            out.put_struct(&e, size_of::<uapi::quic_event_option>())
        }
        uapi::QUIC_SOCKOPT_CONFIG => out.put_struct(&opts.config, 4),
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM => {
            // The caller selects local or remote with the first byte of its buffer.
            if out.len < 4 {
                return einval();
            }
            let head: uapi::quic_transport_param =
                read_struct(out.user_ptr(), 1, 1, Default::default())?;
            let head = head.remote;
            out.put_struct(
                if head != 0 {
                    &opts.remote_tp
                } else {
                    &opts.local_tp
                },
                4,
            )
        }
        uapi::QUIC_SOCKOPT_CONNECTION_CLOSE => out.put_struct(&opts.close, 8),
        uapi::QUIC_SOCKOPT_ALPN => {
            if out.len < opts.alpn.len() {
                return einval();
            }
            out.put(&opts.alpn)
        }
        uapi::QUIC_SOCKOPT_TOKEN => {
            if out.len < opts.token.len() {
                return einval();
            }
            out.put(&opts.token)
        }
        uapi::QUIC_SOCKOPT_SESSION_TICKET => {
            if out.len < opts.ticket.len() {
                return einval();
            }
            out.put(&opts.ticket)
        }
        uapi::QUIC_SOCKOPT_STREAM_OPEN => {
            let _: uapi::quic_stream_info = out.get_struct()?;
            Err(-(sys::ENOTCONN as i32))
        }
        uapi::QUIC_SOCKOPT_CONNECTION_ID => {
            let _: uapi::quic_connection_id_info = out.get_struct()?;
            Err(-(sys::ENOTCONN as i32))
        }
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => Err(-(sys::ENOTCONN as i32)),
        // Set-only options (as lxin/quic: no such option to get).
        uapi::QUIC_SOCKOPT_STREAM_RESET
        | uapi::QUIC_SOCKOPT_STREAM_STOP_SENDING
        | uapi::QUIC_SOCKOPT_CONNECTION_MIGRATION
        | uapi::QUIC_SOCKOPT_KEY_UPDATE
        | uapi::QUIC_SOCKOPT_CRYPTO_SECRET => Err(-(sys::ENOPROTOOPT as i32)),
        _ => Err(-(sys::ENOPROTOOPT as i32)),
    }
}

/// Length of a traffic secret for a `TLS_CIPHER_*` type (SHA-384 for AES-256-GCM).
fn secret_len(ty: u32) -> usize {
    if ty == 52 {
        48
    } else {
        32
    }
}

fn api_errno(e: ApiError) -> i32 {
    -(match e {
        ApiError::StreamLimit => sys::EAGAIN,
        ApiError::OutOfMemory => sys::ENOMEM,
        ApiError::Closed | ApiError::Stopped(_) | ApiError::Reset(_) => sys::EPIPE,
        ApiError::UnknownStream | ApiError::WrongDirection => sys::EINVAL,
    } as i32)
}

/// Options that act on the socket's live connection. `None` when `optname` is not one of them
/// or the socket has no connection (the option-store path then answers).
///
/// # Safety
/// `sk` is the live, locked socket whose state `st` is.
unsafe fn conn_set(
    sk: *mut sys::sock,
    st: &mut SockState,
    optname: c_int,
    optval: sys::sockptr_t,
    optlen: c_uint,
) -> Option<Result<(), i32>> {
    use core::mem::size_of;
    let cs = st.conn.as_deref_mut()?;
    let acts = matches!(
        optname,
        uapi::QUIC_SOCKOPT_CRYPTO_SECRET
            | uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT
            | uapi::QUIC_SOCKOPT_STREAM_RESET
            | uapi::QUIC_SOCKOPT_STREAM_STOP_SENDING
            | uapi::QUIC_SOCKOPT_KEY_UPDATE
    );
    if acts && cs.conn.is_closed() {
        // The connection is gone: say how, as recvmsg would.
        let e = if cs.error != 0 {
            cs.error
        } else {
            -(sys::ECONNRESET as i32)
        };
        return Some(Err(e));
    }
    let complete = cs.conn.is_handshake_complete();
    let r = match optname {
        // Handshake-only options, refused before anything is touched once it is over.
        uapi::QUIC_SOCKOPT_CRYPTO_SECRET | uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT
            if complete || (optname == uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT && cs.peer_tp) =>
        {
            einval()
        }
        // The configuration is fixed once the connection is established (lxin/quic).
        uapi::QUIC_SOCKOPT_CONFIG if complete => einval(),
        uapi::QUIC_SOCKOPT_CRYPTO_SECRET => (|| {
            let s: uapi::quic_crypto_secret = read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_crypto_secret>(),
                Default::default(),
            )?;
            let level = Level::from_abi(s.level).ok_or(-(sys::EINVAL as i32))?;
            if s.send > 1 || !(51..=54).contains(&s.r#type) || level == Level::Initial {
                return einval();
            }
            let secret = &s.secret[..secret_len(s.r#type)];
            cs.conn
                .install_secret(level, s.send != 0, s.r#type, secret)
                .map_err(|_| -(sys::EINVAL as i32))?;
            if level == Level::App {
                if s.send != 0 {
                    cs.app_keys.1 = true;
                } else {
                    cs.app_keys.0 = true;
                }
                // The 1-RTT send secret is the last step of the handshake in userspace: the
                // client has queued its Finished, the server has read the client's.
                if cs.app_keys == (true, true) && !cs.conn.is_handshake_complete() {
                    cs.conn
                        .handshake_complete()
                        .map_err(|_| -(sys::EINVAL as i32))?;
                    // SAFETY: `sk` is live and locked.
                    unsafe { sys::kq_sk_set_state(sk, sys::TCP_ESTABLISHED as i32) };
                    crate::driver::mib(sk, sys::kq_mib_KQ_MIB_HANDSHAKES, 1);
                    if cs.conn.side() == Side::Server && cs.conn.early_data_active() {
                        crate::driver::mib(sk, sys::kq_mib_KQ_MIB_HANDSHAKES_0RTT, 1);
                    }
                }
            }
            Ok(())
        })(),
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => (|| {
            let v = read_bytes(optval, optlen, uapi::QUIC_TRANSPORT_PARAM_EXT_MAX_LEN)?;
            cs.conn
                .set_peer_transport_params_ext(&v)
                .map_err(|_| -(sys::EINVAL as i32))?;
            cs.peer_tp = true;
            Ok(())
        })(),
        uapi::QUIC_SOCKOPT_STREAM_RESET | uapi::QUIC_SOCKOPT_STREAM_STOP_SENDING => (|| {
            let e: uapi::quic_errinfo = read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_errinfo>(),
                Default::default(),
            )?;
            let id = u64::try_from(e.stream_id).map_err(|_| -(sys::EINVAL as i32))?;
            let id = StreamId::new(id);
            let code = u64::from(e.errcode);
            if optname == uapi::QUIC_SOCKOPT_STREAM_RESET {
                cs.conn.stream_reset(id, code)
            } else {
                cs.conn.stream_stop_sending(id, code)
            }
            .map_err(api_errno)
        })(),
        uapi::QUIC_SOCKOPT_KEY_UPDATE => cs.conn.key_update().map_err(|_| -(sys::EINVAL as i32)),
        uapi::QUIC_SOCKOPT_CONNECTION_MIGRATION => (|| {
            // The address, copied in and parsed as bind's is.
            let mut raw = [0u8; size_of::<sys::sockaddr_in6>()];
            let n = (optlen as usize).min(raw.len());
            if n < size_of::<sys::sockaddr_in>() {
                return einval();
            }
            // SAFETY: `optval` holds `optlen >= n` bytes per the contract; `raw` has room.
            to_errno(unsafe { sys::kq_copy_from_sockptr(raw.as_mut_ptr().cast(), optval, n) })?;
            // SAFETY: `sk` is live.
            let family = unsafe { sys::kq_sk_family(sk) };
            // SAFETY: `raw` holds `n` initialised bytes.
            let local = unsafe { socket::parse_addr(family, raw.as_ptr().cast(), n as c_int) }
                .map_err(|_| -(sys::EINVAL as i32))?;
            // SAFETY: as above.
            let scope = unsafe { crate::addr::scope_id(raw.as_ptr().cast(), n as c_int) };
            let ip = crate::addr::from_raw(family, &local.addr, 0).ip();
            let cur = cs.conn.local_addr();
            let server = cs.conn.side() == Side::Server;
            // Another address of the same family: a client moves to it once the path is
            // validated; a server offers it as its preferred address, before its handshake.
            if ip.is_unspecified()
                || ip.is_ipv4() != cur.ip().is_ipv4()
                || (ip == cur.ip() && (local.port == 0 || local.port == cur.port()))
                || (server && complete)
            {
                return einval();
            }
            // SAFETY: `sk` is live and locked (process context).
            let tun = unsafe { crate::tunnel::acquire(sk, &local, scope) }?;
            let new = core::net::SocketAddr::new(ip, tun.port());
            if server {
                cs.conn.set_preferred_address(new)
            } else {
                cs.conn.migrate(new)
            }
            .map_err(|_| -(sys::EINVAL as i32))?;
            // Datagrams to the new address arrive through its tunnel; the old one is kept for
            // what is still in flight on the old path.
            if server {
                cs.extra_tunnel = Some(tun);
            } else {
                cs.extra_tunnel = Some(core::mem::replace(&mut cs.tunnel, tun));
            }
            Ok(())
        })(),
        uapi::QUIC_SOCKOPT_CONNECTION_ID => (|| {
            let i: uapi::quic_connection_id_info = read_struct(
                optval,
                optlen,
                size_of::<uapi::quic_connection_id_info>(),
                Default::default(),
            )?;
            let dest = i.dest != 0;
            // Zero fields keep what is in use (as lxin/quic): `{dest 1, prior_to 1}` retires
            // the peer's IDs below 1 and keeps the active one.
            let (cur_active, cur_prior) = cs.conn.connection_id_info(dest);
            let active = if i.active == 0 {
                cur_active
            } else {
                u64::from(i.active)
            };
            let prior_to = if i.prior_to == 0 {
                cur_prior
            } else {
                u64::from(i.prior_to)
            };
            cs.conn
                .set_connection_id(dest, active, prior_to)
                .map_err(|_| -(sys::EINVAL as i32))
        })(),
        uapi::QUIC_SOCKOPT_TOKEN => (|| {
            let v = read_bytes(optval, optlen, TOKEN_MAX)?;
            if cs.conn.side() == Side::Server {
                // A server sends the client a token for its next connection.
                return cs.conn.issue_token().map_err(|_| -(sys::EINVAL as i32));
            }
            // A client puts it in the Initials it has not sent yet.
            if cs.conn.is_handshake_complete() {
                return einval();
            }
            cs.conn.set_token(&v).map_err(|_| -(sys::ENOMEM as i32))?;
            st.opts.token = v;
            Ok(())
        })(),
        // A server's own parameters went into its connection at accept; remembered ones are
        // a client's.
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM if cs.conn.side() == Side::Server => einval(),
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM if cs.conn.side() == Side::Client => (|| {
            let head: uapi::quic_transport_param =
                read_struct(optval, optlen, 4, Default::default())?;
            if head.remote == 0 {
                // Our own parameters are fixed once the connection exists (lxin/quic: EINVAL).
                return einval();
            }
            // The server's parameters of an earlier connection, for 0-RTT: only before the
            // handshake gives the real ones.
            let given = read_struct(optval, optlen, 4, uapi::quic_transport_param::default())?;
            let p = merge_tp(&st.opts.remote_tp, &given);
            check_tp(&p)?;
            cs.conn
                .set_remembered_transport_params(&TransportParams::from_uapi(&p))
                .map_err(|_| -(sys::EINVAL as i32))?;
            st.opts.remote_tp = p;
            cs.remembered = true;
            Ok(())
        })(),
        uapi::QUIC_SOCKOPT_SESSION_TICKET => (|| {
            // Session data the TLS library made of a received ticket replaces the ticket.
            st.opts.ticket = read_bytes(optval, optlen, TICKET_MAX)?;
            cs.ticket = None;
            Ok(())
        })(),
        _ => return None,
    };
    // SAFETY: per the contract.
    unsafe { cs.drive(sk) };
    Some(r)
}

/// getsockopt options that read the live connection; see `conn_set`.
///
/// # Safety
/// As `conn_set`.
unsafe fn conn_get(
    sk: *mut sys::sock,
    st: &mut SockState,
    optname: c_int,
    out: &UserOut,
) -> Option<Result<(), i32>> {
    let cs = st.conn.as_deref_mut()?;
    if optname == uapi::QUIC_SOCKOPT_TRANSPORT_PARAM {
        // The peer's parameters as the handshake delivered them, once it did; before that
        // (and for the local set) the options' copy answers.
        let tp = cs.conn.peer_transport_params().filter(|_| cs.peer_tp)?;
        let head: uapi::quic_transport_param =
            match read_struct(out.user_ptr(), 1, 1, Default::default()) {
                Ok(h) => h,
                Err(e) => return Some(Err(e)),
            };
        if head.remote == 0 {
            return None;
        }
        if out.len < 4 {
            return Some(einval());
        }
        return Some(out.put_struct(&tp.to_uapi(true), 4));
    }
    let r = match optname {
        // A client's latest ticket and token from the server, once one arrived; before that
        // (and on a server) the options' copy answers.
        uapi::QUIC_SOCKOPT_SESSION_TICKET | uapi::QUIC_SOCKOPT_TOKEN => {
            let v = if optname == uapi::QUIC_SOCKOPT_TOKEN {
                cs.token.as_deref()?
            } else {
                cs.ticket.as_deref()?
            };
            if out.len < v.len() {
                return Some(einval());
            }
            return Some(out.put(v));
        }
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT if cs.conn.is_handshake_complete() => einval(),
        uapi::QUIC_SOCKOPT_TRANSPORT_PARAM_EXT => {
            let mut buf = [0u8; uapi::QUIC_TRANSPORT_PARAM_EXT_MAX_LEN];
            match cs.conn.local_transport_params_ext(&mut buf) {
                Ok(n) if n <= out.len => out.put(&buf[..n]),
                Ok(_) => einval(),
                Err(_) => Err(-(sys::EINVAL as i32)),
            }
        }
        uapi::QUIC_SOCKOPT_STREAM_OPEN => (|| {
            let mut si: uapi::quic_stream_info = out.get_struct()?;
            let known = uapi::MSG_QUIC_STREAM_NEW
                | uapi::MSG_QUIC_STREAM_FIN
                | uapi::MSG_QUIC_STREAM_UNI
                | uapi::MSG_QUIC_STREAM_DONTWAIT;
            if si.stream_flags & !known != 0 {
                return einval();
            }
            let side = crate::driver::stream_side(&cs.conn);
            if si.stream_id == -1 {
                let dir = if si.stream_flags & uapi::MSG_QUIC_STREAM_UNI != 0 {
                    Dir::Uni
                } else {
                    Dir::Bidi
                };
                let id = cs.conn.stream_open(dir).map_err(api_errno)?;
                si.stream_id = id.raw() as i64;
            } else {
                let id = u64::try_from(si.stream_id).map_err(|_| -(sys::EINVAL as i32))?;
                let id = StreamId::new(id);
                if !id.is_local(side) {
                    return einval();
                }
                cs.conn.stream_open_id(id).map_err(api_errno)?;
            }
            cs.last_stream = Some(si.stream_id);
            out.put_struct(&si, core::mem::size_of::<uapi::quic_stream_info>())
        })(),
        uapi::QUIC_SOCKOPT_CONNECTION_ID => (|| {
            let mut i: uapi::quic_connection_id_info = out.get_struct()?;
            let (active, prior_to) = cs.conn.connection_id_info(i.dest != 0);
            i.active = active as u32;
            i.prior_to = prior_to as u32;
            out.put_struct(&i, core::mem::size_of::<uapi::quic_connection_id_info>())
        })(),
        uapi::QUIC_SOCKOPT_CONNECTION_CLOSE => {
            let info = cs.conn.close_info()?;
            let mut c = uapi::quic_connection_close {
                errcode: info.code as u32,
                frame: info.frame_type as u8,
                ..Default::default()
            };
            let n = info.reason.len().min(c.phrase.len() - 1);
            c.phrase[..n].copy_from_slice(&info.reason[..n]);
            out.put_struct(&c, 8)
        }
        _ => return None,
    };
    // SAFETY: per the contract.
    unsafe { cs.drive(sk) };
    Some(r)
}

fn is_v6(sk: *mut sys::sock) -> bool {
    // SAFETY: `sk` is live in a proto callback.
    u32::from(unsafe { sys::kq_sk_family(sk) }) == sys::AF_INET6
}

/// `proto.setsockopt`: SOL_QUIC options, other levels to IPv4/IPv6.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_setsockopt(
    sk: *mut sys::sock,
    level: c_int,
    optname: c_int,
    optval: sys::sockptr_t,
    optlen: c_uint,
) -> c_int {
    if level != uapi::SOL_QUIC {
        // SAFETY: same arguments the socket layer gave us.
        return unsafe {
            if is_v6(sk) {
                sys::ipv6_setsockopt(sk, level, optname, optval, optlen)
            } else {
                sys::ip_setsockopt(sk, level, optname, optval, optlen)
            }
        };
    }
    // SAFETY: the socket layer passes a live socket and a valid sockptr.
    unsafe { kq_rust_setsockopt(sk, optname, optval, optlen) }
}

/// Sets a SOL_QUIC option of `sk` from `optval` (user or kernel memory). The exported
/// `quic_do_setsockopt` (shim.c, for kernel consumers) and the user's setsockopt end here.
///
/// # Safety
/// `sk` is a live QUIC socket; `optval` a valid sockptr of `optlen` bytes (process context).
#[no_mangle]
pub(crate) unsafe extern "C" fn kq_rust_setsockopt(
    sk: *mut sys::sock,
    optname: c_int,
    optval: sys::sockptr_t,
    optlen: c_uint,
) -> c_int {
    // SAFETY: `sk` is live; process context.
    match unsafe {
        socket::with_locked(sk, |st| match conn_set(sk, st, optname, optval, optlen) {
            Some(r) => r,
            None => {
                set(&mut st.opts, optname, optval, optlen)?;
                if let Some(cs) = st.conn.as_deref_mut() {
                    cs.events_on = st.opts.events;
                }
                // A listener answers Initials (Retry, versions, parameters) with its current
                // options, set before or after listen().
                if let Some(l) = st.listener.as_deref_mut() {
                    l.config = crate::driver::config(&st.opts);
                }
                Ok(())
            }
        })
    } {
        Ok(()) => 0,
        Err(e) => e,
    }
}

/// `proto.getsockopt`: SOL_QUIC options (see `quic_do_getsockopt`), others to the IP layer.
///
/// # Safety
/// Called by the socket layer with a live socket of our proto (and, where present, the user or
/// kernel buffers it vouches for), in process context.
pub(crate) unsafe extern "C" fn quic_getsockopt(
    sk: *mut sys::sock,
    level: c_int,
    optname: c_int,
    optval: *mut c_char,
    optlen: *mut c_int,
) -> c_int {
    if level != uapi::SOL_QUIC {
        // SAFETY: same arguments the socket layer gave us.
        return unsafe {
            if is_v6(sk) {
                sys::ipv6_getsockopt(sk, level, optname, optval, optlen)
            } else {
                sys::ip_getsockopt(sk, level, optname, optval, optlen)
            }
        };
    }
    // SAFETY: the socket layer passes a live socket and user pointers.
    unsafe {
        kq_rust_getsockopt(
            sk,
            optname,
            user_sockptr(optval.cast()),
            user_sockptr(optlen.cast()),
        )
    }
}

fn user_sockptr(p: *mut c_void) -> sys::sockptr_t {
    sys::sockptr_t {
        __bindgen_anon_1: sys::sockptr_t__bindgen_ty_1 { user: p },
        ..Default::default()
    }
}

/// Reads a SOL_QUIC option of `sk` into `optval`, its length into `optlen` (an `int` holding
/// the buffer's size on entry); either may be user or kernel memory. The exported
/// `quic_do_getsockopt` (shim.c, for kernel consumers) and the user's getsockopt end here.
///
/// # Safety
/// `sk` is a live QUIC socket; `optval`/`optlen` are valid sockptrs (process context).
#[no_mangle]
pub(crate) unsafe extern "C" fn kq_rust_getsockopt(
    sk: *mut sys::sock,
    optname: c_int,
    optval: sys::sockptr_t,
    optlen: sys::sockptr_t,
) -> c_int {
    let mut lenb = [0u8; 4];
    // SAFETY: `optlen` points to an int per the contract; copy_from_sockptr checks user memory.
    let rc = unsafe { sys::kq_copy_from_sockptr(lenb.as_mut_ptr().cast(), optlen, 4) };
    if let Err(e) = to_errno(rc) {
        return e;
    }
    let Ok(len) = usize::try_from(c_int::from_ne_bytes(lenb)) else {
        return -(sys::EINVAL as c_int);
    };
    let out = UserOut {
        optval,
        optlen,
        len,
    };
    if optname == uapi::QUIC_SOCKOPT_STREAM_OPEN {
        // The next stream, may block: opened outside `with_locked` (the wait drops the lock).
        if let Ok(mut si) = out.get_struct::<uapi::quic_stream_info>() {
            let waits =
                uapi::MSG_QUIC_STREAM_UNI | uapi::MSG_QUIC_STREAM_NEW | uapi::MSG_QUIC_STREAM_FIN;
            if si.stream_id == -1 && si.stream_flags & !waits == 0 {
                let uni = si.stream_flags & uapi::MSG_QUIC_STREAM_UNI != 0;
                // SAFETY: `sk` is live, unlocked; process context.
                let r = unsafe { crate::msg::stream_open_wait(sk, uni) }.and_then(|id| {
                    si.stream_id = id;
                    out.put_struct(&si, core::mem::size_of::<uapi::quic_stream_info>())
                });
                return match r {
                    Ok(()) => 0,
                    Err(e) => e,
                };
            }
        }
    }
    // SAFETY: `sk` is live; process context.
    match unsafe {
        socket::with_locked(sk, |st| match conn_get(sk, st, optname, &out) {
            Some(r) => r,
            None => get(&st.opts, optname, &out),
        })
    } {
        Ok(()) => 0,
        Err(e) => e,
    }
}
