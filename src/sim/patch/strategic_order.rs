//! The order of a merged list in strategic merge patch (apimachinery's `normalizeElementOrder`
//! and `mergeSortedSlice`): items the patch names, or its `$setElementOrder` lists, are sorted
//! in that order; items only the server has keep their server order; then the two are
//! interleaved, a server-only item going first when the server list has it before the next
//! patch item. An item new to the server has no server position, so it goes before the
//! server-only items still waiting: what a patch adds lands at the front unless
//! `$setElementOrder` places it.

use serde_json::{Map, Value};

use super::strategic::DIRECTIVE;
use super::{PatchError, gofmt};

pub(super) const MAP_TYPE: &str = "map[string]interface {}";

pub(super) fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::NoMergeKey {
        map: gofmt::v(&Value::Object(map.clone())),
        key: key.to_string(),
    }
}

pub(super) fn as_map(item: &Value) -> Result<&Map<String, Value>, PatchError> {
    item.as_object().ok_or(PatchError::BadArgType {
        expected: MAP_TYPE,
        actual: gofmt::type_name(item),
    })
}

/// Go's in-place deduplication of a list of scalars (a later duplicate is replaced by the
/// last item); the order is normalized afterwards.
pub(super) fn deduplicate(mut items: Vec<Value>) -> Vec<Value> {
    let mut i = 0;
    while i < items.len() {
        let mut j = i + 1;
        while j < items.len() {
            if items[i] == items[j] {
                items.swap_remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    items
}

/// Checks that the patch items (deletions and directives aside) appear in the order of the
/// `$setElementOrder` list.
pub(super) fn validate_order(
    patch: &[Value],
    order: &[Value],
    key: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(patch.len());
    for item in patch {
        if !key.is_empty() && as_map(item)?.get(DIRECTIVE).is_some_and(|d| d == "delete") {
            continue;
        }
        items.push(item);
    }
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if items[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        if key_equal(items[p], &order[o], key)? {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() && o >= order.len() {
        return Err(PatchError::OrderMismatch {
            patch: gofmt::v(&Value::Array(patch.to_vec())),
            order: gofmt::v(&Value::Array(order.to_vec())),
        });
    }
    Ok(())
}

fn key_equal(left: &Value, right: &Value, key: &str) -> Result<bool, PatchError> {
    if key.is_empty() {
        return Ok(left == right);
    }
    let (l, r) = (as_map(left)?, as_map(right)?);
    let lv = l.get(key).ok_or_else(|| no_merge_key(l, key))?;
    let rv = r.get(key).ok_or_else(|| no_merge_key(r, key))?;
    Ok(lv == rv)
}

/// Where `item` is in `order`: by merge key for objects, by value for scalars. Values that Go
/// cannot compare (lists, objects) are never found; a missing key matches a missing key.
fn position(order: &[Value], item: &Value, key: &str, of_maps: bool) -> Option<usize> {
    let probe = |v: &'_ Value| -> Option<Option<Value>> {
        let v = if of_maps {
            v.get(key).filter(|k| !k.is_null())
        } else {
            Some(v)
        };
        match v {
            Some(Value::Array(_) | Value::Object(_)) => None,
            other => Some(other.cloned()),
        }
    };
    let want = probe(item)?;
    order.iter().position(|o| probe(o).as_ref() == Some(&want))
}

/// `normalizeElementOrder`: sorts the patch items by `patch_order` and the server-only items
/// by `server_order`, then interleaves them (`mergeSortedSlice`).
pub(super) fn normalize_order(
    patch_items: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: &str,
    of_maps: bool,
) -> Result<Vec<Value>, PatchError> {
    let patch_items = sort_by_order(patch_items, patch_order, key, of_maps)?;
    let server_only = sort_by_order(server_only, server_order, key, of_maps)?;
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = patch_items.into_iter().peekable();
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let li = position(server_order, l, key, of_maps);
        let ri = position(server_order, r, key, of_maps);
        let take_left = matches!((li, ri), (Some(li), Some(ri)) if li < ri);
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

/// `normalizeSliceOrder`: a stable sort by position in `order`; for objects, `$patch: delete`
/// items go last, and every item of both lists must be an object with the merge key.
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    key: &str,
    of_maps: bool,
) -> Result<Vec<Value>, PatchError> {
    let (mut keep, mut deleted) = (Vec::with_capacity(items.len()), Vec::new());
    if of_maps {
        for item in items.iter().chain(order) {
            let fields = as_map(item)?;
            if !fields.contains_key(key) {
                return Err(no_merge_key(fields, key));
            }
        }
        for item in items {
            if item.get(DIRECTIVE).is_some_and(|d| d == "delete") {
                deleted.push(item);
            } else {
                keep.push(item);
            }
        }
    } else {
        keep = items;
    }
    keep.sort_by_cached_key(|item| position(order, item, key, of_maps).unwrap_or(usize::MAX));
    keep.append(&mut deleted);
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(items: &[&str]) -> Vec<Value> {
        items.iter().map(|n| json!({"name": n})).collect()
    }

    #[test]
    fn server_only_items_interleave_by_server_position() {
        // Server [C B D A E]; the patch names A and B (in that order).
        let server = names(&["C", "B", "D", "A", "E"]);
        let out = normalize_order(
            names(&["B", "A"]),
            names(&["C", "D", "E"]),
            &names(&["A", "B"]),
            &server,
            "name",
            true,
        );
        assert_eq!(out, Ok(names(&["C", "D", "A", "B", "E"])));
        // An item the server does not have goes before the server-only items.
        let out = normalize_order(
            names(&["N"]),
            names(&["C", "B"]),
            &names(&["N"]),
            &server,
            "name",
            true,
        );
        assert_eq!(out, Ok(names(&["N", "C", "B"])));
    }

    #[test]
    fn positions_compare_like_go() {
        // int64 1 and float64 1 differ; lists cannot be compared.
        assert_eq!(
            position(&[json!(1), json!(1.0)], &json!(1.0), "", false),
            Some(1)
        );
        assert_eq!(
            position(
                &[json!({"name": ["a"]}), json!({"name": "a"})],
                &json!({"name": "a"}),
                "name",
                true
            ),
            Some(1)
        );
        assert_eq!(
            position(
                &[json!({"name": "a"})],
                &json!({"name": ["a"]}),
                "name",
                true
            ),
            None
        );
        assert_eq!(
            position(&[json!({"x": 1})], &json!({"y": 2}), "name", true),
            Some(0)
        );
    }

    #[test]
    fn objects_need_their_merge_key() {
        let err = normalize_order(vec![json!({"image": "x"})], vec![], &[], &[], "name", true);
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("map: map[image:x] does not contain declared merge key: name".to_string())
        );
    }

    #[test]
    fn go_dedup_swaps_in_the_last_item() {
        // As Go's deduplicateScalars: a duplicate's slot takes the last item; int 1 and float 1
        // are different values.
        let out = deduplicate(vec![
            json!("a"),
            json!("b"),
            json!("a"),
            json!("c"),
            json!(1),
            json!(1.0),
        ]);
        assert_eq!(
            out,
            vec![json!("a"), json!("b"), json!(1.0), json!("c"), json!(1)]
        );
    }
}
