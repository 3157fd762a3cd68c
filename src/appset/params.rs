//! Parameter sets: what generators produce and templates consume. In Argo CD's default template
//! mode a parameter set is a flat map of dotted keys (`metadata.labels.env`, `path[0]`) to strings.

use std::collections::BTreeMap;

use serde_json::Value;

/// One parameter set: flat dotted keys to string values.
pub type Params = BTreeMap<String, String>;

/// Argo CD's `SanitizeName`: lowercase, every character outside `[-a-z0-9.]` becomes `-`,
/// truncate to 253 characters, then trim leading and trailing `-` and `.`. Runs of `-` are kept
/// and the 63-character label limit is not applied, exactly as in Argo CD.
pub fn normalize(name: &str) -> String {
    let mapped: String = name
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(253)
        .collect();
    mapped.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// A scalar as a parameter string: strings as they are, numbers and booleans in their JSON
/// spelling (`3`, `1.5`, `true`), null as the empty string. `None` for arrays and objects.
pub fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Flattens a JSON value into `out` with dotted keys (`a.b.c`; array items as `a.0`), as Argo CD
/// does for git files in the default template mode. Empty objects and arrays produce no key.
pub fn flatten_into(prefix: &str, value: &Value, out: &mut Params) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten_into(&key(k), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(&key(&i.to_string()), v, out);
            }
        }
        scalar => {
            if let Some(s) = scalar_to_string(scalar) {
                out.insert(prefix.to_string(), s);
            }
        }
    }
}

/// The path parameters of a git generator for `path` (a directory): `P`, `P.basename`,
/// `P.basenameNormalized` and `P[i]` for every non-empty segment, where `P` is `path` or
/// `<prefix>.path`.
pub fn insert_path_params(params: &mut Params, prefix: Option<&str>, dir: &str) {
    let p = match prefix {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}.path"),
        _ => "path".to_string(),
    };
    let basename = basename(dir);
    params.insert(format!("{p}.basenameNormalized"), normalize(basename));
    params.insert(format!("{p}.basename"), basename.to_string());
    for (i, segment) in dir.split('/').enumerate() {
        if !segment.is_empty() {
            params.insert(format!("{p}[{i}]"), segment.to_string());
        }
    }
    params.insert(p, dir.to_string());
}

/// Go's `path.Base`: the last element, `.` for an empty path, `/` for the root.
pub fn basename(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Go's `path.Dir` for the relative, clean paths of a Git tree: `.` when there is no `/`.
pub fn dirname(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalize_matches_argo_sanitize_name() {
        // Cases from Argo CD's utils_test.go TestSanitizeName and the generators docs.
        assert_eq!(normalize("Cluster_Name"), "cluster-name");
        assert_eq!(
            normalize("production.example.com"),
            "production.example.com"
        );
        assert_eq!(normalize("--a..b--"), "a..b");
        assert_eq!(normalize("Hello World!!"), "hello-world");
        assert_eq!(normalize("a__b"), "a--b", "runs of '-' are kept");
        assert_eq!(normalize("ÄÖ"), "");
        assert_eq!(normalize(&"x".repeat(300)).len(), 253);
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn flatten_uses_dotted_keys_and_indexes() {
        let mut out = Params::new();
        flatten_into(
            "",
            &json!({"cluster": {"name": "a", "port": 443, "tls": true, "tags": ["x", "y"], "none": null}, "e": {}}),
            &mut out,
        );
        assert_eq!(out["cluster.name"], "a");
        assert_eq!(out["cluster.port"], "443");
        assert_eq!(out["cluster.tls"], "true");
        assert_eq!(out["cluster.tags.0"], "x");
        assert_eq!(out["cluster.tags.1"], "y");
        assert_eq!(out["cluster.none"], "");
        assert!(!out.contains_key("e"));
    }

    #[test]
    fn path_params_follow_argo() {
        let mut p = Params::new();
        insert_path_params(&mut p, None, "apps/Guest_Book");
        assert_eq!(p["path"], "apps/Guest_Book");
        assert_eq!(p["path.basename"], "Guest_Book");
        assert_eq!(p["path.basenameNormalized"], "guest-book");
        assert_eq!(p["path[0]"], "apps");
        assert_eq!(p["path[1]"], "Guest_Book");
        let mut p = Params::new();
        insert_path_params(&mut p, Some("app"), "a/b");
        assert_eq!(p["app.path"], "a/b");
        assert_eq!(p["app.path[1]"], "b");
        assert!(!p.contains_key("path"));
    }

    #[test]
    fn go_path_helpers() {
        assert_eq!(basename("a/b/c.yaml"), "c.yaml");
        assert_eq!(basename("c"), "c");
        assert_eq!(dirname("a/b/c.yaml"), "a/b");
        assert_eq!(dirname("c.yaml"), ".");
    }
}
