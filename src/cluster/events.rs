//! Kubernetes Events (core/v1) on the objects the hub reads: how a bad cluster Secret is
//! reported where `kubectl describe secret` shows it. A repeated message bumps the count of one
//! Event instead of creating another, as client-go's event correlator does.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

/// The component named as the Events' source.
pub const COMPONENT: &str = "flotilla-hub";

/// Posts (or bumps) a Warning Event on `obj`. Failures are logged, never returned: reporting must
/// not stop the caller.
pub async fn warn<K>(client: &kube::Client, obj: &K, reason: &str, message: &str)
where
    K: Resource<DynamicType = ()>,
{
    let Some(ns) = obj.namespace() else { return };
    let name = event_name(&obj.name_any(), reason, message);
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    let now = Time(Timestamp::now());
    match api.get_opt(&name).await {
        Ok(Some(existing)) => {
            let count = existing.count.unwrap_or(1) + 1;
            let patch = json!({"count": count, "lastTimestamp": now});
            if let Err(e) = api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                tracing::debug!(event = %name, error = %e, "could not update an Event");
            }
        }
        Ok(None) => {
            let event = Event {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    ..Default::default()
                },
                involved_object: ObjectReference {
                    api_version: Some(K::api_version(&()).into_owned()),
                    kind: Some(K::kind(&()).into_owned()),
                    name: Some(obj.name_any()),
                    namespace: Some(ns.clone()),
                    uid: obj.uid(),
                    resource_version: obj.resource_version(),
                    ..Default::default()
                },
                reason: Some(reason.into()),
                message: Some(message.into()),
                type_: Some("Warning".into()),
                source: Some(EventSource {
                    component: Some(COMPONENT.into()),
                    host: None,
                }),
                reporting_component: Some(COMPONENT.into()),
                first_timestamp: Some(now.clone()),
                last_timestamp: Some(now),
                count: Some(1),
                ..Default::default()
            };
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                tracing::debug!(event = %name, error = %e, "could not post an Event");
            }
        }
        Err(e) => tracing::debug!(event = %name, error = %e, "could not read an Event"),
    }
}

/// `<object>.<16 hex digits of (reason, message)>`: one Event per distinct message.
fn event_name(object: &str, reason: &str, message: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in reason.bytes().chain([0]).chain(message.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let object: String = object.chars().take(200).collect();
    format!("{object}.{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_per_message() {
        assert_eq!(event_name("dev", "R", "m"), event_name("dev", "R", "m"));
        assert_ne!(event_name("dev", "R", "m"), event_name("dev", "R", "n"));
        assert!(event_name(&"x".repeat(300), "R", "m").len() <= 217);
    }
}
