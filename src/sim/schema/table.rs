//! The merge table of the built-in kinds, from the Kubernetes v1.33 OpenAPI schema: for each
//! struct type, the fields that carry a list type, a patch strategy or an atomic map, or that
//! lead to a type that does. Types are shared, so every `PodTemplateSpec` (Deployment,
//! StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) reaches the one `PodSpec` entry.
//!
//! Anything not listed merges by default: lists are atomic and replaced by strategic merge
//! patch, maps are granular. Lists that are atomic for both server-side apply and strategic
//! merge patch (Ingress `rules`/`tls`, Role `rules`, RoleBinding `subjects`, `tolerations`,
//! HPA `metrics`, ...) are left out with everything below them: nothing inside merges.

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// An object with fields of its own (a struct).
    Struct,
    /// A list; its items are transparent in paths.
    List,
    /// A map from arbitrary keys to values (`additionalProperties`).
    Map,
}

/// One field of a struct type and how it merges.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub name: &'static str,
    pub shape: Shape,
    /// The struct type of the value, of the list items or of the map values ("" when none
    /// matters).
    pub ty: &'static str,
    /// `x-kubernetes-list-map-keys` (a non-empty list makes a `listType=map`).
    pub keys: &'static [&'static str],
    /// `x-kubernetes-list-type: set`.
    pub set: bool,
    /// `patchStrategy: merge`.
    pub merge: bool,
    /// `patchMergeKey` ("" for lists of scalars).
    pub merge_key: &'static str,
    /// `patchStrategy: retainKeys`.
    pub retain_keys: bool,
    /// `patchStrategy: replace` (on an object field).
    pub replace: bool,
    /// `x-kubernetes-map-type: atomic` on the field itself.
    pub atomic: bool,
}

const fn field(name: &'static str, shape: Shape, ty: &'static str) -> Field {
    Field {
        name,
        shape,
        ty,
        keys: &[],
        set: false,
        merge: false,
        merge_key: "",
        retain_keys: false,
        replace: false,
        atomic: false,
    }
}

/// A struct-valued field.
const fn s(name: &'static str, ty: &'static str) -> Field {
    field(name, Shape::Struct, ty)
}

/// A list field (atomic until told otherwise).
const fn l(name: &'static str, ty: &'static str) -> Field {
    field(name, Shape::List, ty)
}

/// A map field.
const fn m(name: &'static str, ty: &'static str) -> Field {
    field(name, Shape::Map, ty)
}

impl Field {
    const fn keys(mut self, keys: &'static [&'static str]) -> Self {
        self.keys = keys;
        self
    }

    const fn set(mut self) -> Self {
        self.set = true;
        self
    }

    const fn merge(mut self) -> Self {
        self.merge = true;
        self
    }

    const fn merge_key(mut self, key: &'static str) -> Self {
        self.merge = true;
        self.merge_key = key;
        self
    }

    const fn retain_keys(mut self) -> Self {
        self.retain_keys = true;
        self
    }

    const fn replace(mut self) -> Self {
        self.replace = true;
        self
    }

    const fn atomic(mut self) -> Self {
        self.atomic = true;
        self
    }
}

/// The struct type at the root of an object of `group`/`kind`. Kinds with nothing to merge
/// below `metadata` (ConfigMap, Secret, Role, ClusterRole, Lease) and unknown kinds use
/// `Object`.
pub(super) fn root(group: &str, kind: &str) -> &'static str {
    match (group, kind) {
        ("", "Pod") => "Pod",
        ("", "Service") => "Service",
        ("", "ServiceAccount") => "ServiceAccount",
        ("", "Namespace") => "Namespace",
        ("", "PersistentVolumeClaim") => "PersistentVolumeClaim",
        ("", "Event") => "Event",
        ("apps", "Deployment") => "Deployment",
        ("apps", "StatefulSet") => "StatefulSet",
        ("apps", "DaemonSet") => "DaemonSet",
        ("apps", "ReplicaSet") => "ReplicaSet",
        ("batch", "Job") => "Job",
        ("batch", "CronJob") => "CronJob",
        ("networking.k8s.io", "Ingress") => "Ingress",
        ("networking.k8s.io", "NetworkPolicy") => "NetworkPolicy",
        ("rbac.authorization.k8s.io", "RoleBinding") => "RoleBinding",
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => "ClusterRoleBinding",
        ("apiextensions.k8s.io", "CustomResourceDefinition") => "CustomResourceDefinition",
        ("policy", "PodDisruptionBudget") => "PodDisruptionBudget",
        ("autoscaling", "HorizontalPodAutoscaler") => "HorizontalPodAutoscaler",
        ("events.k8s.io", "Event") => "events.Event",
        _ => "Object",
    }
}

/// Struct types with `x-kubernetes-map-type: atomic` (`+structType=atomic`).
pub(super) const ATOMIC_TYPES: &[&str] = &[
    "ConfigMapKeySelector",
    "LabelSelector",
    "LocalObjectReference",
    "NodeSelector",
    "ObjectFieldSelector",
    "ObjectReference",
    "OwnerReference",
    "ResourceFieldSelector",
    "RoleRef",
    "SecretKeySelector",
    "ServiceBackendPort",
    "TypedLocalObjectReference",
];

/// The fields of `ty` that matter for merging, if `ty` has any.
pub(super) fn fields(ty: &str) -> Option<&'static [Field]> {
    TYPES
        .iter()
        .find(|(name, _)| *name == ty)
        .map(|(_, fields)| *fields)
}

#[rustfmt::skip]
static TYPES: &[(&str, &[Field])] = &[
    ("Object", &[s("metadata", "ObjectMeta")]),
    ("Pod", &[s("metadata", "ObjectMeta"), s("spec", "PodSpec"), s("status", "PodStatus")]),
    ("ObjectMeta", &[
        l("finalizers", "").set().merge(),
        l("ownerReferences", "OwnerReference").keys(&["uid"]).merge_key("uid")
    ]),
    ("PodSpec", &[
        s("affinity", "Affinity"), l("containers", "Container").keys(&["name"]).merge_key("name"),
        l("ephemeralContainers", "EphemeralContainer").keys(&["name"]).merge_key("name"),
        l("hostAliases", "").keys(&["ip"]).merge_key("ip"),
        l("imagePullSecrets", "LocalObjectReference").keys(&["name"]).merge_key("name"),
        l("initContainers", "Container").keys(&["name"]).merge_key("name"), m("nodeSelector", "").atomic(),
        l("resourceClaims", "").keys(&["name"]).merge_key("name").retain_keys(),
        s("resources", "ResourceRequirements"), l("schedulingGates", "").keys(&["name"]).merge_key("name"),
        l("topologySpreadConstraints", "TopologySpreadConstraint").keys(&["topologyKey", "whenUnsatisfiable"]).merge_key("topologyKey"),
        l("volumes", "Volume").keys(&["name"]).merge_key("name").retain_keys()
    ]),
    ("Affinity", &[s("nodeAffinity", "NodeAffinity")]),
    ("NodeAffinity", &[s("requiredDuringSchedulingIgnoredDuringExecution", "NodeSelector")]),
    ("Container", &[
        l("env", "EnvVar").keys(&["name"]).merge_key("name"),
        l("ports", "").keys(&["containerPort", "protocol"]).merge_key("containerPort"),
        s("resources", "ResourceRequirements"),
        l("volumeDevices", "").keys(&["devicePath"]).merge_key("devicePath"),
        l("volumeMounts", "").keys(&["mountPath"]).merge_key("mountPath")
    ]),
    ("EnvVar", &[s("valueFrom", "EnvVarSource")]),
    ("EnvVarSource", &[
        s("configMapKeyRef", "ConfigMapKeySelector"), s("fieldRef", "ObjectFieldSelector"),
        s("resourceFieldRef", "ResourceFieldSelector"), s("secretKeyRef", "SecretKeySelector")
    ]),
    ("ResourceRequirements", &[l("claims", "").keys(&["name"])]),
    ("EphemeralContainer", &[
        l("env", "EnvVar").keys(&["name"]).merge_key("name"),
        l("ports", "").keys(&["containerPort", "protocol"]).merge_key("containerPort"),
        s("resources", "ResourceRequirements"),
        l("volumeDevices", "").keys(&["devicePath"]).merge_key("devicePath"),
        l("volumeMounts", "").keys(&["mountPath"]).merge_key("mountPath")
    ]),
    ("TopologySpreadConstraint", &[s("labelSelector", "LabelSelector")]),
    ("Volume", &[
        s("cephfs", "CephFSVolumeSource"), s("cinder", "CinderVolumeSource"), s("csi", "CSIVolumeSource"),
        s("ephemeral", "EphemeralVolumeSource"), s("flexVolume", "FlexVolumeSource"),
        s("iscsi", "ISCSIVolumeSource"), s("rbd", "RBDVolumeSource"), s("scaleIO", "ScaleIOVolumeSource"),
        s("storageos", "StorageOSVolumeSource")
    ]),
    ("CephFSVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("CinderVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("CSIVolumeSource", &[s("nodePublishSecretRef", "LocalObjectReference")]),
    ("EphemeralVolumeSource", &[s("volumeClaimTemplate", "PersistentVolumeClaimTemplate")]),
    ("PersistentVolumeClaimTemplate", &[s("metadata", "ObjectMeta"), s("spec", "PersistentVolumeClaimSpec")]),
    ("PersistentVolumeClaimSpec", &[
        s("dataSource", "TypedLocalObjectReference"), s("selector", "LabelSelector")
    ]),
    ("FlexVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("ISCSIVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("RBDVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("ScaleIOVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("StorageOSVolumeSource", &[s("secretRef", "LocalObjectReference")]),
    ("PodStatus", &[
        l("conditions", "").keys(&["type"]).merge_key("type"), l("hostIPs", "").merge_key("ip"),
        l("podIPs", "").keys(&["ip"]).merge_key("ip"),
        l("resourceClaimStatuses", "").keys(&["name"]).merge_key("name").retain_keys()
    ]),
    ("Service", &[s("metadata", "ObjectMeta"), s("spec", "ServiceSpec"), s("status", "ServiceStatus")]),
    ("ServiceSpec", &[
        l("ports", "").keys(&["port", "protocol"]).merge_key("port"), m("selector", "").atomic()
    ]),
    ("ServiceStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("ServiceAccount", &[
        s("metadata", "ObjectMeta"), l("secrets", "ObjectReference").keys(&["name"]).merge_key("name")
    ]),
    ("Namespace", &[s("metadata", "ObjectMeta"), s("status", "NamespaceStatus")]),
    ("NamespaceStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("PersistentVolumeClaim", &[
        s("metadata", "ObjectMeta"), s("spec", "PersistentVolumeClaimSpec"),
        s("status", "PersistentVolumeClaimStatus")
    ]),
    ("PersistentVolumeClaimStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("Event", &[
        s("involvedObject", "ObjectReference"), s("metadata", "ObjectMeta"), s("related", "ObjectReference")
    ]),
    ("Deployment", &[
        s("metadata", "ObjectMeta"), s("spec", "DeploymentSpec"), s("status", "DeploymentStatus")
    ]),
    ("DeploymentSpec", &[
        s("selector", "LabelSelector"), s("strategy", "").retain_keys(), s("template", "PodTemplateSpec")
    ]),
    ("PodTemplateSpec", &[s("metadata", "ObjectMeta"), s("spec", "PodSpec")]),
    ("DeploymentStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("StatefulSet", &[
        s("metadata", "ObjectMeta"), s("spec", "StatefulSetSpec"), s("status", "StatefulSetStatus")
    ]),
    ("StatefulSetSpec", &[s("selector", "LabelSelector"), s("template", "PodTemplateSpec")]),
    ("StatefulSetStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("DaemonSet", &[s("metadata", "ObjectMeta"), s("spec", "DaemonSetSpec"), s("status", "DaemonSetStatus")]),
    ("DaemonSetSpec", &[s("selector", "LabelSelector"), s("template", "PodTemplateSpec")]),
    ("DaemonSetStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("ReplicaSet", &[
        s("metadata", "ObjectMeta"), s("spec", "ReplicaSetSpec"), s("status", "ReplicaSetStatus")
    ]),
    ("ReplicaSetSpec", &[s("selector", "LabelSelector"), s("template", "PodTemplateSpec")]),
    ("ReplicaSetStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("Job", &[s("metadata", "ObjectMeta"), s("spec", "JobSpec"), s("status", "JobStatus")]),
    ("JobSpec", &[s("selector", "LabelSelector"), s("template", "PodTemplateSpec")]),
    ("JobStatus", &[
        l("conditions", "").merge_key("type"), s("uncountedTerminatedPods", "UncountedTerminatedPods")
    ]),
    ("UncountedTerminatedPods", &[l("failed", "").set(), l("succeeded", "").set()]),
    ("CronJob", &[s("metadata", "ObjectMeta"), s("spec", "CronJobSpec")]),
    ("CronJobSpec", &[s("jobTemplate", "JobTemplateSpec")]),
    ("JobTemplateSpec", &[s("metadata", "ObjectMeta"), s("spec", "JobSpec")]),
    ("Ingress", &[s("metadata", "ObjectMeta"), s("spec", "IngressSpec")]),
    ("IngressSpec", &[s("defaultBackend", "IngressBackend")]),
    ("IngressBackend", &[s("resource", "TypedLocalObjectReference"), s("service", "IngressServiceBackend")]),
    ("IngressServiceBackend", &[s("port", "ServiceBackendPort")]),
    ("NetworkPolicy", &[s("metadata", "ObjectMeta"), s("spec", "NetworkPolicySpec")]),
    ("NetworkPolicySpec", &[s("podSelector", "LabelSelector")]),
    ("RoleBinding", &[s("metadata", "ObjectMeta"), s("roleRef", "RoleRef")]),
    ("ClusterRoleBinding", &[s("metadata", "ObjectMeta"), s("roleRef", "RoleRef")]),
    ("CustomResourceDefinition", &[
        s("metadata", "ObjectMeta"), s("status", "CustomResourceDefinitionStatus")
    ]),
    ("CustomResourceDefinitionStatus", &[l("conditions", "").keys(&["type"])]),
    ("PodDisruptionBudget", &[
        s("metadata", "ObjectMeta"), s("spec", "PodDisruptionBudgetSpec"),
        s("status", "PodDisruptionBudgetStatus")
    ]),
    ("PodDisruptionBudgetSpec", &[s("selector", "LabelSelector").replace()]),
    ("PodDisruptionBudgetStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("HorizontalPodAutoscaler", &[s("metadata", "ObjectMeta"), s("status", "HorizontalPodAutoscalerStatus")]),
    ("HorizontalPodAutoscalerStatus", &[l("conditions", "").keys(&["type"]).merge_key("type")]),
    ("events.Event", &[
        s("metadata", "ObjectMeta"), s("regarding", "ObjectReference"), s("related", "ObjectReference")
    ]),
];
