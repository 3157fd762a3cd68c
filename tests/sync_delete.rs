//! Deleting an Application: with the resources finalizer its resources go first (cascade),
//! then the Application; an Application whose cluster is not registered is let go.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use serde_json::json;
use support::e2e::E2e;
use support::sim::eventually;

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  k: v\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_application_deletes_its_resources() {
    let e = E2e::start(&[("apps/web/cm.yaml", CM)], |_| {}).await;
    let ns = e.target_ns("dev", "cascade");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.wait_synced("web", None).await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    assert!(cms.get_opt("settings").await.unwrap().is_some());
    e.apps()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(e.limit, "resources deleted", || async {
        cms.get_opt("settings").await.ok()?.is_none().then_some(())
    })
    .await;
    eventually(e.limit, "Application gone", || async {
        e.apps().get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
    // One whose cluster is not registered: nothing to delete there, the finalizer goes.
    e.create_app(
        "nowhere",
        "apps/web",
        "no-such-cluster",
        "x",
        json!({"automated": {}}),
    )
    .await;
    let app = e
        .wait_app("nowhere", "InvalidSpecError", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "InvalidSpecError"))
        })
        .await;
    assert_eq!(app.status.unwrap().sync.unwrap().status, "Unknown");
    e.apps()
        .delete("nowhere", &DeleteParams::default())
        .await
        .unwrap();
    eventually(e.limit, "unrouted Application gone", || async {
        e.apps()
            .get_opt("nowhere")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    e.cleanup().await;
}
