//! UDP impairment relay on loopback. See `quic_interop::relay`.
//!
//! ```text
//! kquic-relay --server 127.0.0.1:4433 [--listen 127.0.0.1:4434] [--seed N]
//!             [--drop PERMILLE] [--drop-handshake-only] [--reorder PERMILLE]
//!             [--reorder-delay-ms MS] [--dup PERMILLE] [--corrupt PERMILLE] [--delay-ms MS]
//!             [--rebind-after PACKETS] [--rebind-every PACKETS] [--seconds S]
//! ```
//! Impairments apply to both directions. Prints counters every second and at exit.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use quic_interop::relay::{Impairment, Relay, RelayConfig};

fn usage() -> ExitCode {
    eprintln!(
        "usage: kquic-relay --server ADDR [--listen ADDR] [--seed N] [--drop PERMILLE] \
         [--drop-handshake-only] [--reorder PERMILLE] [--reorder-delay-ms MS] [--dup PERMILLE] \
         [--corrupt PERMILLE] [--delay-ms MS] [--rebind-after N] [--rebind-every N] [--seconds S]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut server = None;
    let mut listen = None;
    let mut imp = Impairment::NONE;
    let mut seed = 1u64;
    let mut rebind_after = None;
    let mut rebind_every = 0;
    let mut seconds = 3600u64;
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--drop-handshake-only" {
            imp.drop_handshake_only = true;
            i += 1;
            continue;
        }
        let Some(v) = args.get(i + 1) else {
            return usage();
        };
        let num = || v.parse::<u64>().ok();
        let ok = match flag {
            "--server" => v.parse().map(|a| server = Some(a)).is_ok(),
            "--listen" => v.parse().map(|a| listen = Some(a)).is_ok(),
            "--seed" => num().map(|n| seed = n).is_some(),
            "--drop" => num().map(|n| imp.drop_permille = n as u32).is_some(),
            "--reorder" => num().map(|n| imp.reorder_permille = n as u32).is_some(),
            "--reorder-delay-ms" => num()
                .map(|n| imp.reorder_delay = Duration::from_millis(n))
                .is_some(),
            "--dup" => num().map(|n| imp.duplicate_permille = n as u32).is_some(),
            "--corrupt" => num().map(|n| imp.corrupt_permille = n as u32).is_some(),
            "--delay-ms" => num()
                .map(|n| imp.delay = Duration::from_millis(n))
                .is_some(),
            "--rebind-after" => num().map(|n| rebind_after = Some(n)).is_some(),
            "--rebind-every" => num().map(|n| rebind_every = n).is_some(),
            "--seconds" => num().map(|n| seconds = n).is_some(),
            _ => false,
        };
        if !ok {
            return usage();
        }
        i += 2;
    }
    let Some(server) = server else {
        return usage();
    };
    let mut cfg = RelayConfig::new(server).both(imp);
    if let Some(l) = listen {
        cfg.listen = l;
    }
    cfg.seed = seed;
    cfg.rebind_after = rebind_after;
    cfg.rebind_every = rebind_every;
    let relay = match Relay::start(cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kquic-relay: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("kquic-relay listening on {} -> {server}", relay.addr());
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_secs(1).min(end - Instant::now()));
        let s = relay.stats();
        println!(
            "to server: {} | to client: {} | rebinds {}",
            s.to_server.snapshot(),
            s.to_client.snapshot(),
            s.rebinds.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    ExitCode::SUCCESS
}
