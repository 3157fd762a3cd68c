//! Observability: the Prometheus metrics of the hub and the HTTP endpoint that serves them with
//! the health probes.

pub mod metrics;
pub mod server;
pub mod webhook;

pub use metrics::Metrics;
