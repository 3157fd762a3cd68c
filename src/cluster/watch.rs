//! The driver of the registry: watches the Secrets of the hub namespace, registers the cluster
//! Secrets (either `secret-type` label key), hands repository Secrets to the Git cache, and
//! probes every cluster's API periodically.
//!
//! A bad Secret is reported by name in the log and as a Warning Event on the Secret, and kept in
//! the registry's index of invalid Secrets (so an ApplicationSet that selects it stops instead
//! of deleting that cluster's Applications); if it was valid before, its last valid version
//! keeps serving the sync engine.
//!
//! Once a running hub has loaded a changed cluster Secret and nothing in the hub holds the
//! version before any more, it posts a Normal Event [`events::CREDENTIALS_LOADED`] on the Secret:
//! `flotilla cluster rotate` waits for it before it revokes the old token.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};

use super::client::{ClientOptions, registered_client, uses_hub_client};
use super::events;
use super::registry::{Cluster, Registry, Upsert};
use crate::api::{
    ClusterSecret, InvalidClusterSecret, RepositorySecret, SecretData, SecretType, ServerUrl,
};

/// How long the acknowledgement of a changed Secret waits for the parts of the hub that hold
/// the version before (a sync pool finishing a pass, a probe) to let it go; past that, there is
/// no acknowledgement.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(300);

/// What the driver needs.
#[derive(Clone)]
pub struct WatchConfig {
    pub hub: kube::Client,
    pub namespace: String,
    pub client_options: ClientOptions,
    pub probe_interval: Duration,
    /// Receives the repository and repo-creds Secrets whenever they change.
    pub on_repositories: Option<Arc<dyn Fn(Vec<RepositorySecret>) + Send + Sync>>,
}

/// Runs until the task is dropped: the Secret watch and the prober.
pub async fn run(registry: Arc<Registry>, config: WatchConfig) {
    let probe = tokio::spawn(probe_loop(registry.clone(), config.probe_interval));
    watch_secrets(&registry, &config).await;
    probe.abort();
}

#[derive(Default)]
struct State {
    /// Secret names seen in the current (re)list.
    listing: Option<HashSet<String>>,
    repositories: BTreeMap<String, RepositorySecret>,
    /// Messages already reported per Secret, so a resync does not repeat them.
    reported: BTreeMap<String, String>,
}

async fn watch_secrets(registry: &Registry, config: &WatchConfig) {
    let api: Api<Secret> = Api::namespaced(config.hub.clone(), &config.namespace);
    let mut state = State::default();
    let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
    loop {
        match stream.try_next().await {
            Ok(Some(event)) => on_event(registry, config, &mut state, event).await,
            Ok(None) => return,
            Err(e) => {
                // The watcher retries by itself; the registry keeps what it knew.
                tracing::warn!(namespace = %config.namespace, error = %e, "watching cluster Secrets failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn on_event(
    registry: &Registry,
    config: &WatchConfig,
    state: &mut State,
    event: Event<Secret>,
) {
    match event {
        Event::Init => state.listing = Some(HashSet::new()),
        Event::InitApply(s) | Event::Apply(s) => {
            if let Some(seen) = state.listing.as_mut() {
                seen.insert(qualified(&s));
            }
            apply(registry, config, state, &s).await;
        }
        Event::Delete(s) => {
            let name = qualified(&s);
            forget(registry, config, state, &name);
        }
        Event::InitDone => {
            let seen = state.listing.take().unwrap_or_default();
            for name in registry.secret_names() {
                if !seen.contains(&name) {
                    forget(registry, config, state, &name);
                }
            }
            let gone: Vec<String> = state
                .repositories
                .keys()
                .filter(|n| !seen.contains(*n))
                .cloned()
                .collect();
            if !gone.is_empty() {
                for n in gone {
                    state.repositories.remove(&n);
                }
                publish_repositories(config, state);
            }
            registry.set_synced(true);
            tracing::info!(clusters = registry.secret_names().len(), namespace = %config.namespace, "cluster registry synced");
        }
    }
}

fn qualified(s: &Secret) -> String {
    format!("{}/{}", s.namespace().unwrap_or_default(), s.name_any())
}

fn forget(registry: &Registry, config: &WatchConfig, state: &mut State, name: &str) {
    if registry.remove(name) {
        tracing::info!(secret = %name, "cluster removed");
    }
    state.reported.remove(name);
    if state.repositories.remove(name).is_some() {
        publish_repositories(config, state);
    }
}

async fn apply(registry: &Registry, config: &WatchConfig, state: &mut State, secret: &Secret) {
    let name = qualified(secret);
    let data = SecretData::from_k8s(secret);
    match data.secret_type() {
        Some(SecretType::Cluster) => {}
        Some(SecretType::Repository | SecretType::RepoCreds) => {
            if registry.remove(&name) {
                tracing::info!(secret = %name, "cluster removed: the Secret is no longer of type cluster");
            }
            match RepositorySecret::from_secret(&data) {
                Ok(repo) => {
                    if state.repositories.get(&name) != Some(&repo) {
                        state.repositories.insert(name, repo);
                        publish_repositories(config, state);
                    }
                }
                Err(e) => {
                    report(
                        config,
                        state,
                        secret,
                        "InvalidRepositorySecret",
                        &e.to_string(),
                    )
                    .await
                }
            }
            return;
        }
        _ => {
            // Not ours (any longer).
            forget(registry, config, state, &name);
            return;
        }
    }
    let parsed = match ClusterSecret::from_secret(&data) {
        Ok(p) => p,
        Err(e) => {
            let kept = if registry.by_secret(&name).is_some() {
                "; its last valid version keeps serving the sync engine"
            } else {
                ""
            };
            // Recorded before it is reported: whoever sees the Event finds the registry up to date.
            registry.mark_invalid(InvalidClusterSecret {
                secret_name: name.clone(),
                labels: data.labels.clone(),
                error: e.to_string(),
            });
            report(
                config,
                state,
                secret,
                "InvalidClusterSecret",
                &format!(
                    "{e}{kept}; ApplicationSets that select this Secret change nothing until it is fixed"
                ),
            )
            .await;
            return;
        }
    };
    if registry.is_current(&parsed) {
        return;
    }
    // A rotated token: the registered client switches to it in place, so nothing in the hub
    // uses the old one any more once this returns.
    if registry.swap_token(&parsed) {
        tracing::info!(secret = %name, cluster = %parsed.name, "cluster token replaced");
        state.reported.remove(&name);
        if registry.is_synced() {
            tokio::spawn(acknowledge(config.hub.clone(), secret.clone(), None));
        }
        return;
    }
    // Argo CD: a Secret for the in-cluster address without credentials stands for the hub's own
    // cluster and uses the hub's own configuration (its kubeconfig or its pod's ServiceAccount).
    let built = if uses_hub_client(&parsed) {
        Ok((config.hub.clone(), None))
    } else {
        registered_client(&parsed, &config.client_options)
            .await
            .map_err(|e| e.to_string())
    };
    let (client, token) = match built {
        Ok((client, token)) => (Ok(client), token),
        Err(e) => (Err(e), None),
    };
    let invalid = client.as_ref().err().cloned();
    let shadowed = registry.shadowing(&name, &parsed.server).map(|first| {
        format!(
            "cluster Secret {name}: server {} is already registered by {first}; this Secret is ignored until that one goes",
            ServerUrl(&parsed.server)
        )
    });
    // Registered before it is reported: whoever sees the Event finds the registry up to date.
    let (cluster, server) = (parsed.name.clone(), parsed.server.clone());
    if let Upsert::Registered { previous } = registry.upsert(parsed, client, token) {
        tracing::info!(secret = %name, cluster = %cluster, server = %ServerUrl(&server), "cluster registered");
        // A Secret whose credentials make no client gets a Warning instead (below).
        if registry.is_synced() && invalid.is_none() {
            tokio::spawn(acknowledge(config.hub.clone(), secret.clone(), previous));
        }
    }
    match invalid {
        Some(e) => report(config, state, secret, "InvalidClusterSecret", &e).await,
        None => {
            state.reported.remove(&name);
        }
    }
    if let Some(msg) = shadowed {
        report(config, state, secret, "DuplicateClusterServer", &msg).await;
    }
}

/// Posts [`events::CREDENTIALS_LOADED`] on the Secret once nothing in the hub holds the version
/// it replaced. Not at all if something still holds it after [`RELEASE_TIMEOUT`] (a warning
/// says so): the acknowledgement would be false.
async fn acknowledge(hub: kube::Client, secret: Secret, previous: Option<Weak<Cluster>>) {
    let name = qualified(&secret);
    if let Some(previous) = previous {
        let started = tokio::time::Instant::now();
        while previous.strong_count() > 0 {
            if started.elapsed() > RELEASE_TIMEOUT {
                tracing::warn!(secret = %name, waited = ?RELEASE_TIMEOUT, "the previous version of the cluster Secret is still in use; its load is not acknowledged");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let version = secret.resource_version().unwrap_or_default();
    let message = events::credentials_loaded_message(&name, &version);
    tracing::debug!(secret = %name, resource_version = %version, "cluster Secret loaded");
    events::normal(&hub, &secret, events::CREDENTIALS_LOADED, &message).await;
}

async fn report(
    config: &WatchConfig,
    state: &mut State,
    secret: &Secret,
    reason: &str,
    message: &str,
) {
    let name = qualified(secret);
    if state.reported.get(&name).is_some_and(|m| m == message) {
        return;
    }
    tracing::warn!(secret = %name, reason, "{message}");
    events::warn(&config.hub, secret, reason, message).await;
    state.reported.insert(name, message.to_string());
}

fn publish_repositories(config: &WatchConfig, state: &State) {
    if let Some(f) = &config.on_repositories {
        f(state.repositories.values().cloned().collect());
    }
}

/// Probes every cluster every `interval`, and a changed cluster at once: `/version`, recorded
/// in its connection state.
async fn probe_loop(registry: Arc<Registry>, interval: Duration) {
    let mut changes = registry.subscribe();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let only: Option<String> = tokio::select! {
            _ = tick.tick() => None,
            c = changes.recv() => match c {
                Ok(c) => match c.after {
                    Some(after) => Some(after.server),
                    None => continue,
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
        };
        let clusters: Vec<_> = registry
            .clusters()
            .into_iter()
            .filter(|c| only.as_ref().is_none_or(|s| s == c.server()))
            .collect();
        futures::stream::iter(clusters)
            .for_each_concurrent(32, |c| async move {
                let Some(client) = c.client.clone() else { return };
                match probe(&client).await {
                    Ok(v) => c.record_success(v),
                    Err(msg) => {
                        if c.state().last_error.as_deref() != Some(msg.as_str()) {
                            tracing::warn!(cluster = %c.name(), server = %c.server_shown(), error = %msg, "cluster unreachable");
                        }
                        c.record_error(msg);
                    }
                }
            })
            .await;
    }
}

/// `/version` (the server version; anonymous users may read it), then `/api` (discovery, which
/// needs an authenticated user): a cluster that ignores bad credentials on `/version` still
/// fails the probe.
async fn probe(client: &kube::Client) -> Result<String, String> {
    let version = client
        .apiserver_version()
        .await
        .map_err(|e| super::describe_error(&e))?;
    match client.list_core_api_versions().await {
        Ok(_) => Ok(version.git_version),
        Err(kube::Error::Api(s)) if s.code == 401 || s.code == 403 => Err(format!(
            "the cluster refuses the hub's credentials ({} {}): {}",
            s.code, s.reason, s.message
        )),
        Err(e) => Err(super::describe_error(&e)),
    }
}
