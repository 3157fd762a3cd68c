//! One JSON value decoded into a compiled Go type, as kube-apiserver's decoder
//! (sigs.k8s.io/json, a case-sensitive fork of Go's encoding/json) does it: unknown fields are
//! dropped and their paths collected for strict decoding (`spec.containers[0].bogus`); a value
//! of the wrong type is an `UnmarshalTypeError` worded as Go words it, naming the innermost
//! struct and the path of struct fields (`json: cannot unmarshal string into Go struct field
//! DeploymentSpec.spec.replicas of type int32`). Go reports the first type error only.

use std::fmt::Write;

use base64::Engine;
use serde_json::Value;

use super::compile::{Node, NodeId, Scalar, Types};

/// `resource.ErrFormatWrong`.
const QUANTITY_FORMAT: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/// Decodes `v` as the type at `root`, in place: unknown fields are removed and returned as
/// strict-decoding paths; a type error is returned as Go's message.
pub fn decode(types: &Types, root: NodeId, v: &mut Value) -> Result<Vec<String>, String> {
    let mut w = Walker {
        types,
        path: String::new(),
        fields: String::new(),
        structs: Vec::new(),
        unknown: Vec::new(),
    };
    w.walk(root, v)?;
    Ok(w.unknown)
}

struct Walker<'a> {
    types: &'a Types,
    /// The strict-decoding path: field names and map keys joined by dots, list indexes in
    /// brackets.
    path: String,
    /// Go's `errorContext.FieldStack`: struct field names only, joined by dots.
    fields: String,
    /// The struct whose field is being decoded, innermost last.
    structs: Vec<&'a str>,
    unknown: Vec<String>,
}

fn push_name(buf: &mut String, name: &str) {
    if !buf.is_empty() {
        buf.push('.');
    }
    buf.push_str(name);
}

/// How Go names a JSON value in an `UnmarshalTypeError` (a number that does not fit the
/// integer carries its text).
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

fn fits_int(v: &Value, min: i64, max: i64) -> bool {
    v.as_i64().is_some_and(|n| n >= min && n <= max)
}

impl<'a> Walker<'a> {
    fn type_error(&self, value: &str, id: NodeId) -> String {
        let ty = self.types.go_type(id);
        match self.structs.last() {
            Some(st) => format!(
                "json: cannot unmarshal {value} into Go struct field {st}.{} of type {ty}",
                self.fields
            ),
            None => format!("json: cannot unmarshal {value} into Go value of type {ty}"),
        }
    }

    fn wrong(&self, v: &Value, id: NodeId) -> String {
        self.type_error(json_kind(v), id)
    }

    /// A number that does not fit an integer type: Go quotes its text.
    fn wrong_number(&self, v: &Value, id: NodeId) -> String {
        match v {
            Value::Number(n) => self.type_error(&format!("number {n}"), id),
            other => self.wrong(other, id),
        }
    }

    fn walk(&mut self, id: NodeId, v: &mut Value) -> Result<(), String> {
        // A null decodes into anything (as the zero value).
        if v.is_null() {
            return Ok(());
        }
        let types = self.types;
        match types.node(id) {
            Node::Any => Ok(()),
            Node::Struct { name, fields, .. } => {
                let Value::Object(map) = v else {
                    return Err(self.wrong(v, id));
                };
                let mut unknown_keys = Vec::new();
                for (k, child) in map.iter_mut() {
                    let Some(&field) = fields.get(k.as_str()) else {
                        let mut p = self.path.clone();
                        push_name(&mut p, k);
                        self.unknown.push(p);
                        unknown_keys.push(k.clone());
                        continue;
                    };
                    let (path_len, fields_len) = (self.path.len(), self.fields.len());
                    push_name(&mut self.path, k);
                    push_name(&mut self.fields, k);
                    self.structs.push(name.as_str());
                    let r = self.walk(field, child);
                    self.structs.pop();
                    self.path.truncate(path_len);
                    self.fields.truncate(fields_len);
                    r?;
                }
                for k in unknown_keys {
                    map.remove(&k);
                }
                Ok(())
            }
            Node::Map(value) => {
                let Value::Object(map) = v else {
                    return Err(self.wrong(v, id));
                };
                for (k, child) in map.iter_mut() {
                    let path_len = self.path.len();
                    push_name(&mut self.path, k);
                    let r = self.walk(*value, child);
                    self.path.truncate(path_len);
                    r?;
                }
                Ok(())
            }
            Node::List(item) => {
                let Value::Array(items) = v else {
                    return Err(self.wrong(v, id));
                };
                for (i, child) in items.iter_mut().enumerate() {
                    let path_len = self.path.len();
                    let _ = write!(self.path, "[{i}]");
                    let r = self.walk(*item, child);
                    self.path.truncate(path_len);
                    r?;
                }
                Ok(())
            }
            Node::Scalar(s) => self.scalar(*s, id, v),
        }
    }

    fn scalar(&self, s: Scalar, id: NodeId, v: &Value) -> Result<(), String> {
        let ok = match s {
            Scalar::String | Scalar::Time => v.is_string(),
            Scalar::Bool => v.is_boolean(),
            Scalar::Float64 => v.is_number(),
            Scalar::Int32 | Scalar::Int64 | Scalar::IntOrString => {
                let (min, max) = if s == Scalar::Int64 {
                    (i64::MIN, i64::MAX)
                } else {
                    (i32::MIN as i64, i32::MAX as i64)
                };
                match v {
                    Value::String(_) if s == Scalar::IntOrString => true,
                    Value::Number(_) if fits_int(v, min, max) => true,
                    Value::Number(_) => return Err(self.wrong_number(v, id)),
                    _ => false,
                }
            }
            Scalar::Bytes => match v {
                Value::String(text) => {
                    return base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map(|_| ())
                        .map_err(|e| {
                            let at = match e {
                                base64::DecodeError::InvalidByte(i, _)
                                | base64::DecodeError::InvalidLastSymbol(i, _) => i,
                                _ => text.len(),
                            };
                            format!("illegal base64 data at input byte {at}")
                        });
                }
                _ => false,
            },
            Scalar::Quantity => {
                if crate::sim::defaults::quantity::is_quantity(v) {
                    return Ok(());
                }
                return Err(QUANTITY_FORMAT.to_string());
            }
        };
        if ok { Ok(()) } else { Err(self.wrong(v, id)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(kind: (&str, &str), mut v: Value) -> (Result<Vec<String>, String>, Value) {
        let t = Types::builtin();
        let root = t.root(kind.0, "v1", kind.1).unwrap();
        let r = decode(t, root, &mut v);
        (r, v)
    }

    fn deployment(container: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}}}})
    }

    #[test]
    fn unknown_fields_are_pruned_with_their_paths() {
        let (r, v) = run(
            ("apps", "Deployment"),
            deployment(json!({"name": "c", "image": "nginx", "bogus": 1})),
        );
        assert_eq!(
            r.unwrap(),
            ["spec.template.spec.containers[0].bogus".to_string()]
        );
        assert_eq!(
            v["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "c", "image": "nginx"})
        );
        let (r, v) = run(
            ("", "ConfigMap"),
            json!({"metadata": {"name": "c", "colour": "red"}, "data": {"a": "b"}, "top": true}),
        );
        assert_eq!(r.unwrap(), ["metadata.colour", "top"]);
        assert_eq!(v, json!({"metadata": {"name": "c"}, "data": {"a": "b"}}));
        // Names are matched case-sensitively, as sigs.k8s.io/json does.
        let (r, _) = run(("", "ConfigMap"), json!({"Data": {"a": "b"}}));
        assert_eq!(r.unwrap(), ["Data"]);
    }

    #[test]
    fn type_errors_are_worded_like_go() {
        let err = |kind, v| run(kind, v).0.unwrap_err();
        assert_eq!(
            err(("", "ConfigMap"), json!({"data": {"port": 8080}})),
            "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"
        );
        let mut d = deployment(json!({"name": "c", "image": "nginx"}));
        d["spec"]["replicas"] = json!("x");
        assert_eq!(
            err(("apps", "Deployment"), d.clone()),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        d["spec"]["replicas"] = json!(1.5);
        assert_eq!(
            err(("apps", "Deployment"), d.clone()),
            "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"
        );
        d["spec"]["replicas"] = json!(3_000_000_000u64);
        assert!(err(("apps", "Deployment"), d).contains("number 3000000000"));
        let env = deployment(
            json!({"name": "c", "image": "nginx", "env": [{"name": "A", "value": true}]}),
        );
        assert_eq!(
            err(("apps", "Deployment"), env),
            "json: cannot unmarshal bool into Go struct field EnvVar.spec.template.spec.containers.env.value of type string"
        );
        let containers = json!({"spec": {"template": {"spec": {"containers": {"name": "c"}}}}});
        assert_eq!(
            err(("apps", "Deployment"), containers),
            "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"
        );
        assert_eq!(
            err(("", "Secret"), json!({"data": {"k": "not base64!"}})),
            "illegal base64 data at input byte 3"
        );
        let cpu = deployment(json!({"name": "c", "resources": {"limits": {"cpu": "lots"}}}));
        assert!(err(("apps", "Deployment"), cpu).starts_with("quantities must match"));
        let port = json!({"spec": {"ports": [{"port": 80, "targetPort": true}]}});
        assert_eq!(
            err(("", "Service"), port),
            "json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32"
        );
    }

    #[test]
    fn what_go_accepts_passes() {
        let mut d = deployment(json!({"name": "c", "image": "nginx",
            "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": 0.5, "memory": "64Mi"}}}));
        d["spec"]["replicas"] = Value::Null;
        d["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}});
        d["metadata"]["managedFields"] = json!([{"manager": "m", "fieldsV1": {"f:spec": {}}}]);
        let (r, after) = run(("apps", "Deployment"), d.clone());
        assert_eq!(r.unwrap(), Vec::<String>::new());
        assert_eq!(after, d, "nothing changes");
        let crd = json!({"spec": {"group": "example.com", "names": {"kind": "W", "plural": "ws"}, "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object",
                "properties": {"spec": {"type": "object", "default": {"a": [1, "x"]}, "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
        let t = Types::builtin();
        let root = t
            .root("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
            .unwrap();
        assert_eq!(
            decode(t, root, &mut crd.clone()).unwrap(),
            Vec::<String>::new()
        );
    }
}
