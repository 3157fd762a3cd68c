//! `merge`: the first child's parameter sets are the base; a later child's set with the same
//! values for all `mergeKeys` overrides the matching base set's keys; unmatched sets of later
//! children are dropped (Argo CD `generators/merge.go`, default template mode).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::error::GenerateError;
use super::generator::{GenContext, Generator, MAX_NESTING};
use super::matrix_generator::child_params;
use super::params::Params;
use crate::api::application_set::MergeGenerator;

pub struct MergeParams<'a> {
    pub spec: &'a MergeGenerator,
    pub depth: usize,
}

impl Generator for MergeParams<'_> {
    fn params(&self, ctx: &GenContext) -> Result<Vec<Params>, GenerateError> {
        if self.depth >= MAX_NESTING {
            return Err(GenerateError::NestingTooDeep(MAX_NESTING));
        }
        let children = &self.spec.generators;
        if children.len() < 2 {
            return Err(GenerateError::MergeChildren(children.len()));
        }
        let keys: BTreeSet<&str> = self.spec.merge_keys.iter().map(String::as_str).collect();
        if keys.is_empty() {
            return Err(GenerateError::MergeNoKeys);
        }
        let mut sets = Vec::with_capacity(children.len());
        for (i, child) in children.iter().enumerate() {
            sets.push(
                child_params(child, ctx, self.depth)
                    .map_err(|e| e.at(format!("generators[{i}]")))?,
            );
        }
        let mut base = sets.remove(0);
        let base_keys = index(&keys, &base, 0)?.1;
        for (offset, overrides) in sets.iter().enumerate() {
            let (by_key, _) = index(&keys, overrides, offset + 1)?;
            for (params, key) in base.iter_mut().zip(&base_keys) {
                if let Some(&j) = by_key.get(key) {
                    params.extend(overrides[j].iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        Ok(base)
    }
}

/// The merge key of every set (JSON of the key values, missing ones as null, like Argo CD) and
/// an index from key to position; a key twice in one child is an error.
fn index(
    keys: &BTreeSet<&str>,
    sets: &[Params],
    child: usize,
) -> Result<(HashMap<String, usize>, Vec<String>), GenerateError> {
    let mut by_key = HashMap::with_capacity(sets.len());
    let mut all = Vec::with_capacity(sets.len());
    for (i, params) in sets.iter().enumerate() {
        let values: BTreeMap<&str, Option<&str>> = keys
            .iter()
            .map(|k| (*k, params.get(*k).map(String::as_str)))
            .collect();
        let key = serde_json::to_string(&values).unwrap_or_default();
        if by_key.insert(key.clone(), i).is_some() {
            return Err(GenerateError::MergeDuplicateKey { child, key });
        }
        all.push(key);
    }
    Ok((by_key, all))
}
