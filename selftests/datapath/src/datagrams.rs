//! Unreliable datagrams (RFC 9221, spec 4.1 and 3.1.9): `MSG_QUIC_DATAGRAM` on send and in
//! `msg_flags` on receive, message boundaries, partial reads, the peer's
//! max_datagram_frame_size (EMSGSIZE beyond it) and a peer that takes no datagrams at all.

use super::live::{check, check_eq, check_errno, check_ok, live, Setup};
use super::*;
use quic_uapi::MSG_QUIC_DATAGRAM;

const EOR: u32 = libc::MSG_EOR as u32;
const WAIT: Duration = Duration::from_secs(2);

/// A hook advertising `size` as our max_datagram_frame_size.
fn accept_datagrams(size: u16) -> impl Fn(&Socket) -> TResult {
    move |s: &Socket| {
        let mut p = s
            .transport_param(false)
            .ctx("getsockopt(TRANSPORT_PARAM)")?;
        p.max_datagram_frame_size = size;
        s.set_transport_param(&p)
            .ctx("setsockopt(TRANSPORT_PARAM max_datagram_frame_size)")
    }
}

/// Waits up to `limit` for one raw recvmsg into `buf` (what the kernel returns for the size).
fn recv_one(s: &Socket, buf: &mut [u8], limit: Duration) -> io::Result<Option<Recv>> {
    let end = Instant::now() + limit;
    loop {
        match s.recv_with_flags(buf, libc::MSG_DONTWAIT) {
            Ok(r) => return Ok(Some(r)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < end => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        }
    }
}

/// Datagrams both ways between peers that take them: each arrives whole, alone, with
/// MSG_QUIC_DATAGRAM and MSG_EOR; beyond the peer's max_datagram_frame_size sendmsg fails with
/// EMSGSIZE; a partial read keeps the rest for the next read; streams are unaffected.
pub(crate) fn dgram_send_recv(tls: &Arc<Tls>) -> TResult {
    let mut lv = live(
        tls,
        Setup::new()
            .listener(accept_datagrams(1200))
            .client(accept_datagrams(1500)),
    )?;
    lv.echo(b"before the datagrams")?;
    let sizes = [10usize, 200, 30, 999, 1];
    let msgs: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(40 + i as u64, n))
        .collect();
    for m in &msgs {
        check_eq(
            "dgram.send",
            lv.c.sock.send_datagram(m, 0).ok(),
            Some(m.len()),
            &format!("client sendmsg(MSG_QUIC_DATAGRAM) of {} bytes", m.len()),
        )?;
    }
    lv.s.until(WAIT, |e| e.dgrams.len() >= msgs.len())?;
    let got: Vec<(Vec<u8>, u32)> = lv.s.dgrams.drain(..).collect();
    for (d, fl) in &got {
        check(
            "dgram.recv_flags",
            fl & MSG_QUIC_DATAGRAM != 0 && fl & EOR != 0,
            || {
                format!(
                    "msg_flags {fl:#x} of a {}-byte datagram (want MSG_QUIC_DATAGRAM|MSG_EOR)",
                    d.len()
                )
            },
        )?;
    }
    let mut want_sizes = sizes.to_vec();
    want_sizes.sort_unstable();
    let mut got_sizes: Vec<usize> = got.iter().map(|(d, _)| d.len()).collect();
    got_sizes.sort_unstable();
    check_eq(
        "dgram.boundaries",
        got_sizes,
        want_sizes,
        "sizes of the datagrams received, one per recvmsg (loopback: none lost)",
    )?;
    check(
        "dgram.contents",
        got.iter().all(|(d, _)| msgs.contains(d)),
        || "a received datagram differs from every one sent".into(),
    )?;

    check_eq(
        "dgram.send",
        lv.s.sock.send_datagram(b"pong", 0).ok(),
        Some(4),
        "server sendmsg(MSG_QUIC_DATAGRAM) of 4 bytes",
    )?;
    let d = lv.c.dgram(WAIT)?;
    check_eq(
        "dgram.recv",
        d.as_ref()
            .map(|(d, fl)| (d.clone(), fl & (MSG_QUIC_DATAGRAM | EOR))),
        Some((b"pong".to_vec(), MSG_QUIC_DATAGRAM | EOR)),
        "the client's read of the server's datagram (data, msg_flags & (DATAGRAM|EOR))",
    )?;

    // The server takes frames of at most 1200 bytes.
    for n in [1201usize, 60_000] {
        check_errno(
            "dgram.emsgsize",
            lv.c.sock.send_datagram(&vec![0x33; n], 0),
            &[libc::EMSGSIZE],
            &format!("a {n}-byte datagram to a peer whose max_datagram_frame_size is 1200"),
        )?;
    }

    // A partial read: the rest comes with the next read, MSG_EOR only then (spec 3.1.8).
    let m = pattern(9, 100);
    lv.s.sock
        .send_datagram(&m, 0)
        .ctx("server datagram of 100 bytes")?;
    let mut first = [0u8; 10];
    let r1 = recv_one(&lv.c.sock, &mut first, WAIT).ctx("client recvmsg of 10 bytes")?;
    let ok1 = r1.is_some_and(|r| {
        r.len == 10 && r.msg_flags & MSG_QUIC_DATAGRAM != 0 && r.msg_flags & EOR == 0
    });
    if check("dgram.partial_first", ok1, || {
        format!("a 10-byte read of a 100-byte datagram: {r1:?} (want 10 bytes, MSG_QUIC_DATAGRAM, no MSG_EOR)")
    })? {
        ensure!(first[..] == m[..10], "the first 10 bytes differ");
        let mut rest = [0u8; 200];
        let r2 = recv_one(&lv.c.sock, &mut rest, Duration::from_millis(500))
            .ctx("client recvmsg of the rest")?;
        let ok2 = r2.is_some_and(|r| {
            r.len == 90
                && r.msg_flags & MSG_QUIC_DATAGRAM != 0
                && r.msg_flags & EOR != 0
                && rest[..90] == m[10..]
        });
        check("dgram.partial_rest", ok2, || {
            format!(
                "the read after a partial read of a datagram: {} (want its other 90 bytes with MSG_EOR: \
                 spec 3.1.8 'successive reads will consume more of the same message')",
                r2.map_or("nothing (the rest was dropped)".into(), |r| format!("{r:?}"))
            )
        })?;
    }
    lv.echo(b"after the datagrams")?;
    Ok(())
}

/// A peer that advertised no max_datagram_frame_size takes no datagrams (sendmsg fails, as
/// lxin/quic: EINVAL); the other direction, to a peer that does, works.
pub(crate) fn dgram_peer_disabled(tls: &Arc<Tls>) -> TResult {
    let u = new_socket(&loopback(false))?;
    check_errno(
        "dgram.unconnected",
        u.send_datagram(b"x", 0),
        &[libc::ENOTCONN, libc::EPIPE, libc::EINVAL],
        "a datagram on an unconnected socket",
    )?;
    drop(u);

    let mut lv = live(tls, Setup::new().client(accept_datagrams(1200)))?;
    let p = lv.c.sock.transport_param(true).ctx("remote parameters")?;
    ensure!(
        p.max_datagram_frame_size == 0,
        "the server advertised max_datagram_frame_size {}",
        p.max_datagram_frame_size
    );
    check_errno(
        "dgram.peer_disabled",
        lv.c.sock.send_datagram(b"nobody wants me", 0),
        &[libc::EINVAL],
        "a datagram to a peer that advertised no max_datagram_frame_size (lxin/quic: EINVAL)",
    )?;
    check_ok(
        "dgram.one_way",
        lv.s.sock.send_datagram(b"to the client", 0),
        "a server datagram to the client, which takes 1200-byte frames",
    )?;
    let d = lv.c.dgram(WAIT)?;
    check_eq(
        "dgram.one_way",
        d.map(|d| d.0),
        Some(b"to the client".to_vec()),
        "the datagram the client read",
    )?;
    lv.echo(b"streams still work")?;
    Ok(())
}
