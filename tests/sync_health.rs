//! Health: a Deployment goes Progressing → Healthy; one whose image cannot be pulled goes
//! Degraded once its progress deadline passes (the simulator: an image tagged `fail`).

mod support;

use serde_json::json;
use support::e2e::E2e;

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  progressDeadlineSeconds: 3\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n"
    )
}

fn health(a: &flotilla::api::Application) -> String {
    a.status
        .as_ref()
        .and_then(|s| s.health.as_ref())
        .map(|h| h.status.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progressing_then_healthy_and_degraded() {
    let e = E2e::start(
        &[
            ("apps/ok/d.yaml", &deployment("registry.k8s.io/pause:3.9")),
            ("apps/bad/d.yaml", &deployment("registry.k8s.io/pause:fail")),
        ],
        |_| {},
    )
    .await;
    let (ok_ns, bad_ns) = (e.target_ns("dev", "ok"), e.target_ns("dev", "bad"));
    e.create_app(
        "ok",
        "apps/ok",
        "dev",
        &ok_ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.create_app(
        "bad",
        "apps/bad",
        "dev",
        &bad_ns,
        json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    // Every health each Application reports, in order, until both are where they end.
    let (mut ok_seen, mut bad_seen): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let start = std::time::Instant::now();
    let bad = loop {
        let (ok, bad) = (
            e.apps().get("ok").await.unwrap(),
            e.apps().get("bad").await.unwrap(),
        );
        for (seen, a) in [(&mut ok_seen, &ok), (&mut bad_seen, &bad)] {
            let h = health(a);
            if seen.last() != Some(&h) {
                seen.push(h);
            }
        }
        if health(&ok) == "Healthy" && health(&bad) == "Degraded" {
            break bad;
        }
        assert!(
            start.elapsed() < e.limit,
            "not Healthy and Degraded in time: ok {ok_seen:?}, bad {bad_seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let before = |seen: &[String], last: &str| {
        let p = seen.iter().position(|h| h == "Progressing");
        p.is_some() && p < seen.iter().position(|h| h == last)
    };
    assert!(
        before(&ok_seen, "Healthy"),
        "Progressing before Healthy: {ok_seen:?}"
    );
    assert!(
        before(&bad_seen, "Degraded"),
        "Progressing before Degraded: {bad_seen:?}"
    );
    assert!(
        !ok_seen.iter().any(|h| h == "Degraded") && !bad_seen.iter().any(|h| h == "Healthy"),
        "ok {ok_seen:?}, bad {bad_seen:?}"
    );
    let msg = bad
        .status
        .unwrap()
        .health
        .unwrap()
        .message
        .unwrap_or_default();
    assert!(
        msg.contains("Deployment/web") && msg.contains("progress deadline"),
        "{msg}"
    );
    e.cleanup().await;
}
