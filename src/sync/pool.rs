//! One cluster's worker pool: its queue (one pending entry per Application, never two
//! reconciles of one at once), its workers, its live cache, and its own backoff. A slow, failing
//! or unreachable cluster stalls only its own workers: its Applications are reported `Unknown`
//! with the reason, retried after a capped, jittered backoff, and all queued again when its
//! live cache goes stale or current (see [`super::live_health`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::live::LiveCache;
use super::queue::WorkQueue;
use crate::cluster::Cluster;

/// The cluster-level failure state.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    until: Option<Instant>,
    last_error: Option<String>,
}

pub struct Pool {
    pub server: String,
    pub cluster: Arc<Cluster>,
    pub live: Arc<LiveCache>,
    pub queue: Arc<WorkQueue<String>>,
    backoff: Mutex<Backoff>,
    base: Duration,
    cap: Duration,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    pub fn new(
        cluster: Arc<Cluster>,
        live: Arc<LiveCache>,
        queue: Arc<WorkQueue<String>>,
        base: Duration,
        cap: Duration,
    ) -> Pool {
        Pool {
            server: cluster.server().to_string(),
            cluster,
            live,
            queue,
            backoff: Mutex::default(),
            base,
            cap,
            workers: Mutex::default(),
        }
    }

    pub fn name(&self) -> &str {
        self.cluster.name()
    }

    /// Adds worker tasks (kept so that dropping the pool stops them).
    pub fn add_workers(&self, tasks: Vec<JoinHandle<()>>) {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(tasks);
    }

    /// Why the cluster cannot be worked with now, and until when: its live cache is stale
    /// (`None`: until it recovers, which queues its Applications again), or it is backing off.
    pub fn unavailable(&self) -> Option<(String, Option<Instant>)> {
        if let Some(cause) = self.live.stale() {
            return Some((cause, None));
        }
        self.backing_off().map(|(until, e)| (e, Some(until)))
    }

    /// The end of the current backoff and its cause, if the cluster is backing off.
    pub fn backing_off(&self) -> Option<(Instant, String)> {
        let b = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        match (b.until, &b.last_error) {
            (Some(until), Some(e)) if until > Instant::now() => Some((until, e.clone())),
            _ => None,
        }
    }

    /// Records a cluster-level failure; returns when to try again. The first failure's cause
    /// is the one reported until the cluster answers again (a status per change, not per
    /// wording of the error).
    pub fn failed(&self, error: String) -> Instant {
        let mut b = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        // Requests that were in flight together fail together: one failure per backoff window.
        if let Some(until) = b.until.filter(|u| *u > Instant::now()) {
            return until;
        }
        b.failures = b.failures.saturating_add(1);
        let exp = self.base.as_secs_f64() * 2f64.powi(b.failures.saturating_sub(1).min(16) as i32);
        let wait = Duration::from_secs_f64(exp.min(self.cap.as_secs_f64()));
        let until = Instant::now() + crate::timing::jittered(wait, wait / 5);
        if b.last_error.is_none() {
            tracing::warn!(cluster = %self.name(), server = %crate::api::ServerUrl(&self.server), error = %error, retry_in = ?wait, "cluster unavailable; backing off");
            b.last_error = Some(error);
        }
        b.until = Some(until);
        until
    }

    /// Records a successful contact: the backoff ends.
    pub fn succeeded(&self) {
        let mut b = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        if b.failures > 0 {
            tracing::info!(cluster = %self.name(), "cluster available again");
        }
        *b = Backoff::default();
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.backoff
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .failures
    }
}

/// Feeds the registry's probe of `cluster` to its live cache, for as long as both exist.
pub async fn follow_probe(cluster: Arc<Cluster>, live: std::sync::Weak<LiveCache>) {
    let mut state = cluster.watch_state();
    loop {
        let error = state.borrow_and_update().last_error.clone();
        match live.upgrade() {
            Some(live) => live.set_probe(error),
            None => return,
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for t in self
            .workers
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ClusterSecret;

    #[tokio::test]
    async fn backoff_grows_capped_and_resets() {
        let mut s = ClusterSecret::in_cluster();
        s.name = "dev".into();
        let cluster = Arc::new(Cluster::new(s, Err("no client".into()), 1));
        let client =
            kube::Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap()))
                .unwrap();
        let live = LiveCache::new(
            client,
            vec![],
            Arc::new(|_: &str| {}),
            Arc::new(|| {}),
            Duration::from_secs(1),
            "",
        );
        let pool = Pool::new(
            cluster,
            live,
            Arc::new(WorkQueue::default()),
            Duration::from_secs(1),
            Duration::from_secs(8),
        );
        assert!(pool.backing_off().is_none());
        let mut waits = Vec::new();
        for i in 0..6 {
            if i > 0 {
                // The previous window passes.
                pool.backoff.lock().unwrap().until = Some(Instant::now());
            }
            let now = Instant::now();
            let until = pool.failed("refused".into());
            assert_eq!(
                pool.failed("refused again".into()),
                until,
                "failures inside a window count once"
            );
            waits.push((until - now).as_secs_f64());
        }
        assert!(waits[0] >= 1.0 && waits[0] < 1.3, "{waits:?}");
        assert!(waits[2] >= 4.0 && waits[2] < 4.9, "{waits:?}");
        assert!(waits[5] >= 8.0 && waits[5] < 9.7, "capped: {waits:?}");
        assert_eq!(pool.backing_off().unwrap().1, "refused");
        pool.succeeded();
        assert!(pool.backing_off().is_none());
        assert_eq!(pool.consecutive_failures(), 0);
    }
}
