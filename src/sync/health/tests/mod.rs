//! Tests of resource and app health, with small fixtures per kind.

use serde_json::{Value, json};

use super::*;

pub(super) fn health(obj: Value) -> (String, Option<String>) {
    let h = resource_health(&obj).expect("has a health check");
    (h.status, h.message)
}

pub(super) fn status(obj: Value) -> String {
    health(obj).0
}

pub(super) fn msg(obj: Value) -> String {
    health(obj).1.unwrap_or_default()
}

#[test]
fn deletion_timestamp_is_pending_deletion_for_any_kind() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "deletionTimestamp": "2024-01-01T00:00:00Z"}});
    assert_eq!(
        health(cm),
        ("Progressing".into(), Some("Pending deletion".into()))
    );
}

#[test]
fn kinds_without_a_check_have_no_health() {
    for obj in [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role"}),
        json!({"apiVersion": "v1", "kind": "Node", "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}),
    ] {
        assert_eq!(resource_health(&obj), None, "{obj}");
    }
}

#[test]
fn health_codes_order_and_parse() {
    assert!(HealthCode::Healthy < HealthCode::Suspended);
    assert!(HealthCode::Suspended < HealthCode::Progressing);
    assert!(HealthCode::Progressing < HealthCode::Missing);
    assert!(HealthCode::Missing < HealthCode::Degraded);
    assert!(HealthCode::Degraded < HealthCode::Unknown);
    assert_eq!(HealthCode::parse("Degraded"), Some(HealthCode::Degraded));
    assert_eq!(HealthCode::parse("degraded"), None);
    assert_eq!(HealthCode::Healthy.with_message("").message, None);
}

#[test]
fn ignore_healthcheck_annotations() {
    let with = |k: &str, v: &str| json!({"metadata": {"annotations": {k: v}}});
    assert!(is_health_ignored(&with(
        "argocd.argoproj.io/ignore-healthcheck",
        "true"
    )));
    assert!(is_health_ignored(&with(
        "flotilla.dev/ignore-healthcheck",
        "true"
    )));
    assert!(!is_health_ignored(&with(
        "argocd.argoproj.io/ignore-healthcheck",
        "false"
    )));
    assert!(!is_health_ignored(&json!({"metadata": {}})));
}

mod aggregate;
mod kinds;
mod pod;
mod workloads;
