//! Templating of whole JSON trees: every string, map keys included, compiled once and rendered
//! per parameter set (Argo CD's `RenderTemplateParams` walk). Numbers, booleans and nulls are
//! never templated.

use serde_json::{Map, Value};

use super::params::Params;
use super::template::{CompiledString, TemplateError, compile};

/// A compiled JSON tree.
#[derive(Debug, Clone)]
pub enum CompiledValue {
    /// A subtree without any tag: rendered by cloning.
    Literal(Value),
    String(CompiledString),
    Array(Vec<CompiledValue>),
    Object(Vec<(CompiledString, CompiledValue)>),
}

/// Whether any string of `value` (keys included) contains `{{`.
pub fn has_tags(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("{{"),
        Value::Array(items) => items.iter().any(has_tags),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains("{{") || has_tags(v)),
        _ => false,
    }
}

/// Compiles every string of `value`.
pub fn compile_value(value: &Value) -> Result<CompiledValue, TemplateError> {
    if !has_tags(value) {
        return Ok(CompiledValue::Literal(value.clone()));
    }
    Ok(match value {
        Value::String(s) => CompiledValue::String(compile(s)?),
        Value::Array(items) => {
            CompiledValue::Array(items.iter().map(compile_value).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => CompiledValue::Object(
            map.iter()
                .map(|(k, v)| Ok((compile(k)?, compile_value(v)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => CompiledValue::Literal(other.clone()),
    })
}

/// Renders a compiled tree with one parameter set. Two keys rendering to the same text: the
/// later one wins, as with Go maps.
pub fn render_value(compiled: &CompiledValue, params: &Params) -> Result<Value, TemplateError> {
    Ok(match compiled {
        CompiledValue::Literal(v) => v.clone(),
        CompiledValue::String(s) => Value::String(s.render(params)?),
        CompiledValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_value(i, params))
                .collect::<Result<_, _>>()?,
        ),
        CompiledValue::Object(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries {
                map.insert(k.render(params)?, render_value(v, params)?);
            }
            Value::Object(map)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_strings_and_keys_but_not_scalars() {
        let p: Params = [("env", "prod"), ("n", "3")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let tree = json!({"name": "app-{{env}}", "labels": {"tier-{{env}}": "{{n}}"}, "replicas": 3, "on": true,
                          "list": ["{{env}}", "x", null], "plain": {"a": "b"}});
        let out = render_value(&compile_value(&tree).unwrap(), &p).unwrap();
        assert_eq!(
            out,
            json!({"name": "app-prod", "labels": {"tier-prod": "3"}, "replicas": 3, "on": true,
                   "list": ["prod", "x", null], "plain": {"a": "b"}})
        );
        assert!(matches!(
            compile_value(&json!({"a": ["b"]})).unwrap(),
            CompiledValue::Literal(_)
        ));
    }
}
