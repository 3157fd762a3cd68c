//! One worker pool per cluster: a blackholed cluster (connections accepted, never answered)
//! reports its Applications Unknown with the reason, while the other clusters keep syncing at
//! their usual pace.

mod support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::e2e::E2e;

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

/// (sync status, revision).
fn status_of(a: &flotilla::api::Application) -> (String, String) {
    let sync = a
        .status
        .as_ref()
        .and_then(|s| s.sync.clone())
        .unwrap_or_default();
    (sync.status, sync.revision.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_cluster_does_not_delay_the_others() {
    // A "cluster" that accepts connections and never says a word.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hole.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hole.incoming().flatten() {
            held.push(s);
        }
    });
    let tune = |c: &mut flotilla::hub::HubConfig| {
        c.cluster_client.request_timeout = Duration::from_secs(2);
        c.cluster_client.connect_timeout = Duration::from_secs(2);
        c.sync.list_timeout = Duration::from_secs(3);
    };
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("blue"))], tune).await;
    let secrets: Api<Secret> = Api::namespaced(e.hub.clone(), &e.ns);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "cluster-black", "labels": {"flotilla.dev/secret-type": "cluster"}},
        "stringData": {"name": "black", "server": format!("https://127.0.0.1:{port}"), "config": json!({"bearerToken": "x", "tlsClientConfig": {"insecure": true}}).to_string()}})).unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    let ns = e.target_ns("dev", "iso");
    let ns_s = e.target_ns("staging", "iso");
    e.create_app(
        "black",
        "apps/web",
        "black",
        "iso",
        json!({"automated": {}}),
    )
    .await;
    e.create_app(
        "dev",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.create_app(
        "staging",
        "apps/web",
        "staging",
        &ns_s,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let t0 = Instant::now();
    e.wait_synced("dev", None).await;
    e.wait_synced("staging", None).await;
    let healthy_first_sync = t0.elapsed();
    // Quick: 5 s with the simulator (30 s with real clusters), while every request to the
    // blackholed cluster waits 2 s for nothing and its list 3 s.
    let quick = e.quick(Duration::from_secs(5));
    assert!(
        healthy_first_sync < quick,
        "the healthy clusters took {healthy_first_sync:?}"
    );
    let black = e
        .wait_app("black", "Unknown, unavailable", |a| {
            status_of(a).0 == "Unknown"
                && a.status
                    .as_ref()
                    .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "ComparisonError"))
        })
        .await;
    let cond = black
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "ComparisonError")
        .unwrap();
    assert!(
        cond.message.contains("cluster black is unavailable"),
        "{}",
        cond.message
    );
    // A commit reaches the healthy clusters promptly while the blackholed one keeps failing.
    let sha = e
        .repo
        .commit(&[("apps/web/cm.yaml", &cm("green"))], "green");
    let t1 = Instant::now();
    for name in ["dev", "staging", "black"] {
        e.refresh(name).await;
    }
    for name in ["dev", "staging"] {
        e.wait_app(name, "the new revision", |a| {
            status_of(a) == ("Synced".to_string(), sha.clone())
        })
        .await;
    }
    assert!(
        t1.elapsed() < quick,
        "took {:?} next to a blackholed cluster",
        t1.elapsed()
    );
    assert_eq!(
        status_of(&e.apps().get("black").await.unwrap()).0,
        "Unknown"
    );
    // Its cluster never answers, so no hub can finalize the blackholed Application (as in
    // Argo CD): drop its finalizers instead of letting the cleanup wait for them.
    let apps = e.apps();
    apps.patch(
        "black",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    apps.delete("black", &DeleteParams::default())
        .await
        .unwrap();
    e.cleanup().await;
}
