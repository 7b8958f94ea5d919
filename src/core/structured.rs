//! Structured output (issue 13): the `response_format` a pane or `ask` asks for (a JSON schema
//! from a file, or plain JSON mode), which models the catalog says take it, and checking an
//! answer against it.

use std::path::Path;

use serde_json::{Value, json};

use crate::core::catalog::ModelInfo;

/// Largest schema file read (a schema is sent with every request, so it costs prompt tokens).
pub const MAX_SCHEMA_BYTES: u64 = 256 * 1024;

/// `{"type":"json_object"}`: any JSON object, no schema (§2.1).
pub fn json_mode() -> Value {
    json!({"type": "json_object"})
}

/// `{"type":"json_schema", json_schema:{name, strict:true, schema}}` (§2.6). The name is the
/// file's stem reduced to the characters OpenAI-style names allow.
pub fn json_schema(name: &str, schema: Value) -> Value {
    let mut name: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').take(64).collect();
    if name.is_empty() {
        name = "answer".into();
    }
    json!({"type": "json_schema", "json_schema": {"name": name, "strict": true, "schema": schema}})
}

/// Read a JSON Schema file into a `response_format`; the error says what is wrong with it.
pub fn load_schema(path: &Path) -> Result<Value, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("Cannot read the schema {shown}: {e}"))?;
    if meta.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "The schema {shown} is {} KiB; schemas up to {} KiB are sent",
            meta.len() / 1024,
            MAX_SCHEMA_BYTES / 1024
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("Cannot read the schema {shown}: {e}"))?;
    let schema: Value =
        serde_json::from_str(&text).map_err(|e| format!("The schema {shown} is not valid JSON: {e}"))?;
    if !schema.is_object() {
        return Err(format!("The schema {shown} must be a JSON object (a JSON Schema)"));
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("answer");
    Ok(json_schema(stem, schema))
}

/// Why `model` cannot be asked for `format`, if it cannot: a schema needs
/// `structured_outputs` in the catalog's parameters; JSON mode needs `response_format` (or
/// `structured_outputs`).
pub fn refusal(model: &ModelInfo, format: &Value) -> Option<String> {
    let has = |p: &str| model.supported_parameters.iter().any(|s| s == p);
    let id = &model.id;
    if format["type"] == "json_schema" {
        return (!has("structured_outputs"))
            .then(|| format!("{id} does not take a JSON schema (the catalog lists no structured_outputs for it)"));
    }
    (!has("response_format") && !has("structured_outputs"))
        .then(|| format!("{id} has no JSON mode (the catalog lists no response_format for it)"))
}

/// The answer as JSON when it is what `format` asked for; otherwise what is wrong. JSON in a
/// fenced `json` code block is accepted (some models wrap their JSON). The schema check covers
/// the part of JSON Schema that structured outputs use (`type`, `properties`, `required`,
/// `enum`, `items`, `additionalProperties: false`); other keywords are not checked.
pub fn check(format: &Value, text: &str) -> Result<Value, String> {
    let value = parse_answer(text).ok_or_else(|| "the answer is not valid JSON".to_string())?;
    if let Some(schema) = format["json_schema"].get("schema") {
        conforms(schema, &value, "$")?;
    } else if !value.is_object() {
        return Err("JSON mode asked for an object".into());
    }
    Ok(value)
}

/// The text as JSON, allowing one surrounding ```json fence.
pub fn parse_answer(text: &str) -> Option<Value> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.trim_end().strip_suffix("```"))
        .unwrap_or(t);
    serde_json::from_str(t.trim()).ok()
}

fn conforms(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(v)
    {
        return Err(format!("{at} is not one of the allowed values"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| is_type(v, t)) {
        return Err(format!("{at} should be {}", types.join(" or ")));
    }
    if let Value::Object(obj) = v {
        let props = schema["properties"].as_object();
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !obj.contains_key(name) {
                return Err(format!("{at} lacks the required \"{name}\""));
            }
        }
        for (name, value) in obj {
            match props.and_then(|p| p.get(name)) {
                Some(sub) => conforms(sub, value, &format!("{at}.{name}"))?,
                None if schema["additionalProperties"] == Value::Bool(false) => {
                    return Err(format!("{at} has \"{name}\", which the schema does not allow"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            conforms(item_schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> Value {
        json_schema(
            "weather",
            json!({"type": "object", "properties": {"temp_c": {"type": "number"}, "sky": {"enum": ["clear", "cloudy"]}},
                   "required": ["temp_c"], "additionalProperties": false}),
        )
    }

    #[test]
    fn answers_are_checked_against_the_schema() {
        let f = weather();
        assert_eq!(check(&f, r#"{"temp_c": 4.5, "sky": "clear"}"#).ok(), Some(json!({"temp_c": 4.5, "sky": "clear"})));
        assert!(check(&f, "```json\n{\"temp_c\": 4}\n```").is_ok(), "a fenced answer is accepted");
        assert!(check(&f, "It is 4 degrees").unwrap_err().contains("not valid JSON"));
        assert!(check(&f, r#"{"sky": "clear"}"#).unwrap_err().contains("required \"temp_c\""));
        assert!(check(&f, r#"{"temp_c": "warm"}"#).unwrap_err().contains("$.temp_c should be number"));
        assert!(check(&f, r#"{"temp_c": 1, "sky": "green"}"#).unwrap_err().contains("allowed values"));
        assert!(check(&f, r#"{"temp_c": 1, "wind": 3}"#).unwrap_err().contains("\"wind\""));
        assert!(check(&json_mode(), "[1]").is_err());
        assert!(check(&json_mode(), "{}").is_ok());
    }

    #[test]
    fn schema_names_are_cleaned() {
        assert_eq!(json_schema("my schema!.v2", json!({}))["json_schema"]["name"], "myschemav2");
        assert_eq!(json_schema("", json!({}))["json_schema"]["name"], "answer");
    }
}
