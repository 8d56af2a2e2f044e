//! agent/kquic-agent.service checked with systemd's own tools, where `systemd-analyze` is
//! installed: `verify` (no errors, no warnings about the unit) and the offline `security`
//! review (exposure at most 3.0, systemd's "OK").

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_kquic-agent");

fn analyze(args: &[&str]) -> Option<Output> {
    Command::new("systemd-analyze").args(args).output().ok()
}

/// The unit with ExecStart/ExecReload pointing at the binary just built (verify checks that
/// the command exists), in a directory of its own, under its real name.
fn unit_copy(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("kquic-agent.service"))
            .unwrap();
    assert!(text.contains("ExecStart=/usr/sbin/kquic-agent --foreground"));
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join("kquic-agent.service");
    std::fs::write(&p, edit(text.replace("/usr/sbin/kquic-agent", BIN))).unwrap();
    p
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn unit_verifies_and_is_hardened() {
    if analyze(&["--version"]).is_none() {
        eprintln!("systemd-analyze not installed: unit checks skipped");
        return;
    }
    let base = std::env::temp_dir().join(format!("kquic-agent-unit-{}", std::process::id()));
    let good = unit_copy(&base.join("good"), |t| t);
    let o = analyze(&["verify", "--man=no", good.to_str().unwrap()]).unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let about_us: Vec<&str> = err.lines().filter(|l| l.contains("kquic-agent")).collect();
    assert!(about_us.is_empty(), "systemd-analyze verify: {about_us:?}");

    let o = analyze(&[
        "security",
        "--offline=true",
        "--threshold=30",
        good.to_str().unwrap(),
    ])
    .unwrap();
    let out = text(&o.stdout);
    assert!(
        o.status.success(),
        "exposure above 3.0:\n{}",
        out.lines().last().unwrap_or("")
    );
    assert!(out.contains("Overall exposure level"), "{out}");

    // The check sees mistakes: a misspelt option is reported.
    let bad = unit_copy(&base.join("bad"), |t| {
        t.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes")
    });
    let o = analyze(&["verify", "--man=no", bad.to_str().unwrap()]).unwrap();
    assert!(
        text(&o.stderr).contains("Unknown key"),
        "{}",
        text(&o.stderr)
    );
    let _ = std::fs::remove_dir_all(&base);
}
