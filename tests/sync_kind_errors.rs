//! A kind the hub may not list on a cluster is that kind's problem, not the cluster's: the
//! Applications that use it report `Unknown` with a `ComparisonError` naming the kind and the
//! cause; the other Applications of the cluster keep syncing.
//!
//! The cluster is registered with a ServiceAccount token whose RBAC allows ConfigMaps and
//! Namespaces but not Secrets (the simulator enforces RBAC for such tokens), through the
//! simulator's shared port: simulator only.

mod support;

use std::time::Duration;

use base64::Engine;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::e2e::{E2e, condition, sync_status};
use support::sim::{eventually, ok};

const RBAC: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: restricted, namespace: kube-system}
---
apiVersion: v1
kind: Secret
metadata:
  name: restricted-token
  namespace: kube-system
  annotations: {kubernetes.io/service-account.name: restricted}
type: kubernetes.io/service-account-token
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: restricted}
rules:
- apiGroups: [""]
  resources: [configmaps, namespaces]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: restricted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: restricted}
subjects:
- {kind: ServiceAccount, name: restricted, namespace: kube-system}
"#;

/// Registers dev again as cluster `restricted`, with the token of the restricted account.
async fn register_restricted(e: &E2e) {
    let sim = e.sim.as_ref().unwrap();
    ok(&sim
        .kubectl_stdin("dev", &["apply", "-f", "-"], Some(RBAC))
        .await);
    let secrets: Api<Secret> = Api::namespaced(sim.client("dev").await, "kube-system");
    let token = eventually(Duration::from_secs(10), "the token controller", || async {
        secrets
            .get("restricted-token")
            .await
            .ok()
            .and_then(|s| s.data)
            .and_then(|d| d.get("token").cloned())
    })
    .await;
    let dev = sim.handle("dev");
    let config = json!({
        "bearerToken": String::from_utf8(token.0).unwrap(),
        "tlsClientConfig": {"caData": base64::engine::general_purpose::STANDARD.encode(dev.ca_pem())},
    });
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "cluster-restricted", "labels": {"flotilla.dev/secret-type": "cluster"}},
        "stringData": {"name": "restricted", "server": dev.shared_server(), "config": config.to_string()},
    }))
    .unwrap();
    Api::<Secret>::namespaced(e.hub.clone(), &e.ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forbidden_kind_fails_only_the_applications_that_use_it() {
    if support::e2e::skip_on_real_clusters(
        "a_forbidden_kind_fails_only_the_applications_that_use_it",
        "shared port and RBAC fixtures",
    ) {
        return;
    }
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  k: v\n";
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  k: v\n";
    let e = E2e::start(
        &[("apps/secret/s.yaml", secret), ("apps/cm/cm.yaml", cm)],
        |c| c.sync.list_timeout = Duration::from_secs(5),
    )
    .await;
    register_restricted(&e).await;
    let policy = json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]});
    e.create_app(
        "secrets",
        "apps/secret",
        "restricted",
        "kinds",
        policy.clone(),
    )
    .await;
    let failed = e
        .wait_app("secrets", "a ComparisonError naming Secrets", |a| {
            sync_status(a) == "Unknown"
                && condition(a, "ComparisonError").is_some_and(|m| m.contains("Secret (v1)"))
        })
        .await;
    let message = condition(&failed, "ComparisonError").unwrap();
    assert!(
        message.contains("cluster restricted") && message.contains("forbidden"),
        "{message}"
    );
    assert!(!message.contains("unavailable"), "{message}");

    // Another Application of the same cluster, using ConfigMaps only: synced.
    e.create_app("cms", "apps/cm", "restricted", "kinds", policy)
        .await;
    e.wait_synced("cms", None).await;
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, "kinds");
    assert!(cms.get_opt("settings").await.unwrap().is_some());
    // …and stays so while the other keeps failing: the cluster is not backing off.
    for _ in 0..2 {
        e.refresh("secrets").await;
        e.refresh("cms").await;
        e.wait_app("cms", "the refresh consumed", |a| {
            !a.metadata
                .annotations
                .as_ref()
                .is_some_and(|m| m.contains_key("flotilla.dev/refresh"))
        })
        .await;
    }
    e.wait_app("secrets", "the refresh consumed", |a| {
        !a.metadata
            .annotations
            .as_ref()
            .is_some_and(|m| m.contains_key("flotilla.dev/refresh"))
    })
    .await;
    let cms_app = e.apps().get("cms").await.unwrap();
    assert_eq!(sync_status(&cms_app), "Synced");
    assert_eq!(condition(&cms_app, "ComparisonError"), None);
    assert_eq!(condition(&cms_app, "UnknownError"), None);
    let secrets_app = e.apps().get("secrets").await.unwrap();
    assert_eq!(sync_status(&secrets_app), "Unknown");
    assert_eq!(
        condition(&secrets_app, "ComparisonError").as_deref(),
        Some(message.as_str()),
        "the same message: no status write per pass"
    );
    e.cleanup().await;
}
