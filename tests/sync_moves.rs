//! Never two reconciles of one Application at once, even when its destination moves to another
//! cluster (another pool) while a pass of it is still running in the old one: the new
//! cluster's pass starts when the old one has ended.
//!
//! The old cluster is made slow with the simulator's latency injection: simulator only.

mod support;

use std::time::Duration;

use flotilla::sim::FaultConfig;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use serde_json::json;
use support::e2e::E2e;

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_in_the_new_pool_waits_for_the_pass_in_the_old_one() {
    if support::e2e::skip_on_real_clusters(
        "a_pass_in_the_new_pool_waits_for_the_pass_in_the_old_one",
        "latency injection",
    ) {
        return;
    }
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("blue"))], |_| {}).await;
    e.create_app(
        "web",
        "apps/web",
        "dev",
        "moving",
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.wait_synced("web", None).await;
    // Watches opened now are not slowed by the latency set next (it delays new requests).
    let dev_cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, "moving");
    let staging_cms: Api<ConfigMap> = Api::all(e.target("staging").await);
    let dev_rv = dev_cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let staging_rv = staging_cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut dev_events = dev_cms
        .watch(&WatchParams::default().timeout(60), &dev_rv)
        .await
        .unwrap()
        .boxed();
    let mut staging_events = staging_cms
        .watch(&WatchParams::default().timeout(60), &staging_rv)
        .await
        .unwrap()
        .boxed();
    let sim = e.sim.as_ref().unwrap();
    sim.handle("dev").set_faults(FaultConfig {
        latency_ms: 2500,
        ..Default::default()
    });
    // A new commit: the pass on dev applies it, each request to dev taking 2.5 s.
    e.repo
        .commit(&[("apps/web/cm.yaml", &cm("green"))], "green");
    e.refresh("web").await;
    e.wait_app("web", "the pass on dev started", |a| {
        !a.metadata
            .annotations
            .as_ref()
            .is_some_and(|m| m.contains_key("flotilla.dev/refresh"))
    })
    .await;
    // Meanwhile, the Application moves to staging.
    let patch = json!({"spec": {"destination": {"name": "staging"}}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    // Which comes first: dev's apply (the old pass) or staging's create (the new one)?
    let order = tokio::time::timeout(Duration::from_secs(40), async {
        let mut order = Vec::new();
        let (mut dev_done, mut staging_done) = (false, false);
        while !(dev_done && staging_done) {
            tokio::select! {
                ev = dev_events.try_next(), if !dev_done => {
                    if let Some(WatchEvent::Modified(o)) = ev.unwrap()
                        && o.data.as_ref().is_some_and(|d| d["color"] == "green")
                    {
                        order.push("dev applied");
                        dev_done = true;
                    }
                }
                ev = staging_events.try_next(), if !staging_done => {
                    if let Some(WatchEvent::Added(o)) = ev.unwrap()
                        && o.metadata.name.as_deref() == Some("settings")
                    {
                        order.push("staging created");
                        staging_done = true;
                    }
                }
            }
        }
        order
    })
    .await
    .expect("both passes applied");
    assert_eq!(
        order,
        ["dev applied", "staging created"],
        "the pass in the new pool ran while the old one was still running"
    );
    sim.handle("dev").clear_faults();
    e.wait_synced("web", None).await;
    e.cleanup().await;
}
