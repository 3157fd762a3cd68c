//! Defaulting, as kube-apiserver applies it to every object it decodes: the `SetDefaults_*`
//! functions of each built-in API group (chained over nested types as the generated
//! `zz_generated.defaults.go` files do), the declarative `+default` tags, the few v1 conversion
//! rules that rewrite fields, quantity canonicalization, and the allocations the Service REST
//! storage makes on create. Defaults only fill what is unset, so applying them twice equals once;
//! a field of an unexpected type is left alone for validation to report.
//!
//! Not covered: CRD schema (`default:`) defaulting of custom resources (the schema is not
//! available here), Job selector generation (needs the uid), and serialization-only artifacts
//! such as `creationTimestamp: null` in pod templates.

mod image;
mod misc;
mod pod;
pub(crate) mod quantity;
mod service;
mod util;
mod workloads;

use serde_json::Value;

/// Fills in the defaults kube-apiserver sets on `obj` of this group/kind.
pub fn apply_defaults(group: &str, kind: &str, obj: &mut Value) {
    let namespace = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(o) = obj.as_object_mut() else { return };
    match (group, kind) {
        ("", "Pod") => pod::pod(o),
        ("", "Service") => service::service(o, &namespace, &name),
        ("", "PersistentVolumeClaim") => misc::pvc(o),
        ("", "Secret") => misc::secret(o),
        ("apps", "Deployment") => workloads::deployment(o),
        ("apps", "StatefulSet") => workloads::stateful_set(o),
        ("apps", "DaemonSet") => workloads::daemon_set(o),
        ("apps", "ReplicaSet") => workloads::replica_set(o),
        ("batch", "Job") => workloads::job(o),
        ("batch", "CronJob") => workloads::cron_job(o),
        ("networking.k8s.io", "NetworkPolicy") => misc::network_policy(o),
        ("autoscaling", "HorizontalPodAutoscaler") => misc::hpa(o),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => misc::binding(o),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => misc::crd(o),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaulted(group: &str, kind: &str, mut obj: Value) -> Value {
        apply_defaults(group, kind, &mut obj);
        obj
    }

    /// A minimal Deployment, and its spec as `kubectl get deploy web -o yaml` shows it on a 1.33
    /// cluster (apps/v1 and core/v1 defaults; the template's `creationTimestamp: null` aside).
    #[test]
    fn minimal_deployment_matches_a_real_cluster() {
        let obj = defaulted(
            "apps",
            "Deployment",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}}),
        );
        let expected = json!({
            "progressDeadlineSeconds": 600,
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "image": "nginx:1.27",
                        "imagePullPolicy": "IfNotPresent",
                        "name": "nginx",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {},
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
        });
        assert_eq!(obj["spec"], expected);
        assert_eq!(
            obj["metadata"],
            json!({"name": "web", "namespace": "default"})
        );
    }

    #[test]
    fn user_values_are_never_overwritten() {
        let obj = defaulted(
            "apps",
            "Deployment",
            json!({"metadata": {"name": "w"}, "spec": {"replicas": 0, "revisionHistoryLimit": 0, "strategy": {"type": "Recreate"},
                "template": {"spec": {"restartPolicy": "Always", "dnsPolicy": "Default", "terminationGracePeriodSeconds": 0,
                    "securityContext": {"runAsNonRoot": true},
                    "containers": [{"name": "c", "image": "app", "imagePullPolicy": "Never"}]}}}}),
        );
        let spec = &obj["spec"];
        assert_eq!(
            (
                spec["replicas"].as_i64(),
                spec["revisionHistoryLimit"].as_i64()
            ),
            (Some(0), Some(0))
        );
        assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["dnsPolicy"], "Default");
        assert_eq!(pod["terminationGracePeriodSeconds"], 0);
        assert_eq!(pod["securityContext"], json!({"runAsNonRoot": true}));
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Never");
    }

    #[test]
    fn stateful_set_and_daemon_set() {
        let sts = defaulted(
            "apps",
            "StatefulSet",
            json!({"metadata": {"name": "db"}, "spec": {"serviceName": "db", "selector": {}, "template": {"spec": {"containers": []}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}),
        );
        let spec = &sts["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(
            (
                spec["replicas"].as_i64(),
                spec["revisionHistoryLimit"].as_i64()
            ),
            (Some(1), Some(10))
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0],
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
                "status": {"phase": "Pending"}})
        );
        // An explicit RollingUpdate without rollingUpdate gets no partition (only a defaulted type does).
        let sts = defaulted(
            "apps",
            "StatefulSet",
            json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}}),
        );
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate"})
        );
        let ds = defaulted(
            "apps",
            "DaemonSet",
            json!({"spec": {"template": {"spec": {"containers": []}}}}),
        );
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    }

    #[test]
    fn job_defaults() {
        let job = defaulted(
            "batch",
            "Job",
            json!({"metadata": {"name": "pi", "namespace": "default"}, "spec": {"template": {"metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl:5.34.0", "command": ["perl"]}]}}}}),
        );
        let spec = &job["spec"];
        for (k, v) in [
            ("backoffLimit", json!(6)),
            ("completionMode", json!("NonIndexed")),
            ("completions", json!(1)),
            ("manualSelector", json!(false)),
            ("parallelism", json!(1)),
            ("podReplacementPolicy", json!("TerminatingOrFailed")),
            ("suspend", json!(false)),
        ] {
            assert_eq!(spec[k], v, "{k}");
        }
        assert!(
            spec.get("selector").is_none(),
            "the selector needs the uid and is not generated"
        );
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        assert_eq!(
            spec["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(job["metadata"]["labels"], json!({"app": "pi"}));
        // Parallel jobs keep completions unset; per-index backoff and failure policies change defaults.
        let job = defaulted(
            "batch",
            "Job",
            json!({"metadata": {"labels": {"team": "a"}}, "spec": {"parallelism": 3, "backoffLimitPerIndex": 1, "completionMode": "Indexed", "completions": 5,
                "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}}}),
        );
        assert_eq!(job["spec"]["backoffLimit"], 2147483647);
        assert_eq!(job["spec"]["podReplacementPolicy"], "Failed");
        assert_eq!(
            job["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"],
            "True"
        );
        assert_eq!(job["metadata"]["labels"], json!({"team": "a"}));
        let job = defaulted("batch", "Job", json!({"spec": {"parallelism": 2}}));
        assert!(job["spec"].get("completions").is_none());
        // No default restartPolicy exemption: PodSpec defaulting gives Always, which Job validation rejects.
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn cron_job_defaults() {
        let cj = defaulted(
            "batch",
            "CronJob",
            json!({"metadata": {"name": "hello"}, "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "hello", "image": "busybox:1.28"}]}}}}}}),
        );
        let spec = &cj["spec"];
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        // The job template gets pod defaults but not SetDefaults_Job.
        let job_spec = &spec["jobTemplate"]["spec"];
        assert!(job_spec.get("backoffLimit").is_none() && job_spec.get("completions").is_none());
        assert_eq!(
            job_spec["template"]["spec"]["schedulerName"],
            "default-scheduler"
        );
        assert_eq!(
            job_spec["template"]["spec"]["containers"][0]["terminationMessagePolicy"],
            "File"
        );
    }

    #[test]
    fn defaults_are_idempotent() {
        let cases = [
            (
                "apps",
                "Deployment",
                json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x",
                "resources": {"limits": {"cpu": 0.5}}, "livenessProbe": {"httpGet": {"port": 80}}}], "volumes": [{"name": "v"}]}}}}),
            ),
            (
                "",
                "Service",
                json!({"metadata": {"name": "s", "namespace": "n"}, "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}]}}),
            ),
            ("", "Service", json!({"spec": {"clusterIP": "None"}})),
            (
                "",
                "Pod",
                json!({"spec": {"containers": [{"name": "c", "image": "x", "resources": {"limits": {"memory": "1.5Gi"}}}]}}),
            ),
            (
                "batch",
                "Job",
                json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}}),
            ),
            ("batch", "CronJob", json!({"spec": {}})),
            (
                "apps",
                "StatefulSet",
                json!({"spec": {"volumeClaimTemplates": [{"spec": {}}]}}),
            ),
            (
                "autoscaling",
                "HorizontalPodAutoscaler",
                json!({"spec": {"behavior": {}}}),
            ),
            ("networking.k8s.io", "NetworkPolicy", json!({})),
            (
                "rbac.authorization.k8s.io",
                "ClusterRoleBinding",
                json!({"subjects": [{"kind": "User", "name": "u"}]}),
            ),
            (
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                json!({"spec": {"names": {"kind": "W"}}}),
            ),
        ];
        for (group, kind, obj) in cases {
            let once = defaulted(group, kind, obj);
            let twice = defaulted(group, kind, once.clone());
            assert_eq!(once, twice, "{kind}");
        }
    }

    #[test]
    fn wrong_typed_input_is_left_alone() {
        let odd = [
            json!("a string"),
            json!(null),
            json!([1, 2]),
            json!({"spec": "nope"}),
            json!({"spec": {"replicas": "three", "strategy": 5, "template": {"spec": {"containers": "x", "volumes": [1, null, {"name": 7}]}}}}),
            json!({"spec": {"template": {"spec": {"containers": [null, 3, {"image": 5, "ports": "80", "resources": []}]}}}}),
            json!({"metadata": {"name": 5}, "spec": {"ports": [{"port": "http", "targetPort": []}], "clusterIPs": "x", "selector": [], "type": 3}}),
            json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": "x"}], "clusterIP": 10}}),
        ];
        for group_kind in [
            ("", "Pod"),
            ("", "Service"),
            ("", "PersistentVolumeClaim"),
            ("", "Secret"),
            ("apps", "Deployment"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("apps", "ReplicaSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("networking.k8s.io", "NetworkPolicy"),
            ("autoscaling", "HorizontalPodAutoscaler"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ] {
            for obj in &odd {
                let _ = defaulted(group_kind.0, group_kind.1, obj.clone());
            }
        }
        let dep = defaulted("apps", "Deployment", odd[4].clone());
        assert_eq!(dep["spec"]["replicas"], "three");
        assert_eq!(dep["spec"]["strategy"], 5);
        assert_eq!(dep["spec"]["template"]["spec"]["containers"], "x");
        assert_eq!(defaulted("apps", "Deployment", odd[3].clone()), odd[3]);
        let pod = defaulted("apps", "Deployment", odd[5].clone());
        assert_eq!(
            pod["spec"]["template"]["spec"]["containers"][2],
            json!({"image": 5, "ports": "80", "resources": []})
        );
    }

    #[test]
    fn unknown_kinds_and_custom_resources_are_untouched() {
        let obj = json!({"spec": {"replicas": null}});
        assert_eq!(defaulted("example.com", "Deployment", obj.clone()), obj);
        assert_eq!(defaulted("", "ConfigMap", obj.clone()), obj);
    }
}
