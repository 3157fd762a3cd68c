//! Registered target clusters: cluster Secrets → one rate-limited kube client per cluster, and
//! each cluster's connection state. `registry` is the index (no I/O); `watch` feeds it from the
//! hub's Secrets and probes the clusters; `client` builds clients; `events` reports bad Secrets.

pub mod bearer;
pub mod client;
pub mod events;
pub mod in_flight;
pub mod install;
pub mod rate_limit;
pub mod registry;
pub mod transport;
pub mod watch;

pub use client::{ClientError, ClientOptions};
pub use registry::{Cluster, ClusterChange, ConnectionState, Registry, Upsert};

/// A kube error as one line: the error and its causes, outermost first.
pub fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
