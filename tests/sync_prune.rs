//! Pruning: what left Git is deleted when prune is on, kept (and reported) when it is off or
//! the resource says `Prune=false`.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;

fn cm(name: &str, extra: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{extra}data:\n  k: v\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_what_left_git_and_respects_prune_false() {
    let keep = "  annotations:\n    argocd.argoproj.io/sync-options: Prune=false\n";
    let e = E2e::start(
        &[
            ("apps/a/one.yaml", &cm("one", "")),
            ("apps/a/two.yaml", &cm("two", "")),
            ("apps/a/kept.yaml", &cm("kept", keep)),
            ("apps/b/one.yaml", &cm("one", "")),
            ("apps/b/two.yaml", &cm("two", "")),
        ],
        |_| {},
    )
    .await;
    let (ns_a, ns_b) = (
        e.target_ns("dev", "prune-on"),
        e.target_ns("dev", "prune-off"),
    );
    e.create_app(
        "a",
        "apps/a",
        "dev",
        &ns_a,
        json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.create_app(
        "b",
        "apps/b",
        "dev",
        &ns_b,
        json!({"automated": {"prune": false}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    e.wait_synced("a", None).await;
    e.wait_synced("b", None).await;
    let rev = e.repo.remove(
        &["apps/a/two.yaml", "apps/a/kept.yaml", "apps/b/two.yaml"],
        "drop two",
    );
    e.refresh("a").await;
    e.refresh("b").await;
    let dev = e.target("dev").await;
    let a: Api<ConfigMap> = Api::namespaced(dev.clone(), &ns_a);
    let b: Api<ConfigMap> = Api::namespaced(dev, &ns_b);
    // Prune on: two is deleted, kept stays (Prune=false), one stays.
    let app = e
        .wait_app("a", "two pruned", |x| {
            x.status
                .as_ref()
                .and_then(|s| s.operation_state.as_ref())
                .is_some_and(|o| {
                    o.sync_result.as_ref().is_some_and(|r| r.revision == rev)
                        && o.phase == "Succeeded"
                })
        })
        .await;
    support::sim::eventually(e.limit, "two deleted", || async {
        a.get_opt("two").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(a.get_opt("one").await.unwrap().is_some());
    assert!(
        a.get_opt("kept").await.unwrap().is_some(),
        "Prune=false is respected"
    );
    let results = app
        .status
        .unwrap()
        .operation_state
        .unwrap()
        .sync_result
        .unwrap()
        .resources;
    assert!(
        results
            .iter()
            .any(|r| r.name == "two" && r.status.as_deref() == Some("Pruned")),
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.name == "kept" && r.status.as_deref() == Some("PruneSkipped")),
        "{results:?}"
    );
    // Prune off: two stays, the app is OutOfSync and says it requires pruning.
    let app = e
        .wait_app("b", "requires pruning", |x| {
            x.status.as_ref().is_some_and(|s| {
                s.resources
                    .iter()
                    .any(|r| r.name == "two" && r.requires_pruning)
            })
        })
        .await;
    assert_eq!(app.status.unwrap().sync.unwrap().status, "OutOfSync");
    assert!(b.get_opt("two").await.unwrap().is_some());
    e.cleanup().await;
}
