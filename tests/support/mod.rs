//! Shared helpers of the integration tests.

#![allow(dead_code)]

pub mod git_servers;

use std::sync::{Once, mpsc};
use std::thread;
use std::time::Duration;

use flotilla::git::GitCache;

/// Runs `test` on its own thread and fails if it takes longer than `limit` (the thread is then
/// abandoned, but the test run goes on). Sets libgit2's network timeouts first, once.
pub fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    static TIMEOUTS: Once = Once::new();
    // SAFETY: every test goes through this `Once` before touching libgit2, so nothing uses
    // libgit2 concurrently with the write.
    TIMEOUTS.call_once(|| unsafe {
        GitCache::set_network_timeouts(Duration::from_secs(5), Duration::from_secs(20))
    });
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
