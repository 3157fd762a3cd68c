//! When to sync, without I/O: Argo CD's automated-sync rules (`appcontroller.go` `autoSync`),
//! user-requested operations, and retries with backoff (`RetryStrategy.NextRetryAt`).

use std::time::Duration;

use crate::api::application::{OperationState, RetryStrategy, SyncPolicyAutomated};
use crate::api::operation::{Operation, OperationInitiator, SyncOperation};
use crate::api::{Application, ApplicationSpec};

/// Phases of `status.operationState`.
pub mod phase {
    pub const RUNNING: &str = "Running";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const FAILED: &str = "Failed";
    pub const ERROR: &str = "Error";
}

/// The automated policy in force, if any (`enabled: null` means on).
pub fn automated(spec: &ApplicationSpec) -> Option<&SyncPolicyAutomated> {
    spec.sync_policy
        .as_ref()?
        .automated
        .as_ref()
        .filter(|a| a.enabled != Some(false))
}

/// What the comparison found, as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The revision compared against (the resolved commit of the target revision).
    pub revision: String,
    /// The commit of each source; with several sources, a sync is to all of them (a commit to
    /// the second source alone is a new target, as in Argo CD).
    pub revisions: Vec<String>,
    /// Some desired resource is missing or differs.
    pub needs_apply: bool,
    /// Some owned resource is no longer desired.
    pub needs_prune: bool,
}

/// What the automated policy asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoSync {
    /// Nothing to do (in sync, or automation off).
    No,
    /// Start an automated sync to the observed revision.
    Sync { prune: bool, self_heal: bool },
    /// The last automated sync to this revision failed: not again (the condition says so).
    FailedBefore(String),
    /// Only pruning would change anything, and prune is off.
    PruneDisabled,
}

/// Argo CD's rules: sync when out of sync, unless the last automated sync to the same revision
/// failed (it is not retried beyond its retry strategy) or succeeded without `selfHeal` (drift
/// at an already-synced revision is then left alone).
pub fn auto_sync(app: &Application, observed: &Observed) -> AutoSync {
    let Some(auto) = automated(&app.spec) else {
        return AutoSync::No;
    };
    if !observed.needs_apply && !observed.needs_prune {
        return AutoSync::No;
    }
    if !observed.needs_apply && observed.needs_prune && !auto.prune {
        return AutoSync::PruneDisabled;
    }
    let last = app.status.as_ref().and_then(|s| s.operation_state.as_ref());
    if let Some(last) = last {
        let automated_last = last
            .operation
            .as_ref()
            .and_then(|o| o.initiated_by.as_ref())
            .is_some_and(|i| i.automated);
        if synced_to(last, observed) && automated_last {
            if last.phase == phase::FAILED || last.phase == phase::ERROR {
                return AutoSync::FailedBefore(observed.revision.clone());
            }
            if last.phase == phase::SUCCEEDED && !auto.self_heal {
                return AutoSync::No;
            }
        }
    }
    let self_heal = last.is_some_and(|l| synced_to(l, observed) && l.phase == phase::SUCCEEDED);
    AutoSync::Sync {
        prune: auto.prune,
        self_heal,
    }
}

/// Whether the operation `last` synced the observed revision: with several sources, the
/// revisions its (automated) operation asked for, all of them; else its result's revision.
fn synced_to(last: &OperationState, observed: &Observed) -> bool {
    if observed.revisions.len() > 1 {
        return last
            .operation
            .as_ref()
            .and_then(|o| o.sync.as_ref())
            .is_some_and(|s| s.revisions == observed.revisions);
    }
    last.sync_result
        .as_ref()
        .is_some_and(|r| r.revision == observed.revision)
}

/// The operation an automated sync to `observed` records (with several sources, the revision
/// of each).
pub fn automated_operation(observed: &Observed, prune: bool, sync_options: &[String]) -> Operation {
    let revisions = if observed.revisions.len() > 1 {
        observed.revisions.clone()
    } else {
        Vec::new()
    };
    Operation {
        sync: Some(SyncOperation {
            revision: Some(observed.revision.clone()),
            revisions,
            prune,
            sync_options: sync_options.to_vec(),
            ..Default::default()
        }),
        initiated_by: Some(OperationInitiator {
            username: None,
            automated: true,
        }),
        ..Default::default()
    }
}

/// `5s`, `2m`, `1h`, `1h30m`, `500ms` (Go's `time.ParseDuration` subset Argo CD manifests use).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" | "" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

/// The wait before retry `attempt` (1-based): `duration · factor^(attempt-1)`, capped at
/// `maxDuration`; defaults 5 s, ×2, 3 m. `None` when the limit is reached (`limit < 0`:
/// unlimited; no strategy: no retry).
pub fn next_retry(strategy: Option<&RetryStrategy>, attempt: i64) -> Option<Duration> {
    let s = strategy?;
    let limit = s.limit.unwrap_or(0);
    if limit >= 0 && attempt > limit {
        return None;
    }
    let b = s.backoff.clone().unwrap_or_default();
    let base = b
        .duration
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(5));
    let factor = b.factor.unwrap_or(2).max(1) as f64;
    let cap = b
        .max_duration
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(180));
    let wait = base.as_secs_f64() * factor.powi((attempt - 1).clamp(0, 62) as i32);
    Some(Duration::from_secs_f64(wait.min(cap.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::application::SyncOperationResult;
    use serde_json::json;

    fn app(policy: serde_json::Value, last: Option<(&str, &str, bool)>) -> Application {
        let spec: ApplicationSpec = serde_json::from_value(
            json!({"project": "default", "destination": {"name": "dev"}, "syncPolicy": policy}),
        )
        .unwrap();
        let mut a = Application::new("a", spec);
        if let Some((phase, revision, automated)) = last {
            let op = Operation {
                initiated_by: Some(OperationInitiator {
                    username: None,
                    automated,
                }),
                ..Default::default()
            };
            a.status = Some(crate::api::ApplicationStatus {
                operation_state: Some(OperationState {
                    operation: Some(op),
                    phase: phase.into(),
                    sync_result: Some(SyncOperationResult {
                        revision: revision.into(),
                        resources: vec![],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        a
    }

    fn observed(rev: &str, apply: bool, prune: bool) -> Observed {
        Observed {
            revision: rev.into(),
            revisions: vec![rev.into()],
            needs_apply: apply,
            needs_prune: prune,
        }
    }

    #[test]
    fn automated_rules() {
        let auto = json!({"automated": {"prune": false}});
        assert_eq!(
            auto_sync(&app(json!(null), None), &observed("r1", true, false)),
            AutoSync::No,
            "manual apps never auto-sync"
        );
        assert_eq!(
            auto_sync(
                &app(json!({"automated": {"enabled": false}}), None),
                &observed("r1", true, false)
            ),
            AutoSync::No
        );
        assert_eq!(
            auto_sync(&app(auto.clone(), None), &observed("r1", true, false)),
            AutoSync::Sync {
                prune: false,
                self_heal: false
            }
        );
        assert_eq!(
            auto_sync(&app(auto.clone(), None), &observed("r1", false, false)),
            AutoSync::No
        );
        assert_eq!(
            auto_sync(&app(auto.clone(), None), &observed("r1", false, true)),
            AutoSync::PruneDisabled
        );
        // Drift at an already-synced revision: only with selfHeal.
        let synced = Some(("Succeeded", "r1", true));
        assert_eq!(
            auto_sync(&app(auto.clone(), synced), &observed("r1", true, false)),
            AutoSync::No
        );
        let heal = json!({"automated": {"selfHeal": true, "prune": true}});
        assert_eq!(
            auto_sync(&app(heal.clone(), synced), &observed("r1", true, false)),
            AutoSync::Sync {
                prune: true,
                self_heal: true
            }
        );
        // A new revision always syncs; a failed one is not tried again.
        assert_eq!(
            auto_sync(&app(auto.clone(), synced), &observed("r2", true, false)),
            AutoSync::Sync {
                prune: false,
                self_heal: false
            }
        );
        assert_eq!(
            auto_sync(
                &app(heal, Some(("Failed", "r1", true))),
                &observed("r1", true, false)
            ),
            AutoSync::FailedBefore("r1".into())
        );
        // A manual sync to the same revision does not count as an automated attempt.
        assert_eq!(
            auto_sync(
                &app(auto, Some(("Failed", "r1", false))),
                &observed("r1", true, false)
            ),
            AutoSync::Sync {
                prune: false,
                self_heal: false
            }
        );
    }

    #[test]
    fn with_several_sources_a_commit_to_any_is_a_new_target() {
        let auto = json!({"automated": {"prune": true}});
        let two = |a: &str, b: &str| Observed {
            revision: a.into(),
            revisions: vec![a.into(), b.into()],
            needs_apply: true,
            needs_prune: false,
        };
        let op = automated_operation(&two("a1", "b1"), true, &[]);
        let sync = op.sync.clone().unwrap();
        assert_eq!(
            (sync.revision.as_deref(), sync.revisions.as_slice()),
            (Some("a1"), ["a1".to_string(), "b1".to_string()].as_slice())
        );
        let mut synced = app(auto, Some(("Succeeded", "a1", true)));
        synced
            .status
            .as_mut()
            .unwrap()
            .operation_state
            .as_mut()
            .unwrap()
            .operation = Some(op);
        // The same commits, drifted: left alone without selfHeal.
        assert_eq!(auto_sync(&synced, &two("a1", "b1")), AutoSync::No);
        // The second source moved, the first did not: a sync.
        assert_eq!(
            auto_sync(&synced, &two("a1", "b2")),
            AutoSync::Sync {
                prune: true,
                self_heal: false
            }
        );
        // One source: the revision alone counts, as before.
        assert_eq!(
            automated_operation(&observed("r1", true, false), false, &[])
                .sync
                .unwrap()
                .revisions,
            Vec::<String>::new()
        );
    }

    #[test]
    fn retries_back_off_and_stop_at_the_limit() {
        let s: RetryStrategy = serde_json::from_value(
            json!({"limit": 3, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "12s"}}),
        )
        .unwrap();
        let waits: Vec<Option<Duration>> = (1..=4).map(|n| next_retry(Some(&s), n)).collect();
        assert_eq!(
            waits,
            [
                Some(Duration::from_secs(5)),
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(12)),
                None
            ]
        );
        assert_eq!(next_retry(None, 1), None);
        let unlimited: RetryStrategy = serde_json::from_value(json!({"limit": -1})).unwrap();
        assert_eq!(
            next_retry(Some(&unlimited), 100),
            Some(Duration::from_secs(180))
        );
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("3 days"), None);
    }
}
