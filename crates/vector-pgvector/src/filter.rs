//! Translation of a [`Filter`] into a SQL boolean expression over the `filt` JSONB column, with
//! every field name and value as a bound parameter of a known type.
//!
//! The SQL text depends on the filter's shape, and shapes are unbounded, so statements built
//! here are never prepared by name: they run unnamed (`query_typed`, one round trip, nothing
//! left on the server), which is why every parameter carries its type.
//!
//! The expression follows [`Filter::matches`] exactly. Every leaf is wrapped in
//! `COALESCE(.., false)`, so it is never NULL: SQL's three-valued logic would otherwise make
//! `NOT (price > 5)` NULL (not true) for a record without `price`, while the contract says
//! `Not` matches it. Keyword fields may hold a string or an array of strings; JSONB's `@>`
//! treats both alike (`"a" @> "a"` and `["a","b"] @> "a"` are true), which is exactly the
//! contract's "Eq on an array means contains". Numbers are compared as `float8`, as the
//! reference compares `f64`s, and only when `jsonb_typeof` says the value is a number.

use tokio_postgres::types::{ToSql, Type};
use vector_backend::{Filter, FilterValue};

/// A bound parameter and its type.
pub(crate) type Param = (Box<dyn ToSql + Sync + Send>, Type);

/// Builds SQL text and its parameters.
#[derive(Default)]
pub(crate) struct SqlBuilder {
    params: Vec<Param>,
}

impl SqlBuilder {
    /// A builder whose first parameters are the caller's own.
    pub(crate) fn with(params: Vec<Param>) -> Self {
        Self { params }
    }

    /// Binds a value and returns its placeholder with an explicit cast (the text then reads
    /// the same as what the server runs).
    pub(crate) fn bind(&mut self, value: impl ToSql + Sync + Send + 'static, ty: Type) -> String {
        let cast = match ty {
            Type::FLOAT8_ARRAY => "float8[]".to_owned(),
            Type::JSONB_ARRAY => "jsonb[]".to_owned(),
            ref t => t.name().to_owned(),
        };
        self.params.push((Box::new(value), ty));
        format!("${}::{cast}", self.params.len())
    }

    /// The parameters, as `query_typed` takes them.
    pub(crate) fn params(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.params
            .iter()
            .map(|(v, t)| (&**v as &(dyn ToSql + Sync), t.clone()))
            .collect()
    }

    /// The SQL condition for `filter`: never NULL, true exactly when `Filter::matches` is.
    pub(crate) fn condition(&mut self, filter: &Filter) -> String {
        match filter {
            Filter::Eq { field, value } => self.eq(field, value),
            Filter::Ne { field, value } => format!("NOT {}", self.eq(field, value)),
            Filter::Gt { field, value } => self.cmp(field, ">", value),
            Filter::Gte { field, value } => self.cmp(field, ">=", value),
            Filter::Lt { field, value } => self.cmp(field, "<", value),
            Filter::Lte { field, value } => self.cmp(field, "<=", value),
            Filter::In { field, values } => self.is_in(field, values),
            Filter::Nin { field, values } => format!("NOT {}", self.is_in(field, values)),
            Filter::Exists { field } => {
                let f = self.field(field);
                format!("COALESCE(jsonb_typeof(filt -> {f}) <> 'null', false)")
            }
            Filter::And { filters } => self.group(filters, " AND "),
            Filter::Or { filters } => self.group(filters, " OR "),
            Filter::Not { filter } => format!("NOT {}", self.condition(filter)),
        }
    }

    fn group(&mut self, filters: &[Filter], joiner: &str) -> String {
        let parts: Vec<String> = filters.iter().map(|f| self.condition(f)).collect();
        format!("({})", parts.join(joiner))
    }

    fn field(&mut self, field: &str) -> String {
        self.bind(field.to_owned(), Type::TEXT)
    }

    /// The field as float8 when it holds a number, NULL otherwise (the CASE keeps the cast
    /// from ever seeing a non-number).
    fn number(&mut self, field: &str) -> String {
        let f = self.field(field);
        format!("(CASE WHEN jsonb_typeof(filt -> {f}) = 'number' THEN (filt -> {f})::float8 END)")
    }

    fn eq(&mut self, field: &str, value: &FilterValue) -> String {
        match value {
            FilterValue::Number(n) => {
                let num = self.number(field);
                let v = self.bind(*n, Type::FLOAT8);
                format!("COALESCE({num} = {v}, false)")
            }
            FilterValue::String(_) | FilterValue::Bool(_) => {
                let f = self.field(field);
                let v = self.bind(json(value), Type::JSONB);
                format!("COALESCE((filt -> {f}) @> {v}, false)")
            }
        }
    }

    fn cmp(&mut self, field: &str, op: &str, value: &FilterValue) -> String {
        match value {
            FilterValue::Number(n) => {
                let num = self.number(field);
                let v = self.bind(*n, Type::FLOAT8);
                format!("COALESCE({num} {op} {v}, false)")
            }
            // Validation allows ranges on number fields only; anything else matches nothing,
            // as in the reference.
            _ => "false".to_owned(),
        }
    }

    fn is_in(&mut self, field: &str, values: &[FilterValue]) -> String {
        let numbers: Vec<f64> = values
            .iter()
            .filter_map(|v| {
                if let FilterValue::Number(n) = v {
                    Some(*n)
                } else {
                    None
                }
            })
            .collect();
        let others: Vec<serde_json::Value> = values
            .iter()
            .filter(|v| !matches!(v, FilterValue::Number(_)))
            .map(json)
            .collect();
        let mut parts = Vec::new();
        if !numbers.is_empty() {
            let num = self.number(field);
            let v = self.bind(numbers, Type::FLOAT8_ARRAY);
            parts.push(format!("COALESCE({num} = ANY({v}), false)"));
        }
        if !others.is_empty() {
            let f = self.field(field);
            let v = self.bind(others, Type::JSONB_ARRAY);
            parts.push(format!("COALESCE((filt -> {f}) @> ANY({v}), false)"));
        }
        format!("({})", parts.join(" OR "))
    }
}

fn json(v: &FilterValue) -> serde_json::Value {
    match v {
        FilterValue::Bool(b) => serde_json::Value::Bool(*b),
        FilterValue::Number(n) => serde_json::json!(n),
        FilterValue::String(s) => serde_json::Value::String(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_fields_are_parameters_only() {
        let f = Filter::and([
            Filter::eq("name", "'; DROP TABLE x; --"),
            Filter::not(Filter::gt("price", 5)),
            Filter::nin("tags", ["a", "b"]),
            Filter::is_in("price", [1.0, 2.0]),
        ]);
        let mut b = SqlBuilder::with(vec![
            (Box::new(0_i64), Type::INT8),
            (Box::new(0_i64), Type::INT8),
        ]);
        let sql = b.condition(&f);
        assert!(
            !sql.contains("DROP") && !sql.contains("name") && !sql.contains("price"),
            "{sql}"
        );
        assert!(
            sql.starts_with("(COALESCE((filt -> $3::text) @> $4::jsonb, false) AND NOT COALESCE("),
            "{sql}"
        );
        assert_eq!(b.params.len(), 10);
    }
}
