//! A small GraphQL tokenizer and parser for the executable subset Weaviate clients send:
//! one query operation made of fields with arguments, aliases and selection sets.
//!
//! Values follow the GraphQL spec (October 2021): ints, floats, strings with escapes
//! (`\" \\ \/ \b \f \n \r \t \uXXXX`, surrogate pairs), block strings, booleans, null, enums,
//! lists and input objects. Fragments, directives, variables, mutations and subscriptions are
//! rejected with an error, so the emulator never silently misreads a query it does not model.

use std::fmt;

/// A position in the query text, 1-based, as GraphQL errors report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// A syntax (or unsupported-construct) error with its location.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // graphql-go's wording, which Weaviate passes through unchanged.
        write!(
            f,
            "Syntax Error GraphQL request ({}:{}) {}",
            self.pos.line, self.pos.column, self.message
        )
    }
}

/// A GraphQL input value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    /// An IntValue, kept as written so large values are not silently rounded.
    Int(String),
    /// A FloatValue, as written.
    Float(String),
    String(String),
    Bool(bool),
    Enum(String),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The value as JSON; enums become strings (Weaviate's filter operators are enums).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Null => serde_json::Value::Null,
            Self::Int(s) => match s.parse::<i64>() {
                Ok(i) => serde_json::Value::from(i),
                Err(_) => s
                    .parse::<f64>()
                    .map_or(serde_json::Value::Null, serde_json::Value::from),
            },
            Self::Float(s) => s
                .parse::<f64>()
                .map_or(serde_json::Value::Null, serde_json::Value::from),
            Self::String(s) | Self::Enum(s) => serde_json::Value::String(s.clone()),
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::List(items) => items.iter().map(Self::to_json).collect(),
            Self::Object(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value as a number (Int or Float literal).
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(s) | Self::Float(s) => s.parse().ok(),
            _ => None,
        }
    }
}

/// An argument `name: value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Argument {
    pub(crate) name: String,
    pub(crate) value: Value,
    pub(crate) pos: Pos,
}

/// A field selection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    pub(crate) alias: Option<String>,
    pub(crate) name: String,
    pub(crate) arguments: Vec<Argument>,
    pub(crate) selection: Vec<Field>,
    /// Whether the field was written with braces (even empty ones, which are a syntax error).
    pub(crate) has_selection_set: bool,
    pub(crate) pos: Pos,
}

impl Field {
    /// The key of this field in the response.
    pub(crate) fn response_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    /// The argument called `name`, if given.
    pub(crate) fn argument(&self, name: &str) -> Option<&Argument> {
        self.arguments.iter().find(|a| a.name == name)
    }
}

/// A parsed query operation: its top-level selection set.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Operation {
    pub(crate) name: Option<String>,
    pub(crate) selection: Vec<Field>,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(String),
    Float(String),
    Str(String),
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Self::Punct(c) => format!("\"{c}\""),
            Self::Spread => "\"...\"".to_owned(),
            Self::Name(n) => format!("Name \"{n}\""),
            Self::Int(v) => format!("Int \"{v}\""),
            Self::Float(v) => format!("Float \"{v}\""),
            Self::Str(v) => format!("String \"{v}\""),
            Self::Eof => "EOF".to_owned(),
        }
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    line_start: usize,
    _src: &'a str,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            chars: src.chars().collect(),
            i: 0,
            line: 1,
            line_start: 0,
            _src: src,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.i - self.line_start + 1,
        }
    }

    fn err(&self, pos: Pos, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            pos,
            message: message.into(),
        }
    }

    fn peek(&self, off: usize) -> Option<char> {
        self.chars.get(self.i + off).copied()
    }

    fn newline(&mut self) {
        self.line += 1;
        self.line_start = self.i;
    }

    fn skip_ignored(&mut self) {
        while let Some(c) = self.peek(0) {
            match c {
                '\u{feff}' | ' ' | '\t' | ',' => self.i += 1,
                '\n' => {
                    self.i += 1;
                    self.newline();
                }
                '\r' => {
                    self.i += 1;
                    if self.peek(0) == Some('\n') {
                        self.i += 1;
                    }
                    self.newline();
                }
                '#' => {
                    while let Some(c) = self.peek(0) {
                        if c == '\n' || c == '\r' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn next(&mut self) -> Result<(Tok, Pos), SyntaxError> {
        self.skip_ignored();
        let pos = self.pos();
        let Some(c) = self.peek(0) else {
            return Ok((Tok::Eof, pos));
        };
        match c {
            '!' | '$' | '&' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' => {
                self.i += 1;
                Ok((Tok::Punct(c), pos))
            }
            '.' => {
                if self.peek(1) == Some('.') && self.peek(2) == Some('.') {
                    self.i += 3;
                    Ok((Tok::Spread, pos))
                } else {
                    Err(self.err(pos, "Unexpected character \".\"."))
                }
            }
            '_' | 'A'..='Z' | 'a'..='z' => {
                let start = self.i;
                while matches!(self.peek(0), Some('_' | '0'..='9' | 'A'..='Z' | 'a'..='z')) {
                    self.i += 1;
                }
                Ok((Tok::Name(self.chars[start..self.i].iter().collect()), pos))
            }
            '-' | '0'..='9' => self.number(pos),
            '"' => {
                if self.peek(1) == Some('"') && self.peek(2) == Some('"') {
                    self.block_string(pos)
                } else {
                    self.string(pos)
                }
            }
            other => Err(self.err(pos, format!("Unexpected character {other:?}."))),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(0), Some('0'..='9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self, pos: Pos) -> Result<(Tok, Pos), SyntaxError> {
        let start = self.i;
        if self.peek(0) == Some('-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 {
            return Err(self.err(self.pos(), "Invalid number, expected digit."));
        }
        if n > 1 && self.chars[int_start] == '0' {
            return Err(self.err(pos, "Invalid number, unexpected digit after 0."));
        }
        let mut float = false;
        if self.peek(0) == Some('.') {
            float = true;
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.err(self.pos(), "Invalid number, expected digit."));
            }
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            float = true;
            self.i += 1;
            if matches!(self.peek(0), Some('+' | '-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err(self.pos(), "Invalid number, expected digit."));
            }
        }
        // A number must not be directly followed by a name start or a dot.
        if matches!(self.peek(0), Some('.' | '_' | 'A'..='Z' | 'a'..='z')) {
            return Err(self.err(self.pos(), "Invalid number, expected digit."));
        }
        let text: String = self.chars[start..self.i].iter().collect();
        Ok((
            if float {
                Tok::Float(text)
            } else {
                Tok::Int(text)
            },
            pos,
        ))
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self.peek(0)?.to_digit(16)?;
            v = v * 16 + d;
            self.i += 1;
        }
        Some(v)
    }

    fn string(&mut self, pos: Pos) -> Result<(Tok, Pos), SyntaxError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let here = self.pos();
            let Some(c) = self.peek(0) else {
                return Err(self.err(here, "Unterminated string."));
            };
            match c {
                '"' => {
                    self.i += 1;
                    return Ok((Tok::Str(out), pos));
                }
                '\n' | '\r' => return Err(self.err(here, "Unterminated string.")),
                '\\' => {
                    self.i += 1;
                    let Some(e) = self.peek(0) else {
                        return Err(self.err(here, "Unterminated string."));
                    };
                    self.i += 1;
                    match e {
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        '/' => out.push('/'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'u' => {
                            let bad =
                                |lx: &Self| lx.err(here, "Invalid character escape sequence.");
                            let hi = self.hex4().ok_or_else(|| bad(self))?;
                            let ch = if (0xD800..0xDC00).contains(&hi) {
                                // A leading surrogate must be followed by a trailing one.
                                if self.peek(0) != Some('\\') || self.peek(1) != Some('u') {
                                    return Err(bad(self));
                                }
                                self.i += 2;
                                let lo = self.hex4().ok_or_else(|| bad(self))?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(bad(self));
                                }
                                char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(ch.ok_or_else(|| bad(self))?);
                        }
                        _ => return Err(self.err(here, "Invalid character escape sequence.")),
                    }
                }
                c if (c as u32) < 0x20 && c != '\t' => {
                    return Err(self.err(here, format!("Invalid character within String: {c:?}.")));
                }
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn block_string(&mut self, pos: Pos) -> Result<(Tok, Pos), SyntaxError> {
        self.i += 3;
        let mut raw = String::new();
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.err(self.pos(), "Unterminated string."));
            };
            if c == '"' && self.peek(1) == Some('"') && self.peek(2) == Some('"') {
                self.i += 3;
                return Ok((Tok::Str(block_string_value(&raw)), pos));
            }
            if c == '\\'
                && self.peek(1) == Some('"')
                && self.peek(2) == Some('"')
                && self.peek(3) == Some('"')
            {
                raw.push_str("\"\"\"");
                self.i += 4;
                continue;
            }
            raw.push(c);
            self.i += 1;
            if c == '\n' {
                self.newline();
            } else if c == '\r' {
                if self.peek(0) == Some('\n') {
                    raw.push('\n');
                    self.i += 1;
                }
                self.newline();
            }
        }
    }
}

/// The spec's BlockStringValue(): common indentation and blank first/last lines removed.
fn block_string_value(raw: &str) -> String {
    let lines: Vec<&str> = raw
        .split(['\n'])
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let n = l.chars().take_while(|c| *c == ' ' || *c == '\t').count();
            (n < l.chars().count()).then_some(n)
        })
        .min();
    let mut out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| match indent {
            Some(n) if i > 0 => l.chars().skip(n).collect(),
            _ => (*l).to_owned(),
        })
        .collect();
    while out
        .first()
        .is_some_and(|l| l.trim_matches([' ', '\t']).is_empty())
    {
        out.remove(0);
    }
    while out
        .last()
        .is_some_and(|l| l.trim_matches([' ', '\t']).is_empty())
    {
        out.pop();
    }
    out.join("\n")
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    pos: Pos,
    depth: usize,
}

/// Deeper nesting than this is refused, so a hostile query cannot overflow the stack.
const MAX_DEPTH: usize = 64;

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Self, SyntaxError> {
        let mut lexer = Lexer::new(src);
        let (tok, pos) = lexer.next()?;
        Ok(Self {
            lexer,
            tok,
            pos,
            depth: 0,
        })
    }

    fn advance(&mut self) -> Result<(Tok, Pos), SyntaxError> {
        let (tok, pos) = self.lexer.next()?;
        Ok((
            std::mem::replace(&mut self.tok, tok),
            std::mem::replace(&mut self.pos, pos),
        ))
    }

    fn unexpected(&self, expected: &str) -> SyntaxError {
        SyntaxError {
            pos: self.pos,
            message: format!("Expected {expected}, found {}", self.tok.describe()),
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<Pos, SyntaxError> {
        if self.tok == Tok::Punct(c) {
            Ok(self.advance()?.1)
        } else {
            Err(self.unexpected(&format!("\"{c}\"")))
        }
    }

    fn name(&mut self) -> Result<(String, Pos), SyntaxError> {
        match &self.tok {
            Tok::Name(_) => match self.advance()? {
                (Tok::Name(n), p) => Ok((n, p)),
                _ => unreachable!("checked above"),
            },
            _ => Err(self.unexpected("Name")),
        }
    }

    fn unsupported(&self, what: &str) -> SyntaxError {
        SyntaxError {
            pos: self.pos,
            message: format!("{what} are not supported by the Weaviate emulator"),
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(SyntaxError {
                pos: self.pos,
                message: "query is nested too deeply".into(),
            });
        }
        Ok(())
    }

    fn document(&mut self, operation_name: Option<&str>) -> Result<Operation, SyntaxError> {
        let mut ops = Vec::new();
        loop {
            match &self.tok {
                Tok::Eof => break,
                Tok::Punct('{') => {
                    let selection = self.selection_set()?;
                    ops.push(Operation {
                        name: None,
                        selection,
                    });
                }
                Tok::Name(n) if n == "query" => {
                    self.advance()?;
                    let name = match &self.tok {
                        Tok::Name(_) => Some(self.name()?.0),
                        _ => None,
                    };
                    if self.tok == Tok::Punct('(') {
                        return Err(self.unsupported("variables"));
                    }
                    if self.tok == Tok::Punct('@') {
                        return Err(self.unsupported("directives"));
                    }
                    let selection = self.selection_set()?;
                    ops.push(Operation { name, selection });
                }
                Tok::Name(n) if n == "mutation" || n == "subscription" || n == "fragment" => {
                    return Err(self.unsupported(&format!("{n} definitions")));
                }
                _ => return Err(self.unexpected("{")),
            }
        }
        if ops.is_empty() {
            return Err(self.unexpected("{"));
        }
        match operation_name {
            Some(wanted) => ops
                .into_iter()
                .find(|o| o.name.as_deref() == Some(wanted))
                .ok_or_else(|| SyntaxError {
                    pos: Pos { line: 1, column: 1 },
                    message: format!("Unknown operation named \"{wanted}\"."),
                }),
            None if ops.len() > 1 => Err(SyntaxError {
                pos: Pos { line: 1, column: 1 },
                message: "Must provide operation name if query contains multiple operations."
                    .into(),
            }),
            None => Ok(ops.remove(0)),
        }
    }

    fn selection_set(&mut self) -> Result<Vec<Field>, SyntaxError> {
        self.enter()?;
        self.expect_punct('{')?;
        let mut fields = Vec::new();
        loop {
            match &self.tok {
                Tok::Punct('}') => {
                    if fields.is_empty() {
                        return Err(self.unexpected("Name"));
                    }
                    self.advance()?;
                    break;
                }
                Tok::Spread => return Err(self.unsupported("fragments")),
                _ => fields.push(self.field()?),
            }
        }
        self.depth -= 1;
        Ok(fields)
    }

    fn field(&mut self) -> Result<Field, SyntaxError> {
        let (first, pos) = self.name()?;
        let (alias, name) = if self.tok == Tok::Punct(':') {
            self.advance()?;
            (Some(first), self.name()?.0)
        } else {
            (None, first)
        };
        let mut arguments = Vec::new();
        if self.tok == Tok::Punct('(') {
            self.advance()?;
            loop {
                if self.tok == Tok::Punct(')') {
                    if arguments.is_empty() {
                        return Err(self.unexpected("Name"));
                    }
                    self.advance()?;
                    break;
                }
                let (aname, apos) = self.name()?;
                self.expect_punct(':')?;
                let value = self.value()?;
                arguments.push(Argument {
                    name: aname,
                    value,
                    pos: apos,
                });
            }
        }
        if self.tok == Tok::Punct('@') {
            return Err(self.unsupported("directives"));
        }
        let (selection, has_selection_set) = if self.tok == Tok::Punct('{') {
            (self.selection_set()?, true)
        } else {
            (Vec::new(), false)
        };
        Ok(Field {
            alias,
            name,
            arguments,
            selection,
            has_selection_set,
            pos,
        })
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        self.enter()?;
        let v = match self.tok.clone() {
            Tok::Punct('$') => return Err(self.unsupported("variables")),
            Tok::Punct('[') => {
                self.advance()?;
                let mut items = Vec::new();
                while self.tok != Tok::Punct(']') {
                    if self.tok == Tok::Eof {
                        return Err(self.unexpected("\"]\""));
                    }
                    items.push(self.value()?);
                }
                self.advance()?;
                Value::List(items)
            }
            Tok::Punct('{') => {
                self.advance()?;
                let mut fields: Vec<(String, Value)> = Vec::new();
                while self.tok != Tok::Punct('}') {
                    let (name, npos) = self.name()?;
                    self.expect_punct(':')?;
                    let v = self.value()?;
                    if fields.iter().any(|(n, _)| *n == name) {
                        return Err(SyntaxError {
                            pos: npos,
                            message: format!("There can be only one input field named \"{name}\"."),
                        });
                    }
                    fields.push((name, v));
                }
                self.advance()?;
                Value::Object(fields)
            }
            Tok::Int(s) => {
                self.advance()?;
                Value::Int(s)
            }
            Tok::Float(s) => {
                self.advance()?;
                Value::Float(s)
            }
            Tok::Str(s) => {
                self.advance()?;
                Value::String(s)
            }
            Tok::Name(n) => {
                self.advance()?;
                match n.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => Value::Enum(n),
                }
            }
            _ => return Err(self.unexpected("value")),
        };
        self.depth -= 1;
        Ok(v)
    }
}

/// Parses a query document and picks the operation to run.
pub(crate) fn parse(src: &str, operation_name: Option<&str>) -> Result<Operation, SyntaxError> {
    Parser::new(src)?.document(operation_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_value(v: &str) -> Value {
        let op = parse(&format!("{{ f(a: {v}) }}"), None).unwrap();
        op.selection[0].arguments[0].value.clone()
    }

    #[test]
    fn string_escapes_follow_the_spec() {
        assert_eq!(
            one_value(r#""a\"b\\c\/d\n\t\r\b\f""#),
            Value::String("a\"b\\c/d\n\t\r\u{8}\u{c}".into())
        );
        assert_eq!(one_value(r#""\u00e9\u20AC""#), Value::String("é€".into()));
        assert_eq!(one_value(r#""\ud83d\ude00""#), Value::String("😀".into()));
        assert_eq!(
            one_value("\"😀 ünïcode\""),
            Value::String("😀 ünïcode".into())
        );
        for bad in [r#""\x""#, r#""\u12""#, r#""\ud83d""#, "\"abc", "\"a\nb\""] {
            let err = parse(&format!("{{ f(a: {bad}) }}"), None).unwrap_err();
            assert!(
                err.to_string().starts_with("Syntax Error GraphQL request"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn block_strings_strip_indentation() {
        assert_eq!(
            one_value("\"\"\"\n    hello\n      world\n  \"\"\""),
            Value::String("hello\n  world".into())
        );
        assert_eq!(
            one_value(r#""""a \""" b""""#),
            Value::String("a \"\"\" b".into())
        );
    }

    #[test]
    fn numbers_lists_objects_enums() {
        assert_eq!(one_value("-12"), Value::Int("-12".into()));
        assert_eq!(one_value("1.5e-3"), Value::Float("1.5e-3".into()));
        assert_eq!(
            one_value("{path: [\"k\"], operator: Equal, valueNumber: 2, x: null, b: true}"),
            Value::Object(vec![
                ("path".into(), Value::List(vec![Value::String("k".into())])),
                ("operator".into(), Value::Enum("Equal".into())),
                ("valueNumber".into(), Value::Int("2".into())),
                ("x".into(), Value::Null),
                ("b".into(), Value::Bool(true)),
            ])
        );
        for bad in ["01", "1.", "1e", "1a", ".5", "-"] {
            assert!(parse(&format!("{{ f(a: {bad}) }}"), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_selections_aliases_and_comments() {
        let q = "# comment\nquery Q {\n  Get {\n    a: Vs_x(limit: 3, nearVector: {vector: [1, 2.5, -3]}) {\n      vs_key _additional { id distance }\n    }\n  }\n}";
        let op = parse(q, None).unwrap();
        assert_eq!(op.name.as_deref(), Some("Q"));
        let get = &op.selection[0];
        assert_eq!(get.name, "Get");
        assert_eq!(get.pos, Pos { line: 3, column: 3 });
        let class = &get.selection[0];
        assert_eq!(class.response_key(), "a");
        assert_eq!(class.name, "Vs_x");
        assert_eq!(class.arguments.len(), 2);
        assert_eq!(class.selection[1].selection.len(), 2);
        assert_eq!(
            class.argument("limit").unwrap().value,
            Value::Int("3".into())
        );
    }

    #[test]
    fn unsupported_constructs_are_errors() {
        for q in [
            "{ Get { ...F } }",
            "query($v: Int) { Get { A(limit: $v) { x } } }",
            "mutation { x }",
            "{ Get @skip(if: true) { A { x } } }",
            "{ }",
            "{ Get { A() { x } } }",
            "{ Get { A { x } }",
            "",
            "{ f(a: {x: 1, x: 2}) }",
        ] {
            assert!(parse(q, None).is_err(), "{q}");
        }
        let deep = format!("{{ f(a: {}1{}) }}", "[".repeat(200), "]".repeat(200));
        assert!(parse(&deep, None).is_err());
    }

    #[test]
    fn error_locations_are_one_based() {
        let err = parse("{\n  Get {\n    A(limit: ) { x } } }", None).unwrap_err();
        assert_eq!(
            err.pos,
            Pos {
                line: 3,
                column: 14
            }
        );
        assert!(err.message.contains("Expected value"), "{}", err.message);
    }

    #[test]
    fn operation_name_selects_an_operation() {
        let q = "query A { x } query B { y }";
        assert_eq!(parse(q, Some("B")).unwrap().selection[0].name, "y");
        assert!(parse(q, None).is_err());
        assert!(parse(q, Some("C")).is_err());
    }
}
