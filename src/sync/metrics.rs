//! Scrape-time metrics of the sync engine: `flotilla_app_info` (Argo CD's `argocd_app_info`),
//! written as text straight from the Application cache (one series per Application), and the
//! queue depth of each cluster's pool.

use super::engine::Engine;
use super::operation;
use crate::observe::Metrics;
use crate::observe::metrics::{write_info_header, write_info_series};

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
    const NAME: &str = "flotilla_app_info";
    let mut apps = engine.apps.state();
    apps.sort_by(|a, b| {
        (a.metadata.namespace.as_deref(), a.metadata.name.as_deref())
            .cmp(&(b.metadata.namespace.as_deref(), b.metadata.name.as_deref()))
    });
    write_info_header(
        out,
        NAME,
        "Applications, with their sync and health status.",
    );
    for app in &apps {
        let server = engine
            .destination(app)
            .map(|c| c.server_shown().to_string())
            .or_else(|| {
                let server = app.spec.destination.server.as_deref()?;
                Some(crate::api::ServerUrl(server).to_string())
            })
            .unwrap_or_default();
        let status = app.status.as_ref();
        let sync = status
            .and_then(|s| s.sync.as_ref())
            .map_or("", |s| s.status.as_str());
        let health = status
            .and_then(|s| s.health.as_ref())
            .map_or("", |h| h.status.as_str());
        let auto = if operation::automated(&app.spec).is_some() {
            "true"
        } else {
            "false"
        };
        let values = [
            app.metadata.namespace.as_deref().unwrap_or_default(),
            app.metadata.name.as_deref().unwrap_or_default(),
            app.spec.project.as_str(),
            server.as_str(),
            sync,
            health,
            auto,
        ];
        write_info_series(out, NAME, &APP_INFO_LABELS, &values);
    }
    m.queue_depth.reset();
    for pool in engine.pools() {
        let (pending, _, running) = pool.queue.depth();
        let server = pool.cluster.server_shown().to_string();
        m.queue_depth
            .with_label_values(&[server.as_str(), "pending"])
            .set(pending as i64);
        m.queue_depth
            .with_label_values(&[server.as_str(), "running"])
            .set(running as i64);
    }
}
