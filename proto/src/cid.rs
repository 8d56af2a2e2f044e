//! Connection IDs and stateless reset tokens, stored inline (no allocation).

use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

/// Maximum connection ID length in QUIC v1 and v2 (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// Length of a stateless reset token (RFC 9000 §10.3).
pub const RESET_TOKEN_LEN: usize = 16;

/// A stateless reset token.
pub type ResetToken = [u8; RESET_TOKEN_LEN];

/// A connection ID of 0 to 20 bytes, stored inline.
///
/// Bytes past `len` are always zero, but equality and hashing only look at the used part.
#[derive(Clone, Copy)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl ConnectionId {
    /// The zero-length connection ID.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; MAX_CID_LEN],
    };

    /// Copies `id`; `None` when it is longer than [`MAX_CID_LEN`].
    pub fn new(id: &[u8]) -> Option<Self> {
        let mut bytes = [0u8; MAX_CID_LEN];
        bytes.get_mut(..id.len())?.copy_from_slice(id);
        Some(Self {
            len: id.len() as u8,
            bytes,
        })
    }

    /// The connection ID bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl Default for ConnectionId {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl Deref for ConnectionId {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for ConnectionId {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for ConnectionId {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for ConnectionId {}

impl Hash for ConnectionId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cid(")?;
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        assert!(ConnectionId::new(&[0; 20]).is_some());
        assert!(ConnectionId::new(&[0; 21]).is_none());
        let c = ConnectionId::new(&[1, 2, 3]).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(&*c, &[1, 2, 3]);
        assert!(ConnectionId::EMPTY.is_empty());
        assert_ne!(c, ConnectionId::new(&[1, 2, 3, 0]).unwrap());
        assert_eq!(std::format!("{c:?}"), "Cid(010203)");
    }
}
