//! Health of live objects, as Argo CD assesses it (gitops-engine `pkg/health`, reference notes
//! §6.6), and the health of an Application from the health of its resources.
//!
//! Order of evaluation, as in `GetResourceHealth`: a `metadata.deletionTimestamp` makes any
//! object Progressing ("Pending deletion"); then the built-in check of the kind; custom
//! resources (a group with a dot, outside `*.k8s.io`) fall back to their standard `Ready` or
//! `Available` condition. Kinds without a check have no health (`None`) and are not counted.
//! Lua overrides are not supported.

mod aggregate;
mod conditions;
mod hpa;
mod pod;
mod simple;
mod workloads;

use serde_json::{Map, Value};

pub use aggregate::{ResourceHealth, app_health};

use crate::api::application::HealthStatus;

/// Annotations that exclude a resource from the app's health when set to `"true"`.
pub const IGNORE_HEALTHCHECK_ANNOTATIONS: [&str; 2] = [
    "argocd.argoproj.io/ignore-healthcheck",
    "flotilla.dev/ignore-healthcheck",
];

/// The health codes, best to worst (Argo CD's `healthOrder`): `Ord` compares severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HealthCode {
    Healthy,
    Suspended,
    Progressing,
    Missing,
    Degraded,
    Unknown,
}

impl HealthCode {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCode::Healthy => "Healthy",
            HealthCode::Suspended => "Suspended",
            HealthCode::Progressing => "Progressing",
            HealthCode::Missing => "Missing",
            HealthCode::Degraded => "Degraded",
            HealthCode::Unknown => "Unknown",
        }
    }

    /// The code of a status string; `None` for anything else.
    pub fn parse(status: &str) -> Option<HealthCode> {
        [
            HealthCode::Healthy,
            HealthCode::Suspended,
            HealthCode::Progressing,
            HealthCode::Missing,
            HealthCode::Degraded,
            HealthCode::Unknown,
        ]
        .into_iter()
        .find(|c| c.as_str() == status)
    }

    /// A [`HealthStatus`] of this code; an empty message is no message.
    pub fn with_message(self, message: impl Into<String>) -> HealthStatus {
        let message = message.into();
        HealthStatus {
            status: self.as_str().to_string(),
            message: (!message.is_empty()).then_some(message),
        }
    }

    /// A [`HealthStatus`] of this code without a message.
    pub fn status(self) -> HealthStatus {
        self.with_message("")
    }
}

/// The health of one live object, or `None` for a kind without a health check.
pub fn resource_health(obj: &Value) -> Option<HealthStatus> {
    if obj
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
    {
        return Some(HealthCode::Progressing.with_message("Pending deletion"));
    }
    let group = group_of(obj);
    let kind = str_at(obj, "/kind");
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => Some(workloads::deployment(obj)),
        ("apps", "StatefulSet") => Some(workloads::stateful_set(obj)),
        ("apps" | "extensions", "DaemonSet") => Some(workloads::daemon_set(obj)),
        ("apps" | "extensions", "ReplicaSet") => Some(workloads::replica_set(obj)),
        ("", "Service") => Some(simple::service(obj)),
        ("networking.k8s.io" | "extensions", "Ingress") => Some(simple::ingress(obj)),
        ("", "PersistentVolumeClaim") => Some(simple::pvc(obj)),
        ("", "Pod") => Some(pod::pod(obj)),
        ("batch", "Job") => Some(simple::job(obj)),
        ("autoscaling", "HorizontalPodAutoscaler") => Some(hpa::hpa(obj)),
        ("apiregistration.k8s.io", "APIService") => Some(simple::api_service(obj)),
        (group, _) if is_custom_group(group) => conditions::custom_resource(obj),
        _ => None,
    }
}

/// Whether the object asks to be left out of the app's health
/// ([`IGNORE_HEALTHCHECK_ANNOTATIONS`] set to `"true"`).
pub fn is_health_ignored(obj: &Value) -> bool {
    IGNORE_HEALTHCHECK_ANNOTATIONS.iter().any(|key| {
        obj.pointer("/metadata/annotations")
            .and_then(|a| a.get(*key))
            .and_then(Value::as_str)
            .is_some_and(|v| v == "true")
    })
}

/// The API group of an object (`""` for the core group).
fn group_of(obj: &Value) -> &str {
    match str_at(obj, "/apiVersion").rsplit_once('/') {
        Some((group, _)) => group,
        None => "",
    }
}

/// Groups of custom resources: CRD groups must contain a dot; the `*.k8s.io` groups belong to
/// Kubernetes itself.
fn is_custom_group(group: &str) -> bool {
    group.contains('.') && !group.ends_with(".k8s.io")
}

/// The string at a JSON pointer, `""` when absent or not a string.
fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The integer at a JSON pointer, `0` when absent (Go's zero value).
fn int_at(obj: &Value, pointer: &str) -> i64 {
    int_or(obj, pointer, 0)
}

/// The integer at a JSON pointer, or `default`.
fn int_or(obj: &Value, pointer: &str, default: i64) -> i64 {
    obj.pointer(pointer)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .unwrap_or(default)
}

/// The objects of `status.conditions`, in order.
fn conditions(obj: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The first condition of a type.
fn condition<'a>(obj: &'a Value, ty: &str) -> Option<&'a Map<String, Value>> {
    conditions(obj).find(|c| field(c, "type") == ty)
}

/// A string field of a condition, `""` when absent.
fn field<'a>(c: &'a Map<String, Value>, name: &str) -> &'a str {
    c.get(name).and_then(Value::as_str).unwrap_or("")
}

/// Whether `status.loadBalancer.ingress` has entries.
fn has_lb_ingress(obj: &Value) -> bool {
    obj.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

#[cfg(test)]
mod tests;
