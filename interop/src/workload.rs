//! The application protocol every interop peer speaks (ours, quinn's in the tests, the aioquic
//! programs in `interop/aioquic/`), so any client can be checked against any server.
//!
//! ALPN [`ALPN`]. On each client-initiated bidirectional stream:
//!
//! - client → server: a [`HEADER_LEN`]-byte header (`u64` BE request length, `u64` BE response
//!   length), then the request body, then FIN;
//! - server → client: the response body, then the SHA-256 of the request body as the server
//!   received it ([`HASH_LEN`] bytes), then FIN. The server starts the response as soon as it has
//!   the header, so both directions flow at once.
//!
//! Bodies are [`Pattern`] bytes keyed by stream id and direction, so each side knows what the
//! other must send and checks it by hash without keeping it. Datagrams are echoed unchanged by
//! the server.

use sha2::{Digest, Sha256};

/// ALPN of the interop protocol.
pub const ALPN: &[u8] = b"kquic-interop";
/// Length of the request header.
pub const HEADER_LEN: usize = 16;
/// Length of the hash trailer of a response.
pub const HASH_LEN: usize = 32;
/// Application error code used to close a connection that completed its work.
pub const CLOSE_OK: u64 = 0;

/// What a client asks of a server on one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// Concurrent bidirectional streams.
    pub streams: usize,
    /// Request body bytes per stream.
    pub up: u64,
    /// Response body bytes per stream.
    pub down: u64,
    /// Datagrams sent (each echoed by the server).
    pub datagrams: u32,
    /// Force key updates during the transfer.
    pub key_update: bool,
}

impl Job {
    /// One stream, `up` bytes up and `down` bytes down, nothing else.
    pub fn transfer(up: u64, down: u64) -> Self {
        Self {
            streams: 1,
            up,
            down,
            datagrams: 0,
            key_update: false,
        }
    }

    /// Payload bytes of the job, both directions.
    pub fn bytes(&self) -> u64 {
        (self.up + self.down) * self.streams as u64
    }
}

/// Who sends a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// The request body (client to server).
    Request,
    /// The response body (server to client).
    Response,
}

impl Dir {
    fn tag(self) -> u8 {
        match self {
            Self::Request => b'C',
            Self::Response => b'S',
        }
    }
}

/// Encodes a request header.
pub fn encode_header(request_len: u64, response_len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&request_len.to_be_bytes());
    h[8..].copy_from_slice(&response_len.to_be_bytes());
    h
}

/// Decodes a request header: `(request_len, response_len)`.
pub fn decode_header(h: &[u8; HEADER_LEN]) -> (u64, u64) {
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&h[..8]);
    b.copy_from_slice(&h[8..]);
    (u64::from_be_bytes(a), u64::from_be_bytes(b))
}

/// The body bytes of one stream and direction: block `i` (32 bytes) is
/// `SHA-256("kquic-interop" || stream_id as u64 BE || 'C' or 'S' || i as u64 BE)`.
#[derive(Clone)]
pub struct Pattern {
    prefix: [u8; 22],
    offset: u64,
    block: [u8; 32],
    block_index: Option<u64>,
}

impl Pattern {
    /// The body of `stream_id` in direction `dir`, from offset 0.
    pub fn new(stream_id: u64, dir: Dir) -> Self {
        let mut prefix = [0u8; 22];
        prefix[..13].copy_from_slice(ALPN);
        prefix[13..21].copy_from_slice(&stream_id.to_be_bytes());
        prefix[21] = dir.tag();
        Self {
            prefix,
            offset: 0,
            block: [0; 32],
            block_index: None,
        }
    }

    /// Bytes produced so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Fills `out` with the next bytes of the body.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let idx = self.offset / 32;
            if self.block_index != Some(idx) {
                let mut h = Sha256::new();
                h.update(self.prefix);
                h.update(idx.to_be_bytes());
                self.block.copy_from_slice(&h.finalize());
                self.block_index = Some(idx);
            }
            let within = (self.offset % 32) as usize;
            let n = (32 - within).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.block[within..within + n]);
            done += n;
            self.offset += n as u64;
        }
    }

    /// The next `n` bytes of the body.
    pub fn take(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.fill(&mut v);
        v
    }

    /// SHA-256 of the first `len` bytes of the body of `stream_id` in direction `dir`.
    pub fn digest(stream_id: u64, dir: Dir, len: u64) -> [u8; 32] {
        let mut p = Self::new(stream_id, dir);
        let mut h = Sha256::new();
        let mut buf = [0u8; 16384];
        let mut left = len;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            p.fill(&mut buf[..n]);
            h.update(&buf[..n]);
            left -= n as u64;
        }
        h.finalize().into()
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// Incremental SHA-256 (re-exported so peers need no direct `sha2` dependency).
#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The digest of everything added.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher")
    }
}

/// Server side of one stream: consumes the request, says what to send back.
#[derive(Debug)]
pub struct ServerStream {
    stream_id: u64,
    header: Vec<u8>,
    request_len: u64,
    received: u64,
    hasher: Hasher,
    /// Response body still to produce.
    response: Option<Pattern>,
    response_len: u64,
    finished: bool,
}

/// Why a stream failed its check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// The stream ended before the header was complete.
    ShortHeader,
    /// More or fewer body bytes than announced.
    Length {
        /// Expected.
        expected: u64,
        /// Received.
        got: u64,
    },
    /// The body hash does not match the pattern.
    Hash,
    /// The echoed hash of the request does not match what was sent.
    EchoHash,
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ShortHeader => f.write_str("stream ended inside the header"),
            Self::Length { expected, got } => write!(f, "expected {expected} bytes, got {got}"),
            Self::Hash => f.write_str("body hash mismatch"),
            Self::EchoHash => f.write_str("server's hash of our request mismatch"),
        }
    }
}

impl std::error::Error for CheckError {}

impl ServerStream {
    /// A new stream with id `stream_id`.
    pub fn new(stream_id: u64) -> Self {
        Self {
            stream_id,
            header: Vec::with_capacity(HEADER_LEN),
            request_len: 0,
            received: 0,
            hasher: Hasher::default(),
            response: None,
            response_len: 0,
            finished: false,
        }
    }

    /// Feeds received bytes, in order.
    pub fn recv(&mut self, mut data: &[u8]) {
        if self.header.len() < HEADER_LEN {
            let n = (HEADER_LEN - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() == HEADER_LEN {
                let mut h = [0u8; HEADER_LEN];
                h.copy_from_slice(&self.header);
                let (req, resp) = decode_header(&h);
                self.request_len = req;
                self.response_len = resp;
                self.response = Some(Pattern::new(self.stream_id, Dir::Response));
            }
        }
        self.received += data.len() as u64;
        self.hasher.update(data);
    }

    /// `(request_len, response_len)` once the header was received.
    pub fn lengths(&self) -> Option<(u64, u64)> {
        self.response
            .is_some()
            .then_some((self.request_len, self.response_len))
    }

    /// True once the header was received (the response may start).
    pub fn started(&self) -> bool {
        self.response.is_some()
    }

    /// Response bytes still to send before the hash trailer.
    pub fn response_left(&self) -> u64 {
        match &self.response {
            Some(p) => self.response_len - p.offset(),
            None => 0,
        }
    }

    /// Up to `max` next response body bytes (empty when the body is done or not started).
    pub fn next_response(&mut self, max: usize) -> Vec<u8> {
        let left = self.response_left();
        match &mut self.response {
            Some(p) if left > 0 => p.take(left.min(max as u64) as usize),
            _ => Vec::new(),
        }
    }

    /// At FIN of the request: the hash trailer to send after the body.
    pub fn finish(&mut self) -> Result<[u8; HASH_LEN], CheckError> {
        self.finished = true;
        if self.header.len() < HEADER_LEN {
            return Err(CheckError::ShortHeader);
        }
        if self.received != self.request_len {
            return Err(CheckError::Length {
                expected: self.request_len,
                got: self.received,
            });
        }
        Ok(self.hasher.clone().finish())
    }
}

/// Client side of one stream: produces the request, checks the response.
#[derive(Debug)]
pub struct ClientStream {
    stream_id: u64,
    request_len: u64,
    response_len: u64,
    header_sent: bool,
    request: Pattern,
    received: Vec<u8>,
    body_received: u64,
    hasher: Hasher,
}

impl ClientStream {
    /// A request of `request_len` bytes asking for `response_len` bytes on `stream_id`.
    pub fn new(stream_id: u64, request_len: u64, response_len: u64) -> Self {
        Self {
            stream_id,
            request_len,
            response_len,
            header_sent: false,
            request: Pattern::new(stream_id, Dir::Request),
            received: Vec::new(),
            body_received: 0,
            hasher: Hasher::default(),
        }
    }

    /// The stream id.
    pub fn id(&self) -> u64 {
        self.stream_id
    }

    /// Request bytes (header included) still to send.
    pub fn request_left(&self) -> u64 {
        let h = if self.header_sent {
            0
        } else {
            HEADER_LEN as u64
        };
        h + self.request_len - self.request.offset()
    }

    /// Up to `max` next request bytes, header first (empty when all were produced).
    pub fn next_request(&mut self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut max = max;
        if !self.header_sent {
            out.extend_from_slice(&encode_header(self.request_len, self.response_len));
            self.header_sent = true;
            max = max.saturating_sub(HEADER_LEN);
        }
        let left = self.request_len - self.request.offset();
        let n = left.min(max as u64) as usize;
        let start = out.len();
        out.resize(start + n, 0);
        self.request.fill(&mut out[start..]);
        out
    }

    /// Feeds received response bytes, in order.
    pub fn recv(&mut self, data: &[u8]) {
        let body_left = self.response_len - self.body_received;
        let n = (body_left.min(data.len() as u64)) as usize;
        self.hasher.update(&data[..n]);
        self.body_received += n as u64;
        // The trailer (and anything beyond it, which makes the check fail) is kept.
        if self.received.len() < 1024 {
            self.received.extend_from_slice(&data[n..]);
        }
    }

    /// At FIN of the response: checks body length and hash and the server's hash of the request.
    pub fn finish(self) -> Result<(), CheckError> {
        if self.body_received != self.response_len || self.received.len() != HASH_LEN {
            return Err(CheckError::Length {
                expected: self.response_len + HASH_LEN as u64,
                got: self.body_received + self.received.len() as u64,
            });
        }
        if self.hasher.finish() != Pattern::digest(self.stream_id, Dir::Response, self.response_len)
        {
            return Err(CheckError::Hash);
        }
        if self.received[..] != Pattern::digest(self.stream_id, Dir::Request, self.request_len) {
            return Err(CheckError::EchoHash);
        }
        Ok(())
    }
}

/// Payload of datagram number `i` (what the server must echo).
pub fn datagram_payload(i: u32) -> Vec<u8> {
    let mut v = b"kquic-dgram-".to_vec();
    v.extend_from_slice(&i.to_be_bytes());
    v.resize(64, b'.');
    v
}

/// The number of a datagram payload built by [`datagram_payload`].
pub fn datagram_index(p: &[u8]) -> Option<u32> {
    if p.len() != 64 || !p.starts_with(b"kquic-dgram-") {
        return None;
    }
    let mut b = [0u8; 4];
    b.copy_from_slice(&p[12..16]);
    Some(u32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_chunking_independent() {
        let mut a = Pattern::new(4, Dir::Request);
        let whole = a.take(1000);
        let mut b = Pattern::new(4, Dir::Request);
        let mut parts = Vec::new();
        for n in [1usize, 31, 32, 33, 100, 803] {
            parts.extend(b.take(n));
        }
        assert_eq!(whole, parts);
        let mut h = Hasher::default();
        h.update(&whole);
        assert_eq!(h.finish(), Pattern::digest(4, Dir::Request, 1000));
        assert_ne!(
            Pattern::digest(4, Dir::Request, 64),
            Pattern::digest(4, Dir::Response, 64)
        );
    }

    #[test]
    fn known_block() {
        // Pinned so the Python programs can be checked against the same value.
        let mut p = Pattern::new(0, Dir::Request);
        let b = p.take(4);
        let mut h = Sha256::new();
        h.update(b"kquic-interop\0\0\0\0\0\0\0\0C\0\0\0\0\0\0\0\0");
        assert_eq!(&b[..], &h.finalize()[..4]);
    }

    #[test]
    fn client_server_roundtrip() {
        let mut c = ClientStream::new(8, 5000, 7000);
        let mut s = ServerStream::new(8);
        while c.request_left() > 0 {
            s.recv(&c.next_request(999));
        }
        let mut resp = Vec::new();
        while s.response_left() > 0 {
            resp.extend(s.next_response(1234));
        }
        resp.extend_from_slice(&s.finish().unwrap());
        for ch in resp.chunks(77) {
            c.recv(ch);
        }
        c.finish().unwrap();
    }

    #[test]
    fn detects_corruption() {
        let mut c = ClientStream::new(0, 10, 100);
        let mut s = ServerStream::new(0);
        s.recv(&c.next_request(100));
        let mut resp = s.next_response(1000);
        resp[50] ^= 1;
        resp.extend_from_slice(&s.finish().unwrap());
        c.recv(&resp);
        assert_eq!(c.finish(), Err(CheckError::Hash));
        assert_eq!(datagram_index(&datagram_payload(77)), Some(77));
    }
}
