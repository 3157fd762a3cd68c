//! `expand`: an ApplicationSet and its inputs to Applications. The pipeline of one evaluation:
//! validate → for each generator entry: parameters → merged template → Applications → sort and
//! report duplicates. Any error aborts the whole evaluation, so a caller never acts on a partial
//! result.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::application_template::{build_application, merged_template};
use super::error::{AppSetError, GenerateError};
use super::generator::{GenContext, GeneratorKind, MAX_PARAMETER_SETS, evaluate};
use super::value_template::{compile_value, render_value};
use crate::api::Application;
use crate::api::application_set::ApplicationSet;
use crate::api::cluster_secret::{ClusterSecret, InvalidClusterSecret};
use crate::git::{GitError, GitSource, Tree};

/// What an evaluation reads besides the ApplicationSet.
pub struct Inputs<'a> {
    /// Registered cluster Secrets, in a stable order.
    pub clusters: &'a [ClusterSecret],
    /// Cluster Secrets that do not parse: a cluster generator selecting one fails.
    pub invalid_clusters: &'a [InvalidClusterSecret],
    /// Whether Argo CD's implicit `in-cluster` entry exists.
    pub in_cluster: bool,
    pub git: &'a dyn GitSource,
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    /// Generated Applications, unique names, sorted by name.
    pub applications: Vec<Application>,
    /// Names generated more than once: the first occurrence is kept, the others are skipped.
    pub duplicates: Vec<String>,
    /// When the controller should evaluate again without an event (git generators).
    pub requeue_after: Option<Duration>,
    /// Whether a cluster generator is involved (cluster Secret events must re-evaluate).
    pub uses_clusters: bool,
}

/// `namespace/name` of an ApplicationSet, for messages.
pub fn qualified_name(appset: &ApplicationSet) -> String {
    let name = appset.metadata.name.as_deref().unwrap_or("<unnamed>");
    match appset.metadata.namespace.as_deref() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// Expands `appset`. Pure apart from what `inputs.git` does.
pub fn expand(appset: &ApplicationSet, inputs: &Inputs) -> Result<Expansion, AppSetError> {
    let fail = |cause: GenerateError| AppSetError {
        appset: qualified_name(appset),
        cause,
    };
    let spec = &appset.spec;
    if spec.go_template {
        return Err(fail(GenerateError::GoTemplate));
    }
    if spec
        .template_patch
        .as_deref()
        .is_some_and(|p| !p.trim().is_empty())
    {
        return Err(fail(GenerateError::TemplatePatch));
    }
    let git = MemoGit {
        inner: inputs.git,
        trees: RefCell::new(HashMap::new()),
    };
    let ctx = GenContext {
        clusters: inputs.clusters,
        invalid_clusters: inputs.invalid_clusters,
        in_cluster: inputs.in_cluster,
        git: &git,
    };
    let mut expansion = Expansion::default();
    let mut applications = Vec::new();
    for (i, entry) in spec.generators.iter().enumerate() {
        let at = |e: GenerateError| fail(e.at(format!("generators[{i}]")));
        let kind = GeneratorKind::of_entry(entry).map_err(at)?;
        let params = evaluate(&kind, entry.selector.as_ref(), &ctx, 0).map_err(at)?;
        if applications.len().saturating_add(params.len()) > MAX_PARAMETER_SETS {
            return Err(at(GenerateError::TooManyParameterSets(MAX_PARAMETER_SETS)));
        }
        let template = compile_value(&merged_template(&spec.template, kind.template()))
            .map_err(|e| at(GenerateError::from(e).at("template")))?;
        for p in &params {
            let rendered = render_value(&template, p)
                .map_err(|e| at(GenerateError::from(e).at("template")))?;
            applications
                .push(build_application(appset, &rendered, applications.len()).map_err(at)?);
        }
        expansion.requeue_after = min_option(
            expansion.requeue_after,
            kind.requeue_after().map(Duration::from_secs),
        );
        expansion.uses_clusters |= kind.uses_clusters();
    }
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    applications.retain(|app| {
        let name = app.metadata.name.clone().unwrap_or_default();
        if seen.insert(name.clone()) {
            true
        } else {
            duplicates.insert(name);
            false
        }
    });
    applications.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    expansion.applications = applications;
    expansion.duplicates = duplicates.into_iter().collect();
    Ok(expansion)
}

fn min_option(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

type TreeResult = Result<Arc<dyn Tree>, GitError>;

/// Resolves each (repository, revision) once per evaluation, however many generators ask.
struct MemoGit<'a> {
    inner: &'a dyn GitSource,
    trees: RefCell<HashMap<(String, String), TreeResult>>,
}

impl GitSource for MemoGit<'_> {
    fn snapshot(&self, repo_url: &str, revision: &str) -> Result<Arc<dyn Tree>, GitError> {
        let key = (repo_url.to_string(), revision.to_string());
        if let Some(hit) = self.trees.borrow().get(&key) {
            return hit.clone();
        }
        let result = self.inner.snapshot(repo_url, revision);
        self.trees.borrow_mut().insert(key, result.clone());
        result
    }
}

#[cfg(test)]
#[path = "expand_tests.rs"]
mod tests;
