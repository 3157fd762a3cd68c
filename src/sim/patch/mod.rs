//! The three PATCH bodies kube-apiserver accepts besides apply: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902) and Kubernetes strategic merge patch. Pure functions over
//! `serde_json::Value`; failures carry kube-apiserver's messages, and `PatchError::code` tells
//! the HTTP status it answers them with.

pub(crate) mod gofmt;
mod json_patch;
mod merge_patch;
mod strategic;
mod strategic_list;
mod strategic_order;

pub use json_patch::{MAX_JSON_PATCH_OPERATIONS, json_patch};
pub use merge_patch::merge_patch;
pub use strategic::strategic_merge_patch;

/// A patch that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The target or the strategic merge patch is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    #[error("lists of lists are not supported")]
    NoListOfLists,
    /// A `$deleteFromPrimitiveList/<field>` key without its field.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveListFormat,
    /// `$retainKeys` is not a list, or the patch sets a field it does not retain.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeysFormat,
    /// A `$setElementOrder/<field>` key without its field.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrderFormat,
    /// An item of a merging list (or of its `$setElementOrder`) lacks the merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey { map: String, key: String },
    /// A value of the wrong type where a list or an object was expected.
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        expected: &'static str,
        actual: &'static str,
    },
    /// A `$patch` directive other than `replace`/`delete` in an object, or unknown in a list.
    #[error("unknown patch type: {directive} in map: {map}")]
    BadPatchType { directive: String, map: String },
    /// `$patch: merge` in a list item.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeDirectiveInList,
    /// A list of objects to merge whose schema declares no merge key.
    #[error("cannot merge lists without merge key for {0}")]
    NoMergeKeyDeclared(String),
    /// A list mixing objects, strings, numbers...; the lists as Go prints them.
    #[error("list element types are not identical: {0}")]
    ElementTypesDiffer(String),
    #[error("no elements in any of the given slices")]
    NoElements,
    /// An item of a merging list is not an object.
    #[error("value for key {0} is not a map")]
    NotAMap(usize),
    /// The patch list is not in the order its `$setElementOrder` gives.
    #[error("the order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}")]
    OrderMismatch { patch: String, order: String },
    /// A JSON patch body that does not decode as a list of operations.
    #[error("{0}")]
    BadJsonPatch(String),
    /// A JSON patch operation that does not apply (including a failed `test`).
    #[error("{0}")]
    JsonPatchFailed(String),
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
}

impl PatchError {
    /// The status kube-apiserver answers with: 400 Bad Request for malformed patches, 422
    /// Invalid for lists of lists and failed JSON patch operations (its message then goes in
    /// the Status `details.causes`), 413 for too many JSON patch operations, and 500 (reason
    /// Unknown, the message as is) for the other strategic merge patch failures, which are not
    /// API statuses in kube-apiserver.
    pub fn code(&self) -> u16 {
        match self {
            Self::BadJsonDoc
            | Self::BadPrimitiveListFormat
            | Self::BadRetainKeysFormat
            | Self::BadSetElementOrderFormat
            | Self::BadJsonPatch(_) => 400,
            Self::NoListOfLists | Self::JsonPatchFailed(_) => 422,
            Self::TooManyOperations { .. } => 413,
            _ => 500,
        }
    }
}
