//! JSON patch (RFC 6902, `application/json-patch+json`) as kube-apiserver applies it with
//! evanphx/json-patch v4: `add`, `remove`, `replace`, `move`, `copy`, `test`, JSON pointers
//! with `~0`/`~1` escapes, `-` for the end of a list, and that library's leniencies (negative
//! list indices count from the end; `replace` of a missing object field adds it). The patch
//! applies as a whole or not at all; the error messages are the library's.

use serde_json::Value;

use super::PatchError;

/// kube-apiserver refuses JSON patches with more operations than this (413).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// `target` with the operations `ops` (a JSON list) applied in order.
pub fn json_patch(target: &Value, ops: &Value) -> Result<Value, PatchError> {
    let ops = match ops {
        Value::Array(ops) => ops.as_slice(),
        Value::Null => &[],
        other => return Err(decode_error(other, "jsonpatch.Patch")),
    };
    if let Some(bad) = ops.iter().find(|op| !op.is_object() && !op.is_null()) {
        return Err(decode_error(bad, "jsonpatch.Operation"));
    }
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: ops.len(),
        });
    }
    let mut doc = target.clone();
    for op in ops {
        apply(&mut doc, op).map_err(PatchError::JsonPatchFailed)?;
    }
    Ok(doc)
}

/// Go's `json.Unmarshal` type error for a body that is not of the patch's shape.
fn decode_error(value: &Value, go_type: &str) -> PatchError {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    PatchError::BadJsonPatch(format!(
        "json: cannot unmarshal {kind} into Go value of type {go_type}"
    ))
}

/// A string field of an operation: `Ok(None)` when missing or null, `Err` when not a string.
fn field<'a>(op: &'a Value, name: &str) -> Result<Option<&'a str>, String> {
    match op.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(decode_error(other, "string").to_string()),
    }
}

/// The `path` (or `from`) of an operation, or why it has none.
fn pointer(op: &Value, name: &str) -> Result<String, String> {
    match field(op, name)? {
        Some(p) => Ok(p.to_string()),
        None if name == "from" => Err("operation, missing from field: missing value".to_string()),
        None => Err("operation missing path field: missing value".to_string()),
    }
}

fn apply(doc: &mut Value, op: &Value) -> Result<(), String> {
    let kind = field(op, "op").ok().flatten().unwrap_or("unknown");
    // A missing `value` is null, as the library stores it.
    let value = op.get("value").cloned().unwrap_or(Value::Null);
    match kind {
        "add" => {
            let path = pointer(op, "path")
                .map_err(|_| "add operation failed to decode path: missing value".to_string())?;
            let (con, key) = parent(doc, &path).ok_or_else(|| {
                format!(
                    "add operation does not apply: doc is missing path: \"{path}\": missing value"
                )
            })?;
            add(con, &key, value).map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let path = pointer(op, "path")
                .map_err(|_| "remove operation failed to decode path: missing value".to_string())?;
            let (con, key) = parent(doc, &path).ok_or_else(|| {
                format!("remove operation does not apply: doc is missing path: \"{path}\": missing value")
            })?;
            remove(con, &key)
                .map(drop)
                .map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            let path = pointer(op, "path")
                .map_err(|e| format!("replace operation failed to decode path: {e}"))?;
            let (con, key) = parent(doc, &path).ok_or_else(|| {
                format!(
                    "replace operation does not apply: doc is missing path: {path}: missing value"
                )
            })?;
            get(con, &key).map_err(|_| {
                format!(
                    "replace operation does not apply: doc is missing key: {path}: missing value"
                )
            })?;
            set(con, &key, value).map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "move" => {
            let from = pointer(op, "from")
                .map_err(|e| format!("move operation failed to decode from: {e}"))?;
            let (con, key) = parent(doc, &from).ok_or_else(|| {
                format!(
                    "move operation does not apply: doc is missing from path: {from}: missing value"
                )
            })?;
            get(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let moved =
                remove(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let path = pointer(op, "path")
                .map_err(|e| format!("move operation failed to decode path: {e}"))?;
            let (con, key) = parent(doc, &path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: missing value")
            })?;
            add(con, &key, moved).map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "copy" => {
            let from = pointer(op, "from")
                .map_err(|e| format!("copy operation failed to decode from: {e}"))?;
            let (con, key) = parent(doc, &from).ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {from}: missing value"
                )
            })?;
            // Copying a missing field copies a null, as the library does.
            let copied = get(con, &key)
                .map_err(|e| format!("error in copy for from: '{from}': {e}"))?
                .cloned()
                .unwrap_or(Value::Null);
            let path = pointer(op, "path")
                .map_err(|_| "copy operation failed to decode path: missing value".to_string())?;
            let (con, key) = parent(doc, &path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: missing value")
            })?;
            add(con, &key, copied).map_err(|e| format!("error while adding value during copy: {e}"))
        }
        "test" => {
            let path = pointer(op, "path")
                .map_err(|e| format!("test operation failed to decode path: {e}"))?;
            let (con, key) = parent(doc, &path).ok_or_else(|| {
                format!("test operation does not apply: is missing path: {path}: missing value")
            })?;
            let found =
                get(con, &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?;
            let ok = match found {
                None | Some(Value::Null) => value.is_null(),
                Some(v) => matches(v, &value),
            };
            if ok {
                Ok(())
            } else {
                Err(format!("testing value {path} failed: test failed"))
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// The library's `test` equality: lists item by item, and an object matches when each of
/// its fields is in the expected value with an equal value (extra expected fields are not
/// checked).
fn matches(doc: &Value, want: &Value) -> bool {
    match (doc, want) {
        (Value::Object(d), Value::Object(w)) => d.iter().all(|(k, v)| match (v, w.get(k)) {
            (Value::Null, Some(Value::Null)) => true,
            (v, Some(wv)) => matches(v, wv),
            (_, None) => false,
        }),
        (Value::Array(d), Value::Array(w)) => {
            d.len() == w.len() && d.iter().zip(w).all(|(a, b)| matches(a, b))
        }
        (a, b) => a == b,
    }
}

/// The container (object or list) that `path` points into and the last, unescaped segment.
/// `None` when a segment on the way is missing, null or a scalar.
fn parent<'a>(doc: &'a mut Value, path: &str) -> Option<(&'a mut Value, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let (last, middle) = parts.split_last()?;
    let middle = middle.get(1..)?; // what precedes the first '/' is ignored
    let mut cur = doc;
    for part in middle {
        let key = unescape(part);
        cur = match cur {
            Value::Object(m) => m.get_mut(&key)?,
            Value::Array(a) => {
                let i = index(a.len(), &key).ok()?;
                a.get_mut(i)?
            }
            _ => return None,
        };
    }
    (cur.is_object() || cur.is_array()).then(|| (cur, unescape(last)))
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Go's `strconv.Atoi`, with its messages.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {s:?}: invalid syntax"));
    }
    s.parse()
        .map_err(|_| format!("strconv.Atoi: parsing {s:?}: value out of range"))
}

fn invalid_index(i: i64) -> String {
    format!("Unable to access invalid index: {i}: invalid index referenced")
}

/// An existing position in a list of `len` items; negative counts from the end.
fn index(len: usize, key: &str) -> Result<usize, String> {
    let len = len as i64;
    let mut i = atoi(key)?;
    if i < 0 {
        if i < -len {
            return Err(invalid_index(i));
        }
        i += len;
    }
    if i >= len {
        return Err(invalid_index(i));
    }
    Ok(i as usize)
}

/// The value at `key`; `Ok(None)` for a missing object field.
fn get<'a>(con: &'a Value, key: &str) -> Result<Option<&'a Value>, String> {
    match con {
        Value::Object(m) => Ok(m.get(key)),
        Value::Array(a) => index(a.len(), key).map(|i| a.get(i)),
        _ => Ok(None),
    }
}

fn set(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(a) => {
            let i = index(a.len(), key)?;
            if let Some(slot) = a.get_mut(i) {
                *slot = value;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn add(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(a) if key == "-" => {
            a.push(value);
            Ok(())
        }
        Value::Array(a) => {
            let mut i = atoi(key)
                .map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = a.len() as i64 + 1;
            if i >= size {
                return Err(invalid_index(i));
            }
            if i < 0 {
                if i < -size {
                    return Err(invalid_index(i));
                }
                i += size;
            }
            a.insert(i as usize, value);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Removes and returns the value at `key`.
fn remove(con: &mut Value, key: &str) -> Result<Value, String> {
    match con {
        Value::Object(m) => m
            .remove(key)
            .ok_or_else(|| format!("Unable to remove nonexistent key: {key}: missing value")),
        Value::Array(a) => {
            let i = index(a.len(), key)?;
            Ok(a.remove(i))
        }
        _ => Ok(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply_ok(target: Value, ops: Value) -> Value {
        match json_patch(&target, &ops) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn apply_err(target: Value, ops: Value) -> PatchError {
        match json_patch(&target, &ops) {
            Ok(v) => panic!("expected an error, got {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn operations() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2, 3]}});
        let out = apply_ok(
            doc,
            json!([
                {"op": "add", "path": "/metadata/labels/b", "value": "2"},
                {"op": "replace", "path": "/metadata/labels/a", "value": "one"},
                {"op": "remove", "path": "/spec/list/0"},
                {"op": "add", "path": "/spec/list/-", "value": 4},
                {"op": "add", "path": "/spec/list/1", "value": 9},
                {"op": "copy", "from": "/metadata/labels", "path": "/spec/labels"},
                {"op": "move", "from": "/spec/labels/b", "path": "/spec/b"},
                {"op": "test", "path": "/spec/list", "value": [2, 9, 3, 4]}
            ]),
        );
        assert_eq!(
            out,
            json!({
                "metadata": {"labels": {"a": "one", "b": "2"}},
                "spec": {"list": [2, 9, 3, 4], "labels": {"a": "one"}, "b": "2"}
            })
        );
    }

    #[test]
    fn pointer_escapes() {
        let doc = json!({"metadata": {"annotations": {"example.com/x": "1", "a~b": "2"}}});
        let out = apply_ok(
            doc,
            json!([
                {"op": "remove", "path": "/metadata/annotations/example.com~1x"},
                {"op": "replace", "path": "/metadata/annotations/a~0b", "value": "3"}
            ]),
        );
        assert_eq!(out, json!({"metadata": {"annotations": {"a~b": "3"}}}));
    }

    #[test]
    fn library_leniencies() {
        // Negative indices count from the end; replace of a missing field adds it.
        let out = apply_ok(
            json!({"l": ["a", "b", "c"]}),
            json!([{"op": "remove", "path": "/l/-1"}, {"op": "replace", "path": "/x", "value": 1}]),
        );
        assert_eq!(out, json!({"l": ["a", "b"], "x": 1}));
    }

    #[test]
    fn failures_change_nothing_and_read_like_the_apiserver() {
        let doc = json!({"spec": {"replicas": 1, "list": ["a"]}});
        let cases = [
            (
                json!([{"op": "replace", "path": "/spec/replicas", "value": 3},
                       {"op": "test", "path": "/spec/replicas", "value": 2}]),
                "testing value /spec/replicas failed: test failed",
            ),
            (
                json!([{"op": "remove", "path": "/spec/missing"}]),
                "error in remove for path: '/spec/missing': Unable to remove nonexistent key: missing: missing value",
            ),
            (
                json!([{"op": "add", "path": "/status/phase", "value": "x"}]),
                "add operation does not apply: doc is missing path: \"/status/phase\": missing value",
            ),
            (
                json!([{"op": "add", "path": "/spec/list/5", "value": "x"}]),
                "error in add for path: '/spec/list/5': Unable to access invalid index: 5: invalid index referenced",
            ),
            (
                json!([{"op": "add", "path": "/spec/list/x", "value": "x"}]),
                "error in add for path: '/spec/list/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                json!([{"op": "replace", "path": "/spec/list/3", "value": "x"}]),
                "replace operation does not apply: doc is missing key: /spec/list/3: missing value",
            ),
            (
                json!([{"op": "move", "from": "/spec/nope", "path": "/spec/x"}]),
                "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value",
            ),
            (
                json!([{"op": "frobnicate", "path": "/spec"}]),
                "Unexpected kind: frobnicate",
            ),
            (json!([{"path": "/spec"}]), "Unexpected kind: unknown"),
            (
                json!([{"op": "add", "value": 1}]),
                "add operation failed to decode path: missing value",
            ),
            (
                json!([{"op": "test", "value": 1}]),
                "test operation failed to decode path: operation missing path field: missing value",
            ),
        ];
        for (ops, want) in cases {
            let err = apply_err(doc.clone(), ops);
            assert_eq!(err, PatchError::JsonPatchFailed(want.to_string()));
            assert_eq!(err.code(), 422);
        }
    }

    #[test]
    fn malformed_bodies() {
        let err = apply_err(json!({}), json!({"op": "add"}));
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        );
        assert_eq!(err.code(), 400);
        let err = apply_err(json!({}), json!(["add"]));
        assert_eq!(
            err.to_string(),
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation"
        );
        let many = Value::Array(vec![
            json!({"op": "test", "path": "/a"});
            MAX_JSON_PATCH_OPERATIONS + 1
        ]);
        let err = apply_err(json!({}), many);
        assert_eq!(
            err.to_string(),
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
        assert_eq!(err.code(), 413);
    }

    #[test]
    fn test_op_on_missing_and_null() {
        assert_eq!(
            apply_ok(
                json!({"a": null}),
                json!([{"op": "test", "path": "/b", "value": null},
                                                {"op": "test", "path": "/a", "value": null}])
            ),
            json!({"a": null})
        );
        assert_eq!(
            apply_err(json!({}), json!([{"op": "test", "path": "/b", "value": 1}])).to_string(),
            "testing value /b failed: test failed"
        );
    }
}
