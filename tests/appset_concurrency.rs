//! ApplicationSets reconcile concurrently: one stuck on a Git server that never answers does
//! not hold up the others.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::hub::{list_appset, start_hub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_appset_does_not_delay_the_others() {
    // A "Git server" that accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
        }
    });
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "stuck"}, "spec": {
        "generators": [{"git": {"repoURL": format!("git://127.0.0.1:{port}/repo.git"), "revision": "main", "directories": [{"path": "*"}]}}],
        "template": {"metadata": {"name": "{{path.basename}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"name": "dev"}}}
    }})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    h.create_appset(list_appset("quick", &[("dev", "a"), ("dev", "b")]))
        .await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    h.wait_condition("quick", "ResourcesUpToDate", "True", None)
        .await;
    assert!(
        t0.elapsed() < Duration::from_secs(4),
        "took {:?} behind a stuck ApplicationSet",
        t0.elapsed()
    );
    // The stuck one fails on its own time, with the cause, and writes nothing.
    let msg = h
        .wait_condition("stuck", "ErrorOccurred", "True", None)
        .await;
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
}
