//! Server-side printing: the `meta.k8s.io/v1` `Table` kube-apiserver returns when a client asks
//! for `as=Table` (kubectl get). Built-in kinds use the columns of kube-apiserver's printers
//! (always wide: kubectl hides priority-1 columns unless `-o wide`), custom resources their
//! CRD's printer columns, and kinds without a printer the default `Name` / `Created At`.

mod corev1;
mod custom;
mod format;
mod misc;
mod pods;
mod workloads;

use serde_json::{Value, json};

use super::discovery::parse_accept;
use super::resource::ResourceType;

/// Content type of a Table answer (the apiserver does not echo the conversion parameters).
pub const TABLE_CONTENT_TYPE: &str = "application/json";

pub(crate) const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// What each row carries in `object` (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    Object,
}

/// Parses `includeObject`; `None` for an unknown value (the apiserver answers 400).
pub fn parse_include_object(s: &str) -> Option<IncludeObject> {
    match s {
        "None" => Some(IncludeObject::None),
        "Metadata" | "" => Some(IncludeObject::Metadata),
        "Object" => Some(IncludeObject::Object),
        _ => None,
    }
}

/// Whether the best acceptable clause of the `Accept` header asks for a Table
/// (`application/json;as=Table;v=v1;g=meta.k8s.io`, v1 or v1beta1, JSON or YAML).
pub fn accepts_table(accept_header: &str) -> bool {
    for range in parse_accept(accept_header) {
        let yaml = range.kind == "application" && range.subtype == "yaml";
        if !range.is_json() && !yaml {
            continue;
        }
        match (range.param("as"), range.param("g"), range.param("v")) {
            (None, _, _) => return false,
            (Some("Table"), Some("meta.k8s.io"), Some("v1" | "v1beta1")) => return true,
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some("v1" | "v1beta1"),
            ) => {
                return false;
            }
            // Any other conversion is refused: try the next clause.
            _ => continue,
        }
    }
    false
}

/// One column of a built-in printer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    pub name: &'static str,
    pub ty: &'static str,
    pub format: &'static str,
    pub desc: &'static str,
    pub priority: i64,
}

pub(crate) const NAME: Col = Col {
    name: "Name",
    ty: "string",
    format: "name",
    desc: NAME_DESC,
    priority: 0,
};
pub(crate) const AGE: Col = Col {
    name: "Age",
    ty: "string",
    format: "",
    desc: AGE_DESC,
    priority: 0,
};

/// A normal column.
pub(crate) const fn c(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        desc,
        priority: 0,
    }
}

/// A column shown only by `-o wide`.
pub(crate) const fn wide(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        desc,
        priority: 1,
    }
}

/// The columns of a kind and how to fill a row.
pub(crate) struct Printer {
    pub columns: &'static [Col],
    pub row: fn(&Value, i64) -> Vec<Value>,
}

/// The built-in printer of a kind, `None` for kinds printed with the default columns.
fn printer(group: &str, kind: &str) -> Option<&'static Printer> {
    Some(match (group, kind) {
        ("", "Namespace") => &corev1::NAMESPACE,
        ("", "ConfigMap") => &corev1::CONFIG_MAP,
        ("", "Secret") => &corev1::SECRET,
        ("", "Service") => &corev1::SERVICE,
        ("", "ServiceAccount") => &corev1::SERVICE_ACCOUNT,
        ("", "Pod") => &pods::POD,
        ("", "PersistentVolumeClaim") => &corev1::PVC,
        ("", "Event") => &corev1::EVENT,
        ("apps", "Deployment") => &workloads::DEPLOYMENT,
        ("apps", "StatefulSet") => &workloads::STATEFUL_SET,
        ("apps", "DaemonSet") => &workloads::DAEMON_SET,
        ("apps", "ReplicaSet") => &workloads::REPLICA_SET,
        ("batch", "Job") => &workloads::JOB,
        ("batch", "CronJob") => &workloads::CRON_JOB,
        ("autoscaling", "HorizontalPodAutoscaler") => &workloads::HPA,
        ("policy", "PodDisruptionBudget") => &workloads::PDB,
        ("networking.k8s.io", "Ingress") => &misc::INGRESS,
        ("networking.k8s.io", "NetworkPolicy") => &misc::NETWORK_POLICY,
        ("rbac.authorization.k8s.io", "RoleBinding") => &misc::ROLE_BINDING,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => &misc::CLUSTER_ROLE_BINDING,
        ("coordination.k8s.io", "Lease") => &misc::LEASE,
        ("autoscaling", "Scale") => &misc::SCALE,
        _ => return None,
    })
}

fn column_json(col: &Col) -> Value {
    json!({ "name": col.name, "type": col.ty, "format": col.format, "description": col.desc, "priority": col.priority })
}

/// The default table (`rest.NewDefaultTableConvertor`): name and RFC 3339 creation time.
fn default_columns() -> Vec<Value> {
    vec![
        column_json(&NAME),
        json!({ "name": "Created At", "type": "date", "format": "", "description": AGE_DESC, "priority": 0 }),
    ]
}

fn default_cells(obj: &Value) -> Vec<Value> {
    let created = match obj["metadata"]["creationTimestamp"]
        .as_str()
        .and_then(format::parse_time)
    {
        Some(t) => jiff::Timestamp::from_second(t)
            .map(|ts| ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default(),
        None => "0001-01-01T00:00:00Z".to_string(),
    };
    vec![
        json!(obj["metadata"]["name"].as_str().unwrap_or("")),
        json!(created),
    ]
}

/// The `object` of a row.
fn row_object(rt: &ResourceType, obj: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Metadata => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
        }),
        IncludeObject::Object => {
            let mut full = obj.clone();
            if let Some(map) = full.as_object_mut() {
                map.entry("apiVersion")
                    .or_insert_with(|| json!(rt.api_version()));
                map.entry("kind").or_insert_with(|| json!(rt.kind));
            }
            full
        }
    }
}

/// The `Table` for `objects` of one resource type. `metadata.resourceVersion` (and `continue`)
/// are left for the caller; `now_unix` is the time ages are measured against.
pub fn to_table(
    rt: &ResourceType,
    objects: &[&Value],
    include_object: IncludeObject,
    now_unix: i64,
) -> Value {
    let custom_columns = rt
        .crd
        .as_ref()
        .and_then(|crd| custom::columns(&crd.printer_columns));
    let builtin = if rt.is_custom() {
        None
    } else {
        printer(&rt.group, &rt.kind)
    };
    let column_definitions: Vec<Value> = match (&custom_columns, builtin) {
        (Some(cols), _) => std::iter::once(custom::name_column())
            .chain(cols.iter().map(|c| c.definition.clone()))
            .collect(),
        (None, Some(p)) => p.columns.iter().map(column_json).collect(),
        (None, None) => default_columns(),
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let cells = match (&custom_columns, builtin) {
                (Some(cols), _) => custom::cells(cols, obj, now_unix),
                (None, Some(p)) => (p.row)(obj, now_unix),
                (None, None) => default_cells(obj),
            };
            let mut row = json!({ "cells": cells, "object": row_object(rt, obj, include_object) });
            if builtin.is_some()
                && rt.group.is_empty()
                && rt.kind == "Pod"
                && let Some(conditions) = pods::pod_conditions(obj)
            {
                row["conditions"] = conditions;
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::{builtins, from_crd};

    fn rt(plural: &str) -> ResourceType {
        builtins().into_iter().find(|r| r.plural == plural).unwrap()
    }

    #[test]
    fn accept_headers() {
        // What kubectl get sends.
        assert!(accepts_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(accepts_table(
            "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
        ));
        assert!(!accepts_table("application/json"));
        assert!(!accepts_table(""));
        assert!(!accepts_table(
            "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(!accepts_table(
            "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json"
        ));
        assert!(accepts_table(
            "application/json;as=Foo;v=v1;g=x,application/json;as=Table;v=v1;g=meta.k8s.io"
        ));
    }

    #[test]
    fn include_object_values() {
        assert_eq!(parse_include_object("Object"), Some(IncludeObject::Object));
        assert_eq!(parse_include_object("None"), Some(IncludeObject::None));
        assert_eq!(
            parse_include_object("Metadata"),
            Some(IncludeObject::Metadata)
        );
        assert_eq!(parse_include_object("all"), None);
    }

    #[test]
    fn configmap_table_with_partial_metadata() {
        let cm = json!({"metadata": {"name": "cfg", "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"}, "data": {"a": "b"}});
        let now = format::parse_time("2024-01-01T00:00:05Z").unwrap();
        let t = to_table(&rt("configmaps"), &[&cm], IncludeObject::Metadata, now);
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Data", "Age"]);
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["rows"][0]["cells"], json!(["cfg", 1, "5s"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["rows"][0]["object"]["metadata"]["name"], "cfg");
        let full = to_table(&rt("configmaps"), &[&cm], IncludeObject::Object, now);
        assert_eq!(full["rows"][0]["object"]["kind"], "ConfigMap");
        assert_eq!(full["rows"][0]["object"]["data"]["a"], "b");
        let none = to_table(&rt("configmaps"), &[&cm], IncludeObject::None, now);
        assert!(none["rows"][0]["object"].is_null());
    }

    #[test]
    fn roles_and_crds_use_default_columns() {
        let role =
            json!({"metadata": {"name": "reader", "creationTimestamp": "2024-03-04T05:06:07Z"}});
        let t = to_table(&rt("roles"), &[&role], IncludeObject::None, 0);
        assert_eq!(t["columnDefinitions"][1]["name"], "Created At");
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["reader", "2024-03-04T05:06:07Z"])
        );
        let crds = to_table(
            &rt("customresourcedefinitions"),
            &[],
            IncludeObject::None,
            0,
        );
        assert_eq!(crds["columnDefinitions"].as_array().unwrap().len(), 2);
        assert_eq!(crds["rows"], json!([]));
    }

    #[test]
    fn pods_get_completed_condition_and_wide_columns() {
        let pod = json!({"metadata": {"name": "job-x"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [{"name": "c", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}});
        let t = to_table(&rt("pods"), &[&pod], IncludeObject::None, 0);
        assert_eq!(t["rows"][0]["conditions"][0]["type"], "Completed");
        assert_eq!(t["rows"][0]["cells"][2], "Completed");
        let wide: Vec<i64> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["priority"].as_i64().unwrap())
            .collect();
        assert_eq!(wide, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn custom_resources_use_printer_columns() {
        let types = from_crd(&json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [
                    {"name": "v1", "served": true, "storage": true, "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}
                    ]},
                    {"name": "v1beta1", "served": true, "storage": false}
                ]}
        }));
        let w = json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-01T00:00:00Z"}, "spec": {"size": 2},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let t = to_table(&types[0], &[&w], IncludeObject::Metadata, 0);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Name", "Size", "Ready"]);
        assert_eq!(t["rows"][0]["cells"], json!(["w", 2, "True"]));
        let now = format::parse_time("2024-01-01T00:10:00Z").unwrap();
        let beta = to_table(&types[1], &[&w], IncludeObject::Metadata, now);
        assert_eq!(beta["columnDefinitions"][1]["name"], "Age");
        assert_eq!(beta["rows"][0]["cells"], json!(["w", "10m"]));
    }
}
