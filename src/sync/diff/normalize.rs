//! Normalisation that keeps the server's rewriting of values from looking like drift: the
//! desired object as the server will hold it, and the equality of two scalars.

use base64::Engine;
use serde_json::{Map, Number, Value};

use super::quantity::parse_nanos;
use super::schema::Schema;

/// Metadata the server sets; never part of what the hub applies.
pub(super) const SERVER_METADATA: [&str; 7] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
];

/// The desired object as the comparison reads it: `status` and server-set metadata removed,
/// `null` fields removed (null is absent), and a Secret's `stringData` moved into `data` as
/// base64 (the server merges it there, `stringData` winning, and never returns it).
pub(super) fn prepare_desired(desired: &Value) -> Value {
    let mut d = desired.clone();
    drop_nulls(&mut d);
    let is_secret = is_core_kind(&d, "Secret");
    let Some(obj) = d.as_object_mut() else {
        return d;
    };
    obj.remove("status");
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in SERVER_METADATA {
            meta.remove(key);
        }
    }
    if is_secret && let Some(Value::Object(string_data)) = obj.remove("stringData") {
        let data = obj
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(data) = data.as_object_mut() {
            for (k, v) in string_data {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                data.insert(k, Value::String(encoded));
            }
        }
    }
    d
}

/// Whether the object is a core (`v1`) object of this kind.
pub(super) fn is_core_kind(obj: &Value, kind: &str) -> bool {
    obj.get("kind").and_then(Value::as_str) == Some(kind)
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Whether a desired scalar equals a live one at `names`: numbers by value, quantities by
/// value, IntOrString fields by integer value (`"80"` == `80`).
pub(super) fn scalars_equal(schema: &Schema, names: &[String], d: &Value, l: &Value) -> bool {
    if json_equal(d, l) {
        return true;
    }
    if schema.is_quantity(names)
        && let (Some(a), Some(b)) = (quantity(d), quantity(l))
    {
        return a == b;
    }
    if schema.is_int_or_string(names)
        && let (Some(a), Some(b)) = (int_value(d), int_value(l))
    {
        return a == b;
    }
    false
}

fn quantity(v: &Value) -> Option<i128> {
    match v {
        Value::String(s) => parse_nanos(s),
        Value::Number(n) => parse_nanos(&n.to_string()),
        _ => None,
    }
}

fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Deep equality with numbers compared by value (`1` == `1.0`).
pub(super) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(x), int(y)) {
        (Some(a), Some(b)) => a == b,
        _ => x.as_f64() == y.as_f64(),
    }
}

/// Go's zero values, which `omitempty` struct fields leave out of what the server returns.
pub(super) fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sync::diff::schema::Hints;

    #[test]
    fn prepare_drops_status_server_metadata_and_nulls() {
        let d = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "creationTimestamp": null, "uid": "u", "labels": {"a": null, "b": "1"}},
            "data": {"x": "1"}, "status": {"phase": "x"}});
        assert_eq!(
            prepare_desired(&d),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "c", "labels": {"b": "1"}}, "data": {"x": "1"}})
        );
    }

    #[test]
    fn secret_string_data_becomes_data() {
        let d = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "b2xk", "keep": "eA=="}, "stringData": {"a": "new", "n": 5}});
        assert_eq!(
            prepare_desired(&d),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                "data": {"a": "bmV3", "keep": "eA==", "n": "NQ=="}})
        );
        // not a Secret: untouched
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "stringData": {"a": "x"}});
        assert_eq!(prepare_desired(&cm), cm);
    }

    #[test]
    fn numbers_by_value() {
        assert!(json_equal(&json!(1), &json!(1.0)));
        assert!(json_equal(&json!([1, {"a": 2.0}]), &json!([1.0, {"a": 2}])));
        assert!(!json_equal(&json!(1), &json!("1")));
        assert!(json_equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }

    #[test]
    fn scalars_by_field_type() {
        let hints = Hints::new();
        let s = Schema {
            group: "",
            kind: "Service",
            hints: &hints,
        };
        let n = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        let tp = n("spec.ports.targetPort");
        assert!(scalars_equal(&s, &tp, &json!("80"), &json!(80)));
        assert!(scalars_equal(&s, &tp, &json!(80), &json!("80")));
        assert!(!scalars_equal(&s, &tp, &json!("http"), &json!(80)));
        assert!(!scalars_equal(
            &s,
            &n("metadata.labels.x"),
            &json!("80"),
            &json!(80)
        ));
        let cpu = n("spec.containers.resources.limits.cpu");
        assert!(scalars_equal(&s, &cpu, &json!("500m"), &json!("0.5")));
        assert!(scalars_equal(&s, &cpu, &json!(2), &json!("2000m")));
        assert!(scalars_equal(&s, &cpu, &json!(0.5), &json!("500m")));
        assert!(!scalars_equal(&s, &cpu, &json!("1"), &json!("1001m")));
        assert!(!scalars_equal(
            &s,
            &n("data.x"),
            &json!("1k"),
            &json!("1000")
        ));
    }

    #[test]
    fn zero_values() {
        for v in [json!(false), json!(""), json!(0), json!(0.0)] {
            assert!(is_zero(&v), "{v}");
        }
        for v in [json!(true), json!("x"), json!(1), json!({}), json!(null)] {
            assert!(!is_zero(&v), "{v}");
        }
    }
}
