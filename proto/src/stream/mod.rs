//! Streams (RFC 9000 §2-4): the stream layer of the connection engine.
//!
//! Standalone pieces that the connection state machine drives with plain frame fields (it
//! decodes and encodes the frames); none of them reads a clock or does I/O.
//!
//! - [`id`]: stream IDs, their initiator and direction bits;
//! - [`send`]: a stream's sending part: the send buffer, chunks to send, acknowledged and lost
//!   ranges, FIN, RESET_STREAM and STOP_SENDING (RFC 9000 §3.1);
//! - [`recv`]: a stream's receiving part: out-of-order reassembly, final-size rules, the
//!   application's reads, STOP_SENDING (RFC 9000 §3.2, §4.5);
//! - [`flow`]: flow-control credit and windows, with receive-window auto-tuning (§4.1, §4.2);
//! - [`config`]: our limits and the peer's;
//! - [`map`]: the streams of a connection: stream limits (§4.6), routing of peer frames,
//!   connection flow control, the application API, and what to send next;
//! - [`state`] and [`event`]: stream states and notifications, with their socket ABI numbers;
//! - [`error`]: transport errors the peer can cause, and errors of application calls.
//!
//! Typical use by the connection engine:
//! - on a STREAM, RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA, STREAM_DATA_BLOCKED,
//!   MAX_DATA, DATA_BLOCKED, MAX_STREAMS or STREAMS_BLOCKED frame, call the matching
//!   `Streams::on_*` method; an error closes the connection with its transport error code;
//! - when building a packet, take control frames from [`Streams::poll_control`] and STREAM
//!   frames from [`Streams::poll_stream_frame`], and report their fate with
//!   `on_control_acked/lost` and `on_stream_acked/lost`;
//! - for the socket, call [`Streams::open`], [`Streams::write`], [`Streams::read`],
//!   [`Streams::reset`], [`Streams::stop_sending`], and drain [`Streams::pop_readable`] and
//!   [`Streams::poll_event`].

mod buf;
pub mod config;
pub mod error;
pub mod event;
pub mod flow;
pub mod id;
pub mod map;
mod queue;
mod ranges;
pub mod recv;
pub mod send;
pub mod state;
#[cfg(test)]
mod tests;

pub use config::{PeerLimits, StreamsConfig};
pub use error::{ApiError, StreamError};
pub use event::{EventKind, StreamEvent};
pub use id::{Dir, Side, StreamId};
pub use map::{ControlFrame, Delivery, Stream, StreamChunk, Streams};
pub use recv::ReadOutcome;
pub use state::{RecvState, SendState, StreamState};
