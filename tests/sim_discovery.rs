//! Simulator conformance: `/version`, discovery (legacy and aggregated), OpenAPI v3, `kubectl
//! api-resources` and `explain`, CustomResourceDefinitions end to end, and 401 for bad tokens.

mod support;

use std::time::Duration;

use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use serde_json::{Value, json};
use support::sim::{SimEnv, client_for, eventually, fails, kubectl_with, ok, start};

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A GET with extra headers, answered as (status, content type, body).
async fn raw_get(client: &kube::Client, uri: &str, accept: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut req = hyper::Request::get(uri);
    if let Some(a) = accept {
        req = req.header(hyper::header::ACCEPT, a);
    }
    let resp = client
        .send(req.body(kube::client::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, ct, body)
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: databases.db.example.com
spec:
  group: db.example.com
  scope: Namespaced
  names:
    plural: databases
    singular: database
    kind: Database
    listKind: DatabaseList
    shortNames: [pgdb]
    categories: [storage]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Engine
      type: string
      jsonPath: .spec.engine
    - name: Size
      type: integer
      jsonPath: .spec.sizeGi
    - name: Phase
      type: string
      jsonPath: .status.phase
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A managed database instance.
        properties:
          spec:
            type: object
            required: [engine]
            properties:
              engine:
                type: string
                description: The database engine.
                enum: [postgres, mysql]
              sizeGi:
                type: integer
                minimum: 1
                default: 10
              tags:
                type: array
                items:
                  type: string
          status:
            type: object
            properties:
              phase:
                type: string
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_endpoint() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let info = client.apiserver_version().await.unwrap();
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
    assert!(
        info.git_version.starts_with("v1.33."),
        "{}",
        info.git_version
    );
    assert_eq!(info.platform, "linux/amd64");

    let out = ok(&env.kubectl("dev", &["version", "-o", "json"]).await);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], json!(info.git_version));
    assert_eq!(v["serverVersion"]["minor"], "33");
    assert!(v["clientVersion"]["gitVersion"].is_string());
}

/// Checks every built-in type against a kube-rs discovery result.
fn check_builtins(discovery: &Discovery, how: &str) {
    for rt in flotilla::sim::resource::builtins() {
        let gvk = GroupVersionKind::gvk(&rt.group, &rt.version, &rt.kind);
        let (ar, caps) = discovery
            .resolve_gvk(&gvk)
            .unwrap_or_else(|| panic!("{how}: {gvk:?} not discovered"));
        assert_eq!(ar.plural, rt.plural, "{how}");
        assert_eq!(ar.api_version, rt.api_version(), "{how}");
        let want_scope = if rt.namespaced {
            Scope::Namespaced
        } else {
            Scope::Cluster
        };
        assert_eq!(caps.scope, want_scope, "{how}: scope of {}", rt.plural);
        let mut ops = caps.operations.clone();
        ops.sort();
        let mut want: Vec<&str> = vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        if rt.plural == "namespaces" {
            // kube-apiserver serves no deletecollection for namespaces.
            want.retain(|v| *v != "deletecollection");
        }
        if rt.create_only {
            // The authorization and authentication reviews.
            want = vec!["create"];
        }
        assert_eq!(ops, want, "{how}: verbs of {}", rt.plural);
        let subs: Vec<&str> = caps
            .subresources
            .iter()
            .map(|(a, _)| a.plural.as_str())
            .collect();
        assert_eq!(
            subs.contains(&"status"),
            rt.status_subresource,
            "{how}: {} subresources {subs:?}",
            rt.plural
        );
        assert_eq!(
            subs.contains(&"scale"),
            rt.scale_subresource,
            "{how}: {} subresources {subs:?}",
            rt.plural
        );
    }
    let apps = discovery.get("apps").expect("apps group");
    assert_eq!(apps.preferred_version(), Some("v1"));
    assert!(discovery.get("extensions").is_none());
    let autoscaling = discovery.get("autoscaling").expect("autoscaling group");
    assert_eq!(autoscaling.preferred_version_or_latest(), "v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_discovery_finds_every_builtin() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let legacy = Discovery::new(client.clone()).run().await.unwrap();
    check_builtins(&legacy, "legacy discovery");
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    check_builtins(&aggregated, "aggregated discovery");
    // A resource the simulator does not serve is not invented.
    assert!(
        legacy
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "ControllerRevisionX"))
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregated_discovery_raw() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    const V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    // client-go's Accept header: aggregated v2, then v2beta1, then plain JSON.
    let accept = format!(
        "{V2},application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    );
    let (status, ct, body) = raw_get(&client, "/apis", Some(&accept)).await;
    assert_eq!(status, 200);
    assert_eq!(ct, V2);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    assert_eq!(doc["apiVersion"], "apidiscovery.k8s.io/v2");
    let groups: Vec<&str> = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["metadata"]["name"].as_str().unwrap())
        .collect();
    for g in [
        "apps",
        "batch",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "apiextensions.k8s.io",
        "autoscaling",
    ] {
        assert!(groups.contains(&g), "{g} in {groups:?}");
    }
    // Ordered by the aggregator's group priority.
    let pos = |g: &str| groups.iter().position(|x| *x == g).unwrap();
    assert!(
        pos("apps") < pos("autoscaling")
            && pos("autoscaling") < pos("batch")
            && pos("batch") < pos("apiextensions.k8s.io"),
        "{groups:?}"
    );
    let apps = &doc["items"][pos("apps")]["versions"][0];
    assert_eq!(apps["version"], "v1");
    let deploy = apps["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "deployments")
        .unwrap();
    assert_eq!(deploy["scope"], "Namespaced");
    assert_eq!(deploy["singularResource"], "deployment");
    assert_eq!(deploy["responseKind"]["kind"], "Deployment");
    assert_eq!(deploy["shortNames"], json!(["deploy"]));
    let subs: Vec<&str> = deploy["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subresource"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["scale", "status"]);

    // The same through request_text, for the core group.
    let req = hyper::Request::get("/api")
        .header(hyper::header::ACCEPT, V2)
        .body(Vec::new())
        .unwrap();
    let core: Value = serde_json::from_str(&client.request_text(req).await.unwrap()).unwrap();
    assert_eq!(core["kind"], "APIGroupDiscoveryList");
    let core_items = core["items"].as_array().unwrap();
    assert_eq!(core_items.len(), 1);
    assert!(
        core_items[0]["metadata"].get("name").is_none(),
        "the core group has no name"
    );
    let core_resources: Vec<&str> = core_items[0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resource"].as_str().unwrap())
        .collect();
    for r in [
        "configmaps",
        "namespaces",
        "pods",
        "secrets",
        "services",
        "serviceaccounts",
    ] {
        assert!(core_resources.contains(&r), "{r} in {core_resources:?}");
    }

    // Without the aggregated media type: the plain APIGroupList / APIVersions.
    let (status, ct, body) = raw_get(&client, "/apis", Some("application/json")).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let plain: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(plain["kind"], "APIGroupList");
    let (_, _, body) = raw_get(&client, "/api", None).await;
    let plain: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(plain["kind"], "APIVersions");
    assert_eq!(plain["versions"], json!(["v1"]));
    // A group that is not served.
    let (status, _, _) = raw_get(&client, "/apis/extensions/v1beta1", None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_v3_index_and_documents() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let (status, ct, body) = raw_get(&client, "/openapi/v3", None).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/json"), "{ct}");
    let index: Value = serde_json::from_slice(&body).unwrap();
    let paths = index["paths"].as_object().unwrap();
    for p in [
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/apiextensions.k8s.io/v1",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} in {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    let url = paths["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    let (status, _, body) = raw_get(&client, url, None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let deploy = &schemas["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deploy["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
    assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentSpec"));
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .contains_key("/apis/apps/v1/namespaces/{namespace}/deployments")
    );
    let (status, _, _) = raw_get(&client, "/openapi/v3/apis/nope.example.com/v1", None).await;
    assert_eq!(status, 404);

    let out = ok(&env
        .kubectl("dev", &["explain", "deployment.spec.replicas"])
        .await);
    assert!(out.contains("KIND:") && out.contains("Deployment"), "{out}");
    assert!(out.contains("FIELD: replicas <integer>"), "{out}");
    assert!(out.contains("DESCRIPTION:"), "{out}");
    let out = ok(&env.kubectl("dev", &["explain", "configmap"]).await);
    assert!(
        out.contains("FIELDS:") && out.contains("data\t<map[string]string>"),
        "{out}"
    );
    let err = fails(
        &env.kubectl("dev", &["explain", "deployment.spec.nosuchfield"])
            .await,
    );
    assert!(err.contains("nosuchfield"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_api_resources() {
    let env = start(&["dev"]).await;
    let out = ok(&env.kubectl("dev", &["api-resources"]).await);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    let row = |out: &str, name: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    for rt in flotilla::sim::resource::builtins() {
        let mut want = vec![rt.plural.clone()];
        if !rt.short_names.is_empty() {
            want.push(rt.short_names.join(","));
        }
        want.extend([rt.api_version(), rt.namespaced.to_string(), rt.kind.clone()]);
        assert_eq!(row(&out, &rt.plural), want);
    }
    assert!(!out.contains("/status"), "subresources are not listed");

    let wide = ok(&env.kubectl("dev", &["api-resources", "-o", "wide"]).await);
    let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "SHORTNAMES",
            "APIVERSION",
            "NAMESPACED",
            "KIND",
            "VERBS",
            "CATEGORIES"
        ]
    );
    assert_eq!(
        row(&wide, "deployments"),
        [
            "deployments",
            "deploy",
            "apps/v1",
            "true",
            "Deployment",
            "create,delete,deletecollection,get,list,patch,update,watch",
            "all"
        ]
    );
    assert_eq!(
        row(&wide, "namespaces"),
        [
            "namespaces",
            "ns",
            "v1",
            "false",
            "Namespace",
            "create,delete,get,list,patch,update,watch"
        ]
    );
    assert_eq!(
        row(&wide, "customresourcedefinitions"),
        [
            "customresourcedefinitions",
            "crd,crds",
            "apiextensions.k8s.io/v1",
            "false",
            "CustomResourceDefinition",
            "create,delete,deletecollection,get,list,patch,update,watch",
            "api-extensions"
        ]
    );

    let apps = ok(&env
        .kubectl("dev", &["api-resources", "--api-group=apps"])
        .await);
    let rows: Vec<Vec<&str>> = apps
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows.iter().all(|r| r.contains(&"apps/v1")), "{apps}");
    let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    for n in ["daemonsets", "deployments", "replicasets", "statefulsets"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let cluster_scoped = ok(&env
        .kubectl(
            "dev",
            &["api-resources", "--namespaced=false", "-o", "name"],
        )
        .await);
    let names: Vec<&str> = cluster_scoped.lines().collect();
    assert!(
        names.contains(&"namespaces") && names.contains(&"clusterroles.rbac.authorization.k8s.io"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("configmaps")),
        "{names:?}"
    );
}

async fn crd_established(env: &SimEnv) {
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(CRD))
        .await);
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/databases.db.example.com created"
        ),
        "{out}"
    );
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for",
                "condition=established",
                "--timeout=20s",
                "crd/databases.db.example.com",
            ],
        )
        .await);
    assert!(out.contains("condition met"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_lifecycle_with_kubectl_and_dynamic_api() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    crd_established(&env).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds.get("databases.db.example.com").await.unwrap();
    let conditions = crd.status.unwrap().conditions.unwrap();
    let cond = |t: &str| {
        conditions
            .iter()
            .find(|c| c.type_ == t)
            .map(|c| c.status.clone())
    };
    assert_eq!(cond("NamesAccepted").as_deref(), Some("True"));
    assert_eq!(cond("Established").as_deref(), Some("True"));

    // Discovery, kube-rs and kubectl.
    let gvk = GroupVersionKind::gvk("db.example.com", "v1", "Database");
    let discovery = eventually(Duration::from_secs(10), "the CRD in discovery", || {
        let client = client.clone();
        let gvk = gvk.clone();
        async move {
            let d = Discovery::new(client).run().await.ok()?;
            d.resolve_gvk(&gvk).is_some().then_some(d)
        }
    })
    .await;
    let (ar, caps) = discovery.resolve_gvk(&gvk).unwrap();
    assert_eq!(ar.plural, "databases");
    assert_eq!(caps.scope, Scope::Namespaced);
    assert_eq!(
        caps.subresources
            .iter()
            .map(|(a, _)| a.plural.as_str())
            .collect::<Vec<_>>(),
        ["status"]
    );
    let resources = ok(&env
        .kubectl("dev", &["api-resources", "--api-group=db.example.com"])
        .await);
    let row: Vec<&str> = resources
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        ["databases", "pgdb", "db.example.com/v1", "true", "Database"]
    );

    // Custom objects through kubectl: defaulting, validation, printer columns.
    let obj = r#"
apiVersion: db.example.com/v1
kind: Database
metadata:
  name: orders
  labels: {team: shop}
spec:
  engine: postgres
  tags: [prod]
"#;
    let out = ok(&env
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(obj))
        .await);
    assert!(
        out.contains("database.db.example.com/orders created"),
        "{out}"
    );
    let yaml = ok(&env
        .kubectl("dev", &["get", "database", "orders", "-o", "yaml"])
        .await);
    assert!(
        yaml.contains("engine: postgres") && yaml.contains("sizeGi: 10"),
        "defaulted: {yaml}"
    );
    assert!(
        yaml.contains("apiVersion: db.example.com/v1") && yaml.contains("kind: Database"),
        "{yaml}"
    );
    let bad = obj
        .replace("engine: postgres", "engine: oracle")
        .replace("orders", "legacy");
    let err = fails(
        &env.kubectl_stdin("dev", &["apply", "-f", "-"], Some(&bad))
            .await,
    );
    assert!(
        err.contains("The Database \"legacy\" is invalid: spec.engine: Unsupported value: \"oracle\": supported values: \"postgres\", \"mysql\""),
        "{err}"
    );
    // kubectl validates strictly (fieldValidation=Strict): unknown fields are refused ...
    let unknown = obj
        .replace("tags: [prod]", "tags: [prod]\n  unknownField: x")
        .replace("orders", "legacy");
    let err = fails(
        &env.kubectl_stdin("dev", &["apply", "-f", "-"], Some(&unknown))
            .await,
    );
    assert!(
        err.contains("strict decoding error: unknown field \"spec.unknownField\""),
        "{err}"
    );
    let out = ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "--validate=false", "-f", "-"],
            Some(&unknown),
        )
        .await);
    assert!(
        out.contains("database.db.example.com/legacy created"),
        "{out}"
    );

    // kube-rs DynamicObject.
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let mut payments = DynamicObject::new("payments", &ar);
    payments.data = json!({"spec": {"engine": "mysql", "sizeGi": 50, "extra": true}, "status": {"phase": "Ready"}});
    let created = api.create(&PostParams::default(), &payments).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.data["spec"],
        json!({"engine": "mysql", "sizeGi": 50}),
        "... and pruned by default"
    );
    assert!(
        created.data.get("status").is_none(),
        "status is set only through /status"
    );
    let mut small = DynamicObject::new("tiny", &ar);
    small.data = json!({"spec": {"engine": "mysql", "sizeGi": 0}});
    let (code, reason, message) = api_error(
        api.create(&PostParams::default(), &small)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "Database.db.example.com \"tiny\" is invalid: spec.sizeGi: Invalid value: 0: spec.sizeGi in body should be greater than or equal to 1"
    );
    let status = json!({"status": {"phase": "Ready"}});
    let st = api
        .patch_status("payments", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    assert_eq!(st.data["status"]["phase"], "Ready");
    assert_eq!(
        st.metadata.generation,
        Some(1),
        "status writes don't bump generation"
    );
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|o| o.metadata.name.unwrap())
        .collect();
    assert_eq!(names, ["legacy", "orders", "payments"]);
    let by_label = api
        .list(&ListParams::default().labels("team=shop"))
        .await
        .unwrap();
    assert_eq!(by_label.items.len(), 2);

    let table = ok(&env.kubectl("dev", &["get", "databases"]).await);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "ENGINE", "SIZE", "PHASE", "AGE"]);
    assert_eq!(lines[2][..3], ["orders", "postgres", "10"]);
    assert_eq!(lines[3][..4], ["payments", "mysql", "50", "Ready"]);
    assert_eq!(lines[3].len(), 5, "{table}");
    assert_eq!(lines[2].len(), 4, "an empty Phase cell: {table}");
    let short = ok(&env.kubectl("dev", &["get", "pgdb", "-o", "name"]).await);
    assert_eq!(
        short.lines().collect::<Vec<_>>(),
        [
            "database.db.example.com/legacy",
            "database.db.example.com/orders",
            "database.db.example.com/payments"
        ]
    );
    let by_category = ok(&env.kubectl("dev", &["get", "storage", "-o", "name"]).await);
    assert!(
        by_category.contains("database.db.example.com/orders"),
        "{by_category}"
    );

    // Deleting the CRD removes its objects and stops serving the resource.
    let out = ok(&env
        .kubectl("dev", &["delete", "crd", "databases.db.example.com"])
        .await);
    assert!(
        out.contains("\"databases.db.example.com\" deleted"),
        "{out}"
    );
    eventually(Duration::from_secs(10), "the CRD to go", || {
        let crds = crds.clone();
        async move {
            crds.get_opt("databases.db.example.com")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    let (code, _, _) = api_error(api.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 404);
    let (code, _, _) = api_error(
        api.create(&PostParams::default(), &payments)
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 404);
    let d = Discovery::new(client.clone()).run().await.unwrap();
    assert!(d.resolve_gvk(&gvk).is_none() && d.get("db.example.com").is_none());
    // kubectl's cached discovery still knows the type and gets a 404; fresh discovery does not.
    let err = fails(&env.kubectl("dev", &["get", "databases"]).await);
    assert!(
        err.contains("the server could not find the requested resource"),
        "{err}"
    );
    let fresh = env.dir.path().join("fresh-cache");
    let err = fails(
        &kubectl_with(
            &env.kubeconfig_path("dev"),
            &fresh,
            &["get", "databases"],
            None,
        )
        .await,
    );
    assert!(
        err.contains("the server doesn't have a resource type \"databases\""),
        "{err}"
    );

    // Re-creating the CRD starts empty: the objects went with it.
    crd_established(&env).await;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &ar);
    let items = eventually(Duration::from_secs(10), "the CRD served again", || {
        let api = api.clone();
        async move { api.list(&ListParams::default()).await.ok() }
    })
    .await;
    assert!(items.items.is_empty(), "{:?}", items.items);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crd_explain_and_openapi() {
    let env = start(&["dev"]).await;
    crd_established(&env).await;
    let client = env.client("dev").await;
    let path = eventually(Duration::from_secs(10), "the CRD in /openapi/v3", || {
        let client = client.clone();
        async move {
            let (_, _, body) = raw_get(&client, "/openapi/v3", None).await;
            let index: Value = serde_json::from_slice(&body).ok()?;
            index["paths"]["apis/db.example.com/v1"]["serverRelativeURL"]
                .as_str()
                .map(str::to_string)
        }
    })
    .await;
    let (_, _, body) = raw_get(&client, &path, None).await;
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let schema = &doc["components"]["schemas"]["com.example.db.v1.Database"];
    assert_eq!(
        schema["properties"]["spec"]["properties"]["engine"]["enum"],
        json!(["postgres", "mysql"])
    );
    let out = ok(&env
        .kubectl("dev", &["explain", "databases.spec.engine"])
        .await);
    assert!(
        out.contains("FIELD: engine <string>") && out.contains("The database engine."),
        "{out}"
    );
    let out = ok(&env.kubectl("dev", &["explain", "database"]).await);
    assert!(out.contains("A managed database instance."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_unauthorized() {
    let env = start(&["dev"]).await;
    let h = env.handle("dev");
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&h.kubeconfig()).unwrap();
    kc["users"][0]["user"]["token"] = "not-a-valid-token".into();
    let wrong = serde_yaml::to_string(&kc).unwrap();
    kc["users"][0]["user"] = serde_yaml::Value::Mapping(Default::default());
    let missing = serde_yaml::to_string(&kc).unwrap();

    // A token that does not authenticate: 401 everywhere, even for /version.
    let client = client_for(&wrong).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (code, reason, message) = api_error(cms.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
    let (status, ct, body) = raw_get(
        &client,
        "/apis/apps/v1/namespaces/default/deployments",
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(ct, "application/json");
    let expected = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401
    });
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), expected);
    assert_eq!(raw_get(&client, "/apis", None).await.0, 401);
    assert_eq!(raw_get(&client, "/version", None).await.0, 401);
    let path = env.dir.path().join("wrong.yaml");
    std::fs::write(&path, &wrong).unwrap();
    let err = fails(
        &kubectl_with(
            &path,
            &env.dir.path().join("wrong-cache"),
            &["get", "configmaps"],
            None,
        )
        .await,
    );
    assert!(err.contains("You must be logged in to the server"), "{err}");

    // No token at all: anonymous on /version and the health paths (system:public-info-viewer),
    // 401 with a Status body anywhere else.
    let client = client_for(&missing).await;
    let info = client.apiserver_version().await.unwrap();
    assert_eq!(info.minor, "33");
    let (status, _, body) = raw_get(&client, "/healthz", None).await;
    assert_eq!((status, body.as_slice()), (200, b"ok".as_slice()));
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (code, reason, message) = api_error(cms.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str(), message.as_str()),
        (401, "Unauthorized", "Unauthorized")
    );
    let (status, _, body) = raw_get(&client, "/apis", None).await;
    assert_eq!(status, 401);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
    // The right token still works.
    let deployments: Api<Deployment> = Api::namespaced(env.client("dev").await, "default");
    assert!(
        deployments
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// `kubectl get --raw PATH` drops the kubeconfig's `/clusters/<name>` prefix (it sends PATH as
/// the whole request URI); each virtual cluster's own port serves it at the root as well, so
/// health checks and raw reads work as against a real cluster. Authentication still applies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_raw_reaches_the_cluster_of_the_context() {
    let env = start(&["dev", "prod"]).await;
    assert_eq!(
        ok(&env.kubectl("dev", &["get", "--raw", "/readyz"]).await),
        "ok"
    );
    let version: serde_json::Value = serde_json::from_str(&ok(&env
        .kubectl("dev", &["get", "--raw", "/version"])
        .await))
    .unwrap();
    assert_eq!(version["major"], "1");
    // The namespaces of the context's cluster, not another's.
    let prod: Api<Namespace> = Api::all(env.client("prod").await);
    prod.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "only-in-prod"}})).unwrap(),
    )
    .await
    .unwrap();
    let names = |out: String| -> Vec<String> {
        let list: serde_json::Value = serde_json::from_str(&out).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let raw = |c: &'static str| env.kubectl(c, &["get", "--raw", "/api/v1/namespaces"]);
    assert!(!names(ok(&raw("dev").await)).contains(&"only-in-prod".to_string()));
    assert!(names(ok(&raw("prod").await)).contains(&"only-in-prod".to_string()));
    // A wrong token is refused at the root as under the prefix.
    let err = fails(
        &env.kubectl(
            "dev",
            &["get", "--raw", "/api/v1/namespaces", "--token", "wrong"],
        )
        .await,
    );
    assert!(err.contains("Unauthorized"), "{err}");
}
