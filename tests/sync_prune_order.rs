//! The order of prunes, as gitops-engine's: a prune runs in the wave of the live object, the
//! prune waves mirrored (what was created last is deleted first), before the applies of the wave
//! it lands in; `PruneLast=true` (the Application's option, or the resource's annotation) moves
//! it after every wave. Observed through the target cluster's watch events.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde_json::json;
use support::e2e::E2e;

fn cm(name: &str, wave: i64, options: Option<&str>) -> String {
    let options = options
        .map(|o| format!("    argocd.argoproj.io/sync-options: {o}\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"{wave}\"\n{options}data:\n  k: v\n"
    )
}

/// The ADDED and DELETED events of `ns`'s ConfigMaps after `rv`, until `count` of them.
async fn events(api: &Api<ConfigMap>, rv: &str, count: usize) -> Vec<String> {
    let stream = api
        .watch(&WatchParams::default().timeout(60), rv)
        .await
        .unwrap();
    let mut stream = stream.boxed();
    let mut out = Vec::new();
    let collect = async {
        while let Some(event) = stream.try_next().await.unwrap() {
            match event {
                WatchEvent::Added(o) => out.push(format!("apply {}", o.metadata.name.unwrap())),
                WatchEvent::Deleted(o) => out.push(format!("prune {}", o.metadata.name.unwrap())),
                _ => {}
            }
            if out.len() == count {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(40), collect).await;
    out
}

/// Syncs v1 of `dir` (kept, and two objects that leave Git in waves 1 and 3), then v2 (two new
/// objects in waves 1 and 3): the create/delete events of the v2 sync.
async fn v2_events(
    e: &E2e,
    dir: &str,
    ns: &str,
    old_high_options: Option<&str>,
    app_options: &[&str],
) -> Vec<String> {
    e.repo.commit(
        &[
            (&format!("apps/{dir}/keep.yaml"), &cm("keep", 0, None)),
            (&format!("apps/{dir}/old-low.yaml"), &cm("old-low", 1, None)),
            (
                &format!("apps/{dir}/old-high.yaml"),
                &cm("old-high", 3, old_high_options),
            ),
        ],
        "v1",
    );
    let mut options = vec!["CreateNamespace=true"];
    options.extend_from_slice(app_options);
    e.create_app(
        dir,
        &format!("apps/{dir}"),
        "dev",
        ns,
        json!({"automated": {"prune": true}, "syncOptions": options}),
    )
    .await;
    // The hub read Git before this commit: fresh data.
    e.refresh(dir).await;
    e.wait_synced(dir, None).await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, ns);
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let watching = events(&cms, &rv, 4);
    let change = async {
        e.repo.remove(
            &[
                &format!("apps/{dir}/old-low.yaml"),
                &format!("apps/{dir}/old-high.yaml"),
            ],
            "old ones go",
        );
        e.repo.commit(
            &[
                (&format!("apps/{dir}/new-low.yaml"), &cm("new-low", 1, None)),
                (
                    &format!("apps/{dir}/new-high.yaml"),
                    &cm("new-high", 3, None),
                ),
            ],
            "new ones come",
        );
        e.refresh(dir).await;
    };
    let (seen, ()) = tokio::join!(watching, change);
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prunes_run_in_reverse_wave_order_before_the_applies_of_their_wave() {
    let e = E2e::start(&[("README.md", "waves\n")], |_| {}).await;
    let ns = e.target_ns("dev", "prune-order");
    // Prune waves {1, 3} mirror: old-high (wave 3) is deleted in wave 1, before new-low is
    // created; old-low (wave 1) in wave 3, before new-high.
    let seen = v2_events(&e, "mirror", &ns, None, &[]).await;
    assert_eq!(
        seen,
        [
            "prune old-high",
            "apply new-low",
            "prune old-low",
            "apply new-high"
        ]
    );
    e.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_last_deletes_after_every_wave() {
    let e = E2e::start(&[("README.md", "waves\n")], |_| {}).await;
    // Per resource: old-high leaves the mirror and goes after wave 3.
    let ns = e.target_ns("dev", "prune-last");
    let seen = v2_events(&e, "last", &ns, Some("PruneLast=true"), &[]).await;
    assert_eq!(
        seen,
        [
            "apply new-low",
            "prune old-low",
            "apply new-high",
            "prune old-high"
        ]
    );
    // The Application's option: every prune after the last wave.
    let ns = e.target_ns("dev", "prune-last-all");
    let seen = v2_events(&e, "lastall", &ns, None, &["PruneLast=true"]).await;
    assert_eq!(
        seen,
        [
            "apply new-low",
            "apply new-high",
            "prune old-high",
            "prune old-low"
        ]
    );
    e.cleanup().await;
}
