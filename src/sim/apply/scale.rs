//! managedFields across the `/scale` subresource, as apimachinery's `managedfields.ScaleHandler`
//! moves them: the parent's entries seen as a `Scale`'s (whoever owns the replicas field owns
//! `.spec.replicas` of the Scale), and the Scale's entries after a write folded back into the
//! parent's.

use serde_json::Value;

use super::managed::{self, Managed, VersionedSet};
use super::path::PathElement;
use super::set::Set;

/// The replicas field of a Scale.
const SCALE_REPLICAS: &[&str] = &["spec", "replicas"];
/// The Scale's group version.
pub const SCALE_API_VERSION: &str = "autoscaling/v1";

fn path_of(fields: &[&str]) -> Vec<PathElement> {
    fields
        .iter()
        .map(|f| PathElement::Field(f.to_string()))
        .collect()
}

fn set_of(fields: &[&str]) -> Set {
    let mut s = Set::new();
    s.insert(&path_of(fields));
    s
}

/// Where each version of the parent keeps its replicas: `None` for a version unknown to the
/// parent, `Some(None)` for a known version without a scale subresource.
pub type ReplicasPaths<'a> = &'a dyn Fn(&str) -> Option<Option<Vec<String>>>;

/// `ToSubresource`: the parent's entries that own its replicas field, as Scale entries owning
/// `.spec.replicas`. Entries of unknown versions and entries without the field are left out.
pub fn to_subresource(
    parent_entries: Option<&Value>,
    paths: ReplicasPaths<'_>,
) -> Result<Option<Value>, String> {
    let parent = managed::decode(parent_entries)?;
    let mut out = Managed::default();
    for (id, vs) in &parent.fields {
        let Some(Some(path)) = paths(&vs.api_version) else {
            continue;
        };
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if vs.set.has(&path_of(&path)) {
            out.fields.insert(
                id.clone(),
                VersionedSet {
                    set: set_of(SCALE_REPLICAS),
                    api_version: SCALE_API_VERSION.to_string(),
                    applied: vs.applied,
                },
            );
        }
        out.times
            .insert(id.clone(), parent.times.get(id).cloned().flatten());
    }
    Ok(managed::encode(&out))
}

/// `ToParent`: the parent's entries after a write of its Scale whose entries are now
/// `scale_entries`. A parent manager that no longer owns the Scale's replicas loses the field;
/// a Scale manager new to it gets an entry for the parent's replicas field at
/// `parent_api_version`.
pub fn to_parent(
    parent_entries: Option<&Value>,
    scale_entries: Option<&Value>,
    parent_api_version: &str,
    paths: ReplicasPaths<'_>,
) -> Result<Option<Value>, String> {
    let parent = managed::decode(parent_entries)?;
    let mut scale = managed::decode(scale_entries)?.fields;
    let mut out = Managed::default();
    for (id, vs) in &parent.fields {
        let time = parent.times.get(id).cloned().flatten();
        let Some(path) = paths(&vs.api_version) else {
            // An entry of a version the parent does not know is dropped.
            continue;
        };
        let owned: Option<Vec<&str>> = path
            .as_ref()
            .map(|p| p.iter().map(String::as_str).collect());
        match owned {
            Some(replicas) if vs.set.has(&path_of(&replicas)) => {
                if scale.remove(id).is_some() {
                    out.fields.insert(id.clone(), vs.clone());
                    out.times.insert(id.clone(), time);
                } else {
                    // "Steal" the replicas field from the parent's entry.
                    let rest = vs.set.difference(&set_of(&replicas));
                    if !rest.is_empty() {
                        out.fields.insert(
                            id.clone(),
                            VersionedSet {
                                set: rest,
                                api_version: vs.api_version.clone(),
                                applied: vs.applied,
                            },
                        );
                        out.times.insert(id.clone(), time);
                    }
                }
            }
            _ => {
                out.fields.insert(id.clone(), vs.clone());
                out.times.insert(id.clone(), time);
            }
        }
    }
    let parent_path = paths(parent_api_version).flatten();
    for (id, vs) in scale {
        if !vs.set.has(&path_of(SCALE_REPLICAS)) {
            continue;
        }
        let Some(path) = &parent_path else { continue };
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        out.fields.insert(
            id.clone(),
            VersionedSet {
                set: set_of(&path),
                api_version: parent_api_version.to_string(),
                applied: vs.applied,
            },
        );
        // The parent's time of that manager: none for a manager new to the parent.
        out.times
            .insert(id.clone(), parent.times.get(&id).cloned().flatten());
    }
    Ok(managed::encode(&out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment_paths(v: &str) -> Option<Option<Vec<String>>> {
        (v == "apps/v1").then(|| Some(vec!["spec".to_string(), "replicas".to_string()]))
    }

    fn entry(manager: &str, op: &str, api: &str, sub: Option<&str>, fields: Value) -> Value {
        let mut e = json!({"manager": manager, "operation": op, "apiVersion": api, "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields});
        if let Some(s) = sub {
            e["subresource"] = json!(s);
        }
        e
    }

    #[test]
    fn the_owner_of_replicas_owns_the_scale() {
        let parent = json!([
            entry(
                "kubectl-client-side-apply",
                "Update",
                "apps/v1",
                None,
                json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {}}}})
            ),
            entry(
                "kube-controller-manager",
                "Update",
                "apps/v1",
                Some("status"),
                json!({"f:status": {"f:replicas": {}}})
            ),
        ]);
        let scale = to_subresource(Some(&parent), &deployment_paths)
            .unwrap()
            .unwrap();
        assert_eq!(
            scale,
            json!([{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "autoscaling/v1",
                "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}])
        );
    }

    #[test]
    fn a_scale_writer_takes_replicas_from_the_parent() {
        let parent = json!([
            entry(
                "kubectl-client-side-apply",
                "Update",
                "apps/v1",
                None,
                json!({"f:spec": {"f:replicas": {}, "f:paused": {}}})
            ),
            entry(
                "helm",
                "Update",
                "apps/v1",
                None,
                json!({"f:spec": {"f:replicas": {}}})
            ),
        ]);
        // After `kubectl scale`: the scale's only replicas owner is kubectl on /scale.
        let mut kubectl = entry(
            "kubectl",
            "Update",
            "autoscaling/v1",
            Some("scale"),
            json!({"f:spec": {"f:replicas": {}}}),
        );
        kubectl.as_object_mut().unwrap().remove("time");
        let scale = json!([kubectl]);
        let out = to_parent(Some(&parent), Some(&scale), "apps/v1", &deployment_paths)
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            // Sorted by time: the new entry has none (ToParent takes times from the parent).
            json!([
                {"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}, "subresource": "scale"},
                {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
                    "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}},
            ])
        );
    }

    #[test]
    fn a_kept_owner_keeps_its_whole_entry() {
        let parent = json!([entry(
            "flux",
            "Apply",
            "apps/v1",
            None,
            json!({"f:spec": {"f:replicas": {}, "f:paused": {}}})
        )]);
        let scale = to_subresource(Some(&parent), &deployment_paths).unwrap();
        let out = to_parent(Some(&parent), scale.as_ref(), "apps/v1", &deployment_paths)
            .unwrap()
            .unwrap();
        assert_eq!(out, parent);
    }
}
