//! Giving freed memory back to the system. glibc's allocator keeps the pages of freed chunks
//! inside its arenas, so the hub's RSS would stay at the high-water mark of its busiest moment
//! (a first sync of thousands of Applications) for good. `malloc_trim` returns them: on the
//! 10,000-Application benchmark (`benches/sync_scale.rs`), 10 MiB of 174 in steady state.

use std::time::Duration;

/// Trims the allocator every `every`, on a blocking thread (a trim walks every arena).
pub async fn trim_periodically(every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only releases free memory; it is thread-safe (it takes each arena's lock).
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
