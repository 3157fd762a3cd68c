//! Kustomize overlays per environment: one base, an overlay per cluster, each Application
//! gets its environment's manifests.

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;

const BASE_K: &str =
    "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- cm.yaml\n";
const BASE_CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  tier: base\n  replicas: \"1\"\n";

fn overlay(env: &str, replicas: u32) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\nnamePrefix: {env}-\nlabels:\n- pairs:\n    env: {env}\npatches:\n- patch: |-\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: settings\n    data:\n      tier: {env}\n      replicas: \"{replicas}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_gets_its_overlay() {
    let files = [
        ("podinfo/base/kustomization.yaml", BASE_K.to_string()),
        ("podinfo/base/cm.yaml", BASE_CM.to_string()),
        ("podinfo/overlays/dev/kustomization.yaml", overlay("dev", 1)),
        (
            "podinfo/overlays/prod/kustomization.yaml",
            overlay("prod", 5),
        ),
    ];
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let e = E2e::start(&refs, |_| {}).await;
    for (env, replicas) in [("dev", "1"), ("prod", "5")] {
        let ns = e.target_ns(env, "podinfo");
        e.create_app(
            &format!("podinfo-{env}"),
            &format!("podinfo/overlays/{env}"),
            env,
            &ns,
            json!({"automated": {}, "syncOptions": ["CreateNamespace=true"]}),
        )
        .await;
        let app = e
            .wait_synced(&format!("podinfo-{env}"), Some("Healthy"))
            .await;
        assert_eq!(
            app.status.unwrap().source_type.as_deref(),
            Some("Kustomize")
        );
        let cms: Api<ConfigMap> = Api::namespaced(e.target(env).await, &ns);
        let cm = cms.get(&format!("{env}-settings")).await.unwrap();
        let data = cm.data.unwrap();
        assert_eq!(
            (data["tier"].as_str(), data["replicas"].as_str()),
            (env, replicas)
        );
        assert_eq!(cm.metadata.labels.unwrap()["env"], env);
    }
    e.cleanup().await;
}
