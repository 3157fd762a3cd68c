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
/// The namespaces kube-apiserver's NamespaceLifecycle admission never lets go.
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

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
        o.precondition_uid = body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.precondition_rv = body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        o.dry_run = body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(|v| v == "All"));
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
            format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ),
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
    pub fn delete(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        let now = object::now_rfc3339();
        let is_namespace = rt.crd.is_none() && rt.group.is_empty() && rt.plural == "namespaces";
        if is_namespace && IMMORTAL_NAMESPACES.contains(&name) {
            // The NamespaceLifecycle admission plugin.
            return Err(ApiError::forbidden_because(
                rt,
                name,
                "this namespace may not be deleted",
            ));
        }
        let mut dry = None;
        let written = self.store.write(&rt.storage_key(), ns, name, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            check_preconditions(rt, name, cur, opts, is_namespace)?;
            let mut obj = (**cur).clone();
            let policy_finalizer = match opts.propagation {
                Propagation::Foreground => Some(FOREGROUND_FINALIZER),
                Propagation::Orphan => Some(ORPHAN_FINALIZER),
                Propagation::Background => None,
            };
            let must_wait =
                is_namespace || !object::finalizers(cur).is_empty() || policy_finalizer.is_some();
            let change = if must_wait {
                if !object::is_deleting(&obj) {
                    let meta = meta_mut(&mut obj);
                    meta.insert("deletionTimestamp".into(), Value::String(now.clone()));
                    meta.insert("deletionGracePeriodSeconds".into(), json!(0));
                    // markAsDeleting: the generation moves when the deletion starts.
                    if let Some(g) = meta
                        .get("generation")
                        .and_then(Value::as_i64)
                        .filter(|g| *g > 0)
                    {
                        meta.insert("generation".into(), json!(g + 1));
                    }
                }
                if let Some(f) = policy_finalizer {
                    prepare::add_finalizer(&mut obj, f);
                    let other = if f == FOREGROUND_FINALIZER {
                        ORPHAN_FINALIZER
                    } else {
                        FOREGROUND_FINALIZER
                    };
                    prepare::remove_finalizer(&mut obj, other);
                }
                if is_namespace {
                    obj["status"]["phase"] = json!("Terminating");
                }
                if prepare::is_noop(cur, &obj) {
                    Change::Keep
                } else {
                    Change::Put(obj)
                }
            } else {
                Change::Remove(obj)
            };
            if opts.dry_run {
                dry = Some(match &change {
                    Change::Keep => Deleted {
                        object: cur.clone(),
                        removed: false,
                    },
                    Change::Put(o) => Deleted {
                        object: Arc::new(o.clone()),
                        removed: false,
                    },
                    Change::Remove(o) => Deleted {
                        object: Arc::new(o.clone()),
                        removed: true,
                    },
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
        Ok(Deleted {
            object: written.object().clone(),
            removed,
        })
    }
}

/// The preconditions of a delete. Namespaces word the Conflict in their own REST storage; every
/// other resource gets it from `rest.BeforeDelete`, which names the kind, not the resource.
fn check_preconditions(
    rt: &ResourceType,
    name: &str,
    cur: &Value,
    opts: &DeleteOptions,
    is_namespace: bool,
) -> Result<(), ApiError> {
    let (uid, rv) = (object::uid(cur), object::meta_str(cur, "resourceVersion"));
    let why = if let Some(want) = opts.precondition_uid.as_deref().filter(|u| *u != uid) {
        if is_namespace {
            format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}")
        } else {
            format!(
                "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
            )
        }
    } else if let Some(want) = opts.precondition_rv.as_deref().filter(|r| *r != rv) {
        if is_namespace {
            format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rv}"
            )
        } else {
            format!(
                "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
            )
        }
    } else {
        return Ok(());
    };
    if is_namespace {
        return Err(ApiError::conflict(rt, name, &why));
    }
    let qualified = if rt.group.is_empty() {
        rt.kind.clone()
    } else {
        format!("{}.{}", rt.kind, rt.group)
    };
    let mut e = ApiError::new(
        409,
        "Conflict",
        format!("Operation cannot be fulfilled on {qualified} \"{name}\": {why}"),
    );
    let mut details = json!({ "name": name, "kind": rt.kind });
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    e.details = Some(details);
    Err(e)
}

/// What a DELETE answers: the object for the resources whose storage has `ReturnDeletedObject`
/// (pods, services, service accounts, PVCs, custom resources), for namespaces, and for anything
/// still waiting for finalizers; else a `Status` of Success naming it.
pub fn delete_response(rt: &ResourceType, d: &Deleted) -> Value {
    let returns_object = rt.crd.is_some()
        || (rt.group.is_empty()
            && matches!(
                rt.plural.as_str(),
                "pods" | "namespaces" | "services" | "serviceaccounts" | "persistentvolumeclaims"
            ));
    if !d.removed || returns_object {
        return (*d.object).clone();
    }
    let mut details = json!({ "name": object::name(&d.object), "kind": rt.plural, "uid": object::uid(&d.object) });
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(plural: &str) -> ResourceType {
        super::super::resource::builtins()
            .into_iter()
            .find(|t| t.plural == plural)
            .unwrap()
    }

    fn opts(uid: Option<&str>, rv: Option<&str>) -> DeleteOptions {
        DeleteOptions {
            precondition_uid: uid.map(str::to_string),
            precondition_rv: rv.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn preconditions_fail_as_before_delete_words_them() {
        let cur = json!({"metadata": {"name": "x", "uid": "u1", "resourceVersion": "7"}});
        assert!(
            check_preconditions(
                &rt("configmaps"),
                "x",
                &cur,
                &opts(Some("u1"), Some("7")),
                false
            )
            .is_ok()
        );
        let e = check_preconditions(&rt("configmaps"), "x", &cur, &opts(Some("u2"), None), false)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
        assert_eq!(
            e.message,
            "Operation cannot be fulfilled on ConfigMap \"x\": the UID in the precondition (u2) does not match the UID in record (u1). The object might have been deleted and then recreated"
        );
        assert_eq!(
            e.details.unwrap(),
            json!({"name": "x", "kind": "ConfigMap"})
        );
        let e = check_preconditions(&rt("deployments"), "x", &cur, &opts(None, Some("6")), false)
            .unwrap_err();
        assert_eq!(
            e.message,
            "Operation cannot be fulfilled on Deployment.apps \"x\": the ResourceVersion in the precondition (6) does not match the ResourceVersion in record (7). The object might have been modified"
        );
        let e = check_preconditions(&rt("namespaces"), "x", &cur, &opts(Some("u2"), None), true)
            .unwrap_err();
        assert_eq!(
            e.message,
            "Operation cannot be fulfilled on namespaces \"x\": Precondition failed: UID in precondition: u2, UID in object meta: u1"
        );
    }

    #[test]
    fn delete_answers_a_status_or_the_object() {
        let obj = Arc::new(json!({"metadata": {"name": "x", "uid": "u1"}}));
        let removed = Deleted {
            object: obj.clone(),
            removed: true,
        };
        let status = delete_response(&rt("configmaps"), &removed);
        assert_eq!(status["kind"], "Status");
        assert_eq!(
            status["details"],
            json!({"name": "x", "kind": "configmaps", "uid": "u1"})
        );
        assert_eq!(
            delete_response(&rt("deployments"), &removed)["details"]["group"],
            "apps"
        );
        for plural in [
            "pods",
            "services",
            "serviceaccounts",
            "persistentvolumeclaims",
        ] {
            assert_eq!(delete_response(&rt(plural), &removed), *obj, "{plural}");
        }
        let waiting = Deleted {
            object: obj.clone(),
            removed: false,
        };
        assert_eq!(delete_response(&rt("configmaps"), &waiting), *obj);
    }
}
