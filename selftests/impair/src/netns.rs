//! Network namespaces for the tests: a client namespace and a server namespace joined by a veth
//! pair (`kqc0` 192.0.2.1/24 and `kqs0` 192.0.2.2/24, TEST-NET-1: nothing outside the pair is
//! ever addressed), impairments on either device's egress, and canary links that show when a
//! deleted namespace is really dismantled. Everything is done with iproute2's `ip` and `tc`.
//!
//! A socket belongs to the namespace of the thread that creates it: [`enter`] moves the calling
//! thread (only) into a namespace.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::process::Command;

use crate::{Context, TResult};

/// The client end's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The server end's address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The address the client moves to in the address-change cases.
pub const CLIENT_IP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// The client namespace's veth device.
pub const CLIENT_DEV: &str = "kqc0";
/// The server namespace's veth device.
pub const SERVER_DEV: &str = "kqs0";

/// Runs a command; an error carries its exit status and standard error.
pub fn run(cmd: &str, args: &[&str]) -> TResult {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .ctx(&format!("running {cmd}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{cmd} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `ip ARGS`.
pub fn ip(args: &[&str]) -> TResult {
    run("ip", args)
}

/// `tc ARGS` in namespace `ns`.
pub fn tc(ns: &str, args: &[&str]) -> TResult {
    let mut a = vec!["netns", "exec", ns, "tc"];
    a.extend_from_slice(args);
    run("ip", &a)
}

/// Moves the calling thread into the named namespace (`/run/netns/NAME`): sockets it creates
/// from now on belong there. Threads it spawns inherit it.
pub fn enter(name: &str) -> TResult {
    let path = format!("/run/netns/{name}");
    let f = File::open(&path).ctx(&path)?;
    // SAFETY: plain system call on a descriptor we own for its duration.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r != 0 {
        return Err(format!(
            "setns({path}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Which end's egress an impairment applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Packets from the client to the server.
    Client,
    /// Packets from the server to the client.
    Server,
}

/// Two namespaces joined by a veth pair.
#[derive(Debug)]
pub struct Pair {
    /// The client's namespace.
    pub c: String,
    /// The server's namespace.
    pub s: String,
}

impl Pair {
    /// Makes `<prefix>c` and `<prefix>s` with the veth pair between them, addressed and up.
    pub fn create(prefix: &str) -> Result<Pair, String> {
        let p = Pair {
            c: format!("{prefix}c"),
            s: format!("{prefix}s"),
        };
        ip(&["netns", "add", &p.c])?;
        ip(&["netns", "add", &p.s])?;
        ip(&[
            "link", "add", CLIENT_DEV, "netns", &p.c, "type", "veth", "peer", "name", SERVER_DEV,
            "netns", &p.s,
        ])?;
        for (ns, dev, addr) in [(&p.c, CLIENT_DEV, CLIENT_IP), (&p.s, SERVER_DEV, SERVER_IP)] {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(p)
    }

    /// The namespace and device of one side.
    pub fn side(&self, side: Side) -> (&str, &str) {
        match side {
            Side::Client => (&self.c, CLIENT_DEV),
            Side::Server => (&self.s, SERVER_DEV),
        }
    }

    /// Impairs one side's egress: a TBF at the root, at `rate` (e.g. `16mbit`; `None`: 10gbit,
    /// no real limit) with a one-packet burst, and `netem` (e.g. `loss 5%`) below it.
    ///
    /// The TBF is there even without a rate: quic.ko sends runs of datagrams as one UDP GSO skb,
    /// which netem would drop, duplicate or delay as a whole; a TBF whose burst holds one packet
    /// cuts GSO skbs into their datagrams before its child qdisc sees them, so netem's
    /// percentages apply per datagram.
    pub fn impair(&self, side: Side, rate: Option<&str>, netem: Option<&str>) -> TResult {
        let (ns, dev) = self.side(side);
        let (rate, limit) = match rate {
            Some(r) => (r, "150000"),
            None => ("10gbit", "4000000"),
        };
        tc(
            ns,
            &[
                "qdisc", "replace", "dev", dev, "root", "handle", "1:", "tbf", "rate", rate,
                "burst", "1600", "limit", limit,
            ],
        )?;
        if let Some(n) = netem {
            let mut a = vec![
                "qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "netem",
            ];
            a.extend(n.split_whitespace());
            a.extend(["limit", "100000"]);
            tc(ns, &a)?;
        }
        Ok(())
    }

    /// The server's address with `port`.
    pub fn server_addr(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(SERVER_IP), port)
    }

    /// Deletes both namespaces (`ip netns del`: the names go at once, the namespaces once
    /// nothing uses them).
    pub fn delete(&self) -> TResult {
        let a = ip(&["netns", "del", &self.c]);
        let b = ip(&["netns", "del", &self.s]);
        a.and(b)
    }
}

/// Deletes every namespace whose name starts with `prefix` (a case's leftovers).
pub fn delete_with_prefix(prefix: &str) {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        if let Some(n) = e.file_name().to_str() {
            if n.starts_with(prefix) {
                let _ = ip(&["netns", "del", n]);
            }
        }
    }
}

/// A canary: a veth pair with `name` in this (the initial) namespace and its peer in `ns`.
/// When `ns` is dismantled its end goes, and with it `name` ([`link_exists`] turns false).
pub fn canary(ns: &str, name: &str) -> TResult {
    ip(&[
        "link", "add", name, "type", "veth", "peer", "name", "canary0", "netns", ns,
    ])
}

/// Whether a network device of this name exists in the calling thread's namespace.
pub fn link_exists(name: &str) -> bool {
    std::path::Path::new(&format!("/sys/class/net/{name}")).exists()
}
