//! Workload defaults: apps/v1 (`SetDefaults_Deployment`, `_StatefulSet`, `_DaemonSet`,
//! `_ReplicaSet`) and batch/v1 (`SetDefaults_Job`, `_CronJob`,
//! `_PodFailurePolicyOnPodConditionsPattern`), each followed by its pod template's defaults as
//! the generated `SetObjectDefaults_*` functions chain them.
//!
//! The Job strategy's generated selector and `controller-uid` / `job-name` template labels are
//! not added: they need `metadata.uid`, which is not set yet when defaults run on create.

use serde_json::json;

use super::misc;
use super::pod;
use super::util::{Obj, child, default_ptr, default_str, each, empty_map, ensure, str_of};

fn template(spec: &mut Obj) {
    if let Some(t) = ensure(spec, "template") {
        pod::template(t);
    }
}

pub fn deployment(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", json!(1));
    if let Some(strategy) = ensure(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = ensure(strategy, "rollingUpdate")
        {
            default_ptr(rolling, "maxUnavailable", json!("25%"));
            default_ptr(rolling, "maxSurge", json!("25%"));
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_ptr(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

pub fn daemon_set(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    if let Some(strategy) = ensure(spec, "updateStrategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = ensure(strategy, "rollingUpdate")
        {
            default_ptr(rolling, "maxUnavailable", json!(1));
            default_ptr(rolling, "maxSurge", json!(0));
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

pub fn stateful_set(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = ensure(spec, "updateStrategy") {
        if super::util::empty_str(strategy, "type") {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_ptr(strategy, "rollingUpdate", json!({}));
        }
        if str_of(strategy, "type") == "RollingUpdate"
            && let Some(rolling) = child(strategy, "rollingUpdate")
        {
            default_ptr(rolling, "partition", json!(0));
        }
    }
    // StatefulSetAutoDeletePVC is GA (1.32): the retention policy is always filled in.
    if let Some(policy) = ensure(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_ptr(spec, "replicas", json!(1));
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    template(spec);
    each(spec, "volumeClaimTemplates", |claim| {
        // The v1 conversion always writes these (kubernetes#87583), whatever was sent.
        claim.insert("apiVersion".into(), json!("v1"));
        claim.insert("kind".into(), json!("PersistentVolumeClaim"));
        misc::pvc(claim);
    });
}

pub fn replica_set(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", json!(1));
    template(spec);
}

pub fn job(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    if super::util::unset(spec, "completions") && super::util::unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    let per_index = !super::util::unset(spec, "backoffLimitPerIndex");
    default_ptr(
        spec,
        "backoffLimit",
        json!(if per_index { i64::from(i32::MAX) } else { 6 }),
    );
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));
    // JobPodReplacementPolicy is on by default (beta since 1.29).
    let replacement = if super::util::unset(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    default_ptr(spec, "podReplacementPolicy", json!(replacement));
    default_ptr(spec, "manualSelector", json!(false));
    job_spec_nested(spec);
    // The Job's labels default to its template's when it has none.
    let template_labels = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
        .cloned();
    if let Some(labels) = template_labels
        && let Some(meta) = ensure(obj, "metadata")
        && empty_map(meta, "labels")
    {
        meta.insert("labels".into(), labels);
    }
}

/// What every JobSpec gets, in a Job or a CronJob's `jobTemplate`.
fn job_spec_nested(spec: &mut Obj) {
    if let Some(policy) = child(spec, "podFailurePolicy") {
        each(policy, "rules", |rule| {
            each(rule, "onPodConditions", |p| {
                default_str(p, "status", "True")
            })
        });
    }
    template(spec);
}

pub fn cron_job(obj: &mut Obj) {
    let Some(spec) = ensure(obj, "spec") else {
        return;
    };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_ptr(spec, "suspend", json!(false));
    default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
    default_ptr(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(job_spec) = ensure(spec, "jobTemplate").and_then(|t| ensure(t, "spec")) {
        job_spec_nested(job_spec);
    }
}
