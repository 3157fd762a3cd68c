//! The list half of strategic merge patch (apimachinery's `mergeSlice` and
//! `mergePatchIntoOriginal`): merging lists of scalars as sets and lists of objects by merge
//! key, `$patch: delete|replace` items, `$deleteFromPrimitiveList` and `$setElementOrder`.
//!
//! The order of the merged list is `strategic_order`'s.

use serde_json::{Map, Value};

use super::strategic::{DIRECTIVE, Merger, SET_ELEMENT_ORDER, added, clean, directive_field};
use super::strategic_order::{
    MAP_TYPE, as_map, deduplicate, no_merge_key, normalize_order, validate_order,
};
use super::{PatchError, gofmt};

const LIST_TYPE: &str = "[]interface {}";

impl Merger<'_> {
    /// `mergeSlice`: merges the list `patch` into `original`. `key` is the merge key ("" for
    /// scalars); `delete_list` is set for a `$deleteFromPrimitiveList` list.
    pub(super) fn merge_list(
        &mut self,
        original: Vec<Value>,
        patch: Vec<Value>,
        key: &str,
        delete_list: bool,
    ) -> Result<Vec<Value>, PatchError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let of_maps = element_kind(&[&original, &patch])?;
        if !of_maps {
            if delete_list {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.contains(v))
                    .collect());
            }
            let merged = deduplicate([original.as_slice(), patch.as_slice()].concat());
            let (in_patch, server_only): (Vec<Value>, Vec<Value>) =
                merged.into_iter().partition(|v| patch.contains(v));
            return normalize_order(in_patch, server_only, &patch, &original, "", false);
        }
        if key.is_empty() {
            return Err(PatchError::NoMergeKeyDeclared(self.path.join(".")));
        }
        let (original, patch) = special_items(original, patch, key)?;
        let mut merged = original.clone();
        for item in &patch {
            let Value::Object(fields) = item else {
                continue;
            };
            let value = fields.get(key).ok_or_else(|| no_merge_key(fields, key))?;
            match find_by_key(&merged, key, value)? {
                Some(i) => {
                    let current = std::mem::take(&mut merged[i]);
                    let current = if let Value::Object(c) = current {
                        c
                    } else {
                        Map::new()
                    };
                    merged[i] = Value::Object(self.merge_map(current, fields.clone())?);
                }
                None => merged.push(clean(item.clone())),
            }
        }
        let (in_patch, server_only) = partition_by_key(merged, &patch, key)?;
        normalize_order(in_patch, server_only, &patch, &original, key, true)
    }

    /// Processes every `$setElementOrder/<field>` of `patch`: merges the field's list (taking it
    /// out of `patch`) and orders the result by the directive.
    pub(super) fn apply_set_element_order(
        &mut self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
    ) -> Result<(), PatchError> {
        let directives: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
            .cloned()
            .collect();
        for directive in directives {
            let Some(order) = patch.remove(&directive) else {
                continue;
            };
            let Value::Array(order) = order else {
                return Err(PatchError::BadArgType {
                    expected: LIST_TYPE,
                    actual: gofmt::type_name(&order),
                });
            };
            let field = directive_field(&directive, SET_ELEMENT_ORDER)
                .ok_or(PatchError::BadSetElementOrderFormat)?
                .to_string();
            let server = list_field(original, &field)?;
            let patched = list_field(patch, &field)?;
            let merged = self.at(&field, |m| -> Result<Option<Vec<Value>>, PatchError> {
                let (merge, key) = m.list_strategy();
                validate_order(patched.as_deref().unwrap_or_default(), &order, &key)?;
                let merged = match (&server, &patched) {
                    (Some(s), None) => s.clone(),
                    (None, Some(p)) => match added(Value::Array(p.clone())) {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    },
                    (Some(s), Some(p)) if merge => {
                        m.merge_list(s.clone(), p.clone(), &key, false)?
                    }
                    (Some(_), Some(p)) => p.iter().cloned().map(clean).collect(),
                    (None, None) => return Ok(None),
                };
                let (in_order, server_only) = if key.is_empty() {
                    merged.into_iter().partition(|v| order.contains(v))
                } else {
                    partition_by_key(merged, &order, &key)?
                };
                let server = server.as_deref().unwrap_or_default();
                let of_maps = element_kind(&[server, patched.as_deref().unwrap_or_default()])?;
                normalize_order(in_order, server_only, &order, server, &key, of_maps).map(Some)
            })?;
            if let Some(merged) = merged {
                original.insert(field.clone(), Value::Array(merged));
                patch.remove(&field);
            }
        }
        Ok(())
    }
}

/// The list at `field` of `map`, if there is one.
fn list_field(map: &Map<String, Value>, field: &str) -> Result<Option<Vec<Value>>, PatchError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(PatchError::BadArgType {
            expected: LIST_TYPE,
            actual: gofmt::type_name(other),
        }),
    }
}

/// Whether the items of the lists are objects; all must be of one type, and not lists.
fn element_kind(lists: &[&[Value]]) -> Result<bool, PatchError> {
    let mut first: Option<&'static str> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let t = gofmt::type_name(item);
        match first {
            None if item.is_array() => return Err(PatchError::NoListOfLists),
            None => first = Some(t),
            Some(f) if f != t => return Err(PatchError::ElementTypesDiffer(gofmt::lists(lists))),
            Some(_) => {}
        }
    }
    first.map(|t| t == MAP_TYPE).ok_or(PatchError::NoElements)
}

/// `$patch` items of a list of objects: `delete` removes the original items with the same key,
/// `replace` makes the other patch items the whole list. Returns the original and the patch
/// items left to merge.
fn special_items(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let mut rest = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let fields = as_map(&item)?;
        match fields.get(DIRECTIVE) {
            None => rest.push(item),
            Some(d) if d == "delete" => {
                let value = fields.get(key).ok_or_else(|| no_merge_key(fields, key))?;
                while let Some(i) = find_by_key(&original, key, value)? {
                    original.remove(i);
                }
            }
            Some(d) if d == "replace" => replace = true,
            Some(d) if d == "merge" => return Err(PatchError::MergeDirectiveInList),
            Some(d) => {
                return Err(PatchError::BadPatchType {
                    directive: gofmt::s(d),
                    map: gofmt::v(&item),
                });
            }
        }
    }
    if replace {
        return Ok((rest.into_iter().map(clean).collect(), Vec::new()));
    }
    Ok((original, rest))
}

/// The position of the first object whose `key` is `value`.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>, PatchError> {
    for (i, item) in list.iter().enumerate() {
        let fields = item.as_object().ok_or(PatchError::NotAMap(i))?;
        if fields.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Splits `merged` into the objects whose key `by` has and the others.
fn partition_by_key(
    merged: Vec<Value>,
    by: &[Value],
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), PatchError> {
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for item in merged {
        let fields = as_map(&item)?;
        let value = fields.get(key).ok_or_else(|| no_merge_key(fields, key))?;
        if find_by_key(by, key, value)?.is_some() {
            inside.push(item);
        } else {
            outside.push(item);
        }
    }
    Ok((inside, outside))
}

#[cfg(test)]
mod tests {
    use super::super::strategic::tests::{ok, smp};
    use super::*;
    use serde_json::json;

    const DEPLOY: (&str, &str) = ("apps", "Deployment");

    fn deployment(containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": 1, "template": {"spec": {"containers": containers}}}})
    }

    fn containers(d: &Value) -> &Value {
        &d["spec"]["template"]["spec"]["containers"]
    }

    #[test]
    fn containers_env_and_ports_merge_by_key() {
        let d = deployment(json!([{
            "name": "web", "image": "nginx:1.25",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "ports": [{"containerPort": 80, "protocol": "TCP"}]
        }]));
        let patch = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "web", "image": "nginx:1.26",
            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
            "ports": [{"containerPort": 443}]
        }]}}}});
        let out = ok(DEPLOY, d, patch);
        assert_eq!(
            containers(&out),
            &json!([{
                "name": "web", "image": "nginx:1.26",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                // A port the server did not have comes first.
                "ports": [{"containerPort": 443}, {"containerPort": 80, "protocol": "TCP"}]
            }])
        );
        assert_eq!(out["spec"]["replicas"], json!(1));
    }

    #[test]
    fn added_items_come_first_and_patch_order_wins() {
        let d = deployment(json!([{"name": "a"}, {"name": "b"}, {"name": "c"}]));
        let out = ok(
            DEPLOY,
            d.clone(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar"}]}}}}),
        );
        assert_eq!(
            containers(&out),
            &json!([{"name": "sidecar"}, {"name": "a"}, {"name": "b"}, {"name": "c"}])
        );
        // Items named by the patch keep the patch's order; server-only items keep theirs.
        let out = ok(
            DEPLOY,
            d,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}, {"name": "a"}]}}}}),
        );
        assert_eq!(
            containers(&out),
            &json!([{"name": "b"}, {"name": "c", "image": "x"}, {"name": "a"}])
        );
    }

    #[test]
    fn patch_delete_and_replace_items() {
        let d = deployment(
            json!([{"name": "a", "env": [{"name": "X", "value": "1"}, {"name": "Y"}]}, {"name": "b"}]),
        );
        let out = ok(
            DEPLOY,
            d.clone(),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "b", "$patch": "delete"},
                {"name": "a", "env": [{"name": "X", "$patch": "delete"}]}
            ]}}}}),
        );
        assert_eq!(
            containers(&out),
            &json!([{"name": "a", "env": [{"name": "Y"}]}])
        );
        let out = ok(
            DEPLOY,
            d.clone(),
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "z"}]}}}}),
        );
        assert_eq!(containers(&out), &json!([{"name": "z"}]));
        let err = smp(
            DEPLOY,
            d.clone(),
            json!({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}}),
        );
        assert_eq!(err, Err(PatchError::MergeDirectiveInList));
        let err = smp(
            DEPLOY,
            d,
            json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx"}]}}}}),
        );
        let err = err.err().map(|e| (e.to_string(), e.code()));
        assert_eq!(
            err,
            Some((
                "map: map[image:nginx] does not contain declared merge key: name".to_string(),
                500
            ))
        );
    }

    #[test]
    fn set_element_order_of_env() {
        // The apimachinery design example: the server added ENV4 and ENV5 and reordered;
        // `kubectl apply` deletes ENV3, adds ENV6 and orders ENV1, ENV2, ENV6. Server-only items
        // are interleaved by their server position (mergeSortedSlice).
        let env = |names: &[&str]| -> Value { names.iter().map(|n| json!({"name": n})).collect() };
        let d = deployment(
            json!([{"name": "c", "env": env(&["ENV2", "ENV5", "ENV1", "ENV3", "ENV4"])}]),
        );
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "c"}],
            "containers": [{
                "name": "c",
                "$setElementOrder/env": [{"name": "ENV1"}, {"name": "ENV2"}, {"name": "ENV6"}],
                "env": [{"name": "ENV3", "$patch": "delete"}, {"name": "ENV6"}]
            }]
        }}}});
        let out = ok(DEPLOY, d, patch);
        assert_eq!(
            containers(&out)[0]["env"],
            env(&["ENV5", "ENV1", "ENV2", "ENV6", "ENV4"])
        );
        // Reordering alone.
        let d = deployment(json!([{"name": "b"}, {"name": "a"}]));
        let out = ok(
            DEPLOY,
            d,
            json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}}}}),
        );
        assert_eq!(containers(&out), &json!([{"name": "a"}, {"name": "b"}]));
    }

    #[test]
    fn set_element_order_must_agree_with_the_patch() {
        let d = deployment(json!([{"name": "a"}, {"name": "b"}]));
        let err = smp(
            DEPLOY,
            d,
            json!({"spec": {"template": {"spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                "containers": [{"name": "b"}, {"name": "a"}]
            }}}}),
        );
        assert_eq!(
            err.err().map(|e| e.to_string()),
            Some(
                "the order in patch list:\n[map[name:b] map[name:a]]\n doesn't match $setElementOrder list:\n\
                 [map[name:a] map[name:b]]"
                    .to_string()
            )
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let cm = json!({"metadata": {"name": "x", "finalizers": ["b", "e", "a", "c", "d"]}});
        // The apimachinery design example for primitives, as the code orders it.
        let out = ok(
            ("", "ConfigMap"),
            cm.clone(),
            json!({"metadata": {"$setElementOrder/finalizers": ["a", "b", "f"],
                                "$deleteFromPrimitiveList/finalizers": ["c"], "finalizers": ["f"]}}),
        );
        assert_eq!(
            out["metadata"]["finalizers"],
            json!(["e", "a", "b", "f", "d"])
        );
        let out = ok(
            ("", "ConfigMap"),
            cm.clone(),
            json!({"metadata": {"finalizers": ["z", "a"]}}),
        );
        assert_eq!(
            out["metadata"]["finalizers"],
            json!(["z", "b", "e", "a", "c", "d"])
        );
        let out = ok(
            ("", "ConfigMap"),
            cm,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "d"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b", "e", "c"]));
        // Deleting from a list that is not there adds nothing.
        let out = ok(
            ("", "ConfigMap"),
            json!({"metadata": {}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(out, json!({"metadata": {}}));
    }

    #[test]
    fn retain_keys_on_volumes() {
        // `kubectl apply` switching a volume from emptyDir to hostPath.
        let d = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a"}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]
        }}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cfg"}],
            "volumes": [{"$retainKeys": ["hostPath", "name"], "name": "data", "hostPath": {"path": "/x"}, "emptyDir": null}]
        }}}});
        let out = ok(DEPLOY, d, patch);
        assert_eq!(
            out["spec"]["template"]["spec"]["volumes"],
            json!([{"name": "data", "hostPath": {"path": "/x"}}, {"name": "cfg", "configMap": {"name": "c"}}])
        );
    }

    #[test]
    fn replace_lists_and_service_ports() {
        let d = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a", "command": ["sh", "-c"], "args": ["x"]}],
            "tolerations": [{"key": "k", "operator": "Exists"}]
        }}}});
        let out = ok(
            DEPLOY,
            d,
            json!({"spec": {"template": {"spec": {
                "containers": [{"name": "a", "command": ["run"]}],
                "tolerations": [{"key": "other", "operator": "Exists", "effect": null}]
            }}}}),
        );
        assert_eq!(
            containers(&out),
            &json!([{"name": "a", "command": ["run"], "args": ["x"]}])
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "other", "operator": "Exists"}])
        );
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}], "selector": {"a": "1"}}});
        let out = ok(
            ("", "Service"),
            svc,
            json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}),
        );
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "targetPort": 9090}, {"port": 443}])
        );
    }

    #[test]
    fn malformed_lists() {
        let cm = json!({"metadata": {"finalizers": ["a"]}});
        let empty = json!({"metadata": {"finalizers": []}});
        let err = smp(
            ("", "ConfigMap"),
            empty,
            json!({"metadata": {"finalizers": [["b"]]}}),
        );
        assert_eq!(
            err.map_err(|e| (e.to_string(), e.code())),
            Err(("lists of lists are not supported".to_string(), 422))
        );
        let err = smp(
            ("", "ConfigMap"),
            cm,
            json!({"metadata": {"finalizers": [1]}}),
        );
        assert_eq!(
            err.err().map(|e| e.to_string()),
            Some("list element types are not identical: [[a] [1]]".to_string())
        );
    }
}
