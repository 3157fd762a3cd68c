//! Templates, compatible with Argo CD's default (fasttemplate) mode and extended with a few
//! handlebars helpers.
//!
//! A string is scanned as fasttemplate does: text up to `{{`, a tag up to the next `}}`. A tag
//! whose trimmed content is a parameter key is replaced by the value; an unknown key leaves the
//! tag text untouched, spacing included (`{{ nope }}` stays `{{ nope }}`), exactly as in Argo CD.
//! A tag that starts with one of the [`HELPERS`] followed by arguments (`{{lower name}}`,
//! `{{trunc 20 (normalize path.basename)}}`) is evaluated by handlebars with that helper.
//! Nothing is ever HTML-escaped. Each string is compiled once and rendered per parameter set.

use std::sync::LazyLock;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError,
    RenderErrorReason, Renderable, StringOutput, Template,
};
use serde_json::{Map, Value};
use thiserror::Error;

use super::params::{Params, normalize};

/// The helpers available beyond Argo CD's default mode, with Sprig's argument order:
/// `lower s`, `upper s`, `trim s`, `normalize s`, `trunc n s` (negative `n` keeps the end),
/// `default fallback s` (fallback when `s` is missing or empty), `replace old new s`.
pub const HELPERS: &[&str] = &[
    "lower",
    "upper",
    "trim",
    "normalize",
    "trunc",
    "default",
    "replace",
];

/// A template error: what is wrong and in which template text.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TemplateError {
    #[error("template {text:?}: {reason}")]
    Compile { text: String, reason: String },
    #[error("template {text:?}: {reason}")]
    Render { text: String, reason: String },
}

/// A compiled template string.
#[derive(Debug, Clone)]
pub struct CompiledString {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    /// A plain tag: `key` is the trimmed content, `raw` the whole tag as written.
    Param {
        key: String,
        raw: String,
    },
    /// A helper call, rendered by handlebars with arguments bound as `a0`, `a1`, ...
    Helper(Box<HelperCall>),
}

#[derive(Debug, Clone)]
struct HelperCall {
    raw: String,
    template: Template,
    /// Parameter keys bound to `a0`, `a1`, ...
    args: Vec<String>,
    /// For each argument: may it be missing (it is a direct argument of `default`)?
    optional: Vec<bool>,
}

impl CompiledString {
    /// True when the string has no tag at all (rendering returns it unchanged).
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// Renders with one parameter set.
    pub fn render(&self, params: &Params) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Param { key, raw } => match params.get(key) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(raw),
                },
                Part::Helper(call) => call.render(params, &mut out)?,
            }
        }
        Ok(out)
    }
}

impl HelperCall {
    fn render(&self, params: &Params, out: &mut String) -> Result<(), TemplateError> {
        let mut data = Map::new();
        for (i, (key, optional)) in self.args.iter().zip(&self.optional).enumerate() {
            match params.get(key) {
                Some(v) => {
                    data.insert(format!("a{i}"), Value::String(v.clone()));
                }
                // As with a plain tag, an unknown parameter leaves the tag untouched, unless it
                // is the subject of `default`, which exists for exactly that case.
                None if !optional => {
                    out.push_str(&self.raw);
                    return Ok(());
                }
                None => {}
            }
        }
        let ctx = Context::wraps(Value::Object(data)).map_err(|e| self.error(e))?;
        let mut rc = RenderContext::new(None);
        let mut output = StringOutput::new();
        self.template
            .render(&ENGINE, &ctx, &mut rc, &mut output)
            .map_err(|e| self.error(e))?;
        out.push_str(&output.into_string().map_err(|e| TemplateError::Render {
            text: self.raw.clone(),
            reason: e.to_string(),
        })?);
        Ok(())
    }

    fn error(&self, e: RenderError) -> TemplateError {
        let reason = match e.reason() {
            RenderErrorReason::Other(msg) => msg.clone(),
            other => other.to_string(),
        };
        TemplateError::Render {
            text: self.raw.clone(),
            reason,
        }
    }
}

/// Compiles one template string.
pub fn compile(text: &str) -> Result<CompiledString, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Literal(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            // No end tag: fasttemplate writes the rest as it is.
            parts.push(Part::Literal(rest[start..].to_string()));
            rest = "";
            break;
        };
        let tag = &after[..end];
        let raw = format!("{{{{{tag}}}}}");
        parts.push(compile_tag(tag, raw, text)?);
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(CompiledString { parts })
}

/// Compiles and renders in one step (for strings rendered once).
pub fn render_str(text: &str, params: &Params) -> Result<String, TemplateError> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    compile(text)?.render(params)
}

fn compile_tag(tag: &str, raw: String, text: &str) -> Result<Part, TemplateError> {
    let trimmed = tag.trim();
    let head = trimmed
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let is_call = HELPERS.contains(&head) && trimmed.len() > head.len();
    if !is_call {
        return Ok(Part::Param {
            key: trimmed.to_string(),
            raw,
        });
    }
    let compile_error = |reason: String| TemplateError::Compile {
        text: text.to_string(),
        reason,
    };
    let tokens = tokenize(trimmed).map_err(compile_error)?;
    let mut call = Rewriter::default();
    let expression = call.rewrite(&tokens).map_err(compile_error)?;
    let template = Template::compile(&format!("{{{{{expression}}}}}"))
        .map_err(|e| compile_error(e.reason().to_string()))?;
    Ok(Part::Helper(Box::new(HelperCall {
        raw,
        template,
        args: call.args,
        optional: call.optional,
    })))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Str(String),
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                toks.push(Tok::Open);
            }
            ')' => {
                chars.next();
                toks.push(Tok::Close);
            }
            '"' | '\'' => {
                chars.next();
                let mut lit = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => lit.push(chars.next().ok_or("unterminated string literal")?),
                        Some(q) if q == c => break,
                        Some(other) => lit.push(other),
                    }
                }
                toks.push(Tok::Str(lit));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '"' || c == '\'' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                toks.push(Tok::Word(word));
            }
        }
    }
    Ok(toks)
}

/// How deep helper calls may nest (`{{lower (trim (lower x))}}` nests 3 deep). Parsing and
/// rendering recurse once per level, so an unbounded depth could overflow the stack; real
/// templates nest a handful of levels.
pub const MAX_CALL_DEPTH: usize = 32;

/// Rewrites a helper call into a handlebars expression: helper names stay, literals are quoted,
/// every parameter reference becomes `aN`.
#[derive(Default)]
struct Rewriter {
    args: Vec<String>,
    optional: Vec<bool>,
}

impl Rewriter {
    fn rewrite(&mut self, toks: &[Tok]) -> Result<String, String> {
        let (expr, used) = self.call(toks, 0, 1)?;
        if used != toks.len() {
            return Err("unexpected ')'".into());
        }
        Ok(expr)
    }

    /// Parses `helper arg*` starting at `pos`, up to a `)` or the end; returns the expression and
    /// the position after it. `depth` counts this call and the calls enclosing it.
    fn call(
        &mut self,
        toks: &[Tok],
        mut pos: usize,
        depth: usize,
    ) -> Result<(String, usize), String> {
        if depth > MAX_CALL_DEPTH {
            return Err(format!(
                "helper calls nest deeper than {MAX_CALL_DEPTH} levels"
            ));
        }
        let helper = match toks.get(pos) {
            Some(Tok::Word(w)) if HELPERS.contains(&w.as_str()) => w.clone(),
            Some(Tok::Word(w)) => {
                return Err(format!(
                    "unknown helper {w:?} (helpers: {})",
                    HELPERS.join(", ")
                ));
            }
            _ => return Err("expected a helper name".into()),
        };
        pos += 1;
        let mut expr = helper.clone();
        let mut argc = 0;
        while let Some(tok) = toks.get(pos) {
            let arg = match tok {
                Tok::Close => break,
                Tok::Open => {
                    let (inner, next) = self.call(toks, pos + 1, depth + 1)?;
                    if toks.get(next) != Some(&Tok::Close) {
                        return Err("unbalanced '('".into());
                    }
                    pos = next;
                    format!("({inner})")
                }
                Tok::Str(s) => serde_json::to_string(s).map_err(|e| e.to_string())?,
                Tok::Word(w) if is_number(w) => w.clone(),
                Tok::Word(w) => {
                    self.args.push(w.clone());
                    self.optional.push(helper == "default" && argc == 1);
                    format!("a{}", self.args.len() - 1)
                }
            };
            expr.push(' ');
            expr.push_str(&arg);
            argc += 1;
            pos += 1;
        }
        let expected = match helper.as_str() {
            "trunc" | "default" => 2,
            "replace" => 3,
            _ => 1,
        };
        if argc != expected {
            return Err(format!("{helper} takes {expected} argument(s), got {argc}"));
        }
        Ok((expr, pos))
    }
}

fn is_number(w: &str) -> bool {
    let digits = w.strip_prefix('-').unwrap_or(w);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

static ENGINE: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("lower", Box::new(string_helper(|s| s.to_lowercase())));
    hb.register_helper("upper", Box::new(string_helper(|s| s.to_uppercase())));
    hb.register_helper("trim", Box::new(string_helper(|s| s.trim().to_string())));
    hb.register_helper("normalize", Box::new(string_helper(normalize)));
    hb.register_helper("trunc", Box::new(trunc_helper));
    hb.register_helper("default", Box::new(default_helper));
    hb.register_helper("replace", Box::new(replace_helper));
    hb
});

fn string_helper(
    f: impl Fn(&str) -> String + Send + Sync,
) -> impl Fn(&Helper, &Handlebars, &Context, &mut RenderContext, &mut dyn Output) -> HelperResult
+ Send
+ Sync {
    move |h, _, _, _, out| {
        let s = string_arg(h, 0)?;
        out.write(&f(&s))?;
        Ok(())
    }
}

fn string_arg(h: &Helper, i: usize) -> Result<String, RenderError> {
    match h.param(i).map(|p| p.value()) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(RenderErrorReason::Other(format!(
            "{}: argument {} must be a string",
            h.name(),
            i + 1
        ))
        .into()),
    }
}

fn trunc_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let n = h.param(0).and_then(|p| integer(p.value())).ok_or_else(|| {
        RenderErrorReason::Other("trunc: the first argument must be an integer".into())
    })?;
    let s = string_arg(h, 1)?;
    let chars: Vec<char> = s.chars().collect();
    let len = chars.len() as i64;
    let kept: String = if n >= 0 {
        chars[..n.min(len) as usize].iter().collect()
    } else {
        chars[(len + n).max(0) as usize..].iter().collect()
    };
    out.write(&kept)?;
    Ok(())
}

/// An integer argument that fits an `i64`, as Go's `int` takes it. Handlebars reads `-0` as a
/// float (`-0.0`), so an integral float within range counts too; anything larger is an error,
/// as it is in Go.
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9_223_372_036_854_775_808.0)
            .map(|f| f as i64)
    })
}

fn default_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let fallback = string_arg(h, 0)?;
    let value = match h.param(1).map(|p| p.value()) {
        None | Some(Value::Null) => String::new(),
        Some(_) => string_arg(h, 1)?,
    };
    out.write(if value.is_empty() { &fallback } else { &value })?;
    Ok(())
}

fn replace_helper(
    h: &Helper,
    _: &Handlebars,
    _: &Context,
    _: &mut RenderContext,
    out: &mut dyn Output,
) -> HelperResult {
    let (old, new, s) = (string_arg(h, 0)?, string_arg(h, 1)?, string_arg(h, 2)?);
    let replaced = if old.is_empty() {
        s
    } else {
        s.replace(&old, &new)
    };
    out.write(&replaced)?;
    Ok(())
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
