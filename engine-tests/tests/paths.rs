//! Paths and congestion: client migration, NAT rebinding, DPLPMTUD, persistent congestion.

use std::net::SocketAddr;

use quic_proto::conn::Event;
use quic_proto::stream::{Dir, StreamId};
use quic_sim::{Setup, Sim, CLIENT_ADDR};

const S: u64 = 1_000_000;

fn transfer(sim: &mut Sim, len: usize, limit: u64) -> StreamId {
    let id = sim.client.conn_mut().stream_open(Dir::Uni).unwrap();
    let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    sim.client.send(id, &data, true);
    let until = sim.now + limit;
    let ok = sim.run_until(until, |s| s.server.fins.contains(&id.raw()));
    assert!(
        ok,
        "stalled: {:?} of {len}; client {:?}",
        sim.server.received.get(&id.raw()).map(|v| v.len()),
        sim.client.conn().stats()
    );
    assert_eq!(sim.server.received[&id.raw()], data);
    id
}

#[test]
fn client_migration_with_path_validation() {
    let mut sim = Sim::new(Setup::new(60));
    assert!(sim.handshake(5 * S));
    sim.run_for(S);
    let new: SocketAddr = "10.0.0.1:50001".parse().unwrap();
    let old_dcid = sim.client.conn().remote_cid();
    sim.client.conn_mut().migrate(new).unwrap();
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s
        .client
        .count(|e| *e == Event::Migration { local: true })
        == 1));
    assert_eq!(sim.client.conn().local_addr(), new);
    assert_ne!(
        sim.client.conn().remote_cid(),
        old_dcid,
        "a new connection ID on the new path"
    );
    transfer(&mut sim, 200_000, 20 * S);
    assert_eq!(sim.server.conn().peer_addr(), new);
    assert_eq!(
        sim.server
            .count(|e| *e == Event::Migration { local: false }),
        1
    );
    // The old connection ID was retired.
    assert!(
        sim.server
            .count(|e| matches!(e, Event::LocalCidRetired { .. }))
            >= 1
    );
}

#[test]
fn nat_rebinding_mid_transfer() {
    nat_rebinding_case(false, false);
}

/// disable_active_migration restricts the receiver of the parameter: the server still follows
/// a client (that sent it) through a NAT rebinding, and a client that rebinds although the
/// server sent it is followed after path validation too (RFC 9000 §9, §18.2).
#[test]
fn nat_rebinding_with_disable_active_migration() {
    nat_rebinding_case(true, false);
    nat_rebinding_case(false, true);
}

fn nat_rebinding_case(client_disables: bool, server_disables: bool) {
    let mut setup = Setup::new(61);
    setup.client.transport_params.disable_active_migration = client_disables;
    setup.server.transport_params.disable_active_migration = server_disables;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    let id = sim.client.conn_mut().stream_open(Dir::Uni).unwrap();
    let data: Vec<u8> = (0..2_000_000).map(|i| (i % 253) as u8).collect();
    sim.client.send(id, &data, true);
    sim.run_for(100_000);
    let public: SocketAddr = "10.0.0.1:61000".parse().unwrap();
    sim.nat = Some((CLIENT_ADDR, public));
    let until = sim.now + 30 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    assert_eq!(sim.server.received[&id.raw()], data);
    assert_eq!(sim.server.conn().peer_addr(), public);
    assert_eq!(
        sim.server
            .count(|e| *e == Event::Migration { local: false }),
        1
    );
    // The client did not move.
    assert_eq!(sim.client.conn().local_addr(), CLIENT_ADDR);
}

#[test]
fn plpmtud_raises_the_datagram_size() {
    let mut setup = Setup::new(62);
    setup.client.plpmtud_probe_interval = 500_000;
    setup.server.plpmtud_probe_interval = 500_000;
    setup.c2s.mtu = 1400;
    setup.s2c.mtu = 1400;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    sim.run_for(20 * S);
    let c = sim.client.conn().max_datagram_size();
    let s = sim.server.conn().max_datagram_size();
    assert!((1380..=1400).contains(&c), "client mds {c}");
    assert!((1380..=1400).contains(&s), "server mds {s}");
    // Larger packets really go through.
    transfer(&mut sim, 500_000, 20 * S);
}

#[test]
fn persistent_congestion_collapses_the_window() {
    let mut setup = Setup::new(63);
    setup.c2s.rate = 2_500_000;
    setup.s2c.rate = 2_500_000;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    let id = sim.client.conn_mut().stream_open(Dir::Uni).unwrap();
    let data: Vec<u8> = (0..3_000_000).map(|i| (i % 249) as u8).collect();
    sim.client.send(id, &data, true);
    sim.run_for(S);
    let before = sim.client.conn().stats().cwnd;
    sim.c2s.params.down = true;
    sim.s2c.params.down = true;
    sim.run_for(3 * S);
    sim.c2s.params.down = false;
    sim.s2c.params.down = false;
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.conn().stats().persistent_congestion > 0));
    // The window collapsed to the minimum, then grew again only by what that same ACK
    // acknowledged (RFC 9002 §7.6.2, Appendix B.8).
    let st = sim.client.conn().stats();
    assert!(st.cwnd < before, "cwnd {} before {}", st.cwnd, before);
    let until = sim.now + 60 * S;
    assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
    assert_eq!(sim.server.received[&id.raw()], data);
}

#[test]
fn ecn_marks_validate_and_ce_is_a_congestion_signal() {
    let mut setup = Setup::new(64);
    setup.c2s.ce = 20_000;
    setup.c2s.rate = 2_500_000;
    setup.s2c.rate = 2_500_000;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    transfer(&mut sim, 1_000_000, 30 * S);
    let st = sim.client.conn().stats();
    assert!(st.ecn_ce > 0, "{st:?}");
    assert_eq!(
        st.packets_lost, 0,
        "CE marks, not losses, slowed the sender"
    );
    assert!(st.ssthresh < u64::MAX);
    assert!(sim.c2s.ecn_marked > 500);
}

#[test]
fn ecn_stops_on_a_bleaching_path() {
    let mut setup = Setup::new(65);
    setup.c2s.bleach = true;
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    transfer(&mut sim, 300_000, 30 * S);
    let marked = sim.c2s.ecn_marked;
    transfer(&mut sim, 300_000, 30 * S);
    // Validation failed early: nothing more was marked.
    assert_eq!(sim.c2s.ecn_marked, marked);
    assert!(marked < 50, "{marked}");
}

#[test]
fn client_moves_to_the_servers_preferred_address() {
    let preferred: SocketAddr = "10.0.0.2:4433".parse().unwrap();
    let mut setup = Setup::new(66);
    setup.server.preferred_address = Some(preferred);
    let mut sim = Sim::new(setup);
    assert!(sim.handshake(5 * S));
    let tp = sim.client.conn().peer_transport_params().unwrap();
    assert!(tp.preferred_address.is_some());
    let until = sim.now + 5 * S;
    assert!(sim.run_until(until, |s| s.client.conn().peer_addr() == preferred));
    assert_eq!(
        sim.client.count(|e| *e == Event::Migration { local: true }),
        1
    );
    transfer(&mut sim, 200_000, 20 * S);
    assert_eq!(sim.server.conn().local_addr(), preferred);
}
