//! Ancillary data of `IPPROTO_QUIC` sockets: building and reading the `QUIC_STREAM_INFO` and
//! `QUIC_HANDSHAKE_INFO` control messages as bytes.
//!
//! The layout is the kernel's: every message starts with a `struct cmsghdr { size_t cmsg_len;
//! int cmsg_level; int cmsg_type; }` padded to `sizeof(size_t)`, followed by the data, and the
//! next message starts at the following `sizeof(size_t)` boundary (glibc's `CMSG_ALIGN`).
//! Encoding and decoding work on plain byte slices, so they need no `unsafe` and can be tested
//! without a kernel; [`CmsgBuf`] gives the alignment `msg_control` must have.

use core::mem::size_of;

use quic_uapi::{
    quic_handshake_info, quic_stream_info, QUIC_HANDSHAKE_INFO, QUIC_STREAM_INFO, SOL_QUIC,
};

/// Alignment of control messages (`sizeof(size_t)`).
const ALIGN: usize = size_of::<usize>();

/// Rounds `n` up to the control message alignment (`CMSG_ALIGN`).
pub const fn cmsg_align(n: usize) -> usize {
    (n + ALIGN - 1) & !(ALIGN - 1)
}

/// Size of the aligned `struct cmsghdr`.
pub const CMSG_HDR_LEN: usize = cmsg_align(size_of::<libc::cmsghdr>());

/// `CMSG_LEN(data_len)`: the `cmsg_len` of a message carrying `data_len` bytes.
pub const fn cmsg_len(data_len: usize) -> usize {
    CMSG_HDR_LEN + data_len
}

/// `CMSG_SPACE(data_len)`: the control buffer space a message carrying `data_len` bytes takes.
pub const fn cmsg_space(data_len: usize) -> usize {
    CMSG_HDR_LEN + cmsg_align(data_len)
}

/// Offset of `cmsg_level` in `struct cmsghdr` (right after the `size_t cmsg_len`).
const LEVEL_OFF: usize = size_of::<usize>();
/// Offset of `cmsg_type`.
const TYPE_OFF: usize = LEVEL_OFF + size_of::<i32>();

/// Space of one `QUIC_STREAM_INFO` message.
pub const STREAM_INFO_SPACE: usize = cmsg_space(quic_stream_info::SIZE);
/// Space of one `QUIC_HANDSHAKE_INFO` message.
pub const HANDSHAKE_INFO_SPACE: usize = cmsg_space(quic_handshake_info::SIZE);

/// Bytes of [`CmsgBuf`]: room for either QUIC message with plenty to spare (a kernel that adds
/// a message we do not know about does not truncate ours).
pub const CMSG_BUF_LEN: usize = 128;

const _: () = {
    assert!(STREAM_INFO_SPACE <= CMSG_BUF_LEN);
    assert!(HANDSHAKE_INFO_SPACE <= CMSG_BUF_LEN);
};

/// A control buffer aligned as `msg_control` must be (to `size_t`, here to 8 bytes).
#[repr(C, align(8))]
#[derive(Clone)]
pub struct CmsgBuf {
    /// The raw bytes.
    pub bytes: [u8; CMSG_BUF_LEN],
}

impl Default for CmsgBuf {
    fn default() -> Self {
        Self {
            bytes: [0; CMSG_BUF_LEN],
        }
    }
}

impl core::fmt::Debug for CmsgBuf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CmsgBuf").finish_non_exhaustive()
    }
}

/// Writes one control message (header, data, zero padding) at the start of `out` and returns
/// the space it takes, or `None` if `out` is too short.
pub fn encode(out: &mut [u8], level: i32, ty: i32, data: &[u8]) -> Option<usize> {
    let space = cmsg_space(data.len());
    let out = out.get_mut(..space)?;
    out.fill(0);
    out[..LEVEL_OFF].copy_from_slice(&cmsg_len(data.len()).to_ne_bytes());
    out[LEVEL_OFF..TYPE_OFF].copy_from_slice(&level.to_ne_bytes());
    out[TYPE_OFF..TYPE_OFF + 4].copy_from_slice(&ty.to_ne_bytes());
    out[CMSG_HDR_LEN..CMSG_HDR_LEN + data.len()].copy_from_slice(data);
    Some(space)
}

/// Writes a `QUIC_STREAM_INFO` message; returns its space ([`STREAM_INFO_SPACE`]).
pub fn encode_stream_info(out: &mut [u8], stream_id: i64, stream_flags: u32) -> Option<usize> {
    let info = quic_stream_info {
        stream_id,
        stream_flags,
    };
    encode(out, SOL_QUIC, QUIC_STREAM_INFO, &info.to_bytes())
}

/// Writes a `QUIC_HANDSHAKE_INFO` message; returns its space ([`HANDSHAKE_INFO_SPACE`]).
pub fn encode_handshake_info(out: &mut [u8], crypto_level: u8) -> Option<usize> {
    let info = quic_handshake_info { crypto_level };
    encode(out, SOL_QUIC, QUIC_HANDSHAKE_INFO, &info.to_bytes())
}

/// One control message found in a control buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawCmsg<'a> {
    /// `cmsg_level`.
    pub level: i32,
    /// `cmsg_type`.
    pub ty: i32,
    /// The data (`cmsg_len` minus the header).
    pub data: &'a [u8],
}

/// Iterates over the control messages of the first `msg_controllen` bytes of a buffer. A
/// malformed or truncated message ends the iteration.
#[derive(Clone, Debug)]
pub struct CmsgIter<'a> {
    rest: &'a [u8],
}

/// The control messages of `control` (already cut to the returned `msg_controllen`).
pub fn iter(control: &[u8]) -> CmsgIter<'_> {
    CmsgIter { rest: control }
}

impl<'a> Iterator for CmsgIter<'a> {
    type Item = RawCmsg<'a>;

    fn next(&mut self) -> Option<RawCmsg<'a>> {
        let b = self.rest;
        if b.len() < CMSG_HDR_LEN {
            return None;
        }
        let len = usize::from_ne_bytes(b[..LEVEL_OFF].try_into().ok()?);
        let level = i32::from_ne_bytes(b[LEVEL_OFF..TYPE_OFF].try_into().ok()?);
        let ty = i32::from_ne_bytes(b[TYPE_OFF..TYPE_OFF + 4].try_into().ok()?);
        if len < CMSG_HDR_LEN || len > b.len() {
            self.rest = &[];
            return None;
        }
        let data = &b[CMSG_HDR_LEN..len];
        self.rest = b.get(cmsg_align(len)..).unwrap_or(&[]);
        Some(RawCmsg { level, ty, data })
    }
}

/// The QUIC information of a received message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuicCmsgs {
    /// A `QUIC_STREAM_INFO` message: the data belongs to this stream.
    pub stream: Option<quic_stream_info>,
    /// A `QUIC_HANDSHAKE_INFO` message: the data is CRYPTO bytes of this level.
    pub handshake_level: Option<u8>,
}

/// Reads the `SOL_QUIC` messages of a control buffer (others are skipped; with several of one
/// type the last wins). Data shorter than the structure is zero-extended, as the ABI allows.
pub fn decode(control: &[u8]) -> QuicCmsgs {
    let mut out = QuicCmsgs::default();
    for m in iter(control).filter(|m| m.level == SOL_QUIC) {
        match m.ty {
            QUIC_STREAM_INFO => out.stream = Some(quic_stream_info::from_bytes_prefix(m.data)),
            QUIC_HANDSHAKE_INFO if !m.data.is_empty() => {
                out.handshake_level =
                    Some(quic_handshake_info::from_bytes_prefix(m.data).crypto_level)
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};

    fn libc_space(n: u32) -> usize {
        // SAFETY: CMSG_SPACE is arithmetic on its argument.
        unsafe { libc::CMSG_SPACE(n) as usize }
    }

    fn libc_len(n: u32) -> usize {
        // SAFETY: CMSG_LEN is arithmetic on its argument.
        unsafe { libc::CMSG_LEN(n) as usize }
    }

    #[test]
    fn sizes_match_libc_macros() {
        for n in [0usize, 1, 7, 8, 12, 16, 17, 48] {
            assert_eq!(cmsg_space(n), libc_space(n as u32), "space {n}");
            assert_eq!(cmsg_len(n), libc_len(n as u32), "len {n}");
        }
        assert_eq!(quic_stream_info::SIZE, 16);
        assert_eq!(quic_handshake_info::SIZE, 1);
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(STREAM_INFO_SPACE, 32);
            assert_eq!(HANDSHAKE_INFO_SPACE, 24);
        }
    }

    /// A msghdr pointing at `buf`'s first `len` bytes, for libc's CMSG_* walkers.
    fn msghdr_over(buf: &mut CmsgBuf, len: usize) -> libc::msghdr {
        // SAFETY: msghdr is plain data; all-zero (null pointers, zero lengths) is valid.
        let mut m: libc::msghdr = unsafe { core::mem::zeroed() };
        m.msg_control = buf.bytes.as_mut_ptr().cast();
        m.msg_controllen = len as _;
        m
    }

    #[test]
    fn stream_info_encoding_reads_back_with_libc() {
        let mut buf = CmsgBuf::default();
        buf.bytes.fill(0xaa);
        let n = encode_stream_info(
            &mut buf.bytes,
            -1,
            MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_FIN,
        )
        .unwrap();
        assert_eq!(n, STREAM_INFO_SPACE);
        let m = msghdr_over(&mut buf, n);
        // SAFETY: m describes a live, aligned buffer of n bytes holding one message we wrote;
        // CMSG_DATA points inside it, at 16 readable bytes (checked by cmsg_len).
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&m);
            assert!(!c.is_null());
            assert_eq!((*c).cmsg_level, SOL_QUIC);
            assert_eq!((*c).cmsg_type, QUIC_STREAM_INFO);
            assert_eq!((*c).cmsg_len as usize, libc::CMSG_LEN(16) as usize);
            let d = core::slice::from_raw_parts(libc::CMSG_DATA(c), 16);
            assert_eq!(&d[..8], &(-1i64).to_ne_bytes());
            assert_eq!(&d[8..12], &0x600u32.to_ne_bytes());
            // Padding is zeroed, not left over from the buffer.
            assert_eq!(&d[12..], &[0; 4]);
            assert!(libc::CMSG_NXTHDR(&m, c).is_null());
        }
        let q = decode(&buf.bytes[..n]);
        assert_eq!(q.handshake_level, None);
        let s = q.stream.unwrap();
        assert_eq!((s.stream_id, s.stream_flags), (-1, 0x600));
    }

    #[test]
    fn handshake_info_encoding_reads_back_with_libc() {
        let mut buf = CmsgBuf::default();
        let n = encode_handshake_info(&mut buf.bytes, 2).unwrap();
        assert_eq!(n, HANDSHAKE_INFO_SPACE);
        let m = msghdr_over(&mut buf, n);
        // SAFETY: as above; the message carries one data byte.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&m);
            assert!(!c.is_null());
            assert_eq!((*c).cmsg_level, SOL_QUIC);
            assert_eq!((*c).cmsg_type, QUIC_HANDSHAKE_INFO);
            assert_eq!((*c).cmsg_len as usize, libc::CMSG_LEN(1) as usize);
            assert_eq!(*libc::CMSG_DATA(c), 2);
        }
        assert_eq!(
            decode(&buf.bytes[..n]),
            QuicCmsgs {
                stream: None,
                handshake_level: Some(2)
            }
        );
    }

    /// Messages built with libc's macros (as the kernel lays them out) decode.
    #[test]
    fn decodes_libc_built_messages() {
        let mut buf = CmsgBuf::default();
        let total = libc_space(4) + libc_space(16) + libc_space(1);
        let m = msghdr_over(&mut buf, total);
        // SAFETY: the three messages fit the 128-byte buffer (total <= 72); each pointer comes
        // from the CMSG_* walkers over that buffer and is written within its message.
        unsafe {
            // An unrelated SOL_SOCKET message first: skipped.
            let c = libc::CMSG_FIRSTHDR(&m);
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            core::ptr::copy_nonoverlapping([9u8; 4].as_ptr(), libc::CMSG_DATA(c), 4);
            let c = libc::CMSG_NXTHDR(&m, c);
            assert!(!c.is_null());
            (*c).cmsg_len = libc::CMSG_LEN(16) as _;
            (*c).cmsg_level = SOL_QUIC;
            (*c).cmsg_type = QUIC_STREAM_INFO;
            let info = quic_stream_info {
                stream_id: 0x0012_3456_789a,
                stream_flags: MSG_QUIC_STREAM_FIN,
            };
            core::ptr::copy_nonoverlapping(info.to_bytes().as_ptr(), libc::CMSG_DATA(c), 16);
            let c = libc::CMSG_NXTHDR(&m, c);
            assert!(!c.is_null());
            (*c).cmsg_len = libc::CMSG_LEN(1) as _;
            (*c).cmsg_level = SOL_QUIC;
            (*c).cmsg_type = QUIC_HANDSHAKE_INFO;
            *libc::CMSG_DATA(c) = 0;
        }
        let all: Vec<_> = iter(&buf.bytes[..total]).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].data, &[9; 4]);
        let q = decode(&buf.bytes[..total]);
        let s = q.stream.unwrap();
        assert_eq!(s.stream_id, 0x0012_3456_789a);
        assert_eq!(s.stream_flags, MSG_QUIC_STREAM_FIN);
        assert_eq!(q.handshake_level, Some(0));
    }

    #[test]
    fn malformed_control_is_ignored() {
        assert_eq!(decode(&[]), QuicCmsgs::default());
        assert_eq!(decode(&[1, 2, 3]), QuicCmsgs::default());
        let mut buf = CmsgBuf::default();
        let n = encode_stream_info(&mut buf.bytes, 4, 0).unwrap();
        // Truncated: cmsg_len beyond the controllen.
        assert_eq!(decode(&buf.bytes[..n - 8]), QuicCmsgs::default());
        // cmsg_len shorter than a header.
        buf.bytes[..LEVEL_OFF].copy_from_slice(&3usize.to_ne_bytes());
        assert_eq!(iter(&buf.bytes[..n]).count(), 0);
        // A short stream info is zero-extended.
        let mut buf = CmsgBuf::default();
        let n = encode(
            &mut buf.bytes,
            SOL_QUIC,
            QUIC_STREAM_INFO,
            &8i64.to_ne_bytes(),
        )
        .unwrap();
        let s = decode(&buf.bytes[..n]).stream.unwrap();
        assert_eq!((s.stream_id, s.stream_flags), (8, 0));
        // An empty handshake info carries no level.
        let n = encode(&mut buf.bytes, SOL_QUIC, QUIC_HANDSHAKE_INFO, &[]).unwrap();
        assert_eq!(decode(&buf.bytes[..n]).handshake_level, None);
        // Too small an output buffer.
        assert_eq!(encode_stream_info(&mut [0u8; 31], 0, 0), None);
    }

    #[test]
    fn two_messages_back_to_back() {
        let mut buf = CmsgBuf::default();
        let a = encode_handshake_info(&mut buf.bytes, 1).unwrap();
        let b = encode_stream_info(&mut buf.bytes[a..], 5, 0).unwrap();
        let q = decode(&buf.bytes[..a + b]);
        assert_eq!(q.handshake_level, Some(1));
        assert_eq!(q.stream.unwrap().stream_id, 5);
    }
}
