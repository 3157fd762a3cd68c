//! The globs of `directory.include` / `directory.exclude`, with Argo CD's semantics: Argo CD
//! matches the path relative to the application directory with `github.com/gobwas/glob` and no
//! separators, so `*` (and `**`) match any run of characters *including* `/`, `?` one
//! character, `[abc]` / `[!a-z]` a class, `{a,b}` any of the alternatives (which may nest and
//! hold wildcards), `\` escapes.
//!
//! Alternatives are expanded into flat patterns, each matched by the linear wildcard algorithm.

use crate::wildcard::{self, Token};

/// A compiled include/exclude pattern.
#[derive(Debug, Clone)]
pub struct FileGlob {
    alternatives: Vec<Vec<Token>>,
}

/// At most this many flat patterns after expanding `{…}`.
const MAX_ALTERNATIVES: usize = 256;

impl FileGlob {
    pub fn new(pattern: &str) -> Result<Self, &'static str> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut pos = 0;
        let alternatives = parse_sequence(&chars, &mut pos, false)?;
        if pos != chars.len() {
            return Err("unmatched '}'");
        }
        Ok(FileGlob { alternatives })
    }

    pub fn matches(&self, path: &str) -> bool {
        let text: Vec<char> = path.chars().collect();
        self.alternatives
            .iter()
            .any(|tokens| wildcard::matches(tokens, &text))
    }
}

/// Parses until the end, or (inside braces) until an unconsumed `,` or `}`; returns every flat
/// expansion of what it read.
fn parse_sequence(
    chars: &[char],
    pos: &mut usize,
    in_braces: bool,
) -> Result<Vec<Vec<Token>>, &'static str> {
    let mut expansions: Vec<Vec<Token>> = vec![Vec::new()];
    while let Some(&c) = chars.get(*pos) {
        let piece: Vec<Vec<Token>> = match c {
            ',' | '}' if in_braces => break,
            '}' => return Err("unmatched '}'"),
            '{' => {
                *pos += 1;
                let mut alternatives = Vec::new();
                loop {
                    alternatives.extend(parse_sequence(chars, pos, true)?);
                    match chars.get(*pos) {
                        Some(',') => *pos += 1,
                        Some('}') => {
                            *pos += 1;
                            break;
                        }
                        _ => return Err("unterminated '{'"),
                    }
                }
                alternatives
            }
            '*' => {
                *pos += 1;
                vec![vec![Token::AnyRun]]
            }
            '?' => {
                *pos += 1;
                vec![vec![Token::AnyChar]]
            }
            '\\' => {
                let escaped = *chars.get(*pos + 1).ok_or("trailing backslash")?;
                *pos += 2;
                vec![vec![Token::Literal(escaped)]]
            }
            '[' => vec![vec![parse_class(chars, pos)?]],
            c => {
                *pos += 1;
                vec![vec![Token::Literal(c)]]
            }
        };
        if expansions.len() * piece.len() > MAX_ALTERNATIVES {
            return Err("too many {…} alternatives");
        }
        expansions = expansions
            .iter()
            .flat_map(|prefix| {
                piece.iter().map(move |p| {
                    let mut joined = prefix.clone();
                    for token in p {
                        if !(*token == Token::AnyRun && joined.last() == Some(&Token::AnyRun)) {
                            joined.push(token.clone());
                        }
                    }
                    joined
                })
            })
            .collect();
    }
    Ok(expansions)
}

/// `[abc]`, `[a-z]`, `[!a-z]` (gobwas also accepts `^` for negation).
fn parse_class(chars: &[char], pos: &mut usize) -> Result<Token, &'static str> {
    *pos += 1;
    let negated = matches!(chars.get(*pos), Some('!' | '^'));
    if negated {
        *pos += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let lo = match chars.get(*pos) {
            None => return Err("unterminated character class"),
            Some(']') if !ranges.is_empty() => {
                *pos += 1;
                break;
            }
            Some(']') => return Err("empty character class"),
            Some('\\') => {
                *pos += 1;
                *chars.get(*pos).ok_or("trailing backslash")?
            }
            Some(&c) => c,
        };
        *pos += 1;
        let hi = if chars.get(*pos) == Some(&'-') && chars.get(*pos + 1).is_some_and(|c| *c != ']')
        {
            *pos += 2;
            chars[*pos - 1]
        } else {
            lo
        };
        if hi < lo {
            return Err("character range out of order");
        }
        ranges.push((lo, hi));
    }
    Ok(Token::Class { negated, ranges })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        FileGlob::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn star_crosses_slashes_like_argo_cd() {
        assert!(m("*.yaml", "deploy.yaml"));
        assert!(m("*.yaml", "sub/deploy.yaml"));
        assert!(!m("*.yaml", "deploy.yml"));
        assert!(m("some-directory/*", "some-directory/a/b.yaml"));
        assert!(!m("some-directory/*", "other/a.yaml"));
        assert!(m("**/*.json", "a/b/c.json"));
        assert!(m("config.json", "config.json"));
        assert!(!m("config.json", "sub/config.json"));
        assert!(m("d?ploy.yaml", "deploy.yaml"));
        assert!(m("[a-c]*.yaml", "b.yaml"));
        assert!(!m("[!a-c]*.yaml", "b.yaml"));
        assert!(m("\\*.yaml", "*.yaml"));
        assert!(!m("\\*.yaml", "a.yaml"));
    }

    #[test]
    fn braces_are_alternatives() {
        assert!(m("{*.yml,*.yaml}", "a.yml"));
        assert!(m("{*.yml,*.yaml}", "a.yaml"));
        assert!(!m("{*.yml,*.yaml}", "a.json"));
        assert!(m("{config.json,env-usw2/*}", "env-usw2/x.yaml"));
        assert!(m("{config.json,env-usw2/*}", "config.json"));
        assert!(!m("{config.json,env-usw2/*}", "env-use1/x.yaml"));
        assert!(m("app-{a,b{1,2}}.yaml", "app-b2.yaml"));
        assert!(!m("app-{a,b{1,2}}.yaml", "app-b3.yaml"));
        assert!(m("x{,.bak}", "x"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        for bad in ["{a,b", "a}", "[a-", "[]", "a\\", "[z-a]"] {
            assert!(FileGlob::new(bad).is_err(), "{bad:?}");
        }
        let many = "{a,b}".repeat(9);
        assert!(FileGlob::new(&many).is_err());
    }

    #[test]
    fn long_inputs_stay_fast() {
        let start = std::time::Instant::now();
        let name = "a".repeat(10_000);
        assert!(!m(&format!("{}b", "*a".repeat(100)), &name));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }
}
