//! Git push webhooks (`POST /api/webhook`), without I/O: GitHub (`X-GitHub-Event`, HMAC-SHA256
//! in `X-Hub-Signature-256`) and GitLab (`X-Gitlab-Event`, `X-Gitlab-Token`) push payloads,
//! verified, parsed into a [`PushEvent`], and matched against sources the way Argo CD does
//! (`util/webhook/webhook.go`): same repository (normalised URL), revision equal to the pushed
//! branch or tag (or `HEAD`/empty for the default branch), and, when the Application says which
//! paths generate its manifests, a changed file under one of them.
//!
//! Unlike Argo CD, a provider whose secret is not configured is refused: an unauthenticated
//! webhook would let anyone make the hub fetch and sync at will.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::api::Sensitive;

/// The annotations listing the paths (`;`-separated) whose changes concern an Application.
pub const PATHS_ANNOTATIONS: [&str; 2] = [
    "flotilla.dev/manifest-generate-paths",
    "argocd.argoproj.io/manifest-generate-paths",
];

/// The configured secrets.
#[derive(Debug, Clone, Default)]
pub struct WebhookSecrets {
    pub github: Option<Sensitive<String>>,
    pub gitlab: Option<Sensitive<String>>,
}

/// One push, as the matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// Normalised URLs of the repository (web, HTTPS clone, SSH clone).
    pub repo_urls: BTreeSet<String>,
    /// The pushed ref: `refs/heads/main`, `refs/tags/v1`.
    pub git_ref: String,
    pub default_branch: Option<String>,
    /// Added, modified and removed files of every pushed commit.
    pub changed_files: BTreeSet<String>,
    /// The commit after the push.
    pub after: Option<String>,
}

/// What a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Webhook {
    Push(PushEvent),
    /// A ping or an event Flotilla does not act on: answered 200, nothing done.
    Ignored(String),
}

/// Why a request is refused. No variant carries a secret or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("not a GitHub or GitLab webhook (no X-GitHub-Event or X-Gitlab-Event header)")]
    UnknownProvider,
    #[error("{0} webhooks are refused: no {0} webhook secret is configured")]
    NoSecret(&'static str),
    #[error("{0} webhook signature does not match")]
    BadSignature(&'static str),
    #[error("{0} webhook payload is not valid: {1}")]
    BadPayload(&'static str, String),
}

impl WebhookError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::UnknownProvider | WebhookError::BadPayload(..) => 400,
            WebhookError::NoSecret(_) | WebhookError::BadSignature(_) => 401,
        }
    }
}

/// Verifies and parses a request from its headers (`name → value`, names lower-case) and body.
pub fn parse(
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    secrets: &WebhookSecrets,
) -> Result<Webhook, WebhookError> {
    if let Some(event) = header("x-github-event") {
        let secret = secrets
            .github
            .as_ref()
            .ok_or(WebhookError::NoSecret("GitHub"))?;
        let signature =
            header("x-hub-signature-256").ok_or(WebhookError::BadSignature("GitHub"))?;
        verify_github(secret.expose(), &signature, body)?;
        if event != "push" {
            return Ok(Webhook::Ignored(format!("GitHub event {event}")));
        }
        return parse_github(body).map(Webhook::Push);
    }
    if let Some(event) = header("x-gitlab-event") {
        let secret = secrets
            .gitlab
            .as_ref()
            .ok_or(WebhookError::NoSecret("GitLab"))?;
        let token = header("x-gitlab-token").unwrap_or_default();
        if !constant_time_eq(token.as_bytes(), secret.expose().as_bytes()) {
            return Err(WebhookError::BadSignature("GitLab"));
        }
        if !matches!(
            event.as_str(),
            "Push Hook" | "Tag Push Hook" | "System Hook"
        ) {
            return Ok(Webhook::Ignored(format!("GitLab event {event}")));
        }
        return parse_gitlab(body).map(Webhook::Push);
    }
    Err(WebhookError::UnknownProvider)
}

fn verify_github(secret: &str, signature: &str, body: &[u8]) -> Result<(), WebhookError> {
    let hex = signature
        .strip_prefix("sha256=")
        .ok_or(WebhookError::BadSignature("GitHub"))?;
    let tag = decode_hex(hex).ok_or(WebhookError::BadSignature("GitHub"))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    ring::hmac::verify(&key, body, &tag).map_err(|_| WebhookError::BadSignature("GitHub"))
}

/// `sha256=<hex>` of `body` under `secret`, as GitHub signs (for tests and tools).
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn changed_files(payload: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in payload["commits"].as_array().into_iter().flatten() {
        for key in ["added", "modified", "removed"] {
            for f in c[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                out.insert(f.to_string());
            }
        }
    }
    out
}

fn urls(values: &[&Value]) -> BTreeSet<String> {
    values
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(normalize_url)
        .collect()
}

fn parse_github(body: &[u8]) -> Result<PushEvent, WebhookError> {
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::BadPayload("GitHub", e.to_string()))?;
    let repo = &p["repository"];
    let git_ref = p["ref"]
        .as_str()
        .ok_or_else(|| WebhookError::BadPayload("GitHub", "no ref".into()))?
        .to_string();
    Ok(PushEvent {
        repo_urls: urls(&[
            &repo["html_url"],
            &repo["clone_url"],
            &repo["ssh_url"],
            &repo["git_url"],
            &repo["url"],
        ]),
        git_ref,
        default_branch: repo["default_branch"].as_str().map(String::from),
        changed_files: changed_files(&p),
        after: p["after"].as_str().map(String::from),
    })
}

fn parse_gitlab(body: &[u8]) -> Result<PushEvent, WebhookError> {
    let p: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::BadPayload("GitLab", e.to_string()))?;
    let (project, repo) = (&p["project"], &p["repository"]);
    let git_ref = p["ref"]
        .as_str()
        .ok_or_else(|| WebhookError::BadPayload("GitLab", "no ref".into()))?
        .to_string();
    Ok(PushEvent {
        repo_urls: urls(&[
            &project["web_url"],
            &project["git_http_url"],
            &project["git_ssh_url"],
            &repo["git_http_url"],
            &repo["git_ssh_url"],
            &repo["homepage"],
            &repo["url"],
        ]),
        git_ref,
        default_branch: project["default_branch"].as_str().map(String::from),
        changed_files: changed_files(&p),
        after: p["after"].as_str().map(String::from),
    })
}

/// A repository URL reduced to `host/path` (Argo CD's matching): no scheme, no user, no `.git`
/// suffix, no trailing `/`, lower case; `git@host:org/repo` becomes `host/org/repo`.
pub fn normalize_url(url: &str) -> String {
    let mut s = url.trim().to_ascii_lowercase();
    if let Some(i) = s.find("://") {
        s = s[i + 3..].to_string();
    } else if let Some((user_host, path)) = s
        .split_once(':')
        .filter(|(h, _)| h.contains('@') && !h.contains('/'))
    {
        s = format!("{}/{}", user_host, path);
    }
    if let Some(at) = s.find('@').filter(|at| s[..*at].find('/').is_none()) {
        s = s[at + 1..].to_string();
    }
    // A port in `host:port/path` stays; an scp-style `host:path` became `host/path` above.
    let s = s.trim_end_matches('/');
    s.strip_suffix(".git").unwrap_or(s).to_string()
}

impl PushEvent {
    /// Whether the push is to `repo_url` at `target_revision` (`HEAD` or empty: the default
    /// branch; otherwise a branch, a tag or a full ref).
    pub fn touches(&self, repo_url: &str, target_revision: &str) -> bool {
        if !self.repo_urls.contains(&normalize_url(repo_url)) {
            return false;
        }
        let rev = target_revision.trim();
        let pushed = self
            .git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| self.git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(&self.git_ref);
        if rev.is_empty() || rev == "HEAD" {
            return match &self.default_branch {
                Some(d) => self.git_ref == format!("refs/heads/{d}"),
                None => true,
            };
        }
        rev == pushed || rev == self.git_ref
    }

    /// Whether a changed file lies under one of `paths` (`;`-separated; relative to `app_path`,
    /// or to the repository root with a leading `/`). `None` (no annotation) matches all.
    pub fn changes_paths(&self, paths: Option<&str>, app_path: &str) -> bool {
        let Some(paths) = paths else { return true };
        if self.changed_files.is_empty() {
            return true;
        }
        let base = app_path.trim_matches('/');
        let dirs: Vec<String> = paths
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.strip_prefix('/') {
                Some(abs) => abs.trim_end_matches('/').to_string(),
                None => normalize_path(&format!("{base}/{p}")),
            })
            .collect();
        self.changed_files.iter().any(|f| {
            dirs.iter()
                .any(|d| d.is_empty() || d == "." || f == d || f.starts_with(&format!("{d}/")))
        })
    }
}

/// `a/./b/../c` → `a/c` (no leading `/`).
fn normalize_path(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets() -> WebhookSecrets {
        WebhookSecrets {
            github: Some(Sensitive::new("gh-s3cret".into())),
            gitlab: Some(Sensitive::new("gl-s3cret".into())),
        }
    }

    fn github_push() -> Vec<u8> {
        json!({"ref": "refs/heads/main", "after": "abc123", "repository": {"html_url": "https://github.com/Org/Repo", "clone_url": "https://github.com/Org/Repo.git", "ssh_url": "git@github.com:Org/Repo.git", "default_branch": "main"},
            "commits": [{"added": ["apps/web/new.yaml"], "modified": ["apps/api/deploy.yaml"], "removed": []}, {"added": [], "modified": [], "removed": ["README.md"]}]})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn github_pushes_are_verified_and_parsed() {
        let body = github_push();
        let sig = github_signature("gh-s3cret", &body);
        let h = |name: &str| match name {
            "x-github-event" => Some("push".to_string()),
            "x-hub-signature-256" => Some(sig.clone()),
            _ => None,
        };
        let Webhook::Push(p) = parse(h, &body, &secrets()).unwrap() else {
            panic!()
        };
        assert!(p.repo_urls.contains("github.com/org/repo"));
        assert_eq!(p.changed_files.len(), 3);
        assert!(
            p.touches("git@github.com:org/repo.git", "main")
                && p.touches("https://github.com/org/repo", "HEAD")
                && p.touches("https://github.com/org/repo", "")
        );
        assert!(
            !p.touches("https://github.com/org/other", "main")
                && !p.touches("https://github.com/org/repo", "release")
        );
        // A tampered body or a wrong secret is refused; so is GitHub without a secret.
        let bad = |name: &str| match name {
            "x-github-event" => Some("push".to_string()),
            "x-hub-signature-256" => Some(github_signature("wrong", &body)),
            _ => None,
        };
        assert_eq!(
            parse(bad, &body, &secrets()),
            Err(WebhookError::BadSignature("GitHub"))
        );
        let none = WebhookSecrets::default();
        assert_eq!(parse(h, &body, &none).unwrap_err().status(), 401);
        let ping = |name: &str| match name {
            "x-github-event" => Some("ping".to_string()),
            "x-hub-signature-256" => Some(github_signature("gh-s3cret", b"{}")),
            _ => None,
        };
        assert!(matches!(
            parse(ping, b"{}", &secrets()),
            Ok(Webhook::Ignored(_))
        ));
        assert_eq!(
            parse(|_| None, b"{}", &secrets()),
            Err(WebhookError::UnknownProvider)
        );
    }

    #[test]
    fn gitlab_pushes_use_the_token() {
        let body = json!({"ref": "refs/tags/v1.2.0", "project": {"web_url": "https://gitlab.example.com/team/app", "git_ssh_url": "git@gitlab.example.com:team/app.git", "default_branch": "main"}, "commits": []}).to_string();
        let h = |token: &'static str| {
            move |name: &str| match name {
                "x-gitlab-event" => Some("Tag Push Hook".to_string()),
                "x-gitlab-token" => Some(token.to_string()),
                _ => None,
            }
        };
        let Webhook::Push(p) = parse(h("gl-s3cret"), body.as_bytes(), &secrets()).unwrap() else {
            panic!()
        };
        assert!(p.touches("https://gitlab.example.com/team/app.git", "v1.2.0"));
        assert!(
            !p.touches("https://gitlab.example.com/team/app.git", "HEAD"),
            "a tag is not the default branch"
        );
        assert_eq!(
            parse(h("nope"), body.as_bytes(), &secrets()),
            Err(WebhookError::BadSignature("GitLab"))
        );
    }

    #[test]
    fn manifest_paths_narrow_the_match() {
        let Webhook::Push(p) = ({
            let body = github_push();
            let sig = github_signature("gh-s3cret", &body);
            parse(
                |n: &str| {
                    if n == "x-github-event" {
                        Some("push".into())
                    } else if n == "x-hub-signature-256" {
                        Some(sig.clone())
                    } else {
                        None
                    }
                },
                &body,
                &secrets(),
            )
            .unwrap()
        }) else {
            panic!()
        };
        assert!(p.changes_paths(None, "apps/db"));
        assert!(p.changes_paths(Some("."), "apps/web"));
        assert!(!p.changes_paths(Some("."), "apps/db"));
        assert!(p.changes_paths(Some("../api;."), "apps/db"));
        assert!(p.changes_paths(Some("/README.md"), "apps/db"));
        assert!(!p.changes_paths(Some("/docs"), "apps/db"));
    }

    #[test]
    fn urls_normalise_like_argo_cd() {
        for (a, b) in [
            ("https://github.com/Org/Repo.git", "github.com/org/repo"),
            ("git@github.com:org/repo.git", "github.com/org/repo"),
            ("ssh://git@github.com/org/repo", "github.com/org/repo"),
            (
                "https://user@gitlab.example.com:8443/team/app/",
                "gitlab.example.com:8443/team/app",
            ),
            ("git://127.0.0.1:9418/repo.git", "127.0.0.1:9418/repo"),
        ] {
            assert_eq!(normalize_url(a), b, "{a}");
        }
    }
}
