//! JSON merge patch (RFC 7386, `application/merge-patch+json`), as kube-apiserver applies it
//! with evanphx/json-patch's `MergePatch`: objects merge recursively, `null` removes a field,
//! anything else replaces. Nulls inside values that are added (not merged) are pruned from
//! their objects, including objects inside added lists.

use serde_json::{Map, Value};

/// `target` with `patch` merged in. A patch that is not an object replaces the target whole
/// (kube-apiserver then fails to decode it; callers check the patch is an object first).
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut doc = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            merge_docs(&mut doc, p);
            Value::Object(doc)
        }
        other => pruned(other.clone()),
    }
}

fn merge_docs(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            doc.remove(k);
            continue;
        }
        match doc.get_mut(k) {
            Some(cur @ Value::Object(_)) => {
                if let (Value::Object(c), Value::Object(p)) = (&mut *cur, v) {
                    merge_docs(c, p);
                } else {
                    // An object replaced by a non-object is taken as it is.
                    *cur = v.clone();
                }
            }
            // Missing, null or not an object: the patch value, nulls pruned.
            Some(cur) => *cur = pruned(v.clone()),
            None => {
                doc.insert(k.clone(), pruned(v.clone()));
            }
        }
    }
}

/// Removes null fields from objects, recursively, also in objects inside lists (list items
/// that are null stay).
fn pruned(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, pruned(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(pruned).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        // The table of RFC 7386 appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(merge_patch(&target, &patch), want, "{target} + {patch}");
        }
        assert_eq!(merge_patch(&json!({"a": "b"}), &json!(["c"])), json!(["c"]));
    }

    #[test]
    fn null_removes_labels_and_nested_fields() {
        let cm = json!({
            "metadata": {"name": "cm", "labels": {"app": "web", "tier": "front"}},
            "data": {"a": "1", "b": "2"}
        });
        let patch =
            json!({"metadata": {"labels": {"tier": null, "team": "x"}}, "data": {"a": null}});
        assert_eq!(
            merge_patch(&cm, &patch),
            json!({
                "metadata": {"name": "cm", "labels": {"app": "web", "team": "x"}},
                "data": {"b": "2"}
            })
        );
        // Removing a field that is not there changes nothing.
        assert_eq!(merge_patch(&cm, &json!({"spec": null})), cm);
    }

    #[test]
    fn lists_replace_whole_and_added_objects_lose_nulls() {
        let d =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}}});
        let patch =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": null}]}}}});
        assert_eq!(
            merge_patch(&d, &patch),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}})
        );
    }
}
