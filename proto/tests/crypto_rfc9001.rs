//! RFC 9001 Appendix A (QUIC v1 sample packet protection), byte for byte, on the host backend.

mod crypto_common;

use crypto_common::*;
use quic_proto::crypto::Version;

const V1: Appendix = Appendix {
    version: Version::V1,
    labels: &[
        ("client in", 32, "00200f746c73313320636c69656e7420696e00"),
        ("server in", 32, "00200f746c7331332073657276657220696e00"),
        ("key", 16, "00100e746c7331332071756963206b657900"),
        ("iv", 12, "000c0d746c733133207175696320697600"),
        ("hp", 16, "00100d746c733133207175696320687000"),
    ],
    initial_secret: "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44",
    client_secret: "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
    client_key: "1f369613dd76d5467730efcbe3b1a22d",
    client_iv: "fa044b2f42a3fd3b46fb255c",
    client_hp: "9f50449e04a0e810283a1e9933adedd2",
    server_secret: "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
    server_key: "cf3a5331653c364c88f0f379b6067e37",
    server_iv: "0ac1493ca1905853b0bba03e",
    server_hp: "c206b8d9b9f0f37644430b490eeaa314",
    client_header: "c300000001088394c8f03e5157080000449e00000002",
    client_sample: "d1b1c98dd7689fb8ec11d242b123dc9b",
    client_mask: "437b9aec36",
    client_protected_header: "c000000001088394c8f03e5157080000449e7b9aec34",
    client_packet: V1_CLIENT_INITIAL,
    server_header: "c1000000010008f067a5502a4262b50040750001",
    server_sample: "2cd0991cd25b0aac406a5816b6394100",
    server_mask: "2ec0d8356a",
    server_protected_header: "cf000000010008f067a5502a4262b5004075c0d9",
    server_packet: V1_SERVER_INITIAL,
    retry: "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba",
    chacha_secret: "9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b",
    chacha_key: "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
    chacha_iv: "e0459b3474bdd0e44a41c144",
    chacha_hp: "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4",
    chacha_ku: "1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9",
    chacha_nonce: "e0459b3474bdd0e46d417eb0",
    chacha_header: "4200bff4",
    chacha_ciphertext: "655e5cd55c41f69080575d7999c25a5bfb",
    chacha_sample: "5e5cd55c41f69080575d7999c25a5bfb",
    chacha_mask: "aefefe7d03",
    chacha_protected_header: "4cfe4189",
    chacha_packet: "4cfe4189655e5cd55c41f69080575d7999c25a5bfb",
};

#[test]
fn a1_keys() {
    check_keys(&V1);
}

#[test]
fn a2_client_initial() {
    check_client_initial(&V1);
}

#[test]
fn a3_server_initial() {
    check_server_initial(&V1);
}

#[test]
fn a4_retry() {
    check_retry(&V1);
}

#[test]
fn a5_chacha20_short_header() {
    check_chacha_short(&V1);
}
