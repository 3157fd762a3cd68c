//! HorizontalPodAutoscaler and PodDisruptionBudget status. The simulator has no metrics and no
//! pods to count, so an autoscaler sees idle pods (0 utilization: it holds at `minReplicas`) and
//! a budget sees the healthy pods it needs to allow one disruption where it can.

use serde_json::{Map, Value, json};

use super::Outcome;
use super::util::{self, Ctx, count, find_condition, transition_time};

/// An idle HPA, as `kubectl describe hpa` shows one at its floor: AbleToScale
/// ReadyForNewScale, ScalingActive ValidMetricFound, ScalingLimited TooFewReplicas.
pub(super) fn autoscaler(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let min = count(&spec["minReplicas"], 1);
    let default_metric = json!({"type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}});
    let metrics: Vec<Value> = match spec["metrics"].as_array() {
        Some(m) if !m.is_empty() => m.clone(),
        _ => vec![default_metric],
    };
    let source = metrics.first().map(metric_description).unwrap_or_default();
    let conditions = vec![
        hpa_condition(
            ctx,
            "AbleToScale",
            "ReadyForNewScale",
            "recommended size matches current size",
        ),
        hpa_condition(
            ctx,
            "ScalingActive",
            "ValidMetricFound",
            &format!("the HPA was able to successfully calculate a replica count from {source}"),
        ),
        hpa_condition(
            ctx,
            "ScalingLimited",
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        ),
    ];
    let current: Vec<Value> = metrics.iter().filter_map(current_metric).collect();
    let mut status = Map::new();
    status.insert("conditions".into(), Value::Array(conditions));
    if !current.is_empty() {
        status.insert("currentMetrics".into(), Value::Array(current));
    }
    status.insert("currentReplicas".into(), json!(min));
    status.insert("desiredReplicas".into(), json!(min));
    if let Some(t) = ctx.prev.get("lastScaleTime") {
        status.insert("lastScaleTime".into(), t.clone());
    }
    util::finish(ctx, Value::Object(status), None)
}

/// How the HPA controller names a metric in the ScalingActive message.
fn metric_description(m: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match m["type"].as_str().unwrap_or_default() {
        "Resource" | "ContainerResource" => {
            let key = if m["type"] == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let kind = if key == "resource" {
                "resource"
            } else {
                "container resource"
            };
            let r = &m[key];
            if r["target"]["type"].as_str() == Some("AverageValue") {
                format!("{} {kind}", s(&r["name"]))
            } else {
                format!(
                    "{} {kind} utilization (percentage of request)",
                    s(&r["name"])
                )
            }
        }
        "Pods" => format!("pods metric {}", s(&m["pods"]["metric"]["name"])),
        "Object" => format!(
            "{} metric {}",
            s(&m["object"]["describedObject"]["kind"]),
            s(&m["object"]["metric"]["name"])
        ),
        "External" => {
            let metric = &m["external"]["metric"];
            format!(
                "external metric {}({})",
                s(&metric["name"]),
                go_selector(&metric["selector"])
            )
        }
        other => format!("{other} metric"),
    }
}

/// A label selector as Go's `%+v` prints a `*metav1.LabelSelector`.
fn go_selector(sel: &Value) -> String {
    let Some(obj) = sel.as_object() else {
        return "nil".to_string();
    };
    let labels: String = obj
        .get("matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}: {},", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{}},}}"
    )
}

/// The current value of an idle metric: zero, in the shape of its target.
fn current_metric(m: &Value) -> Option<Value> {
    let ty = m["type"].as_str()?;
    let (key, source) = match ty {
        "Resource" => ("resource", &m["resource"]),
        "ContainerResource" => ("containerResource", &m["containerResource"]),
        "Pods" => ("pods", &m["pods"]),
        "Object" => ("object", &m["object"]),
        "External" => ("external", &m["external"]),
        _ => return None,
    };
    let target_type = source["target"]["type"].as_str().unwrap_or_default();
    let current = match target_type {
        "Utilization" => json!({"averageUtilization": 0, "averageValue": "0"}),
        "AverageValue" => json!({"averageValue": "0"}),
        _ => json!({"value": "0"}),
    };
    let mut out = source.as_object().cloned().unwrap_or_default();
    out.remove("target");
    out.insert("current".into(), current);
    Some(json!({"type": ty, key: out}))
}

/// An HPA condition (status True); an unchanged one keeps its transition time.
fn hpa_condition(ctx: &Ctx<'_>, ty: &str, reason: &str, message: &str) -> Value {
    let prev = find_condition(&ctx.prev, ty);
    json!({
        "type": ty,
        "status": "True",
        "lastTransitionTime": transition_time(prev, "True", &ctx.now),
        "reason": reason,
        "message": message,
    })
}

/// A PodDisruptionBudget over the pods it protects. Having no pods to count, it assumes
/// `minAvailable + 1` healthy pods for an integer `minAvailable`, else one pod, so that
/// `minAvailable: 2` allows one disruption and `maxUnavailable: 0` or `minAvailable: 100%` none.
pub(super) fn disruption_budget(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let expected = match util::int(&spec["minAvailable"]) {
        Some(n) if n >= 0 && spec["maxUnavailable"].is_null() => n + 1,
        _ => 1,
    };
    let healthy = expected;
    let desired = if !spec["maxUnavailable"].is_null() {
        let max = util::scaled(&spec["maxUnavailable"], expected, true)
            .unwrap_or(0)
            .max(0);
        (expected - max).max(0)
    } else if !spec["minAvailable"].is_null() {
        util::scaled(&spec["minAvailable"], expected, true)
            .unwrap_or(expected)
            .max(0)
    } else {
        0
    };
    let allowed = (healthy - desired).max(0);
    let (status_str, reason) = if allowed > 0 {
        ("True", "SufficientPods")
    } else {
        ("False", "InsufficientPods")
    };
    let prev = find_condition(&ctx.prev, "DisruptionAllowed");
    let mut condition = json!({
        "type": "DisruptionAllowed",
        "status": status_str,
        "lastTransitionTime": transition_time(prev, status_str, &ctx.now),
        "reason": reason,
        "message": "",
    });
    let mut status = Map::new();
    if let Some(g) = ctx.generation() {
        condition["observedGeneration"] = json!(g);
        status.insert("observedGeneration".into(), json!(g));
    }
    status.insert("conditions".into(), json!([condition]));
    status.insert("currentHealthy".into(), json!(healthy));
    status.insert("desiredHealthy".into(), json!(desired));
    status.insert("disruptionsAllowed".into(), json!(allowed));
    status.insert("expectedPods".into(), json!(expected));
    util::finish(ctx, Value::Object(status), None)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{WorkloadConfig, reconcile};
    use super::*;

    const T0: &str = "2024-05-01T10:00:00Z";

    fn step(group: &str, kind: &str, obj: &mut Value, now: &str) -> Outcome {
        let out = reconcile(
            group,
            kind,
            obj,
            Duration::ZERO,
            now,
            &WorkloadConfig::default(),
        );
        if let Outcome::Status { status, .. } = &out {
            obj["status"] = status.clone();
        }
        out
    }

    #[test]
    fn idle_autoscaler_holds_at_min() {
        let mut hpa = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"minReplicas": 2, "maxReplicas": 5,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 50}}}]}
        });
        step("autoscaling", "HorizontalPodAutoscaler", &mut hpa, T0);
        let s = &hpa["status"];
        assert_eq!(
            (s["currentReplicas"].clone(), s["desiredReplicas"].clone()),
            (json!(2), json!(2))
        );
        let c = |i: usize, f: &str| s["conditions"][i][f].clone();
        assert_eq!(
            (c(0, "type"), c(0, "reason")),
            (json!("AbleToScale"), json!("ReadyForNewScale"))
        );
        assert_eq!(
            c(1, "message"),
            "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"
        );
        assert_eq!(
            (c(2, "type"), c(2, "reason")),
            (json!("ScalingLimited"), json!("TooFewReplicas"))
        );
        assert_eq!(
            s["currentMetrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 0, "averageValue": "0"}}}])
        );
        assert_eq!(
            step(
                "autoscaling",
                "HorizontalPodAutoscaler",
                &mut hpa,
                "2024-05-01T11:00:00Z"
            ),
            Outcome::Unchanged
        );
    }

    #[test]
    fn metric_descriptions() {
        let ext = json!({"type": "External", "external": {"metric": {"name": "s0-prometheus",
            "selector": {"matchLabels": {"scaledobject.keda.sh/name": "vllm"}}}, "target": {"type": "Value"}}});
        assert_eq!(
            metric_description(&ext),
            "external metric s0-prometheus(&LabelSelector{MatchLabels:map[string]string{scaledobject.keda.sh/name: vllm,},MatchExpressions:[]LabelSelectorRequirement{},})"
        );
        let obj = json!({"type": "Object", "object": {"metric": {"name": "http_requests_per_second"},
            "describedObject": {"kind": "Service", "name": "app"}, "target": {"type": "Value"}}});
        assert_eq!(
            metric_description(&obj),
            "Service metric http_requests_per_second"
        );
        let mem = json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue"}}});
        assert_eq!(metric_description(&mem), "memory resource");
        let hpa = json!({"metadata": {"name": "x"}, "spec": {"maxReplicas": 3}});
        let Outcome::Status { status, .. } = reconcile(
            "autoscaling",
            "HorizontalPodAutoscaler",
            &hpa,
            Duration::ZERO,
            T0,
            &WorkloadConfig::default(),
        ) else {
            panic!("expected a status");
        };
        assert_eq!(status["currentReplicas"], 1);
        assert!(
            status["conditions"][1]["message"]
                .as_str()
                .is_some_and(|m| m.ends_with("cpu resource utilization (percentage of request)"))
        );
    }

    #[test]
    fn disruption_budgets() {
        let pdb = |spec: Value| json!({"metadata": {"name": "web", "generation": 1}, "spec": spec});
        let mut p = pdb(json!({"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}));
        step("policy", "PodDisruptionBudget", &mut p, T0);
        assert_eq!(
            p["status"],
            json!({"conditions": [{"type": "DisruptionAllowed", "status": "True", "lastTransitionTime": T0,
                    "reason": "SufficientPods", "message": "", "observedGeneration": 1}],
                "currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3,
                "observedGeneration": 1})
        );
        assert_eq!(
            step(
                "policy",
                "PodDisruptionBudget",
                &mut p,
                "2024-05-01T12:00:00Z"
            ),
            Outcome::Unchanged
        );

        let mut p = pdb(json!({"maxUnavailable": 0}));
        step("policy", "PodDisruptionBudget", &mut p, T0);
        assert_eq!(p["status"]["disruptionsAllowed"], 0);
        assert_eq!(p["status"]["conditions"][0]["reason"], "InsufficientPods");

        let mut p = pdb(json!({"maxUnavailable": "25%"}));
        step("policy", "PodDisruptionBudget", &mut p, T0);
        assert_eq!(
            (
                p["status"]["desiredHealthy"].clone(),
                p["status"]["disruptionsAllowed"].clone()
            ),
            (json!(0), json!(1))
        );

        let mut p = pdb(json!({"minAvailable": "100%"}));
        step("policy", "PodDisruptionBudget", &mut p, T0);
        assert_eq!(p["status"]["disruptionsAllowed"], 0);
    }
}
