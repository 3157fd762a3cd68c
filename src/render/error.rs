//! Errors of rendering. Every message starts with the repository-relative file or directory it is
//! about (`.` is the repository root), then the cause: `apps/web/deploy.yaml: line 7: …`,
//! `apps/web: kustomize failed: …`.

use thiserror::Error;

use crate::git::GitError;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RenderError {
    #[error("{path}: no such directory in the repository at commit {commit}")]
    PathNotFound { path: String, commit: String },
    #[error("{path:?}: the source path must be relative and stay inside the repository")]
    PathOutsideRepository { path: String },
    #[error("{path}: {what} sources are not supported")]
    Unsupported { path: String, what: &'static str },
    #[error("{path}: {reason}")]
    SourceType { path: String, reason: String },
    #[error("{file}: {cause}")]
    Read { file: String, cause: GitError },
    #[error("{file}: not UTF-8 text")]
    NotUtf8 { file: String },
    /// A YAML or JSON syntax error; `line` is 1-based.
    #[error("{file}: {}{cause}", line_prefix(*.line))]
    Syntax {
        file: String,
        line: Option<u64>,
        cause: String,
    },
    /// A document that is not a Kubernetes object; `document` counts the non-empty documents of
    /// the file from 1.
    #[error("{file}: document {document}{}: {reason}", at_line(*.line))]
    InvalidObject {
        file: String,
        document: usize,
        line: Option<u64>,
        reason: String,
    },
    #[error("{path}: directory.{field}: invalid glob {pattern:?}: {reason}")]
    InvalidGlob {
        path: String,
        field: &'static str,
        pattern: String,
        reason: &'static str,
    },
    #[error("{path}: kustomize options: {reason}")]
    KustomizeOptions { path: String, reason: String },
    /// A kustomization that could read outside the repository, reach the network or run
    /// helm: refused before kustomize runs. `dir` is the kustomization's directory.
    #[error("{dir}: {file}: {field}: {}{reason}", quoted(.entry))]
    Kustomization {
        dir: String,
        file: String,
        field: String,
        entry: Option<String>,
        reason: String,
    },
    #[error("{path}: kustomize failed: {stderr}")]
    KustomizeFailed { path: String, stderr: String },
    #[error("{path}: kustomize did not finish within {seconds} s and was killed")]
    KustomizeTimeout { path: String, seconds: u64 },
    #[error("{path}: kustomize printed more than {limit} bytes")]
    KustomizeOutputTooLarge { path: String, limit: usize },
    #[error("{path}: cannot run {program}: {cause}")]
    KustomizeSpawn {
        path: String,
        program: String,
        cause: String,
    },
    #[error("{path}: temporary copy of the repository: {cause}")]
    TempCopy { path: String, cause: String },
}

fn quoted(entry: &Option<String>) -> String {
    entry
        .as_ref()
        .map(|e| format!("{e:?} "))
        .unwrap_or_default()
}

fn line_prefix(line: Option<u64>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

impl RenderError {
    /// Transient errors (the local machine: temp dir, process start, a timeout) may succeed on
    /// retry and are never cached; the others need a new commit or a changed source.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            RenderError::KustomizeTimeout { .. }
                | RenderError::KustomizeSpawn { .. }
                | RenderError::TempCopy { .. }
                | RenderError::Read {
                    cause: GitError::Unreachable { .. } | GitError::Cache { .. },
                    ..
                }
        )
    }

    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            RenderError::PathNotFound { .. } | RenderError::PathOutsideRepository { .. } => "path",
            RenderError::Unsupported { .. } | RenderError::SourceType { .. } => "source_type",
            RenderError::Read { .. } | RenderError::NotUtf8 { .. } => "read",
            RenderError::Syntax { .. } => "syntax",
            RenderError::InvalidObject { .. } => "invalid_object",
            RenderError::InvalidGlob { .. } | RenderError::KustomizeOptions { .. } => "options",
            RenderError::Kustomization { .. } => "kustomization_refused",
            RenderError::KustomizeFailed { .. } | RenderError::KustomizeOutputTooLarge { .. } => {
                "kustomize"
            }
            RenderError::KustomizeTimeout { .. } => "kustomize_timeout",
            RenderError::KustomizeSpawn { .. } | RenderError::TempCopy { .. } => "local",
        }
    }
}
