//! Jitter for periodic work, so a fleet of objects does not tick in lockstep.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

static STATE: AtomicU64 = AtomicU64::new(0);

/// A uniform number in [0, 1) (xorshift seeded from the clock; quality is irrelevant here).
pub fn unit() -> f64 {
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9)
            | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// `base` plus up to `extra`, uniformly.
pub fn jittered(base: Duration, extra: Duration) -> Duration {
    base + extra.mul_f64(unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let base = Duration::from_secs(120);
        let extra = Duration::from_secs(60);
        let samples: Vec<Duration> = (0..1000).map(|_| jittered(base, extra)).collect();
        assert!(samples.iter().all(|d| *d >= base && *d < base + extra));
        let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / 1000.0;
        assert!((mean - 150.0).abs() < 5.0, "{mean}");
    }
}
