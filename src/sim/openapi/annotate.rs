//! Puts the merge extensions of a kind's [`Schema`] on its published schema: for every field
//! reachable from the kind, `x-kubernetes-list-type` / `x-kubernetes-list-map-keys` (server-side
//! apply), `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` (strategic merge
//! patch, read by kubectl's client-side apply) and `x-kubernetes-map-type`, on the property
//! schema next to its `$ref`/`items`, as kube-openapi writes them.
//!
//! Definitions are shared between kinds and paths; extensions are only ever added.

use serde_json::{Map, Value, json};

use super::builtin::ref_name;
use crate::sim::schema::{ListType, PatchStrategy, Schema};

/// Deepest path walked (recursive types such as `JSONSchemaProps` stop here too).
const MAX_DEPTH: usize = 32;

/// Annotates the tree of definitions reachable from `root`.
pub fn annotate(schemas: &mut Map<String, Value>, root: &str, schema: &dyn Schema) {
    let mut path = Vec::new();
    let mut stack = vec![root.to_string()];
    walk(schemas, root, &mut path, &mut stack, schema);
}

/// What a property of a definition holds.
struct Prop {
    name: String,
    array: bool,
    /// The definition its value (or its items) refers to.
    target: Option<String>,
    /// A map (`additionalProperties`) rather than a struct or scalar.
    map: bool,
}

fn props_of(def: &Value) -> Vec<Prop> {
    let Some(props) = def.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, p)| {
            let array = p.get("type").and_then(Value::as_str) == Some("array");
            let target = if array {
                p.get("items").and_then(ref_name)
            } else {
                ref_name(p)
            };
            Prop {
                name: name.clone(),
                array,
                target,
                map: p.get("additionalProperties").is_some(),
            }
        })
        .collect()
}

/// The extensions a property at `path` gets.
fn extensions(prop: &Prop, path: &[&str], schema: &dyn Schema) -> Vec<(&'static str, Value)> {
    let mut ext = Vec::new();
    if prop.array {
        match schema.list_type(path) {
            ListType::Map(keys) => {
                ext.push(("x-kubernetes-list-type", json!("map")));
                ext.push(("x-kubernetes-list-map-keys", json!(keys)));
            }
            ListType::Set => ext.push(("x-kubernetes-list-type", json!("set"))),
            ListType::Atomic => {}
        }
        let retain = schema.retain_keys(path);
        match schema.patch_strategy(path) {
            PatchStrategy::MergeByKey(key) => {
                let strategy = if retain { "merge,retainKeys" } else { "merge" };
                ext.push(("x-kubernetes-patch-strategy", json!(strategy)));
                ext.push(("x-kubernetes-patch-merge-key", json!(key)));
            }
            PatchStrategy::MergeScalars => {
                ext.push(("x-kubernetes-patch-strategy", json!("merge")))
            }
            PatchStrategy::Replace if retain => {
                ext.push(("x-kubernetes-patch-strategy", json!("retainKeys")))
            }
            PatchStrategy::Replace => {}
        }
    } else if prop.map || prop.target.is_some() {
        // Scalars carry no merge extensions.
        if schema.retain_keys(path) {
            ext.push(("x-kubernetes-patch-strategy", json!("retainKeys")));
        } else if schema.replaces_map(path) {
            ext.push(("x-kubernetes-patch-strategy", json!("replace")));
        }
        if schema.map_is_atomic(path) {
            ext.push(("x-kubernetes-map-type", json!("atomic")));
        }
    }
    ext
}

fn walk(
    schemas: &mut Map<String, Value>,
    def: &str,
    path: &mut Vec<String>,
    stack: &mut Vec<String>,
    schema: &dyn Schema,
) {
    if path.len() >= MAX_DEPTH {
        return;
    }
    let props = match schemas.get(def) {
        Some(d) => props_of(d),
        None => return,
    };
    for prop in props {
        path.push(prop.name.clone());
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let ext = extensions(&prop, &refs, schema);
        if let Some(obj) = schemas
            .get_mut(def)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(&prop.name))
            .and_then(Value::as_object_mut)
        {
            for (key, value) in ext {
                obj.entry(key).or_insert(value);
            }
        }
        if let Some(target) = prop.target.filter(|t| !stack.contains(t)) {
            stack.push(target.clone());
            walk(schemas, &target, path, stack, schema);
            stack.pop();
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema where `spec.items` merges by `name`, `spec.tags` is a set and `spec.strategy`
    /// retains keys.
    struct Fake;

    impl Schema for Fake {
        fn list_type(&self, path: &[&str]) -> ListType {
            match path {
                ["spec", "items"] => ListType::Map(vec!["name".into()]),
                ["spec", "tags"] => ListType::Set,
                _ => ListType::Atomic,
            }
        }
        fn patch_strategy(&self, path: &[&str]) -> PatchStrategy {
            match path {
                ["spec", "items"] => PatchStrategy::MergeByKey("name".into()),
                ["spec", "tags"] => PatchStrategy::MergeScalars,
                _ => PatchStrategy::Replace,
            }
        }
        fn retain_keys(&self, path: &[&str]) -> bool {
            path == ["spec", "strategy"]
        }
        fn map_is_atomic(&self, path: &[&str]) -> bool {
            path == ["spec", "selector"]
        }
    }

    #[test]
    fn extensions_land_on_properties() {
        let r = |n: &str| json!({ "allOf": [{ "$ref": format!("#/components/schemas/{n}") }] });
        let mut schemas = Map::new();
        schemas.insert(
            "Root".into(),
            json!({ "properties": { "spec": r("Spec") } }),
        );
        schemas.insert(
            "Spec".into(),
            json!({ "properties": {
                "items": { "type": "array", "items": r("Item") },
                "tags": { "type": "array", "items": { "type": "string" } },
                "strategy": r("Strategy"),
                "selector": { "type": "object", "additionalProperties": { "type": "string" } },
                "loop": r("Root")
            }}),
        );
        schemas.insert(
            "Item".into(),
            json!({ "properties": { "name": { "type": "string" } } }),
        );
        schemas.insert("Strategy".into(), json!({ "properties": {} }));
        annotate(&mut schemas, "Root", &Fake);
        let spec = &schemas["Spec"]["properties"];
        assert_eq!(spec["items"]["x-kubernetes-list-type"], "map");
        assert_eq!(spec["items"]["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(spec["items"]["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(spec["items"]["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(spec["tags"]["x-kubernetes-list-type"], "set");
        assert_eq!(spec["tags"]["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(
            spec["strategy"]["x-kubernetes-patch-strategy"],
            "retainKeys"
        );
        assert_eq!(spec["selector"]["x-kubernetes-map-type"], "atomic");
        assert!(spec["loop"].get("x-kubernetes-patch-strategy").is_none());
    }
}
