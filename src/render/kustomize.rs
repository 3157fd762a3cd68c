//! A kustomize source: validate the kustomizations, write a private temporary copy of the
//! files kustomize may read (with the options written into the application's kustomization),
//! build, parse the output. The temporary directory is removed when this returns.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::RenderError;
use super::documents::parse_yaml_stream;
use super::kustomization_check::{check_kustomizations, kustomization_file};
use super::kustomization_edit::edit_kustomization;
use super::kustomize_options::KustomizeOptions;
use super::kustomize_run::KustomizeCommand;
use super::paths::display_dir;
use crate::git::tree::Tree;

pub fn render_kustomize(
    tree: &dyn Tree,
    app_dir: &str,
    options: &KustomizeOptions,
    command: &KustomizeCommand,
) -> Result<Vec<Value>, RenderError> {
    let label = display_dir(app_dir);
    let checked = check_kustomizations(tree, app_dir)?;
    let app_file = kustomization_file(tree, app_dir)?.ok_or_else(|| RenderError::SourceType {
        path: label.clone(),
        reason: "has no kustomization file".into(),
    })?;
    let edited = if options.is_empty() {
        None
    } else {
        let bytes = read(tree, &app_file)?;
        let text = std::str::from_utf8(&bytes).map_err(|_| RenderError::NotUtf8 {
            file: app_file.clone(),
        })?;
        let keys: Vec<&str> = checked
            .documents
            .get(&app_file)
            .map(|doc| doc.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let edited = edit_kustomization(text, &keys, options).map_err(|reason| {
            RenderError::KustomizeOptions {
                path: label.clone(),
                reason,
            }
        })?;
        Some(edited)
    };

    let temp_error = |cause: std::io::Error| RenderError::TempCopy {
        path: label.clone(),
        cause: cause.to_string(),
    };
    let temp = tempfile::Builder::new()
        .prefix("flotilla-render-")
        .tempdir()
        .map_err(temp_error)?;
    let repo = temp.path().join("repo");
    let home = temp.path().join("home");
    std::fs::create_dir_all(&repo).map_err(temp_error)?;
    std::fs::create_dir_all(&home).map_err(temp_error)?;
    for file in checked.files_to_copy(tree) {
        let target = inside(&repo, file).ok_or_else(|| RenderError::TempCopy {
            path: label.clone(),
            cause: format!("the tree lists an unsafe path {file:?}"),
        })?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(temp_error)?;
        }
        let content = match &edited {
            Some(text) if file == app_file => text.as_bytes().to_vec(),
            _ => read(tree, file)?,
        };
        std::fs::write(&target, content).map_err(temp_error)?;
    }
    let dir = if app_dir.is_empty() {
        repo.clone()
    } else {
        repo.join(app_dir)
    };
    let output = command.build(&repo, &dir, &home, &label)?;
    let objects = parse_yaml_stream(&format!("{label}: kustomize output"), &output)?;
    // Removal errors are not render errors; TempDir's drop would swallow them too.
    let _ = temp.close();
    Ok(objects)
}

fn read(tree: &dyn Tree, file: &str) -> Result<Vec<u8>, RenderError> {
    tree.read_file(file).map_err(|cause| RenderError::Read {
        file: file.to_string(),
        cause,
    })
}

/// `root/relative`, when every segment of `relative` is a plain name.
fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\0') {
            return None;
        }
        path.push(part);
    }
    Some(path)
}
