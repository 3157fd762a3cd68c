//! A plain directory of manifests: `.yaml`, `.yml` and `.json` files directly in the application
//! directory (or, with `recurse`, below it too; hidden files and directories are skipped),
//! filtered by `include` / `exclude` (exclude wins), in sorted path order.

use serde_json::Value;

use super::RenderError;
use super::documents::parse_manifest_file;
use super::file_glob::FileGlob;
use super::paths::{display_dir, files_under, join};
use crate::api::application::ApplicationSourceDirectory;
use crate::git::tree::Tree;

/// The objects of the plain directory `dir` (`""` is the repository root).
pub fn render_directory(
    tree: &dyn Tree,
    dir: &str,
    options: &ApplicationSourceDirectory,
) -> Result<Vec<Value>, RenderError> {
    let mut objects = Vec::new();
    for file in manifest_files(tree, dir, options)? {
        let bytes = tree.read_file(&file).map_err(|cause| RenderError::Read {
            file: file.clone(),
            cause,
        })?;
        objects.extend(parse_manifest_file(&file, &bytes)?);
    }
    Ok(objects)
}

/// The repository paths of the manifest files to read, sorted.
pub fn manifest_files(
    tree: &dyn Tree,
    dir: &str,
    options: &ApplicationSourceDirectory,
) -> Result<Vec<String>, RenderError> {
    let compile = |field: &'static str, pattern: &Option<String>| {
        pattern
            .as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| {
                FileGlob::new(p).map_err(|reason| RenderError::InvalidGlob {
                    path: display_dir(dir),
                    field,
                    pattern: p.to_string(),
                    reason,
                })
            })
            .transpose()
    };
    let include = compile("include", &options.include)?;
    let exclude = compile("exclude", &options.exclude)?;
    let mut selected = Vec::new();
    for file in files_under(tree, dir) {
        let relative = if dir.is_empty() {
            file.as_str()
        } else {
            &file[dir.len() + 1..]
        };
        if !options.recurse && relative.contains('/') {
            continue;
        }
        if relative.split('/').any(|part| part.starts_with('.')) {
            continue;
        }
        let is_jsonnet = relative.ends_with(".jsonnet");
        let is_manifest = [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| relative.ends_with(ext));
        if !is_manifest && !is_jsonnet {
            continue;
        }
        if exclude.as_ref().is_some_and(|g| g.matches(relative)) {
            continue;
        }
        if include.as_ref().is_some_and(|g| !g.matches(relative)) {
            continue;
        }
        if is_jsonnet {
            // Argo CD would evaluate it; rendering the directory without it would be wrong.
            return Err(RenderError::Unsupported {
                path: join(dir, relative),
                what: "jsonnet",
            });
        }
        selected.push(file.clone());
    }
    Ok(selected)
}
