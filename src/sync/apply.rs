//! Writes to a target cluster: server-side apply under the field manager `flotilla` (conflicts
//! forced only when the sync options say so), and deletes with a propagation policy.

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy,
};
use serde_json::Value;

use super::FIELD_MANAGER;
use super::tracking::ObjectKey;

/// A write failed. `Rejected`: the cluster refused this object (invalid, conflict, forbidden):
/// the object's problem, reported on it. `Unavailable`: the cluster could not be reached or
/// failed (timeouts, 5xx, 429): the cluster's problem, which backs its pool off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error("{object}: {message}")]
    Rejected {
        object: String,
        code: u16,
        message: String,
    },
    #[error("{object}: the cluster is unavailable: {message}")]
    Unavailable { object: String, message: String },
}

impl WriteError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, WriteError::Unavailable { .. })
    }

    /// The cause without the object (what a cluster-level failure is reported with).
    pub fn cause(&self) -> &str {
        match self {
            WriteError::Rejected { message, .. } | WriteError::Unavailable { message, .. } => {
                message
            }
        }
    }

    fn of(object: &ObjectKey, e: kube::Error) -> WriteError {
        let object = object.to_string();
        match e {
            kube::Error::Api(s) if s.code < 500 && s.code != 429 => WriteError::Rejected {
                object,
                code: s.code,
                message: s.message,
            },
            other => WriteError::Unavailable {
                object,
                message: crate::cluster::describe_error(&other),
            },
        }
    }
}

fn api(
    client: &kube::Client,
    resource: &ApiResource,
    namespaced: bool,
    namespace: &str,
) -> Api<DynamicObject> {
    if namespaced && !namespace.is_empty() {
        Api::namespaced_with(client.clone(), namespace, resource)
    } else {
        Api::all_with(client.clone(), resource)
    }
}

/// Server-side applies `obj`; returns the object as the server stored it.
pub async fn apply(
    client: &kube::Client,
    resource: &ApiResource,
    namespaced: bool,
    obj: &Value,
    force: bool,
) -> Result<Value, WriteError> {
    let key = ObjectKey::of(obj);
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.force = force;
    let api = api(client, resource, namespaced, &key.namespace);
    let applied = api
        .patch(&key.name, &params, &Patch::Apply(obj))
        .await
        .map_err(|e| WriteError::of(&key, e))?;
    serde_json::to_value(applied).map_err(|e| WriteError::Rejected {
        object: key.to_string(),
        code: 0,
        message: e.to_string(),
    })
}

/// Deletes an object (`propagation`: foreground, background or orphan). Gone already is fine.
pub async fn delete(
    client: &kube::Client,
    resource: &ApiResource,
    namespaced: bool,
    key: &ObjectKey,
    propagation: &str,
) -> Result<(), WriteError> {
    let policy = match propagation {
        "background" => PropagationPolicy::Background,
        "orphan" => PropagationPolicy::Orphan,
        _ => PropagationPolicy::Foreground,
    };
    let params = DeleteParams {
        propagation_policy: Some(policy),
        ..Default::default()
    };
    match api(client, resource, namespaced, &key.namespace)
        .delete(&key.name, &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(WriteError::of(key, e)),
    }
}
