//! A commit reaches the cluster: after a refresh the Application syncs the new revision, the
//! live object changes, and the history grows.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_is_synced_after_a_refresh() {
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("blue"))], |_| {}).await;
    let ns = e.target_ns("staging", "web");
    e.create_app(
        "web",
        "apps/web",
        "staging",
        &ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let first = e.wait_synced("web", Some("Healthy")).await;
    let first_rev = first.status.unwrap().sync.unwrap().revision.unwrap();
    let second_rev = e
        .repo
        .commit(&[("apps/web/cm.yaml", &cm("green"))], "green");
    e.refresh("web").await;
    let app = e
        .wait_app("web", "the new revision synced", |a| {
            let s = a.status.clone().unwrap_or_default();
            s.sync.is_some_and(|x| {
                x.status == "Synced" && x.revision.as_deref() == Some(second_rev.as_str())
            })
        })
        .await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("staging").await, &ns);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "green"
    );
    let history = app.status.unwrap().history;
    assert_eq!(
        history
            .iter()
            .map(|h| h.revision.as_str())
            .collect::<Vec<_>>(),
        [first_rev.as_str(), second_rev.as_str()]
    );
    assert!(
        !app.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("flotilla.dev/refresh"),
        "the refresh annotation is consumed"
    );
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_automation_a_commit_is_only_reported() {
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("blue"))], |_| {}).await;
    let ns = e.target_ns("dev", "web");
    // A manual Application: nothing is applied until a sync is requested.
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let app = e
        .wait_app("web", "OutOfSync", |a| {
            a.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.status == "OutOfSync")
        })
        .await;
    let status = app.status.unwrap();
    assert_eq!(status.health.unwrap().status, "Missing");
    assert!(status.operation_state.is_none());
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    assert!(cms.get_opt("settings").await.unwrap().is_none());
    // A requested sync applies it and clears the request.
    let patch = json!({"operation": {"sync": {}, "initiatedBy": {"username": "test"}}});
    e.apps()
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let app = e.wait_synced("web", Some("Healthy")).await;
    assert!(app.operation.is_none());
    assert_eq!(
        app.status
            .unwrap()
            .operation_state
            .unwrap()
            .operation
            .unwrap()
            .initiated_by
            .unwrap()
            .username
            .as_deref(),
        Some("test")
    );
    assert!(cms.get_opt("settings").await.unwrap().is_some());
    e.cleanup().await;
}
