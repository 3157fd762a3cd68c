//! When an ApplicationSet's pass reads Git afresh: on a refresh (annotation or webhook), on its
//! first pass and after a spec change, and once its git generators' requeue interval
//! (`requeueAfterSeconds`, 180 s by default) has gone by since the last fresh read. Other passes
//! (a cluster change, an owned Application edited) reuse the last fetch. One entry per
//! ApplicationSet, dropped when it is deleted.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How a pass should get Git data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// Start a new round now (a refresh was asked for).
    Force,
    /// Start a new round unless the current one is younger than this.
    IfOlder(Duration),
    /// The data of the last fetch will do.
    No,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    fetched_at: Instant,
    generation: i64,
    /// The git generators' requeue interval, as the last successful evaluation found it (`None`:
    /// no git generator).
    interval: Option<Duration>,
}

/// Per ApplicationSet (by uid): when it last read Git afresh, at which generation, and how often
/// its git generators want to.
#[derive(Debug, Default)]
pub struct Freshness {
    entries: Mutex<HashMap<String, Entry>>,
}

/// The share of the interval after which data counts as stale: the periodic pass comes after the
/// interval plus jitter, so anything close to it is that pass.
const STALE_AT: f64 = 0.95;

impl Freshness {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides for a pass of ApplicationSet `uid` at `generation` starting `now`, and records a
    /// fresh read when it asks for one. `min_age`: the youngest round a periodic read may reuse
    /// (`--git-min-interval`), shortened to the ApplicationSet's own interval when that is
    /// shorter.
    pub fn begin(
        &self,
        uid: &str,
        generation: i64,
        refresh: bool,
        now: Instant,
        min_age: Duration,
    ) -> Fetch {
        let mut entries = self.entries();
        let previous = entries.get(uid).copied();
        let interval = previous.and_then(|e| e.interval);
        let decision = if refresh {
            Fetch::Force
        } else {
            match previous {
                None => Fetch::IfOlder(min_age),
                Some(e) if e.generation != generation => Fetch::IfOlder(min_age),
                Some(e) => match e.interval.map(|i| i.mul_f64(STALE_AT)) {
                    Some(stale_after)
                        if now.saturating_duration_since(e.fetched_at) >= stale_after =>
                    {
                        Fetch::IfOlder(min_age.min(stale_after))
                    }
                    _ => Fetch::No,
                },
            }
        };
        if decision != Fetch::No {
            entries.insert(
                uid.to_string(),
                Entry {
                    fetched_at: now,
                    generation,
                    interval,
                },
            );
        }
        decision
    }

    /// Records the requeue interval the ApplicationSet's git generators ask for.
    pub fn set_interval(&self, uid: &str, interval: Option<Duration>) {
        if let Some(e) = self.entries().get_mut(uid) {
            e.interval = interval;
        }
    }

    /// Forgets a deleted ApplicationSet.
    pub fn forget(&self, uid: &str) {
        self.entries().remove(uid);
    }

    /// ApplicationSets tracked.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(10);

    #[test]
    fn first_pass_spec_change_and_refresh_fetch() {
        let f = Freshness::default();
        let t0 = Instant::now();
        assert_eq!(f.begin("a", 1, false, t0, MIN), Fetch::IfOlder(MIN));
        assert_eq!(f.begin("a", 1, false, t0, MIN), Fetch::No);
        assert_eq!(f.begin("a", 2, false, t0, MIN), Fetch::IfOlder(MIN));
        assert_eq!(f.begin("a", 2, true, t0, MIN), Fetch::Force);
        assert_eq!(f.len(), 1);
        f.forget("a");
        assert!(f.is_empty());
    }

    #[test]
    fn the_requeue_interval_decides_staleness_however_short() {
        let f = Freshness::default();
        let t0 = Instant::now();
        f.begin("a", 1, false, t0, MIN);
        f.set_interval("a", Some(Duration::from_secs(5)));
        assert_eq!(
            f.begin("a", 1, false, t0 + Duration::from_secs(3), MIN),
            Fetch::No
        );
        // 5 s, not 170 s and not the 10 s minimum age: a fetch at the interval asked for.
        let at = t0 + Duration::from_secs(5);
        assert_eq!(
            f.begin("a", 1, false, at, MIN),
            Fetch::IfOlder(Duration::from_secs(5).mul_f64(STALE_AT))
        );
        assert_eq!(
            f.begin("a", 1, false, at + Duration::from_secs(1), MIN),
            Fetch::No
        );
        // The default 180 s: stale after 171 s, fetched subject to the 10 s minimum age.
        f.set_interval("a", Some(Duration::from_secs(180)));
        assert_eq!(
            f.begin("a", 1, false, at + Duration::from_secs(170), MIN),
            Fetch::No
        );
        assert_eq!(
            f.begin("a", 1, false, at + Duration::from_secs(172), MIN),
            Fetch::IfOlder(MIN)
        );
    }

    #[test]
    fn without_git_generators_time_alone_never_fetches() {
        let f = Freshness::default();
        let t0 = Instant::now();
        f.begin("a", 1, false, t0, MIN);
        f.set_interval("a", None);
        assert_eq!(
            f.begin("a", 1, false, t0 + Duration::from_secs(3600), MIN),
            Fetch::No
        );
    }
}
