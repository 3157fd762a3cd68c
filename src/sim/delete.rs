//! Deletion: finalizers, deletionTimestamp, propagation policies, preconditions.
//! Dependents are collected afterwards by the cluster's garbage collector (`controller`).

use std::sync::Arc;

use serde_json::{Value, json};

use super::cluster::VirtualCluster;
use super::error::ApiError;
use super::object::{self, meta_mut};
use super::prepare;
use super::resource::ResourceType;
use super::store::{Change, Written};

pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
pub const ORPHAN_FINALIZER: &str = "orphan";

/// How dependents of a deleted object are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    #[default]
    Background,
    Foreground,
    Orphan,
}

/// DeleteOptions, from the query and the body.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    /// Reads `propagationPolicy`, `orphanDependents`, `preconditions`, `dryRun` from a
    /// DeleteOptions body (query values are merged in by the caller).
    pub fn from_body(body: &Value) -> Result<Self, ApiError> {
        let mut o = DeleteOptions::default();
        if let Some(p) = body.get("propagationPolicy").and_then(Value::as_str) {
            o.propagation = parse_propagation(p)?;
        } else if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            o.propagation = Propagation::Orphan;
        }
        o.precondition_uid = body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_string);
        o.precondition_rv = body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_string);
        o.dry_run = body.get("dryRun").and_then(Value::as_array).is_some_and(|a| a.iter().any(|v| v == "All"));
        Ok(o)
    }
}

pub fn parse_propagation(p: &str) -> Result<Propagation, ApiError> {
    match p {
        "Background" => Ok(Propagation::Background),
        "Foreground" => Ok(Propagation::Foreground),
        "Orphan" => Ok(Propagation::Orphan),
        other => Err(ApiError::new(
            422,
            "Invalid",
            format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
        )),
    }
}

/// The result of a delete: the object as it was removed, or as it now waits for finalizers.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub object: Arc<Value>,
    pub removed: bool,
}

impl VirtualCluster {
    pub fn delete(&self, rt: &ResourceType, ns: &str, name: &str, opts: &DeleteOptions) -> Result<Deleted, ApiError> {
        let now = object::now_rfc3339();
        let is_namespace = rt.crd.is_none() && rt.group.is_empty() && rt.plural == "namespaces";
        let mut dry = None;
        let written = self.store.write(&rt.storage_key(), ns, name, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            if let Some(uid) = &opts.precondition_uid {
                if uid != object::uid(cur) {
                    return Err(ApiError::conflict(rt, name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", object::uid(cur))));
                }
            }
            if let Some(rv) = &opts.precondition_rv {
                if rv != object::meta_str(cur, "resourceVersion") {
                    return Err(ApiError::conflict(rt, name, &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}", object::meta_str(cur, "resourceVersion"))));
                }
            }
            let mut obj = (**cur).clone();
            let policy_finalizer = match opts.propagation {
                Propagation::Foreground => Some(FOREGROUND_FINALIZER),
                Propagation::Orphan => Some(ORPHAN_FINALIZER),
                Propagation::Background => None,
            };
            let must_wait = is_namespace || !object::finalizers(cur).is_empty() || policy_finalizer.is_some();
            let change = if must_wait {
                if !object::is_deleting(&obj) {
                    let meta = meta_mut(&mut obj);
                    meta.insert("deletionTimestamp".into(), Value::String(now.clone()));
                    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
                }
                if let Some(f) = policy_finalizer {
                    prepare::add_finalizer(&mut obj, f);
                    let other = if f == FOREGROUND_FINALIZER { ORPHAN_FINALIZER } else { FOREGROUND_FINALIZER };
                    prepare::remove_finalizer(&mut obj, other);
                }
                if is_namespace {
                    obj["status"]["phase"] = json!("Terminating");
                }
                if prepare::is_noop(cur, &obj) { Change::Keep } else { Change::Put(obj) }
            } else {
                Change::Remove(obj)
            };
            if opts.dry_run {
                dry = Some(match &change {
                    Change::Keep => Deleted { object: cur.clone(), removed: false },
                    Change::Put(o) => Deleted { object: Arc::new(o.clone()), removed: false },
                    Change::Remove(o) => Deleted { object: Arc::new(o.clone()), removed: true },
                });
                return Ok(Change::Keep);
            }
            Ok(change)
        })?;
        if let Some(d) = dry {
            return Ok(d);
        }
        let removed = matches!(written, Written::Removed(_));
        if removed && rt.crd.is_none() && rt.group == "apiextensions.k8s.io" {
            self.refresh_types();
        }
        Ok(Deleted { object: written.object().clone(), removed })
    }
}

/// What a DELETE answers: the object for some resources (pods, custom resources) or while it
/// waits for finalizers, else a `Status` of Success naming it.
pub fn delete_response(rt: &ResourceType, d: &Deleted) -> Value {
    let returns_object = rt.crd.is_some() || (rt.group.is_empty() && matches!(rt.plural.as_str(), "pods" | "namespaces"));
    if !d.removed || returns_object {
        return (*d.object).clone();
    }
    let mut details = json!({ "name": object::name(&d.object), "kind": rt.plural, "uid": object::uid(&d.object) });
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}
