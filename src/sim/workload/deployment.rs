//! Deployment status as the deployment controller writes it (`calculateStatus` in `sync.go`,
//! `syncRolloutStatus` in `progress.go`): replica counts of the new and old ReplicaSets and the
//! `Available` and `Progressing` conditions.
//!
//! The simulated pods of the new ReplicaSet all become ready `ready_after` after the generation
//! is first seen. During a rolling update the old ReplicaSet's available pods stay up (as many
//! as `maxUnavailable` allows), which is how a failed rollout keeps a Deployment available.

use serde_json::{Map, Value, json};

use super::Outcome;
use super::util::{self, Ctx, count, find_condition, put_nonzero, same_condition, transition_time};

const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
const RS_UPDATED: &str = "ReplicaSetUpdated";
const TIMED_OUT: &str = "ProgressDeadlineExceeded";
const PAUSED: &str = "DeploymentPaused";
/// `progressDeadlineSeconds` at this value means "no deadline": no Progressing condition.
const NO_DEADLINE: i64 = i32::MAX as i64;

/// Replica counts of one moment of a rollout.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counts {
    /// Pods of all ReplicaSets.
    replicas: i64,
    /// Pods of the new ReplicaSet.
    updated: i64,
    /// Ready (= available, minReadySeconds is not simulated) pods.
    available: i64,
}

pub(super) fn reconcile(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let n = count(&spec["replicas"], 1);
    let rs_name = format!(
        "{}-{}",
        ctx.name(),
        util::pod_template_hash(&spec["template"])
    );
    let failing = super::is_failing(&spec["template"]["spec"]);
    let recreate = spec["strategy"]["type"].as_str() == Some("Recreate");
    let (surge, unavailable) = fenceposts(spec, n, recreate);
    let max_unavailable = unavailable.min(n);

    let prev_progressing = find_condition(&ctx.prev, "Progressing");
    let prev_rs = prev_progressing.and_then(|c| quoted(c["message"].as_str().unwrap_or_default()));
    let template_changed = prev_rs.as_deref().is_some_and(|p| p != rs_name);
    let paused = spec["paused"].as_bool() == Some(true);

    let counts = if paused {
        // A paused Deployment neither rolls out nor waits: its pods stay as they are.
        Counts {
            replicas: ctx.prev_int("replicas"),
            updated: ctx.prev_int("updatedReplicas"),
            available: ctx.prev_int("availableReplicas"),
        }
    } else if n == 0 || (ctx.ready() && !failing) {
        Counts {
            replicas: n,
            updated: n,
            available: n,
        }
    } else {
        waiting_counts(ctx, n, surge, max_unavailable, template_changed, recreate)
    };
    let complete = !paused && counts.updated == n && counts.replicas == n && counts.available == n;

    let mut conditions = vec![available_condition(
        ctx,
        counts.available >= n - max_unavailable,
    )];
    let deadline = count(&spec["progressDeadlineSeconds"], 600);
    if deadline != NO_DEADLINE {
        let progressing = if paused {
            deployment_condition(
                ctx,
                "Progressing",
                "Unknown",
                PAUSED,
                "Deployment is paused",
                false,
            )
        } else if let Some(p) = prev_progressing.filter(|p| {
            // A finished rollout that is only being scaled keeps its condition (`isCompleteDeployment`).
            !template_changed
                && counts.replicas == counts.updated
                && p["reason"].as_str() == Some(NEW_RS_AVAILABLE)
        }) {
            p.clone()
        } else if complete {
            let msg = format!("ReplicaSet \"{rs_name}\" has successfully progressed.");
            deployment_condition(ctx, "Progressing", "True", NEW_RS_AVAILABLE, &msg, false)
        } else if !ctx.ready() {
            let msg = format!("ReplicaSet \"{rs_name}\" is progressing.");
            // Progress (new counts) moves lastUpdateTime; lastTransitionTime stays while True.
            let moved = !ctx.observed_current() || counts != prev_counts(ctx);
            deployment_condition(ctx, "Progressing", "True", RS_UPDATED, &msg, moved)
        } else {
            let msg = format!("ReplicaSet \"{rs_name}\" has timed out progressing.");
            deployment_condition(ctx, "Progressing", "False", TIMED_OUT, &msg, false)
        };
        conditions.push(progressing);
    }

    let mut status = Map::new();
    if let Some(g) = ctx.generation() {
        status.insert("observedGeneration".into(), json!(g));
    }
    put_nonzero(&mut status, "replicas", counts.replicas);
    put_nonzero(&mut status, "updatedReplicas", counts.updated);
    put_nonzero(&mut status, "readyReplicas", counts.available);
    put_nonzero(&mut status, "availableReplicas", counts.available);
    put_nonzero(
        &mut status,
        "unavailableReplicas",
        (counts.replicas - counts.available).max(0),
    );
    status.insert("conditions".into(), Value::Array(conditions));
    if let Some(c) = ctx.prev.get("collisionCount") {
        status.insert("collisionCount".into(), c.clone());
    }

    let waiting = !paused && !complete && !ctx.ready();
    util::finish(ctx, Value::Object(status), waiting.then(|| ctx.remaining()))
}

/// Counts while the new pods are not ready (still starting, or failing).
fn waiting_counts(
    ctx: &Ctx<'_>,
    n: i64,
    surge: i64,
    max_unavailable: i64,
    template_changed: bool,
    recreate: bool,
) -> Counts {
    // Pods of the old ReplicaSets still running, and how many pods are available.
    let (old, available) = if ctx.observed_current() {
        // This generation was already written: the rollout's state is in the status.
        let prev = prev_counts(ctx);
        ((prev.replicas - prev.updated).max(0), prev.available)
    } else if template_changed && !recreate {
        // A rolling update scales the old ReplicaSet down only as far as maxUnavailable allows.
        let old = ctx
            .prev_int("availableReplicas")
            .min((n - max_unavailable).max(0));
        (old, old)
    } else if template_changed {
        (0, 0)
    } else {
        // Creation or scaling: the existing pods stay ready.
        (0, ctx.prev_int("availableReplicas").min(n))
    };
    let updated = if old > 0 {
        (n + surge - old).clamp(0, n)
    } else {
        n
    };
    Counts {
        replicas: old + updated,
        updated,
        available: available.min(old + updated),
    }
}

fn prev_counts(ctx: &Ctx<'_>) -> Counts {
    Counts {
        replicas: ctx.prev_int("replicas"),
        updated: ctx.prev_int("updatedReplicas"),
        available: ctx.prev_int("availableReplicas"),
    }
}

/// `(maxSurge, maxUnavailable)` as `ResolveFenceposts` resolves them (surge rounds up,
/// unavailable down, both 25% by default; never both zero). Recreate allows no unavailability.
fn fenceposts(spec: &Value, n: i64, recreate: bool) -> (i64, i64) {
    if recreate || n == 0 {
        return (0, 0);
    }
    let ru = &spec["strategy"]["rollingUpdate"];
    let field = |v: &Value| if v.is_null() { json!("25%") } else { v.clone() };
    let surge = util::scaled(&field(&ru["maxSurge"]), n, true)
        .unwrap_or(1)
        .max(0);
    let unavailable = util::scaled(&field(&ru["maxUnavailable"]), n, false)
        .unwrap_or(0)
        .max(0);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn available_condition(ctx: &Ctx<'_>, ok: bool) -> Value {
    if ok {
        let msg = "Deployment has minimum availability.";
        deployment_condition(
            ctx,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            msg,
            false,
        )
    } else {
        let msg = "Deployment does not have minimum availability.";
        deployment_condition(
            ctx,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            msg,
            false,
        )
    }
}

/// A DeploymentCondition, keeping the previous one when it already says the same thing
/// (`SetDeploymentCondition`), and its lastTransitionTime while the status is unchanged.
/// `moved` forces a new lastUpdateTime (progress was made).
fn deployment_condition(
    ctx: &Ctx<'_>,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
    moved: bool,
) -> Value {
    let prev = find_condition(&ctx.prev, ty);
    if let Some(p) = prev.filter(|_| !moved && same_condition(prev, status, reason, message)) {
        return p.clone();
    }
    json!({
        "type": ty,
        "status": status,
        "lastUpdateTime": ctx.now,
        "lastTransitionTime": transition_time(prev, status, &ctx.now),
        "reason": reason,
        "message": message,
    })
}

/// The first double-quoted part of a message: the ReplicaSet a Progressing condition names.
fn quoted(message: &str) -> Option<String> {
    let (_, rest) = message.split_once('"')?;
    let (name, _) = rest.split_once('"')?;
    Some(name.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{Outcome, WorkloadConfig, reconcile as run};
    use super::*;

    const T0: &str = "2024-05-01T10:00:00Z";
    const T1: &str = "2024-05-01T10:00:01Z";
    const T2: &str = "2024-05-01T10:00:05Z";

    fn deploy(replicas: Value, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "generation": 1},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": image}]}},
                "progressDeadlineSeconds": 600,
            }
        })
    }

    fn step(obj: &mut Value, since: u64, now: &str) -> Outcome {
        let out = run(
            "apps",
            "Deployment",
            obj,
            Duration::from_secs(since),
            now,
            &WorkloadConfig::default(),
        );
        match &out {
            Outcome::Status { status, .. } => obj["status"] = status.clone(),
            Outcome::SpecAndStatus { .. } => panic!("deployments never patch spec"),
            Outcome::Unchanged => {}
        }
        out
    }

    fn cond<'a>(obj: &'a Value, ty: &str) -> &'a Value {
        find_condition(&obj["status"], ty).unwrap_or(&Value::Null)
    }

    fn rs_name(obj: &Value) -> String {
        format!("web-{}", util::pod_template_hash(&obj["spec"]["template"]))
    }

    #[test]
    fn progresses_then_becomes_available() {
        let mut d = deploy(json!(3), "nginx:1.27");
        let rs = rs_name(&d);
        let out = step(&mut d, 0, T0);
        assert!(
            matches!(out, Outcome::Status { recheck_after: Some(r), .. } if r == Duration::from_secs(1))
        );
        let s = &d["status"];
        assert_eq!(s["observedGeneration"], 1);
        assert_eq!(
            (s["replicas"].clone(), s["updatedReplicas"].clone()),
            (json!(3), json!(3))
        );
        assert_eq!(s["unavailableReplicas"], 3);
        assert!(s.get("readyReplicas").is_none() && s.get("availableReplicas").is_none());
        assert_eq!(s["conditions"][0]["type"], "Available");
        assert_eq!(
            cond(&d, "Available")["reason"],
            "MinimumReplicasUnavailable"
        );
        assert_eq!(
            cond(&d, "Available")["message"],
            "Deployment does not have minimum availability."
        );
        assert_eq!(cond(&d, "Progressing")["reason"], "ReplicaSetUpdated");
        assert_eq!(
            cond(&d, "Progressing")["message"],
            format!("ReplicaSet \"{rs}\" is progressing.")
        );
        assert_eq!(step(&mut d, 0, T1), Outcome::Unchanged);

        assert!(matches!(
            step(&mut d, 1, T2),
            Outcome::Status {
                recheck_after: None,
                ..
            }
        ));
        let s = &d["status"];
        assert_eq!(
            (s["readyReplicas"].clone(), s["availableReplicas"].clone()),
            (json!(3), json!(3))
        );
        assert!(s.get("unavailableReplicas").is_none());
        let avail = cond(&d, "Available");
        assert_eq!(
            (avail["status"].clone(), avail["reason"].clone()),
            (json!("True"), json!("MinimumReplicasAvailable"))
        );
        assert_eq!(avail["message"], "Deployment has minimum availability.");
        assert_eq!(avail["lastTransitionTime"], T2);
        let prog = cond(&d, "Progressing");
        assert_eq!(prog["reason"], "NewReplicaSetAvailable");
        assert_eq!(
            prog["message"],
            format!("ReplicaSet \"{rs}\" has successfully progressed.")
        );
        // Progressing stayed True: its transition time is the first one.
        assert_eq!(
            (
                prog["lastTransitionTime"].clone(),
                prog["lastUpdateTime"].clone()
            ),
            (json!(T0), json!(T2))
        );
        assert_eq!(step(&mut d, 9, "2024-05-01T11:00:00Z"), Outcome::Unchanged);
    }

    #[test]
    fn failing_image_times_out() {
        let mut d = deploy(Value::Null, "nginx:fail");
        step(&mut d, 0, T0);
        assert_eq!(d["status"]["replicas"], 1);
        assert!(matches!(
            step(&mut d, 1, T2),
            Outcome::Status {
                recheck_after: None,
                ..
            }
        ));
        let prog = cond(&d, "Progressing");
        assert_eq!(
            (prog["status"].clone(), prog["reason"].clone()),
            (json!("False"), json!("ProgressDeadlineExceeded"))
        );
        assert_eq!(
            prog["message"],
            format!("ReplicaSet \"{}\" has timed out progressing.", rs_name(&d))
        );
        assert_eq!(prog["lastTransitionTime"], T2);
        assert_eq!(cond(&d, "Available")["status"], "False");
        assert!(d["status"].get("readyReplicas").is_none());
        assert_eq!(d["status"]["unavailableReplicas"], 1);
        assert_eq!(step(&mut d, 30, "2024-05-01T11:00:00Z"), Outcome::Unchanged);
    }

    #[test]
    fn zero_replicas_is_available_at_once() {
        let mut d = deploy(json!(0), "nginx");
        assert!(matches!(
            step(&mut d, 0, T0),
            Outcome::Status {
                recheck_after: None,
                ..
            }
        ));
        assert_eq!(cond(&d, "Available")["status"], "True");
        assert_eq!(cond(&d, "Progressing")["reason"], "NewReplicaSetAvailable");
        assert!(d["status"].get("replicas").is_none());
    }

    #[test]
    fn failed_rolling_update_keeps_old_pods_available() {
        let mut d = deploy(json!(1), "nginx:1.27");
        step(&mut d, 0, T0);
        step(&mut d, 1, T1);
        // New template, failing image: maxSurge 1 / maxUnavailable 0 keep the old pod.
        d["metadata"]["generation"] = json!(2);
        d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:fail");
        step(&mut d, 0, T2);
        let s = d["status"].clone();
        assert_eq!(
            (s["replicas"].clone(), s["updatedReplicas"].clone()),
            (json!(2), json!(1))
        );
        assert_eq!(
            (
                s["availableReplicas"].clone(),
                s["unavailableReplicas"].clone()
            ),
            (json!(1), json!(1))
        );
        assert_eq!(cond(&d, "Available")["status"], "True");
        assert_eq!(cond(&d, "Progressing")["reason"], "ReplicaSetUpdated");
        assert_eq!(step(&mut d, 0, T2), Outcome::Unchanged);
        step(&mut d, 2, "2024-05-01T10:01:00Z");
        assert_eq!(
            cond(&d, "Progressing")["reason"],
            "ProgressDeadlineExceeded"
        );
        assert_eq!(cond(&d, "Available")["status"], "True");
        assert_eq!(d["status"]["replicas"], 2);
        assert_eq!(step(&mut d, 3, "2024-05-01T10:02:00Z"), Outcome::Unchanged);
    }

    #[test]
    fn scaling_a_finished_rollout_keeps_progressing() {
        let mut d = deploy(json!(2), "nginx");
        step(&mut d, 0, T0);
        step(&mut d, 1, T1);
        let before = cond(&d, "Progressing").clone();
        d["metadata"]["generation"] = json!(2);
        d["spec"]["replicas"] = json!(4);
        step(&mut d, 0, T2);
        assert_eq!(cond(&d, "Progressing"), &before);
        assert_eq!(
            (
                d["status"]["availableReplicas"].clone(),
                d["status"]["replicas"].clone()
            ),
            (json!(2), json!(4))
        );
        // 4 replicas allow 1 unavailable; 2 available is not enough.
        assert_eq!(cond(&d, "Available")["status"], "False");
        step(&mut d, 1, T2);
        assert_eq!(d["status"]["availableReplicas"], 4);
        assert_eq!(cond(&d, "Available")["status"], "True");
    }

    #[test]
    fn paused_and_no_deadline() {
        let mut d = deploy(json!(1), "nginx");
        d["spec"]["paused"] = json!(true);
        assert!(matches!(
            step(&mut d, 0, T0),
            Outcome::Status {
                recheck_after: None,
                ..
            }
        ));
        let prog = cond(&d, "Progressing");
        assert_eq!(
            (prog["status"].clone(), prog["reason"].clone()),
            (json!("Unknown"), json!("DeploymentPaused"))
        );
        assert_eq!(prog["message"], "Deployment is paused");

        let mut d = deploy(json!(1), "nginx");
        d["spec"]["progressDeadlineSeconds"] = json!(2147483647);
        step(&mut d, 5, T0);
        assert_eq!(d["status"]["conditions"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn fenceposts_follow_resolve_fenceposts() {
        let spec = |s: Value, u: Value| json!({"strategy": {"rollingUpdate": {"maxSurge": s, "maxUnavailable": u}}});
        assert_eq!(fenceposts(&json!({}), 1, false), (1, 0));
        assert_eq!(fenceposts(&json!({}), 4, false), (1, 1));
        assert_eq!(fenceposts(&json!({}), 10, false), (3, 2));
        assert_eq!(fenceposts(&spec(json!(0), json!("10%")), 5, false), (0, 1));
        assert_eq!(fenceposts(&json!({}), 3, true), (0, 0));
        assert_eq!(
            quoted("ReplicaSet \"web-abc\" is progressing."),
            Some("web-abc".to_string())
        );
        assert_eq!(quoted("none"), None);
    }
}
