//! What happens before a connection exists (RFC 9000 §5.2, §6, §8.1, §10.3): the server side
//! of an endpoint looks at a datagram that matched no connection and decides whether to
//! accept a new connection (an Initial of at least 1200 bytes), answer with Version
//! Negotiation (unknown version), with a Retry (address validation without a valid token),
//! with a stateless reset (a short header packet for a connection we do not know), or drop it.
//!
//! Routing: [`dcid`] extracts the Destination Connection ID, whose length for short headers
//! is the length of the IDs the endpoint issues.

use core::net::SocketAddr;

use crate::cid::{ConnectionId, MAX_CID_LEN};
use crate::codec::Writer;
use crate::conn::token::{self, TokenInfo};
use crate::conn::{Accepted, Config};
use crate::crypto::initial::initial_keys;
use crate::crypto::reset::{build_stateless_reset, StatelessResetKey, MIN_STATELESS_RESET_LEN};
use crate::crypto::retry::RetryIntegrity;
use crate::crypto::{Crypto, Rng, Side, Version, NONCE_LEN, TAG_LEN};
use crate::error::TransportError;
use crate::frame::{ConnectionClose, Frame};
use crate::packet::{
    is_supported_version, parse, write_long, write_retry, write_version_negotiation, Header,
    LongHeader, LongType, RETRY_TAG_LEN,
};

/// Smallest datagram carrying a client Initial (RFC 9000 §14.1).
pub const MIN_INITIAL_DATAGRAM: usize = 1200;

/// What to do with a datagram no connection claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Make a server connection with [`crate::conn::Connection::server`] and give it the
    /// datagram. The header fields were only parsed, not authenticated: if no packet of the
    /// datagram authenticates ([`crate::conn::Connection::peer_authenticated`]), drop the
    /// connection again.
    Accept(Accepted),
    /// Send the `len` bytes written at the start of `out` back to the sender (Version
    /// Negotiation, Retry or stateless reset).
    Respond(usize),
    /// Drop the datagram.
    Drop,
}

/// The Destination Connection ID of the first packet of `datagram`, for routing;
/// `local_cid_len` is the length of the IDs this endpoint issues.
pub fn dcid(datagram: &[u8], local_cid_len: usize) -> Option<&[u8]> {
    let first = *datagram.first()?;
    if first & 0x80 == 0 {
        return datagram.get(1..1usize.checked_add(local_cid_len)?);
    }
    let len = usize::from(*datagram.get(5)?);
    datagram.get(6..6 + len)
}

/// Decides what to do with `datagram`, received at `now` from `from`, that matched no
/// connection. Responses are written into `out` (give it at least 1200 bytes).
pub fn handle<C: Crypto, R: Rng>(
    crypto: &C,
    config: &Config,
    now: u64,
    from: SocketAddr,
    datagram: &[u8],
    out: &mut [u8],
    rng: &mut R,
) -> Decision {
    let Ok(p) = parse(datagram, config.cid_len, true) else {
        return Decision::Drop;
    };
    match p.header {
        Header::Short(h) => stateless_reset(crypto, config, &h.dcid, datagram.len(), out, rng),
        Header::UnknownVersion { dcid, scid, .. } => {
            if datagram.len() < MIN_INITIAL_DATAGRAM {
                return Decision::Drop;
            }
            version_negotiation(config, dcid, scid, out, rng)
        }
        Header::Initial(h) => {
            if !is_supported_version(h.version) || !config.versions.contains(h.version) {
                if datagram.len() < MIN_INITIAL_DATAGRAM {
                    return Decision::Drop;
                }
                return version_negotiation(config, &h.dcid, &h.scid, out, rng);
            }
            if datagram.len() < MIN_INITIAL_DATAGRAM || h.dcid.len() < 8 {
                return Decision::Drop;
            }
            let mut accepted = Accepted {
                version: h.version,
                initial_dcid: h.dcid,
                original_dcid: h.dcid,
                retry_scid: None,
                client_scid: h.scid,
                address_validated: false,
            };
            if !h.token.is_empty() {
                match token::validate(
                    crypto,
                    &config.token_key.0,
                    h.token,
                    now,
                    from,
                    config.retry_token_lifetime,
                    config.new_token_lifetime,
                ) {
                    Some(TokenInfo::Retry {
                        original_dcid,
                        retry_scid,
                    }) if retry_scid == h.dcid => {
                        accepted.original_dcid = original_dcid;
                        accepted.retry_scid = Some(retry_scid);
                        accepted.address_validated = true;
                    }
                    Some(TokenInfo::NewToken) => accepted.address_validated = true,
                    // Our Retry token, but expired, from another address or for another
                    // Retry: the client would not follow a second Retry (RFC 9000 §8.1.3).
                    Some(TokenInfo::Retry { .. } | TokenInfo::InvalidRetry) => {
                        return refuse_invalid_token(crypto, h.version, &h.dcid, &h.scid, out);
                    }
                    // Anything else is ignored: the client is validated some other way.
                    None => {}
                }
            }
            if config.validate_peer_address && !accepted.address_validated {
                return retry(
                    crypto, config, now, from, h.version, &h.dcid, &h.scid, out, rng,
                );
            }
            Decision::Accept(accepted)
        }
        _ => Decision::Drop,
    }
}

fn version_negotiation<R: Rng>(
    config: &Config,
    dcid: &[u8],
    scid: &[u8],
    out: &mut [u8],
    rng: &mut R,
) -> Decision {
    let mut unused = [0u8; 1];
    rng.fill(&mut unused);
    let mut w = Writer::new(out);
    match write_version_negotiation(&mut w, dcid, scid, config.versions.as_slice(), unused[0]) {
        Ok(n) => Decision::Respond(n),
        Err(_) => Decision::Drop,
    }
}

#[allow(clippy::too_many_arguments)]
fn retry<C: Crypto, R: Rng>(
    crypto: &C,
    config: &Config,
    now: u64,
    from: SocketAddr,
    version: u32,
    odcid: &ConnectionId,
    client_scid: &ConnectionId,
    out: &mut [u8],
    rng: &mut R,
) -> Decision {
    let Some(v) = Version::from_wire(version) else {
        return Decision::Drop;
    };
    let mut b = [0u8; MAX_CID_LEN];
    let len = config.cid_len.clamp(8, MAX_CID_LEN);
    let Some(bytes) = b.get_mut(..len) else {
        return Decision::Drop;
    };
    rng.fill(bytes);
    let Some(scid) = ConnectionId::new(bytes) else {
        return Decision::Drop;
    };
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce);
    let mut tok = [0u8; token::MAX_TOKEN_LEN];
    let Some(tlen) = token::mint_retry(
        crypto,
        &config.token_key.0,
        nonce,
        now,
        from,
        odcid,
        &scid,
        &mut tok,
    ) else {
        return Decision::Drop;
    };
    let mut w = Writer::new(out);
    let Ok(n) = write_retry(
        &mut w,
        version,
        client_scid,
        &scid,
        tok.get(..tlen).unwrap_or(&[]),
    ) else {
        return Decision::Drop;
    };
    let Ok(integrity) = RetryIntegrity::new(crypto, v) else {
        return Decision::Drop;
    };
    // Scratch space for the pseudo-packet: the rest of `out` past the Retry and its tag.
    let (packet, rest) = out.split_at_mut(n.min(out.len()));
    let Some(scratch) = rest.get_mut(RETRY_TAG_LEN..) else {
        return Decision::Drop;
    };
    let Ok(tag) = integrity.tag(odcid, packet, scratch) else {
        return Decision::Drop;
    };
    let Some(t) = rest.get_mut(..RETRY_TAG_LEN) else {
        return Decision::Drop;
    };
    t.copy_from_slice(&tag);
    Decision::Respond(n + RETRY_TAG_LEN)
}

/// Answers a client Initial carrying an invalid Retry token with an Initial packet holding
/// CONNECTION_CLOSE(INVALID_TOKEN), protected with the Initial keys of the client's
/// Destination Connection ID, without keeping any state. The packet is not ack-eliciting, so
/// it needs no padding, and it is smaller than the 1200-byte datagram that triggered it.
fn refuse_invalid_token<C: Crypto>(
    crypto: &C,
    version: u32,
    client_dcid: &ConnectionId,
    client_scid: &ConnectionId,
    out: &mut [u8],
) -> Decision {
    let Some(v) = Version::from_wire(version) else {
        return Decision::Drop;
    };
    let Ok(mut keys) = initial_keys(crypto, v, client_dcid, Side::Server) else {
        return Decision::Drop;
    };
    let hdr = LongHeader {
        version,
        dcid: *client_scid,
        scid: *client_dcid,
        token: &[],
    };
    let close = Frame::ConnectionClose(ConnectionClose {
        error_code: TransportError::InvalidToken.code(),
        frame_type: Some(0),
        reason: b"invalid retry token",
    });
    let mut w = Writer::new(out);
    let Ok(layout) = write_long(&mut w, LongType::Initial, &hdr, 0, 1, 2, true) else {
        return Decision::Drop;
    };
    if close.encode(&mut w).is_err() {
        return Decision::Drop;
    }
    let end = w.position().saturating_add(TAG_LEN);
    if layout.set_length(out, end).is_err() {
        return Decision::Drop;
    }
    let Some(packet) = out.get_mut(layout.start..end) else {
        return Decision::Drop;
    };
    match keys
        .local
        .seal_packet(packet, layout.pn_offset.saturating_sub(layout.start), 0)
    {
        Ok(()) => Decision::Respond(end),
        Err(_) => Decision::Drop,
    }
}

fn stateless_reset<C: Crypto, R: Rng>(
    crypto: &C,
    config: &Config,
    dcid: &ConnectionId,
    trigger_len: usize,
    out: &mut [u8],
    rng: &mut R,
) -> Decision {
    if config.cid_len == 0 || trigger_len <= MIN_STATELESS_RESET_LEN {
        return Decision::Drop;
    }
    let key = StatelessResetKey::new(config.reset_key.0);
    let Ok(token) = key.token(crypto, dcid) else {
        return Decision::Drop;
    };
    match build_stateless_reset(rng, &token, trigger_len, MIN_INITIAL_DATAGRAM, out) {
        Ok(n) => Decision::Respond(n),
        Err(_) => Decision::Drop,
    }
}
