//! What the crash tests share — the engine's (`crash`) and the outbox's
//! (`tests/tests/outbox/crash.rs`, which includes this file as
//! `statusport_tests::crash`): a seeded generator of kill moments, and a
//! worker process run until it finishes or killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The seed of a crash test: `CRASH_SEED` to replay a failure, else the
/// clock. Printed so that a failing run names it.
pub fn seed() -> u64 {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::from(d.subsec_nanos()))
                .unwrap_or(1)
                | 1
        });
    eprintln!("CRASH_SEED={seed}");
    seed
}

/// The next number of a xorshift sequence: deterministic for one seed.
pub fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Runs a worker that prints `started` once it is ready. With `kill_after`,
/// kills it (SIGKILL: no destructor, no flush) that long after `started`;
/// without, waits for it to finish and asserts it succeeded. Returns the
/// lines it printed.
pub fn run_worker(mut command: Command, kill_after: Option<Duration>) -> Vec<String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the worker starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let lines = lines.clone();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        })
    };
    match kill_after {
        Some(after) => {
            let deadline = Instant::now() + Duration::from_secs(120);
            while !lines
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|l| l == "started")
            {
                assert!(Instant::now() < deadline, "the worker did not start");
                if child.try_wait().expect("the worker's status").is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(after);
            let _ = child.kill();
            child.wait().expect("the worker is reaped");
        }
        None => {
            let status = child.wait().expect("the worker finishes");
            assert!(status.success(), "the last worker run failed: {status}");
        }
    }
    reader.join().expect("the reader ends");
    // The reader has ended: the lines are ours alone.
    Arc::try_unwrap(lines)
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .unwrap_or_default()
}
