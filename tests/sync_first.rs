//! First sync: an Application's manifests reach its cluster (server-side applied by the field
//! manager `flotilla`, marked with the tracking label and annotations), its status says Synced
//! and Healthy, its history records the revision, and `/metrics` reports it
//! (`flotilla_app_info`).

mod support;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::json;
use support::e2e::E2e;

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_applies_and_reports() {
    let e = E2e::start(&[("apps/web/cm.yaml", CM)], |c| {
        c.listen = Some("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let ns = e.target_ns("dev", "web");
    e.create_app(
        "web",
        "apps/web",
        "dev",
        &ns,
        json!({"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}),
    )
    .await;
    let app = e.wait_synced("web", Some("Healthy")).await;
    let status = app.status.unwrap();
    let sha = status.sync.as_ref().unwrap().revision.clone().unwrap();
    assert_eq!(sha.len(), 40);
    assert_eq!(status.history.len(), 1);
    assert_eq!(status.history[0].revision, sha);
    let op = status.operation_state.unwrap();
    assert_eq!(op.phase, "Succeeded");
    assert_eq!(status.resources.len(), 1);
    assert_eq!(status.resources[0].status.as_deref(), Some("Synced"));
    let cms: Api<ConfigMap> = Api::namespaced(e.target("dev").await, &ns);
    let cm = cms.get("settings").await.unwrap();
    // Server-side apply by the manager `flotilla`, which owns what it applied; no other write.
    let managed = cm.metadata.managed_fields.clone().unwrap_or_default();
    let ours: Vec<_> = managed
        .iter()
        .filter(|m| m.manager.as_deref() == Some("flotilla"))
        .collect();
    assert_eq!(ours.len(), 1, "{managed:#?}");
    assert_eq!(ours[0].operation.as_deref(), Some("Apply"), "{managed:#?}");
    assert!(ours[0].subresource.is_none(), "{managed:#?}");
    let fields = serde_json::to_value(&ours[0].fields_v1).unwrap();
    assert!(
        fields["f:data"]["f:color"].is_object()
            && fields["f:metadata"]["f:annotations"]["f:flotilla.dev/tracking-id"].is_object()
            && fields["f:metadata"]["f:labels"]["f:flotilla.dev/instance"].is_object(),
        "the applied fields are flotilla's: {fields}"
    );
    assert_eq!(cm.data.unwrap()["color"], "blue");
    let ann = cm.metadata.annotations.unwrap();
    assert_eq!(
        ann["flotilla.dev/tracking-id"],
        format!("web:/ConfigMap:{ns}/settings")
    );
    // The hub's installation id: none by default (the simulator), the test's own otherwise.
    assert_eq!(
        ann.get("flotilla.dev/installation-id").map(String::as_str),
        Some(e.installation_id.as_str()).filter(|i| !i.is_empty())
    );
    assert_eq!(cm.metadata.labels.unwrap()["flotilla.dev/instance"], "web");

    let addr = e.running.as_ref().unwrap().addr().unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut metrics = String::new();
    s.read_to_string(&mut metrics).await.unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("flotilla_app_info{") && l.contains("name=\"web\""))
        .unwrap_or_else(|| panic!("no flotilla_app_info for web in\n{metrics}"));
    assert!(
        line.contains("sync_status=\"Synced\"")
            && line.contains("health_status=\"Healthy\"")
            && line.contains("autosync_enabled=\"true\"")
            && line.contains("project=\"default\"")
            && line.ends_with("} 1"),
        "{line}"
    );
    assert_eq!(metrics.matches("# TYPE flotilla_app_info gauge").count(), 1);
    e.cleanup().await;
}
