//! The comparison of a desired object (rendered from Git, with the hub's tracking label and
//! annotation) with the live object, for a hub that applies with server-side apply under one
//! field manager (`flotilla`).
//!
//! It gives no false drift from server defaults and server-set fields, yet catches drift on the
//! fields the hub owns:
//!
//! 1. Every field present in desired must be in live with an equal value. Fields absent from
//!    desired are not drift (defaults, `status`, server metadata, others' labels and
//!    annotations). Lists with merge keys (the table is in `schema.rs`) are matched item by item;
//!    sets item by value; other lists are atomic: same length, each desired item a subset of
//!    the live item at its position.
//! 2. Fields the manager owns in live (`managedFields`, operation `Apply`) that desired no longer
//!    has are drift: Git dropped them and the next apply removes them.
//!
//! Normalisation (`normalize.rs`): numbers by value; quantities by value and IntOrString fields
//! by integer value at the paths `schema.rs` lists; `null` in desired is absent; an empty map or
//! list in desired equals an absent one; a zero scalar (`false`, `0`, `""`) of a struct field
//! equals an absent one (Go's `omitempty`), but not in string maps (labels, annotations, data);
//! a Secret's `stringData` is compared as base64 `data`. `apiVersion`, `kind` and `status` are
//! never compared: the caller reads live at the desired version.
//!
//! The caller fills `metadata.namespace` of namespaced desired objects that lack it (the
//! destination namespace) before comparing.

mod compare;
mod display;
mod fields_v1;
mod ignore;
mod normalize;
mod path;
mod quantity;
mod schema;
mod unified;

use std::borrow::Cow;

use serde_json::Value;
use thiserror::Error;

pub use display::{normalized_for_display, unified_diff};
pub use ignore::IgnoreRule;

use compare::Walker;
use path::Path;
use schema::{Schema, group_of};

/// The field manager Flotilla applies with.
pub const FIELD_MANAGER: &str = "flotilla";

/// At most this many drift paths are kept.
pub const MAX_DRIFT_PATHS: usize = 50;

/// Errors of building ignore rules.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DiffError {
    #[error("ignoreDifferences: invalid JSON pointer {pointer:?}: {reason}")]
    InvalidJsonPointer { pointer: String, reason: String },
    #[error(
        "ignoreDifferences: unsupported jqPathExpression {expression:?}: {reason} (Flotilla does not run jq; it reads paths like .a.b, .a[0], .a[]?.b and .a[] | select(.name == \"x\"))"
    )]
    Unsupported { expression: String, reason: String },
}

impl DiffError {
    /// A label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            DiffError::InvalidJsonPointer { .. } => "invalid_json_pointer",
            DiffError::Unsupported { .. } => "unsupported_jq",
        }
    }
}

/// How to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// The hub's field manager ([`FIELD_MANAGER`]).
    pub manager: String,
    /// The app's ignoreDifferences; those that match the object apply.
    pub ignore: Vec<IgnoreRule>,
}

impl Default for CompareOptions {
    fn default() -> Self {
        Self {
            manager: FIELD_MANAGER.to_string(),
            ignore: Vec::new(),
        }
    }
}

/// The result of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub in_sync: bool,
    /// There is no live object.
    pub missing: bool,
    /// JSON pointers of the fields that differ, sorted, at most [`MAX_DRIFT_PATHS`]. Fields of
    /// desired are named by their path in desired; owned fields that desired lacks by their path
    /// in live.
    pub drift: Vec<String>,
}

/// Compares a desired object with its live object (`None`: not in the cluster).
pub fn compare(desired: &Value, live: Option<&Value>, opts: &CompareOptions) -> Comparison {
    let Some(live) = live else {
        return Comparison {
            in_sync: false,
            missing: true,
            drift: Vec::new(),
        };
    };
    let mut d = normalize::prepare_desired(desired);
    let rules: Vec<&IgnoreRule> = opts.ignore.iter().filter(|r| r.matches(desired)).collect();
    let mut l = Cow::Borrowed(live);
    if !rules.is_empty() {
        let mut lm = live.clone();
        for rule in rules {
            rule.apply(&mut d, &mut lm, live);
        }
        l = Cow::Owned(lm);
    }
    let hints = fields_v1::list_hints(live);
    let owned = owned_fields(live, &d, &opts.manager);
    let mut walker = Walker {
        schema: schema_of(&d, &hints),
        drift: Default::default(),
    };
    walker.desired_in_live(&d, Some(&l), &mut Path::new(), false);
    walker.owned_in_desired(&owned, &l, Some(&d), &mut Path::new());
    let drift: Vec<String> = walker.drift.into_iter().take(MAX_DRIFT_PATHS).collect();
    Comparison {
        in_sync: drift.is_empty(),
        missing: false,
        drift,
    }
}

/// The fields `manager` applied, a Secret's `stringData` read as `data`.
fn owned_fields(live: &Value, desired: &Value, manager: &str) -> fields_v1::FieldNode {
    let mut owned = fields_v1::owned_by(live, manager, true);
    if normalize::is_core_kind(desired, "Secret") {
        owned.rename_field("stringData", "data");
    }
    owned
}

fn schema_of<'a>(obj: &'a Value, hints: &'a schema::Hints) -> Schema<'a> {
    let str_of = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
    Schema {
        group: group_of(str_of("apiVersion")),
        kind: str_of("kind"),
        hints,
    }
}

#[cfg(test)]
mod tests;
