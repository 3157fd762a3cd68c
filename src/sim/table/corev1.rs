//! Printers of the core/v1 kinds, after kube-apiserver's `pkg/printers/internalversion`.

use serde_json::{Value, json};

use super::format::{age, arr, count_keys, format_labels, i, s, since};
use super::{AGE, Col, NAME, Printer, c, wide};

pub(super) const NAMESPACE: Printer = Printer {
    columns: &[
        NAME,
        c("Status", "string", "The status of the namespace"),
        AGE,
    ],
    row: |o, now| {
        vec![
            json!(s(o, "/metadata/name")),
            json!(s(o, "/status/phase")),
            json!(age(o, now)),
        ]
    },
};

pub(super) const CONFIG_MAP: Printer = Printer {
    columns: &[
        NAME,
        c("Data", "string", "Data contains the configuration data."),
        AGE,
    ],
    row: |o, now| {
        let n = count_keys(o, "/data") + count_keys(o, "/binaryData");
        vec![json!(s(o, "/metadata/name")), json!(n), json!(age(o, now))]
    },
};

pub(super) const SECRET: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data.",
        ),
        c("Data", "string", "Data contains the secret data."),
        AGE,
    ],
    row: |o, now| {
        vec![
            json!(s(o, "/metadata/name")),
            json!(s(o, "/type")),
            json!(count_keys(o, "/data")),
            json!(age(o, now)),
        ]
    },
};

pub(super) const SERVICE_ACCOUNT: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Secrets",
            "string",
            "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
        ),
        AGE,
    ],
    row: |o, now| {
        vec![
            json!(s(o, "/metadata/name")),
            json!(arr(o, "/secrets").len() as i64),
            json!(age(o, now)),
        ]
    },
};

pub(super) const SERVICE: Printer = Printer {
    columns: &[
        NAME,
        c(
            "Type",
            "string",
            "type determines how the Service is exposed.",
        ),
        c(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service and is usually assigned randomly.",
        ),
        c(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
        ),
        c(
            "Port(s)",
            "string",
            "The list of ports that are exposed by this service.",
        ),
        AGE,
        wide(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector.",
        ),
    ],
    row: service_row,
};

fn service_row(o: &Value, now: i64) -> Vec<Value> {
    let svc_type = match s(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = arr(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
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
        json!(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports.join(",")
        }),
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
        c(
            "Status",
            "string",
            "phase represents the current phase of PersistentVolumeClaim.",
        ),
        c(
            "Volume",
            "string",
            "volumeName is the binding reference to the PersistentVolume backing this claim.",
        ),
        c(
            "Capacity",
            "string",
            "capacity represents the actual resources of the underlying volume.",
        ),
        c(
            "Access Modes",
            "string",
            "accessModes contains the actual access modes the volume backing the PVC has.",
        ),
        c("StorageClass", "string", "StorageClass of the pvc"),
        c(
            "VolumeAttributesClass",
            "string",
            "VolumeAttributesClass of the pvc",
        ),
        AGE,
        wide(
            "VolumeMode",
            "string",
            "volumeMode defines what type of volume is required by the claim.",
        ),
    ],
    row: pvc_row,
};

fn pvc_row(o: &Value, now: i64) -> Vec<Value> {
    let phase = if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else {
        s(o, "/status/phase")
    };
    let volume = s(o, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            s(o, "/status/capacity/storage").to_string(),
            access_modes(arr(o, "/status/accessModes")),
        )
    };
    let class = o["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .unwrap_or_else(|| s(o, "/spec/storageClassName"));
    let vac = o["spec"]["volumeAttributesClassName"]
        .as_str()
        .unwrap_or("<unset>");
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
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| has(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

pub(super) const EVENT: Printer = Printer {
    columns: &[
        c(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        c(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        c(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        c("Object", "string", "The object that this event is about."),
        wide(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
        ),
        wide(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
        ),
        c(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
        ),
        wide(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
        ),
        wide(
            "Count",
            "string",
            "The number of times this event has occurred.",
        ),
        Col {
            priority: 1,
            ..NAME
        },
    ],
    row: event_row,
};

fn event_row(o: &Value, now: i64) -> Vec<Value> {
    let first = if o["firstTimestamp"].is_string() {
        since(&o["firstTimestamp"], now)
    } else {
        since(&o["eventTime"], now)
    };
    let mut last = if o["lastTimestamp"].is_string() {
        since(&o["lastTimestamp"], now)
    } else {
        first.clone()
    };
    let mut count = i(o, "/count");
    if o["series"].is_object() {
        last = since(&o["series"]["lastObservedTime"], now);
        count = i(o, "/series/count");
    } else if count == 0 {
        count = 1;
    }
    let kind = s(o, "/involvedObject/kind").to_lowercase();
    let name = s(o, "/involvedObject/name");
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    let component = [s(o, "/source/component"), s(o, "/reportingComponent")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or("");
    let host = [s(o, "/source/host"), s(o, "/reportingInstance")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or("");
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::table::format::parse_time;

    fn now() -> i64 {
        parse_time("2024-01-01T01:00:00Z").unwrap()
    }

    #[test]
    fn services_and_others() {
        let svc = json!({"metadata": {"name": "web"}, "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.10"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "web"}}});
        assert_eq!(
            service_row(&svc, now()),
            vec![
                json!("web"),
                json!("NodePort"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP"),
                json!("<unknown>"),
                json!("app=web")
            ]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer"}});
        assert_eq!(service_row(&lb, now())[3], json!("<pending>"));
        let cm = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        assert_eq!((CONFIG_MAP.row)(&cm, now())[1], json!(3));
        let pvc = json!({"metadata": {"name": "d"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
        assert_eq!(
            pvc_row(&pvc, now()),
            vec![
                json!("d"),
                json!("Bound"),
                json!("pv-1"),
                json!("1Gi"),
                json!("RWO"),
                json!("standard"),
                json!("<unset>"),
                json!("<unknown>"),
                json!("<unset>")
            ]
        );
        let ev = json!({"metadata": {"name": "e1"}, "involvedObject": {"kind": "Pod", "name": "web-1"}, "type": "Normal",
            "reason": "Pulled", "message": " done ", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:59:30Z", "count": 3});
        assert_eq!(
            event_row(&ev, now()),
            vec![
                json!("30s"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/web-1"),
                json!(""),
                json!("kubelet, n1"),
                json!("done"),
                json!("60m"),
                json!(3),
                json!("e1")
            ]
        );
    }
}
