//! Parsing a `where` filter against the class schema: operators, value keys and their types,
//! version-dependent operators, index requirements.

use serde_json::Value;

use super::{Filter, Op, Target};
use crate::settings::Settings;
use crate::store::ClassData;

const VALUE_KEYS: &[(&str, &str, bool)] = &[
    ("valueText", "text", false),
    ("valueString", "text", false),
    ("valueInt", "int", false),
    ("valueNumber", "number", false),
    ("valueBoolean", "boolean", false),
    ("valueDate", "date", false),
    ("valueTextArray", "text", true),
    ("valueStringArray", "text", true),
    ("valueIntArray", "int", true),
    ("valueNumberArray", "number", true),
    ("valueBooleanArray", "boolean", true),
    ("valueDateArray", "date", true),
];

fn value_name(dt: &str) -> String {
    let mut c = dt.chars();
    match c.next() {
        Some(f) => format!("value{}{}", f.to_uppercase(), c.as_str()),
        None => "value".into(),
    }
}

/// Parses and validates a filter against `class`.
pub(crate) fn parse(v: &Value, class: &ClassData, settings: &Settings) -> Result<Filter, String> {
    parse_at(v, class, settings, 0)
}

fn parse_at(
    v: &Value,
    class: &ClassData,
    settings: &Settings,
    depth: usize,
) -> Result<Filter, String> {
    if depth > 64 {
        return Err("filter is nested too deeply".into());
    }
    let Some(obj) = v.as_object() else {
        return Err("a where filter must be an object".into());
    };
    let Some(op_name) = obj.get("operator").and_then(Value::as_str) else {
        return Err("operator is not set".into());
    };
    let operands = || -> Result<Vec<Filter>, String> {
        let ops = obj
            .get("operands")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if ops.is_empty() {
            return Err(format!("no children for operator: {op_name}"));
        }
        let mut out = Vec::new();
        let mut errs = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            match parse_at(o, class, settings, depth + 1) {
                Ok(f) => out.push(f),
                Err(e) => errs.push(format!("child operand at position {i}: {e}")),
            }
        }
        if errs.is_empty() {
            Ok(out)
        } else {
            Err(errs.join(", "))
        }
    };
    let op = match op_name {
        "And" => return operands().map(Filter::And),
        "Or" => return operands().map(Filter::Or),
        "Not" if settings.has_not_operator() => {
            let mut ops = operands()?;
            if ops.len() != 1 {
                return Err(format!(
                    "too many children for operator: Not. Expected 1, given {}",
                    ops.len()
                ));
            }
            return Ok(Filter::Not(Box::new(ops.remove(0))));
        }
        "Equal" => Op::Equal,
        "NotEqual" => Op::NotEqual,
        "GreaterThan" => Op::GreaterThan,
        "GreaterThanEqual" => Op::GreaterThanEqual,
        "LessThan" => Op::LessThan,
        "LessThanEqual" => Op::LessThanEqual,
        "Like" => Op::Like,
        "IsNull" => Op::IsNull,
        "ContainsAny" => Op::ContainsAny,
        "ContainsAll" => Op::ContainsAll,
        "ContainsNone" if settings.has_not_operator() => Op::ContainsNone,
        "WithinGeoRange" => {
            return Err("the Weaviate emulator does not emulate WithinGeoRange".into());
        }
        other => return Err(format!("unrecognized operator: {other}")),
    };
    let path: Vec<&str> = obj
        .get("path")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let prop_name = match path.as_slice() {
        [p] => *p,
        [] => return Err("filter path is empty".into()),
        _ => {
            return Err(
                "the Weaviate emulator does not emulate filters on cross-references".into(),
            );
        }
    };
    let given: Vec<(&str, &str, bool, &Value)> = VALUE_KEYS
        .iter()
        .filter_map(|(k, t, arr)| {
            obj.get(*k)
                .filter(|v| !v.is_null())
                .map(|v| (*k, *t, *arr, v))
        })
        .collect();
    let [(key, vtype, is_array, raw)] = given.as_slice() else {
        return Err(if given.is_empty() {
            format!("got operator {op_name:?} without a value")
        } else {
            "a filter must have exactly one value".into()
        });
    };
    let values: Vec<Value> = if *is_array {
        raw.as_array()
            .cloned()
            .ok_or_else(|| format!("{key} must be an array"))?
    } else {
        vec![(*raw).clone()]
    };
    let target = if prop_name == "id" || prop_name == "_id" {
        if *vtype != "text" {
            return Err(
                r#"using ["_id"] to filter by uuid: must use "valueText" to specify the id"#.into(),
            );
        }
        Target::Id
    } else {
        let Some(prop) = class.prop(prop_name) else {
            return Err(format!(
                "no such prop with name '{prop_name}' found in class '{}' in the schema. Check your schema files for which properties in this class are available",
                class.name()
            ));
        };
        if op == Op::IsNull {
            if *vtype != "boolean" {
                return Err(format!(
                    "operator IsNull requires a booleanValue, got {:?} instead",
                    value_name(vtype)
                ));
            }
            if !class.index_null_state {
                return Err("Nullstate must be indexed to be filterable! Add `indexNullState: true` to the invertedIndexConfig".into());
            }
        } else {
            let base = prop.base_type();
            let base = if base == "uuid" { "text" } else { base };
            if *vtype != base {
                return Err(format!(
                    "data type filter cannot use {:?} on type {:?}, use {:?} instead",
                    value_name(vtype),
                    prop.data_type,
                    value_name(prop.base_type())
                ));
            }
            let text = prop.base_type() == "text";
            let ranged = matches!(
                op,
                Op::GreaterThan | Op::GreaterThanEqual | Op::LessThan | Op::LessThanEqual
            );
            let indexed = prop.filterable
                || (text && prop.searchable && !ranged)
                || (ranged && prop.rangeable);
            if !indexed {
                return Err(format!(
                    "Filtering by property '{prop_name}' requires inverted index. Is `indexFilterable` option of property '{prop_name}' enabled? Set it to 'true' or leave empty"
                ));
            }
            if op == Op::Like && !text {
                return Err(format!(
                    "operator Like is not supported for data type {:?}",
                    prop.data_type
                ));
            }
        }
        Target::Prop(prop.clone())
    };
    for v in &values {
        let ok = match *vtype {
            "text" | "date" => v.is_string(),
            "int" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => false,
        };
        if !ok {
            return Err(format!("{key}: invalid value {v}"));
        }
    }
    Ok(Filter::Leaf { op, target, values })
}
