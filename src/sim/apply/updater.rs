//! structured-merge-diff's `merge.Updater` (`merge/update.go`): how a write changes the managers'
//! field sets, how an applied configuration is merged and what a manager stopped applying is
//! pruned, and which fields conflict.

use std::collections::BTreeMap;

use serde_json::Value;

use super::managed::VersionedSet;
use super::merge::Comparison;
use super::path::json_equal;
use super::set::Set;
use super::typed::Typed;

/// Field sets by manager identifier.
pub type Managers = BTreeMap<String, VersionedSet>;

/// The fields each other manager owns that the write would change.
pub type Conflicts = BTreeMap<String, Set>;

/// One write under one kind's schema, with the fields the strategy resets ignored.
pub struct Updater<'a> {
    pub typed: Typed<'a>,
    pub ignored: Set,
}

impl Updater<'_> {
    /// `update`: takes the changed fields away from the other managers (or reports them as
    /// conflicts unless `force`), and removed fields from everyone.
    fn update(
        &self,
        old: &Value,
        new: &Value,
        managers: &mut Managers,
        workflow: &str,
        force: bool,
    ) -> Result<Comparison, Conflicts> {
        let compare = self.typed.compare(old, new).exclude(&self.ignored);
        let changed = compare.modified.union(&compare.added);
        let conflicts: Conflicts = managers
            .iter()
            .filter(|(id, _)| id.as_str() != workflow)
            .map(|(id, vs)| (id.clone(), vs.set.intersection(&changed)))
            .filter(|(_, set)| !set.is_empty())
            .collect();
        if !force && !conflicts.is_empty() {
            return Err(conflicts);
        }
        for (id, set) in &conflicts {
            if let Some(vs) = managers.get_mut(id) {
                vs.set = vs.set.difference(set);
            }
        }
        if !compare.removed.is_empty() {
            for (id, vs) in managers.iter_mut() {
                if id != workflow {
                    vs.set = vs.set.difference(&compare.removed);
                }
            }
        }
        managers.retain(|_, vs| !vs.set.is_empty());
        Ok(compare)
    }

    /// `Updater.Update`: a non-apply write of `new` over `live` by `manager`.
    pub fn record(
        &self,
        live: &Value,
        new: &Value,
        version: &str,
        managers: &mut Managers,
        manager: &str,
    ) {
        let Ok(compare) = self.update(live, new, managers, manager, true) else {
            return;
        };
        let previous = managers
            .remove(manager)
            .map(|vs| vs.set)
            .unwrap_or_default();
        let set = previous
            .union(&compare.modified)
            .union(&compare.added)
            .difference(&compare.removed)
            .recursive_difference(&self.ignored);
        if !set.is_empty() {
            managers.insert(
                manager.to_string(),
                VersionedSet {
                    set,
                    api_version: version.to_string(),
                    applied: false,
                },
            );
        }
    }

    /// `Updater.Apply`: merges `config` into `live` and prunes what `manager` applied before
    /// and no longer does. None when the object does not change.
    pub fn apply(
        &self,
        live: &Value,
        config: &Value,
        version: &str,
        managers: &mut Managers,
        manager: &str,
        force: bool,
    ) -> Result<Option<Value>, Conflicts> {
        let merged = self.typed.merge(live, config);
        let last = managers.get(manager).map(|vs| vs.set.clone());
        let set = self
            .typed
            .to_field_set(config)
            .recursive_difference(&self.ignored);
        managers.insert(
            manager.to_string(),
            VersionedSet {
                set,
                api_version: version.to_string(),
                applied: true,
            },
        );
        let new = match last {
            Some(last) if !last.is_empty() => self.prune(&merged, managers, &last),
            _ => merged,
        };
        self.update(live, &new, managers, manager, force)?;
        Ok((!json_equal(live, &new)).then_some(new))
    }

    /// `prune`: removes what the applier owned last time, unless a manager (the applier's new
    /// configuration included) still owns it.
    fn prune(&self, merged: &Value, managers: &Managers, last: &Set) -> Value {
        let last = last.with_named_fields();
        let pruned = self.typed.remove_items(merged, &last);
        // addBackOwnedItems
        let owned = managers
            .values()
            .fold(Set::new(), |acc, vs| acc.union(&vs.set))
            .with_named_fields();
        let merged_set = self.typed.to_field_set(merged).with_named_fields();
        let pruned_set = self.typed.to_field_set(&pruned).with_named_fields();
        let pruned = self
            .typed
            .remove_items(merged, &merged_set.difference(&pruned_set.union(&owned)));
        // addBackDanglingItems
        let pruned_set = self.typed.to_field_set(&pruned).with_named_fields();
        self.typed.remove_items(
            merged,
            &merged_set.difference(&pruned_set).intersection(&last),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::path::PathElement;
    use super::super::typed::tests::TestSchema;
    use super::*;
    use serde_json::json;

    fn updater() -> Updater<'static> {
        Updater {
            typed: Typed::new(&TestSchema),
            ignored: Set::new(),
        }
    }

    fn fields(managers: &Managers, id: &str) -> Value {
        managers
            .get(id)
            .map(|vs| vs.set.to_fields_v1())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn update_takes_changed_fields_and_drops_removed_ones() {
        let u = updater();
        let mut m = Managers::new();
        let empty = json!({});
        let v1 = json!({"data": {"a": "1", "b": "2"}});
        u.record(&empty, &v1, "v1", &mut m, "creator");
        assert_eq!(
            fields(&m, "creator"),
            json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
        );
        let v2 = json!({"data": {"a": "9", "c": "3"}});
        u.record(&v1, &v2, "v1", &mut m, "editor");
        assert_eq!(fields(&m, "creator"), json!({"f:data": {}}));
        assert_eq!(
            fields(&m, "editor"),
            json!({"f:data": {"f:a": {}, "f:c": {}}})
        );
        // No change: nothing recorded for a new manager.
        u.record(&v2, &v2, "v1", &mut m, "idle");
        assert!(!m.contains_key("idle"));
    }

    #[test]
    fn apply_conflicts_only_on_different_values() {
        let u = updater();
        let mut m = Managers::new();
        let live = json!({"data": {"a": "1"}});
        u.record(&json!({}), &live, "v1", &mut m, "other");
        let same = json!({"data": {"a": "1"}});
        assert_eq!(
            u.apply(&live, &same, "v1", &mut m.clone(), "me", false),
            Ok(None)
        );
        let different = json!({"data": {"a": "2"}});
        let err = u.apply(&live, &different, "v1", &mut m.clone(), "me", false);
        let expected: Conflicts = [(
            "other".to_string(),
            Set::from_fields_v1(&json!({"f:data": {"f:a": {}}})).unwrap_or_default(),
        )]
        .into();
        assert_eq!(err, Err(expected));
        let forced = u.apply(&live, &different, "v1", &mut m, "me", true);
        assert_eq!(forced, Ok(Some(json!({"data": {"a": "2"}}))));
        assert_eq!(fields(&m, "other"), json!({"f:data": {}}));
        assert_eq!(fields(&m, "me"), json!({"f:data": {"f:a": {}}}));
    }

    #[test]
    fn prune_keeps_what_others_own() {
        let u = updater();
        let mut m = Managers::new();
        let config = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}, "data": {"k": "v", "l": "w"}});
        let Ok(Some(live)) = u.apply(&json!({}), &config, "v1", &mut m, "me", false) else {
            panic!("apply failed")
        };
        // Another applier shares container b's image and data.l.
        let theirs =
            json!({"spec": {"containers": [{"name": "b", "image": "y"}]}, "data": {"l": "w"}});
        assert_eq!(
            u.apply(&live, &theirs, "v1", &mut m, "them", false),
            Ok(None)
        );
        let smaller = json!({"spec": {"containers": [{"name": "a", "image": "x"}]}});
        let Ok(Some(out)) = u.apply(&live, &smaller, "v1", &mut m, "me", false) else {
            panic!("apply failed")
        };
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}, "data": {"l": "w"}})
        );
        // Once they let go too, the item and the field go.
        let Ok(Some(out)) = u.apply(&out, &json!({"spec": {}}), "v1", &mut m, "them", false) else {
            panic!("apply failed")
        };
        assert_eq!(
            out,
            json!({"spec": {"containers": [{"name": "a", "image": "x"}]}})
        );
        assert!(!m.contains_key("them"));
    }

    #[test]
    fn ignored_fields_are_neither_owned_nor_conflicting() {
        let mut u = updater();
        u.ignored.insert(&[PathElement::Field("status".into())]);
        let mut m = Managers::new();
        let live = json!({"status": {"ready": 1}});
        updater().record(&json!({}), &live, "v1", &mut m, "ctrl");
        let config = json!({"spec": {"x": 1}, "status": {"ready": 2}});
        let out = u.apply(&live, &config, "v1", &mut m, "me", false);
        assert_eq!(
            out,
            Ok(Some(json!({"spec": {"x": 1}, "status": {"ready": 2}})))
        );
        assert_eq!(fields(&m, "me"), json!({"f:spec": {"f:x": {}}}));
    }
}
