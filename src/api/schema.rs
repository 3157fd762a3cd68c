//! Schema helpers for fields that hold arbitrary JSON (kept by the API server as they are).

use schemars::{Schema, SchemaGenerator, json_schema};

/// An object whose content the API server keeps unpruned (`x-kubernetes-preserve-unknown-fields`).
pub fn preserved_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A list of objects kept unpruned.
pub fn preserved_object_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}
