//! Kubernetes strategic merge patch (`application/strategic-merge-patch+json`), following
//! apimachinery's `strategicpatch.StrategicMergeMapPatch` as kube-apiserver runs it: objects
//! merge recursively and `null` deletes; lists follow the schema's patch strategy (replaced,
//! merged as a set of scalars, or merged by key; see `strategic_list`); and the directives
//! `$patch: replace|delete` (in an object), `$retainKeys`, `$deleteFromPrimitiveList/<field>`
//! and `$setElementOrder/<field>` (what `kubectl apply` sends).
//!
//! Values the patch adds where the target has nothing are stored as kube-apiserver stores
//! them once decoded: null fields and directive keys dropped, objects carrying a `$patch`
//! left out.

use serde_json::{Map, Value};

use super::{PatchError, gofmt};
use crate::sim::schema::{PatchStrategy, Schema};

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// `target` with the strategic merge patch `patch` applied, merging lists as `schema` says.
/// Both must be JSON objects.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    schema: &dyn Schema,
) -> Result<Value, PatchError> {
    let (Value::Object(target), Value::Object(patch)) = (target, patch) else {
        return Err(PatchError::BadJsonDoc);
    };
    let mut merger = Merger {
        schema,
        path: Vec::new(),
    };
    merger
        .merge_map(target.clone(), patch.clone())
        .map(Value::Object)
}

/// One patch application: the schema and the field path of the value being merged (list
/// items are transparent, as in `Schema`).
pub(super) struct Merger<'a> {
    schema: &'a dyn Schema,
    pub(super) path: Vec<String>,
}

impl Merger<'_> {
    fn path(&self) -> Vec<&str> {
        self.path.iter().map(String::as_str).collect()
    }

    /// The patch strategy of the list at the current path: whether it merges, and its merge
    /// key ("" for scalars and for lists that do not merge).
    pub(super) fn list_strategy(&self) -> (bool, String) {
        match self.schema.patch_strategy(&self.path()) {
            PatchStrategy::Replace => (false, String::new()),
            PatchStrategy::MergeScalars => (true, String::new()),
            PatchStrategy::MergeByKey(key) => (true, key),
        }
    }

    /// Runs `f` with `field` appended to the current path.
    pub(super) fn at<T>(&mut self, field: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(field.to_string());
        let out = f(self);
        self.path.pop();
        out
    }

    /// `mergeMap`: merges the object `patch` into the object `original`.
    pub(super) fn merge_map(
        &mut self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
    ) -> Result<Map<String, Value>, PatchError> {
        if let Some(directive) = patch.get(DIRECTIVE) {
            return match directive.as_str() {
                Some("replace") => {
                    patch.remove(DIRECTIVE);
                    Ok(clean_map(patch))
                }
                Some("delete") => Ok(Map::new()),
                _ => Err(PatchError::BadPatchType {
                    directive: gofmt::s(directive),
                    map: gofmt::v(&Value::Object(patch.clone())),
                }),
            };
        }
        apply_retain_keys(&mut original, &mut patch)?;
        self.apply_set_element_order(&mut original, &mut patch)?;

        for (key, patch_value) in patch {
            let (key, delete_list) = if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
                let field = directive_field(&key, DELETE_FROM_PRIMITIVE_LIST)
                    .ok_or(PatchError::BadPrimitiveListFormat)?;
                (field.to_string(), true)
            } else {
                (key, false)
            };
            if patch_value.is_null() {
                original.remove(&key);
                continue;
            }
            let Some(current) = original.get_mut(&key) else {
                if !delete_list && let Some(v) = added(patch_value) {
                    original.insert(key, v);
                }
                continue;
            };
            if gofmt::type_name(current) != gofmt::type_name(&patch_value) {
                if !delete_list {
                    match added(patch_value) {
                        Some(v) => *current = v,
                        None => {
                            original.remove(&key);
                        }
                    }
                }
                continue;
            }
            let merged = match (std::mem::take(current), patch_value) {
                (Value::Object(o), Value::Object(p)) => self
                    .at(&key, |m| {
                        if m.schema.replaces_map(&m.path()) {
                            Ok(clean_map(p))
                        } else {
                            m.merge_map(o, p)
                        }
                    })?
                    .into(),
                (Value::Array(o), Value::Array(p)) => self
                    .at(&key, |m| {
                        let (merge, merge_key) = m.list_strategy();
                        if merge || delete_list {
                            m.merge_list(o, p, &merge_key, delete_list)
                        } else {
                            Ok(clean_list(p))
                        }
                    })?
                    .into(),
                (_, scalar) => scalar,
            };
            if let Some(slot) = original.get_mut(&key) {
                *slot = merged;
            }
        }
        Ok(original)
    }
}

/// The field a `$deleteFromPrimitiveList/<field>` or `$setElementOrder/<field>` key names.
pub(super) fn directive_field<'k>(key: &'k str, prefix: &str) -> Option<&'k str> {
    let (head, field) = key.split_once('/')?;
    (head == prefix).then_some(field)
}

/// `$retainKeys`: every field the patch sets must be listed; fields of `original` that are
/// not listed are cleared.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::BadRetainKeysFormat);
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (k, v) in patch.iter() {
        let directive =
            k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !directive && !listed(k) {
            return Err(PatchError::BadRetainKeysFormat);
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// A patch value taken as it is (a replaced object or list, a new list item): null fields and
/// directive keys dropped, as decoding into the API type drops them.
pub(super) fn clean(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(clean_map(m)),
        Value::Array(items) => Value::Array(clean_list(items)),
        other => other,
    }
}

pub(super) fn clean_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
        .map(|(k, v)| (k, clean(v)))
        .collect()
}

pub(super) fn clean_list(items: Vec<Value>) -> Vec<Value> {
    items.into_iter().map(clean).collect()
}

/// A patch value for a field the target lacks (apimachinery's `discardNullValuesFromPatch`
/// and `removeDirectives`): null fields dropped, and any object with a `$patch` left out
/// (`None` when the value itself is one).
pub(super) fn added(value: Value) -> Option<Value> {
    match value {
        Value::Object(m) if m.contains_key(DIRECTIVE) => None,
        Value::Object(m) => Some(Value::Object(
            m.into_iter()
                .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
                .filter_map(|(k, v)| added(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(added).collect())),
        other => Some(other),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sim::schema::Builtin;
    use serde_json::json;

    pub(crate) fn smp(
        kind: (&str, &str),
        target: Value,
        patch: Value,
    ) -> Result<Value, PatchError> {
        let schema = Builtin {
            group: kind.0.to_string(),
            kind: kind.1.to_string(),
        };
        strategic_merge_patch(&target, &patch, &schema)
    }

    pub(crate) fn ok(kind: (&str, &str), target: Value, patch: Value) -> Value {
        match smp(kind, target, patch) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    const DEPLOY: (&str, &str) = ("apps", "Deployment");

    #[test]
    fn objects_merge_and_null_deletes() {
        let cm =
            json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}});
        let out = ok(
            ("", "ConfigMap"),
            cm,
            json!({"metadata": {"labels": {"a": null, "c": "3"}}, "data": null}),
        );
        assert_eq!(
            out,
            json!({"metadata": {"name": "c", "labels": {"b": "2", "c": "3"}}})
        );
    }

    #[test]
    fn added_values_lose_nulls_and_directives() {
        let d = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        let out = ok(
            DEPLOY,
            d,
            json!({"spec": {"template": {"spec": {
                "securityContext": {"runAsUser": null, "fsGroup": 1, "seLinuxOptions": {"$patch": "delete"}},
                "dnsConfig": {"$patch": "replace", "nameservers": ["1.1.1.1"]}
            }}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"],
            json!({"containers": [{"name": "a"}], "securityContext": {"fsGroup": 1}})
        );
    }

    #[test]
    fn patch_directives_in_objects() {
        let d = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                                "template": {"spec": {"nodeSelector": {"a": "1", "b": "2"}}}}});
        let out = ok(
            DEPLOY,
            d.clone(),
            json!({"spec": {"template": {"spec": {"nodeSelector": {"$patch": "replace", "c": "3"}}}}}),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["nodeSelector"],
            json!({"c": "3"})
        );
        let out = ok(
            DEPLOY,
            d.clone(),
            json!({"spec": {"strategy": {"$patch": "delete"}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({}));
        let err = smp(
            DEPLOY,
            d,
            json!({"spec": {"strategy": {"$patch": "merge", "type": "Recreate"}}}),
        );
        let err = err.err().map(|e| (e.to_string(), e.code()));
        assert_eq!(
            err,
            Some((
                "unknown patch type: merge in map: map[$patch:merge type:Recreate]".to_string(),
                500
            ))
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_fields() {
        // What `kubectl apply` sends when a Deployment's strategy changes to Recreate.
        let d = json!({"spec": {"strategy": {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}});
        let out = ok(
            DEPLOY,
            d.clone(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                                                      "rollingUpdate": null}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        // A field set by the patch must be retained.
        let err = smp(
            DEPLOY,
            d.clone(),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
        );
        assert_eq!(err, Err(PatchError::BadRetainKeysFormat));
        let err = smp(
            DEPLOY,
            d,
            json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
        );
        assert_eq!(err.map_err(|e| e.code()), Err(400));
    }

    #[test]
    fn replace_strategy_on_an_object() {
        // A PodDisruptionBudget's selector is `patchStrategy: replace`; a Deployment's merges.
        let target = json!({"spec": {"selector": {"matchLabels": {"app": "a"}}}});
        let patch = json!({"spec": {"selector": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}});
        let pdb = ok(
            ("policy", "PodDisruptionBudget"),
            target.clone(),
            patch.clone(),
        );
        assert_eq!(
            pdb["spec"]["selector"],
            json!({"matchExpressions": [{"key": "x", "operator": "Exists"}]})
        );
        let deploy = ok(DEPLOY, target, patch);
        assert_eq!(
            deploy["spec"]["selector"]["matchLabels"],
            json!({"app": "a"})
        );
    }

    #[test]
    fn malformed_documents() {
        assert_eq!(
            smp(DEPLOY, json!({}), json!([])),
            Err(PatchError::BadJsonDoc)
        );
        assert_eq!(
            smp(DEPLOY, json!({}), json!("x")).map_err(|e| e.code()),
            Err(400)
        );
        let bad = smp(
            DEPLOY,
            json!({"metadata": {}}),
            json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
        );
        assert_eq!(bad, Err(PatchError::BadPrimitiveListFormat));
    }
}
