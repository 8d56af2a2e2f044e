//! A fake TLS 1.3 handshake for fuzzing: the same message flow over the same levels as the
//! real one (ClientHello and ServerHello in Initial, EncryptedExtensions and Finished in
//! Handshake, the client's Finished last), carrying the transport parameters, with secrets
//! derived from the two randoms by a public mixing function. Cheap and deterministic; no
//! security whatsoever.

use std::collections::VecDeque;

use quic_proto::conn::Level;

use crate::handshaker::{Handshaker, SecretOut};

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const FINISHED: u8 = 20;
/// `TLS_CIPHER_AES_GCM_128`.
const CIPHER: u32 = 51;
const ALERT_UNEXPECTED_MESSAGE: u8 = 10;
const ALERT_DECRYPT_ERROR: u8 = 51;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    ClientWaitServerHello,
    ClientWaitFinished,
    ServerWaitClientHello,
    ServerWaitFinished,
    Done,
    Failed,
}

/// One side of the fake handshake.
#[derive(Debug)]
pub struct FakeTls {
    client: bool,
    state: State,
    local_tp: Vec<u8>,
    peer_tp: Option<Vec<u8>>,
    my_random: [u8; 16],
    client_random: [u8; 16],
    server_random: [u8; 16],
    inbuf: [Vec<u8>; 4],
    secrets: VecDeque<SecretOut>,
    output: VecDeque<(Level, Vec<u8>)>,
}

fn message(ty: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    let mut m = vec![ty, (n >> 16) as u8, (n >> 8) as u8, n as u8];
    m.extend_from_slice(body);
    m
}

/// The secret with `label` for these randoms.
fn derive(label: u8, cr: &[u8; 16], sr: &[u8; 16]) -> Vec<u8> {
    (0..32usize)
        .map(|i| {
            cr[i % 16] ^ sr[(i * 7) % 16].rotate_left(3) ^ label.wrapping_mul(i as u8 + 1) ^ 0x5a
        })
        .collect()
}

fn finished(client: bool, cr: &[u8; 16], sr: &[u8; 16]) -> Vec<u8> {
    derive(if client { 9 } else { 10 }, cr, sr)[..16].to_vec()
}

impl FakeTls {
    /// A handshake for the client or the server, sending transport parameters `tp`; `seed`
    /// makes the random.
    pub fn new(client: bool, tp: &[u8], seed: u64) -> Self {
        let mut my_random = [0u8; 16];
        for (i, b) in my_random.iter_mut().enumerate() {
            *b = (seed.rotate_left(i as u32 * 5) as u8) ^ (i as u8).wrapping_mul(37);
        }
        let mut s = Self {
            client,
            state: if client {
                State::ClientWaitServerHello
            } else {
                State::ServerWaitClientHello
            },
            local_tp: tp.to_vec(),
            peer_tp: None,
            my_random,
            client_random: [0; 16],
            server_random: [0; 16],
            inbuf: Default::default(),
            secrets: VecDeque::new(),
            output: VecDeque::new(),
        };
        if client {
            s.client_random = my_random;
            let mut body = my_random.to_vec();
            body.extend_from_slice(tp);
            s.output
                .push_back((Level::Initial, message(CLIENT_HELLO, &body)));
        }
        s
    }

    fn secret(&mut self, level: Level, send: bool, label: u8) {
        self.secrets.push_back(SecretOut {
            level,
            send,
            cipher: CIPHER,
            secret: derive(label, &self.client_random, &self.server_random),
        });
    }

    /// Labels: 1 client handshake, 2 server handshake, 3 client 1-RTT, 4 server 1-RTT.
    fn handshake_secrets(&mut self) {
        let c = self.client;
        self.secret(Level::Handshake, true, if c { 1 } else { 2 });
        self.secret(Level::Handshake, false, if c { 2 } else { 1 });
    }

    fn app_secrets(&mut self) {
        let c = self.client;
        self.secret(Level::App, true, if c { 3 } else { 4 });
        self.secret(Level::App, false, if c { 4 } else { 3 });
    }

    fn on_message(&mut self, level: Level, ty: u8, body: &[u8]) -> Result<(), u8> {
        match (self.state, level, ty) {
            (State::ServerWaitClientHello, Level::Initial, CLIENT_HELLO) => {
                let r = body.get(..16).ok_or(ALERT_UNEXPECTED_MESSAGE)?;
                self.client_random.copy_from_slice(r);
                self.server_random = self.my_random;
                self.peer_tp = Some(body[16..].to_vec());
                self.output.push_back((
                    Level::Initial,
                    message(SERVER_HELLO, &self.server_random.clone()),
                ));
                self.handshake_secrets();
                self.app_secrets();
                let mut flight = message(ENCRYPTED_EXTENSIONS, &self.local_tp.clone());
                flight.extend_from_slice(&message(
                    FINISHED,
                    &finished(false, &self.client_random, &self.server_random),
                ));
                self.output.push_back((Level::Handshake, flight));
                self.state = State::ServerWaitFinished;
            }
            (State::ClientWaitServerHello, Level::Initial, SERVER_HELLO) => {
                let r = body.get(..16).ok_or(ALERT_UNEXPECTED_MESSAGE)?;
                self.server_random.copy_from_slice(r);
                self.handshake_secrets();
                self.state = State::ClientWaitFinished;
            }
            (State::ClientWaitFinished, Level::Handshake, ENCRYPTED_EXTENSIONS) => {
                self.peer_tp = Some(body.to_vec());
            }
            (State::ClientWaitFinished, Level::Handshake, FINISHED) => {
                if body != finished(false, &self.client_random, &self.server_random) {
                    return Err(ALERT_DECRYPT_ERROR);
                }
                if self.peer_tp.is_none() {
                    return Err(ALERT_UNEXPECTED_MESSAGE);
                }
                self.app_secrets();
                let fin = finished(true, &self.client_random, &self.server_random);
                self.output
                    .push_back((Level::Handshake, message(FINISHED, &fin)));
                self.state = State::Done;
            }
            (State::ServerWaitFinished, Level::Handshake, FINISHED) => {
                if body != finished(true, &self.client_random, &self.server_random) {
                    return Err(ALERT_DECRYPT_ERROR);
                }
                self.state = State::Done;
            }
            _ => return Err(ALERT_UNEXPECTED_MESSAGE),
        }
        Ok(())
    }
}

impl Handshaker for FakeTls {
    fn feed(&mut self, level: Level, data: &[u8]) -> Result<(), u8> {
        if self.state == State::Failed {
            return Err(ALERT_UNEXPECTED_MESSAGE);
        }
        let buf = &mut self.inbuf[level.abi() as usize];
        buf.extend_from_slice(data);
        loop {
            let buf = &self.inbuf[level.abi() as usize];
            if buf.len() < 4 {
                return Ok(());
            }
            let n = (usize::from(buf[1]) << 16) | (usize::from(buf[2]) << 8) | usize::from(buf[3]);
            if buf.len() < 4 + n {
                return Ok(());
            }
            let ty = buf[0];
            let body = buf[4..4 + n].to_vec();
            self.inbuf[level.abi() as usize].drain(..4 + n);
            if let Err(a) = self.on_message(level, ty, &body) {
                self.state = State::Failed;
                return Err(a);
            }
        }
    }

    fn poll_secret(&mut self) -> Option<SecretOut> {
        self.secrets.pop_front()
    }

    fn poll_output(&mut self) -> Option<(Level, Vec<u8>)> {
        self.output.pop_front()
    }

    fn is_handshaking(&self) -> bool {
        self.state != State::Done
    }

    fn failed(&self) -> bool {
        self.state == State::Failed
    }

    fn peer_transport_params(&self) -> Option<Vec<u8>> {
        self.peer_tp.clone()
    }

    fn app_secret(&self, client_side: bool) -> Option<Vec<u8>> {
        (self.state == State::Done || self.state == State::ServerWaitFinished).then(|| {
            derive(
                if client_side { 3 } else { 4 },
                &self.client_random,
                &self.server_random,
            )
        })
    }
}
