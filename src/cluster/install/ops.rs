//! The pipelines of `cluster add`, `cluster rm` and `cluster rotate`, over connections the CLI
//! built from the kubeconfig.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams};

use super::kubeconfig::TargetCluster;
use super::manifests::{self, Registration};
use super::names::token_service_account;
use super::target::{self, Connection, ManagerScope};
use super::{
    Action, Change, DEFAULT_SA_NAMESPACE, InstallError, MANAGER_SERVICE_ACCOUNT, Sink,
    describe_kube, hub,
};
use crate::api::{ClusterSecret, SecretData, ServerUrl};
use crate::cluster::client::{ClientOptions, client_for};

/// What `cluster add` registers.
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// The `name` key; the context name when `None`.
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Namespaces to manage; empty: the whole cluster.
    pub namespaces: Vec<String>,
    pub hub_namespace: String,
    pub sa_namespace: String,
    /// How long to wait for the token controller.
    pub token_timeout: Duration,
}

/// `cluster add`: flotilla-manager in the target, then the cluster Secret in the hub, then the
/// revocation of whatever rights of an earlier run the new scope leaves out.
pub async fn add(
    target: &Connection,
    cluster: &TargetCluster,
    hub: &Connection,
    opts: &AddOptions,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let scope = ManagerScope {
        sa_namespace: &opts.sa_namespace,
        namespaces: &opts.namespaces,
    };
    let token = target::install_manager(target, &scope, opts.token_timeout, out).await?;
    let reg = Registration {
        name: opts.name.clone().unwrap_or_else(|| cluster.context.clone()),
        target: cluster.clone(),
        token,
        namespaces: opts.namespaces.clone(),
        labels: opts.labels.clone(),
        annotations: opts.annotations.clone(),
    };
    hub::ensure_namespace(hub, &opts.hub_namespace, out).await?;
    hub::upsert_cluster_secret(hub, &opts.hub_namespace, &reg, out).await?;
    // Once the hub's Secret names the new scope: the rights an earlier run granted beyond it
    // (the cluster-wide pair after a switch to namespaces, a namespace no longer listed).
    target::revoke_outside(target, Some(&scope), out).await
}

#[derive(Debug, Clone)]
pub struct RemoveOptions {
    pub hub_namespace: String,
    pub sa_namespace: String,
}

/// The target of `cluster rm`: a connection, and for a context picked only because it is named
/// like the cluster, the server it points at (flotilla-manager there is removed only if the
/// cluster Secret, when there is one, has that server).
pub struct RemoveTarget<'a> {
    pub connection: &'a Connection,
    pub implicit_server: Option<&'a str>,
}

/// `cluster rm`: the hub's cluster Secret, then (with a connection to the target)
/// flotilla-manager there. Whatever is already gone is reported as not found.
pub async fn remove(
    hub: &Connection,
    name: &str,
    target: Option<RemoveTarget<'_>>,
    opts: &RemoveOptions,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let secrets = hub::cluster_secrets(hub, &opts.hub_namespace).await?;
    let found = hub::find_by_name(&secrets, name)?;
    let registered = found
        .and_then(|s| hub::text(s, "server"))
        .map(|s| s.trim_end_matches('/').to_string());
    match found {
        Some(secret) => hub::delete_cluster_secret(hub, secret, out).await?,
        None => out(Change::new(
            Action::NotFound,
            "cluster",
            format!("{name} in {}", opts.hub_namespace),
        )),
    }
    let Some(t) = target else { return Ok(()) };
    if let (Some(points_at), Some(registered)) = (t.implicit_server, registered.as_deref())
        && points_at.trim_end_matches('/') != registered
    {
        let why = format!(
            "{name} (it points at {}, the cluster Secret at {}; give --context to clean up a cluster)",
            ServerUrl(points_at),
            ServerUrl(registered)
        );
        out(Change::new(Action::Skipped, "context", why));
        return Ok(());
    }
    target::remove_manager(t.connection, &opts.sa_namespace, out).await
}

#[derive(Debug, Clone)]
pub struct RotateOptions {
    pub hub_namespace: String,
    pub token_timeout: Duration,
    /// How long to wait for the running hub to confirm it loaded the new token (and dropped the
    /// old one) before revoking the old token.
    pub hub_ack_timeout: Duration,
    /// Timeouts of the check of the new token.
    pub client: ClientOptions,
}

/// `cluster rotate`: a new token Secret for the ServiceAccount of the current token, checked
/// against the target, written to the hub Secret, and only once the running hub has confirmed
/// it loaded that version (or none did within `hub_ack_timeout`) the old token Secret deleted.
/// Neither the hub Secret nor the running hub ever holds a token that does not work. Without
/// `target`, the cluster is reached with the hub Secret's own credentials.
pub async fn rotate(
    hub: &Connection,
    name: &str,
    target: Option<Connection>,
    opts: &RotateOptions,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let secrets = hub::cluster_secrets(hub, &opts.hub_namespace).await?;
    let secret = hub::find_by_name(&secrets, name)?
        .ok_or_else(|| InstallError::ClusterNotFound {
            name: name.into(),
            namespace: opts.hub_namespace.clone(),
        })?
        .clone();
    let parsed = ClusterSecret::from_secret(&SecretData::from_k8s(&secret))
        .map_err(|e| InstallError::InvalidSecret(e.to_string()))?;
    let old = parsed
        .config
        .bearer_token
        .clone()
        .ok_or_else(|| InstallError::NothingToRotate {
            secret: parsed.secret_name.clone(),
            uses: if parsed.config.tls.cert_data.is_some() {
                "a client certificate"
            } else if parsed.config.username.is_some() {
                "basic auth"
            } else {
                "no credentials"
            },
        })?;
    let (sa_ns, sa) = token_service_account(&old)
        .unwrap_or_else(|| (DEFAULT_SA_NAMESPACE.into(), MANAGER_SERVICE_ACCOUNT.into()));
    let via_secret = target.is_none();
    let target = match target {
        Some(t) => t,
        None => Connection {
            client: client_for(&parsed, &opts.client)
                .await
                .map_err(|e| InstallError::InvalidSecret(e.to_string()))?,
            place: format!(
                "cluster {} (with the credentials of Secret {})",
                parsed.name, parsed.secret_name
            ),
        },
    };
    let (new_name, new_token) =
        target::issue_token(&target, &sa_ns, &sa, opts.token_timeout, out).await?;
    let mut fresh = parsed.clone();
    fresh.config.bearer_token = Some(new_token.clone());
    let checked = match check_token(&fresh, &opts.client).await {
        Ok(client) => client,
        Err(cause) => {
            // Best effort: the unusable token goes; the hub never saw it.
            let _ = target::delete_secret(&target, &sa_ns, &new_name, out).await;
            return Err(InstallError::NewTokenRejected {
                secret: format!("{sa_ns}/{new_name}"),
                place: target.place.clone(),
                cause,
            });
        }
    };
    let updated = manifests::with_bearer_token(&secret, &new_token)?;
    let stored = match hub::replace_secret(hub, &updated, out).await {
        Ok(stored) => stored,
        Err(e) => {
            let _ = target::delete_secret(&target, &sa_ns, &new_name, out).await;
            return Err(e);
        }
    };
    // The running hub may still hold the old token: revoke it only once the hub says it no
    // longer uses it.
    hub::wait_acknowledged(hub, &stored, opts.hub_ack_timeout, out).await;
    // The old token may be about to stop working: with the hub Secret's credentials, go on
    // with the new token.
    let target = if via_secret {
        Connection {
            client: checked,
            place: target.place,
        }
    } else {
        target
    };
    let listed = target::token_secrets(&target, &sa_ns).await?;
    match manifests::secret_holding(&listed, &sa, &old, &new_name) {
        Some(old_name) => target::delete_secret(&target, &sa_ns, old_name, out).await?,
        None => out(Change::new(
            Action::NotFound,
            "secret",
            format!("{sa_ns}/(the token Secret of {sa} holding the old token)"),
        )),
    }
    Ok(())
}

/// A client with the new token, once it has answered `/version` and a request RBAC decides (a
/// list of namespaces, or of ConfigMaps in the first managed namespace).
async fn check_token(
    secret: &ClusterSecret,
    options: &ClientOptions,
) -> Result<kube::Client, String> {
    let client = client_for(secret, options)
        .await
        .map_err(|e| e.to_string())?;
    client
        .apiserver_version()
        .await
        .map_err(|e| describe_kube(&e))?;
    let lp = ListParams::default().limit(1);
    let listed = match secret.namespaces.first() {
        None => Api::<Namespace>::all(client.clone())
            .list(&lp)
            .await
            .map(drop),
        Some(ns) => Api::<ConfigMap>::namespaced(client.clone(), ns)
            .list(&lp)
            .await
            .map(drop),
    };
    listed.map_err(|e| describe_kube(&e))?;
    Ok(client)
}
