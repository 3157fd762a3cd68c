//! The operation of an Application: a sync requested by a user (`flotilla app sync`,
//! `flotilla app rollback`) or by the automated policy, in Argo CD's shape (`Application.operation`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What to do. Written by a client into the top-level `operation` field; the hub starts it,
/// records it in `status.operationState`, and clears the field.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncOperation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<OperationInitiator>,
    /// Free-form notes (`name`/`value` pairs), as Argo CD's `info`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<super::application::Info>,
    /// Overrides `spec.syncPolicy.retry` for this operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<super::application::RetryStrategy>,
}

/// A sync: to a revision (default: the source's `targetRevision`), optionally pruning.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// One revision per source, for `spec.sources`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
    /// The source to sync instead of `spec.source` (a rollback restores the one it deployed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<super::application::ApplicationSource>,
    /// The sources to sync instead of `spec.sources`, one per revision of `revisions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<super::application::ApplicationSource>,
}

/// Who asked.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationInitiator {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automated: bool,
}
