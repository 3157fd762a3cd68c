//! `git`: one parameter set per matching directory, or per object in matching JSON/YAML files
//! (Argo CD `generators/git.go`, default template mode). Reads a commit's tree, never a checkout.

use serde_json::Value;

use super::error::GenerateError;
use super::generator::{GenContext, Generator};
use super::params::{Params, basename, dirname, flatten_into, insert_path_params, normalize};
use super::path_glob::PathGlob;
use super::template::render_str;
use crate::api::application_set::{GitGenerator, GitPathItem};

pub struct GitParams<'a>(pub &'a GitGenerator);

impl Generator for GitParams<'_> {
    fn params(&self, ctx: &GenContext) -> Result<Vec<Params>, GenerateError> {
        let spec = self.0;
        let (items, files) = match (spec.directories.is_empty(), spec.files.is_empty()) {
            (false, true) => (&spec.directories, false),
            (true, false) => (&spec.files, true),
            _ => return Err(GenerateError::GitPaths),
        };
        // Directories use Go's path.Match (`*` never crosses `/`); files also accept `**`.
        let filter = PathFilter::new(items, files)?;
        let tree = ctx.git.snapshot(&spec.repo_url, &spec.revision)?;
        let prefix = spec.path_param_prefix.as_deref();
        let mut out = Vec::new();
        if files {
            for path in tree.files().iter().filter(|p| filter.keeps(p)) {
                let content = tree.read_file(path)?;
                for object in parse_git_file(path, &content)? {
                    let mut params = Params::new();
                    flatten_into("", &object, &mut params);
                    insert_file_path_params(&mut params, prefix, path);
                    out.push(with_values(params, spec)?);
                }
            }
        } else {
            for dir in tree.directories().iter().filter(|d| filter.keeps(d)) {
                let mut params = Params::new();
                insert_path_params(&mut params, prefix, dir);
                out.push(with_values(params, spec)?);
            }
        }
        Ok(out)
    }
}

/// Include globs and `exclude: true` globs; exclusion wins regardless of order.
struct PathFilter {
    include: Vec<PathGlob>,
    exclude: Vec<PathGlob>,
}

impl PathFilter {
    fn new(items: &[GitPathItem], double_star: bool) -> Result<Self, GenerateError> {
        let mut filter = PathFilter {
            include: Vec::new(),
            exclude: Vec::new(),
        };
        for item in items {
            let glob = PathGlob::new(&item.path, double_star)?;
            if item.exclude {
                filter.exclude.push(glob)
            } else {
                filter.include.push(glob)
            }
        }
        Ok(filter)
    }

    fn keeps(&self, path: &str) -> bool {
        self.include.iter().any(|g| g.matches(path))
            && !self.exclude.iter().any(|g| g.matches(path))
    }
}

/// A git file holds one object, a list of objects, or nothing (one empty parameter set).
fn parse_git_file(path: &str, content: &[u8]) -> Result<Vec<Value>, GenerateError> {
    let err = |reason: String| GenerateError::GitFile {
        path: path.to_string(),
        reason,
    };
    let text = std::str::from_utf8(content).map_err(|_| err("is not UTF-8 text".into()))?;
    let value: Value =
        serde_yaml::from_str(text).map_err(|e| err(format!("is not valid YAML or JSON: {e}")))?;
    match value {
        Value::Null => Ok(vec![Value::Object(Default::default())]),
        Value::Object(_) => Ok(vec![value]),
        Value::Array(items) => {
            if let Some(i) = items.iter().position(|v| !v.is_object()) {
                return Err(err(format!("list item {i} is not an object")));
            }
            Ok(items)
        }
        _ => Err(err("must hold an object or a list of objects".into())),
    }
}

/// `P` is the file's directory; plus `P.filename` and `P.filenameNormalized` for the file.
fn insert_file_path_params(params: &mut Params, prefix: Option<&str>, file: &str) {
    let dir = dirname(file);
    insert_path_params(params, prefix, dir);
    let p = match prefix {
        Some(prefix) if !prefix.is_empty() => format!("{prefix}.path"),
        _ => "path".to_string(),
    };
    params.insert(format!("{p}.filename"), basename(file).to_string());
    params.insert(format!("{p}.filenameNormalized"), normalize(basename(file)));
}

fn with_values(mut params: Params, spec: &GitGenerator) -> Result<Params, GenerateError> {
    let mut rendered = Vec::with_capacity(spec.values.len());
    for (k, v) in &spec.values {
        let value =
            render_str(v, &params).map_err(|e| GenerateError::from(e).at(format!("values.{k}")))?;
        rendered.push((format!("values.{k}"), value));
    }
    params.extend(rendered);
    Ok(params)
}

#[cfg(test)]
#[path = "git_generator_tests.rs"]
mod tests;
