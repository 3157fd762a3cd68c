//! The ApplicationSet engine, a pure core: an ApplicationSet plus its inputs (registered clusters,
//! Git trees) expand into Applications, with Argo CD's semantics in the default template mode.

pub mod application_template;
mod cluster_generator;
pub mod cluster_interest;
pub mod controller;
pub mod error;
pub mod expand;
pub mod freshness;
pub mod generator;
mod git_generator;
mod list_generator;
mod matrix_generator;
mod merge_generator;
pub mod owned_changes;
pub mod params;
pub mod path_glob;
pub mod plan;
pub mod selector;
pub mod status;
pub mod template;
pub mod value_template;

pub use error::{AppSetError, GenerateError};
pub use expand::{Expansion, Inputs, expand};
