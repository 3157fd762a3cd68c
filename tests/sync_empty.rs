//! A source that renders nothing: as in Argo CD, the "would delete every resource" guard is
//! the automation's (`automated.allowEmpty`), while a user's sync with prune may empty an
//! Application on purpose. A sync without prune deletes nothing.

mod support;

use flotilla::api::Application;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::e2e::E2e;
use support::sim::eventually;

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

fn phase_and_request(a: &Application) -> (String, String) {
    let op = a
        .status
        .as_ref()
        .and_then(|s| s.operation_state.clone())
        .unwrap_or_default();
    let request = op
        .operation
        .and_then(|o| o.info.into_iter().find(|i| i.name == "test"))
        .map(|i| i.value)
        .unwrap_or_default();
    (op.phase, request)
}

async fn sync(e: &E2e, prune: bool, request: &str) {
    let patch = json!({"operation": {"sync": {"prune": prune}, "initiatedBy": {"username": "alice"},
        "info": [{"name": "test", "value": request}]}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_sync_with_prune_may_empty_an_application() {
    let e = E2e::start(
        &[("apps/web/a.yaml", &cm("a")), ("apps/web/b.yaml", &cm("b"))],
        |_| {},
    )
    .await;
    let ns = e.target_ns("dev", "emptied");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    sync(&e, false, "first").await;
    e.wait_synced("web", None).await;
    e.repo.commit(
        &[("apps/web/README.md", "nothing here any more\n")],
        "readme",
    );
    let empty = e
        .repo
        .remove(&["apps/web/a.yaml", "apps/web/b.yaml"], "empty");
    e.refresh("web").await;
    e.wait_app("web", "OutOfSync at the empty revision", |a| {
        a.status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .is_some_and(|s| s.status == "OutOfSync" && s.revision.as_deref() == Some(&empty))
    })
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    // Without prune: nothing goes.
    sync(&e, false, "keep").await;
    e.wait_app("web", "the sync without prune", |a| {
        phase_and_request(a) == ("Succeeded".into(), "keep".into())
    })
    .await;
    assert!(cms.get_opt("a").await.unwrap().is_some() && cms.get_opt("b").await.unwrap().is_some());
    // With prune: the user empties the Application (no allowEmpty: that is the automation's).
    sync(&e, true, "empty").await;
    let done = e
        .wait_app("web", "the sync with prune", |a| {
            phase_and_request(a).1 == "empty" && phase_and_request(a).0 != "Running"
        })
        .await;
    let state = done.status.clone().unwrap().operation_state.unwrap();
    assert_eq!(state.phase, "Succeeded", "{:?}", state.message);
    eventually(e.limit, "a and b pruned", || async {
        (cms.get_opt("a").await.ok()?.is_none() && cms.get_opt("b").await.ok()?.is_none())
            .then_some(())
    })
    .await;
    let app = e.wait_synced("web", None).await;
    assert!(app.status.unwrap().resources.is_empty());
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automation_does_not_empty_an_application_unless_allowed() {
    let e = E2e::start(
        &[("apps/web/a.yaml", &cm("a")), ("apps/web/b.yaml", &cm("b"))],
        |_| {},
    )
    .await;
    let ns = e.target_ns("dev", "auto-empty");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let first = e.wait_synced("web", None).await;
    let first_started = first.status.unwrap().operation_state.unwrap().started_at;
    e.repo
        .commit(&[("apps/web/README.md", "empty\n")], "readme");
    let empty = e
        .repo
        .remove(&["apps/web/a.yaml", "apps/web/b.yaml"], "empty");
    e.refresh("web").await;
    let refused = e
        .wait_app("web", "SyncError", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "SyncError"))
        })
        .await;
    let status = refused.status.unwrap();
    let message = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "SyncError")
        .unwrap()
        .message;
    assert!(
        message.contains(&format!("Skipping sync attempt to {empty}"))
            && message.contains("wipe out all resources")
            && message.contains("allowEmpty"),
        "{message}"
    );
    assert_eq!(
        status.operation_state.unwrap().started_at,
        first_started,
        "no operation was started"
    );
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    assert!(cms.get_opt("a").await.unwrap().is_some() && cms.get_opt("b").await.unwrap().is_some());
    // allowEmpty: the automation empties it.
    let patch = json!({"spec": {"syncPolicy": {"automated": {"prune": true, "allowEmpty": true}}}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(e.limit, "pruned with allowEmpty", || async {
        (cms.get_opt("a").await.ok()?.is_none() && cms.get_opt("b").await.ok()?.is_none())
            .then_some(())
    })
    .await;
    let app = e.wait_synced("web", None).await;
    assert!(
        !app.status
            .unwrap()
            .conditions
            .iter()
            .any(|c| c.type_ == "SyncError")
    );
    e.cleanup().await;
}
