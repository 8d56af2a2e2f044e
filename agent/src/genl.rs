//! The kernel's `handshake` generic netlink family (net/handshake, Linux 6.12): its numbers,
//! and the encoding and decoding of the messages the agent exchanges with it.
//!
//! The numbers are those of `include/uapi/linux/handshake.h`; `netlink-spec/handshake.yaml`
//! describes the family in the kernel's YNL format and a test checks the two agree.
//!
//! Requests (ACCEPT, DONE) are built with neli's message types. Replies are decoded here by
//! hand, leniently: an ACCEPT reply installs a file descriptor in the agent, so even a reply
//! that is malformed further on must give back its `sockfd` so that the request can be failed
//! with DONE and the descriptor closed.

use std::fmt;
use std::io::Cursor;

use neli::consts::nl::NlmF;
use neli::genl::{AttrTypeBuilder, Genlmsghdr, GenlmsghdrBuilder, NlattrBuilder};
use neli::nl::{NlPayload, Nlmsghdr, NlmsghdrBuilder};
use neli::types::{Buffer, GenlBuffer};
use neli::ToBytes;

/// Generic netlink family name (`HANDSHAKE_FAMILY_NAME`).
pub const FAMILY_NAME: &str = "handshake";
/// Family version (`HANDSHAKE_FAMILY_VERSION`), sent in the generic netlink header.
pub const FAMILY_VERSION: u8 = 1;
/// Multicast group the kernel announces requests of handler class `tlshd` on.
pub const MCGRP_TLSHD: &str = "tlshd";
/// The family's first multicast group (class `none`): nothing is ever sent on it.
pub const MCGRP_NONE: &str = "none";
/// Largest status DONE may carry (`max-errno`).
pub const MAX_ERRNO: u32 = 4095;

/// Commands (`HANDSHAKE_CMD_*`).
pub mod cmd {
    /// Kernel → handlers (multicast): a request of a handler class is waiting.
    pub const READY: u8 = 1;
    /// Handler → kernel: take the next request of a class; the reply installs its socket.
    pub const ACCEPT: u8 = 2;
    /// Handler → kernel: the handshake on a socket ended, with this status.
    pub const DONE: u8 = 3;
}

/// Handler classes (`enum handshake_handler_class`). The multicast group of a class has the
/// class's index in the family's group list.
pub mod handler_class {
    /// No handler.
    pub const NONE: u32 = 0;
    /// TLS handshakes (`tls_client_hello_*`, `tls_server_hello_*`), served by tlshd, and by
    /// this agent for QUIC sockets.
    pub const TLSHD: u32 = 1;
    /// One past the last class.
    pub const MAX: u32 = 2;
}

/// Handshake message types (`enum handshake_msg_type`).
pub mod msg_type {
    /// Not set.
    pub const UNSPEC: u32 = 0;
    /// Act as the client.
    pub const CLIENTHELLO: u32 = 1;
    /// Act as the server.
    pub const SERVERHELLO: u32 = 2;
}

/// Authentication modes (`enum handshake_auth`).
pub mod auth {
    /// Not set.
    pub const UNSPEC: u32 = 0;
    /// No local credential (the client verifies the server but shows no certificate).
    pub const UNAUTH: u32 = 1;
    /// Pre-shared keys named by peer identities.
    pub const PSK: u32 = 2;
    /// X.509 certificates.
    pub const X509: u32 = 3;
}

/// Attributes of the nested `certificate` attribute (`HANDSHAKE_A_X509_*`).
pub mod x509_attr {
    /// Key serial of the certificate (s32).
    pub const CERT: u16 = 1;
    /// Key serial of the private key (s32).
    pub const PRIVKEY: u16 = 2;
}

/// Attributes of READY and ACCEPT (`HANDSHAKE_A_ACCEPT_*`).
pub mod accept_attr {
    /// The socket's descriptor, installed in the handler (s32).
    pub const SOCKFD: u16 = 1;
    /// Handler class (u32): ACCEPT request and READY.
    pub const HANDLER_CLASS: u16 = 2;
    /// [`super::msg_type`] (u32).
    pub const MESSAGE_TYPE: u16 = 3;
    /// Handshake time limit in milliseconds (u32); absent: none given.
    pub const TIMEOUT: u16 = 4;
    /// [`super::auth`] (u32).
    pub const AUTH_MODE: u16 = 5;
    /// PSK key serial (u32), repeated.
    pub const PEER_IDENTITY: u16 = 6;
    /// Nested [`super::x509_attr`], repeated.
    pub const CERTIFICATE: u16 = 7;
    /// Peer name (NUL-terminated string): the server name a client verifies.
    pub const PEERNAME: u16 = 8;
    /// Keyring serial holding the credentials (u32; Linux 6.17 and later; earlier kernels link
    /// the keyring into the handler's process keyring themselves).
    pub const KEYRING: u16 = 9;
}

/// Attributes of DONE (`HANDSHAKE_A_DONE_*`).
pub mod done_attr {
    /// Positive errno, 0 on success (u32). The kernel negates it; absent means `EIO`.
    pub const STATUS: u16 = 1;
    /// The socket the handshake ran on (s32).
    pub const SOCKFD: u16 = 2;
    /// Key serial of an authenticated peer identity (u32), repeated.
    pub const REMOTE_AUTH: u16 = 3;
}

/// `NLMSG_ERROR`: an error or an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multipart message.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_OVERRUN`.
pub const NLMSG_OVERRUN: u16 = 4;

const NLMSG_HDRLEN: usize = 16;
const GENL_HDRLEN: usize = 4;
const NLA_HDRLEN: usize = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLA_F_NESTED: u16 = 0x8000;

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A message or attribute that does not follow the netlink rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

fn derr(msg: impl Into<String>) -> DecodeError {
    DecodeError(msg.into())
}

/// One netlink message of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// `nlmsg_type`: the family id, or an `NLMSG_*` control type.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// What follows the header (without padding).
    pub payload: &'a [u8],
}

/// Splits a received datagram into its netlink messages; stops at the first malformed one.
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Result<NlMsg<'_>, DecodeError>> {
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || buf.is_empty() {
            return None;
        }
        if buf.len() < NLMSG_HDRLEN {
            failed = true;
            return Some(Err(derr(format!(
                "{} trailing bytes, shorter than a netlink header",
                buf.len()
            ))));
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            failed = true;
            return Some(Err(derr(format!(
                "netlink message length {len} outside {NLMSG_HDRLEN}..={}",
                buf.len()
            ))));
        }
        let msg = NlMsg {
            ty: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]),
            pid: u32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]),
            payload: &buf[NLMSG_HDRLEN..len],
        };
        buf = &buf[align4(len).min(buf.len())..];
        Some(Ok(msg))
    })
}

/// One attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    /// Type, without the `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER` bits.
    pub ty: u16,
    /// `NLA_F_NESTED` was set.
    pub nested: bool,
    /// Payload (without padding).
    pub payload: &'a [u8],
}

impl Attr<'_> {
    /// The payload as a u32 (exactly 4 bytes, host order).
    pub fn u32(&self) -> Result<u32, DecodeError> {
        <[u8; 4]>::try_from(self.payload)
            .map(u32::from_ne_bytes)
            .map_err(|_| {
                derr(format!(
                    "attribute {}: {} bytes where a 32-bit value belongs",
                    self.ty,
                    self.payload.len()
                ))
            })
    }

    /// The payload as an s32.
    pub fn s32(&self) -> Result<i32, DecodeError> {
        self.u32().map(|v| v as i32)
    }

    /// The payload as a string: UTF-8, ending at the first NUL (which the kernel always
    /// sends), at most `max` bytes.
    pub fn string(&self, max: usize) -> Result<String, DecodeError> {
        let b = match self.payload.iter().position(|&c| c == 0) {
            Some(n) => &self.payload[..n],
            None => self.payload,
        };
        if b.len() > max {
            return Err(derr(format!(
                "attribute {}: string of {} bytes, longer than {max}",
                self.ty,
                b.len()
            )));
        }
        String::from_utf8(b.to_vec())
            .map_err(|_| derr(format!("attribute {}: string is not UTF-8", self.ty)))
    }
}

/// The attributes in `buf`; stops at the first malformed one.
pub fn attrs(mut buf: &[u8]) -> impl Iterator<Item = Result<Attr<'_>, DecodeError>> {
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || buf.is_empty() {
            return None;
        }
        if buf.len() < NLA_HDRLEN {
            failed = true;
            return Some(Err(derr(format!(
                "{} trailing bytes, shorter than an attribute header",
                buf.len()
            ))));
        }
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let raw_ty = u16::from_ne_bytes([buf[2], buf[3]]);
        if len < NLA_HDRLEN || len > buf.len() {
            failed = true;
            return Some(Err(derr(format!(
                "attribute {} length {len} outside {NLA_HDRLEN}..={}",
                raw_ty & NLA_TYPE_MASK,
                buf.len()
            ))));
        }
        let a = Attr {
            ty: raw_ty & NLA_TYPE_MASK,
            nested: raw_ty & NLA_F_NESTED != 0,
            payload: &buf[NLA_HDRLEN..len],
        };
        buf = &buf[align4(len).min(buf.len())..];
        Some(Ok(a))
    })
}

/// What one message of the `handshake` family's socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// `NLMSG_ERROR` with error 0: the request with this sequence number succeeded.
    Ack {
        /// Sequence number of the acknowledged request.
        seq: u32,
    },
    /// `NLMSG_ERROR`: the request with this sequence number failed with `errno` (positive).
    Error {
        /// Sequence number of the failed request.
        seq: u32,
        /// Positive errno.
        errno: i32,
    },
    /// A message of the family.
    Genl {
        /// Sequence number (that of the request for a reply, 0 for a notification).
        seq: u32,
        /// Generic netlink command.
        cmd: u8,
        /// The attributes (undecoded).
        attrs: &'a [u8],
    },
    /// A control message that needs nothing (`NLMSG_NOOP`, `NLMSG_DONE`).
    Noop,
}

/// Classifies a message received on a socket talking to the family `family`.
pub fn classify(msg: NlMsg<'_>, family: u16) -> Result<Incoming<'_>, DecodeError> {
    match msg.ty {
        NLMSG_ERROR => {
            let b = msg.payload;
            if b.len() < 4 {
                return Err(derr("NLMSG_ERROR shorter than its error code"));
            }
            let err = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            // The header of the failed request follows; its sequence number is ours too.
            let seq = if b.len() >= 4 + NLMSG_HDRLEN {
                u32::from_ne_bytes([b[12], b[13], b[14], b[15]])
            } else {
                msg.seq
            };
            match err {
                0 => Ok(Incoming::Ack { seq }),
                e if e < 0 && e > -(MAX_ERRNO as i32) => Ok(Incoming::Error { seq, errno: -e }),
                e => Err(derr(format!("NLMSG_ERROR with error code {e}"))),
            }
        }
        NLMSG_NOOP | NLMSG_DONE => Ok(Incoming::Noop),
        NLMSG_OVERRUN => Err(derr("NLMSG_OVERRUN: the kernel dropped messages")),
        t if t == family => {
            if msg.payload.len() < GENL_HDRLEN {
                return Err(derr(format!(
                    "handshake message of {} bytes, shorter than the genetlink header",
                    msg.payload.len()
                )));
            }
            Ok(Incoming::Genl {
                seq: msg.seq,
                cmd: msg.payload[0],
                attrs: &msg.payload[GENL_HDRLEN..],
            })
        }
        t => Err(derr(format!(
            "message of type {t}, neither a control message nor of family {family}"
        ))),
    }
}

/// A READY notification's handler class (`None` if the notification carries none).
pub fn ready_class(attrs_buf: &[u8]) -> Result<Option<u32>, DecodeError> {
    for a in attrs(attrs_buf) {
        let a = a?;
        if a.ty == accept_attr::HANDLER_CLASS {
            return a.u32().map(Some);
        }
    }
    Ok(None)
}

/// Client or server side of a handshake request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `HANDSHAKE_MSG_TYPE_CLIENTHELLO`.
    Client,
    /// `HANDSHAKE_MSG_TYPE_SERVERHELLO`.
    Server,
}

/// How the handshake authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// `HANDSHAKE_AUTH_UNAUTH`.
    Unauth,
    /// `HANDSHAKE_AUTH_PSK`.
    Psk,
    /// `HANDSHAKE_AUTH_X509`.
    X509,
}

/// One `certificate` attribute: key serials of a certificate and its private key (0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct X509Keys {
    /// Key serial of the certificate (`TLS_NO_CERT` = 0: none).
    pub cert: i32,
    /// Key serial of the private key (`TLS_NO_PRIVKEY` = 0: none).
    pub privkey: i32,
}

/// A handshake request, as an ACCEPT reply carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptRequest {
    /// The socket, installed in this process (close-on-exec).
    pub sockfd: i32,
    /// Client or server.
    pub role: Role,
    /// Time limit in milliseconds (`None`: the kernel gave none).
    pub timeout_ms: Option<u32>,
    /// Authentication mode.
    pub auth: AuthMode,
    /// PSK key serials (PSK mode).
    pub peer_identities: Vec<u32>,
    /// Certificate and private key serials (X.509 mode).
    pub certificates: Vec<X509Keys>,
    /// The peer's name (a client verifies the server's certificate against it).
    pub peername: Option<String>,
    /// Keyring holding the credentials (newer kernels).
    pub keyring: Option<u32>,
}

/// An ACCEPT reply that cannot be served; `sockfd` is set when the reply installed a socket
/// (which must be answered with DONE and closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptError {
    /// The installed socket, if the reply named one.
    pub sockfd: Option<i32>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sockfd {
            Some(fd) => write!(f, "ACCEPT reply (sockfd {fd}): {}", self.reason),
            None => write!(f, "ACCEPT reply: {}", self.reason),
        }
    }
}

impl std::error::Error for AcceptError {}

/// Longest peer name accepted (a host name or address; `NI_MAXHOST`).
pub const PEERNAME_MAX: usize = 1025;
/// Most peer identities / certificates kept (the kernel sends at most 5 identities).
pub const MULTI_MAX: usize = 16;

/// Decodes the attributes of an ACCEPT reply. The socket is looked for first, over every
/// well-formed attribute, so that it is known even when the rest of the reply is unusable.
/// Attributes this agent does not know are ignored (newer kernels add some).
pub fn parse_accept(attrs_buf: &[u8]) -> Result<AcceptRequest, AcceptError> {
    let mut sockfd = None;
    let mut problem: Option<String> = None;
    for a in attrs(attrs_buf) {
        match a {
            Ok(a) if a.ty == accept_attr::SOCKFD => match a.s32() {
                Ok(fd) if fd >= 0 && sockfd.is_none() => sockfd = Some(fd),
                Ok(fd) if fd >= 0 => {
                    problem.get_or_insert(format!("second sockfd {fd}"));
                }
                Ok(fd) => {
                    problem.get_or_insert(format!("negative sockfd {fd}"));
                }
                Err(e) => {
                    problem.get_or_insert(e.0);
                }
            },
            Ok(_) => {}
            Err(e) => {
                problem.get_or_insert(e.0);
                break;
            }
        }
    }
    let fail = |reason: String| AcceptError { sockfd, reason };
    if let Some(p) = problem {
        return Err(fail(p));
    }
    let Some(fd) = sockfd else {
        return Err(fail("no sockfd attribute".into()));
    };
    let mut role = None;
    let mut auth = None;
    let mut req = AcceptRequest {
        sockfd: fd,
        role: Role::Client,
        timeout_ms: None,
        auth: AuthMode::Unauth,
        peer_identities: Vec::new(),
        certificates: Vec::new(),
        peername: None,
        keyring: None,
    };
    for a in attrs(attrs_buf) {
        let a = a.map_err(|e| fail(e.0))?;
        match a.ty {
            accept_attr::MESSAGE_TYPE => {
                role = Some(match a.u32().map_err(|e| fail(e.0))? {
                    msg_type::CLIENTHELLO => Role::Client,
                    msg_type::SERVERHELLO => Role::Server,
                    t => return Err(fail(format!("unknown message type {t}"))),
                })
            }
            accept_attr::AUTH_MODE => {
                auth = Some(match a.u32().map_err(|e| fail(e.0))? {
                    auth::UNAUTH => AuthMode::Unauth,
                    auth::PSK => AuthMode::Psk,
                    auth::X509 => AuthMode::X509,
                    m => return Err(fail(format!("unknown auth mode {m}"))),
                })
            }
            accept_attr::TIMEOUT => {
                let t = a.u32().map_err(|e| fail(e.0))?;
                req.timeout_ms = (t != 0).then_some(t);
            }
            accept_attr::PEER_IDENTITY => {
                if req.peer_identities.len() >= MULTI_MAX {
                    return Err(fail(format!("more than {MULTI_MAX} peer identities")));
                }
                req.peer_identities.push(a.u32().map_err(|e| fail(e.0))?);
            }
            accept_attr::CERTIFICATE => {
                if req.certificates.len() >= MULTI_MAX {
                    return Err(fail(format!("more than {MULTI_MAX} certificates")));
                }
                let mut k = X509Keys::default();
                for n in attrs(a.payload) {
                    let n = n.map_err(|e| fail(format!("in certificate: {}", e.0)))?;
                    match n.ty {
                        x509_attr::CERT => k.cert = n.s32().map_err(|e| fail(e.0))?,
                        x509_attr::PRIVKEY => k.privkey = n.s32().map_err(|e| fail(e.0))?,
                        _ => {}
                    }
                }
                req.certificates.push(k);
            }
            accept_attr::PEERNAME => {
                let n = a.string(PEERNAME_MAX).map_err(|e| fail(e.0))?;
                req.peername = (!n.is_empty()).then_some(n);
            }
            accept_attr::KEYRING => {
                let k = a.u32().map_err(|e| fail(e.0))?;
                req.keyring = (k != 0).then_some(k);
            }
            _ => {}
        }
    }
    req.role = role.ok_or_else(|| fail("no message type".into()))?;
    req.auth = auth.ok_or_else(|| fail("no auth mode".into()))?;
    Ok(req)
}

/// What DONE reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Done {
    /// The socket (as the ACCEPT reply named it).
    pub sockfd: i32,
    /// 0, or a positive errno (at most [`MAX_ERRNO`]).
    pub status: u32,
    /// Key serials of the authenticated peer identities.
    pub remote_auth: Vec<u32>,
}

fn u32_attr(ty: u16, v: u32) -> Result<neli::genl::Nlattr<u16, Buffer>, String> {
    NlattrBuilder::default()
        .nla_type(
            AttrTypeBuilder::default()
                .nla_type(ty)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .nla_payload(v)
        .build()
        .map_err(|e| e.to_string())
}

fn encode(
    family: u16,
    seq: u32,
    pid: u32,
    cmd: u8,
    attrs: GenlBuffer<u16, Buffer>,
) -> Result<Vec<u8>, String> {
    let genl: Genlmsghdr<u8, u16> = GenlmsghdrBuilder::default()
        .cmd(cmd)
        .version(FAMILY_VERSION)
        .attrs(attrs)
        .build()
        .map_err(|e| e.to_string())?;
    let msg: Nlmsghdr<u16, Genlmsghdr<u8, u16>> = NlmsghdrBuilder::default()
        .nl_type(family)
        .nl_flags(NlmF::REQUEST | NlmF::ACK)
        .nl_seq(seq)
        .nl_pid(pid)
        .nl_payload(NlPayload::Payload(genl))
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = Cursor::new(Vec::new());
    msg.to_bytes(&mut out).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// An ACCEPT request for `class` (with `NLM_F_ACK`: the kernel answers with the reply, then an
/// acknowledgement, or with an error).
pub fn encode_accept(family: u16, seq: u32, pid: u32, class: u32) -> Result<Vec<u8>, String> {
    let attrs: GenlBuffer<u16, Buffer> =
        std::iter::once(u32_attr(accept_attr::HANDLER_CLASS, class)?).collect();
    encode(family, seq, pid, cmd::ACCEPT, attrs)
}

/// A DONE request (with `NLM_F_ACK`).
pub fn encode_done(family: u16, seq: u32, pid: u32, done: &Done) -> Result<Vec<u8>, String> {
    let mut attrs = GenlBuffer::new();
    attrs.push(u32_attr(done_attr::STATUS, done.status.min(MAX_ERRNO))?);
    attrs.push(u32_attr(done_attr::SOCKFD, done.sockfd as u32)?);
    for &id in &done.remote_auth {
        attrs.push(u32_attr(done_attr::REMOTE_AUTH, id)?);
    }
    encode(family, seq, pid, cmd::DONE, attrs)
}

#[cfg(test)]
pub(crate) mod testbuf {
    //! Hand-built netlink bytes, for the tests.

    /// Appends an attribute (padded).
    pub(crate) fn attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
        let len = (4 + payload.len()) as u16;
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(payload);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    /// Appends a u32 attribute.
    pub(crate) fn attr_u32(out: &mut Vec<u8>, ty: u16, v: u32) {
        attr(out, ty, &v.to_ne_bytes());
    }

    /// A whole netlink message: header, genetlink header (cmd, version 1), attributes.
    pub(crate) fn genl_msg(ty: u16, seq: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
        let len = (16 + 4 + attrs.len()) as u32;
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&[cmd, 1, 0, 0]);
        m.extend_from_slice(attrs);
        m
    }

    /// An `NLMSG_ERROR` for request `seq` with `err` (0 or -errno).
    pub(crate) fn nlmsg_error(seq: u32, err: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&super::NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0x100u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&err.to_ne_bytes());
        // The failed request's header.
        m.extend_from_slice(&20u32.to_ne_bytes());
        m.extend_from_slice(&0x20u16.to_ne_bytes());
        m.extend_from_slice(&5u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&77u32.to_ne_bytes());
        m
    }

    /// The attributes of a well-formed ACCEPT reply as the kernel builds it.
    pub(crate) fn accept_attrs(fd: i32, role: u32, auth: u32) -> Vec<u8> {
        let mut a = Vec::new();
        attr_u32(&mut a, super::accept_attr::SOCKFD, fd as u32);
        attr_u32(&mut a, super::accept_attr::MESSAGE_TYPE, role);
        attr(&mut a, super::accept_attr::PEERNAME, b"server.example\0");
        attr_u32(&mut a, super::accept_attr::TIMEOUT, 5000);
        attr_u32(&mut a, super::accept_attr::AUTH_MODE, auth);
        a
    }
}

#[cfg(test)]
mod tests {
    use super::testbuf::*;
    use super::*;

    const FAM: u16 = 0x1c;

    #[test]
    fn accept_reply_as_the_kernel_builds_it() {
        let mut a = accept_attrs(7, msg_type::CLIENTHELLO, auth::X509);
        let mut nest = Vec::new();
        attr_u32(&mut nest, x509_attr::CERT, 0x1234);
        attr_u32(&mut nest, x509_attr::PRIVKEY, 0x5678);
        attr(&mut a, accept_attr::CERTIFICATE | NLA_F_NESTED, &nest);
        let mut dgram = genl_msg(FAM, 42, cmd::ACCEPT, &a);
        dgram.extend(nlmsg_error(42, 0));

        let msgs: Vec<_> = messages(&dgram).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 2);
        let Incoming::Genl { seq, cmd, attrs } = classify(msgs[0], FAM).unwrap() else {
            panic!("not a genl message");
        };
        assert_eq!((seq, cmd), (42, cmd::ACCEPT));
        let r = parse_accept(attrs).unwrap();
        assert_eq!(
            r,
            AcceptRequest {
                sockfd: 7,
                role: Role::Client,
                timeout_ms: Some(5000),
                auth: AuthMode::X509,
                peer_identities: vec![],
                certificates: vec![X509Keys {
                    cert: 0x1234,
                    privkey: 0x5678
                }],
                peername: Some("server.example".into()),
                keyring: None,
            }
        );
        assert_eq!(classify(msgs[1], FAM).unwrap(), Incoming::Ack { seq: 42 });
    }

    #[test]
    fn psk_server_reply_with_identities_keyring_and_unknown_attributes() {
        let mut a = Vec::new();
        attr_u32(&mut a, accept_attr::SOCKFD, 3);
        attr_u32(&mut a, accept_attr::MESSAGE_TYPE, msg_type::SERVERHELLO);
        attr_u32(&mut a, accept_attr::AUTH_MODE, auth::PSK);
        attr_u32(&mut a, accept_attr::PEER_IDENTITY, 11);
        attr_u32(&mut a, accept_attr::PEER_IDENTITY, 12);
        attr_u32(&mut a, accept_attr::KEYRING, 99);
        attr_u32(&mut a, 10, 1); // a later kernel's attribute
        attr_u32(&mut a, accept_attr::TIMEOUT, 0);
        let r = parse_accept(&a).unwrap();
        assert_eq!(r.role, Role::Server);
        assert_eq!(r.auth, AuthMode::Psk);
        assert_eq!(r.peer_identities, vec![11, 12]);
        assert_eq!(r.keyring, Some(99));
        assert_eq!(r.timeout_ms, None);
        assert_eq!(r.peername, None);
    }

    #[test]
    fn malformed_accept_replies_keep_the_socket() {
        // Truncated attribute after the socket.
        let mut a = accept_attrs(9, msg_type::CLIENTHELLO, auth::UNAUTH);
        a.extend_from_slice(&[40, 0, 3, 0, 1, 2]);
        let e = parse_accept(&a).unwrap_err();
        assert_eq!(e.sockfd, Some(9));
        assert!(e.reason.contains("length 40"), "{e}");

        // Message type of the wrong size.
        let mut a = Vec::new();
        attr_u32(&mut a, accept_attr::SOCKFD, 4);
        attr(&mut a, accept_attr::MESSAGE_TYPE, &[1, 0]);
        attr_u32(&mut a, accept_attr::AUTH_MODE, auth::X509);
        let e = parse_accept(&a).unwrap_err();
        assert_eq!(e.sockfd, Some(4));
        assert!(e.reason.contains("2 bytes"), "{e}");

        // Unknown enum values, missing mandatory attributes.
        let e = parse_accept(&accept_attrs(5, 7, auth::X509)).unwrap_err();
        assert_eq!(
            (e.sockfd, e.reason.as_str()),
            (Some(5), "unknown message type 7")
        );
        let e = parse_accept(&accept_attrs(5, 1, 0)).unwrap_err();
        assert_eq!(
            (e.sockfd, e.reason.as_str()),
            (Some(5), "unknown auth mode 0")
        );
        let mut a = Vec::new();
        attr_u32(&mut a, accept_attr::SOCKFD, 6);
        attr_u32(&mut a, accept_attr::AUTH_MODE, auth::X509);
        assert_eq!(parse_accept(&a).unwrap_err().reason, "no message type");

        // Peer name that is not UTF-8; nested certificate that is malformed.
        let mut a = accept_attrs(8, 1, auth::X509);
        attr(&mut a, accept_attr::PEERNAME, b"\xff\xfe\0");
        assert_eq!(parse_accept(&a).unwrap_err().sockfd, Some(8));
        let mut a = accept_attrs(8, 1, auth::X509);
        attr(&mut a, accept_attr::CERTIFICATE, &[9, 0, 1, 0, 0]);
        let e = parse_accept(&a).unwrap_err();
        assert!(e.reason.starts_with("in certificate"), "{e}");

        // Too many identities.
        let mut a = accept_attrs(8, 1, auth::PSK);
        for i in 0..=MULTI_MAX as u32 {
            attr_u32(&mut a, accept_attr::PEER_IDENTITY, i);
        }
        assert_eq!(parse_accept(&a).unwrap_err().sockfd, Some(8));
    }

    #[test]
    fn malformed_accept_replies_without_a_usable_socket() {
        assert_eq!(parse_accept(&[]).unwrap_err().sockfd, None);
        let mut a = Vec::new();
        attr_u32(&mut a, accept_attr::SOCKFD, (-1i32) as u32);
        attr_u32(&mut a, accept_attr::MESSAGE_TYPE, 1);
        let e = parse_accept(&a).unwrap_err();
        assert_eq!((e.sockfd, e.reason.as_str()), (None, "negative sockfd -1"));
        // Malformed before the socket: the socket after it is never reached.
        let mut a = vec![2, 0, 1, 0];
        attr_u32(&mut a, accept_attr::SOCKFD, 3);
        assert_eq!(parse_accept(&a).unwrap_err().sockfd, None);
        // Two sockets: the first is kept (and failed), the reply is refused.
        let mut a = accept_attrs(3, 1, auth::X509);
        attr_u32(&mut a, accept_attr::SOCKFD, 4);
        let e = parse_accept(&a).unwrap_err();
        assert_eq!((e.sockfd, e.reason.as_str()), (Some(3), "second sockfd 4"));
    }

    #[test]
    fn malformed_datagrams() {
        let good = genl_msg(FAM, 1, cmd::READY, &[]);
        // A length past the end of the datagram.
        let mut bad = good.clone();
        bad[0] = 200;
        let r: Vec<_> = messages(&bad).collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
        // Trailing garbage after a good message: the good one, then one error, then nothing.
        let mut two = good.clone();
        two.extend_from_slice(&[1, 2, 3]);
        let r: Vec<_> = messages(&two).collect();
        assert_eq!(r.len(), 2);
        assert!(r[0].is_ok() && r[1].is_err());
        // A length below the header size.
        let mut tiny = good;
        tiny[0] = 8;
        assert!(messages(&tiny).next().unwrap().is_err());
        // Genetlink payload shorter than its header; foreign message types; bad error codes.
        let m = NlMsg {
            ty: FAM,
            flags: 0,
            seq: 0,
            pid: 0,
            payload: &[3, 1],
        };
        assert!(classify(m, FAM).is_err());
        assert!(classify(NlMsg { ty: 0x99, ..m }, FAM).is_err());
        let e = nlmsg_error(5, -libc::EAGAIN);
        let m = messages(&e).next().unwrap().unwrap();
        assert_eq!(
            classify(m, FAM).unwrap(),
            Incoming::Error {
                seq: 5,
                errno: libc::EAGAIN
            }
        );
        let e = nlmsg_error(5, 17);
        let m = messages(&e).next().unwrap().unwrap();
        assert!(classify(m, FAM).is_err());
        let short = NlMsg {
            ty: NLMSG_ERROR,
            payload: &[0, 0],
            ..m
        };
        assert!(classify(short, FAM).is_err());
    }

    /// Mutated and truncated replies (a fixed-seed generator, 20,000 cases): decoding never
    /// panics, and never yields a negative socket.
    #[test]
    fn mutated_replies_never_panic() {
        let mut a = accept_attrs(7, msg_type::SERVERHELLO, auth::X509);
        let mut nest = Vec::new();
        attr_u32(&mut nest, x509_attr::CERT, 3);
        attr_u32(&mut nest, x509_attr::PRIVKEY, 4);
        attr(&mut a, accept_attr::CERTIFICATE | NLA_F_NESTED, &nest);
        attr_u32(&mut a, accept_attr::PEER_IDENTITY, 9);
        let mut base = genl_msg(FAM, 3, cmd::ACCEPT, &a);
        base.extend(nlmsg_error(3, 0));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let (mut ok, mut with_fd) = (0, 0);
        for _ in 0..20_000 {
            let mut m = base.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            if next() % 4 == 0 {
                m.truncate((next() as usize) % m.len());
            }
            for msg in messages(&m) {
                let Ok(msg) = msg else { break };
                if let Ok(Incoming::Genl { attrs, .. }) = classify(msg, FAM) {
                    let _ = ready_class(attrs);
                    match parse_accept(attrs) {
                        Ok(r) => {
                            assert!(r.sockfd >= 0);
                            ok += 1;
                        }
                        Err(e) => {
                            if let Some(fd) = e.sockfd {
                                assert!(fd >= 0);
                                with_fd += 1;
                            }
                        }
                    }
                }
            }
        }
        // Both outcomes were reached: the mutations exercised the decoder.
        assert!(
            ok > 100 && with_fd > 100,
            "{ok} decoded, {with_fd} failed with a socket"
        );
    }

    #[test]
    fn ready_notifications() {
        let mut a = Vec::new();
        attr_u32(&mut a, accept_attr::HANDLER_CLASS, handler_class::TLSHD);
        assert_eq!(ready_class(&a), Ok(Some(1)));
        assert_eq!(ready_class(&[]), Ok(None));
        assert!(ready_class(&[8, 0, 2, 0, 1]).is_err());
        let mut a = Vec::new();
        attr(&mut a, accept_attr::HANDLER_CLASS, &[1]);
        assert!(ready_class(&a).is_err());
    }

    #[test]
    fn encoded_requests_decode_back() {
        let acc = encode_accept(FAM, 9, 1234, handler_class::TLSHD).unwrap();
        let m = messages(&acc).next().unwrap().unwrap();
        assert_eq!((m.ty, m.seq, m.pid), (FAM, 9, 1234));
        assert_eq!(m.flags, 0x1 | 0x4, "NLM_F_REQUEST | NLM_F_ACK");
        assert_eq!(acc.len(), 16 + 4 + 8);
        assert_eq!(&m.payload[..2], &[cmd::ACCEPT, FAMILY_VERSION]);
        assert_eq!(ready_class(&m.payload[4..]), Ok(Some(1)));

        let done = Done {
            sockfd: 12,
            status: libc::ETIMEDOUT as u32,
            remote_auth: vec![0x77, 0x78],
        };
        let d = encode_done(FAM, 10, 1234, &done).unwrap();
        let m = messages(&d).next().unwrap().unwrap();
        assert_eq!(m.payload[0], cmd::DONE);
        let got: Vec<(u16, u32)> = attrs(&m.payload[4..])
            .map(|a| {
                let a = a.unwrap();
                (a.ty, a.u32().unwrap())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (done_attr::STATUS, libc::ETIMEDOUT as u32),
                (done_attr::SOCKFD, 12),
                (done_attr::REMOTE_AUTH, 0x77),
                (done_attr::REMOTE_AUTH, 0x78)
            ]
        );
        // A status beyond max-errno is clamped (the kernel's policy would refuse it).
        let d = encode_done(
            FAM,
            1,
            1,
            &Done {
                sockfd: 1,
                status: 100_000,
                remote_auth: vec![],
            },
        )
        .unwrap();
        let m = messages(&d).next().unwrap().unwrap();
        let st = attrs(&m.payload[4..]).next().unwrap().unwrap();
        assert_eq!(st.u32(), Ok(MAX_ERRNO));
    }
}
