//! Per-cluster sync: the pure comparison of desired and live objects, and their health.
pub mod diff;
pub mod health;
