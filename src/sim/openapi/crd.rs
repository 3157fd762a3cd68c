//! Schemas of custom resources as apiextensions-apiserver publishes them (its
//! `controller/openapi/builder`): the version's `openAPIV3Schema` with `apiVersion`, `kind` and
//! an `ObjectMeta` reference for `metadata`, embedded resources filled in the same way, the
//! `x-kubernetes-group-version-kind` extension, and a `<Kind>List` definition. The OpenAPI v2
//! variant drops what Swagger 2.0 and kubectl's validation cannot express.

use serde_json::{Map, Value, json};

use super::builtin::list_schema;
use super::{REF_PREFIX, v2};
use crate::sim::resource::ResourceType;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const API_VERSION_DESC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DESC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// `util.ToRESTFriendlyName("<group>/<version>/<kind>")`: the group reversed, dot-joined.
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let mut parts: Vec<&str> = group.split('.').collect();
    parts.reverse();
    format!("{}.{version}.{kind}", parts.join("."))
}

fn meta_ref(desc: &str, v2: bool) -> Value {
    if v2 {
        json!({ "$ref": format!("#/definitions/{OBJECT_META}"), "description": desc })
    } else {
        json!({ "allOf": [{ "$ref": format!("{REF_PREFIX}{OBJECT_META}") }], "description": desc })
    }
}

/// Adds `apiVersion`, `kind` and `metadata` to objects marked `x-kubernetes-embedded-resource`.
fn add_embedded(schema: &mut Value, v2: bool) {
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for p in props.values_mut() {
            add_embedded(p, v2);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = schema.get_mut(key).filter(|s| s.is_object()) {
            add_embedded(sub, v2);
        }
    }
    if v2 && schema["x-kubernetes-preserve-unknown-fields"] == true {
        return;
    }
    if schema["x-kubernetes-embedded-resource"] != true {
        return;
    }
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let props = obj.entry("properties").or_insert_with(|| json!({}));
    props["apiVersion"] = json!({ "type": "string", "description": API_VERSION_DESC });
    props["kind"] = json!({ "type": "string", "description": KIND_DESC });
    props["metadata"] = meta_ref(METADATA_DESC, v2);
    let required = obj.entry("required").or_insert_with(|| json!([]));
    if let Some(req) = required.as_array_mut() {
        for field in ["kind", "apiVersion"] {
            if !req.iter().any(|r| r == field) {
                req.push(json!(field));
            }
        }
    }
}

/// `ToStructuralOpenAPIV2`: no `allOf`/`oneOf`/`anyOf`/`not`, no `nullable` (a nullable field
/// loses its type and children and is not required), no children under
/// `x-kubernetes-preserve-unknown-fields`, no item-less arrays.
fn to_v2(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in ["allOf", "oneOf", "anyOf", "not"] {
        obj.remove(key);
    }
    if obj.remove("nullable") == Some(json!(true)) {
        for key in ["type", "items", "properties"] {
            obj.remove(key);
        }
    }
    if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true)) {
        obj.remove("items");
        obj.remove("properties");
    }
    if obj.get("type") == Some(&json!("array")) && !obj.contains_key("items") {
        obj.remove("type");
    }
    let nullable: Vec<String> = obj
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.iter()
                .filter(|(_, v)| v["nullable"] == true)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default();
    if let Some(req) = obj.get_mut("required").and_then(Value::as_array_mut) {
        req.retain(|r| !nullable.iter().any(|n| r == n));
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for p in props.values_mut() {
            to_v2(p);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key).filter(|s| s.is_object()) {
            to_v2(sub);
        }
    }
}

/// The published schema of a custom resource version.
fn kind_schema(rt: &ResourceType, v2: bool) -> Value {
    let raw = rt.crd.as_ref().and_then(|c| c.schema.clone());
    let preserve = raw
        .as_ref()
        .is_some_and(|s| s["x-kubernetes-preserve-unknown-fields"] == true);
    let mut schema = match raw {
        Some(mut s) if !(v2 && preserve) => {
            if v2 {
                to_v2(&mut s);
            }
            if !s.is_object() {
                s = json!({});
            }
            let props = s
                .as_object_mut()
                .map(|o| o.entry("properties").or_insert_with(|| json!({})));
            if let Some(props) = props {
                props["metadata"] = meta_ref(METADATA_DESC, v2);
                props["apiVersion"] = json!({ "type": "string", "description": API_VERSION_DESC });
                props["kind"] = json!({ "type": "string", "description": KIND_DESC });
            }
            add_embedded(&mut s, v2);
            s
        }
        _ => json!({ "type": "object" }),
    };
    schema["x-kubernetes-group-version-kind"] =
        json!([{ "group": rt.group, "kind": rt.kind, "version": rt.version }]);
    schema
}

/// Adds the schemas of a custom resource version (and its list) to a v3 document; returns the
/// definition name of the kind.
pub fn add_schemas(rt: &ResourceType, schemas: &mut Map<String, Value>, v2: bool) -> String {
    let name = definition_name(&rt.group, &rt.version, &rt.kind);
    schemas.insert(name.clone(), kind_schema(rt, v2));
    schemas.insert(
        format!("{name}List"),
        list_schema(&name, LIST_META, &rt.group, &rt.version, &rt.kind),
    );
    if rt.scale_subresource {
        let (_, defs) = super::builtin::scale_schemas();
        for (k, v) in defs {
            schemas.entry(k).or_insert(v);
        }
    }
    name
}

/// Replaces a custom resource's definition in the v2 document with its v2 variant.
pub fn v2_override(rt: &ResourceType, definitions: &mut Map<String, Value>) {
    let name = definition_name(&rt.group, &rt.version, &rt.kind);
    definitions.insert(name, v2::schema(&kind_schema(rt, true)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::from_crd;

    fn widget(schema: Value) -> ResourceType {
        let mut types = from_crd(&json!({
            "metadata": {"name": "widgets.stable.example.com"},
            "spec": {"group": "stable.example.com", "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}
        }));
        types.remove(0)
    }

    #[test]
    fn names_reverse_the_group() {
        assert_eq!(
            definition_name("stable.example.com", "v1", "CronTab"),
            "com.example.stable.v1.CronTab"
        );
        assert_eq!(
            definition_name("stable", "v1beta1", "X"),
            "stable.v1beta1.X"
        );
    }

    #[test]
    fn v3_schema_gets_type_meta_and_gvk() {
        let rt = widget(json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
            "spec": {"type": "object", "properties": {
                "size": {"type": "integer", "nullable": true},
                "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
            }}
        }}));
        let mut schemas = Map::new();
        let name = add_schemas(&rt, &mut schemas, false);
        assert_eq!(name, "com.example.stable.v1.Widget");
        let s = &schemas[&name];
        assert_eq!(
            s["properties"]["metadata"]["allOf"][0]["$ref"],
            format!("{REF_PREFIX}{OBJECT_META}")
        );
        assert_eq!(s["properties"]["apiVersion"]["type"], "string");
        assert_eq!(
            s["x-kubernetes-group-version-kind"],
            json!([{"group": "stable.example.com", "kind": "Widget", "version": "v1"}])
        );
        assert_eq!(
            s["properties"]["spec"]["properties"]["size"]["nullable"],
            true
        );
        let template = &s["properties"]["spec"]["properties"]["template"];
        assert_eq!(template["required"], json!(["kind", "apiVersion"]));
        assert!(template["properties"]["metadata"].is_object());
        let list = &schemas["com.example.stable.v1.WidgetList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "WidgetList"
        );
    }

    #[test]
    fn v2_schema_drops_what_swagger_cannot_say() {
        let rt = widget(json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size", "name"], "properties": {
                "size": {"type": "integer", "nullable": true},
                "name": {"type": "string"},
                "any": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"a": {"type": "string"}}}
            }}
        }}));
        let s = kind_schema(&rt, true);
        let spec = &s["properties"]["spec"];
        assert_eq!(spec["required"], json!(["name"]));
        assert!(spec["properties"]["size"].get("type").is_none());
        assert!(spec["properties"]["any"].get("anyOf").is_none());
        assert!(spec["properties"]["raw"].get("properties").is_none());
        assert_eq!(
            s["properties"]["metadata"]["$ref"],
            format!("#/definitions/{OBJECT_META}")
        );
        let open = widget(json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        let s = kind_schema(&open, true);
        assert_eq!(s["type"], "object");
        assert!(s.get("properties").is_none());
    }
}
