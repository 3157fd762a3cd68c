//! Printers of the core/v1 kinds, after kube-apiserver's `pkg/printers/internalversion`.

use serde_json::{Value, json};

use super::format::{age, arr, count_keys, format_labels, i, or_none, s, since};
use super::{AGE, Col, NAME, Printer, c, wide};

const CONTAINERS_READY: &str = "The aggregate readiness state of this pod for accepting traffic.";

pub(super) const NAMESPACE: Printer = Printer {
    columns: &[NAME, c("Status", "string", "The status of the namespace"), AGE],
    row: |o, now| vec![json!(s(o, "/metadata/name")), json!(s(o, "/status/phase")), json!(age(o, now))],
};

pub(super) const CONFIG_MAP: Printer = Printer {
    columns: &[NAME, c("Data", "string", "Data contains the configuration data."), AGE],
    row: |o, now| {
        let n = count_keys(o, "/data") + count_keys(o, "/binaryData");
        vec![json!(s(o, "/metadata/name")), json!(n), json!(age(o, now))]
    },
};

pub(super) const SECRET: Printer = Printer {
    columns: &[
        NAME,
        c("Type", "string", "Used to facilitate programmatic handling of secret data."),
        c("Data", "string", "Data contains the secret data."),
        AGE,
    ],
    row: |o, now| {
        vec![json!(s(o, "/metadata/name")), json!(s(o, "/type")), json!(count_keys(o, "/data")), json!(age(o, now))]
    },
};

pub(super) const SERVICE_ACCOUNT: Printer = Printer {
    columns: &[
        NAME,
        c("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
        AGE,
    ],
    row: |o, now| {
        vec![json!(s(o, "/metadata/name")), json!(arr(o, "/secrets").len() as i64), json!(age(o, now))]
    },
};

pub(super) const SERVICE: Printer = Printer {
    columns: &[
        NAME,
        c("Type", "string", "type determines how the Service is exposed."),
        c("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
        c("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
        c("Port(s)", "string", "The list of ports that are exposed by this service."),
        AGE,
        wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
    ],
    row: service_row,
};

fn service_row(o: &Value, now: i64) -> Vec<Value> {
    let svc_type = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr(o, "/spec/clusterIPs").first().and_then(Value::as_str).unwrap_or("<none>");
    let external_ips: Vec<&str> = arr(o, "/spec/externalIPs").iter().filter_map(Value::as_str).collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() { "<none>".to_string() } else { external_ips.join(",") }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ips(&o["status"]["loadBalancer"]);
            let mut all: Vec<String> = lb.clone();
            all.extend(external_ips.iter().map(|s| s.to_string()));
            if !external_ips.is_empty() {
                all.join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => s(o, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = arr(o, "/spec/ports")
        .iter()
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            let port = p["port"].as_i64().unwrap_or(0);
            match p["nodePort"].as_i64() {
                Some(np) if np > 0 => format!("{port}:{np}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        json!(s(o, "/metadata/name")),
        json!(svc_type),
        json!(cluster_ip),
        json!(external),
        json!(if ports.is_empty() { "<none>".to_string() } else { ports.join(",") }),
        json!(age(o, now)),
        json!(format_labels(&o["spec"]["selector"])),
    ]
}

/// IPs (or hostnames) of a load balancer status, sorted and de-duplicated (wide: not clipped).
pub(super) fn load_balancer_ips(status: &Value) -> Vec<String> {
    let mut set: Vec<String> = status["ingress"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(|i| {
            let ip = i["ip"].as_str().unwrap_or("");
            let host = i["hostname"].as_str().unwrap_or("");
            if !ip.is_empty() {
                Some(ip.to_string())
            } else if !host.is_empty() {
                Some(host.to_string())
            } else {
                None
            }
        })
        .collect();
    set.sort();
    set.dedup();
    set
}

pub(super) const PVC: Printer = Printer {
    columns: &[
        NAME,
        c("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
        c("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
        c("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
        c("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has."),
        c("StorageClass", "string", "StorageClass of the pvc"),
        c("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
        AGE,
        wide("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim."),
    ],
    row: pvc_row,
};

fn pvc_row(o: &Value, now: i64) -> Vec<Value> {
    let phase = if o["metadata"]["deletionTimestamp"].is_string() { "Terminating" } else { s(o, "/status/phase") };
    let volume = s(o, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (s(o, "/status/capacity/storage").to_string(), access_modes(arr(o, "/status/accessModes")))
    };
    let class = o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .unwrap_or_else(|| s(o, "/spec/storageClassName"));
    let vac = o["spec"]["volumeAttributesClassName"].as_str().unwrap_or("<unset>");
    let mode = o["spec"]["volumeMode"].as_str().unwrap_or("<unset>");
    vec![
        json!(s(o, "/metadata/name")),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(vac),
        json!(age(o, now)),
        json!(mode),
    ]
}

/// `GetAccessModesAsString`.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v == m);
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(m, _)| has(m))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) const EVENT: Printer = Printer {
    columns: &[
        c("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        c("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
        c("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        c("Object", "string", "The object that this event is about."),
        wide("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement."),
        wide("Source", "string", "The component reporting this event. Should be a short machine understandable string."),
        c("Message", "string", "A human-readable description of the status of this operation."),
        wide("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
        wide("Count", "string", "The number of times this event has occurred."),
        Col { priority: 1, ..NAME },
    ],
    row: event_row,
};

fn event_row(o: &Value, now: i64) -> Vec<Value> {
    let first = if o["firstTimestamp"].is_string() { since(&o["firstTimestamp"], now) } else { since(&o["eventTime"], now) };
    let mut last = if o["lastTimestamp"].is_string() { since(&o["lastTimestamp"], now) } else { first.clone() };
    let mut count = i(o, "/count");
    if o["series"].is_object() {
        last = since(&o["series"]["lastObservedTime"], now);
        count = i(o, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = s(o, "/involvedObject/kind").to_lowercase();
    let name = s(o, "/involvedObject/name");
    let target = if name.is_empty() { kind } else { format!("{kind}/{name}") };
    let component = [s(o, "/source/component"), s(o, "/reportingComponent")].into_iter().find(|x| !x.is_empty()).unwrap_or("");
    let host = [s(o, "/source/host"), s(o, "/reportingInstance")].into_iter().find(|x| !x.is_empty()).unwrap_or("");
    let source = if host.is_empty() { component.to_string() } else { format!("{component}, {host}") };
    vec![
        json!(last),
        json!(s(o, "/type")),
        json!(s(o, "/reason")),
        json!(target),
        json!(s(o, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(o, "/message").trim()),
        json!(first),
        json!(count),
        json!(s(o, "/metadata/name")),
    ]
}

pub(super) const POD: Printer = Printer {
    columns: &[
        NAME,
        c("Ready", "string", CONTAINERS_READY),
        c("Status", "string", "The aggregate status of the containers in this pod."),
        c("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        AGE,
        wide("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
        wide("Node", "string", "NodeName indicates in which node this pod is scheduled."),
        wide("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods."),
        wide("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness."),
    ],
    row: pod_row,
};

/// Row conditions of a pod: finished pods are marked `Completed`.
pub(super) fn pod_conditions(o: &Value) -> Option<Value> {
    match s(o, "/status/phase") {
        "Succeeded" => Some(json!([{ "type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully." }])),
        "Failed" => Some(json!([{ "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed." }])),
        _ => None,
    }
}

fn has_condition(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions").iter().any(|c| c["type"] == ty && c["status"] == "True")
}

/// Latest `lastState.terminated.finishedAt` seen, as seconds.
fn later(current: Option<i64>, status: &Value) -> Option<i64> {
    let finished = status["lastState"]["terminated"]["finishedAt"].as_str().and_then(super::format::parse_time);
    match (current, finished) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn pod_row(o: &Value, now: i64) -> Vec<Value> {
    let spec = &o["spec"];
    let phase = s(o, "/status/phase");
    let mut reason = match s(o, "/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if arr(o, "/status/conditions").iter().any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated") {
        reason = "SchedulingGated".to_string();
    }
    let init_specs = arr(o, "/spec/initContainers");
    let restartable = |name: &str| {
        init_specs.iter().any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let total = arr(o, "/spec/containers").len() + init_specs.iter().filter(|c| c["restartPolicy"] == "Always").count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i64> = None;
    let mut sidecar_last_restart: Option<i64> = None;
    let mut initializing = false;
    for (idx, cs) in arr(o, "/status/initContainerStatuses").iter().enumerate() {
        let name = cs["name"].as_str().unwrap_or("");
        restarts += cs["restartCount"].as_i64().unwrap_or(0);
        last_restart = later(last_restart, cs);
        let is_sidecar = restartable(name);
        if is_sidecar {
            sidecar_restarts += cs["restartCount"].as_i64().unwrap_or(0);
            sidecar_last_restart = later(sidecar_last_restart, cs);
        }
        let terminated = &cs["state"]["terminated"];
        let waiting_reason = cs["state"]["waiting"]["reason"].as_str().unwrap_or("");
        if terminated.is_object() && terminated["exitCode"].as_i64().unwrap_or(0) == 0 {
            continue;
        }
        if is_sidecar && cs["started"].as_bool() == Some(true) {
            if cs["ready"].as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        }
        if terminated.is_object() {
            reason = match terminated["reason"].as_str().unwrap_or("") {
                "" => match terminated["signal"].as_i64().unwrap_or(0) {
                    0 => format!("Init:ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
                    sig => format!("Init:Signal:{sig}"),
                },
                r => format!("Init:{r}"),
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{idx}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }
    if !initializing || has_condition(o, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        for cs in arr(o, "/status/containerStatuses").iter().rev() {
            restarts += cs["restartCount"].as_i64().unwrap_or(0);
            last_restart = later(last_restart, cs);
            let state = &cs["state"];
            let waiting = state["waiting"]["reason"].as_str().unwrap_or("");
            let terminated = &state["terminated"];
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if terminated.is_object() && !terminated["reason"].as_str().unwrap_or("").is_empty() {
                reason = terminated["reason"].as_str().unwrap_or("").to_string();
            } else if terminated.is_object() {
                reason = match terminated["signal"].as_i64().unwrap_or(0) {
                    0 => format!("ExitCode:{}", terminated["exitCode"].as_i64().unwrap_or(0)),
                    sig => format!("Signal:{sig}"),
                };
            } else if cs["ready"].as_bool() == Some(true) && state["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if has_condition(o, "Ready") { "Running".to_string() } else { "NotReady".to_string() };
        }
    }
    let deleting = o["metadata"]["deletionTimestamp"].is_string();
    if deleting && s(o, "/status/reason") == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }
    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", super::format::human_duration(now - t)),
        _ => restarts.to_string(),
    };
    let ip = arr(o, "/status/podIPs").first().and_then(|p| p["ip"].as_str()).unwrap_or("");
    let gates = arr(o, "/spec/readinessGates");
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(o, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|g| conditions.iter().find(|c| c["type"] == g["conditionType"]).is_some_and(|c| c["status"] == "True"))
            .count();
        format!("{true_count}/{}", gates.len())
    };
    vec![
        json!(s(o, "/metadata/name")),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_text),
        json!(age(o, now)),
        json!(or_none(ip)),
        json!(or_none(s(spec, "/nodeName"))),
        json!(or_none(s(o, "/status/nominatedNodeName"))),
        json!(gates_text),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::table::format::parse_time;

    fn now() -> i64 {
        parse_time("2024-01-01T01:00:00Z").unwrap()
    }

    #[test]
    fn running_pod() {
        let pod = json!({
            "metadata": {"name": "web-1", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "a", "ready": true, "restartCount": 2, "state": {"running": {}},
                     "lastState": {"terminated": {"finishedAt": "2024-01-01T00:50:00Z"}}},
                    {"name": "b", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
                ]}
        });
        let row = pod_row(&pod, now());
        assert_eq!(row, vec![
            json!("web-1"), json!("1/2"), json!("CrashLoopBackOff"), json!("2 (10m ago)"), json!("60m"),
            json!("10.0.0.5"), json!("node-1"), json!("<none>"), json!("<none>")
        ]);
    }

    #[test]
    fn pending_and_init_pods() {
        let pending = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
        let row = pod_row(&pending, now());
        assert_eq!((row[1].clone(), row[2].clone(), row[3].clone(), row[4].clone()), (json!("0/1"), json!("Pending"), json!("0"), json!("<unknown>")));
        let init = json!({"metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "state": {"running": {}}}
            ]}});
        assert_eq!(pod_row(&init, now())[2], json!("Init:1/2"));
        let done = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"containers": []}, "status": {"phase": "Running"}});
        assert_eq!(pod_row(&done, now())[2], json!("Terminating"));
        assert!(pod_conditions(&json!({"status": {"phase": "Succeeded"}})).is_some());
    }

    #[test]
    fn services_and_others() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}});
        assert_eq!(service_row(&svc, now()), vec![
            json!("web"), json!("NodePort"), json!("10.96.0.10"), json!("<none>"), json!("80:30080/TCP,53/UDP"),
            json!("<unknown>"), json!("app=web")
        ]);
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}});
        assert_eq!(service_row(&lb, now())[3], json!("<pending>"));
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        assert_eq!((CONFIG_MAP.row)(&cm, now())[1], json!(3));
        let pvc = json!({"metadata": {"name": "d"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
        assert_eq!(pvc_row(&pvc, now()), vec![
            json!("d"), json!("Bound"), json!("pv-1"), json!("1Gi"), json!("RWO"), json!("standard"), json!("<unset>"),
            json!("<unknown>"), json!("<unset>")
        ]);
        let ev = json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "web-1"}, "type": "Normal",
            "reason": "Pulled", "message": " done ", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:59:30Z", "count": 3});
        assert_eq!(event_row(&ev, now()), vec![
            json!("30s"), json!("Normal"), json!("Pulled"), json!("pod/web-1"), json!(""), json!("kubelet, n1"),
            json!("done"), json!("60m"), json!(3), json!("e1")
        ]);
    }
}
