//! Resource tracking: how the hub marks what it applies and recognises what it owns. A label
//! selects the objects of an Application (the live caches watch by it), and Argo CD's
//! tracking annotation `<app>:<group>/<kind>:<namespace>/<name>` proves ownership: an object
//! copied elsewhere keeps the annotation but no longer matches its own identity, so it is never
//! taken for an owned one (never pruned, never counted).
//!
//! Several hubs may share a target cluster, and their Applications may share names. A hub with
//! an installation id (`flotilla hub --installation-id`, Argo CD's `installationID`) writes it
//! in the annotation `flotilla.dev/installation-id` of everything it applies and owns only
//! objects carrying its id; a hub without one owns only objects carrying none. So one hub's
//! `web` never prunes, counts or deletes another hub's `web`.

use serde_json::{Map, Value, json};

use crate::appset::application_template::label_value;

/// Label naming the Application (its value fits 63 characters: long names are hashed).
pub const INSTANCE_LABEL: &str = "flotilla.dev/instance";
/// Argo CD's tracking annotation, under Flotilla's prefix.
pub const TRACKING_ANNOTATION: &str = "flotilla.dev/tracking-id";
/// The installation id of the hub that applied an object (Argo CD's
/// `argocd.argoproj.io/installation-id`); absent when the hub has none.
pub const INSTALLATION_ANNOTATION: &str = "flotilla.dev/installation-id";

/// An installation id that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackingError {
    #[error(
        "invalid installation id {id:?}: {reason} (at most 63 letters, digits, '-', '_' or '.')"
    )]
    InstallationId { id: String, reason: &'static str },
}

/// Checks an installation id: empty (none), or at most 63 ASCII letters, digits, `-`, `_`, `.`
/// (it is an annotation value that users grep for and compare).
pub fn validate_installation_id(id: &str) -> Result<(), TrackingError> {
    let reason = if id.len() > 63 {
        "longer than 63 characters"
    } else if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        "it contains other characters"
    } else {
        return Ok(());
    };
    Err(TrackingError::InstallationId {
        id: id.to_string(),
        reason,
    })
}

/// The identity of an object: API group (empty for core), kind, namespace (empty when
/// cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    /// The key of an object as written (apiVersion, kind, metadata).
    pub fn of(obj: &Value) -> ObjectKey {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default();
        ObjectKey {
            group: group.to_string(),
            kind: obj["kind"].as_str().unwrap_or_default().to_string(),
            namespace: obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name: obj["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// `<group>/<kind>:<namespace>/<name>`, the tail of a tracking id.
    pub fn tracking_suffix(&self) -> String {
        format!(
            "{}/{}:{}/{}",
            self.group, self.kind, self.namespace, self.name
        )
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        if self.namespace.is_empty() {
            write!(f, "{kind}/{}", self.name)
        } else {
            write!(f, "{kind} {}/{}", self.namespace, self.name)
        }
    }
}

/// The tracking id of `key` owned by `app`.
pub fn tracking_id(app: &str, key: &ObjectKey) -> String {
    format!("{app}:{}", key.tracking_suffix())
}

/// The value of [`INSTANCE_LABEL`] for `app`.
pub fn instance_label(app: &str) -> String {
    label_value(app)
}

/// Marks a desired object as the Application's: the label, the tracking annotation and the
/// installation id (removed when `installation_id` is empty, so what the hub applies is
/// always its own). The object's namespace must already be final.
pub fn mark(obj: &mut Value, app: &str, installation_id: &str) {
    let key = ObjectKey::of(obj);
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = json!({});
    }
    labels[INSTANCE_LABEL] = Value::String(instance_label(app));
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[TRACKING_ANNOTATION] = Value::String(tracking_id(app, &key));
    if let Some(a) = annotations.as_object_mut() {
        if installation_id.is_empty() {
            a.remove(INSTALLATION_ANNOTATION);
        } else {
            a.insert(
                INSTALLATION_ANNOTATION.into(),
                Value::String(installation_id.to_string()),
            );
        }
    }
}

/// The Application of the hub `installation_id` owning a live object: its tracking annotation
/// names it *and* the object's own identity (so a copy of an owned object is nobody's), and its
/// installation id is the hub's (absent or empty for a hub without one).
pub fn owner(obj: &Value, installation_id: &str) -> Option<String> {
    let annotations = &obj["metadata"]["annotations"];
    let installed_by = annotations[INSTALLATION_ANNOTATION]
        .as_str()
        .unwrap_or_default();
    if installed_by != installation_id {
        return None;
    }
    let id = annotations[TRACKING_ANNOTATION].as_str()?;
    let (app, suffix) = id.split_once(':')?;
    (suffix == ObjectKey::of(obj).tracking_suffix() && !app.is_empty()).then(|| app.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_recognises_owned_objects() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "web"}});
        mark(&mut cm, "guestbook", "");
        assert_eq!(cm["metadata"]["labels"][INSTANCE_LABEL], "guestbook");
        assert_eq!(
            cm["metadata"]["annotations"][TRACKING_ANNOTATION],
            "guestbook:/ConfigMap:web/cfg"
        );
        assert_eq!(owner(&cm, "").as_deref(), Some("guestbook"));
        assert!(cm["metadata"]["annotations"][INSTALLATION_ANNOTATION].is_null());
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": null}});
        mark(&mut d, &"x".repeat(80), "");
        assert_eq!(
            d["metadata"]["annotations"][TRACKING_ANNOTATION],
            format!("{}:apps/Deployment:/web", "x".repeat(80))
        );
        assert!(
            d["metadata"]["labels"][INSTANCE_LABEL]
                .as_str()
                .unwrap()
                .len()
                <= 63
        );
    }

    #[test]
    fn a_copied_object_is_nobodys() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "web"}});
        mark(&mut cm, "guestbook", "");
        let mut copy = cm.clone();
        copy["metadata"]["name"] = json!("cfg-copy");
        assert_eq!(owner(&copy, ""), None);
        copy["metadata"]["name"] = json!("cfg");
        copy["metadata"]["namespace"] = json!("other");
        assert_eq!(owner(&copy, ""), None);
        assert_eq!(
            owner(
                &json!({"metadata": {"annotations": {TRACKING_ANNOTATION: "garbage"}}}),
                ""
            ),
            None
        );
    }

    #[test]
    fn an_installation_owns_only_what_carries_its_id() {
        let cm = || json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "web"}});
        let mut blue = cm();
        mark(&mut blue, "web", "blue");
        assert_eq!(
            blue["metadata"]["annotations"][INSTALLATION_ANNOTATION],
            "blue"
        );
        assert_eq!(
            blue["metadata"]["annotations"][TRACKING_ANNOTATION],
            "web:/ConfigMap:web/cfg"
        );
        assert_eq!(owner(&blue, "blue").as_deref(), Some("web"));
        // Same Application name, same object, another hub: not its.
        assert_eq!(owner(&blue, "green"), None);
        // A hub without an id owns only objects without one (and theirs are not the others').
        assert_eq!(owner(&blue, ""), None);
        let mut plain = cm();
        mark(&mut plain, "web", "");
        assert_eq!(owner(&plain, ""), Some("web".into()));
        assert_eq!(owner(&plain, "blue"), None);
        let mut empty = plain.clone();
        empty["metadata"]["annotations"][INSTALLATION_ANNOTATION] = json!("");
        assert_eq!(owner(&empty, ""), Some("web".into()));
    }

    #[test]
    fn marking_replaces_an_installation_id_written_in_git() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg",
            "annotations": {INSTALLATION_ANNOTATION: "someone-else", "keep": "me"}}});
        mark(&mut cm, "web", "");
        assert!(cm["metadata"]["annotations"][INSTALLATION_ANNOTATION].is_null());
        assert_eq!(cm["metadata"]["annotations"]["keep"], "me");
        mark(&mut cm, "web", "hub-2");
        assert_eq!(
            cm["metadata"]["annotations"][INSTALLATION_ANNOTATION],
            "hub-2"
        );
        assert_eq!(owner(&cm, "hub-2").as_deref(), Some("web"));
    }

    #[test]
    fn installation_ids_are_checked() {
        for ok in ["", "hub-eu.1", "A_b", &"x".repeat(63)] {
            assert_eq!(validate_installation_id(ok), Ok(()), "{ok}");
        }
        let err = validate_installation_id("two words").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid installation id \"two words\": it contains other characters (at most 63 letters, digits, '-', '_' or '.')"
        );
        assert!(
            validate_installation_id(&"x".repeat(64))
                .unwrap_err()
                .to_string()
                .contains("longer than 63 characters")
        );
        assert!(validate_installation_id("hub/1").is_err());
    }

    #[test]
    fn keys_display_like_kubectl() {
        let k = ObjectKey::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}),
        );
        assert_eq!(k.to_string(), "Deployment.apps shop/web");
        let n = ObjectKey::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
        );
        assert_eq!(n.to_string(), "Namespace/shop");
    }
}
