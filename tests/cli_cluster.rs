//! `flotilla cluster add | list | rm | rotate` as a user runs them: the real binary against the
//! in-process simulator (virtual clusters `hub`, `dev`, `staging`), with every effect read back
//! from the clusters.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use flotilla::api::{ClusterSecret, SecretData, Sensitive};
use flotilla::cluster::ClientOptions;
use flotilla::cluster::client::client_for;
use flotilla::cluster::install::names::cluster_secret_name;
use flotilla::sim::faults::{FaultConfig, Mode};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use support::sim::{SimEnv, eventually, labelled_cm, start};

const HUB_NS: &str = "flotilla";

/// One run of the binary.
struct Run {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    fn assert_ok(&self) -> &Self {
        assert!(
            self.ok,
            "flotilla failed ({:?}):\n{}\n{}",
            self.code, self.stderr, self.stdout
        );
        self
    }

    /// Neither output holds any of `tokens`.
    fn assert_no_token(&self, tokens: &[&str]) {
        for t in tokens {
            assert!(t.len() > 20, "not a token");
            assert!(
                !self.stdout.contains(t) && !self.stderr.contains(t),
                "a token was printed:\n{}\n{}",
                self.stdout,
                self.stderr
            );
        }
    }
}

/// Runs `flotilla ARGS --kubeconfig KUBECONFIG` with no other kubeconfig around.
async fn flotilla_with(kubeconfig: &Path, args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("flotilla {args:?} did not finish within 60 s"))
        .unwrap();
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Runs `flotilla ARGS` with `KUBECONFIG` set to `list` (no `--kubeconfig`).
async fn flotilla_env(list: &str, args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args(args)
        .env("HOME", home.path())
        .env("KUBECONFIG", list)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("flotilla finishes")
        .unwrap();
    Run {
        ok: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// With `all.yaml`: contexts `hub`, `dev`, ...
async fn flotilla(env: &SimEnv, args: &[&str]) -> Run {
    flotilla_with(&env.dir.path().join("all.yaml"), args).await
}

fn server(env: &SimEnv, cluster: &str) -> String {
    env.handle(cluster)
        .server()
        .trim_end_matches('/')
        .to_string()
}

/// The hub's cluster Secrets (flotilla label).
async fn hub_secrets(env: &SimEnv) -> Vec<Secret> {
    let api: Api<Secret> = Api::namespaced(env.client("hub").await, HUB_NS);
    api.list(&ListParams::default().labels("flotilla.dev/secret-type=cluster"))
        .await
        .unwrap()
        .items
}

fn parse(secret: &Secret) -> ClusterSecret {
    ClusterSecret::from_secret(&SecretData::from_k8s(secret)).expect("the cluster Secret parses")
}

fn token_of(s: &Secret) -> String {
    String::from_utf8(s.data.as_ref().unwrap()["token"].0.clone()).unwrap()
}

/// A client for the cluster of `secret`, with `token` instead of its own.
async fn client_with_token(secret: &ClusterSecret, token: &str) -> kube::Client {
    let mut s = secret.clone();
    s.config.bearer_token = Some(Sensitive::new(token.to_string()));
    client_for(&s, &ClientOptions::default()).await.unwrap()
}

fn status(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other}"),
    }
}

fn rv<K: Resource>(k: &K) -> String {
    k.meta().resource_version.clone().unwrap()
}

/// resourceVersions of everything `cluster add dev` writes.
async fn versions(env: &SimEnv) -> Vec<String> {
    let dev = env.client("dev").await;
    let sa: ServiceAccount = Api::namespaced(dev.clone(), "kube-system")
        .get("flotilla-manager")
        .await
        .unwrap();
    let cr: ClusterRole = Api::all(dev.clone())
        .get("flotilla-manager-role")
        .await
        .unwrap();
    let crb: ClusterRoleBinding = Api::all(dev.clone())
        .get("flotilla-manager-role-binding")
        .await
        .unwrap();
    let tok: Secret = Api::namespaced(dev.clone(), "kube-system")
        .get("flotilla-manager-long-lived-token")
        .await
        .unwrap();
    let hub = hub_secrets(env).await;
    assert_eq!(hub.len(), 1);
    vec![rv(&sa), rv(&cr), rv(&crb), rv(&tok), rv(&hub[0])]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_registers_the_cluster_and_a_second_run_changes_nothing() {
    let env = start(&["hub", "dev"]).await;
    let run = flotilla(
        &env,
        &[
            "cluster",
            "add",
            "dev",
            "--hub-context",
            "hub",
            "--label",
            "env=dev",
        ],
    )
    .await;
    run.assert_ok();
    let secret_name = cluster_secret_name(&server(&env, "dev"));
    assert_eq!(
        run.lines(),
        [
            "created serviceaccount kube-system/flotilla-manager",
            "created clusterrole flotilla-manager-role",
            "created clusterrolebinding flotilla-manager-role-binding",
            "created secret kube-system/flotilla-manager-long-lived-token",
            "created namespace flotilla",
            &format!("created secret flotilla/{secret_name}"),
        ]
    );

    // In dev: the ServiceAccount, `*` RBAC bound to it, and a filled token Secret.
    let dev = env.client("dev").await;
    let _: ServiceAccount = Api::namespaced(dev.clone(), "kube-system")
        .get("flotilla-manager")
        .await
        .unwrap();
    let cr: ClusterRole = Api::all(dev.clone())
        .get("flotilla-manager-role")
        .await
        .unwrap();
    let rules = serde_json::to_value(cr.rules.unwrap()).unwrap();
    assert_eq!(
        rules,
        json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}])
    );
    let crb: ClusterRoleBinding = Api::all(dev.clone())
        .get("flotilla-manager-role-binding")
        .await
        .unwrap();
    assert_eq!(
        (crb.role_ref.kind.as_str(), crb.role_ref.name.as_str()),
        ("ClusterRole", "flotilla-manager-role")
    );
    let subjects = crb.subjects.unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        (
            subjects[0].kind.as_str(),
            subjects[0].name.as_str(),
            subjects[0].namespace.as_deref()
        ),
        ("ServiceAccount", "flotilla-manager", Some("kube-system"))
    );
    let tok: Secret = Api::namespaced(dev.clone(), "kube-system")
        .get("flotilla-manager-long-lived-token")
        .await
        .unwrap();
    assert_eq!(
        tok.type_.as_deref(),
        Some("kubernetes.io/service-account-token")
    );
    assert_eq!(
        tok.annotations()["kubernetes.io/service-account.name"],
        "flotilla-manager"
    );
    let token = token_of(&tok);

    // In the hub: one cluster Secret, Argo-named, that parses and holds that token.
    let secrets = hub_secrets(&env).await;
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].name_any(), secret_name);
    assert!(
        secret_name.starts_with("cluster-127.0.0.1-"),
        "{secret_name}"
    );
    assert_eq!(
        secrets[0].annotations()["flotilla.dev/managed-by"],
        "flotilla"
    );
    let c = parse(&secrets[0]);
    assert_eq!(c.name, "dev");
    assert_eq!(c.server, server(&env, "dev"));
    assert_eq!(
        c.labels,
        BTreeMap::from([("env".to_string(), "dev".to_string())])
    );
    assert_eq!(c.config.bearer_token.as_ref().unwrap().expose(), &token);
    assert_eq!(
        c.config.tls.ca_data.as_deref(),
        Some(env.handle("dev").ca_pem().as_bytes())
    );
    assert!(c.namespaces.is_empty());

    // The Secret alone reaches dev, and RBAC lets it do anything.
    let client = client_for(&c, &ClientOptions::default()).await.unwrap();
    assert_eq!(client.apiserver_version().await.unwrap().major, "1");
    let namespaces = Api::<Namespace>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        namespaces
            .items
            .iter()
            .any(|n| n.name_any() == "kube-system")
    );
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &labelled_cm("from-flotilla", &[]))
        .await
        .unwrap();
    let _: ConfigMap = Api::namespaced(dev.clone(), "default")
        .get("from-flotilla")
        .await
        .unwrap();
    run.assert_no_token(&[&token, env.handle("dev").token(), env.handle("hub").token()]);

    // Again: nothing changes, and it says so.
    let before = versions(&env).await;
    let again = flotilla(
        &env,
        &[
            "cluster",
            "add",
            "dev",
            "--hub-context",
            "hub",
            "--label",
            "env=dev",
        ],
    )
    .await;
    again.assert_ok();
    assert_eq!(
        again.lines(),
        [
            "unchanged serviceaccount kube-system/flotilla-manager",
            "unchanged clusterrole flotilla-manager-role",
            "unchanged clusterrolebinding flotilla-manager-role-binding",
            "unchanged secret kube-system/flotilla-manager-long-lived-token",
            &format!("unchanged secret flotilla/{secret_name}"),
        ]
    );
    assert_eq!(versions(&env).await, before);
    again.assert_no_token(&[&token]);

    // A new label is an update of the hub Secret only.
    let relabel = flotilla(
        &env,
        &[
            "cluster",
            "add",
            "dev",
            "--hub-context",
            "hub",
            "--label",
            "env=dev",
            "--label",
            "tier=gold",
        ],
    )
    .await;
    relabel.assert_ok();
    assert_eq!(
        relabel.lines().last().unwrap(),
        &format!("updated secret flotilla/{secret_name}")
    );
    let after = versions(&env).await;
    assert_eq!(after[..4], before[..4]);
    assert_ne!(after[4], before[4]);
    assert_eq!(parse(&hub_secrets(&env).await[0]).labels["tier"], "gold");
}

/// Three `cluster add dev` started together (as parallel CI jobs or e2e tests do) all succeed:
/// each object is created once, by whichever run is first, and the others take it. With added
/// latency every run lists before any creates, so the creates collide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_adds_of_one_cluster_all_succeed() {
    let env = start(&["hub", "dev"]).await;
    for cluster in ["hub", "dev"] {
        env.handle(cluster).set_faults(FaultConfig {
            latency_ms: 150,
            ..Default::default()
        });
    }
    let add = || flotilla(&env, &["cluster", "add", "dev", "--hub-context", "hub"]);
    let runs = tokio::join!(add(), add(), add());
    let runs = [runs.0, runs.1, runs.2];
    for run in &runs {
        run.assert_ok();
    }
    let created = |what: &str| {
        runs.iter()
            .flat_map(|r| r.lines())
            .filter(|l| l.starts_with("created ") && l.contains(what))
            .count()
    };
    assert_eq!(created("kube-system/flotilla-manager-long-lived-token"), 1);
    assert_eq!(created("secret flotilla/cluster-"), 1);
    assert_eq!(created("serviceaccount kube-system/flotilla-manager"), 1);

    let secrets = hub_secrets(&env).await;
    assert_eq!(secrets.len(), 1);
    let tok: Secret = Api::namespaced(env.client("dev").await, "kube-system")
        .get("flotilla-manager-long-lived-token")
        .await
        .unwrap();
    assert_eq!(
        parse(&secrets[0]).config.bearer_token.unwrap().expose(),
        &token_of(&tok)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_files_from_the_environment_are_merged() {
    let env = start(&["hub", "dev"]).await;
    // hub.yaml first: its current-context (hub) is the default hub context.
    let list = format!(
        "{}:{}",
        env.kubeconfig_path("hub").display(),
        env.kubeconfig_path("dev").display()
    );
    flotilla_env(&list, &["cluster", "add", "dev"])
        .await
        .assert_ok();
    let secrets = hub_secrets(&env).await;
    assert_eq!(secrets.len(), 1);
    assert_eq!(parse(&secrets[0]).server, server(&env, "dev"));
    // Neither file, nor ~/.kube/config: one line, exit 1.
    let missing = env.dir.path().join("missing.yaml");
    let run = flotilla_env(&missing.display().to_string(), &["cluster", "list"]).await;
    assert_eq!(run.code, Some(1));
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "error: kubeconfig {}: cannot be read",
            missing.display()
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaced_add_grants_only_those_namespaces() {
    let env = start(&["hub", "staging"]).await;
    let staging = env.client("staging").await;
    let namespaces: Api<Namespace> = Api::all(staging.clone());
    for ns in ["apps", "tools"] {
        let n = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(ns.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces.create(&PostParams::default(), &n).await.unwrap();
    }
    let run = flotilla(
        &env,
        &[
            "cluster",
            "add",
            "staging",
            "--hub-context",
            "hub",
            "--namespace",
            "apps",
            "--namespace",
            "tools",
        ],
    )
    .await;
    run.assert_ok();
    let lines = run.lines();
    for line in [
        "created role apps/flotilla-manager-role",
        "created rolebinding tools/flotilla-manager-role-binding",
    ] {
        assert!(lines.contains(&line), "{lines:?}");
    }
    assert!(!run.stdout.contains("clusterrole"), "{}", run.stdout);
    for ns in ["apps", "tools"] {
        let role: Role = Api::namespaced(staging.clone(), ns)
            .get("flotilla-manager-role")
            .await
            .unwrap();
        assert_eq!(
            serde_json::to_value(role.rules.unwrap()).unwrap(),
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}])
        );
        let rb: RoleBinding = Api::namespaced(staging.clone(), ns)
            .get("flotilla-manager-role-binding")
            .await
            .unwrap();
        assert_eq!(
            (rb.role_ref.kind.as_str(), rb.role_ref.name.as_str()),
            ("Role", "flotilla-manager-role")
        );
    }
    let cluster_roles: Api<ClusterRole> = Api::all(staging.clone());
    assert_eq!(
        status(
            cluster_roles
                .get("flotilla-manager-role")
                .await
                .unwrap_err()
        ),
        404
    );

    let secrets = hub_secrets(&env).await;
    assert_eq!(secrets.len(), 1);
    assert_eq!(
        secrets[0].data.as_ref().unwrap()["namespaces"].0,
        b"apps,tools"
    );
    let c = parse(&secrets[0]);
    assert_eq!(c.namespaces, ["apps", "tools"]);
    let client = client_for(&c, &ClientOptions::default()).await.unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "apps")
        .list(&ListParams::default())
        .await
        .unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "tools")
        .create(&PostParams::default(), &labelled_cm("ok", &[]))
        .await
        .unwrap();
    let everywhere = Api::<ConfigMap>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status(everywhere), 403);
    assert_eq!(
        status(
            Api::<Namespace>::all(client.clone())
                .list(&ListParams::default())
                .await
                .unwrap_err()
        ),
        403
    );
    assert_eq!(
        status(
            Api::<ConfigMap>::namespaced(client.clone(), "default")
                .list(&ListParams::default())
                .await
                .unwrap_err()
        ),
        403
    );
    run.assert_no_token(&[c.config.bearer_token.as_ref().unwrap().expose()]);

    // A namespace that does not exist: one line naming it, exit 1.
    let bad = flotilla(
        &env,
        &[
            "cluster",
            "add",
            "staging",
            "--hub-context",
            "hub",
            "--namespace",
            "nowhere",
        ],
    )
    .await;
    assert_eq!(bad.code, Some(1));
    assert_eq!(
        bad.stderr.trim(),
        "error: creating role nowhere/flotilla-manager-role in context staging: namespaces \"nowhere\" not found (404 NotFound)"
    );
}

/// Installs the Application CRD in the hub and creates Applications with these destinations.
async fn applications(env: &SimEnv, destinations: &[serde_json::Value]) {
    let hub = env.client("hub").await;
    let crd = flotilla::api::crds::all()
        .into_iter()
        .find(|(f, _)| *f == "applications.yaml")
        .unwrap()
        .1;
    Api::<CustomResourceDefinition>::all(hub.clone())
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let api: Api<DynamicObject> = Api::namespaced_with(
        hub.clone(),
        HUB_NS,
        &flotilla::cluster::install::list::application_resource(),
    );
    for (i, d) in destinations.iter().enumerate() {
        let app: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": format!("app-{i}"), "namespace": HUB_NS},
            "spec": {"project": "default", "destination": d,
                     "source": {"repoURL": "https://git.example.com/x.git", "path": "apps", "targetRevision": "HEAD"}},
        }))
        .unwrap();
        eventually(
            Duration::from_secs(10),
            "the Application CRD to be served",
            || async { api.create(&PostParams::default(), &app).await.ok() },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_versions_states_apps_and_broken_secrets() {
    let env = start(&["hub", "dev"]).await;
    // Without the Application CRD the count is 0, and so is an empty namespace fine.
    flotilla(&env, &["cluster", "add", "dev", "--hub-context", "hub"])
        .await
        .assert_ok();
    let early = flotilla(
        &env,
        &["cluster", "list", "--hub-context", "hub", "-o", "json"],
    )
    .await;
    early.assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&early.stdout).unwrap();
    assert_eq!(rows[0]["apps"], 0);

    let dev_server = server(&env, "dev");
    applications(
        &env,
        &[
            json!({"name": "dev", "namespace": "a"}),
            json!({"server": dev_server, "namespace": "b"}),
            json!({"name": "prod"}),
        ],
    )
    .await;
    // A Secret that does not parse, with something token-like in it.
    let leaked = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2VuLXZhbHVl.c2ln";
    let broken = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("broken".into()),
            labels: Some(
                [(
                    "argocd.argoproj.io/secret-type".to_string(),
                    "cluster".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        string_data: Some(
            [
                (
                    "server".to_string(),
                    "https://broken.example.com".to_string(),
                ),
                (
                    "config".to_string(),
                    format!("{{\"bearerToken\": {leaked}}}"),
                ),
            ]
            .into(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(env.client("hub").await, HUB_NS)
        .create(&PostParams::default(), &broken)
        .await
        .unwrap();

    let run = flotilla(
        &env,
        &["cluster", "list", "--hub-context", "hub", "-o", "json"],
    )
    .await;
    run.assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let version = env
        .client("dev")
        .await
        .apiserver_version()
        .await
        .unwrap()
        .git_version;
    let dev = rows.iter().find(|r| r["name"] == "dev").unwrap();
    assert_eq!(dev["server"], dev_server.as_str());
    assert_eq!(dev["version"], version.as_str());
    assert_eq!(dev["status"], "Successful");
    assert_eq!(dev["apps"], 2);
    let bad = rows.iter().find(|r| r["name"] == "broken").unwrap();
    assert_eq!(
        bad["status"],
        "Secret flotilla/broken: config is not valid JSON (syntax error at line 1, column 17)"
    );
    assert_eq!(bad["version"], serde_json::Value::Null);
    run.assert_no_token(&[leaked]);

    let table = flotilla(&env, &["cluster", "list", "--hub-context", "hub"]).await;
    table.assert_ok();
    let lines = table.lines();
    assert_eq!(lines.len(), 3, "{}", table.stdout);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SERVER", "LABELS", "VERSION", "STATUS", "APPS"]
    );
    let broken_line = lines.iter().find(|l| l.starts_with("broken ")).unwrap();
    assert!(
        broken_line.contains("config is not valid JSON"),
        "{broken_line}"
    );
    let dev_line: Vec<&str> = lines
        .iter()
        .find(|l| l.starts_with("dev "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        dev_line,
        [
            "dev",
            dev_server.as_str(),
            "-",
            version.as_str(),
            "Successful",
            "2"
        ]
    );

    // A cluster that is down, or does not answer in time: its error in one line, and the
    // command still succeeds.
    for (mode, timeout) in [(Mode::Down, "5s"), (Mode::Blackhole, "1s")] {
        env.handle("dev").set_faults(FaultConfig {
            mode,
            ..Default::default()
        });
        let started = std::time::Instant::now();
        let run = flotilla(
            &env,
            &[
                "cluster",
                "list",
                "--hub-context",
                "hub",
                "-o",
                "json",
                "--timeout",
                timeout,
            ],
        )
        .await;
        run.assert_ok();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{mode:?}: took {:?}",
            started.elapsed()
        );
        let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let dev = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "dev")
            .unwrap()
            .clone();
        let status = dev["status"].as_str().unwrap();
        assert!(
            status != "Successful" && !status.is_empty() && !status.contains('\n'),
            "{mode:?}: {status}"
        );
        assert_eq!(dev["version"], serde_json::Value::Null);
    }
    env.handle("dev").clear_faults();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_switches_to_a_working_token_and_revokes_the_old_one() {
    let env = start(&["hub", "dev"]).await;
    flotilla(&env, &["cluster", "add", "dev", "--hub-context", "hub"])
        .await
        .assert_ok();
    let before = parse(&hub_secrets(&env).await[0]);
    let old = before.config.bearer_token.clone().unwrap().expose().clone();

    // Through the kubeconfig context named like the cluster. No hub runs here: nobody
    // acknowledges the new Secret, which is said, and the old token is revoked anyway.
    let run = flotilla(
        &env,
        &[
            "cluster",
            "rotate",
            "dev",
            "--hub-context",
            "hub",
            "--hub-ack-timeout",
            "1s",
        ],
    )
    .await;
    run.assert_ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("created secret kube-system/flotilla-manager-token-"),
        "{lines:?}"
    );
    let hub_secret = format!("flotilla/{}", cluster_secret_name(&before.server));
    assert_eq!(lines[1], format!("updated secret {hub_secret}"));
    assert!(
        lines[2].starts_with(&format!(
            "unacknowledged secret {hub_secret}: no hub confirmed loading resourceVersion "
        )) && lines[2]
            .ends_with(" within 1s (none running, or it still uses the old token); a hub that starts later reads the new Secret"),
        "{lines:?}"
    );
    assert_eq!(
        lines[3],
        "deleted secret kube-system/flotilla-manager-long-lived-token"
    );
    let after = parse(&hub_secrets(&env).await[0]);
    let new = after.config.bearer_token.clone().unwrap().expose().clone();
    assert_ne!(new, old);
    assert_eq!(
        after.config.tls, before.config.tls,
        "only the token changes"
    );
    let new_secret = lines[0].trim_start_matches("created secret kube-system/");
    let held: Secret = Api::namespaced(env.client("dev").await, "kube-system")
        .get(new_secret)
        .await
        .unwrap();
    assert_eq!(token_of(&held), new);
    Api::<Namespace>::all(client_with_token(&after, &new).await)
        .list(&ListParams::default())
        .await
        .unwrap();
    let refused = Api::<Namespace>::all(client_with_token(&after, &old).await)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status(refused), 401);
    let gone = Api::<Secret>::namespaced(env.client("dev").await, "kube-system")
        .get("flotilla-manager-long-lived-token")
        .await
        .unwrap_err();
    assert_eq!(status(gone), 404);
    run.assert_no_token(&[&old, &new]);

    // Without a context for dev: with the hub Secret's own credentials.
    let hub_only = env.dir.path().join("hub.yaml");
    let run = flotilla_with(
        &hub_only,
        &["cluster", "rotate", "dev", "--hub-ack-timeout", "100ms"],
    )
    .await;
    run.assert_ok();
    assert_eq!(
        run.lines()[3],
        format!("deleted secret kube-system/{new_secret}")
    );
    let third = parse(&hub_secrets(&env).await[0])
        .config
        .bearer_token
        .unwrap()
        .expose()
        .clone();
    assert!(third != new && third != old);
    Api::<Namespace>::all(client_with_token(&after, &third).await)
        .list(&ListParams::default())
        .await
        .unwrap();
    let refused = Api::<Namespace>::all(client_with_token(&after, &new).await)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status(refused), 401);
    run.assert_no_token(&[&new, &third]);

    // `add` afterwards reuses the rotated token: nothing changes.
    let again = flotilla(&env, &["cluster", "add", "dev", "--hub-context", "hub"]).await;
    again.assert_ok();
    assert!(
        again.lines().iter().all(|l| l.starts_with("unchanged ")),
        "{}",
        again.stdout
    );

    // An unknown cluster: one line, exit 1.
    let missing = flotilla(&env, &["cluster", "rotate", "nope", "--hub-context", "hub"]).await;
    assert_eq!(missing.code, Some(1));
    assert_eq!(
        missing.stderr.trim(),
        "error: cluster \"nope\": no cluster Secret in hub namespace flotilla has that name or Secret name"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rm_removes_the_secret_and_flotilla_manager_and_is_idempotent() {
    let env = start(&["hub", "dev"]).await;
    flotilla(&env, &["cluster", "add", "dev", "--hub-context", "hub"])
        .await
        .assert_ok();
    let secret_name = cluster_secret_name(&server(&env, "dev"));
    let run = flotilla(&env, &["cluster", "rm", "dev", "--hub-context", "hub"]).await;
    run.assert_ok();
    assert_eq!(
        run.lines(),
        [
            &format!("deleted secret flotilla/{secret_name}"),
            "deleted clusterrolebinding flotilla-manager-role-binding",
            "deleted clusterrole flotilla-manager-role",
            "deleted secret kube-system/flotilla-manager-long-lived-token",
            "deleted serviceaccount kube-system/flotilla-manager",
        ]
    );
    assert!(hub_secrets(&env).await.is_empty());
    let dev = env.client("dev").await;
    assert_eq!(
        status(
            Api::<ServiceAccount>::namespaced(dev.clone(), "kube-system")
                .get("flotilla-manager")
                .await
                .unwrap_err()
        ),
        404
    );
    assert_eq!(
        status(
            Api::<ClusterRole>::all(dev.clone())
                .get("flotilla-manager-role")
                .await
                .unwrap_err()
        ),
        404
    );
    assert_eq!(
        status(
            Api::<ClusterRoleBinding>::all(dev.clone())
                .get("flotilla-manager-role-binding")
                .await
                .unwrap_err()
        ),
        404
    );
    let tokens = Api::<Secret>::namespaced(dev.clone(), "kube-system")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        tokens
            .items
            .iter()
            .all(|s| s.type_.as_deref() != Some("kubernetes.io/service-account-token")),
        "token Secrets are left"
    );

    let again = flotilla(&env, &["cluster", "rm", "dev", "--hub-context", "hub"]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_eq!(again.lines()[0], "not found cluster dev in flotilla");
    assert!(
        again.lines()[1..]
            .iter()
            .all(|l| l.starts_with("not found ")),
        "{}",
        again.stdout
    );

    // A cluster Secret flotilla did not write is kept and only loses its secret-type label.
    let mine = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("declared".into()),
            labels: Some(
                [(
                    "argocd.argoproj.io/secret-type".to_string(),
                    "cluster".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        string_data: Some(
            [
                ("name".to_string(), "declared".to_string()),
                (
                    "server".to_string(),
                    "https://declared.example.com".to_string(),
                ),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(env.client("hub").await, HUB_NS);
    secrets.create(&PostParams::default(), &mine).await.unwrap();
    let run = flotilla(&env, &["cluster", "rm", "declared", "--hub-context", "hub"]).await;
    run.assert_ok();
    assert!(
        run.stdout
            .starts_with("unlabelled secret flotilla/declared"),
        "{}",
        run.stdout
    );
    let kept = secrets.get("declared").await.unwrap();
    assert!(!kept.labels().contains_key("argocd.argoproj.io/secret-type"));
}

#[test]
fn every_cluster_command_and_flag_has_help() {
    for sub in [
        &["cluster"][..],
        &["cluster", "add"],
        &["cluster", "list"],
        &["cluster", "rm"],
        &["cluster", "rotate"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(sub)
            .arg("-h")
            .output()
            .unwrap();
        assert!(out.status.success(), "{sub:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("Usage:"), "{sub:?}");
        // Every option line has a description after the flag.
        for line in text.lines().filter(|l| l.trim_start().starts_with('-')) {
            let parts = line
                .trim()
                .split("  ")
                .filter(|p| !p.trim().is_empty())
                .count();
            assert!(parts >= 2, "{sub:?}: no help for {line:?}");
        }
    }
}

/// A re-run of `cluster add` with another scope leaves flotilla-manager exactly the rights it
/// asks for: the new ones are granted first, then what the earlier run granted beyond them is
/// revoked (after the hub's Secret names the new scope).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_with_another_scope_revokes_what_it_leaves_out() {
    let env = start(&["hub", "staging"]).await;
    let staging = env.client("staging").await;
    let namespaces: Api<Namespace> = Api::all(staging.clone());
    for ns in ["apps", "tools"] {
        let n: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&PostParams::default(), &n).await.unwrap();
    }
    let add = |extra: &'static [&'static str]| {
        let env = &env;
        async move {
            let mut args = vec!["cluster", "add", "staging", "--hub-context", "hub"];
            args.extend_from_slice(extra);
            let run = flotilla(env, &args).await;
            run.assert_ok();
            run.lines()
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        }
    };
    let cluster_roles: Api<ClusterRole> = Api::all(staging.clone());
    let cluster_bindings: Api<ClusterRoleBinding> = Api::all(staging.clone());
    let role_in = |ns: &str| Api::<Role>::namespaced(staging.clone(), ns);
    let binding_in = |ns: &str| Api::<RoleBinding>::namespaced(staging.clone(), ns);

    add(&[]).await;
    cluster_roles.get("flotilla-manager-role").await.unwrap();

    // Cluster-wide → one namespace: the ClusterRole and its binding go.
    let lines = add(&["--namespace", "apps"]).await;
    assert_has(
        &lines,
        &[
            "created role apps/flotilla-manager-role",
            "deleted clusterrolebinding flotilla-manager-role-binding",
            "deleted clusterrole flotilla-manager-role",
        ],
    );
    assert_eq!(
        status(
            cluster_roles
                .get("flotilla-manager-role")
                .await
                .unwrap_err()
        ),
        404
    );
    assert_eq!(
        status(
            cluster_bindings
                .get("flotilla-manager-role-binding")
                .await
                .unwrap_err()
        ),
        404
    );
    let c = parse(&hub_secrets(&env).await[0]);
    assert_eq!(c.namespaces, ["apps"]);
    let client = client_for(&c, &ClientOptions::default()).await.unwrap();
    Api::<ConfigMap>::namespaced(client.clone(), "apps")
        .list(&ListParams::default())
        .await
        .unwrap();
    let everywhere = Api::<ConfigMap>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status(everywhere), 403);

    // Another namespace: the first one's Role and binding go.
    let lines = add(&["--namespace", "tools"]).await;
    assert_has(
        &lines,
        &[
            "created role tools/flotilla-manager-role",
            "deleted rolebinding apps/flotilla-manager-role-binding",
            "deleted role apps/flotilla-manager-role",
        ],
    );
    assert!(
        !lines.iter().any(|l| l.contains("clusterrole")),
        "{lines:?}"
    );
    assert_eq!(
        status(
            role_in("apps")
                .get("flotilla-manager-role")
                .await
                .unwrap_err()
        ),
        404
    );
    role_in("tools").get("flotilla-manager-role").await.unwrap();
    let forbidden = Api::<ConfigMap>::namespaced(client.clone(), "apps")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(status(forbidden), 403);

    // Back to cluster-wide: the namespaced pair goes; a re-run changes nothing more.
    let lines = add(&[]).await;
    assert!(
        lines
            .iter()
            .any(|l| l == "created clusterrole flotilla-manager-role")
            && lines
                .iter()
                .any(|l| l == "deleted role tools/flotilla-manager-role"),
        "{lines:?}"
    );
    assert_eq!(
        status(
            binding_in("tools")
                .get("flotilla-manager-role-binding")
                .await
                .unwrap_err()
        ),
        404
    );
    let lines = add(&[]).await;
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("deleted") || l.starts_with("created")),
        "{lines:?}"
    );
}

/// Every line of `want` is among `lines`.
fn assert_has(lines: &[String], want: &[&str]) {
    for line in want {
        assert!(lines.iter().any(|l| l == line), "{line:?} not in {lines:?}");
    }
}
