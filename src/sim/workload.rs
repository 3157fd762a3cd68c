//! Workload status, kwok-style: what the controllers and the kubelet of a real cluster would
//! write into `status`, computed by a pure function of the object and of the time since its
//! current generation was first seen. The simulator has no controllers and no pods; a loop calls
//! [`reconcile`] when an object changes and again when the timer it asks for fires, and writes
//! the result through `/status`.
//!
//! Every workload becomes ready after [`WorkloadConfig::ready_after`], unless one of its
//! containers uses an image tagged `fail` ([`is_failing`]): then it fails the way an image that
//! cannot be pulled makes it fail (a Deployment's progress deadline expires, a Job hits its
//! backoff limit, a Pod stays in `ImagePullBackOff`).

mod apps;
mod batch;
mod deployment;
mod pod;
mod policy;
mod qos;
mod service;
mod util;

use std::time::Duration;

use serde_json::Value;

pub use util::pod_template_hash;

/// How the simulated cluster behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadConfig {
    /// How long pods take to become ready.
    pub ready_after: Duration,
    /// Load-balancer addresses are this prefix and a host number from 1 to 254.
    pub lb_ip_prefix: String,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        Self {
            ready_after: Duration::from_secs(1),
            lb_ip_prefix: "172.18.255.".to_string(),
        }
    }
}

/// What to write after a call to [`reconcile`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to change now.
    Unchanged,
    /// Write this as the object's new `status` (the full status object); if `recheck_after` is
    /// set, call again after it.
    Status {
        status: Value,
        recheck_after: Option<Duration>,
    },
    /// Write this spec field change (PVC binding sets spec.volumeName, pod binding
    /// spec.nodeName) and this status.
    SpecAndStatus { spec_patch: Value, status: Value },
}

/// The status the controllers would write for `obj` now.
///
/// `since` is the time elapsed since the object's current generation was first seen (creation
/// or spec change); `now_rfc3339` is the current time, used for condition and start times.
/// Returns [`Outcome::Unchanged`] when the status already says what it should, so a second call
/// with the written status gives `Unchanged`.
pub fn reconcile(
    group: &str,
    kind: &str,
    obj: &Value,
    since: Duration,
    now_rfc3339: &str,
    cfg: &WorkloadConfig,
) -> Outcome {
    if !obj.is_object() {
        return Outcome::Unchanged;
    }
    let ctx = util::Ctx::new(obj, since, now_rfc3339, cfg);
    match (group, kind) {
        ("apps", "Deployment") => deployment::reconcile(&ctx),
        ("apps", "StatefulSet") => apps::stateful_set(&ctx),
        ("apps", "DaemonSet") => apps::daemon_set(&ctx),
        ("apps", "ReplicaSet") => apps::replica_set(&ctx),
        ("batch", "Job") => batch::job(&ctx),
        ("", "Pod") => pod::reconcile(&ctx),
        ("", "Service") => service::service(&ctx),
        ("networking.k8s.io", "Ingress") => service::ingress(&ctx),
        ("", "PersistentVolumeClaim") => service::claim(&ctx),
        ("autoscaling", "HorizontalPodAutoscaler") => policy::autoscaler(&ctx),
        ("policy", "PodDisruptionBudget") => policy::disruption_budget(&ctx),
        _ => Outcome::Unchanged,
    }
}

/// Whether a workload is set to fail: any container (init or regular) of this pod spec (a
/// Pod's `spec` or a template's `spec.template.spec`) whose image tag is `fail`, as in
/// `nginx:fail` or `registry:5000/x:fail`. A digest is not a tag.
pub fn is_failing(pod_spec: &Value) -> bool {
    ["initContainers", "containers"].iter().any(|list| {
        pod_spec[*list].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["image"].as_str().is_some_and(image_fails))
        })
    })
}

/// Whether one image reference is tagged `fail`.
fn image_fails(image: &str) -> bool {
    util::ImageRef::parse(image).tag.as_deref() == Some("fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn failing_images_are_found_anywhere_in_the_pod() {
        let spec = |init: &str, main: &str| json!({"initContainers": [{"name": "i", "image": init}], "containers": [{"name": "c", "image": main}]});
        assert!(is_failing(&spec("busybox", "nginx:fail")));
        assert!(is_failing(&spec("registry:5000/x:fail", "nginx")));
        assert!(is_failing(&spec("busybox", "nginx:fail@sha256:0123")));
        assert!(!is_failing(&spec("busybox", "nginx")));
        assert!(!is_failing(&spec("busybox", "nginx@sha256:fail")));
        assert!(!is_failing(&spec("busybox", "fail")));
        assert!(!is_failing(&spec("busybox", "registry:5000/fail")));
        assert!(!is_failing(&json!({"containers": "nope"})));
        assert!(!is_failing(&json!(null)));
        assert!(!is_failing(&json!({"containers": [{"image": 3}]})));
    }

    #[test]
    fn unknown_kinds_and_odd_objects_are_left_alone() {
        let cfg = WorkloadConfig::default();
        let now = "2024-05-01T10:00:00Z";
        let cm = json!({"metadata": {"name": "c"}, "data": {}});
        assert_eq!(
            reconcile("", "ConfigMap", &cm, Duration::ZERO, now, &cfg),
            Outcome::Unchanged
        );
        assert_eq!(
            reconcile("batch", "CronJob", &cm, Duration::ZERO, now, &cfg),
            Outcome::Unchanged
        );
        assert_eq!(
            reconcile("apps", "Deployment", &json!("x"), Duration::ZERO, now, &cfg),
            Outcome::Unchanged
        );
    }

    #[test]
    fn no_kind_panics_on_odd_input() {
        let cfg = WorkloadConfig::default();
        let kinds = [
            ("apps", "Deployment"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
            ("batch", "Job"),
            ("", "Pod"),
            ("", "Service"),
            ("networking.k8s.io", "Ingress"),
            ("", "PersistentVolumeClaim"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("policy", "PodDisruptionBudget"),
        ];
        let odd = [
            json!({}),
            json!({"metadata": {"name": 5, "generation": "2"}, "spec": "x", "status": []}),
            json!({"metadata": {"name": "a"}, "spec": {"replicas": "3", "template": 7, "completions": "x",
                "parallelism": -1, "backoffLimit": "6", "minReplicas": "2", "maxReplicas": [],
                "minAvailable": "abc%", "maxUnavailable": {}, "containers": {"a": 1}, "type": 9,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x", "maxUnavailable": "200%"}},
                "resources": {"requests": {"storage": 5}}, "metrics": "cpu"}}),
            json!({"metadata": {"name": "a", "generation": 1}, "spec": {"replicas": 2147483647,
                "template": {"spec": {"containers": [{"name": "c", "image": "x:fail", "resources": {"limits": {"cpu": "1e"}}}]}}},
                "status": {"conditions": "x", "replicas": "1", "startTime": 4}}),
        ];
        for (group, kind) in kinds {
            for obj in &odd {
                for since in [Duration::ZERO, Duration::from_secs(5)] {
                    let _ = reconcile(group, kind, obj, since, "not a time", &cfg);
                }
            }
        }
    }
}
