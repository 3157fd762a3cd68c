//! StatefulSet, DaemonSet and ReplicaSet status, as their controllers write it
//! (`pkg/controller/statefulset`, `daemon`, `replicaset`), for a cluster of one node.

use serde_json::{Map, Value, json};

use super::Outcome;
use super::util::{self, Ctx, count, put_nonzero};

/// StatefulSet: pods are created one at a time (OrderedReady) or all at once (Parallel); a
/// template change rolls the highest ordinal first, so while the new pod is not ready the others
/// keep the current revision.
pub(super) fn stateful_set(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let n = count(&spec["replicas"], 1);
    let update_revision = format!("{}-{}", ctx.name(), revision_hash(&spec["template"]));
    let current_revision = ctx.prev["currentRevision"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| update_revision.clone());
    let failing = super::is_failing(&spec["template"]["spec"]);
    let parallel = spec["podManagementPolicy"].as_str() == Some("Parallel");
    let prev_ready = ctx.prev_int("readyReplicas").min(n);

    // (replicas, ready, current, updated, currentRevision)
    let (replicas, ready, current, updated, current_revision) =
        if n == 0 || (ctx.ready() && !failing) {
            (n, n, n, n, update_revision.clone())
        } else if current_revision == update_revision {
            // Creation or scaling: ready pods stay; OrderedReady waits for each before the next.
            let created = if parallel { n } else { (prev_ready + 1).min(n) };
            (
                created,
                prev_ready,
                created,
                created,
                update_revision.clone(),
            )
        } else {
            // Rolling update: the highest ordinal is replaced first and is not ready yet.
            let updated = n.min(1);
            let ready = prev_ready.min(n - updated);
            (n, ready, n - updated, updated, current_revision)
        };

    let mut status = Map::new();
    if let Some(g) = ctx.generation() {
        status.insert("observedGeneration".into(), json!(g));
    }
    status.insert("replicas".into(), json!(replicas));
    put_nonzero(&mut status, "readyReplicas", ready);
    put_nonzero(&mut status, "currentReplicas", current);
    put_nonzero(&mut status, "updatedReplicas", updated);
    status.insert("currentRevision".into(), json!(current_revision));
    status.insert("updateRevision".into(), json!(update_revision));
    status.insert("collisionCount".into(), json!(0));
    status.insert("availableReplicas".into(), json!(ready));
    let waiting = ready < n && !ctx.ready();
    util::finish(ctx, Value::Object(status), waiting.then(|| ctx.remaining()))
}

/// DaemonSet on the one simulated node (none when its nodeSelector does not match it).
pub(super) fn daemon_set(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let pod_spec = &spec["template"]["spec"];
    let desired = i64::from(util::fits_node(pod_spec));
    let ready = if ctx.ready() && !super::is_failing(pod_spec) {
        desired
    } else {
        0
    };

    let mut status = Map::new();
    status.insert("currentNumberScheduled".into(), json!(desired));
    status.insert("numberMisscheduled".into(), json!(0));
    status.insert("desiredNumberScheduled".into(), json!(desired));
    status.insert("numberReady".into(), json!(ready));
    if let Some(g) = ctx.generation() {
        status.insert("observedGeneration".into(), json!(g));
    }
    put_nonzero(&mut status, "updatedNumberScheduled", desired);
    put_nonzero(&mut status, "numberAvailable", ready);
    put_nonzero(&mut status, "numberUnavailable", desired - ready);
    let waiting = ready < desired && !ctx.ready();
    util::finish(ctx, Value::Object(status), waiting.then(|| ctx.remaining()))
}

/// ReplicaSet: a template change does not touch existing pods, so ready pods stay ready.
pub(super) fn replica_set(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let n = count(&spec["replicas"], 1);
    let ready = if ctx.ready() && !super::is_failing(&spec["template"]["spec"]) {
        n
    } else {
        ctx.prev_int("readyReplicas").min(n)
    };

    let mut status = Map::new();
    status.insert("replicas".into(), json!(n));
    put_nonzero(&mut status, "fullyLabeledReplicas", n);
    put_nonzero(&mut status, "readyReplicas", ready);
    put_nonzero(&mut status, "availableReplicas", ready);
    if let Some(g) = ctx.generation() {
        status.insert("observedGeneration".into(), json!(g));
    }
    let waiting = ready < n && !ctx.ready();
    util::finish(ctx, Value::Object(status), waiting.then(|| ctx.remaining()))
}

/// The ControllerRevision hash of a template (`controller.HashControllerRevision`).
fn revision_hash(template: &Value) -> String {
    util::safe_encode(util::fnv32a(
        json!({"spec": {"template": template}})
            .to_string()
            .as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{WorkloadConfig, reconcile};
    use super::*;

    const NOW: &str = "2024-05-01T10:00:00Z";

    fn workload(kind: &str, replicas: Value, image: &str) -> Value {
        json!({
            "kind": kind,
            "metadata": {"name": "db", "namespace": "default", "generation": 1},
            "spec": {"replicas": replicas, "serviceName": "db",
                "template": {"metadata": {"labels": {"app": "db"}},
                    "spec": {"containers": [{"name": "c", "image": image}]}}}
        })
    }

    fn step(kind: &str, obj: &mut Value, since: u64) -> Outcome {
        let out = reconcile(
            "apps",
            kind,
            obj,
            Duration::from_secs(since),
            NOW,
            &WorkloadConfig::default(),
        );
        if let Outcome::Status { status, .. } = &out {
            obj["status"] = status.clone();
        }
        out
    }

    #[test]
    fn stateful_set_ordered_ready() {
        let mut s = workload("StatefulSet", json!(3), "postgres:16");
        assert!(matches!(
            step("StatefulSet", &mut s, 0),
            Outcome::Status {
                recheck_after: Some(_),
                ..
            }
        ));
        let st = s["status"].clone();
        // OrderedReady: only db-0 exists until it is ready.
        assert_eq!(
            (st["replicas"].clone(), st["availableReplicas"].clone()),
            (json!(1), json!(0))
        );
        assert!(st.get("readyReplicas").is_none());
        assert_eq!(st["currentRevision"], st["updateRevision"]);
        assert!(
            st["updateRevision"]
                .as_str()
                .is_some_and(|r| r.starts_with("db-"))
        );
        assert_eq!(st["collisionCount"], 0);
        assert_eq!(step("StatefulSet", &mut s, 0), Outcome::Unchanged);
        step("StatefulSet", &mut s, 1);
        let st = &s["status"];
        for f in [
            "replicas",
            "readyReplicas",
            "currentReplicas",
            "updatedReplicas",
            "availableReplicas",
        ] {
            assert_eq!(st[f], 3, "{f}");
        }
        assert_eq!(step("StatefulSet", &mut s, 2), Outcome::Unchanged);
    }

    #[test]
    fn stateful_set_failing_update_keeps_current_revision() {
        let mut s = workload("StatefulSet", json!(3), "postgres:16");
        step("StatefulSet", &mut s, 1);
        let old = s["status"]["currentRevision"].clone();
        s["metadata"]["generation"] = json!(2);
        s["spec"]["template"]["spec"]["containers"][0]["image"] = json!("postgres:fail");
        step("StatefulSet", &mut s, 5);
        let st = &s["status"];
        assert_eq!(st["currentRevision"], old);
        assert_ne!(st["updateRevision"], old);
        assert_eq!(
            (st["updatedReplicas"].clone(), st["currentReplicas"].clone()),
            (json!(1), json!(2))
        );
        assert_eq!(
            (st["readyReplicas"].clone(), st["replicas"].clone()),
            (json!(2), json!(3))
        );
        assert_eq!(st["observedGeneration"], 2);
        assert_eq!(step("StatefulSet", &mut s, 6), Outcome::Unchanged);
    }

    #[test]
    fn stateful_set_parallel_creates_all() {
        let mut s = workload("StatefulSet", json!(2), "redis:fail");
        s["spec"]["podManagementPolicy"] = json!("Parallel");
        step("StatefulSet", &mut s, 3);
        assert_eq!(
            (
                s["status"]["replicas"].clone(),
                s["status"]["availableReplicas"].clone()
            ),
            (json!(2), json!(0))
        );
    }

    #[test]
    fn daemon_set_on_one_node() {
        let mut d = workload("DaemonSet", Value::Null, "fluentd");
        step("DaemonSet", &mut d, 0);
        assert_eq!(
            d["status"],
            json!({"currentNumberScheduled": 1, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
                "numberReady": 0, "observedGeneration": 1, "updatedNumberScheduled": 1, "numberUnavailable": 1})
        );
        step("DaemonSet", &mut d, 1);
        assert_eq!(
            d["status"],
            json!({"currentNumberScheduled": 1, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
                "numberReady": 1, "observedGeneration": 1, "updatedNumberScheduled": 1, "numberAvailable": 1})
        );
        assert_eq!(step("DaemonSet", &mut d, 2), Outcome::Unchanged);

        let mut f = workload("DaemonSet", Value::Null, "fluentd:fail");
        step("DaemonSet", &mut f, 9);
        assert_eq!(
            (
                f["status"]["numberReady"].clone(),
                f["status"]["numberUnavailable"].clone()
            ),
            (json!(0), json!(1))
        );

        let mut g = workload("DaemonSet", Value::Null, "fluentd");
        g["spec"]["template"]["spec"]["nodeSelector"] = json!({"node-role.kubernetes.io/gpu": ""});
        step("DaemonSet", &mut g, 9);
        assert_eq!(g["status"]["desiredNumberScheduled"], 0);
        assert!(g["status"].get("numberUnavailable").is_none());
    }

    #[test]
    fn replica_set_counts() {
        let mut r = workload("ReplicaSet", json!(2), "nginx");
        step("ReplicaSet", &mut r, 0);
        assert_eq!(
            r["status"],
            json!({"replicas": 2, "fullyLabeledReplicas": 2, "observedGeneration": 1})
        );
        step("ReplicaSet", &mut r, 1);
        assert_eq!(
            r["status"],
            json!({"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "observedGeneration": 1})
        );
        // A failing template does not affect pods that already run.
        r["metadata"]["generation"] = json!(2);
        r["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:fail");
        step("ReplicaSet", &mut r, 4);
        assert_eq!(r["status"]["readyReplicas"], 2);
        let mut z = workload("ReplicaSet", json!(0), "nginx");
        step("ReplicaSet", &mut z, 0);
        assert_eq!(z["status"], json!({"replicas": 0, "observedGeneration": 1}));
    }
}
