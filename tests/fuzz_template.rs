//! Property tests (fuzzing in CI) of the template engine: arbitrary strings made of template
//! syntax, helper names, quotes, parentheses, unicode and extreme numbers, rendered with arbitrary
//! parameter sets, never panic; plain substitution, unknown keys and the absence of escaping
//! behave as documented. The cargo-fuzz target `fuzz/fuzz_targets/template.rs` runs the same
//! checks unbounded.

use flotilla::appset::params::Params;
use flotilla::appset::template::{HELPERS, compile, render_str};
use proptest::prelude::*;

/// 256 cases per property (CI); `PROPTEST_CASES=100000` for a longer local run.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Keys used in both texts and parameter sets, so that tags hit present keys often.
const KEYS: &[&str] = &[
    "name",
    "path.basename",
    "path[0]",
    "values.ns",
    "metadata.labels.env",
    "a",
    "x",
    "lower",
    "default",
    "ü",
    "",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "63",
    "-99999999999999999999",
    "99999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "00",
    "1.5",
    "1e3",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(String::from),
        1 => "[a-z.\\[\\]0-9]{1,8}",
    ]
}

/// Values: anything, including template syntax and HTML-special characters.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        "[<>&\"'={}() a-zA-Z]{0,12}",
        Just("{{name}}".to_string()),
        Just(String::new()),
        Just("İSTANBUL ß ǅ".to_string()),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    prop::collection::btree_map(key(), value(), 0..6)
}

/// One piece of template text.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&["{{", "}}", "{", "}", "{{{", "}}}", " ", "  ", "\t", "\n"][..])
            .prop_map(String::from),
        3 => prop::sample::select(HELPERS).prop_map(String::from),
        3 => key(),
        2 => prop::sample::select(&["(", ")", "\"", "'", "\\", "\\\"", "\"\"", "''"][..])
            .prop_map(String::from),
        2 => prop::sample::select(NUMBERS).prop_map(String::from),
        1 => prop::sample::select(&["#if", "/if", "else", "this", "@root", "../x", "~", "!", "&", "<", ">"][..])
            .prop_map(String::from),
        2 => "\\PC{1,4}",
        1 => any::<char>().prop_map(String::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

/// Text in the shape of a helper call: `{{helper args}}` with random (nested) arguments.
fn call_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(HELPERS),
        prop::collection::vec(fragment(), 0..10),
    )
        .prop_map(|(helper, args)| {
            let args: Vec<String> = args
                .into_iter()
                .map(|a| a.replace("{{", "").replace("}}", ""))
                .collect();
            format!("{{{{{helper} {}}}}}", args.join(" "))
        })
}

/// Literal text: no brace at all.
fn literal() -> impl Strategy<Value = String> {
    "[^{}]{0,12}"
}

proptest! {
    #![proptest_config(config())]

    /// compile, render and render_str never panic, and agree with each other.
    #[test]
    fn never_panics(text in prop_oneof![text(), call_text()], params in params()) {
        let compiled = compile(&text);
        let rendered = compiled.as_ref().map_err(Clone::clone).and_then(|c| c.render(&params));
        prop_assert_eq!(render_str(&text, &params), rendered);
        if let Ok(c) = &compiled {
            // A compiled string renders the same way every time.
            prop_assert_eq!(c.render(&params), c.render(&params));
            if c.is_literal() {
                prop_assert_eq!(c.render(&params), Ok(text.clone()));
            }
        }
    }

    /// A string without `{{` is rendered unchanged.
    #[test]
    fn text_without_open_tag_is_unchanged(text in text(), params in params()) {
        let mut text = text;
        while text.contains("{{") {
            text = text.replace("{{", "{ {");
        }
        prop_assert_eq!(render_str(&text, &params), Ok(text.clone()));
        let compiled = compile(&text).unwrap();
        prop_assert!(compiled.is_literal());
        prop_assert_eq!(compiled.render(&params), Ok(text));
    }

    /// `{{key}}` (with any spacing) for a present key gives its value, verbatim: values are
    /// neither rescanned nor escaped.
    #[test]
    fn present_key_gives_its_value(
        params in params(),
        key in key().prop_filter("a key", |k| !k.is_empty()),
        value in value(),
        before in "[ \t]{0,2}",
        after in "[ \t]{0,2}",
        prefix in literal(),
        suffix in literal(),
    ) {
        let mut params = params;
        params.insert(key.clone(), value.clone());
        let text = format!("{prefix}{{{{{before}{key}{after}}}}}{suffix}");
        prop_assert_eq!(render_str(&text, &params), Ok(format!("{prefix}{value}{suffix}")));
    }

    /// With no helper call, tags of unknown keys leave the text byte-for-byte unchanged.
    #[test]
    fn unknown_keys_leave_text_unchanged(text in text(), params in params()) {
        // No helper name anywhere (upper case is not a helper and forms none).
        let mut text = text;
        while let Some(h) = HELPERS.iter().find(|h| text.contains(*h)) {
            text = text.replace(h, &h.to_uppercase());
        }
        // Drop every parameter whose key could be a tag of the text.
        let params: Params = params
            .into_iter()
            .filter(|(k, _)| !text.contains(k.as_str()))
            .collect();
        prop_assert_eq!(render_str(&text, &params), Ok(text.clone()));
    }

    /// Helpers write their result as it is: no HTML escaping, no rescanning.
    #[test]
    fn helper_output_is_never_escaped(value in value(), fallback in "[<>&\"=a-z]{0,6}") {
        let mut params = Params::new();
        params.insert("v".into(), value.clone());
        let r = |t: &str| render_str(t, &params).unwrap();
        prop_assert_eq!(r("{{v}}"), value.clone());
        prop_assert_eq!(r("{{lower v}}"), value.to_lowercase());
        prop_assert_eq!(r("{{upper v}}"), value.to_uppercase());
        prop_assert_eq!(r("{{trim v}}"), value.trim().to_string());
        prop_assert_eq!(r("{{trunc 1000 v}}"), value.clone());
        prop_assert_eq!(r("{{replace \"<\" \"&lt;\" v}}"), value.replace('<', "&lt;"));
        let quoted = serde_json::to_string(&fallback).unwrap();
        let expected = if value.is_empty() { fallback.clone() } else { value.clone() };
        prop_assert_eq!(r(&format!("{{{{default {quoted} v}}}}")), expected);
        prop_assert_eq!(r(&format!("{{{{lower {quoted}}}}}")), fallback.to_lowercase());
    }

    /// `trunc` with any number: an error or a prefix/suffix of the value, never a panic.
    #[test]
    fn trunc_never_panics(
        n in prop_oneof![
            prop::sample::select(NUMBERS).prop_map(String::from),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<i128>().prop_map(|n| n.to_string()),
            "-?[0-9]{1,40}",
        ],
        value in value(),
    ) {
        let mut params = Params::new();
        params.insert("v".into(), value.clone());
        let text = format!("{{{{trunc {n} v}}}}");
        // Not a number for the template (`1.5`, `1e3`): a parameter key, unknown, so the tag is
        // left as it is.
        let is_number = n.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit());
        let out = render_str(&text, &params);
        if !is_number {
            prop_assert_eq!(out, Ok(text));
        } else if let Ok(out) = out {
            prop_assert!(value.starts_with(&out) || value.ends_with(&out), "{out:?} of {value:?}");
            if let Ok(n) = n.parse::<i64>() {
                let len = value.chars().count() as i128;
                let kept = (n as i128).abs().min(len);
                prop_assert_eq!(out.chars().count() as i128, kept);
            }
        }
    }

    /// Nested helper calls of any depth: a result or an error, never a stack overflow.
    #[test]
    fn nesting_never_overflows(depth in 0usize..80, helper in prop::sample::select(&["lower", "trim", "normalize", "upper"][..])) {
        let mut params = Params::new();
        params.insert("v".into(), "Ab C".into());
        let text = format!("{{{{{helper} {}v{}}}}}", format!("({helper} ").repeat(depth), ")".repeat(depth));
        let out = render_str(&text, &params);
        prop_assert_eq!(out.is_ok(), depth < flotilla::appset::template::MAX_CALL_DEPTH);
    }
}
