//! Resource tracking: how the hub marks what it applies and recognises what it owns. A label
//! selects the objects of an Application (the live caches watch by it), and Argo CD's
//! tracking annotation `<app>:<group>/<kind>:<namespace>/<name>` proves ownership: an object
//! copied elsewhere keeps the annotation but no longer matches its own identity, so it is never
//! taken for an owned one (never pruned, never counted).

use serde_json::{Map, Value, json};

use crate::appset::application_template::label_value;

/// Label naming the Application (its value fits 63 characters: long names are hashed).
pub const INSTANCE_LABEL: &str = "flotilla.dev/instance";
/// Argo CD's tracking annotation, under Flotilla's prefix.
pub const TRACKING_ANNOTATION: &str = "flotilla.dev/tracking-id";

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

/// Marks a desired object as the Application's: the label and the tracking annotation. The
/// object's namespace must already be final.
pub fn mark(obj: &mut Value, app: &str) {
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
}

/// The Application owning a live object: its tracking annotation names it *and* the object's
/// own identity (so a copy of an owned object is nobody's).
pub fn owner(obj: &Value) -> Option<String> {
    let id = obj["metadata"]["annotations"][TRACKING_ANNOTATION].as_str()?;
    let (app, suffix) = id.split_once(':')?;
    (suffix == ObjectKey::of(obj).tracking_suffix() && !app.is_empty()).then(|| app.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_recognises_owned_objects() {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "web"}});
        mark(&mut cm, "guestbook");
        assert_eq!(cm["metadata"]["labels"][INSTANCE_LABEL], "guestbook");
        assert_eq!(
            cm["metadata"]["annotations"][TRACKING_ANNOTATION],
            "guestbook:/ConfigMap:web/cfg"
        );
        assert_eq!(owner(&cm).as_deref(), Some("guestbook"));
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": null}});
        mark(&mut d, &"x".repeat(80));
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
        mark(&mut cm, "guestbook");
        let mut copy = cm.clone();
        copy["metadata"]["name"] = json!("cfg-copy");
        assert_eq!(owner(&copy), None);
        copy["metadata"]["name"] = json!("cfg");
        copy["metadata"]["namespace"] = json!("other");
        assert_eq!(owner(&copy), None);
        assert_eq!(
            owner(&json!({"metadata": {"annotations": {TRACKING_ANNOTATION: "garbage"}}})),
            None
        );
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
