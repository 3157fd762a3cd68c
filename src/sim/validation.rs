//! Validation kube-apiserver applies to every object: type meta, names, labels, annotations.

use serde_json::{Map, Value};

use super::error::ApiError;
use super::resource::ResourceType;

mod kinds;

pub use kinds::{problems as kind_problems, update_problems};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
pub(crate) const LABEL_1123_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

fn is_alnum_lower(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// RFC 1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63.
pub fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && is_alnum_lower(b[0])
        && is_alnum_lower(b[b.len() - 1])
        && b.iter().all(|c| is_alnum_lower(*c) || *c == b'-')
}

/// RFC 1123 subdomain: dot-separated labels, at most 253.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253
        && !s.is_empty()
        && s.split('.').all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && is_alnum_lower(b[0])
                && is_alnum_lower(b[b.len() - 1])
                && b.iter().all(|c| is_alnum_lower(*c) || *c == b'-')
        })
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes()[0].is_ascii_lowercase()
}

/// Problems with `metadata.name` for this resource, as (field, message).
pub fn name_problems(rt: &ResourceType, name: &str) -> Vec<(String, String)> {
    let invalid = |msg: &str| {
        vec![(
            "metadata.name".to_string(),
            format!("Invalid value: \"{name}\": {msg}"),
        )]
    };
    match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "namespaces") => {
            if is_dns1123_label(name) {
                vec![]
            } else {
                invalid(LABEL_1123_MSG)
            }
        }
        ("", "services") => {
            if is_dns1035_label(name) {
                vec![]
            } else {
                invalid(LABEL_1035_MSG)
            }
        }
        ("rbac.authorization.k8s.io", _) => {
            if name == "." || name == ".." {
                invalid(&format!("may not be '{name}'"))
            } else if name.contains('/') {
                invalid("may not contain '/'")
            } else if name.contains('%') {
                invalid("may not contain '%'")
            } else {
                vec![]
            }
        }
        _ => {
            if is_dns1123_subdomain(name) {
                vec![]
            } else {
                invalid(SUBDOMAIN_MSG)
            }
        }
    }
}

/// A qualified name (label or annotation key): optional DNS-subdomain prefix and a name part.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns1123_subdomain(p)
    {
        return Some(format!("prefix part {SUBDOMAIN_MSG}"));
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Some("name part must be no more than 63 characters".into());
    }
    let b = name.as_bytes();
    let ok_inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    if !(b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(ok_inner))
    {
        return Some("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
    }
    None
}

fn label_value_problem(v: &str) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    if v.len() > 63 {
        return Some("must be no more than 63 characters".into());
    }
    let b = v.as_bytes();
    let ok_inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    if b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(ok_inner)
    {
        None
    } else {
        Some("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into())
    }
}

/// Problems with labels and annotations.
pub fn metadata_problems(obj: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let meta = obj.get("metadata").and_then(Value::as_object);
    let empty = Map::new();
    let labels = meta.and_then(|m| m.get("labels"));
    match labels {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (k, v) in labels {
                if let Some(p) = qualified_name_problem(k) {
                    out.push((
                        "metadata.labels".into(),
                        format!("Invalid value: \"{k}\": {p}"),
                    ));
                }
                match v.as_str() {
                    Some(s) => {
                        if let Some(p) = label_value_problem(s) {
                            out.push((
                                "metadata.labels".to_string(),
                                format!("Invalid value: \"{s}\": {p}"),
                            ));
                        }
                    }
                    None => out.push((
                        "metadata.labels".into(),
                        format!("Invalid value: {v}: must be a string"),
                    )),
                }
            }
        }
        Some(other) => out.push((
            "metadata.labels".into(),
            format!("Invalid value: {other}: must be a map of strings"),
        )),
    }
    let annotations = meta
        .and_then(|m| m.get("annotations"))
        .unwrap_or(&Value::Null);
    let annotations = match annotations {
        Value::Null => &empty,
        Value::Object(a) => a,
        other => {
            out.push((
                "metadata.annotations".into(),
                format!("Invalid value: {other}: must be a map of strings"),
            ));
            &empty
        }
    };
    let mut total = 0usize;
    for (k, v) in annotations {
        if let Some(p) = qualified_name_problem(&k.to_lowercase()) {
            out.push((
                "metadata.annotations".into(),
                format!("Invalid value: \"{k}\": {p}"),
            ));
        }
        match v.as_str() {
            Some(s) => total += k.len() + s.len(),
            None => out.push((
                "metadata.annotations".into(),
                format!("Invalid value: {v}: must be a string"),
            )),
        }
    }
    if total > 256 * 1024 {
        out.push((
            "metadata.annotations".into(),
            "Too long: may not be more than 262144 bytes".to_string(),
        ));
    }
    out
}

/// Checks apiVersion and kind against the endpoint, filling them in when absent (the decoder
/// defaults them from the URL). Another served version of the same custom resource is accepted.
pub fn check_type_meta(
    rt: &ResourceType,
    obj: &mut Value,
    other_versions: &[ResourceType],
) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the object provided is unrecognized (must be a JSON or YAML object)",
        ));
    };
    let expected = rt.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), Value::String(expected.clone()));
        }
        Some(v) if v == expected => {}
        Some(v)
            if other_versions
                .iter()
                .any(|t| t.api_version() == v && t.kind == rt.kind && t.plural == rt.plural) =>
        {
            map.insert("apiVersion".into(), Value::String(expected.clone()));
        }
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({expected})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), Value::String(rt.kind.clone()));
        }
        Some(k) if k == rt.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    match map.get("metadata") {
        None | Some(Value::Null) => {
            map.insert("metadata".into(), Value::Object(Map::new()));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Err(ApiError::bad_request("metadata must be an object")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_each_resource_rule() {
        let types = super::super::resource::builtins();
        let t = |p: &str| types.iter().find(|t| t.plural == p).unwrap().clone();
        assert!(name_problems(&t("configmaps"), "a.b-c").is_empty());
        assert!(!name_problems(&t("configmaps"), "A").is_empty());
        assert!(!name_problems(&t("namespaces"), "a.b").is_empty());
        assert!(!name_problems(&t("services"), "1abc").is_empty());
        assert!(name_problems(&t("clusterroles"), "system:discovery").is_empty());
        assert!(!name_problems(&t("clusterroles"), "a/b").is_empty());
    }

    #[test]
    fn labels_and_annotations_are_checked() {
        assert!(
            metadata_problems(
                &json!({"metadata": {"labels": {"app.kubernetes.io/name": "web", "x": ""}}})
            )
            .is_empty()
        );
        assert_eq!(
            metadata_problems(&json!({"metadata": {"labels": {"-x": "ok", "y": "bad value"}}}))
                .len(),
            2
        );
        assert_eq!(
            metadata_problems(&json!({"metadata": {"annotations": {"a": 1}}})).len(),
            1
        );
    }

    #[test]
    fn type_meta_is_filled_or_checked() {
        let types = super::super::resource::builtins();
        let cm = types.iter().find(|t| t.plural == "configmaps").unwrap();
        let mut o = json!({"metadata": {"name": "x"}});
        check_type_meta(cm, &mut o, &types).unwrap();
        assert_eq!(o["apiVersion"], "v1");
        assert_eq!(o["kind"], "ConfigMap");
        let mut o = json!({"apiVersion": "apps/v1", "kind": "ConfigMap"});
        assert_eq!(check_type_meta(cm, &mut o, &types).unwrap_err().code, 400);
        assert_eq!(
            check_type_meta(cm, &mut json!([1]), &types)
                .unwrap_err()
                .code,
            400
        );
    }
}
