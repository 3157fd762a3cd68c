//! The hub's Prometheus metrics, in one registry. Names follow Argo CD's where a counterpart
//! exists (`argocd_appset_*` → `flotilla_appset_*`, `argocd_cluster_*` → `flotilla_cluster_*`),
//! with the same labels, so its dashboards port by renaming.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

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
}

fn gauge(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    registry.register(Box::new(g.clone())).expect("unique metric");
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
            HistogramOpts::new("flotilla_appset_reconcile", "ApplicationSet reconcile duration, seconds.").buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]),
            &["namespace", "name"],
        )
        .expect("valid metric");
        registry.register(Box::new(appset_reconcile.clone())).expect("unique metric");
        let appset_writes = IntCounterVec::new(Opts::new("flotilla_appset_application_writes_total", "Application writes by the ApplicationSet controller."), &["verb", "result"]).expect("valid metric");
        registry.register(Box::new(appset_writes.clone())).expect("unique metric");
        Self {
            appset_info: gauge(&registry, "flotilla_appset_info", "ApplicationSets, with the status of ResourcesUpToDate.", &["namespace", "name", "resource_update_status"]),
            appset_owned_applications: gauge(&registry, "flotilla_appset_owned_applications", "Applications owned by an ApplicationSet.", &["namespace", "name"]),
            appset_reconcile,
            appset_writes,
            cluster_info: gauge(&registry, "flotilla_cluster_info", "Registered clusters.", &["server", "name", "k8s_version"]),
            cluster_connection_status: gauge(&registry, "flotilla_cluster_connection_status", "1 when the last probe of the cluster API succeeded.", &["server", "name"]),
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
            self.cluster_info.with_label_values(&[c.server(), c.name(), &version]).set(1);
            self.cluster_connection_status.with_label_values(&[c.server(), c.name()]).set(i64::from(state.is_connected()));
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
