//! Wildcard tokens and their linear matcher, shared by the path globs of the git generators
//! (`appset::path_glob`) and the `directory.include`/`exclude` globs (`render::file_glob`).
//! Each module parses its own syntax into these tokens.

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Literal(char),
    /// `?`: one character.
    AnyChar,
    /// `*`: any run of characters (whatever the caller's text is: a segment or a whole path).
    AnyRun,
    /// `[a-z]`, `[^a-z]`: one character in (or, negated, outside) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Whether `text` matches `tokens`: iterative wildcard matching that, on a mismatch, resumes
/// after the last `*` with one more character consumed by it. O(tokens × text), never
/// exponential backtracking.
pub fn matches(tokens: &[Token], text: &[char]) -> bool {
    let (mut t, mut s) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while s < text.len() {
        match tokens.get(t) {
            Some(Token::AnyRun) => {
                resume = Some((t + 1, s));
                t += 1;
            }
            Some(token) if token_matches(token, text[s]) => {
                t += 1;
                s += 1;
            }
            _ => match resume {
                Some((after, from)) => {
                    t = after;
                    s = from + 1;
                    resume = Some((after, from + 1));
                }
                None => return false,
            },
        }
    }
    tokens[t..].iter().all(|token| *token == Token::AnyRun)
}

fn token_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(l) => *l == c,
        Token::AnyChar | Token::AnyRun => true,
        Token::Class { negated, ranges } => {
            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Vec<Token> {
        s.chars().map(Token::Literal).collect()
    }

    #[test]
    fn literals_wildcards_and_classes() {
        let text: Vec<char> = "abc".chars().collect();
        assert!(matches(&lit("abc"), &text));
        assert!(!matches(&lit("abd"), &text));
        assert!(matches(&[Token::AnyRun], &text));
        assert!(matches(&[Token::AnyRun], &[]));
        assert!(!matches(&[Token::AnyChar], &[]));
        let mut t = lit("a");
        t.push(Token::AnyChar);
        t.push(Token::Class {
            negated: false,
            ranges: vec![('a', 'c')],
        });
        assert!(matches(&t, &text));
        t[2] = Token::Class {
            negated: true,
            ranges: vec![('a', 'c')],
        };
        assert!(!matches(&t, &text));
    }

    #[test]
    fn star_resumes_after_mismatch() {
        let mut t = vec![Token::AnyRun];
        t.extend(lit("ab"));
        t.push(Token::AnyRun);
        t.extend(lit("c"));
        let yes: Vec<char> = "xxabyyabzc".chars().collect();
        let no: Vec<char> = "xxabyyabz".chars().collect();
        assert!(matches(&t, &yes));
        assert!(!matches(&t, &no));
    }
}
