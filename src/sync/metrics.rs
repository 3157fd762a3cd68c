//! Scrape-time metrics of the sync engine: `flotilla_app_info` (Argo CD's `argocd_app_info`),
//! written as text straight from the Application cache (one series per Application), and the
//! queue depth of each cluster's pool.

use kube::ResourceExt;

use super::engine::Engine;
use super::operation;
use crate::observe::Metrics;
use crate::observe::metrics::write_info_family;

const APP_INFO_LABELS: [&str; 7] = [
    "namespace",
    "name",
    "project",
    "dest_server",
    "sync_status",
    "health_status",
    "autosync_enabled",
];

pub fn observe(engine: &Engine, m: &Metrics, out: &mut String) {
    let mut apps = engine.apps.state();
    apps.sort_by(|a, b| {
        (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
            .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
    });
    let rows: Vec<[String; 3]> = apps
        .iter()
        .map(|app| {
            let server = engine
                .destination(app)
                .map(|c| c.server().to_string())
                .or_else(|| app.spec.destination.server.clone())
                .unwrap_or_default();
            let auto = operation::automated(&app.spec).is_some().to_string();
            [app.namespace().unwrap_or_default(), server, auto]
        })
        .collect();
    write_info_family(
        out,
        "flotilla_app_info",
        "Applications, with their sync and health status.",
        &APP_INFO_LABELS,
        apps.iter()
            .zip(&rows)
            .map(|(app, [namespace, server, auto])| {
                let status = app.status.as_ref();
                let sync = status
                    .and_then(|s| s.sync.as_ref())
                    .map_or("", |s| s.status.as_str());
                let health = status
                    .and_then(|s| s.health.as_ref())
                    .map_or("", |h| h.status.as_str());
                vec![
                    namespace.as_str(),
                    app.metadata.name.as_deref().unwrap_or_default(),
                    app.spec.project.as_str(),
                    server.as_str(),
                    sync,
                    health,
                    auto.as_str(),
                ]
            }),
    );
    m.queue_depth.reset();
    for pool in engine.pools() {
        let (pending, _, running) = pool.queue.depth();
        m.queue_depth
            .with_label_values(&[pool.server.as_str(), "pending"])
            .set(pending as i64);
        m.queue_depth
            .with_label_values(&[pool.server.as_str(), "running"])
            .set(running as i64);
    }
}
