//! Tests of the comparison, with a Deployment as rendered and as the API server returns it.

use serde_json::{Value, json};

use super::*;
use crate::api::application::ResourceIgnoreDifferences;

pub(super) fn opts() -> CompareOptions {
    CompareOptions::default()
}

pub(super) fn drift(desired: &Value, live: &Value) -> Vec<String> {
    compare(desired, Some(live), &opts()).drift
}

pub(super) fn drift_with(
    desired: &Value,
    live: &Value,
    rules: Vec<ResourceIgnoreDifferences>,
) -> Vec<String> {
    let ignore = rules
        .iter()
        .map(|r| IgnoreRule::from_spec(r).unwrap())
        .collect();
    let o = CompareOptions { ignore, ..opts() };
    compare(desired, Some(live), &o).drift
}

pub(super) fn managed(manager: &str, operation: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1",
        "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields})
}

/// A Deployment as rendered from Git, with the hub's tracking label and annotation.
pub(super) fn desired_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default",
            "labels": {"app.kubernetes.io/instance": "demo"},
            "annotations": {"argocd.argoproj.io/tracking-id": "demo:apps/Deployment:default/web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": 0.25}}
                }]}
            }
        }
    })
}

pub(super) fn flotilla_fields() -> Value {
    json!({
        "f:metadata": {
            "f:annotations": {"f:argocd.argoproj.io/tracking-id": {}},
            "f:labels": {"f:app.kubernetes.io/instance": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                    ".": {}, "f:name": {}, "f:image": {},
                    "f:env": {
                        "k:{\"name\":\"A\"}": {".": {}, "f:name": {}, "f:value": {}},
                        "k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}}},
                    "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                    "f:resources": {"f:limits": {"f:cpu": {}, "f:memory": {}}, "f:requests": {"f:cpu": {}}}
                }}}
            }
        }
    })
}

/// The same Deployment as the API server returns it after flotilla applied it: defaults,
/// server metadata, status, another manager's annotation and status fields.
pub(super) fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default",
            "uid": "6b0c9f3e-1d2a-4c55-9d1e-0a7f7c3b2a10", "resourceVersion": "4711",
            "generation": 3, "creationTimestamp": "2024-05-01T10:00:00Z",
            "labels": {"app.kubernetes.io/instance": "demo"},
            "annotations": {"argocd.argoproj.io/tracking-id": "demo:apps/Deployment:default/web",
                "deployment.kubernetes.io/revision": "3"},
            "managedFields": [
                managed("flotilla", "Apply", flotilla_fields()),
                managed("kube-controller-manager", "Update", json!({
                    "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}})),
                {"manager": "kube-controller-manager", "operation": "Update", "subresource": "status",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:replicas": {}}}}
            ]},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web", "image": "nginx:1.25",
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}, "requests": {"cpu": "250m"}},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"
                    }],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2,
            "availableReplicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    })
}

pub(super) fn container(obj: &mut Value) -> &mut Value {
    &mut obj["spec"]["template"]["spec"]["containers"][0]
}

mod desired;
mod display;
mod ignore;
mod owned;
