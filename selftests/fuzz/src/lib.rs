//! Shared parts of kquic's in-guest robustness tools (`quic_sockfuzz`, `quic_hostile`): a seeded
//! PRNG, the test certificate and TLS configurations, connected kernel socket pairs handshaken
//! with libquic, and the kernel-log check.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use quic::ksock::{client_handshake, server_handshake, SockType, Socket};
use quic::tls::TlsConfig;
use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub mod packet;

/// ALPN of every test connection.
pub const ALPN: &str = "kquic-fuzz";
/// Server name in the test certificate.
pub const SERVER_NAME: &str = "kquic.test";

/// A small, fast, seedable PRNG (splitmix64): the same seed gives the same sequence everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// `true` with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(len);
        v
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }
}

/// The client and server TLS configurations of the test certificate.
pub struct Tls {
    /// Trusts exactly the test certificate.
    pub client: TlsConfig,
    /// Presents the test certificate.
    pub server: TlsConfig,
    /// The certificate, DER.
    pub cert: CertificateDer<'static>,
}

/// A fresh self-signed certificate for [`SERVER_NAME`] with `extra_names` more subject
/// alternative names (which make the server's first flight larger), and both configurations.
pub fn tls_configs(extra_names: usize) -> Result<Tls, String> {
    let key = KeyPair::generate().map_err(|e| format!("key generation: {e}"))?;
    let mut names = vec![SERVER_NAME.to_string(), "localhost".to_string()];
    names.extend((0..extra_names).map(|i| format!("padding-name-{i:05}.kquic.test")));
    let params =
        CertificateParams::new(names).map_err(|e| format!("certificate parameters: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("self-signing: {e}"))?;
    let der = CertificateDer::from(cert.der().to_vec());
    let server = TlsConfig::server()
        .cert_der(vec![der.clone()])
        .key_der(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )))
        .alpn(ALPN)
        .build()
        .map_err(|e| format!("server TLS config: {e}"))?;
    let client = TlsConfig::client()
        .ca_der(der.clone())
        .server_name(SERVER_NAME)
        .alpn(ALPN)
        .build()
        .map_err(|e| format!("client TLS config: {e}"))?;
    Ok(Tls {
        client,
        server,
        cert: der,
    })
}

/// The loopback address of a family, port 0.
pub fn loopback(v6: bool) -> SocketAddr {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    SocketAddr::new(ip, 0)
}

/// A QUIC socket for `addr`'s family with both timeouts and the test ALPN set.
pub fn new_socket(addr: &SocketAddr, ty: SockType, timeout: Duration) -> Result<Socket, String> {
    let s = Socket::for_addr(addr, ty).map_err(|e| format!("socket(IPPROTO_QUIC): {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
    s.set_alpn(ALPN)
        .map_err(|e| format!("QUIC_SOCKOPT_ALPN: {e}"))?;
    Ok(s)
}

/// A handshaken connection between two kernel sockets over loopback, and its listener.
pub struct Pair {
    /// The listener the server end was accepted from.
    pub listener: Socket,
    /// Its address.
    pub listen_addr: SocketAddr,
    /// The client end.
    pub client: Socket,
    /// The server end (from `accept()`).
    pub server: Socket,
}

/// Makes a [`Pair`]: listener on an ephemeral loopback port, accept and server handshake in a
/// thread, connect and client handshake here; every wait bounded by `timeout`.
pub fn connected_pair(
    tls: &Arc<Tls>,
    v6: bool,
    ty: SockType,
    timeout: Duration,
) -> Result<Pair, String> {
    let l = new_socket(&loopback(v6), ty, timeout)?;
    l.bind(&loopback(v6)).map_err(|e| format!("bind: {e}"))?;
    l.listen(8).map_err(|e| format!("listen: {e}"))?;
    let addr = l.local_addr().map_err(|e| format!("getsockname: {e}"))?;
    let l = Arc::new(l);
    let (stls, sl) = (tls.clone(), l.clone());
    let h = thread::spawn(move || -> Result<Socket, String> {
        let (s, _) = sl.accept().map_err(|e| format!("accept: {e}"))?;
        s.set_read_timeout(Some(timeout))
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        s.set_write_timeout(Some(timeout))
            .map_err(|e| format!("SO_SNDTIMEO: {e}"))?;
        server_handshake(&s, &stls.server).map_err(|e| format!("server handshake: {e}"))?;
        Ok(s)
    });
    let c = new_socket(&addr, ty, timeout)?;
    let cr = c
        .connect(&addr)
        .map_err(|e| format!("connect: {e}"))
        .and_then(|()| {
            client_handshake(&c, &tls.client, None)
                .map(|_| ())
                .map_err(|e| format!("client handshake: {e}"))
        });
    let sr = h
        .join()
        .unwrap_or_else(|_| Err("server thread panicked".to_string()));
    cr?;
    let server = sr?;
    let listener = Arc::try_unwrap(l).map_err(|_| "listener still shared".to_string())?;
    Ok(Pair {
        listener,
        listen_addr: addr,
        client: c,
        server,
    })
}

/// Lines of a kernel log that report a problem: oops, BUG, WARNING, KASAN, UBSAN, lockdep,
/// RCU, KFENCE, kmemleak, hung tasks.
pub fn bad_kernel_lines(log: &str) -> Vec<&str> {
    const PATTERNS: &[&str] = &[
        "BUG:",
        "WARNING:",
        "Oops",
        "KASAN",
        "UBSAN",
        "KFENCE",
        "kmemleak",
        "possible recursive locking",
        "circular locking",
        "suspicious RCU",
        "inconsistent lock state",
        "blocked for more than",
        "general protection fault",
        "Kernel panic",
        "refcount_t:",
    ];
    log.lines()
        .filter(|l| PATTERNS.iter().any(|p| l.contains(p)))
        .collect()
}

/// `len` bytes of a deterministic pattern named by `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    Rng::new(seed).bytes(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_spread() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..100).map(|_| r.next_u64()).collect()
        };
        let mut r = Rng::new(42);
        let b: Vec<u64> = (0..100).map(|_| r.next_u64()).collect();
        assert_eq!(a, b);
        let mut other = Rng::new(43);
        assert_ne!(a[0], other.next_u64());
        // below() covers its whole range and stays inside it.
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = r.below(7) as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn bytes_and_fill_agree_in_length() {
        let mut r = Rng::new(1);
        for len in [0, 1, 7, 8, 9, 100] {
            assert_eq!(r.bytes(len).len(), len);
            let mut buf = vec![0u8; len];
            r.fill(&mut buf);
        }
        assert_eq!(pattern(5, 33), pattern(5, 33));
        assert_ne!(pattern(5, 33), pattern(6, 33));
    }

    #[test]
    fn kernel_log_filter() {
        let log = "[    1.0] quic: loaded\n[  2.0] BUG: KASAN: use-after-free in x\n\
                   [ 3.0] WARNING: CPU: 0 PID: 1 at net/quic\n[ 4.0] ok\n\
                   [ 5.0] kmemleak: 2 new suspected memory leaks\n";
        let bad = bad_kernel_lines(log);
        assert_eq!(bad.len(), 3);
        assert!(bad[0].contains("use-after-free"));
        assert!(bad_kernel_lines("all fine\n").is_empty());
    }

    #[test]
    fn certificate_grows_with_extra_names() {
        let small = tls_configs(0).expect("tls");
        let big = tls_configs(200).expect("tls");
        assert!(big.cert.len() > small.cert.len() + 4000);
    }
}
