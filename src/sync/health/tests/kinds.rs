//! Service, Ingress, PVC, Job, HPA, APIService and custom resources.

use serde_json::{Value, json};

use super::*;

#[test]
fn service_health() {
    let svc = |ty: &str, status: Value| json!({"apiVersion": "v1", "kind": "Service", "spec": {"type": ty}, "status": status});
    assert_eq!(status(svc("ClusterIP", json!({}))), "Healthy");
    assert_eq!(status(svc("NodePort", json!({}))), "Healthy");
    assert_eq!(
        status(svc("LoadBalancer", json!({"loadBalancer": {}}))),
        "Progressing"
    );
    assert_eq!(
        status(svc(
            "LoadBalancer",
            json!({"loadBalancer": {"ingress": []}})
        )),
        "Progressing"
    );
    assert_eq!(
        status(svc(
            "LoadBalancer",
            json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}})
        )),
        "Healthy"
    );
}

#[test]
fn ingress_health() {
    for api in ["networking.k8s.io/v1", "extensions/v1beta1"] {
        let ing = |status: Value| json!({"apiVersion": api, "kind": "Ingress", "status": status});
        assert_eq!(status(ing(json!({}))), "Progressing");
        assert_eq!(
            status(ing(
                json!({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}]}})
            )),
            "Healthy"
        );
    }
}

#[test]
fn pvc_health() {
    let pvc = |phase: &str| json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": phase}});
    assert_eq!(status(pvc("Bound")), "Healthy");
    assert_eq!(status(pvc("Pending")), "Progressing");
    assert_eq!(status(pvc("Lost")), "Degraded");
    assert_eq!(status(pvc("")), "Unknown");
}

fn job(conditions: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"conditions": conditions}})
}

#[test]
fn job_health() {
    assert_eq!(health(job(json!([]))), ("Progressing".into(), None));
    assert_eq!(
        health(job(
            json!([{"type": "Complete", "status": "True", "message": "ok"}])
        )),
        ("Healthy".into(), Some("ok".into()))
    );
    assert_eq!(
        health(job(json!([
            {"type": "FailureTarget", "status": "True"},
            {"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]))),
        ("Degraded".into(), Some("BackoffLimitExceeded".into()))
    );
    assert_eq!(
        health(job(
            json!([{"type": "Suspended", "status": "True", "message": "Job suspended"}])
        )),
        ("Suspended".into(), Some("Job suspended".into()))
    );
    assert_eq!(
        status(job(
            json!([{"type": "Suspended", "status": "False", "message": "Job resumed"}])
        )),
        "Progressing"
    );
}

fn hpa_v2(conditions: Value) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"}, "status": {"conditions": conditions}})
}

fn hpa_v1(annotation: Option<&str>) -> Value {
    let mut h = json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h"}});
    if let Some(a) = annotation {
        h["metadata"]["annotations"] = json!({"autoscaling.alpha.kubernetes.io/conditions": a});
    }
    h
}

#[test]
fn hpa_v2_healthy() {
    let h = hpa_v2(json!([
        {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
        {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound", "message": "ok"},
        {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange", "message": "in range"}]));
    assert_eq!(
        health(h),
        (
            "Healthy".into(),
            Some("recommended size matches current size".into())
        )
    );
}

#[test]
fn hpa_v2_degraded_even_after_a_healthy_condition() {
    for (ty, reason) in [
        ("AbleToScale", "FailedGetScale"),
        ("AbleToScale", "FailedUpdateScale"),
        ("ScalingActive", "FailedGetResourceMetric"),
        ("ScalingActive", "InvalidSelector"),
    ] {
        let h = hpa_v2(json!([
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale", "message": "fine"},
            {"type": ty, "status": "False", "reason": reason, "message": "no metrics"}]));
        assert_eq!(health(h), ("Degraded".into(), Some("no metrics".into())));
    }
}

#[test]
fn hpa_v2_progressing() {
    assert_eq!(
        health(hpa_v2(json!([]))),
        ("Progressing".into(), Some("Waiting to Autoscale".into()))
    );
    // ScalingActive=False with ScalingDisabled is not a failure, but not healthy either
    let h = hpa_v2(json!([
        {"type": "AbleToScale", "status": "False", "reason": "BackoffBoth"},
        {"type": "ScalingActive", "status": "False", "reason": "ScalingDisabled"}]));
    assert_eq!(status(h), "Progressing");
    let h = hpa_v2(json!([
        {"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas", "message": "min"}]));
    assert_eq!(health(h), ("Healthy".into(), Some("min".into())));
}

#[test]
fn hpa_v1_annotation() {
    assert_eq!(
        health(hpa_v1(None)),
        ("Progressing".into(), Some("Waiting to Autoscale".into()))
    );
    assert_eq!(status(hpa_v1(Some("[]"))), "Progressing");
    let healthy = r#"[{"type":"AbleToScale","status":"True","reason":"SucceededRescale","message":"scaled"}]"#;
    assert_eq!(
        health(hpa_v1(Some(healthy))),
        ("Healthy".into(), Some("scaled".into()))
    );
    let degraded = r#"[{"type":"AbleToScale","status":"True","reason":"SucceededGetScale"},{"type":"ScalingActive","status":"False","reason":"FailedGetResourceMetric","message":"missing request for cpu"}]"#;
    assert_eq!(
        health(hpa_v1(Some(degraded))),
        ("Degraded".into(), Some("missing request for cpu".into()))
    );
    let go_names = r#"[{"Type":"AbleToScale","Status":"True","Reason":"SucceededRescale","Message":"scaled"}]"#;
    assert_eq!(status(hpa_v1(Some(go_names))), "Healthy");
    let (s, m) = health(hpa_v1(Some("not json")));
    assert_eq!(s, "Unknown");
    assert!(
        m.unwrap()
            .starts_with("failed to convert conditions annotation to typed")
    );
}

#[test]
fn api_service_health() {
    let api = |conditions: Value| {
        json!({"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "status": {"conditions": conditions}})
    };
    assert_eq!(
        health(api(
            json!([{"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}])
        )),
        ("Healthy".into(), Some("Passed: all checks passed".into()))
    );
    assert_eq!(
        health(api(
            json!([{"type": "Available", "status": "False", "reason": "MissingEndpoints", "message": "no endpoints"}])
        )),
        (
            "Progressing".into(),
            Some("MissingEndpoints: no endpoints".into())
        )
    );
    assert_eq!(
        health(api(json!([]))),
        ("Progressing".into(), Some("Waiting to be processed".into()))
    );
}

fn cr(conditions: Value, generation: i64, observed: Option<i64>) -> Value {
    let mut obj = json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "tls", "generation": generation}, "status": {"conditions": conditions}});
    if let Some(o) = observed {
        obj["status"]["observedGeneration"] = json!(o);
    }
    obj
}

#[test]
fn custom_resource_ready_condition() {
    let ready = |s: &str| json!([{"type": "Ready", "status": s, "message": "m"}]);
    assert_eq!(
        health(cr(ready("True"), 1, Some(1))),
        ("Healthy".into(), Some("m".into()))
    );
    assert_eq!(
        health(cr(ready("False"), 1, Some(1))),
        ("Degraded".into(), Some("m".into()))
    );
    assert_eq!(status(cr(ready("Unknown"), 1, None)), "Progressing");
    assert_eq!(status(cr(ready("False"), 2, Some(1))), "Progressing");
    assert_eq!(status(cr(ready("True"), 2, Some(1))), "Progressing");
    // the condition's own observedGeneration wins over status.observedGeneration
    let own = json!([{"type": "Ready", "status": "False", "observedGeneration": 2}]);
    assert_eq!(status(cr(own, 2, Some(1))), "Degraded");
}

#[test]
fn custom_resource_available_condition_and_none() {
    let available =
        json!([{"type": "Synced", "status": "True"}, {"type": "Available", "status": "True"}]);
    assert_eq!(status(cr(available, 1, None)), "Healthy");
    // Ready takes precedence over Available
    let both =
        json!([{"type": "Available", "status": "True"}, {"type": "Ready", "status": "False"}]);
    assert_eq!(status(cr(both, 1, None)), "Degraded");
    let other = cr(json!([{"type": "Synced", "status": "True"}]), 1, None);
    assert_eq!(resource_health(&other), None);
    let none = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {}});
    assert_eq!(resource_health(&none), None);
    // an Argo CD Application has conditions, but none of them is Ready or Available
    let app = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "status": {"conditions": [{"type": "ComparisonError", "message": "x"}]}});
    assert_eq!(resource_health(&app), None);
}
