//! Rule 2: fields flotilla owns in live that desired dropped are drift.

use serde_json::json;

use super::*;

#[test]
fn a_removed_env_var_that_flotilla_owned_is_drift() {
    let mut desired = desired_deployment();
    container(&mut desired)["env"] = json!([{"name": "A", "value": "1"}]);
    assert_eq!(
        drift(&desired, &live_deployment()),
        ["/spec/template/spec/containers/0/env/1"]
    );
}

#[test]
fn an_env_var_added_by_another_manager_is_not_drift() {
    let mut live = live_deployment();
    container(&mut live)["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "DEBUG", "value": "1"}));
    live["metadata"]["managedFields"]
        .as_array_mut()
        .unwrap()
        .push(managed(
            "kubectl-edit",
            "Update",
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
            "f:env": {"k:{\"name\":\"DEBUG\"}": {".": {}, "f:name": {}, "f:value": {}}}}}}}}}),
        ));
    assert!(drift(&desired_deployment(), &live).is_empty());
}

#[test]
fn an_owned_annotation_that_git_dropped_is_drift() {
    let mut desired = desired_deployment();
    desired["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    assert_eq!(
        drift(&desired, &live_deployment()),
        ["/metadata/annotations/argocd.argoproj.io~1tracking-id"]
    );
}

#[test]
fn owned_fields_only_count_from_apply_entries_of_the_manager() {
    let mut desired = desired_deployment();
    desired["spec"].as_object_mut().unwrap().remove("replicas");
    // flotilla owned spec.replicas: dropping it from Git is drift
    assert_eq!(drift(&desired, &live_deployment()), ["/spec/replicas"]);
    // another manager's field, or a field flotilla only wrote with an update, is not
    let mut live = live_deployment();
    let fields = &mut live["metadata"]["managedFields"][0];
    fields["fieldsV1"]["f:spec"]
        .as_object_mut()
        .unwrap()
        .remove("f:replicas");
    live["metadata"]["managedFields"]
        .as_array_mut()
        .unwrap()
        .push(managed(
            "flotilla",
            "Update",
            json!({"f:spec": {"f:replicas": {}}}),
        ));
    assert!(drift(&desired, &live).is_empty());
    let o = CompareOptions {
        manager: "someone-else".into(),
        ignore: vec![],
    };
    assert!(compare(&desired, Some(&live_deployment()), &o).in_sync);
}

#[test]
fn an_owned_port_dropped_from_git_is_drift_at_its_live_index() {
    let mut desired = desired_deployment();
    container(&mut desired)["ports"] = json!([]);
    assert_eq!(
        drift(&desired, &live_deployment()),
        ["/spec/template/spec/containers/0/ports/0"]
    );
}
