//! The sync engine: every Application's target cluster follows Git, one worker pool per cluster.

pub mod app_status;
pub mod apply;
pub mod live;
pub mod operation;
pub mod order;
pub mod queue;
pub mod tracking;

/// The field manager of every server-side apply the hub makes.
pub const FIELD_MANAGER: &str = "flotilla";
