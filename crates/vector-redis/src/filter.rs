//! Translation of the portable [`Filter`] into RediSearch query syntax (DIALECT 2), following
//! `Filter::matches` exactly.
//!
//! No user text reaches the query: values are TAG-encoded (see [`crate::schema`]) into
//! lower-case alphanumerics, numbers are printed by Rust, and field names become fixed
//! attribute names (`t0`, `n0`, `p`). The missing-field rules come for free from the encoding:
//! a record without the field has no TAG or NUMERIC value, so `@t0:{..}` and `@n0:[..]` do not
//! match it, while negations (`Ne`, `Nin`, `Not`) do.

use vector_backend::{Filter, NamespaceConfig};

use crate::schema::{F_PRESENT, enc_str, enc_value, fmt_num, num_attr, tag_attr};

/// The RediSearch query for `filter`, which must already be validated against `config`.
pub(crate) fn to_query(filter: &Filter, config: &NamespaceConfig) -> String {
    let mut out = String::new();
    write(filter, config, &mut out);
    out
}

fn position(config: &NamespaceConfig, field: &str) -> usize {
    // Validation guarantees the field is declared; position 0 is never reached otherwise.
    config
        .filterable
        .keys()
        .position(|k| k == field)
        .unwrap_or(0)
}

fn tag_clause(config: &NamespaceConfig, field: &str, values: &[String], out: &mut String) {
    out.push('@');
    out.push_str(&tag_attr(position(config, field)));
    out.push_str(":{");
    out.push_str(&values.join(" | "));
    out.push('}');
}

fn range(config: &NamespaceConfig, field: &str, low: &str, high: &str, out: &mut String) {
    out.push('@');
    out.push_str(&num_attr(position(config, field)));
    out.push_str(":[");
    out.push_str(low);
    out.push(' ');
    out.push_str(high);
    out.push(']');
}

fn number(v: &vector_backend::FilterValue) -> f64 {
    match v {
        vector_backend::FilterValue::Number(n) => *n,
        // Validation allows range operators on number fields with number literals only.
        _ => f64::NAN,
    }
}

fn write(filter: &Filter, config: &NamespaceConfig, out: &mut String) {
    match filter {
        Filter::Eq { field, value } => tag_clause(config, field, &[enc_value(value)], out),
        Filter::Ne { field, value } => {
            out.push_str("-(");
            tag_clause(config, field, &[enc_value(value)], out);
            out.push(')');
        }
        Filter::In { field, values } => {
            let v: Vec<String> = values.iter().map(enc_value).collect();
            tag_clause(config, field, &v, out);
        }
        Filter::Nin { field, values } => {
            let v: Vec<String> = values.iter().map(enc_value).collect();
            out.push_str("-(");
            tag_clause(config, field, &v, out);
            out.push(')');
        }
        Filter::Gt { field, value } => {
            range(
                config,
                field,
                &format!("({}", fmt_num(number(value))),
                "+inf",
                out,
            );
        }
        Filter::Gte { field, value } => range(config, field, &fmt_num(number(value)), "+inf", out),
        Filter::Lt { field, value } => {
            range(
                config,
                field,
                "-inf",
                &format!("({}", fmt_num(number(value))),
                out,
            );
        }
        Filter::Lte { field, value } => range(config, field, "-inf", &fmt_num(number(value)), out),
        Filter::Exists { field } => {
            out.push('@');
            out.push_str(F_PRESENT);
            out.push_str(":{");
            out.push_str(&enc_str(field));
            out.push('}');
        }
        Filter::And { filters } => group(filters, " ", config, out),
        Filter::Or { filters } => group(filters, " | ", config, out),
        Filter::Not { filter } => {
            out.push_str("-(");
            write(filter, config, out);
            out.push(')');
        }
    }
}

fn group(filters: &[Filter], sep: &str, config: &NamespaceConfig, out: &mut String) {
    out.push('(');
    for (i, f) in filters.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push('(');
        write(f, config, out);
        out.push(')');
    }
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use vector_backend::FieldType;

    #[test]
    fn translates_every_operator_without_user_text() {
        let c = NamespaceConfig::new(2)
            .with_field("color", FieldType::Keyword)
            .with_field("price", FieldType::Number);
        let q = |f: Filter| to_query(&f, &c);
        assert_eq!(q(Filter::eq("color", "a b")), "@t0:{s612062}");
        assert_eq!(q(Filter::ne("color", "a")), "-(@t0:{s61})");
        assert_eq!(q(Filter::is_in("color", ["a", "b"])), "@t0:{s61 | s62}");
        assert_eq!(q(Filter::gt("price", 2.5)), "@n1:[(2.5 +inf]");
        assert_eq!(q(Filter::lte("price", -4)), "@n1:[-inf -4]");
        assert_eq!(
            q(Filter::exists("price")),
            format!("@p:{{{}}}", enc_str("price"))
        );
        assert_eq!(
            q(Filter::or([
                Filter::eq("color", "x"),
                Filter::not(Filter::lt("price", 0))
            ])),
            "((@t0:{s78}) | (-(@n1:[-inf (0])))"
        );
        let hostile = q(Filter::eq("color", "x\" } } { @name:{*} | -y"));
        assert!(
            hostile
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"@:{}".contains(&b)),
            "{hostile}"
        );
    }
}
