//! Pods (gitops-engine `health_pod.go`). `spec.restartPolicy` defaults to `Always`, as the API
//! server defaults it.

use serde_json::{Map, Value};

use super::{HealthCode, condition, field, str_at};
use crate::api::application::HealthStatus;

/// With this annotation, a running pod is judged by readiness whatever its restart policy.
pub const IGNORE_RESTART_POLICY_ANNOTATION: &str = "argocd.argoproj.io/ignore-restart-policy";

fn statuses<'a>(obj: &'a Value, list: &str) -> impl Iterator<Item = &'a Map<String, Value>> {
    obj.pointer(&format!("/status/{list}"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// Whether a waiting reason means the container cannot start (ErrImagePull,
/// CreateContainerConfigError, CrashLoopBackOff, ImagePullBackOff, ...).
fn is_error_reason(reason: &str) -> bool {
    reason.starts_with("Err") || reason.ends_with("Error") || reason.ends_with("BackOff")
}

/// Why a terminated container failed, if it did.
fn fail_message(ctr: &Map<String, Value>) -> Option<String> {
    let terminated = ctr.get("state")?.get("terminated")?.as_object()?;
    let message = field(terminated, "message");
    if !message.is_empty() {
        return Some(message.to_string());
    }
    if field(terminated, "reason") == "OOMKilled" {
        return Some("OOMKilled".to_string());
    }
    let code = terminated
        .get("exitCode")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    (code != 0).then(|| {
        format!(
            "container {:?} failed with exit code {code}",
            field(ctr, "name")
        )
    })
}

pub(super) fn pod(obj: &Value) -> HealthStatus {
    let policy = match str_at(obj, "/spec/restartPolicy") {
        "" => "Always",
        p => p,
    };
    let message = str_at(obj, "/status/message");
    if policy == "Always" {
        let waiting: Vec<&str> = statuses(obj, "containerStatuses")
            .filter_map(|c| c.get("state")?.get("waiting")?.as_object())
            .filter(|w| is_error_reason(field(w, "reason")))
            .map(|w| field(w, "message"))
            .collect();
        if !waiting.is_empty() {
            return HealthCode::Degraded.with_message(waiting.join(", "));
        }
    }
    match str_at(obj, "/status/phase") {
        "Pending" => HealthCode::Progressing.with_message(message),
        "Succeeded" => HealthCode::Healthy.with_message(message),
        "Failed" => {
            if !message.is_empty() {
                return HealthCode::Degraded.with_message(message);
            }
            let reason = statuses(obj, "initContainerStatuses")
                .chain(statuses(obj, "containerStatuses"))
                .find_map(fail_message)
                .unwrap_or_default();
            HealthCode::Degraded.with_message(reason)
        }
        "Running" => {
            let ignore_policy = obj
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(IGNORE_RESTART_POLICY_ANNOTATION))
                .is_some();
            if policy != "Always" && !ignore_policy {
                // Finite pods (hooks, mostly) are Progressing until they end.
                return HealthCode::Progressing.with_message(message);
            }
            if condition(obj, "Ready").is_some_and(|c| field(c, "status") == "True") {
                return HealthCode::Healthy.with_message(message);
            }
            let restarted = statuses(obj, "containerStatuses").any(|c| {
                c.get("lastState")
                    .and_then(|s| s.get("terminated"))
                    .is_some_and(|t| !t.is_null())
            });
            if restarted {
                HealthCode::Degraded.with_message(message)
            } else {
                HealthCode::Progressing.with_message(message)
            }
        }
        _ => HealthCode::Unknown.with_message(message),
    }
}
