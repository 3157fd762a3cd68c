use thiserror::Error;

/// Errors of Git access. Messages name the repository and revision and never contain credentials
/// (URLs are stripped of any `user:password@` part before they get here).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GitError {
    #[error("repository {url} is unreachable: {cause}")]
    Unreachable { url: String, cause: String },
    #[error("repository {url}: authentication failed")]
    AuthenticationFailed { url: String },
    #[error("repository {url}: revision {revision:?} not found")]
    UnknownRevision { url: String, revision: String },
    #[error("file {path:?} not found in the commit's tree")]
    NotFound { path: String },
    #[error("repository {url}: {cause}")]
    Repository { url: String, cause: String },
    #[error("git cache {path}: {cause}")]
    Cache { path: String, cause: String },
}
