//! The merge of an applied configuration into a live object (structured-merge-diff
//! `typed/merge.go`) and the comparison of two objects (`typed/compare.go`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{PathElement, json_equal};
use super::set::Set;
use super::typed::{Node, Typed, as_array, as_object};
use crate::sim::schema::ListType;

/// What a comparison of two objects found: leaf paths and added or removed containers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

impl Comparison {
    /// `ExcludeFields`: drops `fields` and everything below them.
    pub fn exclude(self, fields: &Set) -> Comparison {
        Comparison {
            added: self.added.recursive_difference(fields),
            modified: self.modified.recursive_difference(fields),
            removed: self.removed.recursive_difference(fields),
        }
    }
}

impl Typed<'_> {
    /// Merges `config` into `live` (`TypedValue.Merge`): maps deeply, granular lists by item,
    /// everything else replaced by the config's value.
    pub fn merge(&self, live: &Value, config: &Value) -> Value {
        self.merge_node(Some(live), Some(config), &mut Vec::new())
            .unwrap_or(Value::Object(Map::new()))
    }

    fn merge_node(
        &self,
        l: Option<&Value>,
        r: Option<&Value>,
        names: &mut Vec<String>,
    ) -> Option<Value> {
        match self.node(l, r, names) {
            Node::Leaf => r.or(l).cloned(),
            Node::Map => {
                let (lm, rm) = (as_object(l), as_object(r));
                let keys: BTreeSet<&String> = lm
                    .into_iter()
                    .flatten()
                    .chain(rm.into_iter().flatten())
                    .map(|(k, _)| k)
                    .collect();
                let mut out = Map::new();
                for k in keys {
                    names.push(k.clone());
                    if let Some(v) =
                        self.merge_node(lm.and_then(|m| m.get(k)), rm.and_then(|m| m.get(k)), names)
                    {
                        out.insert(k.clone(), v);
                    }
                    names.pop();
                }
                Some(Value::Object(out))
            }
            Node::List(lt) => {
                let out = self.merge_list(&lt, as_array(l), as_array(r), names);
                Some(Value::Array(out))
            }
        }
    }

    /// The item order of `mergingWalker.visitListItems`: live order, with the config's items
    /// placed where the config puts them relative to the items both share.
    fn merge_list(
        &self,
        lt: &ListType,
        l: Option<&Vec<Value>>,
        r: Option<&Vec<Value>>,
        names: &mut Vec<String>,
    ) -> Vec<Value> {
        let lhs = self.index(lt, l);
        let rhs = self.index(lt, r);
        let lmap: BTreeMap<&PathElement, &Value> = lhs.iter().map(|(pe, v)| (pe, *v)).collect();
        let rmap: BTreeMap<&PathElement, &Value> = rhs.iter().map(|(pe, v)| (pe, *v)).collect();
        let mut shared = rhs
            .iter()
            .map(|(pe, _)| pe)
            .filter(|pe| lmap.contains_key(pe));
        let mut next_shared = shared.next();
        let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
        let push = |out: &mut Vec<Value>,
                    l: Option<&Value>,
                    r: Option<&Value>,
                    names: &mut Vec<String>| {
            if let Some(v) = self.merge_node(l, r, names) {
                out.push(v);
            }
        };
        let (mut li, mut ri) = (0, 0);
        while li < lhs.len() || ri < rhs.len() {
            if li < lhs.len() && ri < rhs.len() {
                let pe = &lhs[li].0;
                if *pe == rhs[ri].0 {
                    push(&mut out, Some(lhs[li].1), Some(rhs[ri].1), names);
                    li += 1;
                    ri += 1;
                    next_shared = shared.next();
                    continue;
                }
                if rmap.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                    li += 1;
                    continue;
                }
            }
            if li < lhs.len() {
                let pe = &lhs[li].0;
                if !rmap.contains_key(pe) {
                    push(&mut out, Some(lhs[li].1), None, names);
                    li += 1;
                    continue;
                }
                if ri >= rhs.len() {
                    // Already merged with its config item.
                    li += 1;
                    continue;
                }
            }
            if ri < rhs.len() {
                let pe = &rhs[ri].0;
                push(&mut out, lmap.get(pe).copied(), Some(rhs[ri].1), names);
                ri += 1;
                if next_shared == Some(pe) {
                    next_shared = shared.next();
                }
            }
        }
        out
    }

    /// Compares two objects (`TypedValue.Compare`).
    pub fn compare(&self, old: &Value, new: &Value) -> Comparison {
        let mut c = Comparison::default();
        self.compare_node(
            Some(old),
            Some(new),
            &mut Vec::new(),
            &mut Vec::new(),
            &mut c,
        );
        c
    }

    fn compare_node(
        &self,
        l: Option<&Value>,
        r: Option<&Value>,
        names: &mut Vec<String>,
        path: &mut Vec<PathElement>,
        c: &mut Comparison,
    ) {
        match self.node(l, r, names) {
            Node::Leaf => match (l, r) {
                (None, _) => c.added.insert(path),
                (_, None) => c.removed.insert(path),
                (Some(a), Some(b)) if !json_equal(a, b) => c.modified.insert(path),
                _ => {}
            },
            Node::Map => {
                let (lm, rm) = (as_object(l), as_object(r));
                let keys: BTreeSet<&String> = lm
                    .into_iter()
                    .flatten()
                    .chain(rm.into_iter().flatten())
                    .map(|(k, _)| k)
                    .collect();
                for k in keys {
                    names.push(k.clone());
                    path.push(PathElement::Field(k.clone()));
                    self.compare_node(
                        lm.and_then(|m| m.get(k)),
                        rm.and_then(|m| m.get(k)),
                        names,
                        path,
                        c,
                    );
                    path.pop();
                    names.pop();
                }
                self.mark_container(l, r, path, c);
            }
            Node::List(lt) => {
                let lhs: BTreeMap<PathElement, &Value> =
                    self.index(&lt, as_array(l)).into_iter().collect();
                let rhs: BTreeMap<PathElement, &Value> =
                    self.index(&lt, as_array(r)).into_iter().collect();
                let pes: BTreeSet<&PathElement> = lhs.keys().chain(rhs.keys()).collect();
                for pe in pes {
                    path.push(pe.clone());
                    self.compare_node(lhs.get(pe).copied(), rhs.get(pe).copied(), names, path, c);
                    path.pop();
                }
                self.mark_container(l, r, path, c);
            }
        }
    }

    fn mark_container(
        &self,
        l: Option<&Value>,
        r: Option<&Value>,
        path: &[PathElement],
        c: &mut Comparison,
    ) {
        if l.is_none() {
            c.added.insert(path);
        } else if r.is_none() {
            c.removed.insert(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::typed::tests::TestSchema;
    use super::*;
    use serde_json::json;

    fn typed() -> Typed<'static> {
        Typed::new(&TestSchema)
    }

    #[test]
    fn merge_maps_lists_and_atomics() {
        let live = json!({"spec": {"replicas": 1, "paused": true, "selector": {"a": "1", "b": "2"},
            "args": ["a"], "finalizers": ["x", "y"],
            "containers": [{"name": "a", "image": "old", "tty": true}, {"name": "b", "image": "b"}]}});
        let config = json!({"spec": {"replicas": 3, "selector": {"c": "3"}, "args": ["b"], "finalizers": ["z", "x"],
            "containers": [{"name": "a", "image": "new"}, {"name": "c", "image": "c"}]}});
        assert_eq!(
            typed().merge(&live, &config),
            json!({"spec": {"replicas": 3, "paused": true, "selector": {"c": "3"}, "args": ["b"],
                "finalizers": ["z", "x", "y"],
                "containers": [{"name": "a", "image": "new", "tty": true}, {"name": "b", "image": "b"}, {"name": "c", "image": "c"}]}})
        );
    }

    #[test]
    fn merge_order_follows_the_config_for_shared_items() {
        let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
        let config = json!({"spec": {"containers": [{"name": "c"}, {"name": "a"}]}});
        let merged = typed().merge(&live, &config);
        let names: Vec<&str> = merged["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, vec!["b", "c", "a"]);
    }

    #[test]
    fn compare_finds_leaves_and_new_containers() {
        let old = json!({"data": {"a": "1", "b": "2"}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
        let new = json!({"data": {"a": "9", "c": "3"}, "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]},
            "extra": {"x": 1}});
        let c = typed().compare(&old, &new);
        assert_eq!(c.modified.to_fields_v1(), json!({"f:data": {"f:a": {}}}));
        assert_eq!(c.removed.to_fields_v1(), json!({"f:data": {"f:b": {}}}));
        assert_eq!(
            c.added.to_fields_v1(),
            json!({"f:data": {"f:c": {}}, "f:extra": {".": {}, "f:x": {}},
                "f:spec": {"f:containers": {"k:{\"name\":\"b\"}": {".": {}, "f:name": {}}}}})
        );
        assert_eq!(typed().compare(&new, &new), Comparison::default());
    }
}
