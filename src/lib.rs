//! Flotilla: a multi-cluster GitOps hub. The module map, nothing else.

pub mod api;
pub mod appset;
pub mod cli;
pub mod cluster;
pub mod git;
pub mod hub;
pub mod observe;
pub mod render;
pub mod sim;
pub mod sync;
pub mod timing;
pub mod wildcard;
