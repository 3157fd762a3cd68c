//! Template engine: the input is a template text and a parameter set. Compiling and rendering
//! never panic, `render_str` agrees with `compile` + `render`, a text without `{{` renders
//! unchanged, and a text without helper names whose keys are all unknown renders unchanged.
//!
//! Input layout: `text \0 key=value \0 key=value ...` (a missing `=` makes a key with an empty
//! value), so the fuzzer controls both sides.

#![no_main]

use flotilla::appset::params::Params;
use flotilla::appset::template::{HELPERS, compile, render_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = input.split('\0');
    let text = parts.next().unwrap_or_default();
    let params: Params = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();

    let rendered = render_str(text, &params);
    let compiled = compile(text);
    let via_compile = compiled
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|c| c.render(&params));
    assert_eq!(
        rendered, via_compile,
        "render_str and compile+render disagree"
    );
    if let Err(e) = &rendered {
        let _ = e.to_string();
    }

    if !text.contains("{{") {
        assert_eq!(rendered.as_deref(), Ok(text), "text without tags changed");
    }
    // No helper call possible and no parameter key inside the text: nothing may change.
    if !HELPERS.iter().any(|h| text.contains(h)) && !params.keys().any(|k| text.contains(k.trim()))
    {
        assert_eq!(
            rendered.as_deref(),
            Ok(text),
            "unknown keys changed the text"
        );
    }
});
