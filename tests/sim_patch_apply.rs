//! Simulator conformance: JSON merge patch, JSON patch, strategic merge patch, server-side
//! apply and managedFields, kubectl apply (client- and server-side), diff, kustomize, dry-run.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::Status;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use std::time::Duration;

use support::sim::{SimEnv, eventually, fails, ok, start};

fn api_status(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn cm(name: &str, data: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "shop"}},
        "data": data,
    }))
    .unwrap()
}

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "app", "image": "shop:1",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 9090, "name": "metrics"}]},
                    {"name": "sidecar", "image": "proxy:1"}
                ]}
            }
        }
    }))
    .unwrap()
}

fn containers(d: &Deployment) -> Value {
    serde_json::to_value(
        &d.spec
            .as_ref()
            .unwrap()
            .template
            .spec
            .as_ref()
            .unwrap()
            .containers,
    )
    .unwrap()
}

/// `(manager, operation, fieldsV1)` of each managedFields entry.
fn managed(meta: &kube::api::ObjectMeta) -> Vec<(String, String, Value)> {
    meta.managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
                m.fields_v1
                    .as_ref()
                    .map(|f| f.0.clone())
                    .unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// A JSON patch (RFC 6902) of a ConfigMap in `default`, sent raw: kube-rs's `Patch::Json` needs
/// its `jsonpatch` feature.
async fn json_patch(
    client: &kube::Client,
    name: &str,
    ops: Value,
) -> Result<ConfigMap, kube::Error> {
    let req = hyper::Request::patch(format!("/api/v1/namespaces/default/configmaps/{name}"))
        .header(hyper::header::CONTENT_TYPE, "application/json-patch+json")
        .body(serde_json::to_vec(&ops).unwrap())
        .unwrap();
    client.request::<ConfigMap>(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_merge_patch_and_json_patch() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &cm("cfg", json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();

    // Merge patch: null deletes, maps merge.
    let merge = json!({"data": {"a": null, "c": "3"}, "metadata": {"labels": {"tier": "web"}}});
    let patched = api
        .patch("cfg", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&patched.data).unwrap(),
        json!({"b": "2", "c": "3"})
    );
    assert_eq!(
        serde_json::to_value(&patched.metadata.labels).unwrap(),
        json!({"app": "shop", "tier": "web"})
    );
    let unlabel = json!({"metadata": {"labels": null}});
    let patched = api
        .patch("cfg", &PatchParams::default(), &Patch::Merge(&unlabel))
        .await
        .unwrap();
    assert!(patched.metadata.labels.is_none());

    // JSON patch: add, remove, replace.
    let ops = json!([
        {"op": "add", "path": "/data/d", "value": "4"},
        {"op": "remove", "path": "/data/b"},
        {"op": "replace", "path": "/data/c", "value": "30"},
        {"op": "add", "path": "/metadata/annotations", "value": {"note": "x"}}
    ]);
    let patched = json_patch(&client, "cfg", ops).await.unwrap();
    assert_eq!(
        serde_json::to_value(&patched.data).unwrap(),
        json!({"c": "30", "d": "4"})
    );
    assert_eq!(patched.metadata.annotations.as_ref().unwrap()["note"], "x");
    let rv = patched.metadata.resource_version.clone();

    // A failed test op: 422 and nothing written.
    let ops = json!([
        {"op": "test", "path": "/data/c", "value": "wrong"},
        {"op": "replace", "path": "/data/c", "value": "never"}
    ]);
    let s = api_status(json_patch(&client, "cfg", ops).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        s.message,
        "the server rejected our request due to an error in our request"
    );
    let causes = s.details.unwrap().causes;
    assert_eq!(causes[0].reason, "UnexpectedServerResponse");
    assert_eq!(
        causes[0].message,
        "testing value /data/c failed: test failed"
    );
    let s = api_status(
        json_patch(
            &client,
            "cfg",
            json!([{"op": "remove", "path": "/data/missing"}]),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    let now = api.get("cfg").await.unwrap();
    assert_eq!(now.metadata.resource_version, rv);
    assert_eq!(now.data.unwrap()["c"], "30");

    // Patching what is not there is 404.
    let s = api_status(
        api.patch("nope", &PatchParams::default(), &Patch::Merge(&merge))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (s.code, s.message.as_str()),
        (404, "configmaps \"nope\" not found")
    );

    // kubectl patch, merge and json, and a patch that changes nothing.
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "patch",
                "configmap",
                "cfg",
                "--type=merge",
                "-p",
                r#"{"data":{"e":"5"}}"#,
            ],
        )
        .await);
    assert_eq!(out.trim(), "configmap/cfg patched");
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "patch",
                "configmap",
                "cfg",
                "--type=merge",
                "-p",
                r#"{"data":{"e":"5"}}"#,
            ],
        )
        .await);
    assert_eq!(out.trim(), "configmap/cfg patched (no change)");
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "patch",
                "configmap",
                "cfg",
                "--type=json",
                "-p",
                r#"[{"op":"remove","path":"/data/e"}]"#,
            ],
        )
        .await);
    assert_eq!(out.trim(), "configmap/cfg patched");
    let err = fails(
        &env.kubectl(
            "dev",
            &[
                "patch",
                "configmap",
                "cfg",
                "--type=json",
                "-p",
                r#"[{"op":"test","path":"/data/c","value":"no"}]"#,
            ],
        )
        .await,
    );
    assert!(
        err.contains("testing value /data/c failed: test failed"),
        "{err}"
    );
    let data = ok(&env
        .kubectl(
            "dev",
            &["get", "configmap", "cfg", "-o", "jsonpath={.data}"],
        )
        .await);
    assert_eq!(
        serde_json::from_str::<Value>(&data).unwrap(),
        json!({"c": "30", "d": "4"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategic_merge_patch_on_a_deployment() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment())
        .await
        .unwrap();

    // Containers merge by name, env by name, ports by containerPort.
    let smp = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "app", "image": "shop:2",
        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
        "ports": [{"containerPort": 8080, "name": "web"}]
    }]}}}});
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(&smp))
        .await
        .unwrap();
    let c = containers(&d);
    assert_eq!(c.as_array().unwrap().len(), 2, "{c}");
    assert_eq!(c[0]["name"], "app");
    assert_eq!(c[0]["image"], "shop:2");
    assert_eq!(
        c[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(
        c[0]["ports"],
        json!([{"containerPort": 8080, "name": "web", "protocol": "TCP"}, {"containerPort": 9090, "name": "metrics", "protocol": "TCP"}])
    );
    assert_eq!(c[1]["name"], "sidecar");
    assert_eq!(c[1]["image"], "proxy:1");
    assert_eq!(d.metadata.generation, Some(2));

    // `$patch: delete` removes an item by its key.
    let delete = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"},
        {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}
    ]}}}});
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(&delete))
        .await
        .unwrap();
    let c = containers(&d);
    assert_eq!(c.as_array().unwrap().len(), 1, "{c}");
    assert_eq!(
        c[0]["env"],
        json!([{"name": "B", "value": "20"}, {"name": "C", "value": "3"}])
    );
    // `$patch: replace` replaces a list whole.
    let replace = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "Z", "value": "26"}, {"$patch": "replace"}]}
    ]}}}});
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Strategic(&replace))
        .await
        .unwrap();
    assert_eq!(
        containers(&d)[0]["env"],
        json!([{"name": "Z", "value": "26"}])
    );
    // A JSON merge patch replaces lists instead.
    let merge =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x:1"}]}}}});
    let d = api
        .patch("web", &PatchParams::default(), &Patch::Merge(&merge))
        .await
        .unwrap();
    let c = containers(&d);
    assert_eq!(c.as_array().unwrap().len(), 1);
    assert_eq!(
        (c[0]["name"].as_str(), c[0].get("env")),
        (Some("only"), None)
    );

    // kubectl patch defaults to strategic.
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "patch",
                "deployment",
                "web",
                "-p",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"extra","image":"e:1"}]}}}}"#,
            ],
        )
        .await);
    assert_eq!(out.trim(), "deployment.apps/web patched");
    let names = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.spec.template.spec.containers[*].name}",
            ],
        )
        .await);
    // New items go before the server-only ones (normalizeElementOrder).
    assert_eq!(names, "extra only");

    // Custom resources refuse strategic merge patch.
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              items: {type: array, items: {type: string}}
"#;
    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(crd))
        .await);
    ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for",
                "condition=established",
                "--timeout=20s",
                "crd/widgets.example.com",
            ],
        )
        .await);
    let ar = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut w = DynamicObject::new("w", &ar);
    w.data = json!({"spec": {"items": ["a"]}});
    support::sim::eventually(std::time::Duration::from_secs(10), "widgets served", || {
        let widgets = widgets.clone();
        let w = w.clone();
        async move { widgets.create(&PostParams::default(), &w).await.ok() }
    })
    .await;
    let s = api_status(
        widgets
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Strategic(&json!({"spec": {"items": ["b"]}})),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (415, "UnsupportedMediaType"));
    assert_eq!(
        s.message,
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
    let patched = widgets
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"items": ["b"]}})),
        )
        .await
        .unwrap();
    assert_eq!(
        patched.data["spec"]["items"],
        json!(["b"]),
        "merge patch replaces the list"
    );
    let err = fails(
        &env.kubectl(
            "dev",
            &["patch", "widget", "w", "-p", r#"{"spec":{"items":["c"]}}"#],
        )
        .await,
    );
    assert!(
        err.contains("UnsupportedMediaType") || err.contains("unknown format"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_with_kube_rs() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let config = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "labels": {"owner": "a"}}, "data": data});
    let a = PatchParams::apply("mgr-a");
    let b = PatchParams::apply("mgr-b");

    // Create by applying.
    let created = api
        .patch(
            "ssa",
            &a,
            &Patch::Apply(config(json!({"x": "1", "y": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&created.data).unwrap(),
        json!({"x": "1", "y": "2"})
    );
    assert_eq!(
        managed(&created.metadata),
        [(
            "mgr-a".to_string(),
            "Apply".to_string(),
            json!({"f:data": {"f:x": {}, "f:y": {}}, "f:metadata": {"f:labels": {"f:owner": {}}}})
        )]
    );
    let entry = &created.metadata.managed_fields.as_ref().unwrap()[0];
    assert_eq!(entry.api_version.as_deref(), Some("v1"));
    assert_eq!(entry.fields_type.as_deref(), Some("FieldsV1"));
    assert!(entry.time.is_some());
    // Re-applying the same thing changes nothing.
    let again = api
        .patch(
            "ssa",
            &a,
            &Patch::Apply(config(json!({"x": "1", "y": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(
        again.metadata.resource_version,
        created.metadata.resource_version
    );

    // A field the manager stops applying is removed.
    let dropped = api
        .patch("ssa", &a, &Patch::Apply(config(json!({"x": "1"}))))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&dropped.data).unwrap(),
        json!({"x": "1"})
    );

    // Another manager with a different value conflicts ...
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"x": "other"}});
    let s = api_status(
        api.patch("ssa", &b, &Patch::Apply(&other))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        s.message,
        "Apply failed with 1 conflict: conflict with \"mgr-a\": .data.x"
    );
    let cause = &s.details.unwrap().causes[0];
    assert_eq!(
        (
            cause.reason.as_str(),
            cause.message.as_str(),
            cause.field.as_str()
        ),
        ("FieldManagerConflict", "conflict with \"mgr-a\"", ".data.x")
    );
    // ... the same value is shared ...
    let same = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"x": "1", "z": "b"}});
    let shared = api.patch("ssa", &b, &Patch::Apply(&same)).await.unwrap();
    let m = managed(&shared.metadata);
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(
        m[1],
        (
            "mgr-b".to_string(),
            "Apply".to_string(),
            json!({"f:data": {"f:x": {}, "f:z": {}}})
        )
    );
    assert_eq!(m[0].2["f:data"], json!({"f:x": {}}));
    // ... so a shared field stays when one of its managers lets go of it.
    let b_lets_go = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"z": "b"}});
    let kept = api
        .patch("ssa", &b, &Patch::Apply(&b_lets_go))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&kept.data).unwrap(),
        json!({"x": "1", "z": "b"})
    );
    // ... and force takes a field over.
    let forced = api
        .patch("ssa", &b.clone().force(), &Patch::Apply(&other))
        .await
        .unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["x"], "other");
    assert!(
        forced.data.as_ref().unwrap().get("z").is_none(),
        "z is no longer applied by mgr-b"
    );
    let m = managed(&forced.metadata);
    let a_fields = &m.iter().find(|e| e.0 == "mgr-a").unwrap().2;
    assert!(
        a_fields.get("f:data").is_none(),
        "mgr-a lost .data.x: {a_fields}"
    );
    assert_eq!(
        m.iter().find(|e| e.0 == "mgr-b").unwrap().2,
        json!({"f:data": {"f:x": {}}})
    );
    let s = api_status(
        api.patch("ssa", &a, &Patch::Apply(config(json!({"x": "1"}))))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "Apply failed with 1 conflict: conflict with \"mgr-b\": .data.x"
    );

    // Apply needs a field manager; a non-apply writer conflicts as `"name" using version`.
    let s = api_status(
        api.patch("ssa", &PatchParams::default(), &Patch::Apply(&other))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
        )
    );
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = serde_json::to_value(deployment()).unwrap();
    deployments
        .patch("web", &a, &Patch::Apply(&d))
        .await
        .unwrap();
    let scale = PatchParams {
        field_manager: Some("scaler".into()),
        ..Default::default()
    };
    deployments
        .patch(
            "web",
            &scale,
            &Patch::Merge(&json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    let s = api_status(
        deployments
            .patch("web", &a, &Patch::Apply(&d))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "Apply failed with 1 conflict: conflict with \"scaler\" using apps/v1: .spec.replicas"
    );
    // Without replicas in the applied config, the scaler keeps it.
    let mut no_replicas = d.clone();
    no_replicas["spec"]
        .as_object_mut()
        .unwrap()
        .remove("replicas");
    let d = deployments
        .patch("web", &a, &Patch::Apply(&no_replicas))
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(5));
    let m = managed(&d.metadata);
    let scaler = m.iter().find(|e| e.0 == "scaler").unwrap();
    assert_eq!(scaler.1, "Update");
    assert_eq!(scaler.2, json!({"f:spec": {"f:replicas": {}}}));
    let applier = &m.iter().find(|e| e.0 == "mgr-a").unwrap().2;
    assert!(
        applier
            .pointer("/f:spec/f:template/f:spec/f:containers/k:{\"name\":\"app\"}/f:image")
            .is_some(),
        "containers are keyed by name: {applier}"
    );
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, team: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports:
        - containerPort: 80
"#;

async fn deployment_json(env: &SimEnv) -> Value {
    let out = env
        .kubectl(
            "dev",
            &[
                "get",
                "deployment",
                "web",
                "-o",
                "json",
                "--show-managed-fields",
            ],
        )
        .await;
    serde_json::from_str(&ok(&out)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_that_defaulting_undoes_changes_nothing() {
    let env = start(&["dev"]).await;
    ok(&env
        .kubectl(
            "dev",
            &["create", "deployment", "web", "--image=nginx:1.27"],
        )
        .await);
    // Once Available, the status writes of the simulated controller stop.
    ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for=condition=Available",
                "deploy/web",
                "--timeout=30s",
            ],
        )
        .await);
    let before = deployment_json(&env).await;
    assert_eq!(before["spec"]["revisionHistoryLimit"], 10);
    // kube-apiserver defaults the patched object as it decodes it: revisionHistoryLimit comes
    // back as 10, the spec is unchanged, so nothing is written.
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "patch",
                "deploy",
                "web",
                "--type=json",
                "-p",
                r#"[{"op":"remove","path":"/spec/revisionHistoryLimit"}]"#,
            ],
        )
        .await);
    assert_eq!(out.trim(), "deployment.apps/web patched (no change)");
    let after = deployment_json(&env).await;
    assert_eq!(after["metadata"], before["metadata"]);
    assert_eq!(after["spec"], before["spec"]);
    // A real change still moves both.
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "patch",
                "deploy",
                "web",
                "--type=json",
                "-p",
                r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"#,
            ],
        )
        .await);
    assert_eq!(out.trim(), "deployment.apps/web patched");
    let changed = deployment_json(&env).await;
    assert_eq!(changed["metadata"]["generation"], 2);
    assert_ne!(
        changed["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply() {
    let env = start(&["dev"]).await;
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "--server-side", "-f", "-"], Some(WEB))
        .await);
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let live = deployment_json(&env).await;
    // Besides the controller's status entry, one Apply entry of kubectl's.
    let entries: Vec<&Value> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manager"] != "kube-controller-manager")
        .collect();
    assert_eq!(entries.len(), 1, "{:#}", live["metadata"]);
    assert_eq!(
        (
            entries[0]["manager"].as_str(),
            entries[0]["operation"].as_str()
        ),
        (Some("kubectl"), Some("Apply"))
    );
    let fields = &entries[0]["fieldsV1"];
    assert_eq!(
        fields["f:metadata"],
        json!({"f:labels": {"f:app": {}, "f:team": {}}})
    );
    assert_eq!(
        fields["f:spec"]["f:selector"],
        json!({}),
        "a LabelSelector is atomic"
    );
    assert!(
        fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"]["f:ports"]
            .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
            .is_some(),
        "{fields}"
    );
    assert!(
        live["metadata"]["annotations"]
            .get("kubectl.kubernetes.io/last-applied-configuration")
            .is_none()
    );

    // Edit the file: a new image, the team label dropped.
    let edited = WEB
        .replace("nginx:1.27", "nginx:1.28")
        .replace(", team: shop", "");
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "--server-side", "-f", "-"], Some(&edited))
        .await);
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let live = deployment_json(&env).await;
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.28"
    );
    assert_eq!(live["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(live["metadata"]["generation"], 2);

    // Another field manager conflicts, unless it forces.
    let theirs = edited.replace("nginx:1.28", "nginx:1.29");
    let err = fails(
        &env.kubectl_stdin(
            "dev",
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(&theirs),
        )
        .await,
    );
    assert!(
        err.contains(
            r#"conflict with "kubectl": .spec.template.spec.containers[name="web"].image"#
        ),
        "{err}"
    );
    let out = ok(&env
        .kubectl_stdin(
            "dev",
            &[
                "apply",
                "--server-side",
                "--field-manager=other",
                "--force-conflicts",
                "-f",
                "-",
            ],
            Some(&theirs),
        )
        .await);
    assert_eq!(out.trim(), "deployment.apps/web serverside-applied");
    let live = deployment_json(&env).await;
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.29"
    );
    let managers: Vec<(&str, &str)> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manager"] != "kube-controller-manager")
        .map(|e| {
            (
                e["manager"].as_str().unwrap(),
                e["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(managers, [("kubectl", "Apply"), ("other", "Apply")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_client_side_apply() {
    let env = start(&["dev"]).await;
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(WEB))
        .await);
    assert_eq!(out.trim(), "deployment.apps/web created");
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(WEB))
        .await);
    assert_eq!(out.trim(), "deployment.apps/web unchanged");
    // Someone else labels it; the next apply keeps that label but drops what the file dropped.
    ok(&env
        .kubectl("dev", &["label", "deployment", "web", "extra=kept"])
        .await);
    let edited = WEB
        .replace(", team: shop", "")
        .replace("replicas: 2", "replicas: 3");
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(&edited))
        .await);
    assert_eq!(out.trim(), "deployment.apps/web configured");
    let live = deployment_json(&env).await;
    assert_eq!(
        live["metadata"]["labels"],
        json!({"app": "web", "extra": "kept"})
    );
    assert_eq!(live["spec"]["replicas"], 3);
    let last: Value = serde_json::from_str(
        live["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last["spec"]["replicas"], 3);
    assert_eq!(last["metadata"]["labels"], json!({"app": "web"}));
    let managers: Vec<(&str, &str)> = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap(),
                e["operation"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("kubectl-client-side-apply", "Update")),
        "{managers:?}"
    );
    assert!(
        managers.contains(&("kubectl-label", "Update")),
        "{managers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_diff_uses_server_dry_run() {
    let env = start(&["dev"]).await;
    let h = env.handle("dev");
    // Not there yet: the whole object is new.
    let out = env
        .kubectl_stdin("dev", &["diff", "-f", "-"], Some(WEB))
        .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("+  name: web") && diff.contains("+  replicas: 2"),
        "{diff}"
    );
    let deployments: Api<Deployment> = Api::namespaced(env.client("dev").await, "default");
    assert!(
        deployments.get_opt("web").await.unwrap().is_none(),
        "diff created nothing"
    );

    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(WEB))
        .await);
    // Let the deployment controller settle, so that status does not move under the diff.
    let before = eventually(Duration::from_secs(15), "the rollout", || {
        let deployments = deployments.clone();
        async move {
            let d = deployments.get("web").await.ok()?;
            let s = d.status.clone()?;
            (s.observed_generation == Some(1)
                && s.available_replicas == Some(2)
                && s.updated_replicas == Some(2))
            .then_some(d)
        }
    })
    .await;
    let out = env
        .kubectl_stdin("dev", &["diff", "-f", "-"], Some(WEB))
        .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    h.reset_requests();
    let changed = WEB.replace("replicas: 2", "replicas: 5");
    let out = env
        .kubectl_stdin("dev", &["diff", "-f", "-"], Some(&changed))
        .await;
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("-  replicas: 2") && diff.contains("+  replicas: 5"),
        "{diff}"
    );
    assert!(
        diff.contains("-  generation: 1") && diff.contains("+  generation: 2"),
        "{diff}"
    );
    assert!(
        h.request_count("patch", "deployments.apps") >= 1,
        "{:?}",
        h.requests()
    );
    let after = deployments.get("web").await.unwrap();
    assert_eq!(
        after.metadata.resource_version, before.metadata.resource_version,
        "dry-run wrote nothing"
    );
    assert_eq!(after.spec.unwrap().replicas, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_kustomize_base_and_overlay() {
    let env = start(&["dev"]).await;
    let dir = env.dir.path().join("kustomize");
    let base = dir.join("base");
    let overlay = dir.join("overlays/prod");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        base.join("deployment.yaml"),
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: shop/api:1.0
        envFrom:
        - configMapRef: {name: api-config}
"#,
    )
    .unwrap();
    std::fs::write(
        base.join("service.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector: {app: api}\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    )
    .unwrap();
    std::fs::write(
        base.join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- deployment.yaml\n- service.yaml\nlabels:\n- pairs: {team: shop}\n",
    )
    .unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        r#"apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base
namePrefix: prod-
labels:
- pairs: {env: prod}
configMapGenerator:
- name: api-config
  literals:
  - LOG_LEVEL=info
  - REGION=eu
"#,
    )
    .unwrap();
    let overlay_dir = overlay.to_str().unwrap();
    let rendered = ok(&env.kubectl("dev", &["kustomize", overlay_dir]).await);
    assert!(
        rendered.contains("name: prod-api") && rendered.contains("name: prod-api-config-"),
        "{rendered}"
    );
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(&rendered))
        .await);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("configmap/prod-api-config-") && l.ends_with(" created")),
        "{out}"
    );
    assert!(
        lines.contains(&"service/prod-api created")
            && lines.contains(&"deployment.apps/prod-api created"),
        "{out}"
    );

    let names = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "deployments,services,configmaps",
                "-l",
                "env=prod",
                "-o",
                "name",
            ],
        )
        .await);
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[0], "deployment.apps/prod-api");
    assert_eq!(names[1], "service/prod-api");
    let cm_name = names[2].strip_prefix("configmap/").unwrap();
    assert!(
        cm_name.starts_with("prod-api-config-") && cm_name.len() == "prod-api-config-".len() + 10,
        "{cm_name}"
    );
    let team = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "deployments,services,configmaps",
                "-l",
                "team=shop",
                "-o",
                "name",
            ],
        )
        .await);
    assert_eq!(
        team.lines().collect::<Vec<_>>(),
        ["deployment.apps/prod-api", "service/prod-api"],
        "base labels stay in the base"
    );
    let table = ok(&env.kubectl("dev", &["get", "deployment", "prod-api"]).await);
    assert!(
        table.starts_with("NAME") && table.contains("prod-api"),
        "{table}"
    );
    // The deployment refers to the generated (hashed) ConfigMap.
    let env_from = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "deployment",
                "prod-api",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].envFrom[0].configMapRef.name}",
            ],
        )
        .await);
    assert_eq!(env_from, cm_name);
    let data = ok(&env
        .kubectl(
            "dev",
            &["get", "configmap", cm_name, "-o", "jsonpath={.data.REGION}"],
        )
        .await);
    assert_eq!(data, "eu");
    // Re-applying the same render changes nothing.
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(&rendered))
        .await);
    assert!(out.lines().all(|l| l.ends_with(" unchanged")), "{out}");
    // `kubectl apply -k` is the same thing.
    let out = ok(&env.kubectl("dev", &["apply", "-k", overlay_dir]).await);
    assert!(out.lines().all(|l| l.ends_with(" unchanged")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing() {
    let env = start(&["dev"]).await;
    let h = env.handle("dev");
    let api: Api<ConfigMap> = Api::namespaced(env.client("dev").await, "default");
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let objects = h.object_count();

    let made = api
        .create(&dry, &cm("ghost", json!({"a": "1"})))
        .await
        .unwrap();
    assert_eq!(made.metadata.name.as_deref(), Some("ghost"));
    assert!(made.metadata.uid.is_some() && made.metadata.creation_timestamp.is_some());
    assert!(api.get_opt("ghost").await.unwrap().is_none());
    assert_eq!(h.object_count(), objects);

    let real = api
        .create(&PostParams::default(), &cm("real", json!({"a": "1"})))
        .await
        .unwrap();
    let rv = real.metadata.resource_version.clone();
    let patched = api
        .patch(
            "real",
            &PatchParams::default().dry_run(),
            &Patch::Merge(&json!({"data": {"a": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["a"], "2");
    let applied = api
        .patch(
            "real",
            &PatchParams::apply("mgr").force().dry_run(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "real"}, "data": {"a": "3"}})),
        )
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap()["a"], "3");
    let mut replaced = real.clone();
    replaced.data = Some([("a".to_string(), "4".to_string())].into());
    api.replace("real", &dry, &replaced).await.unwrap();
    api.delete(
        "real",
        &DeleteParams {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let now = api.get("real").await.unwrap();
    assert_eq!(now.metadata.resource_version, rv);
    assert_eq!(now.data.unwrap()["a"], "1");
    // Applying a new object in dry-run creates nothing either.
    api.patch(
        "applied",
        &PatchParams::apply("mgr").dry_run(),
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}}),
        ),
    )
    .await
    .unwrap();
    assert!(api.get_opt("applied").await.unwrap().is_none());
    // A dry run still validates.
    let s = api_status(
        api.create(&dry, &cm("Bad_Name", json!({})))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    let s = api_status(api.create(&dry, &cm("real", json!({}))).await.unwrap_err());
    assert_eq!(s.code, 409);

    // kubectl --dry-run=server.
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kdry\ndata:\n  k: v\n";
    let out = ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "--dry-run=server", "-f", "-"],
            Some(manifest),
        )
        .await);
    assert_eq!(out.trim(), "configmap/kdry created (server dry run)");
    assert!(api.get_opt("kdry").await.unwrap().is_none());
    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(manifest))
        .await);
    let before = api.get("kdry").await.unwrap();
    let out = ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&manifest.replace("k: v", "k: w")),
        )
        .await);
    assert_eq!(out.trim(), "configmap/kdry configured (server dry run)");
    let out = ok(&env
        .kubectl("dev", &["delete", "configmap", "kdry", "--dry-run=server"])
        .await);
    assert_eq!(out.trim(), "configmap \"kdry\" deleted (server dry run)");
    let after = api.get("kdry").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        before.metadata.resource_version
    );
    assert_eq!(after.data.unwrap()["k"], "v");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_refuses_fields_the_schema_does_not_declare() {
    let env = start(&["dev"]).await;
    let api: Api<Deployment> = Api::namespaced(env.client("dev").await, "default");
    let mut applied = serde_json::to_value(deployment()).unwrap();
    applied["spec"]["template"]["spec"]["containers"][0]["bogus"] = json!(1);
    applied["spec"]["replicas"] = json!("two");
    let s = api_status(
        api.patch(
            "web",
            &PatchParams::apply("flotilla"),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap_err(),
    );
    // The field manager's plain error: a 500 without a reason, as kube-apiserver answers it.
    assert_eq!((s.code, s.reason.as_str()), (500, ""), "{}", s.message);
    assert_eq!(
        s.message,
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): errors:\n  .spec.replicas: expected numeric (int or float), got string\n  .spec.template.spec.containers[name=\"app\"].bogus: field not declared in schema"
    );
    // kubectl apply --server-side says the same.
    let err = fails(
        &env.kubectl_stdin(
            "dev",
            &["apply", "--server-side", "-f", "-"],
            Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nextra: 1\n"),
        )
        .await,
    );
    assert!(
        err.contains("failed to create typed patch object (default/c; /v1, Kind=ConfigMap): .extra: field not declared in schema"),
        "{err}"
    );
}

/// Every write of a custom resource is pruned and defaulted by its CRD's schema, whichever
/// path it takes: POST, PUT, merge and JSON patch (decoded as request bodies), server-side
/// apply creating and updating (built by the apply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_defaulted_and_pruned_on_every_write_path() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, default: 3}
              color: {type: string}
"#;
    ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(crd))
        .await);
    let ar = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Gadget".into(),
        plural: "gadgets".into(),
    };
    let gadgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let spec = |o: &DynamicObject| o.data["spec"].clone();
    let mut g = DynamicObject::new("g", &ar);
    g.data = json!({"spec": {"color": "red", "bogus": 1}});
    let created =
        support::sim::eventually(std::time::Duration::from_secs(10), "gadgets served", || {
            let gadgets = gadgets.clone();
            let g = g.clone();
            async move { gadgets.create(&PostParams::default(), &g).await.ok() }
        })
        .await;
    assert_eq!(spec(&created), json!({"size": 3, "color": "red"}), "POST");

    let mut put = created.clone();
    put.data["spec"] = json!({"color": "blue", "bogus": 2});
    let replaced = gadgets
        .replace("g", &PostParams::default(), &put)
        .await
        .unwrap();
    assert_eq!(spec(&replaced), json!({"size": 3, "color": "blue"}), "PUT");

    let merged = gadgets
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"size": null, "bogus": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(
        spec(&merged),
        json!({"size": 3, "color": "blue"}),
        "merge patch"
    );

    let json_patched = gadgets
        .patch(
            "g",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(json!([{"op": "remove", "path": "/spec/size"}])).unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        spec(&json_patched),
        json!({"size": 3, "color": "blue"}),
        "JSON patch"
    );

    let apply = |color: &str| json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "a"}, "spec": {"color": color}});
    let applied = gadgets
        .patch(
            "a",
            &PatchParams::apply("mgr"),
            &Patch::Apply(&apply("green")),
        )
        .await
        .unwrap();
    assert_eq!(
        spec(&applied),
        json!({"size": 3, "color": "green"}),
        "apply (create)"
    );
    let reapplied = gadgets
        .patch(
            "a",
            &PatchParams::apply("mgr"),
            &Patch::Apply(&apply("teal")),
        )
        .await
        .unwrap();
    assert_eq!(
        spec(&reapplied),
        json!({"size": 3, "color": "teal"}),
        "apply (update)"
    );
}
