//! Every generator kind end to end: an ApplicationSet on the hub, generators reading the
//! registered clusters and a real Git server, Applications written to the hub; git generators
//! following commits on their requeue interval and on a webhook; cluster changes reaching only
//! the ApplicationSets that select the cluster.

mod support;

use std::time::Duration;

use flotilla::observe::webhook::github_signature;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::json;
use support::git_repo::GitRepo;
use support::hub::{NS, post_webhook, start_hub};

fn template(name: &str, path: &str, dest: &str) -> serde_json::Value {
    json!({
        "metadata": {"name": name, "labels": {"team": "web"}},
        "spec": {"project": "default", "source": {"repoURL": "https://git.example.com/apps.git", "path": path}, "destination": {"name": dest, "namespace": "default"}}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_generator() {
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "l"}, "spec": {
        "generators": [{"list": {"elements": [{"cluster": "dev", "v": "1"}, {"cluster": "prod", "v": "2"}], "elementsYaml": "- cluster: qa\n  v: '3'\n"}}],
        "template": template("guestbook-{{cluster}}", "guestbook/v{{v}}", "{{cluster}}")
    }})).await;
    h.wait_apps(&["guestbook-dev", "guestbook-prod", "guestbook-qa"])
        .await;
    let qa = h.apps().get("guestbook-qa").await.unwrap();
    assert_eq!(
        qa.spec.source.unwrap().path.as_deref(),
        Some("guestbook/v3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_generator_follows_the_registry() {
    let h = start_hub(&["dev", "staging", "prod"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "c"}, "spec": {
        "generators": [{"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev", "staging", "qa"]}]}, "values": {"tier": "{{metadata.labels.env}}-tier"}}}],
        "template": template("podinfo-{{name}}", "podinfo/{{values.tier}}", "{{name}}")
    }})).await;
    h.wait_apps(&["podinfo-dev", "podinfo-staging"]).await;
    let dev = h.apps().get("podinfo-dev").await.unwrap();
    assert_eq!(
        dev.spec.source.unwrap().path.as_deref(),
        Some("podinfo/dev-tier")
    );
    assert_eq!(dev.spec.destination.name.as_deref(), Some("dev"));
    // A cluster relabelled into the selection: re-evaluated without touching the ApplicationSet.
    h.register("prod", &[("env", "qa")]).await;
    h.wait_apps(&["podinfo-dev", "podinfo-prod", "podinfo-staging"])
        .await;
    let prod = h.apps().get("podinfo-prod").await.unwrap();
    assert_eq!(
        prod.spec.source.unwrap().path.as_deref(),
        Some("podinfo/qa-tier")
    );
    // And out of it again.
    h.register("staging", &[("env", "other")]).await;
    h.wait_apps(&["podinfo-dev", "podinfo-prod"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_directories_generator_follows_commits() {
    let repo = GitRepo::new(&[
        ("apps/guestbook/deploy.yaml", "a: 1\n"),
        ("apps/podinfo/deploy.yaml", "a: 1\n"),
        ("apps/legacy/deploy.yaml", "a: 1\n"),
    ]);
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "d"}, "spec": {
        "generators": [{"git": {"repoURL": repo.url(), "revision": "main", "directories": [{"path": "apps/*"}, {"path": "apps/legacy", "exclude": true}]}}],
        "template": template("{{path.basename}}", "{{path}}", "dev")
    }})).await;
    h.wait_apps(&["guestbook", "podinfo"]).await;
    repo.commit(&[("apps/redis/deploy.yaml", "a: 1\n")], "add redis");
    h.refresh("d").await;
    h.wait_apps(&["guestbook", "podinfo", "redis"]).await;
    repo.remove(&["apps/podinfo"], "drop podinfo");
    h.refresh("d").await;
    h.wait_apps(&["guestbook", "redis"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_generator_fetches_on_its_requeue_interval() {
    let repo = GitRepo::new(&[("apps/guestbook/deploy.yaml", "a: 1\n")]);
    // Far from the default 180 s (and from the 170 s Git was cached for before the fix).
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "d"}, "spec": {
        "generators": [{"git": {"repoURL": repo.url(), "revision": "main", "directories": [{"path": "apps/*"}], "requeueAfterSeconds": 2}}],
        "template": template("{{path.basename}}", "{{path}}", "dev")
    }})).await;
    h.wait_apps(&["guestbook"]).await;
    // No refresh annotation, no webhook: the periodic pass fetches the commit.
    repo.commit(&[("apps/redis/deploy.yaml", "a: 1\n")], "add redis");
    h.wait_apps(&["guestbook", "redis"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_push_webhook_refreshes_a_git_generator() {
    let repo = GitRepo::new(&[("apps/guestbook/deploy.yaml", "a: 1\n")]);
    let h = start_hub(&["dev"], |c| {
        c.listen = Some("127.0.0.1:0".parse().unwrap());
        c.controller.resync = Duration::from_secs(3600);
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": "flotilla-webhook"}, "stringData": {"github.secret": "s3cret-hook"}})).unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    // The default requeue interval (180 s): within the test only the webhook can refresh.
    h.create_appset(json!({"metadata": {"name": "d"}, "spec": {
        "generators": [{"git": {"repoURL": repo.url(), "revision": "main", "directories": [{"path": "apps/*"}]}}],
        "template": template("{{path.basename}}", "{{path}}", "dev")
    }})).await;
    h.wait_apps(&["guestbook"]).await;
    let sha = repo.commit(&[("apps/redis/deploy.yaml", "a: 1\n")], "add redis");
    let payload = json!({"ref": "refs/heads/main", "after": sha, "repository": {"clone_url": repo.url(), "default_branch": "main"},
        "commits": [{"added": ["apps/redis/deploy.yaml"], "modified": [], "removed": []}]})
    .to_string();
    let (code, body) = post_webhook(
        h.hub().addr().unwrap(),
        &[
            ("X-GitHub-Event", "push".into()),
            (
                "X-Hub-Signature-256",
                github_signature("s3cret-hook", payload.as_bytes()),
            ),
        ],
        &payload,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"applicationSets\":[\"d\"]"), "{body}");
    h.wait_apps(&["guestbook", "redis"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_files_generator() {
    let repo = GitRepo::new(&[
        (
            "clusters/dev/config.json",
            r#"{"cluster": {"name": "dev", "replicas": 1}}"#,
        ),
        (
            "clusters/prod/config.yaml",
            "cluster:\n  name: prod\n  replicas: 3\n",
        ),
        ("clusters/prod/ignored.txt", "x"),
    ]);
    let h = start_hub(&["dev"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "f"}, "spec": {
        "generators": [{"git": {"repoURL": repo.url(), "revision": "HEAD", "files": [{"path": "clusters/*/config.json"}, {"path": "clusters/*/config.yaml"}]}}],
        "template": template("app-{{cluster.name}}", "{{path}}/r{{cluster.replicas}}", "{{cluster.name}}")
    }})).await;
    h.wait_apps(&["app-dev", "app-prod"]).await;
    let prod = h.apps().get("app-prod").await.unwrap();
    assert_eq!(
        prod.spec.source.unwrap().path.as_deref(),
        Some("clusters/prod/r3")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix_generator_git_by_clusters() {
    let repo = GitRepo::new(&[
        ("apps/guestbook/k.yaml", "x: 1\n"),
        ("apps/podinfo/k.yaml", "x: 1\n"),
    ]);
    let h = start_hub(&["dev", "staging", "prod"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "m"}, "spec": {
        "generators": [{"matrix": {"generators": [
            {"git": {"repoURL": repo.url(), "revision": "main", "directories": [{"path": "apps/*"}]}},
            {"clusters": {"selector": {"matchLabels": {"env": "{{path.basename}}-never"}}}}
        ]}}, {"matrix": {"generators": [
            {"git": {"repoURL": repo.url(), "revision": "main", "directories": [{"path": "apps/*"}]}},
            {"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]}}}
        ]}}],
        "template": template("{{path.basename}}-{{name}}", "{{path}}", "{{name}}")
    }})).await;
    h.wait_apps(&[
        "guestbook-dev",
        "guestbook-staging",
        "podinfo-dev",
        "podinfo-staging",
    ])
    .await;
    // A cluster change reaches an ApplicationSet whose cluster generator is nested in a matrix.
    h.register("prod", &[("env", "prod2")]).await;
    h.wait_apps(&[
        "guestbook-dev",
        "guestbook-prod",
        "guestbook-staging",
        "podinfo-dev",
        "podinfo-prod",
        "podinfo-staging",
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_change_reaches_only_the_matrices_selecting_it() {
    let h = start_hub(&["dev", "prod"], |c| {
        c.controller.resync = Duration::from_secs(3600)
    })
    .await;
    // Literal selectors inside matrices: one selects dev, the other prod.
    let appset = |name: &str, env: &str| {
        json!({"metadata": {"name": name}, "spec": {
            "generators": [{"matrix": {"generators": [
                {"list": {"elements": [{"app": name}]}},
                {"clusters": {"selector": {"matchLabels": {"env": env}}}}
            ]}}],
            "template": template("{{app}}-{{name}}", "{{app}}", "{{name}}")
        }})
    };
    h.create_appset(appset("on-dev", "dev")).await;
    h.create_appset(appset("on-prod", "prod")).await;
    h.wait_apps(&["on-dev-dev", "on-prod-prod"]).await;
    for name in ["on-dev", "on-prod"] {
        h.wait_condition(name, "ResourcesUpToDate", "True", None)
            .await;
        h.wait_reconciles(name, 1).await;
    }
    // dev changes (a label the generators do not read): each time on-dev is re-evaluated,
    // on-prod is not; both would be triggered by the same registry change. The first round
    // also lets whatever the hub's start triggered run out.
    let mut on_prod = 0;
    for round in ["0", "1", "2"] {
        let on_dev = h.reconciles("on-dev");
        h.register("dev", &[("env", "dev"), ("round", round)]).await;
        h.wait_reconciles("on-dev", on_dev + 1).await;
        if round == "0" {
            on_prod = h.reconciles("on-prod");
        }
    }
    assert_eq!(
        h.reconciles("on-prod"),
        on_prod,
        "an ApplicationSet that selects neither version of dev is not re-evaluated"
    );
    h.wait_apps(&["on-dev-dev", "on-prod-prod"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_generator_clusters_with_overrides() {
    let h = start_hub(&["dev", "staging", "prod"], |_| {}).await;
    h.create_appset(json!({"metadata": {"name": "g"}, "spec": {
        "generators": [{"merge": {"mergeKeys": ["name"], "generators": [
            {"clusters": {"values": {"retention": "7d"}}},
            {"list": {"elements": [{"name": "prod", "values.retention": "90d"}]}},
            {"list": {"elements": [{"name": "staging", "values.retention": "30d"}, {"name": "nowhere", "values.retention": "1d"}]}}
        ]}}],
        "template": template("prometheus-{{name}}", "prometheus/{{values.retention}}", "{{name}}")
    }})).await;
    h.wait_apps(&["prometheus-dev", "prometheus-prod", "prometheus-staging"])
        .await;
    let path = |n: &'static str| {
        let api = h.apps();
        async move { api.get(n).await.unwrap().spec.source.unwrap().path.unwrap() }
    };
    assert_eq!(path("prometheus-dev").await, "prometheus/7d");
    assert_eq!(path("prometheus-prod").await, "prometheus/90d");
    assert_eq!(path("prometheus-staging").await, "prometheus/30d");
}
