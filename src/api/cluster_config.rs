//! The `config` key of an Argo CD cluster Secret: a JSON object with the connection's credentials
//! and TLS settings, in the shape of Argo CD's Go `ClusterConfig` struct.
//!
//! Parsing follows Go's `encoding/json` as Argo CD uses it: `null` counts as absent, an empty
//! string as unset, key names match case-insensitively when there is no exact match, unknown keys
//! are ignored, and `[]byte` fields (`caData`, `certData`, `keyData`) are standard base64.
//! Values are read by hand from a [`serde_json::Value`] so that no error text quotes a value.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use super::secret::decode_base64;
use super::secret_error::{Problem, SecretError};
use super::sensitive::Sensitive;

/// Argo CD's `config` JSON. `Debug` redacts the password, token, key and any user info in the
/// proxy URL, and shows certificates by size.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClusterConfig {
    /// Basic-auth user (`username`).
    pub username: Option<String>,
    /// Basic-auth password (`password`).
    pub password: Option<Sensitive<String>>,
    /// Bearer token (`bearerToken`).
    pub bearer_token: Option<Sensitive<String>>,
    /// `tlsClientConfig`.
    pub tls: TlsClientConfig,
    /// `proxyUrl`, as written.
    pub proxy_url: Option<String>,
    /// `disableCompression`.
    pub disable_compression: bool,
    /// Authentication flotilla cannot perform, by its key: `awsAuthConfig`,
    /// `execProviderConfig`, or both joined with `, `. The cluster is kept; connecting to it is
    /// expected to fail with a clear message instead.
    pub unsupported_auth: Option<String>,
}

/// `tlsClientConfig`. The `*_data` fields hold decoded PEM (the JSON holds it base64-encoded).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsClientConfig {
    /// Skip verification of the server certificate (`insecure`).
    pub insecure: bool,
    /// Name to verify the server certificate against (`serverName`).
    pub server_name: Option<String>,
    /// CA bundle, PEM (`caData`).
    pub ca_data: Option<Vec<u8>>,
    /// Client certificate, PEM (`certData`).
    pub cert_data: Option<Vec<u8>>,
    /// Client private key, PEM (`keyData`).
    pub key_data: Option<Sensitive<Vec<u8>>>,
}

/// The auth keys Argo CD supports and flotilla does not.
const UNSUPPORTED_AUTH_KEYS: [&str; 2] = ["awsAuthConfig", "execProviderConfig"];

impl ClusterConfig {
    /// Parses the `config` key's value. An empty value or JSON `null` is the default config.
    /// `secret` (`namespace/name`) names the Secret in errors; fields are named `config.…`.
    pub fn from_json(bytes: &[u8], secret: &str) -> Result<Self, SecretError> {
        if bytes.is_empty() {
            return Ok(ClusterConfig::default());
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| SecretError::field(secret, "config", Problem::json(&e)))?;
        let map = match &value {
            Value::Null => return Ok(ClusterConfig::default()),
            Value::Object(map) => map,
            _ => return Err(SecretError::field(secret, "config", Problem::NotObject)),
        };
        let config = Obj {
            secret,
            path: "config".to_string(),
            map,
        };
        let tls = match config.object("tlsClientConfig")? {
            None => TlsClientConfig::default(),
            Some(t) => TlsClientConfig {
                insecure: t.bool("insecure")?,
                server_name: t.string("serverName")?,
                ca_data: t.pem("caData")?,
                cert_data: t.pem("certData")?,
                key_data: t.pem("keyData")?.map(Sensitive::new),
            },
        };
        let mut unsupported = Vec::new();
        for key in UNSUPPORTED_AUTH_KEYS {
            if config.object(key)?.is_some() {
                unsupported.push(key);
            }
        }
        Ok(ClusterConfig {
            username: config.string("username")?,
            password: config.string("password")?.map(Sensitive::new),
            bearer_token: config.string("bearerToken")?.map(Sensitive::new),
            tls,
            proxy_url: config.string("proxyUrl")?,
            disable_compression: config.bool("disableCompression")?,
            unsupported_auth: (!unsupported.is_empty()).then(|| unsupported.join(", ")),
        })
    }
}

/// A JSON object being read, with its path for error messages.
struct Obj<'a> {
    secret: &'a str,
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn error(&self, key: &str, problem: Problem) -> SecretError {
        SecretError::field(self.secret, format!("{}.{key}", self.path), problem)
    }

    /// The value of `key` as Go matches it (exact, else ASCII case-insensitive); `null` is absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map
            .get(key)
            .or_else(|| {
                self.map
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    }

    /// A string; an empty one counts as unset.
    fn string(&self, key: &str) -> Result<Option<String>, SecretError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
            Some(_) => Err(self.error(key, Problem::NotString)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, SecretError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(self.error(key, Problem::NotBool)),
        }
    }

    fn object(&self, key: &str) -> Result<Option<Obj<'a>>, SecretError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                secret: self.secret,
                path: format!("{}.{key}", self.path),
                map,
            })),
            Some(_) => Err(self.error(key, Problem::NotObject)),
        }
    }

    /// A Go `[]byte` (standard base64) that must decode to PEM.
    fn pem(&self, key: &str) -> Result<Option<Vec<u8>>, SecretError> {
        let Some(text) = self.string(key)? else {
            return Ok(None);
        };
        let bytes = decode_base64(&text).ok_or_else(|| self.error(key, Problem::NotBase64))?;
        if !contains(&bytes, b"-----BEGIN ") {
            return Err(self.error(key, Problem::NotPem));
        }
        Ok(Some(bytes))
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `url` with any user info (`user:password@`) replaced by `<redacted>`, for `Debug`.
pub(crate) fn redact_userinfo(url: &str) -> Cow<'_, str> {
    match super::server_url::userinfo_range(url) {
        Some((start, end)) => Cow::Owned(format!("{}<redacted>@{}", &url[..start], &url[end..])),
        None => Cow::Borrowed(url),
    }
}

/// Shows a byte field by its size.
struct Bytes<'a>(&'a Option<Vec<u8>>);

impl fmt::Debug for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(b) => write!(f, "Some(<{} bytes>)", b.len()),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig")
            .field("insecure", &self.insecure)
            .field("server_name", &self.server_name)
            .field("ca_data", &Bytes(&self.ca_data))
            .field("cert_data", &Bytes(&self.cert_data))
            .field("key_data", &self.key_data)
            .finish()
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("username", &self.username)
            .field("password", &self.password)
            .field("bearer_token", &self.bearer_token)
            .field("tls", &self.tls)
            .field("proxy_url", &self.proxy_url.as_deref().map(redact_userinfo))
            .field("disable_compression", &self.disable_compression)
            .field("unsupported_auth", &self.unsupported_auth)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::secret_fixtures::*;
    use base64::Engine as _;
    use serde_json::json;

    fn parse(v: Value) -> Result<ClusterConfig, SecretError> {
        ClusterConfig::from_json(v.to_string().as_bytes(), "argocd/c")
    }

    fn fails(v: Value, message: &str) {
        let e = parse(v).expect_err(message);
        assert_eq!(e.to_string(), message);
        assert_no_credential(&format!("{e} {e:?}"));
    }

    #[test]
    fn fixtures_are_base64_of_pem() {
        assert_eq!(decode_base64(CERT_B64).unwrap(), CERT_PEM.as_bytes());
        assert_eq!(decode_base64(KEY_B64).unwrap(), KEY_PEM.as_bytes());
    }

    #[test]
    fn every_key() {
        let c = parse(json!({
            "username": "admin",
            "password": PASSWORD,
            "bearerToken": TOKEN,
            "tlsClientConfig": {
                "insecure": true,
                "serverName": "kubernetes.default",
                "caData": CERT_B64,
                "certData": CERT_B64,
                "keyData": KEY_B64,
            },
            "proxyUrl": "http://proxy.example.com:3128",
            "disableCompression": true,
            "somethingNew": {"ignored": 1},
        }))
        .unwrap();
        assert_eq!(c.username.as_deref(), Some("admin"));
        assert_eq!(c.password.as_ref().unwrap().expose(), PASSWORD);
        assert_eq!(c.bearer_token.as_ref().unwrap().expose(), TOKEN);
        assert!(c.tls.insecure);
        assert_eq!(c.tls.server_name.as_deref(), Some("kubernetes.default"));
        assert_eq!(c.tls.ca_data.as_deref(), Some(CERT_PEM.as_bytes()));
        assert_eq!(c.tls.cert_data.as_deref(), Some(CERT_PEM.as_bytes()));
        assert_eq!(c.tls.key_data.unwrap().expose(), KEY_PEM.as_bytes());
        assert_eq!(
            c.proxy_url.as_deref(),
            Some("http://proxy.example.com:3128")
        );
        assert!(c.disable_compression);
        assert_eq!(c.unsupported_auth, None);
    }

    #[test]
    fn empty_null_and_empty_strings_are_unset() {
        assert_eq!(
            ClusterConfig::from_json(b"", "a/b").unwrap(),
            ClusterConfig::default()
        );
        assert_eq!(parse(Value::Null).unwrap(), ClusterConfig::default());
        assert_eq!(parse(json!({})).unwrap(), ClusterConfig::default());
        let c = parse(json!({
            "username": "", "password": null, "bearerToken": "",
            "tlsClientConfig": {"insecure": null, "caData": ""},
            "awsAuthConfig": null,
        }))
        .unwrap();
        assert_eq!(c, ClusterConfig::default());
    }

    #[test]
    fn keys_match_case_insensitively_like_go() {
        let c =
            parse(json!({"BearerToken": TOKEN, "tlsclientconfig": {"Insecure": true}})).unwrap();
        assert_eq!(c.bearer_token.unwrap().expose(), TOKEN);
        assert!(c.tls.insecure);
    }

    #[test]
    fn unsupported_auth_is_kept_not_rejected() {
        let exec = json!({"command": "argocd-k8s-auth", "args": ["gcp"], "apiVersion": "client.authentication.k8s.io/v1beta1"});
        let aws = json!({"clusterName": "my-eks-cluster", "roleARN": "arn:aws:iam::1:role/x"});
        let c = parse(json!({"execProviderConfig": exec, "tlsClientConfig": {"caData": CERT_B64}}))
            .unwrap();
        assert_eq!(c.unsupported_auth.as_deref(), Some("execProviderConfig"));
        assert_eq!(c.tls.ca_data.as_deref(), Some(CERT_PEM.as_bytes()));
        let c = parse(json!({"awsAuthConfig": aws})).unwrap();
        assert_eq!(c.unsupported_auth.as_deref(), Some("awsAuthConfig"));
        let c = parse(json!({"awsAuthConfig": aws, "execProviderConfig": exec})).unwrap();
        assert_eq!(
            c.unsupported_auth.as_deref(),
            Some("awsAuthConfig, execProviderConfig")
        );
    }

    #[test]
    fn invalid_json_gives_position_only() {
        let text = format!(r#"{{"bearerToken": {TOKEN}}}"#);
        let e = ClusterConfig::from_json(text.as_bytes(), "argocd/c").expect_err("bad JSON");
        assert_eq!(
            e.to_string(),
            "Secret argocd/c: config is not valid JSON (syntax error at line 1, column 17)"
        );
        assert_no_credential(&format!("{e} {e:?}"));
        let text = format!(r#"{{"password": "{PASSWORD}""#);
        let e = ClusterConfig::from_json(text.as_bytes(), "argocd/c").expect_err("EOF");
        assert_eq!(
            e.to_string(),
            format!(
                "Secret argocd/c: config is not valid JSON (unexpected end of input at line 1, column {})",
                text.len()
            )
        );
        assert_no_credential(&format!("{e} {e:?}"));
    }

    #[test]
    fn wrong_types_name_the_field() {
        fails(json!([TOKEN]), "Secret argocd/c: config must be an object");
        fails(
            json!({"bearerToken": [TOKEN]}),
            "Secret argocd/c: config.bearerToken must be a string",
        );
        fails(
            json!({"password": {"p": PASSWORD}}),
            "Secret argocd/c: config.password must be a string",
        );
        fails(
            json!({"tlsClientConfig": {"insecure": "true"}}),
            "Secret argocd/c: config.tlsClientConfig.insecure must be a boolean",
        );
        fails(
            json!({"tlsClientConfig": KEY_B64}),
            "Secret argocd/c: config.tlsClientConfig must be an object",
        );
        fails(
            json!({"execProviderConfig": TOKEN}),
            "Secret argocd/c: config.execProviderConfig must be an object",
        );
    }

    #[test]
    fn pem_fields_must_be_base64_of_pem() {
        // Raw PEM pasted where base64 belongs.
        fails(
            json!({"tlsClientConfig": {"keyData": KEY_PEM}}),
            "Secret argocd/c: config.tlsClientConfig.keyData is not valid base64",
        );
        fails(
            json!({"tlsClientConfig": {"caData": CERT_PEM}}),
            "Secret argocd/c: config.tlsClientConfig.caData is not valid base64",
        );
        // Base64 of something that is not PEM (here: base64 twice).
        let twice = base64::engine::general_purpose::STANDARD.encode(KEY_B64);
        fails(
            json!({"tlsClientConfig": {"keyData": twice}}),
            "Secret argocd/c: config.tlsClientConfig.keyData does not decode to PEM (no -----BEGIN line)",
        );
        let password = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
        fails(
            json!({"tlsClientConfig": {"certData": password}}),
            "Secret argocd/c: config.tlsClientConfig.certData does not decode to PEM (no -----BEGIN line)",
        );
    }

    #[test]
    fn debug_redacts_credentials() {
        let c = parse(json!({
            "username": "admin",
            "password": PASSWORD,
            "bearerToken": TOKEN,
            "tlsClientConfig": {"caData": CERT_B64, "keyData": KEY_B64},
            "proxyUrl": format!("http://proxyuser:{PASSWORD}@proxy.example.com:3128/"),
        }))
        .unwrap();
        let shown = format!("{c:?}");
        assert_no_credential(&shown);
        assert!(shown.contains("admin"), "{shown}");
        assert!(
            shown.contains("http://<redacted>@proxy.example.com:3128/"),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("<{} bytes>", CERT_PEM.len())),
            "{shown}"
        );
    }

    #[test]
    fn redact_userinfo_only_touches_user_info() {
        assert_eq!(
            redact_userinfo("https://u:p@h:1/a@b"),
            "https://<redacted>@h:1/a@b"
        );
        assert_eq!(redact_userinfo("https://h/a@b"), "https://h/a@b");
        assert_eq!(redact_userinfo("u:p@h"), "<redacted>@h");
    }
}
