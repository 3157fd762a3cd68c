//! The Swagger 2.0 document in gnostic's `openapi.v2.Document` protobuf encoding, the only
//! form client-go's `OpenAPISchema()` decodes (`Accept:
//! application/com.github.proto-openapi.spec.v2@v1.0+protobuf`). Field numbers follow
//! `openapiv2/OpenAPIv2.proto`; extension values, defaults, enums and examples are `Any`
//! messages carrying YAML, as kube-openapi writes them.

use serde_json::Value;

/// A protobuf message being written.
#[derive(Default)]
struct Buf(Vec<u8>);

impl Buf {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn tag(&mut self, field: u32, wire: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire));
    }

    fn bytes(&mut self, field: u32, data: &[u8]) {
        self.tag(field, 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
    }

    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn str_of(&mut self, field: u32, v: &Value) {
        if let Some(s) = v.as_str() {
            self.string(field, s);
        }
    }

    fn strings(&mut self, field: u32, v: &Value) {
        for s in v.as_array().into_iter().flatten().filter_map(Value::as_str) {
            self.bytes(field, s.as_bytes());
        }
    }

    /// A nested message, written even when empty (presence matters for oneofs and `items`).
    fn message(&mut self, field: u32, f: impl FnOnce(&mut Buf)) {
        let mut inner = Buf::default();
        f(&mut inner);
        self.bytes(field, &inner.0);
    }

    fn boolean(&mut self, field: u32, v: &Value) {
        if v.as_bool() == Some(true) {
            self.tag(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, v: &Value) {
        if let Some(n) = v.as_i64().filter(|n| *n != 0) {
            self.tag(field, 0);
            self.varint(n as u64);
        }
    }

    fn double(&mut self, field: u32, v: &Value) {
        if let Some(n) = v.as_f64().filter(|n| *n != 0.0) {
            self.tag(field, 1);
            self.0.extend_from_slice(&n.to_le_bytes());
        }
    }

    /// An `Any` holding the value as YAML.
    fn any(&mut self, field: u32, v: &Value) {
        let yaml = serde_yaml::to_string(v).unwrap_or_default();
        self.message(field, |m| m.string(2, &yaml));
    }

    /// `repeated NamedAny vendor_extension` for the `x-` keys of an object.
    fn extensions(&mut self, field: u32, obj: &Value) {
        for (k, v) in obj
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| k.starts_with("x-"))
        {
            self.message(field, |m| {
                m.string(1, k);
                m.any(2, v);
            });
        }
    }
}

/// Encodes a Swagger 2.0 document (as [`super::v2_document`] builds it).
pub fn encode_document(doc: &Value) -> Vec<u8> {
    let mut b = Buf::default();
    b.str_of(1, &doc["swagger"]);
    b.message(2, |m| {
        m.str_of(1, &doc["info"]["title"]);
        m.str_of(2, &doc["info"]["version"]);
        m.str_of(3, &doc["info"]["description"]);
    });
    b.message(8, |m| {
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            m.message(2, |named| {
                named.string(1, path);
                named.message(2, |pi| path_item(pi, item));
            });
        }
    });
    b.message(9, |m| {
        for (name, s) in doc["definitions"].as_object().into_iter().flatten() {
            m.message(1, |named| {
                named.string(1, name);
                named.message(2, |sm| schema(sm, s));
            });
        }
    });
    for requirement in doc["security"].as_array().into_iter().flatten() {
        b.message(12, |m| {
            for (name, scopes) in requirement.as_object().into_iter().flatten() {
                m.message(1, |named| {
                    named.string(1, name);
                    named.message(2, |arr| arr.strings(1, scopes));
                });
            }
        });
    }
    if let Some(defs) = doc["securityDefinitions"].as_object() {
        b.message(13, |m| {
            for (name, def) in defs {
                m.message(1, |named| {
                    named.string(1, name);
                    // Only `apiKey` schemes are published.
                    named.message(2, |item| {
                        item.message(2, |key| {
                            key.str_of(1, &def["type"]);
                            key.str_of(2, &def["name"]);
                            key.str_of(3, &def["in"]);
                            key.str_of(4, &def["description"]);
                        })
                    });
                });
            }
        });
    }
    b.extensions(16, doc);
    b.0
}

fn path_item(b: &mut Buf, item: &Value) {
    for (field, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (6, "options"),
        (7, "head"),
        (8, "patch"),
    ] {
        if let Some(op) = item.get(method) {
            b.message(field, |m| operation(m, op));
        }
    }
    for p in item["parameters"].as_array().into_iter().flatten() {
        b.message(9, |m| parameter(m, p));
    }
    b.extensions(10, item);
}

fn operation(b: &mut Buf, op: &Value) {
    b.strings(1, &op["tags"]);
    b.str_of(2, &op["summary"]);
    b.str_of(3, &op["description"]);
    b.str_of(5, &op["operationId"]);
    b.strings(6, &op["produces"]);
    b.strings(7, &op["consumes"]);
    for p in op["parameters"].as_array().into_iter().flatten() {
        b.message(8, |m| parameter(m, p));
    }
    if let Some(responses) = op["responses"].as_object() {
        b.message(9, |m| {
            for (code, resp) in responses {
                m.message(1, |named| {
                    named.string(1, code);
                    named.message(2, |value| {
                        value.message(1, |r| {
                            r.str_of(1, &resp["description"]);
                            if let Some(s) = resp.get("schema") {
                                r.message(2, |item| item.message(1, |sm| schema(sm, s)));
                            }
                            r.extensions(5, resp);
                        })
                    });
                });
            }
        });
    }
    b.strings(10, &op["schemes"]);
    b.boolean(11, &op["deprecated"]);
    b.extensions(13, op);
}

/// `ParametersItem` → `Parameter` → body or non-body (query / path / header / formData).
fn parameter(b: &mut Buf, p: &Value) {
    b.message(1, |param| {
        if p["in"] == "body" {
            param.message(1, |body| {
                body.str_of(1, &p["description"]);
                body.str_of(2, &p["name"]);
                body.str_of(3, &p["in"]);
                body.boolean(4, &p["required"]);
                if let Some(s) = p.get("schema") {
                    body.message(5, |sm| schema(sm, s));
                }
                body.extensions(6, p);
            });
            return;
        }
        param.message(2, |non_body| {
            // (oneof field, field of `type`, field of `uniqueItems`, field of extensions)
            let (field, ty, unique, ext) = match p["in"].as_str().unwrap_or("") {
                "header" => (1, 5, 19, 22),
                "formData" => (2, 6, 20, 23),
                "path" => (4, 5, 19, 22),
                _ => (3, 6, 20, 23),
            };
            non_body.message(field, |sub| {
                sub.boolean(1, &p["required"]);
                sub.str_of(2, &p["in"]);
                sub.str_of(3, &p["description"]);
                sub.str_of(4, &p["name"]);
                sub.str_of(ty, &p["type"]);
                sub.str_of(ty + 1, &p["format"]);
                sub.boolean(unique, &p["uniqueItems"]);
                sub.extensions(ext, p);
            });
        });
    });
}

/// `Schema` (field numbers 1..31 of `openapi.v2.Schema`).
fn schema(b: &mut Buf, s: &Value) {
    b.str_of(1, &s["$ref"]);
    b.str_of(2, &s["format"]);
    b.str_of(3, &s["title"]);
    b.str_of(4, &s["description"]);
    if let Some(d) = s.get("default") {
        b.any(5, d);
    }
    b.double(6, &s["multipleOf"]);
    b.double(7, &s["maximum"]);
    b.boolean(8, &s["exclusiveMaximum"]);
    b.double(9, &s["minimum"]);
    b.boolean(10, &s["exclusiveMinimum"]);
    b.int64(11, &s["maxLength"]);
    b.int64(12, &s["minLength"]);
    b.str_of(13, &s["pattern"]);
    b.int64(14, &s["maxItems"]);
    b.int64(15, &s["minItems"]);
    b.boolean(16, &s["uniqueItems"]);
    b.int64(17, &s["maxProperties"]);
    b.int64(18, &s["minProperties"]);
    b.strings(19, &s["required"]);
    for e in s["enum"].as_array().into_iter().flatten() {
        b.any(20, e);
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(flag)) => b.message(21, |m| {
            // A oneof member is written even when false.
            m.tag(2, 0);
            m.varint(u64::from(*flag));
        }),
        Some(sub @ Value::Object(_)) => b.message(21, |m| m.message(1, |sm| schema(sm, sub))),
        _ => {}
    }
    match &s["type"] {
        Value::String(t) => b.message(22, |m| m.string(1, t)),
        types @ Value::Array(_) => b.message(22, |m| m.strings(1, types)),
        _ => {}
    }
    match s.get("items") {
        Some(Value::Array(list)) => b.message(23, |m| {
            for item in list {
                m.message(1, |sm| schema(sm, item));
            }
        }),
        Some(item @ Value::Object(_)) => b.message(23, |m| m.message(1, |sm| schema(sm, item))),
        _ => {}
    }
    for sub in s["allOf"].as_array().into_iter().flatten() {
        b.message(24, |sm| schema(sm, sub));
    }
    if let Some(props) = s["properties"].as_object() {
        b.message(25, |m| {
            for (name, sub) in props {
                m.message(1, |named| {
                    named.string(1, name);
                    named.message(2, |sm| schema(sm, sub));
                });
            }
        });
    }
    b.str_of(26, &s["discriminator"]);
    b.boolean(27, &s["readOnly"]);
    if let Some(e) = s.get("example") {
        b.any(30, e);
    }
    b.extensions(31, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_fields() {
        let mut b = Buf::default();
        b.varint(300);
        assert_eq!(b.0, [0xAC, 0x02]);
        let mut b = Buf::default();
        b.string(1, "2.0");
        assert_eq!(b.0, [0x0A, 3, b'2', b'.', b'0']);
        let mut b = Buf::default();
        b.int64(11, &json!(-1));
        assert_eq!(b.0.len(), 1 + 10);
    }

    #[test]
    fn schema_fields_and_extensions() {
        // {type: array, items: {}} must keep its (empty) item schema.
        let mut b = Buf::default();
        schema(&mut b, &json!({"type": "array", "items": {}}));
        assert_eq!(
            b.0,
            [
                0xB2, 0x01, 7, 0x0A, 5, b'a', b'r', b'r', b'a', b'y', 0xBA, 0x01, 2, 0x0A, 0
            ]
        );
        let mut b = Buf::default();
        schema(
            &mut b,
            &json!({"x-kubernetes-group-version-kind": [{"group": "", "kind": "Pod", "version": "v1"}]}),
        );
        // vendor_extension is field 31, length-delimited: tag 0xFA 0x01.
        assert_eq!(&b.0[..2], &[0xFA, 0x01]);
        let text = String::from_utf8_lossy(&b.0);
        assert!(text.contains("x-kubernetes-group-version-kind"));
        assert!(text.contains("kind: Pod"));
    }

    #[test]
    fn document_starts_with_swagger_version() {
        let doc = json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": {}, "definitions": {}});
        let bytes = encode_document(&doc);
        assert_eq!(&bytes[..5], &[0x0A, 3, b'2', b'.', b'0']);
        assert_eq!(bytes[5], 0x12);
    }
}
