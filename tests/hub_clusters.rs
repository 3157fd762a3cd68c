//! The cluster registry: registering, rotating and removing clusters by Secret, every
//! authentication and TLS setting, bad Secrets reported as Events, the in-cluster entry, and
//! connection state.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::{Event, Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::hub::{HubEnv, NS, start_hub};
use support::sim::eventually;

const LIMIT: Duration = Duration::from_secs(20);

/// Waits until the registry knows cluster `name` and its last probe succeeded.
async fn wait_connected(h: &HubEnv, name: &str) -> String {
    eventually(LIMIT, &format!("{name} connected"), || async {
        let c = h.hub().registry().by_name(name)?;
        let s = c.state();
        s.is_connected()
            .then(|| s.server_version.clone().unwrap_or_default())
    })
    .await
}

async fn put_secret(
    h: &HubEnv,
    name: &str,
    server: &str,
    config: serde_json::Value,
    labels: &[(&str, &str)],
) {
    let mut l: std::collections::BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("argocd.argoproj.io/secret-type".into(), "cluster".into());
    let s: Secret = serde_json::from_value(json!({
        "metadata": {"name": format!("cluster-{name}"), "namespace": NS, "labels": l},
        "stringData": {"name": name, "server": server, "config": config.to_string()}
    }))
    .unwrap();
    let api: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    api.patch(
        &format!("cluster-{name}"),
        &PatchParams::apply("test").force(),
        &Patch::Apply(&s),
    )
    .await
    .unwrap();
}

/// A ServiceAccount with cluster-wide `*` rights in `cluster`, and a token Secret `token` for it;
/// returns the token once the token controller filled it in.
async fn service_account_token(h: &HubEnv, cluster: &str, token: &str) -> String {
    let c = h.env.client(cluster).await;
    let sas: Api<ServiceAccount> = Api::namespaced(c.clone(), "kube-system");
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "flotilla-manager"}})).unwrap();
    let _ = sas.create(&PostParams::default(), &sa).await;
    let roles: Api<ClusterRole> = Api::all(c.clone());
    let role: ClusterRole = serde_json::from_value(json!({"metadata": {"name": "flotilla-manager-role"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]})).unwrap();
    let _ = roles.create(&PostParams::default(), &role).await;
    let bindings: Api<ClusterRoleBinding> = Api::all(c.clone());
    let binding: ClusterRoleBinding = serde_json::from_value(json!({"metadata": {"name": "flotilla-manager-role-binding"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "flotilla-manager-role"},
        "subjects": [{"kind": "ServiceAccount", "name": "flotilla-manager", "namespace": "kube-system"}]})).unwrap();
    let _ = bindings.create(&PostParams::default(), &binding).await;
    let secrets: Api<Secret> = Api::namespaced(c, "kube-system");
    let s: Secret = serde_json::from_value(json!({"metadata": {"name": token, "annotations": {"kubernetes.io/service-account.name": "flotilla-manager"}}, "type": "kubernetes.io/service-account-token"})).unwrap();
    secrets.create(&PostParams::default(), &s).await.unwrap();
    eventually(LIMIT, "token filled in", || async {
        let s = secrets.get(token).await.ok()?;
        let t = s.data?.get("token")?.0.clone();
        Some(String::from_utf8(t).unwrap())
    })
    .await
}

fn token_config(token: &str, ca: &str) -> serde_json::Value {
    json!({"bearerToken": token, "tlsClientConfig": {"caData": STANDARD.encode(ca)}})
}

/// A request to `cluster` with `token`: the HTTP status.
async fn status_with_token(h: &HubEnv, cluster: &str, token: &str) -> u16 {
    let handle = h.env.handle(cluster);
    let kubeconfig = handle.kubeconfig().replace(handle.token(), token);
    let client = support::sim::client_for(&kubeconfig).await;
    let ns: Api<Namespace> = Api::all(client);
    match ns.list(&ListParams::default()).await {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_rotating_and_removing_a_cluster() {
    let h = start_hub(&[], |_| {}).await;
    let _other = h.env.sim.add_cluster("dev").await.unwrap();
    let ca = h.env.handle("dev").ca_pem().to_string();
    let server = h.env.handle("dev").server().to_string();
    let t1 = service_account_token(&h, "dev", "token-1").await;
    put_secret(
        &h,
        "dev",
        &server,
        token_config(&t1, &ca),
        &[("env", "dev")],
    )
    .await;
    let version = wait_connected(&h, "dev").await;
    assert!(version.starts_with('v'), "{version}");
    // An ApplicationSet over the cluster keeps its Application throughout.
    h.create_appset(json!({"metadata": {"name": "c"}, "spec": {"generators": [{"clusters": {}}],
        "template": {"metadata": {"name": "web-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"server": "{{server}}"}}}}}))
        .await;
    h.wait_apps(&["web-dev"]).await;
    h.wait_condition("c", "ResourcesUpToDate", "True", None)
        .await;
    let app_writes = h.hub_writes("applications.flotilla.dev");

    // Rotation: a new token, the Secret switched to it, only then the old one revoked.
    let t2 = service_account_token(&h, "dev", "token-2").await;
    assert_ne!(t1, t2);
    let before = h.hub().registry().by_name("dev").unwrap().revision;
    put_secret(
        &h,
        "dev",
        &server,
        token_config(&t2, &ca),
        &[("env", "dev")],
    )
    .await;
    eventually(LIMIT, "new Secret picked up without a restart", || async {
        let c = h.hub().registry().by_name("dev")?;
        (c.revision != before && c.state().is_connected()).then_some(())
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(h.env.client("dev").await, "kube-system");
    secrets
        .delete("token-1", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        status_with_token(&h, "dev", &t1).await,
        401,
        "the old token is refused"
    );
    assert_eq!(status_with_token(&h, "dev", &t2).await, 200);
    // The hub's client keeps working: a fresh probe succeeds after the revocation.
    let probes = h.env.handle("dev").request_count("get", "/version");
    eventually(LIMIT, "probed again after the revocation", || async {
        let c = h.hub().registry().by_name("dev")?;
        (h.env.handle("dev").request_count("get", "/version") > probes + 1
            && c.state().is_connected())
        .then_some(())
    })
    .await;
    h.wait_apps(&["web-dev"]).await;
    assert_eq!(
        h.hub_writes("applications.flotilla.dev"),
        app_writes,
        "rotation changes no Application"
    );

    // Removal drops the client.
    let api: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    api.delete("cluster-dev", &DeleteParams::default())
        .await
        .unwrap();
    eventually(LIMIT, "cluster dropped", || async {
        h.hub().registry().by_name("dev").is_none().then_some(())
    })
    .await;
    assert!(h.hub().registry().clusters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authentication_and_tls_setting() {
    // One virtual cluster per Secret: clusters are keyed by server URL.
    let h = start_hub(&["dev", "c1", "c2", "c3", "c4", "c5"], |_| {}).await;
    let dev = h.env.handle("dev");
    let ca = dev.ca_pem().to_string();
    let server = |n: &str| h.env.handle(n).server().to_string();
    // Client certificate (an administrator's), verified against the CA.
    let cert = dev.client_cert("alice", Some("system:masters")).unwrap();
    let cfg = json!({"tlsClientConfig": {"caData": STANDARD.encode(&ca), "certData": STANDARD.encode(&cert.cert_pem), "keyData": STANDARD.encode(&cert.key_pem)}});
    put_secret(&h, "c1", &server("c1"), cfg, &[]).await;
    wait_connected(&h, "c1").await;
    // insecure: no CA at all.
    put_secret(
        &h,
        "c2",
        &server("c2"),
        json!({"bearerToken": h.env.handle("c2").token(), "tlsClientConfig": {"insecure": true}}),
        &[],
    )
    .await;
    wait_connected(&h, "c2").await;
    // serverName: the certificate is for kubernetes.default.svc, not for the address dialled.
    let cfg = json!({"bearerToken": h.env.handle("c3").token(), "tlsClientConfig": {"caData": STANDARD.encode(&ca), "serverName": "kubernetes.default.svc"}});
    put_secret(&h, "c3", &server("c3"), cfg, &[]).await;
    wait_connected(&h, "c3").await;
    let cfg = json!({"bearerToken": h.env.handle("c4").token(), "tlsClientConfig": {"caData": STANDARD.encode(&ca), "serverName": "wrong.example.com"}});
    put_secret(&h, "c4", &server("c4"), cfg, &[]).await;
    // Basic auth is sent; the simulator, like kube-apiserver since 1.19, ignores it, so the hub
    // has no credentials there: /version answers (anonymous), /api is 401, and the probe says so.
    put_secret(&h, "c5", &server("c5"), json!({"username": "admin", "password": "s3cret-pw", "tlsClientConfig": {"caData": STANDARD.encode(&ca)}}), &[]).await;
    for name in ["c4", "c5"] {
        let err = eventually(LIMIT, &format!("{name} fails"), || async {
            h.hub().registry().by_name(name)?.state().last_error
        })
        .await;
        assert!(!err.contains("s3cret-pw"), "{err}");
    }
    let err = h
        .hub()
        .registry()
        .by_name("c5")
        .unwrap()
        .state()
        .last_error
        .unwrap();
    assert!(
        err.contains("refuses the hub's credentials") && err.contains("401 Unauthorized"),
        "{err}"
    );
    let dbg = format!("{:?}", h.hub().registry().by_name("c5").unwrap());
    assert!(
        !dbg.contains("s3cret-pw") && !dbg.contains(dev.token()),
        "Debug output redacts credentials"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_secrets_are_reported_on_the_secret_and_never_crash_the_hub() {
    let h = start_hub(&["dev"], |_| {}).await;
    wait_connected(&h, "dev").await;
    let api: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    let bad = |name: &str, data: serde_json::Value| -> Secret {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": NS, "labels": {"flotilla.dev/secret-type": "cluster"}}, "stringData": data})).unwrap()
    };
    for (name, data) in [
        ("no-server", json!({"name": "x", "config": "{}"})),
        (
            "bad-json",
            json!({"name": "y", "server": "https://127.0.0.1:1", "config": "{\"bearerToken\": \"tok-123\","}),
        ),
        (
            "bad-ca",
            json!({"name": "z", "server": "https://127.0.0.1:1", "config": "{\"bearerToken\": \"tok-456\", \"tlsClientConfig\": {\"caData\": \"%%%\"}}"}),
        ),
        (
            "bad-pem",
            json!({"name": "w", "server": "https://127.0.0.1:1", "config": format!("{{\"bearerToken\": \"tok-789\", \"tlsClientConfig\": {{\"caData\": \"{}\"}}}}", STANDARD.encode("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"))}),
        ),
    ] {
        api.create(&PostParams::default(), &bad(name, data))
            .await
            .unwrap();
    }
    let events: Api<Event> = Api::namespaced(h.client.clone(), NS);
    for name in ["no-server", "bad-json", "bad-ca", "bad-pem"] {
        let e = eventually(LIMIT, &format!("Event on {name}"), || async {
            events
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .into_iter()
                .find(|e| e.involved_object.name.as_deref() == Some(name))
        })
        .await;
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.reason.as_deref(), Some("InvalidClusterSecret"));
        let msg = e.message.unwrap();
        assert!(msg.contains(&format!("{NS}/{name}")), "{msg}");
        assert!(!msg.contains("tok-"), "{msg}");
    }
    // The valid cluster is still registered and connected; the hub goes on. A Secret in the
    // right format whose certificate cannot be read is registered, with the error as its state.
    assert!(
        h.hub()
            .registry()
            .by_name("dev")
            .unwrap()
            .state()
            .is_connected()
    );
    let w = h.hub().registry().by_name("w").unwrap();
    assert!(
        w.client.is_none()
            && w.state()
                .last_error
                .unwrap()
                .contains(&format!("{NS}/bad-pem"))
    );
    for name in ["x", "y", "z"] {
        assert!(
            h.hub().registry().by_name(name).is_none(),
            "{name} is not registered"
        );
    }
    // A valid Secret that turns bad keeps its last valid registration.
    let mut s = h.cluster_secret("dev", &[("env", "dev")]);
    s.string_data
        .as_mut()
        .unwrap()
        .insert("config".into(), "{not json".into());
    api.patch(
        "cluster-dev",
        &PatchParams::apply("test").force(),
        &Patch::Apply(&s),
    )
    .await
    .unwrap();
    eventually(LIMIT, "Event on cluster-dev", || async {
        events
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.involved_object.name.as_deref() == Some("cluster-dev"))
    })
    .await;
    let dev = h
        .hub()
        .registry()
        .by_name("dev")
        .expect("the last valid version stays");
    assert!(dev.client.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_cluster_entry_and_unreachable_clusters() {
    let h = start_hub(&["dev"], |c| c.in_cluster = true).await;
    wait_connected(&h, "dev").await;
    let names: Vec<String> = h
        .hub()
        .registry()
        .clusters()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names, ["dev", "in-cluster"]);
    h.create_appset(json!({"metadata": {"name": "all"}, "spec": {"generators": [{"clusters": {}}],
        "template": {"metadata": {"name": "x-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"server": "{{server}}"}}}}}))
        .await;
    h.wait_apps(&["x-dev", "x-in-cluster"]).await;
    wait_connected(&h, "in-cluster").await;
    // A cluster that goes down shows the error in its state; the others are unaffected.
    wait_connected(&h, "dev").await;
    h.env.handle("dev").set_faults(flotilla::sim::FaultConfig {
        mode: flotilla::sim::Mode::Down,
        ..Default::default()
    });
    let err = eventually(LIMIT, "dev unreachable", || async {
        h.hub().registry().by_name("dev")?.state().last_error
    })
    .await;
    assert!(err.contains("onnect") || err.contains("refused"), "{err}");
    assert!(
        h.hub()
            .registry()
            .by_name("in-cluster")
            .unwrap()
            .state()
            .is_connected()
    );
    h.env.handle("dev").clear_faults();
    wait_connected(&h, "dev").await;

    let h = start_hub(&["dev"], |c| c.in_cluster = false).await;
    assert!(h.hub().registry().by_name("in-cluster").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_endpoints() {
    let h = start_hub(&["dev"], |c| {
        c.listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    wait_connected(&h, "dev").await;
    let addr = h.hub().addr().unwrap();
    let get = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get("/readyz").await.starts_with("HTTP/1.1 200"));
    let metrics = get("/metrics").await;
    let server = h.env.handle("dev").server().to_string();
    assert!(
        metrics.contains(&format!(
            "flotilla_cluster_connection_status{{name=\"dev\",server=\"{server}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(!metrics.contains(h.env.handle("dev").token()));
}

/// Runs the real `flotilla` with the simulator's `all.yaml` (contexts hub, dev, ...).
async fn flotilla_cli(h: &HubEnv, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .arg("--kubeconfig")
        .arg(h.env.dir.path().join("all.yaml"))
        .env_remove("KUBECONFIG")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "flotilla {args:?}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_add_and_rotate_through_the_cli_while_the_hub_runs() {
    let h = support::hub::start_hub_with(&["dev"], &[], |_| {}).await;
    let out = flotilla_cli(
        &h,
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
    assert!(
        out.contains("serviceaccount kube-system/flotilla-manager"),
        "{out}"
    );
    // The registry accepts the Secret the CLI wrote and connects with its token.
    wait_connected(&h, "dev").await;
    let c = h.hub().registry().by_name("dev").unwrap();
    assert_eq!(c.secret.labels.get("env").map(String::as_str), Some("dev"));
    let old = c
        .secret
        .config
        .bearer_token
        .as_ref()
        .unwrap()
        .expose()
        .clone();
    assert_ne!(
        old,
        h.env.handle("dev").token(),
        "a ServiceAccount token, not the admin one"
    );
    h.create_appset(json!({"metadata": {"name": "c"}, "spec": {"generators": [{"clusters": {"selector": {"matchLabels": {"env": "dev"}}}}],
        "template": {"metadata": {"name": "web-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"server": "{{server}}"}}}}}))
        .await;
    h.wait_apps(&["web-dev"]).await;

    // Rotation through the CLI: the hub switches to the new token; the old one is refused.
    flotilla_cli(&h, &["cluster", "rotate", "dev", "--hub-context", "hub"]).await;
    let new = eventually(LIMIT, "rotated token in the registry", || async {
        let c = h.hub().registry().by_name("dev")?;
        let t = c.secret.config.bearer_token.as_ref()?.expose().clone();
        (t != old && c.state().is_connected()).then_some(t)
    })
    .await;
    assert_eq!(status_with_token(&h, "dev", &old).await, 401);
    assert_eq!(status_with_token(&h, "dev", &new).await, 200);
    let probes = h.env.handle("dev").request_count("get", "/version");
    eventually(LIMIT, "probed with the new token", || async {
        let c = h.hub().registry().by_name("dev")?;
        (h.env.handle("dev").request_count("get", "/version") > probes + 1
            && c.state().is_connected())
        .then_some(())
    })
    .await;
    h.wait_apps(&["web-dev"]).await;
}
