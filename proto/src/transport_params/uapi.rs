//! Mapping between [`TransportParams`] and the socket ABI's `struct quic_transport_param`
//! (abi.md, `QUIC_SOCKOPT_TRANSPORT_PARAM`).
//!
//! The ABI struct has narrower fields and microsecond times: values that do not fit saturate
//! on the way out, and microseconds round up to whole milliseconds on the way in (so that a
//! small non-zero idle timeout or ack delay never turns into 0). Connection IDs, tokens,
//! preferred_address and version_information are not part of the struct: the flags
//! `stateless_reset` and `disable_compatible_version` tell the connection whether to send a
//! stateless_reset_token and version_information, which it fills in itself.

use super::TransportParams;
use quic_uapi::quic_transport_param;

fn sat_u8(v: u64) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn sat_u16(v: u64) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

fn ms_to_us(ms: u64) -> u32 {
    u32::try_from(ms.saturating_mul(1000)).unwrap_or(u32::MAX)
}

fn us_to_ms(us: u32) -> u64 {
    u64::from(us).div_ceil(1000)
}

impl TransportParams {
    /// The ABI view of these parameters; `remote` says whether they are the peer's.
    pub fn to_uapi(&self, remote: bool) -> quic_transport_param {
        quic_transport_param {
            remote: u8::from(remote),
            disable_active_migration: u8::from(self.disable_active_migration),
            grease_quic_bit: u8::from(self.grease_quic_bit),
            stateless_reset: u8::from(self.stateless_reset_token.is_some()),
            disable_1rtt_encryption: u8::from(self.disable_1rtt_encryption),
            disable_compatible_version: u8::from(self.version_information.is_none()),
            active_connection_id_limit: sat_u8(self.active_connection_id_limit),
            ack_delay_exponent: sat_u8(self.ack_delay_exponent),
            max_datagram_frame_size: sat_u16(self.max_datagram_frame_size),
            max_udp_payload_size: sat_u16(self.max_udp_payload_size),
            max_idle_timeout: ms_to_us(self.max_idle_timeout),
            max_ack_delay: ms_to_us(self.max_ack_delay),
            max_streams_bidi: sat_u16(self.initial_max_streams_bidi),
            max_streams_uni: sat_u16(self.initial_max_streams_uni),
            max_data: self.initial_max_data,
            max_stream_data_bidi_local: self.initial_max_stream_data_bidi_local,
            max_stream_data_bidi_remote: self.initial_max_stream_data_bidi_remote,
            max_stream_data_uni: self.initial_max_stream_data_uni,
        }
    }

    /// Parameters with the numeric values and flags of `p`; everything the struct does not
    /// carry keeps its RFC default (absent). Run [`TransportParams::validate`] before
    /// advertising them.
    pub fn from_uapi(p: &quic_transport_param) -> Self {
        Self {
            disable_active_migration: p.disable_active_migration != 0,
            grease_quic_bit: p.grease_quic_bit != 0,
            disable_1rtt_encryption: p.disable_1rtt_encryption != 0,
            active_connection_id_limit: u64::from(p.active_connection_id_limit),
            ack_delay_exponent: u64::from(p.ack_delay_exponent),
            max_datagram_frame_size: u64::from(p.max_datagram_frame_size),
            max_udp_payload_size: u64::from(p.max_udp_payload_size),
            max_idle_timeout: us_to_ms(p.max_idle_timeout),
            max_ack_delay: us_to_ms(p.max_ack_delay),
            initial_max_streams_bidi: u64::from(p.max_streams_bidi),
            initial_max_streams_uni: u64::from(p.max_streams_uni),
            initial_max_data: p.max_data,
            initial_max_stream_data_bidi_local: p.max_stream_data_bidi_local,
            initial_max_stream_data_bidi_remote: p.max_stream_data_bidi_remote,
            initial_max_stream_data_uni: p.max_stream_data_uni,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quic_uapi::defaults as d;

    #[test]
    fn kquic_defaults_match_abi() {
        let p = TransportParams::kquic_defaults().to_uapi(false);
        assert_eq!(p.remote, 0);
        assert_eq!(p.max_udp_payload_size, d::MAX_UDP_PAYLOAD_SIZE);
        assert_eq!(p.ack_delay_exponent, d::ACK_DELAY_EXPONENT);
        assert_eq!(p.max_ack_delay, d::MAX_ACK_DELAY);
        assert_eq!(p.active_connection_id_limit, d::ACTIVE_CONNECTION_ID_LIMIT);
        assert_eq!(p.max_idle_timeout, d::MAX_IDLE_TIMEOUT);
        assert_eq!(p.max_data, d::MAX_DATA);
        assert_eq!(p.max_stream_data_bidi_local, d::MAX_STREAM_DATA);
        assert_eq!(p.max_stream_data_bidi_remote, d::MAX_STREAM_DATA);
        assert_eq!(p.max_stream_data_uni, d::MAX_STREAM_DATA);
        assert_eq!(p.max_streams_bidi, d::MAX_STREAMS);
        assert_eq!(p.max_streams_uni, d::MAX_STREAMS);
        assert_eq!(p.disable_compatible_version, 1);
        assert_eq!(
            TransportParams::from_uapi(&p),
            TransportParams::kquic_defaults()
        );
        assert!(TransportParams::kquic_defaults().validate().is_ok());
    }

    #[test]
    fn units_and_saturation() {
        let tp = TransportParams {
            max_idle_timeout: 1 << 40,
            max_ack_delay: 16383,
            initial_max_streams_bidi: 1 << 60,
            initial_max_streams_uni: 65535,
            active_connection_id_limit: 1000,
            max_datagram_frame_size: 1 << 20,
            grease_quic_bit: true,
            disable_active_migration: true,
            disable_1rtt_encryption: true,
            stateless_reset_token: Some([1; 16]),
            version_information: super::super::VersionInformation::new(1, &[1]),
            ..TransportParams::default()
        };
        let p = tp.to_uapi(true);
        assert_eq!(p.remote, 1);
        assert_eq!(p.max_idle_timeout, u32::MAX);
        assert_eq!(p.max_ack_delay, 16_383_000);
        assert_eq!(p.max_streams_bidi, u16::MAX);
        assert_eq!(p.max_streams_uni, 65535);
        assert_eq!(p.active_connection_id_limit, 255);
        assert_eq!(p.max_datagram_frame_size, u16::MAX);
        assert_eq!(
            (
                p.grease_quic_bit,
                p.disable_active_migration,
                p.disable_1rtt_encryption
            ),
            (1, 1, 1)
        );
        assert_eq!((p.stateless_reset, p.disable_compatible_version), (1, 0));

        let back = TransportParams::from_uapi(&quic_transport_param {
            max_idle_timeout: 1,
            max_ack_delay: 25_001,
            ..p
        });
        assert_eq!(back.max_idle_timeout, 1);
        assert_eq!(back.max_ack_delay, 26);
        assert_eq!(back.stateless_reset_token, None);
        assert!(back.grease_quic_bit && back.disable_active_migration);
        assert_eq!(
            TransportParams::from_uapi(&quic_transport_param::default()).max_idle_timeout,
            0
        );
    }
}
