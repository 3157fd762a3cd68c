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

/// Reason of the Normal Event the hub posts on a cluster Secret once it has loaded a changed
/// version and no part of the hub uses the credentials of the version before any more:
/// `flotilla cluster rotate` waits for it before it revokes the old token. The Event's
/// `involvedObject.resourceVersion` is the version loaded.
pub const CREDENTIALS_LOADED: &str = "ClusterCredentialsLoaded";

/// The message of a [`CREDENTIALS_LOADED`] Event (no credential: only names and the version).
pub fn credentials_loaded_message(secret: &str, resource_version: &str) -> String {
    format!(
        "cluster Secret {secret}: resourceVersion {resource_version} loaded; the hub no longer uses the credentials of earlier versions"
    )
}

/// Whether `event` acknowledges that the hub loaded version `resource_version` of the Secret
/// `name` (or a later one: resourceVersions of one object only grow).
pub fn acknowledges(event: &Event, name: &str, resource_version: &str) -> bool {
    let o = &event.involved_object;
    let later_or_same = |seen: &str| match (seen.parse::<u64>(), resource_version.parse::<u64>()) {
        (Ok(seen), Ok(wanted)) => seen >= wanted,
        _ => seen == resource_version,
    };
    event.reason.as_deref() == Some(CREDENTIALS_LOADED)
        && o.kind.as_deref() == Some("Secret")
        && o.name.as_deref() == Some(name)
        && o.resource_version.as_deref().is_some_and(later_or_same)
}

/// Posts (or bumps) a Warning Event on `obj`. Failures are logged, never returned: reporting must
/// not stop the caller.
pub async fn warn<K>(client: &kube::Client, obj: &K, reason: &str, message: &str)
where
    K: Resource<DynamicType = ()>,
{
    post(client, obj, "Warning", reason, message).await
}

/// Posts (or bumps) a Normal Event on `obj`, as [`warn`] does.
pub async fn normal<K>(client: &kube::Client, obj: &K, reason: &str, message: &str)
where
    K: Resource<DynamicType = ()>,
{
    post(client, obj, "Normal", reason, message).await
}

async fn post<K>(client: &kube::Client, obj: &K, type_: &str, reason: &str, message: &str)
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
                type_: Some(type_.into()),
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
    fn acknowledgement_of_a_version_or_a_later_one() {
        let event = |name: &str, rv: &str, reason: &str| Event {
            involved_object: ObjectReference {
                kind: Some("Secret".into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(credentials_loaded_message(&format!("flotilla/{name}"), rv)),
            ..Default::default()
        };
        assert!(acknowledges(
            &event("c", "42", CREDENTIALS_LOADED),
            "c",
            "42"
        ));
        assert!(acknowledges(
            &event("c", "43", CREDENTIALS_LOADED),
            "c",
            "42"
        ));
        assert!(!acknowledges(
            &event("c", "41", CREDENTIALS_LOADED),
            "c",
            "42"
        ));
        assert!(!acknowledges(
            &event("d", "42", CREDENTIALS_LOADED),
            "c",
            "42"
        ));
        assert!(!acknowledges(
            &event("c", "42", "InvalidClusterSecret"),
            "c",
            "42"
        ));
        assert!(acknowledges(
            &event("c", "x1", CREDENTIALS_LOADED),
            "c",
            "x1"
        ));
        assert_eq!(
            credentials_loaded_message("flotilla/c", "42"),
            "cluster Secret flotilla/c: resourceVersion 42 loaded; the hub no longer uses the credentials of earlier versions"
        );
    }

    #[test]
    fn names_are_stable_per_message() {
        assert_eq!(event_name("dev", "R", "m"), event_name("dev", "R", "m"));
        assert_ne!(event_name("dev", "R", "m"), event_name("dev", "R", "n"));
        assert!(event_name(&"x".repeat(300), "R", "m").len() <= 217);
    }
}
