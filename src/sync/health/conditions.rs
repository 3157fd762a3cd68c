//! Custom resources with standard conditions (Flotilla's fallback for kinds without a built-in
//! check, in place of Argo CD's Lua scripts): the `Ready` condition, else `Available`.
//!
//! - The status is stale (the condition's `observedGeneration`, else `status.observedGeneration`,
//!   is behind `metadata.generation`) → Progressing, whatever the condition says.
//! - `True` → Healthy; `False` → Degraded; `Unknown` (or anything else) → Progressing; each with
//!   the condition's message.
//! - No conditions, or neither `Ready` nor `Available` → no health.

use serde_json::Value;

use super::{HealthCode, condition, field, int_at};
use crate::api::application::HealthStatus;

pub(super) fn custom_resource(obj: &Value) -> Option<HealthStatus> {
    let c = condition(obj, "Ready").or_else(|| condition(obj, "Available"))?;
    let generation = int_at(obj, "/metadata/generation");
    let observed = c
        .get("observedGeneration")
        .or_else(|| obj.pointer("/status/observedGeneration"))
        .and_then(Value::as_i64);
    if let Some(observed) = observed
        && generation > observed
    {
        return Some(HealthCode::Progressing.with_message(format!(
            "Waiting for the controller to observe generation {generation} (observed {observed})"
        )));
    }
    let message = field(c, "message");
    Some(match field(c, "status") {
        "True" => HealthCode::Healthy.with_message(message),
        "False" => HealthCode::Degraded.with_message(message),
        _ => HealthCode::Progressing.with_message(message),
    })
}
