//! Which events of the Applications an ApplicationSet controls are worth a pass of it: a change
//! of what the controller writes — spec, labels, annotations, finalizers — the start of a
//! deletion, and a deletion. Not a creation (the controller made it), and not a status write
//! (the sync engine writes statuses all the time). Argo CD's ApplicationSet controller filters
//! the same way (`getOwnsHandlerPredicates`, `shouldRequeueApplicationSet`).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use kube::ResourceExt;

use crate::api::Application;

/// The fingerprint of each ApplicationSet-controlled Application seen, by uid.
#[derive(Debug, Default)]
pub struct OwnedChanges {
    seen: HashMap<String, u64>,
}

impl OwnedChanges {
    /// An Application as the watch delivers it (created, changed, or listed again): whether its
    /// ApplicationSet should run a pass.
    pub fn admit(&mut self, app: &Application) -> bool {
        if !controlled_by_an_appset(app) {
            // No longer ours (released, or never): forget it.
            self.seen.remove(&key(app));
            return false;
        }
        let print = fingerprint(app);
        match self.seen.insert(key(app), print) {
            // First sight: a creation (ours), or the hub's initial listing.
            None => false,
            Some(before) => before != print,
        }
    }

    /// An Application that is gone: its ApplicationSet should run a pass if it controlled it.
    pub fn deleted(&mut self, app: &Application) -> bool {
        self.seen.remove(&key(app));
        controlled_by_an_appset(app)
    }

    /// Keeps only the Applications `exists` says are still there (one deleted while the watch
    /// was down and listed again produces no deletion event).
    pub fn retain(&mut self, mut exists: impl FnMut(&str) -> bool) {
        self.seen.retain(|uid, _| exists(uid));
    }

    /// Applications tracked.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

fn key(app: &Application) -> String {
    app.uid()
        .unwrap_or_else(|| format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any()))
}

fn controlled_by_an_appset(app: &Application) -> bool {
    app.owner_references()
        .iter()
        .any(|o| o.controller == Some(true) && o.kind == "ApplicationSet")
}

/// Spec, labels, annotations, finalizers, and whether it is being deleted.
fn fingerprint(app: &Application) -> u64 {
    let mut h = DefaultHasher::new();
    // The spec's JSON: every field, whatever the Rust type derives.
    serde_json::to_vec(&app.spec)
        .unwrap_or_default()
        .hash(&mut h);
    app.metadata.labels.hash(&mut h);
    app.metadata.annotations.hash(&mut h);
    app.metadata.finalizers.hash(&mut h);
    app.metadata.deletion_timestamp.is_some().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(owned: bool) -> Application {
        let owners = if owned {
            json!([{"apiVersion": "flotilla.dev/v1alpha1", "kind": "ApplicationSet", "name": "s", "uid": "u1", "controller": true}])
        } else {
            json!([])
        };
        serde_json::from_value(json!({
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "a", "namespace": "flotilla", "uid": "a1", "ownerReferences": owners,
                "labels": {"flotilla.dev/application-set": "s"}},
            "spec": {"project": "default", "source": {"repoURL": "https://g/r", "path": "p"}, "destination": {"name": "dev"}}
        }))
        .unwrap()
    }

    fn with_status(mut a: Application, health: &str) -> Application {
        a.status = serde_json::from_value(
            json!({"health": {"status": health}, "reconciledAt": "2024-01-01T00:00:00Z"}),
        )
        .unwrap();
        a
    }

    #[test]
    fn creation_and_status_writes_are_not_worth_a_pass() {
        let mut f = OwnedChanges::default();
        assert!(!f.admit(&app(true)), "created (by the controller itself)");
        assert!(!f.admit(&with_status(app(true), "Healthy")));
        assert!(!f.admit(&with_status(app(true), "Degraded")));
        assert!(!f.admit(&app(true)), "listed again, unchanged");
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn spec_metadata_deletion_and_delete_are() {
        let mut f = OwnedChanges::default();
        let base = app(true);
        f.admit(&base);
        let mut edited = base.clone();
        edited.spec.project = "tampered".into();
        assert!(f.admit(&edited), "spec");
        assert!(f.admit(&base), "spec back");
        for change in [
            |a: &mut Application| {
                a.labels_mut().insert("x".into(), "y".into());
            },
            |a: &mut Application| {
                a.annotations_mut().insert("x".into(), "y".into());
            },
            |a: &mut Application| a.finalizers_mut().push("f".into()),
            |a: &mut Application| {
                a.metadata.deletion_timestamp =
                    Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        jiff::Timestamp::UNIX_EPOCH,
                    ))
            },
        ] {
            let mut changed = base.clone();
            change(&mut changed);
            assert!(f.admit(&changed));
            assert!(f.admit(&base));
        }
        assert!(f.deleted(&base));
        assert!(f.is_empty());
        f.admit(&base);
        f.retain(|uid| uid != "a1");
        assert!(f.is_empty(), "pruned when no longer listed");
    }

    #[test]
    fn applications_no_appset_controls_are_ignored() {
        let mut f = OwnedChanges::default();
        let mut free = app(false);
        assert!(!f.admit(&free));
        free.spec.project = "other".into();
        assert!(!f.admit(&free));
        assert!(!f.deleted(&free));
        // Released by its ApplicationSet: forgotten.
        f.admit(&app(true));
        assert!(!f.admit(&app(false)));
        assert!(f.is_empty());
    }
}
