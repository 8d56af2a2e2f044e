//! systemd readiness notification (`sd_notify`): a datagram to `$NOTIFY_SOCKET`.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (e.g. `READY=1`) to the socket named by `$NOTIFY_SOCKET`; does nothing when
/// the variable is unset (not started by systemd with `Type=notify`).
pub fn notify(state: &str) -> io::Result<()> {
    match std::env::var("NOTIFY_SOCKET") {
        Ok(path) if !path.is_empty() => notify_to(&path, state),
        _ => Ok(()),
    }
}

/// Sends `state` to the notification socket `path`: a filesystem path, or `@name` for an
/// abstract socket.
pub fn notify_to(path: &str, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let n = if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        sock.send_to_addr(state.as_bytes(), &addr)?
    } else if path.starts_with('/') {
        sock.send_to(state.as_bytes(), path)?
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NOTIFY_SOCKET {path:?} is neither a path nor @abstract"),
        ));
    };
    if n != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short notification datagram",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_abstract_sockets() {
        let dir = crate::config::tests::TempDir::new("notify");
        let p = dir.0.join("notify.sock");
        let rx = UnixDatagram::bind(&p).unwrap();
        notify_to(p.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("kquic-agent-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        notify_to(&format!("@{name}"), "STOPPING=1").unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");

        assert!(notify_to("relative/path", "READY=1").is_err());
        assert!(notify_to(dir.0.join("absent").to_str().unwrap(), "READY=1").is_err());
    }
}
