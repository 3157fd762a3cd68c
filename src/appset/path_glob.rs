//! Glob matching of repository paths, segment by segment: `*` and `?` never cross `/` (Go's
//! `path.Match`, used by Argo CD's git directory generator); optionally `**` as a whole segment
//! matches any number of segments (Argo CD's new git-file globbing).

use thiserror::Error;

use crate::wildcard::{self, Token};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("invalid glob pattern {pattern:?}: {reason}")]
pub struct GlobError {
    pub pattern: String,
    pub reason: &'static str,
}

/// A compiled path pattern.
#[derive(Debug, Clone)]
pub struct PathGlob {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
enum Segment {
    AnyDepth,
    Pattern(Vec<Token>),
}

impl PathGlob {
    /// Compiles `pattern`. With `double_star`, a `**` segment matches zero or more segments;
    /// without, `**` is two `*` (as in Go's `path.Match`).
    pub fn new(pattern: &str, double_star: bool) -> Result<Self, GlobError> {
        let pattern_trimmed = pattern.trim_start_matches("./");
        let segments = pattern_trimmed
            .split('/')
            .map(|seg| {
                if double_star && seg == "**" {
                    Ok(Segment::AnyDepth)
                } else {
                    compile_segment(seg)
                        .map(Segment::Pattern)
                        .map_err(|reason| GlobError {
                            pattern: pattern.to_string(),
                            reason,
                        })
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(PathGlob { segments })
    }

    /// Whether the relative `/`-separated `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        match_segments(&self.segments, &parts)
    }
}

/// Whether `path` (split at `/`) matches the segments. `**` segments are wildcards over whole
/// segments and every other segment matches exactly one path segment, so the classic iterative
/// wildcard algorithm applies: on a mismatch, resume after the most recent `**` with one more
/// segment consumed by it. Each (pattern segment, path segment) pair is tried at most once per
/// resumption point: O(pattern × path) segment matches instead of exponential backtracking.
fn match_segments(pattern: &[Segment], path: &[&str]) -> bool {
    let (mut p, mut s) = (0, 0);
    // After the last `**` seen: the pattern index following it and the path index it resumes at.
    let mut resume: Option<(usize, usize)> = None;
    while s < path.len() {
        match pattern.get(p) {
            Some(Segment::AnyDepth) => {
                resume = Some((p + 1, s));
                p += 1;
            }
            Some(Segment::Pattern(tokens)) if match_segment(tokens, path[s]) => {
                p += 1;
                s += 1;
            }
            _ => match resume {
                Some((after, from)) => {
                    p = after;
                    s = from + 1;
                    resume = Some((after, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..]
        .iter()
        .all(|seg| matches!(seg, Segment::AnyDepth))
}

fn match_segment(tokens: &[Token], segment: &str) -> bool {
    let chars: Vec<char> = segment.chars().collect();
    wildcard::matches(tokens, &chars)
}

fn compile_segment(seg: &str) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut chars = seg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                if !matches!(tokens.last(), Some(Token::AnyRun)) {
                    tokens.push(Token::AnyRun);
                }
            }
            '?' => tokens.push(Token::AnyChar),
            '\\' => tokens.push(Token::Literal(chars.next().ok_or("trailing backslash")?)),
            '[' => {
                let negated = chars.next_if(|&c| c == '^').is_some();
                let mut ranges = Vec::new();
                loop {
                    let lo = match chars.next() {
                        None => return Err("unterminated character class"),
                        Some(']') if !ranges.is_empty() => break,
                        Some(']') => return Err("empty character class"),
                        Some('\\') => chars.next().ok_or("trailing backslash")?,
                        Some(c) => c,
                    };
                    let hi = if chars.next_if(|&c| c == '-').is_some() {
                        match chars.next() {
                            None | Some(']') => return Err("unterminated character range"),
                            Some('\\') => chars.next().ok_or("trailing backslash")?,
                            Some(c) => c,
                        }
                    } else {
                        lo
                    };
                    if hi < lo {
                        return Err("character range out of order");
                    }
                    ranges.push((lo, hi));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => tokens.push(Token::Literal(c)),
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, path: &str) -> bool {
        PathGlob::new(p, false).unwrap().matches(path)
    }
    fn d(p: &str, path: &str) -> bool {
        PathGlob::new(p, true).unwrap().matches(path)
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(m("apps/*", "apps/guestbook"));
        assert!(!m("apps/*", "apps/guestbook/overlays"));
        assert!(!m("apps/*", "apps"));
        assert!(m("*", "apps"));
        assert!(m("apps/*/overlays/*", "apps/a/overlays/dev"));
        assert!(m("apps/gu?st*", "apps/guestbook"));
        assert!(m("apps/[a-c]*", "apps/b1"));
        assert!(!m("apps/[^a-c]*", "apps/b1"));
        assert!(m("apps/\\*", "apps/*"));
        assert!(
            !m("apps/**", "apps/a/b"),
            "without double_star ** is two stars"
        );
        assert!(m("./apps/*", "apps/x"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(d("apps/**/config.json", "apps/config.json"));
        assert!(d("apps/**/config.json", "apps/a/b/config.json"));
        assert!(!d("apps/**/config.json", "other/a/config.json"));
        assert!(d("**", "a/b/c"));
        assert!(d("apps/*.yaml", "apps/x.yaml"));
        assert!(!d("apps/*.yaml", "apps/sub/x.yaml"));
    }

    /// The backtracking matcher this module used before: the reference for the linear one.
    fn naive_segments(pattern: &[Segment], path: &[&str]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((Segment::AnyDepth, rest)) => {
                (0..=path.len()).any(|skip| naive_segments(rest, &path[skip..]))
            }
            Some((Segment::Pattern(tokens), rest)) => match path.split_first() {
                Some((first, path_rest)) => {
                    let chars: Vec<char> = first.chars().collect();
                    naive_tokens(tokens, &chars) && naive_segments(rest, path_rest)
                }
                None => false,
            },
        }
    }

    fn naive_tokens(tokens: &[Token], text: &[char]) -> bool {
        match tokens.split_first() {
            None => text.is_empty(),
            Some((Token::AnyRun, rest)) => {
                (0..=text.len()).any(|skip| naive_tokens(rest, &text[skip..]))
            }
            Some((token, rest)) => match text.split_first() {
                Some((c, text_rest)) => {
                    wildcard::matches(std::slice::from_ref(token), &[*c])
                        && naive_tokens(rest, text_rest)
                }
                None => false,
            },
        }
    }

    /// Every string of length `0..=max_len` over `alphabet`.
    fn strings(alphabet: &[&str], max_len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max_len {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |a| format!("{s}{a}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    /// Regression (fuzzing): matching backtracked exponentially, so `*a*a*a*…*b` against a long
    /// name (or `**/**/…` against a deep path) took minutes. Both levels are now linear-time
    /// wildcard matching; this checks they agree with the old matcher on every small case.
    #[test]
    fn linear_matching_agrees_with_backtracking() {
        let patterns = strings(&["*", "a", "?", "/", "**", "[ab]"], 4);
        let paths = strings(&["a", "b", "/"], 5);
        for double_star in [false, true] {
            for p in &patterns {
                let glob = PathGlob::new(p, double_star).unwrap();
                for path in &paths {
                    let parts: Vec<&str> = path.split('/').collect();
                    assert_eq!(
                        glob.matches(path),
                        naive_segments(&glob.segments, &parts),
                        "pattern {p:?} (double_star: {double_star}) against {path:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        let start = std::time::Instant::now();
        let name = "a".repeat(10_000);
        let many_stars = format!("{}b", "*a".repeat(100));
        assert!(!m(&many_stars, &name));
        assert!(m(&format!("{}*", "*a".repeat(100)), &name));
        assert!(!m(&format!("{}?b", "*?".repeat(50)), &name));
        let deep = vec!["a"; 2_000].join("/");
        assert!(!d(&format!("{}b", "**/".repeat(100)), &deep));
        assert!(!d(&format!("{}**/b", "**/a/".repeat(50)), &deep));
        assert!(d(&format!("{}**", "**/a/".repeat(50)), &deep));
        assert!(!d(&format!("{}b", "*/".repeat(2_000)), &deep));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(PathGlob::new("apps/[a-", false).is_err());
        assert!(PathGlob::new("apps/[]", false).is_err());
        assert!(PathGlob::new("apps/\\", false).is_err());
        assert!(PathGlob::new("[z-a]", false).is_err());
    }
}
