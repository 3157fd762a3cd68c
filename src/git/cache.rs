//! [`GitCache`]: one bare repository per URL on disk, fetched at most once per round, and
//! revision resolution over it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use git2::{AutotagOption, ErrorClass, ErrorCode, FetchOptions, FetchPrune, Oid, Repository};

use super::credentials::{AuthState, redact_text, redact_url, remote_callbacks};
use super::tree_git::GitTree;
use super::{GitError, GitSource, Tree};
use crate::api::repository_secret::{RepoCredentials, RepositorySecret, credentials_for};

/// Every branch and every tag of the remote, mirrored under the same names.
const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];
/// Where `HEAD` points when the remote advertises no default branch: an unborn branch.
const NO_DEFAULT_BRANCH: &str = "refs/flotilla/no-default-branch";

/// A [`GitSource`] over a directory of bare repositories (`cache_dir/<host-path>-<hash>`), which
/// survives restarts. Each URL is fetched at most once per round (see [`GitCache::begin_round`]);
/// a fresh cache is in its first round. Credentials come from the repository Secrets.
pub struct GitCache {
    cache_dir: PathBuf,
    secrets: std::sync::RwLock<Vec<RepositorySecret>>,
    state: Mutex<CacheState>,
}

struct CacheState {
    round: u64,
    /// Keyed by cache directory name.
    repos: HashMap<String, Arc<Mutex<RepoEntry>>>,
}

#[derive(Default)]
struct RepoEntry {
    repo: Option<Repository>,
    /// The round of the last fetch and how it went.
    fetched: Option<(u64, Result<(), GitError>)>,
    /// Trees already indexed, with the last round they were asked for.
    snapshots: HashMap<Oid, (u64, Arc<GitTree>)>,
}

impl GitCache {
    /// A cache keeping its bare repositories under `cache_dir` (created when needed) and
    /// authenticating with `repo_secrets` (see [`credentials_for`]).
    pub fn new(cache_dir: PathBuf, repo_secrets: Vec<RepositorySecret>) -> GitCache {
        GitCache {
            cache_dir,
            secrets: std::sync::RwLock::new(repo_secrets),
            state: Mutex::new(CacheState {
                round: 0,
                repos: HashMap::new(),
            }),
        }
    }

    /// Starts a new round: the next snapshot of each URL fetches it again.
    pub fn begin_round(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .round += 1;
    }

    /// Replaces the repository Secrets (the hub watches them); the next fetch uses the new ones.
    pub fn set_repo_secrets(&self, repo_secrets: Vec<RepositorySecret>) {
        *self.secrets.write().unwrap_or_else(PoisonError::into_inner) = repo_secrets;
    }

    /// The bare repository directory used for `repo_url`.
    pub fn repo_dir(&self, repo_url: &str) -> PathBuf {
        self.cache_dir.join(cache_dir_name(repo_url))
    }

    /// Sets libgit2's process-wide network timeouts (TCP connect, and each read or write);
    /// libgit2 has none by default, so a stalled server would block a fetch forever.
    ///
    /// # Safety
    /// Writes libgit2 globals without synchronisation: call it before any thread uses libgit2
    /// (at startup, or behind a `std::sync::Once` that every libgit2 user goes through first).
    pub unsafe fn set_network_timeouts(connect: Duration, io: Duration) {
        let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: the caller guarantees no concurrent libgit2 use. These calls cannot fail.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms(connect));
            let _ = git2::opts::set_server_timeout_in_milliseconds(ms(io));
        }
    }

    fn entry(&self, dir_name: &str) -> (u64, Arc<Mutex<RepoEntry>>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = state.repos.entry(dir_name.to_string()).or_default().clone();
        (state.round, entry)
    }
}

impl GitSource for GitCache {
    fn snapshot(&self, repo_url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError> {
        let url = redact_url(repo_url);
        let dir_name = cache_dir_name(repo_url);
        let path = self.cache_dir.join(&dir_name);
        let (round, entry) = self.entry(&dir_name);
        let mut entry = entry.lock().unwrap_or_else(PoisonError::into_inner);
        let RepoEntry {
            repo,
            fetched,
            snapshots,
        } = &mut *entry;
        let repo = match repo {
            Some(repo) => repo,
            None => repo.insert(open_or_init(&path)?),
        };
        let unknown = || GitError::UnknownRevision {
            url: url.clone(),
            revision: revision.to_string(),
        };
        // A commit named by its full SHA never changes: no need to ask the remote for it.
        let known_commit = is_full_sha(revision) && resolve(repo, revision, &url)?.is_some();
        if !known_commit && fetched.as_ref().is_none_or(|(r, _)| *r != round) {
            let creds = credentials_for(
                repo_url,
                &self.secrets.read().unwrap_or_else(PoisonError::into_inner),
            );
            let result = fetch(repo, repo_url, &url, creds.as_ref());
            *fetched = Some((round, result));
            snapshots.retain(|_, (used, _)| *used + 1 >= round);
        }
        if !known_commit && let Some((_, Err(e))) = fetched {
            return Err(e.clone());
        }
        let commit = resolve(repo, revision, &url)?.ok_or_else(unknown)?;
        if let Some((used, tree)) = snapshots.get_mut(&commit) {
            *used = round;
            return Ok(tree.clone() as Arc<dyn Tree>);
        }
        let tree = Arc::new(GitTree::load(&path, &url, commit)?);
        snapshots.insert(commit, (round, tree.clone()));
        Ok(tree as Arc<dyn Tree>)
    }
}

/// `<host-path>-<hash>`: the URL without scheme or credentials, reduced to `[A-Za-z0-9._-]`
/// (at most 80 characters), then 16 hex digits of a stable hash of the redacted URL.
fn cache_dir_name(url: &str) -> String {
    let url = redact_url(url);
    let mut rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    if let Some((user, host_path)) = rest.split_once('@')
        && !user.contains('/')
    {
        rest = host_path; // scp-like `git@host:path`
    }
    let mut name = String::new();
    for c in rest.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
            c
        } else {
            '_'
        };
        if !(c == '_' && name.ends_with('_')) {
            name.push(c);
        }
    }
    let mut name: String = name
        .trim_matches(['_', '.', '-'])
        .chars()
        .take(80)
        .collect();
    if name.is_empty() {
        name.push_str("repo");
    }
    format!("{name}-{:016x}", fnv1a64(url.as_bytes()))
}

/// FNV-1a, 64 bits: stable across processes and Rust versions (unlike `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// A full commit SHA: 40 (SHA-1) or 64 (SHA-256) hex digits.
fn is_full_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An abbreviated SHA: 4 to 39 hex digits.
fn is_short_sha(s: &str) -> bool {
    (4..40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Opens the bare repository at `path`, or creates it (in a temporary directory renamed into
/// place, so a concurrent process never sees half a repository).
fn open_or_init(path: &Path) -> Result<Repository, GitError> {
    let cache_err = |cause: String| GitError::Cache {
        path: path.display().to_string(),
        cause,
    };
    if let Ok(repo) = Repository::open_bare(path) {
        return Ok(repo);
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| cache_err(e.to_string()))?;
    let tmp = parent.join(format!(
        ".init-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = fs::remove_dir_all(&tmp);
    let init = || -> Result<(), git2::Error> {
        let repo = Repository::init_bare(&tmp)?;
        let mut config = repo.config()?;
        // Reflogs and FETCH_HEAD would record the URL, which may carry credentials.
        config.set_bool("core.logAllRefUpdates", false)?;
        point_head(&repo, NO_DEFAULT_BRANCH)
    };
    if let Err(e) = init() {
        let _ = fs::remove_dir_all(&tmp);
        return Err(cache_err(e.message().to_string()));
    }
    if fs::rename(&tmp, path).is_err() {
        // Someone else created it first (or the path is occupied): use what is there.
        let _ = fs::remove_dir_all(&tmp);
    }
    Repository::open_bare(path).map_err(|e| cache_err(e.message().to_string()))
}

/// Fetches every branch and tag of `repo_url` (pruning what the remote deleted) and points
/// `HEAD` at the remote's default branch.
fn fetch(
    repo: &Repository,
    repo_url: &str,
    url: &str,
    creds: Option<&RepoCredentials>,
) -> Result<(), GitError> {
    let auth = AuthState::default();
    let mut remote = repo
        .remote_anonymous(repo_url)
        .map_err(|e| GitError::Unreachable {
            url: url.to_string(),
            cause: redact_text(e.message(), &secrets_of(creds)),
        })?;
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(remote_callbacks(creds, &auth))
        .prune(FetchPrune::On)
        .download_tags(AutotagOption::None)
        .update_fetchhead(false);
    remote
        .fetch(&REFSPECS, Some(&mut options), Some("flotilla: fetch"))
        .map_err(|e| classify(&e, &auth, repo, url, creds))?;
    let default_branch = remote
        .default_branch()
        .ok()
        .and_then(|b| b.as_str().ok().map(String::from));
    let head = default_branch.filter(|b| b.starts_with("refs/heads/"));
    point_head(repo, head.as_deref().unwrap_or(NO_DEFAULT_BRANCH))
        .map_err(|e| classify(&e, &auth, repo, url, creds))
}

/// Makes `HEAD` a symbolic reference to `target`, which need not exist yet.
fn point_head(repo: &Repository, target: &str) -> Result<(), git2::Error> {
    repo.reference_symbolic("HEAD", target, true, "flotilla: remote default branch")
        .map(drop)
}

fn secrets_of(creds: Option<&RepoCredentials>) -> Vec<&str> {
    let Some(c) = creds else { return Vec::new() };
    let password = c.password.as_ref().map(|p| p.expose().as_str());
    let key = c.ssh_private_key.as_ref().map(|k| k.expose().as_str());
    password.into_iter().chain(key).collect()
}

/// Maps a libgit2 failure of a fetch to a [`GitError`] whose text holds no credentials.
fn classify(
    e: &git2::Error,
    auth: &AuthState,
    repo: &Repository,
    url: &str,
    creds: Option<&RepoCredentials>,
) -> GitError {
    if auth.gave_up() || e.code() == ErrorCode::Auth {
        return GitError::AuthenticationFailed {
            url: url.to_string(),
        };
    }
    let cause = redact_text(e.message(), &secrets_of(creds));
    let local = matches!(
        e.class(),
        ErrorClass::Odb | ErrorClass::Reference | ErrorClass::Repository | ErrorClass::Filesystem
    ) || e.code() == ErrorCode::Locked;
    if local {
        GitError::Cache {
            path: repo.path().display().to_string(),
            cause,
        }
    } else {
        GitError::Unreachable {
            url: url.to_string(),
            cause,
        }
    }
}

/// The commit `revision` names in `repo`, tried in this order: `HEAD`/empty (the remote's default
/// branch), a full SHA, a full `refs/...` name, a branch, a tag, an unambiguous short SHA.
fn resolve(repo: &Repository, revision: &str, url: &str) -> Result<Option<Oid>, GitError> {
    let commit_of =
        |obj: Result<git2::Object<'_>, git2::Error>| -> Result<Option<Oid>, git2::Error> {
            match obj.and_then(|o| o.peel_to_commit()) {
                Ok(commit) => Ok(Some(commit.id())),
                Err(e) if is_absent(&e) => Ok(None),
                Err(e) => Err(e),
            }
        };
    let reference = |name: &str| {
        commit_of(
            repo.find_reference(name)
                .and_then(|r| r.peel(git2::ObjectType::Any)),
        )
    };
    let found = (|| {
        if revision.is_empty() || revision == "HEAD" {
            return reference("HEAD");
        }
        if is_full_sha(revision) {
            return commit_of(Oid::from_str(revision).and_then(|oid| repo.find_object(oid, None)));
        }
        if revision.starts_with("refs/") {
            return reference(revision);
        }
        for name in [
            format!("refs/heads/{revision}"),
            format!("refs/tags/{revision}"),
        ] {
            if let Some(oid) = reference(&name)? {
                return Ok(Some(oid));
            }
        }
        if is_short_sha(revision) {
            return commit_of(repo.find_object_by_prefix(revision, None));
        }
        Ok(None)
    })();
    found.map_err(|e| GitError::Repository {
        url: url.to_string(),
        cause: e.message().to_string(),
    })
}

/// Lookup failures that mean "no such revision" rather than a broken repository.
fn is_absent(e: &git2::Error) -> bool {
    matches!(
        e.code(),
        ErrorCode::NotFound
            | ErrorCode::InvalidSpec
            | ErrorCode::Peel
            | ErrorCode::Ambiguous
            | ErrorCode::UnbornBranch
            | ErrorCode::Invalid
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_names_are_readable_stable_and_credential_free() {
        let a = cache_dir_name("https://github.com/argoproj/argocd-example-apps.git");
        assert!(
            a.starts_with("github.com_argoproj_argocd-example-apps.git-"),
            "{a}"
        );
        assert_eq!(
            a.len(),
            "github.com_argoproj_argocd-example-apps.git-".len() + 16
        );
        assert_eq!(
            a,
            cache_dir_name("https://github.com/argoproj/argocd-example-apps.git")
        );
        let with_creds =
            cache_dir_name("https://bob:hunter2@github.com/argoproj/argocd-example-apps.git");
        assert_eq!(with_creds, a);
        assert_ne!(
            cache_dir_name("http://github.com/argoproj/argocd-example-apps.git"),
            a
        );
        assert!(cache_dir_name("git@github.com:org/r.git").starts_with("github.com_org_r.git-"));
        assert!(cache_dir_name("git://127.0.0.1:9418/r").starts_with("127.0.0.1_9418_r-"));
        assert!(cache_dir_name("file:///tmp/x/../r").starts_with("tmp_x_.._r-"));
        assert!(cache_dir_name("://").starts_with("repo-"));
        assert!(cache_dir_name(&format!("https://h/{}", "a".repeat(300))).len() <= 80 + 17);
    }

    #[test]
    fn fnv_is_the_reference_fnv1a() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn sha_shapes() {
        assert!(is_full_sha(&"a".repeat(40)));
        assert!(is_full_sha("0123456789abcdefABCDEF0123456789abcdef01"));
        assert!(!is_full_sha(&"g".repeat(40)));
        assert!(!is_full_sha(&"a".repeat(39)));
        assert!(is_short_sha("abcd"));
        assert!(is_short_sha(&"a".repeat(39)));
        assert!(!is_short_sha("abc"));
        assert!(!is_short_sha("main"));
        assert!(!is_short_sha(&"a".repeat(40)));
    }

    #[test]
    fn git_cache_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GitCache>();
    }
}
