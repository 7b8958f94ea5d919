//! Scripted tool calling: which calls a `tools*` directive makes on each round of a turn,
//! plausible arguments from each tool's JSON schema, and the final answer quoting the results.

use serde_json::Value;

use super::model::ToolScript;
use super::request::{ChatRequest, ToolDef};
use super::util::{Obj, Rng, quoted};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

/// What this turn answers with, when tools are involved.
#[derive(Clone, Debug)]
pub enum ToolTurn {
    Calls {
        calls: Vec<Call>,
        gemini: bool,
    },
    /// Markdown that quotes the tool results of this turn.
    Summary(String),
}

fn string_value(prop: &str, round: usize) -> &'static str {
    let pick = |a: &'static str, b: &'static str| if round == 0 { a } else { b };
    match prop {
        "expression" | "expr" => pick("17*23", "391/17"),
        "timezone" | "tz" | "time_zone" => pick("Asia/Tokyo", "Europe/Oslo"),
        "city" | "location" | "place" => pick("Oslo", "Tokyo"),
        "query" | "q" | "search" | "text" => pick("rust async streams", "tokio select"),
        "url" => "https://example.org",
        "path" | "file" | "filename" => "src/main.rs",
        "language" | "lang" => "en",
        "date" => "2026-08-25",
        "unit" | "units" => "celsius",
        "symbol" | "ticker" => "ACME",
        _ => pick("example", "sample"),
    }
}

fn value_for(prop: &str, schema: &Value, round: usize) -> String {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.to_string();
    }
    match schema["type"].as_str().unwrap_or("string") {
        "integer" => "3".to_string(),
        "number" => "2.5".to_string(),
        "boolean" => "true".to_string(),
        "array" => format!("[{}]", quoted(string_value(prop, round))),
        "object" => "{}".to_string(),
        _ => quoted(string_value(prop, round)),
    }
}

/// Arguments for `tool`: its required properties (or its first property when none is required).
pub fn arguments(tool: &ToolDef, round: usize) -> String {
    let props = tool.parameters["properties"].as_object();
    let mut names: Vec<String> = tool.parameters["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    if names.is_empty() {
        names.extend(props.and_then(|p| p.keys().next().cloned()));
    }
    let mut obj = Obj::new();
    for name in &names {
        let schema = props.and_then(|p| p.get(name)).cloned().unwrap_or(Value::Null);
        obj = obj.raw(name, &value_for(name, &schema, round));
    }
    obj.end()
}

fn call_id(rng: &mut Rng, gemini: bool) -> String {
    if gemini {
        format!("function-call-{}", rng.next_u64() % 10_000_000_000_000_000_000)
    } else {
        format!("call_{}", rng.alnum(24))
    }
}

fn call(rng: &mut Rng, tool: &ToolDef, round: usize, gemini: bool) -> Call {
    Call { id: call_id(rng, gemini), name: tool.name.clone(), arguments: arguments(tool, round) }
}

/// The tool turn for this request, or `None` for an ordinary text answer.
pub fn plan(script: Option<ToolScript>, req: &ChatRequest, seed: u64) -> Option<ToolTurn> {
    let turn = req.current_turn();
    let rounds = turn.iter().filter(|m| m.role == "assistant" && !m.tool_calls.is_empty()).count();
    let last_is_tool = req.messages.last().is_some_and(|m| m.role == "tool");
    let mut rng = Rng::new(seed ^ (rounds as u64).wrapping_mul(0x9e37));
    let first = req.tools.first();
    match (script, first) {
        (Some(ToolScript::Chain), Some(t0)) if last_is_tool && rounds < 2 => {
            let t = req.tools.get(1).unwrap_or(t0);
            Some(ToolTurn::Calls { calls: vec![call(&mut rng, t, rounds, false)], gemini: false })
        }
        _ if last_is_tool => Some(ToolTurn::Summary(summary(req))),
        (Some(script), Some(t0)) => {
            let calls = match script {
                ToolScript::Single | ToolScript::Chain => vec![call(&mut rng, t0, 0, false)],
                ToolScript::Gemini => vec![call(&mut rng, t0, 0, true)],
                ToolScript::Parallel => {
                    let t1 = req.tools.get(1).unwrap_or(t0);
                    vec![call(&mut rng, t0, 0, false), call(&mut rng, t1, 0, false)]
                }
                ToolScript::BadArgs => {
                    let mut c = call(&mut rng, t0, 0, false);
                    // Drop the closing brace and leave a dangling key, as weak models do.
                    c.arguments.pop();
                    c.arguments.push_str(",\"");
                    vec![c]
                }
                ToolScript::Unknown => {
                    let name = if req.tools.iter().any(|t| t.name == "get_stock_price") {
                        "lookup_unlisted_tool"
                    } else {
                        "get_stock_price"
                    };
                    vec![Call {
                        id: call_id(&mut rng, false),
                        name: name.to_string(),
                        arguments: "{\"symbol\":\"ACME\"}".to_string(),
                    }]
                }
            };
            Some(ToolTurn::Calls { calls, gemini: script == ToolScript::Gemini })
        }
        _ => None,
    }
}

fn inline_code(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).take(200).collect();
    if flat.contains('`') { format!("`` {flat} ``") } else { format!("`{flat}`") }
}

/// Text answer after tool results: quotes every result of the current turn.
pub fn summary(req: &ChatRequest) -> String {
    let turn = req.current_turn();
    let name_of = |id: &str| {
        turn.iter()
            .flat_map(|m| m.tool_calls.iter())
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .unwrap_or_else(|| "tool".to_string())
    };
    let mut out = String::from("Here is what the tools returned:\n\n");
    for m in turn.iter().filter(|m| m.role == "tool") {
        let name = name_of(m.tool_call_id.as_deref().unwrap_or(""));
        out.push_str(&format!("- **{name}**: {}\n", inline_code(&m.text)));
    }
    out.push_str("\nBased on these results, the answer to your question is above; ask if you need more detail.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sim::request::parse;

    fn req(extra_msgs: &str) -> ChatRequest {
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"what is 17*23?"}}{extra_msgs}],
            "tools":[{{"type":"function","function":{{"name":"calculator","parameters":{{"type":"object","properties":{{"expression":{{"type":"string"}}}},"required":["expression"]}}}}}},
                     {{"type":"function","function":{{"name":"current_time","parameters":{{"type":"object","properties":{{"timezone":{{"type":"string"}}}}}}}}}}]}}"#
        );
        parse(body.as_bytes()).unwrap_or_default()
    }

    #[test]
    fn scripts() {
        let r = req("");
        let Some(ToolTurn::Calls { calls, .. }) = plan(Some(ToolScript::Parallel), &r, 1) else {
            panic!("expected calls");
        };
        assert_eq!(calls[0].arguments, r#"{"expression":"17*23"}"#);
        assert_eq!(calls[1].arguments, r#"{"timezone":"Asia/Tokyo"}"#);
        let after = r#",{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"calculator","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"391"}"#;
        let r2 = req(after);
        assert!(matches!(plan(Some(ToolScript::Chain), &r2, 1), Some(ToolTurn::Calls { .. })));
        let Some(ToolTurn::Summary(s)) = plan(Some(ToolScript::Single), &r2, 1) else {
            panic!("expected summary");
        };
        assert!(s.contains("**calculator**: `391`"));
        assert!(plan(None, &r, 1).is_none());
    }
}
