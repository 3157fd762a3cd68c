//! The ApplicationSet controller's bookkeeping: generated Applications carry a controller
//! ownerReference, deleting the ApplicationSet deletes them (garbage collection) and forgets it,
//! an unchanged pass writes nothing, the status writes of owned Applications cause no pass while
//! edits of what the controller writes do, and a hub restarted mid-way loses and duplicates
//! nothing.

mod support;

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::hub::{HubEnv, list_appset, start_hub};
use support::sim::eventually;

/// Every Application of the namespace, those being deleted included.
async fn all_apps(h: &HubEnv) -> Vec<String> {
    let mut names: Vec<String> = h
        .apps()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|a| a.metadata.name)
        .collect();
    names.sort();
    names
}

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

    assert_eq!(h.hub().appsets_tracked(), 1);
    let metrics = h.hub().metrics().render();
    assert!(metrics.contains("name=\"web\""), "{metrics}");

    // Deleting the ApplicationSet: the garbage collector deletes its Applications, and the sync
    // engine, once it has deleted what they deployed, removes their resources finalizer: they are
    // gone, not stuck being deleted.
    h.appsets()
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_apps(&[]).await;
    eventually(support::hub::LIMIT, "the Applications gone", || async {
        all_apps(&h).await.is_empty().then_some(())
    })
    .await;
    // And the controller forgets the ApplicationSet: no Git bookkeeping, no metric series left.
    eventually(
        support::hub::LIMIT,
        "the ApplicationSet forgotten",
        || async { (h.hub().appsets_tracked() == 0).then_some(()) },
    )
    .await;
    let metrics = h.hub().metrics().render();
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("flotilla_appset") && l.contains("name=\"web\"")),
        "{metrics}"
    );
}

/// A refresh of `name`, and the pass the removal of its annotation causes: returns once both
/// passes are complete.
async fn refresh_and_settle(h: &HubEnv, name: &str) {
    let passes = h.reconciles(name);
    h.refresh(name).await;
    h.wait_reconciles(name, passes + 2).await;
    let a = h.appsets().get(name).await.unwrap();
    assert!(
        !a.metadata
            .annotations
            .unwrap_or_default()
            .contains_key("flotilla.dev/refresh"),
        "the refresh is consumed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_pass_writes_nothing() {
    // The destinations are not registered: the sync engine reports each Application once
    // (Unknown) and then leaves its status alone.
    let h = start_hub(&[], |c| c.controller.resync = Duration::from_secs(3600)).await;
    h.create_appset(list_appset(
        "web",
        &[("mars", "web"), ("venus", "web"), ("mars", "api")],
    ))
    .await;
    h.wait_apps(&["api-mars", "web-mars", "web-venus"]).await;
    h.wait_condition("web", "ResourcesUpToDate", "True", None)
        .await;
    h.wait_reconciles("web", 1).await;
    eventually(support::hub::LIMIT, "every status reported", || async {
        let apps = h.apps().list(&Default::default()).await.ok()?.items;
        apps.iter()
            .all(|a| a.status.as_ref().and_then(|s| s.sync.as_ref()).is_some())
            .then_some(())
    })
    .await;
    // A first refresh brings status.resources up to date with those statuses (their writes
    // cause no pass of their own).
    refresh_and_settle(&h, "web").await;
    let writes = || {
        h.hub_writes("applications.flotilla.dev")
            + h.hub_writes("applicationsets.flotilla.dev")
            + h.hub_writes("applicationsets.flotilla.dev/status")
    };
    let before = writes();
    // A refresh forces a full pass; apart from removing the annotation, nothing is written.
    refresh_and_settle(&h, "web").await;
    // Our own refresh patch and the controller's removal of the annotation.
    assert_eq!(
        writes() - before,
        2,
        "an unchanged pass writes only the annotation removal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owned_status_writes_cause_no_pass_and_spec_edits_are_reverted() {
    // No periodic pass within the test: every pass has a cause.
    let h = start_hub(&["dev"], |c| {
        c.controller.resync = Duration::from_secs(3600)
    })
    .await;
    h.create_appset(list_appset("a", &[("dev", "a")])).await;
    h.create_appset(list_appset("b", &[("dev", "b")])).await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    for name in ["a", "b"] {
        h.wait_condition(name, "ResourcesUpToDate", "True", None)
            .await;
        h.wait_reconciles(name, 1).await;
    }
    let a_passes = h.reconciles("a");
    // Status writes, as the sync engine makes them all the time. Before the fix each one ran a
    // pass of `a`.
    for (i, health) in ["Degraded", "Healthy", "Progressing", "Missing", "Healthy"]
        .iter()
        .enumerate()
    {
        let patch = json!({"status": {"health": {"status": health}, "reconciledAt": format!("2024-01-01T00:00:0{i}Z")}});
        h.apps()
            .patch_status("a-dev", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }
    // A barrier through the same feed: an edit of b's Application, which b reverts. The status
    // events came first; a pass of `a` they caused would have run by the time b's is done.
    let b_passes = h.reconciles("b");
    let tamper = json!({"spec": {"project": "tampered"}});
    h.apps()
        .patch("b-dev", &PatchParams::default(), &Patch::Merge(&tamper))
        .await
        .unwrap();
    eventually(support::hub::LIMIT, "b-dev reverted", || async {
        (h.apps().get("b-dev").await.ok()?.spec.project == "default").then_some(())
    })
    .await;
    h.wait_reconciles("b", b_passes + 1).await;
    assert_eq!(
        h.reconciles("a"),
        a_passes,
        "no pass of a for status writes"
    );
    // An edit of what the controller writes is put back.
    h.apps()
        .patch("a-dev", &PatchParams::default(), &Patch::Merge(&tamper))
        .await
        .unwrap();
    eventually(support::hub::LIMIT, "a-dev reverted", || async {
        (h.apps().get("a-dev").await.ok()?.spec.project == "default").then_some(())
    })
    .await;
    // (The pass that put it back completes after its write.)
    h.wait_reconciles("a", a_passes + 1).await;
    // So is a deleted Application (the deletion reaches the controller too).
    let uid = h.apps().get("a-dev").await.unwrap().metadata.uid;
    h.apps()
        .delete("a-dev", &DeleteParams::default())
        .await
        .unwrap();
    eventually(support::hub::LIMIT, "a-dev recreated", || async {
        let a = h.apps().get("a-dev").await.ok()?;
        (a.metadata.uid != uid).then_some(())
    })
    .await;
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
