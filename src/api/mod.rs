//! API types: the CRDs (ApplicationSet, Application, AppProject) and the Secret formats
//! (cluster, repository, repo-creds) in Argo CD's declarative shapes.

pub mod repository_secret;
pub mod sensitive;

pub use repository_secret::{RepoCredentials, RepositorySecret, RepositorySecretKind};
pub use sensitive::Sensitive;
