//! The desired state of an Application: its sources resolved to commits (one Git resolution per
//! repository and revision per refresh round, shared by all Applications), rendered through the
//! render cache (N Applications on one commit and path render once), then completed for the
//! destination: the namespace of namespaced objects, and the tracking label and annotation.
//! Runs in a blocking task (libgit2, kustomize).

use std::sync::Arc;

use serde_json::Value;

use super::tracking;
use crate::api::Application;
use crate::api::application::ApplicationSource;
use crate::git::{GitCache, GitError, GitSource, Tree};
use crate::render::{RenderCache, RenderError, Renderer};

/// Why the desired state is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("spec.source or spec.sources is required")]
    NoSource,
    #[error("{0}")]
    Git(#[from] GitError),
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("{path}: the manifests contain {key} twice")]
    Duplicate { path: String, key: String },
    #[error("the render task failed: {0}")]
    Task(String),
}

impl SourceError {
    /// A retry may help (the Git server is unreachable), as opposed to a broken commit.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SourceError::Git(GitError::Unreachable { .. } | GitError::Cache { .. })
        )
    }
}

/// The resolved and rendered sources.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Commit of each source, in order.
    pub revisions: Vec<String>,
    /// The sources rendered, each with its `targetRevision` resolved to its commit.
    pub sources: Vec<ApplicationSource>,
    /// The objects, namespaced and marked, in render order.
    pub objects: Vec<Value>,
    /// `Kustomize` when a source is a kustomization, else `Directory`.
    pub source_type: &'static str,
}

impl Desired {
    /// The revision to report: the first source's.
    pub fn revision(&self) -> &str {
        self.revisions
            .first()
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// The sources of an Application (`spec.sources`, or `spec.source`).
pub fn sources(app: &Application) -> Vec<ApplicationSource> {
    if !app.spec.sources.is_empty() {
        return app.spec.sources.clone();
    }
    app.spec.source.clone().into_iter().collect()
}

/// Resolves and renders (blocking: call in `spawn_blocking`). `revisions`: per-source revisions
/// to use instead of the sources' `targetRevision` (a sync to a revision, a rollback). The
/// objects are as rendered: see [`complete`].
pub fn render(
    app: &Application,
    revisions: &[String],
    git: &GitCache,
    renders: &RenderCache,
) -> Result<Desired, SourceError> {
    let sources = sources(app);
    if sources.is_empty() {
        return Err(SourceError::NoSource);
    }
    let mut trees: Vec<Arc<dyn Tree>> = Vec::with_capacity(sources.len());
    for (i, s) in sources.iter().enumerate() {
        let rev = revisions
            .get(i)
            .filter(|r| !r.is_empty())
            .map(String::as_str)
            .or(s.target_revision.as_deref())
            .unwrap_or("HEAD");
        trees.push(git.snapshot(&s.repo_url, rev)?);
    }
    let mut objects = Vec::new();
    let mut source_type = "Directory";
    for (s, tree) in sources.iter().zip(&trees) {
        if crate::render::is_ref_only(s) {
            continue;
        }
        let dir = s
            .path
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .trim_start_matches("./")
            .to_string();
        let dir = if dir == "." { String::new() } else { dir };
        if s.kustomize.is_some()
            || crate::render::kustomization_check::kustomization_file(tree.as_ref(), &dir)
                .ok()
                .flatten()
                .is_some()
        {
            source_type = "Kustomize";
        }
        let manifests = renders.render(Renderer::shared(), tree.as_ref(), s)?;
        objects.extend(manifests.objects());
    }
    let revisions: Vec<String> = trees.iter().map(|t| t.commit_sha().to_string()).collect();
    let sources = sources
        .into_iter()
        .zip(&revisions)
        .map(|(mut s, r)| {
            s.target_revision = Some(r.clone());
            s
        })
        .collect();
    Ok(Desired {
        revisions,
        sources,
        objects,
        source_type,
    })
}

/// Completes rendered objects for the destination: namespaced objects without a namespace get
/// the destination's, cluster-scoped ones lose theirs; every object gets the tracking label and
/// annotation, and the hub's `installation_id`. Two objects with one identity are an error.
pub fn complete(
    app: &Application,
    installation_id: &str,
    objects: &mut [Value],
    namespaced: impl Fn(&Value) -> bool,
) -> Result<(), SourceError> {
    let app_name = app.metadata.name.as_deref().unwrap_or_default();
    let default_ns = app.spec.destination.namespace.clone().unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    for obj in objects.iter_mut() {
        if namespaced(obj) {
            let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
            if ns.is_empty() && !default_ns.is_empty() {
                obj["metadata"]["namespace"] = Value::String(default_ns.clone());
            }
        } else if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("namespace");
        }
        tracking::mark(obj, app_name, installation_id);
        let key = tracking::ObjectKey::of(obj);
        if !seen.insert(key.clone()) {
            let path = sources(app)
                .first()
                .and_then(|s| s.path.clone())
                .unwrap_or_default();
            return Err(SourceError::Duplicate {
                path,
                key: key.to_string(),
            });
        }
    }
    Ok(())
}
