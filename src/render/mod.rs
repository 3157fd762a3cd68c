//! Manifests from a source tree: an Application source at one commit becomes the desired
//! Kubernetes objects (`serde_json::Value`s).
//!
//! Pure except for kustomize: a plain directory is parsed in memory; a kustomization is first
//! validated statically ([`kustomization_check`]: nothing outside the repository, nothing
//! remote, no helm), then built by `kustomize build` / `kubectl kustomize` in a private
//! temporary copy ([`kustomize`]). Synchronous: callers on tokio use `spawn_blocking`.
//!
//! Source types follow Argo CD: non-empty `directory` options make a plain directory, non-empty
//! `kustomize` options a kustomization, otherwise a `kustomization.yaml|yml` / `Kustomization`
//! file makes it kustomize and a `Chart.yaml` helm. Helm, jsonnet, plugins and Helm-repository
//! charts are errors: never a wrong render.
//!
//! [`RenderCache`] renders each (repository, commit, path, options) once.

pub mod cache;
pub mod directory;
pub mod documents;
mod error;
pub mod file_glob;
pub mod kustomization_check;
pub mod kustomization_edit;
pub mod kustomize;
pub mod kustomize_options;
pub mod kustomize_run;
pub mod paths;

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod directory_tests;
#[cfg(test)]
mod kustomization_tests;

use std::sync::OnceLock;

use serde_json::Value;

pub use cache::{Manifests, RenderCache, RenderCacheConfig, RenderKey};
pub use error::RenderError;
pub use kustomize_options::KustomizeOptions;
pub use kustomize_run::KustomizeCommand;

use crate::api::application::{ApplicationSource, ApplicationSourceDirectory};
use crate::git::tree::Tree;
use kustomization_check::kustomization_file;
use paths::{display_dir, is_dir, is_file, join, source_dir};

/// Renders one source at the commit of `tree`, with the kustomize found on `PATH`.
pub fn render(tree: &dyn Tree, source: &ApplicationSource) -> Result<Vec<Value>, RenderError> {
    Renderer::shared().render(tree, source)
}

/// Renders several sources (each with the tree of its own repository) and concatenates the
/// objects in source order. A source with `ref` and no `path` only provides files to the others
/// (Argo CD's `$ref/…` values) and renders nothing.
pub fn render_sources(
    sources: &[(&ApplicationSource, &dyn Tree)],
) -> Result<Vec<Value>, RenderError> {
    Renderer::shared().render_sources(sources)
}

/// A renderer with its kustomize invocation.
#[derive(Debug, Clone)]
pub struct Renderer {
    kustomize: KustomizeCommand,
}

impl Renderer {
    pub fn new(kustomize: KustomizeCommand) -> Self {
        Renderer { kustomize }
    }

    /// The process-wide renderer: kustomize detected on `PATH` once.
    pub fn shared() -> &'static Renderer {
        static SHARED: OnceLock<Renderer> = OnceLock::new();
        SHARED.get_or_init(|| Renderer::new(KustomizeCommand::detect()))
    }

    pub fn kustomize(&self) -> &KustomizeCommand {
        &self.kustomize
    }

    pub fn render(
        &self,
        tree: &dyn Tree,
        source: &ApplicationSource,
    ) -> Result<Vec<Value>, RenderError> {
        let dir = source_dir(source.path.as_deref())?;
        let label = display_dir(&dir);
        refuse_unsupported(source, &label)?;
        if !is_dir(tree, &dir) {
            return Err(RenderError::PathNotFound {
                path: label,
                commit: tree.commit_sha().chars().take(12).collect(),
            });
        }
        let directory = source
            .directory
            .as_deref()
            .filter(|d| !directory_is_zero(d));
        let options = KustomizeOptions::parse(source.kustomize.as_deref()).map_err(|reason| {
            RenderError::KustomizeOptions {
                path: label.clone(),
                reason,
            }
        })?;
        let explicit_kustomize = !options.is_empty();
        if directory.is_some() && explicit_kustomize {
            return Err(RenderError::SourceType {
                path: label,
                reason: "both directory and kustomize options are set; use one".into(),
            });
        }
        match (directory, kustomization_file(tree, &dir)?) {
            (Some(_), Some(file)) => Err(RenderError::SourceType {
                path: label,
                reason: format!(
                    "directory options are set, but {file} makes it a kustomization; remove \
                     spec.source.directory to build it with kustomize"
                ),
            }),
            (None, Some(_)) => kustomize::render_kustomize(tree, &dir, &options, &self.kustomize),
            (None, None) if explicit_kustomize => Err(RenderError::SourceType {
                path: label,
                reason: "kustomize options are set, but it has no kustomization file".into(),
            }),
            (None, None) if is_file(tree, &join(&dir, "Chart.yaml")) => {
                Err(RenderError::Unsupported {
                    path: label,
                    what: "helm",
                })
            }
            (directory, None) => directory::render_directory(
                tree,
                &dir,
                directory.unwrap_or(&ApplicationSourceDirectory::default()),
            ),
        }
    }

    /// See [`render_sources`].
    pub fn render_sources(
        &self,
        sources: &[(&ApplicationSource, &dyn Tree)],
    ) -> Result<Vec<Value>, RenderError> {
        let mut objects = Vec::new();
        for (source, tree) in sources {
            if is_ref_only(source) {
                continue;
            }
            objects.extend(self.render(*tree, source)?);
        }
        Ok(objects)
    }
}

/// A `ref` source without a path: files for the other sources, no manifests of its own.
pub fn is_ref_only(source: &ApplicationSource) -> bool {
    source.ref_.as_deref().is_some_and(|r| !r.is_empty())
        && source.path.as_deref().is_none_or(str::is_empty)
}

fn refuse_unsupported(source: &ApplicationSource, label: &str) -> Result<(), RenderError> {
    let unsupported = |what| {
        Err(RenderError::Unsupported {
            path: label.to_string(),
            what,
        })
    };
    if source.plugin.as_ref().is_some_and(|p| !p.is_null()) {
        return unsupported("config management plugin");
    }
    if source.chart.as_deref().is_some_and(|c| !c.is_empty()) {
        return unsupported("Helm repository chart");
    }
    if source.helm.as_ref().is_some_and(|h| !is_zero(h)) {
        return unsupported("helm");
    }
    let jsonnet = source.directory.as_ref().and_then(|d| d.jsonnet.as_ref());
    if jsonnet.is_some_and(|j| !is_zero(j)) {
        return unsupported("jsonnet");
    }
    Ok(())
}

/// Argo CD's `ApplicationSourceDirectory.IsZero`.
fn directory_is_zero(directory: &ApplicationSourceDirectory) -> bool {
    !directory.recurse
        && directory.include.as_deref().is_none_or(str::is_empty)
        && directory.exclude.as_deref().is_none_or(str::is_empty)
        && directory.jsonnet.as_ref().is_none_or(is_zero)
}

/// Null, `false`, `""`, empty lists, and mappings of only such values.
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
        Value::Number(_) => false,
    }
}
