//! Tolerant JSON helpers for defaulting: they fill a field only where Go's decoder would have
//! left the zero value, and leave any value of an unexpected type exactly as it is.

use serde_json::{Map, Value};

pub type Obj = Map<String, Value>;

/// The object at `key`, if it is one.
pub fn child<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The object at `key`, created when absent or null (a Go struct field that always exists).
/// `None` when the field holds something other than an object.
pub fn ensure<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    let v = m.entry(key).or_insert(Value::Null);
    if v.is_null() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut()
}

/// Each object element of the array at `key` (other elements and types are skipped).
pub fn each(m: &mut Obj, key: &str, mut f: impl FnMut(&mut Obj)) {
    if let Some(items) = m.get_mut(key).and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            f(item);
        }
    }
}

/// The field is what Go decodes to a nil pointer: absent or null.
pub fn unset(m: &Obj, key: &str) -> bool {
    m.get(key).is_none_or(Value::is_null)
}

/// A string field that Go sees as "": absent, null or empty.
pub fn empty_str(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// A number field that Go sees as 0: absent, null or zero.
pub fn zero_num(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Sets a string field that is "" (as Go sees it).
pub fn default_str(m: &mut Obj, key: &str, value: &str) {
    if empty_str(m, key) {
        m.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Sets a pointer field that is nil.
pub fn default_ptr(m: &mut Obj, key: &str, value: Value) {
    if unset(m, key) {
        m.insert(key.to_string(), value);
    }
}

/// Sets a non-pointer number field that is 0.
pub fn default_num(m: &mut Obj, key: &str, value: i64) {
    if zero_num(m, key) {
        m.insert(key.to_string(), Value::from(value));
    }
}

/// The string at `key`, or "" when absent or not a string.
pub fn str_of<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The object at `key` is absent, null or has no entries (a nil or empty Go map).
pub fn empty_map(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn zero_values_are_filled_set_values_kept() {
        let mut m = obj(json!({"a": "", "b": null, "c": "x", "d": 0, "e": 5, "f": "5", "g": 0}));
        default_str(&mut m, "a", "A");
        default_str(&mut m, "b", "B");
        default_str(&mut m, "c", "C");
        default_str(&mut m, "z", "Z");
        default_num(&mut m, "d", 1);
        default_num(&mut m, "e", 1);
        default_num(&mut m, "f", 1);
        default_ptr(&mut m, "g", json!(30));
        default_ptr(&mut m, "h", json!(30));
        assert_eq!(
            Value::Object(m),
            json!({"a": "A", "b": "B", "c": "x", "z": "Z", "d": 1, "e": 5, "f": "5", "g": 0, "h": 30})
        );
    }

    #[test]
    fn ensure_creates_objects_but_not_over_other_types() {
        let mut m = obj(json!({"s": "str", "n": null}));
        assert!(ensure(&mut m, "s").is_none());
        assert!(ensure(&mut m, "n").is_some());
        assert!(ensure(&mut m, "new").is_some());
        assert_eq!(Value::Object(m), json!({"s": "str", "n": {}, "new": {}}));
    }
}
