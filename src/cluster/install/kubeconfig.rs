//! Kubeconfig files: which ones to read (`--kubeconfig`, else `$KUBECONFIG` merged, else
//! `~/.kube/config`), a context's cluster as the hub Secret needs it (server, CA, TLS settings,
//! client certificate), and kube clients for contexts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError, NamedCluster};

use super::InstallError;
use crate::api::Sensitive;
use crate::api::secret::decode_base64;
use crate::cluster::client::{ClientOptions, apply_timeouts, build};

/// The kubeconfig files to read, merged in order (the first to set a value wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeconfigFiles {
    pub paths: Vec<PathBuf>,
}

impl KubeconfigFiles {
    /// `explicit` (`--kubeconfig`), else the `:`-separated list in `env` (`$KUBECONFIG`), else
    /// `<home>/.kube/config`.
    pub fn resolve(
        explicit: Option<&Path>,
        env: Option<OsString>,
        home: Option<PathBuf>,
    ) -> Result<Self, InstallError> {
        if let Some(path) = explicit {
            return Ok(KubeconfigFiles {
                paths: vec![path.to_path_buf()],
            });
        }
        if let Some(value) = env {
            let paths: Vec<PathBuf> = std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            if !paths.is_empty() {
                return Ok(KubeconfigFiles { paths });
            }
        }
        match home {
            Some(home) => Ok(KubeconfigFiles {
                paths: vec![home.join(".kube").join("config")],
            }),
            None => Err(InstallError::NoKubeconfig),
        }
    }

    /// From the process environment.
    pub fn from_env(explicit: Option<&Path>) -> Result<Self, InstallError> {
        Self::resolve(
            explicit,
            std::env::var_os("KUBECONFIG"),
            std::env::var_os("HOME").map(PathBuf::from),
        )
    }

    /// Reads and merges the files.
    pub fn load(&self) -> Result<Kubeconfig, InstallError> {
        let mut merged = Kubeconfig::default();
        for path in &self.paths {
            let shown = path.display().to_string();
            let one = Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(&shown, e))?;
            merged = merged.merge(one).map_err(|e| kubeconfig_error(&shown, e))?;
        }
        Ok(merged)
    }

    /// The files, for messages.
    pub fn describe(&self) -> String {
        self.paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A kubeconfig error without any text of the file (a YAML error message can quote a value).
fn kubeconfig_error(path: &str, e: KubeconfigError) -> InstallError {
    let what = match e {
        KubeconfigError::ReadConfig(io, _) => format!("cannot be read: {io}"),
        KubeconfigError::Parse(p) => match p.location() {
            Some(l) => format!(
                "is not a valid kubeconfig (YAML error at line {}, column {})",
                l.line(),
                l.column()
            ),
            None => "is not a valid kubeconfig (YAML error)".to_string(),
        },
        other => other.to_string(),
    };
    InstallError::Kubeconfig {
        path: path.to_string(),
        what,
    }
}

/// The current context, for `--hub-context` when not given.
pub fn current_context(kc: &Kubeconfig, files: &KubeconfigFiles) -> Result<String, InstallError> {
    kc.current_context
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| InstallError::Kubeconfig {
            path: files.describe(),
            what: "has no current-context; give --hub-context".to_string(),
        })
}

pub fn has_context(kc: &Kubeconfig, name: &str) -> bool {
    kc.contexts.iter().any(|c| c.name == name)
}

/// How the kubeconfig's user of a context authenticates, as far as the hub Secret cares.
/// `Debug` shows the key as `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetAuth {
    /// A client certificate and key (PEM): the hub Secret uses them, as Argo CD does.
    ClientCertificate {
        cert: Vec<u8>,
        key: Sensitive<Vec<u8>>,
    },
    /// Anything else: the hub Secret gets the ServiceAccount's token.
    Other,
}

/// A context's cluster: what goes into the hub Secret besides the credential.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetCluster {
    pub context: String,
    /// The server URL without trailing `/`.
    pub server: String,
    /// CA bundle, PEM.
    pub ca_data: Option<Vec<u8>>,
    pub server_name: Option<String>,
    pub insecure: bool,
    pub auth: TargetAuth,
}

impl std::fmt::Debug for TargetCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetCluster")
            .field("context", &self.context)
            .field("server", &crate::api::ServerUrl(&self.server))
            .field("ca_data", &self.ca_data.as_ref().map(Vec::len))
            .field("server_name", &self.server_name)
            .field("insecure", &self.insecure)
            .field(
                "client_certificate",
                &matches!(self.auth, TargetAuth::ClientCertificate { .. }),
            )
            .finish()
    }
}

impl TargetCluster {
    /// The cluster and user of `context`. Files named by the kubeconfig are read (paths are
    /// absolute after [`Kubeconfig::read_from`]).
    pub fn from_kubeconfig(kc: &Kubeconfig, context: &str) -> Result<Self, InstallError> {
        let err = |what: String| InstallError::Context {
            context: context.to_string(),
            what,
        };
        let ctx = kc
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.as_ref())
            .ok_or_else(|| err("no such context in the kubeconfig".into()))?;
        let cluster = kc
            .clusters
            .iter()
            .find(|c: &&NamedCluster| c.name == ctx.cluster)
            .and_then(|c| c.cluster.as_ref())
            .ok_or_else(|| {
                err(format!(
                    "cluster {:?} is not in the kubeconfig",
                    ctx.cluster
                ))
            })?;
        let server = cluster
            .server
            .as_deref()
            .map(|s| s.trim_end_matches('/'))
            .filter(|s| !s.is_empty());
        let server = server
            .ok_or_else(|| err(format!("cluster {:?} has no server", ctx.cluster)))?
            .to_string();
        if crate::api::server_url::has_userinfo(&server) {
            return Err(err(format!(
                "cluster {:?} has a server URL with user info (user:password@), which a cluster Secret may not carry",
                ctx.cluster
            )));
        }
        let ca_data = pem_field(
            cluster.certificate_authority_data.as_deref(),
            cluster.certificate_authority.as_deref(),
            "certificate-authority",
        )
        .map_err(err)?;
        let user = ctx
            .user
            .as_ref()
            .and_then(|u| kc.auth_infos.iter().find(|a| &a.name == u))
            .and_then(|a| a.auth_info.as_ref());
        let auth = match user {
            None => TargetAuth::Other,
            Some(u) => {
                let cert = pem_field(
                    u.client_certificate_data.as_deref(),
                    u.client_certificate.as_deref(),
                    "client-certificate",
                )
                .map_err(err)?;
                let key_data = client_key_data(u);
                let key = pem_field(key_data.as_deref(), u.client_key.as_deref(), "client-key")
                    .map_err(err)?;
                match (cert, key) {
                    (Some(cert), Some(key)) => TargetAuth::ClientCertificate {
                        cert,
                        key: Sensitive::new(key),
                    },
                    (None, None) => TargetAuth::Other,
                    _ => {
                        return Err(err(
                            "the user has a client certificate or key without the other".into(),
                        ));
                    }
                }
            }
        };
        Ok(TargetCluster {
            context: context.to_string(),
            server,
            ca_data,
            server_name: cluster.tls_server_name.clone().filter(|s| !s.is_empty()),
            insecure: cluster.insecure_skip_tls_verify.unwrap_or(false),
            auth,
        })
    }
}

/// `client-key-data`, read through kube's serializer (the field is a `secrecy::SecretString`,
/// and `secrecy` is not a dependency of ours).
fn client_key_data(user: &kube::config::AuthInfo) -> Option<String> {
    user.client_key_data.as_ref()?;
    let value = serde_json::to_value(user).ok()?;
    value.get("client-key-data")?.as_str().map(str::to_string)
}

/// PEM from a kubeconfig `<field>-data` (base64) or `<field>` (a file); the data wins. Messages
/// name the field, never its content.
fn pem_field(
    data: Option<&str>,
    file: Option<&str>,
    field: &str,
) -> Result<Option<Vec<u8>>, String> {
    let bytes = match (
        data.filter(|d| !d.trim().is_empty()),
        file.filter(|f| !f.is_empty()),
    ) {
        (Some(d), _) => {
            decode_base64(d.trim()).ok_or_else(|| format!("{field}-data is not valid base64"))?
        }
        (None, Some(f)) => std::fs::read(f).map_err(|e| format!("{field} file {f}: {e}"))?,
        (None, None) => return Ok(None),
    };
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(format!("{field} does not hold PEM (no -----BEGIN line)"));
    }
    Ok(Some(bytes))
}

/// Standard base64, for the hub Secret's `config`.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A kube client for a kubeconfig context, with the timeouts and rate limit of `options`.
pub async fn client_for_context(
    kc: &Kubeconfig,
    context: &str,
    options: &ClientOptions,
) -> Result<kube::Client, InstallError> {
    let err = |what: String| InstallError::Context {
        context: context.to_string(),
        what,
    };
    let opts = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kc.clone(), &opts)
        .await
        .map_err(|e| {
            err(match e {
                KubeconfigError::LoadClientKey(_) => "the client key cannot be loaded".to_string(),
                KubeconfigError::LoadContext(_) => "no such context in the kubeconfig".to_string(),
                other => other.to_string(),
            })
        })?;
    apply_timeouts(&mut config, options);
    build(config, options, context).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["k8s.example.com".into()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    fn kubeconfig(user: &str, cluster_extra: &str, ca: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(&format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: dev\n  cluster:\n    server: https://k8s.example.com:6443/\n    certificate-authority-data: {}\n{cluster_extra}users:\n- name: u\n  user:\n{user}contexts:\n- name: dev\n  context: {{cluster: dev, user: u}}\n",
            b64(ca.as_bytes())
        ))
        .unwrap()
    }

    #[test]
    fn files_to_read() {
        let explicit =
            KubeconfigFiles::resolve(Some(Path::new("/a.yaml")), Some("/b:/c".into()), None)
                .unwrap();
        assert_eq!(explicit.paths, [PathBuf::from("/a.yaml")]);
        let env =
            KubeconfigFiles::resolve(None, Some("/b::/c".into()), Some("/home/x".into())).unwrap();
        assert_eq!(env.paths, [PathBuf::from("/b"), PathBuf::from("/c")]);
        let home = KubeconfigFiles::resolve(None, Some("".into()), Some("/home/x".into())).unwrap();
        assert_eq!(home.paths, [PathBuf::from("/home/x/.kube/config")]);
        assert_eq!(
            KubeconfigFiles::resolve(None, None, None),
            Err(InstallError::NoKubeconfig)
        );
    }

    #[test]
    fn merged_files_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = pem();
        let one = dir.path().join("one.yaml");
        let two = dir.path().join("two.yaml");
        std::fs::write(&one, "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: a\n  cluster: {server: https://a}\ncontexts:\n- name: a\n  context: {cluster: a}\n").unwrap();
        let extra = format!(
            "    certificate-authority: {}\n",
            dir.path().join("ca.pem").display()
        );
        std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
        std::fs::write(&two, format!("apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters:\n- name: b\n  cluster:\n    server: https://b\n{extra}contexts:\n- name: b\n  context: {{cluster: b}}\n")).unwrap();
        let files = KubeconfigFiles {
            paths: vec![one, two],
        };
        let kc = files.load().unwrap();
        assert_eq!(current_context(&kc, &files).unwrap(), "a");
        assert!(has_context(&kc, "b"));
        let b = TargetCluster::from_kubeconfig(&kc, "b").unwrap();
        assert_eq!(
            b.ca_data.as_deref(),
            Some(ca.as_bytes()),
            "the CA file is read"
        );
        assert_eq!(b.auth, TargetAuth::Other);
    }

    #[test]
    fn unreadable_or_invalid_files_name_the_file_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(&bad, "users:\n- name: u\n  user: {token: [s3cr3t-t0ken\n").unwrap();
        let e = KubeconfigFiles {
            paths: vec![bad.clone()],
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!(
                "kubeconfig {}: is not a valid kubeconfig",
                bad.display()
            )),
            "{e}"
        );
        assert!(!e.contains("s3cr3t"), "{e}");
        let missing = dir.path().join("missing.yaml");
        let e = KubeconfigFiles {
            paths: vec![missing],
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(e.contains("missing.yaml: cannot be read"), "{e}");
    }

    #[test]
    fn a_context_with_token_user() {
        let (ca, _) = pem();
        let kc = kubeconfig(
            "    token: s3cr3t\n",
            "    tls-server-name: api.internal\n    insecure-skip-tls-verify: true\n",
            &ca,
        );
        let t = TargetCluster::from_kubeconfig(&kc, "dev").unwrap();
        assert_eq!(t.server, "https://k8s.example.com:6443");
        assert_eq!(t.ca_data.as_deref(), Some(ca.as_bytes()));
        assert_eq!(t.server_name.as_deref(), Some("api.internal"));
        assert!(t.insecure);
        assert_eq!(t.auth, TargetAuth::Other);
        assert!(!format!("{t:?}").contains("s3cr3t"));
        let e = TargetCluster::from_kubeconfig(&kc, "nope").unwrap_err();
        assert_eq!(
            e.to_string(),
            "kubeconfig context \"nope\": no such context in the kubeconfig"
        );
    }

    #[test]
    fn a_context_with_client_certificate() {
        let (ca, key) = pem();
        let user = format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(ca.as_bytes()),
            b64(key.as_bytes())
        );
        let t = TargetCluster::from_kubeconfig(&kubeconfig(&user, "", &ca), "dev").unwrap();
        match &t.auth {
            TargetAuth::ClientCertificate { cert, key: k } => {
                assert_eq!(cert, ca.as_bytes());
                assert_eq!(k.expose(), key.as_bytes());
            }
            TargetAuth::Other => panic!("expected a client certificate"),
        }
        assert!(!format!("{t:?}").contains("PRIVATE"));
        let half = format!("    client-certificate-data: {}\n", b64(ca.as_bytes()));
        let e = TargetCluster::from_kubeconfig(&kubeconfig(&half, "", &ca), "dev").unwrap_err();
        assert!(e.to_string().contains("without the other"), "{e}");
        let e = TargetCluster::from_kubeconfig(
            &kubeconfig(
                "    client-key-data: bm90IHBlbQ==\n    client-certificate-data: bm90IHBlbQ==\n",
                "",
                &ca,
            ),
            "dev",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "kubeconfig context \"dev\": client-certificate does not hold PEM (no -----BEGIN line)"
        );
    }
}
