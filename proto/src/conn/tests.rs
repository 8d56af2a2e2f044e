//! Unit tests of the engine's building blocks; the two-endpoint tests live in the
//! `engine-tests` crate.

use super::*;

#[test]
fn levels_map_to_abi_and_spaces() {
    for l in [Level::App, Level::Initial, Level::Handshake, Level::Early] {
        assert_eq!(Level::from_abi(l.abi()), Some(l));
    }
    assert_eq!(Level::from_abi(4), None);
    assert_eq!(Level::Early.space(), Space::Application);
    assert_eq!(Level::Handshake.space(), Space::Handshake);
}

/// A crypto backend whose keys are pointers, like the kernel's transforms.
struct PtrCrypto;

impl crate::crypto::AeadKey for std::boxed::Box<u8> {
    fn seal(
        &self,
        _: &[u8; crate::crypto::NONCE_LEN],
        _: &[u8],
        _: &mut [u8],
    ) -> core::result::Result<(), crate::crypto::CryptoError> {
        Ok(())
    }
    fn open(
        &self,
        _: &[u8; crate::crypto::NONCE_LEN],
        _: &[u8],
        buf: &mut [u8],
    ) -> core::result::Result<usize, crate::crypto::CryptoError> {
        Ok(buf.len().saturating_sub(16))
    }
}

impl crate::crypto::HeaderKey for std::boxed::Box<u8> {
    fn mask(
        &self,
        _: &[u8; crate::crypto::SAMPLE_LEN],
    ) -> core::result::Result<[u8; crate::crypto::MASK_LEN], crate::crypto::CryptoError> {
        Ok([0; crate::crypto::MASK_LEN])
    }
}

impl Crypto for PtrCrypto {
    type Aead = std::boxed::Box<u8>;
    type Hp = std::boxed::Box<u8>;
    fn new_aead(
        &self,
        _: crate::crypto::CipherSuite,
        _: &[u8],
    ) -> core::result::Result<Self::Aead, crate::crypto::CryptoError> {
        Ok(std::boxed::Box::new(0))
    }
    fn new_hp(
        &self,
        _: crate::crypto::CipherSuite,
        _: &[u8],
    ) -> core::result::Result<Self::Hp, crate::crypto::CryptoError> {
        Ok(std::boxed::Box::new(0))
    }
    fn hmac(
        &self,
        _: crate::crypto::Hash,
        _: &[u8],
        _: &[&[u8]],
        out: &mut [u8],
    ) -> core::result::Result<(), crate::crypto::CryptoError> {
        out.fill(7);
        Ok(())
    }
}

#[test]
fn connection_fits_a_kernel_stack() {
    let sizes = [
        ("Connection", core::mem::size_of::<Connection<PtrCrypto>>()),
        ("keys", core::mem::size_of::<keys::Keys<PtrCrypto>>()),
        ("loss", core::mem::size_of::<LossDetector<SentMeta>>()),
        ("streams", core::mem::size_of::<Streams>()),
        ("spaces", core::mem::size_of::<[PacketSpace; 3]>()),
        ("cids", core::mem::size_of::<cids::Cids>()),
        ("paths", core::mem::size_of::<path::Paths>()),
        ("hs", core::mem::size_of::<handshake::Handshake>()),
        ("cfg", core::mem::size_of::<Config>()),
        ("close", core::mem::size_of::<close::CloseState>()),
        ("pmtud", core::mem::size_of::<pmtud::Pmtud>()),
        ("cc", core::mem::size_of::<Controller>()),
    ];
    for (name, n) in sizes {
        std::println!("{name}: {n}");
    }
    assert!(sizes[0].1 < 4096, "Connection is {} bytes", sizes[0].1);
}

fn ncid(seq: u64) -> crate::frame::NewConnectionId {
    crate::frame::NewConnectionId {
        seq,
        retire_prior_to: 0,
        cid: ConnectionId::new(&[seq as u8 + 1; 8]).unwrap(),
        reset_token: [seq as u8; 16],
    }
}

#[test]
fn late_copies_of_retired_connection_ids_are_ignored() {
    struct Fixed;
    impl Rng for Fixed {
        fn fill(&mut self, d: &mut [u8]) {
            d.fill(3);
        }
    }
    let cfg = Config::new();
    let mut drbg = rand::Drbg::new(&mut Fixed);
    let mut c = cids::Cids::new(
        &PtrCrypto,
        &cfg,
        ConnectionId::new(&[9; 8]).unwrap(),
        &mut drbg,
    )
    .unwrap();
    c.set_initial_peer_cid(ConnectionId::new(&[0xee; 8]).unwrap());
    // Our limit is 7: seq 0 plus six more.
    for seq in 1..7 {
        c.on_new_cid(&ncid(seq)).unwrap();
    }
    assert!(
        c.on_new_cid(&ncid(7)).is_err(),
        "an eighth ID is over the limit"
    );
    let mut c2 = cids::Cids::new(
        &PtrCrypto,
        &cfg,
        ConnectionId::new(&[9; 8]).unwrap(),
        &mut drbg,
    )
    .unwrap();
    c2.set_initial_peer_cid(ConnectionId::new(&[0xee; 8]).unwrap());
    for seq in 1..7 {
        c2.on_new_cid(&ncid(seq)).unwrap();
    }
    c2.switch_peer_cid(3); // retires 0
    c2.retire_peer_cid(5);
    // A duplicate of 5's NEW_CONNECTION_ID arrives late: ignored, not counted.
    c2.on_new_cid(&ncid(5)).unwrap();
    c2.on_new_cid(&ncid(7)).unwrap();
    c2.on_new_cid(&ncid(8)).unwrap();
    assert_eq!(c2.peer_info().0, 3);
    assert!(c2.on_new_cid(&ncid(9)).is_err());
}
