//! Address validation tokens (RFC 9000 §8.1.2–8.1.4): Retry tokens and NEW_TOKEN tokens.
//!
//! A token is `nonce (12) | AEAD(plaintext) | tag (16)` under AES-128-GCM with a key derived
//! from the endpoint's token key, so that only this endpoint can read or forge it and the
//! client's address is not visible to observers. The plaintext holds the kind, the time it
//! was issued, the client's address (with port for Retry tokens, which are used at once; IP
//! only for NEW_TOKEN tokens, used on a later connection) and, for Retry, the original
//! Destination Connection ID and the Retry's Source Connection ID.

use core::net::{IpAddr, SocketAddr};

use crate::cid::{ConnectionId, MAX_CID_LEN};
use crate::codec::{Reader, Writer};
use crate::crypto::hkdf::expand_label;
use crate::crypto::zeroize::zeroize;
use crate::crypto::{AeadKey, CipherSuite, Crypto, Hash, NONCE_LEN, TAG_LEN};

/// Longest token this module mints.
pub const MAX_TOKEN_LEN: usize = NONCE_LEN + PLAIN_MAX + TAG_LEN;

const PLAIN_MAX: usize = 1 + 8 + 1 + 16 + 2 + 1 + MAX_CID_LEN + 1 + MAX_CID_LEN;

const KIND_RETRY: u8 = 0;
const KIND_NEW_TOKEN: u8 = 1;

/// What a valid token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenInfo {
    /// A Retry token.
    Retry {
        /// The client's original Destination Connection ID.
        original_dcid: ConnectionId,
        /// The Source Connection ID of the Retry.
        retry_scid: ConnectionId,
    },
    /// A NEW_TOKEN token.
    NewToken,
    /// One of our Retry tokens, authentic but no longer usable: expired, or presented from
    /// another address. The client will not accept a second Retry, so the server refuses the
    /// connection with INVALID_TOKEN (RFC 9000 §8.1.3) rather than letting it time out.
    InvalidRetry,
}

fn aead<C: Crypto>(crypto: &C, key: &[u8; 32]) -> Option<C::Aead> {
    let mut k = [0u8; 16];
    let ok = expand_label(crypto, Hash::Sha256, key, b"kquic token", &[], &mut k).is_ok();
    let a = if ok {
        crypto.new_aead(CipherSuite::Aes128Gcm, &k).ok()
    } else {
        None
    };
    zeroize(&mut k);
    a
}

fn write_addr(w: &mut Writer<'_>, addr: SocketAddr, with_port: bool) -> Option<()> {
    match addr.ip() {
        IpAddr::V4(ip) => {
            w.u8(4).ok()?;
            w.bytes(&ip.octets()).ok()?;
        }
        IpAddr::V6(ip) => {
            w.u8(16).ok()?;
            w.bytes(&ip.octets()).ok()?;
        }
    }
    if with_port {
        w.u16(addr.port()).ok()?;
    }
    Some(())
}

fn seal<C: Crypto>(
    crypto: &C,
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    plain: &[u8],
    out: &mut [u8],
) -> Option<usize> {
    let total = NONCE_LEN + plain.len() + TAG_LEN;
    let buf = out.get_mut(..total)?;
    let (n, body) = buf.split_at_mut(NONCE_LEN);
    n.copy_from_slice(&nonce);
    body.get_mut(..plain.len())?.copy_from_slice(plain);
    aead(crypto, key)?.seal(&nonce, b"kquic", body).ok()?;
    Some(total)
}

/// Mints a Retry token for a client at `client` whose first Initial had DCID `odcid`,
/// answered by a Retry with SCID `retry_scid`. `nonce` must be random. Returns its length.
#[allow(clippy::too_many_arguments)]
pub fn mint_retry<C: Crypto>(
    crypto: &C,
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    now: u64,
    client: SocketAddr,
    odcid: &ConnectionId,
    retry_scid: &ConnectionId,
    out: &mut [u8],
) -> Option<usize> {
    let mut plain = [0u8; PLAIN_MAX];
    let mut w = Writer::new(&mut plain);
    w.u8(KIND_RETRY).ok()?;
    w.u64(now).ok()?;
    write_addr(&mut w, client, true)?;
    w.u8(odcid.len() as u8).ok()?;
    w.bytes(odcid).ok()?;
    w.u8(retry_scid.len() as u8).ok()?;
    w.bytes(retry_scid).ok()?;
    let n = w.position();
    seal(crypto, key, nonce, plain.get(..n)?, out)
}

/// Mints a NEW_TOKEN token for a client at `client`. `nonce` must be random.
pub fn mint_new_token<C: Crypto>(
    crypto: &C,
    key: &[u8; 32],
    nonce: [u8; NONCE_LEN],
    now: u64,
    client: SocketAddr,
    out: &mut [u8],
) -> Option<usize> {
    let mut plain = [0u8; PLAIN_MAX];
    let mut w = Writer::new(&mut plain);
    w.u8(KIND_NEW_TOKEN).ok()?;
    w.u64(now).ok()?;
    write_addr(&mut w, client, false)?;
    let n = w.position();
    seal(crypto, key, nonce, plain.get(..n)?, out)
}

/// Checks `token` from a client at `client` at time `now`: authentic, for this address, and
/// not older than the lifetime of its kind. `None` for anything that is not one of our tokens
/// or an unusable NEW_TOKEN token (ignored: the client is validated another way);
/// [`TokenInfo::InvalidRetry`] for an authentic Retry token that fails a check.
pub fn validate<C: Crypto>(
    crypto: &C,
    key: &[u8; 32],
    token: &[u8],
    now: u64,
    client: SocketAddr,
    retry_lifetime: u64,
    new_token_lifetime: u64,
) -> Option<TokenInfo> {
    if token.len() < NONCE_LEN + TAG_LEN || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut buf = [0u8; MAX_TOKEN_LEN];
    let buf = buf.get_mut(..token.len())?;
    buf.copy_from_slice(token);
    let (n, body) = buf.split_at_mut(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = (&*n).try_into().ok()?;
    let len = aead(crypto, key)?.open(&nonce, b"kquic", body).ok()?;
    let mut r = Reader::new(body.get(..len)?);
    let kind = r.u8().ok()?;
    let issued = r.u64().ok()?;
    let ip_len = usize::from(r.u8().ok()?);
    let ip = r.bytes(ip_len).ok()?;
    let same_ip = match client.ip() {
        IpAddr::V4(a) => ip == a.octets(),
        IpAddr::V6(a) => ip == a.octets(),
    };
    // A token from the future is only tolerated within a second (clock granularity).
    let fresh = |lifetime: u64| {
        issued <= now.saturating_add(1_000_000) && now.saturating_sub(issued) <= lifetime
    };
    match kind {
        KIND_RETRY => {
            let fields = (|| {
                let port = r.u16().ok()?;
                let n = usize::from(r.u8().ok()?);
                let odcid = ConnectionId::new(r.bytes(n).ok()?)?;
                let n = usize::from(r.u8().ok()?);
                let rscid = ConnectionId::new(r.bytes(n).ok()?)?;
                r.is_empty().then_some((port, odcid, rscid))
            })();
            Some(match fields {
                Some((port, odcid, rscid))
                    if same_ip && port == client.port() && fresh(retry_lifetime) =>
                {
                    TokenInfo::Retry {
                        original_dcid: odcid,
                        retry_scid: rscid,
                    }
                }
                _ => TokenInfo::InvalidRetry,
            })
        }
        KIND_NEW_TOKEN => {
            (same_ip && fresh(new_token_lifetime) && r.is_empty()).then_some(TokenInfo::NewToken)
        }
        _ => None,
    }
}
