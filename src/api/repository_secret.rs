//! Argo CD's declarative repository Secrets: `secret-type: repository` (one repository) and
//! `secret-type: repo-creds` (a credential template for every URL under a prefix).

use super::secret::{SecretData, SecretType};
use super::secret_error::{Problem, SecretError};
use super::sensitive::Sensitive;

/// Which of the two repository Secret types a Secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositorySecretKind {
    /// `secret-type: repository`: credentials (and settings) for exactly `url`.
    Repository,
    /// `secret-type: repo-creds`: credentials for every repository whose URL starts with `url`.
    RepoCreds,
}

/// A parsed repository or repo-creds Secret. `Debug` redacts the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositorySecret {
    /// `namespace/name` of the Secret, for error messages.
    pub secret_name: String,
    pub kind: RepositorySecretKind,
    pub url: String,
    pub name: Option<String>,
    pub project: Option<String>,
    /// `git` (default) or `helm`.
    pub repo_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<Sensitive<String>>,
    pub ssh_private_key: Option<Sensitive<String>>,
    pub tls_client_cert_data: Option<String>,
    pub tls_client_cert_key: Option<Sensitive<String>>,
    pub insecure: bool,
}

impl RepositorySecret {
    /// Parses a Secret whose `secret-type` label is `repository` or `repo-creds`. Keys: `url`
    /// (required), `type`, `name`, `project`, `username`, `password`, `sshPrivateKey` (must be a
    /// PEM or OpenSSH private key), `tlsClientCertData`, `tlsClientCertKey`, `insecure`
    /// (`"true"`/`"false"`). Empty values count as absent. Argo CD's other keys (`githubApp*`,
    /// `gcpServiceAccountKey`, `azure*`, `bearerToken`, `proxy`, `noProxy`, `enableLfs`,
    /// `enableOCI`, `forceHttpBasicAuth`, …) are accepted and ignored.
    pub fn from_secret(secret: &SecretData) -> Result<Self, SecretError> {
        let kind = match secret.require_type(
            &[SecretType::Repository, SecretType::RepoCreds],
            "\"repository\" or \"repo-creds\"",
        )? {
            SecretType::Repository => RepositorySecretKind::Repository,
            _ => RepositorySecretKind::RepoCreds,
        };
        let q = secret.qualified_name();
        let url = match secret.text("url")? {
            None => return Err(SecretError::field(&q, "url", Problem::Missing)),
            Some("") => return Err(SecretError::field(&q, "url", Problem::Empty)),
            Some(url) => url.to_string(),
        };
        let text = |key| -> Result<Option<String>, SecretError> {
            Ok(secret.non_empty_text(key)?.map(String::from))
        };
        let ssh_private_key = text("sshPrivateKey")?;
        if ssh_private_key
            .as_deref()
            .is_some_and(|k| !looks_like_private_key(k))
        {
            return Err(SecretError::field(
                &q,
                "sshPrivateKey",
                Problem::NotPrivateKey,
            ));
        }
        let insecure = match secret.text("insecure")? {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => return Err(SecretError::field(&q, "insecure", Problem::NotBoolString)),
        };
        Ok(RepositorySecret {
            kind,
            url,
            name: text("name")?,
            project: text("project")?,
            repo_type: text("type")?,
            username: text("username")?,
            password: text("password")?.map(Sensitive::new),
            ssh_private_key: ssh_private_key.map(Sensitive::new),
            tls_client_cert_data: text("tlsClientCertData")?,
            tls_client_cert_key: text("tlsClientCertKey")?.map(Sensitive::new),
            insecure,
            secret_name: q,
        })
    }

    fn has_credentials(&self) -> bool {
        self.username.is_some() || self.password.is_some() || self.ssh_private_key.is_some()
    }

    fn credentials(&self) -> RepoCredentials {
        RepoCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            ssh_private_key: self.ssh_private_key.clone(),
            insecure: self.insecure,
        }
    }
}

/// What Git needs to authenticate to one repository. `Debug` redacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoCredentials {
    pub username: Option<String>,
    pub password: Option<Sensitive<String>>,
    pub ssh_private_key: Option<Sensitive<String>>,
    /// Skip TLS verification (Argo CD's `insecure: "true"`).
    pub insecure: bool,
}

/// Credentials for `url`, as Argo CD chooses them: a `repository` Secret for exactly that URL
/// with credentials of its own wins; otherwise the `repo-creds` Secret with the longest URL prefix
/// of `url`. A `repository` Secret without credentials still contributes its `insecure` flag.
pub fn credentials_for(url: &str, secrets: &[RepositorySecret]) -> Option<RepoCredentials> {
    let url = normalize_url(url);
    let exact = secrets
        .iter()
        .find(|s| s.kind == RepositorySecretKind::Repository && normalize_url(&s.url) == url);
    if let Some(repo) = exact.filter(|s| s.has_credentials()) {
        return Some(repo.credentials());
    }
    let template = secrets
        .iter()
        .filter(|s| {
            s.kind == RepositorySecretKind::RepoCreds && url.starts_with(normalize_url(&s.url))
        })
        .max_by_key(|s| normalize_url(&s.url).len());
    match (template, exact) {
        (Some(t), exact) => {
            let mut creds = t.credentials();
            creds.insecure |= exact.is_some_and(|e| e.insecure);
            Some(creds)
        }
        (None, Some(repo)) => Some(repo.credentials()),
        (None, None) => None,
    }
}

/// A PEM (`-----BEGIN … PRIVATE KEY-----`) or OpenSSH (`-----BEGIN OPENSSH PRIVATE KEY-----`)
/// private key: the first line is such a header and an `-----END ` line follows.
fn looks_like_private_key(key: &str) -> bool {
    let key = key.trim_start();
    let first = key.lines().next().unwrap_or_default().trim_end();
    first.starts_with("-----BEGIN ")
        && first.ends_with("PRIVATE KEY-----")
        && key.contains("\n-----END ")
}

/// Repository URLs compare without a trailing `/` or `.git` difference mattering for prefixes.
fn normalize_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(kind: RepositorySecretKind, url: &str, user: Option<&str>) -> RepositorySecret {
        RepositorySecret {
            secret_name: format!("flotilla/{url}"),
            kind,
            url: url.into(),
            name: None,
            project: None,
            repo_type: None,
            username: user.map(String::from),
            password: user.map(|u| Sensitive::new(format!("{u}-pw"))),
            ssh_private_key: None,
            tls_client_cert_data: None,
            tls_client_cert_key: None,
            insecure: false,
        }
    }

    #[test]
    fn longest_repo_creds_prefix_wins() {
        use RepositorySecretKind::*;
        let secrets = vec![
            secret(RepoCreds, "https://git.example.com/", Some("org")),
            secret(RepoCreds, "https://git.example.com/team/", Some("team")),
            secret(RepoCreds, "https://other.example.com/", Some("other")),
        ];
        let c = credentials_for("https://git.example.com/team/app.git", &secrets).unwrap();
        assert_eq!(c.username.as_deref(), Some("team"));
        let c = credentials_for("https://git.example.com/x.git", &secrets).unwrap();
        assert_eq!(c.username.as_deref(), Some("org"));
        assert!(credentials_for("https://nowhere.example.com/x.git", &secrets).is_none());
    }

    #[test]
    fn repository_secret_with_credentials_beats_templates() {
        use RepositorySecretKind::*;
        let secrets = vec![
            secret(RepoCreds, "https://git.example.com/", Some("org")),
            secret(Repository, "https://git.example.com/app.git", Some("app")),
        ];
        let c = credentials_for("https://git.example.com/app.git", &secrets).unwrap();
        assert_eq!(c.username.as_deref(), Some("app"));
    }

    #[test]
    fn repository_secret_without_credentials_falls_back_to_template() {
        use RepositorySecretKind::*;
        let mut bare = secret(Repository, "https://git.example.com/app.git", None);
        bare.insecure = true;
        let secrets = vec![
            secret(RepoCreds, "https://git.example.com/", Some("org")),
            bare,
        ];
        let c = credentials_for("https://git.example.com/app.git", &secrets).unwrap();
        assert_eq!(c.username.as_deref(), Some("org"));
        assert!(c.insecure);
    }

    mod parsing {
        use super::super::*;
        use crate::api::secret::{ARGOCD_SECRET_TYPE_LABEL, FLOTILLA_SECRET_TYPE_LABEL};
        use crate::api::secret_fixtures::*;
        use crate::api::secret_yaml::secrets_from_yaml;

        fn parse_yaml(yaml: &str) -> Vec<RepositorySecret> {
            secrets_from_yaml(yaml, "repos.yaml")
                .unwrap()
                .iter()
                .map(|s| RepositorySecret::from_secret(s).unwrap())
                .collect()
        }

        fn secret(kind: &str, entries: &[(&str, &str)]) -> SecretData {
            SecretData {
                name: "r".into(),
                namespace: Some("argocd".into()),
                labels: [(ARGOCD_SECRET_TYPE_LABEL.to_string(), kind.to_string())].into(),
                data: entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec().into()))
                    .collect(),
                ..Default::default()
            }
        }

        fn fails(entries: &[(&str, &str)], message: &str) {
            let e =
                RepositorySecret::from_secret(&secret("repository", entries)).expect_err(message);
            assert_eq!(e.to_string(), message);
            assert_no_credential(&format!("{e} {e:?}"));
        }

        #[test]
        fn argo_cd_docs_https_example() {
            let r = parse_yaml(
                r#"apiVersion: v1
kind: Secret
metadata:
  name: private-repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  type: git
  url: https://github.com/argoproj/private-repo
  password: my-password
  username: my-username
  project: my-project
"#,
            );
            let r = &r[0];
            assert_eq!(r.secret_name, "argocd/private-repo");
            assert_eq!(r.kind, RepositorySecretKind::Repository);
            assert_eq!(r.url, "https://github.com/argoproj/private-repo");
            assert_eq!(r.repo_type.as_deref(), Some("git"));
            assert_eq!(r.username.as_deref(), Some("my-username"));
            assert_eq!(r.password.as_ref().unwrap().expose(), "my-password");
            assert_eq!(r.project.as_deref(), Some("my-project"));
            assert!(r.ssh_private_key.is_none() && !r.insecure);
        }

        #[test]
        fn argo_cd_docs_ssh_example() {
            let key = SSH_KEY.replace('\n', "\n    ");
            let yaml = format!(
                r#"apiVersion: v1
kind: Secret
metadata:
  name: private-repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  type: git
  url: git@github.com:argoproj/my-private-repository.git
  sshPrivateKey: |
    {key}
"#
            );
            let r = &parse_yaml(&yaml)[0];
            assert_eq!(r.url, "git@github.com:argoproj/my-private-repository.git");
            assert_eq!(r.ssh_private_key.as_ref().unwrap().expose(), SSH_KEY);
        }

        #[test]
        fn argo_cd_docs_repo_creds_example() {
            let secrets = parse_yaml(
                r#"apiVersion: v1
kind: Secret
metadata:
  name: first-repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  type: git
  url: https://github.com/argoproj/private-repo
---
apiVersion: v1
kind: Secret
metadata:
  name: second-repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  type: git
  url: https://github.com/argoproj/other-private-repo
---
apiVersion: v1
kind: Secret
metadata:
  name: private-repo-creds
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repo-creds
stringData:
  type: git
  url: https://github.com/argoproj
  password: my-password
  username: my-username
"#,
            );
            assert_eq!(secrets[2].kind, RepositorySecretKind::RepoCreds);
            let c = credentials_for("https://github.com/argoproj/private-repo", &secrets).unwrap();
            assert_eq!(c.username.as_deref(), Some("my-username"));
            assert_eq!(c.password.unwrap().expose(), "my-password");
        }

        #[test]
        fn every_key_and_ignored_argo_keys() {
            let mut s = secret(
                "repo-creds",
                &[
                    ("url", "https://charts.example.com"),
                    ("type", "helm"),
                    ("name", "charts"),
                    ("project", "platform"),
                    ("username", "robot"),
                    ("password", PASSWORD),
                    ("sshPrivateKey", KEY_PEM),
                    ("tlsClientCertData", CERT_PEM),
                    ("tlsClientCertKey", KEY_PEM),
                    ("insecure", "true"),
                    ("githubAppID", "1"),
                    ("githubAppInstallationID", "2"),
                    ("githubAppPrivateKey", SSH_KEY),
                    (
                        "githubAppEnterpriseBaseUrl",
                        "https://ghe.example.com/api/v3",
                    ),
                    ("gcpServiceAccountKey", "{}"),
                    ("azureServicePrincipalClientId", "x"),
                    ("bearerToken", TOKEN),
                    ("proxy", "https://proxy:8888"),
                    ("noProxy", ".internal"),
                    ("enableLfs", "yes?"),
                    ("enableOCI", "true"),
                    ("forceHttpBasicAuth", "true"),
                ],
            );
            s.labels = [(
                FLOTILLA_SECRET_TYPE_LABEL.to_string(),
                "repo-creds".to_string(),
            )]
            .into();
            let r = RepositorySecret::from_secret(&s).unwrap();
            assert_eq!(r.kind, RepositorySecretKind::RepoCreds);
            assert_eq!(r.url, "https://charts.example.com");
            assert_eq!(r.repo_type.as_deref(), Some("helm"));
            assert_eq!(r.name.as_deref(), Some("charts"));
            assert_eq!(r.project.as_deref(), Some("platform"));
            assert_eq!(r.username.as_deref(), Some("robot"));
            assert_eq!(r.password.as_ref().unwrap().expose(), PASSWORD);
            assert_eq!(r.ssh_private_key.as_ref().unwrap().expose(), KEY_PEM);
            assert_eq!(r.tls_client_cert_data.as_deref(), Some(CERT_PEM));
            assert_eq!(r.tls_client_cert_key.as_ref().unwrap().expose(), KEY_PEM);
            assert!(r.insecure);
        }

        #[test]
        fn empty_values_are_absent() {
            let r = RepositorySecret::from_secret(&secret(
                "repository",
                &[
                    ("url", "https://x"),
                    ("username", ""),
                    ("sshPrivateKey", ""),
                    ("insecure", "false"),
                ],
            ))
            .unwrap();
            assert!(r.username.is_none() && r.ssh_private_key.is_none() && !r.insecure);
        }

        #[test]
        fn bad_fields_name_the_field_only() {
            fails(&[("username", "u")], "Secret argocd/r: url is missing");
            fails(&[("url", "")], "Secret argocd/r: url is empty");
            let public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDB7MNIt3Jhqu test";
            for bad in [
                PASSWORD,
                public,
                TOKEN,
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            ] {
                fails(
                    &[("url", "git@github.com:a/b.git"), ("sshPrivateKey", bad)],
                    "Secret argocd/r: sshPrivateKey is not a PEM or OpenSSH private key",
                );
            }
            // A key pasted without its END line (truncated).
            let truncated = &SSH_KEY[..SSH_KEY.find("-----END").unwrap()];
            fails(
                &[
                    ("url", "git@github.com:a/b.git"),
                    ("sshPrivateKey", truncated),
                ],
                "Secret argocd/r: sshPrivateKey is not a PEM or OpenSSH private key",
            );
            for bad in ["yes", "TRUE", ""] {
                fails(
                    &[("url", "https://x"), ("insecure", bad)],
                    "Secret argocd/r: insecure must be \"true\" or \"false\"",
                );
            }
        }

        #[test]
        fn wrong_type_label() {
            let e = RepositorySecret::from_secret(&secret("cluster", &[("url", "https://x")]))
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                "Secret argocd/r: secret-type label is \"cluster\", expected \"repository\" or \"repo-creds\""
            );
            let mut s = secret("repository", &[("url", "https://x")]);
            s.labels.clear();
            let e = RepositorySecret::from_secret(&s).unwrap_err();
            assert_eq!(
                e.to_string(),
                "Secret argocd/r: secret-type label is missing, expected \"repository\" or \"repo-creds\""
            );
        }

        #[test]
        fn debug_redacts_credentials() {
            let s = secret(
                "repository",
                &[
                    ("url", "git@github.com:a/b.git"),
                    ("username", "git"),
                    ("password", PASSWORD),
                    ("sshPrivateKey", SSH_KEY),
                    ("tlsClientCertKey", KEY_PEM),
                ],
            );
            let r = RepositorySecret::from_secret(&s).unwrap();
            let shown = format!(
                "{r:?} {:?} {s:?}",
                credentials_for(&r.url, std::slice::from_ref(&r))
            );
            assert_no_credential(&shown);
            assert!(shown.contains("git@github.com:a/b.git"), "{shown}");
        }
    }
}
