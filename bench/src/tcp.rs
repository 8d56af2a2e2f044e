//! The baselines: plain TCP over 127.0.0.1, and TCP with kTLS (TLS 1.3 AES-128-GCM record
//! layer in the kernel, fixed keys, no handshake).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Instant;

use crate::{pair, sys, BulkRun, Ctx, RrRun, RECV_BUF, RR_MSG, RR_WARMUP, TIMEOUT};

/// Key seeds of the two directions.
const UP: u8 = 0xa1;
const DOWN: u8 = 0xb2;

fn timeouts(s: &TcpStream) -> Result<(), String> {
    s.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
    s.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")
}

/// kTLS on `s`: TX with the keys of `tx`, RX with those of `rx` (either may be absent).
fn ktls(s: &TcpStream, tx: Option<u8>, rx: Option<u8>) -> Result<(), String> {
    let fd = s.as_raw_fd();
    sys::ktls_ulp(fd)?;
    if let Some(seed) = tx {
        sys::ktls_keys(fd, sys::TLS_TX, seed)?;
    }
    if let Some(seed) = rx {
        sys::ktls_keys(fd, sys::TLS_RX, seed)?;
    }
    Ok(())
}

fn listener() -> Result<(TcpListener, std::net::SocketAddr), String> {
    let l = TcpListener::bind("127.0.0.1:0").ctx("bind")?;
    let addr = l.local_addr().ctx("getsockname")?;
    Ok((l, addr))
}

/// One connection, client to server: `total` bytes in write() calls of `msg` bytes, then
/// shutdown(SHUT_WR); the server counts from its first byte to end of stream.
pub(crate) fn bulk(tls: bool, msg: usize, total: u64) -> Result<BulkRun, String> {
    let (l, addr) = listener()?;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (res, (st0, snd_cpu)) = pair(
        move || {
            let (mut s, _) = l.accept().ctx("accept")?;
            drop(l);
            timeouts(&s)?;
            if tls {
                ktls(&s, None, Some(UP))?;
            }
            let _ = ready_tx.send(());
            let cpu0 = sys::thread_cpu();
            let mut buf = vec![0u8; RECV_BUF];
            let (mut bytes, mut first) = (0u64, None);
            loop {
                let n = match s.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("read after {bytes} bytes: {e}")),
                };
                if n == 0 {
                    break;
                }
                if first.is_none() {
                    first = Some(Instant::now());
                }
                bytes += n as u64;
            }
            let end = Instant::now();
            let st1 = sys::cpu_times()?;
            let rcv_cpu = sys::thread_cpu() - cpu0;
            let secs = first.map_or(0.0, |f| (end - f).as_secs_f64());
            Ok((bytes, secs, st1, rcv_cpu))
        },
        |keep| {
            let c = keep.insert(TcpStream::connect(addr).ctx("connect")?);
            timeouts(c)?;
            if tls {
                ktls(c, Some(UP), None)?;
            }
            ready_rx.recv_timeout(TIMEOUT).ctx("server setup")?;
            let data = vec![0x5au8; msg];
            let st0 = sys::cpu_times()?;
            let cpu0 = sys::thread_cpu();
            let mut sent = 0u64;
            while sent < total {
                let n = (total - sent).min(msg as u64) as usize;
                c.write_all(&data[..n])
                    .map_err(|e| format!("write at byte {sent}: {e}"))?;
                sent += n as u64;
            }
            c.shutdown(Shutdown::Write).ctx("shutdown(SHUT_WR)")?;
            Ok((st0, sys::thread_cpu() - cpu0))
        },
    )?;
    let (bytes, secs, st1, rcv_cpu) = res;
    if bytes != total {
        return Err(format!("server received {bytes} of {total} bytes"));
    }
    Ok(BulkRun::new(bytes, secs, st0, st1, snd_cpu, rcv_cpu))
}

/// `n` round trips of a [`RR_MSG`]-byte request and an equal response (TCP_NODELAY on both
/// ends), after [`RR_WARMUP`] unmeasured ones.
pub(crate) fn rr(tls: bool, n: usize) -> Result<RrRun, String> {
    let (l, addr) = listener()?;
    let total = n + RR_WARMUP;
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let ((), times) = pair(
        move || {
            let (mut s, _) = l.accept().ctx("accept")?;
            drop(l);
            timeouts(&s)?;
            s.set_nodelay(true).ctx("TCP_NODELAY")?;
            if tls {
                ktls(&s, Some(DOWN), Some(UP))?;
            }
            let _ = ready_tx.send(());
            let mut buf = vec![0u8; RR_MSG];
            for i in 0..total {
                s.read_exact(&mut buf)
                    .map_err(|e| format!("request {i}: {e}"))?;
                s.write_all(&buf)
                    .map_err(|e| format!("response {i}: {e}"))?;
            }
            Ok(())
        },
        |keep| {
            let c = keep.insert(TcpStream::connect(addr).ctx("connect")?);
            timeouts(c)?;
            c.set_nodelay(true).ctx("TCP_NODELAY")?;
            if tls {
                ktls(c, Some(UP), Some(DOWN))?;
            }
            ready_rx.recv_timeout(TIMEOUT).ctx("server setup")?;
            let req = vec![0x33u8; RR_MSG];
            let mut resp = vec![0u8; RR_MSG];
            let mut times = Vec::with_capacity(n);
            for i in 0..total {
                let t = Instant::now();
                c.write_all(&req).map_err(|e| format!("request {i}: {e}"))?;
                c.read_exact(&mut resp)
                    .map_err(|e| format!("response {i}: {e}"))?;
                if i >= RR_WARMUP {
                    times.push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
            Ok(times)
        },
    )?;
    RrRun::from_times(&times)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Plain TCP works anywhere; the figures are not checked, only that the runs complete.
    #[test]
    fn tcp_bulk_and_rr_complete() {
        let b = bulk(false, 1024, 1 << 20).unwrap();
        assert!(b.mib_per_sec > 0.0);
        let r = rr(false, 50).unwrap();
        assert!(r.p99_us >= 0.0);
    }
}
