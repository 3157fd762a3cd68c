//! Glob matching of repository paths, segment by segment: `*` and `?` never cross `/` (Go's
//! `path.Match`, used by Argo CD's git directory generator); optionally `**` as a whole segment
//! matches any number of segments (Argo CD's new git-file globbing).

use thiserror::Error;

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

#[derive(Debug, Clone)]
enum Token {
    Literal(char),
    AnyChar,
    AnyRun,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
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

fn match_segments(pattern: &[Segment], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((Segment::AnyDepth, rest)) => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((Segment::Pattern(tokens), rest)) => match path.split_first() {
            Some((first, path_rest)) => {
                let chars: Vec<char> = first.chars().collect();
                match_tokens(tokens, &chars) && match_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

fn match_tokens(tokens: &[Token], text: &[char]) -> bool {
    match tokens.split_first() {
        None => text.is_empty(),
        Some((Token::AnyRun, rest)) => {
            (0..=text.len()).any(|skip| match_tokens(rest, &text[skip..]))
        }
        Some((token, rest)) => match text.split_first() {
            Some((c, text_rest)) => token_matches(token, *c) && match_tokens(rest, text_rest),
            None => false,
        },
    }
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyChar => true,
        Token::AnyRun => true,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
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

    #[test]
    fn bad_patterns_are_errors() {
        assert!(PathGlob::new("apps/[a-", false).is_err());
        assert!(PathGlob::new("apps/[]", false).is_err());
        assert!(PathGlob::new("apps/\\", false).is_err());
        assert!(PathGlob::new("[z-a]", false).is_err());
    }
}
