//! Auto-sync after a user's sync, as Argo CD's `alreadyAttemptedSync`: the last sync operation
//! of any kind to the same revision counts. After a successful manual sync, drift is left alone
//! unless `selfHeal`; after a failed one, the automation does not try that revision again and
//! says so in a `SyncError` condition ("Failed sync attempt to <rev>: <message>").

mod support;

use flotilla::api::Application;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::e2e::{E2e, sync_status};

fn cm(ns: Option<&str>) -> String {
    let ns = ns
        .map(|n| format!("  namespace: {n}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n{ns}data:\n  color: blue\n"
    )
}

async fn patch_app(e: &E2e, name: &str, patch: serde_json::Value) {
    e.apps()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// A user's sync of the target revision.
async fn manual_sync(e: &E2e, name: &str) {
    patch_app(
        e,
        name,
        json!({"operation": {"sync": {"prune": false}, "initiatedBy": {"username": "alice"}}}),
    )
    .await;
}

fn operation_by(a: &Application) -> (String, Option<String>, bool) {
    let op = a
        .status
        .as_ref()
        .and_then(|s| s.operation_state.clone())
        .unwrap_or_default();
    let by = op
        .operation
        .and_then(|o| o.initiated_by)
        .unwrap_or_default();
    (op.phase, by.username, by.automated)
}

fn consumed(a: &Application) -> bool {
    !a.metadata
        .annotations
        .as_ref()
        .is_some_and(|m| m.contains_key("flotilla.dev/refresh"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_after_a_manual_sync_is_left_alone_without_self_heal() {
    let e = E2e::start(&[("apps/web/cm.yaml", &cm(None))], |_| {}).await;
    let ns = e.target_ns("dev", "manual");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    manual_sync(&e, "web").await;
    e.wait_app("web", "the manual sync", |a| {
        sync_status(a) == "Synced" && operation_by(a).0 == "Succeeded"
    })
    .await;
    // Automated now, without selfHeal; then someone edits the live object.
    patch_app(
        &e,
        "web",
        json!({"spec": {"syncPolicy": {"automated": {}}}}),
    )
    .await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"color": "red"}})),
    )
    .await
    .unwrap();
    let drifted = e
        .wait_app("web", "OutOfSync", |a| sync_status(a) == "OutOfSync")
        .await;
    assert_eq!(
        operation_by(&drifted),
        ("Succeeded".into(), Some("alice".into()), false),
        "the automation started no sync"
    );
    // More passes change nothing.
    e.refresh("web").await;
    e.wait_app("web", "the refresh consumed", consumed).await;
    e.refresh("web").await;
    let after = e.wait_app("web", "the refresh consumed", consumed).await;
    assert_eq!(sync_status(&after), "OutOfSync");
    assert_eq!(operation_by(&after).1.as_deref(), Some("alice"));
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "red"
    );
    // With selfHeal, the drift is reverted.
    patch_app(
        &e,
        "web",
        json!({"spec": {"syncPolicy": {"automated": {"selfHeal": true}}}}),
    )
    .await;
    let healed = e.wait_synced("web", None).await;
    assert!(operation_by(&healed).2, "a self-heal by the automation");
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "blue"
    );
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_manual_sync_is_not_retried_by_the_automation() {
    // The object goes to a namespace that does not exist: the server rejects it.
    let missing = format!("nowhere-{}", std::process::id());
    let e = E2e::start(&[("apps/web/cm.yaml", &cm(Some(&missing)))], |_| {}).await;
    let ns = e.target_ns("dev", "manual-failed");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    manual_sync(&e, "web").await;
    let failed = e
        .wait_app("web", "the manual sync failed", |a| {
            operation_by(a).0 == "Failed"
        })
        .await;
    let revision = failed
        .status
        .as_ref()
        .and_then(|s| s.sync.as_ref())
        .and_then(|s| s.revision.clone())
        .unwrap();
    patch_app(
        &e,
        "web",
        json!({"spec": {"syncPolicy": {"automated": {}}}}),
    )
    .await;
    let refused = e
        .wait_app("web", "SyncError", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "SyncError"))
        })
        .await;
    let status = refused.status.clone().unwrap();
    let message = &status
        .conditions
        .iter()
        .find(|c| c.type_ == "SyncError")
        .unwrap()
        .message;
    assert!(
        message.starts_with(&format!("Failed sync attempt to {revision}: ")),
        "{message}"
    );
    assert!(message.contains(&missing), "{message}");
    assert_eq!(
        operation_by(&refused),
        ("Failed".into(), Some("alice".into()), false),
        "the automation did not sync again"
    );
    assert_eq!(sync_status(&refused), "OutOfSync");
    e.cleanup().await;
}
