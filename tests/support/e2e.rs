//! The end-to-end environment of the sync tests: a hub cluster and the target clusters `dev`,
//! `staging`, `prod`, a Git repository served on 127.0.0.1, and the hub running in-process.
//!
//! Two modes, same tests:
//! - default: the in-process simulator (virtual clusters `hub`, `dev`, `staging`, `prod`);
//! - `FLOTILLA_E2E_KUBECONFIG=FILE`: real clusters, through the kubeconfig's contexts `hub`,
//!   `dev`, `staging`, `prod`. The CRDs are installed in `hub` if missing; every test works in
//!   namespaces of its own (hub and targets, suffixed with a random id) and deletes them at the
//!   end; clusters are registered with `flotilla cluster add`, as a user would.

use std::path::PathBuf;
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
    pub repo: GitRepo,
    pub running: Option<Hub>,
    pub limit: Duration,
    git_cache: tempfile::TempDir,
    target_namespaces: std::sync::Mutex<Vec<(String, String)>>,
}

fn random_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}",
        (nanos ^ (std::process::id() as u128) << 40) & 0xff_ffff
    )
}

/// Whether the suite runs against real clusters.
pub fn real() -> Option<PathBuf> {
    std::env::var_os("FLOTILLA_E2E_KUBECONFIG").map(PathBuf::from)
}

async fn context_client(kubeconfig: &std::path::Path, context: &str) -> kube::Client {
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
        let ns = if sim.is_some() {
            "flotilla".to_string()
        } else {
            format!("flotilla-e2e-{id}")
        };
        install_crds(&hub).await;
        let namespaces: Api<Namespace> = Api::all(hub.clone());
        let _ = namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
            )
            .await;
        let e = E2e {
            sim,
            kubeconfig,
            hub,
            ns,
            id,
            repo,
            running: None,
            limit,
            git_cache: tempfile::tempdir().unwrap(),
            target_namespaces: Default::default(),
        };
        for t in TARGETS {
            e.flotilla(&[
                "cluster",
                "add",
                t,
                "--hub-context",
                "hub",
                "--hub-namespace",
                &e.ns,
                "--label",
                &format!("env={t}"),
            ])
            .await;
        }
        let mut e = e;
        e.start_hub(tune).await;
        e
    }

    pub async fn start_hub(&mut self, tune: impl FnOnce(&mut HubConfig)) {
        let mut config = HubConfig::new(&self.ns, self.git_cache.path().to_path_buf());
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
        self.running = Some(Hub::start(hub_client, config).await.expect("hub starts"));
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
        let app: Application = serde_json::from_value(json!({
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name, "namespace": self.ns, "finalizers": ["flotilla.dev/resources-finalizer"]},
            "spec": {"project": "default", "source": {"repoURL": self.repo.url(), "targetRevision": "main", "path": path},
                     "destination": {"name": cluster, "namespace": namespace}, "syncPolicy": sync_policy}
        }))
        .unwrap();
        self.apps()
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
        let start = std::time::Instant::now();
        loop {
            if let Ok(a) = self.apps().get(name).await {
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
        self.wait_app(name, &format!("Synced/{health:?}"), |a| {
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

    /// Deletes what the test created: Applications (with their resources), namespaces.
    pub async fn cleanup(&self) {
        if self.sim.is_some() {
            return;
        }
        let apps = self.apps();
        if let Ok(list) = apps.list(&ListParams::default()).await {
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
        while apps
            .list(&ListParams::default())
            .await
            .map(|l| !l.items.is_empty())
            .unwrap_or(false)
            && start.elapsed() < self.limit
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let targets = self.target_namespaces.lock().unwrap().clone();
        for (cluster, ns) in targets {
            let api: Api<Namespace> = Api::all(self.target(&cluster).await);
            let _ = api.delete(&ns, &DeleteParams::default()).await;
        }
        let api: Api<Namespace> = Api::all(self.hub.clone());
        let _ = api.delete(&self.ns, &DeleteParams::default()).await;
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
