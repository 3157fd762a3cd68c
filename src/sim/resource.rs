//! The resource types a virtual cluster serves: the built-in ones and those of its CRDs.

use serde_json::Value;

/// One served resource (one group/version/plural).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Has a `/status` subresource (status is written only there).
    pub status_subresource: bool,
    /// Has a `/scale` subresource.
    pub scale_subresource: bool,
    /// `metadata.generation` is kept (set to 1 on create, bumped on spec change).
    pub generation: bool,
    /// PUT on a missing object creates it.
    pub create_on_update: bool,
    /// The version clients should prefer in discovery.
    pub preferred: bool,
    /// Only `create` is served and nothing is stored (the authorization and authentication
    /// reviews).
    pub create_only: bool,
    /// For custom resources: the CRD's name and the version's schema and printer columns.
    pub crd: Option<CrdVersion>,
}

/// What a custom resource's version takes from its CustomResourceDefinition.
#[derive(Debug, Clone, PartialEq)]
pub struct CrdVersion {
    pub crd_name: String,
    /// `openAPIV3Schema`, if any.
    pub schema: Option<Value>,
    /// `additionalPrinterColumns`.
    pub printer_columns: Vec<Value>,
    /// `subresources.scale`: `specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`.
    pub scale: Option<Value>,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `configmaps` or `deployments.apps`, as error messages name a resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `ConfigMapList`.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Storage identity: objects are shared by every served version of a group/plural.
    pub fn storage_key(&self) -> StorageKey {
        StorageKey {
            group: self.group.clone(),
            plural: self.plural.clone(),
        }
    }

    /// Verbs listed in discovery.
    pub fn verbs(&self) -> &'static [&'static str] {
        if self.create_only {
            return &["create"];
        }
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }

    /// A resource that is served only for creation of a subresource, never listed (none yet).
    pub fn is_custom(&self) -> bool {
        self.crd.is_some()
    }
}

/// Identifies stored objects of one resource, across versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey {
    pub group: String,
    pub plural: String,
}

struct Def {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    status: bool,
    scale: bool,
    generation: bool,
}

const ALL: &[&str] = &["all"];
const NONE: &[&str] = &[];

#[rustfmt::skip]
const BUILTINS: &[Def] = &[
    Def { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, short: &["ns"], categories: NONE, status: true, scale: false, generation: false },
    Def { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, short: &["cm"], categories: NONE, status: false, scale: false, generation: false },
    Def { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false },
    Def { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, short: &["svc"], categories: ALL, status: true, scale: false, generation: false },
    Def { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, short: &["sa"], categories: NONE, status: false, scale: false, generation: false },
    Def { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, short: &["po"], categories: ALL, status: true, scale: false, generation: true },
    Def { group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true, short: &["pvc"], categories: NONE, status: true, scale: false, generation: false },
    Def { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, short: &["ev"], categories: NONE, status: false, scale: false, generation: false },
    Def { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, short: &["deploy"], categories: ALL, status: true, scale: true, generation: true },
    Def { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true, short: &["sts"], categories: ALL, status: true, scale: true, generation: true },
    Def { group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true, short: &["ds"], categories: ALL, status: true, scale: false, generation: true },
    Def { group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true, short: &["rs"], categories: ALL, status: true, scale: true, generation: true },
    Def { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, short: NONE, categories: ALL, status: true, scale: false, generation: true },
    Def { group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", namespaced: true, short: &["cj"], categories: ALL, status: true, scale: false, generation: true },
    Def { group: "networking.k8s.io", version: "v1", kind: "Ingress", plural: "ingresses", namespaced: true, short: &["ing"], categories: NONE, status: true, scale: false, generation: true },
    Def { group: "networking.k8s.io", version: "v1", kind: "NetworkPolicy", plural: "networkpolicies", namespaced: true, short: &["netpol"], categories: NONE, status: false, scale: false, generation: true },
    Def { group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false },
    Def { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false },
    Def { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false, short: NONE, categories: NONE, status: false, scale: false, generation: false },
    Def { group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false, short: NONE, categories: NONE, status: false, scale: false, generation: false },
    Def { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false, short: &["crd", "crds"], categories: &["api-extensions"], status: true, scale: false, generation: true },
    Def { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, short: NONE, categories: NONE, status: false, scale: false, generation: false },
    Def { group: "policy", version: "v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", namespaced: true, short: &["pdb"], categories: NONE, status: true, scale: false, generation: true },
    Def { group: "autoscaling", version: "v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", namespaced: true, short: &["hpa"], categories: ALL, status: true, scale: false, generation: false },
];

/// The built-in resource types, in discovery order.
pub fn builtins() -> Vec<ResourceType> {
    BUILTINS
        .iter()
        .map(|d| ResourceType {
            group: d.group.to_string(),
            version: d.version.to_string(),
            kind: d.kind.to_string(),
            plural: d.plural.to_string(),
            singular: d.kind.to_lowercase(),
            namespaced: d.namespaced,
            short_names: d.short.iter().map(|s| s.to_string()).collect(),
            categories: d.categories.iter().map(|s| s.to_string()).collect(),
            status_subresource: d.status,
            scale_subresource: d.scale,
            generation: d.generation,
            create_on_update: matches!(d.plural, "events" | "leases"),
            preferred: true,
            create_only: false,
            crd: None,
        })
        .chain(
            REVIEWS
                .iter()
                .map(|(group, kind, plural, namespaced)| ResourceType {
                    group: group.to_string(),
                    version: "v1".to_string(),
                    kind: kind.to_string(),
                    plural: plural.to_string(),
                    singular: kind.to_lowercase(),
                    namespaced: *namespaced,
                    short_names: Vec::new(),
                    categories: Vec::new(),
                    status_subresource: false,
                    scale_subresource: false,
                    generation: false,
                    create_on_update: false,
                    preferred: true,
                    create_only: true,
                    crd: None,
                }),
        )
        .collect()
}

/// The create-only review resources: (group, kind, plural, namespaced).
#[rustfmt::skip]
const REVIEWS: &[(&str, &str, &str, bool)] = &[
    ("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews", false),
    ("authentication.k8s.io", "TokenReview", "tokenreviews", false),
    ("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews", true),
    ("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews", false),
    ("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews", false),
    ("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews", false),
];

/// The resource types a CustomResourceDefinition serves: one per served version.
/// Returns an empty list for a CRD whose names are unusable.
pub fn from_crd(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let (Some(group), Some(plural), Some(kind)) = (
        spec["group"].as_str(),
        spec["names"]["plural"].as_str(),
        spec["names"]["kind"].as_str(),
    ) else {
        return Vec::new();
    };
    let crd_name = crd["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let singular = spec["names"]["singular"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| kind.to_lowercase());
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings(&spec["names"]["shortNames"]);
    let categories = strings(&spec["names"]["categories"]);
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let versions = spec["versions"].as_array().cloned().unwrap_or_default();
    // Discovery prefers the storage version if it is served, else the first served one.
    let served: Vec<&Value> = versions
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .collect();
    let preferred = served
        .iter()
        .find(|v| v["storage"].as_bool().unwrap_or(false))
        .or_else(|| served.first())
        .and_then(|v| v["name"].as_str())
        .unwrap_or_default()
        .to_string();
    served
        .iter()
        .filter_map(|v| {
            let version = v["name"].as_str()?.to_string();
            Some(ResourceType {
                group: group.to_string(),
                preferred: version == preferred,
                version,
                kind: kind.to_string(),
                plural: plural.to_string(),
                singular: singular.clone(),
                namespaced,
                short_names: short_names.clone(),
                categories: categories.clone(),
                status_subresource: v["subresources"].get("status").is_some(),
                scale_subresource: v["subresources"].get("scale").is_some(),
                generation: true,
                create_on_update: false,
                create_only: false,
                crd: Some(CrdVersion {
                    crd_name: crd_name.clone(),
                    schema: v["schema"].get("openAPIV3Schema").cloned(),
                    printer_columns: v["additionalPrinterColumns"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                    scale: v["subresources"].get("scale").cloned(),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtins_cover_the_issue_list() {
        let all = builtins();
        for plural in [
            "namespaces",
            "configmaps",
            "secrets",
            "services",
            "serviceaccounts",
            "pods",
            "persistentvolumeclaims",
            "events",
            "deployments",
            "statefulsets",
            "daemonsets",
            "replicasets",
            "jobs",
            "cronjobs",
            "ingresses",
            "networkpolicies",
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings",
            "customresourcedefinitions",
            "leases",
            "poddisruptionbudgets",
            "horizontalpodautoscalers",
        ] {
            assert!(all.iter().any(|r| r.plural == plural), "{plural}");
        }
        let deploy = all.iter().find(|r| r.plural == "deployments").unwrap();
        assert_eq!(deploy.api_version(), "apps/v1");
        assert_eq!(deploy.qualified(), "deployments.apps");
    }

    #[test]
    fn crd_versions_become_resource_types() {
        let crd = json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [
                    {"name": "v1alpha1", "served": true, "storage": false},
                    {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
                    {"name": "v0", "served": false, "storage": false}
                ]
            }
        });
        let types = from_crd(&crd);
        assert_eq!(types.len(), 2);
        assert!(!types[0].preferred && types[1].preferred);
        assert!(types[1].status_subresource && !types[0].status_subresource);
        assert_eq!(types[1].singular, "widget");
    }
}
