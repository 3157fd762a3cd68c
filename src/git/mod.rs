//! Git access: a bare-repository cache per URL (git2), revision resolution, and read-only views of
//! a commit's tree. The pure core only sees [`tree::GitSource`] and [`tree::Tree`].

pub mod cache;
pub mod credentials;
mod error;
pub mod local_dir;
pub mod rounds;
pub mod tree;
pub mod tree_git;

pub use cache::GitCache;
pub use credentials::redact_url;
pub use error::GitError;
pub use local_dir::LocalDirSource;
pub use tree::{GitSource, MemorySource, Tree};
pub use tree_git::GitTree;
