//! `clusters`: one parameter set per registered cluster Secret matching the selector (Argo CD
//! `generators/cluster.go`, default template mode).

use std::collections::BTreeSet;

use super::error::GenerateError;
use super::generator::{GenContext, Generator};
use super::params::{Params, normalize};
use super::selector;
use super::template::render_str;
use crate::api::application_set::ClusterGenerator;
use crate::api::cluster_secret::{ClusterSecret, IN_CLUSTER_NAME, IN_CLUSTER_SERVER};

pub struct ClusterParams<'a>(pub &'a ClusterGenerator);

impl Generator for ClusterParams<'_> {
    fn params(&self, ctx: &GenContext) -> Result<Vec<Params>, GenerateError> {
        let spec = self.0;
        if spec.flat_list {
            return Err(GenerateError::ClusterFlatList);
        }
        let mut out = Vec::new();
        // Argo CD keys clusters by name: Secrets with a duplicate name collapse to the first one.
        let mut seen = BTreeSet::new();
        if let Some(sel) = &spec.selector {
            selector::validate(sel)?;
        }
        // A selected Secret that does not parse would change the result once fixed: without it
        // the list is partial, and acting on it would delete that cluster's Applications.
        if let Some(bad) = ctx.invalid_clusters.iter().find(|i| {
            spec.selector.as_ref().is_none_or(|sel| {
                selector::matches_valid(sel, |k| i.labels.get(k).map(String::as_str))
            })
        }) {
            return Err(GenerateError::InvalidClusterSecret {
                secret: bad.secret_name.clone(),
                cause: bad.error.clone(),
            });
        }
        for cluster in ctx.clusters {
            let matched = spec.selector.as_ref().is_none_or(|sel| {
                selector::matches_valid(sel, |k| cluster.secret_labels.get(k).map(String::as_str))
            });
            if matched && seen.insert(cluster.name.as_str()) {
                out.push(with_values(cluster_params(cluster), spec)?);
            }
        }
        let has_local_secret = ctx.clusters.iter().any(|c| c.server == IN_CLUSTER_SERVER);
        if ctx.in_cluster && selector::is_empty(spec.selector.as_ref()) && !has_local_secret {
            let mut local = Params::new();
            local.insert("name".into(), IN_CLUSTER_NAME.into());
            local.insert("nameNormalized".into(), IN_CLUSTER_NAME.into());
            local.insert("server".into(), IN_CLUSTER_SERVER.into());
            local.insert("project".into(), String::new());
            out.push(with_values(local, spec)?);
        }
        Ok(out)
    }
}

/// `name`, `nameNormalized`, `server`, `project`, `metadata.labels.<k>`, `metadata.annotations.<k>`
/// (the Secret's own labels and annotations, all of them).
fn cluster_params(cluster: &ClusterSecret) -> Params {
    let mut p = Params::new();
    p.insert("name".into(), cluster.name.clone());
    p.insert("nameNormalized".into(), normalize(&cluster.name));
    p.insert("server".into(), cluster.server.clone());
    p.insert(
        "project".into(),
        cluster.project.clone().unwrap_or_default(),
    );
    for (k, v) in &cluster.secret_labels {
        p.insert(format!("metadata.labels.{k}"), v.clone());
    }
    for (k, v) in &cluster.secret_annotations {
        p.insert(format!("metadata.annotations.{k}"), v.clone());
    }
    p
}

/// Adds `values.<k>`, each templated with the cluster's own parameters (not with other values).
fn with_values(mut params: Params, spec: &ClusterGenerator) -> Result<Params, GenerateError> {
    let rendered = spec
        .values
        .iter()
        .map(|(k, v)| {
            Ok((
                format!("values.{k}"),
                render_str(v, &params)
                    .map_err(|e| GenerateError::from(e).at(format!("values.{k}")))?,
            ))
        })
        .collect::<Result<Vec<_>, GenerateError>>()?;
    params.extend(rendered);
    Ok(params)
}

#[cfg(test)]
#[path = "cluster_generator_tests.rs"]
mod tests;
