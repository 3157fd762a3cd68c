//! HorizontalPodAutoscaler (gitops-engine `health_hpa.go`). `autoscaling/v1` keeps its
//! conditions in the annotation `autoscaling.alpha.kubernetes.io/conditions` (a JSON list);
//! later versions in `status.conditions`.
//!
//! Any degraded condition (AbleToScale with FailedGetScale/FailedUpdateScale, ScalingActive with
//! FailedGetResourceMetric/InvalidSelector) → Degraded with its message; else a healthy one
//! (AbleToScale or ScalingLimited with status True) → Healthy with its message; else
//! Progressing "Waiting to Autoscale". `ScalingActive=False` alone is not Degraded: the HPA
//! reports it with reason ScalingDisabled when its target is scaled to zero.

use serde_json::{Map, Value};

use super::{HealthCode, field, str_at};
use crate::api::application::HealthStatus;

pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";

const DEGRADED: [(&str, &str); 4] = [
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "InvalidSelector"),
];

const HEALTHY_TYPES: [&str; 2] = ["AbleToScale", "ScalingLimited"];

const WAITING: &str = "Waiting to Autoscale";

pub(super) fn hpa(obj: &Value) -> HealthStatus {
    if str_at(obj, "/apiVersion") == "autoscaling/v1" {
        let Some(text) = obj
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(CONDITIONS_ANNOTATION))
            .and_then(Value::as_str)
        else {
            return HealthCode::Progressing.with_message(WAITING);
        };
        return match serde_json::from_str::<Vec<Map<String, Value>>>(text) {
            Ok(list) => check(list.iter()),
            Err(e) => HealthCode::Unknown.with_message(format!(
                "failed to convert conditions annotation to typed: {e}"
            )),
        };
    }
    let list = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object);
    check(list)
}

/// A condition field by its JSON name, or by the Go field name (`Type`, ...) that
/// gitops-engine's case-insensitive decoding of the v1 annotation also accepts.
fn get<'a>(c: &'a Map<String, Value>, name: &str) -> &'a str {
    let value = field(c, name);
    if !value.is_empty() {
        return value;
    }
    let mut upper = name.to_string();
    upper[..1].make_ascii_uppercase();
    field(c, &upper)
}

fn check<'a>(list: impl Iterator<Item = &'a Map<String, Value>> + Clone) -> HealthStatus {
    if let Some(c) = list
        .clone()
        .find(|c| DEGRADED.contains(&(get(c, "type"), get(c, "reason"))))
    {
        return HealthCode::Degraded.with_message(get(c, "message"));
    }
    if let Some(c) = list
        .clone()
        .find(|c| HEALTHY_TYPES.contains(&get(c, "type")) && get(c, "status") == "True")
    {
        return HealthCode::Healthy.with_message(get(c, "message"));
    }
    HealthCode::Progressing.with_message(WAITING)
}
