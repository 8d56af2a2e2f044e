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
