//! Schemas of built-in kinds, generated from k8s-openapi's schemars impls with OpenAPI 3.0
//! settings and reshaped the way kube-openapi publishes them: `$ref` with siblings wrapped in
//! `allOf`, `metadata` not required, `x-kubernetes-group-version-kind` on kinds, list kinds
//! added, and the merge extensions of [`crate::sim::schema::Builtin`].

use k8s_openapi::api::{
    apps, authentication, authorization, autoscaling, batch, coordination, core, networking,
    policy, rbac,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::{REF_PREFIX, annotate};
use crate::sim::resource::ResourceType;
use crate::sim::schema::Builtin;

type Generate = fn(&mut SchemaGenerator) -> schemars::Schema;

/// The k8s-openapi type of a built-in kind.
fn generator(group: &str, version: &str, kind: &str) -> Option<Generate> {
    Some(match (group, version, kind) {
        ("", "v1", "Namespace") => |g| g.subschema_for::<core::v1::Namespace>(),
        ("", "v1", "ConfigMap") => |g| g.subschema_for::<core::v1::ConfigMap>(),
        ("", "v1", "Secret") => |g| g.subschema_for::<core::v1::Secret>(),
        ("", "v1", "Service") => |g| g.subschema_for::<core::v1::Service>(),
        ("", "v1", "ServiceAccount") => |g| g.subschema_for::<core::v1::ServiceAccount>(),
        ("", "v1", "Pod") => |g| g.subschema_for::<core::v1::Pod>(),
        ("", "v1", "PersistentVolumeClaim") => {
            |g| g.subschema_for::<core::v1::PersistentVolumeClaim>()
        }
        ("", "v1", "Event") => |g| g.subschema_for::<core::v1::Event>(),
        ("apps", "v1", "Deployment") => |g| g.subschema_for::<apps::v1::Deployment>(),
        ("apps", "v1", "StatefulSet") => |g| g.subschema_for::<apps::v1::StatefulSet>(),
        ("apps", "v1", "DaemonSet") => |g| g.subschema_for::<apps::v1::DaemonSet>(),
        ("apps", "v1", "ReplicaSet") => |g| g.subschema_for::<apps::v1::ReplicaSet>(),
        ("batch", "v1", "Job") => |g| g.subschema_for::<batch::v1::Job>(),
        ("batch", "v1", "CronJob") => |g| g.subschema_for::<batch::v1::CronJob>(),
        ("networking.k8s.io", "v1", "Ingress") => |g| g.subschema_for::<networking::v1::Ingress>(),
        ("networking.k8s.io", "v1", "NetworkPolicy") => {
            |g| g.subschema_for::<networking::v1::NetworkPolicy>()
        }
        ("rbac.authorization.k8s.io", "v1", "Role") => |g| g.subschema_for::<rbac::v1::Role>(),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding") => {
            |g| g.subschema_for::<rbac::v1::RoleBinding>()
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRole") => {
            |g| g.subschema_for::<rbac::v1::ClusterRole>()
        }
        ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
            |g| g.subschema_for::<rbac::v1::ClusterRoleBinding>()
        }
        ("apiextensions.k8s.io", "v1", "CustomResourceDefinition") => {
            |g| g.subschema_for::<apiextensions::CustomResourceDefinition>()
        }
        ("coordination.k8s.io", "v1", "Lease") => |g| g.subschema_for::<coordination::v1::Lease>(),
        ("policy", "v1", "PodDisruptionBudget") => {
            |g| g.subschema_for::<policy::v1::PodDisruptionBudget>()
        }
        ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
            |g| g.subschema_for::<autoscaling::v2::HorizontalPodAutoscaler>()
        }
        ("autoscaling", "v1", "Scale") => |g| g.subschema_for::<autoscaling::v1::Scale>(),
        ("authentication.k8s.io", "v1", "TokenRequest") => {
            |g| g.subschema_for::<authentication::v1::TokenRequest>()
        }
        ("authentication.k8s.io", "v1", "TokenReview") => {
            |g| g.subschema_for::<authentication::v1::TokenReview>()
        }
        ("authentication.k8s.io", "v1", "SelfSubjectReview") => {
            |g| g.subschema_for::<authentication::v1::SelfSubjectReview>()
        }
        ("authorization.k8s.io", "v1", "SelfSubjectAccessReview") => {
            |g| g.subschema_for::<authorization::v1::SelfSubjectAccessReview>()
        }
        ("authorization.k8s.io", "v1", "SelfSubjectRulesReview") => {
            |g| g.subschema_for::<authorization::v1::SelfSubjectRulesReview>()
        }
        ("authorization.k8s.io", "v1", "SubjectAccessReview") => {
            |g| g.subschema_for::<authorization::v1::SubjectAccessReview>()
        }
        ("authorization.k8s.io", "v1", "LocalSubjectAccessReview") => {
            |g| g.subschema_for::<authorization::v1::LocalSubjectAccessReview>()
        }
        _ => return None,
    })
}

/// The definitions of built-in kinds as k8s-openapi's schemars impls generate them, before
/// any reshaping for publication, and each kind's definition name (`None` for a kind without
/// one): what the typed decoder compiles.
pub(crate) fn raw_definitions(
    kinds: &[(&str, &str, &str)],
) -> (Vec<Option<String>>, Map<String, Value>) {
    let mut schemas = new_generator();
    let names = kinds
        .iter()
        .map(|(g, v, k)| {
            generator(g, v, k).and_then(|gen_fn| ref_name(gen_fn(&mut schemas).as_value()))
        })
        .collect();
    (names, schemas.take_definitions(true))
}

fn new_generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator()
}

/// Runs generators and returns the definitions they produced, reshaped.
fn generate(gens: &[Generate]) -> (Vec<String>, Map<String, Value>) {
    let mut generator = new_generator();
    let names: Vec<String> = gens
        .iter()
        .map(|g| ref_name(g(&mut generator).as_value()).unwrap_or_default())
        .collect();
    let mut defs = generator.take_definitions(true);
    for schema in defs.values_mut() {
        reshape(schema);
    }
    if let Some(d) = defs.get_mut("io.k8s.apimachinery.pkg.util.intstr.IntOrString") {
        *d = json!({ "description": d["description"].clone(), "type": "string", "format": "int-or-string" });
    }
    if let Some(d) = defs.get_mut("io.k8s.apimachinery.pkg.api.resource.Quantity") {
        *d = json!({ "description": d["description"].clone(), "type": "string" });
    }
    (names, defs)
}

/// The definition name a `$ref` (possibly inside `allOf`) points at.
pub(crate) fn ref_name(schema: &Value) -> Option<String> {
    let r = schema
        .get("$ref")
        .or_else(|| schema.get("allOf")?.get(0)?.get("$ref"))?;
    r.as_str()?.strip_prefix(REF_PREFIX).map(str::to_string)
}

/// `metadata` is published as optional (k8s-openapi makes it a required field of the struct).
fn reshape(schema: &mut Value) {
    let meta_ref = schema["properties"]["metadata"].clone();
    let is_meta = ref_name(&meta_ref)
        .is_some_and(|n| n.ends_with("meta.v1.ObjectMeta") || n.ends_with("meta.v1.ListMeta"));
    if !is_meta {
        return;
    }
    if let Some(req) = schema.get_mut("required").and_then(Value::as_array_mut) {
        req.retain(|r| r != "metadata");
        if req.is_empty()
            && let Some(obj) = schema.as_object_mut()
        {
            obj.remove("required");
        }
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Definitions every group version document carries: the meta types its operations use, with
/// `DeleteOptions` and `WatchEvent` registered in every served group version.
pub fn meta_schemas(all_gvs: &[(String, String)]) -> Map<String, Value> {
    let gens: [Generate; 7] = [
        |g| g.subschema_for::<meta::ObjectMeta>(),
        |g| g.subschema_for::<meta::ListMeta>(),
        |g| g.subschema_for::<meta::Status>(),
        |g| g.subschema_for::<meta::DeleteOptions>(),
        |g| g.subschema_for::<meta::Patch>(),
        |g| g.subschema_for::<meta::WatchEvent<core::v1::ConfigMap>>(),
        |g| g.subschema_for::<meta::APIResourceList>(),
    ];
    let (_, mut defs) = generate(&gens);
    let mut gvs: Vec<(String, String)> = all_gvs.to_vec();
    if !gvs.iter().any(|(g, v)| g.is_empty() && v == "v1") {
        gvs.push((String::new(), "v1".to_string()));
    }
    gvs.sort();
    for (name, kind) in [
        ("DeleteOptions", "DeleteOptions"),
        ("WatchEvent", "WatchEvent"),
    ] {
        if let Some(d) = defs.get_mut(&format!("io.k8s.apimachinery.pkg.apis.meta.v1.{name}")) {
            d["x-kubernetes-group-version-kind"] =
                gvs.iter().map(|(g, v)| gvk(g, v, kind)).collect();
        }
    }
    if let Some(d) = defs.get_mut("io.k8s.apimachinery.pkg.apis.meta.v1.Status") {
        d["x-kubernetes-group-version-kind"] = json!([gvk("", "v1", "Status")]);
    }
    defs
}

/// The list kind of a kind schema, as kube-openapi publishes `<Kind>List`.
pub fn list_schema(
    kind_ref: &str,
    list_meta_ref: &str,
    group: &str,
    version: &str,
    kind: &str,
) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string"
            },
            "items": {
                "description": format!("Items is the list of {kind}."),
                "type": "array",
                "items": { "allOf": [{ "$ref": format!("{REF_PREFIX}{kind_ref}") }], "default": {} }
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string"
            },
            "metadata": {
                "allOf": [{ "$ref": format!("{REF_PREFIX}{list_meta_ref}") }],
                "default": {},
                "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
            }
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk(group, version, &format!("{kind}List"))]
    })
}

/// `autoscaling/v1` `Scale` (the `/scale` subresource of custom resources), with its GVK.
pub fn scale_schemas() -> (String, Map<String, Value>) {
    let (names, mut defs) = generate(&[|g| g.subschema_for::<autoscaling::v1::Scale>()]);
    let name = names.into_iter().next().unwrap_or_default();
    if let Some(def) = defs.get_mut(&name) {
        def["x-kubernetes-group-version-kind"] = json!([gvk("autoscaling", "v1", "Scale")]);
    }
    (name, defs)
}

/// A kind k8s-openapi does not know: an open object with the type and object meta.
fn fallback_schema(rt: &ResourceType) -> Value {
    json!({
        "description": format!("{} is served by this cluster.", rt.kind),
        "type": "object",
        "properties": {
            "apiVersion": { "type": "string" },
            "kind": { "type": "string" },
            "metadata": { "allOf": [{ "$ref": format!("{REF_PREFIX}io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") }], "default": {} }
        },
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Adds built-in kinds, their lists, and the kinds of their subresources to `schemas` (one
/// generator for all, so shared definitions are built once); returns each kind's definition name.
pub fn add_kinds(rts: &[&ResourceType], schemas: &mut Map<String, Value>) -> Vec<String> {
    // (generator, group, version, kind) of every definition to tag with its GVK.
    let mut wanted: Vec<(Generate, &str, &str, &str)> = Vec::new();
    for rt in rts {
        if let Some(g) = generator(&rt.group, &rt.version, &rt.kind) {
            wanted.push((g, &rt.group, &rt.version, &rt.kind));
        }
        if rt.scale_subresource {
            wanted.extend(
                generator("autoscaling", "v1", "Scale").map(|g| (g, "autoscaling", "v1", "Scale")),
            );
        }
        if rt.group.is_empty() && rt.plural == "serviceaccounts" {
            wanted.extend(
                generator("authentication.k8s.io", "v1", "TokenRequest")
                    .map(|g| (g, "authentication.k8s.io", "v1", "TokenRequest")),
            );
        }
    }
    let gens: Vec<Generate> = wanted.iter().map(|w| w.0).collect();
    let (names, defs) = generate(&gens);
    for (name, def) in defs {
        schemas.entry(name).or_insert(def);
    }
    for (name, (_, group, version, kind)) in names.iter().zip(&wanted) {
        if let Some(def) = schemas.get_mut(name) {
            def["x-kubernetes-group-version-kind"] = json!([gvk(group, version, kind)]);
        }
    }
    let mut kind_names = Vec::new();
    for rt in rts {
        let found = names
            .iter()
            .zip(&wanted)
            .find(|(_, w)| w.1 == rt.group && w.2 == rt.version && w.3 == rt.kind);
        let kind_name = match found {
            Some((name, _)) => name.clone(),
            None => {
                let group = if rt.group.is_empty() {
                    "core".to_string()
                } else {
                    rt.group.clone()
                };
                let name = format!("sim.{group}.{}.{}", rt.version, rt.kind);
                let mut def = fallback_schema(rt);
                def["x-kubernetes-group-version-kind"] =
                    json!([gvk(&rt.group, &rt.version, &rt.kind)]);
                schemas.insert(name.clone(), def);
                name
            }
        };
        if !rt.create_only {
            let list = list_schema(
                &kind_name,
                "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
                &rt.group,
                &rt.version,
                &rt.kind,
            );
            schemas.insert(format!("{kind_name}List"), list);
        }
        annotate::annotate(
            schemas,
            &kind_name,
            &Builtin {
                group: rt.group.clone(),
                kind: rt.kind.clone(),
            },
        );
        kind_names.push(kind_name);
    }
    kind_names
}
