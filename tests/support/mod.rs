//! Shared helpers of the integration tests.

#![allow(dead_code)]

pub mod e2e;
pub mod git_repo;
pub mod git_servers;
pub mod hub;
pub mod sim;

use std::path::Path;
use std::process::Command;
use std::sync::{Once, mpsc};
use std::thread;
use std::time::Duration;

use flotilla::git::GitCache;

/// Runs `test` on its own thread and fails if it takes longer than `limit` (the thread is then
/// abandoned, but the test run goes on). Sets libgit2's network timeouts first, once.
pub fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    git_timeouts();
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(test());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Disconnected) => match handle.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the test thread ended without a result"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within {limit:?}"),
    }
}

/// Sets libgit2's network timeouts, once per test process.
pub fn git_timeouts() {
    static TIMEOUTS: Once = Once::new();
    // SAFETY: every test goes through this `Once` before touching libgit2, so nothing uses
    // libgit2 concurrently with the write.
    TIMEOUTS.call_once(|| unsafe {
        GitCache::set_network_timeouts(Duration::from_secs(5), Duration::from_secs(20))
    });
}

/// Runs `git` in `dir` with a fixed identity and dates and no user or system configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Fixture")
        .env("GIT_AUTHOR_EMAIL", "fixture@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_NAME", "Fixture")
        .env("GIT_COMMITTER_EMAIL", "fixture@example.com")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
