//! The driver of the `conn_pair` fuzz target (in `proto/fuzz`), kept here so that its findings
//! replay as ordinary tests: a client and a server engine over the simulated link (with the
//! fake TLS handshake), driven by the input: link impairments, application calls (streams,
//! resets, datagrams, key updates, migration, close, connection ID changes), raw datagrams
//! injected from the wire, outages, NAT rebinding, a paused or lagging TLS stack,
//! disable_1rtt_encryption. Nothing may
//! panic, and at every step:
//! - what a side read from a stream is a prefix of what the other side wrote on it, and the
//!   end of a stream is only reported with all of its data;
//! - a connection only ends with NO_ERROR, APPLICATION_ERROR (an application close before
//!   1-RTT), NO_VIABLE_PATH (an outage during path validation), INVALID_TOKEN (a Retry token
//!   that no longer matches after NAT rebinding or a long outage) or an application code: no
//!   protocol error can come from an authentic peer over a lossy, reordering, duplicating or
//!   corrupting network;
//! - the simulation never gets stuck on a deadline that acting on does not clear (the
//!   simulator asserts it).

use std::net::SocketAddr;

use crate::{Host, LinkParams, Setup, Sim, CLIENT_ADDR};
use quic_proto::conn::{CloseSource, VersionList};
use quic_proto::packet::{VERSION_1, VERSION_2};
use quic_proto::stream::{Dir, StreamId};

const MS: u64 = 1000;

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn u8(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn u16(&mut self) -> u16 {
        let a = self.u8().unwrap_or(0);
        let b = self.u8().unwrap_or(0);
        u16::from_le_bytes([a, b])
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let end = (self.pos + n).min(self.data.len());
        let s = &self.data[self.pos..end];
        self.pos = end;
        s
    }
}

fn link(b: u8, c: u8) -> LinkParams {
    LinkParams {
        loss: u32::from(b & 0x1f) * 10_000,
        jitter: u64::from(b >> 5) * 3 * MS,
        dup: u32::from(c & 0x0f) * 5_000,
        corrupt: u32::from(c >> 4) * 3_000,
        ..LinkParams::default()
    }
}

fn pick_stream(h: &Host, sel: u8) -> Option<StreamId> {
    let c = h.conn.as_ref()?;
    let ids: Vec<StreamId> = c.streams().iter().map(|s| s.id()).collect();
    if ids.is_empty() {
        return None;
    }
    Some(ids[usize::from(sel) % ids.len()])
}

fn check(sim: &Sim, invalid_token_ok: bool) {
    for (writer, reader) in [(&sim.client, &sim.server), (&sim.server, &sim.client)] {
        for (id, got) in &reader.received {
            let sent = writer.sent.get(id).map_or(&[][..], |v| &v[..]);
            assert!(
                got.len() <= sent.len() && sent[..got.len()] == got[..],
                "stream {id}: read {} bytes that are not a prefix of the {} written",
                got.len(),
                sent.len()
            );
        }
        for id in &reader.fins {
            let got = reader.received.get(id).map_or(0, |v| v.len());
            let sent = writer.sent.get(id).map_or(0, |v| v.len());
            assert_eq!(got, sent, "stream {id}: FIN read before all the data");
        }
        if let Some(c) = &writer.closed {
            if matches!(c.source, CloseSource::Local | CloseSource::Peer) && !c.app {
                assert!(
                    matches!(c.code, 0x00 | 0x0c | 0x10) || (invalid_token_ok && c.code == 0x0b),
                    "unexpected close: {:?} reason {:?}",
                    c,
                    String::from_utf8_lossy(&c.reason)
                );
            }
        }
    }
}

/// Runs one fuzz input; panics when an invariant breaks.
pub fn run(data: &[u8]) {
    run_traced(data, |_, _| {});
}

/// [`run`], calling `trace` with the simulation after each operation.
pub fn run_traced(data: &[u8], mut trace: impl FnMut(&Sim, u8)) {
    let mut inp = Input { data, pos: 0 };
    let seed = u64::from(inp.u16());
    let flags = inp.u8().unwrap_or(0);
    let mut setup = Setup::fake(seed);
    if flags & 1 != 0 {
        setup.client.version = VERSION_2;
    }
    if flags & 2 != 0 {
        setup.server.versions = VersionList::new(&[VERSION_2, VERSION_1]).unwrap();
    }
    setup.server.validate_peer_address = flags & 4 != 0;
    if flags & 8 != 0 {
        setup.client.plpmtud_probe_interval = 100 * MS;
        setup.server.plpmtud_probe_interval = 100 * MS;
    }
    if flags & 16 != 0 {
        setup.client.keepalive_interval = 200 * MS;
        setup.client.transport_params.max_idle_timeout = 1000;
    }
    if flags & 64 != 0 {
        setup.client.max_segments = 8;
        setup.server.max_segments = 8;
    }
    if flags & 32 != 0 {
        setup.server.transport_params.initial_max_data = 4000;
        setup
            .server
            .transport_params
            .initial_max_stream_data_bidi_remote = 1000;
        setup.server.transport_params.initial_max_streams_bidi = 2;
    }
    let (a, b) = (inp.u8().unwrap_or(0), inp.u8().unwrap_or(0));
    setup.c2s = link(a, b);
    let (a, b) = (inp.u8().unwrap_or(0), inp.u8().unwrap_or(0));
    setup.s2c = link(a, b);
    if flags & 128 != 0 {
        setup.c2s.ce = 50_000;
        setup.s2c.bleach = true;
        setup.server.preferred_address = Some("10.0.0.2:4433".parse().unwrap());
    }
    // The seed's top bit: both sides ask for disable_1rtt_encryption. Unprotected packets
    // cannot tell corruption or forgery from the peer's frames, so the link does not corrupt
    // and nothing is injected then (the invariants assume an authenticated peer).
    let plain = seed & 0x8000 != 0;
    if plain {
        setup.client.transport_params.disable_1rtt_encryption = true;
        setup.server.transport_params.disable_1rtt_encryption = true;
        setup.c2s.corrupt = 0;
        setup.s2c.corrupt = 0;
    }
    // With Retry, a client whose port changed (NAT rebinding) or whose Initial with the token
    // came after a long outage holds a Retry token the server must refuse: INVALID_TOKEN
    // (RFC 9000 §8.1.3, §8.1.4) is then a correct outcome.
    let retry = setup.server.validate_peer_address;
    let mut invalid_token_ok = false;
    let mut sim = Sim::new(setup);
    let mut port = 50000u16;
    for _ in 0..32 {
        let Some(op) = inp.u8() else { break };
        let server = op & 0x80 != 0;
        match op & 0x0f {
            0 => sim.run_for((u64::from(inp.u8().unwrap_or(0) & 0x3f) + 1) * 2 * MS),
            1 | 2 => {
                let len = usize::from(inp.u16() % 3000);
                let fin = op & 0x40 != 0;
                let dir = if op & 0x20 != 0 { Dir::Uni } else { Dir::Bidi };
                let sel = inp.u8().unwrap_or(0);
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                let Some(c) = h.conn.as_mut() else { continue };
                let id = if op & 0x0f == 1 {
                    c.stream_open(dir).ok()
                } else {
                    pick_stream(h, sel)
                };
                if let Some(id) = id {
                    let off = h.sent.get(&id.raw()).map_or(0, |v| v.len()) + usize::from(sel);
                    let body: Vec<u8> = (0..len)
                        .map(|i| (id.raw() as usize * 13 + off + i) as u8)
                        .collect();
                    h.send(id, &body, fin);
                }
            }
            3 | 4 => {
                let sel = inp.u8().unwrap_or(0);
                let code = u64::from(inp.u8().unwrap_or(0));
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                if let Some(id) = pick_stream(h, sel) {
                    let c = h.conn.as_mut().unwrap();
                    let _ = if op & 0x0f == 3 {
                        c.stream_reset(id, code)
                    } else {
                        c.stream_stop_sending(id, code)
                    };
                }
            }
            5 => {
                let len = usize::from(inp.u16() % 1400);
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                if let Some(c) = h.conn.as_mut() {
                    let _ = c.datagram_send(&vec![0xd5; len]);
                }
            }
            6 => {
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                if let Some(c) = h.conn.as_mut() {
                    let _ = c.key_update();
                }
            }
            7 => {
                port = port.wrapping_add(1).max(50001);
                let addr = SocketAddr::new(CLIENT_ADDR.ip(), port);
                if let Some(c) = sim.client.conn.as_mut() {
                    let _ = c.migrate(addr);
                }
            }
            8 => {
                let code = u64::from(inp.u8().unwrap_or(0));
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                if let Some(c) = h.conn.as_mut() {
                    c.close(true, code, 0, b"fuzz");
                }
            }
            9 => {
                let len = usize::from(inp.u8().unwrap_or(0)) * 6;
                let bytes = inp.bytes(len).to_vec();
                if !plain {
                    sim.inject(server, bytes);
                }
            }
            10 => {
                sim.c2s.params.down = !sim.c2s.params.down;
                sim.s2c.params.down = sim.c2s.params.down;
                invalid_token_ok |= retry;
            }
            11 => {
                invalid_token_ok |= retry;
                port = port.wrapping_add(1).max(50001);
                sim.nat = Some((CLIENT_ADDR, SocketAddr::new(CLIENT_ADDR.ip(), port)));
            }
            12 => {
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                h.auto_read = !h.auto_read;
            }
            13 => sim.run_for(300 * MS),
            14 => {
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                let active = u64::from(inp.u8().unwrap_or(0) % 8);
                let prior = u64::from(inp.u8().unwrap_or(0) % 8);
                if let Some(c) = h.conn.as_mut() {
                    let _ = c.set_connection_id(op & 0x40 != 0, active, prior);
                }
            }
            _ => {
                let h = if server {
                    &mut sim.server
                } else {
                    &mut sim.client
                };
                if op & 0x40 != 0 {
                    h.tls_paused = !h.tls_paused;
                } else if op & 0x20 != 0 {
                    h.defer_complete = !h.defer_complete;
                } else {
                    sim.step();
                }
            }
        }
        trace(&sim, op);
        check(&sim, invalid_token_ok);
    }
    sim.c2s.params.down = false;
    sim.s2c.params.down = false;
    for h in [&mut sim.client, &mut sim.server] {
        h.auto_read = true;
        h.tls_paused = false;
        h.defer_complete = false;
    }
    sim.run_for(1_000 * MS);
    check(&sim, invalid_token_ok);
}
