//! What one ApplicationSet pass writes, decided in one place and without I/O: the generated
//! Applications against the live ones, under the policy and the safety rules.
//!
//! - Only Applications whose generated content differs from the live one are updated.
//! - Nothing is deleted unless the policy allows it; an empty generation where Applications
//!   exist deletes nothing unless `spec.syncPolicy.allowEmpty`.
//! - An Application of the same name controlled by something else is never touched.
//! - A generation error never reaches this module: the caller writes nothing at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::api::Application;
use crate::api::application_set::ApplicationSet;

/// What the controller may do to generated Applications (`--policy`,
/// `spec.syncPolicy.applicationsSync`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Policy {
    #[default]
    Sync,
    CreateUpdate,
    CreateDelete,
    CreateOnly,
}

impl Policy {
    pub fn parse(s: &str) -> Result<Policy, String> {
        match s {
            "" | "sync" => Ok(Policy::Sync),
            "create-update" => Ok(Policy::CreateUpdate),
            "create-delete" => Ok(Policy::CreateDelete),
            "create-only" => Ok(Policy::CreateOnly),
            other => Err(format!(
                "unknown applications sync policy {other:?} (known: sync, create-update, create-delete, create-only)"
            )),
        }
    }

    pub fn allows_update(self) -> bool {
        matches!(self, Policy::Sync | Policy::CreateUpdate)
    }

    pub fn allows_delete(self) -> bool {
        matches!(self, Policy::Sync | Policy::CreateDelete)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Sync => "sync",
            Policy::CreateUpdate => "create-update",
            Policy::CreateDelete => "create-delete",
            Policy::CreateOnly => "create-only",
        }
    }

    /// The policy in force for `appset`: its own `applicationsSync` when the hub allows
    /// overrides, else the hub's.
    pub fn effective(
        appset: &ApplicationSet,
        hub: Policy,
        allow_override: bool,
    ) -> Result<Policy, String> {
        match appset
            .spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.applications_sync.as_deref())
        {
            Some(own) if allow_override => Policy::parse(own),
            _ => Ok(hub),
        }
    }
}

/// Annotations kept from the live Application whatever the template says.
pub const ALWAYS_PRESERVED_ANNOTATIONS: [&str; 3] = [
    "flotilla.dev/refresh",
    "argocd.argoproj.io/refresh",
    "notified.notifications.argoproj.io",
];

/// Finalizer prefixes kept from the live Application (delete hooks belong to the app controller).
const PRESERVED_FINALIZER_PREFIXES: [&str; 4] = [
    "pre-delete-finalizer.argocd.argoproj.io",
    "post-delete-finalizer.argocd.argoproj.io",
    "flotilla.dev/pre-delete",
    "flotilla.dev/post-delete",
];

/// The writes of one pass.
#[derive(Debug, Default)]
pub struct Plan {
    pub creates: Vec<Application>,
    /// Live objects with the generated fields put in (resourceVersion kept, for optimistic
    /// concurrency).
    pub updates: Vec<Application>,
    /// (name, uid) of owned Applications no longer generated.
    pub deletes: Vec<(String, String)>,
    /// Generated Applications skipped, one message each (duplicates, foreign owners).
    pub invalid: Vec<String>,
    /// Set when an empty generation was refused: how many owned Applications were kept.
    pub empty_refused: Option<usize>,
    /// Owned Applications left in place because the policy forbids deleting them.
    pub kept_by_policy: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }
}

/// Whether `app` is controlled by the ApplicationSet with this uid.
pub fn is_controlled_by(app: &Application, uid: &str) -> bool {
    controller_of(app).is_some_and(|o| o.uid == uid)
}

fn controller_of(app: &Application) -> Option<&OwnerReference> {
    app.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
}

/// Decides the writes. `generated`: the Applications of this pass (unique names, as `expand`
/// returns them); `duplicates`: names generated more than once; `live`: every Application of
/// the ApplicationSet's namespace by name.
pub fn plan(
    appset: &ApplicationSet,
    policy: Policy,
    generated: Vec<Application>,
    duplicates: &[String],
    live: &HashMap<String, Arc<Application>>,
) -> Plan {
    let uid = appset.metadata.uid.as_deref().unwrap_or_default();
    let appset_name = appset.metadata.name.as_deref().unwrap_or_default();
    let mut plan = Plan::default();
    for name in duplicates {
        plan.invalid.push(format!(
            "ApplicationSet {appset_name} contains applications with duplicate name: {name}"
        ));
    }
    let preserved = appset.spec.preserved_fields.clone().unwrap_or_default();
    let mut generated_names: BTreeSet<String> = duplicates.iter().cloned().collect();
    for desired in generated {
        let name = desired.metadata.name.clone().unwrap_or_default();
        generated_names.insert(name.clone());
        let Some(current) = live.get(&name) else {
            plan.creates.push(desired);
            continue;
        };
        match controller_of(current) {
            Some(owner) if owner.uid != uid => {
                plan.invalid.push(format!(
                    "Application {name} is already controlled by {} {}; it is left alone",
                    owner.kind, owner.name
                ));
                continue;
            }
            _ => {}
        }
        if current.metadata.deletion_timestamp.is_some() || !policy.allows_update() {
            continue;
        }
        let merged = merge_live(&desired, current, &preserved.annotations, &preserved.labels);
        if !same_generated_content(&merged, current) {
            plan.updates.push(merged);
        }
    }
    let owned: Vec<&Arc<Application>> =
        live.values().filter(|a| is_controlled_by(a, uid)).collect();
    let orphans: Vec<&Arc<Application>> = owned
        .iter()
        .copied()
        .filter(|a| {
            a.metadata.deletion_timestamp.is_none()
                && !generated_names.contains(a.metadata.name.as_deref().unwrap_or_default())
        })
        .collect();
    if orphans.is_empty() {
        return plan;
    }
    let allow_empty = appset
        .spec
        .sync_policy
        .as_ref()
        .is_some_and(|p| p.allow_empty);
    if !policy.allows_delete() {
        plan.kept_by_policy = orphans.len();
    } else if generated_names.is_empty() && !allow_empty {
        plan.empty_refused = Some(orphans.len());
    } else {
        let mut deletes: Vec<(String, String)> = orphans
            .iter()
            .map(|a| {
                (
                    a.metadata.name.clone().unwrap_or_default(),
                    a.metadata.uid.clone().unwrap_or_default(),
                )
            })
            .collect();
        deletes.sort();
        plan.deletes = deletes;
    }
    plan
}

/// The live Application with the generated fields written over it: spec, labels, annotations,
/// finalizers and the controller reference, keeping what `preservedFields` and the
/// always-preserved keys say, and any non-controller owner references.
pub fn merge_live(
    desired: &Application,
    live: &Application,
    keep_annotations: &[String],
    keep_labels: &[String],
) -> Application {
    let mut out = live.clone();
    out.spec = desired.spec.clone();
    let mut annotations = desired.metadata.annotations.clone().unwrap_or_default();
    let live_annotations = live.metadata.annotations.clone().unwrap_or_default();
    for key in keep_annotations
        .iter()
        .map(String::as_str)
        .chain(ALWAYS_PRESERVED_ANNOTATIONS)
    {
        if let Some(v) = live_annotations.get(key) {
            annotations.insert(key.to_string(), v.clone());
        }
    }
    let mut labels = desired.metadata.labels.clone().unwrap_or_default();
    let live_labels = live.metadata.labels.clone().unwrap_or_default();
    for key in keep_labels {
        if let Some(v) = live_labels.get(key) {
            labels.insert(key.clone(), v.clone());
        }
    }
    let mut finalizers = desired.metadata.finalizers.clone().unwrap_or_default();
    for f in live.metadata.finalizers.iter().flatten() {
        if PRESERVED_FINALIZER_PREFIXES
            .iter()
            .any(|p| f.starts_with(p))
            && !finalizers.contains(f)
        {
            finalizers.push(f.clone());
        }
    }
    let mut owners: Vec<OwnerReference> = desired
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    for o in live.metadata.owner_references.iter().flatten() {
        if o.controller != Some(true) && !owners.iter().any(|d| d.uid == o.uid) {
            owners.push(o.clone());
        }
    }
    out.metadata.annotations = non_empty_map(annotations);
    out.metadata.labels = non_empty_map(labels);
    out.metadata.finalizers = (!finalizers.is_empty()).then_some(finalizers);
    out.metadata.owner_references = (!owners.is_empty()).then_some(owners);
    out
}

fn non_empty_map(m: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!m.is_empty()).then_some(m)
}

/// Equality of what the controller writes (absent and empty count the same).
pub fn same_generated_content(a: &Application, b: &Application) -> bool {
    let map = |m: &Option<BTreeMap<String, String>>| m.clone().unwrap_or_default();
    let list = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
    a.spec == b.spec
        && map(&a.metadata.labels) == map(&b.metadata.labels)
        && map(&a.metadata.annotations) == map(&b.metadata.annotations)
        && list(&a.metadata.finalizers) == list(&b.metadata.finalizers)
        && a.metadata.owner_references.clone().unwrap_or_default()
            == b.metadata.owner_references.clone().unwrap_or_default()
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
