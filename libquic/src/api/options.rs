//! [`Options`]: the socket options a connection or listener is set up with, typed from
//! `quic-uapi`, applied before `connect`/`listen`.

use std::io;
use std::time::Duration;

use quic_uapi::{quic_config, quic_transport_param, QUIC_SOCKOPT_EVENT};

use super::event::EventKind;
use crate::ksock::Socket;

/// Socket options for [`QuicConnection::connect`](super::QuicConnection::connect) and
/// [`QuicListener::bind`](super::QuicListener::bind) (and their tokio twins). Everything left
/// unset keeps the kernel's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `QUIC_SOCKOPT_ALPN`: comma-separated protocols the kernel matches listeners by. The TLS
    /// configuration's ALPN is what the handshake offers.
    pub alpn: Option<String>,
    /// `QUIC_SOCKOPT_TRANSPORT_PARAM` (local, `remote` is forced to 0).
    pub transport_params: Option<quic_transport_param>,
    /// Datagram support: the local `max_datagram_frame_size` (0: off), applied on top of
    /// [`Options::transport_params`] or of the socket's current parameters.
    pub max_datagram_frame_size: Option<u16>,
    /// `QUIC_SOCKOPT_CONFIG`.
    pub config: Option<quic_config>,
    /// Events to turn on (`QUIC_SOCKOPT_EVENT`).
    pub events: Vec<EventKind>,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`: also bound each wait of the handshake.
    pub timeout: Option<Duration>,
    /// Client: the name to verify the server's certificate against (and send as SNI), instead
    /// of the TLS configuration's.
    pub server_name: Option<String>,
}

impl Options {
    /// The defaults: nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`Options::alpn`].
    pub fn alpn(mut self, alpn: &str) -> Self {
        self.alpn = Some(alpn.to_owned());
        self
    }

    /// Sets [`Options::transport_params`].
    pub fn transport_params(mut self, p: quic_transport_param) -> Self {
        self.transport_params = Some(p);
        self
    }

    /// Turns datagrams on with this `max_datagram_frame_size` (RFC 9221).
    pub fn datagrams(mut self, max_frame_size: u16) -> Self {
        self.max_datagram_frame_size = Some(max_frame_size);
        self
    }

    /// Sets [`Options::config`].
    pub fn config(mut self, c: quic_config) -> Self {
        self.config = Some(c);
        self
    }

    /// Turns on one event type.
    pub fn event(mut self, kind: EventKind) -> Self {
        if !self.events.contains(&kind) {
            self.events.push(kind);
        }
        self
    }

    /// Sets [`Options::timeout`].
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Sets [`Options::server_name`].
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = Some(name.to_owned());
        self
    }

    /// The transport parameters to set, if any, given the socket's current ones.
    fn params_over(
        &self,
        current: impl FnOnce() -> io::Result<quic_transport_param>,
    ) -> io::Result<Option<quic_transport_param>> {
        if self.transport_params.is_none() && self.max_datagram_frame_size.is_none() {
            return Ok(None);
        }
        let mut p = match self.transport_params {
            Some(p) => p,
            None => current()?,
        };
        p.remote = 0;
        if let Some(n) = self.max_datagram_frame_size {
            p.max_datagram_frame_size = n;
        }
        Ok(Some(p))
    }

    /// Sets everything on a socket that is neither connected nor listening.
    pub fn apply(&self, sock: &Socket) -> io::Result<()> {
        if let Some(t) = self.timeout {
            sock.set_read_timeout(Some(t))?;
            sock.set_write_timeout(Some(t))?;
        }
        if let Some(a) = &self.alpn {
            sock.set_alpn(a)?;
        }
        if let Some(p) = self.params_over(|| sock.transport_param(false))? {
            sock.set_transport_param(&p)?;
        }
        if let Some(c) = &self.config {
            sock.set_config(c)?;
        }
        for k in &self.events {
            sock.set_quic_opt(QUIC_SOCKOPT_EVENT, &k.option(true))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_and_parameters() {
        let o = Options::new()
            .alpn("a,b")
            .event(EventKind::KeyUpdate)
            .event(EventKind::KeyUpdate)
            .timeout(Duration::from_secs(3))
            .server_name("example.org");
        assert_eq!(o.alpn.as_deref(), Some("a,b"));
        assert_eq!(o.events, [EventKind::KeyUpdate]);
        assert_eq!(o.timeout, Some(Duration::from_secs(3)));
        assert_eq!(o.server_name.as_deref(), Some("example.org"));
        // Nothing to set: the socket is not even asked.
        assert_eq!(o.params_over(|| panic!("asked")).unwrap(), None);

        let cur = quic_transport_param {
            remote: 1,
            max_streams_bidi: 9,
            ..Default::default()
        };
        let p = o
            .clone()
            .datagrams(1200)
            .params_over(|| Ok(cur))
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.remote, p.max_streams_bidi, p.max_datagram_frame_size),
            (0, 9, 1200)
        );
        let given = quic_transport_param {
            max_streams_uni: 3,
            ..Default::default()
        };
        let p = o
            .transport_params(given)
            .params_over(|| panic!("asked"))
            .unwrap()
            .unwrap();
        assert_eq!((p.max_streams_uni, p.max_datagram_frame_size), (3, 0));
    }
}
