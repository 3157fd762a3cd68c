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

// ---- RespectIgnoreDifferences: what a sync applies keeps the live ignored fields ----

fn rule_of(spec: ResourceIgnoreDifferences) -> IgnoreRule {
    IgnoreRule::from_spec(&spec).unwrap()
}

#[test]
fn keep_live_takes_the_live_value_of_a_pointer() {
    let live = hpa_scaled_live();
    let mut spec = ignore("apps", "Deployment");
    spec.json_pointers = vec!["/spec/replicas".into(), "/spec/paused".into()];
    let rule = rule_of(spec);
    let mut desired = desired_deployment();
    desired["spec"]["paused"] = json!(true); // absent from live: leaves the applied object
    rule.keep_live(&mut desired, &live);
    assert_eq!(desired["spec"]["replicas"], 7);
    assert!(desired["spec"].get("paused").is_none());
    // Everything else is Git's.
    assert_eq!(
        desired["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.25"
    );
    assert!(drift(&desired, &live).is_empty());
}

#[test]
fn keep_live_adds_a_live_field_that_git_lacks() {
    let mut live = live_deployment();
    live["metadata"]["annotations"]["example.com/owner"] = json!("ops");
    let mut spec = ignore("apps", "Deployment");
    spec.json_pointers = vec!["/metadata/annotations/example.com~1owner".into()];
    let mut desired = desired_deployment();
    rule_of(spec).keep_live(&mut desired, &live);
    assert_eq!(
        desired["metadata"]["annotations"]["example.com/owner"],
        "ops"
    );
    assert_eq!(
        desired["metadata"]["annotations"]["argocd.argoproj.io/tracking-id"],
        "demo:apps/Deployment:default/web"
    );
}

#[test]
fn keep_live_follows_a_jq_filter_to_the_matching_live_item() {
    let mut live = live_deployment();
    live["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27-hotfix");
    let mut spec = ignore("apps", "Deployment");
    spec.jq_path_expressions =
        vec![r#".spec.template.spec.containers[] | select(.name == "web") | .image"#.into()];
    let mut desired = desired_deployment();
    // A second container in Git, not in the cluster yet: untouched.
    let sidecar = json!({"name": "proxy", "image": "envoy:1.30"});
    desired["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .insert(0, sidecar.clone());
    rule_of(spec).keep_live(&mut desired, &live);
    let containers = &desired["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0], sidecar);
    assert_eq!(containers[1]["image"], "nginx:1.27-hotfix");
    assert_eq!(containers[1]["env"][0]["name"], "A");
}

#[test]
fn keep_live_leaves_the_fields_of_ignored_managers_to_them() {
    let live = hpa_scaled_live();
    let mut spec = ignore("apps", "Deployment");
    spec.managed_fields_managers = vec!["kube-controller-manager".into()];
    let mut desired = desired_deployment();
    rule_of(spec).keep_live(&mut desired, &live);
    assert!(desired["spec"].get("replicas").is_none(), "{desired}");
    assert_eq!(desired["spec"]["selector"]["matchLabels"]["app"], "web");
}
