//! The generator trait and the dispatch from a spec entry to the generator it names. Matrix and
//! merge compose other generators through the same trait (Argo CD's `generators/interface.go`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use super::cluster_generator::ClusterParams;
use super::error::GenerateError;
use super::git_generator::GitParams;
use super::list_generator::ListParams;
use super::matrix_generator::MatrixParams;
use super::merge_generator::MergeParams;
use super::params::Params;
use super::selector;
use crate::api::application_set::{
    ApplicationSetGenerator, ApplicationSetNestedGenerator, ApplicationSetTemplate,
    ClusterGenerator, GitGenerator, ListGenerator, MatrixGenerator, MergeGenerator,
};
use crate::api::cluster_secret::{ClusterSecret, InvalidClusterSecret};
use crate::git::GitSource;

/// How deep matrix/merge may nest (Argo CD allows one level; deeper nesting works here, bounded).
pub const MAX_NESTING: usize = 4;

/// How many parameter sets one generator may yield (a matrix's combinations included) and how
/// many Applications one ApplicationSet may generate. Without a bound, a few hundred bytes of
/// nested matrices ask for billions of combinations and exhaust memory; real ApplicationSets
/// stay orders of magnitude below.
pub const MAX_PARAMETER_SETS: usize = 100_000;

/// Argo CD's default requeue interval of git generators, in seconds.
pub const DEFAULT_GIT_REQUEUE_SECONDS: u64 = 180;

/// What generators read: registered clusters and Git.
pub struct GenContext<'a> {
    /// Registered cluster Secrets (parsed), in a stable order.
    pub clusters: &'a [ClusterSecret],
    /// Cluster Secrets that do not parse (their labels still say what they would select).
    pub invalid_clusters: &'a [InvalidClusterSecret],
    /// Whether Argo CD's implicit `in-cluster` entry exists (the hub's own cluster).
    pub in_cluster: bool,
    /// Git trees, resolved at most once per (repository, revision) in one evaluation.
    pub git: &'a dyn GitSource,
}

/// A generator: produces parameter sets.
pub trait Generator {
    fn params(&self, ctx: &GenContext) -> Result<Vec<Params>, GenerateError>;
}

/// The generator an entry names, borrowed from the spec or parsed from a nested raw entry.
pub enum GeneratorKind<'a> {
    List(&'a ListGenerator),
    Clusters(&'a ClusterGenerator),
    Git(&'a GitGenerator),
    Matrix(Cow<'a, MatrixGenerator>),
    Merge(Cow<'a, MergeGenerator>),
}

impl<'a> GeneratorKind<'a> {
    /// The generator of a top-level entry.
    pub fn of_entry(entry: &'a ApplicationSetGenerator) -> Result<Self, GenerateError> {
        Self::pick(
            entry.list.as_ref(),
            entry.clusters.as_ref(),
            entry.git.as_ref(),
            entry
                .matrix
                .as_ref()
                .map(|g| Ok(GeneratorKind::Matrix(Cow::Borrowed(g)))),
            entry
                .merge
                .as_ref()
                .map(|g| Ok(GeneratorKind::Merge(Cow::Borrowed(g)))),
            &entry.other,
        )
    }

    /// The generator of a matrix/merge child; nested matrix/merge are parsed from raw JSON.
    pub fn of_nested(entry: &'a ApplicationSetNestedGenerator) -> Result<Self, GenerateError> {
        Self::pick(
            entry.list.as_ref(),
            entry.clusters.as_ref(),
            entry.git.as_ref(),
            entry
                .matrix
                .as_ref()
                .map(|v| parse_nested("matrix", v).map(|g| GeneratorKind::Matrix(Cow::Owned(g)))),
            entry
                .merge
                .as_ref()
                .map(|v| parse_nested("merge", v).map(|g| GeneratorKind::Merge(Cow::Owned(g)))),
            &entry.other,
        )
    }

    /// The one generator an entry names; every other key is an error (several generators, an
    /// unsupported or an unknown one). Nested matrix/merge arrive already parsed (or failed).
    fn pick(
        list: Option<&'a ListGenerator>,
        clusters: Option<&'a ClusterGenerator>,
        git: Option<&'a GitGenerator>,
        matrix: Option<Result<Self, GenerateError>>,
        merge: Option<Result<Self, GenerateError>>,
        other: &BTreeMap<String, Value>,
    ) -> Result<Self, GenerateError> {
        let set = [
            ("list", list.is_some()),
            ("clusters", clusters.is_some()),
            ("git", git.is_some()),
            ("matrix", matrix.is_some()),
            ("merge", merge.is_some()),
        ];
        check_single(&set, other)?;
        list.map(GeneratorKind::List)
            .or(clusters.map(GeneratorKind::Clusters))
            .or(git.map(GeneratorKind::Git))
            .map(Ok)
            .or(matrix)
            .or(merge)
            .unwrap_or(Err(GenerateError::NoGenerator))
    }

    /// The spec key of this generator (`list`, `clusters`, ...).
    pub fn key(&self) -> &'static str {
        match self {
            GeneratorKind::List(_) => "list",
            GeneratorKind::Clusters(_) => "clusters",
            GeneratorKind::Git(_) => "git",
            GeneratorKind::Matrix(_) => "matrix",
            GeneratorKind::Merge(_) => "merge",
        }
    }

    /// The generator-level template, merged into `spec.template` (top-level entries only).
    pub fn template(&self) -> Option<&ApplicationSetTemplate> {
        match self {
            GeneratorKind::List(g) => g.template.as_ref(),
            GeneratorKind::Clusters(g) => g.template.as_ref(),
            GeneratorKind::Git(g) => g.template.as_ref(),
            GeneratorKind::Matrix(g) => g.template.as_ref(),
            GeneratorKind::Merge(g) => g.template.as_ref(),
        }
    }

    /// Seconds until the controller should evaluate again: git 180 s or `requeueAfterSeconds`,
    /// matrix/merge the minimum of their children, list and clusters none (event-driven).
    pub fn requeue_after(&self) -> Option<u64> {
        match self {
            GeneratorKind::List(_) | GeneratorKind::Clusters(_) => None,
            GeneratorKind::Git(g) => Some(
                g.requeue_after_seconds
                    .and_then(|s| u64::try_from(s).ok())
                    .filter(|s| *s > 0)
                    .unwrap_or(DEFAULT_GIT_REQUEUE_SECONDS),
            ),
            GeneratorKind::Matrix(g) => min_requeue(&g.generators),
            GeneratorKind::Merge(g) => min_requeue(&g.generators),
        }
    }

    /// Whether a cluster generator is involved (a cluster Secret change must re-evaluate).
    pub fn uses_clusters(&self) -> bool {
        match self {
            GeneratorKind::Clusters(_) => true,
            GeneratorKind::List(_) | GeneratorKind::Git(_) => false,
            GeneratorKind::Matrix(g) => any_child(&g.generators, |k| k.uses_clusters()),
            GeneratorKind::Merge(g) => any_child(&g.generators, |k| k.uses_clusters()),
        }
    }

    /// The generator itself; `depth` counts enclosing matrix/merge generators.
    pub fn generator(&self, depth: usize) -> Box<dyn Generator + '_> {
        match self {
            GeneratorKind::List(g) => Box::new(ListParams(g)),
            GeneratorKind::Clusters(g) => Box::new(ClusterParams(g)),
            GeneratorKind::Git(g) => Box::new(GitParams(g)),
            GeneratorKind::Matrix(g) => Box::new(MatrixParams { spec: g, depth }),
            GeneratorKind::Merge(g) => Box::new(MergeParams { spec: g, depth }),
        }
    }
}

/// A nested matrix/merge generator, from the raw JSON a CRD schema has to keep it as.
fn parse_nested<G: serde::de::DeserializeOwned>(
    kind: &'static str,
    v: &Value,
) -> Result<G, GenerateError> {
    if !v.is_object() {
        return Err(GenerateError::InvalidNested {
            kind,
            reason: "must be an object".into(),
        });
    }
    G::deserialize(v).map_err(|e| GenerateError::InvalidNested {
        kind,
        reason: e.to_string(),
    })
}

fn min_requeue(children: &[ApplicationSetNestedGenerator]) -> Option<u64> {
    children
        .iter()
        .filter_map(|c| {
            GeneratorKind::of_nested(c)
                .ok()
                .and_then(|k| k.requeue_after())
        })
        .min()
}

fn any_child(
    children: &[ApplicationSetNestedGenerator],
    f: impl Fn(&GeneratorKind) -> bool,
) -> bool {
    children
        .iter()
        .any(|c| GeneratorKind::of_nested(c).is_ok_and(|k| f(&k)))
}

/// Argo CD's generators that exist but are not implemented here.
const UNSUPPORTED: &[&str] = &[
    "scmProvider",
    "pullRequest",
    "clusterDecisionResource",
    "plugin",
];

fn check_single(
    set: &[(&str, bool)],
    other: &BTreeMap<String, Value>,
) -> Result<(), GenerateError> {
    let mut named: Vec<String> = set
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| k.to_string())
        .collect();
    for key in other.keys() {
        if UNSUPPORTED.contains(&key.as_str()) {
            return Err(GenerateError::UnsupportedGenerator(key.clone()));
        }
        if key == "template" || key == "values" {
            continue;
        }
        if named.is_empty() {
            return Err(GenerateError::UnknownGenerator(key.clone()));
        }
        named.push(key.clone());
    }
    if named.len() > 1 {
        return Err(GenerateError::MultipleGenerators(named));
    }
    Ok(())
}

/// Evaluates one generator and applies the entry's post-generation `selector` to the parameter
/// sets (flattened keys, string values).
pub fn evaluate(
    kind: &GeneratorKind,
    selector: Option<&LabelSelector>,
    ctx: &GenContext,
    depth: usize,
) -> Result<Vec<Params>, GenerateError> {
    let params = kind
        .generator(depth)
        .params(ctx)
        .map_err(|e| e.at(kind.key()))?;
    if params.len() > MAX_PARAMETER_SETS {
        return Err(GenerateError::TooManyParameterSets(MAX_PARAMETER_SETS).at(kind.key()));
    }
    let Some(sel) = selector.filter(|s| !selector::is_empty(Some(s))) else {
        return Ok(params);
    };
    selector::validate(sel).map_err(|e| GenerateError::from(e).at("selector"))?;
    Ok(params
        .into_iter()
        .filter(|p| selector::matches_valid(sel, |k| p.get(k).map(String::as_str)))
        .collect())
}
