//! Decoding an object into its kind's type, as kube-apiserver decodes a request body (or a
//! patched object) before anything else looks at it. A built-in kind is decoded into its Go
//! types ([`Types`], compiled once from k8s-openapi's schemas): a value of the wrong type fails
//! the request, unknown fields are dropped. A custom resource is defaulted and pruned by its
//! CRD's structural schema ([`crate::sim::schema::structural`]); its type errors are left for
//! validation (422), as apiextensions-apiserver does. Either way the dropped fields are
//! reported per the request's `fieldValidation`.

mod compile;
mod walk;

use serde_json::Value;

pub use compile::{Node, NodeId, Scalar, Types};

use super::error::ApiError;
use super::resource::ResourceType;

/// The `fieldValidation` query parameter: what unknown fields do to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Dropped silently (the simulator's own writes).
    #[default]
    Ignore,
    /// Dropped, with a `Warning` response header each (kube-apiserver's default).
    Warn,
    /// The request fails (kubectl's default, `--validate=strict`).
    Strict,
}

impl FieldValidation {
    /// Parses the parameter; a request without it gets kube-apiserver's default, Warn. A bad
    /// value fails `ValidateCreateOptions` (or Update, Patch: `options_kind`).
    pub fn from_query(value: Option<&str>, options_kind: &str) -> Result<Self, ApiError> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => Err(ApiError::invalid_options(
                options_kind,
                &[(
                    "fieldValidation".to_string(),
                    format!(
                        "Unsupported value: \"{other}\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
                    ),
                )],
            )),
        }
    }
}

/// Decodes `obj` as `rt`'s type, in place: returns the paths of the unknown fields it dropped,
/// or a built-in kind's type error (Go's message).
pub fn decode(rt: &ResourceType, obj: &mut Value) -> Result<Vec<String>, String> {
    match &rt.crd {
        Some(crd) => Ok(crd
            .schema
            .as_ref()
            .map(|s| super::schema::structural::coerce(obj, s))
            .unwrap_or_default()),
        None => decode_kind(&rt.group, &rt.version, &rt.kind, obj),
    }
}

/// Decodes `obj` as a built-in kind (e.g. `autoscaling/v1` `Scale`); a kind without compiled
/// types decodes as it is.
pub fn decode_kind(
    group: &str,
    version: &str,
    kind: &str,
    obj: &mut Value,
) -> Result<Vec<String>, String> {
    let types = Types::builtin();
    match types.root(group, version, kind) {
        Some(root) => walk::decode(types, root, obj),
        None => Ok(Vec::new()),
    }
}

/// `unknown field "<path>"`, as strict decoding names each dropped field.
pub fn unknown_field(path: &str) -> String {
    format!("unknown field \"{path}\"")
}

/// `runtime.NewStrictDecodingError(...).Error()`.
pub fn strict_decoding_error(unknown: &[String]) -> String {
    let fields: Vec<String> = unknown.iter().map(|f| unknown_field(f)).collect();
    format!("strict decoding error: {}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What decoding and validating costs per write: run by hand with
    /// `cargo test --release --lib decode_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn decode_cost() {
        use serde_json::json;
        let types = crate::sim::resource::builtins();
        let rt = |k: &str| types.iter().find(|t| t.kind == k).unwrap().clone();
        let (cm, deploy) = (rt("ConfigMap"), rt("Deployment"));
        let start = std::time::Instant::now();
        let _ = Types::builtin();
        println!("compiling the types once: {:?}", start.elapsed());
        let configmap = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm-1", "namespace": "default", "labels": {"app": "bench", "n": "1"},
                "managedFields": [{"manager": "kube-rs", "operation": "Update", "apiVersion": "v1", "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {".": {}, "f:k": {}}}}]},
            "data": {"k": "v", "n": "1"}});
        let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "revisionHistoryLimit": 10,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                    "containers": [{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}}}]}}}});
        for (rt, obj) in [(&cm, &configmap), (&deploy, &deployment)] {
            let n = 20_000;
            let start = std::time::Instant::now();
            for _ in 0..n {
                let mut o = obj.clone();
                let _ = std::hint::black_box(decode(rt, &mut o));
            }
            let decode_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
            let start = std::time::Instant::now();
            for _ in 0..n {
                let _ = std::hint::black_box(obj.clone());
            }
            let clone_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
            let start = std::time::Instant::now();
            for _ in 0..n {
                let _ = std::hint::black_box(crate::sim::validation::kind_problems(rt, obj));
            }
            let validate_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;
            println!(
                "{}: decode {:.2} µs (incl. a {clone_us:.2} µs clone), validate {validate_us:.2} µs",
                rt.kind, decode_us
            );
        }
    }

    #[test]
    fn field_validation_defaults_to_warn() {
        assert_eq!(
            FieldValidation::from_query(None, "CreateOptions").unwrap(),
            FieldValidation::Warn
        );
        assert_eq!(
            FieldValidation::from_query(Some("Strict"), "CreateOptions").unwrap(),
            FieldValidation::Strict
        );
        let e = FieldValidation::from_query(Some("strict"), "PatchOptions").unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                422,
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\""
            )
        );
        assert_eq!(
            strict_decoding_error(&["a".into(), "b.c".into()]),
            "strict decoding error: unknown field \"a\", unknown field \"b.c\""
        );
    }
}
