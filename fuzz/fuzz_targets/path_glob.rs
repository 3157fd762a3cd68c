//! Path globs: the first line is the pattern, every further line a path. Compiling and matching
//! never panic and stay fast (a slow input shows up as a libFuzzer timeout); a pattern without
//! any special character matches exactly itself (after a leading `./`).

#![no_main]

use flotilla::appset::path_glob::PathGlob;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = input.split('\n');
    let pattern = lines.next().unwrap_or_default();
    let paths: Vec<&str> = lines.collect();
    for double_star in [false, true] {
        let Ok(glob) = PathGlob::new(pattern, double_star) else {
            continue;
        };
        for path in &paths {
            let matched = glob.matches(path);
            let literal = pattern.trim_start_matches("./");
            if !literal.contains(['*', '?', '[', '\\']) {
                assert_eq!(matched, literal == *path, "{pattern:?} against {path:?}");
            }
        }
    }
});
