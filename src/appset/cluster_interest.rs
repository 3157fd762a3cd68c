//! Which ApplicationSets a cluster change concerns: those with a `clusters` generator (at the
//! top level or nested in matrix/merge, at any depth) whose selector matches the cluster before
//! or after the change. A selector that cannot be judged statically (templated inside a matrix,
//! or invalid) counts as matching: a spurious evaluation is cheap, a missed one is wrong.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::selector;
use crate::api::application_set::ApplicationSet;
use crate::api::cluster_secret::ClusterSecret;

/// Whether `appset` has any cluster generator.
pub fn uses_clusters(appset: &ApplicationSet) -> bool {
    let mut found = false;
    visit(appset, &mut |_| {
        found = true;
        true
    });
    found
}

/// Whether a change of a cluster from `before` to `after` may change what `appset` generates.
pub fn concerns(
    appset: &ApplicationSet,
    before: Option<&ClusterSecret>,
    after: Option<&ClusterSecret>,
) -> bool {
    let mut hit = false;
    visit(appset, &mut |sel| {
        hit |= [before, after]
            .into_iter()
            .flatten()
            .any(|c| selects(sel, c));
        hit
    });
    hit
}

fn selects(selector: Option<&Value>, cluster: &ClusterSecret) -> bool {
    let Some(sel) = selector.filter(|s| !s.is_null()) else {
        return true;
    };
    if sel.to_string().contains("{{") {
        return true;
    }
    match serde_json::from_value::<LabelSelector>(sel.clone()) {
        Ok(sel) => selector::matches(&sel, |k| cluster.secret_labels.get(k).map(String::as_str))
            .unwrap_or(true),
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

    fn cluster(env: &str) -> ClusterSecret {
        let mut c = ClusterSecret::in_cluster();
        c.secret_labels.insert("env".into(), env.into());
        c
    }

    #[test]
    fn top_level_and_nested_selectors() {
        let prod_only =
            appset(json!([{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}]));
        assert!(uses_clusters(&prod_only));
        assert!(concerns(&prod_only, None, Some(&cluster("prod"))));
        assert!(!concerns(&prod_only, None, Some(&cluster("dev"))));
        assert!(
            concerns(&prod_only, Some(&cluster("prod")), Some(&cluster("dev"))),
            "a cluster leaving the selection counts"
        );
        let nested = appset(json!([{"matrix": {"generators": [
            {"list": {"elements": [{"clusters": "not a generator"}]}},
            {"merge": {"mergeKeys": ["name"], "generators": [{"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["dev"]}]}}}, {"list": {"elements": []}}]}}
        ]}}]));
        assert!(concerns(&nested, None, Some(&cluster("dev"))));
        assert!(!concerns(&nested, None, Some(&cluster("prod"))));
        let list_only = appset(json!([{"list": {"elements": [{"clusters": {"selector": null}}]}}]));
        assert!(!uses_clusters(&list_only));
        assert!(!concerns(&list_only, None, Some(&cluster("dev"))));
    }

    #[test]
    fn templated_invalid_and_empty_selectors_match() {
        let templated = appset(
            json!([{"matrix": {"generators": [{"list": {"elements": [{"e": "prod"}]}}, {"clusters": {"selector": {"matchLabels": {"env": "{{e}}"}}}}]}}]),
        );
        assert!(concerns(&templated, None, Some(&cluster("dev"))));
        let invalid = appset(
            json!([{"clusters": {"selector": {"matchExpressions": [{"key": "env", "operator": "Near"}]}}}]),
        );
        assert!(concerns(&invalid, None, Some(&cluster("dev"))));
        let all = appset(json!([{"clusters": {}}]));
        assert!(concerns(&all, None, Some(&cluster("dev"))));
    }
}
