use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use serde_json::json;

use super::*;
use crate::api::application_set::ApplicationSetSpec;

fn appset(sync_policy: serde_json::Value) -> ApplicationSet {
    let spec: ApplicationSetSpec = serde_json::from_value(json!({
        "generators": [], "template": {"metadata": {"name": "x"}, "spec": {"project": "default", "destination": {}}},
        "syncPolicy": sync_policy,
        "preservedFields": {"annotations": ["keep.me/a"], "labels": ["keep.me/l"]}
    }))
    .unwrap();
    let mut a = ApplicationSet::new("guestbook", spec);
    a.metadata.namespace = Some("flotilla".into());
    a.metadata.uid = Some("u1".into());
    a
}

fn owner(uid: &str, name: &str) -> OwnerReference {
    OwnerReference {
        api_version: "flotilla.dev/v1alpha1".into(),
        kind: "ApplicationSet".into(),
        name: name.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn app(name: &str, path: &str, owner_uid: Option<&str>) -> Application {
    let spec = serde_json::from_value(json!({"project": "default", "destination": {"name": "dev"}, "source": {"repoURL": "https://g/r", "path": path}})).unwrap();
    let mut a = Application::new(name, spec);
    a.metadata.namespace = Some("flotilla".into());
    a.metadata.labels = Some(
        [(
            "flotilla.dev/application-set".to_string(),
            "guestbook".to_string(),
        )]
        .into(),
    );
    a.metadata.owner_references = owner_uid.map(|u| vec![owner(u, "guestbook")]);
    a
}

fn live(apps: Vec<Application>) -> HashMap<String, Arc<Application>> {
    apps.into_iter()
        .map(|mut a| {
            a.metadata.resource_version = Some("7".into());
            a.metadata.uid = Some(format!("uid-{}", a.metadata.name.as_deref().unwrap()));
            (a.metadata.name.clone().unwrap(), Arc::new(a))
        })
        .collect()
}

#[test]
fn creates_updates_and_deletes_only_what_differs() {
    let set = appset(json!(null));
    let generated = vec![
        app("a", "p", Some("u1")),
        app("b", "new", Some("u1")),
        app("c", "p", Some("u1")),
    ];
    let current = live(vec![
        app("a", "p", Some("u1")),
        app("b", "old", Some("u1")),
        app("gone", "p", Some("u1")),
    ]);
    let p = plan(&set, Policy::Sync, generated.clone(), &[], &current);
    assert_eq!(
        p.creates
            .iter()
            .map(|a| a.metadata.name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["c"]
    );
    assert_eq!(p.updates.len(), 1);
    let b = &p.updates[0];
    assert_eq!(b.spec.source.as_ref().unwrap().path.as_deref(), Some("new"));
    assert_eq!(
        b.metadata.resource_version.as_deref(),
        Some("7"),
        "updates keep the live resourceVersion"
    );
    assert_eq!(p.deletes, [("gone".to_string(), "uid-gone".to_string())]);
    assert!(p.invalid.is_empty() && p.empty_refused.is_none());
}

#[test]
fn nothing_changed_plans_nothing() {
    let set = appset(json!(null));
    let generated = vec![app("a", "p", Some("u1")), app("b", "p", Some("u1"))];
    let p = plan(
        &set,
        Policy::Sync,
        generated.clone(),
        &[],
        &live(generated.clone()),
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn policies_gate_updates_and_deletes() {
    let set = appset(json!(null));
    let generated = vec![app("a", "new", Some("u1")), app("c", "p", Some("u1"))];
    let current = live(vec![
        app("a", "old", Some("u1")),
        app("gone", "p", Some("u1")),
    ]);
    let expect = [
        (Policy::Sync, 1, 1, 1),
        (Policy::CreateUpdate, 1, 1, 0),
        (Policy::CreateDelete, 1, 0, 1),
        (Policy::CreateOnly, 1, 0, 0),
    ];
    for (policy, creates, updates, deletes) in expect {
        let p = plan(&set, policy, generated.clone(), &[], &current);
        assert_eq!(
            (p.creates.len(), p.updates.len(), p.deletes.len()),
            (creates, updates, deletes),
            "{policy:?}"
        );
        assert_eq!(p.kept_by_policy, 1 - deletes, "{policy:?}");
    }
}

#[test]
fn an_empty_generation_deletes_nothing_unless_allowed() {
    let current = live(vec![app("a", "p", Some("u1")), app("b", "p", Some("u1"))]);
    let p = plan(&appset(json!(null)), Policy::Sync, vec![], &[], &current);
    assert!(p.deletes.is_empty());
    assert_eq!(p.empty_refused, Some(2));
    let p = plan(
        &appset(json!({"allowEmpty": true})),
        Policy::Sync,
        vec![],
        &[],
        &current,
    );
    assert_eq!(p.deletes.len(), 2);
    assert_eq!(p.empty_refused, None);
}

#[test]
fn duplicates_are_reported_and_never_cause_a_delete() {
    let set = appset(json!(null));
    let generated = vec![app("a", "p", Some("u1"))];
    let current = live(vec![app("a", "p", Some("u1")), app("dup", "p", Some("u1"))]);
    let p = plan(
        &set,
        Policy::Sync,
        generated.clone(),
        &["dup".to_string()],
        &current,
    );
    assert!(p.deletes.is_empty());
    assert_eq!(
        p.invalid,
        ["ApplicationSet guestbook contains applications with duplicate name: dup"]
    );
}

#[test]
fn foreign_applications_are_left_alone_and_unowned_ones_adopted() {
    let set = appset(json!(null));
    let generated = vec![
        app("theirs", "p", Some("u1")),
        app("stray", "p", Some("u1")),
    ];
    let current = live(vec![
        app("theirs", "x", Some("other")),
        app("stray", "p", None),
        app("not-mine", "p", Some("other")),
    ]);
    let p = plan(&set, Policy::Sync, generated.clone(), &[], &current);
    assert_eq!(p.invalid.len(), 1);
    assert!(
        p.invalid[0].contains("theirs") && p.invalid[0].contains("already controlled"),
        "{:?}",
        p.invalid
    );
    assert_eq!(p.updates.len(), 1, "the unowned one is adopted");
    assert_eq!(
        p.updates[0].metadata.owner_references.as_ref().unwrap()[0].uid,
        "u1"
    );
    assert!(
        p.deletes.is_empty(),
        "other owners' Applications are never deleted"
    );
}

#[test]
fn preserved_fields_and_deletion_in_progress() {
    let set = appset(json!(null));
    let mut desired = app("a", "p", Some("u1"));
    desired.metadata.annotations = Some([("from-template".to_string(), "1".to_string())].into());
    let mut current = app("a", "p", Some("u1"));
    current.metadata.annotations = Some(
        [
            ("keep.me/a", "x"),
            ("flotilla.dev/refresh", "normal"),
            ("drop.me", "y"),
            ("from-template", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let mut labels = current.metadata.labels.clone().unwrap();
    labels.insert("keep.me/l".into(), "v".into());
    current.metadata.labels = Some(labels);
    current.metadata.finalizers = Some(vec!["pre-delete-finalizer.argocd.argoproj.io".into()]);
    let p = plan(
        &set,
        Policy::Sync,
        vec![desired.clone()],
        &[],
        &live(vec![current.clone()]),
    );
    assert_eq!(p.updates.len(), 1, "drop.me goes");
    let u = &p.updates[0];
    let ann = u.metadata.annotations.as_ref().unwrap();
    assert!(
        ann.contains_key("keep.me/a")
            && ann.contains_key("flotilla.dev/refresh")
            && !ann.contains_key("drop.me")
    );
    assert_eq!(u.metadata.labels.as_ref().unwrap()["keep.me/l"], "v");
    assert_eq!(
        u.metadata.finalizers.as_deref(),
        Some(&["pre-delete-finalizer.argocd.argoproj.io".to_string()][..])
    );
    // Applied once, the merged object is stable: no further update.
    let p2 = plan(
        &set,
        Policy::Sync,
        vec![desired.clone()],
        &[],
        &live(vec![u.clone()]),
    );
    assert!(p2.updates.is_empty());
    // An Application being deleted is neither updated nor deleted again.
    current.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::now()));
    current.spec.project = "changed".into();
    let p3 = plan(
        &set,
        Policy::Sync,
        vec![],
        &[],
        &live(vec![current, app("b", "p", Some("u1"))]),
    );
    assert_eq!(
        p3.deletes.len(),
        0,
        "the only orphan not being deleted is b, but the generation is empty"
    );
    assert_eq!(p3.empty_refused, Some(1));
}

#[test]
fn effective_policy_honours_the_override_flag() {
    let own = appset(json!({"applicationsSync": "create-only"}));
    assert_eq!(
        Policy::effective(&own, Policy::Sync, true),
        Ok(Policy::CreateOnly)
    );
    assert_eq!(
        Policy::effective(&own, Policy::Sync, false),
        Ok(Policy::Sync)
    );
    assert!(
        Policy::effective(
            &appset(json!({"applicationsSync": "yolo"})),
            Policy::Sync,
            true
        )
        .unwrap_err()
        .contains("yolo")
    );
}
