//! Job status as the job controller of Kubernetes 1.33 writes it: `active` while its pods run,
//! then `SuccessCriteriaMet` and `Complete` (reason `CompletionsReached`), or, for a failing
//! image, `FailureTarget` and `Failed` (reason `BackoffLimitExceeded`) once every retry failed.

use serde_json::{Map, Value, json};

use super::Outcome;
use super::util::{self, Ctx, count, find_condition, put_nonzero, transition_time};

const COMPLETIONS_REACHED: &str = "Reached expected number of succeeded pods";
const BACKOFF_LIMIT: &str = "Job has reached the specified backoff limit";

pub(super) fn job(ctx: &Ctx<'_>) -> Outcome {
    // A finished Job is never touched again.
    let finished = ["Complete", "Failed"].iter().any(|t| {
        find_condition(&ctx.prev, t).is_some_and(|c| c["status"].as_str() == Some("True"))
    });
    if finished {
        return Outcome::Unchanged;
    }
    let spec = ctx.spec();
    let completions = count(&spec["completions"], 1);
    let parallelism = count(&spec["parallelism"], 1);
    let suspended = spec["suspend"].as_bool() == Some(true);
    let failing = super::is_failing(&spec["template"]["spec"]);

    let mut status = Map::new();
    let mut conditions: Vec<Value> = Vec::new();
    let prev_suspended = find_condition(&ctx.prev, "Suspended");
    if suspended {
        conditions.push(job_condition(
            ctx,
            "Suspended",
            "True",
            "JobSuspended",
            "Job suspended",
        ));
    } else if prev_suspended.is_some() {
        conditions.push(job_condition(
            ctx,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
        ));
    }
    // The start time is reset when a suspended Job resumes.
    let resumed =
        prev_suspended.is_some_and(|c| c["status"].as_str() == Some("True")) && !suspended;
    let start = match ctx.prev["startTime"].as_str() {
        Some(t) if !resumed => t.to_string(),
        _ => ctx.now.clone(),
    };

    let mut recheck = None;
    if suspended {
        if let Some(t) = ctx.prev.get("startTime").filter(|t| t.is_string()) {
            status.insert("startTime".into(), t.clone());
        }
    } else if completions == 0 || (ctx.ready() && !failing) {
        status.insert("completionTime".into(), json!(ctx.now));
        for ty in ["SuccessCriteriaMet", "Complete"] {
            conditions.push(job_condition(
                ctx,
                ty,
                "True",
                "CompletionsReached",
                COMPLETIONS_REACHED,
            ));
        }
        put_nonzero(&mut status, "succeeded", completions);
        status.insert("startTime".into(), json!(start));
    } else if ctx.ready() {
        for ty in ["FailureTarget", "Failed"] {
            conditions.push(job_condition(
                ctx,
                ty,
                "True",
                "BackoffLimitExceeded",
                BACKOFF_LIMIT,
            ));
        }
        put_nonzero(
            &mut status,
            "failed",
            count(&spec["backoffLimit"], 6).saturating_add(1),
        );
        status.insert("startTime".into(), json!(start));
    } else {
        put_nonzero(&mut status, "active", parallelism.min(completions));
        status.insert("startTime".into(), json!(start));
        recheck = Some(ctx.remaining());
    }
    if !conditions.is_empty() {
        status.insert("conditions".into(), Value::Array(conditions));
    }
    status.insert("ready".into(), json!(0));
    status.insert("terminating".into(), json!(0));
    status.insert("uncountedTerminatedPods".into(), json!({}));
    util::finish(ctx, Value::Object(status), recheck)
}

/// A JobCondition; an unchanged one keeps its times.
fn job_condition(ctx: &Ctx<'_>, ty: &str, status: &str, reason: &str, message: &str) -> Value {
    let prev = find_condition(&ctx.prev, ty);
    if let Some(p) = prev.filter(|_| util::same_condition(prev, status, reason, message)) {
        return p.clone();
    }
    json!({
        "type": ty,
        "status": status,
        "lastProbeTime": ctx.now,
        "lastTransitionTime": transition_time(prev, status, &ctx.now),
        "reason": reason,
        "message": message,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{WorkloadConfig, reconcile};
    use super::*;

    const T0: &str = "2024-05-01T10:00:00Z";
    const T1: &str = "2024-05-01T10:00:02Z";

    fn job(image: &str) -> Value {
        json!({
            "metadata": {"name": "migrate", "namespace": "default", "generation": 1},
            "spec": {"backoffLimit": 6, "completions": 1, "parallelism": 1,
                "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": image}]}}}
        })
    }

    fn step(obj: &mut Value, since: u64, now: &str) -> Outcome {
        let out = reconcile(
            "batch",
            "Job",
            obj,
            Duration::from_secs(since),
            now,
            &WorkloadConfig::default(),
        );
        if let Outcome::Status { status, .. } = &out {
            obj["status"] = status.clone();
        }
        out
    }

    #[test]
    fn runs_then_completes() {
        let mut j = job("busybox");
        assert!(matches!(
            step(&mut j, 0, T0),
            Outcome::Status {
                recheck_after: Some(_),
                ..
            }
        ));
        assert_eq!(
            j["status"],
            json!({"active": 1, "ready": 0, "startTime": T0, "terminating": 0, "uncountedTerminatedPods": {}})
        );
        assert_eq!(step(&mut j, 0, T1), Outcome::Unchanged);
        step(&mut j, 1, T1);
        let cond = |ty: &str, reason: &str| {
            json!({"type": ty, "status": "True", "lastProbeTime": T1, "lastTransitionTime": T1,
                "reason": reason, "message": "Reached expected number of succeeded pods"})
        };
        assert_eq!(
            j["status"],
            json!({"completionTime": T1, "conditions": [cond("SuccessCriteriaMet", "CompletionsReached"),
                cond("Complete", "CompletionsReached")], "ready": 0, "startTime": T0, "succeeded": 1,
                "terminating": 0, "uncountedTerminatedPods": {}})
        );
        assert_eq!(step(&mut j, 5, "2024-05-01T12:00:00Z"), Outcome::Unchanged);
    }

    #[test]
    fn failing_image_exceeds_backoff_limit() {
        let mut j = job("busybox:fail");
        j["spec"]["backoffLimit"] = Value::Null;
        step(&mut j, 0, T0);
        step(&mut j, 1, T1);
        let s = &j["status"];
        assert_eq!(s["failed"], 7);
        assert!(s.get("completionTime").is_none() && s.get("active").is_none());
        let types: Vec<&str> = s["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(types, ["FailureTarget", "Failed"]);
        assert_eq!(s["conditions"][1]["reason"], "BackoffLimitExceeded");
        assert_eq!(
            s["conditions"][1]["message"],
            "Job has reached the specified backoff limit"
        );
        assert_eq!(step(&mut j, 9, T1), Outcome::Unchanged);
    }

    #[test]
    fn parallel_and_suspended_jobs() {
        let mut j = job("busybox");
        j["spec"]["completions"] = json!(5);
        j["spec"]["parallelism"] = json!(2);
        step(&mut j, 0, T0);
        assert_eq!(j["status"]["active"], 2);
        step(&mut j, 1, T1);
        assert_eq!(j["status"]["succeeded"], 5);

        let mut s = job("busybox");
        s["spec"]["suspend"] = json!(true);
        assert!(matches!(
            step(&mut s, 5, T0),
            Outcome::Status {
                recheck_after: None,
                ..
            }
        ));
        assert_eq!(s["status"]["conditions"][0]["reason"], "JobSuspended");
        assert!(s["status"].get("startTime").is_none());
        s["spec"]["suspend"] = json!(false);
        step(&mut s, 0, T1);
        assert_eq!(s["status"]["conditions"][0]["reason"], "JobResumed");
        assert_eq!(s["status"]["startTime"], T1);
    }
}
