//! `metadata.managedFields`: which fields a manager owns, from the FieldsV1 encoding of
//! structured-merge-diff (`fieldpath/serialize.go`): `f:<name>` a field, `k:<json object>` the
//! list item with these key fields, `v:<json value>` a set item, `i:<index>` a list item by
//! position, and `.` the node itself (next to its children). An entry with no children is a
//! leaf: the whole value at that path is owned.
//!
//! Elements that do not parse are skipped: the comparison must not fail on one odd entry.

use serde_json::{Map, Value};

use super::normalize::json_equal;
use super::schema::{Hints, ListKind, item_key, keys_equal};

/// One element of a field path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Elem {
    Field(String),
    Key(Map<String, Value>),
    Value(Value),
    Index(usize),
}

/// A set of owned paths, as a tree. A node without children is owned whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct FieldNode {
    /// The `.` marker: the node itself is owned, next to its children.
    pub member: bool,
    pub children: Vec<(Elem, FieldNode)>,
}

impl FieldNode {
    /// Parses a FieldsV1 object.
    pub fn parse(fields: &Value) -> FieldNode {
        let mut node = FieldNode::default();
        let Some(obj) = fields.as_object() else {
            return node;
        };
        for (key, child) in obj {
            if key == "." {
                node.member = true;
                continue;
            }
            if let Some(elem) = parse_elem(key) {
                node.insert(elem, FieldNode::parse(child));
            }
        }
        node
    }

    fn insert(&mut self, elem: Elem, child: FieldNode) {
        match self.children.iter_mut().find(|(e, _)| *e == elem) {
            Some((_, existing)) => existing.union_with(child),
            None => self.children.push((elem, child)),
        }
    }

    /// Adds the paths of `other`.
    pub fn union_with(&mut self, other: FieldNode) {
        self.member |= other.member;
        for (elem, child) in other.children {
            self.insert(elem, child);
        }
    }

    /// Moves the paths below the field `from` under the field `to` (a Secret's `stringData`
    /// is stored, and compared, as `data`).
    pub fn rename_field(&mut self, from: &str, to: &str) {
        let from = Elem::Field(from.to_string());
        if let Some(i) = self.children.iter().position(|(e, _)| *e == from) {
            let (_, node) = self.children.remove(i);
            self.insert(Elem::Field(to.to_string()), node);
        }
    }

    pub fn is_leaf(&self) -> bool {
        self.children.is_empty()
    }

    /// The child for the field `name`.
    pub fn field(&self, name: &str) -> Option<&FieldNode> {
        self.children.iter().find_map(|(e, n)| match e {
            Elem::Field(f) if f == name => Some(n),
            _ => None,
        })
    }

    /// The child for the list item `item` at `index`.
    pub fn item(&self, item: &Value, index: usize) -> Option<&FieldNode> {
        self.children
            .iter()
            .find(|(e, _)| elem_matches_item(e, item, index))
            .map(|(_, n)| n)
    }
}

/// Whether a list element names this item.
pub(super) fn elem_matches_item(elem: &Elem, item: &Value, index: usize) -> bool {
    match elem {
        Elem::Key(key) => key_matches(key, item),
        Elem::Value(v) => json_equal(v, item),
        Elem::Index(i) => *i == index,
        Elem::Field(_) => false,
    }
}

/// Whether a list item has these key field values (`protocol` defaulting to TCP).
pub(super) fn key_matches(key: &Map<String, Value>, item: &Value) -> bool {
    let names: Vec<String> = key.keys().cloned().collect();
    let want: Vec<&Value> = key.values().collect();
    item_key(item, &names).is_some_and(|have| keys_equal(&want, &have))
}

fn parse_elem(key: &str) -> Option<Elem> {
    let (prefix, rest) = key.split_at_checked(2)?;
    match prefix {
        "f:" => Some(Elem::Field(rest.to_string())),
        "k:" => match serde_json::from_str(rest).ok()? {
            Value::Object(m) => Some(Elem::Key(m)),
            _ => None,
        },
        "v:" => serde_json::from_str(rest).ok().map(Elem::Value),
        "i:" => rest.parse().ok().map(Elem::Index),
        _ => None,
    }
}

fn entries(live: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .filter(|e| {
            let str_of = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
            matches!(str_of("fieldsType"), "" | "FieldsV1") && str_of("subresource").is_empty()
        })
}

/// The fields `manager` owns in the live object (its entries for the main resource; with
/// `apply_only`, only its `Apply` entries).
pub(super) fn owned_by(live: &Value, manager: &str, apply_only: bool) -> FieldNode {
    let mut node = FieldNode::default();
    for entry in entries(live) {
        let str_of = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or("");
        if str_of("manager") != manager || apply_only && str_of("operation") != "Apply" {
            continue;
        }
        if let Some(fields) = entry.get("fieldsV1") {
            node.union_with(FieldNode::parse(fields));
        }
    }
    node
}

/// List kinds as the server knows them: every list whose items a manager owns as `k:{..}`
/// (keyed by those fields) or `v:..` (a set), by field path.
pub(super) fn list_hints(live: &Value) -> Hints {
    let mut hints = Hints::new();
    for entry in entries(live) {
        if let Some(fields) = entry.get("fieldsV1") {
            collect_hints(&FieldNode::parse(fields), &mut Vec::new(), &mut hints);
        }
    }
    hints
}

fn collect_hints(node: &FieldNode, names: &mut Vec<String>, hints: &mut Hints) {
    for (elem, child) in &node.children {
        match elem {
            Elem::Field(name) => {
                names.push(name.clone());
                collect_hints(child, names, hints);
                names.pop();
            }
            Elem::Key(key) => {
                let mut keys: Vec<String> = key.keys().cloned().collect();
                keys.sort();
                hints.entry(names.clone()).or_insert(ListKind::Map(keys));
                collect_hints(child, names, hints);
            }
            Elem::Value(_) => {
                hints.entry(names.clone()).or_insert(ListKind::Set);
            }
            Elem::Index(_) => collect_hints(child, names, hints),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn live() -> Value {
        json!({"metadata": {"managedFields": [
            {"manager": "flotilla", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}}},
            {"manager": "flotilla", "operation": "Apply", "subresource": "status", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": {"f:x": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {
                "f:metadata": {"f:finalizers": {"v:\"a\"": {}}},
                "f:spec": {"f:replicas": {}}, "i:0": {}, "x:bad": {}, "k:notjson": {}}}
        ]}})
    }

    #[test]
    fn parses_elements() {
        let node = owned_by(&live(), "flotilla", true);
        let containers = node
            .field("spec")
            .and_then(|n| n.field("template"))
            .and_then(|n| n.field("spec"))
            .and_then(|n| n.field("containers"))
            .unwrap();
        let web = json!({"name": "web", "image": "x"});
        let item = containers.item(&web, 3).unwrap();
        assert!(item.field("image").unwrap().is_leaf());
        let port = json!({"containerPort": 80});
        assert!(item.field("ports").unwrap().item(&port, 0).is_some());
        assert!(containers.item(&json!({"name": "other"}), 0).is_none());
        // the status subresource entry is not the main resource
        assert!(node.field("status").is_none());
    }

    #[test]
    fn selects_manager_and_operation() {
        assert!(owned_by(&live(), "kubectl-edit", true).is_leaf());
        let edit = owned_by(&live(), "kubectl-edit", false);
        assert!(edit.field("spec").unwrap().field("replicas").is_some());
        let finalizers = edit.field("metadata").unwrap().field("finalizers").unwrap();
        assert!(finalizers.item(&json!("a"), 5).is_some());
        assert!(finalizers.item(&json!("b"), 0).is_none());
        // i:0 at the root parses; junk does not
        assert_eq!(edit.children.len(), 3);
        assert!(owned_by(&json!({}), "flotilla", true).is_leaf());
    }

    #[test]
    fn hints_from_all_managers() {
        let hints = list_hints(&live());
        let names = |p: &str| p.split('.').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            hints.get(&names("spec.template.spec.containers")),
            Some(&ListKind::Map(vec!["name".into()]))
        );
        assert_eq!(
            hints.get(&names("spec.template.spec.containers.ports")),
            Some(&ListKind::Map(vec![
                "containerPort".into(),
                "protocol".into()
            ]))
        );
        assert_eq!(
            hints.get(&names("metadata.finalizers")),
            Some(&ListKind::Set)
        );
    }

    #[test]
    fn union_merges_paths() {
        let mut a = FieldNode::parse(&json!({"f:a": {"f:b": {}}}));
        a.union_with(FieldNode::parse(&json!({"f:a": {"f:c": {}}, "f:d": {}})));
        assert_eq!(a.children.len(), 2);
        assert_eq!(a.field("a").unwrap().children.len(), 2);
        let mut s = FieldNode::parse(&json!({"f:data": {"f:a": {}}, "f:stringData": {"f:b": {}}}));
        s.rename_field("stringData", "data");
        assert_eq!(s.children.len(), 1);
        assert_eq!(s.field("data").unwrap().children.len(), 2);
    }
}
