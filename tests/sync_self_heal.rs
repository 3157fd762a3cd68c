//! Self-heal: with `selfHeal`, an edit or a delete of a managed object is reverted; without it,
//! drift is reported and left alone.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::e2e::E2e;
use support::sim::eventually;

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_are_reverted_with_self_heal() {
    let e = E2e::start(&[("apps/web/cm.yaml", CM)], |_| {}).await;
    let ns = e.target_ns("prod", "heal");
    e.create_app(
        "web",
        "apps/web",
        "prod",
        &ns,
        json!({"automated": {"selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.wait_synced("web", Some("Healthy")).await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("prod").await, &ns);
    // An edit (by another field manager, as kubectl edit would) is reverted.
    let patch = json!({"data": {"color": "red"}});
    cms.patch("settings", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(e.limit, "edit reverted", || async {
        (cms.get("settings").await.ok()?.data?["color"] == "blue").then_some(())
    })
    .await;
    // A delete is recreated.
    cms.delete("settings", &DeleteParams::default())
        .await
        .unwrap();
    eventually(e.limit, "delete reverted", || async {
        cms.get_opt("settings").await.ok()?.map(|_| ())
    })
    .await;
    e.wait_synced("web", Some("Healthy")).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_self_heal_drift_is_reported_not_reverted() {
    let e = E2e::start(&[("apps/web/cm.yaml", CM)], |_| {}).await;
    let ns = e.target_ns("prod", "drift");
    e.create_app(
        "web",
        "apps/web",
        "prod",
        &ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.wait_synced("web", None).await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("prod").await, &ns);
    let patch = json!({"data": {"color": "red"}});
    cms.patch("settings", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let app = e
        .wait_app("web", "OutOfSync", |a| {
            a.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.status == "OutOfSync")
        })
        .await;
    assert_eq!(
        app.status.unwrap().resources[0].status.as_deref(),
        Some("OutOfSync")
    );
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "red",
        "no self-heal without selfHeal"
    );
    e.cleanup().await;
}
