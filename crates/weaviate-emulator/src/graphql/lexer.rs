//! The tokenizer: punctuators, names, numbers, strings with every spec escape (surrogate pairs
//! included) and block strings; comments and commas are ignored; positions are 1-based.

use super::syntax::{Pos, SyntaxError};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Punct(char),
    Spread,
    Name(String),
    Int(String),
    Float(String),
    Str(String),
    Eof,
}

impl Tok {
    pub(crate) fn describe(&self) -> String {
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

pub(crate) struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    line_start: usize,
    _src: &'a str,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Self {
            chars: src.chars().collect(),
            i: 0,
            line: 1,
            line_start: 0,
            _src: src,
        }
    }

    pub(crate) fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.i - self.line_start + 1,
        }
    }

    pub(crate) fn err(&self, pos: Pos, message: impl Into<String>) -> SyntaxError {
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

    pub(crate) fn next(&mut self) -> Result<(Tok, Pos), SyntaxError> {
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
pub(crate) fn block_string_value(raw: &str) -> String {
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
