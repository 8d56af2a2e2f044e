//! The interop protocol (`quic_interop::workload`) over the kernel's QUIC sockets: `quic.ko`'s
//! `IPPROTO_QUIC` sockets with libquic's userspace TLS handshake (`quic::ksock`). It needs the
//! module loaded, so it runs in the VM (`interop/vm/run-interop.sh`), against quinn
//! (`quinn-peer`) and aioquic (`interop/aioquic/interop_peer.py`).
//!
//! ```text
//! kquic-ko-peer server --listen ADDR --cert-out DIR [--max-conns N]
//! kquic-ko-peer client --server ADDR --ca FILE [--streams N] [--up BYTES] [--down BYTES]
//!                      [--timeout S]
//! ```
//!
//! The server makes a self-signed certificate (for `localhost`, `127.0.0.1` and `::1`), writes
//! `cert.pem` and `key.pem` into `--cert-out`, prints `ready` once it listens and serves every
//! connection in a thread of its own, until killed or until `--max-conns` connections have
//! ended (then it exits 0 only if every stream of every one was served). The client connects
//! with server name `localhost`, sends the requests of streams 0, 4, 8, … from the main thread
//! while a reader thread takes whatever `recvmsg` returns, routes it to its stream by the
//! `QUIC_STREAM_INFO` stream id and checks each response at its FIN; it closes the socket (the
//! kernel sends CONNECTION_CLOSE) once every stream has been checked, and exits 0 only if
//! all of them checked out.
//!
//! The kernel contract this relies on (`libquic/src/ksock`): `recvmsg` returns one stream's
//! bytes per call with their stream id and `MSG_QUIC_STREAM_FIN` at the end; a blocking
//! `sendmsg` waits (lock released, so a reader in another thread goes on) until all of the
//! message is queued, also when the stream is beyond the peer's stream limit; `close()` sends
//! CONNECTION_CLOSE at once without waiting for unacknowledged data, so the server never
//! closes first: it serves until the client closes.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use quic::ksock::{client_handshake, server_handshake, Recv, SockType, Socket};
use quic::tls::TlsConfig;
use quic_interop::certs::TestCert;
use quic_interop::cli::Args;
use quic_interop::workload::{
    CheckError, ClientStream, Dir, Job, Pattern, ServerStream, ALPN, HASH_LEN,
};
use quic_uapi::{MSG_QUIC_STREAM_FIN, MSG_QUIC_STREAM_NEW};

const USAGE: &str =
    "usage: kquic-ko-peer server --listen ADDR --cert-out DIR [--max-conns N]\n       \
                     kquic-ko-peer client --server ADDR --ca FILE [--streams N] [--up BYTES] \
                     [--down BYTES] [--timeout S]";

/// Bytes per `sendmsg` / `recvmsg`.
const CHUNK: usize = 64 * 1024;
/// `SO_RCVTIMEO` during the handshake (it bounds each wait for the peer's next flight).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// `SO_SNDTIMEO`: a blocking `sendmsg` that makes no progress for this long fails.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

fn alpn() -> &'static str {
    std::str::from_utf8(ALPN).expect("the interop ALPN is ASCII")
}

/// A stream socket of `addr`'s family with the interop ALPN and send timeout.
fn new_socket(addr: &SocketAddr) -> Result<Socket, String> {
    let s = Socket::for_addr(addr, SockType::Stream)
        .map_err(|e| format!("socket(IPPROTO_QUIC): {e} (is quic.ko loaded?)"))?;
    s.set_alpn(alpn())
        .map_err(|e| format!("QUIC_SOCKOPT_ALPN: {e}"))?;
    s.set_write_timeout(Some(SEND_TIMEOUT))
        .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
    Ok(s)
}

/// Queues all of `data` on stream `sid`: `flags` on the first `sendmsg` (the stream's first
/// bytes: `MSG_QUIC_STREAM_NEW`), FIN with the last byte when `fin`. An empty `data` with `fin`
/// sends just the FIN.
fn send_all(s: &Socket, sid: i64, data: &[u8], flags: u32, fin: bool) -> Result<(), String> {
    let mut off = 0;
    let mut first = true;
    while off < data.len() || first {
        let mut f = if first { flags } else { 0 };
        if fin {
            f |= MSG_QUIC_STREAM_FIN;
        }
        match s.send(&data[off..], sid, f) {
            Ok(0) if off < data.len() => {
                return Err(format!(
                    "sendmsg on stream {sid} queued nothing at byte {off}"
                ))
            }
            Ok(n) => off += n.min(data.len() - off),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("sendmsg on stream {sid}: {e}")),
        }
        first = false;
    }
    Ok(())
}

/// One `recvmsg`, retried on EINTR.
fn recv(s: &Socket, buf: &mut [u8]) -> io::Result<Recv> {
    loop {
        match s.recv(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

/// Whether a read says the connection is over: the end of file (no stream information, no
/// bytes) after the peer closed.
fn is_eof(r: &Recv) -> bool {
    r.stream_id < 0 && r.len == 0
}

// ------------------------------------------------------------------------------------------
// Server
// ------------------------------------------------------------------------------------------

/// What the reader tells the writer about a stream.
enum Event {
    /// The header is in: respond with `len` body bytes.
    Start { sid: i64, len: u64 },
    /// The request's FIN: the hash trailer, or why the request was wrong.
    Finish {
        sid: i64,
        trailer: Result<[u8; HASH_LEN], CheckError>,
    },
}

/// A response being sent.
struct Response {
    body: Pattern,
    left: u64,
    /// Known once the request's FIN was read.
    trailer: Option<Result<[u8; HASH_LEN], CheckError>>,
}

/// Reads the requests of every stream until the client closes; tells the writer what to send.
/// Returns the streams whose request was complete and correct, and the failures.
fn serve_reader(s: &Socket, tx: mpsc::Sender<Event>) -> (u64, Vec<String>) {
    let mut streams: HashMap<i64, ServerStream> = HashMap::new();
    let mut buf = vec![0u8; CHUNK];
    let mut ok = 0;
    let mut failures = Vec::new();
    loop {
        let r = match recv(s, &mut buf) {
            Ok(r) if is_eof(&r) => break,
            // Not stream data (a datagram): the interop clients we serve send none.
            Ok(r) if r.stream_id < 0 => continue,
            Ok(r) => r,
            // ECONNRESET and friends: the client closed or the connection timed out.
            Err(e) => {
                if e.kind() != io::ErrorKind::ConnectionReset {
                    eprintln!("kquic-ko-peer: server recvmsg: {e}");
                }
                break;
            }
        };
        let sid = r.stream_id;
        if sid % 4 != 0 {
            failures.push(format!(
                "data on stream {sid}, not a client bidirectional one"
            ));
            continue;
        }
        let st = streams
            .entry(sid)
            .or_insert_with(|| ServerStream::new(sid as u64));
        let started = st.started();
        st.recv(&buf[..r.len]);
        if !started {
            if let Some((_, len)) = st.lengths() {
                let _ = tx.send(Event::Start { sid, len });
            }
        }
        if r.fin() {
            let mut st = streams.remove(&sid).expect("present");
            let trailer = st.finish();
            match &trailer {
                Ok(_) => ok += 1,
                Err(e) => failures.push(format!("stream {sid}: request: {e}")),
            }
            let _ = tx.send(Event::Finish { sid, trailer });
        }
    }
    for sid in streams.keys() {
        failures.push(format!(
            "stream {sid}: connection ended before the request's FIN"
        ));
    }
    (ok, failures)
}

/// Sends the responses the reader asks for, a chunk per stream in turn so that they all
/// progress; each response ends with its hash trailer and FIN. Returns the streams answered
/// in full and the failures.
fn serve_writer(s: &Socket, rx: Receiver<Event>) -> (u64, Vec<String>) {
    let mut active: BTreeMap<i64, Response> = BTreeMap::new();
    let mut done = 0;
    let mut failures = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let mut reader_gone = false;
    loop {
        // Wait for the reader only when no response can make progress.
        let idle = active.values().all(|r| r.left == 0 && r.trailer.is_none());
        let mut next = if idle && !reader_gone {
            match rx.recv() {
                Ok(ev) => Some(ev),
                Err(_) => {
                    reader_gone = true;
                    None
                }
            }
        } else {
            None
        };
        loop {
            let ev = match next.take() {
                Some(ev) => ev,
                None if reader_gone => break,
                None => match rx.try_recv() {
                    Ok(ev) => ev,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        reader_gone = true;
                        break;
                    }
                },
            };
            match ev {
                Event::Start { sid, len } => {
                    active.insert(
                        sid,
                        Response {
                            body: Pattern::new(sid as u64, Dir::Response),
                            left: len,
                            trailer: None,
                        },
                    );
                }
                Event::Finish { sid, trailer } => match active.get_mut(&sid) {
                    Some(r) => r.trailer = Some(trailer),
                    // A FIN before a complete header: end the stream, the client sees a
                    // short response (the reader has counted the failure).
                    None => {
                        if let Err(e) = send_all(s, sid, &[], 0, true) {
                            failures.push(e);
                        }
                    }
                },
            }
        }
        if reader_gone && active.values().all(|r| r.left == 0 && r.trailer.is_none()) {
            // The connection is over: what is still waiting for a request's FIN never gets it.
            for sid in active.keys() {
                failures.push(format!(
                    "stream {sid}: connection ended before the response"
                ));
            }
            return (done, failures);
        }
        let mut finished = Vec::new();
        for (&sid, r) in active.iter_mut() {
            let step = if r.left > 0 {
                let n = r.left.min(CHUNK as u64) as usize;
                r.body.fill(&mut chunk[..n]);
                r.left -= n as u64;
                send_all(s, sid, &chunk[..n], 0, false)
            } else {
                match r.trailer.take() {
                    None => continue,
                    Some(Ok(hash)) => {
                        finished.push(sid);
                        send_all(s, sid, &hash, 0, true).map(|()| done += 1)
                    }
                    // The request was wrong: FIN without the trailer (the reader has counted
                    // the failure).
                    Some(Err(_)) => {
                        finished.push(sid);
                        send_all(s, sid, &[], 0, true)
                    }
                }
            };
            if let Err(e) = step {
                failures.push(e);
                return (done, failures);
            }
        }
        for sid in finished {
            active.remove(&sid);
        }
    }
}

/// Handshake and serve one accepted connection until the client closes it.
fn serve_conn(sock: Socket, peer: SocketAddr, tls: &TlsConfig) -> Result<u64, String> {
    sock.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    sock.set_write_timeout(Some(SEND_TIMEOUT))
        .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
    let info = server_handshake(&sock, tls).map_err(|e| format!("{peer}: handshake: {e}"))?;
    if info.alpn.as_deref() != Some(ALPN) {
        return Err(format!("{peer}: negotiated ALPN {:?}", info.alpn_str()));
    }
    // From here on the client decides when the connection ends (its close, or the idle
    // timeout if it vanishes): no read timeout.
    sock.set_read_timeout(None)
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let ((read_ok, mut failures), (answered, write_failures)) = thread::scope(|sc| {
        let writer = sc.spawn(|| serve_writer(&sock, rx));
        let r = serve_reader(&sock, tx);
        let w = writer
            .join()
            .unwrap_or_else(|_| (0, vec!["writer thread panicked".to_string()]));
        (r, w)
    });
    failures.extend(write_failures);
    eprintln!(
        "kquic-ko-peer: {peer}: {read_ok} requests received, {answered} answered, {} failures",
        failures.len()
    );
    if failures.is_empty() {
        Ok(answered)
    } else {
        Err(format!("{peer}: {}", failures.join("; ")))
    }
}

fn server(args: &[String]) -> Result<(), String> {
    let a = Args::parse(args, &[]).ok_or(USAGE)?;
    if !a.only(&["--listen", "--cert-out", "--max-conns"]) {
        return Err(USAGE.into());
    }
    let listen = a.loopback_addr("--listen")?;
    let dir = a.required("--cert-out")?;
    let max_conns: u64 = a.parsed("--max-conns", 0)?;
    let cert = TestCert::generate();
    cert.write_pem(dir.as_ref())
        .map_err(|e| format!("writing the certificate to {dir}: {e}"))?;
    let tls = TlsConfig::server()
        .cert_der(vec![cert.cert_der.clone()])
        .key_der(cert.key())
        .alpn_protocols([ALPN])
        .build()
        .map_err(|e| format!("server TLS config: {e}"))?;
    let tls = Arc::new(tls);
    let l = new_socket(&listen)?;
    l.bind(&listen).map_err(|e| format!("bind {listen}: {e}"))?;
    l.listen(64).map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| format!("getsockname: {e}"))?;
    eprintln!("kquic-ko-peer: listening on {addr}");
    println!("ready");
    let _ = io::stdout().flush();
    let mut conns = Vec::new();
    let mut accepted = 0u64;
    while max_conns == 0 || accepted < max_conns {
        let (sock, peer) = match l.accept() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("accept: {e}")),
        };
        accepted += 1;
        let tls = tls.clone();
        conns.push(thread::spawn(move || {
            let r = serve_conn(sock, peer, &tls);
            if let Err(e) = &r {
                eprintln!("kquic-ko-peer: {e}");
            }
            r
        }));
        // Without a limit, reap finished connections as we go.
        if max_conns == 0 {
            conns.retain(|h| !h.is_finished());
        }
    }
    drop(l);
    let mut failed = 0;
    let mut streams = 0;
    for h in conns {
        match h.join() {
            Ok(Ok(n)) => streams += n,
            _ => failed += 1,
        }
    }
    println!(
        "served {accepted} connections: {streams} streams answered, {failed} connections failed"
    );
    if failed > 0 {
        return Err(format!("{failed} of {accepted} connections failed"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Client
// ------------------------------------------------------------------------------------------

/// Reads the responses of `job`'s streams (0, 4, 8, …) until each has been checked at its FIN.
fn client_reader(s: &Socket, job: &Job) -> Result<(), String> {
    let mut checks: HashMap<i64, ClientStream> = (0..job.streams as i64)
        .map(|i| (4 * i, ClientStream::new(4 * i as u64, job.up, job.down)))
        .collect();
    let mut buf = vec![0u8; CHUNK];
    let mut ok = 0;
    while !checks.is_empty() {
        let r = recv(s, &mut buf).map_err(|e| {
            format!(
                "recvmsg with {} of {} streams checked: {e}",
                ok, job.streams
            )
        })?;
        if is_eof(&r) {
            return Err(format!(
                "connection closed with {ok} of {} streams checked",
                job.streams
            ));
        }
        if r.stream_id < 0 {
            continue;
        }
        let sid = r.stream_id;
        let Some(c) = checks.get_mut(&sid) else {
            return Err(format!(
                "{} bytes on stream {sid}, not one of ours or after its FIN",
                r.len
            ));
        };
        c.recv(&buf[..r.len]);
        if r.fin() {
            let c = checks.remove(&sid).expect("present");
            c.finish().map_err(|e| format!("stream {sid}: {e}"))?;
            ok += 1;
        }
    }
    Ok(())
}

/// Sends the requests of `job`'s streams, one stream after the other (their responses come
/// back meanwhile, to the reader).
fn client_writer(s: &Socket, job: &Job) -> Result<(), String> {
    for i in 0..job.streams as i64 {
        let sid = 4 * i;
        let mut req = ClientStream::new(sid as u64, job.up, job.down);
        let mut flags = MSG_QUIC_STREAM_NEW;
        while req.request_left() > 0 {
            let data = req.next_request(CHUNK);
            send_all(s, sid, &data, flags, req.request_left() == 0)?;
            flags = 0;
        }
    }
    Ok(())
}

fn client(args: &[String]) -> Result<(), String> {
    let a = Args::parse(args, &[]).ok_or(USAGE)?;
    if !a.only(&[
        "--server",
        "--ca",
        "--streams",
        "--up",
        "--down",
        "--timeout",
    ]) {
        return Err(USAGE.into());
    }
    let server = a.loopback_addr("--server")?;
    let ca = a.required("--ca")?;
    let job = Job {
        streams: a.parsed("--streams", 1)?,
        up: a.parsed("--up", 1000)?,
        down: a.parsed("--down", 1000)?,
        datagrams: 0,
        key_update: false,
    };
    let timeout = Duration::from_secs(a.parsed("--timeout", 60)?);
    let tls = TlsConfig::client()
        .ca_file(ca)
        .server_name("localhost")
        .alpn_protocols([ALPN])
        .build()
        .map_err(|e| format!("client TLS config: {e}"))?;
    let start = Instant::now();
    let sock = new_socket(&server)?;
    sock.set_read_timeout(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    sock.connect(&server)
        .map_err(|e| format!("connect {server}: {e}"))?;
    let info =
        client_handshake(&sock, &tls, None).map_err(|e| format!("{server}: handshake: {e}"))?;
    let handshake = start.elapsed();
    if info.alpn.as_deref() != Some(ALPN) {
        return Err(format!("negotiated ALPN {:?}", info.alpn_str()));
    }
    // Each wait for the next response bytes is bounded by the whole run's time.
    sock.set_read_timeout(Some(timeout))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    let (w, r) = thread::scope(|sc| {
        let reader = sc.spawn(|| client_reader(&sock, &job));
        let w = client_writer(&sock, &job);
        if w.is_err() {
            // The reader would wait for responses that cannot come: end the connection.
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
        let r = reader
            .join()
            .unwrap_or_else(|_| Err("reader thread panicked".to_string()));
        (w, r)
    });
    let elapsed = start.elapsed();
    // Everything was answered (so also received): closing sends CONNECTION_CLOSE at once.
    drop(sock);
    w.map_err(|e| format!("sending: {e}"))?;
    r?;
    println!(
        "ok: {} streams of {} B up / {} B down, handshake {handshake:?} ({:?}), {:.1} Mbit/s, \
         {elapsed:?} in all",
        job.streams,
        job.up,
        job.down,
        info.cipher,
        job.bytes() as f64 * 8.0 / elapsed.as_secs_f64() / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("server") => server(&args[1..]),
        Some("client") => client(&args[1..]),
        _ => Err(USAGE.into()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e == USAGE => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kquic-ko-peer: {e}");
            ExitCode::FAILURE
        }
    }
}
