//! Reading Kubernetes documents from files: multi-document YAML (or JSON), Argo CD's
//! `argoproj.io/v1alpha1` ApplicationSets converted to `flotilla.dev/v1alpha1` on the fly.

use anyhow::{Context, anyhow, bail};
use serde::Deserialize;
use serde_yaml::Value;

use crate::api::ApplicationSet;

const FLOTILLA_API: &str = "flotilla.dev/v1alpha1";
const ARGO_API: &str = "argoproj.io/v1alpha1";

/// Reads `path` (or standard input for `-`).
pub fn read_input(path: &str) -> anyhow::Result<String> {
    if path == "-" {
        return std::io::read_to_string(std::io::stdin()).context("reading standard input");
    }
    std::fs::read_to_string(path).with_context(|| format!("{path}: cannot read"))
}

/// Every ApplicationSet document of `text` (from `source`), empty documents skipped. Errors
/// name the file, the document and, for YAML errors, the line and column.
pub fn application_sets(text: &str, source: &str) -> anyhow::Result<Vec<ApplicationSet>> {
    let mut out = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| anyhow!("{source}: invalid YAML: {e}"))?;
        if value.is_null() {
            continue;
        }
        let (api_version, kind) = (str_field(&value, "apiVersion"), str_field(&value, "kind"));
        if kind != Some("ApplicationSet") || !matches!(api_version, Some(FLOTILLA_API | ARGO_API)) {
            bail!(
                "{source}: document {} is {} {}, not an ApplicationSet ({FLOTILLA_API} or {ARGO_API})",
                index + 1,
                api_version.unwrap_or("<no apiVersion>"),
                kind.unwrap_or("<no kind>")
            );
        }
        let name = value
            .get("metadata")
            .and_then(|m| str_field(m, "name"))
            .unwrap_or("<unnamed>")
            .to_string();
        match serde_yaml::from_value::<ApplicationSet>(value) {
            Ok(appset) => out.push(appset),
            // Read that document again, typed, for an error message with its location.
            Err(plain) => {
                let located = serde_yaml::Deserializer::from_str(text)
                    .nth(index)
                    .map(ApplicationSet::deserialize)
                    .and_then(Result::err)
                    .map_or(plain.to_string(), |e| e.to_string());
                bail!("{source}: ApplicationSet {name} is invalid: {located}");
            }
        }
    }
    Ok(out)
}

fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPSET: &str = "spec:\n  generators: [{list: {elements: [{name: a}]}}]\n  template: {metadata: {name: '{{name}}'}, spec: {project: default}}\n";

    #[test]
    fn reads_flotilla_and_argo_documents() {
        let text = format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: a}}\n{APPSET}---\n---\napiVersion: flotilla.dev/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: b}}\n{APPSET}"
        );
        let sets = application_sets(&text, "f.yaml").unwrap();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].metadata.name.as_deref(), Some("a"));
    }

    #[test]
    fn errors_name_the_file_document_and_location() {
        let e = application_sets("apiVersion: v1\nkind: ConfigMap\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "f.yaml: document 1 is v1 ConfigMap, not an ApplicationSet (flotilla.dev/v1alpha1 or argoproj.io/v1alpha1)"
        );
        let e = application_sets("a: [\n", "f.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("f.yaml: invalid YAML:") && e.contains("line"),
            "{e}"
        );
        let bad = "apiVersion: flotilla.dev/v1alpha1\nkind: ApplicationSet\nmetadata: {name: x}\nspec:\n  generators: 3\n  template: {}\n";
        let e = application_sets(bad, "f.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("f.yaml: ApplicationSet x is invalid: spec.generators: invalid type"),
            "{e}"
        );
        assert!(e.contains("line 5"), "{e}");
    }
}
