//! The kinds with a short rule: Service, Ingress, PersistentVolumeClaim, Job and APIService
//! (gitops-engine `health_service.go`, `health_ingress.go`, `health_pvc.go`, `health_job.go`,
//! `health_apiservice.go`).

use serde_json::Value;

use super::{HealthCode, conditions, field, has_lb_ingress, str_at};
use crate::api::application::HealthStatus;

/// A LoadBalancer Service is Healthy once it has an ingress; every other Service is Healthy.
pub(super) fn service(obj: &Value) -> HealthStatus {
    if str_at(obj, "/spec/type") == "LoadBalancer" && !has_lb_ingress(obj) {
        return HealthCode::Progressing.status();
    }
    HealthCode::Healthy.status()
}

/// Healthy once the load balancer has an ingress.
pub(super) fn ingress(obj: &Value) -> HealthStatus {
    if has_lb_ingress(obj) {
        HealthCode::Healthy.status()
    } else {
        HealthCode::Progressing.status()
    }
}

pub(super) fn pvc(obj: &Value) -> HealthStatus {
    match str_at(obj, "/status/phase") {
        "Bound" => HealthCode::Healthy.status(),
        "Pending" => HealthCode::Progressing.status(),
        "Lost" => HealthCode::Degraded.status(),
        _ => HealthCode::Unknown.status(),
    }
}

/// `Failed` → Degraded, `Suspended=True` → Suspended, `Complete` → Healthy, otherwise
/// Progressing. Unlike gitops-engine, `Failed` and `Complete` count only with status `True`,
/// and a `Suspended=False` condition (a resumed Job) is not terminal.
pub(super) fn job(obj: &Value) -> HealthStatus {
    let mut failed = None;
    let mut complete = None;
    let mut suspended = None;
    for c in conditions(obj) {
        if field(c, "status") != "True" {
            continue;
        }
        match field(c, "type") {
            "Failed" => failed = Some(field(c, "message")),
            "Complete" => complete = Some(field(c, "message")),
            "Suspended" => suspended = Some(field(c, "message")),
            _ => {}
        }
    }
    match (failed, suspended, complete) {
        (Some(msg), _, _) => HealthCode::Degraded.with_message(msg),
        (None, Some(msg), _) => HealthCode::Suspended.with_message(msg),
        (None, None, Some(msg)) => HealthCode::Healthy.with_message(msg),
        (None, None, None) => HealthCode::Progressing.status(),
    }
}

/// The `Available` condition: True → Healthy, otherwise Progressing.
pub(super) fn api_service(obj: &Value) -> HealthStatus {
    match conditions(obj).find(|c| field(c, "type") == "Available") {
        Some(c) => {
            let message = format!("{}: {}", field(c, "reason"), field(c, "message"));
            if field(c, "status") == "True" {
                HealthCode::Healthy.with_message(message)
            } else {
                HealthCode::Progressing.with_message(message)
            }
        }
        None => HealthCode::Progressing.with_message("Waiting to be processed"),
    }
}
