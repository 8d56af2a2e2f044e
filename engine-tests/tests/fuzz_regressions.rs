//! Every input the `conn_pair` fuzz target ever tripped on (and its seeds) runs clean.

#[test]
fn conn_pair_seeds_and_findings() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/fuzz/seeds/conn_pair");
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("seed directory") {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        println!("{}", path.display());
        quic_sim::fuzz::run(&data);
        n += 1;
    }
    assert!(n >= 5);
}

/// The seeds whose seed word has its top bit set run with disable_1rtt_encryption on both
/// sides, and it is negotiated once they connect.
#[test]
fn plaintext_seeds_negotiate_disable_1rtt_encryption() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/fuzz/seeds/conn_pair");
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("seed directory") {
        let path = e.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("plaintext_")
        {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let mut plain = false;
        quic_sim::fuzz::run_traced(&data, |sim, _| {
            plain |= sim
                .client
                .conn
                .as_ref()
                .is_some_and(|c| c.is_1rtt_unprotected());
        });
        assert!(plain, "{}: never negotiated", path.display());
        n += 1;
    }
    assert!(n >= 2);
}
