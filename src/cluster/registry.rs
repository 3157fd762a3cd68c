//! The index of registered clusters: what the cluster Secrets say, one client per cluster, and
//! each cluster's connection state. The Secret watcher ([`super::watch`]) feeds it; the
//! ApplicationSet controller and the sync pools read it and subscribe to its changes.
//!
//! Clusters are keyed by server URL (Argo CD's primary key). When two Secrets name the same
//! server, the first by Secret name wins and the other is reported.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::SystemTime;

use tokio::sync::{broadcast, watch};

use crate::api::{ClusterSecret, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};

/// What the hub last learned about talking to a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionState {
    /// `gitVersion` from `/version`.
    pub server_version: Option<String>,
    pub last_contact: Option<SystemTime>,
    /// The last probe's error, cleared by a successful one.
    pub last_error: Option<String>,
}

impl ConnectionState {
    pub fn is_connected(&self) -> bool {
        self.last_error.is_none() && self.last_contact.is_some()
    }
}

/// One registered cluster.
pub struct Cluster {
    pub secret: ClusterSecret,
    /// `None` when the Secret's settings cannot make a client (the reason is in `state`).
    pub client: Option<kube::Client>,
    /// Watched by the cluster's sync pool: a probe that starts or stops failing changes it.
    state: watch::Sender<ConnectionState>,
    /// Bumped on every change of the Secret, so a holder can tell its copy is stale.
    pub revision: u64,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("secret", &self.secret)
            .field("has_client", &self.client.is_some())
            .field("state", &self.state())
            .finish()
    }
}

impl Cluster {
    pub fn new(secret: ClusterSecret, client: Result<kube::Client, String>, revision: u64) -> Self {
        let (client, state) = match client {
            Ok(c) => (Some(c), ConnectionState::default()),
            Err(e) => (
                None,
                ConnectionState {
                    last_error: Some(e),
                    ..Default::default()
                },
            ),
        };
        Self {
            secret,
            client,
            state: watch::channel(state).0,
            revision,
        }
    }

    pub fn name(&self) -> &str {
        &self.secret.name
    }

    pub fn server(&self) -> &str {
        &self.secret.server
    }

    pub fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// The connection state, notified when the probe starts or stops failing (or its error or
    /// the server version changes; not on every successful probe).
    pub fn watch_state(&self) -> watch::Receiver<ConnectionState> {
        self.state.subscribe()
    }

    pub fn record_success(&self, version: String) {
        self.state.send_if_modified(|s| {
            let changed = s.last_error.is_some()
                || s.last_contact.is_none()
                || s.server_version.as_deref() != Some(version.as_str());
            s.server_version = Some(version);
            s.last_contact = Some(SystemTime::now());
            s.last_error = None;
            changed
        });
    }

    pub fn record_error(&self, error: String) {
        self.state.send_if_modified(|s| {
            let changed = s.last_error.as_deref() != Some(error.as_str());
            s.last_error = Some(error);
            changed
        });
    }
}

/// A change of the registered set, as subscribers see it.
#[derive(Debug, Clone)]
pub struct ClusterChange {
    /// The cluster before the change (None: newly registered).
    pub before: Option<ClusterSecret>,
    /// After (None: removed).
    pub after: Option<ClusterSecret>,
}

#[derive(Default)]
struct Index {
    /// Valid Secrets by `namespace/name`.
    secrets: BTreeMap<String, Arc<Cluster>>,
    revision: u64,
}

/// The registry. Cheap to share (`Arc`).
pub struct Registry {
    index: RwLock<Index>,
    changes: broadcast::Sender<ClusterChange>,
    /// The hub's own cluster, when the in-cluster entry is enabled.
    in_cluster: Option<Arc<Cluster>>,
    synced: watch::Sender<bool>,
}

impl Registry {
    /// An empty registry; `in_cluster` is the hub's own client when the implicit `in-cluster`
    /// entry is enabled.
    pub fn new(in_cluster: Option<kube::Client>) -> Self {
        let in_cluster =
            in_cluster.map(|c| Arc::new(Cluster::new(ClusterSecret::in_cluster(), Ok(c), 0)));
        Self {
            index: RwLock::new(Index::default()),
            // Each slot is preallocated (about 1 KiB); a reader that lags re-reads the index.
            changes: broadcast::channel(1024).0,
            in_cluster,
            synced: watch::channel(false).0,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the implicit in-cluster entry exists.
    pub fn in_cluster_enabled(&self) -> bool {
        self.in_cluster.is_some()
    }

    /// The registered cluster Secrets (the implicit entry excluded), sorted by Secret name:
    /// what the cluster generator reads.
    pub fn secrets(&self) -> Vec<ClusterSecret> {
        self.read()
            .secrets
            .values()
            .map(|c| c.secret.clone())
            .collect()
    }

    /// Every cluster the hub can sync to, one per server (the first Secret by name wins), plus
    /// the in-cluster entry unless a Secret names its server.
    pub fn clusters(&self) -> Vec<Arc<Cluster>> {
        let index = self.read();
        let mut by_server: BTreeMap<&str, Arc<Cluster>> = BTreeMap::new();
        for c in index.secrets.values() {
            by_server.entry(c.server()).or_insert_with(|| c.clone());
        }
        let mut out: Vec<Arc<Cluster>> = by_server.into_values().collect();
        if let Some(ic) = &self.in_cluster
            && !out.iter().any(|c| c.server() == IN_CLUSTER_SERVER)
        {
            out.push(ic.clone());
        }
        out
    }

    /// The cluster serving `server`.
    pub fn by_server(&self, server: &str) -> Option<Arc<Cluster>> {
        let server = server.trim_end_matches('/');
        let found = self
            .read()
            .secrets
            .values()
            .find(|c| c.server() == server)
            .cloned();
        found.or_else(|| {
            self.in_cluster
                .clone()
                .filter(|_| server == IN_CLUSTER_SERVER)
        })
    }

    /// The cluster named `name` (the first by Secret name when names repeat).
    pub fn by_name(&self, name: &str) -> Option<Arc<Cluster>> {
        let found = self
            .read()
            .secrets
            .values()
            .find(|c| c.name() == name)
            .cloned();
        found.or_else(|| {
            let shadowed = self
                .read()
                .secrets
                .values()
                .any(|c| c.server() == IN_CLUSTER_SERVER);
            self.in_cluster
                .clone()
                .filter(|_| name == IN_CLUSTER_NAME && !shadowed)
        })
    }

    /// The cluster registered by the Secret `namespace/name`.
    pub fn by_secret(&self, secret: &str) -> Option<Arc<Cluster>> {
        self.read().secrets.get(secret).cloned()
    }

    /// Another Secret (earlier by name) that already registers `server`.
    pub fn shadowing(&self, secret: &str, server: &str) -> Option<String> {
        self.read()
            .secrets
            .iter()
            .find(|(name, c)| name.as_str() < secret && c.server() == server)
            .map(|(n, _)| n.clone())
    }

    /// Registers or replaces the cluster of a Secret. Returns `false` (and changes nothing)
    /// when the Secret says the same as before.
    pub fn upsert(&self, secret: ClusterSecret, client: Result<kube::Client, String>) -> bool {
        let key = secret.secret_name.clone();
        let before = {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let before = index.secrets.get(&key).map(|c| c.secret.clone());
            if before.as_ref() == Some(&secret) {
                return false;
            }
            index.revision += 1;
            let revision = index.revision;
            index.secrets.insert(
                key,
                Arc::new(Cluster::new(secret.clone(), client, revision)),
            );
            before
        };
        let _ = self.changes.send(ClusterChange {
            before,
            after: Some(secret),
        });
        true
    }

    /// Removes the cluster of a Secret; `true` if it was registered.
    pub fn remove(&self, secret_name: &str) -> bool {
        let removed = self
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .secrets
            .remove(secret_name);
        match removed {
            Some(c) => {
                let _ = self.changes.send(ClusterChange {
                    before: Some(c.secret.clone()),
                    after: None,
                });
                true
            }
            None => false,
        }
    }

    /// Secret names currently registered.
    pub fn secret_names(&self) -> Vec<String> {
        self.read().secrets.keys().cloned().collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClusterChange> {
        self.changes.subscribe()
    }

    /// Marks the registry as holding a complete list of the Secrets (or not: the watch lost
    /// them and is listing again). Readers must not act on an unsynced registry: zero clusters
    /// there means "not known yet", not "none".
    pub fn set_synced(&self, synced: bool) {
        self.synced
            .send_if_modified(|s| std::mem::replace(s, synced) != synced);
    }

    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the registry is synced.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, server: &str) -> ClusterSecret {
        let mut s = ClusterSecret::in_cluster();
        s.secret_name = format!("flotilla/{name}");
        s.name = name.into();
        s.server = server.into();
        s
    }

    #[test]
    fn upsert_reports_changes_once_and_first_secret_wins_a_server() {
        let r = Registry::new(None);
        let mut rx = r.subscribe();
        assert!(r.upsert(secret("b", "https://x"), Err("no client".into())));
        assert!(
            !r.upsert(secret("b", "https://x"), Err("no client".into())),
            "same content is no change"
        );
        assert!(r.upsert(secret("a", "https://x"), Err("no client".into())));
        assert_eq!(r.clusters().len(), 1);
        assert_eq!(r.clusters()[0].name(), "a");
        assert_eq!(
            r.shadowing("flotilla/b", "https://x").as_deref(),
            Some("flotilla/a")
        );
        assert!(rx.try_recv().unwrap().before.is_none());
        assert!(rx.try_recv().is_ok());
        assert!(r.remove("flotilla/a"));
        assert!(!r.remove("flotilla/a"));
        let c = rx.try_recv().unwrap();
        assert!(c.after.is_none() && c.before.unwrap().name == "a");
        assert_eq!(r.clusters()[0].name(), "b");
        assert_eq!(r.by_server("https://x/").unwrap().name(), "b");
        assert_eq!(r.secrets().len(), 1);
    }

    #[test]
    fn connection_state_follows_probes() {
        let c = Cluster::new(secret("a", "https://x"), Err("bad CA".into()), 1);
        assert_eq!(c.state().last_error.as_deref(), Some("bad CA"));
        c.record_success("v1.33.0".into());
        assert!(c.state().is_connected());
        let mut rx = c.watch_state();
        c.record_success("v1.33.0".into());
        assert!(!rx.has_changed().unwrap(), "another success is no news");
        c.record_error("connection refused".into());
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        c.record_error("connection refused".into());
        assert!(!rx.has_changed().unwrap(), "the same error is no news");
        assert!(!c.state().is_connected());
        assert_eq!(c.state().server_version.as_deref(), Some("v1.33.0"));
    }
}
