//! The live state of one cluster, as far as the hub manages it: one watch per resource type in
//! use, filtered by the hub's instance label, so memory grows with the managed objects and not
//! with the cluster. Objects are kept as compact JSON (a parsed `Value` costs 5-10 times more)
//! and indexed by the Application that owns them (tracking annotation and installation id: an
//! object of another hub is watched but owned by none of this hub's Applications). A change
//! that the hub did not make itself notifies the owning Application.
//!
//! Each type's watch lists again after an error (at once the first time, then with a capped
//! backoff), and the cache keeps track of whether it can be trusted ([`super::live_health`]): a
//! cluster whose watches or probe fail is stale until it answers and every type is listed
//! again; a type that cannot be listed (403, a slow list) is reported on its Applications.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::discovery::{ApiCapabilities, ApiGroup, Scope};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::live_health::{self, FailureKind, Staleness, TypeState, TypeView};
use super::tracking::{self, ObjectKey};

/// Why live state could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    #[error("the cluster does not serve {0} (no such API group, version or kind)")]
    NotServed(String),
    #[error("discovering {what}: {message}")]
    Discovery {
        what: String,
        message: String,
        /// No answer, or the credentials refused: the cluster's problem, not the kind's.
        cluster: bool,
    },
    #[error("listing {what} took longer than {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("listing {what}: {message}")]
    Failed {
        what: String,
        message: String,
        /// The cluster refuses the hub's credentials.
        cluster: bool,
    },
}

impl LiveError {
    /// Whether the whole cluster is concerned (no answer, credentials refused), rather than
    /// the one kind (forbidden, not listable, slow).
    pub fn is_cluster_level(&self) -> bool {
        matches!(
            self,
            LiveError::Discovery { cluster: true, .. } | LiveError::Failed { cluster: true, .. }
        )
    }
}

/// Who is told about changes: the Application name.
pub type OnChange = Arc<dyn Fn(&str) + Send + Sync>;
/// Who is told that the cache went stale or fresh, or that a type failed or recovered: every
/// Application of the cluster has something new to report.
pub type OnHealth = Arc<dyn Fn() + Send + Sync>;

/// A compact object.
#[derive(Clone)]
struct Doc(Arc<str>);

impl Doc {
    fn of(v: &Value) -> Doc {
        Doc(Arc::from(v.to_string()))
    }

    fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// The watched objects of one resource type.
pub struct TypeCache {
    pub resource: ApiResource,
    pub namespaced: bool,
    objects: RwLock<HashMap<ObjectKey, (Doc, u64)>>,
    /// Per watched scope (a namespace, or the whole cluster): its state and the epoch of its
    /// last complete list.
    scopes: Mutex<Vec<(TypeState, u64)>>,
    /// The combined state, for waiters.
    state: watch::Sender<TypeState>,
    created: Instant,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl TypeCache {
    pub fn gvk(&self) -> GroupVersionKind {
        GroupVersionKind::gvk(
            &self.resource.group,
            &self.resource.version,
            &self.resource.kind,
        )
    }

    pub fn state(&self) -> TypeState {
        self.state.borrow().clone()
    }

    /// How the staleness decision sees the type at `epoch`.
    fn view(&self, epoch: u64) -> TypeView {
        let scopes = self.scopes.lock().unwrap_or_else(PoisonError::into_inner);
        TypeView {
            state: TypeState::combine(scopes.iter().map(|(s, _)| s)),
            current: scopes.iter().all(|(_, e)| *e >= epoch),
        }
    }
}

impl Drop for TypeCache {
    fn drop(&mut self) {
        for t in self
            .tasks
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            t.abort();
        }
    }
}

/// The cluster's live cache.
pub struct LiveCache {
    client: kube::Client,
    /// Namespaces the hub may manage there (empty: all).
    namespaces: Vec<String>,
    types: Mutex<HashMap<GroupVersionKind, Arc<TypeCache>>>,
    groups: Mutex<HashMap<(String, String), Arc<ApiGroup>>>,
    /// Application → its objects. A `Vec` (most Applications own a handful of objects): a
    /// one-element `HashSet` of these keys takes four times the memory.
    by_app: RwLock<HashMap<String, Vec<(GroupVersionKind, ObjectKey)>>>,
    /// resourceVersions the hub itself produced, so their watch events notify nobody.
    own: Mutex<HashMap<ObjectKey, u64>>,
    on_change: OnChange,
    on_health: OnHealth,
    list_timeout: Duration,
    /// The probe's last error, and the staleness it makes with the types' states.
    health: Mutex<(Option<String>, Staleness)>,
    /// Bumped when the cluster comes back: every watch lists again.
    pub(super) epoch: watch::Sender<u64>,
    /// The hub's installation id: only objects carrying it are owned (see [`tracking::owner`]).
    installation_id: String,
}

/// resourceVersions are opaque, but etcd's are integers: compare them when they parse.
fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

impl LiveCache {
    pub fn new(
        client: kube::Client,
        namespaces: Vec<String>,
        on_change: OnChange,
        on_health: OnHealth,
        list_timeout: Duration,
        installation_id: &str,
    ) -> Arc<LiveCache> {
        Arc::new(LiveCache {
            client,
            namespaces,
            types: Mutex::default(),
            groups: Mutex::default(),
            by_app: RwLock::default(),
            own: Mutex::default(),
            on_change,
            on_health,
            list_timeout,
            health: Mutex::default(),
            epoch: watch::channel(0).0,
            installation_id: installation_id.to_string(),
        })
    }

    /// The installation id objects must carry to be owned (empty: none).
    pub fn installation_id(&self) -> &str {
        &self.installation_id
    }

    fn owner(&self, obj: &Value) -> Option<String> {
        tracking::owner(obj, &self.installation_id)
    }

    /// Why the cache cannot be trusted now (the cluster is dark, refuses the hub, or is being
    /// listed again after an outage), if it cannot: the cause it went stale with.
    pub fn stale(&self) -> Option<String> {
        self.health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .cause()
            .map(str::to_string)
    }

    /// The registry's probe of the cluster: its error, or `None` when it answered. A cluster
    /// that answers again after failing is listed again, every type.
    pub fn set_probe(&self, error: Option<String>) {
        let recovered = {
            let mut h = self.health.lock().unwrap_or_else(PoisonError::into_inner);
            let recovered = h.0.is_some() && error.is_none();
            h.0 = error;
            recovered
        };
        if recovered {
            self.epoch.send_modify(|e| *e += 1);
        }
        self.refresh_health();
    }

    /// Recomputes the staleness; tells `on_health` when it changed.
    fn refresh_health(&self) {
        let epoch = *self.epoch.borrow();
        let views: Vec<TypeView> = self
            .types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|t| t.view(epoch))
            .collect();
        let changed = {
            let mut h = self.health.lock().unwrap_or_else(PoisonError::into_inner);
            let cause = live_health::stale_cause(h.0.as_deref(), &views);
            let changed = h.1.update(cause);
            match h.1.cause() {
                Some(c) if changed => {
                    tracing::warn!(cause = %c, "live cache of the cluster is stale; its Applications are Unknown until it recovers")
                }
                None if changed => tracing::info!("live cache of the cluster is current again"),
                _ => {}
            }
            changed
        };
        if changed {
            (self.on_health)();
        }
    }

    /// Records the state of one watched scope of a type; tells `on_health` when the type
    /// failed or recovered.
    pub(super) fn set_scope(
        &self,
        cache: &TypeCache,
        scope: usize,
        update: impl FnOnce(&mut (TypeState, u64)),
    ) {
        let (before, after) = {
            let mut scopes = cache.scopes.lock().unwrap_or_else(PoisonError::into_inner);
            let before = TypeState::combine(scopes.iter().map(|(s, _)| s));
            if let Some(s) = scopes.get_mut(scope) {
                update(s);
            }
            (before, TypeState::combine(scopes.iter().map(|(s, _)| s)))
        };
        if before != after {
            cache.state.send_replace(after.clone());
            let failed_or_recovered = matches!(
                (&before, &after),
                (TypeState::Failed(_), TypeState::Ready) | (TypeState::Ready, TypeState::Failed(_))
            );
            if failed_or_recovered {
                (self.on_health)();
            }
        }
        self.refresh_health();
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Types watched so far.
    pub fn watched(&self) -> Vec<GroupVersionKind> {
        self.types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// The watched cache of `gvk`, started (and listed) on first use.
    pub async fn ensure(
        self: &Arc<Self>,
        gvk: &GroupVersionKind,
    ) -> Result<Arc<TypeCache>, LiveError> {
        let existing = self
            .types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(gvk)
            .cloned();
        let cache = match existing {
            Some(c) => c,
            None => {
                let (resource, caps) = self.discover(gvk).await?;
                let mut types = self.types.lock().unwrap_or_else(PoisonError::into_inner);
                match types.get(gvk) {
                    Some(c) => c.clone(),
                    None => {
                        let c = Arc::new(TypeCache {
                            resource,
                            namespaced: caps.scope == Scope::Namespaced,
                            objects: RwLock::default(),
                            scopes: Mutex::default(),
                            state: watch::channel(TypeState::Listing).0,
                            created: Instant::now(),
                            tasks: Mutex::default(),
                        });
                        self.start(&c);
                        types.insert(gvk.clone(), c.clone());
                        c
                    }
                }
            }
        };
        // The first list is waited for (once: a type that took too long is reported at once
        // afterwards, so it does not hold every worker of the pool).
        let mut state = cache.state.subscribe();
        let budget = self.list_timeout.saturating_sub(cache.created.elapsed());
        let now = match tokio::time::timeout(budget, state.wait_for(|s| *s != TypeState::Listing))
            .await
        {
            Ok(Ok(s)) => s.clone(),
            _ => cache.state(),
        };
        let what = describe(gvk);
        match now {
            TypeState::Ready => Ok(cache),
            TypeState::Listing => Err(LiveError::Timeout {
                what,
                secs: self.list_timeout.as_secs(),
            }),
            TypeState::Failed(f) => Err(match f.kind {
                FailureKind::Gone => LiveError::NotServed(what),
                kind => LiveError::Failed {
                    what,
                    message: f.message,
                    cluster: kind == FailureKind::Unauthorized,
                },
            }),
        }
    }

    /// Whether the cluster serves `gvk` (and how), from one discovery request per group version.
    async fn discover(
        &self,
        gvk: &GroupVersionKind,
    ) -> Result<(ApiResource, ApiCapabilities), LiveError> {
        let key = (gvk.group.clone(), gvk.version.clone());
        let cached = self
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let group = match cached {
            Some(g) => g,
            None => {
                let gv = kube::core::GroupVersion::gv(&gvk.group, &gvk.version);
                let g = match kube::discovery::pinned_group(&self.client, &gv).await {
                    Ok(g) => Arc::new(g),
                    Err(kube::Error::Api(s)) if s.code == 404 => {
                        return Err(LiveError::NotServed(describe(gvk)));
                    }
                    Err(e) => {
                        let cluster = !matches!(&e, kube::Error::Api(s) if s.code != 401);
                        return Err(LiveError::Discovery {
                            what: describe(gvk),
                            message: crate::cluster::describe_error(&e),
                            cluster,
                        });
                    }
                };
                self.groups
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(key.clone(), g.clone());
                g
            }
        };
        match group
            .versioned_resources(&gvk.version)
            .into_iter()
            .find(|(r, _)| r.kind == gvk.kind)
        {
            Some(found) => Ok(found),
            None => {
                // A CRD may have appeared since: forget the group so the next call asks again.
                self.groups
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&key);
                Err(LiveError::NotServed(describe(gvk)))
            }
        }
    }

    fn start(self: &Arc<Self>, cache: &Arc<TypeCache>) {
        let scopes: Vec<Option<String>> = if cache.namespaced && !self.namespaces.is_empty() {
            self.namespaces.iter().cloned().map(Some).collect()
        } else {
            vec![None]
        };
        *cache.scopes.lock().unwrap_or_else(PoisonError::into_inner) =
            vec![(TypeState::Listing, 0); scopes.len()];
        let mut tasks = cache.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, ns) in scopes.into_iter().enumerate() {
            let api: Api<DynamicObject> = match &ns {
                Some(ns) => Api::namespaced_with(self.client.clone(), ns, &cache.resource),
                None => Api::all_with(self.client.clone(), &cache.resource),
            };
            tasks.push(tokio::spawn(super::live_watch::watch_scope(
                Arc::downgrade(self),
                Arc::downgrade(cache),
                api,
                i,
                ns,
            )));
        }
    }

    /// A type the cluster no longer serves (its CRD was deleted): forgotten, so the next use
    /// discovers it again.
    pub(super) fn forget_type(&self, gvk: &GroupVersionKind) {
        self.types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(gvk);
        self.groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(gvk.group.clone(), gvk.version.clone()));
        tracing::info!(kind = %describe(gvk), "the cluster no longer serves the kind");
        (self.on_health)();
        self.refresh_health();
    }

    /// Stores an object from the watch; returns its key. `notify`: tell its owner.
    pub(super) fn apply(
        &self,
        cache: &TypeCache,
        obj: &DynamicObject,
        notify: bool,
    ) -> Option<ObjectKey> {
        let value = serde_json::to_value(obj).ok()?;
        self.store(cache, value, notify)
    }

    fn store(&self, cache: &TypeCache, mut value: Value, notify: bool) -> Option<ObjectKey> {
        if value.get("apiVersion").is_none() {
            value["apiVersion"] = Value::String(cache.resource.api_version.clone());
            value["kind"] = Value::String(cache.resource.kind.clone());
        }
        let key = ObjectKey::of(&value);
        let rv = rv_of(&value);
        let owner = self.owner(&value);
        {
            let mut objects = cache
                .objects
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((_, have)) = objects.get(&key)
                && rv != 0
                && *have > rv
            {
                return Some(key); // an older event than what an apply already returned
            }
            if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut)
                && let Some(mf) = m.remove("managedFields")
            {
                m.insert("managedFields".into(), slim_managed_fields(mf));
            }
            objects.insert(key.clone(), (Doc::of(&value), rv));
        }
        if let Some(app) = &owner {
            let gvk = cache.gvk();
            let mut by_app = self.by_app.write().unwrap_or_else(PoisonError::into_inner);
            let owned = by_app.entry(app.clone()).or_default();
            if !owned.iter().any(|(g, k)| *k == key && *g == gvk) {
                if owned.capacity() == 0 {
                    owned.reserve_exact(1); // then doubling, as usual
                }
                owned.push((gvk, key.clone()));
            }
        }
        let own = self
            .own
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied()
            == Some(rv);
        if notify
            && !own
            && let Some(app) = owner
        {
            (self.on_change)(&app);
        }
        Some(key)
    }

    pub(super) fn delete(&self, cache: &TypeCache, obj: &DynamicObject) {
        let Ok(value) = serde_json::to_value(obj) else {
            return;
        };
        let mut value = value;
        if value.get("kind").is_none() {
            value["apiVersion"] = Value::String(cache.resource.api_version.clone());
            value["kind"] = Value::String(cache.resource.kind.clone());
        }
        let key = ObjectKey::of(&value);
        let removed = cache
            .objects
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        if removed.is_some()
            && let Some(app) = self.owner(&value)
        {
            if let Some(set) = self
                .by_app
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(&app)
            {
                let gvk = cache.gvk();
                set.retain(|(g, k)| !(*k == key && *g == gvk));
            }
            let own = self
                .own
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key)
                .is_some_and(|rv| rv == u64::MAX);
            if !own {
                (self.on_change)(&app);
            }
        }
    }

    /// After a list of `namespace` (`None`: all): forgets the objects of it the list did not
    /// return (deleted while the watch was down). Other namespaces' objects stay.
    pub(super) fn forget_unseen(
        &self,
        cache: &TypeCache,
        seen: &HashSet<ObjectKey>,
        namespace: Option<&str>,
    ) {
        let gone: Vec<ObjectKey> = cache
            .objects
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .filter(|k| !seen.contains(*k) && namespace.is_none_or(|ns| k.namespace == ns))
            .cloned()
            .collect();
        for key in gone {
            let doc = cache
                .objects
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&key);
            if let Some(app) = doc.and_then(|(d, _)| self.owner(&d.value())) {
                (self.on_change)(&app);
            }
        }
    }

    /// Records an object the hub just wrote (the API server's answer), so the cache is current
    /// before the watch catches up and the echo of the write notifies nobody.
    pub fn record_write(&self, gvk: &GroupVersionKind, obj: Value) {
        let cache = self
            .types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(gvk)
            .cloned();
        let Some(cache) = cache else { return };
        let key = ObjectKey::of(&obj);
        self.own
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, rv_of(&obj));
        self.store(&cache, obj, false);
    }

    /// Records that the hub deleted an object (its DELETED event notifies nobody).
    pub fn record_delete(&self, key: &ObjectKey) {
        self.own
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), u64::MAX);
    }

    /// The live object, if watched and present.
    pub fn get(&self, gvk: &GroupVersionKind, key: &ObjectKey) -> Option<Value> {
        let cache = self
            .types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(gvk)
            .cloned()?;
        let objects = cache.objects.read().unwrap_or_else(PoisonError::into_inner);
        objects.get(key).map(|(d, _)| d.value())
    }

    /// Every watched object owned by `app` (by its tracking annotation and installation id).
    pub fn owned_by(&self, app: &str) -> Vec<(GroupVersionKind, Value)> {
        let keys: Vec<(GroupVersionKind, ObjectKey)> = self
            .by_app
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(app)
            .map(|s| s.to_vec())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (gvk, key) in keys {
            if let Some(v) = self.get(&gvk, &key)
                && self.owner(&v).as_deref() == Some(app)
            {
                out.push((gvk, v));
            }
        }
        out.sort_by(|a, b| ObjectKey::of(&a.1).cmp(&ObjectKey::of(&b.1)));
        out
    }

    /// The cached type of `gvk`, if watched.
    pub fn type_of(&self, gvk: &GroupVersionKind) -> Option<Arc<TypeCache>> {
        self.types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(gvk)
            .cloned()
    }

    /// Objects held, all types.
    pub fn len(&self) -> usize {
        self.types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|t| {
                t.objects
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The entries the diff reads: the `flotilla` manager's (which fields the hub owns) and every
/// other manager's of the object itself or of a subresource but status (for ignoreDifferences'
/// `managedFieldsManagers`: an HPA owns `spec.replicas` through `scale`). The status writers'
/// entries, the larger part on workloads, are dropped from the cache.
fn slim_managed_fields(mf: Value) -> Value {
    match mf {
        Value::Array(entries) => Value::Array(
            entries
                .into_iter()
                .filter(|e| e["manager"] == super::FIELD_MANAGER || e["subresource"] != "status")
                .collect(),
        ),
        other => other,
    }
}

/// `Kind (apiVersion)` for messages.
pub fn describe(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        format!("{} ({})", gvk.kind, gvk.version)
    } else {
        format!("{} ({}/{})", gvk.kind, gvk.group, gvk.version)
    }
}

/// The GVK of an object as written.
pub fn gvk_of(obj: &Value) -> GroupVersionKind {
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, obj["kind"].as_str().unwrap_or_default())
}
