//! The case runner: prints KTAP (TAP 13, as `selftests/lib/ktap.h` does) and runs every case
//! in a process of its own (this program again, `--case NAME`, in a new process group) under a
//! watchdog. A case that outlives its deadline is reported with the kernel stacks of its tasks
//! and killed with its whole group, so one hang never stops the run. After each case the
//! runner deletes the namespaces it left (named by the `KQ_PREFIX` it was given) and checks
//! that every QUIC socket it made is gone (quic.ko's reference count is back where it was).
//!
//! Inside the case process, [`note!`](crate::note) lines are TAP comments; the outcome goes to
//! the runner on a last line of its own.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::panic::{self, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::{netns, panic_message, slowdown, sys};

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed, with the reason.
    Fail(String),
    /// It failed for a known reason in quic.ko (reported as `# TODO`, not counted).
    Todo(String),
    /// It could not run here.
    Skip(String),
}

impl From<Result<(), String>> for Outcome {
    fn from(r: Result<(), String>) -> Self {
        match r {
            Ok(()) => Outcome::Pass,
            Err(e) => Outcome::Fail(e),
        }
    }
}

/// One test case.
pub struct Case {
    /// Its TAP name.
    pub name: &'static str,
    /// The watchdog: the case is killed (and fails) if it runs longer (times
    /// [`slowdown`](crate::slowdown)).
    pub deadline: Duration,
    /// The test, run in a process of its own.
    pub run: fn() -> Outcome,
}

const RESULT: &str = "@@kquic-result ";

/// The namespace prefix the runner gave this case process (`KQ_PREFIX`).
pub fn prefix() -> String {
    std::env::var("KQ_PREFIX").unwrap_or_else(|_| format!("kq{}-", std::process::id()))
}

/// How long the runner waits after a case for its sockets to go (closing periods are three
/// PTOs; the 100 ms delay case has PTOs near a second).
const SETTLE: Duration = Duration::from_secs(20);

/// The program's `main`: runs the case named by `--case NAME` (in the case process), or else
/// every case (`KQUIC_TESTS=a,b` runs only those) and exits 0 when none failed.
pub fn main(title: &str, cases: &[Case]) -> ! {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "--case" {
        let Some(c) = cases.iter().find(|c| c.name == args[2]) else {
            println!("{RESULT}fail no case {}", args[2]);
            std::process::exit(2);
        };
        let o = panic::catch_unwind(AssertUnwindSafe(c.run))
            .unwrap_or_else(|p| Outcome::Fail(panic_message(p)));
        let (word, why) = match o {
            Outcome::Pass => ("pass", String::new()),
            Outcome::Fail(w) => ("fail", w),
            Outcome::Todo(w) => ("todo", w),
            Outcome::Skip(w) => ("skip", w),
        };
        println!("{RESULT}{word} {}", why.replace('\n', " "));
        std::process::exit(0);
    }
    println!("TAP version 13");
    println!("1..{}", cases.len());
    println!("# {title}");
    let only: Option<Vec<String>> = std::env::var("KQUIC_TESTS")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let started = Instant::now();
    let (mut pass, mut fail, mut todo, mut skip) = (0, 0, 0, 0);
    for (i, c) in cases.iter().enumerate() {
        let n = i + 1;
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|t| t == c.name))
        {
            println!("ok {n} {} # SKIP not in KQUIC_TESTS", c.name);
            skip += 1;
            continue;
        }
        let t0 = Instant::now();
        let o = run_case(c, &format!("kq{}x{n}", std::process::id()));
        note_line(&format!(
            "{}: {:.1} s (case process and cleanup)",
            c.name,
            t0.elapsed().as_secs_f64()
        ));
        match o {
            Outcome::Pass => {
                pass += 1;
                println!("ok {n} {}", c.name);
            }
            Outcome::Fail(w) => {
                fail += 1;
                println!("not ok {n} {} # {w}", c.name);
            }
            Outcome::Todo(w) => {
                todo += 1;
                println!("not ok {n} {} # TODO {w}", c.name);
            }
            Outcome::Skip(w) => {
                skip += 1;
                println!("ok {n} {} # SKIP {w}", c.name);
            }
        }
    }
    note_line(&format!(
        "{title}: {:.1} s in all",
        started.elapsed().as_secs_f64()
    ));
    println!("# totals: pass:{pass} fail:{fail} xfail:{todo} xpass:0 skip:{skip} error:0");
    std::process::exit(if fail == 0 { 0 } else { 1 });
}

fn note_line(s: &str) {
    println!("# {s}");
}

/// Runs one case in its process and cleans up after it.
fn run_case(c: &Case, prefix: &str) -> Outcome {
    let base = match sys::module_refcnt() {
        Ok(b) => b,
        Err(e) => return Outcome::Fail(e),
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return Outcome::Fail(format!("current_exe: {e}")),
    };
    let child = Command::new(exe)
        .args(["--case", c.name])
        .env("KQ_PREFIX", prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(ch) => ch,
        Err(e) => return Outcome::Fail(format!("spawning the case process: {e}")),
    };
    let pgid = child.id() as i32;
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take();
    let reader = thread::spawn(move || {
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        }
    });
    let limit = c.deadline * slowdown();
    let deadline = Instant::now() + limit;
    let mut outcome = None;
    let mut hung = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(r) = line.strip_prefix(RESULT) {
                    let (word, why) = r.split_once(' ').unwrap_or((r, ""));
                    let why = why.to_string();
                    outcome = Some(match word {
                        "pass" => Outcome::Pass,
                        "todo" => Outcome::Todo(why),
                        "skip" => Outcome::Skip(why),
                        _ => Outcome::Fail(why),
                    });
                } else if line.starts_with('#') {
                    println!("{line}");
                } else {
                    println!("# {line}");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                hung = true;
                break;
            }
        }
    }
    if hung {
        note_line(&format!(
            "{}: watchdog: still running after {limit:?}; its tasks:",
            c.name
        ));
        for l in sys::describe_group(pgid) {
            note_line(&l);
        }
    }
    // The case's helpers (same group) go with it.
    sys::kill_group(pgid);
    let reaped = wait_exit(&mut child, Duration::from_secs(10));
    if reaped.is_none() {
        note_line(&format!(
            "{}: the case process {pgid} did not exit 10 s after SIGKILL",
            c.name
        ));
        for l in sys::describe_group(pgid) {
            note_line(&l);
        }
    } else {
        let _ = reader.join();
    }
    netns::delete_with_prefix(prefix);
    let mut outcome = if hung {
        Outcome::Fail(format!(
            "hung: killed by the watchdog after {:?}",
            c.deadline
        ))
    } else if let Some(o) = outcome {
        o
    } else {
        Outcome::Fail(format!(
            "the case process ended without a result ({})",
            reaped.map_or("not reaped".to_string(), |s| s.to_string())
        ))
    };
    // Nothing may be left behind: every socket the case made is freed (orphans end their
    // closing period, namespaces are dismantled).
    match sys::wait_refcnt(base, SETTLE * slowdown()) {
        Ok(d) if d > Duration::from_millis(100) => note_line(&format!(
            "{}: its last QUIC sockets were freed {:.1} s after it ended",
            c.name,
            d.as_secs_f64()
        )),
        Ok(_) => {}
        Err(e) => {
            if matches!(outcome, Outcome::Pass | Outcome::Skip(_)) {
                outcome = Outcome::Fail(e);
            } else {
                note_line(&e);
            }
        }
    }
    outcome
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if start.elapsed() >= limit {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}
