//! Stream states (RFC 9000 §3, figures 2 and 3) and their socket ABI numbers.

use quic_uapi as uapi;

/// The state of a stream's sending part (RFC 9000 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendState {
    /// Open, nothing sent yet.
    Ready,
    /// Sending data.
    Send,
    /// Everything up to and including FIN was sent; waiting for acknowledgements.
    Sent,
    /// Everything was acknowledged (terminal).
    Recvd,
    /// RESET_STREAM was sent; waiting for its acknowledgement.
    ResetSent,
    /// RESET_STREAM was acknowledged (terminal).
    ResetRecvd,
}

impl SendState {
    /// The ABI number (`QUIC_STREAM_SEND_STATE_*`, 0..=5).
    pub const fn abi(self) -> u8 {
        match self {
            Self::Ready => uapi::QUIC_STREAM_SEND_STATE_READY,
            Self::Send => uapi::QUIC_STREAM_SEND_STATE_SEND,
            Self::Sent => uapi::QUIC_STREAM_SEND_STATE_SENT,
            Self::Recvd => uapi::QUIC_STREAM_SEND_STATE_RECVD,
            Self::ResetSent => uapi::QUIC_STREAM_SEND_STATE_RESET_SENT,
            Self::ResetRecvd => uapi::QUIC_STREAM_SEND_STATE_RESET_RECVD,
        }
    }

    /// True in a terminal state: nothing more will be sent or retransmitted.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Recvd | Self::ResetRecvd)
    }
}

/// The state of a stream's receiving part (RFC 9000 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvState {
    /// Receiving data; the final size is not known yet.
    Recv,
    /// FIN was received (so the final size is known) but some data is missing.
    SizeKnown,
    /// All data up to the final size was received; the application has not read it all.
    Recvd,
    /// The application read everything, FIN included (terminal).
    Read,
    /// The peer reset the stream; the application has not been told yet.
    ResetRecvd,
    /// The application was told about the reset (terminal).
    ResetRead,
}

impl RecvState {
    /// The ABI number (`QUIC_STREAM_RECV_STATE_*`, 6..=11).
    pub const fn abi(self) -> u8 {
        match self {
            Self::Recv => uapi::QUIC_STREAM_RECV_STATE_RECV,
            Self::SizeKnown => uapi::QUIC_STREAM_RECV_STATE_SIZE_KNOWN,
            Self::Recvd => uapi::QUIC_STREAM_RECV_STATE_RECVD,
            Self::Read => uapi::QUIC_STREAM_RECV_STATE_READ,
            Self::ResetRecvd => uapi::QUIC_STREAM_RECV_STATE_RESET_RECVD,
            Self::ResetRead => uapi::QUIC_STREAM_RECV_STATE_RESET_READ,
        }
    }

    /// True in a terminal state: the application needs nothing more from this part.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Read | Self::ResetRead)
    }
}

/// Either part's state, as reported in a stream update event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamState {
    /// A sending-part state.
    Send(SendState),
    /// A receiving-part state.
    Recv(RecvState),
}

impl StreamState {
    /// The ABI number (0..=11).
    pub const fn abi(self) -> u8 {
        match self {
            Self::Send(s) => s.abi(),
            Self::Recv(r) => r.abi(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_numbers() {
        let send = [
            SendState::Ready,
            SendState::Send,
            SendState::Sent,
            SendState::Recvd,
            SendState::ResetSent,
            SendState::ResetRecvd,
        ];
        for (i, s) in send.iter().enumerate() {
            assert_eq!(usize::from(StreamState::Send(*s).abi()), i);
        }
        let recv = [
            RecvState::Recv,
            RecvState::SizeKnown,
            RecvState::Recvd,
            RecvState::Read,
            RecvState::ResetRecvd,
            RecvState::ResetRead,
        ];
        for (i, r) in recv.iter().enumerate() {
            assert_eq!(usize::from(StreamState::Recv(*r).abi()), i + 6);
        }
        let terminal: usize = send.iter().filter(|s| s.is_terminal()).count()
            + recv.iter().filter(|r| r.is_terminal()).count();
        assert_eq!(terminal, 4);
        assert!(SendState::ResetRecvd.is_terminal() && RecvState::ResetRead.is_terminal());
    }
}
