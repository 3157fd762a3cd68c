//! Repository-relative paths: `""` is the root, no leading `/` or `./`, no trailing `/`.

use super::RenderError;
use crate::git::tree::Tree;

/// The source's `path` as a repository directory (`None`, `""`, `.` and `./` are the root).
pub fn source_dir(path: Option<&str>) -> Result<String, RenderError> {
    let raw = path.unwrap_or("").trim();
    let outside = || RenderError::PathOutsideRepository {
        path: raw.to_string(),
    };
    if raw.starts_with('/') {
        return Err(outside());
    }
    resolve("", raw).ok_or_else(outside)
}

/// `entry` relative to the directory `base`, normalised (`.` and `..` resolved, empty segments
/// dropped); `None` when it climbs above the repository root.
pub fn resolve(base: &str, entry: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in entry.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// `.` for the root, else the path itself: how errors name a directory.
pub fn display_dir(dir: &str) -> String {
    if dir.is_empty() {
        ".".to_string()
    } else {
        dir.to_string()
    }
}

pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Every file below `dir`, recursively, sorted (all files for the root).
pub fn files_under<'t>(tree: &'t dyn Tree, dir: &str) -> &'t [String] {
    let files = tree.files();
    if dir.is_empty() {
        return files;
    }
    let prefix = format!("{dir}/");
    let start = files.partition_point(|f| f.as_str() < prefix.as_str());
    let len = files[start..].partition_point(|f| f.starts_with(&prefix));
    &files[start..start + len]
}

pub fn is_file(tree: &dyn Tree, path: &str) -> bool {
    tree.files()
        .binary_search_by(|f| f.as_str().cmp(path))
        .is_ok()
}

/// Whether `dir` is a directory of the tree: the root, or a prefix of some file (hidden
/// directories included, which [`Tree::directories`] leaves out).
pub fn is_dir(tree: &dyn Tree, dir: &str) -> bool {
    dir.is_empty() || !files_under(tree, dir).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_normalises_and_refuses_to_climb_out() {
        assert_eq!(resolve("apps/web", "../base").as_deref(), Some("apps/base"));
        assert_eq!(
            resolve("apps/web", "./x//y.yaml").as_deref(),
            Some("apps/web/x/y.yaml")
        );
        assert_eq!(resolve("apps/web", "../..").as_deref(), Some(""));
        assert_eq!(resolve("apps/web", "../../.."), None);
        assert_eq!(resolve("", "a/../../b"), None);
        assert_eq!(source_dir(None).unwrap(), "");
        assert_eq!(source_dir(Some("./")).unwrap(), "");
        assert_eq!(source_dir(Some("./apps/web/")).unwrap(), "apps/web");
        assert!(source_dir(Some("/etc")).is_err());
        assert!(source_dir(Some("../x")).is_err());
    }
}
