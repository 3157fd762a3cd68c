//! The hub's side: its namespace and the cluster Secrets in it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use super::manifests::{self, Registration, Update};
use super::names::cluster_secret_name;
use super::target::Connection;
use super::{Action, Change, InstallError, Sink, status_code};
use crate::api::secret::{ARGOCD_SECRET_TYPE_LABEL, FLOTILLA_SECRET_TYPE_LABEL};

/// Creates the namespace if it is missing (a hub user allowed to write Secrets but not to read
/// namespaces goes on as if it existed).
pub async fn ensure_namespace(
    hub: &Connection,
    namespace: &str,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let api: Api<Namespace> = Api::all(hub.client.clone());
    let what = format!("namespace {namespace}");
    match api.get_opt(namespace).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(e) if status_code(&e) == Some(403) => return Ok(()),
        Err(e) => return Err(InstallError::api("reading", what, &hub.place, &e)),
    }
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &ns).await {
        Ok(_) => out(Change::new(Action::Created, "namespace", namespace)),
        Err(e) if status_code(&e) == Some(409) => {}
        Err(e) => return Err(InstallError::api("creating", what, &hub.place, &e)),
    }
    Ok(())
}

/// The Secrets of `namespace` labelled `secret-type: cluster` by either label key, by name.
pub async fn cluster_secrets(
    hub: &Connection,
    namespace: &str,
) -> Result<Vec<Secret>, InstallError> {
    let api: Api<Secret> = Api::namespaced(hub.client.clone(), namespace);
    let mut found = BTreeMap::new();
    for label in [FLOTILLA_SECRET_TYPE_LABEL, ARGOCD_SECRET_TYPE_LABEL] {
        let lp = ListParams::default().labels(&format!("{label}=cluster"));
        let list = api.list(&lp).await.map_err(|e| {
            InstallError::api(
                "listing",
                format!("cluster secrets in namespace {namespace}"),
                &hub.place,
                &e,
            )
        })?;
        for s in list.items {
            found.insert(s.metadata.name.clone().unwrap_or_default(), s);
        }
    }
    // The flotilla label wins: `flotilla.dev/secret-type: repository` is no cluster Secret.
    Ok(found
        .into_values()
        .filter(manifests::is_cluster_secret)
        .filter(|s| flotilla_type(s).is_none_or(|t| t == "cluster"))
        .collect())
}

fn flotilla_type(s: &Secret) -> Option<&str> {
    s.metadata
        .labels
        .as_ref()?
        .get(FLOTILLA_SECRET_TYPE_LABEL)
        .map(String::as_str)
}

/// A text key of a Secret.
pub fn text<'a>(s: &'a Secret, key: &str) -> Option<&'a str> {
    s.data
        .as_ref()?
        .get(key)
        .and_then(|v| std::str::from_utf8(&v.0).ok())
}

/// `namespace/name` of a Secret.
pub fn qualified(s: &Secret) -> String {
    format!(
        "{}/{}",
        s.metadata.namespace.as_deref().unwrap_or_default(),
        s.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The cluster Secret whose Secret name is `name`, else the one whose `name` key is `name`.
pub fn find_by_name<'a>(
    secrets: &'a [Secret],
    name: &str,
) -> Result<Option<&'a Secret>, InstallError> {
    if let Some(s) = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
    {
        return Ok(Some(s));
    }
    let named: Vec<&Secret> = secrets
        .iter()
        .filter(|s| text(s, "name") == Some(name))
        .collect();
    match named.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(InstallError::Ambiguous {
            name: name.into(),
            secrets: many
                .iter()
                .map(|s| qualified(s))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Creates or updates the cluster Secret of the registration's server: the existing one for
/// that server whatever its name (Argo CD-labelled ones included), else
/// `cluster-<host>-<hash>`. Writes only when something differs.
pub async fn upsert_cluster_secret(
    hub: &Connection,
    namespace: &str,
    reg: &Registration,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let api: Api<Secret> = Api::namespaced(hub.client.clone(), namespace);
    let existing = cluster_secrets(hub, namespace).await?;
    let same_server = existing.iter().find(|s| {
        text(s, "server").map(|v| v.trim_end_matches('/')) == Some(reg.target.server.as_str())
    });
    let name = match same_server {
        Some(s) => s.metadata.name.clone().unwrap_or_default(),
        None => cluster_secret_name(&reg.target.server),
    };
    let desired = reg.secret(namespace, &name)?;
    let shown = format!("{namespace}/{name}");
    let what = format!("secret {shown}");
    let current = match same_server {
        Some(s) => Some(s.clone()),
        None => api
            .get_opt(&name)
            .await
            .map_err(|e| InstallError::api("reading", &what, &hub.place, &e))?,
    };
    match current {
        None => {
            api.create(&PostParams::default(), &desired)
                .await
                .map_err(|e| InstallError::api("creating", &what, &hub.place, &e))?;
            out(Change::new(Action::Created, "secret", shown));
        }
        Some(s) if !manifests::is_cluster_secret(&s) => {
            return Err(InstallError::Conflict {
                object: what,
                place: hub.place.clone(),
                what: "exists and is not a cluster Secret".into(),
            });
        }
        Some(s) => match manifests::hub_secret_update(&s, &desired) {
            Update::Unchanged => out(Change::new(Action::Unchanged, "secret", shown)),
            Update::Replace(updated) => {
                api.replace(&name, &PostParams::default(), &updated)
                    .await
                    .map_err(|e| InstallError::api("updating", &what, &hub.place, &e))?;
                out(Change::new(Action::Updated, "secret", shown));
            }
        },
    }
    Ok(())
}

/// Replaces a cluster Secret (its resourceVersion guards against concurrent writes).
pub async fn replace_secret(
    hub: &Connection,
    secret: &Secret,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(hub.client.clone(), &namespace);
    let shown = qualified(secret);
    api.replace(&name, &PostParams::default(), secret)
        .await
        .map_err(|e| InstallError::api("updating", format!("secret {shown}"), &hub.place, &e))?;
    out(Change::new(Action::Updated, "secret", shown));
    Ok(())
}

/// Deletes a cluster Secret written by a CLI (flotilla's or Argo CD's); any other only loses its
/// `secret-type` labels, as Argo CD does, so a Secret kept in Git is not deleted behind its back.
pub async fn delete_cluster_secret(
    hub: &Connection,
    secret: &Secret,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(hub.client.clone(), &namespace);
    let shown = qualified(secret);
    let what = format!("secret {shown}");
    if manifests::is_cli_managed(secret) {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => out(Change::new(Action::Deleted, "secret", shown)),
            Err(e) if status_code(&e) == Some(404) => {
                out(Change::new(Action::NotFound, "secret", shown))
            }
            Err(e) => return Err(InstallError::api("deleting", what, &hub.place, &e)),
        }
        return Ok(());
    }
    let patch = json!({"metadata": {"labels": {FLOTILLA_SECRET_TYPE_LABEL: null, ARGOCD_SECRET_TYPE_LABEL: null}}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| InstallError::api("unlabelling", what, &hub.place, &e))?;
    out(Change::new(Action::Unlabelled, "secret", shown));
    Ok(())
}
