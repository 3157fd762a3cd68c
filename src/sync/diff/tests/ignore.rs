//! ignoreDifferences: JSON pointers, the jq subset and managedFieldsManagers.

use serde_json::{Value, json};

use super::*;

fn ignore(group: &str, kind: &str) -> ResourceIgnoreDifferences {
    ResourceIgnoreDifferences {
        group: Some(group.into()),
        kind: kind.into(),
        ..Default::default()
    }
}

fn hpa_scaled_live() -> Value {
    let mut live = live_deployment();
    live["spec"]["replicas"] = json!(7);
    let entries = live["metadata"]["managedFields"].as_array_mut().unwrap();
    entries[0]["fieldsV1"]["f:spec"]
        .as_object_mut()
        .unwrap()
        .remove("f:replicas");
    entries.push(managed(
        "kube-controller-manager",
        "Update",
        json!({"f:spec": {"f:replicas": {}}}),
    ));
    live
}

#[test]
fn ignore_json_pointers() {
    let live = hpa_scaled_live();
    assert_eq!(drift(&desired_deployment(), &live), ["/spec/replicas"]);
    let mut rule = ignore("apps", "Deployment");
    rule.json_pointers = vec!["/spec/replicas".into()];
    assert!(drift_with(&desired_deployment(), &live, vec![rule.clone()]).is_empty());
    // a rule for another kind does not apply
    let mut other = rule.clone();
    other.kind = "StatefulSet".into();
    assert_eq!(
        drift_with(&desired_deployment(), &live, vec![other]),
        ["/spec/replicas"]
    );
}

#[test]
fn ignore_json_pointers_with_escapes() {
    let mut desired = desired_deployment();
    desired["metadata"]["annotations"]["example.com/note"] = json!("from git");
    let mut live = live_deployment();
    live["metadata"]["annotations"]["example.com/note"] = json!("edited");
    assert_eq!(
        drift(&desired, &live),
        ["/metadata/annotations/example.com~1note"]
    );
    let mut rule = ignore("apps", "Deployment");
    rule.json_pointers = vec!["/metadata/annotations/example.com~1note".into()];
    assert!(drift_with(&desired, &live, vec![rule]).is_empty());
}

#[test]
fn ignore_managed_fields_managers() {
    let mut rule = ignore("apps", "Deployment");
    rule.managed_fields_managers = vec!["kube-controller-manager".into()];
    assert!(drift_with(&desired_deployment(), &hpa_scaled_live(), vec![rule]).is_empty());
}

#[test]
fn ignore_removes_owned_fields_too() {
    // Git dropped an owned field, but the rule ignores it.
    let mut desired = desired_deployment();
    container(&mut desired)["env"] = json!([{"name": "A", "value": "1"}]);
    let mut rule = ignore("apps", "Deployment");
    rule.jq_path_expressions = vec![
        ".spec.template.spec.containers[] | select(.name == \"web\") | .env[] | select(.name == \"B\")".into(),
    ];
    assert!(drift_with(&desired, &live_deployment(), vec![rule]).is_empty());
}

#[test]
fn ignore_jq_images() {
    let mut live = live_deployment();
    container(&mut live)["image"] = json!("nginx:1.24");
    let mut rule = ignore("apps", "Deployment");
    rule.jq_path_expressions = vec![".spec.template.spec.containers[]?.image".into()];
    assert!(drift_with(&desired_deployment(), &live, vec![rule]).is_empty());
}

#[test]
fn unsupported_jq_is_an_error() {
    let mut rule = ignore("apps", "Deployment");
    rule.jq_path_expressions = vec![".spec.template.spec.containers | map(.image)".into()];
    let err = IgnoreRule::from_spec(&rule).unwrap_err();
    assert_eq!(err.metric_label(), "unsupported_jq");
    assert!(err.to_string().contains("does not run jq"), "{err}");
}
