//! The hub's Prometheus metrics, in one registry. Names follow Argo CD's where a counterpart
//! exists (`argocd_appset_*` → `flotilla_appset_*`, `argocd_cluster_*` → `flotilla_cluster_*`),
//! with the same labels, so its dashboards port by renaming.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::cluster::Registry as ClusterRegistry;

/// Every metric of the hub.
pub struct Metrics {
    pub registry: Registry,
    /// `namespace, name, resource_update_status` (the `ResourcesUpToDate` status), = 1.
    pub appset_info: IntGaugeVec,
    pub appset_owned_applications: IntGaugeVec,
    pub appset_reconcile: HistogramVec,
    /// Application writes of the ApplicationSet controller by `verb` and `result`.
    pub appset_writes: IntCounterVec,
    /// `server, name, k8s_version`, = 1.
    pub cluster_info: IntGaugeVec,
    /// `server, name`: 1 when the last probe succeeded.
    pub cluster_connection_status: IntGaugeVec,
    /// Application reconcile duration, `namespace, dest_server`.
    pub app_reconcile: HistogramVec,
    /// Git resolution and render of one Application (cache hits included).
    pub app_render: Histogram,
    /// Status writes of the sync engine.
    pub app_status_writes: IntCounter,
    /// Completed syncs, `namespace, name, project, dest_server, phase`.
    pub app_sync_total: IntCounterVec,
    /// Requests to target clusters, `server, verb, response_code`.
    pub k8s_requests: IntCounterVec,
    /// Reconcile queue depth per cluster, `server, state` (pending, running).
    pub queue_depth: IntGaugeVec,
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry
        .register(Box::new(g.clone()))
        .expect("unique metric");
    g
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let appset_reconcile = HistogramVec::new(
            HistogramOpts::new(
                "flotilla_appset_reconcile",
                "ApplicationSet reconcile duration, seconds.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]),
            &["namespace", "name"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(appset_reconcile.clone()))
            .expect("unique metric");
        let app_reconcile = HistogramVec::new(
            HistogramOpts::new(
                "flotilla_app_reconcile",
                "Application reconcile duration, seconds.",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]),
            &["namespace", "dest_server"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(app_reconcile.clone()))
            .expect("unique metric");
        let app_render = Histogram::with_opts(
            HistogramOpts::new(
                "flotilla_app_render_seconds",
                "Git resolution and rendering of one Application, seconds.",
            )
            .buckets(vec![0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
        )
        .expect("valid metric");
        registry
            .register(Box::new(app_render.clone()))
            .expect("unique metric");
        let app_status_writes = IntCounter::new(
            "flotilla_app_status_writes_total",
            "Application status writes.",
        )
        .expect("valid metric");
        registry
            .register(Box::new(app_status_writes.clone()))
            .expect("unique metric");
        let app_sync_total = IntCounterVec::new(
            Opts::new("flotilla_app_sync_total", "Completed syncs."),
            &["namespace", "name", "project", "dest_server", "phase"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(app_sync_total.clone()))
            .expect("unique metric");
        let k8s_requests = IntCounterVec::new(
            Opts::new(
                "flotilla_app_k8s_request_total",
                "Requests of the sync engine to target clusters.",
            ),
            &["server", "verb", "response_code"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(k8s_requests.clone()))
            .expect("unique metric");
        let appset_writes = IntCounterVec::new(
            Opts::new(
                "flotilla_appset_application_writes_total",
                "Application writes by the ApplicationSet controller.",
            ),
            &["verb", "result"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(appset_writes.clone()))
            .expect("unique metric");
        Self {
            appset_info: gauge(
                &registry,
                "flotilla_appset_info",
                "ApplicationSets, with the status of ResourcesUpToDate.",
                &["namespace", "name", "resource_update_status"],
            ),
            appset_owned_applications: gauge(
                &registry,
                "flotilla_appset_owned_applications",
                "Applications owned by an ApplicationSet.",
                &["namespace", "name"],
            ),
            appset_reconcile,
            appset_writes,
            cluster_info: gauge(
                &registry,
                "flotilla_cluster_info",
                "Registered clusters.",
                &["server", "name", "k8s_version"],
            ),
            cluster_connection_status: gauge(
                &registry,
                "flotilla_cluster_connection_status",
                "1 when the last probe of the cluster API succeeded.",
                &["server", "name"],
            ),
            app_reconcile,
            app_render,
            app_status_writes,
            app_sync_total,
            k8s_requests,
            queue_depth: gauge(
                &registry,
                "flotilla_app_queue_depth",
                "Applications queued per cluster.",
                &["server", "state"],
            ),
            registry,
        }
    }

    /// Refreshes the cluster gauges from the registry (at scrape time).
    pub fn observe_clusters(&self, clusters: &ClusterRegistry) {
        self.cluster_info.reset();
        self.cluster_connection_status.reset();
        for c in clusters.clusters() {
            let state = c.state();
            let version = state.server_version.clone().unwrap_or_default();
            let server = c.server_shown().to_string();
            self.cluster_info
                .with_label_values(&[&server, c.name(), &version])
                .set(1);
            self.cluster_connection_status
                .with_label_values(&[&server, c.name()])
                .set(i64::from(state.is_connected()));
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// `_info` gauge families (every series is 1) in the text exposition format. For families of one
/// series per object (10,000 Applications), written straight from the cache at scrape time: the
/// registry would build and keep a labelled child per series, several times the memory of the
/// text. This writes the family's `# HELP` and `# TYPE` lines; [`write_info_series`] its series.
pub fn write_info_header(out: &mut String, name: &str, help: &str) {
    use std::fmt::Write;
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// One series of an `_info` gauge family: `name{label="value",...} 1`.
pub fn write_info_series(out: &mut String, name: &str, labels: &[&str], values: &[&str]) {
    out.push_str(name);
    out.push('{');
    for (i, (label, value)) in labels.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(label);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    }
    out.push_str("} 1\n");
}

/// The exposition format's label value escapes: backslash, double quote, line feed.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_family_is_exposition_text_with_escaped_values() {
        let mut out = String::new();
        let labels = ["name", "sync_status"];
        write_info_header(&mut out, "flotilla_app_info", "Applications.");
        write_info_series(&mut out, "flotilla_app_info", &labels, &["a\"b", "Synced"]);
        write_info_series(&mut out, "flotilla_app_info", &labels, &["c\\d\ne", ""]);
        assert_eq!(
            out,
            "# HELP flotilla_app_info Applications.\n# TYPE flotilla_app_info gauge\n\
             flotilla_app_info{name=\"a\\\"b\",sync_status=\"Synced\"} 1\n\
             flotilla_app_info{name=\"c\\\\d\\ne\",sync_status=\"\"} 1\n"
        );
    }
}
