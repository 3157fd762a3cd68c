//! A cluster that goes dark after it was healthy: its Applications turn `Unknown` with a
//! `ComparisonError` naming the cluster and the cause (their status written once, however many
//! passes run meanwhile), the other clusters' Applications stay `Synced`, and when the cluster
//! answers again it is listed again and its Applications sync by themselves.
//!
//! Fault injection needs the simulator: against real clusters these tests do nothing.

mod support;

use std::time::{Duration, Instant};

use flotilla::api::Application;
use flotilla::sim::{FaultConfig, Mode};
use serde_json::json;
use support::e2e::{E2e, condition, sync_revision, sync_status};

/// (sync status, revision).
fn sync_of(a: &Application) -> (String, String) {
    (sync_status(a), sync_revision(a))
}

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

/// The hub with short timeouts, so a dark cluster is noticed in seconds: `web-dev` on dev and
/// `web-staging` on staging, both Synced.
async fn two_clusters() -> E2e {
    let tune = |c: &mut flotilla::hub::HubConfig| {
        c.cluster_client.request_timeout = Duration::from_secs(2);
        c.cluster_client.connect_timeout = Duration::from_secs(2);
        c.sync.list_timeout = Duration::from_secs(3);
    };
    let e = E2e::start(&[("apps/web/cm.yaml", &cm("blue"))], tune).await;
    for cluster in ["dev", "staging"] {
        let ns = e.target_ns(cluster, "dark");
        e.create_app(
            &format!("web-{cluster}"),
            "apps/web",
            cluster,
            &ns,
            json!({"automated": {"selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}),
        )
        .await;
    }
    for cluster in ["dev", "staging"] {
        e.wait_synced(&format!("web-{cluster}"), None).await;
    }
    e
}

/// Asks for passes of `name` one after the other (a refresh is consumed when its pass starts,
/// and one pass of an Application runs at a time): when this returns, `n - 1` passes have
/// ended.
async fn passes(e: &E2e, name: &str, n: usize) {
    for _ in 0..n {
        e.refresh(name).await;
        e.wait_app(name, "the refresh consumed", |a| {
            !a.metadata
                .annotations
                .as_ref()
                .is_some_and(|m| m.contains_key("flotilla.dev/refresh"))
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_cluster_turns_unknown_and_recovers() {
    if support::e2e::skip_on_real_clusters(
        "a_blackholed_cluster_turns_unknown_and_recovers",
        "fault injection",
    ) {
        return;
    }
    let e = two_clusters().await;
    let synced_rev = sync_of(&e.apps().get("web-dev").await.unwrap()).1;
    let sim = e.sim.as_ref().unwrap();
    let dev = sim.handle("dev");
    // Connections accepted, never answered: the watches hang silently, only the probe notices.
    dev.set_faults(FaultConfig {
        mode: Mode::Blackhole,
        ..Default::default()
    });
    let t0 = Instant::now();
    let dark = e
        .wait_app("web-dev", "Unknown", |a| sync_of(a).0 == "Unknown")
        .await;
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "noticed after {:?}",
        t0.elapsed()
    );
    let message = condition(&dark, "ComparisonError").expect("a ComparisonError");
    assert!(
        message.starts_with("cluster dev is unavailable: "),
        "{message}"
    );
    assert_eq!(sync_of(&dark).1, synced_rev, "the last revision stays");
    let other = e.apps().get("web-staging").await.unwrap();
    assert_eq!(sync_of(&other).0, "Synced");
    assert_eq!(condition(&other, "ComparisonError"), None);

    // While dark, passes change nothing: the status is not written again.
    let hub = sim.handle("hub");
    hub.reset_requests();
    passes(&e, "web-dev", 3).await;
    assert_eq!(
        hub.request_count("patch", "applications.flotilla.dev/status"),
        0,
        "status writes while the cluster stays dark: {:?}",
        hub.requests()
    );
    assert_eq!(
        condition(&e.apps().get("web-dev").await.unwrap(), "ComparisonError").as_deref(),
        Some(message.as_str())
    );

    // Back: listed again, Synced by itself.
    dev.clear_faults();
    let back = e.wait_synced("web-dev", None).await;
    assert_eq!(condition(&back, "ComparisonError"), None);
    assert_eq!(
        sync_of(&e.apps().get("web-staging").await.unwrap()).0,
        "Synced"
    );
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_goes_down_turns_unknown_and_syncs_what_changed_meanwhile() {
    if support::e2e::skip_on_real_clusters(
        "a_cluster_that_goes_down_turns_unknown_and_syncs_what_changed_meanwhile",
        "fault injection",
    ) {
        return;
    }
    let e = two_clusters().await;
    let sim = e.sim.as_ref().unwrap();
    let staging = sim.handle("staging");
    // The port closes: open watches break, every list is refused.
    staging.set_faults(FaultConfig {
        mode: Mode::Down,
        ..Default::default()
    });
    let dark = e
        .wait_app("web-staging", "Unknown", |a| sync_of(a).0 == "Unknown")
        .await;
    let message = condition(&dark, "ComparisonError").expect("a ComparisonError");
    assert!(
        message.starts_with("cluster staging is unavailable: "),
        "{message}"
    );
    assert_eq!(sync_of(&e.apps().get("web-dev").await.unwrap()).0, "Synced");

    // A commit while it is down reaches the healthy cluster, and waits for the dark one.
    let green = e
        .repo
        .commit(&[("apps/web/cm.yaml", &cm("green"))], "green");
    e.refresh("web-dev").await;
    e.refresh("web-staging").await;
    e.wait_app("web-dev", "green on dev", |a| {
        sync_of(a) == ("Synced".to_string(), green.clone())
    })
    .await;
    passes(&e, "web-staging", 2).await;
    assert_eq!(
        sync_of(&e.apps().get("web-staging").await.unwrap()).0,
        "Unknown"
    );

    // Back: nobody asks, it catches up.
    staging.clear_faults();
    e.wait_app("web-staging", "green on staging", |a| {
        sync_of(a) == ("Synced".to_string(), green.clone())
            && condition(a, "ComparisonError").is_none()
    })
    .await;
    let ns = e.target_ns("staging", "dark");
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(e.target("staging").await, &ns);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "green"
    );
    e.cleanup().await;
}
