//! The applications-sync policies (`--policy`, overridden per ApplicationSet by
//! `spec.syncPolicy.applicationsSync`), `preserveResourcesOnDeletion` and `preservedFields`.

mod support;

use flotilla::appset::plan::Policy;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support::hub::{HubEnv, list_appset, start_hub};
use support::sim::eventually;

/// Generates a and b, then changes a's path, drops b and adds c; returns the state after.
async fn exercise(h: &HubEnv, policy: Option<&str>) -> (Vec<String>, String) {
    let mut set = list_appset("p", &[("dev", "a"), ("dev", "b")]);
    if let Some(p) = policy {
        set["spec"]["syncPolicy"] = json!({"applicationsSync": p});
    }
    h.create_appset(set).await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    h.wait_condition("p", "ResourcesUpToDate", "True", None)
        .await;
    let mut changed = list_appset("p", &[("dev", "a"), ("dev", "c")]);
    changed["spec"]["template"]["spec"]["source"]["path"] = json!("apps/{{app}}/v2");
    let patch = json!({"spec": {"generators": changed["spec"]["generators"], "template": changed["spec"]["template"]}});
    h.appsets()
        .patch("p", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    // The status is written after every write of the pass: once it lists c, the pass is done.
    eventually(support::hub::LIMIT, "the pass that created c", || async {
        let status = h.appsets().get("p").await.ok()?.status?;
        status
            .resources
            .iter()
            .any(|r| r.name == "c-dev")
            .then_some(())
    })
    .await;
    let a_path = h
        .apps()
        .get("a-dev")
        .await
        .unwrap()
        .spec
        .source
        .unwrap()
        .path
        .unwrap();
    (h.app_names().await, a_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_creates_updates_and_deletes() {
    let h = start_hub(&["dev"], |_| {}).await;
    assert_eq!(
        exercise(&h, None).await,
        (
            vec!["a-dev".to_string(), "c-dev".to_string()],
            "apps/a/v2".to_string()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_never_deletes() {
    let h = start_hub(&["dev"], |_| {}).await;
    let names = ["a-dev", "b-dev", "c-dev"].map(String::from).to_vec();
    assert_eq!(
        exercise(&h, Some("create-update")).await,
        (names, "apps/a/v2".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_delete_never_updates() {
    let h = start_hub(&["dev"], |_| {}).await;
    assert_eq!(
        exercise(&h, Some("create-delete")).await,
        (
            vec!["a-dev".to_string(), "c-dev".to_string()],
            "apps/a".to_string()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_only_from_the_hub_flag_and_the_override_switch() {
    // The hub's --policy applies when the ApplicationSet says nothing.
    let h = start_hub(&["dev"], |c| c.controller.policy = Policy::CreateOnly).await;
    let names = ["a-dev", "b-dev", "c-dev"].map(String::from).to_vec();
    assert_eq!(exercise(&h, None).await, (names, "apps/a".to_string()));
    // With --policy-override=false the ApplicationSet's own policy is ignored.
    let h = start_hub(&["dev"], |c| {
        c.controller.policy = Policy::CreateOnly;
        c.controller.policy_override = false;
    })
    .await;
    let names = ["a-dev", "b-dev", "c-dev"].map(String::from).to_vec();
    assert_eq!(
        exercise(&h, Some("sync")).await,
        (names, "apps/a".to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_without_delete_keeps_the_applications_of_a_deleted_appset() {
    let h = start_hub(&["dev"], |_| {}).await;
    let mut set = list_appset("keep", &[("dev", "a"), ("dev", "b")]);
    set["spec"]["syncPolicy"] = json!({"applicationsSync": "create-update"});
    h.create_appset(set).await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    eventually(support::hub::LIMIT, "preserve finalizer", || async {
        let a = h.appsets().get("keep").await.ok()?;
        a.metadata
            .finalizers?
            .contains(&"flotilla.dev/preserve-applications".to_string())
            .then_some(())
    })
    .await;
    h.appsets()
        .delete("keep", &DeleteParams::default())
        .await
        .unwrap();
    eventually(support::hub::LIMIT, "ApplicationSet gone", || async {
        h.appsets()
            .get_opt("keep")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
    // A barrier through the cluster's garbage collector: another ApplicationSet deleted after
    // it, whose Application it does collect. By then it has handled `keep`'s deletion.
    h.create_appset(list_appset("probe", &[("dev", "probe")]))
        .await;
    h.wait_apps(&["a-dev", "b-dev", "probe-dev"]).await;
    h.appsets()
        .delete("probe", &DeleteParams::default())
        .await
        .unwrap();
    h.wait_apps(&["a-dev", "b-dev"]).await;
    let a = h.apps().get("a-dev").await.unwrap();
    assert!(
        a.metadata.owner_references.unwrap_or_default().is_empty(),
        "released, not collected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preserve_resources_on_deletion_and_preserved_fields() {
    let h = start_hub(&["dev"], |_| {}).await;
    let mut set = list_appset("pf", &[("dev", "a")]);
    set["spec"]["syncPolicy"] = json!({"preserveResourcesOnDeletion": true});
    set["spec"]["preservedFields"] =
        json!({"annotations": ["owner.example.com/notes"], "labels": ["pinned"]});
    h.create_appset(set).await;
    h.wait_apps(&["a-dev"]).await;
    let a = h.apps().get("a-dev").await.unwrap();
    assert!(
        a.metadata.finalizers.unwrap_or_default().is_empty(),
        "no resources finalizer with preserveResourcesOnDeletion"
    );
    // A user's preserved annotation and label stay; an unpreserved label is reverted.
    let patch = json!({"metadata": {"annotations": {"owner.example.com/notes": "hands off"}, "labels": {"pinned": "yes", "stray": "x"}}});
    h.apps()
        .patch("a-dev", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    h.refresh("pf").await;
    eventually(support::hub::LIMIT, "stray label reverted", || async {
        let a = h.apps().get("a-dev").await.ok()?;
        let labels = a.metadata.labels.clone().unwrap_or_default();
        (!labels.contains_key("stray")).then_some(a)
    })
    .await;
    let a = h.apps().get("a-dev").await.unwrap();
    assert_eq!(
        a.metadata.annotations.unwrap()["owner.example.com/notes"],
        "hands off"
    );
    assert_eq!(a.metadata.labels.unwrap()["pinned"], "yes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_policy_is_an_error_and_writes_nothing() {
    let h = start_hub(&["dev"], |_| {}).await;
    let mut set = list_appset("bad", &[("dev", "a")]);
    set["spec"]["syncPolicy"] = json!({"applicationsSync": "yolo"});
    h.create_appset(set).await;
    let msg = h
        .wait_condition(
            "bad",
            "ErrorOccurred",
            "True",
            Some("ApplicationGenerationFromParamsError"),
        )
        .await;
    assert!(
        msg.contains("yolo") && msg.contains("flotilla/bad"),
        "{msg}"
    );
    assert!(h.app_names().await.is_empty());
}
