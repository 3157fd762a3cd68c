//! The per-kind validation kube-apiserver runs on a decoded, defaulted object (422 Invalid)
//! that a GitOps user runs into: workload selectors (`ValidateDeploymentSpec`,
//! `ValidateReplicaSetSpec`, `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`), replicas,
//! pod templates' containers and restart policies (`ValidatePodSpec`), Service ports
//! (`ValidateService`), and what an update may not change (uid, workload selectors). Messages
//! are `field.Error`s: (field path, error body).

use serde_json::{Map, Value};

use super::{LABEL_1123_MSG, is_dns1123_label};
use crate::sim::resource::ResourceType;
use crate::sim::selector::LabelSelector;

type Problems = Vec<(String, String)>;

fn push(out: &mut Problems, field: impl Into<String>, body: impl Into<String>) {
    out.push((field.into(), body.into()));
}

/// `%q` of a Go string.
fn q(s: &str) -> String {
    format!("{s:?}")
}

/// `%#v` of a `map[string]string`.
fn go_string_map(m: Option<&Map<String, Value>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", q(k), q(v.as_str().unwrap_or_default())))
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// `%#v` of a `metav1.LabelSelector`, as field errors print a selector.
fn go_label_selector(sel: &Value) -> String {
    let labels = go_string_map(sel.get("matchLabels").and_then(Value::as_object));
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|e| {
                    let values = match e.get("values").and_then(Value::as_array) {
                        None => "[]string(nil)".to_string(),
                        Some(vs) => {
                            let vs: Vec<String> = vs
                                .iter()
                                .map(|v| q(v.as_str().unwrap_or_default()))
                                .collect();
                            format!("[]string{{{}}}", vs.join(", "))
                        }
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        q(e["key"].as_str().unwrap_or_default()),
                        q(e["operator"].as_str().unwrap_or_default())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{exprs}}}")
}

fn at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(obj, |v, k| v.get(*k))
        .filter(|v| !v.is_null())
}

fn text<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    at(obj, path).and_then(Value::as_str).unwrap_or_default()
}

/// `ValidateNonnegativeField` of an optional integer.
fn nonnegative(obj: &Value, path: &[&str], out: &mut Problems) {
    if let Some(n) = at(obj, path).and_then(Value::as_i64)
        && n < 0
    {
        push(
            out,
            path.join("."),
            format!("Invalid value: {n}: must be greater than or equal to 0"),
        );
    }
}

/// `IsValidPortNum`.
fn port_problem(n: i64) -> Option<String> {
    (!(1..=65535).contains(&n))
        .then(|| format!("Invalid value: {n}: must be between 1 and 65535, inclusive"))
}

/// `ValidateDNS1123Label` of a name that must be set.
fn dns_label(name: &str, field: String, out: &mut Problems) {
    if name.is_empty() {
        push(out, field, "Required value");
    } else if !is_dns1123_label(name) {
        push(
            out,
            field,
            format!("Invalid value: {}: {LABEL_1123_MSG}", q(name)),
        );
    }
}

/// The containers of a pod spec at `prefix` (`validateContainers`): required, named with
/// unique DNS labels, with an image, and valid container ports.
fn pod_spec(spec: &Value, prefix: &str, out: &mut Problems) {
    let containers = spec
        .get("containers")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty());
    let Some(containers) = containers else {
        push(out, format!("{prefix}.containers"), "Required value");
        return;
    };
    let mut names: Vec<&str> = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let path = format!("{prefix}.containers[{i}]");
        let name = text(c, &["name"]);
        dns_label(name, format!("{path}.name"), out);
        if text(c, &["image"]).is_empty() {
            push(out, format!("{path}.image"), "Required value");
        }
        for (j, p) in c
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = format!("{path}.ports[{j}].containerPort");
            match p.get("containerPort").and_then(Value::as_i64).unwrap_or(0) {
                0 => push(out, field, "Required value"),
                n => {
                    if let Some(m) = port_problem(n) {
                        push(out, field, m);
                    }
                }
            }
        }
        if names.contains(&name) {
            push(
                out,
                format!("{path}.name"),
                format!("Duplicate value: {}", q(name)),
            );
        } else {
            names.push(name);
        }
    }
}

/// A workload's selector and pod template: `kind` names it in the empty-selector message.
fn workload(obj: &Value, kind: &str, replicas: bool, out: &mut Problems) {
    if replicas {
        nonnegative(obj, &["spec", "replicas"], out);
    }
    let selector = at(obj, &["spec", "selector"]);
    let labels = at(obj, &["spec", "template", "metadata", "labels"]).and_then(Value::as_object);
    let empty = selector.is_some_and(|s| {
        s.get("matchLabels")
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
            && s.get("matchExpressions")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
    });
    let mismatch = || {
        (
            "spec.template.metadata.labels".to_string(),
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                go_string_map(labels)
            ),
        )
    };
    // LabelSelectorAsSelector: null selects nothing, {} everything.
    let matches =
        |sel: Option<&Value>| match LabelSelector::from_object(sel.unwrap_or(&Value::Null)) {
            Ok(s) => s.is_empty() || s.matches(labels.unwrap_or(&Map::new())),
            Err(_) => true,
        };
    let empty_problem = |s: &Value| {
        (
            "spec.selector".to_string(),
            format!(
                "Invalid value: {}: empty selector is invalid for {kind}",
                go_label_selector(s)
            ),
        )
    };
    if kind == "daemonset" {
        if !matches(selector) {
            out.push(mismatch());
        }
        if let Some(s) = selector.filter(|_| empty) {
            out.push(empty_problem(s));
        }
    } else {
        match selector {
            None => push(out, "spec.selector", "Required value"),
            Some(s) if empty => out.push(empty_problem(s)),
            Some(_) => {}
        }
        if !matches(selector) {
            out.push(mismatch());
        }
    }
    if let Some(spec) = at(obj, &["spec", "template", "spec"]) {
        pod_spec(spec, "spec.template.spec", out);
        let policy = text(spec, &["restartPolicy"]);
        if !policy.is_empty() && policy != "Always" {
            push(
                out,
                "spec.template.spec.restartPolicy",
                format!(
                    "Unsupported value: {}: supported values: \"Always\"",
                    q(policy)
                ),
            );
        }
    } else {
        push(out, "spec.template.spec.containers", "Required value");
    }
}

/// A Job's pod template must not restart always.
fn job_template(template: &Value, prefix: &str, out: &mut Problems) {
    let spec = at(template, &["spec"]).unwrap_or(&Value::Null);
    pod_spec(spec, &format!("{prefix}.spec"), out);
    let policy = text(spec, &["restartPolicy"]);
    if policy != "OnFailure" && policy != "Never" {
        push(
            out,
            format!("{prefix}.spec.restartPolicy"),
            format!(
                "Unsupported value: {}: supported values: \"OnFailure\", \"Never\"",
                q(policy)
            ),
        );
    }
}

/// `ValidateService`'s ports.
fn service(obj: &Value, out: &mut Problems) {
    let spec = at(obj, &["spec"]).unwrap_or(&Value::Null);
    let headless = text(spec, &["clusterIP"]) == "None";
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if ports.is_empty() && !headless && text(spec, &["type"]) != "ExternalName" {
        push(out, "spec.ports", "Required value");
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = text(p, &["name"]);
        if ports.len() > 1 && name.is_empty() {
            push(out, format!("{path}.name"), "Required value");
        } else if !name.is_empty() {
            dns_label(name, format!("{path}.name"), out);
            if names.contains(&name) {
                push(
                    out,
                    format!("{path}.name"),
                    format!("Duplicate value: {}", q(name)),
                );
            } else {
                names.push(name);
            }
        }
        if let Some(m) = port_problem(p.get("port").and_then(Value::as_i64).unwrap_or(0)) {
            push(out, format!("{path}.port"), m);
        }
        if let Some(n) = p.get("targetPort").and_then(Value::as_i64)
            && let Some(m) = port_problem(n)
        {
            push(out, format!("{path}.targetPort"), m);
        }
    }
}

/// The problems of an object of a built-in kind (custom resources are validated by their
/// schema).
pub fn problems(rt: &ResourceType, obj: &Value) -> Problems {
    let mut out = Vec::new();
    if rt.crd.is_some() {
        return out;
    }
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("apps", "Deployment") => workload(obj, "deployment", true, &mut out),
        // kube-apiserver's ReplicaSet validation says "deployment" too.
        ("apps", "ReplicaSet") => workload(obj, "deployment", true, &mut out),
        ("apps", "StatefulSet") => workload(obj, "statefulset", true, &mut out),
        ("apps", "DaemonSet") => workload(obj, "daemonset", false, &mut out),
        ("batch", "Job") => {
            nonnegative(obj, &["spec", "parallelism"], &mut out);
            nonnegative(obj, &["spec", "completions"], &mut out);
            nonnegative(obj, &["spec", "backoffLimit"], &mut out);
            job_template(
                at(obj, &["spec", "template"]).unwrap_or(&Value::Null),
                "spec.template",
                &mut out,
            );
        }
        ("batch", "CronJob") => job_template(
            at(obj, &["spec", "jobTemplate", "spec", "template"]).unwrap_or(&Value::Null),
            "spec.jobTemplate.spec.template",
            &mut out,
        ),
        ("", "Pod") => pod_spec(at(obj, &["spec"]).unwrap_or(&Value::Null), "spec", &mut out),
        ("", "Service") => service(obj, &mut out),
        _ => {}
    }
    out
}

/// What an update may not change: the uid (`ValidateObjectMetaUpdate`; an update without one
/// keeps the stored one) and a workload's selector (apps/v1).
pub fn update_problems(
    rt: &ResourceType,
    old: &Value,
    requested_uid: &str,
    new: &Value,
) -> Problems {
    let mut out = Vec::new();
    let old_uid = text(old, &["metadata", "uid"]);
    if !requested_uid.is_empty() && requested_uid != old_uid {
        push(
            &mut out,
            "metadata.uid",
            format!("Invalid value: {}: field is immutable", q(requested_uid)),
        );
    }
    let immutable_selector = rt.crd.is_none()
        && rt.group == "apps"
        && matches!(
            rt.kind.as_str(),
            "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
        );
    if immutable_selector {
        let (before, after) = (
            at(old, &["spec", "selector"]),
            at(new, &["spec", "selector"]),
        );
        let same = match (before, after) {
            (Some(b), Some(a)) => {
                LabelSelector::from_object(b).ok() == LabelSelector::from_object(a).ok()
            }
            (b, a) => b == a,
        };
        if !same {
            push(
                &mut out,
                "spec.selector",
                format!(
                    "Invalid value: {}: field is immutable",
                    go_label_selector(after.unwrap_or(&Value::Null))
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rt(kind: &str) -> ResourceType {
        crate::sim::resource::builtins()
            .into_iter()
            .find(|t| t.kind == kind)
            .unwrap()
    }

    fn text_of(p: &Problems) -> Vec<String> {
        p.iter().map(|(f, m)| format!("{f}: {m}")).collect()
    }

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"spec": {"replicas": 1, "selector": selector,
            "template": {"metadata": {"labels": labels},
                "spec": {"restartPolicy": "Always", "containers": [{"name": "web", "image": "nginx"}]}}}})
    }

    #[test]
    fn workload_selectors_read_like_kube_apiserver() {
        let d = rt("Deployment");
        assert!(
            problems(
                &d,
                &deployment(
                    json!({"matchLabels": {"app": "web"}}),
                    json!({"app": "web"})
                )
            )
            .is_empty()
        );
        let mut missing = deployment(Value::Null, json!({"app": "web"}));
        missing["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(
            text_of(&problems(&d, &missing)),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            text_of(&problems(&d, &deployment(json!({}), json!({"app": "web"})))),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
        assert_eq!(
            text_of(&problems(
                &rt("StatefulSet"),
                &deployment(
                    json!({"matchLabels": {"app": "db"}}),
                    json!({"app": "web", "x": "y"})
                )
            )),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\", \"x\":\"y\"}: `selector` does not match template `labels`"
            ]
        );
        let mut neg = deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        );
        neg["spec"]["replicas"] = json!(-1);
        assert_eq!(
            text_of(&problems(&d, &neg)),
            ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
    }

    #[test]
    fn containers_need_a_name_and_an_image() {
        let pod = json!({"spec": {"containers": [{"name": "Web", "image": ""}, {"name": "Web", "image": "x", "ports": [{"containerPort": 70000}]}]}});
        assert_eq!(
            text_of(&problems(&rt("Pod"), &pod)),
            [
                format!("spec.containers[0].name: Invalid value: \"Web\": {LABEL_1123_MSG}"),
                "spec.containers[0].image: Required value".to_string(),
                format!("spec.containers[1].name: Invalid value: \"Web\": {LABEL_1123_MSG}"),
                "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive".to_string(),
                "spec.containers[1].name: Duplicate value: \"Web\"".to_string(),
            ]
        );
        assert_eq!(
            text_of(&problems(&rt("Pod"), &json!({"spec": {}}))),
            ["spec.containers: Required value"]
        );
        let job = json!({"spec": {"template": {"spec": {"restartPolicy": "Always", "containers": [{"name": "j", "image": "busybox"}]}}}});
        assert_eq!(
            text_of(&problems(&rt("Job"), &job)),
            [
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
    }

    #[test]
    fn service_ports() {
        let svc = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 0}, {"name": "b", "port": 80}]}});
        assert_eq!(
            text_of(&problems(&rt("Service"), &svc)),
            [
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
            ]
        );
        assert_eq!(
            text_of(&problems(
                &rt("Service"),
                &json!({"spec": {"type": "ClusterIP"}})
            )),
            ["spec.ports: Required value"]
        );
        assert!(
            problems(
                &rt("Service"),
                &json!({"spec": {"type": "ExternalName", "externalName": "x.example"}})
            )
            .is_empty()
        );
    }

    #[test]
    fn uid_and_selectors_are_immutable() {
        let d = rt("Deployment");
        let old = json!({"metadata": {"uid": "a"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let new = json!({"metadata": {"uid": "a"}, "spec": {"selector": {"matchLabels": {"app": "api"}}}});
        assert_eq!(
            text_of(&update_problems(&d, &old, "b", &old)),
            ["metadata.uid: Invalid value: \"b\": field is immutable"]
        );
        assert!(update_problems(&d, &old, "", &old).is_empty());
        assert_eq!(
            text_of(&update_problems(&d, &old, "a", &new)),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"api\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
    }
}
