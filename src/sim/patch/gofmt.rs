//! Go's `fmt` rendering of decoded JSON values, for error messages that quote them the way
//! kube-apiserver does (`map[image:nginx name:web]`, `[a b]`, `expected a []interface {}`).
//!
//! Values are as apimachinery decodes them: whole numbers are `int64`, other numbers `float64`.

use serde_json::{Number, Value};

/// `%v` of a decoded value: maps with sorted keys, lists space-separated, `<nil>` for null.
pub(crate) fn v(value: &Value) -> String {
    let mut out = String::new();
    write_v(&mut out, value);
    out
}

/// `%v` of several lists, as `fmt.Sprint` prints a `[][]interface{}`.
pub(super) fn lists(lists: &[&[Value]]) -> String {
    let items: Vec<String> = lists.iter().map(|l| v(&Value::Array(l.to_vec()))).collect();
    format!("[{}]", items.join(" "))
}

/// `%s` of a decoded value: strings as they are, anything else as Go's `%!s(type=value)`.
pub(super) fn s(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_string(),
        Value::Array(_) | Value::Object(_) => v(value),
        other => format!("%!s({}={})", type_name(other), v(other)),
    }
}

/// The Go type of a decoded value as `reflect.TypeOf(x)` prints with `%s`.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "%!s(<nil>)",
        Value::Bool(_) => "bool",
        Value::Number(n) if is_int(n) => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Whether apimachinery's JSON decoding makes this number an `int64`.
pub(super) fn is_int(n: &Number) -> bool {
    n.is_i64()
}

fn write_v(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) => out.push_str(&i.to_string()),
            None => out.push_str(&float(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's map iterates in key order, as Go's fmt prints maps.
            out.push_str("map[");
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, item);
            }
            out.push(']');
        }
    }
}

/// `%v` of a float64: the shortest digits, in `%e` form when the exponent is below -4 or at
/// least 6 (`1e+06`, `1.5e-07`), otherwise plain (`100000`, `0.5`).
fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(digits.len().min(1));
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}e{esign}{:02}", exp.abs());
    }
    let point = exp + 1; // digits before the decimal point
    let nd = digits.len() as i32;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point >= nd {
        format!("{digits}{}", "0".repeat((point - nd) as usize))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_like_go() {
        assert_eq!(
            v(&json!({"name": "web", "image": "nginx"})),
            "map[image:nginx name:web]"
        );
        assert_eq!(v(&json!(["a", 1, true, null])), "[a 1 true <nil>]");
        assert_eq!(
            v(&json!({"ports": [{"containerPort": 80}]})),
            "map[ports:[map[containerPort:80]]]"
        );
        assert_eq!(
            lists(&[&[json!("a"), json!("b")], &[json!(1)]]),
            "[[a b] [1]]"
        );
    }

    #[test]
    fn floats_print_like_go() {
        assert_eq!(v(&json!(1.5)), "1.5");
        assert_eq!(v(&json!(100000.0)), "100000");
        assert_eq!(v(&json!(1000000.0)), "1e+06");
        assert_eq!(v(&json!(0.0001)), "0.0001");
        assert_eq!(v(&json!(0.00001)), "1e-05");
        assert_eq!(v(&json!(-2.5e-7)), "-2.5e-07");
        assert_eq!(v(&json!(123.456)), "123.456");
    }

    #[test]
    fn types_and_verbs() {
        assert_eq!(type_name(&json!([])), "[]interface {}");
        assert_eq!(type_name(&json!({})), "map[string]interface {}");
        assert_eq!(type_name(&json!(3)), "int64");
        assert_eq!(type_name(&json!(3.5)), "float64");
        assert_eq!(s(&json!("merge")), "merge");
        assert_eq!(s(&json!(1)), "%!s(int64=1)");
        assert_eq!(s(&Value::Null), "%!s(<nil>)");
    }
}
