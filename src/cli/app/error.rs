//! What can go wrong in `flotilla app`, and the exit codes. Every message names the Application
//! (or the object) and the cause; none carries a credential (cluster and repository Secrets are
//! read through their parsers, whose errors never echo secret values).

use std::fmt;

/// A failure of an `app` command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// The kubeconfig, or the hub it names, could not be used.
    #[error("connecting to the hub: {0}")]
    Connect(String),
    #[error("application {name:?} not found in namespace {namespace:?}")]
    NotFound { name: String, namespace: String },
    /// A request to the hub failed.
    #[error("{action} {object} in the hub: {cause}")]
    Hub {
        action: &'static str,
        object: String,
        cause: String,
    },
    #[error(
        "application {name:?}: an operation is already in progress ({what}); wait for it (flotilla app wait {name}) and try again"
    )]
    InProgress { name: String, what: String },
    #[error(
        "application {name:?}: rollback cannot be initiated when auto-sync is enabled (remove spec.syncPolicy.automated first)"
    )]
    AutoSyncEnabled { name: String },
    #[error("application {name:?}: no history entry with ID {id}; valid IDs: {valid}")]
    UnknownHistoryId {
        name: String,
        id: i64,
        valid: String,
    },
    #[error(
        "application {name:?}: timed out after {waited} waiting for {what}; last status: {status}"
    )]
    Timeout {
        name: String,
        what: String,
        waited: String,
        status: String,
    },
    /// The operation ended in `Failed` or `Error`.
    #[error("application {name:?}: the operation ended in phase {phase}: {message}")]
    OperationFailed {
        name: String,
        phase: String,
        message: String,
    },
    /// The destination cluster is not registered, its Secret is unusable, or it did not answer.
    #[error("application {name:?}: destination cluster {destination}: {cause}")]
    Cluster {
        name: String,
        destination: String,
        cause: String,
    },
    /// Git or rendering failed.
    #[error("application {name:?}: rendering the desired state: {cause}")]
    Desired { name: String, cause: String },
    /// The live objects could not be read.
    #[error("application {name:?}: reading {what} in cluster {destination}: {cause}")]
    Live {
        name: String,
        destination: String,
        what: String,
        cause: String,
    },
    /// The cluster Secrets of the hub could not be listed (the message names them and the hub).
    #[error("{0}")]
    ClusterSecrets(String),
    #[error("starting the async runtime: {0}")]
    Runtime(String),
}

impl AppError {
    /// An [`AppError::Hub`] from a kube error.
    pub fn hub(action: &'static str, object: impl Into<String>, e: &kube::Error) -> Self {
        AppError::Hub {
            action,
            object: object.into(),
            cause: crate::cluster::install::describe_kube(e),
        }
    }
}

/// How a command ends when it does not succeed: the process exit code and the error to print
/// (none when the code says it all: `app diff` found differences).
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub error: Option<AppError>,
}

impl Exit {
    /// `app diff`: there are differences (exit code 1, nothing to print).
    pub fn differs() -> Exit {
        Exit {
            code: 1,
            error: None,
        }
    }

    /// An error with an exit code other than 1.
    pub fn with_code(code: u8, error: AppError) -> Exit {
        Exit {
            code,
            error: Some(error),
        }
    }

    /// The exit code for an error of any command (1 unless it is an [`Exit`]), and whether it
    /// has a message to print.
    pub fn of(error: &anyhow::Error) -> (u8, bool) {
        match error.downcast_ref::<Exit>() {
            Some(e) => (e.code, e.error.is_some()),
            None => (1, true),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => e.fmt(f),
            None => Ok(()),
        }
    }
}

// No `source`: the message is the error's own, and `{:#}` would print it twice.
impl std::error::Error for Exit {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Exit::of(&anyhow::anyhow!("plain")), (1, true));
        assert_eq!(Exit::of(&Exit::differs().into()), (1, false));
        let e: anyhow::Error = Exit::with_code(
            2,
            AppError::NotFound {
                name: "web".into(),
                namespace: "flotilla".into(),
            },
        )
        .into();
        assert_eq!(Exit::of(&e), (2, true));
        assert_eq!(
            format!("{e:#}"),
            "application \"web\" not found in namespace \"flotilla\""
        );
    }
}
