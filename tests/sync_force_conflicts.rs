//! Server-side apply conflicts: a field another manager owns is a conflict the sync reports
//! (the resource fails, the operation fails) unless the sync option `ForceConflicts=true` (or
//! Argo CD's `ServerSideApply=true,Force=true`), which takes the field over.

mod support;

use flotilla::api::Application;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::e2e::E2e;

fn op(a: &Application) -> (String, String, String) {
    let o = a
        .status
        .as_ref()
        .and_then(|s| s.operation_state.clone())
        .unwrap_or_default();
    let request = o
        .operation
        .and_then(|o| o.info.into_iter().find(|i| i.name == "test"))
        .map(|i| i.value)
        .unwrap_or_default();
    (o.phase, o.message.unwrap_or_default(), request)
}

async fn sync(e: &E2e, request: &str) {
    let patch = json!({"operation": {"sync": {}, "initiatedBy": {"username": "alice"},
        "info": [{"name": "test", "value": request}]}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_reported_unless_forced() {
    let e = E2e::start(
        &[(
            "apps/web/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  color: blue\n",
        )],
        |_| {},
    )
    .await;
    let ns = e.target_ns("dev", "conflicts");
    let dev = e.target("dev").await;
    Api::<Namespace>::all(dev.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    // Another manager owns data.color.
    let cms: Api<ConfigMap> = Api::namespaced(dev, &ns);
    cms.patch(
        "shared",
        &PatchParams::apply("other-controller"),
        &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "shared"}, "data": {"color": "red"}})),
    )
    .await
    .unwrap();
    e.create_app("web", "apps/web", "dev", &ns, json!({})).await;
    sync(&e, "plain").await;
    let failed = e
        .wait_app("web", "the sync failed", |a| {
            let (phase, _, request) = op(a);
            request == "plain" && phase == "Failed"
        })
        .await;
    let message = op(&failed).1;
    assert!(
        message.contains("conflict") && message.contains("other-controller"),
        "{message}"
    );
    let result = failed
        .status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .and_then(|o| o.sync_result.as_ref())
        .and_then(|r| r.resources.iter().find(|r| r.name == "shared").cloned())
        .unwrap();
    assert_eq!(result.status.as_deref(), Some("SyncFailed"));
    assert_eq!(
        cms.get("shared").await.unwrap().data.unwrap()["color"],
        "red"
    );
    // ForceConflicts=true: the field is taken over.
    let patch = json!({"spec": {"syncPolicy": {"syncOptions": ["ForceConflicts=true"]}}});
    e.apps()
        .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    sync(&e, "forced").await;
    e.wait_app("web", "the forced sync", |a| {
        op(a).2 == "forced" && op(a).0 == "Succeeded"
    })
    .await;
    let live = cms.get("shared").await.unwrap();
    assert_eq!(live.data.as_ref().unwrap()["color"], "blue");
    let color_owner = live
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .find(|m| {
            m.fields_v1
                .as_ref()
                .is_some_and(|f| f.0.pointer("/f:data/f:color").is_some())
        })
        .and_then(|m| m.manager);
    assert_eq!(color_owner.as_deref(), Some("flotilla"));
    e.wait_synced("web", None).await;
    e.cleanup().await;
}
