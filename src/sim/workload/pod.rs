//! Pod status as the kubelet writes it on the one simulated node: `Pending` with containers in
//! `ContainerCreating`, then `Running` with every container ready; a container whose image is
//! tagged `fail` stays waiting in `ImagePullBackOff` and keeps the pod `Pending`.

use serde_json::{Map, Value, json};

use super::Outcome;
use super::util::{self, Ctx, ImageRef, find_condition, transition_time};

/// How one container stands.
enum State {
    Waiting(&'static str, Option<String>),
    Running,
    /// A finished init container.
    Completed,
}

pub(super) fn reconcile(ctx: &Ctx<'_>) -> Outcome {
    if matches!(ctx.prev["phase"].as_str(), Some("Succeeded" | "Failed")) {
        return Outcome::Unchanged;
    }
    let spec = ctx.spec();
    let empty = Vec::new();
    let inits = spec["initContainers"].as_array().unwrap_or(&empty);
    let mains = spec["containers"].as_array().unwrap_or(&empty);
    let started = ctx.ready();

    // Init containers run in order; the first one that cannot start blocks the rest.
    let mut blocked = !started;
    let mut init_states = Vec::new();
    for c in inits {
        let state = if blocked {
            State::Waiting("PodInitializing", None)
        } else if let Some(msg) = pull_failure(c) {
            blocked = true;
            State::Waiting("ImagePullBackOff", Some(msg))
        } else if c["restartPolicy"].as_str() == Some("Always") {
            State::Running
        } else {
            State::Completed
        };
        init_states.push(state);
    }
    let initialized = !blocked;
    let main_states: Vec<State> = mains
        .iter()
        .map(|c| {
            if !initialized {
                State::Waiting(
                    if inits.is_empty() {
                        "ContainerCreating"
                    } else {
                        "PodInitializing"
                    },
                    None,
                )
            } else if let Some(msg) = pull_failure(c) {
                State::Waiting("ImagePullBackOff", Some(msg))
            } else {
                State::Running
            }
        })
        .collect();

    let unready = |cs: &[Value], states: &[State]| -> Vec<String> {
        cs.iter()
            .zip(states)
            .filter(|(_, s)| matches!(s, State::Waiting(..)))
            .map(|(c, _)| c["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let not_ready = unready(mains, &main_states);
    let not_initialized = unready(inits, &init_states);
    let ready = not_ready.is_empty() && initialized;
    let running = initialized && main_states.iter().all(|s| matches!(s, State::Running));

    let mut conditions = vec![pod_condition(
        ctx,
        "PodReadyToStartContainers",
        started,
        None,
    )];
    let init_reason = (!initialized).then(|| {
        (
            "ContainersNotInitialized",
            format!(
                "containers with incomplete status: [{}]",
                not_initialized.join(" ")
            ),
        )
    });
    conditions.push(pod_condition(
        ctx,
        "Initialized",
        initialized || inits.is_empty(),
        init_reason,
    ));
    for ty in ["Ready", "ContainersReady"] {
        let reason = (!ready).then(|| {
            (
                "ContainersNotReady",
                format!("containers with unready status: [{}]", not_ready.join(" ")),
            )
        });
        conditions.push(pod_condition(ctx, ty, ready, reason));
    }
    conditions.push(pod_condition(ctx, "PodScheduled", true, None));

    let host_network = spec["hostNetwork"].as_bool() == Some(true);
    let pod_ip = if host_network {
        util::NODE_IP.to_string()
    } else {
        pod_ip(ctx.namespace(), ctx.name())
    };
    let mut status = Map::new();
    status.insert("conditions".into(), Value::Array(conditions));
    if !inits.is_empty() {
        status.insert(
            "initContainerStatuses".into(),
            container_statuses(ctx, inits, &init_states, true),
        );
    }
    status.insert(
        "containerStatuses".into(),
        container_statuses(ctx, mains, &main_states, false),
    );
    status.insert("hostIP".into(), json!(util::NODE_IP));
    status.insert("hostIPs".into(), json!([{"ip": util::NODE_IP}]));
    status.insert(
        "phase".into(),
        json!(if running { "Running" } else { "Pending" }),
    );
    if started {
        status.insert("podIP".into(), json!(pod_ip));
        status.insert("podIPs".into(), json!([{"ip": pod_ip}]));
    }
    status.insert("qosClass".into(), json!(super::qos::qos_class(spec)));
    let start = ctx.prev["startTime"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| ctx.now.clone());
    status.insert("startTime".into(), json!(start));
    if spec["nodeName"].as_str().is_none_or(str::is_empty) {
        // The scheduler binds the pod first (pods/binding sets spec.nodeName); a Running pod
        // always names its node.
        return Outcome::SpecAndStatus {
            spec_patch: json!({"nodeName": util::NODE_NAME}),
            status: Value::Object(status),
        };
    }
    util::finish(
        ctx,
        Value::Object(status),
        (!started).then(|| ctx.remaining()),
    )
}

/// The kubelet's back-off message for a container whose image is tagged `fail`.
fn pull_failure(container: &Value) -> Option<String> {
    let image = container["image"].as_str()?;
    let r = ImageRef::parse(image);
    (r.tag.as_deref() == Some("fail")).then(|| {
        let full = r.display();
        format!(
            "Back-off pulling image \"{image}\": ErrImagePull: failed to pull and unpack image \"{full}\": \
             failed to resolve reference \"{full}\": {full}: not found"
        )
    })
}

/// A PodCondition; the transition time stays while the status is unchanged.
fn pod_condition(ctx: &Ctx<'_>, ty: &str, ok: bool, reason: Option<(&str, String)>) -> Value {
    let status = if ok { "True" } else { "False" };
    let prev = find_condition(&ctx.prev, ty);
    let mut c = json!({
        "type": ty,
        "status": status,
        "lastProbeTime": null,
        "lastTransitionTime": transition_time(prev, status, &ctx.now),
    });
    if let Some((r, m)) = reason.filter(|_| !ok) {
        c["reason"] = json!(r);
        c["message"] = json!(m);
    }
    c
}

/// `containerStatuses` (sorted by name, as the kubelet sorts them) or `initContainerStatuses`
/// (in spec order).
fn container_statuses(ctx: &Ctx<'_>, containers: &[Value], states: &[State], init: bool) -> Value {
    let field = if init {
        "initContainerStatuses"
    } else {
        "containerStatuses"
    };
    let mut out: Vec<Value> = containers
        .iter()
        .zip(states)
        .map(|(c, state)| {
            let name = c["name"].as_str().unwrap_or_default();
            let image = c["image"].as_str().unwrap_or_default();
            let prev_state = ctx.prev[field]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"].as_str() == Some(name)))
                .map(|s| &s["state"]);
            let started_at = prev_state
                .and_then(|s| s["running"]["startedAt"].as_str().or(s["terminated"]["startedAt"].as_str()))
                .unwrap_or(&ctx.now)
                .to_string();
            let container_id = format!(
                "containerd://{}",
                util::sha256_hex(&format!("{}/{}/{name}", ctx.namespace(), ctx.name()))
            );
            let r = ImageRef::parse(image);
            let mut s = json!({
                "image": image,
                "imageID": "",
                "lastState": {},
                "name": name,
                "ready": false,
                "restartCount": 0,
                "started": false,
            });
            match state {
                State::Waiting(reason, message) => {
                    s["state"] = json!({"waiting": {"reason": reason}});
                    if let Some(m) = message {
                        s["state"]["waiting"]["message"] = json!(m);
                    }
                }
                State::Running => {
                    s["image"] = json!(r.display());
                    s["imageID"] = json!(r.image_id());
                    s["containerID"] = json!(container_id);
                    s["ready"] = json!(true);
                    s["started"] = json!(true);
                    s["state"] = json!({"running": {"startedAt": started_at}});
                }
                State::Completed => {
                    let finished_at = prev_state
                        .and_then(|s| s["terminated"]["finishedAt"].as_str())
                        .unwrap_or(&ctx.now)
                        .to_string();
                    s["image"] = json!(r.display());
                    s["imageID"] = json!(r.image_id());
                    s["containerID"] = json!(container_id);
                    s["ready"] = json!(true);
                    s["state"] = json!({"terminated": {"containerID": container_id, "exitCode": 0,
                        "finishedAt": finished_at, "reason": "Completed", "startedAt": started_at}});
                }
            }
            s
        })
        .collect();
    if !init {
        out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    Value::Array(out)
}

/// A stable pod address in the node's pod range 10.244.0.0/24.
fn pod_ip(namespace: &str, name: &str) -> String {
    let h = util::fnv32a(format!("{namespace}/{name}").as_bytes());
    format!("10.244.0.{}", h % 253 + 2)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{WorkloadConfig, reconcile as run};
    use super::*;

    const T0: &str = "2024-05-01T10:00:00Z";
    const T1: &str = "2024-05-01T10:00:01Z";

    fn pod(image: &str) -> Value {
        json!({
            "metadata": {"name": "web-0", "namespace": "default", "generation": 1},
            "spec": {"nodeName": "kind-control-plane",
                "containers": [{"name": "nginx", "image": image}, {"name": "a-sidecar", "image": "busybox"}]}
        })
    }

    fn step(obj: &mut Value, since: u64, now: &str) -> Outcome {
        let out = run(
            "",
            "Pod",
            obj,
            Duration::from_secs(since),
            now,
            &WorkloadConfig::default(),
        );
        if let Outcome::Status { status, .. } = &out {
            obj["status"] = status.clone();
        }
        out
    }

    fn cond(p: &Value, ty: &str) -> Value {
        find_condition(&p["status"], ty)
            .cloned()
            .unwrap_or(Value::Null)
    }

    #[test]
    fn an_unscheduled_pod_is_bound_to_the_node() {
        let mut p = pod("nginx:1.27");
        p["spec"].as_object_mut().unwrap().remove("nodeName");
        let Outcome::SpecAndStatus { spec_patch, status } = step(&mut p, 0, T0) else {
            panic!("expected a binding");
        };
        assert_eq!(spec_patch, json!({"nodeName": "kind-control-plane"}));
        assert_eq!(status["phase"], "Pending");
        assert_eq!(
            cond(&json!({"status": status}), "PodScheduled")["status"],
            "True"
        );
    }

    #[test]
    fn pending_then_running() {
        let mut p = pod("nginx:1.27");
        assert!(matches!(
            step(&mut p, 0, T0),
            Outcome::Status {
                recheck_after: Some(_),
                ..
            }
        ));
        let s = p["status"].clone();
        assert_eq!(s["phase"], "Pending");
        assert!(s.get("podIP").is_none());
        assert_eq!(s["hostIP"], "172.18.0.2");
        assert_eq!(s["startTime"], T0);
        assert_eq!(s["qosClass"], "BestEffort");
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(
            types,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled"
            ]
        );
        assert_eq!(
            cond(&p, "Ready")["message"],
            "containers with unready status: [nginx a-sidecar]"
        );
        assert_eq!(s["containerStatuses"][0]["name"], "a-sidecar");
        assert_eq!(
            s["containerStatuses"][1]["state"],
            json!({"waiting": {"reason": "ContainerCreating"}})
        );
        assert_eq!(step(&mut p, 0, T1), Outcome::Unchanged);

        assert!(matches!(
            step(&mut p, 1, T1),
            Outcome::Status {
                recheck_after: None,
                ..
            }
        ));
        let s = p["status"].clone();
        assert_eq!(s["phase"], "Running");
        assert_eq!(s["podIP"], s["podIPs"][0]["ip"]);
        assert!(
            s["podIP"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("10.244.0."))
        );
        assert_eq!(cond(&p, "Ready")["status"], "True");
        assert!(cond(&p, "Ready").get("reason").is_none());
        assert_eq!(cond(&p, "PodScheduled")["lastTransitionTime"], T0);
        assert_eq!(cond(&p, "Ready")["lastTransitionTime"], T1);
        let c = &s["containerStatuses"][1];
        assert_eq!(
            (c["ready"].clone(), c["started"].clone()),
            (json!(true), json!(true))
        );
        assert_eq!(c["image"], "docker.io/library/nginx:1.27");
        assert!(
            c["imageID"]
                .as_str()
                .is_some_and(|i| i.starts_with("docker.io/library/nginx@sha256:"))
        );
        assert!(
            c["containerID"]
                .as_str()
                .is_some_and(|i| i.starts_with("containerd://") && i.len() == 77)
        );
        assert_eq!(c["state"]["running"]["startedAt"], T1);
        assert_eq!(step(&mut p, 7, "2024-05-01T11:00:00Z"), Outcome::Unchanged);
    }

    #[test]
    fn failing_image_backs_off() {
        let mut p = pod("nginx:fail");
        step(&mut p, 0, T0);
        step(&mut p, 1, T1);
        let s = p["status"].clone();
        assert_eq!(s["phase"], "Pending");
        assert_eq!(cond(&p, "PodReadyToStartContainers")["status"], "True");
        assert_eq!(cond(&p, "Ready")["status"], "False");
        assert_eq!(
            cond(&p, "Ready")["message"],
            "containers with unready status: [nginx]"
        );
        let c = &s["containerStatuses"][1];
        assert_eq!(c["state"]["waiting"]["reason"], "ImagePullBackOff");
        assert!(
            c["state"]["waiting"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Back-off pulling image \"nginx:fail\""))
        );
        assert_eq!(
            (c["image"].clone(), c["imageID"].clone()),
            (json!("nginx:fail"), json!(""))
        );
        assert_eq!(
            s["containerStatuses"][0]["state"]["running"]["startedAt"],
            T1
        );
        assert_eq!(step(&mut p, 5, "2024-05-01T10:05:00Z"), Outcome::Unchanged);
    }

    #[test]
    fn init_containers() {
        let mut p = pod("nginx");
        p["spec"]["initContainers"] = json!([{"name": "migrate", "image": "app:1"}, {"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]);
        step(&mut p, 0, T0);
        assert_eq!(
            cond(&p, "Initialized")["message"],
            "containers with incomplete status: [migrate proxy]"
        );
        assert_eq!(
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        step(&mut p, 1, T1);
        let inits = &p["status"]["initContainerStatuses"];
        assert_eq!(inits[0]["state"]["terminated"]["reason"], "Completed");
        assert_eq!(
            (inits[0]["ready"].clone(), inits[0]["started"].clone()),
            (json!(true), json!(false))
        );
        assert!(inits[1]["state"]["running"].is_object());
        assert_eq!(p["status"]["phase"], "Running");

        let mut f = pod("nginx");
        f["spec"]["initContainers"] = json!([{"name": "migrate", "image": "app:fail"}]);
        step(&mut f, 1, T1);
        assert_eq!(
            cond(&f, "Initialized")["reason"],
            "ContainersNotInitialized"
        );
        assert_eq!(
            f["status"]["initContainerStatuses"][0]["state"]["waiting"]["reason"],
            "ImagePullBackOff"
        );
        assert_eq!(
            f["status"]["containerStatuses"][1]["state"]["waiting"]["reason"],
            "PodInitializing"
        );
        assert_eq!(f["status"]["phase"], "Pending");
    }

    #[test]
    fn terminal_pods_and_host_network() {
        let mut p = pod("nginx");
        p["status"] = json!({"phase": "Succeeded"});
        assert_eq!(step(&mut p, 3, T0), Outcome::Unchanged);
        let mut h = pod("nginx");
        h["spec"]["hostNetwork"] = json!(true);
        step(&mut h, 3, T0);
        assert_eq!(h["status"]["podIP"], "172.18.0.2");
    }
}
