//! The cluster registry: registering, rotating and removing clusters by Secret, every
//! authentication and TLS setting, bad Secrets reported as Events, a server URL with a password
//! refused and never shown, the in-cluster entry (and a Secret for it), and connection state.

mod support;

use std::io::Write;
use std::sync::{Mutex, Once};
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

/// Everything the hubs of this test binary log (every test's), from the first [`capture_logs`].
static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the log of every hub in this process, at debug level and above, to [`LOGS`].
fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| Capture)
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "flotilla=trace,kube=debug,info",
            ))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// GET `path` on the hub's HTTP endpoint: the whole response.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// The Events of the hub namespace about object `name`.
async fn events_of(h: &HubEnv, name: &str) -> Vec<Event> {
    let events: Api<Event> = Api::namespaced(h.client.clone(), NS);
    events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect()
}

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
        let token = c.secret.config.bearer_token.as_ref()?.expose().clone();
        (token == t2 && c.state().is_connected()).then_some(())
    })
    .await;
    assert_eq!(
        h.hub().registry().by_name("dev").unwrap().revision,
        before,
        "a new token only: the same client, its sync pool kept"
    );
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
async fn a_server_url_with_a_password_is_refused_and_never_shown() {
    capture_logs();
    const PASSWORD: &str = "Leaky-Pa55word-in-the-URL";
    let h = start_hub(&["dev"], |c| {
        c.listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    wait_connected(&h, "dev").await;
    // The same server as dev's, with credentials in the URL: before the fix it was accepted,
    // reported as a duplicate server (the Event quoting the URL), logged, labelled in /metrics
    // and listed with its password.
    let dev = h.env.handle("dev");
    let leaky = dev
        .server()
        .replacen("https://", &format!("https://admin:{PASSWORD}@"), 1);
    put_secret(
        &h,
        "leaky",
        &leaky,
        json!({"tlsClientConfig": {"caData": STANDARD.encode(dev.ca_pem())}}),
        &[("env", "leaky")],
    )
    .await;
    let event = eventually(LIMIT, "Event on cluster-leaky", || async {
        events_of(&h, "cluster-leaky").await.into_iter().next()
    })
    .await;
    assert_eq!(event.reason.as_deref(), Some("InvalidClusterSecret"));
    let msg = event.message.unwrap_or_default();
    assert!(
        msg.starts_with(&format!(
            "Secret {NS}/cluster-leaky: server must not carry user info (user:password@)"
        )),
        "{msg}"
    );
    assert!(h.hub().registry().by_name("leaky").is_none());
    let invalid = h.hub().registry().secrets().1;
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].secret_name, format!("{NS}/cluster-leaky"));
    // An ApplicationSet selecting it stops, and says why, without the password.
    h.create_appset(json!({"metadata": {"name": "leaky"}, "spec": {"generators": [{"clusters": {"selector": {"matchLabels": {"env": "leaky"}}}}],
        "template": {"metadata": {"name": "x-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"server": "{{server}}"}}}}}))
        .await;
    let condition = h
        .wait_condition("leaky", "ErrorOccurred", "True", None)
        .await;
    assert!(
        condition.contains(&format!(
            "cluster Secret {NS}/cluster-leaky, which is invalid"
        )),
        "{condition}"
    );

    let metrics = http_get(h.hub().addr().unwrap(), "/metrics").await;
    assert!(metrics.contains("flotilla_cluster_info"), "{metrics}");
    let list = flotilla_cli(&h, &["cluster", "list", "--hub-context", "hub"]).await;
    let json = flotilla_cli(
        &h,
        &["cluster", "list", "--hub-context", "hub", "-o", "json"],
    )
    .await;
    let row = list
        .lines()
        .find(|l| l.starts_with("leaky "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains(dev.server()), "listed by its host: {row}");
    let events: Vec<String> = events_of(&h, "cluster-leaky")
        .await
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    let status = serde_json::to_string(&h.appsets().get("leaky").await.unwrap().status).unwrap();
    assert!(logs().contains("cluster-leaky"), "the log is captured");
    for (place, text) in [
        ("the Events", events.join("\n")),
        ("the ApplicationSet status", status),
        ("/metrics", metrics),
        ("cluster list", list),
        ("cluster list -o json", json),
        ("the hub's log", logs()),
    ] {
        assert!(
            !text.contains(PASSWORD),
            "{place} shows the password:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_cluster_secret_without_credentials_uses_the_hubs_own_configuration() {
    let h = start_hub(&["dev"], |c| c.in_cluster = true).await;
    wait_connected(&h, "dev").await;
    // Argo CD users label their hub's own cluster with such a Secret, for selectors. Before the
    // fix its client had no credentials and dialled kubernetes.default.svc literally.
    put_secret(
        &h,
        "local",
        "https://kubernetes.default.svc",
        json!({"tlsClientConfig": {"insecure": false}}),
        &[("env", "local")],
    )
    .await;
    let version = wait_connected(&h, "local").await;
    assert!(version.starts_with('v'), "{version}");
    let names = || -> Vec<String> {
        h.hub()
            .registry()
            .clusters()
            .iter()
            .map(|c| c.name().to_string())
            .collect()
    };
    assert_eq!(names(), ["dev", "local"], "it replaces the built-in entry");
    assert_eq!(
        h.hub()
            .registry()
            .by_server("https://kubernetes.default.svc")
            .unwrap()
            .name(),
        "local"
    );
    assert!(h.hub().registry().by_name("in-cluster").is_none());
    // The hub's own API answers through it: what the sync engine uses reaches the hub cluster.
    let client = h
        .hub()
        .registry()
        .by_name("local")
        .unwrap()
        .client
        .clone()
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(
        namespaces.get_opt(NS).await.unwrap().is_some(),
        "the hub cluster's namespace {NS}"
    );
    h.create_appset(json!({"metadata": {"name": "local"}, "spec": {"generators": [{"clusters": {"selector": {"matchLabels": {"env": "local"}}}}],
        "template": {"metadata": {"name": "x-{{name}}"}, "spec": {"project": "default", "source": {"repoURL": "https://g/r"}, "destination": {"server": "{{server}}"}}}}}))
        .await;
    h.wait_apps(&["x-local"]).await;
    // Deleting the Secret brings the built-in entry back.
    let api: Api<Secret> = Api::namespaced(h.client.clone(), NS);
    api.delete("cluster-local", &DeleteParams::default())
        .await
        .unwrap();
    eventually(LIMIT, "the built-in entry back", || async {
        (names() == ["dev", "in-cluster"]).then_some(())
    })
    .await;
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
    // The hub probes dev all the time: a moment with a revoked token would show as a 401.
    let h = support::hub::start_hub_with(&["dev"], &[], |c| {
        c.probe_interval = Duration::from_millis(50)
    })
    .await;
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

    // Rotation through the CLI: the hub switches to the new token and says so; only then is
    // the old one revoked.
    let refused_before = h.env.handle("dev").request_count("unauthorized", "*");
    let out = flotilla_cli(&h, &["cluster", "rotate", "dev", "--hub-context", "hub"]).await;
    let lines: Vec<&str> = out.lines().collect();
    let updated = lines
        .iter()
        .position(|l| l.starts_with("updated secret flotilla/"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        lines[updated + 1].starts_with("acknowledged secret flotilla/")
            && lines[updated + 1].contains("(the hub loaded resourceVersion "),
        "{out}"
    );
    assert!(
        lines[updated + 2].starts_with("deleted secret kube-system/"),
        "revoked after the acknowledgement: {out}"
    );
    let secret_name = lines[updated].trim_start_matches("updated secret flotilla/");
    let version = lines[updated + 1]
        .rsplit("resourceVersion ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    let stored: Secret = Api::namespaced(h.client.clone(), NS)
        .get(secret_name)
        .await
        .unwrap();
    assert_eq!(stored.metadata.resource_version.as_deref(), Some(version));
    let acks: Vec<Event> = events_of(&h, secret_name)
        .await
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some("ClusterCredentialsLoaded")
                && e.involved_object.resource_version.as_deref() == Some(version)
        })
        .collect();
    assert_eq!(acks.len(), 1, "the hub acknowledged that version");
    assert_eq!(acks[0].type_.as_deref(), Some("Normal"));
    let new = eventually(LIMIT, "rotated token in the registry", || async {
        let c = h.hub().registry().by_name("dev")?;
        let t = c.secret.config.bearer_token.as_ref()?.expose().clone();
        (t != old && c.state().is_connected()).then_some(t)
    })
    .await;
    assert!(
        !acks[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains(&new)
    );
    assert_eq!(
        h.env.handle("dev").request_count("unauthorized", "*"),
        refused_before,
        "the hub never used a revoked token"
    );
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
    assert_eq!(
        h.env.handle("dev").request_count("unauthorized", "*"),
        refused_before + 1,
        "only our own request with the old token was refused"
    );
}
