//! Service and Ingress load-balancer addresses (as MetalLB and an ingress controller publish
//! them) and PersistentVolumeClaim binding (as the volume controller binds a dynamically
//! provisioned volume).

use serde_json::{Value, json};

use super::Outcome;
use super::util::{self, Ctx};

/// A LoadBalancer Service gets a stable address at once; other types have an empty
/// `loadBalancer` status.
pub(super) fn service(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    if spec["type"].as_str() != Some("LoadBalancer") {
        // Only clear an address left over from a former LoadBalancer.
        if ctx.prev["loadBalancer"]["ingress"].is_null() {
            return Outcome::Unchanged;
        }
        return util::finish(ctx, json!({"loadBalancer": {}}), None);
    }
    let ip = match spec["loadBalancerIP"].as_str().filter(|ip| !ip.is_empty()) {
        Some(ip) => ip.to_string(),
        None => util::lb_ip(ctx.cfg, ctx.namespace(), ctx.name()),
    };
    let mut status = ctx.prev.clone();
    status["loadBalancer"] = json!({"ingress": [{"ip": ip, "ipMode": "VIP"}]});
    util::finish(ctx, status, None)
}

/// An Ingress gets a stable address at once.
pub(super) fn ingress(ctx: &Ctx<'_>) -> Outcome {
    let ip = util::lb_ip(ctx.cfg, ctx.namespace(), ctx.name());
    util::finish(
        ctx,
        json!({"loadBalancer": {"ingress": [{"ip": ip}]}}),
        None,
    )
}

/// A claim is `Pending`, then `Bound` to volume `pvc-<uid>` (a claim with
/// `storageClassName: ""` waits for a pre-provisioned volume and stays `Pending`).
///
/// The claim binds after `ready_after`, or as soon as its status already says `Pending` (as the
/// API server's defaulting makes it on creation): with nothing to write, no timer could be asked
/// for, and the claim would never bind.
pub(super) fn claim(ctx: &Ctx<'_>) -> Outcome {
    let spec = ctx.spec();
    let pre_bound = spec["volumeName"].as_str().filter(|v| !v.is_empty());
    let pending = ctx.prev["phase"].as_str() == Some("Pending");
    // A bound claim stays bound: the volume controller never takes a binding back.
    let bound = ctx.prev["phase"].as_str() == Some("Bound");
    if pre_bound.is_none() && spec["storageClassName"].as_str() == Some("") {
        return util::finish(ctx, json!({"phase": "Pending"}), None);
    }
    if !ctx.ready() && !pending && !bound {
        return util::finish(ctx, json!({"phase": "Pending"}), Some(ctx.remaining()));
    }
    let mut status = json!({"phase": "Bound"});
    if let Some(modes) = spec["accessModes"].as_array() {
        status["accessModes"] = Value::Array(modes.clone());
    }
    if let Some(storage) = spec["resources"]["requests"]["storage"].as_str() {
        status["capacity"] = json!({"storage": storage});
    }
    match pre_bound {
        Some(_) => util::finish(ctx, status, None),
        None => {
            let volume = format!("pvc-{}", uid(ctx));
            Outcome::SpecAndStatus {
                spec_patch: json!({"volumeName": volume}),
                status,
            }
        }
    }
}

/// The claim's uid, or a stable uuid-shaped stand-in when it has none.
fn uid(ctx: &Ctx<'_>) -> String {
    if let Some(u) = ctx.obj["metadata"]["uid"]
        .as_str()
        .filter(|u| !u.is_empty())
    {
        return u.to_string();
    }
    let h = util::sha256_hex(&format!("{}/{}", ctx.namespace(), ctx.name()));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{WorkloadConfig, reconcile};
    use super::*;

    const NOW: &str = "2024-05-01T10:00:00Z";

    fn run(group: &str, kind: &str, obj: &Value, since: u64) -> Outcome {
        reconcile(
            group,
            kind,
            obj,
            Duration::from_secs(since),
            NOW,
            &WorkloadConfig::default(),
        )
    }

    #[test]
    fn load_balancer_gets_a_stable_address() {
        let mut svc = json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}, "status": {"loadBalancer": {}}});
        let Outcome::Status {
            status,
            recheck_after: None,
        } = run("", "Service", &svc, 0)
        else {
            panic!("expected a status");
        };
        let ip = status["loadBalancer"]["ingress"][0]["ip"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(ip.starts_with("172.18.255."), "{ip}");
        assert_eq!(status["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
        svc["status"] = status;
        assert_eq!(run("", "Service", &svc, 1), Outcome::Unchanged);
        // Back to ClusterIP: the address goes.
        svc["spec"]["type"] = json!("ClusterIP");
        assert_eq!(
            run("", "Service", &svc, 0),
            Outcome::Status {
                status: json!({"loadBalancer": {}}),
                recheck_after: None
            }
        );
        let cip = json!({"metadata": {"name": "db"}, "spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}}});
        assert_eq!(run("", "Service", &cip, 0), Outcome::Unchanged);
    }

    #[test]
    fn ingress_gets_an_address() {
        let mut ing = json!({"metadata": {"name": "web", "namespace": "default", "generation": 1}, "spec": {}});
        let Outcome::Status { status, .. } = run("networking.k8s.io", "Ingress", &ing, 0) else {
            panic!("expected a status");
        };
        assert!(
            status["loadBalancer"]["ingress"][0]["ip"]
                .as_str()
                .is_some_and(|ip| ip.starts_with("172.18.255."))
        );
        assert!(status["loadBalancer"]["ingress"][0].get("ipMode").is_none());
        ing["status"] = status;
        assert_eq!(
            run("networking.k8s.io", "Ingress", &ing, 3),
            Outcome::Unchanged
        );
    }

    #[test]
    fn claim_binds_after_the_wait() {
        let mut pvc = json!({
            "metadata": {"name": "data", "namespace": "default", "uid": "8c3a6f0e-1f2b-4c1d-9e8f-0a1b2c3d4e5f"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Pending"}
        });
        // Defaulted to Pending on creation: binds on the first call.
        let out = run("", "PersistentVolumeClaim", &pvc, 0);
        let bound = json!({"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "phase": "Bound"});
        assert_eq!(
            out,
            Outcome::SpecAndStatus {
                spec_patch: json!({"volumeName": "pvc-8c3a6f0e-1f2b-4c1d-9e8f-0a1b2c3d4e5f"}),
                status: bound.clone()
            }
        );
        pvc["spec"]["volumeName"] = json!("pvc-8c3a6f0e-1f2b-4c1d-9e8f-0a1b2c3d4e5f");
        pvc["status"] = bound;
        assert_eq!(
            run("", "PersistentVolumeClaim", &pvc, 2),
            Outcome::Unchanged
        );
        // Bound early (it was Pending), it stays Bound when looked at again before the wait ends.
        assert_eq!(
            run("", "PersistentVolumeClaim", &pvc, 0),
            Outcome::Unchanged
        );

        let mut fresh = json!({"metadata": {"name": "x"}, "spec": {}});
        let Outcome::Status {
            status,
            recheck_after: Some(_),
        } = run("", "PersistentVolumeClaim", &fresh, 0)
        else {
            panic!("expected Pending and a timer");
        };
        assert_eq!(status, json!({"phase": "Pending"}));
        fresh["status"] = status;
        let static_only = json!({"metadata": {"name": "x"}, "spec": {"storageClassName": ""}, "status": {"phase": "Pending"}});
        assert_eq!(
            run("", "PersistentVolumeClaim", &static_only, 9),
            Outcome::Unchanged
        );
        let Outcome::SpecAndStatus { spec_patch, .. } = run("", "PersistentVolumeClaim", &fresh, 9)
        else {
            panic!("expected a binding");
        };
        assert_eq!(spec_patch["volumeName"].as_str().map(str::len), Some(40));
    }
}
