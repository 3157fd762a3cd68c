//! Static validation of the kustomizations a build will use, before kustomize runs: the
//! application's kustomization and, transitively, every kustomization it references through
//! `resources`, `bases`, `components`, `generators`, `transformers` and `validators`.
//!
//! Every path a kustomization names must be relative, must not look remote (`://`, `git@`,
//! `?ref=`…), must stay inside the repository after normalisation, and must exist in the
//! commit's tree — kustomize falls back to fetching a `resources` entry it cannot find locally
//! as a Git URL (`github.com/org/repo//path`), so "exists in the tree" is what keeps it off the
//! network. `helmCharts` / `helmGlobals` are refused (kustomize would run helm).
//!
//! The files are copied as written (re-serialising would change scalars such as an unquoted
//! `newTag: 1.20`). That this parser and kustomize's could disagree on a document is fenced
//! three ways: a duplicate key is an error here, every path must exist in the tree (so nothing
//! unseen can turn remote), and kustomize itself runs with `LoadRestrictionsRootOnly`, without
//! plugins or helm, in an environment where Git may use no protocol and HTTP goes to a dead
//! proxy ([`super::kustomize_run`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::RenderError;
use super::documents::parse_yaml_document;
use super::paths::{display_dir, files_under, is_dir, is_file, join, resolve};
use crate::git::tree::Tree;

/// The names kustomize looks for in a directory, in Argo CD's order.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomizations of one build, all validated.
#[derive(Debug, Clone, Default)]
pub struct CheckedKustomizations {
    /// Repository path of each kustomization file → its parsed content.
    pub documents: BTreeMap<String, Map<String, Value>>,
    /// The directories of those kustomizations (kustomize's load roots).
    pub roots: BTreeSet<String>,
    /// Files the kustomizations name directly.
    pub referenced_files: BTreeSet<String>,
}

impl CheckedKustomizations {
    /// The files kustomize may read: everything below each root (LoadRestrictionsRootOnly
    /// keeps file loads inside the root) and the directly referenced files, sorted, unique.
    pub fn files_to_copy<'t>(&self, tree: &'t dyn Tree) -> BTreeSet<&'t str> {
        let mut files: BTreeSet<&str> = BTreeSet::new();
        for root in &self.roots {
            files.extend(files_under(tree, root).iter().map(String::as_str));
        }
        for file in tree.files() {
            if self.referenced_files.contains(file) {
                files.insert(file);
            }
        }
        files
    }
}

/// The kustomization file of `dir`, if it has one; several are an error, as in kustomize.
pub fn kustomization_file(tree: &dyn Tree, dir: &str) -> Result<Option<String>, RenderError> {
    let found: Vec<String> = KUSTOMIZATION_FILES
        .iter()
        .map(|name| join(dir, name))
        .filter(|path| is_file(tree, path))
        .collect();
    if found.len() > 1 {
        return Err(RenderError::SourceType {
            path: display_dir(dir),
            reason: format!(
                "holds several kustomization files ({}); kustomize needs exactly one",
                found.join(", ")
            ),
        });
    }
    Ok(found.into_iter().next())
}

/// Validates the kustomization of `app_dir` and everything it reaches.
pub fn check_kustomizations(
    tree: &dyn Tree,
    app_dir: &str,
) -> Result<CheckedKustomizations, RenderError> {
    let mut checked = CheckedKustomizations::default();
    let mut pending = vec![app_dir.to_string()];
    while let Some(dir) = pending.pop() {
        if !checked.roots.insert(dir.clone()) {
            continue;
        }
        let Some(file) = kustomization_file(tree, &dir)? else {
            // Not a kustomization: kustomize reports that itself; nothing to copy from here.
            checked.roots.remove(&dir);
            continue;
        };
        let document = read_kustomization(tree, &file)?;
        let mut checker = Checker {
            tree,
            dir: &dir,
            file: file.rsplit('/').next().unwrap_or(&file),
            found_dirs: Vec::new(),
            found_files: Vec::new(),
        };
        checker.check(&document)?;
        checked.referenced_files.extend(checker.found_files);
        pending.extend(checker.found_dirs);
        checked.documents.insert(file, document);
    }
    Ok(checked)
}

fn read_kustomization(tree: &dyn Tree, file: &str) -> Result<Map<String, Value>, RenderError> {
    let bytes = tree.read_file(file).map_err(|cause| RenderError::Read {
        file: file.to_string(),
        cause,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| RenderError::NotUtf8 {
        file: file.to_string(),
    })?;
    match parse_yaml_document(file, text)? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(RenderError::Syntax {
            file: file.to_string(),
            line: None,
            cause: "a kustomization must be a mapping".into(),
        }),
    }
}

/// How kustomize uses a path.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    /// A file, or a directory holding a kustomization (`resources`, `components`…).
    FileOrKustomization,
    /// A file only.
    File,
}

struct Checker<'a> {
    tree: &'a dyn Tree,
    dir: &'a str,
    file: &'a str,
    found_dirs: Vec<String>,
    found_files: Vec<String>,
}

impl Checker<'_> {
    fn check(&mut self, doc: &Map<String, Value>) -> Result<(), RenderError> {
        for field in ["helmCharts", "helmGlobals", "helmChartInflationGenerator"] {
            if doc.get(field).is_some_and(|v| !v.is_null()) {
                return Err(self.refuse(field, None, "is not supported: kustomize would run helm"));
            }
        }
        use Use::*;
        for (field, usage, inline) in [
            ("resources", FileOrKustomization, false),
            ("bases", FileOrKustomization, false),
            ("components", FileOrKustomization, false),
            ("generators", FileOrKustomization, true),
            ("transformers", FileOrKustomization, true),
            ("validators", FileOrKustomization, true),
            ("crds", File, false),
            ("configurations", File, false),
            ("patchesStrategicMerge", File, true),
        ] {
            for entry in self.strings(doc.get(field), field)? {
                // A multi-line entry is an inline patch or plugin configuration, not a path.
                if !(inline && entry.contains('\n')) {
                    self.path(field, entry, usage)?;
                }
            }
        }
        for field in ["patches", "patchesJson6902", "replacements"] {
            for (i, item) in self.list(doc.get(field), field)?.iter().enumerate() {
                match item {
                    Value::Object(item) => {
                        if let Some(path) = item.get("path") {
                            let label = format!("{field}[{i}].path");
                            let path = self.string(path, &label)?;
                            self.path(&label, path, Use::File)?;
                        }
                    }
                    Value::String(path) => self.path(&format!("{field}[{i}]"), path, Use::File)?,
                    _ => return Err(self.refuse(field, None, "entries must be mappings")),
                }
            }
        }
        for field in ["configMapGenerator", "secretGenerator"] {
            for (i, item) in self.list(doc.get(field), field)?.iter().enumerate() {
                let Value::Object(item) = item else {
                    return Err(self.refuse(field, None, "entries must be mappings"));
                };
                let label = format!("{field}[{i}].files");
                for entry in self.strings(item.get("files"), &label)? {
                    // `key=path` or `path`.
                    let path = entry.split_once('=').map_or(entry, |(_, p)| p);
                    self.path(&label, path, Use::File)?;
                }
                let label = format!("{field}[{i}].envs");
                for entry in self.strings(item.get("envs"), &label)? {
                    self.path(&label, entry, Use::File)?;
                }
                if let Some(env) = item.get("env").filter(|v| !v.is_null()) {
                    let label = format!("{field}[{i}].env");
                    let env = self.string(env, &label)?;
                    self.path(&label, env, Use::File)?;
                }
            }
        }
        if let Some(openapi) = doc.get("openapi").filter(|v| !v.is_null()) {
            let Value::Object(openapi) = openapi else {
                return Err(self.refuse("openapi", None, "must be a mapping"));
            };
            if let Some(path) = openapi.get("path") {
                let path = self.string(path, "openapi.path")?;
                self.path("openapi.path", path, Use::File)?;
            }
        }
        Ok(())
    }

    /// One path entry: relative, local, inside the repository, present in the tree.
    fn path(&mut self, field: &str, entry: &str, usage: Use) -> Result<(), RenderError> {
        let entry_text = entry;
        let entry = entry.trim();
        if entry.is_empty() {
            return Ok(());
        }
        let refuse = |reason: &str| Err(self.refuse(field, Some(entry_text), reason));
        if entry.starts_with('/') || entry.starts_with('\\') {
            return refuse("is an absolute path; only paths inside the repository are allowed");
        }
        if looks_remote(entry) {
            return refuse("is a remote reference; only paths inside the repository are allowed");
        }
        let Some(resolved) = resolve(self.dir, entry) else {
            return refuse("leaves the repository");
        };
        if is_file(self.tree, &resolved) {
            self.found_files.push(resolved);
        } else if is_dir(self.tree, &resolved) {
            if usage == Use::FileOrKustomization {
                self.found_dirs.push(resolved);
            }
        } else {
            return refuse(
                "does not exist in the repository (kustomize would try to fetch it as a remote \
                 reference)",
            );
        }
        Ok(())
    }

    fn list<'v>(&self, value: Option<&'v Value>, field: &str) -> Result<&'v [Value], RenderError> {
        match value {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.refuse(field, None, "must be a list")),
        }
    }

    fn strings<'v>(
        &self,
        value: Option<&'v Value>,
        field: &str,
    ) -> Result<Vec<&'v str>, RenderError> {
        self.list(value, field)?
            .iter()
            .map(|v| self.string(v, field))
            .collect()
    }

    fn string<'v>(&self, value: &'v Value, field: &str) -> Result<&'v str, RenderError> {
        value
            .as_str()
            .ok_or_else(|| self.refuse(field, None, "entries must be strings"))
    }

    fn refuse(&self, field: &str, entry: Option<&str>, reason: &str) -> RenderError {
        RenderError::Kustomization {
            dir: display_dir(self.dir),
            file: self.file.to_string(),
            field: field.to_string(),
            entry: entry.map(str::to_string),
            reason: reason.to_string(),
        }
    }
}

/// URLs, scp-like Git addresses and go-getter style references.
fn looks_remote(entry: &str) -> bool {
    let lower = entry.to_ascii_lowercase();
    lower.contains("://")
        || lower.starts_with("git@")
        || lower.starts_with("git::")
        || lower.starts_with("gh:")
        || ["?ref=", "?version=", "?timeout=", "?submodules=", "&ref="]
            .iter()
            .any(|q| lower.contains(q))
        || ["github.com/", "gitlab.com/", "bitbucket.org/"]
            .iter()
            .any(|host| lower.starts_with(host))
        || lower.split('/').next().is_some_and(|first| {
            // `user@host:path` (scp syntax).
            first.contains('@') && first.contains(':')
        })
}
