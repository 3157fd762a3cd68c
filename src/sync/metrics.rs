//! Scrape-time gauges of the sync engine: `flotilla_app_info` (Argo CD's `argocd_app_info`) from
//! the Application cache, and the queue depth of each cluster's pool.

use kube::ResourceExt;

use super::engine::Engine;
use super::operation;
use crate::observe::Metrics;

pub fn observe(engine: &Engine, m: &Metrics) {
    m.app_info.reset();
    for app in engine.apps.state() {
        let status = app.status.clone().unwrap_or_default();
        let sync = status.sync.map(|s| s.status).unwrap_or_default();
        let health = status.health.map(|h| h.status).unwrap_or_default();
        let server = engine
            .destination(&app)
            .map(|c| c.server().to_string())
            .or_else(|| app.spec.destination.server.clone())
            .unwrap_or_default();
        let auto = operation::automated(&app.spec).is_some().to_string();
        m.app_info
            .with_label_values(&[
                &app.namespace().unwrap_or_default(),
                &app.name_any(),
                &app.spec.project,
                &server,
                &sync,
                &health,
                &auto,
            ])
            .set(1);
    }
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
