//! `POST /v1/graphql`: a real parser for the executable subset Weaviate clients send (aliases
//! included, so several `Get` fields, even on one class, can share a request), validation
//! against the schema as graphql-go does it before anything runs, and execution of `Get` and
//! `Aggregate` with Weaviate's limit and threshold rules.
//!
//! - `syntax.rs`, `lexer.rs`, `parser.rs`: the query text into an [`syntax::Operation`];
//! - `validate.rs`: unknown classes, properties and arguments, argument types;
//! - `run.rs`: filter first (allow-list), then top-k by distance, then the inclusive distance
//!   or certainty cut-off; `QUERY_DEFAULTS_LIMIT` without limit or threshold, up to
//!   `QUERY_MAXIMUM_RESULTS` with a threshold alone.

mod lexer;
mod parser;
mod run;
mod syntax;
mod validate;

use serde_json::{Map, Value, json};

pub(crate) use run::vector_json;
use syntax::Pos;

use crate::settings::Settings;
use crate::store::Db;

/// One GraphQL error in Weaviate's response shape.
#[derive(Clone, Debug)]
struct GqlError {
    pub(super) message: String,
    pub(super) pos: Pos,
    pub(super) path: Option<Vec<String>>,
}

impl GqlError {
    fn to_json(&self) -> Value {
        json!({
            "locations": [{"column": self.pos.column, "line": self.pos.line}],
            "message": self.message,
            "path": self.path,
        })
    }
}

/// The outcome of a GraphQL request: an HTTP status and a body.
pub(crate) struct GraphqlOutcome {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// Runs a `POST /v1/graphql` body.
pub(crate) fn execute(db: &Db, settings: &Settings, body: &Value) -> GraphqlOutcome {
    let unprocessable = |m: &str| GraphqlOutcome {
        status: 422,
        body: json!({"error": [{"message": m}]}),
    };
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.trim().is_empty() {
        return unprocessable("query cannot be empty");
    }
    if db.classes.is_empty() {
        return unprocessable(
            "no graphql provider present, this is most likely because no schema is present. Import a schema first!",
        );
    }
    let op_name = body
        .get("operationName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let op = match parser::parse(query, op_name) {
        Ok(op) => op,
        Err(e) => {
            return validation_failure(vec![GqlError {
                message: e.to_string(),
                pos: e.pos,
                path: None,
            }]);
        }
    };
    // Validation (unknown fields/arguments/types) happens before any execution, as in graphql-go.
    let mut errors = Vec::new();
    for top in &op.selection {
        match top.name.as_str() {
            "Get" => validate::validate_get(db, top, &mut errors),
            "Aggregate" => validate::validate_aggregate(db, top, &mut errors),
            other => errors.push(GqlError {
                message: format!("Cannot query field \"{other}\" on type \"WeaviateObj\"."),
                pos: top.pos,
                path: None,
            }),
        }
    }
    if !errors.is_empty() {
        return validation_failure(errors);
    }
    let mut data = Map::new();
    let mut exec_errors = Vec::new();
    for top in &op.selection {
        let mut out = Map::new();
        for class_field in &top.selection {
            let class = db.class_exact(&class_field.name);
            let path = vec![
                top.response_key().to_owned(),
                class_field.response_key().to_owned(),
            ];
            let result = match (top.name.as_str(), class) {
                ("Get", Some(c)) => run::run_get(c, settings, class_field),
                ("Aggregate", Some(c)) => run::run_aggregate(c, settings, class_field),
                _ => Err("class not found".to_owned()),
            };
            match result {
                Ok(v) => {
                    out.insert(class_field.response_key().to_owned(), v);
                }
                Err(message) => {
                    out.insert(class_field.response_key().to_owned(), Value::Null);
                    exec_errors.push(GqlError {
                        message,
                        pos: class_field.pos,
                        path: Some(path),
                    });
                }
            }
        }
        data.insert(top.response_key().to_owned(), Value::Object(out));
    }
    let mut body = json!({"data": data});
    if !exec_errors.is_empty() {
        body["errors"] = exec_errors.iter().map(GqlError::to_json).collect();
    }
    GraphqlOutcome { status: 200, body }
}

fn validation_failure(errors: Vec<GqlError>) -> GraphqlOutcome {
    GraphqlOutcome {
        status: 200,
        body: json!({"errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>()}),
    }
}
