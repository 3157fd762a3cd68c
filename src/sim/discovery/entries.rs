//! The resource entries of discovery: verbs, subresources, `storageVersionHash`, in the legacy
//! `APIResourceList` shape and the aggregated `APIResourceDiscovery` shape.

use serde_json::{Value, json};

use super::storage_version_hash;
use crate::sim::resource::ResourceType;

/// A subresource as discovery lists it.
pub(super) struct Subresource {
    pub name: &'static str,
    /// `(group, version, kind)` when served from another group; `None` means the parent's kind.
    other: Option<(&'static str, &'static str, &'static str)>,
    verbs: &'static [&'static str],
}

const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// The subresources the simulator serves for a resource, in the order discovery lists them.
pub(super) fn subresources(rt: &ResourceType) -> Vec<Subresource> {
    let status = Subresource {
        name: "status",
        other: None,
        verbs: STATUS_VERBS,
    };
    let scale = Subresource {
        name: "scale",
        other: Some(("autoscaling", "v1", "Scale")),
        verbs: STATUS_VERBS,
    };
    let mut subs = Vec::new();
    if rt.is_custom() {
        // apiextensions lists status before scale.
        if rt.status_subresource {
            subs.push(status);
        }
        if rt.scale_subresource {
            subs.push(scale);
        }
        return subs;
    }
    if rt.group.is_empty() && rt.plural == "namespaces" {
        subs.push(Subresource {
            name: "finalize",
            other: None,
            verbs: &["update"],
        });
    }
    if rt.scale_subresource {
        subs.push(scale);
    }
    if rt.status_subresource {
        subs.push(status);
    }
    if rt.group.is_empty() && rt.plural == "serviceaccounts" {
        subs.push(Subresource {
            name: "token",
            other: Some(("authentication.k8s.io", "v1", "TokenRequest")),
            verbs: &["create"],
        });
    }
    subs
}

/// Discovery verbs of a top-level resource.
fn verbs(rt: &ResourceType) -> Vec<&'static str> {
    if rt.is_custom() {
        return vec![
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "create",
            "update",
            "watch",
        ];
    }
    // Namespaces cannot be deleted as a collection.
    let no_collection = rt.group.is_empty() && rt.plural == "namespaces";
    rt.verbs()
        .iter()
        .copied()
        .filter(|v| !(no_collection && *v == "deletecollection"))
        .collect()
}

/// The storage version of a resource: for custom resources the CRD's preferred (storage) version.
fn storage_version<'a>(types: &'a [ResourceType], rt: &'a ResourceType) -> &'a str {
    if rt.is_custom()
        && let Some(t) = types
            .iter()
            .find(|t| t.is_custom() && t.group == rt.group && t.plural == rt.plural && t.preferred)
    {
        return &t.version;
    }
    &rt.version
}

pub(super) fn legacy_resource(types: &[ResourceType], rt: &ResourceType) -> Value {
    let mut r = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": verbs(rt),
    });
    if !rt.short_names.is_empty() {
        r["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        r["categories"] = json!(rt.categories);
    }
    // Nothing is stored of a review: no storage version.
    if !rt.create_only {
        r["storageVersionHash"] = json!(storage_version_hash(
            &rt.group,
            storage_version(types, rt),
            &rt.kind
        ));
    }
    r
}

pub(super) fn legacy_subresource(rt: &ResourceType, sub: &Subresource) -> Value {
    let mut r = json!({
        "name": format!("{}/{}", rt.plural, sub.name),
        "singularName": "",
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": sub.verbs,
    });
    if let Some((group, version, kind)) = sub.other {
        r["group"] = json!(group);
        r["version"] = json!(version);
        r["kind"] = json!(kind);
    }
    r
}

pub(super) fn aggregated_resources(
    types: &[ResourceType],
    group: &str,
    version: &str,
) -> Vec<Value> {
    let mut served: Vec<&ResourceType> = types
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .collect();
    // Built-ins in path order, then custom resources.
    served.sort_by(|a, b| {
        a.is_custom()
            .cmp(&b.is_custom())
            .then_with(|| a.plural.cmp(&b.plural))
    });
    served
        .into_iter()
        .map(|rt| {
            // Built-in kinds carry an empty group and version, as the installer leaves them.
            let own_kind = if rt.is_custom() {
                json!({ "group": rt.group, "version": rt.version, "kind": rt.kind })
            } else {
                json!({ "group": "", "version": "", "kind": rt.kind })
            };
            let mut r = json!({
                "resource": rt.plural,
                "responseKind": own_kind,
                "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": rt.singular,
                "verbs": verbs(rt),
            });
            if !rt.short_names.is_empty() {
                r["shortNames"] = json!(rt.short_names);
            }
            if !rt.categories.is_empty() {
                r["categories"] = json!(rt.categories);
            }
            let subs: Vec<Value> = subresources(rt)
                .iter()
                .map(|sub| {
                    let kind = match sub.other {
                        Some((g, v, k)) => json!({ "group": g, "version": v, "kind": k }),
                        None => own_kind.clone(),
                    };
                    json!({ "subresource": sub.name, "responseKind": kind, "verbs": sub.verbs })
                })
                .collect();
            if !subs.is_empty() {
                r["subresources"] = Value::Array(subs);
            }
            r
        })
        .collect()
}
