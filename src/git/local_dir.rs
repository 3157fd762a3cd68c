//! A local working tree standing in for a repository URL (`--local-repo URL=DIR`): try an
//! ApplicationSet against a checkout before pushing. The revision is ignored (the tree is read
//! as it is on disk); symlinks are never followed and `.git` is never read, so nothing outside
//! `DIR` is reachable, as with a commit's tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{GitError, GitSource, Tree};

/// Serves some URLs from local directories and the others from `fallback`.
pub struct LocalDirSource<'a> {
    dirs: BTreeMap<String, PathBuf>,
    fallback: &'a dyn GitSource,
}

impl<'a> LocalDirSource<'a> {
    pub fn new(dirs: BTreeMap<String, PathBuf>, fallback: &'a dyn GitSource) -> Self {
        LocalDirSource { dirs, fallback }
    }
}

impl GitSource for LocalDirSource<'_> {
    fn snapshot(&self, repo_url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError> {
        match self.dirs.get(repo_url) {
            Some(dir) => Ok(Arc::new(DirTree::read(dir)?)),
            None => self.fallback.snapshot(repo_url, revision),
        }
    }
}

/// The listing of a directory, read once; file contents are read on demand.
pub struct DirTree {
    root: PathBuf,
    dirs: Vec<String>,
    files: Vec<String>,
}

impl DirTree {
    /// Walks `root` (no symlinks, no `.git`) and lists directories (hidden ones skipped with their
    /// content, as for a commit's tree) and regular files.
    pub fn read(root: &Path) -> Result<Self, GitError> {
        let mut tree = DirTree {
            root: root.to_path_buf(),
            dirs: Vec::new(),
            files: Vec::new(),
        };
        tree.walk(root, "", false)?;
        tree.dirs.sort();
        tree.files.sort();
        Ok(tree)
    }

    fn walk(&mut self, dir: &Path, prefix: &str, hidden: bool) -> Result<(), GitError> {
        let err = |e: std::io::Error| GitError::Cache {
            path: dir.display().to_string(),
            cause: e.to_string(),
        };
        for entry in std::fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            let file_type = entry.file_type().map_err(err)?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if file_type.is_dir() && name != ".git" {
                let hidden_dir = hidden || name.starts_with('.');
                if !hidden_dir {
                    self.dirs.push(path.clone());
                }
                self.walk(&entry.path(), &path, hidden_dir)?;
            } else if file_type.is_file() {
                self.files.push(path);
            }
        }
        Ok(())
    }
}

impl Tree for DirTree {
    fn commit_sha(&self) -> &str {
        "local"
    }
    fn directories(&self) -> &[String] {
        &self.dirs
    }
    fn files(&self) -> &[String] {
        &self.files
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, GitError> {
        if self
            .files
            .binary_search_by(|f| f.as_str().cmp(path))
            .is_err()
        {
            return Err(GitError::NotFound {
                path: path.to_string(),
            });
        }
        std::fs::read(self.root.join(path)).map_err(|_| GitError::NotFound {
            path: path.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::MemorySource;

    #[test]
    fn lists_like_a_commit_tree_and_never_follows_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["apps/a", ".github/wf", "apps/.hidden"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("apps/a/x.yaml"), "a: 1").unwrap();
        std::fs::write(root.join(".github/wf/ci.yaml"), "on: push").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("apps/leak")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("apps/etc")).unwrap();
        let fallback = MemorySource::new();
        let source = LocalDirSource::new(
            [("https://x/r.git".to_string(), root.to_path_buf())].into(),
            &fallback,
        );
        let tree = source.snapshot("https://x/r.git", "main").unwrap();
        assert_eq!(tree.directories(), ["apps", "apps/a"]);
        assert_eq!(tree.files(), [".github/wf/ci.yaml", "apps/a/x.yaml"]);
        assert_eq!(tree.read_file("apps/a/x.yaml").unwrap(), b"a: 1");
        for bad in [
            "apps/leak",
            "apps/etc/passwd",
            "../x",
            "/etc/passwd",
            "apps",
        ] {
            assert!(tree.read_file(bad).is_err(), "{bad}");
        }
        assert!(
            source.snapshot("https://other/r.git", "HEAD").is_err(),
            "other URLs go to the fallback"
        );
    }
}
