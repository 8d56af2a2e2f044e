//! One connection of our engine with its TLS session (the rustls adapter) and the interop
//! application on top: everything except where datagrams come from and go to.

use std::collections::{HashMap, HashSet};

use quic::tls::{Level as TlsLevel, TlsSession};
use quic_proto::conn::{Connection, Event, Level};
use quic_proto::crypto::Crypto;
use quic_proto::stream::{ApiError, Dir, StreamEvent, StreamId};

use crate::workload::{
    datagram_index, datagram_payload, ClientStream, Job, ServerStream, HASH_LEN,
};

/// Bytes handed to the engine per stream write.
const CHUNK: usize = 64 * 1024;

fn proto_level(l: TlsLevel) -> Level {
    match l {
        TlsLevel::Initial => Level::Initial,
        TlsLevel::Handshake => Level::Handshake,
        TlsLevel::App => Level::App,
        TlsLevel::Early => Level::Early,
    }
}

fn tls_level(l: Level) -> TlsLevel {
    match l {
        Level::Initial => TlsLevel::Initial,
        Level::Handshake => TlsLevel::Handshake,
        Level::App => TlsLevel::App,
        Level::Early => TlsLevel::Early,
    }
}

/// Drives a [`TlsSession`] from a connection's CRYPTO streams and back.
#[derive(Debug)]
pub struct TlsDriver {
    /// The TLS session.
    pub tls: TlsSession,
    peer_tp_set: bool,
    saw_handshake_level: bool,
    complete: bool,
    early_rejected: bool,
    buf: Vec<u8>,
}

impl TlsDriver {
    /// Wraps a started TLS session.
    pub fn new(tls: TlsSession) -> Self {
        Self {
            tls,
            peer_tp_set: false,
            saw_handshake_level: false,
            complete: false,
            early_rejected: false,
            buf: vec![0; 16 * 1024],
        }
    }

    /// True once the engine was told the handshake is complete.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Moves CRYPTO bytes and secrets until neither side has anything new.
    pub fn pump<C: Crypto>(&mut self, conn: &mut Connection<C>) -> Result<(), String> {
        if conn.is_closed() {
            return Ok(());
        }
        for _ in 0..64 {
            let mut progressed = false;
            for level in [Level::Initial, Level::Handshake, Level::App] {
                loop {
                    let n = conn.crypto_read(level, &mut self.buf);
                    if n == 0 {
                        break;
                    }
                    progressed = true;
                    if level == Level::Handshake {
                        self.saw_handshake_level = true;
                    }
                    if let Err(e) = self.tls.feed(tls_level(level), &self.buf[..n]) {
                        conn.tls_error(e.tls_alert().unwrap_or(80));
                        return Err(format!("TLS: {e}"));
                    }
                }
            }
            while let Some(s) = self.tls.poll_secret() {
                progressed = true;
                conn.install_secret(proto_level(s.level), s.send, s.cipher_type(), s.secret())
                    .map_err(|e| format!("install_secret({:?}): {e:?}", s.level))?;
            }
            while let Some((level, bytes)) = self.tls.poll_output() {
                progressed = true;
                conn.crypto_write(proto_level(level), &bytes)
                    .map_err(|e| format!("crypto_write({level:?}): {e:?}"))?;
            }
            // A resuming client sees the remembered parameters until the server's
            // EncryptedExtensions (Handshake level) arrive; a server has the client's at once.
            let is_client = self.tls.role() == quic::tls::Role::Client;
            if !self.peer_tp_set && (!is_client || self.saw_handshake_level) {
                if let Some(tp) = self.tls.peer_transport_params() {
                    let tp = tp.to_vec();
                    conn.set_peer_transport_params_ext(&tp)
                        .map_err(|e| format!("peer transport parameters: {e:?}"))?;
                    self.peer_tp_set = true;
                    progressed = true;
                }
            }
            if is_client
                && !self.early_rejected
                && self.tls.early_data_offered()
                && self.saw_handshake_level
                && self.peer_tp_set
                && !self.tls.early_data_accepted()
            {
                self.early_rejected = true;
                conn.early_data_rejected()
                    .map_err(|e| format!("early_data_rejected: {e:?}"))?;
            }
            if !self.complete && self.peer_tp_set && !self.tls.is_handshaking() {
                conn.handshake_complete()
                    .map_err(|e| format!("handshake_complete: {e:?}"))?;
                self.complete = true;
                progressed = true;
            }
            if !progressed {
                return Ok(());
            }
        }
        Ok(())
    }
}

#[derive(Debug)]
struct OutStream {
    id: StreamId,
    gen: ClientStream,
    check: ClientStream,
    pending: Vec<u8>,
    pending_off: usize,
    fin_sent: bool,
    blocked: bool,
    done: bool,
}

/// What a client's application has done so far.
#[derive(Debug, Default, Clone)]
pub struct ClientProgress {
    /// Streams whose response checked out.
    pub streams_ok: usize,
    /// Stream check failures.
    pub errors: Vec<String>,
    /// Datagrams sent.
    pub datagrams_sent: u32,
    /// Distinct datagrams echoed back.
    pub datagrams_echoed: u32,
    /// Key updates we started.
    pub key_updates_started: u32,
    /// `Event::KeyUpdate` seen (both sides use new keys).
    pub key_updates_done: u32,
    /// Response payload bytes received.
    pub bytes_received: u64,
    /// Request payload bytes handed to the engine.
    pub bytes_sent: u64,
    /// Migrations the engine reported.
    pub migrations: u32,
    /// A NEW_TOKEN token from the server.
    pub new_token: Option<Vec<u8>>,
}

/// The client side of the interop protocol on one connection.
#[derive(Debug)]
pub struct ClientApp {
    job: Job,
    streams: Vec<OutStream>,
    by_id: HashMap<u64, usize>,
    /// Streams not opened yet (the peer's MAX_STREAMS).
    to_open: usize,
    echoed: HashSet<u32>,
    /// Progress so far.
    pub progress: ClientProgress,
    next_key_update: u64,
    buf: Vec<u8>,
}

impl ClientApp {
    /// A client that will run `job`.
    pub fn new(job: Job) -> Self {
        Self {
            job,
            streams: Vec::with_capacity(job.streams),
            by_id: HashMap::new(),
            to_open: job.streams,
            echoed: HashSet::new(),
            progress: ClientProgress::default(),
            next_key_update: 0,
            buf: vec![0; 64 * 1024],
        }
    }

    /// All streams checked (successfully or not).
    pub fn streams_done(&self) -> bool {
        self.to_open == 0 && self.streams.iter().all(|s| s.done)
    }

    /// All datagram echoes are in.
    pub fn datagrams_done(&self) -> bool {
        self.progress.datagrams_echoed >= self.job.datagrams
    }

    /// Opens streams and writes requests; `early` when only 0-RTT keys exist so far.
    pub fn step<C: Crypto>(
        &mut self,
        conn: &mut Connection<C>,
        can_send: bool,
    ) -> Result<(), String> {
        if !can_send || conn.is_closed() {
            return Ok(());
        }
        while self.to_open > 0 {
            match conn.stream_open(Dir::Bidi) {
                Ok(id) => {
                    let raw = id.raw();
                    self.by_id.insert(raw, self.streams.len());
                    self.streams.push(OutStream {
                        id,
                        gen: ClientStream::new(raw, self.job.up, self.job.down),
                        check: ClientStream::new(raw, self.job.up, self.job.down),
                        pending: Vec::new(),
                        pending_off: 0,
                        fin_sent: false,
                        blocked: false,
                        done: false,
                    });
                    self.to_open -= 1;
                }
                Err(ApiError::StreamLimit) => break,
                Err(e) => return Err(format!("stream_open: {e}")),
            }
        }
        for s in self.streams.iter_mut() {
            if s.fin_sent || s.blocked {
                continue;
            }
            loop {
                if s.pending_off == s.pending.len() {
                    s.pending = s.gen.next_request(CHUNK);
                    s.pending_off = 0;
                }
                let last = s.gen.request_left() == 0;
                let data = &s.pending[s.pending_off..];
                let n = conn
                    .stream_write(s.id, data, last)
                    .map_err(|e| format!("stream_write({}): {e}", s.id.raw()))?;
                s.pending_off += n;
                self.progress.bytes_sent += n as u64;
                if n < data.len() {
                    s.blocked = true;
                    break;
                }
                if last {
                    s.fin_sent = true;
                    break;
                }
            }
        }
        Ok(())
    }

    /// Sends datagrams and starts key updates once 1-RTT keys are confirmed.
    pub fn step_confirmed<C: Crypto>(&mut self, conn: &mut Connection<C>) {
        if conn.is_closed() {
            return;
        }
        while self.progress.datagrams_sent < self.job.datagrams {
            let p = datagram_payload(self.progress.datagrams_sent);
            if conn.datagram_send(&p).is_err() {
                break;
            }
            self.progress.datagrams_sent += 1;
        }
        if self.job.key_update && self.progress.key_updates_started < 5 {
            let total = self.job.down * self.job.streams as u64;
            if self.progress.bytes_received >= self.next_key_update && conn.key_update().is_ok() {
                self.progress.key_updates_started += 1;
                self.next_key_update = self.progress.bytes_received + total / 6 + 1;
            }
        }
    }

    /// Handles one engine event.
    pub fn on_event<C: Crypto>(
        &mut self,
        conn: &mut Connection<C>,
        ev: &Event,
    ) -> Result<(), String> {
        match ev {
            Event::StreamReadable(id) => {
                let Some(&i) = self.by_id.get(&id.raw()) else {
                    return Ok(());
                };
                let s = &mut self.streams[i];
                loop {
                    match conn.stream_read(*id, &mut self.buf) {
                        Ok(r) => {
                            s.check.recv(&self.buf[..r.len]);
                            self.progress.bytes_received += r.len as u64;
                            if r.fin {
                                s.done = true;
                                let check =
                                    std::mem::replace(&mut s.check, ClientStream::new(0, 0, 0));
                                match check.finish() {
                                    Ok(()) => self.progress.streams_ok += 1,
                                    Err(e) => self
                                        .progress
                                        .errors
                                        .push(format!("stream {}: {e}", id.raw())),
                                }
                                break;
                            }
                            if r.len == 0 {
                                break;
                            }
                        }
                        Err(ApiError::Reset(code)) => {
                            s.done = true;
                            self.progress
                                .errors
                                .push(format!("stream {} reset by the peer ({code})", id.raw()));
                            break;
                        }
                        Err(e) => return Err(format!("stream_read({}): {e}", id.raw())),
                    }
                }
            }
            Event::StreamWritable
            | Event::Stream(StreamEvent::MaxData { .. })
            | Event::Stream(StreamEvent::MaxStreams { .. }) => {
                for s in self.streams.iter_mut() {
                    s.blocked = false;
                }
            }
            Event::DatagramReceived => {
                while let Some(n) = conn.datagram_recv(&mut self.buf) {
                    if let Some(i) = datagram_index(&self.buf[..n]) {
                        if i < self.job.datagrams && self.echoed.insert(i) {
                            self.progress.datagrams_echoed += 1;
                        }
                    }
                }
            }
            Event::KeyUpdate { .. } => self.progress.key_updates_done += 1,
            Event::Migration { .. } => self.progress.migrations += 1,
            Event::NewToken(t) => self.progress.new_token = Some(t.to_vec()),
            _ => {}
        }
        Ok(())
    }
}

#[derive(Debug)]
struct InStream {
    ss: ServerStream,
    pending: Vec<u8>,
    pending_off: usize,
    trailer: Option<[u8; HASH_LEN]>,
    pending_is_trailer: bool,
    fin_sent: bool,
    blocked: bool,
}

/// Counters of a server's application.
#[derive(Debug, Default, Clone, Copy)]
pub struct ServerProgress {
    /// Streams answered completely.
    pub streams_done: u64,
    /// Streams whose request failed its check.
    pub stream_errors: u64,
    /// Datagrams echoed.
    pub datagrams_echoed: u64,
    /// Request bytes received.
    pub bytes_received: u64,
    /// Key updates completed (`Event::KeyUpdate`).
    pub key_updates: u64,
    /// Migrations the engine reported.
    pub migrations: u64,
}

/// The server side of the interop protocol on one connection.
#[derive(Debug, Default)]
pub struct ServerApp {
    streams: HashMap<u64, InStream>,
    /// Counters.
    pub progress: ServerProgress,
    buf: Vec<u8>,
}

impl ServerApp {
    /// A server application with no streams yet.
    pub fn new() -> Self {
        Self {
            buf: vec![0; 64 * 1024],
            ..Self::default()
        }
    }

    /// Handles one engine event.
    pub fn on_event<C: Crypto>(
        &mut self,
        conn: &mut Connection<C>,
        ev: &Event,
    ) -> Result<(), String> {
        match ev {
            Event::StreamReadable(id) => {
                let raw = id.raw();
                let s = self.streams.entry(raw).or_insert_with(|| InStream {
                    ss: ServerStream::new(raw),
                    pending: Vec::new(),
                    pending_off: 0,
                    trailer: None,
                    pending_is_trailer: false,
                    fin_sent: false,
                    blocked: false,
                });
                loop {
                    match conn.stream_read(*id, &mut self.buf) {
                        Ok(r) => {
                            s.ss.recv(&self.buf[..r.len]);
                            self.progress.bytes_received += r.len as u64;
                            if r.fin {
                                match s.ss.finish() {
                                    Ok(h) => s.trailer = Some(h),
                                    Err(e) => {
                                        self.progress.stream_errors += 1;
                                        let _ = conn.stream_reset(*id, 1);
                                        s.fin_sent = true;
                                        return Err(format!("stream {raw}: {e}"));
                                    }
                                }
                                break;
                            }
                            if r.len == 0 {
                                break;
                            }
                        }
                        Err(ApiError::Reset(_)) => {
                            s.fin_sent = true;
                            break;
                        }
                        Err(ApiError::Closed) => break,
                        Err(e) => return Err(format!("stream_read({raw}): {e}")),
                    }
                }
            }
            Event::StreamWritable
            | Event::Stream(StreamEvent::MaxData { .. })
            | Event::Stream(StreamEvent::MaxStreams { .. }) => {
                for s in self.streams.values_mut() {
                    s.blocked = false;
                }
            }
            Event::DatagramReceived => {
                while let Some(n) = conn.datagram_recv(&mut self.buf) {
                    if conn.datagram_send(&self.buf[..n]).is_ok() {
                        self.progress.datagrams_echoed += 1;
                    }
                }
            }
            Event::KeyUpdate { .. } => self.progress.key_updates += 1,
            Event::Migration { .. } => self.progress.migrations += 1,
            _ => {}
        }
        Ok(())
    }

    /// Writes responses.
    pub fn step<C: Crypto>(&mut self, conn: &mut Connection<C>) -> Result<(), String> {
        if conn.is_closed() {
            return Ok(());
        }
        for (&raw, s) in self.streams.iter_mut() {
            if s.fin_sent || s.blocked || !s.ss.started() {
                continue;
            }
            let id = StreamId::new(raw);
            loop {
                if s.pending_off == s.pending.len() {
                    if s.ss.response_left() > 0 {
                        s.pending = s.ss.next_response(CHUNK);
                    } else if let Some(t) = s.trailer.take() {
                        s.pending = t.to_vec();
                        s.pending_is_trailer = true;
                    } else {
                        // Body sent; the trailer waits for the end of the request.
                        break;
                    }
                    s.pending_off = 0;
                }
                let last = s.pending_is_trailer;
                let data = &s.pending[s.pending_off..];
                let n = match conn.stream_write(id, data, last) {
                    Ok(n) => n,
                    Err(ApiError::Stopped(_)) | Err(ApiError::Closed) => {
                        s.fin_sent = true;
                        break;
                    }
                    Err(e) => return Err(format!("stream_write({raw}): {e}")),
                };
                s.pending_off += n;
                if n < data.len() {
                    s.blocked = true;
                    break;
                }
                if last {
                    s.fin_sent = true;
                    self.progress.streams_done += 1;
                    break;
                }
            }
        }
        // Streams we answered (or gave up on) need no more state: the request was read to
        // its end before the trailer could be sent.
        self.streams.retain(|_, s| !s.fin_sent);
        Ok(())
    }
}
