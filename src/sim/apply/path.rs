//! Path elements of field sets, as structured-merge-diff defines them (`fieldpath/element.go`,
//! `fieldpath/serialize-pe.go`): a field name, a list-map key, a set value or a list index, with
//! SMD's total order, its human-readable form (`.spec.containers[name="nginx"].image`, used in
//! conflict messages) and its FieldsV1 form (`f:name`, `k:{"name":"nginx"}`, `v:"x"`, `i:0`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// A JSON value under structured-merge-diff's total order (`value.Compare`): numbers (ints and
/// floats compared numerically), then strings, bools, lists, maps and null.
#[derive(Debug, Clone)]
pub struct OrdValue(pub Value);

impl PartialEq for OrdValue {
    fn eq(&self, other: &Self) -> bool {
        compare_values(&self.0, &other.0) == Ordering::Equal
    }
}

impl Eq for OrdValue {}

impl PartialOrd for OrdValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdValue {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_values(&self.0, &other.0)
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// `value.Compare`.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let c = compare_values(l, r);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            for ((lk, lv), (rk, rv)) in x.iter().zip(y) {
                let c = lk.cmp(rk).then_with(|| compare_values(lv, rv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

/// JSON equality as `value.Equals` sees it (an int and a float of the same value are equal).
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| json_equal(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        _ => a == b,
    }
}

/// One step of a field path. The variant order is SMD's order of path elements.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathElement {
    /// A field of a map or struct.
    Field(String),
    /// An item of a list-map, by its key fields (sorted by name).
    Key(Vec<(String, OrdValue)>),
    /// An item of a set, by its value.
    Value(OrdValue),
    /// An item of an atomic list, by its index.
    Index(usize),
}

/// The parse failures of a FieldsV1 key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// A prefix this version does not know: skipped, as SMD does.
    Unknown,
    Invalid(String),
}

/// `value.ToString`: how values appear in path strings.
fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(value_to_string)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}={}", value_to_string(v)))
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}={}", value_to_string(&v.0)))
                    .collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", value_to_string(&v.0)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as kube-apiserver prints it: `.spec.containers[name="nginx"].image`.
pub fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// JSON as Go's `encoding/json` writes it: serde's output with HTML-sensitive characters escaped.
pub fn go_json(v: &Value) -> String {
    let raw = serde_json::to_string(v).unwrap_or_default();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

impl PathElement {
    /// The FieldsV1 key of this element.
    pub fn serialize(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| {
                        format!("{}:{}", go_json(&Value::String(k.clone())), go_json(&v.0))
                    })
                    .collect();
                format!("k:{{{}}}", parts.join(","))
            }
            PathElement::Value(v) => format!("v:{}", go_json(&v.0)),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key (`DeserializePathElement`).
    pub fn parse(s: &str) -> Result<PathElement, ParseError> {
        let Some(rest) = s.get(2..) else {
            return Err(ParseError::Invalid(
                "key must be 2 characters long:".to_string(),
            ));
        };
        if s.as_bytes().get(1) != Some(&b':') {
            return Err(ParseError::Invalid(format!("missing colon: {s}")));
        }
        let json = |text: &str| {
            serde_json::from_str::<Value>(text).map_err(|e| ParseError::Invalid(e.to_string()))
        };
        match s.as_bytes().first() {
            Some(b'f') => Ok(PathElement::Field(rest.to_string())),
            Some(b'v') => Ok(PathElement::Value(OrdValue(json(rest)?))),
            Some(b'k') => match json(rest)? {
                Value::Object(m) => {
                    let mut fields: Vec<(String, OrdValue)> =
                        m.into_iter().map(|(k, v)| (k, OrdValue(v))).collect();
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                    Ok(PathElement::Key(fields))
                }
                _ => Err(ParseError::Invalid(format!(
                    "key is not a JSON object: {s}"
                ))),
            },
            Some(b'i') => rest
                .parse()
                .map(PathElement::Index)
                .map_err(|e| ParseError::Invalid(format!("{e}"))),
            _ => Err(ParseError::Unknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(pairs: &[(&str, Value)]) -> PathElement {
        PathElement::Key(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), OrdValue(v.clone())))
                .collect(),
        )
    }

    #[test]
    fn display_matches_fieldpath_strings() {
        let path = vec![
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            key(&[("name", json!("nginx"))]),
            PathElement::Field("image".into()),
        ];
        assert_eq!(path_string(&path), ".spec.containers[name=\"nginx\"].image");
        let ports = key(&[("containerPort", json!(80)), ("protocol", json!("TCP"))]);
        assert_eq!(ports.to_string(), "[containerPort=80,protocol=\"TCP\"]");
        assert_eq!(
            PathElement::Value(OrdValue(json!("a"))).to_string(),
            "[=\"a\"]"
        );
        assert_eq!(PathElement::Index(3).to_string(), "[3]");
    }

    #[test]
    fn serialize_round_trips() {
        let cases = [
            PathElement::Field("data".into()),
            key(&[("containerPort", json!(80)), ("protocol", json!("TCP"))]),
            PathElement::Value(OrdValue(json!("example.com/finalizer"))),
            PathElement::Index(2),
        ];
        let texts = [
            "f:data",
            r#"k:{"containerPort":80,"protocol":"TCP"}"#,
            r#"v:"example.com/finalizer""#,
            "i:2",
        ];
        for (pe, text) in cases.iter().zip(texts) {
            assert_eq!(pe.serialize(), text);
            assert_eq!(PathElement::parse(text).as_ref(), Ok(pe));
        }
    }

    #[test]
    fn parse_sorts_keys_and_reports_bad_input() {
        assert_eq!(
            PathElement::parse(r#"k:{"protocol":"TCP","containerPort":80}"#),
            Ok(key(&[
                ("containerPort", json!(80)),
                ("protocol", json!("TCP"))
            ]))
        );
        assert_eq!(PathElement::parse("x:foo"), Err(ParseError::Unknown));
        assert!(matches!(
            PathElement::parse("f"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            PathElement::parse("fx"),
            Err(ParseError::Invalid(_))
        ));
        assert!(matches!(
            PathElement::parse("k:[1]"),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn go_escaping_of_html_characters() {
        assert_eq!(
            PathElement::Value(OrdValue(json!("a<b&c"))).serialize(),
            r#"v:"a\u003cb\u0026c""#
        );
    }

    #[test]
    fn order_is_smd_order() {
        assert!(PathElement::Field("z".into()) < key(&[("a", json!(1))]));
        assert!(key(&[("a", json!(1))]) < PathElement::Value(OrdValue(json!(0))));
        assert!(PathElement::Value(OrdValue(json!(5))) < PathElement::Value(OrdValue(json!("a"))));
        assert!(PathElement::Value(OrdValue(json!(1.5))) < PathElement::Value(OrdValue(json!(2))));
        assert_eq!(OrdValue(json!(1)), OrdValue(json!(1.0)));
        assert!(json_equal(&json!({"a": [1]}), &json!({"a": [1.0]})));
        assert!(!json_equal(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
    }
}
