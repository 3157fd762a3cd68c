//! The Git webhook: a signed GitHub push or a GitLab push with the right token refreshes
//! exactly the Applications whose repository, revision and manifest paths it touched (and the
//! ApplicationSets reading that repository); an unsigned one is refused and refreshes nothing.

mod support;

use flotilla::observe::webhook::github_signature;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::e2e::{E2e, sync_revision, sync_status};
use support::hub::post_webhook;

fn cm(color: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: {color}\n"
    )
}

fn github_push(e: &E2e, sha: &str, path: &str) -> String {
    json!({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": e.repo.url(), "default_branch": "main"},
        "commits": [{"added": [], "modified": [path], "removed": []}]})
    .to_string()
}

fn gitlab_push(e: &E2e, sha: &str, path: &str) -> String {
    json!({"object_kind": "push", "ref": "refs/heads/main", "after": sha,
        "project": {"git_http_url": e.repo.url(), "default_branch": "main"},
        "commits": [{"added": [], "modified": [path], "removed": []}]})
    .to_string()
}

/// How the test knows a wrong refresh would have happened by now: the hub runs one worker per
/// cluster, and its queue is first in, first out. Every Application is on `dev`; so once an
/// Application refreshed by a later push has synced, every refresh queued by an earlier
/// request has run, and an Application it should not have touched would show the new revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_refresh_exactly_what_they_touched() {
    let files = [
        ("apps/a/cm.yaml", cm("blue")),
        ("apps/b/cm.yaml", cm("blue")),
        ("apps/c/cm.yaml", cm("blue")),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let tune = |c: &mut flotilla::hub::HubConfig| {
        c.listen = Some("127.0.0.1:0".parse().unwrap());
        // Periodic resyncs far away: only the webhook can refresh within the test.
        c.sync.resync = std::time::Duration::from_secs(3600);
        c.sync.workers = 1;
    };
    let e = E2e::start(&refs, tune).await;
    let secrets: Api<Secret> = Api::namespaced(e.hub.clone(), &e.ns);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "flotilla-webhook"},
        "stringData": {"github.secret": "s3cret-hook", "gitlab.secret": "gl-t0ken"}}))
    .unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    let mut namespaces = Vec::new();
    for name in ["a", "b", "c"] {
        let ns = e.target_ns("dev", &format!("hook-{name}"));
        e.create_app(
            name,
            &format!("apps/{name}"),
            "dev",
            &ns,
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
        namespaces.push(ns);
    }
    let first = sync_revision(&e.apps().get("b").await.unwrap());
    for name in ["a", "c"] {
        assert_eq!(sync_revision(&e.apps().get(name).await.unwrap()), first);
    }
    let addr = e.running.as_ref().unwrap().addr().unwrap();
    let synced_at = |sha: String| {
        move |a: &flotilla::api::Application| sync_revision(a) == sha && sync_status(a) == "Synced"
    };

    // a changes; the pushes for it are unsigned or signed with the wrong secret: refused.
    let a_sha = e
        .repo
        .commit(&[("apps/a/cm.yaml", &cm("green"))], "a: green");
    let payload = github_push(&e, &a_sha, "apps/a/cm.yaml");
    let (code, body) = post_webhook(addr, &[("X-GitHub-Event", "push".into())], &payload).await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = post_webhook(
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

    // c changes; a GitLab push with a wrong token is refused, with the right one it refreshes c.
    let c_sha = e
        .repo
        .commit(&[("apps/c/cm.yaml", &cm("green"))], "c: green");
    let c_payload = gitlab_push(&e, &c_sha, "apps/c/cm.yaml");
    let gitlab = |token: &str| {
        [
            ("X-Gitlab-Event", "Push Hook".to_string()),
            ("X-Gitlab-Token", token.to_string()),
        ]
    };
    let (code, body) = post_webhook(addr, &gitlab("not-it"), &c_payload).await;
    assert_eq!(code, 401, "{body}");
    let (code, body) = post_webhook(addr, &gitlab("gl-t0ken"), &c_payload).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"applications\":[\"c\"]"), "{body}");
    e.wait_app("c", "the pushed revision", synced_at(c_sha.clone()))
        .await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &namespaces[2]);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "green"
    );
    // c's refresh was queued after anything the refused pushes could have queued.
    for name in ["a", "b"] {
        assert_eq!(
            sync_revision(&e.apps().get(name).await.unwrap()),
            first,
            "{name} was refreshed by a refused push"
        );
    }

    // The signed GitHub push for a: a is refreshed and synced at once (to the branch's head).
    let started = std::time::Instant::now();
    let (code, body) = post_webhook(
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
    e.wait_app("a", "the pushed revision", synced_at(c_sha.clone()))
        .await;
    let quick = e.quick(std::time::Duration::from_secs(10));
    assert!(
        started.elapsed() < quick,
        "synced {:?} after the push",
        started.elapsed()
    );
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &namespaces[0]);
    assert_eq!(
        cms.get("settings").await.unwrap().data.unwrap()["color"],
        "green"
    );

    // Another change of c, pushed: once c has it, a refresh of b by the push for a would have run.
    let c2_sha = e.repo.commit(&[("apps/c/cm.yaml", &cm("red"))], "c: red");
    let (code, body) = post_webhook(
        addr,
        &gitlab("gl-t0ken"),
        &gitlab_push(&e, &c2_sha, "apps/c/cm.yaml"),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"applications\":[\"c\"]"), "{body}");
    e.wait_app("c", "the second pushed revision", synced_at(c2_sha))
        .await;
    let b = e.apps().get("b").await.unwrap();
    assert_eq!(
        sync_revision(&b),
        first,
        "b (its paths untouched) was refreshed"
    );
    assert_eq!(b.status.unwrap().history.len(), 1);
    let a = e.apps().get("a").await.unwrap();
    assert_eq!(sync_revision(&a), c_sha, "a was refreshed by a push for c");
    e.cleanup().await;
}
