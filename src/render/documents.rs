//! Manifest files to Kubernetes objects: multi-document YAML, JSON objects and arrays, `*List`
//! flattening, and the checks every object must pass (a mapping with `apiVersion`, `kind` and
//! `metadata.name`).
//!
//! YAML is read as kubectl and Argo CD read it (YAML 1.1 scalars through `sigs.k8s.io/yaml`):
//! `defaultMode: 0644` is the number 420 and `yes` is `true`, merge keys (`<<`) are expanded and
//! a duplicate key is an error. Hence serde-saphyr (with legacy octal numbers) rather than
//! serde_yaml, which reads `0644` as a string.

use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::RenderError;

/// The parser options for every YAML this module reads.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { legacy_octal_numbers: true }
}

/// The objects of one manifest file of a plain directory (`.yaml`, `.yml` or `.json`); `file`
/// is its repository-relative path.
pub fn parse_manifest_file(file: &str, bytes: &[u8]) -> Result<Vec<Value>, RenderError> {
    let text = std::str::from_utf8(bytes).map_err(|_| RenderError::NotUtf8 {
        file: file.to_string(),
    })?;
    if file.ends_with(".json") {
        parse_json(file, text)
    } else {
        parse_yaml_stream(file, text)
    }
}

/// The objects of a multi-document YAML stream; empty documents are skipped. `label` names the
/// stream in errors (a file, or `apps/web: kustomize output`).
pub fn parse_yaml_stream(label: &str, text: &str) -> Result<Vec<Value>, RenderError> {
    let docs: Vec<Spanned<Value>> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|e| syntax_error(label, &e))?;
    let mut objects = Vec::new();
    let mut document = 0;
    for doc in docs {
        if doc.value.is_null() {
            continue;
        }
        document += 1;
        let line = Some(doc.referenced.line()).filter(|l| *l > 0);
        collect_objects(label, document, line, doc.value, &mut objects)?;
    }
    Ok(objects)
}

/// One YAML document as a JSON value (for kustomization files): an empty file is `null`.
pub(crate) fn parse_yaml_document(file: &str, text: &str) -> Result<Value, RenderError> {
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|e| syntax_error(file, &e))?;
    let mut docs = docs.into_iter().filter(|d| !d.is_null());
    match (docs.next(), docs.next()) {
        (None, _) => Ok(Value::Null),
        (Some(doc), None) => Ok(doc),
        (Some(_), Some(_)) => Err(RenderError::Syntax {
            file: file.to_string(),
            line: None,
            cause: "holds more than one YAML document".into(),
        }),
    }
}

fn parse_json(file: &str, text: &str) -> Result<Vec<Value>, RenderError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let cause = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        RenderError::Syntax {
            file: file.to_string(),
            line: Some(e.line() as u64).filter(|l| *l > 0),
            cause: cause.strip_suffix(&suffix).unwrap_or(&cause).to_string(),
        }
    })?;
    let mut objects = Vec::new();
    match value {
        Value::Array(items) => {
            for (i, item) in items.into_iter().enumerate() {
                collect_objects(file, i + 1, None, item, &mut objects)?;
            }
        }
        other => collect_objects(file, 1, None, other, &mut objects)?,
    }
    Ok(objects)
}

/// serde-saphyr's message without its snippet and location suffix, and the 1-based line.
pub(crate) fn syntax_error(file: &str, e: &serde_saphyr::Error) -> RenderError {
    let plain = e
        .without_snippet()
        .render_with_options(serde_saphyr::render_options! {
            snippets: serde_saphyr::SnippetMode::Off,
        });
    let location = e.location().filter(|l| l.line() > 0);
    let mut cause = plain.trim().trim_start_matches("error: ").to_string();
    if let Some(l) = location {
        for marker in [
            format!(" at line {}, column {}", l.line(), l.column()),
            format!("line {} column {}: ", l.line(), l.column()),
        ] {
            if let Some(at) = cause.find(&marker) {
                cause.replace_range(at..at + marker.len(), "");
            }
        }
    }
    RenderError::Syntax {
        file: file.to_string(),
        line: location.map(|l| l.line()),
        cause,
    }
}

/// Appends the object(s) of one document: `*List` kinds with `items` are flattened.
fn collect_objects(
    file: &str,
    document: usize,
    line: Option<u64>,
    value: Value,
    out: &mut Vec<Value>,
) -> Result<(), RenderError> {
    let invalid = |reason: String| RenderError::InvalidObject {
        file: file.to_string(),
        document,
        line,
        reason,
    };
    let Value::Object(object) = value else {
        return Err(invalid(format!(
            "expected a Kubernetes object (a mapping), found {}",
            kind_of(&value)
        )));
    };
    if is_list(&object) {
        let Some(Value::Array(items)) = object.get("items") else {
            unreachable!("is_list checked items");
        };
        for (i, item) in items.iter().enumerate() {
            collect_objects(file, document, line, item.clone(), out)
                .map_err(|e| nest_item(e, i))?;
        }
        return Ok(());
    }
    check_object(&object).map_err(invalid)?;
    out.push(Value::Object(object));
    Ok(())
}

/// `kind: List`, `v1/List`, `ConfigMapList`…: a kind ending in `List` with an `items` array.
fn is_list(object: &Map<String, Value>) -> bool {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    kind.ends_with("List") && matches!(object.get("items"), Some(Value::Array(_)))
}

fn nest_item(e: RenderError, index: usize) -> RenderError {
    match e {
        RenderError::InvalidObject {
            file,
            document,
            line,
            reason,
        } => RenderError::InvalidObject {
            file,
            document,
            line,
            reason: format!("items[{index}]: {reason}"),
        },
        other => other,
    }
}

fn check_object(object: &Map<String, Value>) -> Result<(), String> {
    let metadata = object.get("metadata");
    for (field, value) in [
        ("apiVersion", object.get("apiVersion")),
        ("kind", object.get("kind")),
        ("metadata.name", metadata.and_then(|m| m.get("name"))),
    ] {
        match value {
            Some(Value::String(s)) if !s.is_empty() => {}
            None | Some(Value::Null) => return Err(format!("missing {field}")),
            Some(Value::String(_)) => return Err(format!("missing {field}")),
            Some(other) => {
                return Err(format!(
                    "{field} must be a string, found {} (YAML reads unquoted y, yes, on, 0644… \
                     as booleans and numbers: quote it)",
                    kind_of(other)
                ));
            }
        }
    }
    if !matches!(metadata, Some(Value::Object(_))) {
        return Err("metadata must be a mapping".into());
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
