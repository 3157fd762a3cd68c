//! Simulator conformance: workload status as a cluster's controllers and kubelet write it
//! (kwok-like, ready after the harness's 300 ms), and the server defaults of workload objects,
//! seen through kube-rs (typed APIs, watcher) and kubectl.

mod support;

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::{Value, json};
use support::sim::{eventually, fails, ok, start};

const LIMIT: Duration = Duration::from_secs(10);

fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn value<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap()
}

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    from(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}
    }))
}

/// The condition of `type_` in a status as JSON (`status`, `reason`, `message`).
fn condition(obj: &Value, type_: &str) -> Option<Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

fn condition_is(obj: &Value, type_: &str, status: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c["status"] == status)
}

async fn get<K>(api: &Api<K>, name: &str) -> Value
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    value(&api.get(name).await.unwrap())
}

/// Waits until `name` satisfies `f`, returning it as JSON.
async fn until<K>(api: &Api<K>, name: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    eventually(LIMIT, what, || async {
        let v = get(api, name).await;
        f(&v).then_some(v)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_progresses_then_becomes_available() {
    let env = start(&["dev"]).await;
    let api: Api<Deployment> = Api::namespaced(env.client("dev").await, "default");

    // Watch from before the creation, so every status the controller writes is seen.
    let mut events = watcher(
        api.clone(),
        watcher::Config::default().fields("metadata.name=web"),
    )
    .boxed();
    loop {
        match tokio::time::timeout(LIMIT, events.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(watcher::Event::InitDone) => break,
            Some(_) => {}
            None => panic!("watch ended"),
        }
    }
    let created = api
        .create(&PostParams::default(), &deployment("web", 2, "nginx:1.27"))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    // Server defaults.
    let d = value(&created);
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(
        (
            d["spec"]["revisionHistoryLimit"].as_i64(),
            d["spec"]["progressDeadlineSeconds"].as_i64()
        ),
        (Some(10), Some(600))
    );
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"], json!({}));
    let c = &pod["containers"][0];
    assert_eq!(c["imagePullPolicy"], "IfNotPresent");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["resources"], json!({}));
    assert!(
        d.get("status")
            .is_none_or(|s| s.get("conditions").is_none()),
        "no status from the create itself: {}",
        d["status"]
    );

    // The statuses written: Progressing while the pods start, then Available.
    let mut seen = Vec::new();
    let available = loop {
        let e = tokio::time::timeout(LIMIT, events.try_next())
            .await
            .expect("a status within the limit")
            .unwrap()
            .unwrap();
        let watcher::Event::Apply(obj) = e else {
            continue;
        };
        let v = value(&obj);
        seen.push(v.clone());
        if condition_is(&v, "Available", "True") {
            break v;
        }
    };
    let starting = seen
        .iter()
        .find(|v| condition_is(v, "Progressing", "True") && condition_is(v, "Available", "False"))
        .unwrap_or_else(|| {
            panic!("no status while the pods started: {seen:#?}");
        });
    let unavailable = condition(starting, "Available").unwrap();
    assert_eq!(
        (
            unavailable["reason"].as_str(),
            unavailable["message"].as_str()
        ),
        (
            Some("MinimumReplicasUnavailable"),
            Some("Deployment does not have minimum availability.")
        )
    );
    assert_eq!(starting["status"]["updatedReplicas"], 2);
    assert!(
        starting["status"].get("readyReplicas").is_none(),
        "{}",
        starting["status"]
    );
    let s = &available["status"];
    assert_eq!(
        (
            s["replicas"].as_i64(),
            s["readyReplicas"].as_i64(),
            s["updatedReplicas"].as_i64(),
            s["availableReplicas"].as_i64()
        ),
        (Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(s["observedGeneration"], 1);
    assert!(s.get("unavailableReplicas").is_none(), "{s}");
    let avail = condition(&available, "Available").unwrap();
    assert_eq!(
        (avail["reason"].as_str(), avail["message"].as_str()),
        (
            Some("MinimumReplicasAvailable"),
            Some("Deployment has minimum availability.")
        )
    );
    for c in s["conditions"].as_array().unwrap() {
        assert!(
            c["lastUpdateTime"].is_string() && c["lastTransitionTime"].is_string(),
            "{c}"
        );
    }
    // Progressing reaches NewReplicaSetAvailable, naming the ReplicaSet by its pod-template-hash.
    let done = until(&api, "web", "NewReplicaSetAvailable", |v| {
        condition(v, "Progressing").is_some_and(|c| c["reason"] == "NewReplicaSetAvailable")
    })
    .await;
    let message = condition(&done, "Progressing").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("ReplicaSet \"web-")
            && message.ends_with("\" has successfully progressed."),
        "{message}"
    );

    // kubectl agrees.
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for=condition=Available",
                "deploy/web",
                "--timeout=20s",
            ],
        )
        .await);
    assert_eq!(out.trim(), "deployment.apps/web condition met");
    let out = ok(&env
        .kubectl("dev", &["rollout", "status", "deploy/web", "--timeout=20s"])
        .await);
    assert!(
        out.contains("deployment \"web\" successfully rolled out"),
        "{out}"
    );

    // A spec change bumps the generation; the status follows it.
    let scaled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
    let v = until(&api, "web", "observedGeneration 2 with 3 ready", |v| {
        v["status"]["observedGeneration"] == 2 && v["status"]["readyReplicas"] == 3
    })
    .await;
    assert!(condition_is(&v, "Available", "True"));
    let labelled = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        labelled.metadata.generation,
        Some(2),
        "metadata changes don't bump the generation"
    );
    let image = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}});
    let rolled = api
        .patch(
            "web",
            &PatchParams::apply("test").force(),
            &Patch::Apply(image),
        )
        .await
        .unwrap();
    assert_eq!(rolled.metadata.generation, Some(3));
    let v = until(&api, "web", "the new template rolled out", |v| {
        v["status"]["observedGeneration"] == 3
            && condition(v, "Progressing").is_some_and(|c| c["reason"] == "NewReplicaSetAvailable")
    })
    .await;
    let new_message = condition(&v, "Progressing").unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_message, message, "a new template is a new ReplicaSet");
    assert_eq!(
        (
            v["status"]["updatedReplicas"].as_i64(),
            v["status"]["availableReplicas"].as_i64()
        ),
        (Some(3), Some(3))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_image_exceeds_the_progress_deadline() {
    let env = start(&["dev"]).await;
    let api: Api<Deployment> = Api::namespaced(env.client("dev").await, "default");
    api.create(&PostParams::default(), &deployment("bad", 1, "nginx:fail"))
        .await
        .unwrap();
    let v = until(&api, "bad", "Progressing False", |v| {
        condition_is(v, "Progressing", "False")
    })
    .await;
    let progressing = condition(&v, "Progressing").unwrap();
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    let message = progressing["message"].as_str().unwrap();
    assert!(
        message.starts_with("ReplicaSet \"bad-")
            && message.ends_with("\" has timed out progressing."),
        "{message}"
    );
    let available = condition(&v, "Available").unwrap();
    assert_eq!(
        (available["status"].as_str(), available["reason"].as_str()),
        (Some("False"), Some("MinimumReplicasUnavailable"))
    );
    let s = &v["status"];
    assert_eq!(
        (
            s["replicas"].as_i64(),
            s["updatedReplicas"].as_i64(),
            s["unavailableReplicas"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert!(
        s.get("readyReplicas").is_none() && s.get("availableReplicas").is_none(),
        "{s}"
    );
    let err = fails(
        &env.kubectl("dev", &["rollout", "status", "deploy/bad", "--timeout=20s"])
            .await,
    );
    assert!(
        err.contains("deployment \"bad\" exceeded its progress deadline"),
        "{err}"
    );
    let err = fails(
        &env.kubectl(
            "dev",
            &[
                "wait",
                "--for=condition=Available",
                "deploy/bad",
                "--timeout=1s",
            ],
        )
        .await,
    );
    assert!(
        err.contains("timed out waiting for the condition on deployments/bad"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_sets_daemon_sets_and_replica_sets_get_ready() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let template = |app: &str| json!({"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "redis:7"}]}});
    let selector = |app: &str| json!({"matchLabels": {"app": app}});

    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let created = sts
        .create(&PostParams::default(), &from(json!({"metadata": {"name": "db"}, "spec": {"replicas": 2, "serviceName": "db", "selector": selector("db"), "template": template("db")}})))
        .await
        .unwrap();
    let spec = value(&created)["spec"].clone();
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(
        spec["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(
        spec["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
    );
    assert_eq!(spec["revisionHistoryLimit"], 10);
    let v = until(&sts, "db", "the StatefulSet ready", |v| {
        v["status"]["readyReplicas"] == 2
    })
    .await;
    let s = &v["status"];
    assert_eq!(
        (
            s["replicas"].as_i64(),
            s["availableReplicas"].as_i64(),
            s["currentReplicas"].as_i64(),
            s["updatedReplicas"].as_i64(),
            s["observedGeneration"].as_i64()
        ),
        (Some(2), Some(2), Some(2), Some(2), Some(1))
    );
    assert_eq!(s["currentRevision"], s["updateRevision"]);
    assert!(
        s["updateRevision"].as_str().unwrap().starts_with("db-"),
        "{s}"
    );

    let ds: Api<DaemonSet> = Api::namespaced(client.clone(), "default");
    let created = ds.create(&PostParams::default(), &from(json!({"metadata": {"name": "agent"}, "spec": {"selector": selector("agent"), "template": template("agent")}}))).await.unwrap();
    assert_eq!(
        value(&created)["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
    );
    let v = until(&ds, "agent", "the DaemonSet ready", |v| {
        v["status"]["numberReady"].as_i64().is_some_and(|n| n > 0)
    })
    .await;
    let s = &v["status"];
    assert_eq!(s["numberReady"], s["desiredNumberScheduled"]);
    assert_eq!(s["currentNumberScheduled"], s["desiredNumberScheduled"]);
    assert_eq!(
        (
            s["numberAvailable"].as_i64(),
            s["updatedNumberScheduled"].as_i64(),
            s["numberMisscheduled"].as_i64()
        ),
        (
            s["numberReady"].as_i64(),
            s["numberReady"].as_i64(),
            Some(0)
        )
    );
    assert_eq!(s["observedGeneration"], 1);
    let out = ok(&env
        .kubectl("dev", &["rollout", "status", "ds/agent", "--timeout=20s"])
        .await);
    assert!(
        out.contains("daemon set \"agent\" successfully rolled out"),
        "{out}"
    );

    let rs: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    rs.create(&PostParams::default(), &from(json!({"metadata": {"name": "cache"}, "spec": {"replicas": 2, "selector": selector("cache"), "template": template("cache")}}))).await.unwrap();
    let v = until(&rs, "cache", "the ReplicaSet ready", |v| {
        v["status"]["readyReplicas"] == 2
    })
    .await;
    let s = &v["status"];
    assert_eq!(
        (
            s["replicas"].as_i64(),
            s["availableReplicas"].as_i64(),
            s["fullyLabeledReplicas"].as_i64(),
            s["observedGeneration"].as_i64()
        ),
        (Some(2), Some(2), Some(2), Some(1))
    );
    let out = ok(&env
        .kubectl("dev", &["rollout", "status", "sts/db", "--timeout=20s"])
        .await);
    assert!(
        out.contains("partitioned roll out complete: 2 new pods have been updated..."),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_complete_or_fail() {
    let env = start(&["dev"]).await;
    let api: Api<Job> = Api::namespaced(env.client("dev").await, "default");
    let job = |name: &str, image: &str| -> Job {
        from(
            json!({"metadata": {"name": name}, "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": image, "command": ["true"]}]}}}}),
        )
    };
    let created = api
        .create(&PostParams::default(), &job("ok", "busybox:1.36"))
        .await
        .unwrap();
    let spec = value(&created)["spec"].clone();
    assert_eq!(
        (
            spec["completions"].as_i64(),
            spec["parallelism"].as_i64(),
            spec["backoffLimit"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(
        (spec["completionMode"].as_str(), spec["suspend"].as_bool()),
        (Some("NonIndexed"), Some(false))
    );
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    api.create(&PostParams::default(), &job("broken", "busybox:fail"))
        .await
        .unwrap();

    let v = until(&api, "ok", "Complete", |v| {
        condition_is(v, "Complete", "True")
    })
    .await;
    let s = &v["status"];
    assert_eq!(s["succeeded"], 1);
    assert!(
        s["startTime"].is_string() && s["completionTime"].is_string(),
        "{s}"
    );
    assert!(
        s.get("active").is_none() && s.get("failed").is_none(),
        "{s}"
    );
    assert!(condition_is(&v, "SuccessCriteriaMet", "True"), "{s}");
    assert_eq!(
        condition(&v, "Complete").unwrap()["reason"],
        "CompletionsReached"
    );
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for=condition=Complete",
                "job/ok",
                "--timeout=20s",
            ],
        )
        .await);
    assert_eq!(out.trim(), "job.batch/ok condition met");

    let v = until(&api, "broken", "Failed", |v| {
        condition_is(v, "Failed", "True")
    })
    .await;
    let failed = condition(&v, "Failed").unwrap();
    assert_eq!(
        (failed["reason"].as_str(), failed["message"].as_str()),
        (
            Some("BackoffLimitExceeded"),
            Some("Job has reached the specified backoff limit")
        )
    );
    assert!(condition_is(&v, "FailureTarget", "True"));
    assert!(!condition_is(&v, "Complete", "True"));
    assert_eq!(v["status"]["failed"], 2, "the pod and its one retry");
    assert!(
        v["status"].get("succeeded").is_none() && v["status"].get("completionTime").is_none(),
        "{}",
        v["status"]
    );
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for=condition=Failed",
                "job/broken",
                "--timeout=20s",
            ],
        )
        .await);
    assert_eq!(out.trim(), "job.batch/broken condition met");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_and_get_ready() {
    let env = start(&["dev"]).await;
    let api: Api<Pod> = Api::namespaced(env.client("dev").await, "default");
    let created = api
        .create(&PostParams::default(), &from(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})))
        .await
        .unwrap();
    let v = value(&created);
    // Defaults and admission: `latest` pulls Always; the default ServiceAccount; the
    // not-ready/unreachable tolerations.
    assert_eq!(v["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(v["spec"]["serviceAccountName"], "default");
    assert_eq!(v["spec"]["enableServiceLinks"], true);
    assert_eq!(v["spec"]["priority"], 0);
    let tolerations = v["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        tolerations.contains(&json!({"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})),
        "{tolerations:?}"
    );
    let status = v["status"]["phase"].as_str();
    assert!(status.is_none_or(|p| p == "Pending"), "{status:?}");

    let v = until(&api, "p", "the pod Ready", |v| {
        v["status"]["phase"] == "Running" && condition_is(v, "Ready", "True")
    })
    .await;
    let s = &v["status"];
    let ip = s["podIP"].as_str().unwrap();
    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip}");
    assert_eq!(s["podIPs"], json!([{"ip": ip}]));
    assert!(s["hostIP"].is_string() && s["startTime"].is_string(), "{s}");
    assert_eq!(s["qosClass"], "BestEffort");
    for t in ["Initialized", "ContainersReady", "PodScheduled"] {
        assert!(condition_is(&v, t, "True"), "{t}: {s}");
    }
    let cs = &s["containerStatuses"][0];
    assert_eq!(
        (
            cs["name"].as_str(),
            cs["ready"].as_bool(),
            cs["started"].as_bool(),
            cs["restartCount"].as_i64()
        ),
        (Some("c"), Some(true), Some(true), Some(0))
    );
    assert!(cs["state"]["running"]["startedAt"].is_string(), "{cs}");
    assert!(
        v["spec"]["nodeName"].is_string(),
        "scheduled: {}",
        v["spec"]
    );
    // The scheduler binds through pods/binding, past the pod strategy: the generation stays,
    // and no manager of the kubelet or the scheduler owns spec.nodeName.
    assert_eq!(v["metadata"]["generation"], 1, "{}", v["metadata"]);
    let managers: Vec<&Value> = v["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["fieldsV1"]["f:spec"]["f:nodeName"].is_object())
        .collect();
    assert!(managers.is_empty(), "{managers:?}");
    let out = ok(&env
        .kubectl(
            "dev",
            &["wait", "--for=condition=Ready", "pod/p", "--timeout=20s"],
        )
        .await);
    assert_eq!(out.trim(), "pod/p condition met");
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "pod",
                "p",
                "-o",
                "jsonpath={.status.phase} {.status.podIP}",
            ],
        )
        .await);
    assert_eq!(out, format!("Running {ip}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_get_addresses_and_claims_bind() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let created = services
        .create(&PostParams::default(), &from(json!({"metadata": {"name": "front"}, "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}})))
        .await
        .unwrap();
    let spec = value(&created)["spec"].clone();
    let cluster_ip = spec["clusterIP"].as_str().unwrap().to_string();
    assert!(
        cluster_ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "{cluster_ip}"
    );
    assert_eq!(spec["clusterIPs"], json!([cluster_ip]));
    assert_eq!(
        (spec["ipFamilies"].clone(), spec["ipFamilyPolicy"].clone()),
        (json!(["IPv4"]), json!("SingleStack"))
    );
    assert_eq!(
        (
            spec["sessionAffinity"].as_str(),
            spec["externalTrafficPolicy"].as_str(),
            spec["internalTrafficPolicy"].as_str()
        ),
        (Some("None"), Some("Cluster"), Some("Cluster"))
    );
    assert_eq!(spec["allocateLoadBalancerNodePorts"], true);
    let port = &spec["ports"][0];
    assert_eq!(
        (port["protocol"].as_str(), port["targetPort"].as_i64()),
        (Some("TCP"), Some(80))
    );
    let node_port = port["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&node_port), "{node_port}");
    let v = until(&services, "front", "a load-balancer address", |v| {
        v["status"]["loadBalancer"]["ingress"][0]["ip"].is_string()
    })
    .await;
    let ip = v["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok() && ip != cluster_ip,
        "{ip}"
    );
    let out = ok(&env
        .kubectl(
            "dev",
            &[
                "get",
                "service",
                "front",
                "-o",
                "jsonpath={.status.loadBalancer.ingress[0].ip}",
            ],
        )
        .await);
    assert_eq!(out, ip);
    // A ClusterIP Service gets no load-balancer address and no node port.
    let plain = services.create(&PostParams::default(), &from(json!({"metadata": {"name": "back"}, "spec": {"ports": [{"port": 8080, "targetPort": "http"}]}}))).await.unwrap();
    let spec = value(&plain)["spec"].clone();
    assert_eq!(spec["type"], "ClusterIP");
    assert!(
        spec["ports"][0].get("nodePort").is_none() && spec.get("externalTrafficPolicy").is_none(),
        "{spec}"
    );
    assert_eq!(spec["ports"][0]["targetPort"], "http");

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let created = claims
        .create(&PostParams::default(), &from(json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})))
        .await
        .unwrap();
    assert_eq!(value(&created)["spec"]["volumeMode"], "Filesystem");
    let uid = created.metadata.uid.clone().unwrap();
    let v = until(&claims, "data", "the claim Bound", |v| {
        v["status"]["phase"] == "Bound"
    })
    .await;
    assert_eq!(v["spec"]["volumeName"], format!("pvc-{uid}"));
    assert_eq!(v["status"]["capacity"], json!({"storage": "1Gi"}));
    assert_eq!(v["status"]["accessModes"], json!(["ReadWriteOnce"]));
    let out = ok(&env
        .kubectl(
            "dev",
            &["get", "pvc", "data", "-o", "jsonpath={.status.phase}"],
        )
        .await);
    assert_eq!(out, "Bound", "{}", get(&claims, "data").await);
}

fn api_status(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_subresource() {
    let env = start(&["dev"]).await;
    let client = env.client("dev").await;
    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &deployment("web", 2, "nginx:1.27"))
        .await
        .unwrap();
    let out = ok(&env
        .kubectl("dev", &["scale", "deploy", "web", "--replicas=5"])
        .await);
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    let d = get(&api, "web").await;
    assert_eq!(
        (&d["spec"]["replicas"], &d["metadata"]["generation"]),
        (&json!(5), &json!(2))
    );
    // kubectl scale's merge patch went to /scale: its manager owns spec.replicas there.
    let scaler = d["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "kubectl")
        .cloned()
        .unwrap();
    assert_eq!(
        (
            &scaler["subresource"],
            &scaler["apiVersion"],
            &scaler["fieldsV1"]
        ),
        (
            &json!("scale"),
            &json!("apps/v1"),
            &json!({"f:spec": {"f:replicas": {}}})
        )
    );

    // The Scale: the parent's identity and resourceVersion, replicas, the selector as a string.
    let scale = api.get_scale("web").await.unwrap();
    let v = value(&scale);
    assert_eq!(
        v["metadata"]["uid"], d["metadata"]["uid"],
        "the parent's uid"
    );
    assert_eq!(
        v["metadata"]["resourceVersion"],
        d["metadata"]["resourceVersion"]
    );
    assert!(v["metadata"].get("managedFields").is_none());
    assert_eq!(v["spec"], json!({"replicas": 5}));
    assert_eq!(v["status"]["selector"], "app=web");

    // PUT with a stale resourceVersion conflicts on the parent.
    let mut stale = scale.clone();
    stale.metadata.resource_version = Some("1".into());
    stale.spec.as_mut().unwrap().replicas = Some(7);
    let s = api_status(
        api.replace_scale("web", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (s.code, s.message.as_str()),
        (
            409,
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"
        )
    );
    let mut current = scale.clone();
    current.spec.as_mut().unwrap().replicas = Some(3);
    let replaced = api
        .replace_scale("web", &PostParams::default(), &current)
        .await
        .unwrap();
    assert_eq!(replaced.spec.unwrap().replicas, Some(3));
    assert_eq!(get(&api, "web").await["metadata"]["generation"], 3);

    // Validation, in the Scale's words.
    let s = api_status(
        api.patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": -1}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (
            422,
            "Invalid",
            "Scale.autoscaling \"web\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        )
    );
    // A scale to the current size writes nothing.
    let before = get(&api, "web").await["metadata"]["resourceVersion"].clone();
    let same = api
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(
        value(&same)["metadata"]["resourceVersion"],
        before,
        "a no-op keeps the resourceVersion"
    );
    // Strategic merge and server-side apply work on /scale too; appliers conflict there.
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    let applied = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 6}});
    // The strategic patch's manager owns the replicas now: the first applier forces.
    let s = api
        .patch_scale(
            "web",
            &PatchParams::apply("hpa-a").force(),
            &Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(s.spec.unwrap().replicas, Some(6));
    let other = json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"}, "spec": {"replicas": 8}});
    let s = api_status(
        api.patch_scale("web", &PatchParams::apply("hpa-b"), &Patch::Apply(&other))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 409, "{}", s.message);
    assert!(s.message.contains("\"hpa-a\""), "{}", s.message);
    assert_eq!(get(&api, "web").await["spec"]["replicas"], 6);

    // ReplicaSets and StatefulSets scale; DaemonSets have no /scale.
    ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: postgres:16}]}
"#,
            ),
        )
        .await);
    let out = ok(&env
        .kubectl("dev", &["scale", "statefulset", "db", "--replicas=2"])
        .await);
    assert_eq!(out.trim(), "statefulset.apps/db scaled");
    let err = fails(
        &env.kubectl("dev", &["scale", "daemonset", "nope", "--replicas=2"])
            .await,
    );
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_scale_through_their_crd_paths() {
    let env = start(&["dev"]).await;
    ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some(
                r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: pools.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: pools, singular: pool, kind: Pool}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.size, statusReplicasPath: .status.ready, labelSelectorPath: .status.selector}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, properties: {ready: {type: integer}, selector: {type: string}}}
"#,
            ),
        )
        .await);
    ok(&env
        .kubectl(
            "dev",
            &[
                "wait",
                "--for=condition=Established",
                "crd/pools.example.com",
                "--timeout=30s",
            ],
        )
        .await);
    ok(&env
        .kubectl_stdin(
            "dev",
            &["apply", "-f", "-"],
            Some("apiVersion: example.com/v1\nkind: Pool\nmetadata: {name: p}\nspec: {size: 1}\n"),
        )
        .await);
    let out = ok(&env
        .kubectl("dev", &["scale", "pool", "p", "--replicas=4"])
        .await);
    assert_eq!(out.trim(), "pool.example.com/p scaled");
    let pool: Value = serde_json::from_str(&ok(&env
        .kubectl("dev", &["get", "pool", "p", "-o", "json"])
        .await))
    .unwrap();
    assert_eq!(
        (&pool["spec"]["size"], &pool["metadata"]["generation"]),
        (&json!(4), &json!(2))
    );
    let scale: Value = serde_json::from_str(&ok(&env
        .kubectl(
            "dev",
            &["get", "pool", "p", "--subresource=scale", "-o", "json"],
        )
        .await))
    .unwrap();
    assert_eq!(scale["spec"], json!({"replicas": 4}));
    assert_eq!(scale["status"], json!({"replicas": 0}));
}
