//! One message of the table to its JSON object, as Go's `encoding/json` would write the decoded
//! struct: JSON names, zero scalars left out unless kept (required or pointer), `[]byte` in
//! base64, maps as objects, inline structs merged into their parent.

use base64::Engine;
use serde_json::{Map, Value};

use super::ProtoError;
use super::special;
use super::table::{Field, Shape, Table, Type};
use super::wire::{Reader, Wire};

/// Nesting limit (messages within messages, embedded objects within those).
pub const MAX_DEPTH: usize = 100;

/// Decodes message `index` of the table from `buf`.
pub fn decode(
    t: &Table,
    index: usize,
    buf: &[u8],
    depth: usize,
) -> Result<Map<String, Value>, ProtoError> {
    if depth > MAX_DEPTH {
        return Err(ProtoError::TooDeep);
    }
    let msg = t
        .messages
        .get(index)
        .ok_or_else(|| ProtoError::Table(format!("no message {index}")))?;
    let mut out = Map::new();
    // Singular message fields may come in pieces, which protobuf merges: their payloads are
    // concatenated (the encoding of the merge) and decoded once at the end.
    let mut pending: Vec<(&Field, Vec<u8>)> = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (number, wire) = r.field(&msg.name)?;
        let Some(f) = msg.field(number) else { continue };
        match f.shape {
            Shape::Single | Shape::Inline if is_message(f.ty) => {
                let bytes = want_bytes(f, wire)?;
                match pending.iter_mut().find(|(p, _)| std::ptr::eq(*p, f)) {
                    Some((_, buf)) => buf.extend_from_slice(bytes),
                    None => pending.push((f, bytes.to_vec())),
                }
            }
            Shape::Single | Shape::Inline => match scalar(f, wire)? {
                v if f.keep_zero || !is_zero(&v) => {
                    out.insert(f.json.clone(), v);
                }
                // The last value wins, and a zero one is what Go then leaves out.
                _ => {
                    out.remove(&f.json);
                }
            },
            Shape::Repeated => {
                let items = array(&mut out, &f.json)?;
                match (is_message(f.ty), wire) {
                    (true, _) => {
                        let v = typed(t, f.ty, want_bytes(f, wire)?, depth)?;
                        items.push(v.unwrap_or(Value::Null));
                    }
                    // Packed: a run of varints or fixed64s in one length-delimited record.
                    (false, Wire::Bytes(b)) if !matches!(f.ty, Type::String | Type::Bytes) => {
                        let mut packed = Reader::new(b);
                        while !packed.is_empty() {
                            let w = match f.ty {
                                Type::Double => Wire::Fixed64(packed.fixed64()?),
                                _ => Wire::Varint(packed.varint()?),
                            };
                            items.push(scalar(f, w)?);
                        }
                    }
                    (false, w) => items.push(scalar(f, w)?),
                }
            }
            Shape::Map => {
                let (key, value) = entry(t, f, want_bytes(f, wire)?, depth)?;
                let map = out
                    .entry(f.json.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = map {
                    m.insert(key, value);
                }
            }
        }
    }
    for (f, bytes) in pending {
        match (f.shape, typed(t, f.ty, &bytes, depth)?) {
            (Shape::Inline, Some(Value::Object(inner))) => out.extend(inner),
            (_, Some(v)) => {
                out.insert(f.json.clone(), v);
            }
            (_, None) => {}
        }
    }
    Ok(out)
}

fn is_message(ty: Type) -> bool {
    !matches!(
        ty,
        Type::String | Type::Bool | Type::Int32 | Type::Int64 | Type::Double | Type::Bytes
    )
}

fn wrong(f: &Field, wire: Wire) -> ProtoError {
    ProtoError::WrongWireType {
        field: f.json.clone(),
        wire: wire.wire_type(),
    }
}

fn want_bytes<'a>(f: &Field, wire: Wire<'a>) -> Result<&'a [u8], ProtoError> {
    match wire {
        Wire::Bytes(b) => Ok(b),
        other => Err(wrong(f, other)),
    }
}

fn array<'m>(out: &'m mut Map<String, Value>, key: &str) -> Result<&'m mut Vec<Value>, ProtoError> {
    match out
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(a) => Ok(a),
        _ => Err(ProtoError::Table(format!("{key} is both repeated and not"))),
    }
}

/// A scalar field's JSON value.
fn scalar(f: &Field, wire: Wire) -> Result<Value, ProtoError> {
    Ok(match (f.ty, wire) {
        (Type::String, Wire::Bytes(b)) => Value::String(String::from_utf8_lossy(b).into_owned()),
        (Type::Bytes, Wire::Bytes(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (Type::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        (Type::Int32, Wire::Varint(v)) => Value::from(v as i32),
        (Type::Int64, Wire::Varint(v)) => Value::from(v as i64),
        (Type::Double, Wire::Fixed64(v)) => number(f64::from_bits(v))?,
        (_, w) => return Err(wrong(f, w)),
    })
}

/// A float64 as Go writes it: integral values without a fraction; NaN and infinities refused.
fn number(x: f64) -> Result<Value, ProtoError> {
    if !x.is_finite() {
        return Err(ProtoError::Invalid(format!("json: unsupported value: {x}")));
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return Ok(Value::from(x as i64));
    }
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| ProtoError::Invalid(format!("json: unsupported value: {x}")))
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// A map entry: `key = 1` (string), `value = 2`. A missing value is the type's zero value.
fn entry(t: &Table, f: &Field, buf: &[u8], depth: usize) -> Result<(String, Value), ProtoError> {
    let mut key = String::new();
    let mut value: Option<Value> = None;
    let mut message = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.field("MapEntry")? {
            (1, Wire::Bytes(b)) => key = String::from_utf8_lossy(b).into_owned(),
            (1, w) => {
                return Err(ProtoError::WrongWireType {
                    field: format!("{} key", f.json),
                    wire: w.wire_type(),
                });
            }
            (2, w) if is_message(f.ty) => message.extend_from_slice(want_bytes(f, w)?),
            (2, w) => value = Some(scalar(f, w)?),
            _ => {}
        }
    }
    let value = match (value, is_message(f.ty)) {
        (Some(v), _) => v,
        (None, true) => typed(t, f.ty, &message, depth)?.unwrap_or(Value::Null),
        (None, false) => match f.ty {
            Type::Bool => Value::Bool(false),
            Type::Int32 | Type::Int64 | Type::Double => Value::from(0),
            _ => Value::String(String::new()),
        },
    };
    Ok((key, value))
}

/// The JSON value of a message-typed field; None where Go writes `null`.
fn typed(t: &Table, ty: Type, buf: &[u8], depth: usize) -> Result<Option<Value>, ProtoError> {
    let depth = depth + 1;
    match ty {
        Type::Message(i) => decode(t, i, buf, depth).map(|m| Some(Value::Object(m))),
        Type::Time => special::time(buf),
        Type::MicroTime => special::micro_time(buf),
        Type::Duration => special::duration(buf),
        Type::IntOrString => special::int_or_string(buf),
        Type::Quantity => special::quantity(buf),
        Type::Raw => special::raw(buf, depth),
        Type::OrArray(props) | Type::OrBool(props) | Type::OrStrings(props) => {
            schema_or(t, ty, props, buf, depth)
        }
        Type::String | Type::Bool | Type::Int32 | Type::Int64 | Type::Double | Type::Bytes => {
            Err(ProtoError::Table("a scalar type used as a message".into()))
        }
    }
}

/// `JSONSchemaPropsOrArray` {schema = 1, jSONSchemas = 2}, `JSONSchemaPropsOrBool`
/// {allows = 1, schema = 2} and `JSONSchemaPropsOrStringArray` {schema = 1, property = 2}, each
/// written as apiextensions' `MarshalJSON` does.
fn schema_or(
    t: &Table,
    ty: Type,
    props: usize,
    buf: &[u8],
    depth: usize,
) -> Result<Option<Value>, ProtoError> {
    let schema_field = if matches!(ty, Type::OrBool(_)) { 2 } else { 1 };
    let mut schema: Option<Vec<u8>> = None;
    let mut list: Vec<Value> = Vec::new();
    let mut allows = false;
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (number, wire) = r.field("JSONSchemaPropsOr")?;
        let mismatch = |w: Wire| ProtoError::WrongWireType {
            field: format!("JSONSchemaPropsOr.{number}"),
            wire: w.wire_type(),
        };
        match (number, wire) {
            (n, Wire::Bytes(b)) if n == schema_field => {
                schema.get_or_insert_with(Vec::new).extend_from_slice(b)
            }
            (1, Wire::Varint(v)) if matches!(ty, Type::OrBool(_)) => allows = v != 0,
            (2, Wire::Bytes(b)) if matches!(ty, Type::OrArray(_)) => {
                list.push(Value::Object(decode(t, props, b, depth + 1)?))
            }
            (2, Wire::Bytes(b)) if matches!(ty, Type::OrStrings(_)) => {
                list.push(Value::String(String::from_utf8_lossy(b).into_owned()))
            }
            (1 | 2, w) => return Err(mismatch(w)),
            _ => {}
        }
    }
    let schema = match schema {
        Some(b) => Some(Value::Object(decode(t, props, &b, depth + 1)?)),
        None => None,
    };
    Ok(match ty {
        Type::OrBool(_) => Some(schema.unwrap_or(Value::Bool(allows))),
        _ if !list.is_empty() => Some(Value::Array(list)),
        _ => schema,
    })
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::super::wire::build::{Msg, envelope, meta, varint};
    use serde_json::json;

    #[test]
    fn inline_volume_sources_and_ephemeral_containers() {
        let volume = Msg::new().str(1, "cfg").msg(
            2,
            Msg::new().msg(
                19,
                Msg::new()
                    .msg(1, Msg::new().str(1, "my-config"))
                    .int(3, 0o644),
            ),
        );
        let eph = Msg::new()
            .msg(1, Msg::new().str(1, "debug").str(2, "busybox"))
            .str(2, "app");
        let pod = Msg::new()
            .msg(1, meta("p"))
            .msg(2, Msg::new().msg(1, volume).msg(34, eph));
        let v = decode(&envelope("v1", "Pod", pod)).unwrap();
        assert_eq!(
            v["spec"]["volumes"],
            json!([{"name": "cfg", "configMap": {"name": "my-config", "defaultMode": 420}}])
        );
        assert_eq!(
            v["spec"]["ephemeralContainers"],
            json!([{"name": "debug", "image": "busybox", "targetContainerName": "app"}])
        );
    }

    #[test]
    fn crd_schemas_keep_their_json_schema_names() {
        let string_prop = Msg::new().str(5, "string").str(15, "^a");
        let props = Msg::new()
            .str(5, "object")
            .entry_msg(29, "name", string_prop.clone())
            .entry_msg(
                29,
                "size",
                Msg::new()
                    .str(5, "integer")
                    .double(11, 0.0)
                    .double(9, 1.5)
                    .msg(8, Msg::new().str(1, "1")),
            )
            .entry_msg(
                29,
                "tags",
                Msg::new()
                    .str(5, "array")
                    .msg(24, Msg::new().msg(1, string_prop)),
            )
            .entry_msg(
                29,
                "extra",
                Msg::new()
                    .str(5, "object")
                    .msg(30, Msg::new().int(1, 0))
                    .int(38, 1),
            )
            .entry_msg(
                29,
                "ref",
                Msg::new()
                    .str(3, "#/definitions/x")
                    .msg(20, Msg::new().str(1, "\"a\"")),
            )
            .str(23, "name")
            .str(42, "atomic");
        let version = Msg::new()
            .str(1, "v1")
            .int(2, 1)
            .int(3, 1)
            .msg(4, Msg::new().msg(1, props));
        let spec = Msg::new()
            .str(1, "example.com")
            .msg(3, Msg::new().str(1, "widgets").str(4, "Widget"))
            .str(4, "Namespaced")
            .msg(7, version);
        let v = decode(&envelope(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            Msg::new().msg(1, meta("widgets.example.com")).msg(2, spec),
        ))
        .unwrap();
        let schema = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
        assert_eq!(v["spec"]["versions"][0]["served"], true);
        assert_eq!(schema["required"], json!(["name"]));
        assert_eq!(schema["x-kubernetes-list-type"], "atomic");
        assert_eq!(
            schema["properties"]["name"],
            json!({"type": "string", "pattern": "^a"})
        );
        // `minimum` is a *float64: an explicit 0 stays; `default` is embedded JSON.
        assert_eq!(
            schema["properties"]["size"],
            json!({"type": "integer", "minimum": 0, "maximum": 1.5, "default": 1})
        );
        assert_eq!(
            schema["properties"]["tags"]["items"],
            json!({"type": "string", "pattern": "^a"})
        );
        assert_eq!(
            schema["properties"]["extra"],
            json!({"type": "object", "additionalProperties": false, "x-kubernetes-preserve-unknown-fields": true})
        );
        assert_eq!(
            schema["properties"]["ref"],
            json!({"$ref": "#/definitions/x", "enum": ["a"]})
        );
    }

    #[test]
    fn lease_micro_times_and_split_messages() {
        // A message field sent in two pieces is merged, as protobuf merges it.
        let lease = Msg::new()
            .msg(1, meta("l"))
            .msg(2, Msg::new().str(1, "me").int(2, 15))
            .msg(
                2,
                Msg::new()
                    .msg(4, Msg::new().int(1, 1_700_000_000).int(2, 123_456_000))
                    .int(5, 0),
            );
        let v = decode(&envelope("coordination.k8s.io/v1", "Lease", lease)).unwrap();
        assert_eq!(
            v["spec"],
            json!({"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": "2023-11-14T22:13:20.123456Z", "leaseTransitions": 0})
        );
    }

    #[test]
    fn unknown_fields_are_skipped_and_repeated_ints_may_be_packed() {
        let mut packed = Vec::new();
        for v in [1u64, 42, 255] {
            varint(&mut packed, v);
        }
        let req = Msg::new()
            .str(1, "main")
            .str(2, "In")
            .bytes(3, &packed)
            .int(3, 7)
            .int(99, 5)
            .str(100, "future");
        let job = Msg::new().msg(1, meta("j")).msg(
            2,
            Msg::new().msg(
                11,
                Msg::new().msg(1, Msg::new().str(1, "FailJob").msg(2, req)),
            ),
        );
        let v = decode(&envelope("batch/v1", "Job", job)).unwrap();
        assert_eq!(
            v["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"],
            json!({"containerName": "main", "operator": "In", "values": [1, 42, 255, 7]})
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let mut schema = Msg::new().str(5, "string");
        for _ in 0..300 {
            schema = Msg::new().msg(28, schema);
        }
        let crd = Msg::new().msg(
            2,
            Msg::new().msg(7, Msg::new().msg(4, Msg::new().msg(1, schema))),
        );
        assert!(
            decode(&envelope(
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
                crd
            ))
            .unwrap_err()
            .to_string()
            .contains("max depth exceeded")
        );
    }
}
