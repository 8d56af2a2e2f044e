//! The `kquic-agent` binary: `--check-config` on good and bad configurations, `--help`, and a
//! start in the foreground.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kquic-agent");

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("kquic-agent-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kquic-agent.toml.example")
}

#[test]
fn check_config_accepts_the_example() {
    let o = run(&["--check-config", "--config", example().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("OK"), "{out}");
    assert!(out.contains("handler class 1"), "{out}");
    assert!(out.contains("up to 64 handshakes"), "{out}");
}

#[test]
fn check_config_reads_the_credentials() {
    let d = TempDir::new("creds");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["srv.example".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let c = d.write("c.pem", &cert.pem());
    let k = d.write("k.pem", &key.serialize_pem());
    let good = d.write(
        "good.toml",
        &format!(
            "[server]\ncert_file = {c:?}\nkey_file = {k:?}\n[client]\nca_file = {c:?}\n\
             [limits]\nmax_handshakes = 3\n"
        ),
    );
    let o = run(&["--check-config", "-c", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("server certificate: yes"), "{out}");
    assert!(out.contains("client CA: 1 certificate(s)"), "{out}");
    assert!(out.contains("up to 3 handshakes"), "{out}");

    // The key given as the certificate: the file is named in the error.
    let bad = d.write(
        "bad.toml",
        &format!("[server]\ncert_file = {k:?}\nkey_file = {k:?}\n"),
    );
    let o = run(&["--check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("k.pem") && err.contains("no certificate"),
        "{err}"
    );
}

#[test]
fn check_config_refuses_bad_files() {
    let d = TempDir::new("bad");
    for (name, body, want) in [
        ("syntax.toml", "[agent\n", "syntax.toml"),
        (
            "typo.toml",
            "[limits]\nmax_handshake = 3\n",
            "unknown field",
        ),
        (
            "value.toml",
            "[agent]\nlog_level = \"chatty\"\n",
            "unknown variant",
        ),
        (
            "missing.toml",
            "[client]\nca_file = \"/nonexistent/ca.pem\"\n",
            "/nonexistent/ca.pem",
        ),
    ] {
        let p = d.write(name, body);
        let o = run(&["--check-config", "--config", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let err = text(&o.stderr);
        assert!(err.contains(want), "{name}: {err}");
        assert!(o.stdout.is_empty(), "{name}");
    }
    let o = run(&[
        "--check-config",
        "--config",
        "/nonexistent/kquic-agent.toml",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("/nonexistent/kquic-agent.toml"));
}

#[test]
fn help_and_bad_arguments() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for opt in ["--config", "--foreground", "--verbose", "--check-config"] {
        assert!(out.contains(opt), "{opt} missing from --help");
    }
    let o = run(&["--no-such-option"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Started in the foreground: either this kernel has net/handshake (then the agent reports
/// READY=1 to $NOTIFY_SOCKET and stops cleanly on SIGTERM), or it says the family is missing
/// and exits with status 2.
#[test]
fn foreground_start_notify_and_sigterm() {
    let d = TempDir::new("run");
    let sock_path = d.0.join("notify.sock");
    let notify = UnixDatagram::bind(&sock_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut child = Command::new(BIN)
        .args(["--foreground", "--config", example().to_str().unwrap()])
        .env("NOTIFY_SOCKET", &sock_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    let mut ready = false;
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(n) = notify.recv(&mut buf) {
            assert_eq!(&buf[..n], b"READY=1");
            ready = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    if ready {
        // SAFETY: kill(2) on the child we spawned.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let mut stop = [0u8; 64];
        let n = notify.recv(&mut stop).unwrap();
        assert_eq!(&stop[..n], b"STOPPING=1");
        let err = text(&o.stderr);
        assert!(err.contains("SIGTERM") && err.contains("stopped"), "{err}");
    } else {
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains("\"handshake\" not found"), "{err}");
    }
}
