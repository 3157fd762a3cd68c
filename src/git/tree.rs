//! What the pure core sees of a Git repository: a resolved commit's tree, read-only.
//!
//! No git2 here. The ApplicationSet engine and (later) the renderer take a `&dyn GitSource`;
//! `git::cache::GitCache` implements it over a bare-repository cache, tests use [`MemorySource`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::GitError;

/// Resolves `(repository URL, revision)` to the tree of one commit.
pub trait GitSource {
    /// `revision` is `HEAD` (or empty: the remote's default branch), a branch, a tag, or a full or
    /// short commit SHA.
    fn snapshot(&self, repo_url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError>;
}

/// One commit's tree. Paths are relative, `/`-separated, never start with `/` or `./`.
pub trait Tree: Send + Sync {
    /// Full hex SHA of the commit.
    fn commit_sha(&self) -> &str;
    /// Every directory of the tree, recursively, sorted; the root itself is not listed, and
    /// directories whose name starts with `.` are skipped together with all they contain
    /// (as Argo CD's repo-server does). Symlinks are never followed.
    fn directories(&self) -> &[String];
    /// Every regular file (blob, mode 100644/100755) of the tree, recursively, sorted. Symlinks and
    /// submodules are not files. Hidden files are listed.
    fn files(&self) -> &[String];
    /// Content of a regular file listed by [`Tree::files`]; anything else is `GitError::NotFound`.
    fn read_file(&self, path: &str) -> Result<Vec<u8>, GitError>;
}

/// An in-memory repository set for tests and benchmarks: url -> revision -> files.
#[derive(Default, Clone)]
pub struct MemorySource {
    repos: BTreeMap<String, BTreeMap<String, Arc<MemoryTree>>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `revision` of `repo_url` with these `(path, content)` files.
    pub fn with_files<'a>(
        mut self,
        repo_url: &str,
        revision: &str,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let tree = MemoryTree::new(
            format!(
                "{:040x}",
                self.repos.values().map(BTreeMap::len).sum::<usize>() + 1
            ),
            files
                .into_iter()
                .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec())),
        );
        self.repos
            .entry(repo_url.to_string())
            .or_default()
            .insert(revision.to_string(), Arc::new(tree));
        self
    }
}

impl GitSource for MemorySource {
    fn snapshot(&self, repo_url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError> {
        let revs = self
            .repos
            .get(repo_url)
            .ok_or_else(|| GitError::Unreachable {
                url: repo_url.to_string(),
                cause: "no such repository".into(),
            })?;
        let rev = if revision.is_empty() {
            "HEAD"
        } else {
            revision
        };
        let tree = revs.get(rev).ok_or_else(|| GitError::UnknownRevision {
            url: repo_url.to_string(),
            revision: rev.to_string(),
        })?;
        Ok(tree.clone() as Arc<dyn Tree>)
    }
}

/// A tree held in memory; directories are derived from the file paths.
pub struct MemoryTree {
    sha: String,
    dirs: Vec<String>,
    files: BTreeMap<String, Vec<u8>>,
    file_list: Vec<String>,
}

impl MemoryTree {
    pub fn new(sha: String, files: impl IntoIterator<Item = (String, Vec<u8>)>) -> Self {
        let files: BTreeMap<String, Vec<u8>> = files.into_iter().collect();
        let mut dirs = BTreeSet::new();
        for path in files.keys() {
            let mut prefix = String::new();
            let parts: Vec<&str> = path.split('/').collect();
            for part in &parts[..parts.len() - 1] {
                if part.starts_with('.') {
                    break;
                }
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                dirs.insert(prefix.clone());
            }
        }
        let file_list = files.keys().cloned().collect();
        MemoryTree {
            sha,
            dirs: dirs.into_iter().collect(),
            files,
            file_list,
        }
    }
}

impl Tree for MemoryTree {
    fn commit_sha(&self) -> &str {
        &self.sha
    }
    fn directories(&self) -> &[String] {
        &self.dirs
    }
    fn files(&self) -> &[String] {
        &self.file_list
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, GitError> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| GitError::NotFound {
                path: path.to_string(),
            })
    }
}
