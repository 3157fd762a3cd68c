//! A failed or empty render never prunes: invalid YAML in Git reports a ComparisonError naming
//! the file and line and leaves the cluster alone; a path that suddenly renders nothing is not
//! emptied by the automation unless `allowEmpty` (a SyncError says why).

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;
use support::sim::eventually;

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_yaml_changes_nothing() {
    let e = E2e::start(
        &[("apps/web/a.yaml", &cm("a")), ("apps/web/b.yaml", &cm("b"))],
        |_| {},
    )
    .await;
    let ns = e.target_ns("dev", "broken");
    e.create_app("web", "apps/web", "dev", &ns, json!({"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]})).await;
    e.wait_synced("web", Some("Healthy")).await;
    // b is removed and a is broken in the same commit: the render fails, nothing is pruned.
    e.repo.remove(&["apps/web/b.yaml"], "drop b");
    e.repo.commit(&[("apps/web/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n  bad: [unclosed\n")], "break a");
    e.refresh("web").await;
    let app = e
        .wait_app("web", "ComparisonError", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "ComparisonError"))
        })
        .await;
    let status = app.status.unwrap();
    let msg = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "ComparisonError")
        .unwrap()
        .message;
    assert!(
        msg.contains("apps/web/a.yaml") && msg.contains("line"),
        "{msg}"
    );
    assert_eq!(status.sync.unwrap().status, "Unknown");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    assert!(
        cms.get_opt("b").await.unwrap().is_some(),
        "a failed render prunes nothing"
    );
    // Fixed: b goes now.
    e.repo.commit(&[("apps/web/a.yaml", &cm("a"))], "fix a");
    e.refresh("web").await;
    let gone = tokio::time::timeout(e.limit, async {
        while cms.get_opt("b").await.unwrap().is_some() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "b not pruned after the fix: {}",
        serde_json::to_string_pretty(&e.apps().get("web").await.unwrap().status).unwrap()
    );
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_render_does_not_prune_everything_unless_allowed() {
    let e = E2e::start(
        &[("apps/web/a.yaml", &cm("a")), ("apps/web/b.yaml", &cm("b"))],
        |_| {},
    )
    .await;
    let ns = e.target_ns("dev", "empty");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.wait_synced("web", None).await;
    e.repo.commit(
        &[("apps/web/README.md", "nothing here any more\n")],
        "readme",
    );
    e.repo
        .remove(&["apps/web/a.yaml", "apps/web/b.yaml"], "empty");
    e.refresh("web").await;
    let app = e
        .wait_app("web", "sync refused", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "SyncError"))
        })
        .await;
    let status = app.status.unwrap();
    let msg = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "SyncError")
        .unwrap()
        .message;
    assert!(
        msg.contains("auto-sync will wipe out all resources") && msg.contains("allowEmpty"),
        "{msg}"
    );
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    assert!(cms.get_opt("a").await.unwrap().is_some() && cms.get_opt("b").await.unwrap().is_some());
    // With allowEmpty, the empty revision is synced: everything goes.
    let patch = json!({"spec": {"syncPolicy": {"automated": {"prune": true, "allowEmpty": true}}}});
    e.apps()
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    let patch = json!({"operation": {"sync": {"prune": true}}});
    e.apps()
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    eventually(e.limit, "pruned with allowEmpty", || async {
        (cms.get_opt("a").await.ok()?.is_none() && cms.get_opt("b").await.ok()?.is_none())
            .then_some(())
    })
    .await;
    e.cleanup().await;
}
