//! Objects as a person reads them, and the unified diff of live and desired.

use serde_json::{Map, Value};

use super::compare::{all_keyed, find_by_key};
use super::fields_v1::{self, FieldNode};
use super::normalize::{is_core_kind, prepare_desired, scalars_equal};
use super::path::Path;
use super::schema::{ListKind, Schema};
use super::{FIELD_MANAGER, owned_fields, schema_of, unified};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Stands for a Secret value that is the same on both sides (or a value on its own).
const MASK: &str = "++++++++";
/// Stands for a desired Secret value that differs from live.
const MASK_CHANGED: &str = "+++++++++";

/// An object without what the server adds for its own use: `metadata.managedFields`,
/// `resourceVersion`, `uid`, `generation`, `creationTimestamp`, `selfLink`, `status` and the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation. A Secret's `data` and
/// `stringData` values are masked (`++++++++`).
pub fn normalized_for_display(obj: &Value) -> Value {
    let mut v = obj.clone();
    strip(&mut v);
    if is_core_kind(&v, "Secret") {
        for field in ["data", "stringData"] {
            if let Some(m) = v.get_mut(field).and_then(Value::as_object_mut) {
                m.values_mut()
                    .for_each(|x| *x = Value::String(MASK.to_string()));
            }
        }
    }
    sort_keys(v)
}

/// The unified diff (`--- live/<label>`, `+++ desired/<label>`, hunks with 3 lines of context)
/// of the YAML of live and desired, display-normalised; `""` when they read the same. Live is
/// restricted to the fields desired has and those flotilla owns, so that server defaults do not
/// show as removals, and values equal by normalisation (`500m` / `0.5`) show as desired writes
/// them. Secret values are masked: `++++++++` on both sides when equal, `+++++++++` for a
/// desired value that differs.
pub fn unified_diff(path_label: &str, live: Option<&Value>, desired: &Value) -> String {
    let mut shown_desired = prepare_desired(desired);
    let mut shown_live = live.map(|l| {
        let hints = fields_v1::list_hints(l);
        let owned = owned_fields(l, &shown_desired, FIELD_MANAGER);
        let restrict = Restrict {
            schema: schema_of(&shown_desired, &hints),
        };
        restrict.value(l, &shown_desired, Some(&owned), &mut Path::new(), false)
    });
    strip(&mut shown_desired);
    if let Some(l) = &mut shown_live {
        strip(l);
    }
    if is_core_kind(&shown_desired, "Secret") {
        mask_pair(shown_live.as_mut(), &mut shown_desired);
    }
    let yaml = |v: Value| serde_yaml::to_string(&sort_keys(v)).unwrap_or_default();
    let old = shown_live.map(yaml).unwrap_or_default();
    let new = yaml(shown_desired);
    unified::unified(
        &format!("live/{path_label}"),
        &format!("desired/{path_label}"),
        &old,
        &new,
        3,
    )
}

fn strip(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    obj.remove("status");
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for key in [
        "managedFields",
        "resourceVersion",
        "uid",
        "generation",
        "creationTimestamp",
        "selfLink",
    ] {
        meta.remove(key);
    }
    if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
        annotations.remove(LAST_APPLIED);
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
}

/// Masks Secret values so that equal values look equal and different ones different.
fn mask_pair(live: Option<&mut Value>, desired: &mut Value) {
    let empty = Map::new();
    let live_data = live
        .as_ref()
        .and_then(|l| l.get("data"))
        .and_then(Value::as_object)
        .unwrap_or(&empty)
        .clone();
    if let Some(d) = desired.get_mut("data").and_then(Value::as_object_mut) {
        for (k, v) in d.iter_mut() {
            let mask = if live_data.get(k) == Some(v) {
                MASK
            } else {
                MASK_CHANGED
            };
            *v = Value::String(mask.to_string());
        }
    }
    if let Some(l) = live {
        for field in ["data", "stringData"] {
            if let Some(m) = l.get_mut(field).and_then(Value::as_object_mut) {
                m.values_mut()
                    .for_each(|x| *x = Value::String(MASK.to_string()));
            }
        }
    }
}

/// Rebuilds maps in key order (a no-op unless serde_json keeps insertion order).
fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Live restricted to what desired has and what flotilla owns.
struct Restrict<'a> {
    schema: Schema<'a>,
}

impl Restrict<'_> {
    fn value(
        &self,
        l: &Value,
        d: &Value,
        owned: Option<&FieldNode>,
        path: &mut Path,
        atomic: bool,
    ) -> Value {
        match (l, d) {
            (Value::Object(lm), Value::Object(dm)) => {
                let mut out = Map::new();
                for (k, lv) in lm {
                    let oc = owned.and_then(|o| o.field(k));
                    match dm.get(k) {
                        Some(dv) => {
                            path.push_field(k);
                            out.insert(k.clone(), self.value(lv, dv, oc, path, atomic));
                            path.pop();
                        }
                        None => {
                            if let Some(oc) = oc {
                                out.insert(k.clone(), project(lv, oc));
                            }
                        }
                    }
                }
                Value::Object(out)
            }
            (Value::Array(la), Value::Array(da)) => {
                Value::Array(self.list(la, da, owned, path, atomic))
            }
            (l, d) if !l.is_object() && !l.is_array() && !d.is_object() && !d.is_array() => {
                if scalars_equal(&self.schema, path.names(), d, l) {
                    d.clone()
                } else {
                    l.clone()
                }
            }
            (l, _) => l.clone(),
        }
    }

    fn list(
        &self,
        la: &[Value],
        da: &[Value],
        owned: Option<&FieldNode>,
        path: &mut Path,
        atomic: bool,
    ) -> Vec<Value> {
        let kind = if atomic {
            ListKind::Atomic
        } else {
            self.schema.list_kind(path.names())
        };
        let owned_item = |li: &Value, i: usize| owned.and_then(|o| o.item(li, i));
        let mut out = Vec::new();
        match kind {
            ListKind::Map(keys) if all_keyed(la, &keys) && all_keyed(da, &keys) => {
                for (i, li) in la.iter().enumerate() {
                    let oc = owned_item(li, i);
                    match find_by_key(da, li, &keys) {
                        Some(di) => {
                            path.push_index(i);
                            out.push(self.value(li, di, oc, path, false));
                            path.pop();
                        }
                        None => {
                            if let Some(oc) = oc {
                                out.push(project(li, oc));
                            }
                        }
                    }
                }
            }
            ListKind::Set => {
                for (i, li) in la.iter().enumerate() {
                    if da.contains(li) || owned_item(li, i).is_some() {
                        out.push(li.clone());
                    }
                }
            }
            _ => {
                for (i, li) in la.iter().enumerate() {
                    match da.get(i) {
                        Some(di) => {
                            path.push_index(i);
                            out.push(self.value(li, di, None, path, true));
                            path.pop();
                        }
                        None => out.push(li.clone()),
                    }
                }
            }
        }
        out
    }
}

/// The parts of `v` that `node` owns.
fn project(v: &Value, node: &FieldNode) -> Value {
    if node.is_leaf() {
        return v.clone();
    }
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter_map(|(k, c)| node.field(k).map(|n| (k.clone(), project(c, n))))
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .enumerate()
                .filter_map(|(i, c)| node.item(c, i).map(|n| project(c, n)))
                .collect(),
        ),
        other => other.clone(),
    }
}
