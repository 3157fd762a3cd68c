//! Server-side apply and `metadata.managedFields`, as kube-apiserver does them: the field
//! manager chain of apimachinery's `pkg/util/managedfields/internal` (skip-non-applied,
//! cap-managers, build-manager-info, managed-fields-updater, strip-meta) over
//! structured-merge-diff v4's updater, with list and map merge behaviour from [`Schema`].
//!
//! Both entry points are pure functions over full JSON objects. [`apply`] merges an applied
//! configuration into the live object; [`record_update`] records any other write (create,
//! update, patch) as an `Update` entry. Either leaves the result's `metadata.managedFields` set.

mod fieldmanager;
mod managed;
mod merge;
mod path;
pub mod scale;
#[cfg(test)]
mod scenarios;
mod set;
mod typed;
mod updater;

use serde_json::{Value, json};

use crate::sim::error::ApiError;
use crate::sim::schema::Schema;

pub use fieldmanager::{apply_with_reset, default_reset_fields, record_update_with_reset};

/// Who writes, and when.
#[derive(Debug, Clone, Copy)]
pub struct Manager<'a> {
    /// The field manager (`fieldManager` or the user agent); "unknown" when empty.
    pub name: &'a str,
    /// The version of the request, e.g. `apps/v1`.
    pub api_version: &'a str,
    /// `Some("status")` for writes to the status subresource.
    pub subresource: Option<&'a str>,
    /// RFC 3339, e.g. "2026-11-23T10:00:00Z".
    pub time: &'a str,
}

/// A field the applier would change that another manager owns.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The other manager's name.
    pub manager: String,
    /// The field as kube-apiserver prints it: `.spec.containers[name="nginx"].image`.
    pub field: String,
    /// The other manager's apiVersion when its entry is an `Update` (printed "using v1").
    pub api_version: Option<String>,
    /// The other manager's subresource, if any.
    pub subresource: Option<String>,
}

impl Conflict {
    /// The manager as conflict messages name it: `"kubectl"`, `"kube-controller-manager" using
    /// apps/v1` or `"kubelet" with subresource "status" using v1`.
    pub fn describe(&self) -> String {
        let mut s = serde_json::to_string(&self.manager).unwrap_or_default();
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(
                " with subresource {}",
                serde_json::to_string(sub).unwrap_or_default()
            ));
        }
        if let Some(v) = &self.api_version {
            s.push_str(&format!(" using {v}"));
        }
        s
    }
}

/// Why an apply failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// Fields other managers own with different values (409 unless forced).
    Conflicts(Vec<Conflict>),
    /// The body or the live object cannot be merged; the message is kube-apiserver's.
    Invalid(String),
}

/// The message of the 400 for an applied body that carries managedFields.
pub const MANAGED_FIELDS_MUST_BE_NIL: &str = "metadata.managedFields must be nil";

impl ApplyError {
    /// The Status message kube-apiserver sends.
    pub fn message(&self) -> String {
        match self {
            ApplyError::Invalid(m) => m.clone(),
            ApplyError::Conflicts(conflicts) => match conflicts.as_slice() {
                [one] => format!(
                    "Apply failed with 1 conflict: conflict with {}: {}",
                    one.describe(),
                    one.field
                ),
                many => {
                    let mut lines: Vec<String> = Vec::new();
                    let mut current: Option<String> = None;
                    for c in many {
                        let who = c.describe();
                        if current.as_ref() != Some(&who) {
                            lines.push(format!("conflicts with {who}:"));
                            current = Some(who);
                        }
                        lines.push(format!("- {}", c.field));
                    }
                    format!(
                        "Apply failed with {} conflicts: {}",
                        many.len(),
                        lines.join("\n")
                    )
                }
            },
        }
    }

    /// The API error: 409 Conflict with one `FieldManagerConflict` cause per field; 400 for a
    /// body with managedFields; otherwise the 500 without a reason that kube-apiserver returns
    /// for an object it cannot type.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            ApplyError::Conflicts(conflicts) => {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| {
                        json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.describe()), "field": c.field})
                    })
                    .collect();
                let mut e = ApiError::new(409, "Conflict", self.message());
                e.details = Some(json!({ "causes": causes }));
                e
            }
            ApplyError::Invalid(m) if m == MANAGED_FIELDS_MUST_BE_NIL => {
                ApiError::bad_request(m.clone())
            }
            ApplyError::Invalid(m) => ApiError::new(500, "", m.clone()),
        }
    }
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ApplyError {}

/// Server-side apply of `applied` (the request body) onto `live` (None: the object doesn't
/// exist yet). Returns the new object with `metadata.managedFields` updated; a no-op apply
/// returns `live` unchanged. Fields the strategy resets (`status` on the main resource, `spec`
/// on `/status`) are neither owned nor conflicting; see [`apply_with_reset`].
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &Manager,
    force: bool,
    schema: &dyn Schema,
) -> Result<Value, ApplyError> {
    apply_with_reset(
        live,
        applied,
        manager,
        force,
        schema,
        default_reset_fields(manager.subresource),
    )
}

/// Records a non-apply write (create, update, any patch) by `manager` as an `Update` entry:
/// fields that changed between `old` (None for create) and `new` become owned by the manager
/// and are taken away from others. `new` is modified in place (its managedFields).
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &Manager, schema: &dyn Schema) {
    record_update_with_reset(
        old,
        new,
        manager,
        schema,
        default_reset_fields(manager.subresource),
    )
}
