//! The two walks of a comparison: every field of desired must be in live (rule 1), and every
//! field flotilla owns in live must still be in desired (rule 2).

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::fields_v1::{Elem, FieldNode, key_matches};
use super::normalize::{is_zero, json_equal, scalars_equal};
use super::path::Path;
use super::schema::{ListKind, Schema, item_key, keys_equal};

/// Top-level fields never compared: the identity of the type (the caller reads live at the
/// desired version) and `status`.
const SKIPPED_ROOT_FIELDS: [&str; 3] = ["apiVersion", "kind", "status"];

pub(super) struct Walker<'a> {
    pub schema: Schema<'a>,
    pub drift: BTreeSet<String>,
}

fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

impl Walker<'_> {
    fn mark(&mut self, path: &Path) {
        self.drift.insert(path.pointer().to_string());
    }

    /// Rule 1: `d` (a desired value) is in `l` (the live value at the same place).
    /// `atomic`: inside an atomic list, where every nested list is atomic too.
    pub fn desired_in_live(&mut self, d: &Value, l: Option<&Value>, path: &mut Path, atomic: bool) {
        let l = present(l);
        match d {
            Value::Null => {}
            Value::Object(dm) => match l {
                None => self.fields_in_live(dm, None, path, atomic),
                Some(Value::Object(lm)) => self.fields_in_live(dm, Some(lm), path, atomic),
                Some(_) => self.mark(path),
            },
            Value::Array(da) => match l {
                None if da.is_empty() => {}
                Some(Value::Array(la)) => self.list_in_live(da, la, path, atomic),
                _ => self.mark(path),
            },
            scalar => match l {
                None if is_zero(scalar) && !self.schema.is_string_map(parent(path)) => {}
                Some(l) if !l.is_object() && !l.is_array() => {
                    if !scalars_equal(&self.schema, path.names(), scalar, l) {
                        self.mark(path);
                    }
                }
                _ => self.mark(path),
            },
        }
    }

    fn fields_in_live(
        &mut self,
        dm: &Map<String, Value>,
        lm: Option<&Map<String, Value>>,
        path: &mut Path,
        atomic: bool,
    ) {
        let root = path.is_root();
        for (k, dv) in dm {
            if root && SKIPPED_ROOT_FIELDS.contains(&k.as_str()) {
                continue;
            }
            path.push_field(k);
            self.desired_in_live(dv, lm.and_then(|m| m.get(k)), path, atomic);
            path.pop();
        }
        if let Some(lm) = lm
            && !root
            && self.schema.is_atomic_map(path.names())
        {
            for k in lm.keys().filter(|k| !dm.contains_key(*k)) {
                path.push_field(k);
                self.mark(path);
                path.pop();
            }
        }
    }

    fn list_in_live(&mut self, da: &[Value], la: &[Value], path: &mut Path, atomic: bool) {
        let kind = if atomic {
            ListKind::Atomic
        } else {
            self.schema.list_kind(path.names())
        };
        match kind {
            ListKind::Map(keys) if all_keyed(da, &keys) && all_keyed(la, &keys) => {
                for (i, di) in da.iter().enumerate() {
                    path.push_index(i);
                    match find_by_key(la, di, &keys) {
                        Some(li) => self.desired_in_live(di, Some(li), path, false),
                        None => self.mark(path),
                    }
                    path.pop();
                }
            }
            ListKind::Set if da.iter().chain(la).all(is_scalar) => {
                for (i, di) in da.iter().enumerate() {
                    if !la.iter().any(|li| json_equal(di, li)) {
                        path.push_index(i);
                        self.mark(path);
                        path.pop();
                    }
                }
            }
            _ => {
                if da.len() != la.len() {
                    self.mark(path);
                    return;
                }
                for (i, (di, li)) in da.iter().zip(la).enumerate() {
                    path.push_index(i);
                    self.desired_in_live(di, Some(li), path, true);
                    path.pop();
                }
            }
        }
    }

    /// Rule 2: every field of `owned` that is in `l` is in `d` too. Drift is reported at the
    /// path in live (list items by their live index).
    ///
    /// `d` is `None` below a field desired lacks whose owned node is not owned itself (only
    /// fields inside it are): each owned field in it is reported.
    pub fn owned_in_desired(
        &mut self,
        owned: &FieldNode,
        l: &Value,
        d: Option<&Value>,
        path: &mut Path,
    ) {
        let root = path.is_root();
        for (elem, child) in &owned.children {
            match (elem, l) {
                (Elem::Field(name), Value::Object(lm)) => {
                    if root && SKIPPED_ROOT_FIELDS.contains(&name.as_str()) {
                        continue;
                    }
                    let name = name.as_str();
                    let Some(lv) = present(lm.get(name)) else {
                        continue;
                    };
                    path.push_field(name);
                    let dv = present(d.and_then(|d| d.get(name)));
                    self.owned_below(child, lv, dv, path);
                    path.pop();
                }
                (elem, Value::Array(la)) => {
                    let Some((i, li)) = la
                        .iter()
                        .enumerate()
                        .find(|(i, li)| elem_names(elem, li, *i))
                    else {
                        continue;
                    };
                    path.push_index(i);
                    let da = d
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let found = match elem {
                        Elem::Key(key) => da.iter().find(|di| key_matches(key, di)),
                        Elem::Value(v) => da.iter().find(|di| json_equal(v, di)),
                        Elem::Index(i) => da.get(*i),
                        Elem::Field(_) => None,
                    };
                    self.owned_below(child, li, found, path);
                    path.pop();
                }
                _ => {}
            }
        }
    }
}

impl Walker<'_> {
    fn owned_below(&mut self, owned: &FieldNode, l: &Value, d: Option<&Value>, path: &mut Path) {
        match d {
            Some(d) => self.owned_in_desired(owned, l, Some(d), path),
            None if owned.is_leaf() || owned.member => self.mark(path),
            None => self.owned_in_desired(owned, l, None, path),
        }
    }
}

fn elem_names(elem: &Elem, item: &Value, index: usize) -> bool {
    super::fields_v1::elem_matches_item(elem, item, index)
}

/// The field names of the parent of the current node.
fn parent(path: &Path) -> &[String] {
    let names = path.names();
    &names[..names.len().saturating_sub(1)]
}

fn is_scalar(v: &Value) -> bool {
    !v.is_object() && !v.is_array()
}

pub(super) fn all_keyed(items: &[Value], keys: &[String]) -> bool {
    items.iter().all(|i| item_key(i, keys).is_some())
}

/// The first item of `items` with the key of `item`.
pub(super) fn find_by_key<'v>(
    items: &'v [Value],
    item: &Value,
    keys: &[String],
) -> Option<&'v Value> {
    let want = item_key(item, keys)?;
    items
        .iter()
        .find(|i| item_key(i, keys).is_some_and(|k| keys_equal(&want, &k)))
}
