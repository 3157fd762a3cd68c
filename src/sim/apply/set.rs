//! Field sets (`fieldpath.Set`): a tree of path elements where a node is a *member* when the
//! path itself is owned, and has *children* when paths below it are. Set algebra as SMD defines
//! it, and the FieldsV1 encoding stored in `metadata.managedFields[].fieldsV1`
//! (`fieldpath/serialize.go`): `{"f:spec":{"f:replicas":{}}}`, with `".":{}` on a node that is
//! both a member and a parent.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{ParseError, PathElement};

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    /// Never holds an empty set.
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds a path; the empty path (the root) is never a member.
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    pub fn is_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    /// The paths below `pe` (`WithPrefix`).
    pub fn child(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, set) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(set),
                None => set.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, set)| {
                other
                    .children
                    .get(pe)
                    .map(|o| (pe.clone(), set.intersection(o)))
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        Set { members, children }
    }

    /// Paths of `self` not in `other`; a member of `other` does not remove paths below it.
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, set)| match other.children.get(pe) {
                Some(o) => (pe.clone(), set.difference(o)),
                None => (pe.clone(), set.clone()),
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        Set { members, children }
    }

    /// Like `difference`, but a member of `other` also removes every path below it.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !other.members.contains(pe))
            .map(|(pe, set)| match other.children.get(pe) {
                Some(o) => (pe.clone(), set.recursive_difference(o)),
                None => (pe.clone(), set.clone()),
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        Set { members, children }
    }

    /// `EnsureNamedFieldsAreMembers`: every field that has paths below it becomes a member too.
    /// SMD does this for the named fields of structs only; without struct/map types every
    /// field counts (map keys are members already wherever they hold owned values).
    pub fn with_named_fields(&self) -> Set {
        let mut members = self.members.clone();
        members.extend(
            self.children
                .keys()
                .filter(|pe| matches!(pe, PathElement::Field(_)))
                .cloned(),
        );
        let children = self
            .children
            .iter()
            .map(|(pe, s)| (pe.clone(), s.with_named_fields()))
            .collect();
        Set { members, children }
    }

    /// Every path, in SMD's iteration order: this node's members, then each child's paths.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            let mut p = prefix.clone();
            p.push(pe.clone());
            out.push(p);
        }
        for (pe, set) in &self.children {
            prefix.push(pe.clone());
            set.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The FieldsV1 form.
    pub fn to_fields_v1(&self) -> Value {
        let mut out = Map::new();
        for pe in &self.members {
            if !self.children.contains_key(pe) {
                out.insert(pe.serialize(), Value::Object(Map::new()));
            }
        }
        for (pe, set) in &self.children {
            let mut inner = match set.to_fields_v1() {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            if self.members.contains(pe) {
                inner.insert(".".to_string(), Value::Object(Map::new()));
            }
            out.insert(pe.serialize(), Value::Object(inner));
        }
        Value::Object(out)
    }

    /// Reads the FieldsV1 form; keys of unknown kinds are dropped, as SMD does.
    pub fn from_fields_v1(v: &Value) -> Result<Set, String> {
        match v {
            Value::Object(m) => Ok(read_node(m)?.0.unwrap_or_default()),
            _ => Err("FieldsV1 must be a JSON object".to_string()),
        }
    }
}

/// `readIterV1`: the children of a node, and whether the node is itself a member.
fn read_node(m: &Map<String, Value>) -> Result<(Option<Set>, bool), String> {
    let mut is_member = false;
    let mut children: Option<Set> = None;
    for (key, value) in m {
        if key == "." {
            is_member = true;
            continue;
        }
        let pe = match PathElement::parse(key) {
            Ok(pe) => pe,
            Err(ParseError::Unknown) => continue,
            Err(ParseError::Invalid(e)) => return Err(format!("parsing key as path element: {e}")),
        };
        let Value::Object(inner) = value else {
            return Err(format!("value of {key:?} must be a JSON object"));
        };
        let (grandchildren, child_is_member) = read_node(inner)?;
        if child_is_member {
            children
                .get_or_insert_with(Set::new)
                .members
                .insert(pe.clone());
        }
        if let Some(g) = grandchildren.filter(|g| !g.is_empty()) {
            children.get_or_insert_with(Set::new).children.insert(pe, g);
        }
    }
    if children.is_none() {
        is_member = true;
    }
    Ok((children, is_member))
}

#[cfg(test)]
mod tests {
    use super::super::path::OrdValue;
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::Field(name.to_string())
    }

    fn k(name: &str) -> PathElement {
        PathElement::Key(vec![("name".to_string(), OrdValue(json!(name)))])
    }

    fn set(paths: &[&[PathElement]]) -> Set {
        let mut s = Set::new();
        for p in paths {
            s.insert(p);
        }
        s
    }

    #[test]
    fn fields_v1_encoding_of_a_deployment_apply() {
        // As kube-apiserver stores it for `kubectl apply --server-side` of a one-container Deployment.
        let s = set(&[
            &[f("spec"), f("replicas")],
            &[
                f("spec"),
                f("template"),
                f("spec"),
                f("containers"),
                k("nginx"),
            ],
            &[
                f("spec"),
                f("template"),
                f("spec"),
                f("containers"),
                k("nginx"),
                f("name"),
            ],
            &[
                f("spec"),
                f("template"),
                f("spec"),
                f("containers"),
                k("nginx"),
                f("image"),
            ],
        ]);
        let expected = json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}
        }}}}});
        assert_eq!(s.to_fields_v1(), expected);
        assert_eq!(Set::from_fields_v1(&expected), Ok(s));
    }

    #[test]
    fn decoding_skips_unknown_kinds_and_rejects_garbage() {
        let s = Set::from_fields_v1(&json!({"f:data": {"f:a": {}, "z:future": {}}}))
            .unwrap_or_default();
        assert_eq!(s, set(&[&[f("data"), f("a")]]));
        assert!(Set::from_fields_v1(&json!({"k:notjson": {}})).is_err());
        assert!(Set::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(Set::from_fields_v1(&json!([])).is_err());
        assert_eq!(Set::from_fields_v1(&json!({})), Ok(Set::new()));
    }

    #[test]
    fn algebra() {
        let a = set(&[&[f("data"), f("a")], &[f("data"), f("b")], &[f("x")]]);
        let b = set(&[&[f("data"), f("b")], &[f("y")]]);
        assert_eq!(
            a.union(&b),
            set(&[
                &[f("data"), f("a")],
                &[f("data"), f("b")],
                &[f("x")],
                &[f("y")]
            ])
        );
        assert_eq!(a.intersection(&b), set(&[&[f("data"), f("b")]]));
        assert_eq!(a.difference(&b), set(&[&[f("data"), f("a")], &[f("x")]]));
        // A member removes the paths below it only in a recursive difference.
        let data = set(&[&[f("data")]]);
        assert_eq!(a.difference(&data), a);
        assert_eq!(a.recursive_difference(&data), set(&[&[f("x")]]));
        assert!(a.has(&[f("data"), f("a")]) && !a.has(&[f("data")]));
    }

    #[test]
    fn named_fields_become_members_but_items_do_not() {
        let s = set(&[&[f("spec"), f("containers"), k("a"), f("image")]]);
        let n = s.with_named_fields();
        assert!(n.has(&[f("spec")]) && n.has(&[f("spec"), f("containers")]));
        assert!(!n.has(&[f("spec"), f("containers"), k("a")]));
    }

    #[test]
    fn iteration_order_is_members_first() {
        let s = set(&[&[f("b"), f("c")], &[f("z")], &[f("a")]]);
        let paths: Vec<String> = s
            .paths()
            .iter()
            .map(|p| super::super::path::path_string(p))
            .collect();
        assert_eq!(paths, vec![".a", ".z", ".b.c"]);
    }
}
