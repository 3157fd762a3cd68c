//! `list`: literal parameter sets (Argo CD `generators/list.go`, default template mode).

use serde_json::Value;

use super::error::GenerateError;
use super::generator::{GenContext, Generator};
use super::params::{Params, scalar_to_string};
use crate::api::application_set::ListGenerator;

pub struct ListParams<'a>(pub &'a ListGenerator);

impl Generator for ListParams<'_> {
    fn params(&self, _: &GenContext) -> Result<Vec<Params>, GenerateError> {
        let mut out = Vec::with_capacity(self.0.elements.len());
        for (index, element) in self.0.elements.iter().enumerate() {
            out.push(
                element_params(element, true)
                    .map_err(|reason| GenerateError::ListElement { index, reason })?,
            );
        }
        if let Some(yaml) = self
            .0
            .elements_yaml
            .as_deref()
            .filter(|y| !y.trim().is_empty())
        {
            let items: Vec<Value> = serde_yaml::from_str(yaml)
                .map_err(|e| GenerateError::ElementsYaml(e.to_string()))?;
            for (i, element) in items.iter().enumerate() {
                let params = element_params(element, false).map_err(|reason| {
                    GenerateError::ElementsYaml(format!("element {i}: {reason}"))
                })?;
                out.push(params);
            }
        }
        Ok(out)
    }
}

/// One element: top-level string values, and a `values` map as `values.<k>`. In `elements`, as in
/// Argo CD, any other non-string value is an error; in `elementsYaml` scalars (numbers,
/// booleans) are taken in their YAML spelling and nested objects are skipped.
fn element_params(element: &Value, strict: bool) -> Result<Params, String> {
    let Value::Object(map) = element else {
        return Err("must be an object".into());
    };
    let mut params = Params::new();
    for (key, value) in map {
        if key == "values" {
            let Value::Object(values) = value else {
                return Err("values must be a map of strings".into());
            };
            for (k, v) in values {
                let s = v
                    .as_str()
                    .ok_or_else(|| format!("values.{k} must be a string"))?;
                params.insert(format!("values.{k}"), s.to_string());
            }
            continue;
        }
        match (value, strict) {
            (Value::String(s), _) => {
                params.insert(key.clone(), s.clone());
            }
            (_, true) => return Err(format!("value of {key:?} must be a string")),
            (Value::Array(_) | Value::Object(_), false) => {}
            (scalar, false) => {
                params.insert(key.clone(), scalar_to_string(scalar).unwrap_or_default());
            }
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::MemorySource;
    use serde_json::json;

    fn run(g: ListGenerator) -> Result<Vec<Params>, GenerateError> {
        let git = MemorySource::new();
        ListParams(&g).params(&GenContext {
            clusters: &[],
            invalid_clusters: &[],
            in_cluster: false,
            git: &git,
        })
    }

    #[test]
    fn elements_and_values() {
        let g = ListGenerator {
            elements: vec![
                json!({"cluster": "engineering-dev", "url": "https://1.2.3.4", "values": {"ns": "dev"}}),
                json!({"cluster": "engineering-prod", "url": "https://2.4.6.8"}),
            ],
            ..Default::default()
        };
        let p = run(g).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0]["cluster"], "engineering-dev");
        assert_eq!(p[0]["values.ns"], "dev");
        assert_eq!(p[1]["url"], "https://2.4.6.8");
    }

    #[test]
    fn non_string_element_values_are_errors() {
        let g = ListGenerator {
            elements: vec![json!({"a": "x"}), json!({"replicas": 3})],
            ..Default::default()
        };
        let e = run(g).unwrap_err();
        assert_eq!(
            e.to_string(),
            "list element 1: value of \"replicas\" must be a string"
        );
        let g = ListGenerator {
            elements: vec![json!("str")],
            ..Default::default()
        };
        assert!(run(g).is_err());
        let g = ListGenerator {
            elements: vec![json!({"values": {"a": 1}})],
            ..Default::default()
        };
        assert!(run(g).is_err());
    }

    #[test]
    fn elements_yaml_is_appended() {
        let g = ListGenerator {
            elements: vec![json!({"cluster": "a"})],
            elements_yaml: Some(
                "- cluster: b\n  replicas: 2\n  nested: {x: 1}\n- cluster: c\n".into(),
            ),
            ..Default::default()
        };
        let p = run(g).unwrap();
        assert_eq!(
            p.iter().map(|p| p["cluster"].as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(p[1]["replicas"], "2");
        assert!(!p[1].contains_key("nested"));
        let bad = ListGenerator {
            elements_yaml: Some("- a: [".into()),
            ..Default::default()
        };
        assert!(
            run(bad)
                .unwrap_err()
                .to_string()
                .starts_with("elementsYaml:")
        );
    }

    #[test]
    fn empty_list_yields_nothing() {
        assert!(run(ListGenerator::default()).unwrap().is_empty());
    }
}
