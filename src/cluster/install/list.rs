//! `cluster list`: the hub's cluster Secrets, each probed (`/version`) concurrently, with the
//! number of Applications deployed to it. A Secret that does not parse is a row with its error.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde::Serialize;

use super::hub::{self, text};
use super::target::Connection;
use super::{InstallError, describe_kube, status_code};
use crate::api::{ClusterSecret, SecretData, ServerUrl};
use crate::cluster::client::{ClientOptions, client_for};

/// STATUS of a cluster that answered.
pub const SUCCESSFUL: &str = "Successful";

/// One cluster as `cluster list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterRow {
    /// `namespace/name` of the Secret.
    pub secret: String,
    pub name: String,
    pub server: String,
    /// The Secret's labels without the `secret-type` ones.
    pub labels: BTreeMap<String, String>,
    pub namespaces: Vec<String>,
    /// The API server's `gitVersion`, when it answered.
    pub version: Option<String>,
    /// [`SUCCESSFUL`], or why not, in one line.
    pub status: String,
    /// Applications whose destination is this cluster; `None` when they could not be listed.
    pub apps: Option<usize>,
}

/// The Application CRD's resource.
pub fn application_resource() -> ApiResource {
    ApiResource {
        group: "flotilla.dev".into(),
        version: "v1alpha1".into(),
        api_version: "flotilla.dev/v1alpha1".into(),
        kind: "Application".into(),
        plural: "applications".into(),
    }
}

/// The destination (`server`, `name`) of each Application.
type Destinations = Vec<(Option<String>, Option<String>)>;

/// The rows, sorted by name, each probed within `timeout`.
pub async fn list_clusters(
    hub: &Connection,
    namespace: &str,
    timeout: Duration,
) -> Result<Vec<ClusterRow>, InstallError> {
    let secrets = hub::cluster_secrets(hub, namespace).await?;
    let destinations = destinations(hub, namespace).await;
    let options = ClientOptions {
        qps: 0.0,
        burst: 0,
        connect_timeout: timeout,
        request_timeout: timeout,
        max_in_flight: 0,
    };
    let rows = futures::future::join_all(secrets.iter().map(|s| row(s, &options, timeout))).await;
    let mut rows: Vec<ClusterRow> = rows
        .into_iter()
        .map(|mut r| {
            r.apps = destinations
                .as_ref()
                .map(|d| count_apps(d, &r.server, &r.name));
            r
        })
        .collect();
    rows.sort_by(|a, b| (&a.name, &a.secret).cmp(&(&b.name, &b.secret)));
    Ok(rows)
}

async fn row(secret: &Secret, options: &ClientOptions, timeout: Duration) -> ClusterRow {
    let qualified = hub::qualified(secret);
    let parsed = match ClusterSecret::from_secret(&SecretData::from_k8s(secret)) {
        Ok(p) => p,
        Err(e) => {
            // Shown without user info: a Secret refused for a password in its URL must not
            // print it here.
            let raw = text(secret, "server")
                .unwrap_or_default()
                .trim_end_matches('/');
            let server = ServerUrl(raw).to_string();
            let name = text(secret, "name")
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            return ClusterRow {
                name: name.unwrap_or_else(|| secret.metadata.name.clone().unwrap_or_default()),
                server,
                labels: user_labels(secret),
                namespaces: Vec::new(),
                version: None,
                status: e.to_string(),
                apps: None,
                secret: qualified,
            };
        }
    };
    let (version, status) = match probe(&parsed, options, timeout).await {
        Ok(v) => (Some(v), SUCCESSFUL.to_string()),
        Err(e) => (None, e),
    };
    ClusterRow {
        secret: qualified,
        name: parsed.name,
        server: parsed.server,
        labels: parsed.labels,
        namespaces: parsed.namespaces,
        version,
        status,
        apps: None,
    }
}

fn user_labels(secret: &Secret) -> BTreeMap<String, String> {
    let mut labels = secret.metadata.labels.clone().unwrap_or_default();
    labels.remove(crate::api::secret::ARGOCD_SECRET_TYPE_LABEL);
    labels.remove(crate::api::secret::FLOTILLA_SECRET_TYPE_LABEL);
    labels
}

/// The server's `gitVersion`, or the error in one line.
async fn probe(
    secret: &ClusterSecret,
    options: &ClientOptions,
    timeout: Duration,
) -> Result<String, String> {
    let client = client_for(secret, options)
        .await
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Ok(Ok(v)) => Ok(v.git_version),
        Ok(Err(e)) => Err(describe_kube(&e)),
        Err(_) => Err(format!(
            "no answer from {} within {timeout:?}",
            ServerUrl(&secret.server)
        )),
    }
}

/// The destinations of the hub namespace's Applications: none when the CRD is not installed,
/// `None` when they cannot be listed.
async fn destinations(hub: &Connection, namespace: &str) -> Option<Destinations> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(hub.client.clone(), namespace, &application_resource());
    match api.list(&ListParams::default()).await {
        Ok(list) => Some(
            list.items
                .iter()
                .map(|a| {
                    let d = a.data.pointer("/spec/destination");
                    let field = |k: &str| {
                        d.and_then(|d| d.get(k))
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    };
                    (field("server"), field("name"))
                })
                .collect(),
        ),
        Err(e) if status_code(&e) == Some(404) => Some(Vec::new()),
        Err(_) => None,
    }
}

/// Applications sent to the cluster by server URL or by name.
pub fn count_apps(destinations: &Destinations, server: &str, name: &str) -> usize {
    destinations
        .iter()
        .filter(|(s, n)| {
            s.as_deref()
                .filter(|s| !s.is_empty())
                .is_some_and(|s| s.trim_end_matches('/') == server)
                || n.as_deref()
                    .filter(|n| !n.is_empty())
                    .is_some_and(|n| n == name)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_count_by_server_or_name() {
        let d: Destinations = vec![
            (Some("https://a/".into()), None),
            (None, Some("dev".into())),
            (Some("https://b".into()), Some("".into())),
            (Some("".into()), Some("staging".into())),
        ];
        assert_eq!(count_apps(&d, "https://a", "dev"), 2);
        assert_eq!(count_apps(&d, "https://b", "b"), 1);
        assert_eq!(count_apps(&d, "https://c", ""), 0);
    }
}
