//! Rollback: a sync to the revision of a history entry applies that revision's manifests; the
//! Application then reports OutOfSync against its target, as in Argo CD.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::e2e::E2e;

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

async fn sync(e: &E2e, revision: Option<&str>, prune: bool) {
    let patch = json!({"operation": {"sync": {"revision": revision, "prune": prune}, "initiatedBy": {"username": "test"}}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_to_a_recorded_revision() {
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("blue"))], |_| {}).await;
    let ns = e.target_ns("dev", "rollback");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    sync(&e, None, false).await;
    let v1 = e.wait_synced("web", None).await.status.unwrap().history[0].clone();
    let extra = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n";
    let v2_sha = e.repo.commit(
        &[
            ("apps/web/cm.yaml", &cm("green")),
            ("apps/web/extra.yaml", extra),
        ],
        "green",
    );
    e.refresh("web").await;
    e.wait_app("web", "OutOfSync at v2", |a| {
        a.status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .is_some_and(|s| {
                s.status == "OutOfSync" && s.revision.as_deref() == Some(v2_sha.as_str())
            })
    })
    .await;
    sync(&e, None, false).await;
    let app = e
        .wait_app("web", "v2 deployed", |a| {
            a.status.as_ref().is_some_and(|s| s.history.len() == 2)
        })
        .await;
    assert_eq!(app.status.unwrap().history[1].revision, v2_sha);
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "green"
    );
    assert!(cms.get_opt("extra").await.unwrap().is_some());
    // Roll back to v1 with prune: its content is applied, what v1 lacks is pruned (even though
    // the target revision still has it), recorded as a third deployment.
    sync(&e, Some(&v1.revision), true).await;
    let app = e
        .wait_app("web", "rolled back", |a| {
            a.status.as_ref().is_some_and(|s| s.history.len() == 3)
        })
        .await;
    let status = app.status.unwrap();
    assert_eq!(status.history[2].revision, v1.revision);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "blue"
    );
    support::sim::eventually(support::hub::LIMIT, "extra pruned", || async {
        cms.get_opt("extra").await.ok()?.is_none().then_some(())
    })
    .await;
    assert_eq!(
        status.sync.unwrap().status,
        "OutOfSync",
        "the target revision is still v2"
    );
    e.cleanup().await;
}
