//! API types: the CRDs (ApplicationSet, Application, AppProject) and the Secret formats
//! (cluster, repository, repo-creds) in Argo CD's declarative shapes.

pub mod app_project;
pub mod application;
pub mod application_object;
pub mod application_set;
pub mod crds;
pub mod operation;
pub mod repository_secret;
mod schema;
pub mod sensitive;

pub use app_project::{AppProject, AppProjectSpec};
pub use application::{ApplicationSpec, ApplicationStatus};
pub use application_object::Application;
pub use application_set::{ApplicationSet, ApplicationSetSpec, ApplicationSetStatus};
pub use repository_secret::{RepoCredentials, RepositorySecret, RepositorySecretKind};
pub use sensitive::Sensitive;

// Argo CD's declarative Secrets (cluster, repository, repo-creds) and Secret manifests in files.
mod cluster_config;
pub mod cluster_secret;
pub mod secret;
pub mod secret_error;
#[cfg(test)]
mod secret_fixtures;
pub mod secret_yaml;
pub mod server_url;

pub use cluster_secret::{
    ClusterConfig, ClusterSecret, IN_CLUSTER_NAME, IN_CLUSTER_SERVER, InvalidClusterSecret,
    TlsClientConfig,
};
pub use secret::{SecretData, SecretType};
pub use secret_error::{Problem, SecretError};
pub use secret_yaml::secrets_from_yaml;
pub use server_url::ServerUrl;
