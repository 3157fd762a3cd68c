//! `spec.ignoreDifferences`: fields removed from both the desired and the live object (and so
//! from the owned fields) before they are compared.
//!
//! - `jsonPointers`: RFC 6901 pointers (`~1` is `/`, `~0` is `~`); a numeric token indexes a
//!   list.
//! - `jqPathExpressions`: Flotilla does not run jq. It reads the path forms that ignore rules
//!   use in practice: `.a.b`, `."a/b"`, `.["a/b"]`, `.a[0]`, `.a[]` and `.a[]?` (every item),
//!   and a filter `| select(.name == "x")` (a path, `==`, a JSON literal) after a step; a
//!   further `| .c` continues the path. Anything else is [`DiffError::Unsupported`].
//! - `managedFieldsManagers`: the fields these managers own in the live object (any
//!   operation).
//!
//! A rule matches by group (empty: core; `*`: any), kind (`*`: any) and, when set, name and
//! namespace.

use serde_json::Value;

use super::DiffError;
use super::fields_v1::{Elem, FieldNode, elem_matches_item, owned_by};
use super::normalize::json_equal;
use super::path::parse_pointer;
use super::schema::group_of;
use crate::api::application::ResourceIgnoreDifferences;

/// One ignoreDifferences entry, checked and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct IgnoreRule {
    group: String,
    kind: String,
    name: Option<String>,
    namespace: Option<String>,
    paths: Vec<Vec<Step>>,
    managers: Vec<String>,
}

/// A step of a path: which children of a node it selects.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    select: Select,
    /// Only the children whose value at this relative path equals the literal.
    filter: Option<(Vec<Select>, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Select {
    /// A JSON pointer token: a map key, or the index of a list.
    Token(String),
    Field(String),
    Index(usize),
    Each,
}

impl IgnoreRule {
    pub fn from_spec(spec: &ResourceIgnoreDifferences) -> Result<IgnoreRule, DiffError> {
        let mut paths = Vec::new();
        for pointer in &spec.json_pointers {
            let tokens =
                parse_pointer(pointer).map_err(|reason| DiffError::InvalidJsonPointer {
                    pointer: pointer.clone(),
                    reason,
                })?;
            paths.push(
                tokens
                    .into_iter()
                    .map(|t| Step {
                        select: Select::Token(t),
                        filter: None,
                    })
                    .collect(),
            );
        }
        for expression in &spec.jq_path_expressions {
            paths.push(
                parse_jq(expression).map_err(|reason| DiffError::Unsupported {
                    expression: expression.clone(),
                    reason,
                })?,
            );
        }
        Ok(IgnoreRule {
            group: spec.group.clone().unwrap_or_default(),
            kind: spec.kind.clone(),
            name: spec.name.clone().filter(|s| !s.is_empty()),
            namespace: spec.namespace.clone().filter(|s| !s.is_empty()),
            paths,
            managers: spec.managed_fields_managers.clone(),
        })
    }

    /// The valid rules of `spec.ignoreDifferences` (an invalid one is left out).
    pub fn all_valid(specs: &[ResourceIgnoreDifferences]) -> Vec<IgnoreRule> {
        specs
            .iter()
            .filter_map(|r| IgnoreRule::from_spec(r).ok())
            .collect()
    }

    /// Whether the rule applies to this object.
    pub fn matches(&self, obj: &Value) -> bool {
        let str_at = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
        let group = group_of(str_at("/apiVersion"));
        (self.group == "*" || self.group == group)
            && (self.kind == "*" || self.kind == str_at("/kind"))
            && self
                .name
                .as_ref()
                .is_none_or(|n| n == str_at("/metadata/name"))
            && self
                .namespace
                .as_ref()
                .is_none_or(|n| n == str_at("/metadata/namespace"))
    }

    /// Removes the ignored fields from `desired` and `live`; `original_live` (with its
    /// managedFields) tells which fields the ignored managers own.
    pub(super) fn apply(&self, desired: &mut Value, live: &mut Value, original_live: &Value) {
        for manager in &self.managers {
            let owned = owned_by(original_live, manager, false);
            remove_owned(desired, &owned);
            remove_owned(live, &owned);
        }
        for path in &self.paths {
            remove_path(desired, path);
            remove_path(live, path);
        }
    }
}

impl IgnoreRule {
    /// `RespectIgnoreDifferences=true`: what a sync applies keeps the live values of the
    /// ignored fields. A field the paths select takes its live value, or leaves `desired`
    /// when the live object has none; the fields of the ignored managers leave `desired`, so
    /// those managers keep them (no conflict, and the hub's apply neither takes nor removes
    /// them).
    pub fn keep_live(&self, desired: &mut Value, live: &Value) {
        for manager in &self.managers {
            remove_owned(desired, &owned_by(live, manager, false));
        }
        for path in &self.paths {
            keep_live_path(desired, Some(live), path);
        }
    }
}

/// Sets every node of `desired` that `steps` selects to its counterpart in `live` (the same
/// key; the same index, or for a filtered step the first live item passing the filter),
/// removing it where `live` has none. A field absent from `desired` but present in `live`
/// is added, so the apply keeps it as it is.
fn keep_live_path(desired: &mut Value, live: Option<&Value>, steps: &[Step]) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    match desired {
        Value::Object(m) => {
            let mut keys: Vec<String> = m
                .iter()
                .filter(|(k, child)| selects_key(&step.select, k) && passes(step, child))
                .map(|(k, _)| k.clone())
                .collect();
            if let Some(Value::Object(l)) = live {
                keys.extend(
                    l.iter()
                        .filter(|(k, child)| {
                            selects_key(&step.select, k)
                                && passes(step, child)
                                && !m.contains_key(*k)
                        })
                        .map(|(k, _)| k.clone()),
                );
            }
            for k in keys {
                let counterpart = live.and_then(|l| l.get(&k));
                if rest.is_empty() {
                    match counterpart {
                        Some(v) => {
                            m.insert(k, v.clone());
                        }
                        None => {
                            m.remove(&k);
                        }
                    }
                } else if let Some(child) = m.get_mut(&k) {
                    keep_live_path(child, counterpart, rest);
                } else if let Some(v) = counterpart.filter(|v| v.is_object()) {
                    // Only the ignored part of the live subtree, under a new key.
                    let mut child = Value::Object(Default::default());
                    keep_live_path(&mut child, Some(v), rest);
                    if child.as_object().is_some_and(|c| !c.is_empty()) {
                        m.insert(k, child);
                    }
                }
            }
        }
        Value::Array(a) => {
            let live_items = live.and_then(Value::as_array);
            let picked: Vec<usize> = (0..a.len())
                .filter(|&i| selects_index(&step.select, i) && passes(step, &a[i]))
                .collect();
            for &i in picked.iter().rev() {
                let counterpart = live_items.and_then(|l| {
                    if step.filter.is_some() {
                        l.iter().find(|item| passes(step, item))
                    } else {
                        l.get(i)
                    }
                });
                match (rest.is_empty(), counterpart) {
                    (true, Some(v)) => a[i] = v.clone(),
                    (true, None) => {
                        a.remove(i);
                    }
                    (false, c) => keep_live_path(&mut a[i], c, rest),
                }
            }
        }
        _ => {}
    }
}

/// Removes every node that `steps` selects.
fn remove_path(v: &mut Value, steps: &[Step]) {
    let Some((step, rest)) = steps.split_first() else {
        return;
    };
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m
                .iter()
                .filter(|(k, child)| selects_key(&step.select, k) && passes(step, child))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                if rest.is_empty() {
                    m.remove(&k);
                } else if let Some(child) = m.get_mut(&k) {
                    remove_path(child, rest);
                }
            }
        }
        Value::Array(a) => {
            let picked: Vec<usize> = (0..a.len())
                .filter(|&i| selects_index(&step.select, i) && passes(step, &a[i]))
                .collect();
            for &i in picked.iter().rev() {
                if rest.is_empty() {
                    a.remove(i);
                } else {
                    remove_path(&mut a[i], rest);
                }
            }
        }
        _ => {}
    }
}

fn selects_key(select: &Select, key: &str) -> bool {
    match select {
        Select::Token(t) | Select::Field(t) => t == key,
        Select::Index(_) | Select::Each => false,
    }
}

fn selects_index(select: &Select, index: usize) -> bool {
    match select {
        Select::Token(t) => t.parse() == Ok(index),
        Select::Index(i) => *i == index,
        Select::Each => true,
        Select::Field(_) => false,
    }
}

fn passes(step: &Step, child: &Value) -> bool {
    let Some((path, literal)) = &step.filter else {
        return true;
    };
    let mut node = child;
    for select in path {
        let next = match (select, node) {
            (Select::Field(f), Value::Object(m)) => m.get(f),
            (Select::Index(i), Value::Array(a)) => a.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return literal.is_null(),
        }
    }
    json_equal(node, literal)
}

/// Removes the owned fields: leaves whole, other fields by their children; a list item owned
/// itself (`.`) goes whole, so that no item is left without its key fields.
fn remove_owned(v: &mut Value, node: &FieldNode) {
    for (elem, child) in &node.children {
        match (elem, &mut *v) {
            (Elem::Field(name), Value::Object(m)) => {
                if child.is_leaf() {
                    m.remove(name);
                } else if let Some(next) = m.get_mut(name) {
                    remove_owned(next, child);
                }
            }
            (elem, Value::Array(a)) => {
                let picked: Vec<usize> = (0..a.len())
                    .filter(|&i| elem_matches_item(elem, &a[i], i))
                    .collect();
                for &i in picked.iter().rev() {
                    if child.is_leaf() || child.member {
                        a.remove(i);
                    } else {
                        remove_owned(&mut a[i], child);
                    }
                }
            }
            _ => {}
        }
    }
}

// ---- the jq subset ----

fn parse_jq(expression: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    for (n, segment) in expression.split('|').map(str::trim).enumerate() {
        if let Some(inner) = segment
            .strip_prefix("select(")
            .and_then(|s| s.strip_suffix(')'))
        {
            let (path, literal) = inner
                .split_once("==")
                .ok_or("select(...) needs the form select(.path == value)")?;
            let literal: Value = serde_json::from_str(literal.trim())
                .map_err(|_| format!("{:?} is not a JSON literal", literal.trim()))?;
            if literal.is_object() || literal.is_array() {
                return Err("select(...) compares with a string, number, boolean or null".into());
            }
            let path = parse_jq_path(path.trim())?
                .into_iter()
                .map(|step| match step.select {
                    Select::Field(_) | Select::Index(_) => Ok(step.select),
                    _ => Err("a select(...) path has fields and indices only".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let last = steps.last_mut().ok_or("select(...) must follow a path")?;
            if last.filter.is_some() {
                return Err("one select(...) per step".into());
            }
            last.filter = Some((path, literal));
        } else if n > 0 && segment == "." {
            continue;
        } else {
            steps.extend(parse_jq_path(segment)?);
        }
    }
    if steps.is_empty() {
        return Err("the expression names no field".into());
    }
    Ok(steps)
}

/// `.a.b`, `."a/b"`, `.["a"]`, `.a[0]`, `.a[]`, `.a[]?`.
fn parse_jq_path(text: &str) -> Result<Vec<Step>, String> {
    let step = |select| Step {
        select,
        filter: None,
    };
    let mut steps = Vec::new();
    let mut rest = text;
    if !rest.starts_with('.') {
        return Err(format!("{text:?} is not a path (paths start with \".\")"));
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
            if rest.starts_with('[') || rest.is_empty() && steps.is_empty() {
                continue;
            }
            if let Some(r) = rest.strip_prefix('"') {
                let end = r.find('"').ok_or("unterminated string")?;
                steps.push(step(Select::Field(r[..end].to_string())));
                rest = &r[end + 1..];
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!("unexpected {rest:?}"));
                }
                steps.push(step(Select::Field(rest[..end].to_string())));
                rest = &rest[end..];
            }
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or("unterminated [")?;
            let inner = r[..end].trim();
            rest = &r[end + 1..];
            if inner.is_empty() {
                steps.push(step(Select::Each));
                rest = rest.strip_prefix('?').unwrap_or(rest);
            } else if let Some(name) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                steps.push(step(Select::Field(name.to_string())));
            } else {
                let index = inner
                    .parse()
                    .map_err(|_| format!("[{inner}] is not an index"))?;
                steps.push(step(Select::Index(index)));
            }
        } else {
            return Err(format!("unexpected {rest:?}"));
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(group: &str, kind: &str) -> ResourceIgnoreDifferences {
        ResourceIgnoreDifferences {
            group: Some(group.into()),
            kind: kind.into(),
            ..Default::default()
        }
    }

    #[test]
    fn matching() {
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod"}});
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let rule = |s| IgnoreRule::from_spec(&s).unwrap();
        assert!(rule(spec("apps", "Deployment")).matches(&dep));
        assert!(!rule(spec("", "Deployment")).matches(&dep));
        assert!(rule(spec("", "ConfigMap")).matches(&cm));
        let mut core = spec("", "ConfigMap");
        core.group = None;
        assert!(rule(core).matches(&cm));
        assert!(rule(spec("*", "*")).matches(&dep));
        let mut named = spec("apps", "Deployment");
        named.name = Some("web".into());
        named.namespace = Some("prod".into());
        assert!(rule(named.clone()).matches(&dep));
        named.namespace = Some("dev".into());
        assert!(!rule(named).matches(&dep));
    }

    #[test]
    fn invalid_specs() {
        let mut s = spec("apps", "Deployment");
        s.json_pointers = vec!["spec/replicas".into()];
        assert!(matches!(
            IgnoreRule::from_spec(&s),
            Err(DiffError::InvalidJsonPointer { .. })
        ));
        for jq in [
            "spec.replicas",
            ".spec | length",
            ".a[] | select(.b != 1)",
            ".a[] | select(.b == \"x\") | select(.c == 1)",
            ".a[] | select(.b == [1])",
            "..",
            ".a | map(.b)",
        ] {
            let mut s = spec("apps", "Deployment");
            s.jq_path_expressions = vec![jq.into()];
            let err = IgnoreRule::from_spec(&s).unwrap_err();
            assert!(matches!(err, DiffError::Unsupported { .. }), "{jq}");
        }
    }

    fn removed(jq: &str, mut v: Value) -> Value {
        let steps = parse_jq(jq).unwrap();
        remove_path(&mut v, &steps);
        v
    }

    #[test]
    fn jq_paths() {
        let v = json!({"spec": {"replicas": 3, "template": {"spec": {"initContainers": [
            {"name": "istio-init", "image": "a"}, {"name": "mine", "image": "b"}]}}},
            "metadata": {"annotations": {"a/b": "x", "c": "y"}}});
        assert_eq!(
            removed(".spec.replicas", v.clone())["spec"].get("replicas"),
            None
        );
        let out = removed(
            ".spec.template.spec.initContainers[] | select(.name == \"istio-init\")",
            v.clone(),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["initContainers"],
            json!([{"name": "mine", "image": "b"}])
        );
        let out = removed(".spec.template.spec.initContainers[]?.image", v.clone());
        assert_eq!(
            out["spec"]["template"]["spec"]["initContainers"],
            json!([{"name": "istio-init"}, {"name": "mine"}])
        );
        let out = removed(
            ".spec.template.spec.initContainers[] | select(.name == \"mine\") | .image",
            v.clone(),
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["initContainers"],
            json!([{"name": "istio-init", "image": "a"}, {"name": "mine"}])
        );
        let out = removed(".spec.template.spec.initContainers[1]", v.clone());
        assert_eq!(
            out["spec"]["template"]["spec"]["initContainers"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            removed(".metadata.annotations.\"a/b\"", v.clone())["metadata"]["annotations"],
            json!({"c": "y"})
        );
        assert_eq!(
            removed(".metadata.annotations[\"c\"]", v.clone())["metadata"]["annotations"],
            json!({"a/b": "x"})
        );
        // a path that is not there removes nothing
        assert_eq!(removed(".spec.nothing.here", v.clone()), v);
    }

    #[test]
    fn pointers_and_managers_apply_to_both_sides() {
        let mut s = spec("apps", "Deployment");
        s.json_pointers = vec![
            "/spec/replicas".into(),
            "/metadata/annotations/example.com~1owner".into(),
        ];
        s.managed_fields_managers = vec!["kube-controller-manager".into()];
        let rule = IgnoreRule::from_spec(&s).unwrap();
        let live = json!({"metadata": {"annotations": {"example.com/owner": "x", "keep": "1"},
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}}]},
            "spec": {"replicas": 5, "paused": true, "x": 1}});
        let mut desired = json!({"metadata": {"annotations": {"example.com/owner": "y"}},
            "spec": {"replicas": 2, "paused": false, "x": 1}});
        let mut l = live.clone();
        rule.apply(&mut desired, &mut l, &live);
        assert_eq!(
            desired,
            json!({"metadata": {"annotations": {}}, "spec": {"x": 1}})
        );
        assert_eq!(l["spec"], json!({"x": 1}));
        assert_eq!(l["metadata"]["annotations"], json!({"keep": "1"}));
    }

    #[test]
    fn owned_items_are_removed_by_key() {
        let node = FieldNode::parse(&json!({"f:env": {
            "k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}},
            "k:{\"name\":\"C\"}": {}}}));
        let mut v = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C"}]});
        remove_owned(&mut v, &node);
        assert_eq!(v, json!({"env": [{"name": "A", "value": "1"}]}));
        // fields of an item the manager does not own itself
        let node = FieldNode::parse(&json!({"f:env": {"k:{\"name\":\"A\"}": {"f:value": {}}}}));
        remove_owned(&mut v, &node);
        assert_eq!(v, json!({"env": [{"name": "A"}]}));
    }
}
