//! `metadata.managedFields` as kube-apiserver keeps it (apimachinery
//! `pkg/util/managedfields/internal`): decoding entries into per-manager field sets keyed by a
//! manager identifier, encoding them back in the apiserver's order, the fields stripped from
//! every set (`stripmeta.go`) and the cap on update entries (`capmanagers.go`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::path::{PathElement, go_json};
use super::set::Set;

/// The update entries kept before the oldest are merged into "ancient-changes".
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// One manager's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedSet {
    pub set: Set,
    pub api_version: String,
    pub applied: bool,
}

/// All managers' fields and times, keyed by manager identifier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Managed {
    pub fields: BTreeMap<String, VersionedSet>,
    pub times: BTreeMap<String, Option<String>>,
}

/// `BuildManagerIdentifier`: the entry as Go marshals it without fields and time, and without
/// the apiVersion for appliers (so an applier keeps one entry across versions).
pub fn identifier(
    manager: &str,
    operation: &str,
    api_version: &str,
    subresource: Option<&str>,
) -> String {
    let mut parts = Vec::new();
    if !manager.is_empty() {
        parts.push(format!("\"manager\":{}", go_json(&json!(manager))));
    }
    if !operation.is_empty() {
        parts.push(format!("\"operation\":{}", go_json(&json!(operation))));
    }
    if operation != "Apply" && !api_version.is_empty() {
        parts.push(format!("\"apiVersion\":{}", go_json(&json!(api_version))));
    }
    if let Some(s) = subresource.filter(|s| !s.is_empty()) {
        parts.push(format!("\"subresource\":{}", go_json(&json!(s))));
    }
    format!("{{{}}}", parts.join(","))
}

/// The parts of an identifier.
pub struct ManagerInfo {
    pub manager: String,
    pub operation: String,
    pub api_version: Option<String>,
    pub subresource: Option<String>,
}

pub fn parse_identifier(id: &str) -> ManagerInfo {
    let v: Value = serde_json::from_str(id).unwrap_or(Value::Null);
    let get = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    ManagerInfo {
        manager: get("manager").unwrap_or_else(|| id.to_string()),
        operation: get("operation").unwrap_or_default(),
        api_version: get("apiVersion"),
        subresource: get("subresource"),
    }
}

/// Seconds since the epoch of an RFC 3339 time, 0 when missing or unreadable (as Go's nil time).
pub fn seconds(time: Option<&str>) -> i64 {
    time.and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_second())
}

/// `DecodeManagedFields`.
pub fn decode(entries: Option<&Value>) -> Result<Managed, String> {
    let mut managed = Managed::default();
    let list = match entries {
        None | Some(Value::Null) => return Ok(managed),
        Some(Value::Array(list)) => list,
        Some(_) => return Err("managedFields must be a list".to_string()),
    };
    for (i, entry) in list.iter().enumerate() {
        let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
        let operation = text("operation");
        if operation != "Apply" && operation != "Update" {
            return Err("operation must be `Apply` or `Update`".to_string());
        }
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".to_string());
        }
        match text("fieldsType") {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ));
            }
        }
        let subresource = entry.get("subresource").and_then(Value::as_str);
        let id = identifier(text("manager"), operation, api_version, subresource);
        let set = match entry.get("fieldsV1") {
            None | Some(Value::Null) => Set::new(),
            Some(fields) => {
                Set::from_fields_v1(fields).map_err(|e| format!("error decoding set: {e}"))?
            }
        };
        let applied = operation == "Apply";
        managed.fields.insert(
            id.clone(),
            VersionedSet {
                set,
                api_version: api_version.to_string(),
                applied,
            },
        );
        managed.times.insert(
            id,
            entry
                .get("time")
                .and_then(Value::as_str)
                .map(str::to_string),
        );
    }
    Ok(managed)
}

/// `encodeManagedFields`: the entries sorted by operation, time, manager, apiVersion and
/// subresource; None when there are none (the field is dropped).
pub fn encode(managed: &Managed) -> Option<Value> {
    if managed.fields.is_empty() {
        return None;
    }
    let mut entries: Vec<Value> = managed
        .fields
        .iter()
        .map(|(id, vs)| {
            let info = parse_identifier(id);
            let mut e = Map::new();
            e.insert("manager".into(), json!(info.manager));
            let operation = if vs.applied {
                "Apply".to_string()
            } else {
                info.operation
            };
            e.insert("operation".into(), json!(operation));
            e.insert("apiVersion".into(), json!(vs.api_version));
            if let Some(Some(t)) = managed.times.get(id) {
                e.insert("time".into(), json!(t));
            }
            e.insert("fieldsType".into(), json!("FieldsV1"));
            e.insert("fieldsV1".into(), vs.set.to_fields_v1());
            if let Some(s) = info.subresource {
                e.insert("subresource".into(), json!(s));
            }
            Value::Object(e)
        })
        .collect();
    let key = |e: &Value| {
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        (
            text("operation"),
            seconds(e.get("time").and_then(Value::as_str)),
            text("manager"),
            text("apiVersion"),
            text("subresource"),
        )
    };
    entries.sort_by_key(key);
    Some(Value::Array(entries))
}

/// The paths no manager ever owns (`stripmeta.go`).
fn strip_set() -> Set {
    let mut s = Set::new();
    for top in ["apiVersion", "kind", "metadata"] {
        s.insert(&[PathElement::Field(top.into())]);
    }
    for meta in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        s.insert(&[
            PathElement::Field("metadata".into()),
            PathElement::Field(meta.into()),
        ]);
    }
    s
}

/// Removes the stripped paths from one manager's set, dropping the manager if nothing is left.
pub fn strip(managed: &mut Managed, id: &str) {
    if let Some(vs) = managed.fields.get_mut(id) {
        vs.set = vs.set.difference(&strip_set());
        if vs.set.is_empty() {
            managed.fields.remove(id);
        }
    }
}

/// `capUpdateManagers`: merges the oldest update entries into one "ancient-changes" entry per
/// apiVersion until at most `max` update entries are left.
pub fn cap_update_managers(managed: &mut Managed, max: usize) {
    let mut updaters: Vec<String> = managed
        .fields
        .iter()
        .filter(|(_, vs)| !vs.applied)
        .map(|(id, _)| id.clone())
        .collect();
    if updaters.len() <= max {
        return;
    }
    let time = |m: &Managed, id: &str| seconds(m.times.get(id).and_then(|t| t.as_deref()));
    updaters.sort_by(|a, b| {
        time(managed, a)
            .cmp(&time(managed, b))
            .then_with(|| a.cmp(b))
    });
    let mut first_of_version: BTreeMap<String, String> = BTreeMap::new();
    let mut length = updaters.len();
    for id in updaters {
        if length <= max {
            break;
        }
        let Some(vs) = managed.fields.get(&id).cloned() else {
            continue;
        };
        let t = managed.times.get(&id).cloned().flatten();
        let bucket = identifier("ancient-changes", "Update", &vs.api_version, None);
        match first_of_version.get(&vs.api_version) {
            Some(first) => {
                if !managed.fields.contains_key(&bucket)
                    && let Some(s) = managed.fields.remove(first)
                {
                    managed.fields.insert(bucket.clone(), s);
                }
                let merged = match managed.fields.get(&bucket) {
                    Some(b) => vs.set.union(&b.set),
                    None => vs.set.clone(),
                };
                managed
                    .fields
                    .insert(bucket.clone(), VersionedSet { set: merged, ..vs });
                managed.fields.remove(&id);
                length -= 1;
                managed.times.insert(bucket, t);
            }
            None => {
                first_of_version.insert(vs.api_version.clone(), id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, op: &str, time: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": op, "apiVersion": "v1", "time": time, "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn identifiers_match_go_marshalling() {
        assert_eq!(
            identifier("kubectl", "Apply", "v1", None),
            r#"{"manager":"kubectl","operation":"Apply"}"#
        );
        assert_eq!(
            identifier("kubelet", "Update", "v1", Some("status")),
            r#"{"manager":"kubelet","operation":"Update","apiVersion":"v1","subresource":"status"}"#
        );
        let info = parse_identifier(&identifier("k", "Update", "apps/v1", Some("status")));
        assert_eq!(
            (info.manager.as_str(), info.api_version.as_deref()),
            ("k", Some("apps/v1"))
        );
    }

    #[test]
    fn decode_encode_round_trip_sorted() {
        let entries = json!([
            entry(
                "b",
                "Update",
                "2026-01-01T00:00:02Z",
                json!({"f:data": {"f:b": {}}})
            ),
            entry(
                "a",
                "Update",
                "2026-01-01T00:00:02Z",
                json!({"f:data": {"f:a": {}}})
            ),
            entry(
                "z",
                "Apply",
                "2026-01-01T00:00:09Z",
                json!({"f:data": {"f:z": {}}})
            ),
            entry(
                "c",
                "Update",
                "2026-01-01T00:00:01Z",
                json!({"f:data": {"f:c": {}}})
            ),
        ]);
        let managed = decode(Some(&entries)).unwrap_or_default();
        let names: Vec<String> = encode(&managed)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|e| e["manager"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(names, vec!["z", "c", "a", "b"]);
        assert_eq!(encode(&Managed::default()), None);
    }

    #[test]
    fn decode_rejects_bad_entries() {
        let bad_op = json!([{"manager": "m", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]);
        assert_eq!(
            decode(Some(&bad_op)),
            Err("operation must be `Apply` or `Update`".to_string())
        );
        let no_type = json!([{"manager": "m", "operation": "Update", "apiVersion": "v1"}]);
        assert_eq!(
            decode(Some(&no_type)),
            Err("missing fieldsType in managed fields entry 0".to_string())
        );
        let no_version = json!([{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1"}]);
        assert_eq!(
            decode(Some(&no_version)),
            Err("apiVersion must not be empty".to_string())
        );
    }

    #[test]
    fn strip_removes_identity_fields_only() {
        let entries = json!([entry(
            "m",
            "Update",
            "2026-01-01T00:00:00Z",
            json!({"f:metadata": {"f:name": {}, "f:labels": {"f:a": {}}}, "f:kind": {}})
        )]);
        let mut managed = decode(Some(&entries)).unwrap_or_default();
        let id = identifier("m", "Update", "v1", None);
        strip(&mut managed, &id);
        assert_eq!(
            managed.fields[&id].set.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:a": {}}}})
        );
        let only_meta = json!([entry(
            "m",
            "Update",
            "2026-01-01T00:00:00Z",
            json!({"f:metadata": {"f:uid": {}}})
        )]);
        let mut managed = decode(Some(&only_meta)).unwrap_or_default();
        strip(&mut managed, &id);
        assert!(managed.fields.is_empty());
    }

    #[test]
    fn cap_merges_oldest_updates_into_ancient_changes() {
        let entries: Vec<Value> = (0..12)
            .map(|i| {
                entry(
                    &format!("m{i:02}"),
                    "Update",
                    &format!("2026-01-01T00:00:{i:02}Z"),
                    json!({format!("f:f{i}"): {}}),
                )
            })
            .collect();
        let mut managed = decode(Some(&Value::Array(entries))).unwrap_or_default();
        cap_update_managers(&mut managed, MAX_UPDATE_MANAGERS);
        assert_eq!(managed.fields.len(), 10);
        let bucket = identifier("ancient-changes", "Update", "v1", None);
        assert_eq!(
            managed.fields[&bucket].set.to_fields_v1(),
            json!({"f:f0": {}, "f:f1": {}, "f:f2": {}})
        );
        assert_eq!(
            managed.times[&bucket].as_deref(),
            Some("2026-01-01T00:00:02Z")
        );
    }
}
