//! Defaults of the smaller kinds: PersistentVolumeClaim, Secret, NetworkPolicy (networking/v1),
//! HorizontalPodAutoscaler (autoscaling/v2), RoleBinding and ClusterRoleBinding (rbac/v1) and
//! CustomResourceDefinition (apiextensions/v1).

use serde_json::{Value, json};

use super::quantity;
use super::util::{Obj, child, default_ptr, default_str, each, empty_str, ensure, str_of};

/// `SetDefaults_PersistentVolumeClaimSpec` (with the resource lists' rounding).
pub fn pvc_spec(spec: &mut Obj) {
    default_ptr(spec, "volumeMode", json!("Filesystem"));
    if let Some(resources) = child(spec, "resources") {
        for list in ["limits", "requests"] {
            if let Some(l) = child(resources, list) {
                quantity::resource_list(l);
            }
        }
    }
}

/// A PersistentVolumeClaim, or one of a StatefulSet's `volumeClaimTemplates`.
pub fn pvc(obj: &mut Obj) {
    if let Some(spec) = ensure(obj, "spec") {
        pvc_spec(spec);
    }
    if let Some(status) = ensure(obj, "status") {
        default_str(status, "phase", "Pending");
        for list in ["capacity", "allocatedResources"] {
            if let Some(l) = child(status, list) {
                quantity::resource_list(l);
            }
        }
    }
}

/// `SetDefaults_Secret`.
pub fn secret(obj: &mut Obj) {
    default_str(obj, "type", "Opaque");
}

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`.
pub fn network_policy(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    // LabelSelector is a struct here, so an absent podSelector is written as {}.
    ensure(spec, "podSelector");
    for rules in ["ingress", "egress"] {
        each(spec, rules, |rule| {
            each(rule, "ports", |p| default_ptr(p, "protocol", json!("TCP")))
        });
    }
    let no_types = match spec.get("policyTypes") {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if no_types {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let types = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".into(), types);
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` (autoscaling/v2).
pub fn hpa(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    default_ptr(spec, "minReplicas", json!(1));
    let no_metrics = match spec.get("metrics") {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if no_metrics {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    each(spec, "metrics", |m| {
        for source in [
            "resource",
            "containerResource",
            "pods",
            "object",
            "external",
        ] {
            if let Some(target) = child(m, source).and_then(|s| child(s, "target")) {
                for key in ["value", "averageValue"] {
                    if let Some(v) = target.get_mut(key) {
                        quantity::canonicalize(v);
                    }
                }
            }
        }
    });
    if let Some(behavior) = child(spec, "behavior") {
        scaling_rules(
            behavior,
            "scaleUp",
            json!({
                "stabilizationWindowSeconds": 0,
                "selectPolicy": "Max",
                "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]
            }),
        );
        scaling_rules(
            behavior,
            "scaleDown",
            json!({
                "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]
            }),
        );
    }
}

/// `GenerateHPAScale{Up,Down}Rules`: each unset field of the rules comes from the defaults
/// (scale-down keeps no stabilization window: the controller's flag decides it).
fn scaling_rules(behavior: &mut Obj, key: &str, defaults: Value) {
    let Some(rules) = ensure(behavior, key) else {
        return;
    };
    if let Value::Object(defaults) = defaults {
        for (k, v) in defaults {
            default_ptr(rules, &k, v);
        }
    }
    if let Some(t) = rules.get_mut("tolerance") {
        quantity::canonicalize(t);
    }
}

/// `SetDefaults_RoleBinding` / `_ClusterRoleBinding` and `SetDefaults_Subject`.
pub fn binding(obj: &mut Obj) {
    if let Some(role_ref) = ensure(obj, "roleRef") {
        default_str(role_ref, "apiGroup", "rbac.authorization.k8s.io");
    }
    each(obj, "subjects", |s| {
        if empty_str(s, "apiGroup") {
            let group = match str_of(s, "kind") {
                "ServiceAccount" => "",
                "User" | "Group" => "rbac.authorization.k8s.io",
                _ => return,
            };
            s.insert("apiGroup".into(), json!(group));
        }
    });
}

/// `SetDefaults_CustomResourceDefinition(Spec)` and `SetDefaults_ServiceReference`
/// (`status.storedVersions` is set by the CRD strategy on create).
pub fn crd(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    if let Some(names) = ensure(spec, "names") {
        let kind = str_of(names, "kind").to_string();
        if empty_str(names, "singular") {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if empty_str(names, "listKind") && !kind.is_empty() {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    default_ptr(spec, "conversion", json!({"strategy": "None"}));
    if let Some(service) = child(spec, "conversion")
        .and_then(|c| child(c, "webhook"))
        .and_then(|w| child(w, "clientConfig"))
        .and_then(|c| child(c, "service"))
    {
        default_ptr(service, "port", json!(443));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn run(f: fn(&mut Obj), v: Value) -> Value {
        let mut m = match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        f(&mut m);
        Value::Object(m)
    }

    #[test]
    fn network_policy_types_follow_egress() {
        let np = run(
            network_policy,
            json!({"spec": {"ingress": [{"ports": [{"port": 80}]}]}}),
        );
        assert_eq!(
            np["spec"],
            json!({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}], "policyTypes": ["Ingress"]})
        );
        let np = run(
            network_policy,
            json!({"spec": {"podSelector": {"matchLabels": {"a": "b"}}, "egress": [{}]}}),
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        let np = run(
            network_policy,
            json!({"spec": {"policyTypes": ["Egress"], "egress": [{}]}}),
        );
        assert_eq!(np["spec"]["policyTypes"], json!(["Egress"]));
    }

    #[test]
    fn hpa_defaults_metrics_and_fills_behavior_only_when_present() {
        let hpa_obj = run(
            hpa,
            json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 5}}),
        );
        assert_eq!(hpa_obj["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa_obj["spec"]["metrics"][0]["resource"],
            json!({"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}})
        );
        assert!(hpa_obj["spec"].get("behavior").is_none());
        let hpa_obj = run(
            hpa,
            json!({"spec": {"maxReplicas": 5, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        );
        assert_eq!(
            hpa_obj["spec"]["behavior"],
            json!({
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]}
            })
        );
    }

    #[test]
    fn binding_subjects_get_their_api_group() {
        let rb = run(
            binding,
            json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [
                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}, {"kind": "User", "name": "u"},
                {"kind": "Group", "name": "g", "apiGroup": "example.com"}, {"kind": "Robot", "name": "x"}]}),
        );
        assert_eq!(rb["roleRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][0]["apiGroup"], "");
        assert_eq!(rb["subjects"][1]["apiGroup"], "rbac.authorization.k8s.io");
        assert_eq!(rb["subjects"][2]["apiGroup"], "example.com");
        assert!(rb["subjects"][3].get("apiGroup").is_none());
    }

    #[test]
    fn crd_names_and_conversion() {
        let crd_obj = run(
            crd,
            json!({"spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}}}),
        );
        assert_eq!(
            crd_obj["spec"]["names"],
            json!({"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"})
        );
        assert_eq!(crd_obj["spec"]["conversion"], json!({"strategy": "None"}));
        let crd_obj = run(
            crd,
            json!({"spec": {"names": {"kind": "W"}, "conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"name": "s", "namespace": "n"}}}}}}),
        );
        assert_eq!(
            crd_obj["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"],
            443
        );
    }

    #[test]
    fn pvc_gets_volume_mode_and_pending_phase() {
        let claim = run(
            pvc,
            json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}}}),
        );
        assert_eq!(claim["spec"]["volumeMode"], "Filesystem");
        assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
        assert_eq!(claim["status"], json!({"phase": "Pending"}));
    }
}
