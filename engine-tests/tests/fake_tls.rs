//! The fake handshake drives the engine like the real one (it backs the fuzz target).

use quic_proto::stream::Dir;
use quic_sim::{LinkParams, Setup, Sim};

const S: u64 = 1_000_000;

#[test]
fn fake_handshake_and_data() {
    for seed in 0..10 {
        let mut setup = Setup::fake(seed);
        setup.c2s = LinkParams {
            loss: 100_000,
            jitter: 5_000,
            ..LinkParams::default()
        };
        setup.s2c = setup.c2s.clone();
        let mut sim = Sim::new(setup);
        assert!(sim.handshake(30 * S), "seed {seed}");
        let id = sim.client.conn_mut().stream_open(Dir::Bidi).unwrap();
        sim.client.send(id, &[7u8; 50_000], true);
        let until = sim.now + 60 * S;
        assert!(sim.run_until(until, |s| s.server.fins.contains(&id.raw())));
        assert_eq!(sim.server.received[&id.raw()], vec![7u8; 50_000]);
    }
}

#[test]
fn connection_is_small_enough_to_build_on_a_kernel_stack() {
    let n = std::mem::size_of::<quic_proto::conn::Connection<quic_hostcrypto::HostCrypto>>();
    println!("Connection<HostCrypto>: {n} bytes");
    // The kernel builds it on a 16 KiB stack before boxing it.
    assert!(n < 4 * 1024, "{n}");
}
