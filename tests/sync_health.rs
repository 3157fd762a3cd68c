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
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    loop {
        let a = e.apps().get("ok").await.unwrap();
        let h = health(&a);
        if seen.last() != Some(&h) {
            seen.push(h.clone());
        }
        if h == "Healthy" {
            break;
        }
        assert!(start.elapsed() < e.limit, "ok never Healthy: {seen:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        seen.contains(&"Progressing".to_string()),
        "Progressing before Healthy: {seen:?}"
    );
    let bad = e
        .wait_app("bad", "Degraded", |a| health(a) == "Degraded")
        .await;
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
