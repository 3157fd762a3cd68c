//! The Git webhook: a signed GitHub push refreshes exactly the Applications whose repository,
//! revision and manifest paths it touched (and the ApplicationSets reading that repository);
//! an unsigned one is refused and refreshes nothing.

mod support;

use flotilla::observe::webhook::github_signature;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::e2e::E2e;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

async fn post(addr: std::net::SocketAddr, headers: &[(&str, String)], body: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "POST /api/webhook HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

fn revision(a: &flotilla::api::Application) -> String {
    a.status
        .as_ref()
        .and_then(|s| s.sync.as_ref())
        .and_then(|s| s.revision.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_refreshes_exactly_what_it_touched() {
    let mut e = E2e::start(
        &[
            ("apps/a/cm.yaml", &cm("blue")),
            ("apps/b/cm.yaml", &cm("blue")),
        ],
        |c| c.listen = Some("127.0.0.1:0".parse().unwrap()),
    )
    .await;
    // Periodic resyncs far away: only the webhook can refresh within the test.
    e.stop_hub();
    e.start_hub(|c| {
        c.listen = Some("127.0.0.1:0".parse().unwrap());
        c.sync.resync = std::time::Duration::from_secs(3600);
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(e.hub.clone(), &e.ns);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "flotilla-webhook"}, "stringData": {"github.secret": "s3cret-hook"}})).unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    let (ns_a, ns_b) = (e.target_ns("dev", "hook-a"), e.target_ns("dev", "hook-b"));
    for (name, path, ns) in [("a", "apps/a", &ns_a), ("b", "apps/b", &ns_b)] {
        e.create_app(
            name,
            path,
            "dev",
            ns,
            json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
        )
        .await;
        let patch = json!({"metadata": {"annotations": {"argocd.argoproj.io/manifest-generate-paths": "."}}});
        e.apps()
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
        e.wait_synced(name, None).await;
    }
    let old_b = revision(&e.apps().get("b").await.unwrap());
    let sha = e
        .repo
        .commit(&[("apps/a/cm.yaml", &cm("green"))], "a: green");
    let payload = json!({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": e.repo.url(), "default_branch": "main"},
        "commits": [{"added": [], "modified": ["apps/a/cm.yaml"], "removed": []}]})
    .to_string();
    let addr = e.running.as_ref().unwrap().addr().unwrap();
    // Unsigned: refused, nothing refreshed.
    let (code, body) = post(addr, &[("X-GitHub-Event", "push".into())], &payload).await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = post(
        addr,
        &[
            ("X-GitHub-Event", "push".into()),
            (
                "X-Hub-Signature-256",
                github_signature("wrong", payload.as_bytes()),
            ),
        ],
        &payload,
    )
    .await;
    assert_eq!(code, 401, "{body}");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_ne!(revision(&e.apps().get("a").await.unwrap()), sha);
    // Signed: a is refreshed and synced at once; b (its paths untouched) is not.
    let started = std::time::Instant::now();
    let (code, body) = post(
        addr,
        &[
            ("X-GitHub-Event", "push".into()),
            (
                "X-Hub-Signature-256",
                github_signature("s3cret-hook", payload.as_bytes()),
            ),
        ],
        &payload,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"applications\":[\"a\"]"), "{body}");
    e.wait_app("a", "the pushed revision", |a| {
        revision(a) == sha
            && a.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.status == "Synced")
    })
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "synced {:?} after the push",
        started.elapsed()
    );
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns_a);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "green"
    );
    assert_eq!(
        revision(&e.apps().get("b").await.unwrap()),
        old_b,
        "b was not refreshed"
    );
    e.cleanup().await;
}
