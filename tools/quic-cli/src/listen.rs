//! `quic listen`: accept connections one after another; copy each one's first client
//! bidirectional stream to stdout and answer on that stream with stdin, or with the data itself
//! (`--echo`).
//!
//! The reply's FIN goes out only once the client's FIN has arrived, so a client that has read
//! the whole reply knows that its own data arrived too and may close. The server then waits for
//! that close before closing its socket: closing sends CONNECTION_CLOSE at once and would drop
//! reply data still in flight.

use std::io::{self, IsTerminal};
use std::net::SocketAddr;
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use quic::ksock::{server_handshake, Socket};
use quic::tls::TlsConfig;

use crate::common::{
    configure, describe_handshake, err, is_eof, open_socket, read_chunks, recv, resolve, send_all,
    stats_line, to_stdout, version_name, wait_peer_close, Context, Result, CHUNK,
};
use crate::{psk, ConnOpts, ListenArgs};

/// How long a served connection waits for the client to close it.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// What the server sends back on the client's stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    /// The client's own data.
    Echo,
    /// Standard input (to its end; later connections find it at its end already).
    Stdin,
    /// Nothing (stdin is a terminal): just the FIN.
    Nothing,
}

pub(crate) fn run(a: &ListenArgs) -> Result<()> {
    let auth = match &a.conn.psk {
        Some(p) => Auth::Psk(psk::check_file(p)?, psk::CLib::open()?),
        None => {
            let (Some(cert), Some(key)) = (&a.cert, &a.key) else {
                return Err(err("--cert and --key are required"));
            };
            Auth::Tls(
                TlsConfig::server()
                    .cert_file(cert)
                    .key_file(key)
                    .alpn(&a.conn.alpn)
                    .build()
                    .ctx("server TLS configuration")?,
            )
        }
    };
    let tls = &auth;
    let addr = resolve(&a.addr)?;
    let l = open_socket(&addr)?;
    configure(&l, &a.conn.alpn, a.conn.v2)?;
    l.bind(&addr).ctx(format_args!("bind {addr}"))?;
    l.listen(16).ctx("listen")?;
    if a.conn.verbose {
        eprintln!(
            "quic: listening on {} (ALPN {}, QUIC {})",
            l.local_addr().unwrap_or(addr),
            a.conn.alpn,
            version_name(&l)
        );
    }
    let reply = if a.echo {
        Reply::Echo
    } else if io::stdin().is_terminal() {
        Reply::Nothing
    } else {
        Reply::Stdin
    };
    let mut failed = 0;
    for n in 1..=a.count {
        let (sock, peer) = l.accept().ctx("accept")?;
        if let Err(e) = serve(Arc::new(sock), peer, tls, reply, &a.conn) {
            if a.count == 1 {
                return Err(err(format!("connection from {peer}: {e}")));
            }
            eprintln!("quic: connection {n} of {} from {peer}: {e}", a.count);
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(err(format!("{failed} of {} connections failed", a.count)));
    }
    Ok(())
}

/// How the server authenticates.
enum Auth {
    /// Certificate (rustls, in this process).
    Tls(TlsConfig),
    /// `--psk`: the file, and libquic's C library that runs the GnuTLS handshake.
    Psk(std::ffi::CString, psk::CLib),
}

/// Handshake, transfer, then wait for the client's close.
fn serve(
    sock: Arc<Socket>,
    peer: SocketAddr,
    auth: &Auth,
    reply: Reply,
    o: &ConnOpts,
) -> Result<()> {
    sock.set_read_timeout(Some(Duration::from_secs(o.timeout)))
        .ctx("SO_RCVTIMEO")?;
    let what = match auth {
        Auth::Tls(tls) => {
            let info = server_handshake(&sock, tls).ctx("server handshake")?;
            describe_handshake(&sock, &info)
        }
        Auth::Psk(file, lib) => {
            lib.handshake(false, &sock, file, &o.alpn)
                .ctx("server handshake")?;
            format!("pre-shared key (GnuTLS), QUIC {}", version_name(&sock))
        }
    };
    sock.set_read_timeout(None).ctx("SO_RCVTIMEO")?;
    if o.verbose {
        eprintln!("quic: connection from {peer}: {what}");
    }
    let start = Instant::now();
    let (received, sent) = transfer(&sock, reply, o.verbose)?;
    let elapsed = start.elapsed();
    let how = wait_peer_close(&sock, CLOSE_WAIT);
    if o.verbose {
        eprintln!("quic: {peer}: the client's close: {how}");
    }
    if o.stats {
        eprintln!("quic: {peer}: {}", stats_line(sent, received, elapsed));
    }
    Ok(())
}

/// Copies the client's first stream to stdout and sends the reply; returns the bytes received
/// and sent.
fn transfer(sock: &Arc<Socket>, reply: Reply, verbose: bool) -> Result<(u64, u64)> {
    let (sid_tx, sid_rx) = mpsc::channel::<i64>();
    // The stdin copy runs in its own thread, not joined if the connection fails (stdin may
    // never end).
    let writer = (reply == Reply::Stdin).then(|| {
        let s = sock.clone();
        thread::spawn(move || -> Result<u64> {
            let Ok(sid) = sid_rx.recv() else {
                return Ok(0);
            };
            read_chunks(&mut io::stdin().lock(), |d| send_all(&s, d, sid, 0, false))
                .ctx("sending stdin")
        })
    });
    let (sid, received, ignored) = read_client_stream(sock, reply == Reply::Echo, sid_tx)?;
    if verbose && ignored > 0 {
        eprintln!("quic: ignored {ignored} bytes on other streams");
    }
    let sent = match writer {
        Some(w) => w.join().map_err(|_| err("stdin thread panicked"))??,
        None if reply == Reply::Echo => received,
        None => 0,
    };
    send_all(sock, &[], sid, 0, true).ctx("sending the reply's FIN")?;
    Ok((received, sent))
}

/// Reads the first client-initiated bidirectional stream to its FIN, writing it to stdout (and
/// back to the client when `echo`); its id goes to `sid_tx` as soon as it is known. Returns the
/// stream id, its length and the bytes seen (and dropped) on other streams.
fn read_client_stream(sock: &Socket, echo: bool, sid_tx: Sender<i64>) -> Result<(i64, u64, u64)> {
    let mut buf = vec![0u8; CHUNK];
    let mut sid = None;
    let mut received = 0u64;
    let mut ignored = 0u64;
    loop {
        let r = recv(sock, &mut buf).ctx(format_args!("recvmsg after {received} bytes"))?;
        if is_eof(&r) {
            return Err(err(format!(
                "the client closed the connection after {received} bytes, before its stream's end"
            )));
        }
        let ours = match sid {
            Some(s) => s == r.stream_id,
            // Client-initiated, bidirectional: the two low bits clear.
            None if r.stream_id >= 0 && r.stream_id & 3 == 0 => {
                sid = Some(r.stream_id);
                let _ = sid_tx.send(r.stream_id);
                true
            }
            None => false,
        };
        if !ours {
            ignored += r.len as u64;
            continue;
        }
        let data = &buf[..r.len];
        to_stdout(data).ctx("writing stdout")?;
        received += data.len() as u64;
        let sid = r.stream_id;
        if echo {
            send_all(sock, data, sid, 0, false).ctx("echoing")?;
        }
        if r.fin() {
            return Ok((sid, received, ignored));
        }
    }
}
