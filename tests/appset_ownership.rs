//! The ApplicationSet controller's bookkeeping: generated Applications carry a controller
//! ownerReference, deleting the ApplicationSet deletes them (garbage collection), an unchanged
//! pass writes nothing, and a hub restarted mid-way loses and duplicates nothing.

mod support;

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::hub::{list_appset, start_hub};
use support::sim::eventually;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_applications_are_owned_and_collected_with_their_appset() {
    let h = start_hub(&["dev", "prod"], |_| {}).await;
    let set = h
        .create_appset(list_appset("web", &[("dev", "web"), ("prod", "web")]))
        .await;
    h.wait_apps(&["web-dev", "web-prod"]).await;
    let msg = h
        .wait_condition(
            "web",
            "ResourcesUpToDate",
            "True",
            Some("ApplicationSetUpToDate"),
        )
        .await;
    assert_eq!(msg, "All applications have been generated successfully");
    let app = h.apps().get("web-dev").await.unwrap();
    let owner = &app.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.kind.as_str(),
            owner.name.as_str(),
            owner.uid.as_str(),
            owner.controller
        ),
        (
            "ApplicationSet",
            "web",
            set.metadata.uid.as_deref().unwrap(),
            Some(true)
        )
    );
    assert_eq!(
        app.metadata.labels.as_ref().unwrap()["flotilla.dev/application-set"],
        "web"
    );
    assert_eq!(app.spec.destination.name.as_deref(), Some("dev"));
    let status = h.appsets().get("web").await.unwrap().status.unwrap();
    assert_eq!(status.resources_count, Some(2));
    assert_eq!(
        status
            .resources
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["web-dev", "web-prod"]
    );
    assert_eq!(status.health.unwrap().status, "Healthy");

    // Deleting the ApplicationSet: the garbage collector takes its Applications (they carry the
    // resources finalizer, which the sync engine removes; here they are at least being deleted).
    h.appsets()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_apps(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_pass_writes_nothing() {
    let h = start_hub(&["dev", "prod"], |_| {}).await;
    h.create_appset(list_appset(
        "web",
        &[("dev", "web"), ("prod", "web"), ("dev", "api")],
    ))
    .await;
    h.wait_apps(&["api-dev", "web-dev", "web-prod"]).await;
    h.wait_condition("web", "ResourcesUpToDate", "True", None)
        .await;
    // Let the passes triggered by our own writes settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = h.hub_writes("applications.flotilla.dev")
        + h.hub_writes("applicationsets.flotilla.dev")
        + h.hub_writes("applicationsets.flotilla.dev/status");
    // A refresh forces a full pass; apart from removing the annotation, nothing is written.
    h.refresh("web").await;
    eventually(support::hub::LIMIT, "refresh consumed", || async {
        let a = h.appsets().get("web").await.ok()?;
        (!a.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("flotilla.dev/refresh"))
        .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = h.hub_writes("applications.flotilla.dev")
        + h.hub_writes("applicationsets.flotilla.dev")
        + h.hub_writes("applicationsets.flotilla.dev/status");
    // Our own refresh patch and the controller's removal of the annotation.
    assert_eq!(
        after - before,
        2,
        "an unchanged pass writes only the annotation removal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_restarted_mid_way_loses_and_duplicates_nothing() {
    let elements: Vec<(String, String)> = (0..200)
        .map(|i| ("dev".to_string(), format!("app{i:03}")))
        .collect();
    let refs: Vec<(&str, &str)> = elements
        .iter()
        .map(|(c, a)| (c.as_str(), a.as_str()))
        .collect();
    // Few writes in flight, so the hub is stopped half-way through creating them.
    let mut h = start_hub(&["dev"], |c| c.controller.write_concurrency = 2).await;
    h.create_appset(list_appset("many", &refs)).await;
    eventually(support::hub::LIMIT, "some Applications", || async {
        let n = h.app_names().await.len();
        (n > 10).then_some(())
    })
    .await;
    h.stop();
    let partial = h.app_names().await.len();
    assert!(partial < 200, "stopped mid-way ({partial})");
    // A user edit while the hub is down is reverted after the restart.
    let patch = json!({"spec": {"project": "tampered"}});
    h.apps()
        .patch("app000-dev", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    h.start(|c| c.controller.write_concurrency = 20).await;
    let want: Vec<String> = refs.iter().map(|(c, a)| format!("{a}-{c}")).collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    h.wait_apps(&want).await;
    h.wait_condition("many", "ResourcesUpToDate", "True", None)
        .await;
    eventually(support::hub::LIMIT, "the edit reverted", || async {
        (h.apps().get("app000-dev").await.ok()?.spec.project == "default").then_some(())
    })
    .await;
    let status = h.appsets().get("many").await.unwrap().status.unwrap();
    assert_eq!(status.resources_count, Some(200));
    // Exactly one Application per name: creates of an existing name were not retried as new objects.
    let all = h.apps().list(&Default::default()).await.unwrap().items;
    assert_eq!(all.len(), 200);
}
