//! An Application's status, built without I/O: per-resource sync and health, the app's sync
//! status, conditions, history. The hub writes a status only when it differs from the live one
//! other than in `reconciledAt`, so a steady fleet costs the hub API nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::tracking::ObjectKey;
use crate::api::ApplicationStatus;
use crate::api::application::{
    ApplicationCondition, HealthStatus, ResourceStatus, RevisionHistory, SyncOperationResult,
    SyncStatus,
};

pub const SYNCED: &str = "Synced";
pub const OUT_OF_SYNC: &str = "OutOfSync";
pub const UNKNOWN: &str = "Unknown";

/// Condition types (Argo CD's).
pub mod condition {
    pub const COMPARISON_ERROR: &str = "ComparisonError";
    pub const SYNC_ERROR: &str = "SyncError";
    pub const INVALID_SPEC: &str = "InvalidSpecError";
    pub const UNKNOWN_ERROR: &str = "UnknownError";
    pub const DELETION_ERROR: &str = "DeletionError";
}

/// One resource, as compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceView {
    pub key: ObjectKey,
    pub version: String,
    /// Desired and live agree.
    pub synced: bool,
    /// None: live missing, or a kind without health.
    pub health: Option<HealthStatus>,
    /// Live and owned, no longer desired.
    pub requires_pruning: bool,
}

/// `status.resources`, sorted by group, kind, namespace, name.
pub fn resource_statuses(views: &[ResourceView]) -> Vec<ResourceStatus> {
    let mut out: Vec<ResourceStatus> = views
        .iter()
        .map(|v| ResourceStatus {
            group: (!v.key.group.is_empty()).then(|| v.key.group.clone()),
            version: Some(v.version.clone()),
            kind: v.key.kind.clone(),
            namespace: (!v.key.namespace.is_empty()).then(|| v.key.namespace.clone()),
            name: v.key.name.clone(),
            status: Some(if v.synced { SYNCED } else { OUT_OF_SYNC }.to_string()),
            health: v.health.clone(),
            requires_pruning: v.requires_pruning,
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.group, &a.kind, &a.namespace, &a.name).cmp(&(&b.group, &b.kind, &b.namespace, &b.name))
    });
    out
}

/// `status.sync`: Synced when every resource is (and nothing needs pruning).
pub fn sync_status(views: &[ResourceView], revision: &str, revisions: &[String]) -> SyncStatus {
    let synced = views.iter().all(|v| v.synced && !v.requires_pruning);
    SyncStatus {
        status: if synced { SYNCED } else { OUT_OF_SYNC }.to_string(),
        revision: Some(revision.to_string()),
        revisions: if revisions.len() > 1 {
            revisions.to_vec()
        } else {
            Vec::new()
        },
    }
}

/// Sets (or replaces) the condition of `type_`, keeping its time when the message is the same.
pub fn set_condition(
    conditions: &mut Vec<ApplicationCondition>,
    type_: &str,
    message: String,
    now: &Time,
) {
    if let Some(c) = conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.message != message {
            c.message = message;
            c.last_transition_time = Some(now.clone());
        }
        return;
    }
    conditions.push(ApplicationCondition {
        type_: type_.to_string(),
        message,
        last_transition_time: Some(now.clone()),
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

pub fn clear_condition(conditions: &mut Vec<ApplicationCondition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The history entry of a successful sync: what its result records it synced (revision, and
/// for `spec.sources` the revision and source of each).
pub fn deployment(
    result: &SyncOperationResult,
    started: Option<Time>,
    now: &Time,
) -> RevisionHistory {
    RevisionHistory {
        id: 0,
        revision: result.revision.clone(),
        revisions: result.revisions.clone(),
        deployed_at: Some(now.clone()),
        deploy_started_at: started,
        source: result.source.clone(),
        sources: result.sources.clone(),
    }
}

/// Appends a deployment to the history (ids grow by one), keeping the last `limit` entries.
pub fn push_history(history: &mut Vec<RevisionHistory>, mut entry: RevisionHistory, limit: usize) {
    entry.id = history
        .iter()
        .map(|h| h.id)
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    history.push(entry);
    let keep = limit.max(1);
    if history.len() > keep {
        let drop = history.len() - keep;
        history.drain(..drop);
    }
}

/// Whether two statuses differ in anything but `reconciledAt`.
pub fn same_ignoring_time(a: &ApplicationStatus, b: &ApplicationStatus) -> bool {
    let strip = |s: &ApplicationStatus| ApplicationStatus {
        reconciled_at: None,
        ..s.clone()
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(kind: &str, name: &str, synced: bool, prune: bool) -> ResourceView {
        ResourceView {
            key: ObjectKey {
                group: String::new(),
                kind: kind.into(),
                namespace: "web".into(),
                name: name.into(),
            },
            version: "v1".into(),
            synced,
            health: None,
            requires_pruning: prune,
        }
    }

    #[test]
    fn sync_status_follows_resources() {
        assert_eq!(
            sync_status(&[view("ConfigMap", "a", true, false)], "abc", &[]).status,
            SYNCED
        );
        assert_eq!(
            sync_status(
                &[
                    view("ConfigMap", "a", true, false),
                    view("ConfigMap", "b", false, false)
                ],
                "abc",
                &[]
            )
            .status,
            OUT_OF_SYNC
        );
        assert_eq!(
            sync_status(&[view("ConfigMap", "old", true, true)], "abc", &[]).status,
            OUT_OF_SYNC,
            "pruning pending"
        );
        assert_eq!(sync_status(&[], "abc", &[]).status, SYNCED);
        let st = resource_statuses(&[
            view("Service", "s", true, false),
            view("ConfigMap", "b", false, false),
        ]);
        assert_eq!(
            st.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["ConfigMap", "Service"]
        );
        assert_eq!(st[0].status.as_deref(), Some(OUT_OF_SYNC));
    }

    #[test]
    fn history_is_bounded_and_numbered() {
        let now = Time(jiff::Timestamp::from_second(1).unwrap());
        let mut h = Vec::new();
        for i in 0..12 {
            let result = SyncOperationResult {
                revision: format!("r{i}"),
                ..Default::default()
            };
            push_history(&mut h, deployment(&result, None, &now), 10);
        }
        assert_eq!(h.len(), 10);
        assert_eq!((h[0].id, h[9].id, h[9].revision.as_str()), (2, 11, "r11"));
    }

    #[test]
    fn a_multi_source_deployment_records_every_source() {
        let now = Time(jiff::Timestamp::from_second(1).unwrap());
        let source = |path: &str, rev: &str| crate::api::application::ApplicationSource {
            repo_url: "https://git.example/r.git".into(),
            path: Some(path.into()),
            target_revision: Some(rev.into()),
            ..Default::default()
        };
        let result = SyncOperationResult {
            revision: "a1".into(),
            revisions: vec!["a1".into(), "b1".into()],
            sources: vec![source("apps/a", "a1"), source("apps/b", "b1")],
            ..Default::default()
        };
        let mut h = Vec::new();
        push_history(&mut h, deployment(&result, None, &now), 10);
        assert_eq!(h[0].revisions, ["a1", "b1"]);
        assert_eq!(h[0].sources.len(), 2);
        assert_eq!(h[0].sources[1].path.as_deref(), Some("apps/b"));
        assert!(h[0].source.is_none());
    }

    #[test]
    fn conditions_keep_their_time_and_status_compares_without_it() {
        let t1 = Time(jiff::Timestamp::from_second(1).unwrap());
        let t2 = Time(jiff::Timestamp::from_second(2).unwrap());
        let mut c = Vec::new();
        set_condition(&mut c, condition::SYNC_ERROR, "boom".into(), &t1);
        set_condition(&mut c, condition::SYNC_ERROR, "boom".into(), &t2);
        assert_eq!(c[0].last_transition_time, Some(t1.clone()));
        set_condition(&mut c, condition::COMPARISON_ERROR, "x".into(), &t2);
        assert_eq!(c[0].type_, condition::COMPARISON_ERROR);
        clear_condition(&mut c, condition::SYNC_ERROR);
        assert_eq!(c.len(), 1);
        let a = ApplicationStatus {
            reconciled_at: Some(t1),
            ..Default::default()
        };
        let b = ApplicationStatus {
            reconciled_at: Some(t2),
            ..Default::default()
        };
        assert!(same_ignoring_time(&a, &b));
    }
}
