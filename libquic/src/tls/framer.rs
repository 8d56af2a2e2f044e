//! Checks that each received handshake message arrives at the encryption level it belongs to.
//!
//! rustls's `read_hs` does not know at which level its input arrived, so the adapter follows
//! the handshake message framing (1-byte type, 3-byte length) of each level's CRYPTO stream and
//! rejects messages at the wrong level (RFC 9001 section 4.1.3), CRYPTO data in 0-RTT packets
//! (RFC 9000 section 12.4) and TLS KeyUpdate (RFC 9001 section 6).

use super::config::Role;
use super::error::{TlsError, ALERT_UNEXPECTED_MESSAGE, PROTOCOL_VIOLATION};
use super::types::Level;

const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const NEW_SESSION_TICKET: u8 = 4;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const CERTIFICATE: u8 = 11;
const CERTIFICATE_REQUEST: u8 = 13;
const CERTIFICATE_VERIFY: u8 = 15;
const FINISHED: u8 = 20;
const COMPRESSED_CERTIFICATE: u8 = 25;

/// Handshake message types a peer may send us at `level`.
fn allowed(role: Role, level: Level) -> &'static [u8] {
    match (role, level) {
        (_, Level::Early) => &[],
        (Role::Client, Level::Initial) => &[SERVER_HELLO],
        (Role::Server, Level::Initial) => &[CLIENT_HELLO],
        (Role::Client, Level::Handshake) => &[
            ENCRYPTED_EXTENSIONS,
            CERTIFICATE,
            CERTIFICATE_REQUEST,
            CERTIFICATE_VERIFY,
            FINISHED,
            COMPRESSED_CERTIFICATE,
        ],
        (Role::Server, Level::Handshake) => &[
            CERTIFICATE,
            CERTIFICATE_VERIFY,
            FINISHED,
            COMPRESSED_CERTIFICATE,
        ],
        (Role::Client, Level::App) => &[NEW_SESSION_TICKET],
        (Role::Server, Level::App) => &[],
    }
}

/// Framing state of one level's CRYPTO stream.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MsgFramer {
    /// Header bytes of the message being started (type and 24-bit length).
    hdr: [u8; 4],
    hdr_len: usize,
    /// Body bytes of the current message still to come.
    remaining: usize,
}

impl MsgFramer {
    /// Follows `data`, the next bytes of the CRYPTO stream at `level`.
    pub(crate) fn check(&mut self, role: Role, level: Level, data: &[u8]) -> Result<(), TlsError> {
        if level == Level::Early && !data.is_empty() {
            return Err(TlsError::transport(
                PROTOCOL_VIOLATION,
                "CRYPTO data in 0-RTT packets",
            ));
        }
        let mut data = data;
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = self.remaining.min(data.len());
                self.remaining -= n;
                data = &data[n..];
                continue;
            }
            let n = (4 - self.hdr_len).min(data.len());
            self.hdr[self.hdr_len..self.hdr_len + n].copy_from_slice(&data[..n]);
            if self.hdr_len == 0 {
                check_type(role, level, self.hdr[0])?;
            }
            self.hdr_len += n;
            data = &data[n..];
            if self.hdr_len == 4 {
                self.remaining = usize::from(self.hdr[1]) << 16
                    | usize::from(self.hdr[2]) << 8
                    | usize::from(self.hdr[3]);
                self.hdr_len = 0;
            }
        }
        Ok(())
    }
}

fn check_type(role: Role, level: Level, typ: u8) -> Result<(), TlsError> {
    if allowed(role, level).contains(&typ) {
        return Ok(());
    }
    let elsewhere = [Level::Initial, Level::Handshake, Level::App]
        .into_iter()
        .any(|l| allowed(role, l).contains(&typ));
    if elsewhere {
        Err(TlsError::transport(
            PROTOCOL_VIOLATION,
            format!("handshake message type {typ} received at the wrong level {level:?}"),
        ))
    } else {
        Err(TlsError::alert(
            ALERT_UNEXPECTED_MESSAGE,
            format!("unexpected handshake message type {typ} at level {level:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_split_messages() {
        let mut f = MsgFramer::default();
        // EncryptedExtensions of 3 bytes then Certificate of 1 byte, fed one byte at a time.
        let stream = [8, 0, 0, 3, 9, 9, 9, 11, 0, 0, 1, 0];
        for b in stream {
            f.check(Role::Client, Level::Handshake, &[b]).unwrap();
        }
        // Header split inside the length, then a type that belongs to Initial.
        f.check(Role::Client, Level::Handshake, &[20, 0]).unwrap();
        f.check(Role::Client, Level::Handshake, &[0, 1, 5]).unwrap();
        let e = f.check(Role::Client, Level::Handshake, &[2]).unwrap_err();
        assert_eq!(e.error_code(), Some(PROTOCOL_VIOLATION));
    }

    #[test]
    fn rejects_wrong_levels() {
        let mut f = MsgFramer::default();
        let e = f.check(Role::Server, Level::Early, &[1]).unwrap_err();
        assert_eq!(e.error_code(), Some(PROTOCOL_VIOLATION));
        assert!(f.check(Role::Server, Level::Early, &[]).is_ok());
        let e = MsgFramer::default()
            .check(Role::Client, Level::Initial, &[8, 0, 0, 0])
            .unwrap_err();
        assert_eq!(e.error_code(), Some(PROTOCOL_VIOLATION));
        // KeyUpdate is forbidden in QUIC: unexpected_message.
        let e = MsgFramer::default()
            .check(Role::Client, Level::App, &[24, 0, 0, 1, 0])
            .unwrap_err();
        assert_eq!(e.error_code(), Some(0x10a));
        // A server never receives 1-RTT handshake messages: a ClientHello there is at the wrong
        // level, a NewSessionTicket is unexpected anywhere.
        let e = MsgFramer::default()
            .check(Role::Server, Level::App, &[1])
            .unwrap_err();
        assert_eq!(e.error_code(), Some(PROTOCOL_VIOLATION));
        let e = MsgFramer::default()
            .check(Role::Server, Level::App, &[4])
            .unwrap_err();
        assert_eq!(e.error_code(), Some(0x10a));
        // A 16 MiB length is only followed, never allocated.
        let mut f = MsgFramer::default();
        f.check(Role::Server, Level::Initial, &[1, 0xff, 0xff, 0xff])
            .unwrap();
        assert_eq!(f.remaining, 0xff_ffff);
    }
}
