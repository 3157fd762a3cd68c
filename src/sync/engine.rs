//! The sync engine's driver: one [`Pool`] per registered cluster, each Application routed to
//! the pool of its destination, and the triggers — an Application created or changed (spec,
//! refresh annotation, operation, deletion), a cluster registered or changed, a change to a
//! managed live object (from the pool's live cache), a Git webhook, and the periodic resync
//! (each pass requeues itself with jitter). One pass of an Application at a time, across pools.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, ReflectHandle, Store};

use super::live::LiveCache;
use super::pool::Pool;
use super::queue::{Claims, WorkQueue};
use crate::api::Application;
use crate::cluster::{Cluster, Registry};
use crate::git::rounds::GitRounds;
use crate::observe::Metrics;
use crate::observe::webhook::{PATHS_ANNOTATIONS, PushEvent};
use crate::render::RenderCache;

/// How the engine behaves (the `flotilla hub` flags).
#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub namespace: String,
    /// Reconcile workers per cluster.
    pub workers: usize,
    /// Periodic resync: every `resync` plus up to `resync_jitter` (Argo CD: 120 s + 60 s);
    /// zero disables it (as Argo CD's `timeout.reconciliation: 0`).
    pub resync: Duration,
    pub resync_jitter: Duration,
    /// How long the first list of a resource type may take.
    pub list_timeout: Duration,
    /// Cluster backoff: `backoff_base · 2ⁿ`, at most `backoff_cap`, jittered.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Pause between the waves of a sync.
    pub wave_delay: Duration,
    /// Written on everything the hub applies; only objects carrying it are owned (empty: none).
    pub installation_id: String,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            namespace: "flotilla".into(),
            workers: 4,
            resync: Duration::from_secs(120),
            resync_jitter: Duration::from_secs(60),
            list_timeout: Duration::from_secs(30),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(120),
            wave_delay: Duration::from_secs(2),
            installation_id: String::new(),
        }
    }
}

/// What the engine remembers of an Application between passes.
#[derive(Debug, Default, Clone)]
pub struct Memo {
    /// (generation, refresh requested, operation requested, deleting) last seen.
    pub seen: Option<(i64, bool, bool, bool)>,
    /// Consecutive self-heals and when the last started.
    pub self_heals: u32,
    pub last_self_heal: Option<tokio::time::Instant>,
    /// The resourceVersion of the hub's last write to the Application, and when it was made:
    /// a cached copy older than it is stale (the watch has not delivered the write yet).
    pub written: Option<(u64, tokio::time::Instant)>,
}

pub struct Engine {
    pub hub: kube::Client,
    pub registry: Arc<Registry>,
    pub rounds: Arc<GitRounds>,
    pub renders: Arc<RenderCache>,
    pub apps: Store<Application>,
    pub config: SyncConfig,
    pub metrics: Arc<Metrics>,
    pools: RwLock<HashMap<String, Arc<Pool>>>,
    /// Application → server of its pool ("" when its destination is not registered).
    routes: Mutex<HashMap<String, String>>,
    /// Applications whose destination is not registered: a single worker reports them.
    pub unrouted: Arc<WorkQueue<String>>,
    /// Applications being reconciled, whichever the pool: never two passes of one at once,
    /// even while it moves to another cluster's pool.
    claims: Claims,
    memo: Mutex<HashMap<String, Memo>>,
    me: Weak<Engine>,
}

impl Engine {
    pub fn new(
        hub: kube::Client,
        registry: Arc<Registry>,
        rounds: Arc<GitRounds>,
        renders: Arc<RenderCache>,
        apps: Store<Application>,
        config: SyncConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Engine> {
        Arc::new_cyclic(|me| Engine {
            hub,
            registry,
            rounds,
            renders,
            apps,
            config,
            metrics,
            pools: RwLock::default(),
            routes: Mutex::default(),
            unrouted: Arc::new(WorkQueue::default()),
            claims: Claims::default(),
            memo: Mutex::default(),
            me: me.clone(),
        })
    }

    /// The Application `name` of the hub namespace, from the shared cache.
    pub fn app(&self, name: &str) -> Option<Arc<Application>> {
        self.apps
            .get(&ObjectRef::new(name).within(&self.config.namespace))
    }

    /// The Application as a pass must see it: the cached copy, unless it predates the hub's own
    /// last write to it (the watch lags), in which case the pass waits for the cache briefly,
    /// then reads the object from the API. A pass on a stale copy would write a status that
    /// drops what the last pass recorded (operation state, history) and run a finished
    /// operation again.
    /// `Err(None)`: it is gone; `Err(Some(wait))`: try again after `wait`.
    pub async fn current_app(&self, name: &str) -> Result<Arc<Application>, Option<Duration>> {
        let cached = self.app(name);
        let Some((written, at)) = self.memo(name).written else {
            return cached.ok_or(None);
        };
        let seen = cached.as_ref().and_then(|a| resource_version(a));
        if seen.is_some_and(|rv| rv >= written) {
            self.update_memo(name, |m| m.written = None);
            return cached.ok_or(None);
        }
        if at.elapsed() < Duration::from_secs(5) {
            return Err(Some(Duration::from_millis(25)));
        }
        let api: kube::Api<Application> =
            kube::Api::namespaced(self.hub.clone(), &self.config.namespace);
        match api.get_opt(name).await {
            // `written` stays until the cache has caught up: while it lags, every pass reads
            // the Application from the API rather than run on a copy older than its own write
            // (which would run a finished operation again).
            Ok(Some(app)) => Ok(Arc::new(app)),
            Ok(None) => Err(None),
            Err(e) => {
                tracing::warn!(app = %name, error = %crate::cluster::describe_error(&e), "reading the Application failed");
                Err(Some(Duration::from_secs(1)))
            }
        }
    }

    /// Records the hub's write to Application `name` that produced `written`.
    pub fn wrote(&self, name: &str, written: &Application) {
        if let Some(rv) = resource_version(written) {
            self.update_memo(name, |m| {
                if m.written.is_none_or(|(w, _)| rv > w) {
                    m.written = Some((rv, tokio::time::Instant::now()));
                }
            });
        }
    }

    pub fn memo(&self, name: &str) -> Memo {
        self.memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    pub fn update_memo(&self, name: &str, f: impl FnOnce(&mut Memo)) {
        f(self
            .memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_string())
            .or_default());
    }

    /// Forgets an Application that is gone.
    pub fn forget(&self, name: &str) {
        self.memo
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        let server = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        if let Some(pool) = server.and_then(|s| self.pool(&s)) {
            pool.queue.remove(&name.to_string());
        }
    }

    pub fn pool(&self, server: &str) -> Option<Arc<Pool>> {
        self.pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(server)
            .cloned()
    }

    pub fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The registered cluster an Application's destination names (by server, else by name).
    pub fn destination(&self, app: &Application) -> Option<Arc<Cluster>> {
        let d = &app.spec.destination;
        match (&d.server, &d.name) {
            (Some(server), _) if !server.is_empty() => self.registry.by_server(server),
            (_, Some(name)) if !name.is_empty() => self.registry.by_name(name),
            _ => None,
        }
    }

    /// Puts `app` in the queue of its destination's pool (or the unrouted one), leaving any
    /// previous pool. `delay`: when.
    pub fn enqueue(&self, app: &Application, delay: Duration) {
        let name = app.name_any();
        let server = self
            .destination(app)
            .map(|c| c.server().to_string())
            .unwrap_or_default();
        let previous = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), server.clone());
        if let Some(prev) = previous.filter(|p| *p != server) {
            match self.pool(&prev) {
                Some(p) => p.queue.remove(&name),
                None => self.unrouted.remove(&name),
            }
        }
        match self.pool(&server) {
            Some(p) => p.queue.add_after(name, delay),
            None => self.unrouted.add_after(name, delay),
        }
    }

    /// Brings the pools in line with the registry: a pool per cluster; a cluster whose Secret
    /// changed gets a new pool (new client, new live cache) with its Applications queued again.
    pub fn sync_pools(&self) {
        let Some(me) = self.me.upgrade() else { return };
        let clusters = self.registry.clusters();
        let mut changed = Vec::new();
        {
            let mut pools = self.pools.write().unwrap_or_else(PoisonError::into_inner);
            pools.retain(|server, p| {
                let keep = clusters
                    .iter()
                    .any(|c| c.server() == server && c.revision == p.cluster.revision);
                if !keep {
                    changed.push(server.clone());
                }
                keep
            });
            for c in &clusters {
                if pools.contains_key(c.server()) {
                    continue;
                }
                let Some(client) = c.client.clone() else {
                    changed.push(c.server().to_string());
                    continue;
                };
                let queue: Arc<WorkQueue<String>> = Arc::new(WorkQueue::default());
                let q = queue.clone();
                let on_change = Arc::new(move |app: &str| q.add(app.to_string()));
                let (weak, server) = (self.me.clone(), c.server().to_string());
                let on_health = Arc::new(move || {
                    if let Some(e) = weak.upgrade() {
                        e.requeue_server(&server);
                    }
                });
                let namespaces = c.secret.namespaces.clone();
                let live = LiveCache::new(
                    client,
                    namespaces,
                    on_change,
                    on_health,
                    self.config.list_timeout,
                    &self.config.installation_id,
                );
                let probe =
                    tokio::spawn(super::pool::follow_probe(c.clone(), Arc::downgrade(&live)));
                let pool = Arc::new(Pool::new(
                    c.clone(),
                    live,
                    queue,
                    self.config.backoff_base,
                    self.config.backoff_cap,
                ));
                let mut workers: Vec<_> = (0..self.config.workers.max(1))
                    .map(|_| tokio::spawn(worker(Arc::downgrade(&me), Arc::downgrade(&pool))))
                    .collect();
                workers.push(probe);
                pool.add_workers(workers);
                tracing::info!(cluster = %c.name(), server = %c.server_shown(), workers = self.config.workers, "sync pool started");
                pools.insert(c.server().to_string(), pool);
                changed.push(c.server().to_string());
            }
        }
        if changed.is_empty() {
            return;
        }
        // Every Application routed to a changed server, or not routed at all, is queued again.
        let routes = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for app in self.apps.state() {
            let route = routes.get(&app.name_any()).cloned();
            let target = self
                .destination(&app)
                .map(|c| c.server().to_string())
                .unwrap_or_default();
            if route.is_none()
                || route.as_deref() == Some("")
                || changed.contains(&target)
                || route.as_ref().is_some_and(|r| changed.contains(r))
            {
                self.enqueue(&app, Duration::ZERO);
            }
        }
    }

    /// An Application event from the shared cache: queue it when its spec, refresh annotation,
    /// operation or deletion changed (the engine's own status writes change none of these).
    pub fn on_app(&self, app: &Application) {
        let name = app.name_any();
        let refresh = ["flotilla.dev/refresh", "argocd.argoproj.io/refresh"]
            .iter()
            .any(|k| app.annotations().contains_key(*k));
        let now = (
            app.metadata.generation.unwrap_or(0),
            refresh,
            app.operation.is_some(),
            app.metadata.deletion_timestamp.is_some(),
        );
        let mut trigger = false;
        self.update_memo(&name, |m| {
            trigger = m.seen != Some(now)
                && (m.seen.is_none()
                    || refresh
                    || now.2
                    || now.3
                    || m.seen.is_some_and(|s| s.0 != now.0 || s.3 != now.3));
            m.seen = Some(now);
        });
        if trigger {
            self.enqueue(app, Duration::ZERO);
        }
    }

    /// A push: a new Git round for the pushed repository, and every Application whose source
    /// it touched (repository, revision and, with `manifest-generate-paths`, paths) queued now.
    /// Returns their names.
    pub fn on_push(&self, push: &PushEvent) -> Vec<String> {
        let mut hit = Vec::new();
        for app in self.apps.state() {
            let paths = PATHS_ANNOTATIONS
                .iter()
                .find_map(|k| app.annotations().get(*k).cloned());
            let touched = super::source::sources(&app).iter().any(|s| {
                push.touches(&s.repo_url, s.target_revision.as_deref().unwrap_or("HEAD"))
                    && push.changes_paths(paths.as_deref(), s.path.as_deref().unwrap_or(""))
            });
            if touched {
                hit.push(app);
            }
        }
        if !hit.is_empty() {
            self.rounds.force();
        }
        for app in &hit {
            self.enqueue(app, Duration::ZERO);
        }
        hit.iter().map(|a| a.name_any()).collect()
    }

    /// The next periodic resync of an Application, jittered; `None` when periodic resync is
    /// off (`--resync 0`).
    pub fn resync_delay(&self) -> Option<Duration> {
        resync_after(self.config.resync, self.config.resync_jitter)
    }

    /// Queues every Application routed to `server` (its live cache went stale or current, or
    /// one of its types failed or recovered).
    pub fn requeue_server(&self, server: &str) {
        let Some(pool) = self.pool(server) else {
            return;
        };
        let names: Vec<String> = self
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, s)| s.as_str() == server)
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            pool.queue.add(name);
        }
    }

    /// Claims Application `name` for a pass; `false` when a worker of another pool runs it
    /// (it is queued again, in the pool of its destination, when that pass ends).
    fn claim(&self, name: &str) -> bool {
        self.claims.claim(name)
    }

    /// Ends the claim of a pass; queues the Application again if another worker wanted it.
    fn release(&self, name: &str) {
        if self.claims.release(name)
            && let Some(app) = self.app(name)
        {
            self.enqueue(&app, Duration::ZERO);
        }
    }
}

/// The periodic resync after a pass: `resync` plus up to `jitter`; `None` when `resync` is
/// zero (periodic resync disabled: only changes, refreshes, webhooks and operations trigger a
/// pass, as with Argo CD's `timeout.reconciliation: 0`).
pub fn resync_after(resync: Duration, jitter: Duration) -> Option<Duration> {
    (!resync.is_zero()).then(|| crate::timing::jittered(resync, jitter))
}

/// Runs the engine until dropped: pools for the registry, the Application feed, registry changes.
pub async fn run(engine: Arc<Engine>, mut app_events: ReflectHandle<Application>) {
    let mut changes = engine.registry.subscribe();
    engine.registry.wait_synced().await;
    let _ = engine.apps.wait_until_ready().await;
    engine.sync_pools();
    for app in engine.apps.state() {
        engine.on_app(&app);
    }
    let unrouted = tokio::spawn(unrouted_worker(Arc::downgrade(&engine)));
    loop {
        tokio::select! {
            app = app_events.next() => match app {
                Some(app) => engine.on_app(&app),
                None => break,
            },
            change = changes.recv() => match change {
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => engine.sync_pools(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    unrouted.abort();
}

async fn worker(engine: Weak<Engine>, pool: Weak<Pool>) {
    loop {
        let Some(queue) = pool.upgrade().map(|p| p.queue.clone()) else {
            return;
        };
        let name = queue.next().await;
        let (Some(e), Some(p)) = (engine.upgrade(), pool.upgrade()) else {
            return;
        };
        if !e.claim(&name) {
            // Another pool's worker runs it (it just moved): it comes back when that ends.
            queue.done(&name, None);
            continue;
        }
        // Boxed: an idle worker then holds a few bytes, not the largest state of a pass
        // (8 KiB × workers × every cluster).
        let requeue = Box::pin(super::reconcile::run(&e, &p, &name)).await;
        queue.done(&name, requeue);
        e.release(&name);
    }
}

async fn unrouted_worker(engine: Weak<Engine>) {
    loop {
        let Some(queue) = engine.upgrade().map(|e| e.unrouted.clone()) else {
            return;
        };
        let name = queue.next().await;
        let Some(e) = engine.upgrade() else { return };
        if !e.claim(&name) {
            queue.done(&name, None);
            continue;
        }
        let requeue = super::reconcile::unrouted(&e, &name).await;
        queue.done(&name, requeue);
        e.release(&name);
    }
}

/// An object's resourceVersion as a number (etcd revisions are; an opaque one is not compared).
fn resource_version(app: &Application) -> Option<u64> {
    app.metadata.resource_version.as_deref()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_resync_disables_the_periodic_resync() {
        assert_eq!(
            resync_after(Duration::ZERO, Duration::from_secs(60)),
            None,
            "0 must not requeue every Application at once, in a loop"
        );
        let d = resync_after(Duration::from_secs(120), Duration::from_secs(60)).unwrap();
        assert!(
            d >= Duration::from_secs(120) && d < Duration::from_secs(180),
            "{d:?}"
        );
        assert_eq!(
            resync_after(Duration::from_secs(5), Duration::ZERO),
            Some(Duration::from_secs(5))
        );
    }
}
