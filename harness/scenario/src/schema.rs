//! The JSON schema of the scenario format, generated from the [`spec`](crate::spec)
//! declarations (`fleetgate schema` prints it).

use serde_json::{Map, Value, json};

use crate::spec::{Kind, ROOT, TableSpec};
use crate::units;

/// The JSON schema (draft 2020-12) of a scenario file read as JSON.
pub fn json_schema() -> Value {
    let mut schema = table(&ROOT);
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert(
            "$id".into(),
            json!("https://fleetgate.dev/schema/scenario-v1.json"),
        );
        map.insert("title".into(), json!("fleetgate scenario (format v1)"));
    }
    schema
}

fn table(spec: &TableSpec) -> Value {
    let mut properties = Map::new();
    for key in spec.keys {
        let mut property = kind(&key.kind);
        if let Value::Object(map) = &mut property {
            map.insert("description".into(), json!(key.doc));
            if let Some(default) = key.default.and_then(toml_literal) {
                map.insert("default".into(), default);
            }
        }
        properties.insert(key.name.into(), property);
    }
    let required: Vec<&str> = spec.keys.iter().filter(|k| k.required).map(|k| k.name).collect();
    json!({
        "type": "object",
        "description": spec.doc,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn toml_literal(text: &str) -> Option<Value> {
    let value: toml::Value = toml::from_str(&format!("v = {text}")).ok()?;
    serde_json::to_value(value.get("v")?).ok()
}

fn pattern_string(pattern: &str, help: &str) -> Value {
    json!({ "type": "string", "pattern": pattern, "description": help })
}

fn kind(kind: &Kind) -> Value {
    const UNIT: &str = "(us|ms|s|m|h|d)";
    match kind {
        Kind::Str => json!({ "type": "string" }),
        Kind::Ident => json!({ "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$" }),
        Kind::Int { min, max } => json!({ "type": "integer", "minimum": min, "maximum": max }),
        Kind::Float { min, max } => json!({ "type": "number", "minimum": min, "maximum": max }),
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::Duration => pattern_string(&format!("^([0-9]*\\.?[0-9]+{UNIT})+$"), units::DURATION_HELP),
        Kind::SignedDuration => pattern_string(
            &format!("^[+-]?([0-9]*\\.?[0-9]+{UNIT})+$"),
            units::SIGNED_DURATION_HELP,
        ),
        Kind::Rate => pattern_string("^[0-9]*\\.?[0-9]+/(s|m|h)$", units::RATE_HELP),
        Kind::Size => json!({
            "description": units::SIZE_HELP,
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+(B|KB|MB|KiB|MiB)?$" }
            ]
        }),
        Kind::Threshold => json!({
            "oneOf": [
                { "type": "number" },
                { "type": "string", "pattern": format!("^(([0-9]*\\.?[0-9]+{UNIT})+|[0-9]*\\.?[0-9]+%|[0-9]*\\.?[0-9]+/(s|m|h))$") }
            ]
        }),
        Kind::Enum(choices) => json!({ "type": "string", "enum": choices }),
        Kind::Table(spec) => table(spec),
        Kind::Array(inner) => json!({ "type": "array", "items": self::kind(inner) }),
        Kind::OneOf(alternatives) => {
            let all: Vec<Value> = alternatives.iter().map(self::kind).collect();
            json!({ "oneOf": all })
        }
        Kind::Map { keys, value } => json!({
            "type": "object",
            "description": format!("keys: {keys}"),
            "additionalProperties": self::kind(value),
        }),
    }
}
