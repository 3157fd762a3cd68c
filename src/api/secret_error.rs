//! The one error type of Secret parsing (cluster, repository and repo-creds Secrets, Secret
//! manifests in files).
//!
//! Every message names the Secret (`namespace/name`) or the file, and the field; none contains a
//! value read from the Secret. A [`Problem`] is a fixed phrase, so a credential cannot end up in
//! a message by construction. JSON errors keep only serde_json's category and position, never its
//! text (which can quote the offending value).

use std::fmt;

/// A parse failure in a Secret or a file of Secrets. The `Display` text never contains a value
/// from the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// A field of a Secret is missing or its value is unusable.
    /// Shown as `Secret flotilla/dev: data.config is not valid base64`.
    #[error("Secret {secret}: {field} {problem}")]
    Field {
        /// `namespace/name` of the Secret (`<unnamed>` when the manifest has no name).
        secret: String,
        /// The key path, e.g. `config.tlsClientConfig.caData` or `data.config`.
        field: String,
        problem: Problem,
    },
    /// The Secret's `secret-type` label is not the one the parser handles.
    #[error("Secret {secret}: secret-type label is {found}, expected {expected}")]
    WrongType {
        secret: String,
        /// The type the parser wanted, e.g. `"cluster"`.
        expected: &'static str,
        /// What the label says: `missing`, one of the known types quoted, or `an unknown type`.
        found: &'static str,
    },
    /// A YAML stream could not be parsed. Positions are 1-based, as in serde_yaml's messages.
    #[error("{origin}: invalid YAML{}", location_suffix(*.line, *.column))]
    Yaml {
        /// The file (or other source) the text came from.
        origin: String,
        line: Option<usize>,
        column: Option<usize>,
    },
    /// A document of a YAML stream uses YAML that has no JSON equivalent (a non-scalar mapping
    /// key, a non-finite number) or a `List` whose `items` is not a list.
    #[error("{origin}: document {document}: {what}")]
    UnsupportedYaml {
        origin: String,
        document: usize,
        /// A fixed description of the problem.
        what: &'static str,
    },
    /// A document of a YAML stream is not a Secret.
    #[error("{origin}: document {document}{}: {} is not a Secret", item_suffix(*.item), kind_phrase(.kind.as_deref()))]
    NotASecret {
        origin: String,
        /// 1-based position of the document in the stream, empty documents included.
        document: usize,
        /// 0-based index in `items` when the document is a `kind: List`.
        item: Option<usize>,
        /// The `kind` of the document, when it has a string `kind`.
        kind: Option<String>,
    },
    /// A Secret in a YAML stream is invalid; `error` says how.
    #[error("{origin}: document {document}{}: {error}", item_suffix(*.item))]
    InDocument {
        origin: String,
        document: usize,
        item: Option<usize>,
        error: Box<SecretError>,
    },
}

/// What is wrong with a field. Each variant displays as a fixed phrase that never contains the
/// field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The field is required and absent.
    Missing,
    /// The field is required and present but empty.
    Empty,
    /// The bytes are not UTF-8.
    NotUtf8,
    /// Not standard base64 with padding.
    NotBase64,
    /// Decoded base64 that does not hold a PEM block.
    NotPem,
    /// Not a PEM or OpenSSH private key.
    NotPrivateKey,
    /// Not an absolute `http://` or `https://` URL with a host.
    NotHttpUrl,
    /// A URL with user info (`user:password@`): credentials belong in `config`.
    UrlWithUserInfo,
    /// Neither `true` nor `false`.
    NotBoolString,
    /// Not a decimal integer in `0..=u32::MAX`.
    NotU32,
    /// Not JSON; serde_json's category and 1-based position.
    InvalidJson {
        category: JsonErrorCategory,
        line: usize,
        column: usize,
    },
    /// A JSON/YAML value that should be an object.
    NotObject,
    /// A JSON/YAML value that should be a string.
    NotString,
    /// A JSON value that should be a boolean.
    NotBool,
    /// A fixed expected value, e.g. `apiVersion` must be `"v1"`.
    MustBe(&'static str),
}

/// The category of a serde_json error, without its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorCategory {
    /// Not JSON at all at that position.
    Syntax,
    /// The input ended in the middle of a value.
    Eof,
    /// Well-formed JSON the parser could not accept.
    Data,
    /// Reading the input failed.
    Io,
}

impl From<serde_json::error::Category> for JsonErrorCategory {
    fn from(c: serde_json::error::Category) -> Self {
        use serde_json::error::Category;
        match c {
            Category::Syntax => JsonErrorCategory::Syntax,
            Category::Eof => JsonErrorCategory::Eof,
            Category::Data => JsonErrorCategory::Data,
            Category::Io => JsonErrorCategory::Io,
        }
    }
}

impl Problem {
    /// The problem for a serde_json error: its category and position only, never its text.
    pub fn json(err: &serde_json::Error) -> Self {
        Problem::InvalidJson {
            category: err.classify().into(),
            line: err.line(),
            column: err.column(),
        }
    }
}

impl fmt::Display for JsonErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonErrorCategory::Syntax => "syntax error",
            JsonErrorCategory::Eof => "unexpected end of input",
            JsonErrorCategory::Data => "invalid data",
            JsonErrorCategory::Io => "read error",
        })
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("is missing"),
            Problem::Empty => f.write_str("is empty"),
            Problem::NotUtf8 => f.write_str("is not valid UTF-8"),
            Problem::NotBase64 => f.write_str("is not valid base64"),
            Problem::NotPem => f.write_str("does not decode to PEM (no -----BEGIN line)"),
            Problem::NotPrivateKey => f.write_str("is not a PEM or OpenSSH private key"),
            Problem::NotHttpUrl => f.write_str("is not an absolute http(s) URL"),
            Problem::UrlWithUserInfo => f.write_str(
                "must not carry user info (user:password@); put the credentials in config (username/password or bearerToken)",
            ),
            Problem::NotBoolString => f.write_str("must be \"true\" or \"false\""),
            Problem::NotU32 => f.write_str("is not a non-negative 32-bit integer"),
            Problem::InvalidJson {
                category,
                line,
                column,
            } => write!(
                f,
                "is not valid JSON ({category} at line {line}, column {column})"
            ),
            Problem::NotObject => f.write_str("must be an object"),
            Problem::NotString => f.write_str("must be a string"),
            Problem::NotBool => f.write_str("must be a boolean"),
            Problem::MustBe(expected) => write!(f, "must be \"{expected}\""),
        }
    }
}

impl SecretError {
    /// A [`SecretError::Field`] error.
    pub fn field(secret: &str, field: impl Into<String>, problem: Problem) -> Self {
        SecretError::Field {
            secret: secret.to_string(),
            field: field.into(),
            problem,
        }
    }
}

fn location_suffix(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

fn item_suffix(item: Option<usize>) -> String {
    item.map(|i| format!(", item {i}")).unwrap_or_default()
}

fn kind_phrase(kind: Option<&str>) -> String {
    match kind {
        Some(k) => format!("kind {k}"),
        None => "a document without a kind".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_message() {
        let e = SecretError::field("flotilla/dev", "data.config", Problem::NotBase64);
        assert_eq!(
            e.to_string(),
            "Secret flotilla/dev: data.config is not valid base64"
        );
    }

    #[test]
    fn json_problem_keeps_position_not_text() {
        let err = serde_json::from_str::<serde_json::Value>(r#"{"password": hunter2}"#)
            .expect_err("invalid JSON");
        let e = SecretError::field("argocd/c", "config", Problem::json(&err));
        assert_eq!(
            e.to_string(),
            "Secret argocd/c: config is not valid JSON (syntax error at line 1, column 14)"
        );
        assert!(!format!("{e} {e:?}").contains("hunter2"));
    }

    #[test]
    fn document_messages() {
        let e = SecretError::NotASecret {
            origin: "clusters.yaml".into(),
            document: 2,
            item: None,
            kind: Some("ConfigMap".into()),
        };
        assert_eq!(
            e.to_string(),
            "clusters.yaml: document 2: kind ConfigMap is not a Secret"
        );
        let e = SecretError::InDocument {
            origin: "s.yaml".into(),
            document: 1,
            item: Some(0),
            error: Box::new(SecretError::field("a/b", "data.x", Problem::NotBase64)),
        };
        assert_eq!(
            e.to_string(),
            "s.yaml: document 1, item 0: Secret a/b: data.x is not valid base64"
        );
        let e = SecretError::Yaml {
            origin: "s.yaml".into(),
            line: Some(3),
            column: Some(7),
        };
        assert_eq!(e.to_string(), "s.yaml: invalid YAML at line 3, column 7");
    }
}
