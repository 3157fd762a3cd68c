//! Cases from Argo CD's documented default-mode behaviour (reference §3) and the helpers.

use super::*;

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn r(text: &str, p: &Params) -> String {
    render_str(text, p).unwrap()
}

#[test]
fn plain_keys_substitute_with_or_without_spaces() {
    let p = params(&[
        ("name", "dev"),
        ("metadata.labels.env", "prod"),
        ("path[0]", "apps"),
        ("a.b.c", "x"),
    ]);
    assert_eq!(r("{{name}}-app", &p), "dev-app");
    assert_eq!(r("{{ name }}-app", &p), "dev-app");
    assert_eq!(r("{{metadata.labels.env}}", &p), "prod");
    assert_eq!(r("{{path[0]}}/{{a.b.c}}", &p), "apps/x");
    assert_eq!(r("no tags here", &p), "no tags here");
}

#[test]
fn unknown_params_are_left_untouched_spacing_included() {
    let p = params(&[("name", "dev")]);
    assert_eq!(r("{{nope}}", &p), "{{nope}}");
    assert_eq!(r("a-{{  nope }}-{{name}}", &p), "a-{{  nope }}-dev");
    assert_eq!(r("{{}}", &p), "{{}}");
    assert_eq!(r("{{ }}", &p), "{{ }}");
    assert_eq!(r("{{#if name}}x{{/if}}", &p), "{{#if name}}x{{/if}}");
    assert_eq!(r("{{{name}}}", &p), "{{{name}}}");
}

#[test]
fn missing_end_tag_is_literal() {
    let p = params(&[("name", "dev")]);
    assert_eq!(r("{{name}}-{{name", &p), "dev-{{name");
    assert_eq!(r("}}{{name}}", &p), "}}dev");
}

#[test]
fn nothing_is_html_escaped() {
    let p = params(&[("v", "<a href=\"x\">&'</a>")]);
    assert_eq!(r("{{v}}", &p), "<a href=\"x\">&'</a>");
    assert_eq!(r("{{upper v}}", &p), "<A HREF=\"X\">&'</A>");
}

#[test]
fn values_are_not_rescanned() {
    let p = params(&[("a", "{{b}}"), ("b", "x")]);
    assert_eq!(r("{{a}}", &p), "{{b}}");
}

#[test]
fn helpers() {
    let p = params(&[
        ("name", "Prod_EU"),
        ("path.basename", "Guest Book"),
        ("empty", ""),
    ]);
    assert_eq!(r("{{lower name}}", &p), "prod_eu");
    assert_eq!(r("{{upper name}}", &p), "PROD_EU");
    assert_eq!(r("{{normalize name}}", &p), "prod-eu");
    assert_eq!(r("{{trunc 4 name}}", &p), "Prod");
    assert_eq!(r("{{trunc -2 name}}", &p), "EU");
    assert_eq!(r("{{trunc 99 name}}", &p), "Prod_EU");
    assert_eq!(r("{{replace \"_\" \"-\" name}}", &p), "Prod-EU");
    assert_eq!(r("{{replace '_' '' name}}", &p), "ProdEU");
    assert_eq!(r("{{default \"dev\" env}}", &p), "dev");
    assert_eq!(r("{{default \"dev\" empty}}", &p), "dev");
    assert_eq!(r("{{default \"dev\" name}}", &p), "Prod_EU");
    assert_eq!(r("{{trunc 6 (normalize path.basename)}}", &p), "guest-");
    assert_eq!(r("{{ lower  name }}", &p), "prod_eu");
    assert_eq!(r("{{trim \"  x \"}}", &p), "x");
}

#[test]
fn helper_with_unknown_param_is_left_untouched() {
    let p = params(&[("name", "x")]);
    assert_eq!(r("{{lower nope}}", &p), "{{lower nope}}");
    assert_eq!(r("{{lower (default \"d\" nope)}}", &p), "d");
}

#[test]
fn a_param_named_like_a_helper_still_works() {
    let p = params(&[("lower", "v"), ("default", "w")]);
    assert_eq!(r("{{lower}}", &p), "v");
    assert_eq!(r("{{ default }}", &p), "w");
}

#[test]
fn broken_helper_calls_are_errors() {
    let p = params(&[("name", "x")]);
    for bad in [
        "{{lower}}x{{lower (name}}",
        "{{trunc name}}",
        "{{trunc 1 2 name}}",
        "{{lower \"unterminated}}",
        "{{lower (bogus name)}}",
        "{{replace a b}}",
        "{{lower name)}}",
    ] {
        assert!(render_str(bad, &p).is_err(), "{bad} should be an error");
    }
    let err = render_str("{{trunc \"x\" name}}", &p).unwrap_err();
    assert!(err.to_string().contains("integer"), "{err}");
}

#[test]
fn compiled_strings_render_many_param_sets() {
    let t = compile("{{name}}-{{lower env}}").unwrap();
    assert!(!t.is_literal());
    assert_eq!(
        t.render(&params(&[("name", "a"), ("env", "DEV")])).unwrap(),
        "a-dev"
    );
    assert_eq!(
        t.render(&params(&[("name", "b"), ("env", "PROD")]))
            .unwrap(),
        "b-prod"
    );
    assert!(compile("plain").unwrap().is_literal());
}

/// Regression (fuzzing): every nesting level recursed in the rewriter, the handlebars parser and
/// the renderer, so a few hundred nested calls overflowed a 2 MiB thread stack.
#[test]
fn deeply_nested_calls_are_errors_not_stack_overflows() {
    let p = params(&[("name", "X")]);
    let nested = |depth: usize| {
        format!(
            "{{{{lower {}name{}}}}}",
            "(lower ".repeat(depth),
            ")".repeat(depth)
        )
    };
    assert_eq!(r(&nested(MAX_CALL_DEPTH - 1), &p), "x");
    let err = render_str(&nested(MAX_CALL_DEPTH), &p).unwrap_err();
    assert!(err.to_string().contains("nest deeper"), "{err}");
    // Deep enough to overflow any stack if it were recursed into.
    let builder = std::thread::Builder::new().stack_size(256 * 1024);
    let handle = builder
        .spawn(move || render_str(&nested(200_000), &params(&[("name", "X")])).is_err())
        .unwrap();
    assert!(handle.join().unwrap());
    // Unbalanced opening parentheses only: rejected, not recursed.
    assert!(render_str(&format!("{{{{lower {}}}}}", "(".repeat(100_000)), &p).is_err());
}

/// Regression (fuzzing): `-0` is the integer 0 for Go, but handlebars reads it as a float and
/// `trunc` rejected it. Integers beyond 64 bits stay errors (as in Go); none may panic.
#[test]
fn trunc_with_extreme_numbers() {
    let p = params(&[("name", "Prod_EU")]);
    assert_eq!(r("{{trunc -0 name}}", &p), "");
    assert_eq!(r("{{trunc 9223372036854775807 name}}", &p), "Prod_EU");
    assert_eq!(r("{{trunc -9223372036854775808 name}}", &p), "Prod_EU");
    assert_eq!(r("{{trunc -7 name}}", &p), "Prod_EU");
    assert_eq!(r("{{trunc -8 name}}", &p), "Prod_EU");
    for n in [
        "9223372036854775808",
        "-9223372036854775809",
        "18446744073709551616",
        "-99999999999999999999",
        "99999999999999999999999999999999999999999",
    ] {
        let err = render_str(&format!("{{{{trunc {n} name}}}}"), &p).unwrap_err();
        assert!(err.to_string().contains("integer"), "{n}: {err}");
    }
}
