//! Tables of custom resources: the CRD version's `additionalPrinterColumns` (or the default
//! `Age` column), evaluated with the simple JSONPath forms CRDs use, as apiextensions-apiserver's
//! `tableconvertor` does.

use serde_json::{Value, json};

use super::format::{human_duration, parse_time};
use super::{AGE_DESC, NAME_DESC};

/// One parsed printer column.
pub(super) struct Column {
    pub definition: Value,
    ty: String,
    path: Path,
}

/// The columns of a CRD version; `None` when a JSONPath does not parse (the apiserver then falls
/// back to the default `Name`/`Created At` table).
pub(super) fn columns(printer_columns: &[Value]) -> Option<Vec<Column>> {
    let defaults = [json!({
        "name": "Age", "type": "date", "description": AGE_DESC, "jsonPath": ".metadata.creationTimestamp"
    })];
    let specs = if printer_columns.is_empty() {
        &defaults[..]
    } else {
        printer_columns
    };
    specs
        .iter()
        .map(|col| {
            let json_path = col["jsonPath"].as_str()?;
            let path = Path::parse(json_path)?;
            let description = match col["description"].as_str() {
                Some(d) if !d.is_empty() => d.to_string(),
                _ => format!("Custom resource definition column (in JSONPath format): {json_path}"),
            };
            let ty = col["type"].as_str().unwrap_or("string").to_string();
            Some(Column {
                definition: json!({
                    "name": col["name"].as_str().unwrap_or(""),
                    "type": ty,
                    "format": col["format"].as_str().unwrap_or(""),
                    "description": description,
                    "priority": col["priority"].as_i64().unwrap_or(0),
                }),
                ty,
                path,
            })
        })
        .collect()
}

/// The `Name` column every custom resource table starts with.
pub(super) fn name_column() -> Value {
    json!({ "name": "Name", "type": "string", "format": "name", "description": NAME_DESC, "priority": 0 })
}

/// The cells of one object: its name, then each column's first JSONPath result.
pub(super) fn cells(columns: &[Column], obj: &Value, now: i64) -> Vec<Value> {
    let mut cells = vec![json!(obj["metadata"]["name"].as_str().unwrap_or(""))];
    for col in columns {
        let cell = match col.path.eval(obj).first() {
            None => Value::Null,
            Some(v) if col.ty == "string" => json!(print_text(v)),
            Some(v) => typed_cell(&col.ty, v, now),
        };
        cells.push(cell);
    }
    cells
}

/// `cellForJSONValue`.
fn typed_cell(ty: &str, v: &Value, now: i64) -> Value {
    match (ty, v) {
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(n)) => n.as_f64().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => match parse_time(s) {
            Some(t) => json!(human_duration(now - t)),
            None => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// How JSONPath prints one result: collections as compact JSON, scalars as Go's `fmt.Print`.
fn print_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<no value>".to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() < 1e21 => {
                format!("{f:.0}")
            }
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// One step of a JSONPath.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    Wildcard,
    Filter {
        path: Vec<Step>,
        op: Option<(String, Value)>,
    },
}

/// The simple JSONPath forms printer columns use: `.a.b`, `.a[0]`, `.a[*].b`, `['k']`, and
/// `.a[?(@.type=="Ready")].b`.
#[derive(Debug, Clone, PartialEq)]
struct Path(Vec<Step>);

impl Path {
    fn parse(text: &str) -> Option<Path> {
        let text = text.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let chars: Vec<char> = text.chars().collect();
        let (steps, end) = parse_steps(&chars, 0, false)?;
        (end == chars.len()).then_some(Path(steps))
    }

    fn eval<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        eval_steps(&self.0, vec![root])
    }
}

/// Parses steps from `pos`; inside a filter, stops before an operator or `)`.
fn parse_steps(chars: &[char], mut pos: usize, in_filter: bool) -> Option<(Vec<Step>, usize)> {
    let mut steps = Vec::new();
    while pos < chars.len() {
        match chars[pos] {
            '.' => {
                pos += 1;
                if chars.get(pos) == Some(&'*') {
                    steps.push(Step::Wildcard);
                    pos += 1;
                    continue;
                }
                let mut name = String::new();
                while let Some(&c) = chars.get(pos) {
                    if c == '\\' {
                        name.push(*chars.get(pos + 1)?);
                        pos += 2;
                        continue;
                    }
                    if c == '.' || c == '[' || (in_filter && "=!<>) ".contains(c)) {
                        break;
                    }
                    name.push(c);
                    pos += 1;
                }
                if name.is_empty() {
                    // A bare `.` (the root) or a recursive descent, which printer columns never use.
                    if chars.get(pos) == Some(&'.') {
                        return None;
                    }
                    continue;
                }
                steps.push(Step::Field(name));
            }
            '[' => {
                let close = find_close(chars, pos)?;
                let inner: String = chars[pos + 1..close].iter().collect();
                steps.push(parse_bracket(inner.trim())?);
                pos = close + 1;
            }
            c if in_filter && "=!<>) ".contains(c) => break,
            _ => return None,
        }
    }
    Some((steps, pos))
}

/// The index of the `]` closing the bracket at `open`, skipping quoted text and nested brackets.
fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (idx, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(idx);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        let chars: Vec<char> = filter.trim().chars().collect();
        if chars.first() != Some(&'@') {
            return None;
        }
        let (path, end) = parse_steps(&chars, 1, true)?;
        let rest: String = chars[end..].iter().collect();
        let rest = rest.trim();
        if rest.is_empty() {
            return Some(Step::Filter { path, op: None });
        }
        let op = ["==", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|op| rest.starts_with(op))?;
        let literal = parse_literal(rest[op.len()..].trim())?;
        return Some(Step::Filter {
            path,
            op: Some((op.to_string(), literal)),
        });
    }
    if let Some(s) = unquote(inner) {
        return Some(Step::Field(s));
    }
    inner.parse().ok().map(Step::Index)
}

fn unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
        return Some(s[1..s.len() - 1].to_string());
    }
    None
}

fn parse_literal(s: &str) -> Option<Value> {
    if let Some(text) = unquote(s) {
        return Some(json!(text));
    }
    match s {
        "true" => Some(json!(true)),
        "false" => Some(json!(false)),
        _ => s.parse::<f64>().ok().map(|f| json!(f)),
    }
}

fn eval_steps<'a>(steps: &[Step], mut current: Vec<&'a Value>) -> Vec<&'a Value> {
    for step in steps {
        let mut next = Vec::new();
        for v in current {
            match step {
                Step::Field(name) => next.extend(v.get(name.as_str())),
                Step::Index(idx) => {
                    if let Some(a) = v.as_array() {
                        let i = if *idx < 0 { a.len() as i64 + idx } else { *idx };
                        next.extend(usize::try_from(i).ok().and_then(|i| a.get(i)));
                    }
                }
                Step::Wildcard => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Filter { path, op } => {
                    for item in v.as_array().map(Vec::as_slice).unwrap_or(&[]) {
                        let found = eval_steps(path, vec![item]);
                        let keep = match op {
                            None => !found.is_empty(),
                            Some((op, lit)) => found.len() == 1 && compare(found[0], op, lit),
                        };
                        if keep {
                            next.push(item);
                        }
                    }
                }
            }
        }
        current = next;
    }
    current
}

fn compare(left: &Value, op: &str, right: &Value) -> bool {
    use std::cmp::Ordering;
    let ord = match (left, right) {
        (Value::String(a), Value::String(b)) => a.partial_cmp(b),
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Bool(a), Value::Bool(b)) => a.partial_cmp(b),
        _ => None,
    };
    match (op, ord) {
        ("==", Some(o)) => o == Ordering::Equal,
        ("!=", Some(o)) => o != Ordering::Equal,
        ("<", Some(o)) => o == Ordering::Less,
        (">", Some(o)) => o == Ordering::Greater,
        ("<=", Some(o)) => o != Ordering::Greater,
        (">=", Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj() -> Value {
        json!({
            "metadata": {"name": "w1", "creationTimestamp": "2024-01-01T00:00:00Z", "labels": {"app.kubernetes.io/name": "web"}},
            "spec": {"replicas": 3, "ratio": 1.5, "paused": false, "tags": ["a", "b"], "nested": {"k": "v"}},
            "status": {"conditions": [
                {"type": "Progressing", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Waiting"}
            ]}
        })
    }

    fn first(path: &str) -> Option<Value> {
        let o = obj();
        Path::parse(path)
            .unwrap()
            .eval(&o)
            .first()
            .map(|v| (*v).clone())
    }

    #[test]
    fn json_paths() {
        assert_eq!(first(".spec.replicas"), Some(json!(3)));
        assert_eq!(
            first(r#".status.conditions[?(@.type=="Ready")].status"#),
            Some(json!("False"))
        );
        assert_eq!(
            first(".status.conditions[?(@.type=='Ready')].reason"),
            Some(json!("Waiting"))
        );
        assert_eq!(
            first(".status.conditions[?(@.reason)].type"),
            Some(json!("Ready"))
        );
        assert_eq!(
            first(".status.conditions[0].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(first(".status.conditions[-1].type"), Some(json!("Ready")));
        assert_eq!(
            first(".status.conditions[*].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(
            first(r".metadata.labels.app\.kubernetes\.io/name"),
            Some(json!("web"))
        );
        assert_eq!(
            first(".metadata.labels['app.kubernetes.io/name']"),
            Some(json!("web"))
        );
        assert_eq!(first(".spec.missing"), None);
        assert!(Path::parse(".spec[").is_none());
        assert!(Path::parse("..spec").is_none());
    }

    #[test]
    fn cells_follow_column_types() {
        let cols = columns(&[
            json!({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}),
            json!({"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "priority": 1}),
            json!({"name": "Tags", "type": "string", "jsonPath": ".spec.tags"}),
            json!({"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"}),
            json!({"name": "Paused", "type": "boolean", "jsonPath": ".spec.paused"}),
            json!({"name": "Missing", "type": "string", "jsonPath": ".spec.none"}),
            json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}),
        ])
        .unwrap();
        assert_eq!(cols[1].definition["priority"], 1);
        assert_eq!(
            cols[0].definition["description"],
            "Custom resource definition column (in JSONPath format): .spec.replicas"
        );
        let now = parse_time("2024-01-03T00:00:00Z").unwrap();
        assert_eq!(
            cells(&cols, &obj(), now),
            vec![
                json!("w1"),
                json!(3),
                json!("False"),
                json!(r#"["a","b"]"#),
                json!(1.5),
                json!(false),
                Value::Null,
                json!("2d")
            ]
        );
    }

    #[test]
    fn default_columns_are_age() {
        let cols = columns(&[]).unwrap();
        assert_eq!(cols.len(), 1);
        assert_eq!(cols[0].definition["name"], "Age");
        assert_eq!(cols[0].definition["type"], "date");
        assert!(
            columns(&[json!({"name": "Bad", "type": "string", "jsonPath": ".a[?(@.x=~"})])
                .is_none()
        );
    }
}
