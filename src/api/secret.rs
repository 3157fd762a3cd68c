//! A neutral view of a Kubernetes Secret, built from a `k8s-openapi` Secret or from a manifest
//! (YAML/JSON already parsed into a [`serde_json::Value`]), and the `secret-type` label that says
//! which Argo CD format it holds.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Map, Value};

use super::secret_error::{Problem, SecretError};
use super::sensitive::Sensitive;

/// Argo CD's label saying what a Secret holds (`cluster`, `repository`, `repo-creds`).
pub const ARGOCD_SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// Flotilla's own label with the same meaning; it wins over the Argo CD one when both are set.
pub const FLOTILLA_SECRET_TYPE_LABEL: &str = "flotilla.dev/secret-type";
/// The annotation `kubectl apply` writes; on a Secret it holds the whole manifest, data included.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Argo CD's annotation naming the tool that manages a cluster Secret.
pub const MANAGED_BY_ANNOTATION: &str = "managed-by";

/// The name used in errors for a manifest without `metadata.name`.
const UNNAMED: &str = "<unnamed>";

/// Base64 as Go's `base64.StdEncoding` decodes it (what the API server uses for `data`):
/// the standard alphabet, canonical padding required, non-zero trailing bits tolerated.
/// Like Go's decoder (used by the API server for `data` and by Argo CD for `caData`...), `\r` and
/// `\n` are skipped, so line-wrapped base64 is accepted; any other whitespace is an error.
const STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes standard, padded base64 (see [`STD_BASE64`]); `None` when it is not valid.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    if text.contains(['\r', '\n']) {
        let joined: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        return STD_BASE64.decode(joined).ok();
    }
    STD_BASE64.decode(text).ok()
}

/// What a Secret holds, from its `secret-type` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretType {
    /// `cluster`: a destination cluster.
    Cluster,
    /// `repository`: one Git or Helm repository.
    Repository,
    /// `repo-creds`: a credential template for repositories under a URL prefix.
    RepoCreds,
    /// Any other value of the label.
    Other(String),
}

impl SecretType {
    /// The type for a label value.
    pub fn from_label(value: &str) -> Self {
        match value {
            "cluster" => SecretType::Cluster,
            "repository" => SecretType::Repository,
            "repo-creds" => SecretType::RepoCreds,
            other => SecretType::Other(other.to_string()),
        }
    }

    /// The label value for a known type, quoted, for messages; `an unknown type` for
    /// [`SecretType::Other`] (whose text is not echoed).
    pub(crate) fn quoted(&self) -> &'static str {
        match self {
            SecretType::Cluster => "\"cluster\"",
            SecretType::Repository => "\"repository\"",
            SecretType::RepoCreds => "\"repo-creds\"",
            SecretType::Other(_) => "an unknown type",
        }
    }
}

/// A Secret reduced to what the parsers need. `data` holds decoded bytes; `Debug` lists its keys
/// only and redacts the `last-applied-configuration` annotation (which repeats the data).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretData {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`; `None` when absent or empty.
    pub namespace: Option<String>,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `data` (decoded) merged with `stringData`.
    pub data: BTreeMap<String, Sensitive<Vec<u8>>>,
}

impl SecretData {
    /// From a Secret read through the API. `stringData` entries override `data` entries with the
    /// same key, as the API server merges them.
    pub fn from_k8s(secret: &Secret) -> Self {
        let meta = &secret.metadata;
        let mut data: BTreeMap<String, Sensitive<Vec<u8>>> = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), Sensitive::new(v.0.clone())))
            .collect();
        for (k, v) in secret.string_data.iter().flatten() {
            data.insert(k.clone(), Sensitive::new(v.clone().into_bytes()));
        }
        SecretData {
            name: meta.name.clone().unwrap_or_default(),
            namespace: meta.namespace.clone().filter(|n| !n.is_empty()),
            labels: meta.labels.clone().unwrap_or_default(),
            annotations: meta.annotations.clone().unwrap_or_default(),
            data,
        }
    }

    /// From a Secret manifest (read from YAML or JSON). It must be `apiVersion: v1`,
    /// `kind: Secret` with a `metadata.name`; `data` values must be standard padded base64,
    /// `stringData` values plain strings (they override `data`).
    pub fn from_value(value: &Value) -> Result<Self, SecretError> {
        let obj = value
            .as_object()
            .ok_or_else(|| SecretError::field(UNNAMED, "manifest", Problem::NotObject))?;
        let empty = Map::new();
        let meta = match obj.get("metadata") {
            Some(Value::Object(m)) => m,
            None | Some(Value::Null) => &empty,
            Some(_) => return Err(SecretError::field(UNNAMED, "metadata", Problem::NotObject)),
        };
        let name = match meta.get("name") {
            Some(Value::String(n)) if !n.is_empty() => Ok(n.clone()),
            Some(Value::String(_)) => Err(Problem::Empty),
            None | Some(Value::Null) => Err(Problem::Missing),
            Some(_) => Err(Problem::NotString),
        };
        let namespace = match meta.get("namespace") {
            Some(Value::String(n)) if !n.is_empty() => Ok(Some(n.clone())),
            None | Some(Value::Null) | Some(Value::String(_)) => Ok(None),
            Some(_) => Err(Problem::NotString),
        };
        // Name the Secret as well as the manifest allows, then check what it is, then its name.
        let q = match (&name, &namespace) {
            (Ok(n), Ok(ns)) => qualify(n, ns.as_deref()),
            (Ok(n), Err(_)) => n.clone(),
            (Err(_), _) => UNNAMED.to_string(),
        };
        for (field, expected) in [("apiVersion", "v1"), ("kind", "Secret")] {
            if obj.get(field).and_then(Value::as_str) != Some(expected) {
                return Err(SecretError::field(&q, field, Problem::MustBe(expected)));
            }
        }
        let name = name.map_err(|p| SecretError::field(&q, "metadata.name", p))?;
        let namespace = namespace.map_err(|p| SecretError::field(&q, "metadata.namespace", p))?;
        let labels = string_map(&q, meta, "metadata", "labels")?;
        let annotations = string_map(&q, meta, "metadata", "annotations")?;
        let mut data = BTreeMap::new();
        for (key, v) in string_map(&q, obj, "", "data")? {
            let bytes = decode_base64(&v)
                .ok_or_else(|| SecretError::field(&q, format!("data.{key}"), Problem::NotBase64))?;
            data.insert(key, Sensitive::new(bytes));
        }
        for (key, v) in string_map(&q, obj, "", "stringData")? {
            data.insert(key, Sensitive::new(v.into_bytes()));
        }
        Ok(SecretData {
            name,
            namespace,
            labels,
            annotations,
            data,
        })
    }

    /// `namespace/name`, or just `name` without a namespace.
    pub fn qualified_name(&self) -> String {
        qualify(&self.name, self.namespace.as_deref())
    }

    /// The type from `flotilla.dev/secret-type`, else from `argocd.argoproj.io/secret-type`.
    pub fn secret_type(&self) -> Option<SecretType> {
        self.labels
            .get(FLOTILLA_SECRET_TYPE_LABEL)
            .or_else(|| self.labels.get(ARGOCD_SECRET_TYPE_LABEL))
            .map(|v| SecretType::from_label(v))
    }

    /// Checks that [`SecretData::secret_type`] is one of `expected`; `label` names the expected
    /// type in the error.
    pub(crate) fn require_type(
        &self,
        expected: &[SecretType],
        label: &'static str,
    ) -> Result<SecretType, SecretError> {
        match self.secret_type() {
            Some(t) if expected.contains(&t) => Ok(t),
            found => Err(SecretError::WrongType {
                secret: self.qualified_name(),
                expected: label,
                found: found.as_ref().map_or("missing", SecretType::quoted),
            }),
        }
    }

    /// The value of `key` as UTF-8 text; `None` when the key is absent.
    pub(crate) fn text(&self, key: &str) -> Result<Option<&str>, SecretError> {
        match self.data.get(key) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v.expose())
                .map(Some)
                .map_err(|_| SecretError::field(&self.qualified_name(), key, Problem::NotUtf8)),
        }
    }

    /// Like [`SecretData::text`], with an empty value counted as absent (as Argo CD does).
    pub(crate) fn non_empty_text(&self, key: &str) -> Result<Option<&str>, SecretError> {
        Ok(self.text(key)?.filter(|s| !s.is_empty()))
    }
}

impl fmt::Debug for SecretData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretData")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("labels", &self.labels)
            .field("annotations", &AnnotationsDebug(&self.annotations))
            .field("data", &DataKeys(&self.data))
            .finish()
    }
}

/// Debug of an annotation map with the value of [`LAST_APPLIED_ANNOTATION`] redacted.
pub(crate) struct AnnotationsDebug<'a>(pub &'a BTreeMap<String, String>);

impl fmt::Debug for AnnotationsDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.0 {
            if k == LAST_APPLIED_ANNOTATION {
                m.entry(k, &format_args!("<redacted>"));
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

/// Debug of a data map: its keys only.
struct DataKeys<'a>(&'a BTreeMap<String, Sensitive<Vec<u8>>>);

impl fmt::Debug for DataKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

fn qualify(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// `obj[key]` as a map of strings (absent or null: empty). `parent` prefixes field names.
fn string_map(
    secret: &str,
    obj: &Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<BTreeMap<String, String>, SecretError> {
    let path = if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    };
    let map = match obj.get(key) {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(SecretError::field(secret, path, Problem::NotObject)),
    };
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k.clone(), s.clone())),
            _ => Err(SecretError::field(
                secret,
                format!("{path}.{k}"),
                Problem::NotString,
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde_json::json;

    const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldC10b2tlbiJ9.c2VjcmV0";

    fn manifest(data: Value, string_data: Value) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "dev",
                "namespace": "flotilla",
                "labels": {"argocd.argoproj.io/secret-type": "cluster"},
                "annotations": {"note": "hello"},
            },
            "type": "Opaque",
            "data": data,
            "stringData": string_data,
        })
    }

    fn err_of(v: Value) -> SecretError {
        SecretData::from_value(&v).expect_err("should fail")
    }

    fn assert_no_leak(e: &SecretError, secret: &str) {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(secret), "{shown}");
    }

    #[test]
    fn from_k8s_merges_string_data_over_data() {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("dev".into()),
                namespace: Some("flotilla".into()),
                labels: Some([(ARGOCD_SECRET_TYPE_LABEL.into(), "cluster".into())].into()),
                ..Default::default()
            },
            data: Some(
                [
                    (
                        "server".into(),
                        ByteString(b"https://old.example.com".to_vec()),
                    ),
                    ("name".into(), ByteString(b"dev".to_vec())),
                ]
                .into(),
            ),
            string_data: Some([("server".into(), "https://new.example.com".into())].into()),
            ..Default::default()
        };
        let s = SecretData::from_k8s(&secret);
        assert_eq!(s.qualified_name(), "flotilla/dev");
        assert_eq!(s.text("server").unwrap(), Some("https://new.example.com"));
        assert_eq!(s.text("name").unwrap(), Some("dev"));
        assert_eq!(s.secret_type(), Some(SecretType::Cluster));
    }

    #[test]
    fn from_value_decodes_data_and_string_data_wins() {
        let v = manifest(
            json!({"server": "aHR0cHM6Ly9vbGQuZXhhbXBsZS5jb20=", "name": "ZGV2"}),
            json!({"server": "https://new.example.com"}),
        );
        let s = SecretData::from_value(&v).unwrap();
        assert_eq!(s.name, "dev");
        assert_eq!(s.namespace.as_deref(), Some("flotilla"));
        assert_eq!(s.annotations["note"], "hello");
        assert_eq!(s.text("server").unwrap(), Some("https://new.example.com"));
        assert_eq!(s.text("name").unwrap(), Some("dev"));
    }

    #[test]
    fn bad_base64_names_secret_and_key_only() {
        // Plain text where base64 belongs, unpadded, and base64 with a space inside.
        assert_eq!(
            decode_base64("aGVs\nbG8=\r\n").as_deref(),
            Some(&b"hello"[..]),
            "Go skips CR/LF"
        );
        for bad in [TOKEN, "aGVsbG8", "aGVs bG8=", "aGVs\tbG8="] {
            let e = err_of(manifest(json!({"config": bad}), Value::Null));
            assert_eq!(
                e.to_string(),
                "Secret flotilla/dev: data.config is not valid base64"
            );
            assert_no_leak(&e, TOKEN);
        }
    }

    #[test]
    fn non_string_values_are_errors_naming_the_key() {
        let e = err_of(manifest(Value::Null, json!({"shard": 1})));
        assert_eq!(
            e.to_string(),
            "Secret flotilla/dev: stringData.shard must be a string"
        );
        let e = err_of(manifest(json!({"config": {"a": TOKEN}}), Value::Null));
        assert_eq!(
            e.to_string(),
            "Secret flotilla/dev: data.config must be a string"
        );
        assert_no_leak(&e, TOKEN);
        let e = err_of(manifest(json!([TOKEN]), Value::Null));
        assert_eq!(e.to_string(), "Secret flotilla/dev: data must be an object");
        assert_no_leak(&e, TOKEN);
    }

    #[test]
    fn kind_api_version_and_name_are_checked() {
        let mut v = manifest(Value::Null, Value::Null);
        v["kind"] = json!("ConfigMap");
        assert_eq!(
            err_of(v).to_string(),
            "Secret flotilla/dev: kind must be \"Secret\""
        );
        let mut v = manifest(Value::Null, Value::Null);
        v["apiVersion"] = json!("v2");
        assert_eq!(
            err_of(v).to_string(),
            "Secret flotilla/dev: apiVersion must be \"v1\""
        );
        let mut v = manifest(Value::Null, Value::Null);
        v["metadata"].as_object_mut().unwrap().remove("name");
        assert_eq!(
            err_of(v).to_string(),
            "Secret <unnamed>: metadata.name is missing"
        );
        let mut v = manifest(Value::Null, Value::Null);
        v["metadata"]["labels"]["x"] = json!(3);
        assert_eq!(
            err_of(v).to_string(),
            "Secret flotilla/dev: metadata.labels.x must be a string"
        );
        let v = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(
            err_of(v).to_string(),
            "Secret <unnamed>: kind must be \"Secret\""
        );
        let v = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": ""}});
        assert_eq!(
            err_of(v).to_string(),
            "Secret <unnamed>: metadata.name is empty"
        );
        assert_eq!(
            err_of(json!("Secret")).to_string(),
            "Secret <unnamed>: manifest must be an object"
        );
    }

    #[test]
    fn secret_type_from_either_label_flotilla_wins() {
        let mut s = SecretData {
            name: "x".into(),
            ..Default::default()
        };
        assert_eq!(s.secret_type(), None);
        s.labels
            .insert(ARGOCD_SECRET_TYPE_LABEL.into(), "repository".into());
        assert_eq!(s.secret_type(), Some(SecretType::Repository));
        s.labels
            .insert(FLOTILLA_SECRET_TYPE_LABEL.into(), "repo-creds".into());
        assert_eq!(s.secret_type(), Some(SecretType::RepoCreds));
        s.labels.remove(ARGOCD_SECRET_TYPE_LABEL);
        s.labels
            .insert(FLOTILLA_SECRET_TYPE_LABEL.into(), "cluster".into());
        assert_eq!(s.secret_type(), Some(SecretType::Cluster));
        s.labels
            .insert(FLOTILLA_SECRET_TYPE_LABEL.into(), "weird".into());
        assert_eq!(s.secret_type(), Some(SecretType::Other("weird".into())));
    }

    #[test]
    fn qualified_name_without_namespace() {
        let s = SecretData {
            name: "x".into(),
            ..Default::default()
        };
        assert_eq!(s.qualified_name(), "x");
    }

    #[test]
    fn wrong_type_message() {
        let s = SecretData::from_value(&manifest(Value::Null, Value::Null)).unwrap();
        let e = s
            .require_type(&[SecretType::Repository], "\"repository\"")
            .expect_err("cluster is not repository");
        assert_eq!(
            e.to_string(),
            "Secret flotilla/dev: secret-type label is \"cluster\", expected \"repository\""
        );
    }

    #[test]
    fn debug_shows_keys_never_values() {
        let mut v = manifest(Value::Null, json!({"bearerToken": TOKEN}));
        let applied = format!(r#"{{"stringData":{{"bearerToken":"{TOKEN}"}}}}"#);
        v["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] = json!(applied);
        let s = SecretData::from_value(&v).unwrap();
        let shown = format!("{s:?}");
        assert!(shown.contains("bearerToken"), "{shown}");
        assert!(shown.contains("hello"), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
    }
}
