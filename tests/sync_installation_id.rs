//! Two hubs on one target cluster (`flotilla hub --installation-id`): each has an Application
//! `web` applying into the same namespace. Each hub owns only the objects carrying its own
//! installation id: it counts, prunes and (on deletion) deletes those, and never writes the
//! other hub's objects, though both are watched by the same label.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use serde_json::json;
use support::e2e::E2e;
use support::sim::eventually;

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

fn resource_names(a: &flotilla::api::Application) -> Vec<String> {
    let mut names: Vec<String> = a
        .status
        .iter()
        .flat_map(|s| s.resources.iter().map(|r| r.name.clone()))
        .collect();
    names.sort();
    names
}

/// (uid, resourceVersion) of each ConfigMap named: proof that nobody wrote them since.
async fn versions(cms: &Api<ConfigMap>, names: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in names {
        let m = cms.get(name).await.unwrap().metadata;
        out.push((m.uid.unwrap(), m.resource_version.unwrap()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_never_touch_each_others_objects() {
    let mut e = E2e::start(
        &[
            ("apps/blue/settings.yaml", &cm("blue-settings")),
            ("apps/blue/extra.yaml", &cm("blue-extra")),
            ("apps/green/settings.yaml", &cm("green-settings")),
            ("apps/green/extra.yaml", &cm("green-extra")),
        ],
        |_| {},
    )
    .await;
    // The main hub is "blue" (no installation id with the simulator: the default), the other
    // "green", each with a hub namespace of its own.
    let green = e.start_other_hub("green", |_| {}).await;
    let green_id = if e.installation_id.is_empty() {
        "green".to_string()
    } else {
        format!("{}-green", e.installation_id)
    };
    let ns = e.target_ns("dev", "shared");
    let policy = json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]});
    e.create_app("web", "apps/blue", "dev", &ns, policy.clone())
        .await;
    e.create_app_in(&green, "web", "apps/green", "dev", &ns, policy)
        .await;
    let blue_app = e.wait_synced("web", Some("Healthy")).await;
    let green_app = e.wait_synced_in(&green, "web", Some("Healthy")).await;
    // Each counts its own objects only (the other's are no orphans of its `web`).
    assert_eq!(resource_names(&blue_app), ["blue-extra", "blue-settings"]);
    assert_eq!(
        resource_names(&green_app),
        ["green-extra", "green-settings"]
    );
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    for (name, id) in [
        ("blue-settings", e.installation_id.as_str()),
        ("green-settings", green_id.as_str()),
    ] {
        let ann = cms.get(name).await.unwrap().metadata.annotations.unwrap();
        assert_eq!(
            ann["flotilla.dev/tracking-id"],
            format!("web:/ConfigMap:{ns}/{name}")
        );
        assert_eq!(
            ann.get("flotilla.dev/installation-id").map(String::as_str),
            Some(id).filter(|i| !i.is_empty()),
            "{name}"
        );
    }

    // Blue prunes what left its path; green's objects are not written.
    let green_before = versions(&cms, &["green-settings", "green-extra"]).await;
    let rev = e.repo.remove(&["apps/blue/extra.yaml"], "blue: no extra");
    e.refresh("web").await;
    let blue_app = e
        .wait_app("web", "blue's prune", |a| {
            a.status.as_ref().is_some_and(|s| {
                s.sync
                    .as_ref()
                    .is_some_and(|x| x.status == "Synced" && x.revision.as_deref() == Some(&rev))
            }) && resource_names(a) == ["blue-settings"]
        })
        .await;
    let results = blue_app
        .status
        .unwrap()
        .operation_state
        .unwrap()
        .sync_result
        .unwrap()
        .resources;
    let pruned: Vec<&str> = results
        .iter()
        .filter(|r| r.status.as_deref() == Some("Pruned"))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(pruned, ["blue-extra"], "{results:?}");
    eventually(e.limit, "blue-extra deleted", || async {
        cms.get_opt("blue-extra")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(
        versions(&cms, &["green-settings", "green-extra"]).await,
        green_before
    );

    // Green prunes what left its path; blue's object is not written.
    let blue_before = versions(&cms, &["blue-settings"]).await;
    let rev = e.repo.remove(&["apps/green/extra.yaml"], "green: no extra");
    let patch = json!({"metadata": {"annotations": {"flotilla.dev/refresh": "normal"}}});
    e.apps_in(&green)
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap();
    e.wait_app_in(&green, "web", "green's prune", |a| {
        a.status.as_ref().is_some_and(|s| {
            s.sync
                .as_ref()
                .is_some_and(|x| x.status == "Synced" && x.revision.as_deref() == Some(&rev))
        }) && resource_names(a) == ["green-settings"]
    })
    .await;
    eventually(e.limit, "green-extra deleted", || async {
        cms.get_opt("green-extra")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    assert_eq!(versions(&cms, &["blue-settings"]).await, blue_before);

    // Deleting blue's `web` deletes blue's objects only.
    let green_before = versions(&cms, &["green-settings"]).await;
    e.apps()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    eventually(e.limit, "blue's web gone", || async {
        e.apps().get_opt("web").await.ok()?.is_none().then_some(())
    })
    .await;
    assert!(cms.get_opt("blue-settings").await.unwrap().is_none());
    assert_eq!(versions(&cms, &["green-settings"]).await, green_before);
    let green_app = e.wait_synced_in(&green, "web", Some("Healthy")).await;
    assert_eq!(resource_names(&green_app), ["green-settings"]);
    e.cleanup().await;
}
