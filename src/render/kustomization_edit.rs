//! Writes [`KustomizeOptions`] into the text of the application's kustomization, as
//! `kustomize edit` would, without re-serialising the rest of the document.
//!
//! Re-serialising a parsed kustomization changes it: an unquoted `newTag: 1.20` parses as the
//! number 1.2, while kustomize (through `sigs.k8s.io/yaml` and its string field) reads the text
//! `"1.20"`. So the edited top-level entries are cut out of the original text and appended
//! again as JSON flow values; every other byte stays as written. The fields that are merged
//! (`images`, `commonLabels`, `commonAnnotations`) are read as strings, which keeps the exact
//! text of their scalars.
//!
//! Top-level entries are found line by line (a key at column 0) and checked against the keys
//! of the parsed document; a layout this cannot edit safely (a flow-style document, `...`) is an
//! error rather than a guess.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::documents::yaml_options;
use super::kustomize_options::KustomizeOptions;

/// The fields that are merged rather than replaced, read with string values.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct MergedFields {
    #[serde(default)]
    images: Option<Vec<BTreeMap<String, String>>>,
    #[serde(default)]
    common_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    common_annotations: Option<BTreeMap<String, String>>,
}

/// The kustomization text with the options applied. `parsed_keys` are the top-level keys of the
/// parsed document (to check the line scan against).
pub fn edit_kustomization(
    text: &str,
    parsed_keys: &[&str],
    options: &KustomizeOptions,
) -> Result<String, String> {
    let merged: MergedFields = if text.trim().is_empty() {
        MergedFields::default()
    } else {
        serde_saphyr::from_str_with_options(text, yaml_options())
            .map_err(|e| format!("cannot read the kustomization: {}", e.without_snippet()))?
    };
    let mut fields = Map::new();
    let strings = |map: BTreeMap<String, String>| {
        Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    };
    if let Some(images) = merged.images {
        fields.insert(
            "images".into(),
            Value::Array(images.into_iter().map(strings).collect()),
        );
    }
    if let Some(labels) = merged.common_labels {
        fields.insert("commonLabels".into(), strings(labels));
    }
    if let Some(annotations) = merged.common_annotations {
        fields.insert("commonAnnotations".into(), strings(annotations));
    }
    options.apply(&mut fields)?;
    let edited: Vec<(&str, &Value)> = edited_fields(options)
        .into_iter()
        .filter_map(|key| fields.get(key).map(|v| (key, v)))
        .collect();

    let entries = top_level_entries(text)?;
    let mut scanned: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    let mut expected = parsed_keys.to_vec();
    scanned.sort_unstable();
    expected.sort_unstable();
    if scanned != expected {
        return Err(
            "cannot apply kustomize options to this kustomization's layout (write it as a block \
             mapping with its keys at column 0)"
                .into(),
        );
    }
    let mut out = String::with_capacity(text.len() + 256);
    let mut cursor = 0;
    for entry in &entries {
        if edited.iter().any(|(key, _)| *key == entry.key) {
            out.push_str(&text[cursor..entry.start]);
            cursor = entry.end;
        }
    }
    out.push_str(&text[cursor..]);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# set by spec.source.kustomize\n");
    for (key, value) in edited {
        out.push_str(&format!("{key}: {value}\n"));
    }
    Ok(out)
}

/// The top-level keys the options replace.
fn edited_fields(options: &KustomizeOptions) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut add = |set: bool, key| {
        if set {
            keys.push(key)
        }
    };
    add(options.name_prefix.is_some(), "namePrefix");
    add(options.name_suffix.is_some(), "nameSuffix");
    add(options.namespace.is_some(), "namespace");
    add(!options.common_labels.is_empty(), "commonLabels");
    add(!options.common_annotations.is_empty(), "commonAnnotations");
    add(!options.images.is_empty(), "images");
    keys
}

/// One top-level entry: its key and the byte range of its lines, up to the next entry.
struct Entry {
    key: String,
    start: usize,
    end: usize,
}

fn top_level_entries(text: &str) -> Result<Vec<Entry>, String> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        if content.starts_with("...") || (content.starts_with("---") && !entries.is_empty()) {
            return Err(
                "cannot apply kustomize options: the kustomization has document markers \
                        after its first key"
                    .into(),
            );
        }
        let Some(first) = content.chars().next() else {
            continue;
        };
        if first.is_whitespace() || matches!(first, '#' | '-' | ']' | '}' | ',') {
            continue;
        }
        if let Some(key) = line_key(content) {
            if let Some(last) = entries.last_mut() {
                last.end = start;
            }
            entries.push(Entry {
                key,
                start,
                end: text.len(),
            });
        }
    }
    Ok(entries)
}

/// The key of a `key: value` / `key:` line: plain, `"double"` or `'single'` quoted.
fn line_key(content: &str) -> Option<String> {
    let (key, rest) = match content.chars().next()? {
        quote @ ('"' | '\'') => {
            let end = content[1..].find(quote)? + 1;
            (content[1..end].to_string(), &content[end + 1..])
        }
        _ => {
            let colon = content
                .char_indices()
                .find(|&(i, c)| {
                    c == ':'
                        && content[i + 1..]
                            .chars()
                            .next()
                            .is_none_or(|n| n == ' ' || n == '\t')
                })?
                .0;
            (content[..colon].trim_end().to_string(), &content[colon..])
        }
    };
    let rest = rest.trim_start();
    rest.starts_with(':').then_some(key)
}
