//! The apiserver's field manager chain (`fieldmanager.go` and the managers it wraps): which
//! managedFields a write starts from, the "before-first-apply" entry for objects that had none,
//! the "current-operation" trick that stamps an update's time only when it changed something,
//! and the encoding of the result back into the object.

use serde_json::{Map, Value};

use super::managed::{
    self, MAX_UPDATE_MANAGERS, Managed, VersionedSet, identifier, parse_identifier,
};
use super::path::{PathElement, path_string};
use super::set::Set;
use super::typed::Typed;
use super::updater::{Conflicts, Updater};
use super::{ApplyError, Conflict, MANAGED_FIELDS_MUST_BE_NIL, Manager};
use crate::sim::schema::Schema;

/// The manager that takes the fields of an object without managedFields on its first apply.
const BEFORE_FIRST_APPLY: &str = "before-first-apply";
/// The stand-in manager of an update, merged into the real one if it took anything.
const CURRENT_OPERATION: &str = "current-operation";

/// The fields the write's strategy resets, as kube-apiserver's `GetResetFields` lists them for
/// most kinds: `status` on the main resource, `spec` on `/status`, nothing elsewhere.
pub fn default_reset_fields(subresource: Option<&str>) -> &'static [&'static [&'static str]] {
    match subresource {
        None => &[&["status"]],
        Some("status") => &[&["spec"]],
        Some(_) => &[],
    }
}

fn reset_set(reset: &[&[&str]]) -> Set {
    let mut s = Set::new();
    for path in reset {
        let pes: Vec<PathElement> = path
            .iter()
            .map(|f| PathElement::Field(f.to_string()))
            .collect();
        s.insert(&pes);
    }
    s
}

fn manager_name<'a>(m: &Manager<'a>) -> &'a str {
    if m.name.is_empty() { "unknown" } else { m.name }
}

/// Takes `metadata.managedFields` out of an object.
fn take_managed_fields(obj: &mut Value) -> Option<Value> {
    obj.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.remove("managedFields"))
}

fn put_managed_fields(obj: &mut Value, managed: &Managed) {
    let encoded = managed::encode(managed);
    if let Some(root) = obj.as_object_mut() {
        match encoded {
            Some(list) => {
                let meta = root
                    .entry("metadata")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(meta) = meta.as_object_mut() {
                    meta.insert("managedFields".into(), list);
                }
            }
            None => {
                if let Some(meta) = root.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("managedFields");
                }
            }
        }
    }
}

/// Built-in groups, whose empty objects are Go structs with their non-pointer structs present.
fn is_builtin_group(group: &str) -> bool {
    !group.contains('.')
        || matches!(
            group,
            "admissionregistration.k8s.io"
                | "apiextensions.k8s.io"
                | "apiregistration.k8s.io"
                | "authentication.k8s.io"
                | "authorization.k8s.io"
                | "certificates.k8s.io"
                | "coordination.k8s.io"
                | "discovery.k8s.io"
                | "events.k8s.io"
                | "flowcontrol.apiserver.k8s.io"
                | "networking.k8s.io"
                | "node.k8s.io"
                | "rbac.authorization.k8s.io"
                | "resource.k8s.io"
                | "scheduling.k8s.io"
                | "storage.k8s.io"
        )
}

/// The non-pointer structs of built-in kinds: present (as `{}`) in an empty object, so a
/// create does not count them as added.
const STRUCT_PATHS: &[&[&str]] = &[
    &["spec"],
    &["status"],
    &["spec", "strategy"],
    &["spec", "updateStrategy"],
    &["spec", "template"],
    &["spec", "template", "metadata"],
    &["spec", "template", "spec"],
    &["spec", "jobTemplate"],
    &["spec", "jobTemplate", "metadata"],
    &["spec", "jobTemplate", "spec"],
    &["spec", "jobTemplate", "spec", "template"],
    &["spec", "jobTemplate", "spec", "template", "metadata"],
    &["spec", "jobTemplate", "spec", "template", "spec"],
];

/// Lists without `omitempty` in built-in kinds: null, not missing, in an empty object.
const NULL_PATHS: &[&[&str]] = &[
    &["spec", "containers"],
    &["spec", "template", "spec", "containers"],
    &[
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
    ],
];

/// Puts `leaf` at `path` in `out` if `obj` has something there.
fn stub(out: &mut Map<String, Value>, obj: &Value, path: &[&str], leaf: Value) {
    let present = path
        .iter()
        .try_fold(obj, |v, f| v.get(*f))
        .is_some_and(|v| v.is_object() || leaf.is_null());
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if !present {
        return;
    }
    let mut node = out;
    for f in parents {
        let next = node
            .entry(f.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let Some(m) = next.as_object_mut() else {
            return;
        };
        node = m;
    }
    node.entry(last.to_string()).or_insert(leaf);
}

/// The empty object of `obj`'s kind, as the apiserver compares a create against.
fn empty_object(obj: &Value) -> Value {
    let mut out = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = obj.get(k) {
            out.insert(k.to_string(), v.clone());
        }
    }
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    if is_builtin_group(group) {
        for path in STRUCT_PATHS {
            stub(&mut out, obj, path, Value::Object(Map::new()));
        }
        for path in NULL_PATHS {
            stub(&mut out, obj, path, Value::Null);
        }
    }
    Value::Object(out)
}

/// `namespace/name; group/version, Kind=Kind`, as apiserver errors name an object.
fn gvknn(obj: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let meta = obj.get("metadata");
    let api_version = text(obj.get("apiVersion"));
    let gv = if api_version.contains('/') {
        api_version
    } else {
        format!("/{api_version}")
    };
    format!(
        "{}/{}; {gv}, Kind={}",
        text(meta.and_then(|m| m.get("namespace"))),
        text(meta.and_then(|m| m.get("name"))),
        text(obj.get("kind"))
    )
}

/// Drops null fields, as decoding the merged object into its type does.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, child| !child.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The managed-fields updater, strip-meta and cap-managers around SMD's update: records
/// `live` -> `new` for manager `id`, stamping `time` only if the write took any field.
fn track_update(
    updater: &Updater,
    live: &Value,
    new: &Value,
    managed: &mut Managed,
    id: &str,
    version: &str,
    time: &str,
) {
    updater.record(live, new, version, &mut managed.fields, CURRENT_OPERATION);
    managed::strip(managed, CURRENT_OPERATION);
    if let Some(current) = managed.fields.remove(CURRENT_OPERATION) {
        let set = match managed.fields.get(id) {
            Some(previous) => current.set.union(&previous.set),
            None => current.set,
        };
        managed
            .fields
            .insert(id.to_string(), VersionedSet { set, ..current });
        managed.times.insert(id.to_string(), Some(time.to_string()));
    }
    managed::cap_update_managers(managed, MAX_UPDATE_MANAGERS);
}

fn to_conflicts(conflicts: Conflicts) -> Vec<Conflict> {
    let mut out = Vec::new();
    for (id, set) in conflicts {
        let info = parse_identifier(&id);
        let update = info.operation == "Update";
        for path in set.paths() {
            out.push(Conflict {
                manager: info.manager.clone(),
                field: path_string(&path),
                api_version: if update {
                    info.api_version.clone()
                } else {
                    None
                },
                subresource: info.subresource.clone(),
            });
        }
    }
    out
}

/// [`super::apply`] with the strategy's reset fields given explicitly (paths of field names).
pub fn apply_with_reset(
    live: Option<&Value>,
    applied: &Value,
    manager: &Manager,
    force: bool,
    schema: &dyn Schema,
    reset: &[&[&str]],
) -> Result<Value, ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid(
            "the applied configuration must be an object".to_string(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::Invalid(MANAGED_FIELDS_MUST_BE_NIL.to_string()));
    }
    let typed = Typed::new(schema);
    typed.validate_applied(applied).map_err(|e| {
        ApplyError::Invalid(format!(
            "failed to create typed patch object ({}): {e}",
            gvknn(applied)
        ))
    })?;
    let mut live = live.cloned().unwrap_or_else(|| empty_object(applied));
    let mut managed = managed::decode(take_managed_fields(&mut live).as_ref())
        .map_err(|e| ApplyError::Invalid(format!("failed to decode managed fields: {e}")))?;
    typed.validate(&live).map_err(|e| {
        ApplyError::Invalid(format!(
            "failed to create typed live object ({}): {e}",
            gvknn(&live)
        ))
    })?;
    let updater = Updater {
        typed,
        ignored: reset_set(reset),
    };
    let version = manager.api_version;
    if managed.fields.is_empty() {
        let first = identifier(BEFORE_FIRST_APPLY, "Update", version, manager.subresource);
        track_update(
            &updater,
            &empty_object(&live),
            &live,
            &mut managed,
            &first,
            version,
            manager.time,
        );
    }
    let id = identifier(manager_name(manager), "Apply", version, manager.subresource);
    let result = updater
        .apply(&live, applied, version, &mut managed.fields, &id, force)
        .map_err(|c| ApplyError::Conflicts(to_conflicts(c)))?;
    managed::strip(&mut managed, &id);
    let mut object = match result {
        Some(mut new) => {
            managed.times.insert(id, Some(manager.time.to_string()));
            drop_nulls(&mut new);
            new
        }
        None => live,
    };
    put_managed_fields(&mut object, &managed);
    Ok(object)
}

/// `isResetManagedFields`: an empty list, or one empty entry, clears managedFields.
fn is_reset(managed_fields: Option<&Value>) -> bool {
    match managed_fields {
        Some(Value::Array(list)) => match list.as_slice() {
            [] => true,
            [only] => only
                .as_object()
                .is_some_and(|m| m.values().all(|v| v.is_null() || v == "")),
            _ => false,
        },
        _ => false,
    }
}

/// [`super::record_update`] with the strategy's reset fields given explicitly.
pub fn record_update_with_reset(
    old: Option<&Value>,
    new: &mut Value,
    manager: &Manager,
    schema: &dyn Schema,
    reset: &[&[&str]],
) {
    if !new.is_object() {
        return;
    }
    let mut live = old.cloned().unwrap_or_else(|| empty_object(new));
    let live_fields = take_managed_fields(&mut live);
    let new_fields = take_managed_fields(new);
    // decodeLiveOrNew: a subresource never sets managedFields; a client that sends none (or
    // unreadable ones) keeps the live ones.
    let from_live = || managed::decode(live_fields.as_ref()).unwrap_or_default();
    let mut managed = if manager.subresource.is_some() {
        from_live()
    } else if is_reset(new_fields.as_ref()) {
        Managed::default()
    } else {
        match managed::decode(new_fields.as_ref()) {
            Ok(m) if !m.fields.is_empty() => m,
            _ => from_live(),
        }
    };
    // skipNonApplied: an existing object without managedFields is tracked from its first apply.
    let is_create = live
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    if managed.fields.is_empty() && !is_create {
        return;
    }
    let updater = Updater {
        typed: Typed::new(schema),
        ignored: reset_set(reset),
    };
    let id = identifier(
        manager_name(manager),
        "Update",
        manager.api_version,
        manager.subresource,
    );
    track_update(
        &updater,
        &live,
        new,
        &mut managed,
        &id,
        manager.api_version,
        manager.time,
    );
    put_managed_fields(new, &managed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_objects_of_builtin_and_custom_kinds() {
        let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 1, "template": {"spec": {"containers": []}}}});
        assert_eq!(
            empty_object(&deploy),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": null}}}})
        );
        let cr = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}});
        assert_eq!(
            empty_object(&cr),
            json!({"apiVersion": "example.com/v1", "kind": "Widget"})
        );
    }

    #[test]
    fn object_names_in_errors() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "admin-api", "namespace": "general"}});
        assert_eq!(gvknn(&svc), "general/admin-api; /v1, Kind=Service");
        let crb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "x"}});
        assert_eq!(
            gvknn(&crb),
            "/x; rbac.authorization.k8s.io/v1, Kind=ClusterRoleBinding"
        );
    }

    #[test]
    fn reset_managed_fields() {
        assert!(is_reset(Some(&json!([]))));
        assert!(is_reset(Some(&json!([{}]))));
        assert!(!is_reset(Some(&json!([{"manager": "m"}]))));
        assert!(!is_reset(None));
    }

    #[test]
    fn nulls_are_dropped() {
        let mut v = json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]});
        drop_nulls(&mut v);
        assert_eq!(v, json!({"b": {"d": 1}, "e": [{}]}));
    }
}
