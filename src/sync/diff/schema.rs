//! The little type knowledge the comparison needs, by field path (field names from the root,
//! list items left out):
//!
//! **List merge keys** (server-side apply `x-kubernetes-list-map-keys`): `containers`,
//! `initContainers`, `ephemeralContainers`, `volumes`, `imagePullSecrets`, `schedulingGates`,
//! `resourceClaims` (pod spec) and a container's `env` by `name`; a container's `ports` by
//! `containerPort`+`protocol`; a Service's `spec.ports` by `port`+`protocol` (`protocol`
//! defaults to TCP); `volumeMounts` by `mountPath`; `volumeDevices` by `devicePath`;
//! `hostAliases` by `ip`; `topologySpreadConstraints` by `topologyKey`+`whenUnsatisfiable`;
//! `resources.claims` by `name`; `metadata.ownerReferences` by `uid`; a ServiceAccount's
//! `secrets` by `name`. `metadata.finalizers` is a set. Every other list is atomic (`args`,
//! `command`, `envFrom`, `tolerations`, Ingress `rules`, RBAC `rules`/`subjects`, ...).
//! The live object's `managedFields` override this table: a list whose items appear there as
//! `k:{..}` (or `v:..`) is keyed by those fields (or a set), which covers custom resources.
//!
//! **IntOrString fields** (`"80"` == `80`): `targetPort`, `maxSurge`, `maxUnavailable`,
//! `minAvailable`, `servicePort`, a probe's or lifecycle handler's `httpGet.port` and
//! `tcpSocket.port`, and a NetworkPolicy rule's `ports[].port`.
//!
//! **Quantities** (equal by value): the values of `resources.limits` and `resources.requests`
//! (containers, PVC `spec.resources.requests.storage`, volume claim templates), of `capacity`,
//! `overhead` and `hard`, `emptyDir.sizeLimit`, and LimitRange `spec.limits[].{max, min,
//! default, defaultRequest, maxLimitRequestRatio}`.

use std::collections::BTreeMap;

use serde_json::Value;

/// How the items of a list are told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ListKind {
    /// Compared as a whole, item by item.
    Atomic,
    /// A set of scalars.
    Set,
    /// Items keyed by these fields.
    Map(Vec<String>),
}

/// List kinds learnt from `managedFields`, by field path.
pub(super) type Hints = BTreeMap<Vec<String>, ListKind>;

/// The type knowledge for one object.
pub(super) struct Schema<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub hints: &'a Hints,
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn last(names: &[String], back: usize) -> &str {
    names
        .len()
        .checked_sub(back + 1)
        .map_or("", |i| names[i].as_str())
}

fn keys(names: &[&str]) -> ListKind {
    ListKind::Map(names.iter().map(|s| s.to_string()).collect())
}

impl Schema<'_> {
    fn is(&self, group: &str, kind: &str) -> bool {
        self.group == group && self.kind == kind
    }

    pub fn list_kind(&self, names: &[String]) -> ListKind {
        if let Some(hint) = self.hints.get(names) {
            return hint.clone();
        }
        let in_container = CONTAINER_LISTS.contains(&last(names, 1));
        match (last(names, 0), last(names, 1)) {
            (l, _) if CONTAINER_LISTS.contains(&l) => keys(&["name"]),
            ("volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims", _) => {
                keys(&["name"])
            }
            ("env", _) if in_container => keys(&["name"]),
            ("ports", _) if in_container => keys(&["containerPort", "protocol"]),
            ("ports", "spec") if names.len() == 2 && self.is("", "Service") => {
                keys(&["port", "protocol"])
            }
            ("volumeMounts", _) => keys(&["mountPath"]),
            ("volumeDevices", _) => keys(&["devicePath"]),
            ("hostAliases", _) => keys(&["ip"]),
            ("topologySpreadConstraints", _) => keys(&["topologyKey", "whenUnsatisfiable"]),
            ("claims", "resources") => keys(&["name"]),
            ("ownerReferences", "metadata") => keys(&["uid"]),
            ("finalizers", "metadata") => ListKind::Set,
            ("secrets", "") if self.is("", "ServiceAccount") => keys(&["name"]),
            _ => ListKind::Atomic,
        }
    }

    pub fn is_int_or_string(&self, names: &[String]) -> bool {
        match (last(names, 0), last(names, 1)) {
            ("targetPort" | "maxSurge" | "maxUnavailable" | "minAvailable" | "servicePort", _) => {
                true
            }
            ("port", "httpGet" | "tcpSocket") => true,
            ("port", "ports") => matches!(last(names, 2), "ingress" | "egress"),
            _ => false,
        }
    }

    pub fn is_quantity(&self, names: &[String]) -> bool {
        match (last(names, 0), last(names, 1), last(names, 2)) {
            (_, "limits" | "requests", "resources") => true,
            (_, "capacity" | "overhead" | "hard", _) => true,
            ("sizeLimit", "emptyDir", _) => true,
            (
                _,
                "max" | "min" | "default" | "defaultRequest" | "maxLimitRequestRatio",
                "limits",
            ) => self.is("", "LimitRange"),
            _ => false,
        }
    }

    /// Maps from arbitrary keys to values (not structs): their empty strings are values, where a
    /// struct's empty string is the zero value the server leaves out (`omitempty`).
    pub fn is_string_map(&self, names: &[String]) -> bool {
        matches!(
            last(names, 0),
            "labels" | "annotations" | "data" | "binaryData" | "matchLabels" | "nodeSelector"
        ) || self.is_service_selector(names)
    }

    /// Maps replaced as a whole: keys in live that desired lacks are drift too.
    pub fn is_atomic_map(&self, names: &[String]) -> bool {
        matches!(last(names, 0), "matchLabels" | "nodeSelector") || self.is_service_selector(names)
    }

    fn is_service_selector(&self, names: &[String]) -> bool {
        self.is("", "Service") && names.len() == 2 && names[0] == "spec" && names[1] == "selector"
    }
}

/// The key of a list item: the values of the key fields, `protocol` defaulting to TCP (as the
/// built-in schemas default it). `None` when the item is not an object or lacks a key field.
pub(super) fn item_key<'v>(item: &'v Value, keys: &[String]) -> Option<Vec<&'v Value>> {
    let obj = item.as_object()?;
    keys.iter()
        .map(|k| match obj.get(k) {
            Some(v) if !v.is_null() => Some(v),
            _ if k == "protocol" => Some(&*TCP_VALUE),
            _ => None,
        })
        .collect()
}

static TCP_VALUE: std::sync::LazyLock<Value> =
    std::sync::LazyLock::new(|| Value::String("TCP".to_string()));

/// Whether two keys are the same (numbers by value).
pub(super) fn keys_equal(a: &[&Value], b: &[&Value]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| super::normalize::json_equal(x, y))
}

/// The group of an `apiVersion` (`""` for the core group).
pub(super) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn list_kinds() {
        let hints = Hints::new();
        let dep = Schema {
            group: "apps",
            kind: "Deployment",
            hints: &hints,
        };
        let svc = Schema {
            group: "",
            kind: "Service",
            hints: &hints,
        };
        let name = keys(&["name"]);
        assert_eq!(dep.list_kind(&names("spec.template.spec.containers")), name);
        assert_eq!(
            dep.list_kind(&names("spec.template.spec.containers.env")),
            name
        );
        assert_eq!(
            dep.list_kind(&names("spec.template.spec.initContainers.ports")),
            keys(&["containerPort", "protocol"])
        );
        assert_eq!(
            dep.list_kind(&names("spec.template.spec.containers.args")),
            ListKind::Atomic
        );
        assert_eq!(
            dep.list_kind(&names("spec.template.spec.tolerations")),
            ListKind::Atomic
        );
        assert_eq!(dep.list_kind(&names("metadata.finalizers")), ListKind::Set);
        assert_eq!(
            svc.list_kind(&names("spec.ports")),
            keys(&["port", "protocol"])
        );
        assert_eq!(dep.list_kind(&names("spec.ports")), ListKind::Atomic);
    }

    #[test]
    fn hints_win() {
        let mut hints = Hints::new();
        hints.insert(names("spec.items"), keys(&["id"]));
        hints.insert(names("spec.template.spec.containers"), keys(&["image"]));
        let cr = Schema {
            group: "example.com",
            kind: "Widget",
            hints: &hints,
        };
        assert_eq!(cr.list_kind(&names("spec.items")), keys(&["id"]));
        assert_eq!(
            cr.list_kind(&names("spec.template.spec.containers")),
            keys(&["image"])
        );
    }

    #[test]
    fn field_types() {
        let hints = Hints::new();
        let s = Schema {
            group: "",
            kind: "LimitRange",
            hints: &hints,
        };
        assert!(s.is_int_or_string(&names("spec.ports.targetPort")));
        assert!(s.is_int_or_string(&names("spec.containers.livenessProbe.httpGet.port")));
        assert!(s.is_int_or_string(&names("spec.ingress.ports.port")));
        assert!(!s.is_int_or_string(&names("spec.ports.port")));
        assert!(s.is_quantity(&names("spec.containers.resources.limits.cpu")));
        assert!(s.is_quantity(&names("spec.resources.requests.storage")));
        assert!(s.is_quantity(&names("spec.volumes.emptyDir.sizeLimit")));
        assert!(s.is_quantity(&names("spec.limits.max.cpu")));
        assert!(!s.is_quantity(&names("spec.containers.image")));
    }

    #[test]
    fn item_keys_default_protocol() {
        let item = serde_json::json!({"containerPort": 80});
        let k = item_key(&item, &["containerPort".into(), "protocol".into()]).unwrap();
        assert_eq!(k, [&serde_json::json!(80), &serde_json::json!("TCP")]);
        assert_eq!(item_key(&item, &["name".into()]), None);
        assert_eq!(item_key(&serde_json::json!("x"), &["name".into()]), None);
    }
}
