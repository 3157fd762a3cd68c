//! A Git repository under test: a working tree, its bare remote served by `git daemon`, and
//! helpers to commit and push files.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::git;
use super::git_servers::GitDaemon;

pub struct GitRepo {
    dir: TempDir,
    pub daemon: GitDaemon,
}

impl GitRepo {
    /// An empty `main` branch with one file per `(path, content)`, committed and served.
    pub fn new(files: &[(&str, &str)]) -> GitRepo {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let served = dir.path().join("served");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&served).unwrap();
        git(&served, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["remote", "add", "origin", "../served/repo.git"]);
        let daemon = GitDaemon::start(&served);
        let repo = GitRepo { dir, daemon };
        repo.commit(files, "initial");
        repo
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The URL clients fetch.
    pub fn url(&self) -> String {
        self.daemon.url("repo.git")
    }

    /// Writes files, commits and pushes; returns the commit SHA.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        let work = self.work();
        for (path, content) in files {
            write(&work, path, content);
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "--allow-empty", "-m", message]);
        git(&work, &["push", "-q", "origin", "main"]);
        git(&work, &["rev-parse", "HEAD"])
    }

    /// Removes paths (files or directories), commits and pushes.
    pub fn remove(&self, paths: &[&str], message: &str) -> String {
        let work = self.work();
        for p in paths {
            git(&work, &["rm", "-r", "-q", p]);
        }
        git(&work, &["commit", "-q", "-m", message]);
        git(&work, &["push", "-q", "origin", "main"]);
        git(&work, &["rev-parse", "HEAD"])
    }
}

fn write(root: &Path, path: &str, content: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, content).unwrap();
}
