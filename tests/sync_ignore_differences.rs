//! ignoreDifferences in the sync engine: a field another controller owns (an autoscaler's
//! `spec.replicas`) is not drift, is not self-healed, and with `RespectIgnoreDifferences=true`
//! a sync of a new commit keeps its live value.

mod support;

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use support::e2e::E2e;

fn deployment(ns: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n"
    )
}

/// Scales the Deployment to `replicas` as an autoscaler would: another field manager takes
/// `spec.replicas`.
async fn autoscale(deployments: &Api<Deployment>, replicas: i32) {
    let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": replicas}});
    deployments
        .patch(
            "web",
            &PatchParams::apply("autoscaler").force(),
            &Patch::Apply(&patch),
        )
        .await
        .unwrap();
}

async fn run(name: &str, rule: Value, sync_options: &[&str]) {
    let path = format!("apps/{name}/deploy.yaml");
    let e = E2e::start(&[], |_| {}).await;
    let ns = e.target_ns("dev", &format!("ignore-{name}"));
    e.repo.commit(
        &[(path.as_str(), &deployment(&ns, "registry.k8s.io/pause:3.9"))],
        "web",
    );
    let mut options = vec!["CreateNamespace=true"];
    options.extend_from_slice(sync_options);
    e.create_app(
        name,
        &format!("apps/{name}"),
        "dev",
        &ns,
        json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": options}),
    )
    .await;
    let patch = json!({"spec": {"ignoreDifferences": [rule]}});
    e.apps()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    e.wait_synced(name, Some("Healthy")).await;
    let deployments: Api<Deployment> = Api::namespaced(e.target("dev").await, &ns);
    let replicas = |d: Deployment| d.spec.and_then(|s| s.replicas);

    // The autoscaler's change is neither drift nor healed.
    autoscale(&deployments, 5).await;
    e.refresh(name).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(replicas(deployments.get("web").await.unwrap()), Some(5));
    let app = e.apps().get(name).await.unwrap();
    let status = app.status.unwrap();
    assert_eq!(status.sync.unwrap().status, "Synced");
    let ops_before = status.history.len();

    // A commit is synced, and the replicas stay the autoscaler's.
    let rev = e.repo.commit(
        &[(
            path.as_str(),
            &deployment(&ns, "registry.k8s.io/pause:3.10"),
        )],
        "new image",
    );
    e.refresh(name).await;
    let app = e
        .wait_app(name, "the new revision synced", |a| {
            let s = a.status.clone().unwrap_or_default();
            s.sync
                .is_some_and(|x| x.status == "Synced" && x.revision.as_deref() == Some(&rev))
                && s.operation_state.is_some_and(|o| {
                    o.phase == "Succeeded" && o.sync_result.is_some_and(|r| r.revision == rev)
                })
        })
        .await;
    let d = deployments.get("web").await.unwrap();
    let image = d
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .image
        .clone();
    assert_eq!(image.as_deref(), Some("registry.k8s.io/pause:3.10"));
    assert_eq!(
        replicas(d),
        Some(5),
        "the sync kept the autoscaler's replicas"
    );
    assert_eq!(app.status.unwrap().history.len(), ops_before + 1);
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_pointer_with_respect_ignore_differences_keeps_the_live_value() {
    run(
        "pointer",
        json!({"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}),
        &["RespectIgnoreDifferences=true"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fields_of_an_ignored_manager_stay_that_managers() {
    run(
        "manager",
        json!({"group": "apps", "kind": "Deployment", "managedFieldsManagers": ["autoscaler"]}),
        &["RespectIgnoreDifferences=true"],
    )
    .await;
}
