//! `syncPolicy.retry`: a sync the server rejects is retried with the configured backoff
//! (`duration · factorⁿ`, the attempt counted in `retryCount`), succeeds once the obstacle is
//! gone, and when the limit is reached fails for good: the automation does not try that
//! revision again (a `SyncError` says so).

mod support;

use std::time::{Duration, Instant};

use flotilla::api::Application;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::e2e::E2e;

/// A ConfigMap in a namespace that does not exist (yet): the server rejects it.
fn cm(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  k: v\n"
    )
}

fn op(a: &Application) -> (String, String, i64) {
    let o = a
        .status
        .as_ref()
        .and_then(|s| s.operation_state.clone())
        .unwrap_or_default();
    (
        o.phase,
        o.message.unwrap_or_default(),
        o.retry_count.unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_sync_is_retried_with_backoff_until_it_succeeds() {
    let e = E2e::start(&[("README.md", "retry\n")], |_| {}).await;
    let missing = e.target_ns("dev", "retry-missing");
    e.repo.commit(&[("apps/web/cm.yaml", &cm(&missing))], "web");
    let ns = e.target_ns("dev", "retry");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"],
               "retry": {"limit": 4, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "10s"}}}),
    )
    .await;
    let first = e
        .wait_app("web", "the first retry", |a| {
            op(a).1.starts_with("retrying attempt #1 in 1s: ")
        })
        .await;
    let t1 = Instant::now();
    let (phase, message, count) = op(&first);
    assert_eq!((phase.as_str(), count), ("Running", 1));
    assert!(
        message.contains(&format!("namespaces \"{missing}\" not found")),
        "{message}"
    );
    e.wait_app("web", "the second retry", |a| {
        op(a).1.starts_with("retrying attempt #2 in 2s: ")
    })
    .await;
    // The obstacle goes: the next attempt succeeds.
    let namespaces: Api<Namespace> = Api::all(e.target("dev").await);
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": missing}})).unwrap(),
        )
        .await
        .unwrap();
    let done = e
        .wait_app("web", "the sync succeeded", |a| op(a).0 == "Succeeded")
        .await;
    assert_eq!(op(&done).2, 2, "two retries: {:?}", op(&done));
    assert!(
        t1.elapsed() >= Duration::from_millis(1500),
        "the second retry waits 2 s, it came after {:?}",
        t1.elapsed()
    );
    e.wait_synced("web", None).await;
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_exhausts_its_retries_fails_and_is_not_tried_again() {
    let missing = format!("retry-never-{}", std::process::id());
    let e = E2e::start(&[("apps/web/cm.yaml", &cm(&missing))], |_| {}).await;
    let ns = e.target_ns("dev", "retry-never");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"],
               "retry": {"limit": 1, "backoff": {"duration": "1s"}}}),
    )
    .await;
    let failed = e
        .wait_app("web", "the sync failed", |a| op(a).0 == "Failed")
        .await;
    assert_eq!(op(&failed).2, 1, "one retry: {:?}", op(&failed));
    let started = failed
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .and_then(|o| o.started_at.clone());
    let refused = e
        .wait_app("web", "SyncError", |a| {
            a.status
                .as_ref()
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "SyncError"))
        })
        .await;
    let revision = refused
        .status
        .as_ref()
        .unwrap()
        .sync
        .as_ref()
        .unwrap()
        .revision
        .clone()
        .unwrap();
    let message = refused
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .find(|c| c.type_ == "SyncError")
        .unwrap()
        .message
        .clone();
    assert!(
        message.starts_with(&format!("Failed sync attempt to {revision}: ")),
        "{message}"
    );
    // Another pass: no new attempt.
    e.refresh("web").await;
    let after = e
        .wait_app("web", "the refresh consumed", |a| {
            !a.metadata
                .annotations
                .as_ref()
                .is_some_and(|m| m.contains_key("flotilla.dev/refresh"))
        })
        .await;
    let state = after.status.unwrap().operation_state.unwrap();
    assert_eq!(
        (state.phase.as_str(), state.started_at),
        ("Failed", started)
    );
    e.cleanup().await;
}
