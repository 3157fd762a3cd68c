//! Fault injection and request counting, per virtual cluster.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::error::ApiError;

/// How a virtual cluster's endpoint behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answers normally (after the configured latency and error rates).
    #[default]
    Normal,
    /// Accepts connections and never answers.
    Blackhole,
    /// Refuses connections (its port is closed; open connections are dropped).
    Down,
}

/// The faults of one virtual cluster. Rates are fractions of requests in [0, 1].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Added to every request.
    pub latency_ms: u64,
    /// Fraction answered 500 InternalError.
    pub error_rate: f64,
    /// Fraction answered 429 TooManyRequests with Retry-After.
    pub throttle_rate: f64,
    /// Retry-After of throttled answers (default 1).
    pub retry_after_seconds: u64,
    pub mode: Mode,
}

impl FaultConfig {
    /// Rejects rates outside [0, 1].
    pub fn validate(&self) -> Result<(), String> {
        for (name, r) in [
            ("errorRate", self.error_rate),
            ("throttleRate", self.throttle_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(format!("{name} must be between 0 and 1, got {r}"));
            }
        }
        Ok(())
    }
}

/// What to do with a request.
#[derive(Debug)]
pub enum Verdict {
    Proceed,
    Fail(ApiError),
    /// Never answer.
    Hang,
}

/// The live fault settings; listeners and connections watch them.
pub struct Faults {
    config: watch::Sender<FaultConfig>,
    rng: AtomicU64,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

impl Faults {
    pub fn new() -> Self {
        let seed = u64::from_le_bytes(
            super::object::new_uid().as_bytes()[..8]
                .try_into()
                .unwrap_or([7; 8]),
        ) | 1;
        Self {
            config: watch::channel(FaultConfig::default()).0,
            rng: AtomicU64::new(seed),
        }
    }

    pub fn get(&self) -> FaultConfig {
        self.config.borrow().clone()
    }

    pub fn set(&self, config: FaultConfig) {
        self.config.send_replace(config);
    }

    pub fn watch(&self) -> watch::Receiver<FaultConfig> {
        self.config.subscribe()
    }

    pub fn mode(&self) -> Mode {
        self.config.borrow().mode
    }

    /// A uniform number in [0, 1) (xorshift; quality is irrelevant here, speed is not).
    fn roll(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The latency to add and the verdict for one request.
    pub fn decide(&self) -> (Duration, Verdict) {
        let c = self.config.borrow().clone();
        let latency = Duration::from_millis(c.latency_ms);
        if c.mode != Mode::Normal {
            return (latency, Verdict::Hang);
        }
        if c.error_rate > 0.0 && self.roll() < c.error_rate {
            return (latency, Verdict::Fail(ApiError::internal("injected fault")));
        }
        if c.throttle_rate > 0.0 && self.roll() < c.throttle_rate {
            return (
                latency,
                Verdict::Fail(ApiError::too_many_requests(c.retry_after_seconds.max(1))),
            );
        }
        (latency, Verdict::Proceed)
    }
}

/// One counter: how many requests of a verb on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCount {
    pub verb: String,
    /// `configmaps`, `deployments.apps`, `serviceaccounts/token`, or a path for non-resource requests.
    pub resource: String,
    pub count: u64,
}

/// Requests by (verb, resource). Verbs are kube-apiserver's: get, list, watch, create, update,
/// patch, apply (server-side apply), delete, deletecollection.
#[derive(Default)]
pub struct Counters(Mutex<BTreeMap<(String, String), u64>>);

impl Counters {
    pub fn add(&self, verb: &str, resource: &str) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry((verb.to_string(), resource.to_string()))
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> Vec<RequestCount> {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .map(|((verb, resource), count)| RequestCount {
                verb: verb.clone(),
                resource: resource.clone(),
                count: *count,
            })
            .collect()
    }

    /// Requests of `verb` on `resource` ("*" matches any).
    pub fn count(&self, verb: &str, resource: &str) -> u64 {
        let m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .filter(|((v, r), _)| (verb == "*" || v == verb) && (resource == "*" || r == resource))
            .map(|(_, c)| *c)
            .sum()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_roughly_honoured() {
        let f = Faults::new();
        f.set(FaultConfig {
            error_rate: 0.3,
            ..Default::default()
        });
        let fails = (0..10_000)
            .filter(|_| matches!(f.decide().1, Verdict::Fail(_)))
            .count();
        assert!((2500..3500).contains(&fails), "{fails}");
        f.set(FaultConfig {
            mode: Mode::Blackhole,
            ..Default::default()
        });
        assert!(matches!(f.decide().1, Verdict::Hang));
        assert!(
            FaultConfig {
                throttle_rate: 1.5,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn counters_count_by_verb_and_resource() {
        let c = Counters::default();
        c.add("get", "configmaps");
        c.add("get", "configmaps");
        c.add("list", "deployments.apps");
        assert_eq!(c.count("get", "configmaps"), 2);
        assert_eq!(c.count("*", "*"), 3);
        c.reset();
        assert_eq!(c.count("*", "*"), 0);
    }
}
