//! The sync engine: every Application's target cluster follows Git, one worker pool per cluster.
//!
//! Pure: `diff` (desired vs live), `health`, `order` (waves), `operation` (when to sync),
//! `live_health` (when a cluster's cache can be trusted),
//! `app_status`, `tracking`, `queue`. Drivers: `source` (Git + render), `live` (watches),
//! `live_watch` (one type's watch), `apply`, `pool`, `engine` (routing, triggers), `reconcile`
//! (one Application's pass).

pub mod app_status;
pub mod apply;
pub mod diff;
pub mod engine;
pub mod health;
pub mod live;
pub mod live_health;
pub mod live_watch;
pub mod metrics;
pub mod operation;
pub mod order;
pub mod pool;
pub mod queue;
pub mod reconcile;
pub mod source;
pub mod sync_run;
pub mod tracking;

pub use diff::FIELD_MANAGER;
