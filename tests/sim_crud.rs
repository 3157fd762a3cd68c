//! Simulator conformance: create, get, list, update and their errors, with kube-rs and kubectl.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams, VersionMatch};
use serde_json::json;
use support::sim::{fails, ok, start};

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    support::sim::labelled_cm(name, labels)
}

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_and_server_set_metadata() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.uid.as_ref().unwrap().len(), 36);
    assert!(meta.creation_timestamp.is_some());
    assert!(
        meta.resource_version
            .as_ref()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    assert!(meta.generation.is_none(), "configmaps have no generation");
    let got = api.get("a").await.unwrap();
    assert_eq!(got.metadata.uid, meta.uid);
    assert_eq!(got.data, created.data);

    // 409 AlreadyExists
    let (code, reason, message) = api_error(
        api.create(&PostParams::default(), &cm("a", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(message, "configmaps \"a\" already exists");

    // 404 NotFound, worded like the apiserver
    let (code, reason, message) = api_error(api.get("missing").await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (404, "NotFound", "configmaps \"missing\" not found")
    );

    // generateName
    let mut g = cm("", &[]);
    g.metadata.name = None;
    g.metadata.generate_name = Some("gen-".into());
    let made = api.create(&PostParams::default(), &g).await.unwrap();
    let name = made.metadata.name.unwrap();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");

    // A namespaced object needs its namespace.
    let nowhere: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    let (code, _, message) = api_error(
        nowhere
            .create(&PostParams::default(), &cm("x", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );

    // Invalid names are 422 Invalid.
    let (code, reason, _) = api_error(
        api.create(&PostParams::default(), &cm("Not_Valid", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_with_selectors_and_pages() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for (i, tier) in ["web", "web", "db", "cache", "web"].iter().enumerate() {
        let labels: Vec<(&str, &str)> = if i == 3 {
            vec![("tier", tier)]
        } else {
            vec![("tier", tier), ("app", "shop")]
        };
        api.create(&PostParams::default(), &cm(&format!("c{i}"), &labels))
            .await
            .unwrap();
    }
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items
            .into_iter()
            .map(|c| c.metadata.name.unwrap())
            .collect::<Vec<_>>()
    };
    let q = |s: &str| ListParams::default().labels(s);
    assert_eq!(
        names(api.list(&q("tier=web")).await.unwrap()),
        ["c0", "c1", "c4"]
    );
    assert_eq!(names(api.list(&q("tier==db")).await.unwrap()), ["c2"]);
    assert_eq!(
        names(api.list(&q("tier!=web,tier")).await.unwrap()),
        ["c2", "c3"]
    );
    assert_eq!(
        names(api.list(&q("tier in (db,cache)")).await.unwrap()),
        ["c2", "c3"]
    );
    assert_eq!(
        names(api.list(&q("tier notin (web),app")).await.unwrap()),
        ["c2"]
    );
    assert_eq!(names(api.list(&q("!app,tier")).await.unwrap()), ["c3"]);
    let by_name = ListParams::default().fields("metadata.name=c1");
    assert_eq!(names(api.list(&by_name).await.unwrap()), ["c1"]);
    let all: Api<ConfigMap> = Api::all(client.clone());
    let in_default = ListParams::default()
        .fields("metadata.namespace=default")
        .labels("tier");
    assert_eq!(all.list(&in_default).await.unwrap().items.len(), 5);
    let bad = api
        .list(&ListParams::default().fields("spec.nope=x"))
        .await
        .unwrap_err();
    assert_eq!(api_error(bad).0, 400);

    // limit / continue
    let mut seen = Vec::new();
    let mut lp = ListParams::default().labels("tier").limit(2);
    loop {
        let page = api.list(&lp).await.unwrap();
        let token = page.metadata.continue_.clone();
        if token.as_deref().is_some_and(|t| !t.is_empty()) {
            assert_eq!(page.items.len(), 2);
            assert!(
                page.metadata.remaining_item_count.is_none(),
                "not set with a selector"
            );
        }
        seen.extend(names(page));
        match token.filter(|t| !t.is_empty()) {
            Some(t) => lp = lp.continue_token(&t),
            None => break,
        }
    }
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4"]);
    let page = api.list(&ListParams::default().limit(1)).await.unwrap();
    assert!(page.metadata.remaining_item_count.unwrap() >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_read_at_a_resource_version() {
    let env = start(&["dev"]).await;
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    api.create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap();
    let first = api.list(&ListParams::default()).await.unwrap();
    let rv = first.metadata.resource_version.clone().unwrap();
    let n: u64 = rv.parse().unwrap();
    // Nothing changed since: an exact read is that state, at that resourceVersion.
    let exact = ListParams::default().at(&rv).matching(VersionMatch::Exact);
    let page = api.list(&exact).await.unwrap();
    assert_eq!(page.metadata.resource_version.as_deref(), Some(rv.as_str()));
    assert_eq!(page.items.len(), first.items.len());
    // Not older than: the current state.
    let page = api
        .list(
            &ListParams::default()
                .at(&rv)
                .matching(VersionMatch::NotOlderThan),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), first.items.len());
    api.create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    // After a change, the older state is gone, as after an etcd compaction.
    let (code, reason, message) = api_error(api.list(&exact).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (
            410,
            "Expired",
            "The resourceVersion for the provided list is too old."
        )
    );
    // A resourceVersion the store has not reached.
    let future = (n + 1000).to_string();
    let no_retry: Api<ConfigMap> =
        Api::namespaced(env.client_without_retry("dev").await, "default");
    let (code, reason, message) = api_error(
        no_retry
            .list(&ListParams::default().at(&future))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (504, "Timeout"));
    assert!(
        message.starts_with(&format!(
            "Timeout: Too large resource version: {future}, current: "
        )),
        "{message}"
    );
    // Invalid options, as ValidateListOptions words them (kube-rs refuses to send the first).
    let req =
        http::Request::get("/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact")
            .body(Vec::new())
            .unwrap();
    let client = env.client("dev").await;
    let (code, reason, message) = api_error(
        client
            .request::<kube::core::ObjectList<ConfigMap>>(req)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    let req = http::Request::get(
        "/api/v1/namespaces/default/configmaps?resourceVersion=0&resourceVersionMatch=Exact",
    )
    .body(Vec::new())
    .unwrap();
    let (code, _, message) = api_error(
        client
            .request::<kube::core::ObjectList<ConfigMap>>(req)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert_eq!(
        message,
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_cluster_has_the_kubernetes_service() {
    let env = start(&["dev"]).await;
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "service",
                "kubernetes",
                "-n",
                "default",
                "-o",
                "json",
            ],
        )
        .await);
    let svc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        svc["metadata"]["labels"],
        json!({"component": "apiserver", "provider": "kubernetes"})
    );
    assert_eq!(
        svc["spec"],
        json!({
            "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            "sessionAffinity": "None", "type": "ClusterIP"
        })
    );
    let table = ok(&env.kubectl("dev", &["get", "svc", "-n", "default"]).await);
    let row = table.lines().nth(1).unwrap_or_default();
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..5],
        ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_is_optimistic_and_status_is_separate() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let first = api
        .create(&PostParams::default(), &cm("u", &[]))
        .await
        .unwrap();
    let mut a = first.clone();
    a.data = Some([("k".to_string(), "a".to_string())].into());
    let updated = api.replace("u", &PostParams::default(), &a).await.unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        first.metadata.resource_version
    );
    // A second writer with the old resourceVersion conflicts.
    let mut b = first.clone();
    b.data = Some([("k".to_string(), "b".to_string())].into());
    let (code, reason, message) = api_error(
        api.replace("u", &PostParams::default(), &b)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        message.contains("the object has been modified"),
        "{message}"
    );
    // A write that changes nothing keeps the resourceVersion.
    let same = api
        .replace("u", &PostParams::default(), &updated)
        .await
        .unwrap();
    assert_eq!(
        same.metadata.resource_version,
        updated.metadata.resource_version
    );

    // Deployments: generation follows spec, status only via /status.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
        "status": {"replicas": 99}
    })).unwrap();
    let d = deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    assert_ne!(
        d.status.as_ref().and_then(|s| s.replicas),
        Some(99),
        "status is not set by create"
    );
    // The simulated deployment controller writes status concurrently: every read-modify-write
    // retries on a conflict, as any client of a real cluster must.
    let labelled = replace_retrying(&deployments, false, |d| {
        d.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    })
    .await;
    assert_eq!(
        labelled.metadata.generation,
        Some(1),
        "metadata changes don't bump generation"
    );
    let scaled = replace_retrying(&deployments, false, |d| {
        d.spec.as_mut().unwrap().replicas = Some(3);
        d.status = Some(serde_json::from_value(json!({"replicas": 42})).unwrap());
    })
    .await;
    assert_eq!(scaled.metadata.generation, Some(2));
    assert_ne!(
        scaled.status.as_ref().and_then(|s| s.replicas),
        Some(42),
        "main resource writes don't change status"
    );
    let st = replace_retrying(&deployments, true, |d| {
        d.status =
            Some(serde_json::from_value(json!({"replicas": 7, "observedGeneration": 2})).unwrap());
        d.spec.as_mut().unwrap().replicas = Some(9);
    })
    .await;
    assert_eq!(st.status.unwrap().replicas, Some(7));
    assert_eq!(
        st.spec.unwrap().replicas,
        Some(3),
        "/status writes don't change spec"
    );
    assert_eq!(st.metadata.generation, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_get_and_delete() {
    let env = start(&["dev"]).await;
    let manifest = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  labels: {app: shop}
data:
  color: blue
"#;
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(manifest))
        .await);
    assert!(
        out.contains("namespace/shop created") && out.contains("configmap/settings created"),
        "{out}"
    );
    let again = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(manifest))
        .await);
    assert!(again.contains("configmap/settings unchanged"), "{again}");
    let changed = manifest.replace("color: blue", "color: green");
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(&changed))
        .await);
    assert!(out.contains("configmap/settings configured"), "{out}");
    let yaml = ok(&env
        .kubectl(
            "dev",
            &["get", "configmap", "settings", "-n", "shop", "-o", "yaml"],
        )
        .await);
    assert!(yaml.contains("color: green"), "{yaml}");
    assert!(
        yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );
    let table = ok(&env
        .kubectl("dev", &["get", "configmaps", "-n", "shop"])
        .await);
    assert!(
        table.starts_with("NAME") && table.contains("settings"),
        "{table}"
    );
    let out = ok(&env
        .kubectl("dev", &["delete", "configmap", "settings", "-n", "shop"])
        .await);
    assert!(out.contains("configmap \"settings\" deleted"), "{out}");
    let err = fails(
        &env.kubectl("dev", &["get", "configmap", "settings", "-n", "shop"])
            .await,
    );
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
    let ns: Api<Namespace> = Api::all(env.client("dev").await);
    assert!(ns.get("shop").await.is_ok());
}

/// get, change, replace (or replace_status) "web", again after a 409 Conflict.
async fn replace_retrying(
    api: &Api<Deployment>,
    status: bool,
    change: impl Fn(&mut Deployment),
) -> Deployment {
    loop {
        let mut d = api.get("web").await.unwrap();
        change(&mut d);
        let result = if status {
            api.replace_status("web", &PostParams::default(), &d).await
        } else {
            api.replace("web", &PostParams::default(), &d).await
        };
        match result {
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            other => return other.unwrap(),
        }
    }
}

const BOGUS_DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        bogus: 1
"#;

/// A raw POST, to see the response's `Warning` headers.
async fn post_raw(
    client: &kube::Client,
    uri: &str,
    body: &serde_json::Value,
) -> (u16, Vec<String>, serde_json::Value) {
    let req = http::Request::post(uri)
        .header("content-type", "application/json")
        .body(kube::client::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    let status = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    use http_body_util::BodyExt;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, warnings, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_objects_decode_into_their_types() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");

    // kubectl validates strictly by default: an unknown field fails the request.
    let err = fails(
        &env.kubectl_stdin("dev", &["apply", "-f", "-"], Some(BOGUS_DEPLOYMENT))
            .await,
    );
    assert!(
        err.contains("Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.template.spec.containers[0].bogus\""),
        "{err}"
    );
    assert!(deployments.get_opt("web").await.unwrap().is_none());
    // --validate=warn: dropped, and kubectl prints the server's warning.
    let out = env
        .kubectl_stdin(
            "dev",
            &["apply", "--validate=warn", "-f", "-"],
            Some(BOGUS_DEPLOYMENT),
        )
        .await;
    let stdout = ok(&out);
    assert_eq!(stdout.trim(), "deployment.apps/web created");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Warning: unknown field \"spec.template.spec.containers[0].bogus\""),
        "{stderr}"
    );
    let stored: serde_json::Value =
        serde_json::to_value(deployments.get("web").await.unwrap()).unwrap();
    assert!(
        stored["spec"]["template"]["spec"]["containers"][0]
            .get("bogus")
            .is_none()
    );
    // --validate=false (Ignore): dropped without a word.
    let out = env
        .kubectl_stdin(
            "dev",
            &["apply", "--validate=false", "-f", "-"],
            Some(&BOGUS_DEPLOYMENT.replace("name: web}", "name: quiet}")),
        )
        .await;
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Warning"));

    // Without fieldValidation (kube-rs's default) kube-apiserver warns.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "colour": "red"}, "data": {"a": "b"}});
    let (status, warnings, body) =
        post_raw(&client, "/api/v1/namespaces/default/configmaps", &cm).await;
    assert_eq!(status, 201);
    assert_eq!(
        warnings,
        ["299 - \"unknown field \\\"metadata.colour\\\"\""]
    );
    assert!(body["metadata"].get("colour").is_none());
    let (status, _, body) = post_raw(
        &client,
        "/api/v1/namespaces/default/configmaps?fieldValidation=Bogus",
        &json!({"metadata": {"name": "x"}}),
    )
    .await;
    assert_eq!((status, body["reason"].as_str()), (422, Some("Invalid")));

    // Type errors are 400s, worded as Go's decoder words them.
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"}, "data": {"port": 8080}});
    let (status, _, body) = post_raw(&client, "/api/v1/namespaces/default/configmaps", &bad).await;
    assert_eq!(
        (status, body["reason"].as_str(), body["message"].as_str()),
        (
            400,
            Some("BadRequest"),
            Some(
                "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
            )
        )
    );
    let err = fails(
        &env.kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: x\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n    spec: {containers: [{name: x, image: nginx}]}\n",
            ),
        )
        .await,
    );
    assert!(
        err.contains("Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        "{err}"
    );

    // A merge patch whose result does not decode is the patch handler's 422.
    let patch = kube::api::Patch::Merge(json!({"spec": {"replicas": "x"}}));
    let (code, reason, message) = api_error(
        deployments
            .patch("web", &kube::api::PatchParams::default(), &patch)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(
        message.starts_with(" \"\" is invalid: patch: Invalid value: \"{")
            && message.ends_with("\": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"),
        "{message}"
    );
    // ... and an unknown field in it, with Strict, a bare strict decoding error.
    let strict = kube::api::PatchParams {
        field_validation: Some(kube::api::ValidationDirective::Strict),
        ..Default::default()
    };
    let unknown = kube::api::Patch::Merge(json!({"spec": {"paused": false, "bogus": true}}));
    let (code, _, message) = api_error(
        deployments
            .patch("web", &strict, &unknown)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (400, "strict decoding error: unknown field \"spec.bogus\"")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_objects_are_validated() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let err = fails(
        &env.kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: other}}\n    spec: {containers: [{name: web, image: nginx}]}\n",
            ),
        )
        .await,
    );
    assert!(
        err.contains("The Deployment \"bad\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`"),
        "{err}"
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let no_selector: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "nosel"},
        "spec": {"replicas": -1, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": ""}]}}}
    }))
    .unwrap();
    let e = deployments
        .create(&PostParams::default(), &no_selector)
        .await
        .unwrap_err();
    let kube::Error::Api(status) = e else {
        panic!("{e:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    // k8s-openapi sends the required selector as `{}`: an empty selector.
    assert_eq!(
        status.message,
        "Deployment.apps \"nosel\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment, spec.template.spec.containers[0].image: Required value]"
    );
    let causes: Vec<(String, String)> = status
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| (c.reason, c.field))
        .collect();
    assert_eq!(
        causes,
        [
            ("FieldValueInvalid".to_string(), "spec.replicas".to_string()),
            ("FieldValueInvalid".to_string(), "spec.selector".to_string()),
            (
                "FieldValueRequired".to_string(),
                "spec.template.spec.containers[0].image".to_string()
            )
        ]
    );
    // Without any selector, the classic pair.
    let err = fails(
        &env.kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: nosel}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n",
            ),
        )
        .await,
    );
    assert!(
        err.contains("The Deployment \"nosel\" is invalid: \n* spec.selector: Required value\n* spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"),
        "{err}"
    );

    // Services need ports in range.
    let err = fails(
        &env.kubectl(
            "dev",
            &["create", "service", "clusterip", "api", "--tcp=0:80"],
        )
        .await,
    );
    assert!(
        err.contains(
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
        ),
        "{err}"
    );

    // An update may not change the uid or a workload's selector.
    ok(&env
        .kubectl(
            "dev",
            &["create", "deployment", "web", "--image=nginx:1.27"],
        )
        .await);
    let mut d = deployments.get("web").await.unwrap();
    d.metadata.uid = Some("00000000-0000-0000-0000-000000000000".into());
    let (code, _, message) = api_error(
        deployments
            .replace("web", &PostParams::default(), &d)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (code, message.as_str()),
        (
            422,
            "Deployment.apps \"web\" is invalid: metadata.uid: Invalid value: \"00000000-0000-0000-0000-000000000000\": field is immutable"
        )
    );
    let err = fails(
        &env.kubectl(
            "dev",
            &[
                "patch",
                "deploy",
                "web",
                "--type=merge",
                "-p",
                r#"{"spec":{"selector":{"matchLabels":{"app":"api"}},"template":{"metadata":{"labels":{"app":"api"}}}}}"#,
            ],
        )
        .await,
    );
    assert!(
        err.contains("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"),
        "{err}"
    );
    // Names are DNS subdomains (namespaces and services labels).
    let err = fails(
        &env.kubectl("dev", &["create", "namespace", "Bad.Name"])
            .await,
    );
    assert!(
        err.contains(
            "The Namespace \"Bad.Name\" is invalid: metadata.name: Invalid value: \"Bad.Name\""
        ),
        "{err}"
    );
}
