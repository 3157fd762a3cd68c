//! A multi-source Application's history records every source and its revision, and
//! `flotilla app rollback` restores all of them, as Argo CD does.

mod support;

use flotilla::api::Application;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::e2e::E2e;

fn cm(name: &str, color: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  color: {color}\n")
}

async fn sync(e: &E2e) {
    let patch = json!({"operation": {"sync": {}, "initiatedBy": {"username": "alice"}}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

fn history(a: &Application) -> Vec<flotilla::api::application::RevisionHistory> {
    a.status
        .as_ref()
        .map(|s| s.history.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_restores_every_source() {
    let e = E2e::start(
        &[
            ("apps/a/cm.yaml", &cm("a", "blue")),
            ("apps/b/cm.yaml", &cm("b", "blue")),
        ],
        |_| {},
    )
    .await;
    let ns = e.target_ns("dev", "multi");
    let source =
        |path: &str| json!({"repoURL": e.repo.url(), "targetRevision": "main", "path": path});
    let app: Application = serde_json::from_value(json!({
        "apiVersion": "flotilla.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "namespace": e.ns},
        "spec": {"project": "default", "sources": [source("apps/a"), source("apps/b")],
                 "destination": {"name": "dev", "namespace": ns},
                 "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}
    }))
    .unwrap();
    e.apps().create(&PostParams::default(), &app).await.unwrap();
    sync(&e).await;
    let v1 = e
        .wait_app("web", "v1 deployed", |a| history(a).len() == 1)
        .await;
    let first = history(&v1).remove(0);
    assert_eq!(first.revisions.len(), 2, "{first:?}");
    assert_eq!(
        first
            .sources
            .iter()
            .map(|s| s.path.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["apps/a", "apps/b"]
    );
    let v2 = e.repo.commit(
        &[
            ("apps/a/cm.yaml", &cm("a", "green")),
            ("apps/b/cm.yaml", &cm("b", "green")),
        ],
        "green",
    );
    e.refresh("web").await;
    e.wait_app("web", "OutOfSync at v2", |a| {
        a.status
            .as_ref()
            .and_then(|s| s.sync.as_ref())
            .is_some_and(|s| s.status == "OutOfSync" && s.revision.as_deref() == Some(&v2))
    })
    .await;
    sync(&e).await;
    let deployed = e
        .wait_app("web", "v2 deployed", |a| history(a).len() == 2)
        .await;
    assert_eq!(history(&deployed)[1].revisions, [v2.clone(), v2.clone()]);
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    let color = |name: &'static str| {
        let cms = cms.clone();
        async move { cms.get(name).await.unwrap().data.unwrap()["color"].clone() }
    };
    assert_eq!(
        (color("a").await, color("b").await),
        ("green".into(), "green".into())
    );

    // Back to the first deployment, through the CLI: both sources go back.
    e.flotilla(&[
        "app",
        "rollback",
        "web",
        &first.id.to_string(),
        "--hub-context",
        "hub",
        "--hub-namespace",
        &e.ns,
    ])
    .await;
    let rolled = e
        .wait_app("web", "rolled back", |a| history(a).len() == 3)
        .await;
    let last = history(&rolled).remove(2);
    assert_eq!(last.revisions, first.revisions);
    assert_eq!(
        (color("a").await, color("b").await),
        ("blue".into(), "blue".into())
    );
    e.cleanup().await;
}
