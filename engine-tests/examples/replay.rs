//! Replays conn_pair fuzz inputs given as file paths.
fn main() {
    for p in std::env::args().skip(1) {
        let data = std::fs::read(&p).expect("input");
        println!("{p}");
        quic_sim::fuzz::run(&data);
    }
}
