//! Refresh rounds shared by every reader of the Git cache: each repository is fetched at most
//! once per round, and a round starts only when the last one is older than the reader's
//! tolerance (or a refresh forces it). So one `ls-remote`-style resolution per (repository,
//! revision) serves every Application and ApplicationSet of the round.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::GitCache;

pub struct GitRounds {
    cache: Arc<GitCache>,
    started: Mutex<Option<Instant>>,
}

impl GitRounds {
    pub fn new(cache: Arc<GitCache>) -> Self {
        Self {
            cache,
            started: Mutex::new(None),
        }
    }

    pub fn cache(&self) -> &Arc<GitCache> {
        &self.cache
    }

    /// Starts a round unless the current one is younger than `max_age`. Returns whether it did.
    pub fn refresh_if_older(&self, max_age: Duration) -> bool {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if started.is_some_and(|t| now.duration_since(t) < max_age) {
            return false;
        }
        *started = Some(now);
        self.cache.begin_round();
        true
    }

    /// Starts a round now (a refresh annotation, a webhook).
    pub fn force(&self) {
        *self.started.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
        self.cache.begin_round();
    }

    /// Age of the current round.
    pub fn age(&self) -> Option<Duration> {
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|t| t.elapsed())
    }
}
