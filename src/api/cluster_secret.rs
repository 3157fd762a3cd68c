//! Argo CD's declarative cluster Secrets (`argocd.argoproj.io/secret-type: cluster`): one
//! destination cluster per Secret, with keys `name`, `server`, `config`, `namespaces`,
//! `clusterResources`, `project` and `shard`.

use std::collections::BTreeMap;
use std::fmt;

use super::cluster_config::redact_userinfo;
pub use super::cluster_config::{ClusterConfig, TlsClientConfig};
use super::secret::{
    ARGOCD_SECRET_TYPE_LABEL, AnnotationsDebug, FLOTILLA_SECRET_TYPE_LABEL,
    LAST_APPLIED_ANNOTATION, MANAGED_BY_ANNOTATION, SecretData, SecretType,
};
use super::secret_error::{Problem, SecretError};
use super::server_url::has_userinfo;

/// Name of the implicit entry for the cluster flotilla runs in.
pub const IN_CLUSTER_NAME: &str = "in-cluster";
/// API server address of the cluster flotilla runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// A parsed cluster Secret. `Debug` redacts every credential.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterSecret {
    /// `namespace/name` of the Secret; empty for [`ClusterSecret::in_cluster`].
    pub secret_name: String,
    /// `name`; defaults to `server`.
    pub name: String,
    /// `server`, an http(s) URL without trailing `/`.
    pub server: String,
    /// `config`.
    pub config: ClusterConfig,
    /// `namespaces`: the namespaces Argo CD may manage there; empty means all.
    pub namespaces: Vec<String>,
    /// `clusterResources`: with `namespaces` set, whether cluster-scoped resources are managed.
    pub cluster_resources: bool,
    /// `project`: the AppProject the cluster is scoped to.
    pub project: Option<String>,
    /// `shard`.
    pub shard: Option<u32>,
    /// The Secret's labels without the two `secret-type` labels (what Argo CD puts on the
    /// Cluster).
    pub labels: BTreeMap<String, String>,
    /// The Secret's annotations without `last-applied-configuration` and `managed-by`.
    pub annotations: BTreeMap<String, String>,
    /// All the Secret's labels (what the ApplicationSet cluster generator matches and exposes).
    pub secret_labels: BTreeMap<String, String>,
    /// All the Secret's annotations.
    pub secret_annotations: BTreeMap<String, String>,
}

impl ClusterSecret {
    /// Parses a Secret whose `secret-type` label is `cluster`.
    pub fn from_secret(secret: &SecretData) -> Result<Self, SecretError> {
        secret.require_type(&[SecretType::Cluster], "\"cluster\"")?;
        let q = secret.qualified_name();
        let server = match secret.text("server")? {
            None => return Err(SecretError::field(&q, "server", Problem::Missing)),
            Some("") => return Err(SecretError::field(&q, "server", Problem::Empty)),
            Some(s) => s.trim_end_matches('/'),
        };
        if !is_http_url(server) {
            return Err(SecretError::field(&q, "server", Problem::NotHttpUrl));
        }
        // A password in the URL would show wherever a server is shown (logs, metric labels,
        // Events, `cluster list`): refused, as kube-apiserver clients do not use it anyway.
        if has_userinfo(server) {
            return Err(SecretError::field(&q, "server", Problem::UrlWithUserInfo));
        }
        let config = match secret.data.get("config") {
            None => ClusterConfig::default(),
            Some(bytes) => ClusterConfig::from_json(bytes.expose(), &q)?,
        };
        let namespaces = secret
            .text("namespaces")?
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|ns| !ns.is_empty())
            .map(String::from)
            .collect();
        let cluster_resources = match secret.text("clusterResources")? {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(SecretError::field(
                    &q,
                    "clusterResources",
                    Problem::NotBoolString,
                ));
            }
        };
        let shard = match secret.non_empty_text("shard")? {
            None => None,
            Some(s) => Some(
                s.parse::<u32>()
                    .map_err(|_| SecretError::field(&q, "shard", Problem::NotU32))?,
            ),
        };
        let mut labels = secret.labels.clone();
        labels.remove(ARGOCD_SECRET_TYPE_LABEL);
        labels.remove(FLOTILLA_SECRET_TYPE_LABEL);
        let mut annotations = secret.annotations.clone();
        annotations.remove(LAST_APPLIED_ANNOTATION);
        annotations.remove(MANAGED_BY_ANNOTATION);
        Ok(ClusterSecret {
            secret_name: q,
            name: secret.non_empty_text("name")?.unwrap_or(server).to_string(),
            server: server.to_string(),
            config,
            namespaces,
            cluster_resources,
            project: secret.non_empty_text("project")?.map(String::from),
            shard,
            labels,
            annotations,
            secret_labels: secret.labels.clone(),
            secret_annotations: secret.annotations.clone(),
        })
    }

    /// The implicit entry for the cluster flotilla runs in: named [`IN_CLUSTER_NAME`] at
    /// [`IN_CLUSTER_SERVER`], with no credentials (the pod's service account is used) and no
    /// labels.
    pub fn in_cluster() -> Self {
        ClusterSecret {
            secret_name: String::new(),
            name: IN_CLUSTER_NAME.to_string(),
            server: IN_CLUSTER_SERVER.to_string(),
            config: ClusterConfig::default(),
            namespaces: Vec::new(),
            cluster_resources: false,
            project: None,
            shard: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            secret_labels: BTreeMap::new(),
            secret_annotations: BTreeMap::new(),
        }
    }
}

/// A Secret labelled as a cluster that does not parse: what the ApplicationSet controller needs
/// to know of it. Its labels are readable whatever is wrong with its data, so a cluster generator
/// can tell whether it selects it (and then stops rather than act on a partial cluster list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidClusterSecret {
    /// `namespace/name` of the Secret.
    pub secret_name: String,
    /// All the Secret's labels.
    pub labels: BTreeMap<String, String>,
    /// Why it does not parse (a [`SecretError`] message: it names the field, never a value).
    pub error: String,
}

/// An absolute `http://` or `https://` URL with a non-empty host, an optional numeric port, and
/// no whitespace or control characters.
fn is_http_url(url: &str) -> bool {
    let Some(rest) = strip_prefix_ignore_case(url, "https://")
        .or_else(|| strip_prefix_ignore_case(url, "http://"))
    else {
        return false;
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((ip, "")) if !ip.is_empty() => (ip, None),
            Some((ip, after)) if !ip.is_empty() && after.starts_with(':') => (ip, after.get(1..)),
            _ => return false,
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'%'));
    host_ok && port_ok
}

/// `text` without `prefix`, compared ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        text.get(prefix.len()..)
    } else {
        None
    }
}

impl fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterSecret")
            .field("secret_name", &self.secret_name)
            .field("name", &self.name)
            .field("server", &redact_userinfo(&self.server))
            .field("config", &self.config)
            .field("namespaces", &self.namespaces)
            .field("cluster_resources", &self.cluster_resources)
            .field("project", &self.project)
            .field("shard", &self.shard)
            .field("labels", &self.labels)
            .field("annotations", &AnnotationsDebug(&self.annotations))
            .field("secret_labels", &self.secret_labels)
            .field(
                "secret_annotations",
                &AnnotationsDebug(&self.secret_annotations),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::secret_fixtures::*;
    use crate::api::secret_yaml::secrets_from_yaml;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    /// A cluster Secret in namespace `argocd` named `c` with these `stringData` entries.
    fn secret(entries: &[(&str, &str)]) -> SecretData {
        SecretData {
            name: "c".into(),
            namespace: Some("argocd".into()),
            labels: [(ARGOCD_SECRET_TYPE_LABEL.to_string(), "cluster".to_string())].into(),
            data: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec().into()))
                .collect(),
            ..Default::default()
        }
    }

    fn parse(entries: &[(&str, &str)]) -> Result<ClusterSecret, SecretError> {
        ClusterSecret::from_secret(&secret(entries))
    }

    /// Parsing fails with exactly `message`, and neither it nor the error's Debug shows a
    /// credential.
    fn fails(entries: &[(&str, &str)], message: &str) {
        let e = parse(entries).expect_err(message);
        assert_eq!(e.to_string(), message);
        assert_no_credential(&format!("{e} {e:?}"));
    }

    fn only(secrets: Vec<SecretData>) -> ClusterSecret {
        assert_eq!(secrets.len(), 1);
        ClusterSecret::from_secret(&secrets[0]).unwrap()
    }

    #[test]
    fn argo_cd_docs_bearer_token_example() {
        let yaml = format!(
            r#"apiVersion: v1
kind: Secret
metadata:
  name: mycluster-secret
  labels:
    argocd.argoproj.io/secret-type: cluster
type: Opaque
stringData:
  name: mycluster.example.com
  server: https://mycluster.example.com
  config: |
    {{
      "bearerToken": "{TOKEN}",
      "tlsClientConfig": {{
        "insecure": false,
        "caData": "{CERT_B64}"
      }}
    }}
"#
        );
        let c = only(secrets_from_yaml(&yaml, "cluster.yaml").unwrap());
        assert_eq!(c.secret_name, "mycluster-secret");
        assert_eq!(c.name, "mycluster.example.com");
        assert_eq!(c.server, "https://mycluster.example.com");
        assert_eq!(c.config.bearer_token.as_ref().unwrap().expose(), TOKEN);
        assert!(!c.config.tls.insecure);
        assert_eq!(c.config.tls.ca_data.as_deref(), Some(CERT_PEM.as_bytes()));
        assert_eq!(c.config.unsupported_auth, None);
        assert!(c.namespaces.is_empty() && !c.cluster_resources);
        assert!(c.labels.is_empty());
        assert_eq!(c.secret_labels[ARGOCD_SECRET_TYPE_LABEL], "cluster");
    }

    #[test]
    fn argo_cd_docs_eks_example_keeps_unsupported_auth() {
        let yaml = format!(
            r#"apiVersion: v1
kind: Secret
metadata:
  name: mycluster-secret
  labels:
    argocd.argoproj.io/secret-type: cluster
type: Opaque
stringData:
  name: "eks-cluster-name-for-argo"
  server: "https://xxxyyyzzz.xyz.some-region.eks.amazonaws.com"
  config: |
    {{
      "awsAuthConfig": {{
        "clusterName": "my-eks-cluster-name",
        "roleARN": "arn:aws:iam::123456789012:role/argocd-deployer"
      }},
      "tlsClientConfig": {{
        "insecure": false,
        "caData": "{CERT_B64}"
      }}        
    }}
"#
        );
        let c = only(secrets_from_yaml(&yaml, "eks.yaml").unwrap());
        assert_eq!(c.name, "eks-cluster-name-for-argo");
        assert_eq!(c.config.unsupported_auth.as_deref(), Some("awsAuthConfig"));
        assert_eq!(c.config.tls.ca_data.as_deref(), Some(CERT_PEM.as_bytes()));
    }

    #[test]
    fn every_key_from_base64_data() {
        let config = format!(
            r#"{{"username":"admin","password":"{PASSWORD}","tlsClientConfig":{{"certData":"{CERT_B64}","keyData":"{KEY_B64}","serverName":"api"}},"proxyUrl":"http://proxy:3128","disableCompression":true}}"#
        );
        let b64 = |s: &str| STANDARD.encode(s);
        let yaml = format!(
            r#"apiVersion: v1
kind: Secret
metadata:
  name: prod
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: cluster
    flotilla.dev/secret-type: cluster
    env: prod
  annotations:
    managed-by: argocd.argoproj.io
    kubectl.kubernetes.io/last-applied-configuration: '{{"data":{{}}}}'
    team: platform
data:
  name: {}
  server: {}
  config: {}
  namespaces: {}
  clusterResources: {}
  project: {}
  shard: {}
"#,
            b64("prod"),
            b64("https://prod.example.com:6443/"),
            b64(&config),
            b64(" apps, monitoring,,  kube-system ,"),
            b64("true"),
            b64("platform"),
            b64("3"),
        );
        let c = only(secrets_from_yaml(&yaml, "prod.yaml").unwrap());
        assert_eq!(c.secret_name, "argocd/prod");
        assert_eq!(c.name, "prod");
        assert_eq!(c.server, "https://prod.example.com:6443");
        assert_eq!(c.config.username.as_deref(), Some("admin"));
        assert_eq!(c.config.password.as_ref().unwrap().expose(), PASSWORD);
        assert_eq!(c.config.tls.cert_data.as_deref(), Some(CERT_PEM.as_bytes()));
        assert_eq!(
            c.config.tls.key_data.as_ref().unwrap().expose(),
            KEY_PEM.as_bytes()
        );
        assert_eq!(c.config.tls.server_name.as_deref(), Some("api"));
        assert_eq!(c.config.proxy_url.as_deref(), Some("http://proxy:3128"));
        assert!(c.config.disable_compression);
        assert_eq!(c.namespaces, ["apps", "monitoring", "kube-system"]);
        assert!(c.cluster_resources);
        assert_eq!(c.project.as_deref(), Some("platform"));
        assert_eq!(c.shard, Some(3));
        assert_eq!(c.labels, [("env".to_string(), "prod".to_string())].into());
        assert_eq!(
            c.annotations,
            [("team".to_string(), "platform".to_string())].into()
        );
        assert_eq!(c.secret_labels.len(), 3);
        assert_eq!(c.secret_annotations.len(), 3);
    }

    #[test]
    fn flotilla_label_alone_marks_a_cluster() {
        let mut s = secret(&[("server", "https://a.example.com")]);
        s.labels = [(
            FLOTILLA_SECRET_TYPE_LABEL.to_string(),
            "cluster".to_string(),
        )]
        .into();
        let c = ClusterSecret::from_secret(&s).unwrap();
        assert!(c.labels.is_empty());
        assert_eq!(c.secret_labels.len(), 1);
        // flotilla.dev wins over a differing Argo CD label.
        s.labels
            .insert(ARGOCD_SECRET_TYPE_LABEL.into(), "repository".into());
        assert!(ClusterSecret::from_secret(&s).is_ok());
    }

    #[test]
    fn wrong_or_missing_type_label() {
        let mut s = secret(&[("server", "https://a.example.com")]);
        s.labels
            .insert(FLOTILLA_SECRET_TYPE_LABEL.into(), "repo-creds".into());
        let e = ClusterSecret::from_secret(&s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Secret argocd/c: secret-type label is \"repo-creds\", expected \"cluster\""
        );
        s.labels.clear();
        let e = ClusterSecret::from_secret(&s).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Secret argocd/c: secret-type label is missing, expected \"cluster\""
        );
    }

    #[test]
    fn name_defaults_to_server() {
        let c = parse(&[("server", "https://b.example.com/")]).unwrap();
        assert_eq!(c.name, "https://b.example.com");
        let c = parse(&[("server", "https://b.example.com"), ("name", "")]).unwrap();
        assert_eq!(c.name, "https://b.example.com");
    }

    #[test]
    fn namespaces_are_split_trimmed_and_filtered() {
        let ns = |v: &str| {
            parse(&[("server", "https://a"), ("namespaces", v)])
                .unwrap()
                .namespaces
        };
        assert_eq!(ns("a,b"), ["a", "b"]);
        assert_eq!(ns(" a , b ,"), ["a", "b"]);
        assert_eq!(ns(",, ,"), Vec::<String>::new());
        assert_eq!(ns(""), Vec::<String>::new());
        assert_eq!(
            parse(&[("server", "https://a")]).unwrap().namespaces,
            Vec::<String>::new()
        );
    }

    #[test]
    fn cluster_resources_and_shard_values() {
        let c = parse(&[
            ("server", "https://a"),
            ("clusterResources", "false"),
            ("shard", "0"),
        ])
        .unwrap();
        assert!(!c.cluster_resources);
        assert_eq!(c.shard, Some(0));
        let c = parse(&[("server", "https://a"), ("shard", "")]).unwrap();
        assert_eq!(c.shard, None);
    }

    #[test]
    fn missing_empty_and_invalid_server() {
        fails(&[("name", "x")], "Secret argocd/c: server is missing");
        fails(&[("server", "")], "Secret argocd/c: server is empty");
        for bad in [
            "mycluster.example.com",
            "ftp://mycluster.example.com",
            "https://",
            "https:///path",
            "https://my cluster",
            "https://mycluster.example.com:64x3",
            "https://mycluster.example.com\n",
            TOKEN,
        ] {
            fails(
                &[("server", bad)],
                "Secret argocd/c: server is not an absolute http(s) URL",
            );
        }
        for with_password in [
            format!("https://admin:{PASSWORD}@mycluster.example.com"),
            format!("https://{PASSWORD}@mycluster.example.com:6443/k8s"),
            format!("HTTP://admin:{PASSWORD}@[fd00::1]:6443"),
        ] {
            fails(
                &[("server", &with_password)],
                "Secret argocd/c: server must not carry user info (user:password@); put the credentials in config (username/password or bearerToken)",
            );
        }
        // An @ in the path is no user info.
        assert!(parse(&[("server", "https://h.example.com/k8s/a@b")]).is_ok());
    }

    #[test]
    fn bad_config_fields_name_the_field() {
        let server = ("server", "https://a.example.com");
        let config = format!(r#"{{"bearerToken":"{TOKEN}","password":{PASSWORD}}}"#);
        fails(
            &[server, ("config", &config)],
            "Secret argocd/c: config is not valid JSON (syntax error at line 1, column 129)",
        );
        let config = format!(r#"{{"tlsClientConfig":{{"caData":"{TOKEN}"}}}}"#);
        fails(
            &[server, ("config", &config)],
            "Secret argocd/c: config.tlsClientConfig.caData is not valid base64",
        );
        let config = format!(
            r#"{{"tlsClientConfig":{{"caData":"{}"}}}}"#,
            STANDARD.encode(PASSWORD)
        );
        fails(
            &[server, ("config", &config)],
            "Secret argocd/c: config.tlsClientConfig.caData does not decode to PEM (no -----BEGIN line)",
        );
        let config = format!(
            r#"{{"tlsClientConfig":{{"keyData":"{}"}}}}"#,
            KEY_PEM.replace('\n', "\\n")
        );
        fails(
            &[server, ("config", &config)],
            "Secret argocd/c: config.tlsClientConfig.keyData is not valid base64",
        );
    }

    #[test]
    fn bad_cluster_resources_and_shard() {
        let server = ("server", "https://a.example.com");
        for bad in ["yes", "True", "1", ""] {
            fails(
                &[server, ("clusterResources", bad)],
                "Secret argocd/c: clusterResources must be \"true\" or \"false\"",
            );
        }
        for bad in ["-1", "one", "1.5", " 2", "4294967296"] {
            fails(
                &[server, ("shard", bad)],
                "Secret argocd/c: shard is not a non-negative 32-bit integer",
            );
        }
    }

    #[test]
    fn bad_base64_in_data_through_the_loader() {
        let yaml = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: c\n  namespace: argocd\n  labels:\n    \
             argocd.argoproj.io/secret-type: cluster\ndata:\n  config: '{{\"bearerToken\":\"{TOKEN}\"}}'\n"
        );
        let e = secrets_from_yaml(&yaml, "c.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml: document 1: Secret argocd/c: data.config is not valid base64"
        );
        assert_no_credential(&format!("{e} {e:?}"));
    }

    #[test]
    fn debug_shows_no_credential() {
        let config = format!(
            r#"{{"username":"admin","password":"{PASSWORD}","bearerToken":"{TOKEN}","tlsClientConfig":{{"caData":"{CERT_B64}","certData":"{CERT_B64}","keyData":"{KEY_B64}"}},"proxyUrl":"http://u:{PASSWORD}@proxy:3128"}}"#
        );
        let mut s = secret(&[("server", "https://a.example.com"), ("config", &config)]);
        let applied = format!(r#"{{"stringData":{{"config":{config:?}}}}}"#);
        s.annotations
            .insert(LAST_APPLIED_ANNOTATION.into(), applied);
        let c = ClusterSecret::from_secret(&s).unwrap();
        let shown = format!("{c:?}");
        assert_no_credential(&shown);
        assert!(
            shown.contains("admin") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert_no_credential(&format!("{s:?}"));
    }

    #[test]
    fn in_cluster_entry() {
        let c = ClusterSecret::in_cluster();
        assert_eq!(c.name, IN_CLUSTER_NAME);
        assert_eq!(c.server, IN_CLUSTER_SERVER);
        assert!(c.secret_labels.is_empty() && c.labels.is_empty());
        assert_eq!(c.config, ClusterConfig::default());
    }

    #[test]
    fn http_url_check() {
        for ok in [
            "https://kubernetes.default.svc",
            "http://10.0.0.1:6443",
            "HTTPS://Example.COM/k8s/clusters/c-1",
            "https://[fd00::1]:6443",
            "https://rancher.example.com/k8s/clusters/c-m-abc?x=1",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "",
            "http://",
            "https://[]:1",
            "https://h:",
            "https:/h",
            "//h",
            "https://h/ x",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
