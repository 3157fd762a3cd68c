//! Schema-aware walks over JSON objects, as structured-merge-diff's `typed` package does them:
//! validation of list keys (`validate.go`), the field set of an object (`tofieldset.go`) and
//! the removal of owned items (`remove.go`). Merge and compare are in `merge.rs`.
//!
//! The only type information is the [`Schema`] trait: whether the list or map at a path is
//! atomic, a set or a list-map. Everything else is read off the JSON itself.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::path::{OrdValue, PathElement};
use super::set::Set;
use crate::sim::schema::{ListType, Schema};

/// The path element of a list item, or why it has none (`listItemToPathElement`).
pub fn item_path_element(list: &ListType, item: &Value) -> Result<PathElement, String> {
    match list {
        ListType::Map(keys) if !keys.is_empty() => {
            let fields = match item {
                Value::Null => {
                    return Err(
                        "associative list with keys may not have a null element".to_string()
                    );
                }
                Value::Object(m) => m,
                _ => {
                    return Err(
                        "associative list with keys may not have non-map elements".to_string()
                    );
                }
            };
            let mut key = Vec::with_capacity(keys.len());
            for name in keys {
                match fields.get(name) {
                    Some(v) => key.push((name.clone(), OrdValue(v.clone()))),
                    // The built-in schemas default every `protocol` key field to TCP.
                    None if name == "protocol" => {
                        key.push((name.clone(), OrdValue(Value::String("TCP".into()))))
                    }
                    None => {
                        return Err(format!(
                            "associative list with keys has an element that omits key field {name:?} (and doesn't have default value)"
                        ));
                    }
                }
            }
            key.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(key))
        }
        _ => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".to_string())
            }
            Value::Array(_) => {
                Err("not supported: associative list with lists as elements".to_string())
            }
            Value::Null => Err(
                "associative list without keys has an element that's an explicit null".to_string(),
            ),
            v => Ok(PathElement::Value(OrdValue(v.clone()))),
        },
    }
}

/// How a node is walked.
pub(super) enum Node {
    Leaf,
    Map,
    List(ListType),
}

pub(super) fn as_object(v: Option<&Value>) -> Option<&Map<String, Value>> {
    v.and_then(Value::as_object)
}

pub(super) fn as_array(v: Option<&Value>) -> Option<&Vec<Value>> {
    v.and_then(Value::as_array)
}

/// Walks objects with one kind's schema.
pub struct Typed<'a> {
    schema: &'a dyn Schema,
}

impl<'a> Typed<'a> {
    pub fn new(schema: &'a dyn Schema) -> Self {
        Self { schema }
    }

    pub(super) fn list_type(&self, names: &[String]) -> ListType {
        let path: Vec<&str> = names.iter().map(String::as_str).collect();
        self.schema.list_type(&path)
    }

    pub(super) fn map_is_atomic(&self, names: &[String]) -> bool {
        let path: Vec<&str> = names.iter().map(String::as_str).collect();
        self.schema.map_is_atomic(&path)
    }

    /// The node kind of a pair of values at one path (either may be missing). Empty or null
    /// containers on both sides are leaves, which keeps the empty/null distinction.
    pub(super) fn node(&self, l: Option<&Value>, r: Option<&Value>, names: &[String]) -> Node {
        let fits =
            |v: Option<&Value>, want: fn(&Value) -> bool| v.is_none_or(|v| v.is_null() || want(v));
        if (as_array(l).is_some() || as_array(r).is_some())
            && fits(l, Value::is_array)
            && fits(r, Value::is_array)
        {
            let lt = self.list_type(names);
            let empty =
                as_array(l).is_none_or(Vec::is_empty) && as_array(r).is_none_or(Vec::is_empty);
            if lt == ListType::Atomic || empty {
                Node::Leaf
            } else {
                Node::List(lt)
            }
        } else if (as_object(l).is_some() || as_object(r).is_some())
            && fits(l, Value::is_object)
            && fits(r, Value::is_object)
        {
            let empty =
                as_object(l).is_none_or(Map::is_empty) && as_object(r).is_none_or(Map::is_empty);
            if self.map_is_atomic(names) || empty {
                Node::Leaf
            } else {
                Node::Map
            }
        } else {
            Node::Leaf
        }
    }

    /// Indexes the items of a granular list by path element, in order. Items without one and
    /// repeated keys are left out (validation reports them).
    pub(super) fn index<'v>(
        &self,
        lt: &ListType,
        items: Option<&'v Vec<Value>>,
    ) -> Vec<(PathElement, &'v Value)> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for item in items.into_iter().flatten() {
            if let Ok(pe) = item_path_element(lt, item)
                && seen.insert(pe.clone())
            {
                out.push((pe, item));
            }
        }
        out
    }

    /// The errors SMD reports when it makes a typed value of `v`, one message per line, or
    /// Ok. Paths read like `.spec.ports: element 0: ...`.
    pub fn validate(&self, v: &Value) -> Result<(), String> {
        self.validate_with(v, false)
    }

    /// [`Typed::validate`] of an applied configuration, which is also checked against the
    /// schema's fields and scalar types (`field not declared in schema`, `expected numeric`).
    pub fn validate_applied(&self, v: &Value) -> Result<(), String> {
        self.validate_with(v, true)
    }

    fn validate_with(&self, v: &Value, declared: bool) -> Result<(), String> {
        let mut errs = Vec::new();
        self.validate_node(v, &mut Vec::new(), "", declared, &mut errs);
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.remove(0)),
            _ => Err(format!("errors:\n  {}", errs.join("\n  "))),
        }
    }

    fn validate_node(
        &self,
        v: &Value,
        names: &mut Vec<String>,
        at: &str,
        declared: bool,
        errs: &mut Vec<String>,
    ) {
        match v {
            Value::Object(m) if !self.map_is_atomic(names) => {
                // The path, for the schema's lookups; only read when fields must be declared.
                let path: Vec<String> = if declared { names.clone() } else { Vec::new() };
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                for (k, child) in m {
                    if declared && !self.schema.declares(&path, k) {
                        errs.push(format!("{at}.{k}: field not declared in schema"));
                        continue;
                    }
                    names.push(k.clone());
                    self.validate_node(child, names, &format!("{at}.{k}"), declared, errs);
                    names.pop();
                }
            }
            Value::Null | Value::Object(_) => {}
            scalar @ (Value::String(_) | Value::Number(_) | Value::Bool(_)) if declared => {
                let path: Vec<&str> = names.iter().map(String::as_str).collect();
                if let Some(e) = self.schema.scalar_error(&path, scalar) {
                    errs.push(format!("{at}: {e}"));
                }
            }
            Value::Array(items) => {
                let lt = self.list_type(names);
                let mut seen = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    let pe = if lt == ListType::Atomic {
                        PathElement::Index(i)
                    } else {
                        match item_path_element(&lt, item) {
                            Ok(pe) => pe,
                            Err(e) => {
                                errs.push(format!("{at}: element {i}: {e}"));
                                return;
                            }
                        }
                    };
                    if !seen.insert(pe.clone()) {
                        errs.push(format!("{at}: duplicate entries for key {pe}"));
                    }
                    self.validate_node(item, names, &format!("{at}{pe}"), declared, errs);
                }
            }
            _ => {}
        }
    }

    /// Every leaf, list item and atomic container of `v` (`ToFieldSet`).
    pub fn to_field_set(&self, v: &Value) -> Set {
        let mut set = Set::new();
        self.collect(v, &mut Vec::new(), &mut Vec::new(), &mut set);
        set
    }

    fn collect(
        &self,
        v: &Value,
        names: &mut Vec<String>,
        path: &mut Vec<PathElement>,
        set: &mut Set,
    ) {
        match v {
            Value::Object(m) if !self.map_is_atomic(names) => {
                for (k, child) in m {
                    names.push(k.clone());
                    path.push(PathElement::Field(k.clone()));
                    self.collect(child, names, path, set);
                    path.pop();
                    names.pop();
                }
            }
            Value::Array(items) => {
                let lt = self.list_type(names);
                if lt == ListType::Atomic {
                    set.insert(path);
                    return;
                }
                for (pe, item) in self.index(&lt, Some(items)) {
                    path.push(pe);
                    self.collect(item, names, path, set);
                    set.insert(path);
                    path.pop();
                }
            }
            // A null granular list owns nothing, like a missing one.
            Value::Null if self.list_type(names) != ListType::Atomic => {}
            _ => set.insert(path),
        }
    }

    /// Removes the fields and items of `set` from `v` (`RemoveItems`); a container left empty
    /// goes too, as it does once SMD's null is decoded into the object.
    pub fn remove_items(&self, v: &Value, set: &Set) -> Value {
        self.remove_node(v, set, &mut Vec::new())
            .unwrap_or(Value::Object(Map::new()))
    }

    fn remove_node(&self, v: &Value, set: &Set, names: &mut Vec<String>) -> Option<Value> {
        match v {
            Value::Object(m) if !self.map_is_atomic(names) => {
                let mut out = Map::new();
                for (k, child) in m {
                    let pe = PathElement::Field(k.clone());
                    if set.is_member(&pe) {
                        continue;
                    }
                    match set.child(&pe) {
                        Some(sub) => {
                            names.push(k.clone());
                            if let Some(c) = self.remove_node(child, sub, names) {
                                out.insert(k.clone(), c);
                            }
                            names.pop();
                        }
                        None => {
                            out.insert(k.clone(), child.clone());
                        }
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Value::Array(items) => {
                let lt = self.list_type(names);
                if lt == ListType::Atomic {
                    return Some(v.clone());
                }
                let mut out = Vec::new();
                for item in items {
                    let Ok(pe) = item_path_element(&lt, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    if set.is_member(&pe) {
                        continue;
                    }
                    match set.child(&pe) {
                        Some(sub) => {
                            let emptied = if item.is_object() {
                                Value::Object(Map::new())
                            } else {
                                Value::Null
                            };
                            out.push(self.remove_node(item, sub, names).unwrap_or(emptied));
                        }
                        None => out.push(item.clone()),
                    }
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            _ => Some(v.clone()),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// A small Deployment-like schema: containers, ports and env are list-maps, finalizers a
    /// set, `selector` an atomic map, everything else atomic lists.
    pub struct TestSchema;

    impl Schema for TestSchema {
        fn list_type(&self, path: &[&str]) -> ListType {
            match path.last() {
                Some(&"containers") | Some(&"env") | Some(&"volumes") => {
                    ListType::Map(vec!["name".into()])
                }
                Some(&"ports") => ListType::Map(vec!["containerPort".into(), "protocol".into()]),
                Some(&"finalizers") => ListType::Set,
                _ => ListType::Atomic,
            }
        }

        fn map_is_atomic(&self, path: &[&str]) -> bool {
            path.last() == Some(&"selector")
        }

        fn patch_strategy(&self, _path: &[&str]) -> crate::sim::schema::PatchStrategy {
            crate::sim::schema::PatchStrategy::Replace
        }
    }

    fn typed() -> Typed<'static> {
        Typed::new(&TestSchema)
    }

    #[test]
    fn field_set_of_a_config() {
        let config = json!({"spec": {"replicas": 2, "selector": {"app": "x"}, "finalizers": ["a"],
            "args": ["x", "y"], "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}]}]}});
        let set = typed().to_field_set(&config);
        assert_eq!(
            set.to_fields_v1(),
            json!({"f:spec": {
                "f:replicas": {}, "f:selector": {}, "f:args": {}, "f:finalizers": {"v:\"a\"": {}},
                "f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:name": {}, "f:image": {},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}
            }})
        );
    }

    #[test]
    fn validation_errors_read_like_smd() {
        let missing = json!({"spec": {"containers": [{"image": "x"}]}});
        assert_eq!(
            typed().validate(&missing),
            Err(".spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)".to_string())
        );
        let dup = json!({"spec": {"containers": [{"name": "app", "env": [{"name": "foo"}, {"name": "foo"}]}]}});
        assert_eq!(
            typed().validate(&dup),
            Err(
                ".spec.containers[name=\"app\"].env: duplicate entries for key [name=\"foo\"]"
                    .to_string()
            )
        );
        let two = json!({"metadata": {"finalizers": [{"a": 1}]}, "spec": {"containers": [null]}});
        assert_eq!(
            typed().validate(&two),
            Err("errors:\n  .metadata.finalizers: element 0: associative list without keys has an element that's a map type\n  .spec.containers: element 0: associative list with keys may not have a null element".to_string())
        );
        assert_eq!(
            typed().validate(&json!({"spec": {"args": [1, 1], "ports": [{"containerPort": 1}]}})),
            Ok(())
        );
    }

    #[test]
    fn remove_items_drops_emptied_containers() {
        let v = json!({"data": {"a": "1"}, "spec": {"finalizers": ["x", "y"], "containers": [{"name": "a", "image": "x"}, {"name": "b"}]}});
        let mut set = Set::new();
        set.insert(&[
            PathElement::Field("data".into()),
            PathElement::Field("a".into()),
        ]);
        set.insert(&[
            PathElement::Field("spec".into()),
            PathElement::Field("finalizers".into()),
            PathElement::Value(OrdValue(json!("x"))),
        ]);
        set.insert(&[
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::Key(vec![("name".into(), OrdValue(json!("b")))]),
        ]);
        assert_eq!(
            typed().remove_items(&v, &set),
            json!({"spec": {"finalizers": ["y"], "containers": [{"name": "a", "image": "x"}]}})
        );
    }
}
