//! Reading Secret manifests from YAML files (the CLI's `--secrets` style inputs).

use serde::Deserialize;
use serde_json::Value;

use super::secret::SecretData;
use super::secret_error::SecretError;

/// Every Secret in a multi-document YAML stream. A document may be a Secret or a `kind: List`
/// (or `SecretList`) whose `items` are Secrets; empty documents are skipped. `source` names the
/// input in errors. Errors never echo a value: a YAML syntax error gives only its position, a bad
/// Secret goes through [`SecretData::from_value`], a non-Secret document gives its index and kind.
pub fn secrets_from_yaml(text: &str, source: &str) -> Result<Vec<SecretData>, SecretError> {
    let mut secrets = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document = index + 1;
        // serde_yaml::Value accepts any well-formed YAML, so an error here is about the syntax;
        // its text is still not used, only its position.
        let yaml = serde_yaml::Value::deserialize(doc).map_err(|e| {
            let loc = e.location();
            SecretError::Yaml {
                origin: source.to_string(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
            }
        })?;
        let unsupported = |what| SecretError::UnsupportedYaml {
            origin: source.to_string(),
            document,
            what,
        };
        let value = yaml_to_json(yaml).map_err(unsupported)?;
        match kind(&value) {
            _ if value.is_null() => {}
            Some("List" | "SecretList") => {
                let items = match value.get("items") {
                    Some(Value::Array(items)) => items.as_slice(),
                    None | Some(Value::Null) => &[],
                    Some(_) => return Err(unsupported("the items of a List are not a list")),
                };
                for (item, v) in items.iter().enumerate() {
                    secrets.push(secret_in(v, source, document, Some(item))?);
                }
            }
            _ => secrets.push(secret_in(&value, source, document, None)?),
        }
    }
    Ok(secrets)
}

fn kind(value: &Value) -> Option<&str> {
    value.get("kind").and_then(Value::as_str)
}

/// The Secret in one document (or List item); errors say where it is.
fn secret_in(
    value: &Value,
    source: &str,
    document: usize,
    item: Option<usize>,
) -> Result<SecretData, SecretError> {
    if kind(value) != Some("Secret") {
        return Err(SecretError::NotASecret {
            origin: source.to_string(),
            document,
            item,
            kind: kind(value).map(String::from),
        });
    }
    SecretData::from_value(value).map_err(|e| SecretError::InDocument {
        origin: source.to_string(),
        document,
        item,
        error: Box::new(e),
    })
}

/// YAML to JSON as `kubectl` does it: scalar keys become strings, tags are dropped.
fn yaml_to_json(yaml: serde_yaml::Value) -> Result<Value, &'static str> {
    use serde_yaml::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => number_to_json(&n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(
            seq.into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut obj = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_string(),
                    _ => return Err("a mapping key is not a scalar"),
                };
                obj.insert(key, yaml_to_json(v)?);
            }
            Value::Object(obj)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

fn number_to_json(n: &serde_yaml::Number) -> Result<Value, &'static str> {
    if let Some(i) = n.as_i64() {
        Ok(Value::from(i))
    } else if let Some(u) = n.as_u64() {
        Ok(Value::from(u))
    } else {
        n.as_f64()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or("a number is not finite")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::secret::SecretType;

    const PASSWORD: &str = "s3cr3t-P4ssw0rd";

    #[test]
    fn reads_documents_and_lists_skipping_empty_ones() {
        let text = r#"
# leading comment
---
apiVersion: v1
kind: Secret
metadata:
  name: repo
  namespace: argocd
  labels:
    argocd.argoproj.io/secret-type: repository
stringData:
  url: https://github.com/argoproj/argocd-example-apps
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: a}
  data: {password: czNjcjN0LVA0c3N3MHJk}
- apiVersion: v1
  kind: Secret
  metadata: {name: b, labels: {flotilla.dev/secret-type: cluster}}
"#;
        let secrets = secrets_from_yaml(text, "secrets.yaml").unwrap();
        let names: Vec<_> = secrets.iter().map(SecretData::qualified_name).collect();
        assert_eq!(names, ["argocd/repo", "a", "b"]);
        assert_eq!(secrets[0].secret_type(), Some(SecretType::Repository));
        assert_eq!(secrets[1].data["password"].expose(), PASSWORD.as_bytes());
        assert_eq!(secrets[2].secret_type(), Some(SecretType::Cluster));
        assert!(secrets_from_yaml("", "empty.yaml").unwrap().is_empty());
    }

    #[test]
    fn syntax_error_names_source_line_and_column() {
        // The position counts from the start of the stream, not of the document.
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\n\
                    kind: Secret\nstringData:\n  password: \"s3cr3t\n";
        let e = secrets_from_yaml(text, "bad.yaml").expect_err("invalid YAML");
        let SecretError::Yaml {
            line: Some(line), ..
        } = e
        else {
            panic!("{e:?}")
        };
        assert!(line >= 5, "{e:?}");
        assert!(
            e.to_string().starts_with("bad.yaml: invalid YAML at line "),
            "{e}"
        );
        assert!(!format!("{e} {e:?}").contains("s3cr3t"));
        let e = secrets_from_yaml("a: b\n c: d\n", "bad.yaml").expect_err("invalid YAML");
        assert_eq!(e.to_string(), "bad.yaml: invalid YAML at line 2, column 3");
    }

    #[test]
    fn non_secret_document_names_index_and_kind() {
        let text = "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n";
        let e = secrets_from_yaml(text, "mixed.yaml").expect_err("ConfigMap");
        assert_eq!(
            e.to_string(),
            "mixed.yaml: document 2: kind ConfigMap is not a Secret"
        );
        let text = "kind: List\nitems:\n- {kind: ConfigMap}\n";
        let e = secrets_from_yaml(text, "l.yaml").expect_err("ConfigMap item");
        assert_eq!(
            e.to_string(),
            "l.yaml: document 1, item 0: kind ConfigMap is not a Secret"
        );
        let e = secrets_from_yaml("just: a map\n", "m.yaml").expect_err("no kind");
        assert_eq!(
            e.to_string(),
            "m.yaml: document 1: a document without a kind is not a Secret"
        );
    }

    #[test]
    fn bad_secret_names_source_document_and_field_without_value() {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: dev, namespace: flotilla}}\n\
             data:\n  config: {PASSWORD}\n"
        );
        let e = secrets_from_yaml(&text, "dev.yaml").expect_err("bad base64");
        assert_eq!(
            e.to_string(),
            "dev.yaml: document 1: Secret flotilla/dev: data.config is not valid base64"
        );
        assert!(!format!("{e} {e:?}").contains(PASSWORD));
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: dev}}\nstringData:\n  password: [{PASSWORD}]\n"
        );
        let e = secrets_from_yaml(&text, "dev.yaml").expect_err("not a string");
        assert_eq!(
            e.to_string(),
            "dev.yaml: document 1: Secret dev: stringData.password must be a string"
        );
        assert!(!format!("{e} {e:?}").contains(PASSWORD));
    }

    #[test]
    fn scalar_keys_become_strings() {
        let text =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {1: one, true: yes}\n";
        let s = &secrets_from_yaml(text, "k.yaml").unwrap()[0];
        assert_eq!(s.data["1"].expose(), b"one");
        assert_eq!(s.data["true"].expose(), b"yes");
    }
}
