//! The safety rules: a generator error, an unreachable Git server or a template error changes
//! nothing; an empty generation deletes nothing unless allowed; duplicate names are skipped and
//! reported; a deleted cluster Secret removes only that cluster's Applications.

mod support;

use kube::api::{Patch, PatchParams};
use serde_json::json;
use support::git_repo::GitRepo;
use support::hub::{list_appset, start_hub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_server_stopped_mid_test_changes_nothing() {
    let mut repo = GitRepo::new(&[("apps/a/k.yaml", "x: 1\n"), ("apps/b/k.yaml", "x: 1\n")]);
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "g"}, "spec": {
        "generators": [{"git": {"repoURL": repo.url(), "revision": "main", "directories": [{"path": "apps/*"}]}}],
        "template": {"metadata": {"name": "{{path.basename}}"}, "spec": {"project": "default", "source": {"repoURL": repo.url(), "path": "{{path}}"}, "destination": {"name": "dev"}}}
    }})).await;
    h.wait_apps(&["a", "b"]).await;
    h.wait_condition("g", "ResourcesUpToDate", "True", None)
        .await;
    let writes = h.hub_writes("applications.flotilla.dev");
    repo.daemon.stop();
    h.refresh("g").await;
    let msg = h
        .wait_condition(
            "g",
            "ErrorOccurred",
            "True",
            Some("ApplicationGenerationFromParamsError"),
        )
        .await;
    assert!(
        msg.contains("flotilla/g") && msg.contains(&repo.url()),
        "{msg}"
    );
    h.wait_condition("g", "ResourcesUpToDate", "False", Some("ErrorOccurred"))
        .await;
    h.wait_condition("g", "ParametersGenerated", "False", None)
        .await;
    assert_eq!(
        h.appsets()
            .get("g")
            .await
            .unwrap()
            .status
            .unwrap()
            .health
            .unwrap()
            .status,
        "Degraded"
    );
    h.wait_apps(&["a", "b"]).await;
    assert_eq!(
        h.hub_writes("applications.flotilla.dev"),
        writes,
        "no Application write while Git is down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_and_template_errors_change_nothing() {
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(list_appset("e", &[("dev", "a"), ("dev", "b")]))
        .await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    h.wait_condition("e", "ResourcesUpToDate", "True", None)
        .await;
    let writes = h.hub_writes("applications.flotilla.dev");
    // A matrix with one child is a generator error; the Applications stay.
    let patch = json!({"spec": {"generators": [{"matrix": {"generators": [{"list": {"elements": [{"cluster": "dev", "app": "a"}]}}]}}]}});
    h.appsets()
        .patch("e", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let msg = h
        .wait_condition(
            "e",
            "ErrorOccurred",
            "True",
            Some("ApplicationGenerationFromParamsError"),
        )
        .await;
    assert!(msg.contains("two child generators"), "{msg}");
    // A template whose helper call is broken is a render error.
    let patch = json!({"spec": {"generators": [{"list": {"elements": [{"cluster": "dev", "app": "a"}]}}],
        "template": {"metadata": {"name": "{{trunc app}}-x"}}}});
    h.appsets()
        .patch("e", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let msg = h
        .wait_condition(
            "e",
            "ErrorOccurred",
            "True",
            Some("RenderTemplateParamsError"),
        )
        .await;
    assert!(msg.contains("flotilla/e"), "{msg}");
    h.wait_apps(&["a-dev", "b-dev"]).await;
    assert_eq!(h.hub_writes("applications.flotilla.dev"), writes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_generation_deletes_nothing_unless_allowed() {
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(list_appset("z", &[("dev", "a"), ("dev", "b")]))
        .await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    let patch = json!({"spec": {"generators": [{"list": {"elements": []}}]}});
    h.appsets()
        .patch("z", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let msg = h
        .wait_condition(
            "z",
            "ErrorOccurred",
            "True",
            Some("ApplicationDeletionRefused"),
        )
        .await;
    assert!(
        msg.contains("no Applications where 2 exist") && msg.contains("allowEmpty"),
        "{msg}"
    );
    h.wait_apps(&["a-dev", "b-dev"]).await;
    // Opting in deletes them.
    let patch = json!({"spec": {"syncPolicy": {"allowEmpty": true}}});
    h.appsets()
        .patch("z", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    h.wait_apps(&[]).await;
    h.wait_condition("z", "ResourcesUpToDate", "True", None)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_cluster_secrets_remove_only_their_applications() {
    let h = start_hub(&["dev", "prod"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "c"}, "spec": {
        "generators": [{"clusters": {}}],
        "template": {"metadata": {"name": "web-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r", "path": "web"}, "destination": {"server": "{{server}}"}}}
    }})).await;
    h.wait_apps(&["web-dev", "web-prod"]).await;
    h.unregister("prod").await;
    h.wait_apps(&["web-dev"]).await;
    // The last cluster going away is an empty generation: nothing deleted.
    h.unregister("dev").await;
    h.wait_condition(
        "c",
        "ErrorOccurred",
        "True",
        Some("ApplicationDeletionRefused"),
    )
    .await;
    h.wait_apps(&["web-dev"]).await;
    h.register("dev", &[("env", "dev")]).await;
    h.wait_condition("c", "ResourcesUpToDate", "True", None)
        .await;
    h.wait_apps(&["web-dev"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_are_skipped_and_reported() {
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(list_appset("d", &[("dev", "a"), ("dev", "b")]))
        .await;
    h.wait_apps(&["a-dev", "b-dev"]).await;
    // Two more elements render names that exist already: the first occurrence wins, the others
    // are reported, nothing is deleted, and the rest of the pass goes on (c is created).
    let elements = json!([{"cluster": "dev", "app": "a"}, {"cluster": "dev", "app": "b"}, {"cluster": "dev", "app": "b", "x": "1"}, {"cluster": "dev", "app": "a", "x": "2"}, {"cluster": "dev", "app": "c"}]);
    let patch = json!({"spec": {"generators": [{"list": {"elements": elements}}]}});
    h.appsets()
        .patch("d", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let msg = h
        .wait_condition(
            "d",
            "ErrorOccurred",
            "True",
            Some("ApplicationValidationError"),
        )
        .await;
    assert_eq!(
        msg,
        "ApplicationSet d contains applications with duplicate name: a-dev (and 1 more)"
    );
    h.wait_apps(&["a-dev", "b-dev", "c-dev"]).await;
    h.wait_condition("d", "ResourcesUpToDate", "False", Some("ErrorOccurred"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_hub_api_never_leads_to_deletes() {
    let mut h = start_hub(&["dev", "prod"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "c"}, "spec": {
        "generators": [{"clusters": {}}],
        "template": {"metadata": {"name": "web-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r", "path": "web"}, "destination": {"server": "{{server}}"}}}
    }})).await;
    h.wait_apps(&["web-dev", "web-prod"]).await;
    h.wait_condition("c", "ResourcesUpToDate", "True", None)
        .await;
    // The hub restarts while most requests to its API fail (lists, watches, writes alike).
    h.stop();
    let hub_api = h.env.handle("hub");
    hub_api.set_faults(flotilla::sim::faults::FaultConfig {
        error_rate: 0.7,
        ..Default::default()
    });
    h.start(|_| {}).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    hub_api.clear_faults();
    h.wait_condition("c", "ResourcesUpToDate", "True", None)
        .await;
    h.wait_apps(&["web-dev", "web-prod"]).await;
    assert_eq!(
        hub_api.request_count("delete", "applications.flotilla.dev"),
        0
    );
}
