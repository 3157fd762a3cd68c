//! Label and field selectors exactly as kube-apiserver parses and applies them: the label grammar
//! and validation of apimachinery `pkg/labels/selector.go`, the field grammar and escaping of
//! `pkg/fields/selector.go`, `metav1.LabelSelectorAsSelector` for selector objects, and the
//! per-kind field label conversions (`AddFieldLabelConversionFunc`) with their error wording.
//! Error messages are the apiserver's own; they go verbatim into a 400 `Status`.

use std::fmt;

use serde_json::{Map, Value};

/// A selector that cannot be used. The message is kube-apiserver's, for a 400 `BadRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A label selector that does not parse or validate.
    #[error("{0}")]
    Label(String),
    /// A field selector that does not parse.
    #[error("{0}")]
    Field(String),
    /// A field selector naming a field the kind does not support.
    #[error("{0}")]
    UnsupportedField(String),
}

/// The operator of one label requirement (`k8s.io/apimachinery/pkg/selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and deduplicated for set operators, as `sets.String.List()` gives them.
    values: Vec<String>,
}

impl Requirement {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels
            .get(&self.key)
            .map(|v| v.as_str().unwrap_or_default());
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(listed),
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !listed(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(Ok(have)), [want]) =
                    (value.map(str::parse::<i64>), self.values.as_slice())
                else {
                    return false;
                };
                match want.parse::<i64>() {
                    Ok(want) if self.operator == Operator::GreaterThan => have > want,
                    Ok(want) => have < want,
                    Err(_) => false,
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parens) = match self.operator {
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        let mut values = self.values.clone();
        values.sort();
        let values = values.join(",");
        if parens {
            write!(f, "{op}({values})")
        } else {
            write!(f, "{op}{values}")
        }
    }
}

/// A parsed label selector: the AND of its requirements (sorted by key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// `labels.Nothing()`: what a null `metav1.LabelSelector` means.
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no object.
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// No restriction at all (an empty selector string).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether `labels` (an object's `metadata.labels`, empty when absent) satisfy every requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// `matches` on the `metadata.labels` of a whole object.
    pub fn matches_object(&self, obj: &Value) -> bool {
        match obj.pointer("/metadata/labels").and_then(Value::as_object) {
            Some(labels) => self.matches(labels),
            None => self.matches(&Map::new()),
        }
    }

    /// A `metav1.LabelSelector` object (`matchLabels`, `matchExpressions`) as
    /// `metav1.LabelSelectorAsSelector` converts it: null matches nothing, `{}` everything.
    pub fn from_object(selector: &Value) -> Result<Self, SelectorError> {
        if selector.is_null() {
            return Ok(Self::nothing());
        }
        let empty = Map::new();
        let match_labels = selector
            .get("matchLabels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let expressions = selector
            .get("matchExpressions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut requirements = Vec::new();
        for (key, value) in match_labels {
            let value = value.as_str().unwrap_or_default().to_string();
            requirements.push(
                new_requirement(key, Operator::Equals, vec![value])
                    .map_err(SelectorError::Label)?,
            );
        }
        for expr in expressions {
            let text = |field: &str| expr.get(field).and_then(Value::as_str).unwrap_or_default();
            let operator = match text("operator") {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError::Label(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    )));
                }
            };
            let values: Vec<String> = expr
                .get("values")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .map(|s| s.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            requirements.push(
                new_requirement(text("key"), operator, values).map_err(SelectorError::Label)?,
            );
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Self {
            requirements,
            nothing: false,
        })
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(Requirement::to_string)
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// Parses a `labelSelector` query parameter as `labels.Parse` does.
pub fn parse_labels(s: &str) -> Result<LabelSelector, SelectorError> {
    let mut parser = Parser {
        items: scan(s.as_bytes()),
        position: 0,
    };
    let mut requirements = parser.parse().map_err(SelectorError::Label)?;
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LabelSelector {
        requirements,
        nothing: false,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    EndOfString,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &[u8]) -> Option<Token> {
    Some(match s {
        b")" => Token::ClosedPar,
        b"," => Token::Comma,
        b"!" => Token::DoesNotExist,
        b"==" => Token::DoubleEquals,
        b"=" => Token::Equals,
        b">" => Token::GreaterThan,
        b"in" => Token::In,
        b"<" => Token::LessThan,
        b"!=" => Token::NotEquals,
        b"notin" => Token::NotIn,
        b"(" => Token::OpenPar,
        _ => return None,
    })
}

fn is_whitespace(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The byte lexer of `labels.Lexer`; a NUL byte ends the input, as it does there.
struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn read(&mut self) -> u8 {
        match self.s.get(self.pos) {
            Some(&c) => {
                self.pos += 1;
                c
            }
            None => 0,
        }
    }

    fn unread(&mut self) {
        self.pos = self.pos.saturating_sub(1);
    }

    fn lex(&mut self) -> (Token, String) {
        let mut c = self.read();
        while is_whitespace(c) {
            c = self.read();
        }
        if c == 0 {
            return (Token::EndOfString, String::new());
        }
        self.unread();
        if is_special(c) {
            self.scan_special()
        } else {
            self.scan_identifier()
        }
    }

    fn scan_identifier(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if is_special(c) || is_whitespace(c) {
                self.unread();
                break;
            }
            buf.push(c);
        }
        let text = String::from_utf8_lossy(&buf).into_owned();
        (keyword(&buf).unwrap_or(Token::Identifier), text)
    }

    fn scan_special(&mut self) -> (Token, String) {
        let mut buf = Vec::new();
        let mut last: Option<(Token, String)> = None;
        loop {
            let c = self.read();
            if c == 0 {
                break;
            }
            if !is_special(c) {
                self.unread();
                break;
            }
            buf.push(c);
            match keyword(&buf) {
                Some(tok) => last = Some((tok, String::from_utf8_lossy(&buf).into_owned())),
                None if last.is_some() => {
                    self.unread();
                    break;
                }
                None => {}
            }
        }
        last.unwrap_or_else(|| {
            (
                Token::Error,
                format!(
                    "error expected: keyword found '{}'",
                    String::from_utf8_lossy(&buf)
                ),
            )
        })
    }
}

fn scan(s: &[u8]) -> Vec<(Token, String)> {
    let mut lexer = Lexer { s, pos: 0 };
    let mut items = Vec::new();
    loop {
        let item = lexer.lex();
        let end = item.0 == Token::EndOfString;
        items.push(item);
        if end {
            return items;
        }
    }
}

/// Whether `in`/`notin` are keywords (after a key) or plain identifiers (as values).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

/// The recursive-descent parser of `labels.Parser`, with its error messages.
struct Parser {
    items: Vec<(Token, String)>,
    position: usize,
}

impl Parser {
    fn peek(&self, ctx: Context) -> (Token, String) {
        let (tok, lit) = self
            .items
            .get(self.position)
            .cloned()
            .unwrap_or((Token::EndOfString, String::new()));
        match tok {
            Token::In | Token::NotIn if ctx == Context::Values => (Token::Identifier, lit),
            _ => (tok, lit),
        }
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let item = self.peek(ctx);
        self.position += 1;
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.peek(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::EndOfString => return Ok(requirements),
                        Token::Comma => {
                            let (t2, l2) = self.peek(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::EndOfString => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, operator) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = operator {
            return new_requirement(&key, op, Vec::new());
        }
        let operator = self.parse_operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, operator, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut operator = None;
        let (mut tok, mut lit) = self.consume(Context::Values);
        if tok == Token::DoesNotExist {
            operator = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = is_qualified_name(&lit);
        if !errs.is_empty() {
            return Err(format!(
                "<nil>: Invalid value: {}: {}",
                go_quote(&lit),
                errs.join("; ")
            ));
        }
        let (next, _) = self.peek(Context::Values);
        if matches!(next, Token::EndOfString | Token::Comma) && operator.is_none() {
            operator = Some(Operator::Exists);
        }
        Ok((lit, operator))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.peek(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                if self.consume(Context::Values).0 != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let insert = |set: &mut Vec<String>, v: String| {
            if !set.contains(&v) {
                set.push(v);
            }
        };
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    insert(&mut set, lit);
                    let (tok2, lit2) = self.peek(Context::Values);
                    match tok2 {
                        Token::Comma => continue,
                        Token::ClosedPar => break,
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        insert(&mut set, String::new());
                    }
                    match self.peek(Context::Values).0 {
                        Token::ClosedPar => {
                            insert(&mut set, String::new());
                            break;
                        }
                        Token::Comma => {
                            self.consume(Context::Values);
                            insert(&mut set, String::new());
                        }
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
        set.sort();
        Ok(set)
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        if matches!(
            self.peek(Context::Values).0,
            Token::EndOfString | Token::Comma
        ) {
            return Ok(vec![String::new()]);
        }
        match self.consume(Context::Values) {
            (Token::Identifier, lit) => Ok(vec![lit]),
            (_, lit) => Err(format!("found '{lit}', expected: identifier")),
        }
    }
}

/// `labels.NewRequirement`: validates key, operator arity and values; errors aggregated as
/// `utilerrors.NewAggregate` prints them.
fn new_requirement(
    key: &str,
    operator: Operator,
    values: Vec<String>,
) -> Result<Requirement, String> {
    let mut errs = Vec::new();
    let key_errs = is_qualified_name(key);
    if !key_errs.is_empty() {
        errs.push(format!(
            "key: Invalid value: {}: {}",
            go_quote(key),
            key_errs.join("; ")
        ));
    }
    let bad = |detail: &str| format!("values: Invalid value: {}: {detail}", go_slice(&values));
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => {
            errs.push(bad(
                "for 'in', 'notin' operators, values set can't be empty",
            ));
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            errs.push(bad("exact-match compatibility requires one single value"));
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            errs.push(bad(
                "values set must be empty for exists and does not exist",
            ));
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(bad(
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(format!(
                        "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                        go_quote(v)
                    ));
                }
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        let value_errs = is_valid_label_value(v);
        if !value_errs.is_empty() {
            errs.push(format!(
                "values[{i}][{key}]: Invalid value: {}: {}",
                go_quote(v),
                value_errs.join("; ")
            ));
        }
    }
    if errs.is_empty() {
        return Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        });
    }
    Err(aggregate(errs))
}

/// `utilerrors.NewAggregate(errs).Error()`: one message as is, several deduplicated in brackets.
fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.remove(0)
    } else {
        format!("[{}]", seen.join(", "))
    }
}

const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`
fn matches_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
fn matches_dns1123_subdomain(s: &str) -> bool {
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.split('.').all(|label| {
        let b = label.as_bytes();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
            }
            _ => false,
        }
    })
}

/// `validation.IsQualifiedName`: the messages for a label key (`[prefix/]name`).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            errs.push(format!(
                "a qualified name {QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !matches_qualified_name(name) {
        errs.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    errs
}

/// `validation.IsDNS1123Subdomain`.
fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !matches_dns1123_subdomain(value) {
        errs.push(DNS1123_SUBDOMAIN_MSG.to_string());
    }
    errs
}

/// `validation.IsValidLabelValue`.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !matches_qualified_name(value) {
        errs.push(LABEL_VALUE_MSG.to_string());
    }
    errs
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#v` of a `[]string` (empty ones are nil where the apiserver builds them).
fn go_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// One `field=value` / `field!=value` term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    pub field: String,
    /// Unescaped.
    pub value: String,
    /// `!=`.
    pub negated: bool,
}

/// A parsed field selector: the AND of its terms, in the apiserver's (sorted) order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Parses a `fieldSelector` query parameter as `fields.ParseSelector` does.
pub fn parse_fields(s: &str) -> Result<FieldSelector, SelectorError> {
    let mut parts = split_terms(s);
    parts.sort();
    let mut terms = Vec::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        let Some((field, op, rhs)) = split_term(part) else {
            return Err(SelectorError::Field(format!(
                "invalid selector: '{s}'; can't understand '{part}'"
            )));
        };
        let value = unescape_value(rhs).map_err(SelectorError::Field)?;
        terms.push(FieldTerm {
            field: field.to_string(),
            value,
            negated: op == "!=",
        });
    }
    Ok(FieldSelector { terms })
}

/// Splits on commas not escaped by a backslash (the backslash stays in the term).
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let (mut start, mut in_slash) = (0, false);
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits at the first operator, trying `!=`, then `==`, then `=` at each position.
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String, String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                ));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Go prints the rune with %v: its code point in decimal.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ));
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// How a kind's field labels convert, and how it words a refusal.
enum FieldRule {
    /// A registered conversion func of a built-in kind.
    Listed {
        allowed: &'static [&'static str],
        job_wording: bool,
        pod: bool,
    },
    /// `runtime.DefaultMetaV1FieldSelectorConversion` (built-in kinds with no func).
    Default,
    /// A custom resource (`crConverter.ConvertFieldLabel`).
    Custom {
        cluster_scoped: bool,
        selectable: Vec<String>,
    },
}

const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

/// API groups kube-apiserver itself serves; kinds elsewhere are custom resources.
const BUILTIN_GROUPS: &[&str] = &[
    "",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "apps",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "internal.apiserver.k8s.io",
    "networking.k8s.io",
    "node.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "resource.k8s.io",
    "scheduling.k8s.io",
    "storage.k8s.io",
    "storagemigration.k8s.io",
];

fn field_rule(group: &str, kind: &str) -> FieldRule {
    let listed = |allowed| FieldRule::Listed {
        allowed,
        job_wording: false,
        pod: false,
    };
    match (group, kind) {
        ("", "Pod") => FieldRule::Listed {
            allowed: POD_FIELDS,
            job_wording: false,
            pod: true,
        },
        ("", "Event") => listed(EVENT_FIELDS),
        ("", "Namespace") => listed(&["status.phase", "metadata.name"]),
        ("", "Secret") => listed(&["type", "metadata.namespace", "metadata.name"]),
        ("", "Service") => listed(&[
            "metadata.namespace",
            "metadata.name",
            "spec.clusterIP",
            "spec.type",
        ]),
        ("", "ReplicationController") => {
            listed(&["metadata.name", "metadata.namespace", "status.replicas"])
        }
        ("", "Node") => listed(&["metadata.name", "spec.unschedulable"]),
        ("batch", "Job") => {
            let allowed = &["metadata.name", "metadata.namespace", "status.successful"];
            FieldRule::Listed {
                allowed,
                job_wording: true,
                pod: false,
            }
        }
        _ if BUILTIN_GROUPS.contains(&group) => FieldRule::Default,
        _ => FieldRule::Custom {
            cluster_scoped: false,
            selectable: Vec::new(),
        },
    }
}

impl FieldRule {
    /// The converted label, or the apiserver's refusal.
    fn convert(&self, label: &str) -> Result<String, String> {
        match self {
            FieldRule::Listed {
                allowed,
                job_wording,
                pod,
            } => {
                if allowed.contains(&label) {
                    Ok(label.to_string())
                } else if *pod && label == "spec.host" {
                    // Backwards compatibility with old v1 clients.
                    Ok("spec.nodeName".to_string())
                } else if *job_wording {
                    Err(format!(
                        "field label {} not supported for batchv1.Job",
                        go_quote(label)
                    ))
                } else {
                    Err(format!("field label not supported: {label}"))
                }
            }
            FieldRule::Default => match label {
                "metadata.name" | "metadata.namespace" => Ok(label.to_string()),
                _ => Err(format!(
                    "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                    go_quote(label)
                )),
            },
            FieldRule::Custom {
                cluster_scoped,
                selectable,
            } => {
                if label == "metadata.name"
                    || (!cluster_scoped && label == "metadata.namespace")
                    || selectable.iter().any(|s| s == label)
                {
                    Ok(label.to_string())
                } else {
                    Err(format!("field label not supported: {label}"))
                }
            }
        }
    }
}

impl FieldSelector {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// The value an `=`/`==` term requires of `field` (e.g. `metadata.name` for single-object watches).
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == field && !t.negated)
            .map(|t| t.value.as_str())
    }

    /// Whether kube-apiserver accepts these field labels for a kind it serves (a built-in kind by
    /// its group and kind; any other group is taken for a namespaced custom resource).
    pub fn check_supported(&self, group: &str, kind: &str) -> Result<(), SelectorError> {
        self.converted(group, kind).map(|_| ())
    }

    /// `check_supported`, returning the selector with labels converted as the apiserver converts
    /// them (the Pod alias `spec.host` becomes `spec.nodeName`).
    pub fn converted(&self, group: &str, kind: &str) -> Result<FieldSelector, SelectorError> {
        self.convert_with(&field_rule(group, kind))
    }

    /// `check_supported` for a custom resource: its scope and its CRD version's `selectableFields`
    /// (as labels, e.g. `spec.color` for a jsonPath `.spec.color`).
    pub fn check_supported_custom(
        &self,
        cluster_scoped: bool,
        selectable_fields: &[String],
    ) -> Result<(), SelectorError> {
        let rule = FieldRule::Custom {
            cluster_scoped,
            selectable: selectable_fields.to_vec(),
        };
        self.convert_with(&rule).map(|_| ())
    }

    fn convert_with(&self, rule: &FieldRule) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            let field = rule
                .convert(&term.field)
                .map_err(SelectorError::UnsupportedField)?;
            terms.push(FieldTerm {
                field,
                ..term.clone()
            });
        }
        Ok(FieldSelector { terms })
    }

    /// Whether `obj` satisfies every term, reading each field as the kind's `GetAttrs` renders it
    /// (absent fields read as "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|t| (field_value(obj, &t.field) == t.value) != t.negated)
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|t| {
                let value = t
                    .value
                    .replace('\\', "\\\\")
                    .replace(',', "\\,")
                    .replace('=', "\\=");
                format!("{}{}{value}", t.field, if t.negated { "!=" } else { "=" })
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn scalar(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A field as the selectable-fields sets of the registries render it.
fn field_value(obj: &Value, field: &str) -> String {
    let at = |path: &str| obj.pointer(path);
    match field {
        // Pod: a bool that defaults to false.
        "spec.hostNetwork" => at("/spec/hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string(),
        // Pod: the first of status.podIPs.
        "status.podIP" => {
            let first = scalar(at("/status/podIPs/0/ip"));
            if first.is_empty() {
                scalar(at("/status/podIP"))
            } else {
                first
            }
        }
        // Pod: accepted by the conversion but absent from the field set.
        "status.podIPs" => String::new(),
        // Job: status.succeeded as a decimal, 0 when unset.
        "status.successful" if at("/status/successful").is_none() => at("/status/succeeded")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .to_string(),
        // Event: source.component, else reportingComponent.
        "source" if !matches!(at("/source"), Some(Value::String(_))) => {
            let component = scalar(at("/source/component"));
            if component.is_empty() {
                scalar(at("/reportingComponent"))
            } else {
                component
            }
        }
        _ => {
            let mut node = Some(obj);
            for part in field.split('.') {
                node = node.and_then(|n| n.get(part));
            }
            scalar(node)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn label_err(s: &str) -> String {
        parse_labels(s).unwrap_err().to_string()
    }

    // Cases of apimachinery's TestSelectorParse / TestSetSelectorParser.
    #[test]
    fn label_grammar_accepts_what_apimachinery_accepts() {
        for s in [
            "",
            "x=a,y=b,z=c",
            "x!=a,y=b",
            "x=",
            "x= ",
            "x=,z= ",
            "x= ,z= ",
            "!x",
            "x>1",
            "x>1,z<5",
            "x in (),y",
            "x notin (),y",
            "x in (a),y notin (b)",
            "x in (a, b)",
            "x in (foo,,baz),y,z notin ()",
            "x in (in),y",
            "notin=in",
            "a.b/c_d-e=v.1",
        ] {
            assert!(parse_labels(s).is_ok(), "{s:?}: {:?}", parse_labels(s));
        }
        for s in [
            "x=a||y=b",
            "x==a==b",
            "!x=a",
            "x<a",
            "x>1.1",
            "x in a",
            "x notin (a",
            "x=a b",
            ",x",
            "x,",
            "=a",
        ] {
            assert!(parse_labels(s).is_err(), "{s:?}");
        }
    }

    #[test]
    fn set_based_values_are_parsed_like_sets() {
        let sel = parse_labels("x in (foo,,baz),y,z notin ()").unwrap();
        let r = sel.requirements();
        assert_eq!(
            (r[0].key(), r[0].operator(), r[0].values()),
            (
                "x",
                Operator::In,
                &["".into(), "baz".into(), "foo".into()][..]
            )
        );
        assert_eq!((r[1].key(), r[1].operator()), ("y", Operator::Exists));
        assert_eq!(
            (r[2].key(), r[2].operator(), r[2].values()),
            ("z", Operator::NotIn, &["".to_string()][..])
        );
        assert_eq!(sel.to_string(), "x in (,baz,foo),y,z notin ()");
        // Requirements come out sorted by key.
        assert_eq!(
            parse_labels("b=1,a!=2,!c").unwrap().to_string(),
            "a!=2,b=1,!c"
        );
    }

    #[test]
    fn label_matching_follows_requirement_semantics() {
        let l = labels(json!({"app": "web", "tier": "front", "replicas": "3"}));
        let m = |s: &str| parse_labels(s).unwrap().matches(&l);
        assert!(m("") && m("app=web") && m("app==web") && m("app!=db") && m("nope!=x") && m("app"));
        assert!(m("!nope") && m("app in (db,web)") && m("app notin (db)") && m("nope notin (x)"));
        assert!(
            m("replicas>2") && m("replicas<4") && !m("replicas>3") && !m("app>1") && !m("nope<9")
        );
        assert!(
            !m("app=db") && !m("nope") && !m("!app") && !m("app notin (web)") && !m("nope in (x)")
        );
        assert!(m("app=web,tier=front") && !m("app=web,tier=back"));
        assert!(
            parse_labels("x=")
                .unwrap()
                .matches(&labels(json!({"x": ""})))
        );
        assert!(!parse_labels("x=").unwrap().matches(&Map::new()));
        assert!(
            parse_labels("app=web")
                .unwrap()
                .matches_object(&json!({"metadata": {"labels": {"app": "web"}}}))
        );
        assert!(
            !parse_labels("app")
                .unwrap()
                .matches_object(&json!({"metadata": {}}))
        );
    }

    #[test]
    fn label_errors_are_worded_like_the_apiserver() {
        // From kubectl against a real cluster (`kubectl get pods -l app:monolith`).
        assert_eq!(
            label_err("app:monolith"),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        // From client-go's selector tests.
        assert_eq!(
            label_err("a/b/c ?=? def"),
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
        assert_eq!(
            label_err(&format!("good-key={}", "z".repeat(64))),
            format!(
                "unable to parse requirement: values[0][good-key]: Invalid value: \"{}\": must be no more than 63 characters",
                "z".repeat(64)
            )
        );
        assert!(label_err("app.kubernetes_io/name=x").starts_with(
            "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain must consist of"
        ));
        assert_eq!(
            label_err("x=a b"),
            "found 'b', expected: ',' or 'end of string'"
        );
        assert_eq!(label_err("x,"), "found '', expected: identifier after ','");
        assert_eq!(
            label_err(",x"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            label_err("x foo"),
            "unable to parse requirement: found 'foo', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            label_err("x in a"),
            "unable to parse requirement: found 'a' expected: '('"
        );
        assert_eq!(
            label_err("x=(a)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            label_err("x>a"),
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
        assert_eq!(
            label_err("x in (a b)"),
            "unable to parse requirement: found 'b', expected: ',' or ')'"
        );
        assert!(label_err("x in (-a,-b)").starts_with(
            "unable to parse requirement: [values[0][x]: Invalid value: \"-a\": a valid label"
        ));
    }

    #[test]
    fn selector_objects_convert_like_label_selector_as_selector() {
        let sel = LabelSelector::from_object(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}, {"key": "env", "operator": "Exists"}]
        }))
        .unwrap();
        assert_eq!(sel.to_string(), "app=web,env,tier notin (db)");
        assert!(sel.matches(&labels(json!({"app": "web", "env": "prod"}))));
        assert!(!sel.matches(&labels(json!({"app": "web"}))));
        assert!(
            LabelSelector::from_object(&json!({}))
                .unwrap()
                .matches(&Map::new())
        );
        assert!(
            !LabelSelector::from_object(&Value::Null)
                .unwrap()
                .matches(&Map::new())
        );
        let err = |v: Value| LabelSelector::from_object(&v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
            "\"Gt\" is not a valid label selector operator"
        );
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            err(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        assert!(
            err(json!({"matchLabels": {"-a": "b"}}))
                .starts_with("key: Invalid value: \"-a\": name part must consist")
        );
    }

    // Cases of apimachinery's fields TestSplitTerms / TestSplitTerm / TestEscapeValue.
    #[test]
    fn field_terms_split_and_unescape_like_apimachinery() {
        assert_eq!(split_terms(""), Vec::<&str>::new());
        assert_eq!(split_terms("a=1,b=2"), vec!["a=1", "b=2"]);
        assert_eq!(split_terms(r"a=\,,b=\,"), vec![r"a=\,", r"b=\,"]);
        assert_eq!(split_terms(r"a\\,b"), vec![r"a\\", "b"]);
        assert_eq!(split_term("a!=b"), Some(("a", "!=", "b")));
        assert_eq!(split_term("a==b"), Some(("a", "==", "b")));
        assert_eq!(split_term("a=!b"), Some(("a", "=", "!b")));
        assert_eq!(split_term("a"), None);
        let sel = parse_fields(r"metadata.name=a\,b\=c\\d,spec.x!=").unwrap();
        assert_eq!(
            sel.terms()[0],
            FieldTerm {
                field: "metadata.name".into(),
                value: r"a,b=c\d".into(),
                negated: false
            }
        );
        assert_eq!(
            sel.terms()[1],
            FieldTerm {
                field: "spec.x".into(),
                value: String::new(),
                negated: true
            }
        );
        assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d,spec.x!=");
        assert!(parse_fields("").unwrap().is_empty());
        assert!(parse_fields(",,").unwrap().is_empty());
        assert_eq!(parse_fields("b=1,a=2").unwrap().terms()[0].field, "a");
    }

    #[test]
    fn field_parse_errors_are_worded_like_apimachinery() {
        let err = |s: &str| parse_fields(s).unwrap_err().to_string();
        assert_eq!(
            err("x=a,y"),
            "invalid selector: 'x=a,y'; can't understand 'y'"
        );
        assert_eq!(
            err("x==a==b"),
            "invalid field selector: unescaped character in value: 61"
        );
        assert_eq!(
            err(r"x=a\x"),
            r"invalid field selector: invalid escape sequence: \x"
        );
        assert_eq!(
            err(r"x=a\"),
            r"invalid field selector: invalid escape sequence: \"
        );
    }

    #[test]
    fn unsupported_fields_are_refused_per_kind() {
        let check = |s: &str, g: &str, k: &str| {
            parse_fields(s)
                .unwrap()
                .check_supported(g, k)
                .map_err(|e| e.to_string())
        };
        assert!(
            check(
                "spec.nodeName=n1,status.phase!=Running,metadata.namespace=d",
                "",
                "Pod"
            )
            .is_ok()
        );
        assert!(
            check(
                "involvedObject.uid=u,reason=Killing,type=Normal,source=kubelet",
                "",
                "Event"
            )
            .is_ok()
        );
        assert!(check("type=kubernetes.io/tls", "", "Secret").is_ok());
        assert!(check("status.phase=Active", "", "Namespace").is_ok());
        assert!(check("status.successful=1", "batch", "Job").is_ok());
        assert_eq!(
            check("spec.foo=x", "", "Pod"),
            Err("field label not supported: spec.foo".into())
        );
        // Namespace's conversion func does not list metadata.namespace.
        assert_eq!(
            check("metadata.namespace=x", "", "Namespace"),
            Err("field label not supported: metadata.namespace".into())
        );
        assert_eq!(
            check("status.succeeded=1", "batch", "Job"),
            Err("field label \"status.succeeded\" not supported for batchv1.Job".into())
        );
        // apps/v1 registers no conversion func: kubernetes/kubernetes#135136.
        assert_eq!(
            check("status.replicas=0", "apps", "ReplicaSet"),
            Err("\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"".into())
        );
        assert!(check("metadata.name=a", "apps", "Deployment").is_ok());
        assert_eq!(
            check("status.state=x", "acid.zalan.do", "postgresql"),
            Err("field label not supported: status.state".into())
        );
        // The first unsupported term in sorted order is reported; untrimmed spaces are part of the label.
        assert_eq!(
            check("status.phase=x, metadata.name=y", "", "Pod"),
            Err("field label not supported:  metadata.name".into())
        );
        let sel = parse_fields("spec.host=n1")
            .unwrap()
            .converted("", "Pod")
            .unwrap();
        assert_eq!(sel.terms()[0].field, "spec.nodeName");
        let custom = parse_fields("spec.color=red").unwrap();
        assert!(
            custom
                .check_supported_custom(false, &["spec.color".into()])
                .is_ok()
        );
        assert!(
            parse_fields("metadata.namespace=a")
                .unwrap()
                .check_supported_custom(true, &[])
                .is_err()
        );
    }

    #[test]
    fn fields_match_as_get_attrs_renders_them() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]}
        });
        let m = |s: &str, o: &Value| parse_fields(s).unwrap().matches(o);
        assert!(m(
            "metadata.name=p,metadata.namespace=default,spec.nodeName=n1",
            &pod
        ));
        assert!(m(
            "status.phase!=Pending,spec.hostNetwork=false,status.podIP=10.0.0.5",
            &pod
        ));
        assert!(m("spec.schedulerName=,status.podIPs=", &pod) && !m("status.phase=Pending", &pod));
        let event = json!({"involvedObject": {"kind": "Pod", "name": "p"}, "reportingComponent": "kubelet", "source": {}});
        assert!(m(
            "involvedObject.kind=Pod,involvedObject.name=p,source=kubelet,reportingComponent=kubelet",
            &event
        ));
        let event = json!({"source": {"component": "scheduler"}, "reportingComponent": "x"});
        assert!(m("source=scheduler", &event));
        assert!(m("status.successful=0", &json!({"status": {}})));
        assert!(m(
            "status.successful=2",
            &json!({"status": {"succeeded": 2}})
        ));
        assert!(m("type=Opaque", &json!({"type": "Opaque"})));
        // Cluster-scoped objects have no namespace: only the empty value matches.
        assert!(m(
            "metadata.namespace=",
            &json!({"metadata": {"name": "n"}})
        ));
        assert_eq!(
            parse_fields("metadata.name=p")
                .unwrap()
                .requires_exact_match("metadata.name"),
            Some("p")
        );
    }
}
