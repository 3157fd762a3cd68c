//! Simulator fault injection and request counters, through the library handle and the admin
//! API, observed with kube-rs, kubectl and a plain HTTPS client.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flotilla::sim::{FaultConfig, Mode};
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use support::sim::{eventually, fails, start};

/// A plain HTTPS/1.1 response.
struct Raw {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Value,
}

/// One request with a fresh connection, independent of kube-rs: rustls trusting `ca_pem`,
/// hyper's HTTP/1 client.
async fn raw(
    ca_pem: &str,
    url: &str,
    method: Method,
    token: &str,
    body: Option<Value>,
) -> std::io::Result<Raw> {
    let uri: hyper::Uri = url.parse().unwrap();
    let port = uri.port_u16().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(uri.path_and_query().unwrap().as_str())
        .header(header::HOST, format!("127.0.0.1:{port}"))
        .header(header::ACCEPT, "application/json");
    if !token.is_empty() {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let bytes = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(b.to_string())
        }
        None => Bytes::new(),
    };
    let resp = sender
        .send_request(req.body(Full::new(bytes)).unwrap())
        .await
        .map_err(std::io::Error::other)?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Ok(Raw {
        status,
        headers,
        body,
    })
}

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

fn configmaps_url(server: &str) -> String {
    format!("{server}/api/v1/namespaces/default/configmaps")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_errors_and_throttling_through_the_handle() {
    let env = start(&["dev"]).await;
    let dev = env.handle("dev");
    let client = env.client_without_retry("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();

    // Latency: every request takes at least that long.
    dev.set_faults(FaultConfig {
        latency_ms: 400,
        ..Default::default()
    });
    assert_eq!(dev.faults().latency_ms, 400);
    let t = Instant::now();
    api.get("a").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    dev.clear_faults();
    let t = Instant::now();
    api.get("a").await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );

    // Error rate 1: a 500 InternalError Status for every request.
    dev.set_faults(FaultConfig {
        error_rate: 1.0,
        ..Default::default()
    });
    for _ in 0..3 {
        let (code, reason, message) = api_error(api.get("a").await.unwrap_err());
        assert_eq!((code, reason.as_str()), (500, "InternalError"));
        assert!(
            message.starts_with("Internal error occurred: "),
            "{message}"
        );
    }
    let r = raw(
        dev.ca_pem(),
        &configmaps_url(dev.server()),
        Method::GET,
        dev.token(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        (
            r.body["kind"].as_str(),
            r.body["status"].as_str(),
            r.body["code"].as_i64()
        ),
        (Some("Status"), Some("Failure"), Some(500))
    );
    assert_eq!(r.body["reason"], "InternalError");

    // Throttle rate 1: 429 with Retry-After, as kube-apiserver's max-in-flight filter answers.
    dev.set_faults(FaultConfig {
        throttle_rate: 1.0,
        retry_after_seconds: 3,
        ..Default::default()
    });
    let r = raw(
        dev.ca_pem(),
        &configmaps_url(dev.server()),
        Method::GET,
        dev.token(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("3")
    );
    assert_eq!(
        (
            r.body["kind"].as_str(),
            r.body["reason"].as_str(),
            r.body["code"].as_i64()
        ),
        (Some("Status"), Some("TooManyRequests"), Some(429))
    );
    assert_eq!(r.body["details"]["retryAfterSeconds"], 3);
    let (code, reason, _) = api_error(api.get("a").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (429, "TooManyRequests"));

    // kube-rs's default client retries 429 after Retry-After: once the throttling ends, it succeeds.
    dev.set_faults(FaultConfig {
        throttle_rate: 1.0,
        retry_after_seconds: 1,
        ..Default::default()
    });
    let retrying: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let pending = tokio::spawn(async move { retrying.get("a").await });
    eventually(Duration::from_secs(5), "a throttled request", || async {
        (dev.request_count("fault", "*") > 0).then_some(())
    })
    .await;
    dev.clear_faults();
    let got = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("a"));

    // Back to normal: the same client, the same server URL.
    assert_eq!(dev.faults(), FaultConfig::default());
    api.get("a").await.unwrap();
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        2,
        "a and kube-root-ca.crt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoint_sets_and_reads_faults() {
    let env = start(&["dev", "prod"]).await;
    let dev = env.handle("dev");
    let admin = format!("{}/admin/clusters/dev/faults", env.sim.url());
    let ca = env.sim.ca_pem().to_string();
    let token = env.sim.admin_token().to_string();
    let api: Api<ConfigMap> = Api::namespaced(env.client_without_retry("dev").await, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();

    // `flotilla sim --kubeconfig-dir` writes the admin URL and token for the owner only, as it
    // writes the kubeconfigs (a file left by an earlier run with wider permissions too).
    let admin_file = env.dir.path().join("admin.json");
    std::fs::write(&admin_file, "{}").unwrap();
    env.sim.write_admin_file(&admin_file).unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&admin_file).unwrap()).unwrap();
    assert_eq!(
        doc,
        json!({"url": format!("{}/admin", env.sim.url()), "token": token})
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["admin.json", "dev.yaml", "all.yaml"] {
            let mode = std::fs::metadata(env.dir.path().join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }

    // The admin API wants its own token.
    let r = raw(&ca, &admin, Method::GET, "", None).await.unwrap();
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = raw(&ca, &admin, Method::GET, dev.token(), None)
        .await
        .unwrap();
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "a cluster token is no admin token"
    );

    let r = raw(&ca, &admin, Method::GET, &token, None).await.unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["mode"], "normal");
    assert_eq!(r.body["errorRate"], 0.0);

    let r = raw(
        &ca,
        &admin,
        Method::PUT,
        &token,
        Some(json!({"errorRate": 1.0})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(dev.faults().error_rate, 1.0);
    let (code, reason, _) = api_error(api.get("a").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (500, "InternalError"));
    // Other clusters are unaffected.
    let prod: Api<ConfigMap> = Api::namespaced(env.client("prod").await, "default");
    prod.list(&ListParams::default()).await.unwrap();

    // Invalid configurations are refused and change nothing.
    for bad in [
        json!({"errorRate": 1.5}),
        json!({"throttleRate": -0.1}),
        json!({"mode": "sideways"}),
        json!({"nope": 1}),
    ] {
        let r = raw(&ca, &admin, Method::PUT, &token, Some(bad.clone()))
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
    }
    assert_eq!(dev.faults().error_rate, 1.0);
    let r = raw(
        &ca,
        &format!("{}/admin/clusters/nope/faults", env.sim.url()),
        Method::GET,
        &token,
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = raw(
        &ca,
        &admin,
        Method::PUT,
        &token,
        Some(json!({"latencyMs": 300})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let t = Instant::now();
    api.get("a").await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    // Down through the admin API: the cluster's port refuses connections.
    let r = raw(
        &ca,
        &admin,
        Method::PUT,
        &token,
        Some(json!({"mode": "down"})),
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(dev.faults().mode, Mode::Down);
    let port: u16 = dev
        .server()
        .trim_start_matches("https://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepts"
    );
    assert!(api.get("a").await.is_err());
    let r = raw(&ca, &admin, Method::GET, &token, None).await.unwrap();
    assert_eq!(r.body["mode"], "down");

    // Back to normal (an empty configuration is the default one), on the same URL.
    let r = raw(&ca, &admin, Method::PUT, &token, Some(json!({})))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(dev.faults(), FaultConfig::default());
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the port is open again at once");
    let got = api.get("a").await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_hangs_only_that_cluster() {
    let env = start(&["dev", "prod"]).await;
    let dev = env.handle("dev");
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let prod: Api<ConfigMap> = Api::namespaced(env.client("prod").await, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();

    dev.set_faults(FaultConfig {
        mode: Mode::Blackhole,
        ..Default::default()
    });
    // On a connection already open (kube-rs keeps one) and on a new one.
    let hung = tokio::time::timeout(Duration::from_millis(700), api.get("a")).await;
    assert!(hung.is_err(), "a blackholed cluster answered: {hung:?}");
    let fresh = tokio::time::timeout(
        Duration::from_millis(700),
        raw(
            dev.ca_pem(),
            &configmaps_url(dev.server()),
            Method::GET,
            dev.token(),
            None,
        ),
    )
    .await;
    assert!(fresh.is_err(), "a new connection was answered");
    // kube-rs's own read timeout.
    let kc = Kubeconfig::from_yaml(&dev.kubeconfig()).unwrap();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    config.connect_timeout = Some(Duration::from_millis(500));
    config.read_timeout = Some(Duration::from_millis(500));
    let timed: Api<ConfigMap> = Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    let t = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), timed.get("a"))
        .await
        .expect("the client timeout fires")
        .unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    // kubectl's --request-timeout.
    let err = fails(
        &env.kubectl("dev", &["get", "configmap", "a", "--request-timeout=1s"])
            .await,
    );
    assert!(
        err.contains("Timeout") || err.contains("timeout") || err.contains("deadline"),
        "{err}"
    );

    // The other cluster answers at once.
    let t = Instant::now();
    prod.list(&ListParams::default()).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    dev.clear_faults();
    let got = tokio::time::timeout(Duration::from_secs(5), api.get("a"))
        .await
        .expect("answers again")
        .unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refuses_connections_until_back_to_normal() {
    let env = start(&["dev", "prod"]).await;
    let dev = env.handle("dev");
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let port: u16 = dev
        .server()
        .trim_start_matches("https://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    dev.set_faults(FaultConfig {
        mode: Mode::Down,
        ..Default::default()
    });
    let refused = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // The open connection of the kube client is gone too.
    let err = tokio::time::timeout(Duration::from_secs(5), api.get("a"))
        .await
        .expect("fails at once")
        .unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    // Through the shared port the cluster is unreachable as well; other clusters answer.
    let shared: Api<ConfigMap> = Api::namespaced(
        support::sim::client_for(&dev.kubeconfig().replace(dev.server(), dev.shared_server()))
            .await,
        "default",
    );
    assert!(shared.get("a").await.is_err());
    let prod: Api<ConfigMap> = Api::namespaced(env.client("prod").await, "default");
    prod.list(&ListParams::default()).await.unwrap();
    let err = fails(
        &env.kubectl("dev", &["get", "configmaps", "--request-timeout=5s"])
            .await,
    );
    assert!(err.contains("connection refused"), "{err}");

    dev.clear_faults();
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("the port is open again at once");
    let got = api.get("a").await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("a"));
    assert!(shared.get("a").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_counters_count_each_verb_per_cluster() {
    let env = start(&["dev", "prod"]).await;
    let dev = env.handle("dev");
    let prod = env.handle("prod");
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    // Bootstrap writes (controllers) don't count, and each test starts from zero.
    dev.reset_requests();
    prod.reset_requests();

    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    api.get("a").await.unwrap();
    api.get("a").await.unwrap();
    api.list(&ListParams::default()).await.unwrap();
    let ssa = PatchParams::apply("counter-test");
    api.patch("b", &ssa, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"x": "1"}})))
        .await
        .unwrap();
    assert_eq!(dev.request_count("create", "configmaps"), 1);
    assert_eq!(dev.request_count("get", "configmaps"), 2);
    assert_eq!(dev.request_count("list", "configmaps"), 1);
    assert_eq!(dev.request_count("apply", "configmaps"), 1);
    assert_eq!(
        dev.request_count("patch", "configmaps"),
        0,
        "server-side apply is counted as apply"
    );
    assert_eq!(dev.request_count("*", "configmaps"), 5);
    assert_eq!(dev.request_count("*", "*"), 5);

    let mut a = api.get("a").await.unwrap();
    a.data = Some([("k".to_string(), "w".to_string())].into());
    api.replace("a", &PostParams::default(), &a).await.unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"m": "1"}})),
    )
    .await
    .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Strategic(json!({"data": {"s": "1"}})),
    )
    .await
    .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    drop(stream);
    api.delete("a", &DeleteParams::default()).await.unwrap();
    api.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("none=here"),
    )
    .await
    .unwrap();
    let counts: Vec<(&str, u64)> = [
        "get",
        "list",
        "watch",
        "create",
        "update",
        "patch",
        "apply",
        "delete",
        "deletecollection",
    ]
    .into_iter()
    .map(|v| (v, dev.request_count(v, "configmaps")))
    .collect();
    assert_eq!(
        counts,
        [
            ("get", 3),
            ("list", 1),
            ("watch", 1),
            ("create", 1),
            ("update", 1),
            ("patch", 2),
            ("apply", 1),
            ("delete", 1),
            ("deletecollection", 1)
        ]
    );
    let listed = dev.requests();
    assert!(
        listed
            .iter()
            .any(|c| c.verb == "patch" && c.resource == "configmaps" && c.count == 2),
        "{listed:?}"
    );

    // Other resources are counted under their own (group-qualified) name.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), "default");
    let _ = deployments.get("none").await.unwrap_err();
    assert_eq!(dev.request_count("get", "deployments.apps"), 1);
    assert_eq!(dev.request_count("get", "configmaps"), 3);

    // Counters are per virtual cluster.
    assert_eq!(prod.request_count("*", "*"), 0);
    let prod_api: Api<ConfigMap> = Api::namespaced(env.client("prod").await, "default");
    prod_api.list(&ListParams::default()).await.unwrap();
    assert_eq!(prod.request_count("list", "configmaps"), 1);
    assert_eq!(dev.request_count("list", "configmaps"), 1);

    // The admin API shows and resets them.
    let url = format!("{}/admin/clusters/dev/requests", env.sim.url());
    let r = raw(
        env.sim.ca_pem(),
        &url,
        Method::GET,
        env.sim.admin_token(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let entry = r.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["verb"] == "get" && c["resource"] == "configmaps")
        .cloned();
    assert_eq!(entry.map(|c| c["count"].clone()), Some(json!(3)));
    dev.reset_requests();
    assert_eq!(dev.request_count("*", "*"), 0);
    assert_eq!(
        prod.request_count("list", "configmaps"),
        1,
        "resetting one cluster leaves the others"
    );
    api.get("b").await.unwrap();
    assert_eq!(dev.request_count("get", "configmaps"), 1);
    let r = raw(
        env.sim.ca_pem(),
        &url,
        Method::DELETE,
        env.sim.admin_token(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(dev.request_count("*", "*"), 0);
}
