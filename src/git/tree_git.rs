//! [`Tree`] over one commit of a (bare) git2 repository. Files are read as blobs straight from
//! the commit's tree: nothing is ever checked out, so no symlink can lead outside the repository.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use git2::{FileMode, ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

use super::{GitError, Tree};

/// One commit's tree in a bare repository, with its directory and file lists computed once.
pub struct GitTree {
    /// libgit2 handles are not `Sync`; reads take turns.
    repo: Mutex<Repository>,
    sha: String,
    directories: Vec<String>,
    files: Vec<String>,
    /// The blob of each file, in the order of `files` (reading a file never walks the tree).
    blobs: Vec<Oid>,
}

impl GitTree {
    /// Opens the bare repository at `repo_path` and indexes the tree of `commit` (which must be
    /// present there). `url` (already redacted) only names the repository in errors.
    pub fn load(repo_path: &Path, url: &str, commit: Oid) -> Result<GitTree, GitError> {
        let repo_err = |e: git2::Error| GitError::Repository {
            url: url.to_string(),
            cause: e.message().to_string(),
        };
        let repo = Repository::open_bare(repo_path).map_err(|e| GitError::Cache {
            path: repo_path.display().to_string(),
            cause: e.message().to_string(),
        })?;
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(repo_err)?;
        let (directories, files, blobs) = index_tree(&tree).map_err(repo_err)?;
        drop(tree);
        Ok(GitTree {
            repo: Mutex::new(repo),
            sha: commit.to_string(),
            directories,
            files,
            blobs,
        })
    }
}

/// Whether a tree entry of this mode is a regular file (not a symlink, not a submodule).
fn is_regular_blob(mode: i32) -> bool {
    mode == i32::from(FileMode::Blob) || mode == i32::from(FileMode::BlobExecutable)
}

/// Directories, files, and the blob of each file.
type TreeIndex = (Vec<String>, Vec<String>, Vec<Oid>);

/// Sorted directories (hidden ones and everything below them left out) and sorted regular files
/// (all of them) of `tree`. Entries whose names are not UTF-8 are left out.
fn index_tree(tree: &git2::Tree<'_>) -> Result<TreeIndex, git2::Error> {
    let mut dirs = Vec::new();
    let mut files: Vec<(String, Oid)> = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |parent, entry| {
        let Ok(name) = entry.name() else {
            return TreeWalkResult::Skip;
        };
        let path = format!("{parent}{name}");
        match entry.kind() {
            Some(ObjectType::Tree) if !path.split('/').any(|seg| seg.starts_with('.')) => {
                dirs.push(path)
            }
            Some(ObjectType::Blob) if is_regular_blob(entry.filemode()) => {
                files.push((path, entry.id()))
            }
            _ => {}
        }
        TreeWalkResult::Ok
    })?;
    dirs.sort();
    files.sort();
    let (files, blobs) = files.into_iter().unzip();
    Ok((dirs, files, blobs))
}

/// A relative `/`-separated path without empty, `.` or `..` segments.
fn is_clean_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

impl Tree for GitTree {
    fn commit_sha(&self) -> &str {
        &self.sha
    }

    fn directories(&self) -> &[String] {
        &self.directories
    }

    fn files(&self) -> &[String] {
        &self.files
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, GitError> {
        let not_found = || GitError::NotFound {
            path: path.to_string(),
        };
        if !is_clean_relative_path(path) {
            return Err(not_found());
        }
        let Ok(i) = self.files.binary_search_by(|f| f.as_str().cmp(path)) else {
            return Err(not_found());
        };
        let repo = self.repo.lock().unwrap_or_else(PoisonError::into_inner);
        let blob = repo.find_blob(self.blobs[i]).map_err(|_| not_found())?;
        Ok(blob.content().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_relative_paths() {
        for ok in ["a", "a/b.yaml", ".github/x", "a/.hidden", "a..b/c"] {
            assert!(is_clean_relative_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/./b",
            "./a",
            "a//b",
            "a/",
            "a\0b",
            "..",
        ] {
            assert!(!is_clean_relative_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn only_plain_and_executable_blobs_are_files() {
        assert!(is_regular_blob(0o100644));
        assert!(is_regular_blob(0o100755));
        assert!(!is_regular_blob(0o120000));
        assert!(!is_regular_blob(0o160000));
        assert!(!is_regular_blob(0o040000));
    }

    #[test]
    fn git_tree_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GitTree>();
    }
}
