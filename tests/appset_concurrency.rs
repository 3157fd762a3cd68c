//! ApplicationSets reconcile concurrently: one stuck on a Git server that never answers does
//! not hold up the others.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use support::hub::{list_appset, start_hub};
use support::sim::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_appset_does_not_delay_the_others() {
    // A "Git server" that accepts connections and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let _keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in silent.incoming().flatten() {
            held.push(s);
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "stuck"}, "spec": {
        "generators": [{"git": {"repoURL": format!("git://127.0.0.1:{port}/repo.git"), "revision": "main", "directories": [{"path": "*"}]}}],
        "template": {"metadata": {"name": "{{path.basename}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"name": "dev"}}}
    }})).await;
    // The stuck pass is under way: its fetch has connected.
    eventually(support::hub::LIMIT, "the stuck fetch connected", || async {
        (accepted.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
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
