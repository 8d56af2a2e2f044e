//! RFC 9369 Appendix A (QUIC v2 sample packet protection), byte for byte, on the host backend.

mod crypto_common;

use crypto_common::*;
use quic_proto::crypto::Version;

const V2: Appendix = Appendix {
    version: Version::V2,
    labels: &[
        ("client in", 32, "00200f746c73313320636c69656e7420696e00"),
        ("server in", 32, "00200f746c7331332073657276657220696e00"),
        ("key", 16, "001010746c73313320717569637632206b657900"),
        ("iv", 12, "000c0f746c7331332071756963763220697600"),
        ("hp", 16, "00100f746c7331332071756963763220687000"),
    ],
    initial_secret: "2062e8b3cd8d52092614b8071d0aa1fb7c2e3ac193f78b280e72d8f5751f6aba",
    client_secret: "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
    client_key: "8b1a0bc121284290a29e0971b5cd045d",
    client_iv: "91f73e2351d8fa91660e909f",
    client_hp: "45b95e15235d6f45a6b19cbcb0294ba9",
    server_secret: "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
    server_key: "82db637861d55e1d011f19ea71d5d2a7",
    server_iv: "dd13c276499c0249d3310652",
    server_hp: "edf6d05c83121201b436e16877593c3a",
    client_header: "d36b3343cf088394c8f03e5157080000449e00000002",
    client_sample: "ffe67b6abcdb4298b485dd04de806071",
    client_mask: "94a0c95e80",
    client_protected_header: "d76b3343cf088394c8f03e5157080000449ea0c95e82",
    client_packet: V2_CLIENT_INITIAL,
    server_header: "d16b3343cf0008f067a5502a4262b50040750001",
    server_sample: "6f05d8a4398c47089698baeea26b91eb",
    server_mask: "4dd92e91ea",
    server_protected_header: "dc6b3343cf0008f067a5502a4262b5004075d92f",
    server_packet: V2_SERVER_INITIAL,
    retry: "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6",
    chacha_secret: "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b",
    chacha_key: "3bfcddd72bcf02541d7fa0dd1f5f9eeea817e09a6963a0e6c7df0f9a1bab90f2",
    chacha_iv: "a6b5bc6ab7dafce30ffff5dd",
    chacha_hp: "d659760d2ba434a226fd37b35c69e2da8211d10c4f12538787d65645d5d1b8e2",
    chacha_ku: "c69374c49e3d2a9466fa689e49d476db5d0dfbc87d32ceeaa6343fd0ae4c7d88",
    chacha_nonce: "a6b5bc6ab7dafce328ff4a29",
    chacha_header: "4200bff4",
    chacha_ciphertext: "0ae7b6b932bc27d786f4bc2bb20f2162ba",
    chacha_sample: "e7b6b932bc27d786f4bc2bb20f2162ba",
    chacha_mask: "97580e32bf",
    chacha_protected_header: "5558b1c6",
    chacha_packet: "5558b1c60ae7b6b932bc27d786f4bc2bb20f2162ba",
};

#[test]
fn a1_keys() {
    check_keys(&V2);
}

#[test]
fn a2_client_initial() {
    check_client_initial(&V2);
}

#[test]
fn a3_server_initial() {
    check_server_initial(&V2);
}

#[test]
fn a4_retry() {
    check_retry(&V2);
}

#[test]
fn a5_chacha20_short_header() {
    check_chacha_short(&V2);
}
