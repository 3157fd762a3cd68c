//! Git access: a bare-repository cache per URL (git2), revision resolution, and read-only views of
//! a commit's tree. The pure core only sees [`tree::GitSource`] and [`tree::Tree`].

mod error;
pub mod tree;

pub use error::GitError;
pub use tree::{GitSource, MemorySource, Tree};
