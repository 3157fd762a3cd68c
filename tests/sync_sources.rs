//! Several sources: an Application with `spec.sources` (two repositories) syncs the manifests of
//! both, reports one revision per source, and follows a commit to either.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;
use support::git_repo::GitRepo;

fn cm(name: &str, color: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  color: {color}\n")
}

fn revisions(a: &flotilla::api::Application) -> Vec<String> {
    a.status
        .as_ref()
        .and_then(|s| s.sync.as_ref())
        .map(|s| s.revisions.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_are_synced_together() {
    let e = E2e::start(&[("apps/web/app.yaml", &cm("app", "blue"))], |_| {}).await;
    let config = GitRepo::new(&[("envs/dev/config.yaml", &cm("config", "blue"))]);
    let ns = e.target_ns("dev", "sources");
    let sources = json!({"sources": [
        {"repoURL": e.repo.url(), "targetRevision": "main", "path": "apps/web"},
        {"repoURL": config.url(), "targetRevision": "main", "path": "envs/dev"},
    ]});
    e.create_app_with(
        &e.ns,
        "web",
        sources,
        "dev",
        &ns,
        json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let app = e.wait_synced("web", Some("Healthy")).await;
    let heads = |repo: &GitRepo| support::git(&repo.work(), &["rev-parse", "HEAD"]);
    let (app_head, config_head) = (heads(&e.repo), heads(&config));
    assert_eq!(revisions(&app), [app_head.clone(), config_head]);
    let status = app.status.unwrap();
    assert_eq!(
        status.sync.unwrap().revision.as_deref(),
        Some(app_head.as_str())
    );
    let mut names: Vec<&str> = status.resources.iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(names, ["app", "config"]);
    assert_eq!(status.history.len(), 1);
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    for name in ["app", "config"] {
        let cm = cms.get(name).await.unwrap();
        assert_eq!(cm.data.unwrap()["color"], "blue");
        assert_eq!(
            cm.metadata.annotations.unwrap()["flotilla.dev/tracking-id"],
            format!("web:/ConfigMap:{ns}/{name}")
        );
    }

    // A commit to the second source alone reaches the cluster, and what it dropped is pruned.
    let config_next = config.commit(
        &[
            ("envs/dev/config.yaml", &cm("config", "green")),
            ("envs/dev/extra.yaml", &cm("extra", "green")),
        ],
        "green",
    );
    e.refresh("web").await;
    e.wait_app("web", "the second source's commit", |a| {
        revisions(a) == [app_head.clone(), config_next.clone()]
            && a.status
                .as_ref()
                .and_then(|s| s.sync.as_ref())
                .is_some_and(|s| s.status == "Synced")
    })
    .await;
    let color = |cm: ConfigMap| cm.data.unwrap()["color"].clone();
    assert_eq!(color(cms.get("config").await.unwrap()), "green");
    assert_eq!(color(cms.get("extra").await.unwrap()), "green");
    assert_eq!(color(cms.get("app").await.unwrap()), "blue");
    let config_last = config.remove(&["envs/dev/extra.yaml"], "no extra");
    e.refresh("web").await;
    e.wait_app("web", "the removal synced", |a| {
        revisions(a) == [app_head.clone(), config_last.clone()]
            && a.status.as_ref().is_some_and(|s| {
                s.sync.as_ref().is_some_and(|x| x.status == "Synced") && s.resources.len() == 2
            })
    })
    .await;
    support::sim::eventually(e.limit, "extra pruned", || async {
        cms.get_opt("extra").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(cms.get_opt("app").await.unwrap().is_some());
    e.cleanup().await;
}
