//! The end-to-end environment of the sync tests: a hub cluster and the target clusters `dev`,
//! `staging`, `prod`, a Git repository served on 127.0.0.1, and the hub running in-process.
//!
//! Two modes, same tests:
//! - default: the in-process simulator (virtual clusters `hub`, `dev`, `staging`, `prod`);
//! - `FLOTILLA_E2E_KUBECONFIG=FILE`: real clusters, through the kubeconfig's contexts `hub`,
//!   `dev`, `staging`, `prod`. The CRDs are installed in `hub` if missing; every test works in
//!   namespaces of its own (hub and targets, suffixed with a random id) and deletes them at the
//!   end, also when it fails; clusters are registered with `flotilla cluster add`, as a user
//!   would. Each test's hub has an installation id of its own (`e2e-<id>`), so tests running at
//!   once on the same clusters never take each other's objects for their own, whatever the
//!   names of their Applications.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use flotilla::api::Application;
use flotilla::cluster::{ClientOptions, client};
use flotilla::hub::{Hub, HubConfig};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

use super::git_repo::GitRepo;
use super::sim::{SimEnv, start};

pub const TARGETS: [&str; 3] = ["dev", "staging", "prod"];

pub struct E2e {
    /// The simulator, in simulator mode.
    pub sim: Option<SimEnv>,
    /// The kubeconfig with the contexts `hub`, `dev`, `staging`, `prod`.
    pub kubeconfig: PathBuf,
    pub hub: kube::Client,
    /// The hub namespace of this test.
    pub ns: String,
    /// Suffix of every namespace this test creates.
    pub id: String,
    /// The installation id of this test's hub: empty with the simulator (the default of
    /// `flotilla hub`), `e2e-<id>` against real clusters.
    pub installation_id: String,
    pub repo: GitRepo,
    pub running: Option<Hub>,
    /// Hubs started with [`E2e::start_other_hub`], by hub namespace.
    pub others: Vec<(String, Hub)>,
    pub limit: Duration,
    git_cache: tempfile::TempDir,
    target_namespaces: Mutex<Vec<(String, String)>>,
    /// Hub namespaces of this test (the main one first).
    hub_namespaces: Mutex<Vec<String>>,
    cleaned: AtomicBool,
}

/// 8 hex digits, distinct across tests of one process (a counter) and across processes and
/// runs (the PID, the clock and std's randomly seeded hasher).
fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:08x}", h.finish() as u32)
}

/// Whether the suite runs against real clusters.
pub fn real() -> Option<PathBuf> {
    std::env::var_os("FLOTILLA_E2E_KUBECONFIG").map(PathBuf::from)
}

/// For a test that needs the simulator (`needs`: what of it): against real clusters, says on
/// stderr that the test is skipped and why, and returns `true` (the test then returns).
pub fn skip_on_real_clusters(test: &str, needs: &str) -> bool {
    let real = real().is_some();
    if real {
        eprintln!("SKIPPED against real clusters: {test} needs the simulator's {needs}");
    }
    real
}

async fn context_client(kubeconfig: &Path, context: &str) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig readable");
    let config = kube::Config::from_custom_kubeconfig(
        kc,
        &KubeConfigOptions {
            context: Some(context.into()),
            ..Default::default()
        },
    )
    .await
    .expect("context");
    kube::Client::try_from(config).expect("client")
}

/// `status.sync.status` of an Application ("" before its first pass).
pub fn sync_status(a: &Application) -> String {
    a.status
        .as_ref()
        .and_then(|s| s.sync.as_ref())
        .map(|s| s.status.clone())
        .unwrap_or_default()
}

/// `status.sync.revision` of an Application ("" when none).
pub fn sync_revision(a: &Application) -> String {
    a.status
        .as_ref()
        .and_then(|s| s.sync.as_ref())
        .and_then(|s| s.revision.clone())
        .unwrap_or_default()
}

/// The message of the Application's condition of type `type_`, if it has one.
pub fn condition(a: &Application, type_: &str) -> Option<String> {
    a.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.message.clone())
}

impl E2e {
    /// Starts the environment with `files` committed to the repository, and the hub with
    /// `tune` applied.
    pub async fn start(files: &[(&str, &str)], tune: impl FnOnce(&mut HubConfig)) -> E2e {
        super::git_timeouts();
        let repo = GitRepo::new(files);
        let id = random_id();
        let (sim, kubeconfig, limit) = match real() {
            Some(path) => (None, path, Duration::from_secs(180)),
            None => {
                let env = start(&["hub", "dev", "staging", "prod"]).await;
                let path = env.dir.path().join("all.yaml");
                (Some(env), path, Duration::from_secs(30))
            }
        };
        let hub = context_client(&kubeconfig, "hub").await;
        let (ns, installation_id) = if sim.is_some() {
            ("flotilla".to_string(), String::new())
        } else {
            (format!("flotilla-e2e-{id}"), format!("e2e-{id}"))
        };
        install_crds(&hub).await;
        let mut e = E2e {
            sim,
            kubeconfig,
            hub,
            ns: ns.clone(),
            id,
            installation_id,
            repo,
            running: None,
            others: Vec::new(),
            limit,
            git_cache: tempfile::tempdir().unwrap(),
            target_namespaces: Default::default(),
            hub_namespaces: Default::default(),
            cleaned: AtomicBool::new(false),
        };
        e.register_targets(&ns).await;
        e.start_hub(tune).await;
        e
    }

    /// Creates hub namespace `ns` (removed at cleanup) and registers the targets there with
    /// `flotilla cluster add`.
    async fn register_targets(&self, ns: &str) {
        self.hub_namespaces.lock().unwrap().push(ns.to_string());
        let namespaces: Api<Namespace> = Api::all(self.hub.clone());
        let _ = namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
            )
            .await;
        for t in TARGETS {
            self.flotilla(&[
                "cluster",
                "add",
                t,
                "--hub-context",
                "hub",
                "--hub-namespace",
                ns,
                "--label",
                &format!("env={t}"),
            ])
            .await;
        }
    }

    /// Starts another hub, watching a hub namespace of its own (`<ns>-<suffix>`, with the
    /// targets registered) and with the installation id `<installation id>-<suffix>` (or
    /// `suffix` when the main hub has none), then `tune`; returns its namespace. It runs until
    /// the environment is dropped.
    pub async fn start_other_hub(
        &mut self,
        suffix: &str,
        tune: impl FnOnce(&mut HubConfig),
    ) -> String {
        let ns = format!("{}-{suffix}", self.ns);
        self.register_targets(&ns).await;
        let installation_id = if self.installation_id.is_empty() {
            suffix.to_string()
        } else {
            format!("{}-{suffix}", self.installation_id)
        };
        let cache = self.git_cache.path().join(suffix);
        let hub = self
            .new_hub(&ns, cache, |c| {
                c.sync.installation_id = installation_id;
                tune(c)
            })
            .await;
        self.others.push((ns.clone(), hub));
        ns
    }

    pub async fn start_hub(&mut self, tune: impl FnOnce(&mut HubConfig)) {
        let ns = self.ns.clone();
        let installation_id = self.installation_id.clone();
        let cache = self.git_cache.path().to_path_buf();
        let hub = self
            .new_hub(&ns, cache, |c| {
                c.sync.installation_id = installation_id;
                tune(c)
            })
            .await;
        self.running = Some(hub);
    }

    /// A hub in-process for hub namespace `ns`, with the test settings, then `tune`.
    async fn new_hub(
        &self,
        ns: &str,
        git_cache: PathBuf,
        tune: impl FnOnce(&mut HubConfig),
    ) -> Hub {
        let mut config = HubConfig::new(ns, git_cache);
        config.in_cluster = false;
        config.probe_interval = Duration::from_secs(2);
        config.sync.resync = Duration::from_secs(60);
        config.sync.resync_jitter = Duration::from_secs(10);
        config.sync.wave_delay = Duration::from_millis(500);
        config.sync.backoff_base = Duration::from_millis(500);
        config.sync.backoff_cap = Duration::from_secs(5);
        config.controller.git_min_interval = Duration::ZERO;
        tune(&mut config);
        let mut kube_config = kube::Config::from_custom_kubeconfig(
            Kubeconfig::read_from(&self.kubeconfig).unwrap(),
            &KubeConfigOptions {
                context: Some("hub".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let options = ClientOptions {
            qps: 0.0,
            max_in_flight: 32,
            ..ClientOptions::default()
        };
        client::apply_timeouts(&mut kube_config, &options);
        let hub_client = client::build(kube_config, &options, "hub").unwrap();
        Hub::start(hub_client, config).await.expect("hub starts")
    }

    pub fn stop_hub(&mut self) {
        if let Some(mut h) = self.running.take() {
            h.shutdown();
        }
    }

    /// Runs the real `flotilla` binary with the environment's kubeconfig; must succeed.
    pub async fn flotilla(&self, args: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "flotilla {args:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// A client of target `name` (dev, staging, prod).
    pub async fn target(&self, name: &str) -> kube::Client {
        context_client(&self.kubeconfig, name).await
    }

    /// A namespace name of this test in a target (deleted at cleanup).
    pub fn target_ns(&self, cluster: &str, base: &str) -> String {
        let ns = if self.sim.is_some() {
            base.to_string()
        } else {
            format!("{base}-{}", self.id)
        };
        self.target_namespaces
            .lock()
            .unwrap()
            .push((cluster.to_string(), ns.clone()));
        ns
    }

    pub fn apps(&self) -> Api<Application> {
        Api::namespaced(self.hub.clone(), &self.ns)
    }

    /// The Applications of hub namespace `ns` (another hub's).
    pub fn apps_in(&self, ns: &str) -> Api<Application> {
        Api::namespaced(self.hub.clone(), ns)
    }

    /// `limit / 6`, at least `min`: a bound for what must be quick (5 s with the simulator, 30 s
    /// with real clusters).
    pub fn quick(&self, min: Duration) -> Duration {
        (self.limit / 6).max(min)
    }

    /// Creates an Application of `path` in the repository for `cluster`/`namespace`, with
    /// `sync_policy` (JSON) and extra spec fields.
    pub async fn create_app(
        &self,
        name: &str,
        path: &str,
        cluster: &str,
        namespace: &str,
        sync_policy: Value,
    ) -> Application {
        self.create_app_in(&self.ns, name, path, cluster, namespace, sync_policy)
            .await
    }

    /// [`E2e::create_app`] in hub namespace `hub_ns`.
    pub async fn create_app_in(
        &self,
        hub_ns: &str,
        name: &str,
        path: &str,
        cluster: &str,
        namespace: &str,
        sync_policy: Value,
    ) -> Application {
        let source = json!({"repoURL": self.repo.url(), "targetRevision": "main", "path": path});
        self.create_app_with(
            hub_ns,
            name,
            json!({"source": source}),
            cluster,
            namespace,
            sync_policy,
        )
        .await
    }

    /// Creates an Application in hub namespace `hub_ns` with `sources` (`{"source": …}` or
    /// `{"sources": […]}`).
    pub async fn create_app_with(
        &self,
        hub_ns: &str,
        name: &str,
        sources: Value,
        cluster: &str,
        namespace: &str,
        sync_policy: Value,
    ) -> Application {
        let mut spec = json!({"project": "default",
            "destination": {"name": cluster, "namespace": namespace}, "syncPolicy": sync_policy});
        for (k, v) in sources.as_object().expect("an object of sources") {
            spec[k] = v.clone();
        }
        let app: Application = serde_json::from_value(json!({
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": hub_ns, "finalizers": ["flotilla.dev/resources-finalizer"]},
            "spec": spec,
        }))
        .unwrap();
        self.apps_in(hub_ns)
            .create(&PostParams::default(), &app)
            .await
            .unwrap()
    }

    /// Waits until `f` holds for Application `name`; returns it.
    pub async fn wait_app(
        &self,
        name: &str,
        what: &str,
        f: impl Fn(&Application) -> bool,
    ) -> Application {
        self.wait_app_in(&self.ns, name, what, f).await
    }

    /// [`E2e::wait_app`] in hub namespace `hub_ns`.
    pub async fn wait_app_in(
        &self,
        hub_ns: &str,
        name: &str,
        what: &str,
        f: impl Fn(&Application) -> bool,
    ) -> Application {
        let start = std::time::Instant::now();
        loop {
            if let Ok(a) = self.apps_in(hub_ns).get(name).await {
                if f(&a) {
                    return a;
                }
                if start.elapsed() > self.limit {
                    panic!(
                        "{name}: timed out waiting for {what}; status: {}",
                        serde_json::to_string_pretty(&a.status).unwrap()
                    );
                }
            } else if start.elapsed() > self.limit {
                panic!("{name}: timed out waiting for {what}; no such Application");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the Application is Synced (and, with `health`, has that health).
    pub async fn wait_synced(&self, name: &str, health: Option<&str>) -> Application {
        self.wait_synced_in(&self.ns, name, health).await
    }

    /// [`E2e::wait_synced`] in hub namespace `hub_ns`.
    pub async fn wait_synced_in(
        &self,
        hub_ns: &str,
        name: &str,
        health: Option<&str>,
    ) -> Application {
        self.wait_app_in(hub_ns, name, &format!("Synced/{health:?}"), |a| {
            let s = a.status.clone().unwrap_or_default();
            s.sync.is_some_and(|x| x.status == "Synced")
                && health.is_none_or(|h| s.health.is_some_and(|x| x.status == h))
        })
        .await
    }

    /// Asks for a refresh (fresh Git data).
    pub async fn refresh(&self, name: &str) {
        let patch = json!({"metadata": {"annotations": {"flotilla.dev/refresh": "normal"}}});
        self.apps()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// Deletes what the test created against real clusters: Applications (with their
    /// resources, by the hub's finalizer), then the namespaces. Runs at most once; dropping the
    /// environment without it (a failed test) runs it then.
    pub async fn cleanup(&self) {
        if let Some(leftovers) = self.leftovers() {
            leftovers.remove().await;
        }
    }

    /// What is left to delete, once (None with the simulator, which goes away by itself).
    fn leftovers(&self) -> Option<Leftovers> {
        if self.sim.is_some() || self.cleaned.swap(true, Ordering::SeqCst) {
            return None;
        }
        Some(Leftovers {
            kubeconfig: self.kubeconfig.clone(),
            hub_namespaces: self.hub_namespaces.lock().unwrap().clone(),
            targets: self.target_namespaces.lock().unwrap().clone(),
            limit: self.limit,
        })
    }
}

impl Drop for E2e {
    /// A test that failed (or forgot its cleanup) against real clusters still removes what it
    /// created. The hubs are still running here (fields drop after this), on the test
    /// runtime's worker threads, so their finalizers delete the Applications' resources; the
    /// removal itself runs on a runtime of its own, in a thread, since this thread may be
    /// inside the test's runtime.
    fn drop(&mut self) {
        let Some(leftovers) = self.leftovers() else {
            return;
        };
        eprintln!(
            "e2e: removing what the test left in {:?} and the target namespaces {:?}",
            leftovers.hub_namespaces, leftovers.targets
        );
        let removal =
            std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(leftovers.remove()),
                    Err(e) => eprintln!("e2e: no runtime for the cleanup: {e}"),
                }
            });
        if removal.join().is_err() {
            eprintln!("e2e: the cleanup failed; see above");
        }
    }
}

/// What a test created against real clusters, to delete.
struct Leftovers {
    kubeconfig: PathBuf,
    hub_namespaces: Vec<String>,
    targets: Vec<(String, String)>,
    limit: Duration,
}

impl Leftovers {
    /// Deletes the Applications of every hub namespace and waits (up to the limit) for their
    /// hubs to finalize them; what is still there then loses its finalizers, so no Application
    /// is left blocked. Then the target and hub namespaces go.
    async fn remove(self) {
        let hub = context_client(&self.kubeconfig, "hub").await;
        for ns in &self.hub_namespaces {
            let apps: Api<Application> = Api::namespaced(hub.clone(), ns);
            let Ok(list) = apps.list(&ListParams::default()).await else {
                continue;
            };
            for a in list.items {
                let _ = apps
                    .delete(
                        a.metadata.name.as_deref().unwrap_or_default(),
                        &DeleteParams::default(),
                    )
                    .await;
            }
        }
        let start = std::time::Instant::now();
        for ns in &self.hub_namespaces {
            let apps: Api<Application> = Api::namespaced(hub.clone(), ns);
            loop {
                let left = match apps.list(&ListParams::default()).await {
                    Ok(l) => l.items,
                    Err(_) => break,
                };
                if left.is_empty() {
                    break;
                }
                if start.elapsed() > self.limit {
                    for a in left {
                        let name = a.metadata.name.unwrap_or_default();
                        eprintln!(
                            "e2e: {ns}/{name} not finalized in time: removing its finalizers"
                        );
                        let _ = apps
                            .patch(
                                &name,
                                &PatchParams::default(),
                                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                            )
                            .await;
                    }
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        for (cluster, ns) in &self.targets {
            let api: Api<Namespace> = Api::all(context_client(&self.kubeconfig, cluster).await);
            let _ = api.delete(ns, &DeleteParams::default()).await;
        }
        let api: Api<Namespace> = Api::all(hub);
        for ns in &self.hub_namespaces {
            let _ = api.delete(ns, &DeleteParams::default()).await;
        }
    }
}

async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in ["applications", "applicationsets", "appprojects"] {
        let text =
            std::fs::read_to_string(format!("{}/crds/{file}.yaml", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let crd: CustomResourceDefinition = serde_yaml::from_str(&text).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        let _ = api
            .patch(
                &name,
                &PatchParams::apply("flotilla-e2e").force(),
                &Patch::Apply(&crd),
            )
            .await;
    }
    for file in ["applications", "applicationsets"] {
        let name = format!("{file}.flotilla.dev");
        let start = std::time::Instant::now();
        loop {
            let ok = api
                .get(&name)
                .await
                .ok()
                .and_then(|c| c.status)
                .and_then(|s| s.conditions)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
            if ok {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "CRD {name} not established"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
