//! How lists and maps of a resource merge: the part of the OpenAPI schema that strategic merge
//! patch (`patchStrategy` / `patchMergeKey`) and server-side apply (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) need.
//!
//! A path is the field names from the object root; list items are transparent, so the env list
//! of a Deployment's containers is `["spec", "template", "spec", "containers", "env"]`.

use serde_json::Value;

/// How a list merges under server-side apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole (the default).
    Atomic,
    /// A set of scalars.
    Set,
    /// A map of items keyed by these fields.
    Map(Vec<String>),
}

/// How a list merges under strategic merge patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchStrategy {
    /// Replaced as a whole (the default).
    Replace,
    /// Scalars merged as a set (`patchStrategy: merge` without a key).
    MergeScalars,
    /// Items merged by this key (`patchStrategy: merge`, `patchMergeKey`).
    MergeByKey(String),
}

/// The merge behaviour of one resource kind.
pub trait Schema: Send + Sync {
    /// The server-side apply list type of the list at `path`.
    fn list_type(&self, path: &[&str]) -> ListType;
    /// Whether the map (object) at `path` is atomic (`x-kubernetes-map-type: atomic`).
    fn map_is_atomic(&self, _path: &[&str]) -> bool {
        false
    }
    /// The strategic merge patch strategy of the list at `path`.
    fn patch_strategy(&self, path: &[&str]) -> PatchStrategy;
    /// Whether the object at `path` uses `patchStrategy: retainKeys` (e.g. volumes' items).
    fn retain_keys(&self, _path: &[&str]) -> bool {
        false
    }
}

/// The schema of a built-in kind, from the table of its merge keys.
pub struct Builtin {
    pub group: String,
    pub kind: String,
}

impl Schema for Builtin {
    fn list_type(&self, path: &[&str]) -> ListType {
        if let Some(l) = metadata_list_type(path) {
            return l;
        }
        ListType::Atomic
    }

    fn patch_strategy(&self, path: &[&str]) -> PatchStrategy {
        match metadata_list_type(path) {
            Some(ListType::Set) => PatchStrategy::MergeScalars,
            Some(ListType::Map(keys)) => PatchStrategy::MergeByKey(keys[0].clone()),
            _ => PatchStrategy::Replace,
        }
    }
}

/// `metadata` is the same for every kind.
fn metadata_list_type(path: &[&str]) -> Option<ListType> {
    match path {
        ["metadata", "finalizers"] => Some(ListType::Set),
        ["metadata", "ownerReferences"] => Some(ListType::Map(vec!["uid".to_string()])),
        _ => None,
    }
}

/// The schema of a custom resource, read from its CRD version's `openAPIV3Schema`.
/// Lists without `x-kubernetes-list-type` are atomic; strategic merge patch does not apply.
pub struct Crd<'a> {
    pub schema: Option<&'a Value>,
}

impl Crd<'_> {
    fn node(&self, path: &[&str]) -> Option<&Value> {
        let mut node = self.schema?;
        for field in path {
            // Step through list items transparently.
            while node.get("type").and_then(Value::as_str) == Some("array") {
                node = node.get("items")?;
            }
            node = node.get("properties")?.get(*field)?;
        }
        Some(node)
    }
}

impl Schema for Crd<'_> {
    fn list_type(&self, path: &[&str]) -> ListType {
        if let Some(l) = metadata_list_type(path) {
            return l;
        }
        let Some(node) = self.node(path) else { return ListType::Atomic };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                node.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| keys.iter().filter_map(|k| k.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    fn map_is_atomic(&self, path: &[&str]) -> bool {
        self.node(path)
            .and_then(|n| n.get("x-kubernetes-map-type"))
            .and_then(Value::as_str)
            == Some("atomic")
    }

    fn patch_strategy(&self, path: &[&str]) -> PatchStrategy {
        match metadata_list_type(path) {
            Some(ListType::Set) => PatchStrategy::MergeScalars,
            Some(ListType::Map(keys)) => PatchStrategy::MergeByKey(keys[0].clone()),
            _ => PatchStrategy::Replace,
        }
    }
}
