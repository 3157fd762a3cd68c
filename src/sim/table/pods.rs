//! The pod printer, after kube-apiserver's `printPod`: readiness, the aggregate status reason
//! (init containers, waiting/terminated reasons, terminating), restarts with the last one's age.

use serde_json::{Value, json};

use super::format::{age, arr, human_duration, or_none, parse_time, s};
use super::{AGE, NAME, Printer, c, wide};

const CONTAINERS_READY: &str = "The aggregate readiness state of this pod for accepting traffic.";

pub(super) const POD: Printer = Printer {
    columns: &[
        NAME,
        c("Ready", "string", CONTAINERS_READY),
        c(
            "Status",
            "string",
            "The aggregate status of the containers in this pod.",
        ),
        c(
            "Restarts",
            "string",
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
        ),
        AGE,
        wide(
            "IP",
            "string",
            "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
        ),
        wide(
            "Node",
            "string",
            "NodeName indicates in which node this pod is scheduled.",
        ),
        wide(
            "Nominated Node",
            "string",
            "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
        ),
        wide(
            "Readiness Gates",
            "string",
            "If specified, all readiness gates will be evaluated for pod readiness.",
        ),
    ],
    row: pod_row,
};

/// Row conditions of a pod: finished pods are marked `Completed`.
pub(super) fn pod_conditions(o: &Value) -> Option<Value> {
    match s(o, "/status/phase") {
        "Succeeded" => Some(
            json!([{ "type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully." }]),
        ),
        "Failed" => Some(
            json!([{ "type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed." }]),
        ),
        _ => None,
    }
}

fn has_condition(o: &Value, ty: &str) -> bool {
    arr(o, "/status/conditions")
        .iter()
        .any(|c| c["type"] == ty && c["status"] == "True")
}

/// Latest `lastState.terminated.finishedAt` seen, as seconds.
fn later(current: Option<i64>, status: &Value) -> Option<i64> {
    let finished = status["lastState"]["terminated"]["finishedAt"]
        .as_str()
        .and_then(parse_time);
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
    if arr(o, "/status/conditions")
        .iter()
        .any(|c| c["type"] == "PodScheduled" && c["reason"] == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }
    let init_specs = arr(o, "/spec/initContainers");
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| c["name"] == name && c["restartPolicy"] == "Always")
    };
    let total = arr(o, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| c["restartPolicy"] == "Always")
            .count();
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
                    0 => format!(
                        "Init:ExitCode:{}",
                        terminated["exitCode"].as_i64().unwrap_or(0)
                    ),
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
            } else if terminated.is_object()
                && !terminated["reason"].as_str().unwrap_or("").is_empty()
            {
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
            reason = if has_condition(o, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }
    let deleting = o["metadata"]["deletionTimestamp"].is_string();
    if deleting && s(o, "/status/reason") == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }
    let restarts_text = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    };
    let ip = arr(o, "/status/podIPs")
        .first()
        .and_then(|p| p["ip"].as_str())
        .unwrap_or("");
    let gates = arr(o, "/spec/readinessGates");
    let gates_text = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let conditions = arr(o, "/status/conditions");
        let true_count = gates
            .iter()
            .filter(|g| {
                conditions
                    .iter()
                    .find(|c| c["type"] == g["conditionType"])
                    .is_some_and(|c| c["status"] == "True")
            })
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
        assert_eq!(
            row,
            vec![
                json!("web-1"),
                json!("1/2"),
                json!("CrashLoopBackOff"),
                json!("2 (10m ago)"),
                json!("60m"),
                json!("10.0.0.5"),
                json!("node-1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn pending_and_init_pods() {
        let pending = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
        let row = pod_row(&pending, now());
        assert_eq!(
            (
                row[1].clone(),
                row[2].clone(),
                row[3].clone(),
                row[4].clone()
            ),
            (
                json!("0/1"),
                json!("Pending"),
                json!("0"),
                json!("<unknown>")
            )
        );
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
}
