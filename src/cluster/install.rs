//! `flotilla cluster add / rm / rotate / list`: registering a target cluster with the hub, as
//! `argocd cluster add` does. In the target: a ServiceAccount `flotilla-manager` with cluster-wide
//! (or per-namespace) `*` RBAC and a long-lived token Secret; in the hub: a cluster Secret with
//! that token.
//!
//! The pure parts (names, manifests, what to change, kubeconfig entries) are in `names`,
//! `manifests` and `kubeconfig`; `target` and `hub` are the kube-rs drivers of one cluster each;
//! `ops` runs the commands' pipelines and `list` gathers the rows of `cluster list`.
//! Nothing here shows a credential: tokens and keys are [`Sensitive`](crate::api::Sensitive),
//! and no error or change line carries one.

pub mod hub;
pub mod kubeconfig;
pub mod list;
pub mod manifests;
pub mod names;
pub mod ops;
pub mod target;

use std::fmt;
use std::time::Duration;

pub use kubeconfig::{KubeconfigFiles, TargetAuth, TargetCluster};
pub use list::{ClusterRow, list_clusters};
pub use ops::{AddOptions, RemoveOptions, RemoveTarget, RotateOptions, add, remove, rotate};
pub use target::Connection;

/// The ServiceAccount flotilla uses in a target cluster.
pub const MANAGER_SERVICE_ACCOUNT: &str = "flotilla-manager";
/// Its ClusterRole (or Role, per namespace).
pub const MANAGER_ROLE: &str = "flotilla-manager-role";
/// Its ClusterRoleBinding (or RoleBinding, per namespace).
pub const MANAGER_ROLE_BINDING: &str = "flotilla-manager-role-binding";
/// The token Secret `cluster add` creates.
pub const LONG_LIVED_TOKEN_SECRET: &str = "flotilla-manager-long-lived-token";
/// `generateName` of the token Secrets `cluster rotate` creates.
pub const ROTATED_TOKEN_PREFIX: &str = "flotilla-manager-token-";
/// The type of a legacy service-account token Secret.
pub const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// The annotation naming a token Secret's ServiceAccount.
pub const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The annotation marking a cluster Secret written by this command.
pub const MANAGED_BY_ANNOTATION: &str = "flotilla.dev/managed-by";
/// Its value.
pub const MANAGED_BY_FLOTILLA: &str = "flotilla";
/// Argo CD's value of its `managed-by` annotation on cluster Secrets made by its API/CLI.
pub const MANAGED_BY_ARGOCD: &str = "argocd.argoproj.io";
/// Default hub namespace.
pub const DEFAULT_HUB_NAMESPACE: &str = "flotilla";
/// Default namespace of the ServiceAccount in the target.
pub const DEFAULT_SA_NAMESPACE: &str = "kube-system";
/// How often a token Secret is polled until the token controller fills it (as Argo CD's CLI).
pub const TOKEN_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// A failure of a `cluster` command. Every message names the object and the place (kubeconfig
/// context or cluster) and never contains a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// A kubeconfig file could not be read or parsed.
    #[error("kubeconfig {path}: {what}")]
    Kubeconfig { path: String, what: String },
    /// No kubeconfig file to read.
    #[error("no kubeconfig: give --kubeconfig, set KUBECONFIG, or create ~/.kube/config")]
    NoKubeconfig,
    /// A context, or what it refers to, is missing or unusable.
    #[error("kubeconfig context {context:?}: {what}")]
    Context { context: String, what: String },
    /// A request failed.
    #[error("{action} {object} in {place}: {cause}")]
    Api {
        /// `creating`, `reading`, `updating`, `deleting`, `listing`.
        action: &'static str,
        /// `serviceaccount kube-system/flotilla-manager`.
        object: String,
        /// `context dev`, `hub context hub`...
        place: String,
        cause: String,
    },
    /// A token Secret was not filled by the token controller in time.
    #[error(
        "secret {secret} in {place}: the token controller did not fill data.token within {waited:?}"
    )]
    TokenTimeout {
        secret: String,
        place: String,
        waited: Duration,
    },
    /// An object that should be ours exists with content we must not overwrite.
    #[error("{object} in {place}: {what}")]
    Conflict {
        object: String,
        place: String,
        what: String,
    },
    /// No cluster Secret by that name.
    #[error(
        "cluster {name:?}: no cluster Secret in hub namespace {namespace} has that name or Secret name"
    )]
    ClusterNotFound { name: String, namespace: String },
    /// Several cluster Secrets share the name.
    #[error(
        "cluster {name:?}: several cluster Secrets have that name ({secrets}); give the Secret name instead"
    )]
    Ambiguous { name: String, secrets: String },
    /// The cluster Secret does not parse, or a client cannot be built from it.
    #[error("{0}")]
    InvalidSecret(String),
    /// The cluster Secret authenticates without a bearer token: there is nothing to rotate.
    #[error("cluster Secret {secret}: config has no bearerToken to rotate (it uses {uses})")]
    NothingToRotate { secret: String, uses: &'static str },
    /// The freshly issued token did not work; the hub Secret was left unchanged.
    #[error(
        "new token in secret {secret} does not work against {place}, the hub Secret is unchanged: {cause}"
    )]
    NewTokenRejected {
        secret: String,
        place: String,
        cause: String,
    },
}

impl InstallError {
    /// An [`InstallError::Api`] from a kube error.
    pub fn api(
        action: &'static str,
        object: impl Into<String>,
        place: &str,
        e: &kube::Error,
    ) -> Self {
        InstallError::Api {
            action,
            object: object.into(),
            place: place.to_string(),
            cause: describe_kube(e),
        }
    }
}

/// A kube error as one short line: an API status as `message (code Reason)`, else the error and
/// its causes.
pub fn describe_kube(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let message = if s.message.is_empty() {
                "the API server refused the request"
            } else {
                s.message.as_str()
            };
            format!("{message} ({} {})", s.code, s.reason)
        }
        other => super::describe_error(other),
    }
}

/// The status code of an API error.
pub fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// What a command did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    Deleted,
    NotFound,
    /// A cluster Secret flotilla did not create lost its `secret-type` labels instead of being
    /// deleted (as Argo CD does).
    Unlabelled,
    /// Left alone, with the reason in the name.
    Skipped,
    /// The running hub confirmed it loaded the object (a cluster Secret), with the detail in
    /// the name.
    Acknowledged,
    /// No hub confirmed loading the object in time, with the detail in the name.
    Unacknowledged,
}

/// One line of a command's output: `created serviceaccount kube-system/flotilla-manager`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    /// `serviceaccount`, `clusterrole`, `secret`...
    pub kind: &'static str,
    /// `namespace/name` or `name`.
    pub name: String,
}

impl Change {
    pub fn new(action: Action, kind: &'static str, name: impl Into<String>) -> Self {
        Change {
            action,
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = (self.kind, &self.name);
        match self.action {
            Action::Created => write!(f, "created {kind} {name}"),
            Action::Updated => write!(f, "updated {kind} {name}"),
            Action::Unchanged => write!(f, "unchanged {kind} {name}"),
            Action::Deleted => write!(f, "deleted {kind} {name}"),
            Action::NotFound => write!(f, "not found {kind} {name}"),
            Action::Skipped => write!(f, "skipped {kind} {name}"),
            Action::Acknowledged => write!(f, "acknowledged {kind} {name}"),
            Action::Unacknowledged => write!(f, "unacknowledged {kind} {name}"),
            Action::Unlabelled => {
                write!(
                    f,
                    "unlabelled {kind} {name} (not created by flotilla: kept, secret-type labels removed)"
                )
            }
        }
    }
}

/// Where a command's change lines go as they happen.
pub type Sink<'a> = &'a mut (dyn FnMut(Change) + Send);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lines() {
        let c = Change::new(
            Action::Created,
            "serviceaccount",
            "kube-system/flotilla-manager",
        );
        assert_eq!(
            c.to_string(),
            "created serviceaccount kube-system/flotilla-manager"
        );
        assert_eq!(
            Change::new(Action::Unchanged, "clusterrole", MANAGER_ROLE).to_string(),
            "unchanged clusterrole flotilla-manager-role"
        );
        assert_eq!(
            Change::new(Action::NotFound, "secret", "flotilla/x").to_string(),
            "not found secret flotilla/x"
        );
    }

    #[test]
    fn api_errors_are_one_line() {
        let status = kube::core::Status::failure(
            "secrets \"x\" is forbidden: User \"u\" cannot get",
            "Forbidden",
        )
        .with_code(403);
        let e = InstallError::api(
            "reading",
            "secret a/x",
            "context dev",
            &kube::Error::Api(Box::new(status)),
        );
        assert_eq!(
            e.to_string(),
            "reading secret a/x in context dev: secrets \"x\" is forbidden: User \"u\" cannot get (403 Forbidden)"
        );
    }
}
