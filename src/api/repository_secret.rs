//! Argo CD's declarative repository Secrets: `secret-type: repository` (one repository) and
//! `secret-type: repo-creds` (a credential template for every URL under a prefix).

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
        .filter(|s| s.kind == RepositorySecretKind::RepoCreds && url.starts_with(normalize_url(&s.url)))
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
        let secrets = vec![secret(RepoCreds, "https://git.example.com/", Some("org")), bare];
        let c = credentials_for("https://git.example.com/app.git", &secrets).unwrap();
        assert_eq!(c.username.as_deref(), Some("org"));
        assert!(c.insecure);
    }
}
