//! Sync waves: a later wave is applied only once the earlier one is ready; Namespaces and CRDs
//! go first whatever their wave.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;

fn deployment(ns: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: db\n  namespace: {ns}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: db}}\n  template:\n    metadata:\n      labels: {{app: db}}\n    spec:\n      containers:\n      - name: db\n        image: registry.k8s.io/pause:3.9\n"
    )
}

fn config(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-db\n  namespace: {ns}\n  annotations:\n    flotilla.dev/sync-wave: \"1\"\ndata:\n  k: v\n"
    )
}

fn namespace(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"5\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_waits_for_the_previous_one() {
    let e = E2e::start(&[], |_| {}).await;
    // The namespace is part of the manifests (wave 5, but Namespaces go first).
    let ns = e.target_ns("dev", "waves");
    e.repo.commit(
        &[
            ("apps/w/0-ns.yaml", &namespace(&ns)),
            ("apps/w/db.yaml", &deployment(&ns)),
            ("apps/w/cm.yaml", &config(&ns)),
        ],
        "waves",
    );
    e.create_app(
        "w",
        "apps/w",
        "dev",
        &ns,
        json!({"automated": {"prune": true}}),
    )
    .await;
    let dev = e.target("dev").await;
    let deployments: Api<Deployment> = Api::namespaced(dev.clone(), &ns);
    let cms: Api<ConfigMap> = Api::namespaced(dev, &ns);
    // Until the Deployment is available, the wave-1 ConfigMap must not exist.
    let start = std::time::Instant::now();
    let mut saw_waiting = false;
    loop {
        let cm = cms.get_opt("after-db").await.unwrap_or(None);
        let available = deployments
            .get_opt("db")
            .await
            .ok()
            .flatten()
            .and_then(|d| d.status)
            .is_some_and(|s| s.available_replicas.unwrap_or(0) >= 1);
        if cm.is_some() {
            assert!(
                available,
                "the ConfigMap of wave 1 exists before the Deployment of wave -1 is available"
            );
            break;
        }
        if !available && deployments.get_opt("db").await.ok().flatten().is_some() {
            saw_waiting = true;
        }
        if start.elapsed() > e.limit {
            let app = e.apps().get("w").await.ok().map(|a| a.status);
            panic!("wave 1 never applied; the Application's status: {app:#?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        saw_waiting,
        "the Deployment was seen before it was available"
    );
    let app = e.wait_synced("w", Some("Healthy")).await;
    assert_eq!(
        app.status.unwrap().operation_state.unwrap().phase,
        "Succeeded"
    );
    e.cleanup().await;
}

/// A CRD and a custom resource of it in one Application: the CRD is applied first and the
/// resource once the CRD is Established (before, the cluster does not serve its kind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crd_goes_before_its_custom_resources() {
    let e = E2e::start(&[], |_| {}).await;
    let ns = e.target_ns("dev", "crds");
    // A CRD is cluster-scoped: against real clusters, each run has a kind of its own.
    let (plural, kind) = if support::e2e::real().is_some() {
        (format!("widget{}s", e.id), format!("Widget{}", e.id))
    } else {
        ("widgets".to_string(), "Widget".to_string())
    };
    let crd = format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.example.flotilla.dev\nspec:\n  group: example.flotilla.dev\n  names:\n    kind: {kind}\n    plural: {plural}\n    singular: {}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n",
        kind.to_lowercase()
    );
    // The custom resource sorts first by file name and has the lower wave: the CRD still goes
    // before it.
    let widget = format!(
        "apiVersion: example.flotilla.dev/v1\nkind: {kind}\nmetadata:\n  name: w1\n  namespace: {ns}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-5\"\nspec:\n  size: 3\n"
    );
    e.repo.commit(
        &[
            ("apps/c/0-widget.yaml", &widget),
            ("apps/c/1-crd.yaml", &crd),
            ("apps/c/2-ns.yaml", &namespace(&ns)),
        ],
        "a CRD and a widget",
    );
    e.create_app(
        "c",
        "apps/c",
        "dev",
        &ns,
        json!({"automated": {"prune": true}}),
    )
    .await;
    let app = e.wait_synced("c", Some("Healthy")).await;
    let status = app.status.unwrap();
    assert_eq!(status.operation_state.unwrap().phase, "Succeeded");
    let kinds: Vec<&str> = status.resources.iter().map(|r| r.kind.as_str()).collect();
    assert!(
        kinds.contains(&"CustomResourceDefinition") && kinds.contains(&kind.as_str()),
        "{kinds:?}"
    );
    let gvk = kube::api::GroupVersionKind::gvk("example.flotilla.dev", "v1", &kind);
    let resource = kube::api::ApiResource::from_gvk_with_plural(&gvk, &plural);
    let widgets: Api<kube::api::DynamicObject> =
        Api::namespaced_with(e.target("dev").await, &ns, &resource);
    let w = widgets.get("w1").await.expect("the custom resource exists");
    assert_eq!(w.data["spec"]["size"], 3);
    e.cleanup().await;
}
