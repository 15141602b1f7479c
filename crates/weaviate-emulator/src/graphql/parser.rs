//! The parser: one query document into an [`Operation`], refusing what the emulator does not
//! model (fragments, directives, variables, mutations, subscriptions) with an error.

use super::lexer::{Lexer, Tok};
use super::syntax::{Argument, Field, Operation, Pos, SyntaxError, Value};

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
