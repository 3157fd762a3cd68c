//! The target cluster's side: flotilla-manager's ServiceAccount, RBAC and token Secrets.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::Resource;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::manifests::{self, Update};
use super::{
    Action, Change, InstallError, MANAGER_ROLE, MANAGER_ROLE_BINDING, MANAGER_SERVICE_ACCOUNT,
    Sink, TOKEN_POLL_INTERVAL, status_code,
};
use crate::api::Sensitive;

/// A cluster to talk to, and how to name it in messages (`context dev`).
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    pub place: String,
}

/// One object kind as `ensure` and `delete` handle it.
pub(super) struct Obj<'a> {
    kind: &'static str,
    /// `namespace/name` or `name`.
    shown: String,
    name: &'a str,
}

pub(super) fn obj<'a>(kind: &'static str, namespace: Option<&str>, name: &'a str) -> Obj<'a> {
    let shown = match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    };
    Obj { kind, shown, name }
}

/// Creates `desired`, or brings the existing object up to date with `update`; reports which.
pub(super) async fn ensure<K>(
    api: &Api<K>,
    o: Obj<'_>,
    place: &str,
    desired: &K,
    update: impl Fn(&K) -> Result<Update<K>, String>,
    out: Sink<'_>,
) -> Result<(), InstallError>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let what = format!("{} {}", o.kind, o.shown);
    for _ in 0..2 {
        let existing = api
            .get_opt(o.name)
            .await
            .map_err(|e| InstallError::api("reading", &what, place, &e))?;
        let Some(existing) = existing else {
            match api.create(&PostParams::default(), desired).await {
                Ok(_) => {
                    out(Change::new(Action::Created, o.kind, &o.shown));
                    return Ok(());
                }
                // Created meanwhile: compare with it.
                Err(e) if status_code(&e) == Some(409) => continue,
                Err(e) => return Err(InstallError::api("creating", &what, place, &e)),
            }
        };
        match update(&existing).map_err(|what_| InstallError::Conflict {
            object: what.clone(),
            place: place.into(),
            what: what_,
        })? {
            Update::Unchanged => out(Change::new(Action::Unchanged, o.kind, &o.shown)),
            Update::Replace(obj) => {
                api.replace(o.name, &PostParams::default(), &obj)
                    .await
                    .map_err(|e| InstallError::api("updating", &what, place, &e))?;
                out(Change::new(Action::Updated, o.kind, &o.shown));
            }
        }
        return Ok(());
    }
    Err(InstallError::Conflict {
        object: what,
        place: place.into(),
        what: "was created and deleted concurrently; try again".into(),
    })
}

/// Deletes an object; a missing one is reported as not found.
async fn delete<K>(api: &Api<K>, o: Obj<'_>, place: &str, out: Sink<'_>) -> Result<(), InstallError>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    match api.delete(o.name, &DeleteParams::background()).await {
        Ok(_) => out(Change::new(Action::Deleted, o.kind, &o.shown)),
        Err(e) if status_code(&e) == Some(404) => {
            out(Change::new(Action::NotFound, o.kind, &o.shown))
        }
        Err(e) => {
            return Err(InstallError::api(
                "deleting",
                format!("{} {}", o.kind, o.shown),
                place,
                &e,
            ));
        }
    }
    Ok(())
}

/// Where `cluster add` gives flotilla-manager its rights.
pub struct ManagerScope<'a> {
    /// Namespace of the ServiceAccount and its token Secrets.
    pub sa_namespace: &'a str,
    /// Namespaces to get a Role in; empty: a ClusterRole.
    pub namespaces: &'a [String],
}

/// Ensures the ServiceAccount, its RBAC and a token Secret; returns the token once the token
/// controller has filled it.
pub async fn install_manager(
    c: &Connection,
    scope: &ManagerScope<'_>,
    timeout: Duration,
    out: Sink<'_>,
) -> Result<Sensitive<String>, InstallError> {
    let sa_ns = scope.sa_namespace;
    let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), sa_ns);
    let o = obj("serviceaccount", Some(sa_ns), MANAGER_SERVICE_ACCOUNT);
    ensure(
        &sas,
        o,
        &c.place,
        &manifests::service_account(sa_ns),
        |_| Ok(Update::Unchanged),
        out,
    )
    .await?;
    if scope.namespaces.is_empty() {
        let roles: Api<ClusterRole> = Api::all(c.client.clone());
        let want = manifests::cluster_role();
        ensure(
            &roles,
            obj("clusterrole", None, MANAGER_ROLE),
            &c.place,
            &want,
            |e| Ok(manifests::cluster_role_update(e, &want)),
            out,
        )
        .await?;
        let bindings: Api<ClusterRoleBinding> = Api::all(c.client.clone());
        let want = manifests::cluster_role_binding(sa_ns);
        let o = obj("clusterrolebinding", None, MANAGER_ROLE_BINDING);
        ensure(
            &bindings,
            o,
            &c.place,
            &want,
            |e| manifests::cluster_role_binding_update(e, &want),
            out,
        )
        .await?;
    }
    for ns in scope.namespaces {
        let roles: Api<Role> = Api::namespaced(c.client.clone(), ns);
        let want = manifests::role(ns);
        ensure(
            &roles,
            obj("role", Some(ns), MANAGER_ROLE),
            &c.place,
            &want,
            |e| Ok(manifests::role_update(e, &want)),
            out,
        )
        .await?;
        let bindings: Api<RoleBinding> = Api::namespaced(c.client.clone(), ns);
        let want = manifests::role_binding(ns, sa_ns);
        let o = obj("rolebinding", Some(ns), MANAGER_ROLE_BINDING);
        ensure(
            &bindings,
            o,
            &c.place,
            &want,
            |e| manifests::role_binding_update(e, &want),
            out,
        )
        .await?;
    }
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), sa_ns);
    let listed = token_secrets(c, sa_ns).await?;
    let name = match manifests::pick_token_secret(&listed).and_then(|s| s.metadata.name.clone()) {
        Some(name) => {
            out(Change::new(
                Action::Unchanged,
                "secret",
                format!("{sa_ns}/{name}"),
            ));
            name
        }
        None => {
            let want = manifests::token_secret(sa_ns);
            let name = want.metadata.name.clone().unwrap_or_default();
            let shown = format!("secret {sa_ns}/{name}");
            match secrets.create(&PostParams::default(), &want).await {
                Ok(_) => out(Change::new(
                    Action::Created,
                    "secret",
                    format!("{sa_ns}/{name}"),
                )),
                Err(e) if status_code(&e) == Some(409) => {
                    // Created since the listing, by a `cluster add` running at the same time:
                    // take it if it is the manager's token Secret.
                    let theirs = secrets
                        .get_opt(&name)
                        .await
                        .map_err(|e| InstallError::api("reading", &shown, &c.place, &e))?;
                    if !theirs
                        .is_some_and(|s| manifests::is_token_secret_of(&s, MANAGER_SERVICE_ACCOUNT))
                    {
                        return Err(InstallError::Conflict {
                            object: shown,
                            place: c.place.clone(),
                            what: format!(
                                "exists and is not a token Secret of serviceaccount {sa_ns}/{MANAGER_SERVICE_ACCOUNT}"
                            ),
                        });
                    }
                    out(Change::new(
                        Action::Unchanged,
                        "secret",
                        format!("{sa_ns}/{name}"),
                    ));
                }
                Err(e) => return Err(InstallError::api("creating", shown, &c.place, &e)),
            }
            name
        }
    };
    wait_for_token(c, sa_ns, &name, timeout).await
}

/// Revokes flotilla-manager's rights outside `keep`: every binding and role `cluster add` may
/// have installed (the cluster-wide pair, the pair in each namespace) that `keep` does not ask
/// for. `None` revokes them all. A re-run of `cluster add` with a narrower scope calls it after
/// installing the new scope, so the manager has exactly the rights asked for, and never fewer
/// in between.
pub async fn revoke_outside(
    c: &Connection,
    keep: Option<&ManagerScope<'_>>,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let cluster_wide = keep.is_some_and(|k| k.namespaces.is_empty());
    let kept = |ns: &str| keep.is_some_and(|k| k.namespaces.iter().any(|n| n == ns));
    if !cluster_wide {
        let crbs: Api<ClusterRoleBinding> = Api::all(c.client.clone());
        let o = obj("clusterrolebinding", None, MANAGER_ROLE_BINDING);
        delete_quietly(&crbs, o, &c.place, keep.is_some(), out).await?;
        let crs: Api<ClusterRole> = Api::all(c.client.clone());
        let o = obj("clusterrole", None, MANAGER_ROLE);
        delete_quietly(&crs, o, &c.place, keep.is_some(), out).await?;
    }
    revoke_in_namespaces::<RoleBinding>(c, "rolebinding", MANAGER_ROLE_BINDING, &kept, out).await?;
    revoke_in_namespaces::<Role>(c, "role", MANAGER_ROLE, &kept, out).await
}

/// Deletes the `K` named `name` in every namespace but the `kept` ones.
async fn revoke_in_namespaces<K>(
    c: &Connection,
    kind: &'static str,
    name: &str,
    kept: &(dyn Fn(&str) -> bool + Sync),
    out: Sink<'_>,
) -> Result<(), InstallError>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + Debug
        + DeserializeOwned,
{
    let found = Api::<K>::all(c.client.clone())
        .list(&ListParams::default())
        .await
        .map_err(|e| {
            let what = format!("{kind}s named {name} in all namespaces");
            InstallError::api("listing", what, &c.place, &e)
        })?;
    for item in found
        .items
        .iter()
        .filter(|i| i.meta().name.as_deref() == Some(name))
    {
        let ns = item.meta().namespace.clone().unwrap_or_default();
        if kept(&ns) {
            continue;
        }
        let api: Api<K> = Api::namespaced(c.client.clone(), &ns);
        delete(&api, obj(kind, Some(&ns), name), &c.place, out).await?;
    }
    Ok(())
}

/// [`delete`], but an object already absent is reported only when `quiet` is false.
async fn delete_quietly<K>(
    api: &Api<K>,
    o: Obj<'_>,
    place: &str,
    quiet: bool,
    out: Sink<'_>,
) -> Result<(), InstallError>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    if quiet {
        let mut seen = None;
        delete(api, o, place, &mut |change: Change| seen = Some(change)).await?;
        if let Some(change) = seen.filter(|c| c.action != Action::NotFound) {
            out(change);
        }
        Ok(())
    } else {
        delete(api, o, place, out).await
    }
}

/// The Secrets of `namespace` (token Secrets are filtered by the callers).
pub async fn token_secrets(c: &Connection, namespace: &str) -> Result<Vec<Secret>, InstallError> {
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), namespace);
    let list = secrets.list(&ListParams::default()).await.map_err(|e| {
        InstallError::api(
            "listing",
            format!("secrets in namespace {namespace}"),
            &c.place,
            &e,
        )
    })?;
    Ok(list.items)
}

/// Polls a token Secret every 500 ms until `data.token` is filled.
pub async fn wait_for_token(
    c: &Connection,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<Sensitive<String>, InstallError> {
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), namespace);
    let shown = format!("{namespace}/{name}");
    let start = Instant::now();
    loop {
        let secret = secrets
            .get_opt(name)
            .await
            .map_err(|e| InstallError::api("reading", format!("secret {shown}"), &c.place, &e))?;
        if let Some(token) = secret.as_ref().and_then(manifests::token_of) {
            return Ok(token);
        }
        if start.elapsed() >= timeout {
            return Err(InstallError::TokenTimeout {
                secret: shown,
                place: c.place.clone(),
                waited: timeout,
            });
        }
        tokio::time::sleep(TOKEN_POLL_INTERVAL).await;
    }
}

/// Creates a new token Secret for `sa` and waits for its token; returns its name and token.
pub async fn issue_token(
    c: &Connection,
    sa_namespace: &str,
    sa: &str,
    timeout: Duration,
    out: Sink<'_>,
) -> Result<(String, Sensitive<String>), InstallError> {
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), sa_namespace);
    let want = manifests::rotated_token_secret(sa_namespace, sa);
    let created = secrets
        .create(&PostParams::default(), &want)
        .await
        .map_err(|e| {
            InstallError::api(
                "creating",
                format!("a token secret for serviceaccount {sa_namespace}/{sa}"),
                &c.place,
                &e,
            )
        })?;
    let name = created.metadata.name.unwrap_or_default();
    out(Change::new(
        Action::Created,
        "secret",
        format!("{sa_namespace}/{name}"),
    ));
    let token = wait_for_token(c, sa_namespace, &name, timeout).await?;
    Ok((name, token))
}

/// Deletes one Secret.
pub async fn delete_secret(
    c: &Connection,
    namespace: &str,
    name: &str,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    let secrets: Api<Secret> = Api::namespaced(c.client.clone(), namespace);
    delete(
        &secrets,
        obj("secret", Some(namespace), name),
        &c.place,
        out,
    )
    .await
}

/// Removes what `cluster add` installed: the bindings and roles (cluster-wide and in every
/// namespace), the token Secrets of flotilla-manager and its ServiceAccount.
pub async fn remove_manager(
    c: &Connection,
    sa_ns: &str,
    out: Sink<'_>,
) -> Result<(), InstallError> {
    revoke_outside(c, None, out).await?;
    let tokens: Vec<String> = token_secrets(c, sa_ns)
        .await?
        .iter()
        .filter(|s| manifests::is_token_secret_of(s, MANAGER_SERVICE_ACCOUNT))
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    if tokens.is_empty() {
        out(Change::new(
            Action::NotFound,
            "secret",
            format!("{sa_ns}/{}", super::LONG_LIVED_TOKEN_SECRET),
        ));
    }
    for name in tokens {
        delete_secret(c, sa_ns, &name, out).await?;
    }
    let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), sa_ns);
    delete(
        &sas,
        obj("serviceaccount", Some(sa_ns), MANAGER_SERVICE_ACCOUNT),
        &c.place,
        out,
    )
    .await
}
