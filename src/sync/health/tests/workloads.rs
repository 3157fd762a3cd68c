//! Deployment, StatefulSet, DaemonSet and ReplicaSet.

use serde_json::{Value, json};

use super::*;

fn deployment(spec: Value, status: Value, generation: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation}, "spec": spec, "status": status})
}

#[test]
fn deployment_healthy() {
    let d = deployment(
        json!({"replicas": 3}),
        json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}),
        2,
    );
    assert_eq!(health(d), ("Healthy".into(), None));
}

#[test]
fn deployment_paused_is_suspended() {
    let d = deployment(json!({"paused": true}), json!({}), 5);
    assert_eq!(
        health(d),
        ("Suspended".into(), Some("Deployment is paused".into()))
    );
}

#[test]
fn deployment_generation_not_observed() {
    let d = deployment(json!({"replicas": 1}), json!({"observedGeneration": 1}), 2);
    assert_eq!(status(d.clone()), "Progressing");
    assert_eq!(
        msg(d),
        "Waiting for rollout to finish: observed deployment generation less then desired generation"
    );
}

#[test]
fn deployment_progress_deadline_exceeded() {
    let d = deployment(
        json!({"replicas": 1}),
        json!({"observedGeneration": 1, "conditions": [
            {"type": "Available", "status": "True"},
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        1,
    );
    assert_eq!(
        health(d),
        (
            "Degraded".into(),
            Some("Deployment \"web\" exceeded its progress deadline".into())
        )
    );
}

#[test]
fn deployment_rollout_branches() {
    let cases = [
        (
            json!({"replicas": 3}),
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 1}),
            "Waiting for rollout to finish: 1 out of 3 new replicas have been updated...",
        ),
        (
            json!({"replicas": 3}),
            json!({"observedGeneration": 1, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3}),
            "Waiting for rollout to finish: 1 old replicas are pending termination...",
        ),
        (
            json!({"replicas": 3}),
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}),
            "Waiting for rollout to finish: 1 of 3 updated replicas are available...",
        ),
        // spec.replicas defaults to 1
        (
            json!({}),
            json!({"observedGeneration": 1}),
            "Waiting for rollout to finish: 0 out of 1 new replicas have been updated...",
        ),
    ];
    for (spec, st, want) in cases {
        let d = deployment(spec, st, 1);
        assert_eq!(health(d), ("Progressing".into(), Some(want.into())));
    }
}

#[test]
fn deployment_scaled_to_zero_is_healthy() {
    let d = deployment(json!({"replicas": 0}), json!({"observedGeneration": 1}), 1);
    assert_eq!(status(d), "Healthy");
}

#[test]
fn extensions_deployment_is_checked() {
    let d = json!({"apiVersion": "extensions/v1beta1", "kind": "Deployment",
        "metadata": {"name": "x"}, "spec": {"paused": true}});
    assert_eq!(status(d), "Suspended");
}

fn sts(spec: Value, status: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 1}, "spec": spec, "status": status})
}

#[test]
fn statefulset_branches() {
    let cases = [
        (
            json!({"replicas": 1}),
            json!({}),
            "Progressing",
            "Waiting for statefulset spec update to be observed...",
        ),
        (
            json!({"replicas": 3}),
            json!({"observedGeneration": 1, "readyReplicas": 1}),
            "Progressing",
            "Waiting for 2 pods to be ready...",
        ),
        (
            json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
            json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1}),
            "Progressing",
            "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
        ),
        (
            json!({"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
            json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2}),
            "Healthy",
            "partitioned roll out complete: 2 new pods have been updated...",
        ),
        (
            json!({"replicas": 2, "updateStrategy": {"type": "OnDelete"}}),
            json!({"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1}),
            "Healthy",
            "statefulset has 2 ready pods (1 updated)",
        ),
        (
            json!({"replicas": 2, "updateStrategy": {"type": "RollingUpdate"}}),
            json!({"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1,
                "currentRevision": "db-1", "updateRevision": "db-2"}),
            "Progressing",
            "waiting for statefulset rolling update to complete 1 pods at revision db-2...",
        ),
        (
            json!({"replicas": 2, "updateStrategy": {"type": "RollingUpdate"}}),
            json!({"observedGeneration": 1, "readyReplicas": 2, "currentReplicas": 2,
                "currentRevision": "db-2", "updateRevision": "db-2"}),
            "Healthy",
            "statefulset rolling update complete 2 pods at revision db-2...",
        ),
    ];
    for (spec, st, want_status, want_msg) in cases {
        assert_eq!(
            health(sts(spec, st)),
            (want_status.to_string(), Some(want_msg.to_string()))
        );
    }
}

#[test]
fn statefulset_generation_behind() {
    let mut s = sts(json!({"replicas": 1}), json!({"observedGeneration": 1}));
    s["metadata"]["generation"] = json!(2);
    assert_eq!(status(s), "Progressing");
}

fn ds(spec: Value, status: Value, generation: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "generation": generation}, "spec": spec, "status": status})
}

#[test]
fn daemonset_branches() {
    assert_eq!(
        health(ds(json!({}), json!({"observedGeneration": 1}), 2)),
        (
            "Progressing".into(),
            Some("Waiting for rollout to finish: observed daemon set generation less then desired generation".into())
        )
    );
    assert_eq!(
        health(ds(
            json!({"updateStrategy": {"type": "OnDelete"}}),
            json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 1}),
            1
        )),
        (
            "Healthy".into(),
            Some("daemon set 1 out of 3 new pods have been updated".into())
        )
    );
    assert_eq!(
        health(ds(
            json!({}),
            json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 2, "numberAvailable": 2}),
            1
        )),
        (
            "Progressing".into(),
            Some("Waiting for daemon set \"agent\" rollout to finish: 2 out of 3 new pods have been updated...".into())
        )
    );
    assert_eq!(
        health(ds(
            json!({}),
            json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2}),
            1
        )),
        (
            "Progressing".into(),
            Some("Waiting for daemon set \"agent\" rollout to finish: 2 of 3 updated pods are available...".into())
        )
    );
    assert_eq!(
        health(ds(
            json!({}),
            json!({"observedGeneration": 1, "desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3}),
            1
        )),
        ("Healthy".into(), None)
    );
}

fn rs(spec: Value, status: Value, generation: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "generation": generation}, "spec": spec, "status": status})
}

#[test]
fn replicaset_branches() {
    assert_eq!(
        status(rs(
            json!({"replicas": 1}),
            json!({"observedGeneration": 1}),
            2
        )),
        "Progressing"
    );
    assert_eq!(
        health(rs(
            json!({"replicas": 2}),
            json!({"observedGeneration": 1, "conditions": [
                {"type": "ReplicaFailure", "status": "True", "message": "quota exceeded"}]}),
            1
        )),
        ("Degraded".into(), Some("quota exceeded".into()))
    );
    assert_eq!(
        health(rs(
            json!({"replicas": 2}),
            json!({"observedGeneration": 1, "availableReplicas": 1, "conditions": [
                {"type": "ReplicaFailure", "status": "False"}]}),
            1
        )),
        (
            "Progressing".into(),
            Some("Waiting for rollout to finish: 1 out of 2 new replicas are available...".into())
        )
    );
    assert_eq!(
        health(rs(
            json!({"replicas": 2}),
            json!({"observedGeneration": 1, "availableReplicas": 2}),
            1
        )),
        ("Healthy".into(), None)
    );
}
