//! API types: the CRDs (ApplicationSet, Application, AppProject) and the Secret formats
//! (cluster, repository, repo-creds) in Argo CD's declarative shapes.

pub mod app_project;
pub mod application;
pub mod application_set;
pub mod crds;
pub mod repository_secret;
mod schema;
pub mod sensitive;

pub use app_project::{AppProject, AppProjectSpec};
pub use application::{Application, ApplicationSpec, ApplicationStatus};
pub use application_set::{ApplicationSet, ApplicationSetSpec, ApplicationSetStatus};
pub use repository_secret::{RepoCredentials, RepositorySecret, RepositorySecretKind};
pub use sensitive::Sensitive;
pub mod cluster_secret;
pub mod secret;
pub mod secret_error;
pub mod secret_yaml;

pub use cluster_secret::{ClusterConfig, ClusterSecret, TlsClientConfig};
pub use secret::{SecretData, SecretType};
pub use secret_error::{Problem, SecretError};
pub use secret_yaml::secrets_from_yaml;
mod cluster_config;
#[cfg(test)]
mod secret_fixtures;
