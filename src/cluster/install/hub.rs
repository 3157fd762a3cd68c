//! The hub's side: its namespace and the cluster Secrets in it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use super::manifests::{self, Registration};
use super::names::cluster_secret_name;
use super::target::{Connection, ensure, obj};
use super::{Action, Change, InstallError, Sink, status_code};
use crate::api::secret::{ARGOCD_SECRET_TYPE_LABEL, FLOTILLA_SECRET_TYPE_LABEL};
use crate::cluster::events::{CREDENTIALS_LOADED, acknowledges};

/// How often `cluster rotate` looks for the hub's acknowledgement.
const ACK_POLL_INTERVAL: Duration = Duration::from_millis(200);

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
    ensure(
        &api,
        obj("secret", Some(namespace), &name),
        &hub.place,
        &desired,
        |s| {
            if manifests::is_cluster_secret(s) {
                Ok(manifests::hub_secret_update(s, &desired))
            } else {
                Err("exists and is not a cluster Secret".into())
            }
        },
        out,
    )
    .await
}

/// Replaces a cluster Secret (its resourceVersion guards against concurrent writes); returns it
/// as stored, with its new resourceVersion.
pub async fn replace_secret(
    hub: &Connection,
    secret: &Secret,
    out: Sink<'_>,
) -> Result<Secret, InstallError> {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(hub.client.clone(), &namespace);
    let shown = qualified(secret);
    let stored = api
        .replace(&name, &PostParams::default(), secret)
        .await
        .map_err(|e| InstallError::api("updating", format!("secret {shown}"), &hub.place, &e))?;
    out(Change::new(Action::Updated, "secret", shown));
    Ok(stored)
}

/// Waits until a running hub acknowledges that it loaded `secret` at its resourceVersion (or a
/// later one) and no longer uses the credentials of earlier versions: the Event
/// [`CREDENTIALS_LOADED`] on the Secret. Returns whether it did within `timeout` (no hub running
/// is not an error: a hub that starts later reads the new Secret). Errors reading the Events are
/// retried until the timeout.
pub async fn wait_acknowledged(
    hub: &Connection,
    secret: &Secret,
    timeout: Duration,
    out: Sink<'_>,
) -> bool {
    let namespace = secret.metadata.namespace.clone().unwrap_or_default();
    let name = secret.metadata.name.clone().unwrap_or_default();
    let version = secret.metadata.resource_version.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(hub.client.clone(), &namespace);
    let lp = ListParams::default().fields(&format!(
        "involvedObject.name={name},reason={CREDENTIALS_LOADED}"
    ));
    let shown = qualified(secret);
    let started = tokio::time::Instant::now();
    loop {
        if let Ok(list) = api.list(&lp).await
            && list.items.iter().any(|e| acknowledges(e, &name, &version))
        {
            out(Change::new(
                Action::Acknowledged,
                "secret",
                format!("{shown} (the hub loaded resourceVersion {version})"),
            ));
            return true;
        }
        if started.elapsed() >= timeout {
            out(Change::new(
                Action::Unacknowledged,
                "secret",
                format!(
                    "{shown}: no hub confirmed loading resourceVersion {version} within {timeout:?} (none running, or it still uses the old token); a hub that starts later reads the new Secret"
                ),
            ));
            return false;
        }
        tokio::time::sleep(ACK_POLL_INTERVAL).await;
    }
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
