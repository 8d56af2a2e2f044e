//! Two engine connections (client and server, each with its rustls session) wired memory to
//! memory on one thread: no sockets, no endpoint. Used by the benchmark and by tests that check
//! the peer logic without the network. The clock is real (microseconds since the pair was
//! made), so what is measured is CPU time on one core.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use quic::tls::{TlsConfig, TlsSession};
use quic_hostcrypto::OsRng;
use quic_proto::conn::{Accepted, Config, Connection};
use quic_proto::crypto::Crypto;
use quic_proto::recovery::ecn::EcnCodepoint;

use crate::peer::{micros, random_cid, tls_version, TlsDriver, MAX_UDP};

/// One end of a [`Pair`].
#[derive(Debug)]
pub struct End<C: Crypto> {
    /// The engine connection.
    pub conn: Connection<C>,
    /// Its TLS session driver.
    pub tls: TlsDriver,
    /// Its address.
    pub addr: SocketAddr,
}

/// Decides whether a datagram is lost: `(to_server, datagram) -> drop`.
pub type LossFilter = Box<dyn FnMut(bool, &[u8]) -> bool>;

/// A client and a server connected through in-memory queues.
pub struct Pair<C: Crypto> {
    /// The client.
    pub client: End<C>,
    /// The server.
    pub server: End<C>,
    epoch: Instant,
    to_server: VecDeque<Vec<u8>>,
    to_client: VecDeque<Vec<u8>>,
    buf: Vec<u8>,
    /// Datagrams moved so far (both ways).
    pub datagrams: u64,
    /// Drops the datagrams it returns true for (none by default).
    pub loss: Option<LossFilter>,
}

impl<C: Crypto> std::fmt::Debug for Pair<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("client", &self.client.conn)
            .field("server", &self.server.conn)
            .field("datagrams", &self.datagrams)
            .finish_non_exhaustive()
    }
}

impl<C: Crypto + Clone> Pair<C> {
    /// Makes both connections with `crypto`; the server's first Initial is accepted directly
    /// (what the endpoint helper would decide for a valid Initial).
    pub fn new(
        crypto: C,
        engine: &Config,
        client_tls: &TlsConfig,
        server_tls: &TlsConfig,
    ) -> Result<Self, String> {
        let epoch = Instant::now();
        let caddr: SocketAddr = "127.0.0.1:40001".parse().expect("literal");
        let saddr: SocketAddr = "127.0.0.1:40002".parse().expect("literal");
        let client_scid = random_cid(engine.cid_len);
        let dcid = random_cid(8);
        let cconn = Connection::client(
            crypto.clone(),
            engine,
            client_scid,
            dcid,
            caddr,
            saddr,
            0,
            &mut OsRng,
        )
        .map_err(|e| format!("client: {e:?}"))?;
        let mut tp = [0u8; 1024];
        let n = cconn
            .local_transport_params_ext(&mut tp)
            .map_err(|e| format!("{e:?}"))?;
        let ctls = TlsSession::new_client(
            client_tls,
            tls_version(engine.version),
            &tp[..n],
            "localhost",
        )
        .map_err(|e| format!("client TLS: {e}"))?;
        let mut client = End {
            conn: cconn,
            tls: TlsDriver::new(ctls),
            addr: caddr,
        };
        client.tls.pump(&mut client.conn)?;
        let mut buf = vec![0u8; MAX_UDP];
        let mut first = Vec::new();
        while let Some(t) = client.conn.poll_transmit(0, &mut buf) {
            first.push(buf[..t.len].to_vec());
        }
        let accepted = Accepted {
            version: engine.version,
            initial_dcid: dcid,
            original_dcid: dcid,
            retry_scid: None,
            client_scid,
            address_validated: true,
        };
        let mut sconn = Connection::server(
            crypto,
            engine,
            &accepted,
            random_cid(engine.cid_len),
            saddr,
            caddr,
            0,
            &mut OsRng,
        )
        .map_err(|e| format!("server: {e:?}"))?;
        for mut d in first {
            sconn.recv_datagram(0, caddr, saddr, &mut d, EcnCodepoint::NotEct);
        }
        let n = sconn
            .local_transport_params_ext(&mut tp)
            .map_err(|e| format!("{e:?}"))?;
        let stls = TlsSession::new(server_tls, tls_version(sconn.version()), &tp[..n])
            .map_err(|e| format!("server TLS: {e}"))?;
        let mut server = End {
            conn: sconn,
            tls: TlsDriver::new(stls),
            addr: saddr,
        };
        server.tls.pump(&mut server.conn)?;
        Ok(Self {
            client,
            server,
            epoch,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            buf,
            datagrams: 0,
            loss: None,
        })
    }
}

impl<C: Crypto> Pair<C> {
    /// The pair's clock.
    pub fn now(&self) -> u64 {
        micros(self.epoch)
    }

    /// One round: timers, TLS, transmit both ways, deliver. Returns the datagrams moved.
    pub fn step(&mut self) -> Result<usize, String> {
        let now = self.now();
        let mut moved = 0;
        for (to_server, end, queue) in [
            (true, &mut self.client, &mut self.to_server),
            (false, &mut self.server, &mut self.to_client),
        ] {
            if end.conn.poll_timeout().is_some_and(|t| t <= now) {
                end.conn.on_timeout(now);
            }
            end.tls.pump(&mut end.conn)?;
            for _ in 0..1024 {
                let Some(t) = end.conn.poll_transmit(now, &mut self.buf) else {
                    break;
                };
                let seg = t.segment_size.unwrap_or(t.len).max(1);
                for c in self.buf[..t.len].chunks(seg) {
                    if let Some(f) = self.loss.as_mut() {
                        if f(to_server, c) {
                            continue;
                        }
                    }
                    queue.push_back(c.to_vec());
                }
            }
        }
        let now = self.now();
        while let Some(mut d) = self.to_server.pop_front() {
            self.server.conn.recv_datagram(
                now,
                self.client.addr,
                self.server.addr,
                &mut d,
                EcnCodepoint::NotEct,
            );
            moved += 1;
        }
        while let Some(mut d) = self.to_client.pop_front() {
            self.client.conn.recv_datagram(
                now,
                self.server.addr,
                self.client.addr,
                &mut d,
                EcnCodepoint::NotEct,
            );
            moved += 1;
        }
        self.client.tls.pump(&mut self.client.conn)?;
        self.server.tls.pump(&mut self.server.conn)?;
        self.datagrams += moved as u64;
        Ok(moved)
    }

    /// Steps until both ends completed the handshake and the client confirmed it.
    pub fn handshake(&mut self, max_steps: usize) -> Result<(), String> {
        for _ in 0..max_steps {
            if self.client.tls.complete()
                && self.server.tls.complete()
                && self.client.conn.is_handshake_confirmed()
            {
                return Ok(());
            }
            if self.client.conn.is_closed() || self.server.conn.is_closed() {
                return Err(format!(
                    "closed during the handshake: client {:?}, server {:?}",
                    self.client.conn.close_info(),
                    self.server.conn.close_info()
                ));
            }
            if self.step()? == 0 {
                self.idle();
            }
        }
        Err("handshake did not finish".into())
    }

    /// Nothing moved: wait for the earliest timer (spinning: it is at most a few ms away).
    pub fn idle(&mut self) {
        let wake = [
            self.client.conn.poll_timeout(),
            self.server.conn.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(t) = wake {
            let now = self.now();
            if t > now {
                std::thread::sleep(std::time::Duration::from_micros((t - now).min(1000)));
            }
        }
    }
}
