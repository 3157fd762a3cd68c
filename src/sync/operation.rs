//! When to sync, without I/O: Argo CD's automated-sync rules (`appcontroller.go` `autoSync`),
//! user-requested operations, and retries with backoff (`RetryStrategy.NextRetryAt`).

use std::time::Duration;

use crate::api::application::{
    ApplicationSource, OperationState, RetryStrategy, SyncPolicyAutomated,
};
use crate::api::operation::{Operation, OperationInitiator, SyncOperation};
use crate::api::{ApplicationSpec, ApplicationStatus};

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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// The revision compared against (the resolved commit of the first source).
    pub revision: String,
    /// The commit of each source, in order; with several sources, a sync is to all of them (a
    /// commit to the second source alone is a new target, as in Argo CD).
    pub revisions: Vec<String>,
    /// Some desired resource is missing or differs.
    pub needs_apply: bool,
    /// Some owned resource is no longer desired.
    pub needs_prune: bool,
    /// Every resource of the Application would be pruned: the source renders nothing while
    /// the Application has live resources.
    pub prunes_all: bool,
}

/// What the automated policy asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoSync {
    /// Nothing to do (in sync, or automation off, or the last sync to this revision succeeded
    /// and `selfHeal` is off).
    No,
    /// Start an automated sync to the observed revision; `self_heal`: the last sync to it
    /// succeeded, this one reverts drift.
    Sync { prune: bool, self_heal: bool },
    /// The last sync to this revision and source, of any kind, failed: not again (only a new
    /// revision or `syncPolicy.retry` tries again). The `SyncError` condition's message.
    FailedBefore(String),
    /// Only pruning would change anything, and prune is off.
    PruneDisabled,
    /// The sync would delete every resource and `allowEmpty` is off. The `SyncError` message.
    WouldPruneAll(String),
}

impl AutoSync {
    /// The `SyncError` condition this decision sets (none: the condition is cleared).
    pub fn sync_error(&self) -> Option<&str> {
        match self {
            AutoSync::FailedBefore(m) | AutoSync::WouldPruneAll(m) => Some(m),
            _ => None,
        }
    }
}

/// Argo CD's `autoSync`: sync when out of sync, unless the last sync operation — automated or
/// requested by a user — targeted the same revision and source (`alreadyAttemptedSync`): after
/// a failure it is not tried again (the retry strategy is the only retry), after a success only
/// `selfHeal` syncs again (drift at an already-synced revision is otherwise left alone). With
/// `prune` and without `allowEmpty`, a sync that would delete every resource is refused.
pub fn auto_sync(
    spec: &ApplicationSpec,
    status: Option<&ApplicationStatus>,
    observed: &Observed,
) -> AutoSync {
    let Some(auto) = automated(spec) else {
        return AutoSync::No;
    };
    if !observed.needs_apply && !observed.needs_prune {
        return AutoSync::No;
    }
    if !observed.needs_apply && observed.needs_prune && !auto.prune {
        return AutoSync::PruneDisabled;
    }
    let self_heal = match already_attempted(spec, status, observed) {
        Some(last) if last.phase != phase::SUCCEEDED => {
            return AutoSync::FailedBefore(format!(
                "Failed sync attempt to {}: {}",
                observed.revision,
                last.message.as_deref().unwrap_or_default()
            ));
        }
        Some(_) if !auto.self_heal => return AutoSync::No,
        Some(_) => true,
        None => false,
    };
    if auto.prune && !auto.allow_empty && observed.prunes_all {
        return AutoSync::WouldPruneAll(format!(
            "Skipping sync attempt to {}: auto-sync will wipe out all resources (set syncPolicy.automated.allowEmpty to allow it)",
            observed.revision
        ));
    }
    AutoSync::Sync {
        prune: auto.prune,
        self_heal,
    }
}

/// The last finished sync operation, if it synced the observed revision(s) with the
/// Application's current source(s) (`targetRevision` aside: `main` and the commit it resolved
/// to are one target). Argo CD's `alreadyAttemptedSync`, for operations of any initiator.
fn already_attempted<'a>(
    spec: &ApplicationSpec,
    status: Option<&'a ApplicationStatus>,
    observed: &Observed,
) -> Option<&'a OperationState> {
    let last = status?.operation_state.as_ref()?;
    last.operation.as_ref()?.sync.as_ref()?;
    let result = last.sync_result.as_ref()?;
    if last.phase == phase::RUNNING {
        return None;
    }
    // Moved to another destination since: a new target.
    if result
        .destination
        .as_ref()
        .is_some_and(|d| *d != spec.destination)
    {
        return None;
    }
    if spec.sources.is_empty() {
        if result.revision != observed.revision {
            return None;
        }
        // A result recorded before sources were recorded compares by revision only.
        if let (Some(synced), Some(current)) = (&result.source, &spec.source)
            && !same_source(synced, current)
        {
            return None;
        }
    } else {
        let revisions = if result.revisions.is_empty() {
            std::slice::from_ref(&result.revision)
        } else {
            result.revisions.as_slice()
        };
        if revisions != observed.revisions.as_slice() {
            return None;
        }
        if !result.sources.is_empty() && !same_sources(&result.sources, &spec.sources) {
            return None;
        }
    }
    Some(last)
}

/// Two sources are the same but for their `targetRevision`.
pub fn same_source(a: &ApplicationSource, b: &ApplicationSource) -> bool {
    // Every field named, so that a new one cannot be left out of the comparison.
    let ApplicationSource {
        repo_url,
        target_revision: _,
        path,
        chart,
        ref_,
        name,
        directory,
        kustomize,
        helm,
        plugin,
    } = a;
    *repo_url == b.repo_url
        && *path == b.path
        && *chart == b.chart
        && *ref_ == b.ref_
        && *name == b.name
        && *directory == b.directory
        && *kustomize == b.kustomize
        && *helm == b.helm
        && *plugin == b.plugin
}

/// Two lists of sources are the same, one by one, but for their `targetRevision`s.
pub fn same_sources(a: &[ApplicationSource], b: &[ApplicationSource]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_source(a, b))
}

/// The operation an automated sync records: the observed revision(s), as Argo CD's.
pub fn automated_operation(observed: &Observed, prune: bool, sync_options: &[String]) -> Operation {
    Operation {
        sync: Some(SyncOperation {
            revision: Some(observed.revision.clone()),
            revisions: if observed.revisions.len() > 1 {
                observed.revisions.clone()
            } else {
                Vec::new()
            },
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

    fn spec(policy: serde_json::Value) -> ApplicationSpec {
        serde_json::from_value(json!({"project": "default", "destination": {"name": "dev"},
            "source": {"repoURL": "https://git.example/r.git", "path": "apps/web", "targetRevision": "main"},
            "syncPolicy": policy}))
        .unwrap()
    }

    /// The status after a sync of `revision` by a user or the automation, ending in `phase`.
    fn last(phase: &str, revision: &str, automated: bool) -> ApplicationStatus {
        let op = Operation {
            sync: Some(SyncOperation::default()),
            initiated_by: Some(OperationInitiator {
                username: (!automated).then(|| "alice".into()),
                automated,
            }),
            ..Default::default()
        };
        ApplicationStatus {
            operation_state: Some(OperationState {
                operation: Some(op),
                phase: phase.into(),
                message: Some("boom".into()),
                sync_result: Some(SyncOperationResult {
                    revision: revision.into(),
                    source: spec(json!(null)).source,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn observed(rev: &str, apply: bool, prune: bool) -> Observed {
        Observed {
            revision: rev.into(),
            revisions: vec![rev.into()],
            needs_apply: apply,
            needs_prune: prune,
            prunes_all: false,
        }
    }

    fn sync(prune: bool, self_heal: bool) -> AutoSync {
        AutoSync::Sync { prune, self_heal }
    }

    #[test]
    fn automated_rules() {
        let auto = spec(json!({"automated": {"prune": false}}));
        let o = observed("r1", true, false);
        assert_eq!(
            auto_sync(&spec(json!(null)), None, &o),
            AutoSync::No,
            "manual apps never auto-sync"
        );
        assert_eq!(
            auto_sync(&spec(json!({"automated": {"enabled": false}})), None, &o),
            AutoSync::No
        );
        assert_eq!(auto_sync(&auto, None, &o), sync(false, false));
        assert_eq!(
            auto_sync(&auto, None, &observed("r1", false, false)),
            AutoSync::No
        );
        assert_eq!(
            auto_sync(&auto, None, &observed("r1", false, true)),
            AutoSync::PruneDisabled
        );
        // Drift at an already-synced revision: only with selfHeal.
        let synced = last("Succeeded", "r1", true);
        assert_eq!(auto_sync(&auto, Some(&synced), &o), AutoSync::No);
        let heal = spec(json!({"automated": {"selfHeal": true, "prune": true}}));
        assert_eq!(auto_sync(&heal, Some(&synced), &o), sync(true, true));
        // A new revision always syncs; a failed one is not tried again.
        assert_eq!(
            auto_sync(&auto, Some(&synced), &observed("r2", true, false)),
            sync(false, false)
        );
        let failed = auto_sync(&heal, Some(&last("Failed", "r1", true)), &o);
        assert_eq!(
            failed,
            AutoSync::FailedBefore("Failed sync attempt to r1: boom".into())
        );
        assert_eq!(failed.sync_error(), Some("Failed sync attempt to r1: boom"));
        assert_eq!(
            auto_sync(&heal, Some(&last("Error", "r1", true)), &o).sync_error(),
            Some("Failed sync attempt to r1: boom")
        );
    }

    #[test]
    fn a_manual_sync_counts_as_an_attempt() {
        let auto = spec(json!({"automated": {}}));
        let o = observed("r1", true, false);
        // After a user's successful sync, drift is left alone without selfHeal…
        assert_eq!(
            auto_sync(&auto, Some(&last("Succeeded", "r1", false)), &o),
            AutoSync::No
        );
        let heal = spec(json!({"automated": {"selfHeal": true}}));
        assert_eq!(
            auto_sync(&heal, Some(&last("Succeeded", "r1", false)), &o),
            sync(false, true)
        );
        // …and a user's failed sync is not retried by the automation.
        assert_eq!(
            auto_sync(&auto, Some(&last("Failed", "r1", false)), &o),
            AutoSync::FailedBefore("Failed sync attempt to r1: boom".into())
        );
        // Another source at the same commit (a changed path) is a new attempt.
        let mut moved = auto.clone();
        moved.source.as_mut().unwrap().path = Some("apps/api".into());
        assert_eq!(
            auto_sync(&moved, Some(&last("Failed", "r1", false)), &o),
            sync(false, false)
        );
        // Another destination is a new target.
        let mut moved_away = auto.clone();
        moved_away.destination.name = Some("staging".into());
        let mut synced_dev = last("Succeeded", "r1", false);
        synced_dev
            .operation_state
            .as_mut()
            .unwrap()
            .sync_result
            .as_mut()
            .unwrap()
            .destination = Some(auto.destination.clone());
        assert_eq!(auto_sync(&auto, Some(&synced_dev), &o), AutoSync::No);
        assert_eq!(
            auto_sync(&moved_away, Some(&synced_dev), &o),
            sync(false, false)
        );
        // The target revision alone (main vs the commit) is not another source.
        let mut pinned = auto.clone();
        pinned.source.as_mut().unwrap().target_revision = Some("r1".into());
        assert_eq!(
            auto_sync(&pinned, Some(&last("Failed", "r1", false)), &o),
            AutoSync::FailedBefore("Failed sync attempt to r1: boom".into())
        );
    }

    #[test]
    fn multi_source_attempts_compare_every_revision() {
        let mut auto = spec(json!({"automated": {}}));
        let src = auto.source.take().unwrap();
        auto.sources = vec![src.clone(), src.clone()];
        let mut status = last("Failed", "r1", false);
        let result = status
            .operation_state
            .as_mut()
            .unwrap()
            .sync_result
            .as_mut()
            .unwrap();
        result.source = None;
        result.revisions = vec!["r1".into(), "s1".into()];
        result.sources = vec![src.clone(), src];
        let same = Observed {
            revisions: vec!["r1".into(), "s1".into()],
            ..observed("r1", true, false)
        };
        assert!(matches!(
            auto_sync(&auto, Some(&status), &same),
            AutoSync::FailedBefore(_)
        ));
        let second_moved = Observed {
            revisions: vec!["r1".into(), "s2".into()],
            ..same
        };
        assert_eq!(
            auto_sync(&auto, Some(&status), &second_moved),
            sync(false, false)
        );
    }

    #[test]
    fn pruning_everything_needs_allow_empty() {
        let everything = Observed {
            prunes_all: true,
            ..observed("r1", false, true)
        };
        let prune = spec(json!({"automated": {"prune": true}}));
        let refused = auto_sync(&prune, None, &everything);
        assert!(
            refused
                .sync_error()
                .is_some_and(|m| m.contains("auto-sync will wipe out all resources")),
            "{refused:?}"
        );
        let allowed = spec(json!({"automated": {"prune": true, "allowEmpty": true}}));
        assert_eq!(auto_sync(&allowed, None, &everything), sync(true, false));
        // Without prune, nothing would be deleted: the prune-only rule applies.
        assert_eq!(
            auto_sync(&spec(json!({"automated": {}})), None, &everything),
            AutoSync::PruneDisabled
        );
    }

    #[test]
    fn an_automated_operation_records_every_source_revision() {
        let two = Observed {
            revisions: vec!["a1".into(), "b1".into()],
            ..observed("a1", true, false)
        };
        let sync = automated_operation(&two, true, &[]).sync.unwrap();
        assert_eq!(
            (sync.revision.as_deref(), sync.revisions.as_slice()),
            (Some("a1"), ["a1".to_string(), "b1".to_string()].as_slice())
        );
        // One source: the revision alone, as before.
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
