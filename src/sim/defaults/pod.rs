//! Pod spec defaults (core/v1 `SetDefaults_PodSpec`, `_Container`, `_Probe`, the volume
//! sources, ...) as the generated defaulters apply them to every pod spec and pod template, plus
//! what only a Pod gets: `SetDefaults_Pod` and the admission plugins that always run on create
//! (ServiceAccount, Priority, DefaultTolerationSeconds).

use serde_json::{Value, json};

use super::image;
use super::quantity;
use super::util::{
    Obj, child, default_num, default_ptr, default_str, each, empty_str, ensure, str_of, unset,
};

/// Defaults of a `PodTemplateSpec` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ...).
pub fn template(template: &mut Obj) {
    if let Some(spec) = ensure(template, "spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` and everything nested in a pod spec.
pub fn pod_spec(spec: &mut Obj) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    service_account_alias(spec);
    each(spec, "volumes", volume);
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        each(spec, list, container);
    }
    if let Some(overhead) = child(spec, "overhead") {
        quantity::resource_list(overhead);
    }
}

/// `serviceAccount` is the deprecated alias of `serviceAccountName`: the name wins when both are
/// set, and the v1 form always echoes the name (conversion, so it applies to templates too).
fn service_account_alias(spec: &mut Obj) {
    if empty_str(spec, "serviceAccountName")
        && let Some(Value::String(alias)) = spec.get("serviceAccount")
        && !alias.is_empty()
    {
        let alias = alias.clone();
        spec.insert("serviceAccountName".into(), Value::String(alias));
    }
    match spec.get("serviceAccountName") {
        Some(Value::String(name)) if !name.is_empty() => {
            let name = name.clone();
            spec.insert("serviceAccount".into(), Value::String(name));
        }
        Some(Value::String(_)) | Some(Value::Null) | None => {
            if matches!(
                spec.get("serviceAccount"),
                Some(Value::String(_)) | Some(Value::Null)
            ) {
                spec.remove("serviceAccount");
            }
        }
        _ => {}
    }
}

/// `SetDefaults_Container` plus the defaulters of its nested types.
fn container(c: &mut Obj) {
    if empty_str(c, "imagePullPolicy") {
        let policy = match c.get("image") {
            Some(Value::String(s)) => image::pull_policy(s),
            None | Some(Value::Null) => image::pull_policy(""),
            // A wrong-typed image fails decoding; leave the container alone.
            _ => return,
        };
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    each(c, "ports", |p| default_str(p, "protocol", "TCP"));
    each(c, "env", |e| {
        if let Some(field_ref) = child(e, "valueFrom").and_then(|v| child(v, "fieldRef")) {
            default_str(field_ref, "apiVersion", "v1");
        }
    });
    // ResourceRequirements is a struct, so `resources: {}` is always there.
    if let Some(resources) = ensure(c, "resources") {
        for list in ["limits", "requests"] {
            if let Some(l) = child(resources, list) {
                quantity::resource_list(l);
            }
        }
    }
    for probe_key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = child(c, probe_key) {
            probe(p);
        }
    }
    if let Some(lifecycle) = child(c, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = child(lifecycle, hook).and_then(|h| child(h, "httpGet")) {
                http_get(get);
            }
        }
    }
}

/// `SetDefaults_Probe`, `SetDefaults_HTTPGetAction` and the declarative `grpc.service: ""`.
fn probe(p: &mut Obj) {
    default_num(p, "timeoutSeconds", 1);
    default_num(p, "periodSeconds", 10);
    default_num(p, "successThreshold", 1);
    default_num(p, "failureThreshold", 3);
    if let Some(get) = child(p, "httpGet") {
        http_get(get);
    }
    if let Some(grpc) = child(p, "grpc") {
        default_ptr(grpc, "service", json!(""));
    }
}

fn http_get(get: &mut Obj) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// The volume source keys of `VolumeSource` (a volume with none of them is an emptyDir).
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` and the defaulters of each volume source.
fn volume(v: &mut Obj) {
    if VOLUME_SOURCES.iter().all(|k| unset(v, k)) {
        v.insert("emptyDir".into(), json!({}));
    }
    if let Some(host_path) = child(v, "hostPath") {
        default_ptr(host_path, "type", json!(""));
    }
    for key in ["secret", "configMap"] {
        if let Some(src) = child(v, key) {
            default_ptr(src, "defaultMode", json!(420));
        }
    }
    if let Some(src) = child(v, "downwardAPI") {
        default_ptr(src, "defaultMode", json!(420));
        each(src, "items", downward_item);
    }
    if let Some(src) = child(v, "projected") {
        default_ptr(src, "defaultMode", json!(420));
        each(src, "sources", |s| {
            if let Some(d) = child(s, "downwardAPI") {
                each(d, "items", downward_item);
            }
            if let Some(t) = child(s, "serviceAccountToken") {
                default_ptr(t, "expirationSeconds", json!(3600));
            }
        });
    }
    if let Some(src) = child(v, "emptyDir")
        && let Some(limit) = src.get_mut("sizeLimit")
    {
        quantity::canonicalize(limit);
    }
    if let Some(src) = child(v, "iscsi") {
        default_str(src, "iscsiInterface", "default");
    }
    if let Some(src) = child(v, "rbd") {
        default_str(src, "pool", "rbd");
        default_str(src, "user", "admin");
        default_str(src, "keyring", "/etc/ceph/keyring");
    }
    if let Some(src) = child(v, "azureDisk") {
        default_ptr(src, "cachingMode", json!("ReadWrite"));
        default_ptr(src, "fsType", json!("ext4"));
        default_ptr(src, "readOnly", json!(false));
        default_ptr(src, "kind", json!("Shared"));
    }
    if let Some(src) = child(v, "scaleIO") {
        default_str(src, "storageMode", "ThinProvisioned");
        default_str(src, "fsType", "xfs");
    }
    if let Some(claim) = child(v, "ephemeral").and_then(|e| child(e, "volumeClaimTemplate"))
        && let Some(spec) = ensure(claim, "spec")
    {
        super::misc::pvc_spec(spec);
    }
}

fn downward_item(item: &mut Obj) {
    if let Some(field_ref) = child(item, "fieldRef") {
        default_str(field_ref, "apiVersion", "v1");
    }
}

/// What a Pod gets beyond its spec's defaults: `SetDefaults_Pod`, then the admission plugins
/// every cluster runs on create (their results are immutable, so filling them on update too is
/// harmless). The ServiceAccount plugin's token volume is not added (its name is random).
pub fn pod(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    pod_spec(spec);
    for list in ["containers", "initContainers"] {
        each(spec, list, requests_from_limits);
    }
    default_ptr(spec, "enableServiceLinks", json!(true));
    if spec.get("hostNetwork") == Some(&Value::Bool(true)) {
        for list in ["containers", "initContainers"] {
            each(spec, list, |c| {
                each(c, "ports", |p| {
                    if super::util::zero_num(p, "hostPort")
                        && let Some(port) =
                            p.get("containerPort").filter(|v| v.is_number()).cloned()
                    {
                        p.insert("hostPort".into(), port);
                    }
                })
            });
        }
    }
    admission(spec);
}

/// Requests default to limits for each resource only limited (`SetDefaults_Pod`).
fn requests_from_limits(c: &mut Obj) {
    let Some(resources) = child(c, "resources") else {
        return;
    };
    let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() else {
        return;
    };
    if limits.is_empty() {
        return;
    }
    if let Some(requests) = ensure(resources, "requests") {
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

/// ServiceAccount (`serviceAccountName: default`), Priority (no default PriorityClass: priority 0,
/// PreemptLowerPriority; the two system classes resolve to their values) and
/// DefaultTolerationSeconds (tolerate not-ready and unreachable for 300s).
fn admission(spec: &mut Obj) {
    if empty_str(spec, "serviceAccountName") {
        spec.insert("serviceAccountName".into(), json!("default"));
        spec.insert("serviceAccount".into(), json!("default"));
    }
    let priority = match str_of(spec, "priorityClassName") {
        "" => Some(0),
        "system-cluster-critical" => Some(2_000_000_000),
        "system-node-critical" => Some(2_000_001_000),
        _ => None,
    };
    if let Some(p) = priority {
        default_ptr(spec, "priority", json!(p));
        default_ptr(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
    }
    let tolerations = spec.entry("tolerations").or_insert(Value::Null);
    if tolerations.is_null() {
        *tolerations = json!([]);
    }
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = list.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key || k.is_empty()) && (effect == "NoExecute" || effect.is_empty())
        });
        if !tolerated {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn run(f: fn(&mut Obj), v: Value) -> Value {
        let mut m = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        f(&mut m);
        Value::Object(m)
    }

    #[test]
    fn probes_and_hooks_get_their_defaults() {
        let spec = run(
            pod_spec,
            json!({"containers": [{"name": "c", "image": "app:1",
                "livenessProbe": {"httpGet": {"port": 8080}},
                "readinessProbe": {"grpc": {"port": 9090}, "periodSeconds": 5},
                "startupProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 0},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit"}}}}]}),
        );
        let c = &spec["containers"][0];
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["readinessProbe"]["periodSeconds"], 5);
        assert_eq!(
            c["readinessProbe"]["grpc"],
            json!({"port": 9090, "service": ""})
        );
        assert_eq!(c["startupProbe"]["timeoutSeconds"], 1);
        assert_eq!(
            c["lifecycle"]["preStop"]["httpGet"],
            json!({"port": 80, "path": "/quit", "scheme": "HTTP"})
        );
    }

    #[test]
    fn volumes_get_modes_and_sources() {
        let spec = run(
            pod_spec,
            json!({"volumes": [
                {"name": "scratch"},
                {"name": "s", "secret": {"secretName": "x"}},
                {"name": "c", "configMap": {"name": "x", "defaultMode": 256}},
                {"name": "h", "hostPath": {"path": "/data"}},
                {"name": "d", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
                {"name": "e", "emptyDir": {"sizeLimit": "1024Mi"}}
            ], "containers": []}),
        );
        let v = &spec["volumes"];
        assert_eq!(v[0], json!({"name": "scratch", "emptyDir": {}}));
        assert_eq!(v[1]["secret"]["defaultMode"], 420);
        assert_eq!(v[2]["configMap"]["defaultMode"], 256);
        assert_eq!(v[3]["hostPath"]["type"], "");
        assert_eq!(v[4]["downwardAPI"]["defaultMode"], 420);
        assert_eq!(
            v[4]["downwardAPI"]["items"][0]["fieldRef"]["apiVersion"],
            "v1"
        );
        assert_eq!(
            v[5]["projected"],
            json!({"defaultMode": 420, "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]})
        );
        assert_eq!(v[6]["emptyDir"]["sizeLimit"], "1Gi");
    }

    #[test]
    fn service_account_alias_follows_the_name() {
        let spec = run(
            pod_spec,
            json!({"serviceAccount": "legacy", "containers": []}),
        );
        assert_eq!(
            (
                spec["serviceAccountName"].as_str(),
                spec["serviceAccount"].as_str()
            ),
            (Some("legacy"), Some("legacy"))
        );
        let spec = run(
            pod_spec,
            json!({"serviceAccountName": "new", "serviceAccount": "old", "containers": []}),
        );
        assert_eq!(spec["serviceAccount"], "new");
        let spec = run(pod_spec, json!({"serviceAccount": "", "containers": []}));
        assert!(spec.get("serviceAccount").is_none() && spec.get("serviceAccountName").is_none());
    }

    #[test]
    fn a_bare_pod_gets_admission_and_pod_only_defaults() {
        let pod = run(
            pod,
            json!({"spec": {"hostNetwork": true, "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists"}],
                "containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 53, "protocol": "UDP"}],
                "resources": {"limits": {"cpu": "0.5", "memory": "128Mi"}, "requests": {"memory": "64Mi"}}}]}}),
        );
        let spec = &pod["spec"];
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "Always");
        assert_eq!(
            c["ports"][0],
            json!({"containerPort": 53, "protocol": "UDP", "hostPort": 53})
        );
        assert_eq!(
            c["resources"],
            json!({"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "500m", "memory": "64Mi"}})
        );
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["serviceAccount"], "default");
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
        assert_eq!(
            spec["tolerations"],
            json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists"},
                   {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}])
        );
    }

    #[test]
    fn templates_do_not_get_pod_only_defaults() {
        let t = run(
            template,
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x:1", "ports": [{"containerPort": 80}]}]}}),
        );
        assert!(
            t["spec"]["containers"][0]["ports"][0]
                .get("hostPort")
                .is_none()
        );
        assert!(
            t["spec"].get("enableServiceLinks").is_none() && t["spec"].get("tolerations").is_none()
        );
    }
}
