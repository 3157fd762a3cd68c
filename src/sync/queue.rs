//! The work queue of one cluster's pool, with kube-runtime's guarantees: one pending entry per
//! key (adding a pending key keeps the earlier of the two due times), never two workers on one
//! key (a key added while it runs is queued again when it finishes), and delayed entries.
//!
//! [`Schedule`] is the data structure, pure and tested without waiting; [`WorkQueue`] wraps it
//! for async workers.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Pending keys by due time, and the keys being worked on.
#[derive(Debug)]
pub struct Schedule<K: Ord + Hash + Clone> {
    due: BTreeSet<(Instant, u64, K)>,
    pending: HashMap<K, (Instant, u64)>,
    running: HashSet<K>,
    /// Keys added while running: due again when they finish (at the earliest time asked).
    again: HashMap<K, Instant>,
    seq: u64,
}

impl<K: Ord + Hash + Clone> Default for Schedule<K> {
    fn default() -> Self {
        Self {
            due: BTreeSet::new(),
            pending: HashMap::new(),
            running: HashSet::new(),
            again: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Ord + Hash + Clone> Schedule<K> {
    /// Schedules `key` at `at`; a key already pending keeps the earlier time.
    pub fn add(&mut self, key: K, at: Instant) {
        if self.running.contains(&key) {
            let e = self.again.entry(key).or_insert(at);
            *e = (*e).min(at);
            return;
        }
        if let Some(&(old, seq)) = self.pending.get(&key) {
            if old <= at {
                return;
            }
            self.due.remove(&(old, seq, key.clone()));
        }
        self.seq += 1;
        self.due.insert((at, self.seq, key.clone()));
        self.pending.insert(key, (at, self.seq));
    }

    /// Removes a pending key (a deleted object); a running one is not queued again.
    pub fn remove(&mut self, key: &K) {
        if let Some((at, seq)) = self.pending.remove(key) {
            self.due.remove(&(at, seq, key.clone()));
        }
        self.again.remove(key);
    }

    /// The next key due at `now`, now marked running; or the time the next one is due.
    pub fn pop(&mut self, now: Instant) -> Result<K, Option<Instant>> {
        let Some((at, seq, key)) = self.due.first().cloned() else {
            return Err(None);
        };
        if at > now {
            return Err(Some(at));
        }
        self.due.remove(&(at, seq, key.clone()));
        self.pending.remove(&key);
        self.running.insert(key.clone());
        Ok(key)
    }

    /// `key` is done; `requeue` asks for another run at that time.
    pub fn done(&mut self, key: &K, requeue: Option<Instant>) {
        self.running.remove(key);
        let again = self.again.remove(key);
        let at = match (again, requeue) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = at {
            self.add(key.clone(), at);
        }
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Pending entries due at `now`.
    pub fn ready(&self, now: Instant) -> usize {
        self.due.iter().take_while(|(at, _, _)| *at <= now).count()
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn is_pending(&self, key: &K) -> bool {
        self.pending.contains_key(key) || self.again.contains_key(key)
    }
}

/// Keys being worked on across several queues (an Application that moves to another
/// cluster's pool while a pass of it runs in the old one), and whether another worker asked for
/// one meanwhile.
#[derive(Debug, Default)]
pub struct Claims(Mutex<HashMap<String, bool>>);

impl Claims {
    /// Claims `key`; `false` (and noted as wanted) when it is claimed already.
    pub fn claim(&self, key: &str) -> bool {
        let mut m = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match m.get_mut(key) {
            Some(wanted) => {
                *wanted = true;
                false
            }
            None => {
                m.insert(key.to_string(), false);
                true
            }
        }
    }

    /// Releases `key`; returns whether another worker wanted it meanwhile.
    pub fn release(&self, key: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
            .unwrap_or(false)
    }
}

/// The async queue: workers `next().await` a key, run it, and call `done`.
pub struct WorkQueue<K: Ord + Hash + Clone> {
    schedule: Mutex<Schedule<K>>,
    notify: Notify,
}

impl<K: Ord + Hash + Clone> Default for WorkQueue<K> {
    fn default() -> Self {
        Self {
            schedule: Mutex::new(Schedule::default()),
            notify: Notify::new(),
        }
    }
}

impl<K: Ord + Hash + Clone> WorkQueue<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Schedule<K>> {
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `key` as soon as possible.
    pub fn add(&self, key: K) {
        self.add_at(key, Instant::now());
    }

    pub fn add_after(&self, key: K, delay: Duration) {
        self.add_at(key, Instant::now() + delay);
    }

    pub fn add_at(&self, key: K, at: Instant) {
        self.lock().add(key, at);
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    pub fn remove(&self, key: &K) {
        self.lock().remove(key);
    }

    /// The next due key (waits for one).
    pub async fn next(&self) -> K {
        loop {
            let notified = self.notify.notified();
            let wait = match self.lock().pop(Instant::now()) {
                Ok(key) => return key,
                Err(next) => next,
            };
            match wait {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    pub fn done(&self, key: &K, requeue: Option<Duration>) {
        self.lock().done(key, requeue.map(|d| Instant::now() + d));
        self.notify.notify_waiters();
        self.notify.notify_one();
    }

    /// (pending, due now, running).
    pub fn depth(&self) -> (usize, usize, usize) {
        let s = self.lock();
        (s.len(), s.ready(Instant::now()), s.running())
    }

    pub fn is_pending(&self, key: &K) -> bool {
        self.lock().is_pending(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_key_earliest_time_wins() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.add("a", t0 + Duration::from_secs(10));
        s.add("a", t0 + Duration::from_secs(5));
        s.add("a", t0 + Duration::from_secs(20));
        assert_eq!(s.len(), 1);
        assert_eq!(s.pop(t0), Err(Some(t0 + Duration::from_secs(5))));
        assert_eq!(s.pop(t0 + Duration::from_secs(5)), Ok("a"));
        assert_eq!(s.pop(t0 + Duration::from_secs(60)), Err(None));
    }

    #[test]
    fn a_running_key_is_never_handed_out_twice() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        s.add("a", t0);
        assert_eq!(s.pop(t0), Ok("a"));
        s.add("a", t0);
        s.add("b", t0);
        assert_eq!(s.pop(t0), Ok("b"), "a is running: only b is handed out");
        assert_eq!(s.pop(t0), Err(None));
        assert!(s.is_pending(&"a"));
        s.done(&"a", Some(t0 + Duration::from_secs(30)));
        assert_eq!(
            s.pop(t0),
            Ok("a"),
            "re-added while running: due at the earlier time"
        );
        s.done(&"a", None);
        s.done(&"b", Some(t0 + Duration::from_secs(3)));
        assert_eq!(s.pop(t0), Err(Some(t0 + Duration::from_secs(3))));
    }

    #[test]
    fn removal_and_fifo_order_for_equal_times() {
        let t0 = Instant::now();
        let mut s = Schedule::default();
        for k in ["c", "a", "b"] {
            s.add(k, t0);
        }
        s.remove(&"a");
        assert_eq!(s.pop(t0), Ok("c"));
        assert_eq!(s.pop(t0), Ok("b"));
        assert_eq!(s.pop(t0), Err(None));
    }

    #[test]
    fn claims_exclude_a_second_worker_and_remember_it() {
        let c = Claims::default();
        assert!(c.claim("a"));
        assert!(c.claim("b"));
        assert!(!c.claim("a"), "claimed by another worker");
        assert!(c.release("a"), "the other worker is owed a pass");
        assert!(!c.release("b"));
        assert!(c.claim("a"), "free again");
        assert!(!c.release("a"));
        assert!(!c.release("never"));
    }

    #[tokio::test(start_paused = true)]
    async fn workers_wait_for_due_keys() {
        let q = std::sync::Arc::new(WorkQueue::default());
        q.add_after("later", Duration::from_secs(5));
        let t0 = Instant::now();
        let q2 = q.clone();
        let got = tokio::spawn(async move { q2.next().await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        q.add("now");
        assert_eq!(got.await.unwrap(), "now");
        assert_eq!(q.next().await, "later");
        assert!(Instant::now() - t0 >= Duration::from_secs(5));
        assert_eq!(q.depth(), (0, 0, 2));
    }
}
