//! Structured output (`response_format`): a request asking for a JSON schema gets a JSON value
//! valid for that schema (every property, enums honoured, array and number bounds kept) instead
//! of markdown; `json_object` gets a small JSON object. Deterministic from the answer's seed.

use serde_json::{Map, Value, json};

use super::request::ChatRequest;
use super::util::Rng;

/// Nesting beyond this is answered with `null` (a schema may be recursive through `$ref`s the
/// simulator does not follow).
const MAX_DEPTH: usize = 12;

/// Words the generated strings are made of, besides the prompt's own.
const WORDS: &[&str] = &[
    "the", "answers", "agree", "on", "the", "main", "point", "but", "differ", "in", "detail", "and", "one", "is",
    "clearer", "than", "the", "others", "about", "the", "edge", "cases",
];

/// The answer text for a request with `response_format`, or `None` for a plain request.
pub fn answer(req: &ChatRequest, seed: u64) -> Option<String> {
    let format = req.response_format.as_ref()?;
    let mut rng = Rng::new(seed ^ 0x5C4E_3A11);
    let value = match format["type"].as_str() {
        Some("json_schema") => instance(&format["json_schema"]["schema"], &mut rng, 0),
        Some("json_object") => json!({"answer": sentence(&mut rng, 8)}),
        _ => return None,
    };
    Some(serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into()))
}

/// A value valid for `schema` (the subset of JSON Schema that structured outputs use).
pub fn instance(schema: &Value, rng: &mut Rng, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(values) = schema["enum"].as_array().filter(|v| !v.is_empty()) {
        return values[rng.below(values.len() as u64) as usize].clone();
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema[key].as_array().and_then(|a| a.first()) {
            return instance(first, rng, depth + 1);
        }
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.as_str(),
        // ["string", "null"]: the first type that is not null.
        Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (name, sub) in props {
                    out.insert(name.clone(), instance(sub, rng, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = schema["minItems"].as_u64().unwrap_or(1);
            let max = schema["maxItems"].as_u64().unwrap_or(min.max(2)).max(min);
            let n = rng.range(min, max);
            Value::Array((0..n).map(|_| instance(&schema["items"], rng, depth + 1)).collect())
        }
        "integer" => {
            let lo = schema["minimum"].as_i64().unwrap_or(0);
            let hi = schema["maximum"].as_i64().unwrap_or(lo.saturating_add(10)).max(lo);
            json!(lo.saturating_add(rng.below(hi.abs_diff(lo).saturating_add(1)) as i64))
        }
        "number" => {
            let lo = schema["minimum"].as_f64().unwrap_or(0.0);
            let hi = schema["maximum"].as_f64().unwrap_or(lo + 1.0).max(lo);
            json!(lo + (hi - lo) * (rng.below(1001) as f64 / 1000.0))
        }
        "boolean" => json!(rng.chance(50)),
        "null" => Value::Null,
        _ => {
            let words = 6 + rng.below(8) as usize;
            json!(sentence(rng, words))
        }
    }
}

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s: String = (0..words.max(1)).map(|_| rng.pick(WORDS)).collect::<Vec<_>>().join(" ");
    if let Some(first) = s.get(..1) {
        s.replace_range(..1, &first.to_ascii_uppercase());
    }
    s.push('.');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::compare::analyst::{self, AnalystReply};

    fn request(format: Value) -> ChatRequest {
        let body =
            json!({"model": "m", "messages": [{"role": "user", "content": "compare"}], "response_format": format});
        super::super::request::parse(body.to_string().as_bytes()).expect("request")
    }

    #[test]
    fn the_analyst_schema_gets_a_valid_analysis() {
        let labels = ["Model A", "Model B", "Model C"];
        for seed in 0..20 {
            let text = answer(&request(analyst::response_format(&labels)), seed).expect("structured");
            let AnalystReply::Structured(a) = analyst::parse_reply(&text) else { panic!("not an analysis: {text}") };
            assert!(labels.contains(&a.best.answer.as_str()), "{text}");
            assert!(a.errors.iter().all(|e| labels.contains(&e.answer.as_str())), "{text}");
            assert!(!a.agreements.is_empty() && !a.best.why.is_empty(), "{text}");
        }
    }

    #[test]
    fn bounds_and_types_are_kept() {
        let schema = json!({"type": "object", "properties": {
            "n": {"type": "integer", "minimum": 3, "maximum": 5},
            "x": {"type": "number", "minimum": -1.0, "maximum": 1.0},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
            "maybe": {"type": ["string", "null"]},
            "flag": {"type": "boolean"},
            "kind": {"const": "fixed"}
        }});
        for seed in 0..20 {
            let text =
                answer(&request(json!({"type": "json_schema", "json_schema": {"name": "t", "schema": schema}})), seed)
                    .expect("structured");
            let v: Value = serde_json::from_str(&text).expect("JSON");
            assert!((3..=5).contains(&v["n"].as_i64().unwrap()), "{v}");
            assert!((-1.0..=1.0).contains(&v["x"].as_f64().unwrap()), "{v}");
            assert!((2..=3).contains(&v["tags"].as_array().unwrap().len()), "{v}");
            assert!(v["maybe"].is_string() && v["flag"].is_boolean() && v["kind"] == "fixed", "{v}");
        }
    }

    #[test]
    fn plain_requests_and_json_mode() {
        let plain = super::super::request::parse(br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(answer(&plain.expect("request"), 1), None);
        let text = answer(&request(json!({"type": "json_object"})), 1).expect("json mode");
        assert!(serde_json::from_str::<Value>(&text).expect("JSON").is_object());
        assert_eq!(answer(&request(json!({"type": "text"})), 1), None);
    }
}
