//! The safety rules: a generator error, an unreachable Git server or a template error changes
//! nothing; an empty generation deletes nothing unless allowed; duplicate names are skipped and
//! reported; a deleted cluster Secret removes only that cluster's Applications; a selected
//! cluster Secret that does not parse stops its ApplicationSets, before and after a restart.

mod support;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::git_repo::GitRepo;
use support::hub::{HubEnv, NS, list_appset, start_hub};
use support::sim::eventually;

/// Writes cluster `name`'s Secret with an unparsable `config` (labels unchanged).
async fn break_secret(h: &HubEnv, name: &str) {
    let mut s = h.cluster_secret(name, &[("env", name)]);
    s.string_data
        .as_mut()
        .unwrap()
        .insert("config".into(), "{\"bearerToken\": ".into());
    let api: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    api.patch(
        &format!("cluster-{name}"),
        &PatchParams::apply("test").force(),
        &Patch::Apply(&s),
    )
    .await
    .unwrap();
}

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
    // allowEmpty: an implementation that generated from a registry it had not listed yet (zero
    // clusters) would delete both Applications, rightly as far as it could tell.
    h.create_appset(json!({"metadata": {"name": "c"}, "spec": {
        "generators": [{"clusters": {}}],
        "syncPolicy": {"allowEmpty": true},
        "template": {"metadata": {"name": "web-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r", "path": "web"}, "destination": {"server": "{{server}}"}}}
    }})).await;
    h.wait_apps(&["web-dev", "web-prod"]).await;
    h.wait_condition("c", "ResourcesUpToDate", "True", None)
        .await;
    // The hub restarts while most requests to its API fail (lists, watches, writes alike): the
    // ApplicationSet may be listed while the Secrets are not, or the other way round.
    h.stop();
    let hub_api = h.env.handle("hub");
    let faults_before = hub_api.request_count("fault", "*");
    let failing = |rate: f64| flotilla::sim::faults::FaultConfig {
        error_rate: rate,
        ..Default::default()
    };
    // First every request fails, until several of the hub's first lists have (a count that a
    // partly failing API might never reach: once its lists get through, the hub goes quiet).
    hub_api.set_faults(failing(1.0));
    h.start(|_| {}).await;
    eventually(
        support::hub::LIMIT,
        "the hub's requests failing",
        || async { (hub_api.request_count("fault", "*") >= faults_before + 6).then_some(()) },
    )
    .await;
    // Then most of them, for a few more failures or 3 s: some lists and watches get through
    // while others are retried.
    hub_api.set_faults(failing(0.7));
    let (partly, since) = (
        hub_api.request_count("fault", "*"),
        std::time::Instant::now(),
    );
    eventually(
        support::hub::LIMIT,
        "more of the hub's requests failing",
        || async {
            (hub_api.request_count("fault", "*") >= partly + 6
                || since.elapsed() > std::time::Duration::from_secs(3))
            .then_some(())
        },
    )
    .await;
    hub_api.clear_faults();
    h.wait_condition("c", "ResourcesUpToDate", "True", None)
        .await;
    h.wait_apps(&["web-dev", "web-prod"]).await;
    assert_eq!(
        hub_api.request_count("delete", "applications.flotilla.dev"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_cluster_secret_stops_the_appsets_selecting_it_across_a_restart() {
    let mut h = start_hub(&["dev", "prod"], |_| {}).await;
    let appset = |name: &str, envs: &[&str]| {
        json!({"metadata": {"name": name}, "spec": {
            "generators": [{"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "In", "values": envs}]}}}],
            "template": {"metadata": {"name": format!("{name}-{{{{name}}}}")}, "spec": {"project": "default", "source": {"repoURL": "https://g/r", "path": "web"}, "destination": {"server": "{{server}}"}}}
        }})
    };
    h.create_appset(appset("web", &["dev", "prod"])).await;
    h.create_appset(appset("tools", &["dev"])).await;
    let all = ["tools-dev", "web-dev", "web-prod"];
    h.wait_apps(&all).await;
    for name in ["web", "tools"] {
        h.wait_condition(name, "ResourcesUpToDate", "True", None)
            .await;
    }
    let hub_api = h.env.handle("hub");
    let writes = h.hub_writes("applications.flotilla.dev");

    // Broken while the hub is down: the restarted hub never saw a valid version. Before the fix
    // it did not know the Secret at all, generated web-dev alone and deleted web-prod.
    h.stop();
    break_secret(&h, "prod").await;
    h.start(|_| {}).await;
    let msg = h
        .wait_condition(
            "web",
            "ErrorOccurred",
            "True",
            Some("ApplicationGenerationFromParamsError"),
        )
        .await;
    assert!(
        msg.contains(&format!(
            "cluster Secret {NS}/cluster-prod, which is invalid"
        )) && msg.contains("config is not valid JSON"),
        "{msg}"
    );
    // An ApplicationSet that does not select it goes on.
    let tools = h.reconciles("tools");
    h.register("dev", &[("env", "dev"), ("team", "a")]).await;
    h.wait_reconciles("tools", tools + 1).await;
    h.wait_condition("tools", "ResourcesUpToDate", "True", None)
        .await;
    h.wait_apps(&all).await;

    // Fixed: back to normal, nothing rewritten.
    h.register("prod", &[("env", "prod")]).await;
    h.wait_condition("web", "ResourcesUpToDate", "True", None)
        .await;
    h.wait_condition("web", "ErrorOccurred", "False", None)
        .await;

    // Broken while the hub runs (it knew the valid version): the same.
    break_secret(&h, "prod").await;
    let msg = h.wait_condition("web", "ErrorOccurred", "True", None).await;
    assert!(msg.contains(&format!("{NS}/cluster-prod")), "{msg}");
    h.register("prod", &[("env", "prod")]).await;
    h.wait_condition("web", "ErrorOccurred", "False", None)
        .await;
    h.wait_apps(&all).await;
    assert_eq!(
        hub_api.request_count("delete", "applications.flotilla.dev"),
        0,
        "no Application deleted"
    );
    assert_eq!(
        h.hub_writes("applications.flotilla.dev"),
        writes,
        "no Application written"
    );
}
