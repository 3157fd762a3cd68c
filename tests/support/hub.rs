//! A hub under test: the simulator with a `hub` virtual cluster (Flotilla's CRDs installed,
//! namespace `flotilla`) and target clusters registered by Secret, and the hub running
//! in-process against it. The hub can be stopped and started again (a restart).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use flotilla::api::{Application, ApplicationSet};
use flotilla::cluster::{ClientOptions, client};
use flotilla::hub::{Hub, HubConfig};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;
use tempfile::TempDir;

use super::sim::{SimEnv, eventually, start};

pub const NS: &str = "flotilla";
pub const LIMIT: Duration = Duration::from_secs(20);

pub struct HubEnv {
    pub env: SimEnv,
    pub hub: Option<Hub>,
    /// The hub cluster, as an administrator sees it.
    pub client: kube::Client,
    pub git_cache: TempDir,
}

/// Starts the simulator with `hub` and `targets`, installs the CRDs, registers every target
/// (labels `env=<name>` plus `labels`), and starts the hub with `tune` applied to its config.
pub async fn start_hub(targets: &[&str], tune: impl FnOnce(&mut HubConfig)) -> HubEnv {
    start_hub_with(targets, targets, tune).await
}

/// [`start_hub`] with virtual clusters `targets`, of which only `registered` get a Secret.
pub async fn start_hub_with(
    targets: &[&str],
    registered: &[&str],
    tune: impl FnOnce(&mut HubConfig),
) -> HubEnv {
    super::git_timeouts();
    let mut names = vec!["hub"];
    names.extend_from_slice(targets);
    let env = start(&names).await;
    let client = env.client("hub").await;
    install_crds(&client).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let mut h = HubEnv {
        env,
        hub: None,
        client,
        git_cache: tempfile::tempdir().unwrap(),
    };
    for t in registered {
        h.register(t, &[("env", t)]).await;
    }
    h.start(tune).await;
    h
}

async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in ["applications", "applicationsets", "appprojects"] {
        let text =
            std::fs::read_to_string(format!("{}/crds/{file}.yaml", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        let crd: CustomResourceDefinition = serde_yaml::from_str(&text).unwrap();
        api.create(&PostParams::default(), &crd).await.unwrap();
    }
    for file in ["applications", "applicationsets"] {
        let name = format!("{file}.flotilla.dev");
        eventually(LIMIT, "CRD established", || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                crd.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await;
    }
}

impl HubEnv {
    /// Starts (or restarts) the hub.
    pub async fn start(&mut self, tune: impl FnOnce(&mut HubConfig)) {
        let mut config = HubConfig::new(NS, self.git_cache.path().to_path_buf());
        config.in_cluster = false;
        config.probe_interval = Duration::from_secs(1);
        config.controller.resync = Duration::from_secs(30);
        config.controller.git_min_interval = Duration::from_millis(0);
        tune(&mut config);
        let options = ClientOptions::default();
        let mut kube_config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::from_yaml(&self.env.handle("hub").kubeconfig()).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        client::apply_timeouts(&mut kube_config, &options);
        let hub_client = client::build(
            kube_config,
            &ClientOptions {
                qps: 0.0,
                max_in_flight: 32,
                ..options
            },
            "hub",
        )
        .unwrap();
        self.hub = Some(Hub::start(hub_client, config).await.expect("hub starts"));
    }

    /// Stops the hub (its tasks are aborted, as a killed process would stop).
    pub fn stop(&mut self) {
        if let Some(mut h) = self.hub.take() {
            h.shutdown();
        }
    }

    pub fn hub(&self) -> &Hub {
        self.hub.as_ref().expect("hub running")
    }

    /// The cluster Secret registering virtual cluster `name`.
    pub fn cluster_secret(&self, name: &str, labels: &[(&str, &str)]) -> Secret {
        let h = self.env.handle(name);
        let mut all: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        all.insert("flotilla.dev/secret-type".into(), "cluster".into());
        let config = json!({
            "bearerToken": h.token(),
            "tlsClientConfig": {"caData": base64::engine::general_purpose::STANDARD.encode(h.ca_pem())}
        });
        Secret {
            metadata: ObjectMeta {
                name: Some(format!("cluster-{name}")),
                namespace: Some(NS.into()),
                labels: Some(all),
                ..Default::default()
            },
            string_data: Some(
                [
                    ("name", name.to_string()),
                    ("server", h.server().to_string()),
                    ("config", config.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ),
            ..Default::default()
        }
    }

    /// Registers (or re-registers) virtual cluster `name` with `labels`.
    pub async fn register(&self, name: &str, labels: &[(&str, &str)]) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), NS);
        let s = self.cluster_secret(name, labels);
        let params = PatchParams::apply("test").force();
        secrets
            .patch(
                s.metadata.name.as_deref().unwrap(),
                &params,
                &Patch::Apply(&s),
            )
            .await
            .unwrap();
    }

    pub async fn unregister(&self, name: &str) {
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), NS);
        secrets
            .delete(&format!("cluster-{name}"), &DeleteParams::default())
            .await
            .unwrap();
    }

    pub fn appsets(&self) -> Api<ApplicationSet> {
        Api::namespaced(self.client.clone(), NS)
    }

    pub fn apps(&self) -> Api<Application> {
        Api::namespaced(self.client.clone(), NS)
    }

    /// Creates an ApplicationSet from JSON (apiVersion and kind are filled in).
    pub async fn create_appset(&self, mut manifest: serde_json::Value) -> ApplicationSet {
        manifest["apiVersion"] = json!("flotilla.dev/v1alpha1");
        manifest["kind"] = json!("ApplicationSet");
        manifest["metadata"]["namespace"] = json!(NS);
        let a: ApplicationSet = serde_json::from_value(manifest).unwrap();
        self.appsets()
            .create(&PostParams::default(), &a)
            .await
            .unwrap()
    }

    /// Names of the Applications in the namespace that exist and are not being deleted.
    pub async fn app_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .apps()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|a| a.metadata.deletion_timestamp.is_none())
            .filter_map(|a| a.metadata.name)
            .collect();
        names.sort();
        names
    }

    /// Waits until the live Applications are exactly `expected`.
    pub async fn wait_apps(&self, expected: &[&str]) {
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        let start = std::time::Instant::now();
        loop {
            let names = self.app_names().await;
            if names == want {
                return;
            }
            if start.elapsed() > LIMIT {
                panic!("Applications are {names:?}, expected {want:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until ApplicationSet `name` has condition `type_` with `status` (and, if given,
    /// `reason`); returns its message.
    pub async fn wait_condition(
        &self,
        name: &str,
        type_: &str,
        status: &str,
        reason: Option<&str>,
    ) -> String {
        eventually(
            LIMIT,
            &format!("{name}: {type_}={status} {reason:?}"),
            || async {
                let a = self.appsets().get(name).await.ok()?;
                let c = a
                    .status?
                    .conditions
                    .into_iter()
                    .find(|c| c.type_ == type_)?;
                (c.status == status && reason.is_none_or(|r| r == c.reason)).then_some(c.message)
            },
        )
        .await
    }

    /// Asks for a re-evaluation with fresh Git data.
    pub async fn refresh(&self, name: &str) {
        let patch = json!({"metadata": {"annotations": {"flotilla.dev/refresh": "normal"}}});
        self.appsets()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }

    /// Passes the controller has completed for ApplicationSet `name` (the count of the
    /// `flotilla_appset_reconcile` histogram).
    pub fn reconciles(&self, name: &str) -> u64 {
        self.hub()
            .metrics()
            .appset_reconcile
            .with_label_values(&[NS, name])
            .get_sample_count()
    }

    /// Waits until ApplicationSet `name` has completed at least `n` passes; returns the count.
    pub async fn wait_reconciles(&self, name: &str, n: u64) -> u64 {
        eventually(LIMIT, &format!("{name}: {n} passes"), || async {
            let c = self.reconciles(name);
            (c >= n).then_some(c)
        })
        .await
    }

    /// Write requests (create, update, patch, apply, delete) the hub cluster has served for
    /// exactly `resource`: `applications.flotilla.dev` counts the objects the ApplicationSet
    /// controller writes, not the `applications.flotilla.dev/status` writes of the sync engine.
    pub fn hub_writes(&self, resource: &str) -> u64 {
        const WRITES: [&str; 6] = [
            "create",
            "update",
            "patch",
            "apply",
            "delete",
            "deletecollection",
        ];
        self.env
            .handle("hub")
            .requests()
            .iter()
            .filter(|r| WRITES.contains(&r.verb.as_str()) && r.resource == resource)
            .map(|r| r.count)
            .sum()
    }
}

/// `POST /api/webhook` on the hub's endpoint: the status code and the whole response.
pub async fn post_webhook(
    addr: std::net::SocketAddr,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST /api/webhook HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

/// A list-generator ApplicationSet: one Application per (cluster, app) element, named
/// `<app>-<cluster>`.
pub fn list_appset(name: &str, elements: &[(&str, &str)]) -> serde_json::Value {
    let elements: Vec<serde_json::Value> = elements
        .iter()
        .map(|(c, a)| json!({"cluster": c, "app": a}))
        .collect();
    json!({
        "metadata": {"name": name},
        "spec": {
            "generators": [{"list": {"elements": elements}}],
            "template": {
                "metadata": {"name": "{{app}}-{{cluster}}"},
                "spec": {"project": "default", "source": {"repoURL": "https://git.example.com/apps.git", "path": "apps/{{app}}"}, "destination": {"name": "{{cluster}}", "namespace": "{{app}}"}}
            }
        }
    })
}
