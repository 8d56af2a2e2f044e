//! `quic connect`: stdin to a new bidirectional stream (FIN at its end), the reply on that
//! stream to stdout. The connection is closed once the reply's FIN has arrived and stdin is
//! all sent.

use std::io;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use quic::ksock::{client_handshake, Socket};
use quic::tls::TlsConfig;
use quic_uapi::MSG_QUIC_STREAM_NEW;

use crate::common::{
    configure, describe_handshake, err, host_part, is_eof, open_socket, read_chunks, recv, resolve,
    send_all, stats_line, to_stdout, version_name, Context, Result, CHUNK,
};
use crate::{psk, ConnectArgs};

/// The stream stdin goes to: the client's first bidirectional stream.
const STREAM: i64 = 0;

pub(crate) fn run(a: &ConnectArgs) -> Result<()> {
    if let Some(psk) = &a.conn.psk {
        return run_psk(a, psk);
    }
    let addr = resolve(&a.target)?;
    let sni = a
        .sni
        .clone()
        .unwrap_or_else(|| host_part(&a.target).to_string());
    let b = TlsConfig::client().alpn(&a.conn.alpn).server_name(&sni);
    let b = if a.insecure {
        b.dangerous_no_verify()
    } else if let Some(ca) = &a.ca {
        b.ca_file(ca)
    } else {
        b.system_roots()
    };
    let tls = b.build().ctx("client TLS configuration")?;

    let sock = open_socket(&addr)?;
    configure(&sock, &a.conn.alpn, a.conn.v2)?;
    sock.set_read_timeout(Some(Duration::from_secs(a.conn.timeout)))
        .ctx("SO_RCVTIMEO")?;
    sock.connect(&addr).ctx(format_args!("connect {addr}"))?;
    let info = client_handshake(&sock, &tls, None)
        .ctx(format_args!("handshake with {addr} (server name {sni})"))?;
    sock.set_read_timeout(None).ctx("SO_RCVTIMEO")?;
    if a.conn.verbose {
        let local = sock
            .local_addr()
            .map_or_else(|e| format!("? ({e})"), |l| l.to_string());
        eprintln!(
            "quic: connected {local} -> {addr}: {}",
            describe_handshake(&sock, &info)
        );
    }
    exchange(sock, a)
}

/// `--psk`: the handshake through libquic's GnuTLS backend, then the same exchange.
fn run_psk(a: &ConnectArgs, psk: &std::path::Path) -> Result<()> {
    let file = psk::check_file(psk)?;
    let lib = psk::CLib::open()?;
    let addr = resolve(&a.target)?;
    let sock = open_socket(&addr)?;
    configure(&sock, &a.conn.alpn, a.conn.v2)?;
    sock.set_read_timeout(Some(Duration::from_secs(a.conn.timeout)))
        .ctx("SO_RCVTIMEO")?;
    sock.connect(&addr).ctx(format_args!("connect {addr}"))?;
    lib.handshake(true, &sock, &file, &a.conn.alpn)
        .ctx(format_args!(
            "handshake with {addr} (PSK {})",
            psk.display()
        ))?;
    sock.set_read_timeout(None).ctx("SO_RCVTIMEO")?;
    if a.conn.verbose {
        eprintln!(
            "quic: connected to {addr} with a pre-shared key (GnuTLS), QUIC {}",
            version_name(&sock)
        );
    }
    exchange(sock, a)
}

/// stdin out on [`STREAM`], the reply to stdout, then the close.
fn exchange(sock: Socket, a: &ConnectArgs) -> Result<()> {
    let sock = Arc::new(sock);
    let start = Instant::now();
    // stdin in its own thread, not joined if the reply fails (stdin may be a terminal).
    let writer = {
        let s = sock.clone();
        thread::spawn(move || send_stdin(&s))
    };
    let received = read_reply(&sock)?;
    let sent = writer.join().map_err(|_| err("stdin thread panicked"))??;
    let elapsed = start.elapsed();
    // Dropping the last reference closes the socket: CONNECTION_CLOSE (no error) to the server.
    drop(sock);
    if a.conn.stats {
        eprintln!("quic: {}", stats_line(sent, received, elapsed));
    }
    Ok(())
}

/// Sends stdin on [`STREAM`], then its FIN; returns the bytes sent.
fn send_stdin(sock: &Socket) -> Result<u64> {
    let mut flags = MSG_QUIC_STREAM_NEW;
    let n = read_chunks(&mut io::stdin().lock(), |d| {
        send_all(sock, d, STREAM, flags, false)?;
        flags = 0;
        Ok(())
    })
    .ctx("sending stdin")?;
    send_all(sock, &[], STREAM, flags, true).ctx("sending FIN")?;
    Ok(n)
}

/// Copies the server's data on [`STREAM`] to stdout until its FIN; returns its length.
fn read_reply(sock: &Socket) -> Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0u64;
    loop {
        let r = recv(sock, &mut buf).ctx(format_args!("recvmsg after {received} bytes"))?;
        if is_eof(&r) {
            return Err(err(format!(
                "the server closed the connection after {received} bytes, before the reply's end"
            )));
        }
        if r.stream_id != STREAM {
            continue;
        }
        to_stdout(&buf[..r.len]).ctx("writing stdout")?;
        received += r.len as u64;
        if r.fin() {
            return Ok(received);
        }
    }
}
