//! The `/scale` subresource: an `autoscaling/v1` Scale view of a Deployment, ReplicaSet or
//! StatefulSet (`scaleFromDeployment` and `scaleUpdatedObjectInfo` of their REST storage), or
//! of a custom resource whose CRD version declares `subresources.scale` (apiextensions'
//! `scaleFromCustomResource`). A write goes through the parent's update pipeline, so it has
//! the parent's resourceVersion conflicts, generation bump and no-op detection; managedFields
//! move between the two views as `managedfields.ScaleHandler` moves them.

use serde_json::{Map, Value, json};

use super::apply::{self, Manager, scale as managed};
use super::cluster::VirtualCluster;
use super::decode;
use super::error::ApiError;
use super::object;
use super::resource::ResourceType;
use super::schema::Builtin;
use super::selector::LabelSelector;
use super::write::{self, PatchKind, WriteOptions};

/// Where a resource keeps what its Scale shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalePaths {
    pub spec_replicas: Vec<String>,
    pub status_replicas: Vec<String>,
    pub selector: Selector,
}

/// The Scale's `status.selector`.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// A `metav1.LabelSelector` object (built-in workloads' `.spec.selector`), printed as a
    /// selector string.
    Object(Vec<String>),
    /// A string already (a CRD's `labelSelectorPath`).
    Text(Vec<String>),
    None,
}

/// `.spec.replicas` → `["spec", "replicas"]` (CRD scale paths are dotted field paths).
fn field_path(p: &str) -> Vec<String> {
    p.trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The scale paths of a resource, `None` when it has no `/scale`.
pub fn paths(rt: &ResourceType) -> Option<ScalePaths> {
    if !rt.scale_subresource {
        return None;
    }
    match &rt.crd {
        None => Some(ScalePaths {
            spec_replicas: field_path(".spec.replicas"),
            status_replicas: field_path(".status.replicas"),
            selector: Selector::Object(field_path(".spec.selector")),
        }),
        Some(crd) => {
            let scale = crd.scale.as_ref()?;
            let text = |k: &str| scale.get(k).and_then(Value::as_str).unwrap_or_default();
            Some(ScalePaths {
                spec_replicas: field_path(text("specReplicasPath")),
                status_replicas: field_path(text("statusReplicasPath")),
                selector: match text("labelSelectorPath") {
                    "" => Selector::None,
                    p => Selector::Text(field_path(p)),
                },
            })
        }
    }
}

fn at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, k| v.get(k))
}

/// `unstructured.NestedInt64`: 0 when absent, an error when not an integer.
fn replicas_at(obj: &Value, path: &[String]) -> Result<i64, ApiError> {
    match at(obj, path) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::internal(format!(
                ".{} accessor error: {v} is of the type {}, expected int64",
                path.join("."),
                go_type(v)
            ))
        }),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        Value::Null => "<nil>",
    }
}

/// The Scale of `obj`. Scales carry no managedFields.
pub fn scale_of(paths: &ScalePaths, obj: &Value) -> Result<Value, ApiError> {
    let spec_replicas = replicas_at(obj, &paths.spec_replicas)?;
    let status_replicas = replicas_at(obj, &paths.status_replicas)?;
    let selector = match &paths.selector {
        Selector::Object(p) => match at(obj, p) {
            None | Some(Value::Null) => String::new(),
            Some(sel) => LabelSelector::from_object(sel)
                .map_err(|e| ApiError::bad_request(e.to_string()))?
                .to_string(),
        },
        Selector::Text(p) => match at(obj, p) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => {
                return Err(ApiError::internal(format!(
                    ".{} accessor error: {v} is of the type {}, expected string",
                    p.join("."),
                    go_type(v)
                )));
            }
        },
        Selector::None => String::new(),
    };
    let mut meta = Map::new();
    meta.insert("name".into(), json!(object::name(obj)));
    let ns = object::namespace(obj);
    if !ns.is_empty() {
        meta.insert("namespace".into(), json!(ns));
    }
    for f in ["uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = obj.pointer(&format!("/metadata/{f}")) {
            meta.insert(f.into(), v.clone());
        }
    }
    let mut spec = Map::new();
    if spec_replicas != 0 {
        spec.insert("replicas".into(), json!(spec_replicas));
    }
    let mut status = json!({ "replicas": status_replicas });
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    Ok(json!({
        "kind": "Scale",
        "apiVersion": managed::SCALE_API_VERSION,
        "metadata": meta,
        "spec": spec,
        "status": status,
    }))
}

/// Sets `path` in `obj`, making the objects on the way.
fn set_at(obj: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for k in parents {
        if !cur.get(k).is_some_and(Value::is_object) {
            cur[k.as_str()] = json!({});
        }
        cur = &mut cur[k.as_str()];
    }
    cur[last.as_str()] = value;
}

/// `ValidateScale`.
fn validate(name: &str, scale: &Value) -> Result<i64, ApiError> {
    // The body has been decoded: replicas is an int32 or absent.
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid_kind(
            "autoscaling",
            "Scale",
            name,
            &[(
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    Ok(replicas)
}

/// apiVersion and kind of a Scale body, filled in when absent.
fn check_type_meta(body: &mut Value) -> Result<(), ApiError> {
    let Some(map) = body.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the object provided is unrecognized (must be a JSON or YAML object)",
        ));
    };
    for (field, expected, what) in [
        ("apiVersion", managed::SCALE_API_VERSION, "API version"),
        ("kind", "Scale", "kind"),
    ] {
        match map.get(field).and_then(Value::as_str) {
            None | Some("") => {
                map.insert(field.into(), json!(expected));
            }
            Some(v) if v == expected => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the {what} in the data ({v}) does not match the expected {what} ({expected})"
                )));
            }
        }
    }
    Ok(())
}

/// A write of a Scale: PUT, or a patch in any of the four formats.
pub enum ScaleWrite {
    Replace(Value),
    Patch(PatchKind, Value),
}

impl VirtualCluster {
    /// GET `<resource>/<name>/scale`.
    pub fn get_scale(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        let paths = paths(rt).ok_or_else(ApiError::path_not_found)?;
        let obj = self.get(rt, ns, name)?;
        scale_of(&paths, obj.as_ref())
    }

    /// PUT or PATCH of `<resource>/<name>/scale`: the Scale is computed from the parent,
    /// changed, validated, and its replicas and resourceVersion written back to the parent.
    pub fn write_scale(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        request: ScaleWrite,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let paths = paths(rt).ok_or_else(ApiError::path_not_found)?;
        if matches!(request, ScaleWrite::Patch(PatchKind::Apply, _)) && !opts.explicit_manager {
            return Err(write::apply_needs_a_manager());
        }
        let now = object::now_rfc3339();
        let manager = Manager {
            name: &opts.manager,
            api_version: managed::SCALE_API_VERSION,
            subresource: Some("scale"),
            time: &now,
        };
        let schema = Builtin {
            group: "autoscaling".into(),
            kind: "Scale".into(),
        };
        let parent_version = rt.api_version();
        // Only the served version's mapping is known here; entries of other versions of a
        // custom resource keep their fields.
        let replicas_paths = |v: &str| -> Option<Option<Vec<String>>> {
            if v == parent_version {
                Some(Some(paths.spec_replicas.clone()))
            } else {
                Some(None)
            }
        };
        let bad_managed = |e: String| ApiError::internal(format!("managed fields: {e}"));
        let reset: &[&[&str]] = &[&["status"]];
        let (parent, _) = self.modify(rt, ns, name, Some("scale"), opts, true, |cur| {
            let cur = cur.ok_or_else(|| ApiError::not_found(rt, name))?;
            let mut old = scale_of(&paths, cur)?;
            if let Some(m) =
                managed::to_subresource(cur.pointer("/metadata/managedFields"), &replicas_paths)
                    .map_err(bad_managed)?
            {
                old["metadata"]["managedFields"] = m;
            }
            let mut new = match &request {
                ScaleWrite::Replace(body) => {
                    let mut body = body.clone();
                    check_type_meta(&mut body)?;
                    let cannot = |why: String| {
                        ApiError::bad_request(format!(
                            "Scale in version \"v1\" cannot be handled as a Scale: {why}"
                        ))
                    };
                    let unknown = decode::decode_kind("autoscaling", "v1", "Scale", &mut body)
                        .map_err(cannot)?;
                    write::report_unknown(&unknown, opts, cannot)?;
                    body
                }
                ScaleWrite::Patch(PatchKind::Apply, body) => {
                    let mut body = body.clone();
                    check_type_meta(&mut body)?;
                    apply::apply_with_reset(Some(&old), &body, &manager, opts.force, &schema, reset)
                        .map_err(|e| e.to_api_error())?
                }
                ScaleWrite::Patch(kind, body) => {
                    let mut patched = write::apply_patch(*kind, &old, body, &schema)?;
                    let unknown = decode::decode_kind("autoscaling", "v1", "Scale", &mut patched)
                        .map_err(|e| write::patch_type_error(*kind, body, &patched, &e))?;
                    write::report_unknown(&unknown, opts, ApiError::bad_request)?;
                    patched
                }
            };
            let body_name = object::name(&new);
            if body_name.is_empty() {
                new["metadata"]["name"] = json!(name);
            } else if body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            let body_ns = object::namespace(&new);
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            if !matches!(request, ScaleWrite::Patch(PatchKind::Apply, _)) {
                apply::record_update_with_reset(Some(&old), &mut new, &manager, &schema, reset);
            }
            let replicas = validate(name, &new)?;
            let uid = object::uid(&new);
            if !uid.is_empty() && uid != object::uid(cur) {
                return Err(ApiError::conflict_on(
                    &format!("{}/scale", rt.plural),
                    &rt.group,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        object::uid(cur)
                    ),
                ));
            }
            let mut parent = cur.clone();
            set_at(&mut parent, &paths.spec_replicas, json!(replicas));
            let meta = object::meta_mut(&mut parent);
            match object::meta_str(&new, "resourceVersion") {
                "" => meta.remove("resourceVersion"),
                rv => meta.insert("resourceVersion".into(), json!(rv)),
            };
            let entries = managed::to_parent(
                cur.pointer("/metadata/managedFields"),
                new.pointer("/metadata/managedFields"),
                &parent_version,
                &replicas_paths,
            )
            .map_err(bad_managed)?;
            let meta = object::meta_mut(&mut parent);
            match entries {
                Some(e) => meta.insert("managedFields".into(), e),
                None => meta.remove("managedFields"),
            };
            Ok(parent)
        })?;
        scale_of(&paths, &parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::{builtins, from_crd};

    fn deployments() -> ResourceType {
        builtins()
            .into_iter()
            .find(|t| t.plural == "deployments")
            .unwrap()
    }

    #[test]
    fn a_deployment_scale_names_its_selector_as_a_string() {
        let d = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7",
                "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 3, "labels": {"a": "b"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "tier": "fe"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}},
            "status": {"replicas": 2}});
        let s = scale_of(&paths(&deployments()).unwrap(), &d).unwrap();
        assert_eq!(
            s,
            json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=web,env in (dev,prod),tier=fe"}})
        );
        // Zero replicas are omitted from the spec, never from the status.
        let zero = json!({"metadata": {"name": "w"}, "spec": {"replicas": 0}});
        let s = scale_of(&paths(&deployments()).unwrap(), &zero).unwrap();
        assert_eq!(
            (s["spec"].clone(), s["status"].clone()),
            (json!({}), json!({"replicas": 0}))
        );
    }

    #[test]
    fn custom_resources_use_their_crd_paths() {
        let crd = json!({"metadata": {"name": "pools.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "pools", "kind": "Pool"},
                "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"scale": {
                    "specReplicasPath": ".spec.size", "statusReplicasPath": ".status.ready", "labelSelectorPath": ".status.selector"}}}]}});
        let rt = from_crd(&crd).remove(0);
        let p = paths(&rt).unwrap();
        let pool = json!({"metadata": {"name": "p"}, "spec": {"size": 4}, "status": {"ready": 1, "selector": "app=p"}});
        let s = scale_of(&p, &pool).unwrap();
        assert_eq!(
            (
                s["spec"].clone(),
                s["status"].clone(),
                s["metadata"].clone()
            ),
            (
                json!({"replicas": 4}),
                json!({"replicas": 1, "selector": "app=p"}),
                json!({"name": "p"})
            )
        );
        let mut parent = json!({"metadata": {"name": "p"}});
        set_at(&mut parent, &p.spec_replicas, json!(9));
        assert_eq!(parent["spec"], json!({"size": 9}));
        let wrong = json!({"metadata": {"name": "p"}, "spec": {"size": "4"}});
        assert_eq!(scale_of(&p, &wrong).unwrap_err().code, 500);
    }

    #[test]
    fn replicas_must_not_be_negative() {
        let e = validate("web", &json!({"spec": {"replicas": -1}})).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                422,
                "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
            )
        );
        assert_eq!(validate("web", &json!({"spec": {}})).unwrap(), 0);
    }
}
