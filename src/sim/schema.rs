//! How lists and maps of a resource merge: the part of the OpenAPI schema that strategic merge
//! patch (`patchStrategy` / `patchMergeKey`) and server-side apply (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) need.
//!
//! A path is the field names from the object root; list items are transparent, so the env list
//! of a Deployment's containers is `["spec", "template", "spec", "containers", "env"]`.

use serde_json::Value;

pub mod structural;
mod table;

use super::decode::{Node as GoType, NodeId, Scalar, Types};

use table::{Field, Shape};

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
    /// Whether the object at `path` has `patchStrategy: replace`: strategic merge patch replaces
    /// it whole instead of merging it (e.g. a PodDisruptionBudget's `spec.selector`).
    fn replaces_map(&self, _path: &[&str]) -> bool {
        false
    }
    /// Whether the object at `path` declares `field` (structured-merge-diff refuses an applied
    /// configuration with a field its schema does not declare). Open objects declare all.
    fn declares(&self, _path: &[&str], _field: &str) -> bool {
        true
    }
    /// structured-merge-diff's complaint about the scalar `value` at `path`, if its type does
    /// not fit the schema.
    fn scalar_error(&self, _path: &[&str], _value: &Value) -> Option<String> {
        None
    }
}

/// The decoder's node of the value at `path` of a built-in kind, list items looked through.
fn builtin_node(group: &str, kind: &str, path: &[&str]) -> Option<(&'static Types, NodeId)> {
    let types = Types::builtin();
    let mut id = types.resolve(types.root_of_kind(group, kind)?, path)?;
    while let GoType::List(item) = types.node(id) {
        id = *item;
    }
    Some((types, id))
}

/// `%v` of a decoded scalar, as Go prints it inside structured-merge-diff's messages.
fn go_scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".to_string(),
        other => other.to_string(),
    }
}

/// The schema of a built-in kind, from the table of its merge keys.
pub struct Builtin {
    pub group: String,
    pub kind: String,
}

impl Builtin {
    /// The table entry the path ends on.
    fn node(&self, path: &[&str]) -> Option<Node> {
        resolve(table::root(&self.group, &self.kind), path)
    }

    fn field(&self, path: &[&str]) -> Option<&'static Field> {
        self.node(path).and_then(|n| n.field)
    }
}

/// Where a path ends in the table: on a field (`field`), or on a value of a map field (no
/// field); `ty` is the struct type of the value there ("" when unknown or a scalar).
struct Node {
    field: Option<&'static Field>,
    ty: &'static str,
}

/// Walks `path` from the struct type `root`. List items are transparent; a map field's next
/// segment is one of its keys. `None` when the path leaves the table (default merging).
fn resolve(root: &'static str, path: &[&str]) -> Option<Node> {
    let mut node = Node {
        field: None,
        ty: root,
    };
    let mut rest = path;
    while let [name, tail @ ..] = rest {
        let field = table::fields(node.ty)?.iter().find(|f| f.name == *name)?;
        node = Node {
            field: Some(field),
            ty: field.ty,
        };
        rest = tail;
        if field.shape == Shape::Map
            && let [_key, tail @ ..] = rest
        {
            node.field = None;
            rest = tail;
        }
    }
    Some(node)
}

impl Schema for Builtin {
    /// Lists with `x-kubernetes-list-type` map or set; every other list is atomic.
    fn list_type(&self, path: &[&str]) -> ListType {
        match self.field(path) {
            Some(f) if f.shape == Shape::List && !f.keys.is_empty() => {
                ListType::Map(f.keys.iter().map(|k| k.to_string()).collect())
            }
            Some(f) if f.shape == Shape::List && f.set => ListType::Set,
            _ => ListType::Atomic,
        }
    }

    /// A field marked `x-kubernetes-map-type: atomic` (e.g. `nodeSelector`), or a value of an
    /// atomic struct type (e.g. a `LabelSelector`). For a list, this answers for its items.
    fn map_is_atomic(&self, path: &[&str]) -> bool {
        let Some(node) = self.node(path) else {
            return false;
        };
        node.field.is_some_and(|f| f.atomic) || table::ATOMIC_TYPES.contains(&node.ty)
    }

    fn patch_strategy(&self, path: &[&str]) -> PatchStrategy {
        match self.field(path) {
            Some(f) if f.shape == Shape::List && f.merge && !f.merge_key.is_empty() => {
                PatchStrategy::MergeByKey(f.merge_key.to_string())
            }
            Some(f) if f.shape == Shape::List && f.merge => PatchStrategy::MergeScalars,
            _ => PatchStrategy::Replace,
        }
    }

    fn retain_keys(&self, path: &[&str]) -> bool {
        self.field(path).is_some_and(|f| f.retain_keys)
    }

    fn replaces_map(&self, path: &[&str]) -> bool {
        self.field(path)
            .is_some_and(|f| f.replace && f.shape != Shape::List)
    }

    fn declares(&self, path: &[&str], field: &str) -> bool {
        match builtin_node(&self.group, &self.kind, path) {
            Some((types, id)) => match types.node(id) {
                GoType::Struct { fields, .. } => fields.contains_key(field),
                _ => true,
            },
            None => true,
        }
    }

    /// `validateScalar`: numbers where a number is declared, strings where a string is, and
    /// booleans; int-or-string and quantities take any scalar.
    fn scalar_error(&self, path: &[&str], value: &Value) -> Option<String> {
        let (types, id) = builtin_node(&self.group, &self.kind, path)?;
        let GoType::Scalar(s) = types.node(id) else {
            return None;
        };
        match s {
            Scalar::Int32 | Scalar::Int64 | Scalar::Float64 if !value.is_number() => {
                let t = match value {
                    Value::String(_) => "string",
                    Value::Bool(_) => "bool",
                    _ => return None,
                };
                Some(format!("expected numeric (int or float), got {t}"))
            }
            Scalar::String | Scalar::Time | Scalar::Bytes if !value.is_string() => Some(format!(
                "expected string, got &value.valueUnstructured{{Value:{}}}",
                go_scalar(value)
            )),
            Scalar::Bool if !value.is_boolean() => {
                Some(format!("expected boolean, got &{{{}}}", go_scalar(value)))
            }
            _ => None,
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
            node = match node.get("properties").and_then(|p| p.get(*field)) {
                Some(n) => n,
                // A map (`additionalProperties`): the segment is one of its keys.
                None => node.get("additionalProperties").filter(|n| n.is_object())?,
            };
        }
        Some(node)
    }
}

impl Schema for Crd<'_> {
    fn list_type(&self, path: &[&str]) -> ListType {
        if let Some(l) = metadata_list_type(path) {
            return l;
        }
        let Some(node) = self.node(path) else {
            return ListType::Atomic;
        };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListType::Set,
            Some("map") => ListType::Map(
                node.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => ListType::Atomic,
        }
    }

    /// For a list, this answers for its items.
    fn map_is_atomic(&self, path: &[&str]) -> bool {
        if path == ["metadata", "ownerReferences"] {
            return true;
        }
        let mut node = self.node(path);
        while let Some(items) =
            node.filter(|n| n.get("type").and_then(Value::as_str) == Some("array"))
        {
            node = items.get("items");
        }
        node.and_then(|n| n.get("x-kubernetes-map-type"))
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

    /// An object whose schema lists properties declares those (and, at the root and in an
    /// embedded resource, apiVersion, kind and metadata); maps and objects that preserve
    /// unknown fields declare everything.
    fn declares(&self, path: &[&str], field: &str) -> bool {
        let Some(mut node) = self.node(path) else {
            return true;
        };
        while node.get("type").and_then(Value::as_str) == Some("array") {
            match node.get("items") {
                Some(items) => node = items,
                None => return true,
            }
        }
        let flag = |k: &str| node.get(k).and_then(Value::as_bool) == Some(true);
        let Some(props) = node.get("properties").and_then(Value::as_object) else {
            return true;
        };
        let meta = matches!(field, "apiVersion" | "kind" | "metadata");
        props.contains_key(field)
            || flag("x-kubernetes-preserve-unknown-fields")
            || node
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false))
            || (meta && (path.is_empty() || flag("x-kubernetes-embedded-resource")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn builtin(group: &str, kind: &str) -> Builtin {
        Builtin {
            group: group.to_string(),
            kind: kind.to_string(),
        }
    }

    fn keys(k: &[&str]) -> ListType {
        ListType::Map(k.iter().map(|s| s.to_string()).collect())
    }

    fn by(key: &str) -> PatchStrategy {
        PatchStrategy::MergeByKey(key.to_string())
    }

    #[test]
    fn pod_template_lists_are_shared_by_every_workload() {
        let templates: &[(&str, &str, &[&str])] = &[
            ("", "Pod", &["spec"]),
            ("apps", "Deployment", &["spec", "template", "spec"]),
            ("apps", "StatefulSet", &["spec", "template", "spec"]),
            ("apps", "DaemonSet", &["spec", "template", "spec"]),
            ("apps", "ReplicaSet", &["spec", "template", "spec"]),
            ("batch", "Job", &["spec", "template", "spec"]),
            (
                "batch",
                "CronJob",
                &["spec", "jobTemplate", "spec", "template", "spec"],
            ),
        ];
        for (group, kind, prefix) in templates {
            let s = builtin(group, kind);
            let at = |rest: &[&'static str]| -> Vec<&'static str> { [*prefix, rest].concat() };
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                assert_eq!(s.list_type(&at(&[list])), keys(&["name"]), "{kind} {list}");
                assert_eq!(s.patch_strategy(&at(&[list])), by("name"), "{kind} {list}");
                assert_eq!(s.list_type(&at(&[list, "env"])), keys(&["name"]));
                assert_eq!(s.patch_strategy(&at(&[list, "env"])), by("name"));
                assert_eq!(
                    s.list_type(&at(&[list, "ports"])),
                    keys(&["containerPort", "protocol"])
                );
                assert_eq!(s.patch_strategy(&at(&[list, "ports"])), by("containerPort"));
                assert_eq!(
                    s.patch_strategy(&at(&[list, "volumeMounts"])),
                    by("mountPath")
                );
                assert_eq!(s.list_type(&at(&[list, "command"])), ListType::Atomic);
                assert_eq!(
                    s.patch_strategy(&at(&[list, "args"])),
                    PatchStrategy::Replace
                );
            }
            assert_eq!(s.list_type(&at(&["volumes"])), keys(&["name"]));
            assert!(s.retain_keys(&at(&["volumes"])));
            assert!(s.retain_keys(&at(&["resourceClaims"])));
            assert_eq!(s.patch_strategy(&at(&["imagePullSecrets"])), by("name"));
            assert_eq!(s.patch_strategy(&at(&["hostAliases"])), by("ip"));
            assert_eq!(s.list_type(&at(&["tolerations"])), ListType::Atomic);
            assert_eq!(
                s.patch_strategy(&at(&["tolerations"])),
                PatchStrategy::Replace
            );
            assert_eq!(
                s.list_type(&at(&["topologySpreadConstraints"])),
                keys(&["topologyKey", "whenUnsatisfiable"])
            );
            assert_eq!(
                s.patch_strategy(&at(&["topologySpreadConstraints"])),
                by("topologyKey")
            );
            assert!(s.map_is_atomic(&at(&["nodeSelector"])));
            assert!(s.map_is_atomic(&at(&["topologySpreadConstraints", "labelSelector"])));
            assert!(s.map_is_atomic(&at(&["containers", "env", "valueFrom", "secretKeyRef"])));
            assert!(!s.map_is_atomic(&at(&["containers", "env", "valueFrom"])));
            assert!(!s.map_is_atomic(&at(&["nodeSelector", "disktype"])));
        }
    }

    #[test]
    fn metadata_of_every_kind() {
        for (group, kind) in [
            ("", "ConfigMap"),
            ("apps", "Deployment"),
            ("example.com", "Widget"),
        ] {
            let s = builtin(group, kind);
            assert_eq!(s.list_type(&["metadata", "finalizers"]), ListType::Set);
            assert_eq!(
                s.patch_strategy(&["metadata", "finalizers"]),
                PatchStrategy::MergeScalars
            );
            assert_eq!(
                s.list_type(&["metadata", "ownerReferences"]),
                keys(&["uid"])
            );
            assert_eq!(
                s.patch_strategy(&["metadata", "ownerReferences"]),
                by("uid")
            );
            assert!(s.map_is_atomic(&["metadata", "ownerReferences"]));
            assert!(!s.map_is_atomic(&["metadata", "labels"]));
            assert_eq!(
                s.list_type(&["metadata", "managedFields"]),
                ListType::Atomic
            );
        }
        // The pod template's own metadata too.
        let d = builtin("apps", "Deployment");
        assert_eq!(
            d.list_type(&["spec", "template", "metadata", "finalizers"]),
            ListType::Set
        );
    }

    #[test]
    fn services_and_accounts() {
        let svc = builtin("", "Service");
        assert_eq!(
            svc.list_type(&["spec", "ports"]),
            keys(&["port", "protocol"])
        );
        assert_eq!(svc.patch_strategy(&["spec", "ports"]), by("port"));
        assert!(svc.map_is_atomic(&["spec", "selector"]));
        assert_eq!(svc.list_type(&["spec", "clusterIPs"]), ListType::Atomic);
        assert_eq!(svc.list_type(&["status", "conditions"]), keys(&["type"]));
        let sa = builtin("", "ServiceAccount");
        assert_eq!(sa.list_type(&["secrets"]), keys(&["name"]));
        assert_eq!(sa.patch_strategy(&["secrets"]), by("name"));
        // Unlike a pod's, a service account's imagePullSecrets is atomic in v1.33.
        assert_eq!(sa.list_type(&["imagePullSecrets"]), ListType::Atomic);
        assert_eq!(
            sa.patch_strategy(&["imagePullSecrets"]),
            PatchStrategy::Replace
        );
        for kind in ["ConfigMap", "Secret"] {
            assert_eq!(builtin("", kind).list_type(&["data"]), ListType::Atomic);
        }
        let ns = builtin("", "Namespace");
        assert_eq!(ns.list_type(&["spec", "finalizers"]), ListType::Atomic);
        assert_eq!(ns.patch_strategy(&["status", "conditions"]), by("type"));
    }

    #[test]
    fn atomic_lists_and_selectors() {
        let ing = builtin("networking.k8s.io", "Ingress");
        assert_eq!(ing.list_type(&["spec", "rules"]), ListType::Atomic);
        assert_eq!(ing.list_type(&["spec", "tls"]), ListType::Atomic);
        assert!(ing.map_is_atomic(&["spec", "defaultBackend", "service", "port"]));
        let np = builtin("networking.k8s.io", "NetworkPolicy");
        assert_eq!(np.list_type(&["spec", "ingress"]), ListType::Atomic);
        assert!(np.map_is_atomic(&["spec", "podSelector"]));
        for kind in ["Role", "ClusterRole"] {
            let r = builtin("rbac.authorization.k8s.io", kind);
            assert_eq!(r.list_type(&["rules"]), ListType::Atomic);
            assert_eq!(r.patch_strategy(&["rules"]), PatchStrategy::Replace);
        }
        let rb = builtin("rbac.authorization.k8s.io", "RoleBinding");
        assert_eq!(rb.list_type(&["subjects"]), ListType::Atomic);
        assert!(rb.map_is_atomic(&["roleRef"]));
        // A LabelSelector is `+structType=atomic`; its matchExpressions list is atomic too.
        let d = builtin("apps", "Deployment");
        assert!(d.map_is_atomic(&["spec", "selector"]));
        assert_eq!(
            d.list_type(&["spec", "selector", "matchExpressions"]),
            ListType::Atomic
        );
        assert!(d.retain_keys(&["spec", "strategy"]));
        assert!(!d.map_is_atomic(&["spec", "template"]));
        let pdb = builtin("policy", "PodDisruptionBudget");
        assert!(pdb.replaces_map(&["spec", "selector"]));
        assert!(!d.replaces_map(&["spec", "selector"]));
        assert_eq!(pdb.patch_strategy(&["status", "conditions"]), by("type"));
        let hpa = builtin("autoscaling", "HorizontalPodAutoscaler");
        assert_eq!(hpa.list_type(&["spec", "metrics"]), ListType::Atomic);
        assert_eq!(hpa.list_type(&["status", "conditions"]), keys(&["type"]));
    }

    #[test]
    fn status_conditions() {
        for (group, kind) in [
            ("", "Pod"),
            ("", "PersistentVolumeClaim"),
            ("apps", "Deployment"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
        ] {
            let s = builtin(group, kind);
            assert_eq!(
                s.list_type(&["status", "conditions"]),
                keys(&["type"]),
                "{kind}"
            );
            assert_eq!(
                s.patch_strategy(&["status", "conditions"]),
                by("type"),
                "{kind}"
            );
        }
        // A Job's conditions merge by type under strategic merge patch but are atomic for apply.
        let job = builtin("batch", "Job");
        assert_eq!(job.list_type(&["status", "conditions"]), ListType::Atomic);
        assert_eq!(job.patch_strategy(&["status", "conditions"]), by("type"));
        // A CRD's conditions are a map for apply and replaced by strategic merge patch.
        let crd = builtin("apiextensions.k8s.io", "CustomResourceDefinition");
        assert_eq!(crd.list_type(&["status", "conditions"]), keys(&["type"]));
        assert_eq!(
            crd.patch_strategy(&["status", "conditions"]),
            PatchStrategy::Replace
        );
        assert_eq!(crd.list_type(&["spec", "versions"]), ListType::Atomic);
        let pod = builtin("", "Pod");
        assert_eq!(pod.list_type(&["status", "podIPs"]), keys(&["ip"]));
        assert_eq!(pod.list_type(&["status", "hostIPs"]), ListType::Atomic);
        assert_eq!(pod.patch_strategy(&["status", "hostIPs"]), by("ip"));
    }

    #[test]
    fn crd_schema_lists_and_maps() {
        let schema = json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "items": {"type": "array", "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "x-kubernetes-map-type": "atomic",
                            "properties": {"name": {"type": "string"}}}},
                    "byName": {"type": "object", "additionalProperties": {"type": "object",
                        "properties": {"tags": {"type": "array", "x-kubernetes-list-type": "set",
                            "items": {"type": "string"}}}}}
                }}
            }
        });
        let crd = Crd {
            schema: Some(&schema),
        };
        assert_eq!(crd.list_type(&["spec", "items"]), keys(&["name"]));
        assert!(crd.map_is_atomic(&["spec", "items"]));
        assert_eq!(
            crd.list_type(&["spec", "byName", "a", "tags"]),
            ListType::Set
        );
        assert_eq!(
            crd.patch_strategy(&["spec", "items"]),
            PatchStrategy::Replace
        );
        assert_eq!(crd.list_type(&["metadata", "finalizers"]), ListType::Set);
        assert!(crd.map_is_atomic(&["metadata", "ownerReferences"]));
    }
}
