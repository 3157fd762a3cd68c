//! Deployment, StatefulSet, DaemonSet and ReplicaSet (gitops-engine `health_deployment.go`,
//! `health_statefulset.go`, `health_daemonset.go`, `health_replicaset.go`; the rollout checks
//! of `kubectl rollout status`). `spec.replicas` defaults to 1 as the API server defaults it.

use serde_json::Value;

use super::{HealthCode, condition, field, int_at, int_or, str_at};
use crate::api::application::HealthStatus;

/// Whether `status.observedGeneration` is behind `metadata.generation`.
fn generation_behind(obj: &Value) -> bool {
    int_at(obj, "/metadata/generation") > int_at(obj, "/status/observedGeneration")
}

pub(super) fn deployment(obj: &Value) -> HealthStatus {
    if obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true) {
        return HealthCode::Suspended.with_message("Deployment is paused");
    }
    if generation_behind(obj) {
        return HealthCode::Progressing.with_message(
            "Waiting for rollout to finish: observed deployment generation less then desired generation",
        );
    }
    if condition(obj, "Progressing")
        .is_some_and(|c| field(c, "reason") == "ProgressDeadlineExceeded")
    {
        let name = str_at(obj, "/metadata/name");
        return HealthCode::Degraded.with_message(format!(
            "Deployment {name:?} exceeded its progress deadline"
        ));
    }
    let replicas = int_or(obj, "/spec/replicas", 1);
    let updated = int_at(obj, "/status/updatedReplicas");
    let current = int_at(obj, "/status/replicas");
    let available = int_at(obj, "/status/availableReplicas");
    if updated < replicas {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for rollout to finish: {updated} out of {replicas} new replicas have been updated..."
        ));
    }
    if current > updated {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            current - updated
        ));
    }
    if available < updated {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for rollout to finish: {available} of {updated} updated replicas are available..."
        ));
    }
    HealthCode::Healthy.status()
}

pub(super) fn stateful_set(obj: &Value) -> HealthStatus {
    let observed = int_at(obj, "/status/observedGeneration");
    if observed == 0 || int_at(obj, "/metadata/generation") > observed {
        return HealthCode::Progressing
            .with_message("Waiting for statefulset spec update to be observed...");
    }
    let replicas = int_or(obj, "/spec/replicas", 1);
    let ready = int_at(obj, "/status/readyReplicas");
    let updated = int_at(obj, "/status/updatedReplicas");
    if ready < replicas {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for {} pods to be ready...",
            replicas - ready
        ));
    }
    let strategy = str_at(obj, "/spec/updateStrategy/type");
    let rolling = obj
        .pointer("/spec/updateStrategy/rollingUpdate")
        .filter(|v| !v.is_null());
    if strategy == "RollingUpdate"
        && let Some(rolling) = rolling
    {
        if let Some(partition) = rolling.get("partition").and_then(Value::as_i64)
            && updated < replicas - partition
        {
            return HealthCode::Progressing.with_message(format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                replicas - partition
            ));
        }
        return HealthCode::Healthy.with_message(format!(
            "partitioned roll out complete: {updated} new pods have been updated..."
        ));
    }
    if strategy == "OnDelete" {
        return HealthCode::Healthy.with_message(format!(
            "statefulset has {ready} ready pods ({updated} updated)"
        ));
    }
    let update_revision = str_at(obj, "/status/updateRevision");
    let current_revision = str_at(obj, "/status/currentRevision");
    if update_revision != current_revision {
        return HealthCode::Progressing.with_message(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        ));
    }
    HealthCode::Healthy.with_message(format!(
        "statefulset rolling update complete {} pods at revision {current_revision}...",
        int_at(obj, "/status/currentReplicas")
    ))
}

pub(super) fn daemon_set(obj: &Value) -> HealthStatus {
    if generation_behind(obj) {
        return HealthCode::Progressing.with_message(
            "Waiting for rollout to finish: observed daemon set generation less then desired generation",
        );
    }
    let desired = int_at(obj, "/status/desiredNumberScheduled");
    let updated = int_at(obj, "/status/updatedNumberScheduled");
    let available = int_at(obj, "/status/numberAvailable");
    if str_at(obj, "/spec/updateStrategy/type") == "OnDelete" {
        return HealthCode::Healthy.with_message(format!(
            "daemon set {updated} out of {desired} new pods have been updated"
        ));
    }
    let name = str_at(obj, "/metadata/name");
    if updated < desired {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for daemon set {name:?} rollout to finish: {updated} out of {desired} new pods have been updated..."
        ));
    }
    if available < desired {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for daemon set {name:?} rollout to finish: {available} of {desired} updated pods are available..."
        ));
    }
    HealthCode::Healthy.status()
}

pub(super) fn replica_set(obj: &Value) -> HealthStatus {
    if generation_behind(obj) {
        return HealthCode::Progressing.with_message(
            "Waiting for rollout to finish: observed replica set generation less then desired generation",
        );
    }
    if let Some(c) = condition(obj, "ReplicaFailure")
        && field(c, "status") == "True"
    {
        return HealthCode::Degraded.with_message(field(c, "message"));
    }
    let replicas = int_or(obj, "/spec/replicas", 1);
    let available = int_at(obj, "/status/availableReplicas");
    if available < replicas {
        return HealthCode::Progressing.with_message(format!(
            "Waiting for rollout to finish: {available} out of {replicas} new replicas are available..."
        ));
    }
    HealthCode::Healthy.status()
}
