//! The sync engine: every Application's target cluster follows Git, one worker pool per cluster.

pub mod order;
pub mod queue;
pub mod tracking;
