//! `matrix`: every combination of the parameter sets of exactly two children; the first child's
//! parameters are interpolated into the second child's spec (Argo CD `generators/matrix.go`).

use serde::Deserialize;

use super::error::GenerateError;
use super::generator::{
    GenContext, Generator, GeneratorKind, MAX_NESTING, MAX_PARAMETER_SETS, evaluate,
};
use super::params::Params;
use super::value_template::{compile_value, has_tags, render_value};
use crate::api::application_set::{ApplicationSetNestedGenerator, MatrixGenerator};

pub struct MatrixParams<'a> {
    pub spec: &'a MatrixGenerator,
    pub depth: usize,
}

impl Generator for MatrixParams<'_> {
    fn params(&self, ctx: &GenContext) -> Result<Vec<Params>, GenerateError> {
        if self.depth >= MAX_NESTING {
            return Err(GenerateError::NestingTooDeep(MAX_NESTING));
        }
        let [first, second] = self.spec.generators.as_slice() else {
            return Err(GenerateError::MatrixChildren(self.spec.generators.len()));
        };
        let left = child_params(first, ctx, self.depth).map_err(|e| e.at("generators[0]"))?;
        let second_json =
            serde_json::to_value(second).map_err(|e| GenerateError::InvalidNested {
                kind: "matrix",
                reason: e.to_string(),
            })?;
        let mut out = Vec::new();
        if !has_tags(&second_json) {
            // Nothing to interpolate: the second child is evaluated once for all.
            let right = child_params(second, ctx, self.depth).map_err(|e| e.at("generators[1]"))?;
            // Checked before combining: the product is what could exhaust memory.
            if left.len().saturating_mul(right.len()) > MAX_PARAMETER_SETS {
                return Err(GenerateError::TooManyParameterSets(MAX_PARAMETER_SETS));
            }
            for a in &left {
                for b in &right {
                    out.push(combine(a, b)?);
                }
            }
            return Ok(out);
        }
        let compiled =
            compile_value(&second_json).map_err(|e| GenerateError::from(e).at("generators[1]"))?;
        for a in &left {
            let rendered = render_value(&compiled, a)
                .map_err(|e| GenerateError::from(e).at("generators[1]"))?;
            let child = ApplicationSetNestedGenerator::deserialize(&rendered).map_err(|e| {
                GenerateError::InvalidNested {
                    kind: "matrix",
                    reason: format!("generators[1] after interpolation: {e}"),
                }
            })?;
            let right = child_params(&child, ctx, self.depth).map_err(|e| e.at("generators[1]"))?;
            if out.len().saturating_add(right.len()) > MAX_PARAMETER_SETS {
                return Err(GenerateError::TooManyParameterSets(MAX_PARAMETER_SETS));
            }
            for b in &right {
                out.push(combine(a, b)?);
            }
        }
        Ok(out)
    }
}

/// Parameters of a matrix or merge child (its own template is ignored, its selector applies).
pub fn child_params(
    child: &ApplicationSetNestedGenerator,
    ctx: &GenContext,
    depth: usize,
) -> Result<Vec<Params>, GenerateError> {
    let kind = GeneratorKind::of_nested(child)?;
    evaluate(&kind, child.selector.as_ref(), ctx, depth + 1)
}

/// The union of two parameter sets; a key in both with different values is an error.
fn combine(a: &Params, b: &Params) -> Result<Params, GenerateError> {
    let mut out = a.clone();
    for (k, v) in b {
        match a.get(k) {
            Some(existing) if existing != v => {
                return Err(GenerateError::MatrixConflict {
                    key: k.clone(),
                    first: existing.clone(),
                    second: v.clone(),
                });
            }
            Some(_) => {}
            None => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(out)
}
