//! Runs the aioquic peer program (`interop/aioquic/interop_peer.py`) from the venv that
//! `interop/aioquic/venv.sh` makes; its interpreter comes from `KQUIC_AIOQUIC_PYTHON`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use quic_interop::certs::TestCert;

pub fn python() -> PathBuf {
    PathBuf::from(std::env::var_os("KQUIC_AIOQUIC_PYTHON").expect(
        "KQUIC_AIOQUIC_PYTHON unset: run these tests through interop/aioquic/run.sh (make interop)",
    ))
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("aioquic/interop_peer.py")
}

/// Certificate files for the Python side, in a fresh temporary directory.
pub struct CertFiles {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    pub fn new(cert: &TestCert, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("kquic-interop-{}-{name}", std::process::id()));
        let (c, k) = cert.write_pem(&dir).expect("write PEM files");
        Self {
            dir,
            cert: c,
            key: k,
        }
    }
}

impl Drop for CertFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running aioquic server; killed when dropped.
pub struct AioServer {
    child: Child,
    pub port: u16,
}

impl AioServer {
    pub fn start(files: &CertFiles, extra: &[&str]) -> Self {
        let mut child = Command::new(python())
            .arg(script())
            .arg("server")
            .arg("--cert")
            .arg(&files.cert)
            .arg("--key")
            .arg(&files.key)
            .args(["--seconds", "120"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the aioquic server");
        let out = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read the server's port");
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("aioquic server said {line:?}"));
        Self { child, port }
    }
}

impl Drop for AioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the aioquic client against `port`; returns its JSON report line and whether it exited
/// 0. Killed after `timeout`.
pub fn run_client(
    port: u16,
    files: &CertFiles,
    args: &[&str],
    timeout: Duration,
) -> (String, bool) {
    let mut child = Command::new(python())
        .arg(script())
        .arg("client")
        .args(["--port", &port.to_string()])
        .arg("--ca")
        .arg(&files.cert)
        .args(["--timeout", &timeout.as_secs().to_string()])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the aioquic client");
    let end = Instant::now() + timeout + Duration::from_secs(10);
    loop {
        match child.try_wait().expect("wait for the aioquic client") {
            Some(status) => {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = std::io::Read::read_to_string(&mut s, &mut out);
                }
                return (out.trim().to_string(), status.success());
            }
            None if Instant::now() > end => {
                let _ = child.kill();
                let _ = child.wait();
                return ("timed out".into(), false);
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The value of `"key": value` in a flat JSON report (enough for our own reports).
pub fn json_field<'a>(report: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\": ");
    let start = report.find(&pat)? + pat.len();
    let rest = &report[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}
