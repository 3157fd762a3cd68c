//! Which ApplicationSets a cluster change concerns: those with a `clusters` generator (at the
//! top level or nested in matrix/merge, at any depth) whose selector matches the cluster Secret's
//! labels before or after the change (an invalid version's labels included). A selector that
//! cannot be judged statically (templated inside a matrix, or invalid) counts as matching: a
//! spurious evaluation is cheap, a missed one is wrong.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::selector;
use crate::api::application_set::ApplicationSet;

/// Whether `appset` has any cluster generator.
pub fn uses_clusters(appset: &ApplicationSet) -> bool {
    let mut found = false;
    visit(appset, &mut |_| {
        found = true;
        true
    });
    found
}

/// Whether a change of a cluster Secret whose labels were or are `label_sets` (before and after,
/// see [`crate::cluster::ClusterChange::label_sets`]) may change what `appset` generates.
pub fn concerns(appset: &ApplicationSet, label_sets: &[&BTreeMap<String, String>]) -> bool {
    let mut hit = false;
    visit(appset, &mut |sel| {
        hit |= label_sets.iter().any(|labels| selects(sel, labels));
        hit
    });
    hit
}

fn selects(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_null()) else {
        return true;
    };
    if sel.to_string().contains("{{") {
        return true;
    }
    match serde_json::from_value::<LabelSelector>(sel.clone()) {
        Ok(sel) => selector::matches(&sel, |k| labels.get(k).map(String::as_str)).unwrap_or(true),
        Err(_) => true,
    }
}

/// Calls `f` with the selector of every cluster generator until it returns true.
fn visit(appset: &ApplicationSet, f: &mut dyn FnMut(Option<&Value>) -> bool) {
    let Ok(generators) = serde_json::to_value(&appset.spec.generators) else {
        return;
    };
    walk(&generators, f, 0);
}

fn walk(generators: &Value, f: &mut dyn FnMut(Option<&Value>) -> bool, depth: usize) -> bool {
    if depth > 8 {
        return false;
    }
    for entry in generators.as_array().into_iter().flatten() {
        if let Some(clusters) = entry.get("clusters").filter(|c| c.is_object())
            && f(clusters.get("selector"))
        {
            return true;
        }
        for combinator in ["matrix", "merge"] {
            if let Some(children) = entry.get(combinator).and_then(|m| m.get("generators"))
                && walk(children, f, depth + 1)
            {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn appset(generators: Value) -> ApplicationSet {
        serde_json::from_value(json!({
            "apiVersion": "flotilla.dev/v1alpha1", "kind": "ApplicationSet", "metadata": {"name": "a"},
            "spec": {"generators": generators, "template": {"metadata": {"name": "x"}, "spec": {"project": "p", "destination": {}}}}
        }))
        .unwrap()
    }

    fn cluster(env: &str) -> BTreeMap<String, String> {
        [("env".to_string(), env.to_string())].into()
    }

    #[test]
    fn top_level_and_nested_selectors() {
        let prod_only =
            appset(json!([{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}]));
        assert!(uses_clusters(&prod_only));
        assert!(concerns(&prod_only, &[&cluster("prod")]));
        assert!(!concerns(&prod_only, &[&cluster("dev")]));
        assert!(
            concerns(&prod_only, &[&cluster("prod"), &cluster("dev")]),
            "a cluster leaving the selection counts"
        );
        let nested = appset(json!([{"matrix": {"generators": [
            {"list": {"elements": [{"clusters": "not a generator"}]}},
            {"merge": {"mergeKeys": ["name"], "generators": [{"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}}}, {"list": {"elements": []}}]}}
        ]}}]));
        assert!(concerns(&nested, &[&cluster("dev")]));
        assert!(!concerns(&nested, &[&cluster("prod")]));
        let list_only = appset(json!([{"list": {"elements": [{"clusters": {"selector": null}}]}}]));
        assert!(!uses_clusters(&list_only));
        assert!(!concerns(&list_only, &[&cluster("dev")]));
    }

    #[test]
    fn templated_invalid_and_empty_selectors_match() {
        let templated = appset(
            json!([{"matrix": {"generators": [{"list": {"elements": [{"e": "prod"}]}}, {"clusters": {"selector": {"matchLabels": {"env": "{{e}}"}}}}]}}]),
        );
        assert!(concerns(&templated, &[&cluster("dev")]));
        let invalid = appset(
            json!([{"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "Near"}]}}}]),
        );
        assert!(concerns(&invalid, &[&cluster("dev")]));
        let all = appset(json!([{"clusters": {}}]));
        assert!(concerns(&all, &[&cluster("dev")]));
    }
}
