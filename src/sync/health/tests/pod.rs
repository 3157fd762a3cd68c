//! Pods: waiting errors, phases, readiness and restart policies.

use serde_json::{Value, json};

use super::*;

fn pod(policy: Option<&str>, status: Value) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "app"}]}, "status": status});
    if let Some(policy) = policy {
        p["spec"]["restartPolicy"] = json!(policy);
    }
    p
}

#[test]
fn pod_waiting_errors_are_degraded_with_restart_always() {
    for reason in [
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
    ] {
        let p = pod(
            Some("Always"),
            json!({"phase": "Running", "containerStatuses": [
                {"name": "a", "state": {"waiting": {"reason": reason, "message": "boom"}}},
                {"name": "b", "state": {"waiting": {"reason": reason, "message": "bang"}}}]}),
        );
        assert_eq!(
            health(p),
            ("Degraded".into(), Some("boom, bang".into())),
            "{reason}"
        );
    }
    // restartPolicy defaults to Always
    let p = pod(
        None,
        json!({"phase": "Pending", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no image"}}}]}),
    );
    assert_eq!(status(p), "Degraded");
}

#[test]
fn pod_waiting_errors_do_not_degrade_finite_pods() {
    let p = pod(
        Some("Never"),
        json!({"phase": "Pending", "message": "waiting", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}),
    );
    assert_eq!(health(p), ("Progressing".into(), Some("waiting".into())));
    let p = pod(
        Some("Always"),
        json!({"phase": "Pending", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
    );
    assert_eq!(status(p), "Progressing");
}

#[test]
fn pod_phases() {
    assert_eq!(
        health(pod(
            Some("Never"),
            json!({"phase": "Succeeded", "message": "done"})
        )),
        ("Healthy".into(), Some("done".into()))
    );
    assert_eq!(
        health(pod(
            Some("Never"),
            json!({"phase": "Failed", "message": "evicted"})
        )),
        ("Degraded".into(), Some("evicted".into()))
    );
    assert_eq!(
        health(pod(
            Some("Never"),
            json!({"phase": "Failed",
            "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 3}}}]})
        )),
        (
            "Degraded".into(),
            Some("container \"app\" failed with exit code 3".into())
        )
    );
    assert_eq!(
        msg(pod(
            Some("Never"),
            json!({"phase": "Failed",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]})
        )),
        "OOMKilled"
    );
    assert_eq!(
        msg(pod(
            Some("Never"),
            json!({"phase": "Failed",
            "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 1, "message": "panic"}}}]})
        )),
        "panic"
    );
    assert_eq!(
        health(pod(Some("Never"), json!({"phase": "Failed"}))),
        ("Degraded".into(), None)
    );
    assert_eq!(status(pod(Some("Always"), json!({}))), "Unknown");
}

#[test]
fn pod_running() {
    let ready = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]});
    let not_ready = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "app", "state": {"running": {}}}]});
    let restarted = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "app", "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1}}}]});
    assert_eq!(status(pod(Some("Always"), ready.clone())), "Healthy");
    assert_eq!(status(pod(Some("Always"), not_ready)), "Progressing");
    assert_eq!(status(pod(Some("Always"), restarted)), "Degraded");
    assert_eq!(status(pod(Some("OnFailure"), ready.clone())), "Progressing");
    assert_eq!(status(pod(Some("Never"), ready.clone())), "Progressing");
    let mut annotated = pod(Some("Never"), ready);
    annotated["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/ignore-restart-policy": "true"});
    assert_eq!(status(annotated), "Healthy");
}
