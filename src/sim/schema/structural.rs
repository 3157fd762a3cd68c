//! What apiextensions-apiserver does to a custom resource with its CRD version's structural
//! `openAPIV3Schema`: defaulting (`structuraldefaulting.Default`), pruning of unknown fields
//! (`structuralpruning.PruneWithOptions`, which also reports them for `fieldValidation`),
//! removal of non-nullable nulls, and the OpenAPI value validation of
//! `validation.ValidateCustomResource`, worded as `ConvertSchemaValidationErrors` words it.
//!
//! Covered validations: `type` (with `nullable` and `x-kubernetes-int-or-string`), `enum`,
//! `required`, `minimum`/`maximum` (and their exclusive forms). Not covered: `pattern`, `format`,
//! lengths and counts, `allOf`/`anyOf`/`oneOf`/`not`, CEL rules and validation ratcheting.

use serde_json::Value;

/// Fields every embedded resource (and the object root) keeps whatever its schema says.
const META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn is_true(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool) == Some(true)
}

/// The schema of a map's values (`additionalProperties`): `Some(None)` when values of any shape
/// are kept (`additionalProperties: true`), `None` when the object has no such values.
fn additional(s: &Value) -> Option<Option<&Value>> {
    match s.get("additionalProperties") {
        Some(v @ Value::Object(_)) => Some(Some(v)),
        Some(Value::Bool(true)) => Some(None),
        _ => None,
    }
}

fn property<'a>(s: &'a Value, key: &str) -> Option<&'a Value> {
    s.get("properties").and_then(|p| p.get(key))
}

fn default_of(s: Option<&Value>) -> Option<&Value> {
    s.and_then(|s| s.get("default"))
}

/// `isNonNullableNull`: a null where the schema has a default and is not nullable.
fn is_non_nullable_null(v: &Value, s: Option<&Value>) -> bool {
    v.is_null() && default_of(s).is_some() && !s.is_some_and(|s| is_true(s, "nullable"))
}

/// Fills unset (or non-nullable null) fields with their schema defaults, recursively, the
/// defaults themselves included.
pub fn default(obj: &mut Value, schema: &Value) {
    match obj {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, prop) in props {
                    let Some(d) = prop.get("default") else {
                        continue;
                    };
                    let missing = map
                        .get(k)
                        .is_none_or(|v| is_non_nullable_null(v, Some(prop)));
                    if missing {
                        map.insert(k.clone(), d.clone());
                    }
                }
            }
            let extra = additional(schema).flatten();
            for (k, v) in map.iter_mut() {
                if let Some(prop) = property(schema, k) {
                    default(v, prop);
                } else if let Some(s) = extra {
                    if is_non_nullable_null(v, Some(s)) {
                        *v = s["default"].clone();
                    }
                    default(v, s);
                }
            }
        }
        Value::Array(items) => {
            let Some(s) = schema.get("items") else { return };
            for v in items.iter_mut() {
                if is_non_nullable_null(v, Some(s)) {
                    *v = s["default"].clone();
                }
                default(v, s);
            }
        }
        _ => {}
    }
}

/// Drops the fields the schema does not know, unless `x-kubernetes-preserve-unknown-fields`
/// keeps them, and returns their paths (`spec.foo`, `spec.list[0].bar`), sorted. The root keeps
/// `apiVersion`, `kind` and `metadata`.
pub fn prune(obj: &mut Value, schema: &Value) -> Vec<String> {
    let mut root = schema.clone();
    if let Some(m) = root.as_object_mut() {
        m.insert("x-kubernetes-embedded-resource".into(), Value::Bool(true));
    }
    let mut unknown = Vec::new();
    prune_at(obj, Some(&root), "", &mut unknown);
    unknown.sort();
    unknown
}

fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn prune_at(obj: &mut Value, schema: Option<&Value>, path: &str, unknown: &mut Vec<String>) {
    if let Some(s) = schema
        && is_true(s, "x-kubernetes-preserve-unknown-fields")
    {
        return skip_prune(obj, s, path, unknown);
    }
    match obj {
        Value::Object(map) => {
            let Some(s) = schema else {
                for k in std::mem::take(map).keys() {
                    unknown.push(child_path(path, k));
                }
                return;
            };
            let embedded = is_true(s, "x-kubernetes-embedded-resource");
            let extra = additional(s);
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let sub = child_path(path, &k);
                if let (Some(prop), Some(v)) = (property(s, &k), map.get_mut(&k)) {
                    prune_at(v, Some(prop), &sub, unknown);
                } else if let Some(extra) = extra {
                    if let (Some(e), Some(v)) = (extra, map.get_mut(&k)) {
                        prune_at(v, Some(e), &sub, unknown);
                    }
                } else {
                    if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                        unknown.push(sub);
                    }
                    map.remove(&k);
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.get("items"));
            for (i, v) in items.iter_mut().enumerate() {
                prune_at(v, item_schema, &format!("{path}[{i}]"), unknown);
            }
        }
        _ => {}
    }
}

/// Below `x-kubernetes-preserve-unknown-fields`, known fields are still pruned inside.
fn skip_prune(obj: &mut Value, s: &Value, path: &str, unknown: &mut Vec<String>) {
    match obj {
        Value::Object(map) => {
            let embedded = is_true(s, "x-kubernetes-embedded-resource");
            let extra = additional(s).flatten();
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = property(s, k) {
                    prune_at(v, Some(prop), &child_path(path, k), unknown);
                } else if let Some(e) = extra {
                    prune_at(v, Some(e), &child_path(path, k), unknown);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for (i, v) in items.iter_mut().enumerate() {
                    skip_prune(v, item_schema, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

/// `PruneNonNullableNullsWithoutDefaults`: drops null values of object fields whose schema is
/// neither nullable nor defaulted.
pub fn prune_nulls(obj: &mut Value, schema: &Value) {
    match obj {
        Value::Object(map) => {
            let extra = additional(schema).flatten();
            map.retain(|k, v| {
                let s = property(schema, k).or(extra);
                !(v.is_null()
                    && s.is_some_and(|s| !is_true(s, "nullable") && s.get("default").is_none()))
            });
            for (k, v) in map.iter_mut() {
                if let Some(s) = property(schema, k).or(extra) {
                    prune_nulls(v, s);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for v in items.iter_mut() {
                    prune_nulls(v, s);
                }
            }
        }
        _ => {}
    }
}

/// Decoding a custom resource: defaulting, then pruning (returning the unknown field paths),
/// then removal of non-nullable nulls.
pub fn coerce(obj: &mut Value, schema: &Value) -> Vec<String> {
    default(obj, schema);
    let unknown = prune(obj, schema);
    prune_nulls(obj, schema);
    unknown
}

/// The OpenAPI type name go-openapi gives a JSON value.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as `field.Error` prints it: strings quoted, numbers and booleans plain.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    match (want, v) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        ("string", Value::String(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("array", Value::Array(_)) => true,
        ("object", Value::Object(_)) => true,
        _ => false,
    }
}

/// Formats a bound as Go's `%v` formats a float64: integral values without a fraction.
fn show_bound(b: &Value) -> String {
    match b.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", f as i64),
        Some(f) => f.to_string(),
        None => b.to_string(),
    }
}

/// The field errors of `obj` against `schema`, as (field path, error body).
pub fn validate(obj: &Value, schema: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    validate_at(obj, schema, "", &mut problems);
    problems
}

fn validate_at(v: &Value, s: &Value, path: &str, problems: &mut Vec<(String, String)>) {
    let shown_path = if path.is_empty() { "." } else { path };
    if v.is_null() {
        if is_true(s, "nullable") {
            return;
        }
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            problems.push((
                path.to_string(),
                format!(
                    "Invalid value: \"null\": {shown_path} in body must be of type {t}: \"null\""
                ),
            ));
        }
        return;
    }
    let wanted = if is_true(s, "x-kubernetes-int-or-string") {
        Some((
            "integer,string",
            matches!(v, Value::String(_)) || type_matches("integer", v),
        ))
    } else {
        s.get("type")
            .and_then(Value::as_str)
            .map(|t| (t, type_matches(t, v)))
    };
    if let Some((t, false)) = wanted {
        let actual = type_of(v);
        problems.push((
            path.to_string(),
            format!(
                "Invalid value: {actual:?}: {shown_path} in body must be of type {t}: {actual:?}"
            ),
        ));
        return;
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        let values: Vec<String> = allowed
            .iter()
            .map(|a| match a {
                Value::String(s) => format!("{s:?}"),
                other => format!("{:?}", other.to_string()),
            })
            .collect();
        problems.push((
            path.to_string(),
            format!(
                "Unsupported value: {}: supported values: {}",
                show(v),
                values.join(", ")
            ),
        ));
    }
    if let Some(n) = v.as_f64() {
        let exclusive = |k: &str| is_true(s, k);
        if let Some(min) = s.get("minimum").filter(|m| m.is_number()) {
            let m = min.as_f64().unwrap_or(f64::MIN);
            if n < m || (exclusive("exclusiveMinimum") && n == m) {
                let rel = if exclusive("exclusiveMinimum") {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                problems.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {}: {shown_path} in body should be {rel} {}",
                        show(v),
                        show_bound(min)
                    ),
                ));
            }
        }
        if let Some(max) = s.get("maximum").filter(|m| m.is_number()) {
            let m = max.as_f64().unwrap_or(f64::MAX);
            if n > m || (exclusive("exclusiveMaximum") && n == m) {
                let rel = if exclusive("exclusiveMaximum") {
                    "less than"
                } else {
                    "less than or equal to"
                };
                problems.push((
                    path.to_string(),
                    format!(
                        "Invalid value: {}: {shown_path} in body should be {rel} {}",
                        show(v),
                        show_bound(max)
                    ),
                ));
            }
        }
    }
    match v {
        Value::Object(map) => {
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        problems.push((child_path(path, r), "Required value".into()));
                    }
                }
            }
            let extra = additional(s).flatten();
            for (k, child) in map {
                if path.is_empty() && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(prop) = property(s, k).or(extra) {
                    validate_at(child, prop, &child_path(path, k), problems);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(item, item_schema, &format!("{path}[{i}]"), problems);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["engine"],
                    "properties": {
                        "engine": {"type": "string", "enum": ["postgres", "mysql"]},
                        "sizeGi": {"type": "integer", "minimum": 1, "default": 10},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "backup": {"type": "object", "default": {}, "properties": {
                            "enabled": {"type": "boolean", "default": true},
                            "schedule": {"type": "string", "nullable": true}
                        }},
                        "ports": {"type": "array", "items": {"type": "object", "properties": {
                            "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}
                        }}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}},
                        "port": {"x-kubernetes-int-or-string": true}
                    }
                },
                "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
            }
        })
    }

    #[test]
    fn defaults_fill_unset_fields_recursively() {
        let mut obj = json!({"spec": {"engine": "mysql", "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}});
        default(&mut obj, &schema());
        assert_eq!(obj["spec"]["sizeGi"], 10);
        assert_eq!(
            obj["spec"]["backup"],
            json!({"enabled": true}),
            "a defaulted object gets its own defaults"
        );
        assert_eq!(obj["spec"]["ports"][0]["protocol"], "TCP");
        assert_eq!(obj["spec"]["ports"][1]["protocol"], "UDP");
        assert!(obj.get("status").is_none(), "no default, no field");
        let mut explicit = json!({"spec": {"sizeGi": null, "backup": {"enabled": false}}});
        default(&mut explicit, &schema());
        assert_eq!(
            explicit["spec"]["sizeGi"], 10,
            "non-nullable nulls are defaulted"
        );
        assert_eq!(explicit["spec"]["backup"]["enabled"], false);
    }

    #[test]
    fn prune_drops_and_reports_unknown_fields() {
        let mut obj = json!({
            "apiVersion": "db.example.com/v1", "kind": "Database", "metadata": {"name": "x"},
            "top": 1,
            "spec": {"engine": "mysql", "extra": {"a": 1}, "ports": [{"port": 1, "bogus": true}],
                     "labels": {"a": "b"}, "raw": {"anything": [1], "known": {"a": "x", "b": "y"}}},
        });
        let unknown = prune(&mut obj, &schema());
        assert_eq!(
            unknown,
            [
                "spec.extra",
                "spec.ports[0].bogus",
                "spec.raw.known.b",
                "top"
            ]
        );
        assert_eq!(obj["metadata"]["name"], "x");
        assert!(obj["spec"].get("extra").is_none() && obj.get("top").is_none());
        assert_eq!(obj["spec"]["ports"], json!([{"port": 1}]));
        assert_eq!(obj["spec"]["labels"], json!({"a": "b"}));
        assert_eq!(
            obj["spec"]["raw"],
            json!({"anything": [1], "known": {"a": "x"}})
        );
    }

    #[test]
    fn coerce_removes_non_nullable_nulls() {
        let mut obj =
            json!({"spec": {"engine": "mysql", "tags": null, "backup": {"schedule": null}}});
        assert!(coerce(&mut obj, &schema()).is_empty());
        assert!(obj["spec"].get("tags").is_none());
        assert_eq!(
            obj["spec"]["backup"],
            json!({"enabled": true, "schedule": null})
        );
    }

    #[test]
    fn validation_is_worded_like_the_apiserver() {
        let obj = json!({"metadata": {"name": "x"}, "spec": {"engine": "oracle", "sizeGi": 0, "tags": ["a", 1], "port": true}});
        let problems = validate(&obj, &schema());
        let text: Vec<String> = problems.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        assert!(text.contains(&"spec.engine: Unsupported value: \"oracle\": supported values: \"postgres\", \"mysql\"".to_string()), "{text:?}");
        assert!(text.contains(&"spec.sizeGi: Invalid value: 0: spec.sizeGi in body should be greater than or equal to 1".to_string()), "{text:?}");
        assert!(text.contains(&"spec.tags[1]: Invalid value: \"integer\": spec.tags[1] in body must be of type string: \"integer\"".to_string()), "{text:?}");
        assert!(text.contains(&"spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"".to_string()), "{text:?}");
        let missing = validate(&json!({"spec": {}}), &schema());
        assert_eq!(
            missing,
            [("spec.engine".to_string(), "Required value".to_string())]
        );
        assert!(
            validate(
                &json!({"spec": {"engine": "mysql", "sizeGi": 5, "port": "http"}}),
                &schema()
            )
            .is_empty()
        );
    }
}
