//! The index of registered clusters: what the cluster Secrets say, one client per cluster, and
//! each cluster's connection state. The Secret watcher ([`super::watch`]) feeds it; the
//! ApplicationSet controller and the sync pools read it and subscribe to its changes.
//!
//! Clusters are keyed by server URL (Argo CD's primary key). When two Secrets name the same
//! server, the first by Secret name wins and the other is reported.
//!
//! A cluster Secret that does not parse is kept in an index of its own (name, labels, error):
//! the ApplicationSet controller refuses to generate from a cluster list that a selected but
//! unreadable Secret would change. If the Secret was valid before, its last valid version keeps
//! its client for the sync engine, but generators no longer see it (they would not after a
//! restart either).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::SystemTime;

use tokio::sync::{broadcast, watch};

use super::bearer::BearerToken;
use crate::api::{
    ClusterSecret, IN_CLUSTER_NAME, IN_CLUSTER_SERVER, InvalidClusterSecret, ServerUrl,
};

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
    /// The client's bearer token, replaceable in place (see [`Registry::swap_token`]).
    token: Option<BearerToken>,
    /// Watched by the cluster's sync pool: a probe that starts or stops failing changes it.
    /// Shared with the entry that replaces this one on a token swap (the pool keeps its copy).
    state: Arc<watch::Sender<ConnectionState>>,
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
            token: None,
            state: Arc::new(watch::channel(state).0),
            revision,
        }
    }

    /// The cell the client takes its bearer token from.
    pub fn with_token(mut self, token: Option<BearerToken>) -> Self {
        self.token = token;
        self
    }

    pub fn name(&self) -> &str {
        &self.secret.name
    }

    pub fn server(&self) -> &str {
        &self.secret.server
    }

    /// The server for logs and labels (see [`ServerUrl`]).
    pub fn server_shown(&self) -> ServerUrl<'_> {
        ServerUrl(&self.secret.server)
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
    /// The cluster as generators saw it before the change (None: newly registered, or invalid).
    pub before: Option<ClusterSecret>,
    /// After (None: removed, or invalid now).
    pub after: Option<ClusterSecret>,
    /// The labels of the Secret's invalid version, before and/or after the change.
    pub invalid_labels: Vec<BTreeMap<String, String>>,
}

impl ClusterChange {
    /// Every label set the change involves: what a cluster selector may have matched before or
    /// may match now.
    pub fn label_sets(&self) -> Vec<&BTreeMap<String, String>> {
        [&self.before, &self.after]
            .into_iter()
            .flatten()
            .map(|c| &c.secret_labels)
            .chain(self.invalid_labels.iter())
            .collect()
    }
}

/// What [`Registry::upsert`] did.
#[derive(Debug)]
pub enum Upsert {
    /// The Secret says the same as the registered version (which is visible to generators).
    Unchanged,
    /// Registered; `previous` is the version it replaces, if any: once nothing holds it any
    /// more, its credentials are no longer in use anywhere in the hub.
    Registered { previous: Option<Weak<Cluster>> },
}

#[derive(Default)]
struct Index {
    /// The last valid version of each Secret, by `namespace/name`.
    secrets: BTreeMap<String, Arc<Cluster>>,
    /// Secrets whose current version does not parse, by `namespace/name`.
    invalid: BTreeMap<String, InvalidClusterSecret>,
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

    /// What the cluster generator reads, from one snapshot of the index: the registered
    /// cluster Secrets (the implicit entry excluded) and those that do not parse, each sorted by
    /// Secret name. A Secret whose current version is invalid is among the second only,
    /// whatever its last valid version said.
    pub fn secrets(&self) -> (Vec<ClusterSecret>, Vec<InvalidClusterSecret>) {
        let index = self.read();
        let valid = index
            .secrets
            .iter()
            .filter(|(name, _)| !index.invalid.contains_key(*name))
            .map(|(_, c)| c.secret.clone())
            .collect();
        (valid, index.invalid.values().cloned().collect())
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

    /// Whether the Secret's current version is registered as is (valid, and the same content).
    pub fn is_current(&self, secret: &ClusterSecret) -> bool {
        let index = self.read();
        !index.invalid.contains_key(&secret.secret_name)
            && index
                .secrets
                .get(&secret.secret_name)
                .is_some_and(|c| c.secret == *secret)
    }

    /// A Secret whose only change is its bearer token (a rotation): the registered client
    /// switches to the new token in place — every later request of every holder of the client
    /// (sync pools mid-pass included) carries it — and the cluster keeps its revision, so the
    /// sync pools and their caches stay. Returns `false` (and changes nothing) for any other
    /// change, or when the registered client has no replaceable token.
    pub fn swap_token(&self, secret: &ClusterSecret) -> bool {
        let Some(token) = secret
            .config
            .bearer_token
            .clone()
            .filter(|t| !t.expose().is_empty())
        else {
            return false;
        };
        let before = {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            if index.invalid.contains_key(&secret.secret_name) {
                return false;
            }
            let Some(old) = index.secrets.get(&secret.secret_name).cloned() else {
                return false;
            };
            let (Some(cell), Some(client)) = (&old.token, &old.client) else {
                return false;
            };
            let mut same_but_token = old.secret.clone();
            same_but_token.config.bearer_token = secret.config.bearer_token.clone();
            if same_but_token != *secret || old.secret == *secret {
                return false;
            }
            cell.set(token);
            let swapped = Cluster {
                secret: secret.clone(),
                client: Some(client.clone()),
                token: Some(cell.clone()),
                state: old.state.clone(),
                revision: old.revision,
            };
            index
                .secrets
                .insert(secret.secret_name.clone(), Arc::new(swapped));
            old.secret.clone()
        };
        let _ = self.changes.send(ClusterChange {
            before: Some(before),
            after: Some(secret.clone()),
            invalid_labels: Vec::new(),
        });
        true
    }

    /// Registers or replaces the cluster of a valid Secret (which is then no longer invalid).
    /// `token`: the cell `client` takes its bearer token from, if any.
    pub fn upsert(
        &self,
        secret: ClusterSecret,
        client: Result<kube::Client, String>,
        token: Option<BearerToken>,
    ) -> Upsert {
        let key = secret.secret_name.clone();
        let (before, invalid, previous) = {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let old = index.secrets.get(&key).cloned();
            let was_invalid = index.invalid.remove(&key);
            if was_invalid.is_none() && old.as_ref().is_some_and(|c| c.secret == secret) {
                return Upsert::Unchanged;
            }
            index.revision += 1;
            let revision = index.revision;
            index.secrets.insert(
                key,
                Arc::new(Cluster::new(secret.clone(), client, revision).with_token(token)),
            );
            let before = old
                .as_ref()
                .filter(|_| was_invalid.is_none())
                .map(|c| c.secret.clone());
            (before, was_invalid, old.as_ref().map(Arc::downgrade))
        };
        let _ = self.changes.send(ClusterChange {
            before,
            after: Some(secret),
            invalid_labels: invalid.into_iter().map(|i| i.labels).collect(),
        });
        Upsert::Registered { previous }
    }

    /// Records that the current version of a cluster Secret does not parse. Its last valid
    /// version, if any, keeps its client but is hidden from generators. Returns `false` (and
    /// changes nothing) when it was already recorded so.
    pub fn mark_invalid(&self, invalid: InvalidClusterSecret) -> bool {
        let key = invalid.secret_name.clone();
        let (before, old_labels) = {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            let old = index.invalid.get(&key);
            if old == Some(&invalid) {
                return false;
            }
            let old_labels = old.map(|o| o.labels.clone());
            let before = match old {
                None => index.secrets.get(&key).map(|c| c.secret.clone()),
                Some(_) => None,
            };
            index.invalid.insert(key, invalid.clone());
            (before, old_labels)
        };
        let _ = self.changes.send(ClusterChange {
            before,
            after: None,
            invalid_labels: old_labels.into_iter().chain([invalid.labels]).collect(),
        });
        true
    }

    /// Removes the cluster of a Secret, valid or not; `true` if it was registered either way.
    pub fn remove(&self, secret_name: &str) -> bool {
        let (removed, invalid) = {
            let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
            (
                index.secrets.remove(secret_name),
                index.invalid.remove(secret_name),
            )
        };
        if removed.is_none() && invalid.is_none() {
            return false;
        }
        let _ = self.changes.send(ClusterChange {
            before: removed
                .filter(|_| invalid.is_none())
                .map(|c| c.secret.clone()),
            after: None,
            invalid_labels: invalid.into_iter().map(|i| i.labels).collect(),
        });
        true
    }

    /// Secret names currently registered, valid or not.
    pub fn secret_names(&self) -> Vec<String> {
        let index = self.read();
        let mut names: Vec<String> = index
            .secrets
            .keys()
            .chain(index.invalid.keys())
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        names
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

    fn registered(u: Upsert) -> bool {
        matches!(u, Upsert::Registered { .. })
    }

    #[test]
    fn upsert_reports_changes_once_and_first_secret_wins_a_server() {
        let r = Registry::new(None);
        let mut rx = r.subscribe();
        assert!(registered(r.upsert(
            secret("b", "https://x"),
            Err("no client".into()),
            None
        )));
        assert!(
            !registered(r.upsert(secret("b", "https://x"), Err("no client".into()), None)),
            "same content is no change"
        );
        assert!(registered(r.upsert(
            secret("a", "https://x"),
            Err("no client".into()),
            None
        )));
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
        assert_eq!(r.secrets().0.len(), 1);
    }

    fn invalid(name: &str, env: &str) -> InvalidClusterSecret {
        InvalidClusterSecret {
            secret_name: format!("flotilla/{name}"),
            labels: [("env".to_string(), env.to_string())].into(),
            error: format!("Secret flotilla/{name}: config is not valid JSON"),
        }
    }

    #[test]
    fn an_invalid_version_hides_the_last_valid_one_from_generators_only() {
        let r = Registry::new(None);
        let mut s = secret("a", "https://x");
        s.secret_labels.insert("env".into(), "dev".into());
        let Upsert::Registered { previous: None } =
            r.upsert(s.clone(), Err("no client".into()), None)
        else {
            panic!("first registration")
        };
        let mut rx = r.subscribe();
        assert!(r.mark_invalid(invalid("a", "prod")));
        assert!(!r.mark_invalid(invalid("a", "prod")), "recorded once");
        let c = rx.try_recv().unwrap();
        assert_eq!(c.before.as_ref().unwrap().name, "a");
        assert!(c.after.is_none());
        let labels: Vec<&str> = c.label_sets().iter().map(|l| l["env"].as_str()).collect();
        assert_eq!(
            labels,
            ["dev", "prod"],
            "old and new selections both concerned"
        );
        assert!(r.secrets().0.is_empty());
        assert_eq!(r.secrets().1.len(), 1);
        assert_eq!(
            r.clusters().len(),
            1,
            "the sync engine keeps the last valid one"
        );
        assert!(!r.is_current(&s));
        // Fixed with the very content it had before: a change for generators.
        assert!(registered(r.upsert(
            s.clone(),
            Err("no client".into()),
            None
        )));
        let c = rx.try_recv().unwrap();
        assert!(c.before.is_none() && c.after.is_some());
        assert_eq!(c.invalid_labels.len(), 1);
        assert!(r.secrets().1.is_empty() && r.secrets().0.len() == 1);
        assert!(r.is_current(&s));
        // Invalid without ever having been valid; removal clears it.
        assert!(r.mark_invalid(invalid("b", "qa")));
        assert_eq!(r.secret_names(), ["flotilla/a", "flotilla/b"]);
        let _ = rx.try_recv();
        assert!(r.remove("flotilla/b"));
        let c = rx.try_recv().unwrap();
        assert!(c.before.is_none() && c.invalid_labels[0]["env"] == "qa");
        assert!(r.secrets().1.is_empty());
    }

    #[test]
    fn the_replaced_version_is_handed_back_until_released() {
        let r = Registry::new(None);
        r.upsert(secret("a", "https://x"), Err("no client".into()), None);
        let held = r.by_secret("flotilla/a").unwrap();
        let mut s = secret("a", "https://x");
        s.name = "renamed".into();
        let Upsert::Registered {
            previous: Some(previous),
        } = r.upsert(s, Err("no client".into()), None)
        else {
            panic!("a replacement")
        };
        assert!(previous.upgrade().is_some(), "still held by a reader");
        drop(held);
        assert!(previous.upgrade().is_none());
    }

    #[tokio::test]
    async fn a_token_rotation_swaps_the_token_in_place_and_nothing_else_does() {
        use crate::api::Sensitive;
        use crate::cluster::client::{ClientOptions, registered_client};
        let with_token = |t: &str| {
            let mut s = secret("a", "https://127.0.0.1:1");
            s.config.bearer_token = Some(Sensitive::new(t.into()));
            s
        };
        let r = Registry::new(None);
        let first = with_token("token-one");
        let (client, cell) = registered_client(&first, &ClientOptions::default())
            .await
            .unwrap();
        assert!(cell.is_some());
        r.upsert(first.clone(), Ok(client), cell);
        let held = r.by_secret("flotilla/a").unwrap();
        let mut rx = r.subscribe();
        assert!(!r.swap_token(&first), "no change");
        let second = with_token("token-two");
        assert!(r.swap_token(&second));
        let now = r.by_secret("flotilla/a").unwrap();
        assert_eq!(now.revision, held.revision, "the sync pools stay");
        // The pools follow the probes through the entry they hold: they see the new one's.
        let mut state = held.watch_state();
        now.record_error("connection refused".into());
        assert!(state.has_changed().unwrap());
        assert_eq!(
            state.borrow_and_update().last_error.as_deref(),
            Some("connection refused")
        );
        assert_eq!(
            now.secret.config.bearer_token.as_ref().unwrap().expose(),
            "token-two"
        );
        let c = rx.try_recv().unwrap();
        assert!(c.before.is_some() && c.after.is_some());
        // Anything else than the token: a new client.
        let mut other = with_token("token-three");
        other.config.tls.insecure = true;
        assert!(!r.swap_token(&other));
        // A cluster whose client has no token cell (basic auth, or no client at all).
        r.upsert(secret("b", "https://x"), Err("no client".into()), None);
        let mut b = secret("b", "https://x");
        b.config.bearer_token = Some(Sensitive::new("t".into()));
        assert!(!r.swap_token(&b));
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
