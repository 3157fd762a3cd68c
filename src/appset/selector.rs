//! Kubernetes label-selector matching over any string map: cluster Secret labels for the cluster
//! generator, flattened parameter sets for the post-generation `selector`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SelectorError {
    #[error("selector operator {0:?} is not one of In, NotIn, Exists, DoesNotExist")]
    UnknownOperator(String),
    #[error("selector operator {operator} on key {key:?} needs at least one value")]
    MissingValues { key: String, operator: String },
    #[error("selector operator {operator} on key {key:?} takes no values")]
    UnexpectedValues { key: String, operator: String },
}

/// Whether `selector` is empty (selects everything).
pub fn is_empty(selector: Option<&LabelSelector>) -> bool {
    selector.is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    })
}

/// Checks that `selector` is well-formed, so an invalid one is an error even when nothing is
/// matched against it.
pub fn validate(selector: &LabelSelector) -> Result<(), SelectorError> {
    for req in selector.match_expressions.iter().flatten() {
        let has_values = req.values.as_ref().is_some_and(|v| !v.is_empty());
        match req.operator.as_str() {
            "In" | "NotIn" if !has_values => {
                return Err(SelectorError::MissingValues {
                    key: req.key.clone(),
                    operator: req.operator.clone(),
                });
            }
            "Exists" | "DoesNotExist" if has_values => {
                return Err(SelectorError::UnexpectedValues {
                    key: req.key.clone(),
                    operator: req.operator.clone(),
                });
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => return Err(SelectorError::UnknownOperator(other.to_string())),
        }
    }
    Ok(())
}

/// Whether the labels given by `get` satisfy `selector` (matchLabels AND matchExpressions).
pub fn matches<'a>(
    selector: &LabelSelector,
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<bool, SelectorError> {
    validate(selector)?;
    Ok(matches_valid(selector, get))
}

/// [`matches`] for a selector already checked with [`validate`]: call `validate` once, then
/// match many label sets.
pub fn matches_valid<'a>(selector: &LabelSelector, get: impl Fn(&str) -> Option<&'a str>) -> bool {
    for (key, value) in selector.match_labels.iter().flatten() {
        if get(key) != Some(value.as_str()) {
            return false;
        }
    }
    for req in selector.match_expressions.iter().flatten() {
        let values = req.values.as_deref().unwrap_or_default();
        let actual = get(&req.key);
        let ok = match req.operator.as_str() {
            "In" => actual.is_some_and(|a| values.iter().any(|v| v == a)),
            "NotIn" => actual.is_none_or(|a| values.iter().all(|v| v != a)),
            "Exists" => actual.is_some(),
            _ => actual.is_none(),
        };
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use std::collections::BTreeMap;

    fn labels() -> BTreeMap<String, String> {
        [("env", "prod"), ("region", "eu")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: if values.is_empty() {
                None
            } else {
                Some(values.iter().map(|s| s.to_string()).collect())
            },
        }
    }

    fn check(sel: LabelSelector) -> bool {
        let l = labels();
        matches(&sel, |k| l.get(k).map(String::as_str)).unwrap()
    }

    #[test]
    fn match_labels_and_expressions() {
        let ml = |k: &str, v: &str| LabelSelector {
            match_labels: Some([(k.to_string(), v.to_string())].into()),
            ..Default::default()
        };
        assert!(check(ml("env", "prod")));
        assert!(!check(ml("env", "dev")));
        assert!(!check(ml("missing", "x")));
        let me = |e| LabelSelector {
            match_expressions: Some(vec![e]),
            ..Default::default()
        };
        assert!(check(me(expr("env", "In", &["dev", "prod"]))));
        assert!(!check(me(expr("env", "NotIn", &["prod"]))));
        assert!(
            check(me(expr("missing", "NotIn", &["prod"]))),
            "a missing key passes NotIn"
        );
        assert!(check(me(expr("region", "Exists", &[]))));
        assert!(check(me(expr("missing", "DoesNotExist", &[]))));
        assert!(check(LabelSelector::default()));
        assert!(is_empty(Some(&LabelSelector::default())));
        assert!(is_empty(None));
    }

    #[test]
    fn invalid_selectors_are_errors() {
        let me = |e| LabelSelector {
            match_expressions: Some(vec![e]),
            ..Default::default()
        };
        let l = labels();
        let get = |k: &str| l.get(k).map(String::as_str);
        assert_eq!(
            matches(&me(expr("env", "Equals", &["x"])), get),
            Err(SelectorError::UnknownOperator("Equals".into()))
        );
        assert!(matches(&me(expr("env", "In", &[])), get).is_err());
        assert!(matches(&me(expr("env", "Exists", &["x"])), get).is_err());
    }
}
