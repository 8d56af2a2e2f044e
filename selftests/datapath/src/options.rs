//! The fifteen SOL_QUIC socket options (spec sections 5.2 and 6, abi.md) on live connections
//! and on sockets without one, each asserting what the spec and the ABI say; where they are
//! silent, what lxin/quic (whose ABI kquic keeps) does. See `live.rs` for how known gaps are
//! reported.

use std::collections::BTreeMap;

use super::live::{
    accept_one, check, check_eq, check_errno, check_ok, client_of, counter, event_on, events,
    get_struct, getopt, image, listener_with, live, setopt, sockaddr, stream_update, End, Live,
    Setup,
};
use super::*;
use quic_uapi::{
    quic_config, quic_connection_id_info, quic_crypto_secret, quic_errinfo, quic_stream_info,
    quic_transport_param, MSG_QUIC_STREAM_UNI, QUIC_CONG_ALG_BBR, QUIC_CONG_ALG_CUBIC,
    QUIC_CONG_ALG_MAX, QUIC_CONG_ALG_RENO, QUIC_CRYPTO_APP, QUIC_CRYPTO_HANDSHAKE,
    QUIC_CRYPTO_INITIAL, QUIC_EVENT_CONNECTION_ID, QUIC_EVENT_CONNECTION_MIGRATION, QUIC_EVENT_MAX,
    QUIC_EVENT_NEW_SESSION_TICKET, QUIC_EVENT_NEW_TOKEN, QUIC_EVENT_NONE,
    QUIC_EVENT_STREAM_MAX_STREAM, QUIC_SOCKOPT_ALPN, QUIC_SOCKOPT_CONFIG,
    QUIC_SOCKOPT_CONNECTION_ID, QUIC_SOCKOPT_CONNECTION_MIGRATION, QUIC_SOCKOPT_CRYPTO_SECRET,
    QUIC_SOCKOPT_SESSION_TICKET, QUIC_SOCKOPT_STREAM_OPEN, QUIC_SOCKOPT_STREAM_RESET,
    QUIC_SOCKOPT_STREAM_STOP_SENDING, QUIC_SOCKOPT_TOKEN, QUIC_SOCKOPT_TRANSPORT_PARAM,
    QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, QUIC_STREAM_RECV_STATE_RESET_RECVD,
    QUIC_STREAM_SEND_STATE_RESET_RECVD, QUIC_STREAM_SEND_STATE_RESET_SENT, QUIC_VERSION_V1,
    QUIC_VERSION_V2,
};

const EINVAL: i32 = libc::EINVAL;
const EAGAIN: i32 = libc::EAGAIN;
const ENOPROTOOPT: i32 = libc::ENOPROTOOPT;
/// A socket without a connection: kquic says ENOTCONN, lxin/quic EINVAL (the spec is silent).
const NO_CONN: &[i32] = &[libc::ENOTCONN, libc::EINVAL];
const SHORT: Duration = Duration::from_secs(3);

/// A fresh IPv4 socket (not connected).
fn unconnected() -> Result<Socket, String> {
    new_socket(&loopback(false))
}

fn errinfo(stream_id: i64, errcode: u32) -> Vec<u8> {
    image(&quic_errinfo { stream_id, errcode })
}

fn tp_hook(f: impl Fn(&mut quic_transport_param)) -> impl Fn(&Socket) -> TResult {
    move |s: &Socket| {
        let mut p = s
            .transport_param(false)
            .ctx("getsockopt(TRANSPORT_PARAM)")?;
        f(&mut p);
        s.set_transport_param(&p).ctx("setsockopt(TRANSPORT_PARAM)")
    }
}

fn config_hook(c: quic_config) -> impl Fn(&Socket) -> TResult {
    move |s: &Socket| setopt(s, QUIC_SOCKOPT_CONFIG, &image(&c)).ctx("setsockopt(CONFIG)")
}

/// The echo of a live pair as an assertion (`id`) rather than a requirement.
fn check_echo(lv: &mut Live, id: &str, msg: &[u8], what: &str) -> Result<bool, String> {
    let r = lv.echo(msg);
    check(id, r.is_ok(), || {
        format!("{what}: {}", r.as_ref().err().cloned().unwrap_or_default())
    })
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_EVENT (spec 5.2.1)
// ------------------------------------------------------------------------------------------------

fn event_bad_args(s: &Socket, where_: &str) -> TResult {
    for ty in [QUIC_EVENT_NONE, QUIC_EVENT_MAX, 255] {
        check_errno(
            "event.bad_type",
            setopt(s, QUIC_SOCKOPT_EVENT, &[ty, 1]),
            &[EINVAL],
            &format!("set EVENT type {ty} {where_}"),
        )?;
        check_errno(
            "event.bad_type",
            getopt(s, QUIC_SOCKOPT_EVENT, &[ty, 0], 2),
            &[EINVAL],
            &format!("get EVENT type {ty} {where_}"),
        )?;
    }
    check_errno(
        "event.short_optlen",
        setopt(s, QUIC_SOCKOPT_EVENT, &[QUIC_EVENT_STREAM_UPDATE]),
        &[EINVAL],
        &format!("set EVENT with optlen 1 {where_}"),
    )?;
    for n in [0, 1] {
        check_errno(
            "event.short_optlen",
            getopt(s, QUIC_SOCKOPT_EVENT, &[QUIC_EVENT_STREAM_UPDATE], n),
            &[EINVAL],
            &format!("get EVENT with optlen {n} {where_}"),
        )?;
    }
    Ok(())
}

/// EVENT get/set on an unconnected and a live socket, inherited from the listener, enabled and
/// disabled on a live connection (notifications start and stop), bad types and lengths.
pub(crate) fn opt_event(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    for ty in 1..QUIC_EVENT_MAX {
        check_eq(
            "event.default_off",
            event_on(&u, ty).ok(),
            Some(0),
            &format!("EVENT {ty} of a new socket"),
        )?;
    }
    check_ok(
        "event.set_unconnected",
        setopt(&u, QUIC_SOCKOPT_EVENT, &[QUIC_EVENT_NEW_TOKEN, 1]),
        "set EVENT NEW_TOKEN on an unconnected socket",
    )?;
    check_eq(
        "event.set_unconnected",
        event_on(&u, QUIC_EVENT_NEW_TOKEN).ok(),
        Some(1),
        "EVENT NEW_TOKEN read back",
    )?;
    event_bad_args(&u, "on an unconnected socket")?;
    drop(u);

    let mut lv = live(
        tls,
        Setup::new().listener(|l| events(l, &[QUIC_EVENT_STREAM_UPDATE], true)),
    )?;
    check_eq(
        "event.inherited",
        event_on(&lv.s.sock, QUIC_EVENT_STREAM_UPDATE).ok(),
        Some(1),
        "EVENT STREAM_UPDATE of the accepted socket (on for the listener)",
    )?;
    check_eq(
        "event.inherited",
        event_on(&lv.s.sock, QUIC_EVENT_KEY_UPDATE).ok(),
        Some(0),
        "EVENT KEY_UPDATE of the accepted socket (off for the listener)",
    )?;
    // (libquic's client handshake turns NEW_SESSION_TICKET on for itself.)
    for ty in (1..QUIC_EVENT_MAX).filter(|t| *t != QUIC_EVENT_NEW_SESSION_TICKET) {
        check_eq(
            "event.default_off",
            event_on(&lv.c.sock, ty).ok(),
            Some(0),
            &format!("EVENT {ty} of a live client that set none"),
        )?;
    }
    check_ok(
        "event.set_live",
        setopt(
            &lv.c.sock,
            QUIC_SOCKOPT_EVENT,
            &[QUIC_EVENT_STREAM_UPDATE, 1],
        ),
        "set EVENT STREAM_UPDATE on a live client",
    )?;
    check_eq(
        "event.set_live",
        event_on(&lv.c.sock, QUIC_EVENT_STREAM_UPDATE).ok(),
        Some(1),
        "EVENT STREAM_UPDATE read back on the live client",
    )?;
    let sid = lv.echo(b"events on")?;
    let is_update = |sid: i64| {
        move |t: u8, p: &[u8]| t == QUIC_EVENT_STREAM_UPDATE && stream_update(p).id == sid
    };
    let ev = lv.c.event(SHORT, is_update(sid))?;
    check("event.delivered_live", ev.is_some(), || {
        format!("no STREAM_UPDATE for stream {sid} after the event was enabled on the live client")
    })?;
    let ev = lv.s.event(SHORT, is_update(sid))?;
    check("event.delivered_inherited", ev.is_some(), || {
        format!(
            "no STREAM_UPDATE for stream {sid} on the accepted socket (enabled on its listener)"
        )
    })?;

    check_ok(
        "event.disable_live",
        setopt(
            &lv.c.sock,
            QUIC_SOCKOPT_EVENT,
            &[QUIC_EVENT_STREAM_UPDATE, 0],
        ),
        "set EVENT STREAM_UPDATE off on the live client",
    )?;
    check_eq(
        "event.disable_live",
        event_on(&lv.c.sock, QUIC_EVENT_STREAM_UPDATE).ok(),
        Some(0),
        "EVENT STREAM_UPDATE read back after turning it off",
    )?;
    let sid2 = lv.echo(b"events off")?;
    lv.c.drain(Duration::from_millis(300));
    let late =
        lv.c.events
            .iter()
            .find(|(t, p)| *t == QUIC_EVENT_STREAM_UPDATE && stream_update(p).id == sid2)
            .cloned();
    check("event.disable_live", late.is_none(), || {
        format!("STREAM_UPDATE for stream {sid2} after the event was turned off: {late:?}")
    })?;
    event_bad_args(&lv.c.sock, "on a live socket")
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_STREAM_OPEN (spec 6.2.1)
// ------------------------------------------------------------------------------------------------

fn open(s: &Socket, id: i64, flags: u32) -> io::Result<i64> {
    get_struct(
        s,
        QUIC_SOCKOPT_STREAM_OPEN,
        &quic_stream_info {
            stream_id: id,
            stream_flags: flags,
        },
    )
    .map(|i| i.stream_id)
}

/// STREAM_OPEN: next ids of each type, explicit ids, sending without NEW on an opened stream,
/// the peer's limits (DONTWAIT: EAGAIN; without it: wait for SO_SNDTIMEO), MAX_STREAMS raising
/// them (with its event), bad ids, flags and lengths.
pub(crate) fn opt_stream_open(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_errno(
        "stream_open.unconnected",
        open(&u, -1, 0),
        NO_CONN,
        "STREAM_OPEN on an unconnected socket",
    )?;
    drop(u);

    let mut lv = live(
        tls,
        Setup::new()
            .listener(tp_hook(|p| {
                p.max_streams_bidi = 3;
                p.max_streams_uni = 2;
            }))
            .client(|c| events(c, &[QUIC_EVENT_STREAM_MAX_STREAM], true)),
    )?;
    let (c, s) = (&lv.c.sock, &lv.s.sock);
    let next = image(&quic_stream_info {
        stream_id: -1,
        stream_flags: 0,
    });
    check_errno(
        "stream_open.short_optlen",
        getopt(c, QUIC_SOCKOPT_STREAM_OPEN, &next, 8),
        &[EINVAL],
        "STREAM_OPEN with optlen 8",
    )?;

    // The server (whose limit is the client's default 100): flags and its own stream types.
    check_errno(
        "stream_open.bad_flags",
        open(s, -1, 0x4000_0000),
        &[EINVAL],
        "STREAM_OPEN(-1) with stream_flags 0x40000000 (lxin/quic rejects unknown flags)",
    )?;
    let sb = open(s, -1, 0);
    check(
        "stream_open.server_ids",
        sb.as_ref().is_ok_and(|id| id & 3 == 1),
        || format!("server STREAM_OPEN(-1): {}", describe(&sb)),
    )?;
    let su = open(s, -1, MSG_QUIC_STREAM_UNI);
    check(
        "stream_open.server_ids",
        su.as_ref().is_ok_and(|id| id & 3 == 3),
        || format!("server STREAM_OPEN(-1, UNI): {}", describe(&su)),
    )?;

    // The client: next free ids.
    for (flags, want, what) in [
        (0, 0, "first bidirectional"),
        (0, 4, "second bidirectional"),
        (MSG_QUIC_STREAM_UNI, 2, "first unidirectional"),
        (MSG_QUIC_STREAM_UNI, 6, "second unidirectional"),
    ] {
        let id = if flags == 0 {
            "stream_open.next_bidi"
        } else {
            "stream_open.next_uni"
        };
        check_eq(
            id,
            open(c, -1, flags).ok(),
            Some(want),
            &format!("client STREAM_OPEN(-1): {what} stream"),
        )?;
    }
    for (sid, flags) in [(1, 0), (3, MSG_QUIC_STREAM_UNI)] {
        check_errno(
            "stream_open.peer_stream",
            open(c, sid, flags),
            &[EINVAL],
            &format!("client STREAM_OPEN of stream {sid} (server-initiated)"),
        )?;
    }
    // Opened streams take data without NEW (spec appendix A). Stream 2 stays open: a finished
    // unidirectional stream would let the peer grant another.
    for (sid, msg, fin) in [
        (0i64, &b"on stream 0"[..], MSG_QUIC_STREAM_FIN),
        (2, &b"on stream 2"[..], 0),
    ] {
        let r = lv.c.sock.send(msg, sid, fin);
        if check_ok(
            "stream_open.send_without_new",
            r,
            &format!("sendmsg on stream {sid} (opened by STREAM_OPEN) without NEW"),
        )?
        .is_some()
        {
            lv.s.stream_bytes(sid, msg.len(), TIMEOUT)?;
            let got = &lv.s.streams[&sid].data;
            ensure!(got == msg, "server read {:?} on stream {sid}", got);
        }
    }
    let c = &lv.c.sock;
    check_eq(
        "stream_open.explicit_id",
        open(c, 8, 0).ok(),
        Some(8),
        "client STREAM_OPEN of stream 8 (the third bidirectional)",
    )?;

    // The peer's limits: 3 bidirectional, 2 unidirectional streams.
    for (sid, flags, what) in [
        (
            -1,
            0,
            "STREAM_OPEN(-1, DONTWAIT) beyond the peer's max_streams_bidi 3",
        ),
        (
            12,
            0,
            "STREAM_OPEN(12, DONTWAIT) beyond the peer's max_streams_bidi 3",
        ),
        (
            -1,
            MSG_QUIC_STREAM_UNI,
            "STREAM_OPEN(-1, UNI|DONTWAIT) beyond the peer's max_streams_uni 2",
        ),
    ] {
        check_errno(
            "stream_open.limit_dontwait",
            open(c, sid, flags | MSG_QUIC_STREAM_DONTWAIT),
            &[EAGAIN],
            what,
        )?;
    }
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .ctx("SO_SNDTIMEO")?;
    let t0 = Instant::now();
    let r = open(c, -1, 0);
    let waited = t0.elapsed();
    c.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")?;
    check_errno(
        "stream_open.limit_blocking",
        r,
        &[EAGAIN],
        "STREAM_OPEN(-1) without DONTWAIT beyond the peer's limit, SO_SNDTIMEO 500 ms",
    )?;
    check(
        "stream_open.blocks_without_dontwait",
        waited >= Duration::from_millis(400),
        || {
            format!(
            "STREAM_OPEN(-1) without MSG_QUIC_STREAM_DONTWAIT at the peer's stream limit returned after {waited:?}; \
             it should wait for MAX_STREAMS up to SO_SNDTIMEO (500 ms) as lxin/quic does (DONTWAIT means 'open without blocking')"
        )
        },
    )?;

    // Finish streams 0, 4 and 8 both ways: the server grants more, and says so.
    for sid in [4, 8] {
        c.send(&[], sid, MSG_QUIC_STREAM_FIN)
            .ctx(&format!("FIN on stream {sid}"))?;
    }
    for sid in [4, 8] {
        lv.s.stream_fin(sid, TIMEOUT)?;
    }
    for sid in [0, 4, 8] {
        lv.s.sock
            .send(&[], sid, MSG_QUIC_STREAM_FIN)
            .ctx(&format!("server FIN on stream {sid}"))?;
    }
    for sid in [0, 4, 8] {
        lv.c.stream_fin(sid, TIMEOUT)?;
    }
    let ev = lv.c.event(SHORT, |t, p| {
        t == QUIC_EVENT_STREAM_MAX_STREAM && p.len() >= 8 && p[0] & 3 == 0
    })?;
    if check("stream_open.max_stream_event", ev.is_some(), || {
        "no STREAM_MAX_STREAM event for bidirectional streams after the peer's streams 0, 4, 8 were closed".into()
    })? {
        let p = ev.map(|e| e.1).unwrap_or_default();
        let v = u64::from_ne_bytes(p[..8].try_into().unwrap_or_default());
        check("stream_open.max_stream_value", v >= 12, || {
            format!(
                "STREAM_MAX_STREAM {v}: the largest stream id now allowed should be at least 12"
            )
        })?;
    }
    check_eq(
        "stream_open.after_max_streams",
        open(&lv.c.sock, -1, MSG_QUIC_STREAM_DONTWAIT).ok(),
        Some(12),
        "STREAM_OPEN(-1, DONTWAIT) after the peer raised its limit",
    )?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_STREAM_RESET and QUIC_SOCKOPT_STREAM_STOP_SENDING (spec 6.3.1, 6.3.2, 5.1.1)
// ------------------------------------------------------------------------------------------------

fn is_state(sid: i64, state: u8) -> impl FnMut(u8, &[u8]) -> bool {
    move |t, p| {
        t == QUIC_EVENT_STREAM_UPDATE && {
            let u = stream_update(p);
            u.id == sid && u.state == state
        }
    }
}

fn both_updates<'a>() -> Setup<'a> {
    Setup::new()
        .listener(|l| events(l, &[QUIC_EVENT_STREAM_UPDATE], true))
        .client(|c| events(c, &[QUIC_EVENT_STREAM_UPDATE], true))
}

/// STREAM_RESET on a stream with data in flight: the peer's STREAM_UPDATE RESET_RECVD carries
/// the error code and final size, ours RESET_RECVD once acknowledged; the stream takes no more
/// data; bad streams and lengths fail.
pub(crate) fn opt_stream_reset(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_errno(
        "stream_reset.unconnected",
        setopt(&u, QUIC_SOCKOPT_STREAM_RESET, &errinfo(0, 1)),
        NO_CONN,
        "STREAM_RESET on an unconnected socket",
    )?;
    drop(u);

    let mut lv = live(tls, both_updates())?;
    lv.c.sock
        .send(b"partial", 0, MSG_QUIC_STREAM_NEW)
        .ctx("sendmsg(stream 0, NEW)")?;
    lv.s.stream_bytes(0, 7, TIMEOUT)?;
    let c = &lv.c.sock;
    check_errno(
        "stream_reset.short_optlen",
        setopt(c, QUIC_SOCKOPT_STREAM_RESET, &errinfo(0, 0x77)[..8]),
        &[EINVAL],
        "STREAM_RESET with optlen 8",
    )?;
    check_ok(
        "stream_reset.live",
        setopt(c, QUIC_SOCKOPT_STREAM_RESET, &errinfo(0, 0x77)),
        "STREAM_RESET of stream 0 (7 bytes sent, no FIN), error code 0x77",
    )?;
    let ev =
        lv.s.event(TIMEOUT, is_state(0, QUIC_STREAM_RECV_STATE_RESET_RECVD))?;
    if check("stream_reset.peer_event", ev.is_some(), || {
        "the peer saw no STREAM_UPDATE RESET_RECVD (10) for stream 0".into()
    })? {
        let up = stream_update(&ev.map(|e| e.1).unwrap_or_default());
        check_eq(
            "stream_reset.peer_event_fields",
            (up.errcode, up.finalsz),
            (0x77, 7),
            "(errcode, finalsz) of the peer's RESET_RECVD update",
        )?;
    }
    let ev =
        lv.c.event(TIMEOUT, is_state(0, QUIC_STREAM_SEND_STATE_RESET_RECVD))?;
    check("stream_reset.local_event", ev.is_some(), || {
        "no STREAM_UPDATE RESET_RECVD (5) for stream 0 on the resetting side once the peer acknowledged the RESET_STREAM (spec 5.1.1)".into()
    })?;
    let r = lv.c.sock.send(b"more", 0, 0);
    check("stream_reset.send_after", r.is_err(), || {
        format!("sendmsg on stream 0 after STREAM_RESET: {}", describe(&r))
    })?;

    let c = &lv.c.sock;
    check_errno(
        "stream_reset.bad_stream",
        setopt(c, QUIC_SOCKOPT_STREAM_RESET, &errinfo(-1, 1)),
        &[EINVAL],
        "STREAM_RESET of stream -1",
    )?;
    check_errno(
        "stream_reset.bad_stream",
        setopt(c, QUIC_SOCKOPT_STREAM_RESET, &errinfo(8, 1)),
        &[EINVAL],
        "STREAM_RESET of stream 8 (never opened)",
    )?;
    lv.s.sock
        .send(b"server uni", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_UNI)
        .ctx("server sendmsg(-1, NEW|UNI)")?;
    lv.c.stream_bytes(3, 10, TIMEOUT)?;
    check_errno(
        "stream_reset.bad_stream",
        setopt(&lv.c.sock, QUIC_SOCKOPT_STREAM_RESET, &errinfo(3, 1)),
        &[EINVAL],
        "STREAM_RESET of stream 3 (the server's unidirectional stream: receive only)",
    )?;
    lv.echo(b"after the reset")?;
    Ok(())
}

/// STREAM_STOP_SENDING: the peer's sending part is reset with our error code (its
/// STREAM_UPDATE RESET_SENT, our RESET_RECVD), the peer cannot send on it any more; bad
/// streams and lengths fail.
pub(crate) fn opt_stream_stop_sending(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_errno(
        "stop_sending.unconnected",
        setopt(&u, QUIC_SOCKOPT_STREAM_STOP_SENDING, &errinfo(0, 1)),
        NO_CONN,
        "STREAM_STOP_SENDING on an unconnected socket",
    )?;
    drop(u);

    let mut lv = live(tls, both_updates())?;
    lv.c.sock
        .send(b"data", 0, MSG_QUIC_STREAM_NEW)
        .ctx("sendmsg(stream 0, NEW)")?;
    lv.s.stream_bytes(0, 4, TIMEOUT)?;
    let s = &lv.s.sock;
    check_errno(
        "stop_sending.short_optlen",
        setopt(s, QUIC_SOCKOPT_STREAM_STOP_SENDING, &errinfo(0, 0x55)[..8]),
        &[EINVAL],
        "STREAM_STOP_SENDING with optlen 8",
    )?;
    check_ok(
        "stop_sending.live",
        setopt(s, QUIC_SOCKOPT_STREAM_STOP_SENDING, &errinfo(0, 0x55)),
        "server STREAM_STOP_SENDING of stream 0, error code 0x55",
    )?;
    let ev =
        lv.c.event(TIMEOUT, is_state(0, QUIC_STREAM_SEND_STATE_RESET_SENT))?;
    if check("stop_sending.peer_event", ev.is_some(), || {
        "the sender saw no STREAM_UPDATE RESET_SENT (4) for stream 0 after the peer's STOP_SENDING (spec 5.1.1)".into()
    })? {
        let up = stream_update(&ev.map(|e| e.1).unwrap_or_default());
        check_eq(
            "stop_sending.peer_event_errcode",
            up.errcode,
            0x55,
            "errcode of the sender's RESET_SENT update",
        )?;
    } else {
        // Give the STOP_SENDING time to arrive before the next check.
        lv.c.drain(Duration::from_millis(300));
    }
    let r = lv.c.sock.send(b"more", 0, 0);
    check("stop_sending.send_after", r.is_err(), || {
        format!(
            "sendmsg on stream 0 after the peer's STOP_SENDING: {}",
            describe(&r)
        )
    })?;
    let ev =
        lv.s.event(TIMEOUT, is_state(0, QUIC_STREAM_RECV_STATE_RESET_RECVD))?;
    if check("stop_sending.reset_follows", ev.is_some(), || {
        "the STOP_SENDING side saw no STREAM_UPDATE RESET_RECVD (10) for stream 0".into()
    })? {
        let up = stream_update(&ev.map(|e| e.1).unwrap_or_default());
        check_eq(
            "stop_sending.reset_errcode",
            (up.errcode, up.finalsz),
            (0x55, 4),
            "(errcode, finalsz) of the RESET_STREAM answering STOP_SENDING (RFC 9000 3.5: the code is copied)",
        )?;
    }

    let s = &lv.s.sock;
    check_errno(
        "stop_sending.bad_stream",
        setopt(s, QUIC_SOCKOPT_STREAM_STOP_SENDING, &errinfo(-1, 1)),
        &[EINVAL],
        "STREAM_STOP_SENDING of stream -1",
    )?;
    s.send(b"mine", -1, MSG_QUIC_STREAM_NEW | MSG_QUIC_STREAM_UNI)
        .ctx("server sendmsg(-1, NEW|UNI)")?;
    check_errno(
        "stop_sending.bad_stream",
        setopt(s, QUIC_SOCKOPT_STREAM_STOP_SENDING, &errinfo(3, 1)),
        &[EINVAL],
        "server STREAM_STOP_SENDING of its own unidirectional stream 3 (send only)",
    )?;
    lv.echo(b"after stop sending")?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_CONNECTION_ID (spec 6.1.4, 5.1.3)
// ------------------------------------------------------------------------------------------------

fn cid_info(dest: u8, active: u32, prior_to: u32) -> quic_connection_id_info {
    quic_connection_id_info {
        dest,
        active,
        prior_to,
        ..Default::default()
    }
}

fn get_cid(s: &Socket, dest: u8) -> io::Result<quic_connection_id_info> {
    get_struct(s, QUIC_SOCKOPT_CONNECTION_ID, &cid_info(dest, 0, 0))
}

/// The (local, remote) connection ids /proc/net/quic/sockets shows for `local` -> `peer`.
fn proc_cids(local: SocketAddr, peer: SocketAddr) -> Option<(String, String)> {
    let t = std::fs::read_to_string("/proc/net/quic/sockets").ok()?;
    let head = format!("{local} {peer} ");
    let line = t.lines().find(|l| l.starts_with(&head))?;
    let f: Vec<&str> = line.split_whitespace().collect();
    Some((f.get(4)?.to_string(), f.get(5)?.to_string()))
}

/// CONNECTION_ID on a live connection: the active source and destination ids, switching the
/// destination id, retiring ids of both kinds (with the peer's CONNECTION_ID event); bad
/// numbers and lengths fail; data keeps flowing.
pub(crate) fn opt_connection_id(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_errno(
        "connection_id.unconnected",
        get_cid(&u, 0),
        NO_CONN,
        "get CONNECTION_ID on an unconnected socket",
    )?;
    drop(u);

    let mut lv = live(
        tls,
        Setup::new()
            .listener(|l| events(l, &[QUIC_EVENT_CONNECTION_ID], true))
            .client(|c| events(c, &[QUIC_EVENT_CONNECTION_ID], true)),
    )?;
    // The ids issued after the handshake (NEW_CONNECTION_ID) arrive with the first exchange.
    lv.echo(b"connection ids")?;
    lv.c.drain(Duration::from_millis(100));
    let c = &lv.c.sock;
    check_errno(
        "connection_id.short_optlen",
        getopt(c, QUIC_SOCKOPT_CONNECTION_ID, &[1], 8),
        &[EINVAL],
        "get CONNECTION_ID with optlen 8",
    )?;
    check_errno(
        "connection_id.short_optlen",
        setopt(
            c,
            QUIC_SOCKOPT_CONNECTION_ID,
            &image(&cid_info(1, 1, 0))[..8],
        ),
        &[EINVAL],
        "set CONNECTION_ID with optlen 8",
    )?;
    for dest in [0u8, 1] {
        let what = if dest == 0 { "source" } else { "destination" };
        let r = check_ok(
            "connection_id.get_live",
            get_cid(c, dest),
            &format!("get CONNECTION_ID dest {dest} ({what} ids) on a live client"),
        )?;
        if let Some(i) = r {
            check_eq(
                "connection_id.get_live_values",
                (i.dest, i.active, i.prior_to),
                (dest, 0, 0),
                &format!("{what} ids after the handshake (dest, active, prior_to)"),
            )?;
        }
    }

    let (local, peer) = (
        c.local_addr().ctx("getsockname")?,
        c.peer_addr().ctx("getpeername")?,
    );
    let before = proc_cids(local, peer);
    let r = setopt(c, QUIC_SOCKOPT_CONNECTION_ID, &image(&cid_info(1, 1, 0)));
    if check_ok(
        "connection_id.set_active",
        r,
        "set CONNECTION_ID dest 1 active 1 (use the peer's id 1) on a live client",
    )?
    .is_some()
    {
        check_eq(
            "connection_id.set_active_value",
            get_cid(&lv.c.sock, 1).ok().map(|i| i.active),
            Some(1),
            "the active destination id after the switch",
        )?;
        check_echo(
            &mut lv,
            "connection_id.set_active_data",
            b"new destination id",
            "echo after switching the destination id",
        )?;
        let after = proc_cids(local, peer);
        check(
            "connection_id.set_active_wire",
            before.as_ref().map(|b| &b.1) != after.as_ref().map(|a| &a.1),
            || {
                format!("the remote id in /proc/net/quic/sockets did not change: {before:?} / {after:?}")
            },
        )?;
    }
    let c = &lv.c.sock;
    check_errno(
        "connection_id.bad_active",
        setopt(c, QUIC_SOCKOPT_CONNECTION_ID, &image(&cid_info(1, 100, 0))),
        &[EINVAL],
        "set CONNECTION_ID dest 1 active 100 (never issued)",
    )?;
    let r = setopt(c, QUIC_SOCKOPT_CONNECTION_ID, &image(&cid_info(1, 0, 1)));
    if check_ok(
        "connection_id.retire_dest",
        r,
        "set CONNECTION_ID dest 1 prior_to 1 (retire the peer's id 0)",
    )?
    .is_some()
    {
        check_eq(
            "connection_id.retire_dest_value",
            get_cid(&lv.c.sock, 1).ok().map(|i| i.prior_to),
            Some(1),
            "prior_to of the destination ids after retiring id 0",
        )?;
        let ev = lv.s.event(TIMEOUT, |t, _| t == QUIC_EVENT_CONNECTION_ID)?;
        check("connection_id.retire_event", ev.is_some(), || {
            "no CONNECTION_ID event on the server after the client retired the server's id 0 (spec 5.1.3)".into()
        })?;
    }
    let r = setopt(
        &lv.c.sock,
        QUIC_SOCKOPT_CONNECTION_ID,
        &image(&cid_info(0, 0, 1)),
    );
    if check_ok(
        "connection_id.retire_source",
        r,
        "set CONNECTION_ID dest 0 prior_to 1 (ask the peer to retire our id 0)",
    )?
    .is_some()
    {
        let mut p = 0;
        for _ in 0..100 {
            p = get_cid(&lv.c.sock, 0).map(|i| i.prior_to).unwrap_or(0);
            if p >= 1 {
                break;
            }
            lv.c.drain(Duration::from_millis(20));
        }
        check("connection_id.retire_source_value", p >= 1, || {
            format!("prior_to of the source ids is {p} 2 s after retiring id 0")
        })?;
    }
    lv.echo(b"after the connection id changes")?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_CONNECTION_CLOSE (spec 6.1.5, 5.1.4)
// ------------------------------------------------------------------------------------------------

fn close_of(errcode: u32, phrase: &[u8]) -> quic_connection_close {
    let mut c = quic_connection_close {
        errcode,
        ..Default::default()
    };
    c.set_phrase(phrase);
    c
}

fn close_fields(c: &quic_connection_close) -> (u32, u8, Vec<u8>) {
    (c.errcode, c.frame, c.phrase_bytes().to_vec())
}

/// CONNECTION_CLOSE: set and read back (phrase rules, lengths), then on a live connection the
/// closing side's code and phrase reach the peer, in its event and in its getsockopt.
pub(crate) fn opt_connection_close(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    let long = close_of(7, &[b'x'; 63]);
    check_ok(
        "connection_close.set_unconnected",
        setopt(&u, QUIC_SOCKOPT_CONNECTION_CLOSE, &image(&long)),
        "CONNECTION_CLOSE with a 63-byte phrase on an unconnected socket",
    )?;
    check_eq(
        "connection_close.set_unconnected",
        get_struct(&u, QUIC_SOCKOPT_CONNECTION_CLOSE, &close_of(0, b""))
            .ok()
            .map(|g| close_fields(&g)),
        Some((7, 0, vec![b'x'; 63])),
        "CONNECTION_CLOSE read back",
    )?;
    let mut unterminated = image(&long);
    unterminated[8..72].fill(b'y');
    check_errno(
        "connection_close.phrase_unterminated",
        setopt(&u, QUIC_SOCKOPT_CONNECTION_CLOSE, &unterminated),
        &[EINVAL],
        "CONNECTION_CLOSE whose 64-byte phrase has no NUL (abi.md: NUL terminated; lxin/quic: EINVAL)",
    )?;
    check_errno(
        "connection_close.short_optlen",
        setopt(&u, QUIC_SOCKOPT_CONNECTION_CLOSE, &image(&long)[..7]),
        &[EINVAL],
        "set CONNECTION_CLOSE with optlen 7",
    )?;
    check_errno(
        "connection_close.short_optlen",
        getopt(&u, QUIC_SOCKOPT_CONNECTION_CLOSE, &[], 4),
        &[EINVAL],
        "get CONNECTION_CLOSE with optlen 4",
    )?;
    drop(u);

    let mut lv = live(
        tls,
        Setup::new().client(|c| events(c, &[QUIC_EVENT_CONNECTION_CLOSE], true)),
    )?;
    lv.echo(b"before the close")?;
    check_eq(
        "connection_close.get_live",
        get_struct(&lv.c.sock, QUIC_SOCKOPT_CONNECTION_CLOSE, &close_of(0, b""))
            .ok()
            .map(|g| close_fields(&g)),
        Some((0, 0, vec![])),
        "CONNECTION_CLOSE of a live connection nobody closed",
    )?;
    let bye = close_of(0x1234, b"bye from the server");
    check_ok(
        "connection_close.set_live",
        setopt(&lv.s.sock, QUIC_SOCKOPT_CONNECTION_CLOSE, &image(&bye)),
        "CONNECTION_CLOSE set on the live server",
    )?;
    check_eq(
        "connection_close.set_live",
        get_struct(&lv.s.sock, QUIC_SOCKOPT_CONNECTION_CLOSE, &close_of(0, b""))
            .ok()
            .map(|g| close_fields(&g)),
        Some(close_fields(&bye)),
        "CONNECTION_CLOSE read back on the server before close()",
    )?;
    let Live { mut c, s, .. } = lv;
    drop(s);
    let ev = c.event(TIMEOUT, |t, _| t == QUIC_EVENT_CONNECTION_CLOSE)?;
    if check("connection_close.peer_event", ev.is_some(), || {
        "no CONNECTION_CLOSE event on the client after the server closed".into()
    })? {
        let got = quic_connection_close::from_bytes_prefix(&ev.map(|e| e.1).unwrap_or_default());
        check_eq(
            "connection_close.peer_event_fields",
            close_fields(&got),
            close_fields(&bye),
            "(errcode, frame, phrase) of the CONNECTION_CLOSE event",
        )?;
    }
    check_eq(
        "connection_close.peer_get",
        get_struct(&c.sock, QUIC_SOCKOPT_CONNECTION_CLOSE, &close_of(0, b""))
            .ok()
            .map(|g| close_fields(&g)),
        Some(close_fields(&bye)),
        "CONNECTION_CLOSE read on the closed side (spec 6.1.5: get it to receive the peer's closing information)",
    )?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_CONNECTION_MIGRATION (spec 6.3.3, 5.1.5)
// ------------------------------------------------------------------------------------------------

/// A UDP port free right now on `ip`.
fn free_port(ip: Ipv4Addr) -> Result<u16, String> {
    let u = std::net::UdpSocket::bind((ip, 0)).ctx(&format!("bind UDP {ip}:0"))?;
    Ok(u.local_addr().ctx("getsockname")?.port())
}

/// CONNECTION_MIGRATION: the client moves to 127.0.0.2 (both ends get the event, getsockname /
/// getpeername follow, data keeps flowing); bad addresses and lengths fail; a server sets its
/// preferred address before the handshake.
pub(crate) fn opt_connection_migration(tls: &Arc<Tls>) -> TResult {
    let elsewhere = SocketAddr::from((
        Ipv4Addr::new(127, 0, 0, 2),
        free_port(Ipv4Addr::new(127, 0, 0, 2))?,
    ));
    let u = unconnected()?;
    check_errno(
        "migration.unconnected",
        setopt(&u, QUIC_SOCKOPT_CONNECTION_MIGRATION, &sockaddr(&elsewhere)),
        NO_CONN,
        "CONNECTION_MIGRATION on an unconnected socket",
    )?;
    check_errno(
        "migration.short_optlen",
        setopt(
            &u,
            QUIC_SOCKOPT_CONNECTION_MIGRATION,
            &sockaddr(&elsewhere)[..4],
        ),
        &[EINVAL],
        "CONNECTION_MIGRATION with optlen 4",
    )?;
    drop(u);

    let both = |s: &Socket| events(s, &[QUIC_EVENT_CONNECTION_MIGRATION], true);
    let mut lv = live(tls, Setup::new().listener(both).client(both))?;
    lv.echo(b"before the migration")?;
    let c = &lv.c.sock;
    let old = c.local_addr().ctx("getsockname")?;
    check_errno(
        "migration.same_address",
        setopt(c, QUIC_SOCKOPT_CONNECTION_MIGRATION, &sockaddr(&old)),
        &[EINVAL],
        "CONNECTION_MIGRATION to the current local address (lxin/quic: EINVAL)",
    )?;
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), elsewhere.port());
    check_errno(
        "migration.family",
        setopt(c, QUIC_SOCKOPT_CONNECTION_MIGRATION, &sockaddr(&v6)),
        &[EINVAL],
        "CONNECTION_MIGRATION of an IPv4 connection to [::1]",
    )?;
    let r = setopt(c, QUIC_SOCKOPT_CONNECTION_MIGRATION, &sockaddr(&elsewhere));
    if check_ok(
        "migration.client",
        r,
        &format!("CONNECTION_MIGRATION of the live client from {old} to {elsewhere}"),
    )?
    .is_some()
    {
        check_echo(
            &mut lv,
            "migration.data_after",
            b"after the migration",
            "echo after migrating",
        )?;
        let ev =
            lv.c.event(TIMEOUT, |t, _| t == QUIC_EVENT_CONNECTION_MIGRATION)?;
        check_eq(
            "migration.local_event",
            ev.map(|e| e.1),
            Some(vec![1]),
            "the client's CONNECTION_MIGRATION event (local_migration 1)",
        )?;
        let ev =
            lv.s.event(TIMEOUT, |t, _| t == QUIC_EVENT_CONNECTION_MIGRATION)?;
        check_eq(
            "migration.peer_event",
            ev.map(|e| e.1),
            Some(vec![0]),
            "the server's CONNECTION_MIGRATION event (local_migration 0)",
        )?;
        check_eq(
            "migration.addresses",
            (lv.c.sock.local_addr().ok(), lv.s.sock.peer_addr().ok()),
            (Some(elsewhere), Some(elsewhere)),
            "(client getsockname, server getpeername) after the migration",
        )?;
    }
    drop(lv);

    // A server's preferred address, before its handshake (spec 6.3.3).
    let pref = SocketAddr::from((
        Ipv4Addr::new(127, 0, 0, 3),
        free_port(Ipv4Addr::new(127, 0, 0, 3))?,
    ));
    let r = live(
        tls,
        Setup::new().accepted(move |a| {
            let r = setopt(a, QUIC_SOCKOPT_CONNECTION_MIGRATION, &sockaddr(&pref));
            check_ok(
                "migration.server_preferred",
                r,
                &format!("server CONNECTION_MIGRATION to {pref} before its handshake (preferred address)"),
            )?;
            Ok(())
        }),
    );
    let mut lv = r?;
    lv.echo(b"with a preferred address")?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_KEY_UPDATE (spec 6.3.4, 5.1.6)
// ------------------------------------------------------------------------------------------------

/// KEY_UPDATE from the client then from the server: data keeps flowing, both sides report the
/// new key phase in their KEY_UPDATE events, the namespace counter moves.
pub(crate) fn opt_key_update(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_errno(
        "key_update.unconnected",
        setopt(&u, QUIC_SOCKOPT_KEY_UPDATE, &[]),
        NO_CONN,
        "KEY_UPDATE on an unconnected socket",
    )?;
    drop(u);

    let before = counter("QuicKeyUpdates")?;
    let both = |s: &Socket| events(s, &[QUIC_EVENT_KEY_UPDATE], true);
    let mut lv = live(tls, Setup::new().listener(both).client(both))?;
    lv.echo(b"phase 0")?;
    for (round, phase) in [("client", 1u8), ("server", 0u8)] {
        // Both ends have acknowledged packets of the current phase before the next update.
        lv.c.drain(Duration::from_millis(100));
        lv.s.drain(Duration::from_millis(100));
        let who = if round == "client" {
            &lv.c.sock
        } else {
            &lv.s.sock
        };
        check_ok(
            "key_update.set",
            setopt(who, QUIC_SOCKOPT_KEY_UPDATE, &[]),
            &format!("KEY_UPDATE on the live {round}"),
        )?;
        check_echo(
            &mut lv,
            "key_update.data_after",
            format!("after the {round}'s key update").as_bytes(),
            &format!("echo after the {round}'s key update"),
        )?;
        let (mine, peer) = if round == "client" {
            (&mut lv.c, &mut lv.s)
        } else {
            (&mut lv.s, &mut lv.c)
        };
        let ev = mine.event(TIMEOUT, |t, _| t == QUIC_EVENT_KEY_UPDATE)?;
        check_eq(
            "key_update.local_event",
            ev.map(|e| e.1),
            Some(vec![phase]),
            &format!("the {round}'s KEY_UPDATE event after its own update (key phase)"),
        )?;
        let ev = peer.event(TIMEOUT, |t, _| t == QUIC_EVENT_KEY_UPDATE)?;
        check_eq(
            "key_update.peer_event",
            ev.map(|e| e.1),
            Some(vec![phase]),
            &format!(
                "the peer's KEY_UPDATE event after the {round}'s update (spec 5.1.6: both sides)"
            ),
        )?;
    }
    let after = counter("QuicKeyUpdates")?;
    check("key_update.counter", after >= before + 2, || {
        format!("QuicKeyUpdates went from {before} to {after} over two updates")
    })?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_TRANSPORT_PARAM (spec 6.1.2)
// ------------------------------------------------------------------------------------------------

/// TRANSPORT_PARAM: local parameters set before connect() reach the peer (its remote=1 view)
/// and bind it (stream limit); remote=1 set between connect() and the handshake; the listener's
/// are inherited; not settable on an established connection; lengths.
pub(crate) fn opt_transport_param(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    let remote = quic_transport_param {
        remote: 1,
        max_streams_bidi: 50,
        ..Default::default()
    };
    check_errno(
        "transport_param.short_optlen",
        setopt(&u, QUIC_SOCKOPT_TRANSPORT_PARAM, &image(&remote)[..3]),
        &[EINVAL],
        "set TRANSPORT_PARAM with optlen 3",
    )?;
    check_errno(
        "transport_param.short_optlen",
        getopt(&u, QUIC_SOCKOPT_TRANSPORT_PARAM, &[0], 3),
        &[EINVAL],
        "get TRANSPORT_PARAM with optlen 3",
    )?;
    check_errno(
        "transport_param.remote_unconnected",
        setopt(&u, QUIC_SOCKOPT_TRANSPORT_PARAM, &image(&remote)),
        &[EINVAL],
        "TRANSPORT_PARAM remote=1 on a socket that is not connected (lxin/quic: only between connect() and the handshake)",
    )?;
    drop(u);

    let mut lv = live(
        tls,
        Setup::new()
            .listener(tp_hook(|p| {
                p.max_streams_uni = 11;
                p.max_datagram_frame_size = 1300;
                p.max_idle_timeout = 20_000_000;
                p.active_connection_id_limit = 5;
                p.ack_delay_exponent = 4;
            }))
            .client(|c| {
                let set = tp_hook(|p| {
                    p.max_streams_uni = 5;
                    p.max_data = 4 << 20;
                    p.max_ack_delay = 20_000;
                    p.max_idle_timeout = 25_000_000;
                });
                set(c)?;
                let g = get_struct(c, QUIC_SOCKOPT_TRANSPORT_PARAM, &quic_transport_param::ZERO);
                check_eq(
                    "transport_param.local_roundtrip",
                    g.ok().map(|p| {
                        (
                            p.max_streams_uni,
                            p.max_data,
                            p.max_ack_delay,
                            p.max_idle_timeout,
                        )
                    }),
                    Some((5, 4 << 20, 20_000, 25_000_000)),
                    "local parameters read back before connect()",
                )?;
                Ok(())
            })
            .connected(|c| {
                let r = setopt(c, QUIC_SOCKOPT_TRANSPORT_PARAM, &image(&remote));
                if check_ok(
                    "transport_param.remote_before_handshake",
                    r,
                    "TRANSPORT_PARAM remote=1 after connect(), before the handshake (for 0-RTT)",
                )?
                .is_some()
                {
                    check_eq(
                        "transport_param.remote_before_handshake",
                        c.transport_param(true).ok().map(|p| p.max_streams_bidi),
                        Some(50),
                        "remote max_streams_bidi read back before the handshake",
                    )?;
                }
                Ok(())
            }),
    )?;
    let r = get_struct(
        &lv.c.sock,
        QUIC_SOCKOPT_TRANSPORT_PARAM,
        &quic_transport_param {
            remote: 1,
            ..Default::default()
        },
    );
    check_eq(
        "transport_param.remote_live",
        r.ok().map(|p| {
            (
                p.remote,
                p.max_streams_uni,
                p.max_datagram_frame_size,
                p.max_idle_timeout,
                p.active_connection_id_limit,
                p.ack_delay_exponent,
            )
        }),
        Some((1, 11, 1300, 20_000_000, 5, 4)),
        "the client's remote=1 view: (remote, max_streams_uni, max_datagram_frame_size, max_idle_timeout, active_connection_id_limit, ack_delay_exponent)",
    )?;
    check_eq(
        "transport_param.remote_live",
        lv.s.sock.transport_param(true).ok().map(|p| {
            (
                p.max_streams_uni,
                p.max_data,
                p.max_ack_delay,
                p.max_idle_timeout,
            )
        }),
        Some((5, 4 << 20, 20_000, 25_000_000)),
        "the server's remote=1 view: (max_streams_uni, max_data, max_ack_delay, max_idle_timeout)",
    )?;
    check_eq(
        "transport_param.local_live",
        lv.c.sock
            .transport_param(false)
            .ok()
            .map(|p| (p.remote, p.max_streams_uni)),
        Some((0, 5)),
        "the live client's local parameters (remote, max_streams_uni)",
    )?;
    check_eq(
        "transport_param.inherited",
        lv.s.sock
            .transport_param(false)
            .ok()
            .map(|p| (p.max_streams_uni, p.max_datagram_frame_size)),
        Some((11, 1300)),
        "the accepted socket's local parameters (set on the listener)",
    )?;
    // The client's max_streams_uni 5 binds the server.
    for i in 0..5 {
        let r = open(
            &lv.s.sock,
            -1,
            MSG_QUIC_STREAM_UNI | MSG_QUIC_STREAM_DONTWAIT,
        );
        check("transport_param.enforced", r.is_ok(), || {
            format!(
                "server unidirectional stream {} of the 5 the client allows: {}",
                i + 1,
                describe(&r)
            )
        })?;
    }
    check_errno(
        "transport_param.enforced",
        open(
            &lv.s.sock,
            -1,
            MSG_QUIC_STREAM_UNI | MSG_QUIC_STREAM_DONTWAIT,
        ),
        &[EAGAIN],
        "a sixth server unidirectional stream (the client's max_streams_uni is 5)",
    )?;
    let mut p = lv.c.sock.transport_param(false).ctx("local parameters")?;
    p.max_streams_uni = 9;
    check_errno(
        "transport_param.set_live",
        setopt(&lv.c.sock, QUIC_SOCKOPT_TRANSPORT_PARAM, &image(&p)),
        &[EINVAL],
        "TRANSPORT_PARAM set on an established connection (lxin/quic: EINVAL; the parameters were sent already)",
    )?;
    lv.echo(b"transport parameters")?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_CONFIG (spec 6.1.3)
// ------------------------------------------------------------------------------------------------

/// CONFIG: defaults; every field set and read back; BBR; bad values and lengths; a live
/// connection's and an accepted socket's (from the listener); not settable once established;
/// version 2 negotiated end to end.
pub(crate) fn opt_config(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    let d = check_ok(
        "config.get_unconnected",
        get_struct(&u, QUIC_SOCKOPT_CONFIG, &quic_config::ZERO),
        "get CONFIG on a new socket",
    )?;
    if let Some(d) = d {
        check_eq(
            "config.defaults",
            (
                d.version,
                d.initial_smoothed_rtt,
                d.congestion_control_algo,
                d.plpmtud_probe_interval,
                d.keepalive_probe_interval,
            ),
            (QUIC_VERSION_V1, 333_000, QUIC_CONG_ALG_RENO, 0, 0),
            "CONFIG defaults (version, initial_smoothed_rtt, algo, plpmtud, keepalive)",
        )?;
    }
    let all = quic_config {
        version: QUIC_VERSION_V1,
        plpmtud_probe_interval: 5_000_000,
        initial_smoothed_rtt: 100_000,
        payload_cipher_type: quic_uapi::TLS_CIPHER_AES_GCM_256,
        congestion_control_algo: QUIC_CONG_ALG_CUBIC,
        validate_peer_address: 1,
        stream_data_nodelay: 1,
        receive_session_ticket: 1,
        certificate_request: 1,
        reserved: [0; 3],
        keepalive_probe_interval: 3_000_000,
    };
    check_ok(
        "config.set_every_field",
        setopt(&u, QUIC_SOCKOPT_CONFIG, &image(&all)),
        "CONFIG with every field set",
    )?;
    check_eq(
        "config.set_every_field",
        get_struct(&u, QUIC_SOCKOPT_CONFIG, &quic_config::ZERO).ok(),
        Some(all),
        "CONFIG read back",
    )?;
    check_ok(
        "config.bbr",
        setopt(
            &u,
            QUIC_SOCKOPT_CONFIG,
            &image(&quic_config {
                congestion_control_algo: QUIC_CONG_ALG_BBR,
                ..Default::default()
            }),
        ),
        "CONFIG congestion_control_algo QUIC_CONG_ALG_BBR (2: declared by include/uapi/linux/quic.h as a kquic addition)",
    )?;
    for (what, c) in [
        (
            "congestion_control_algo QUIC_CONG_ALG_MAX",
            quic_config {
                congestion_control_algo: QUIC_CONG_ALG_MAX,
                ..Default::default()
            },
        ),
        (
            "version 0x12345678",
            quic_config {
                version: 0x1234_5678,
                ..Default::default()
            },
        ),
        (
            "payload_cipher_type 7",
            quic_config {
                payload_cipher_type: 7,
                ..Default::default()
            },
        ),
    ] {
        check_errno(
            "config.bad_value",
            setopt(&u, QUIC_SOCKOPT_CONFIG, &image(&c)),
            &[EINVAL],
            &format!("CONFIG with {what}"),
        )?;
    }
    check_errno(
        "config.short_optlen",
        setopt(&u, QUIC_SOCKOPT_CONFIG, &image(&all)[..3]),
        &[EINVAL],
        "set CONFIG with optlen 3",
    )?;
    check_errno(
        "config.short_optlen",
        getopt(&u, QUIC_SOCKOPT_CONFIG, &[], 3),
        &[EINVAL],
        "get CONFIG with optlen 3",
    )?;
    drop(u);

    let lcfg = quic_config {
        congestion_control_algo: QUIC_CONG_ALG_CUBIC,
        keepalive_probe_interval: 4_000_000,
        stream_data_nodelay: 1,
        ..Default::default()
    };
    let ccfg = quic_config {
        initial_smoothed_rtt: 50_000,
        stream_data_nodelay: 1,
        ..Default::default()
    };
    let mut lv = live(
        tls,
        Setup::new()
            .listener(config_hook(lcfg))
            .client(config_hook(ccfg)),
    )?;
    lv.echo(b"config")?;
    check_eq(
        "config.live_get",
        get_struct(&lv.c.sock, QUIC_SOCKOPT_CONFIG, &quic_config::ZERO)
            .ok()
            .map(|g| {
                (
                    g.version,
                    g.initial_smoothed_rtt,
                    g.stream_data_nodelay,
                    g.congestion_control_algo,
                )
            }),
        Some((QUIC_VERSION_V1, 50_000, 1, QUIC_CONG_ALG_RENO)),
        "CONFIG of the live client (version, initial_smoothed_rtt, stream_data_nodelay, algo)",
    )?;
    check_eq(
        "config.inherited",
        get_struct(&lv.s.sock, QUIC_SOCKOPT_CONFIG, &quic_config::ZERO)
            .ok()
            .map(|g| {
                (
                    g.congestion_control_algo,
                    g.keepalive_probe_interval,
                    g.stream_data_nodelay,
                )
            }),
        Some((QUIC_CONG_ALG_CUBIC, 4_000_000, 1)),
        "CONFIG of the accepted socket, set on the listener (algo, keepalive, nodelay)",
    )?;
    check_errno(
        "config.set_live",
        setopt(
            &lv.c.sock,
            QUIC_SOCKOPT_CONFIG,
            &image(&quic_config {
                congestion_control_algo: QUIC_CONG_ALG_CUBIC,
                ..Default::default()
            }),
        ),
        &[EINVAL],
        "CONFIG set on an established connection (lxin/quic: EINVAL)",
    )?;
    lv.echo(b"config after")?;
    drop(lv);

    let v2 = quic_config {
        version: QUIC_VERSION_V2,
        ..Default::default()
    };
    match live(tls, Setup::new().client(config_hook(v2))) {
        Ok(mut lv) => {
            check_eq(
                "config.version2",
                get_struct(&lv.c.sock, QUIC_SOCKOPT_CONFIG, &quic_config::ZERO)
                    .ok()
                    .map(|g| g.version),
                Some(QUIC_VERSION_V2),
                "CONFIG version of a client that connected with QUIC_VERSION_V2",
            )?;
            check_echo(
                &mut lv,
                "config.version2",
                b"version 2",
                "echo over QUIC v2",
            )?;
        }
        Err(e) => {
            check("config.version2", false, || {
                format!("handshake of a client with CONFIG version QUIC_VERSION_V2: {e}")
            })?;
        }
    }
    Ok(())
}

/// CONFIG keepalive_probe_interval keeps a connection with a 1 s max_idle_timeout alive over
/// 2.5 s of silence; without it the idle timeout ends the connection.
pub(crate) fn opt_config_keepalive(tls: &Arc<Tls>) -> TResult {
    let idle = tp_hook(|p| p.max_idle_timeout = 1_000_000);
    let keepalive = quic_config {
        keepalive_probe_interval: 300_000,
        ..Default::default()
    };
    let mut lv = live(
        tls,
        Setup::new().listener(&idle).client(|c| {
            idle(c)?;
            config_hook(keepalive)(c)
        }),
    )?;
    lv.echo(b"before the silence")?;
    thread::sleep(Duration::from_millis(2500));
    check_echo(
        &mut lv,
        "config.keepalive",
        b"kept alive",
        "keepalive_probe_interval 300 ms, max_idle_timeout 1 s, after 2.5 s without data",
    )?;
    drop(lv);

    let mut lv = live(tls, Setup::new().listener(&idle).client(&idle))?;
    lv.echo(b"before the silence")?;
    thread::sleep(Duration::from_millis(2500));
    lv.c.drain(Duration::from_millis(300));
    check(
        "transport_param.idle_timeout",
        lv.c.closed.is_some(),
        || {
            "a connection with max_idle_timeout 1 s and no keepalive is still open after 2.5 s of silence".into()
        },
    )?;
    note!(
        "idle connection ended: recvmsg says {}",
        lv.c.closed.map_or("nothing".into(), |e| if e == 0 {
            "end of file".into()
        } else {
            errno_name(e)
        })
    );
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_TOKEN (spec 6.1.6, 5.1.7)
// ------------------------------------------------------------------------------------------------

/// TOKEN: the client keeps the server's NEW_TOKEN (event and getsockopt), the server can issue
/// another, and a client that sets the token skips the Retry of an address-validating
/// listener; length limits.
pub(crate) fn opt_token(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_ok(
        "token.set_unconnected",
        setopt(&u, QUIC_SOCKOPT_TOKEN, &[7u8; 120]),
        "TOKEN of 120 bytes",
    )?;
    check_eq(
        "token.set_unconnected",
        getopt(&u, QUIC_SOCKOPT_TOKEN, &[], 256).ok(),
        Some(vec![7u8; 120]),
        "TOKEN read back",
    )?;
    check_errno(
        "token.too_long",
        setopt(&u, QUIC_SOCKOPT_TOKEN, &[7u8; 121]),
        &[EINVAL],
        "TOKEN of 121 bytes (abi.md: at most 120)",
    )?;
    check_errno(
        "token.get_short",
        getopt(&u, QUIC_SOCKOPT_TOKEN, &[], 10),
        &[EINVAL],
        "get TOKEN into 10 bytes with 120 stored",
    )?;
    drop(u);

    let (l, addr) = listener_with(Some(Box::new(|l: &Socket| {
        let mut c = l.config().ctx("getsockopt(CONFIG)")?;
        c.validate_peer_address = 1;
        l.set_config(&c)
            .ctx("setsockopt(CONFIG validate_peer_address)")
    })))?;
    let stls = tls.clone();
    let (tx, rx) = mpsc::channel::<Result<Socket, String>>();
    let h = thread::spawn(move || {
        for _ in 0..2 {
            let r = (|| {
                let (a, _) = l.accept().ctx("accept")?;
                a.set_read_timeout(Some(TIMEOUT)).ctx("SO_RCVTIMEO")?;
                a.set_write_timeout(Some(TIMEOUT)).ctx("SO_SNDTIMEO")?;
                server_handshake(&a, &stls.server).ctx("server handshake")?;
                Ok(a)
            })();
            let stop = r.is_err();
            let _ = tx.send(r);
            if stop {
                break;
            }
        }
    });
    let r = (|| {
        let answers0 = counter("QuicListenerAnswers")?;
        let c1 = client_of(
            tls,
            &addr,
            Some(Box::new(|c: &Socket| {
                events(c, &[QUIC_EVENT_NEW_TOKEN], true)
            })),
            None,
        )?;
        let s1 = rx.recv_timeout(TIMEOUT).ctx("first server socket")??;
        let mut lv = Live {
            c: End::new(c1),
            s: End::new(s1),
        };
        let answers1 = counter("QuicListenerAnswers")?;
        check("token.retry_first", answers1 > answers0, || {
            "no Retry for a client without a token (validate_peer_address)".into()
        })?;
        lv.echo(b"first connection")?;
        let ev = lv.c.event(SHORT, |t, _| t == QUIC_EVENT_NEW_TOKEN)?;
        let token = ev.map(|e| e.1).filter(|t| !t.is_empty());
        check("token.new_token_event", token.is_some(), || {
            "no NEW_TOKEN event (with a token) on the client after the handshake".into()
        })?;
        check_eq(
            "token.client_get",
            getopt(&lv.c.sock, QUIC_SOCKOPT_TOKEN, &[], 256).ok(),
            token.clone(),
            "client TOKEN after the server's NEW_TOKEN (spec 6.1.6: obtained via getsockopt or the event)",
        )?;
        check_ok(
            "token.server_issue",
            setopt(&lv.s.sock, QUIC_SOCKOPT_TOKEN, &[]),
            "TOKEN set (no value) on the live server socket",
        )?;
        let ev = lv.c.event(SHORT, |t, _| t == QUIC_EVENT_NEW_TOKEN)?;
        check("token.server_issue_event", ev.is_some(), || {
            "no second NEW_TOKEN event on the client after the server's TOKEN setsockopt (spec 6.1.6: the server issues a token)".into()
        })?;
        drop(lv);

        let tok = token.unwrap_or_default();
        let answers2 = counter("QuicListenerAnswers")?;
        let c2 = client_of(
            tls,
            &addr,
            None,
            Some(Box::new(|c: &Socket| {
                if tok.is_empty() {
                    return Ok(());
                }
                setopt(c, QUIC_SOCKOPT_TOKEN, &tok).ctx("TOKEN set after connect()")
            })),
        )?;
        let s2 = rx.recv_timeout(TIMEOUT).ctx("second server socket")??;
        let answers3 = counter("QuicListenerAnswers")?;
        let mut lv = Live {
            c: End::new(c2),
            s: End::new(s2),
        };
        lv.echo(b"second connection")?;
        check_eq(
            "token.used_by_client",
            answers3 - answers2,
            0,
            "Retry packets sent to a client that set the token of the server's NEW_TOKEN (spec 6.1.6, appendix C)",
        )?;
        Ok(())
    })();
    drop(rx);
    let _ = h.join();
    r
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_ALPN (spec 6.1.7, 3.1.3)
// ------------------------------------------------------------------------------------------------

/// The ALPN option as a string (`None` if getsockopt fails).
fn alpn_of(s: &Socket) -> Option<String> {
    getopt(s, QUIC_SOCKOPT_ALPN, &[], 256)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// ALPN: set/read back and length limits; after the handshake the selected ALPN; set on a
/// live socket; a listener only takes clients offering one of its ALPNs (routing).
pub(crate) fn opt_alpn(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_ok(
        "alpn.set_unconnected",
        setopt(&u, QUIC_SOCKOPT_ALPN, b"h3,kquic-test"),
        "ALPN \"h3,kquic-test\"",
    )?;
    check_eq(
        "alpn.set_unconnected",
        alpn_of(&u),
        Some(String::from("h3,kquic-test")),
        "ALPN read back",
    )?;
    check_ok(
        "alpn.max_len",
        setopt(&u, QUIC_SOCKOPT_ALPN, &[b'a'; 128]),
        "ALPN of 128 bytes (abi.md: at most 128)",
    )?;
    check_errno(
        "alpn.too_long",
        setopt(&u, QUIC_SOCKOPT_ALPN, &[b'a'; 129]),
        &[EINVAL],
        "ALPN of 129 bytes",
    )?;
    check_errno(
        "alpn.get_short",
        getopt(&u, QUIC_SOCKOPT_ALPN, &[], 10),
        &[EINVAL],
        "get ALPN into 10 bytes with 128 stored",
    )?;
    drop(u);

    let mut lv = live(
        tls,
        Setup::new().client(|c| setopt(c, QUIC_SOCKOPT_ALPN, b"h3,kquic-test").ctx("ALPN list")),
    )?;
    check_eq(
        "libquic.alpn_selected",
        alpn_of(&lv.c.sock),
        Some(ALPN.to_string()),
        "client ALPN after the handshake selected kquic-test (spec 6.1.7: the userspace handshake SHOULD return the selected ALPN via this option)",
    )?;
    check_eq(
        "alpn.accepted",
        alpn_of(&lv.s.sock),
        Some(ALPN.to_string()),
        "ALPN of the accepted socket (the listener's)",
    )?;
    check_ok(
        "alpn.set_live",
        setopt(&lv.c.sock, QUIC_SOCKOPT_ALPN, ALPN.as_bytes()),
        "ALPN set on the live client (how a handshake returns the selected one)",
    )?;
    check_eq(
        "alpn.set_live",
        alpn_of(&lv.c.sock),
        Some(ALPN.to_string()),
        "ALPN read back on the live client",
    )?;
    lv.echo(b"alpn")?;
    drop(lv);

    // Routing: a listener for another ALPN on the same address and port.
    let (other, addr) = listener_with(Some(Box::new(|l: &Socket| {
        setopt(l, QUIC_SOCKOPT_ALPN, b"other-proto").ctx("ALPN other-proto")
    })))?;
    other.set_nonblocking(true).ctx("O_NONBLOCK")?;
    let mine = new_socket(&addr)?;
    let r = mine.bind(&addr).and_then(|()| mine.listen(4));
    if check_ok(
        "alpn.listener_routing",
        r,
        &format!("a second listener on {addr} for ALPN kquic-test beside one for other-proto (spec 3.1.3: ALPN routing)"),
    )?
    .is_some()
    {
        let h = accept_one(mine, tls, None);
        let c = client_of(tls, &addr, None, None);
        let s = h.join().unwrap_or_else(|p| Err(panic_message(p)));
        check("alpn.listener_routing", c.is_ok() && s.is_ok(), || {
            format!(
                "a kquic-test client of the shared port: client {:?}, server {:?}",
                c.as_ref().err(),
                s.as_ref().err()
            )
        })?;
    } else {
        drop(mine);
        // One listener, for other-proto: a client offering only kquic-test is not its.
        let c = new_socket(&addr)?;
        c.set_read_timeout(Some(Duration::from_millis(1500)))
            .ctx("SO_RCVTIMEO")?;
        c.connect(&addr).ctx("connect")?;
        let hr = client_handshake(&c, &tls.client, None);
        note!(
            "handshake with the other-proto listener: {}",
            hr.as_ref().map_or_else(|e| e.to_string(), |_| "completed".into())
        );
    }
    check_errno(
        "alpn.listener_mismatch",
        other.accept().map(|_| ()),
        &[EAGAIN],
        "accept() on the other-proto listener after a ClientHello offering only kquic-test (spec 3.1.3)",
    )?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_SESSION_TICKET (spec 6.1.8)
// ------------------------------------------------------------------------------------------------

/// SESSION_TICKET: set/read back and limits; a server socket gives the ticket key; a client
/// gets the server's NewSessionTicket (getsockopt and NEW_SESSION_TICKET event).
pub(crate) fn opt_session_ticket(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_ok(
        "session_ticket.set_unconnected",
        setopt(&u, QUIC_SOCKOPT_SESSION_TICKET, &[0x5a; 1000]),
        "SESSION_TICKET of 1000 bytes",
    )?;
    check_eq(
        "session_ticket.set_unconnected",
        getopt(&u, QUIC_SOCKOPT_SESSION_TICKET, &[], 4096)
            .ok()
            .map(|b| b.len()),
        Some(1000),
        "SESSION_TICKET length read back",
    )?;
    check_errno(
        "session_ticket.get_short",
        getopt(&u, QUIC_SOCKOPT_SESSION_TICKET, &[], 100),
        &[EINVAL],
        "get SESSION_TICKET into 100 bytes with 1000 stored",
    )?;
    check_errno(
        "session_ticket.too_long",
        setopt(&u, QUIC_SOCKOPT_SESSION_TICKET, &vec![0u8; 65536]),
        &[EINVAL],
        "SESSION_TICKET of 64 KiB (spec, Security Considerations: option sizes SHOULD be limited)",
    )?;
    drop(u);

    let (l, _) = listener_with(None)?;
    let key = getopt(&l, QUIC_SOCKOPT_SESSION_TICKET, &[], 256);
    check(
        "session_ticket.listener_key",
        key.as_ref().is_ok_and(|k| !k.is_empty()),
        || {
            format!("SESSION_TICKET of a listening socket (spec 6.1.8: the key that enables session tickets): {}", bytes_or_errno(&key))
        },
    )?;
    drop(l);

    let mut lv = live(
        tls,
        Setup::new().client(|c| events(c, &[QUIC_EVENT_NEW_SESSION_TICKET], true)),
    )?;
    let key = getopt(&lv.s.sock, QUIC_SOCKOPT_SESSION_TICKET, &[], 256);
    check(
        "session_ticket.server_key",
        key.as_ref().is_ok_and(|k| !k.is_empty()),
        || {
            format!("SESSION_TICKET of an accepted socket (spec appendix C: the server's ticket key): {}", bytes_or_errno(&key))
        },
    )?;
    // The server's TLS sends its NewSessionTicket messages right after the handshake.
    lv.echo(b"tickets")?;
    lv.c.drain(Duration::from_millis(300));
    let ev =
        lv.c.event(SHORT, |t, _| t == QUIC_EVENT_NEW_SESSION_TICKET)?;
    check(
        "session_ticket.event",
        ev.as_ref().is_some_and(|e| e.1.first() == Some(&4)),
        || {
            format!("NEW_SESSION_TICKET event with a NewSessionTicket message (type 4) on the client: {:?}", ev.as_ref().map(|e| e.1.len()))
        },
    )?;
    let t = getopt(&lv.c.sock, QUIC_SOCKOPT_SESSION_TICKET, &[], 4096);
    check(
        "session_ticket.client_get",
        t.as_ref().is_ok_and(|t| t.first() == Some(&4)),
        || {
            format!("client SESSION_TICKET after the server's NewSessionTicket (spec 6.1.8, abi.md: the NewSessionTicket message): {}", bytes_or_errno(&t))
        },
    )?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_CRYPTO_SECRET (spec 6.1.9)
// ------------------------------------------------------------------------------------------------

/// "N bytes" or the errno.
fn bytes_or_errno(r: &io::Result<Vec<u8>>) -> String {
    match r {
        Ok(b) => format!(
            "{} bytes{}",
            b.len(),
            b.first()
                .map_or(String::new(), |f| format!(", first {f:#04x}"))
        ),
        Err(e) => e.raw_os_error().map_or_else(|| e.to_string(), errno_name),
    }
}

fn secret(level: u8, send: u8, ty: u32) -> Vec<u8> {
    image(&quic_crypto_secret {
        send,
        level,
        reserved: 0,
        r#type: ty,
        secret: [0x11; 48],
    })
}

/// CRYPTO_SECRET: not on an unconnected socket, bad levels / directions / ciphers / lengths,
/// set only, and refused once the handshake is over (the connection keeps its keys).
pub(crate) fn opt_crypto_secret(tls: &Arc<Tls>) -> TResult {
    let gcm = quic_uapi::TLS_CIPHER_AES_GCM_128;
    let u = unconnected()?;
    check_errno(
        "crypto_secret.unconnected",
        setopt(
            &u,
            QUIC_SOCKOPT_CRYPTO_SECRET,
            &secret(QUIC_CRYPTO_HANDSHAKE, 1, gcm),
        ),
        NO_CONN,
        "CRYPTO_SECRET on an unconnected socket",
    )?;
    check_errno(
        "crypto_secret.short_optlen",
        setopt(
            &u,
            QUIC_SOCKOPT_CRYPTO_SECRET,
            &secret(QUIC_CRYPTO_HANDSHAKE, 1, gcm)[..55],
        ),
        &[EINVAL],
        "CRYPTO_SECRET with optlen 55",
    )?;
    check_errno(
        "crypto_secret.get",
        getopt(
            &u,
            QUIC_SOCKOPT_CRYPTO_SECRET,
            &secret(QUIC_CRYPTO_APP, 1, gcm),
            56,
        ),
        &[EINVAL, ENOPROTOOPT],
        "getsockopt CRYPTO_SECRET (abi.md: set only)",
    )?;
    drop(u);

    // Connected, before the handshake (nothing is sent until the handshake starts).
    let (l, addr) = listener_with(None)?;
    let c = new_socket(&addr)?;
    c.connect(&addr).ctx("connect")?;
    for (what, s) in [
        ("level 4", secret(4, 1, gcm)),
        ("level INITIAL", secret(QUIC_CRYPTO_INITIAL, 1, gcm)),
        ("send 2", secret(QUIC_CRYPTO_HANDSHAKE, 2, gcm)),
        ("type 99", secret(QUIC_CRYPTO_HANDSHAKE, 1, 99)),
    ] {
        check_errno(
            "crypto_secret.bad_value",
            setopt(&c, QUIC_SOCKOPT_CRYPTO_SECRET, &s),
            &[EINVAL],
            &format!("CRYPTO_SECRET with {what} after connect()"),
        )?;
    }
    drop(c);
    drop(l);

    let mut lv = live(tls, Setup::new())?;
    lv.echo(b"keys")?;
    for (level, what, s) in [
        (
            "handshake",
            "a Handshake receive secret",
            secret(QUIC_CRYPTO_HANDSHAKE, 0, gcm),
        ),
        (
            "app",
            "a 1-RTT send secret",
            secret(QUIC_CRYPTO_APP, 1, gcm),
        ),
    ] {
        check_errno(
            &format!("crypto_secret.live_{level}"),
            setopt(&lv.c.sock, QUIC_SOCKOPT_CRYPTO_SECRET, &s),
            &[EINVAL],
            &format!("CRYPTO_SECRET with {what} on an established connection (spec 6.1.9: handshake only; lxin/quic: EINVAL)"),
        )?;
        check_echo(
            &mut lv,
            &format!("crypto_secret.live_{level}_keeps_connection"),
            b"keys kept",
            &format!("echo after CRYPTO_SECRET with {what} on the established connection"),
        )?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// QUIC_SOCKOPT_TRANSPORT_PARAM_EXT (spec 6.1.10)
// ------------------------------------------------------------------------------------------------

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let first = *b.get(*i)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*i..*i + len)?;
    let mut v = u64::from(first & 0x3f);
    for x in &bytes[1..] {
        v = v << 8 | u64::from(*x);
    }
    *i += len;
    Some(v)
}

/// The parameters of a transport parameters extension (id -> value bytes).
fn parse_tp_ext(b: &[u8]) -> Option<BTreeMap<u64, Vec<u8>>> {
    let mut m = BTreeMap::new();
    let mut i = 0;
    while i < b.len() {
        let id = varint(b, &mut i)?;
        let len = usize::try_from(varint(b, &mut i)?).ok()?;
        m.insert(id, b.get(i..i + len)?.to_vec());
        i += len;
    }
    Some(m)
}

fn tp_int(m: &BTreeMap<u64, Vec<u8>>, id: u64) -> Option<u64> {
    m.get(&id).and_then(|v| varint(v, &mut 0))
}

/// TRANSPORT_PARAM_EXT: between connect() and the handshake it encodes the local parameters;
/// length limits; malformed input; handshake only (not on an established connection).
pub(crate) fn opt_transport_param_ext(tls: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    check_errno(
        "tp_ext.unconnected",
        getopt(&u, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, &[], 512),
        NO_CONN,
        "TRANSPORT_PARAM_EXT get before connect()",
    )?;
    drop(u);

    let (l, addr) = listener_with(None)?;
    let c = new_socket(&addr)?;
    tp_hook(|p| {
        p.max_streams_uni = 5;
        p.max_datagram_frame_size = 1200;
    })(&c)?;
    c.connect(&addr).ctx("connect")?;
    let ext = check_ok(
        "tp_ext.get",
        getopt(&c, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, &[], 512),
        "TRANSPORT_PARAM_EXT get after connect()",
    )?;
    if let Some(ext) = ext {
        let m = parse_tp_ext(&ext);
        check("tp_ext.get", m.is_some() && !ext.is_empty(), || {
            format!("the extension ({} bytes) does not parse", ext.len())
        })?;
        let m = m.unwrap_or_default();
        check_eq(
            "tp_ext.reflects_local",
            (tp_int(&m, 0x09), tp_int(&m, 0x20), m.contains_key(&0x0f)),
            (Some(5), Some(1200), true),
            "(initial_max_streams_uni, max_datagram_frame_size, initial_source_connection_id present) in the extension",
        )?;
        check_errno(
            "tp_ext.get_short",
            getopt(
                &c,
                QUIC_SOCKOPT_TRANSPORT_PARAM_EXT,
                &[],
                ext.len().saturating_sub(1),
            ),
            &[EINVAL],
            &format!(
                "TRANSPORT_PARAM_EXT get with optlen {} (one short)",
                ext.len().saturating_sub(1)
            ),
        )?;
    }
    check_errno(
        "tp_ext.too_long",
        setopt(&c, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, &[0u8; 513]),
        &[EINVAL],
        "TRANSPORT_PARAM_EXT set of 513 bytes (abi.md: at most 512)",
    )?;
    check_errno(
        "tp_ext.malformed",
        setopt(&c, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, &[0x40, 0xff, 0x7f]),
        &[EINVAL],
        "TRANSPORT_PARAM_EXT set of a truncated parameter",
    )?;
    drop(c);
    drop(l);

    let mut lv = live(tls, Setup::new())?;
    lv.echo(b"extension")?;
    check_errno(
        "tp_ext.get_live",
        getopt(&lv.c.sock, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, &[], 512)
            .map(|b| format!("{} bytes", b.len())),
        &[EINVAL],
        "TRANSPORT_PARAM_EXT get on an established connection (spec 6.1.10: handshake only; lxin/quic: EINVAL)",
    )?;
    check_echo(
        &mut lv,
        "tp_ext.get_live_keeps_connection",
        b"after the extension get",
        "echo after TRANSPORT_PARAM_EXT get on the established connection",
    )?;
    check_errno(
        "tp_ext.set_live",
        setopt(&lv.c.sock, QUIC_SOCKOPT_TRANSPORT_PARAM_EXT, &[0x09, 0x01, 0x05]),
        &[EINVAL],
        "TRANSPORT_PARAM_EXT set (initial_max_streams_uni 5) on an established connection (spec 6.1.10: handshake only; lxin/quic: EINVAL)",
    )?;
    check_echo(
        &mut lv,
        "tp_ext.set_live_keeps_connection",
        b"after the extension set",
        "echo after a refused TRANSPORT_PARAM_EXT set on the established connection (lxin/quic refuses it before touching the connection)",
    )?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Direction (get / set only) and unknown options
// ------------------------------------------------------------------------------------------------

/// getsockopt of set-only options and setsockopt of the get-only one fail as lxin/quic fails
/// them (ENOPROTOOPT: it has no such case); unknown options are ENOPROTOOPT.
pub(crate) fn opt_direction(_: &Arc<Tls>) -> TResult {
    let u = unconnected()?;
    for (name, what) in [
        (QUIC_SOCKOPT_STREAM_RESET, "STREAM_RESET"),
        (QUIC_SOCKOPT_STREAM_STOP_SENDING, "STREAM_STOP_SENDING"),
        (QUIC_SOCKOPT_CONNECTION_MIGRATION, "CONNECTION_MIGRATION"),
        (QUIC_SOCKOPT_KEY_UPDATE, "KEY_UPDATE"),
    ] {
        check_errno(
            "direction.get_set_only",
            getopt(&u, name, &[], 64),
            &[ENOPROTOOPT],
            &format!("getsockopt {what} (set only; lxin/quic: ENOPROTOOPT)"),
        )?;
    }
    check_errno(
        "direction.set_get_only",
        setopt(
            &u,
            QUIC_SOCKOPT_STREAM_OPEN,
            &image(&quic_stream_info {
                stream_id: -1,
                stream_flags: 0,
            }),
        ),
        &[ENOPROTOOPT],
        "setsockopt STREAM_OPEN (get only; lxin/quic: ENOPROTOOPT)",
    )?;
    for name in [15, 100, -1] {
        check_errno(
            "direction.unknown",
            getopt(&u, name, &[], 64),
            &[ENOPROTOOPT],
            &format!("getsockopt of option {name}"),
        )?;
        check_errno(
            "direction.unknown",
            setopt(&u, name, &[0u8; 8]),
            &[ENOPROTOOPT],
            &format!("setsockopt of option {name}"),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_parameters_extension_parses() {
        // initial_max_streams_uni 5 (1-byte varint), max_datagram_frame_size 1200 (2 bytes),
        // a 4-byte varint value, an 8-byte connection id.
        let ext = [
            0x09, 0x01, 0x05, 0x20, 0x02, 0x44, 0xb0, 0x04, 0x04, 0x80, 0x20, 0x00, 0x00, 0x0f,
            0x08, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let m = parse_tp_ext(&ext).unwrap();
        assert_eq!(tp_int(&m, 0x09), Some(5));
        assert_eq!(tp_int(&m, 0x20), Some(1200));
        assert_eq!(tp_int(&m, 0x04), Some(2 << 20));
        assert_eq!(m[&0x0f], vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(parse_tp_ext(&[0x40, 0xff, 0x7f]).is_none());
    }
}
