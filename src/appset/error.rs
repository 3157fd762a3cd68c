//! Errors of ApplicationSet expansion. Every error reaching a user is an [`AppSetError`]: it
//! names the ApplicationSet and, through [`GenerateError::At`], where in the spec it happened.

use thiserror::Error;

use super::path_glob::GlobError;
use super::selector::SelectorError;
use super::template::TemplateError;
use crate::git::GitError;

/// An error of one ApplicationSet: `ApplicationSet <namespace>/<name>: <cause>`.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("ApplicationSet {appset}: {cause}")]
pub struct AppSetError {
    pub appset: String,
    pub cause: GenerateError,
}

impl AppSetError {
    /// Transient errors (an unreachable Git server) may succeed on retry; the others need a
    /// change of the ApplicationSet or its inputs.
    pub fn is_transient(&self) -> bool {
        self.cause.is_transient()
    }
}

/// What went wrong while generating parameters or rendering Applications.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GenerateError {
    #[error("{at}: {source}")]
    At {
        at: String,
        source: Box<GenerateError>,
    },
    #[error(
        "goTemplate: true is not supported: Flotilla renders Argo CD's default {{{{param}}}} syntax (with handlebars helpers); remove goTemplate and use {{{{name}}}}-style parameters"
    )]
    GoTemplate,
    #[error("templatePatch is a goTemplate feature and is not supported")]
    TemplatePatch,
    #[error("the generator entry names no generator")]
    NoGenerator,
    #[error("the generator entry names several generators ({}); use one per entry", .0.join(", "))]
    MultipleGenerators(Vec<String>),
    #[error("unknown generator {0:?} (known: list, clusters, git, matrix, merge)")]
    UnknownGenerator(String),
    #[error(
        "the {0} generator is not supported by Flotilla (supported: list, clusters, git, matrix, merge)"
    )]
    UnsupportedGenerator(String),
    #[error("needs exactly two child generators, got {0}")]
    MatrixChildren(usize),
    #[error(
        "parameter {key:?} has different values in the two child generators ({first:?} and {second:?})"
    )]
    MatrixConflict {
        key: String,
        first: String,
        second: String,
    },
    #[error("needs at least two child generators, got {0}")]
    MergeChildren(usize),
    #[error("needs at least one key in mergeKeys")]
    MergeNoKeys,
    #[error("child generator {child} yields more than one parameter set for merge key {key}")]
    MergeDuplicateKey { child: usize, key: String },
    #[error("matrix and merge generators nest at most {0} levels deep")]
    NestingTooDeep(usize),
    #[error("yields more than {0} parameter sets")]
    TooManyParameterSets(usize),
    #[error("invalid nested {kind} generator: {reason}")]
    InvalidNested { kind: &'static str, reason: String },
    #[error("list element {index}: {reason}")]
    ListElement { index: usize, reason: String },
    #[error("elementsYaml: {0}")]
    ElementsYaml(String),
    #[error("clusters.flatList is a goTemplate feature and is not supported")]
    ClusterFlatList,
    #[error(
        "the selector matches cluster Secret {secret}, which is invalid ({cause}); nothing is generated until it is fixed or no longer selected"
    )]
    InvalidClusterSecret { secret: String, cause: String },
    #[error("git generator needs directories or files, not both and not neither")]
    GitPaths,
    #[error("{0}")]
    Git(#[from] GitError),
    #[error("git file {path}: {reason}")]
    GitFile { path: String, reason: String },
    #[error("{0}")]
    Glob(#[from] GlobError),
    #[error("selector: {0}")]
    Selector(#[from] SelectorError),
    #[error("{0}")]
    Template(#[from] TemplateError),
    #[error("generated Application #{index}: {reason}")]
    InvalidApplication { index: usize, reason: String },
}

impl GenerateError {
    /// Wraps the error with the place in the spec where it happened.
    pub fn at(self, at: impl Into<String>) -> Self {
        GenerateError::At {
            at: at.into(),
            source: Box::new(self),
        }
    }

    /// See [`AppSetError::is_transient`].
    pub fn is_transient(&self) -> bool {
        match self {
            GenerateError::At { source, .. } => source.is_transient(),
            GenerateError::Git(e) => {
                matches!(e, GitError::Unreachable { .. } | GitError::Cache { .. })
            }
            _ => false,
        }
    }
}
