//! The hub: the cluster registry, the ApplicationSet controller, the sync engine and the HTTP
//! endpoint (metrics, probes, the Git webhook), started together against a hub cluster.
//! `flotilla hub` runs it; tests start it in-process.

mod memory;
pub mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, reflector, watcher};

use crate::api::Application;
use crate::appset::controller::{self, ControllerConfig};
use crate::appset::freshness::Freshness;
use crate::cluster::watch::{self, WatchConfig};
use crate::cluster::{ClientOptions, Registry};
use crate::git::GitCache;
use crate::git::rounds::GitRounds;
use crate::observe::Metrics;
use crate::observe::server::{self, Endpoint};
use crate::render::{RenderCache, RenderCacheConfig};
use crate::sync::{
    self,
    engine::{Engine, SyncConfig},
};

/// Application events buffered for the slowest reader of the shared cache.
const APP_EVENT_BUFFER: usize = 4096;

/// What to run.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// The namespace holding cluster Secrets, ApplicationSets and Applications.
    pub namespace: String,
    /// Argo CD's implicit `in-cluster` entry: the hub's own cluster.
    pub in_cluster: bool,
    /// How clients of registered clusters behave.
    pub cluster_client: ClientOptions,
    pub probe_interval: Duration,
    pub controller: ControllerConfig,
    pub git_cache_dir: PathBuf,
    pub sync: SyncConfig,
    /// Renders kept (entries).
    pub render_cache_entries: usize,
    /// The hub Secret holding the webhook secrets.
    pub webhook_secret: String,
    /// Where to serve /metrics, /healthz, /readyz and /api/webhook (None: not served).
    pub listen: Option<SocketAddr>,
}

impl HubConfig {
    pub fn new(namespace: &str, git_cache_dir: PathBuf) -> Self {
        Self {
            namespace: namespace.to_string(),
            in_cluster: true,
            cluster_client: ClientOptions::default(),
            probe_interval: Duration::from_secs(30),
            controller: ControllerConfig {
                namespace: namespace.to_string(),
                ..Default::default()
            },
            git_cache_dir,
            sync: SyncConfig {
                namespace: namespace.to_string(),
                ..Default::default()
            },
            render_cache_entries: 20_000,
            webhook_secret: "flotilla-webhook".into(),
            listen: None,
        }
    }
}

/// Starting the hub failed.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("serving on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running hub; dropping it stops it.
pub struct Hub {
    engine: Arc<Engine>,
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    git: Arc<GitCache>,
    fresh: Arc<Freshness>,
    addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl Hub {
    /// Starts every part (needs a Tokio runtime). `client` talks to the hub cluster.
    pub async fn start(client: kube::Client, config: HubConfig) -> Result<Hub, HubError> {
        let registry = Arc::new(Registry::new(config.in_cluster.then(|| client.clone())));
        let metrics = Arc::new(Metrics::new());
        let git = Arc::new(GitCache::new(config.git_cache_dir.clone(), Vec::new()));
        let mut tasks = Vec::new();
        let git_for_repos = git.clone();
        let watch_config = WatchConfig {
            hub: client.clone(),
            namespace: config.namespace.clone(),
            client_options: config.cluster_client,
            probe_interval: config.probe_interval,
            on_repositories: Some(Arc::new(move |repos| git_for_repos.set_repo_secrets(repos))),
        };
        tasks.push(tokio::spawn(watch::run(registry.clone(), watch_config)));
        tasks.push(tokio::spawn(memory::trim_periodically(
            Duration::from_secs(30),
        )));
        let rounds = Arc::new(GitRounds::new(git.clone()));
        // One watch of the Applications feeds both controllers.
        let (apps, apps_writer) = reflector::store_shared::<Application>(APP_EVENT_BUFFER);
        let appset_events = apps_writer.subscribe().expect("a shared store");
        let sync_events = apps_writer.subscribe().expect("a shared store");
        let api: Api<Application> = Api::namespaced(client.clone(), &config.namespace);
        let app_stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .modify(controller::slim)
            .reflect_shared(apps_writer);
        // The shared cache's subscribers see applied objects only; the ApplicationSet controller
        // also needs the deletions (an owned Application deleted is recreated).
        let (deletes_tx, app_deletes) = tokio::sync::mpsc::unbounded_channel();
        tasks.push(tokio::spawn(app_stream.for_each(move |event| {
            if let Ok(watcher::Event::Delete(app)) = event {
                let _ = deletes_tx.send(Arc::new(app));
            }
            futures::future::ready(())
        })));
        let fresh = Arc::new(Freshness::default());
        let mut controller_config = config.controller.clone();
        controller_config.namespace = config.namespace.clone();
        let shared = controller::Shared {
            registry: registry.clone(),
            rounds: rounds.clone(),
            apps: apps.clone(),
            app_events: appset_events,
            app_deletes,
            metrics: metrics.clone(),
            fresh: fresh.clone(),
        };
        tasks.push(tokio::spawn(controller::run(
            client.clone(),
            shared,
            controller_config,
        )));
        let renders = Arc::new(RenderCache::new(RenderCacheConfig {
            max_entries: config.render_cache_entries,
            ..Default::default()
        }));
        let mut sync_config = config.sync.clone();
        sync_config.namespace = config.namespace.clone();
        let engine = Engine::new(
            client.clone(),
            registry.clone(),
            rounds.clone(),
            renders,
            apps.clone(),
            sync_config,
            metrics.clone(),
        );
        tasks.push(tokio::spawn(sync::engine::run(engine.clone(), sync_events)));
        let mut addr = None;
        if let Some(listen) = config.listen {
            let collect_engine = Arc::downgrade(&engine);
            let collector: server::Collector = Arc::new(move |m: &Metrics, out: &mut String| {
                if let Some(e) = collect_engine.upgrade() {
                    sync::metrics::observe(&e, m, out);
                }
            });
            let routes = vec![(
                "/api/webhook",
                webhook::route(engine.clone(), config.webhook_secret.clone()),
            )];
            let endpoint = Endpoint {
                metrics: metrics.clone(),
                registry: registry.clone(),
                routes,
                collectors: vec![collector],
            };
            let (bound, task) =
                server::serve(listen, endpoint)
                    .await
                    .map_err(|source| HubError::Listen {
                        addr: listen,
                        source,
                    })?;
            tracing::info!(addr = %bound, "serving /metrics, /healthz, /readyz, /api/webhook");
            addr = Some(bound);
            tasks.push(task);
        }
        tracing::info!(namespace = %config.namespace, in_cluster = config.in_cluster, "hub started");
        Ok(Hub {
            registry,
            metrics,
            git,
            fresh,
            engine,
            addr,
            tasks,
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn git(&self) -> &Arc<GitCache> {
        &self.git
    }

    /// ApplicationSets the controller keeps Git freshness for (one per live ApplicationSet).
    pub fn appsets_tracked(&self) -> usize {
        self.fresh.len()
    }

    /// The address of the HTTP endpoint, when served.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops every task.
    pub fn shutdown(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.shutdown();
    }
}
