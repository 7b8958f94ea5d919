//! Scripted tool calling: which calls a model makes on each round of a turn, with arguments
//! taken from the prompt where it says them ("17*23", "in Tokyo") and from each tool's JSON
//! schema otherwise, and the final answer built from the results in the `tool` messages.

use serde_json::Value;

use super::model::ToolScript;
use super::request::{ChatRequest, Message, ToolChoice, ToolDef};
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
    /// Markdown that answers from the tool results of this turn.
    Summary(String),
}

/// Cities a prompt may name, with their zones (lower case, longest names first).
const CITIES: &[(&str, &str, &str)] = &[
    ("san francisco", "San Francisco", "America/Los_Angeles"),
    ("los angeles", "Los Angeles", "America/Los_Angeles"),
    ("new york", "New York", "America/New_York"),
    ("sao paulo", "São Paulo", "America/Sao_Paulo"),
    ("são paulo", "São Paulo", "America/Sao_Paulo"),
    ("singapore", "Singapore", "Asia/Singapore"),
    ("shanghai", "Shanghai", "Asia/Shanghai"),
    ("beijing", "Beijing", "Asia/Shanghai"),
    ("chicago", "Chicago", "America/Chicago"),
    ("london", "London", "Europe/London"),
    ("berlin", "Berlin", "Europe/Berlin"),
    ("moscow", "Moscow", "Europe/Moscow"),
    ("sydney", "Sydney", "Australia/Sydney"),
    ("mumbai", "Mumbai", "Asia/Kolkata"),
    ("delhi", "Delhi", "Asia/Kolkata"),
    ("tokyo", "Tokyo", "Asia/Tokyo"),
    ("paris", "Paris", "Europe/Paris"),
    ("oslo", "Oslo", "Europe/Oslo"),
];

fn city_in(prompt: &str) -> Option<(&'static str, &'static str)> {
    let lower = prompt.to_lowercase();
    CITIES.iter().find(|(key, ..)| lower.contains(key)).map(|&(_, name, zone)| (name, zone))
}

/// The arithmetic in a prompt: the longest run of digits, operators and parentheses that has
/// an operator between two numbers ("What is 17*23?" → "17*23").
fn expression_in(prompt: &str) -> Option<String> {
    let is_expr = |c: char| c.is_ascii_digit() || " .+-*/^%()×÷".contains(c);
    let mut best: Option<String> = None;
    let mut current = String::new();
    for c in prompt.chars().chain(std::iter::once('\n')) {
        if is_expr(c) {
            current.push(c);
            continue;
        }
        let candidate = current.trim().trim_matches(|c: char| "+-*/^%×÷.".contains(c)).trim().to_string();
        let has_op = candidate.chars().skip(1).any(|c| "+-*/^%×÷".contains(c));
        let has_digit = candidate.chars().any(|c| c.is_ascii_digit());
        if has_op && has_digit && best.as_ref().is_none_or(|b| candidate.len() > b.len()) {
            best = Some(candidate);
        }
        current.clear();
    }
    best
}

fn asks_time(prompt: &str) -> bool {
    let lower = prompt.to_lowercase();
    ["time", "clock", "date", "what day", "hour", "o'clock"].iter().any(|w| lower.contains(w))
}

fn props(tool: &ToolDef) -> Vec<String> {
    tool.parameters["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default()
}

fn has_prop(tool: &ToolDef, names: &[&str]) -> bool {
    props(tool).iter().any(|p| names.contains(&p.as_str()))
}

const EXPR_PROPS: &[&str] = &["expression", "expr"];
const ZONE_PROPS: &[&str] = &["timezone", "tz", "time_zone"];

/// Whether the prompt asks for what `tool` does.
fn relevant(tool: &ToolDef, prompt: &str) -> bool {
    let name = tool.name.to_lowercase();
    if has_prop(tool, EXPR_PROPS) || name.contains("calc") {
        return expression_in(prompt).is_some();
    }
    if has_prop(tool, ZONE_PROPS) || name.contains("time") || name.contains("clock") {
        return asks_time(prompt);
    }
    let lower = prompt.to_lowercase();
    lower.contains(&name.replace(['_', '-'], " "))
        || name
            .split(['_', '-'])
            .filter(|w| w.len() > 3 && !matches!(*w, "current" | "tool" | "lookup" | "fetch"))
            .any(|w| lower.contains(w))
}

fn canned(prop: &str, round: usize) -> &'static str {
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

/// A string value for `prop`: from the prompt when it says it, else a canned one.
fn string_value(prop: &str, prompt: &str, round: usize) -> String {
    let from_prompt = match prop {
        "expression" | "expr" if round == 0 => expression_in(prompt),
        "timezone" | "tz" | "time_zone" if round == 0 => city_in(prompt).map(|(_, zone)| zone.to_string()),
        "city" | "location" | "place" if round == 0 => city_in(prompt).map(|(name, _)| name.to_string()),
        "query" | "q" | "search" | "text" | "message" => Some(prompt.chars().take(100).collect()),
        _ => None,
    };
    from_prompt.unwrap_or_else(|| canned(prop, round).to_string())
}

fn value_for(prop: &str, schema: &Value, prompt: &str, round: usize) -> String {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.to_string();
    }
    match schema["type"].as_str().unwrap_or("string") {
        "integer" => "3".to_string(),
        "number" => "2.5".to_string(),
        "boolean" => "true".to_string(),
        "array" => format!("[{}]", quoted(&string_value(prop, prompt, round))),
        "object" => "{}".to_string(),
        _ => quoted(&string_value(prop, prompt, round)),
    }
}

/// Arguments for `tool`: its required properties (or its first property when none is required).
pub fn arguments(tool: &ToolDef, prompt: &str, round: usize) -> String {
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
        obj = obj.raw(name, &value_for(name, &schema, prompt, round));
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

struct Planner<'a> {
    req: &'a ChatRequest,
    prompt: &'a str,
    /// The tools the model may call this round (all offered, or the one `tool_choice` names).
    offered: Vec<&'a ToolDef>,
    rng: Rng,
}

impl Planner<'_> {
    fn call(&mut self, tool: &ToolDef, round: usize, gemini: bool) -> Call {
        Call {
            id: call_id(&mut self.rng, gemini),
            name: tool.name.clone(),
            arguments: arguments(tool, self.prompt, round),
        }
    }

    /// Offered tools the prompt asks for, in the order they were offered.
    fn relevant(&self) -> Vec<&ToolDef> {
        self.offered.iter().copied().filter(|t| relevant(t, self.prompt)).collect()
    }

    /// The offered tool a `call=` directive names (see `ModelSpec::call_tool`).
    fn named(&self, wanted: &str) -> Option<ToolDef> {
        let found = if wanted == "*" {
            self.offered.first()
        } else if let Some(server) = wanted.strip_suffix(".*") {
            let prefixes = [format!("{server}__"), format!("{server}.")];
            self.offered.iter().find(|t| prefixes.iter().any(|p| t.name.starts_with(p.as_str())))
        } else {
            let wire = wanted.replacen('.', "__", 1);
            let bare = format!("__{wanted}");
            self.offered
                .iter()
                .find(|t| t.name == wanted || t.name == wire)
                .or_else(|| self.offered.iter().find(|t| t.name.ends_with(&bare)))
        };
        found.map(|t| (*t).clone())
    }

    /// The `n`th tool to use: the prompt's, then the others in offered order.
    fn nth(&self, n: usize) -> Option<&ToolDef> {
        let mut order = self.relevant();
        for t in &self.offered {
            if !order.iter().any(|o| o.name == t.name) {
                order.push(t);
            }
        }
        order.get(n).copied().or_else(|| self.offered.first().copied())
    }
}

/// The tool turn for this request, or `None` for an ordinary text answer.
pub fn plan(script: Option<ToolScript>, req: &ChatRequest, seed: u64) -> Option<ToolTurn> {
    let turn = req.current_turn();
    let rounds = turn.iter().filter(|m| m.role == "assistant" && !m.tool_calls.is_empty()).count();
    let last_is_tool = req.messages.last().is_some_and(|m| m.role == "tool");
    let offered: Vec<&ToolDef> = match &req.tool_choice {
        ToolChoice::None => Vec::new(),
        ToolChoice::Named(name) => req.tools.iter().filter(|t| &t.name == name).collect(),
        ToolChoice::Auto | ToolChoice::Required => req.tools.iter().collect(),
    };
    let done = || last_is_tool.then(|| ToolTurn::Summary(summary(req)));
    let (Some(script), false) = (script, offered.is_empty()) else { return done() };
    let mut p = Planner {
        req,
        prompt: req.last_user_text(),
        offered,
        rng: Rng::new(seed ^ (rounds as u64).wrapping_mul(0x9e37)),
    };
    let calls = match script {
        ToolScript::Auto if rounds == 0 => {
            let relevant: Vec<ToolDef> = p.relevant().into_iter().cloned().collect();
            if relevant.is_empty() && p.req.tool_choice != ToolChoice::Required {
                return done();
            }
            let tools = if relevant.is_empty() { vec![p.offered[0].clone()] } else { relevant };
            tools.iter().map(|t| p.call(t, 0, false)).collect()
        }
        ToolScript::Single if rounds == 0 => {
            let t = p.nth(0)?.clone();
            vec![p.call(&t, 0, false)]
        }
        ToolScript::Parallel if rounds == 0 => {
            let (a, b) = (p.nth(0)?.clone(), p.nth(1)?.clone());
            vec![p.call(&a, 0, false), p.call(&b, 0, false)]
        }
        ToolScript::Chain if rounds < 2 => {
            let t = p.nth(rounds)?.clone();
            // A second call of the same tool (only one offered) asks something new.
            let called = turn.iter().flat_map(|m| m.tool_calls.iter()).any(|c| c.name == t.name);
            let round = if called { rounds } else { 0 };
            vec![p.call(&t, round, false)]
        }
        ToolScript::Gemini if rounds == 0 => {
            let mut tools: Vec<ToolDef> = p.relevant().into_iter().cloned().collect();
            if tools.is_empty() {
                tools.push(p.nth(0)?.clone());
            }
            let calls = tools.iter().map(|t| p.call(t, 0, true)).collect();
            return Some(ToolTurn::Calls { calls, gemini: true });
        }
        // Broken arguments first, as weak models do; after the error result, a correct call.
        ToolScript::BadArgs if rounds < 2 => {
            let t = p.nth(0)?.clone();
            let mut c = p.call(&t, 0, false);
            if rounds == 0 {
                c.arguments.pop();
                c.arguments.push_str(",\"");
            }
            vec![c]
        }
        ToolScript::Unknown if rounds == 0 => {
            let name = if req.tools.iter().any(|t| t.name == "get_stock_price") {
                "lookup_unlisted_tool"
            } else {
                "get_stock_price"
            };
            vec![Call {
                id: call_id(&mut p.rng, false),
                name: name.to_string(),
                arguments: "{\"symbol\":\"ACME\"}".to_string(),
            }]
        }
        ToolScript::Call if rounds == 0 => {
            let wanted = super::model::ModelSpec::parse(&req.model).call_tool.unwrap_or_default();
            match p.named(&wanted) {
                Some(t) => vec![p.call(&t, 0, false)],
                None => vec![Call {
                    id: call_id(&mut p.rng, false),
                    name: wanted.replacen('.', "__", 1),
                    arguments: "{}".to_string(),
                }],
            }
        }
        ToolScript::Loop => {
            let t = p.nth(rounds % p.offered.len().max(1))?.clone();
            vec![p.call(&t, rounds, false)]
        }
        _ => return done(),
    };
    Some(ToolTurn::Calls { calls, gemini: false })
}

fn inline_code(s: &str) -> String {
    let flat: String = s.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).take(200).collect();
    if flat.contains('`') { format!("`` {flat} ``") } else { format!("`{flat}`") }
}

/// One result: its line in the list, and the short fact for the closing sentence (`None` for
/// an error).
fn fact(call: Option<&super::request::ToolCallIn>, result: &Message) -> (String, Option<String>) {
    let name = call.map_or("tool", |c| c.name.as_str());
    let text = result.text.trim();
    let args: Value = call.and_then(|c| serde_json::from_str(&c.arguments).ok()).unwrap_or(Value::Null);
    let asked = args.as_object().and_then(|o| o.values().find_map(Value::as_str));
    let line = match asked {
        Some(a) => format!("**{name}** ({}): {}", inline_code(a), inline_code(text)),
        None => format!("**{name}**: {}", inline_code(text)),
    };
    if text.starts_with("Error:") {
        return (line, None);
    }
    if let Some(expr) = EXPR_PROPS.iter().find_map(|k| args[*k].as_str()) {
        return (line, Some(format!("{expr} = **{text}**")));
    }
    if let Some(zone) = ZONE_PROPS.iter().find_map(|k| args[*k].as_str()) {
        // "2026-08-25 18:47:14 JST (UTC+09:00), Tuesday, Asia/Tokyo" reads as "18:47 on Tuesday".
        let parts: Vec<&str> = text.split(", ").collect();
        let when = match (parts.first().and_then(|d| d.get(11..16)), parts.get(1)) {
            (Some(hm), Some(day)) => format!("**{hm}** on {day}"),
            _ => format!("**{text}**"),
        };
        let place = CITIES.iter().find(|c| c.2 == zone).map_or(zone, |c| c.1);
        return (line, Some(format!("it is {when} in {place}")));
    }
    (line, Some(format!("{name} says {}", inline_code(text))))
}

/// Text answer after tool results: built from every result of the current turn.
pub fn summary(req: &ChatRequest) -> String {
    let turn = req.current_turn();
    let call_of = |id: &str| turn.iter().flat_map(|m| m.tool_calls.iter()).find(|c| c.id == id);
    let facts: Vec<(String, Option<String>)> = turn
        .iter()
        .filter(|m| m.role == "tool")
        .map(|m| fact(call_of(m.tool_call_id.as_deref().unwrap_or("")), m))
        .collect();
    if facts.is_empty() {
        return "I could not use any tool for this, so here is my answer without them.".into();
    }
    let mut out = String::from("Here is what the tools returned:\n\n");
    for (line, _) in &facts {
        out.push_str(&format!("- {line}\n"));
    }
    let ok: Vec<&str> = facts.iter().filter_map(|(_, f)| f.as_deref()).collect();
    out.push('\n');
    if ok.is_empty() {
        out.push_str("None of the tools worked, so I cannot give a checked answer; please try again.");
    } else {
        let mut sentence = ok.join(", and ");
        if let Some(first) = sentence.get(..1) {
            sentence = first.to_uppercase() + &sentence[1..];
        }
        out.push_str(&format!("So: {sentence}."));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::ModelSpec;
    use crate::sim::request::parse;

    fn req_with(prompt: &str, extra_msgs: &str, tool_choice: &str) -> ChatRequest {
        let body = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"{prompt}"}}{extra_msgs}],{tool_choice}
            "tools":[{{"type":"function","function":{{"name":"calculator","parameters":{{"type":"object","properties":{{"expression":{{"type":"string"}}}},"required":["expression"]}}}}}},
                     {{"type":"function","function":{{"name":"current_time","parameters":{{"type":"object","properties":{{"timezone":{{"type":"string"}}}}}}}}}}]}}"#
        );
        parse(body.as_bytes()).unwrap_or_default()
    }

    fn req(extra_msgs: &str) -> ChatRequest {
        req_with("what is 17*23?", extra_msgs, "")
    }

    /// A request from model `model` offering an MCP server's two tools under their wire names.
    fn mcp_req(model: &str) -> ChatRequest {
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say hello back"}}],
            "tools":[{{"type":"function","function":{{"name":"calculator","parameters":{{"type":"object","properties":{{}}}}}}}},
                     {{"type":"function","function":{{"name":"everything__echo","parameters":{{"type":"object","properties":{{"message":{{"type":"string"}}}},"required":["message"]}}}}}},
                     {{"type":"function","function":{{"name":"everything__get-sum","parameters":{{"type":"object","properties":{{"a":{{"type":"number"}},"b":{{"type":"number"}}}},"required":["a","b"]}}}}}}]}}"#
        );
        parse(body.as_bytes()).unwrap_or_default()
    }

    #[test]
    fn call_directive_calls_the_named_offered_tool() {
        let called = |model: &str| {
            let c = calls(plan(ModelSpec::parse(model).tools, &mcp_req(model), 3));
            assert_eq!(c.len(), 1, "{c:?}");
            (c[0].name.clone(), c[0].arguments.clone())
        };
        let echo = ("everything__echo".to_string(), r#"{"message":"Say hello back"}"#.to_string());
        assert_eq!(called("m@call=everything.echo"), echo);
        assert_eq!(called("m@call=everything__echo"), echo);
        assert_eq!(called("m@call=echo"), echo);
        assert_eq!(called("m@call=everything.*"), echo);
        assert_eq!(called("m@call=everything.get-sum"), ("everything__get-sum".into(), r#"{"a":2.5,"b":2.5}"#.into()));
        assert_eq!(called("m@call=*").0, "calculator");
        // Not offered: called anyway, so the client's error path answers.
        assert_eq!(called("m@call=gone.tool").0, "gone__tool");
        // After the result, an answer built from it.
        let after = r#",{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"everything__echo","arguments":"{\"message\":\"hi\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"Echo: hi"}"#;
        let model = "m@call=everything.echo";
        let mut req = mcp_req(model);
        let extra = parse(
            format!(r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say hello back"}}{after}]}}"#)
                .as_bytes(),
        )
        .unwrap();
        req.messages = extra.messages;
        let Some(ToolTurn::Summary(s)) = plan(ModelSpec::parse(model).tools, &req, 3) else {
            panic!("expected summary")
        };
        assert!(s.contains("Echo: hi"), "{s}");
    }

    fn calls(turn: Option<ToolTurn>) -> Vec<Call> {
        match turn {
            Some(ToolTurn::Calls { calls, .. }) => calls,
            other => panic!("expected calls, got {other:?}"),
        }
    }

    #[test]
    fn prompt_facts() {
        assert_eq!(expression_in("What time is it in Tokyo, and what is 17*23?").as_deref(), Some("17*23"));
        assert_eq!(expression_in("compute (2 + 3) * 4.5 please").as_deref(), Some("(2 + 3) * 4.5"));
        assert_eq!(expression_in("no maths here, 42 only"), None);
        assert_eq!(city_in("time in new york?"), Some(("New York", "America/New_York")));
        assert!(asks_time("What time is it in Tokyo"));
    }

    #[test]
    fn scripts() {
        let r = req("");
        let c = calls(plan(Some(ToolScript::Parallel), &r, 1));
        assert_eq!(c[0].arguments, r#"{"expression":"17*23"}"#);
        assert_eq!(c[1].arguments, r#"{"timezone":"Asia/Tokyo"}"#);
        let after = r#",{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"calculator","arguments":"{\"expression\":\"17*23\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"391"}"#;
        let r2 = req(after);
        assert_eq!(calls(plan(Some(ToolScript::Chain), &r2, 1)).len(), 1);
        let Some(ToolTurn::Summary(s)) = plan(Some(ToolScript::Single), &r2, 1) else {
            panic!("expected summary");
        };
        assert!(s.contains("**calculator** (`17*23`): `391`") && s.contains("So: 17*23 = **391**."), "{s}");
        assert!(plan(None, &r, 1).is_none());
    }

    #[test]
    fn auto_calls_what_the_prompt_asks_for_and_answers_from_results() {
        let r = req_with("What time is it in Tokyo, and what is 17*23?", "", "");
        let c = calls(plan(Some(ToolScript::Auto), &r, 7));
        let got: Vec<(&str, &str)> = c.iter().map(|c| (c.name.as_str(), c.arguments.as_str())).collect();
        assert_eq!(
            got,
            [("calculator", r#"{"expression":"17*23"}"#), ("current_time", r#"{"timezone":"Asia/Tokyo"}"#)]
        );
        // Nothing to calculate or look up: a plain text answer.
        assert!(plan(Some(ToolScript::Auto), &req_with("Tell me a joke", "", ""), 7).is_none());
        // tool_choice none: no calls whatever the script.
        let none = req_with("what is 17*23?", "", r#""tool_choice":"none","#);
        assert!(plan(Some(ToolScript::Loop), &none, 7).is_none());
        let results = r#",{"role":"assistant","content":null,"tool_calls":[
            {"id":"a","type":"function","function":{"name":"calculator","arguments":"{\"expression\":\"17*23\"}"}},
            {"id":"b","type":"function","function":{"name":"current_time","arguments":"{\"timezone\":\"Asia/Tokyo\"}"}}]},
            {"role":"tool","tool_call_id":"a","content":"391"},
            {"role":"tool","tool_call_id":"b","content":"2026-08-25 18:47:14 JST (UTC+09:00), Tuesday, Asia/Tokyo"}"#;
        let r = req_with("What time is it in Tokyo, and what is 17*23?", &results.replace('\n', ""), "");
        let Some(ToolTurn::Summary(s)) = plan(Some(ToolScript::Auto), &r, 7) else { panic!() };
        assert!(s.contains("So: 17*23 = **391**, and it is **18:47** on Tuesday in Tokyo."), "{s}");
    }

    #[test]
    fn bad_args_recover_and_errors_are_reported() {
        let c = calls(plan(Some(ToolScript::BadArgs), &req(""), 1));
        assert!(serde_json::from_str::<Value>(&c[0].arguments).is_err());
        let after = r#",{"role":"assistant","content":null,"tool_calls":[{"id":"x","type":"function","function":{"name":"calculator","arguments":"{\"expression\":\"17*23\","}}]},{"role":"tool","tool_call_id":"x","content":"Error: The arguments are not valid JSON"}"#;
        let c = calls(plan(Some(ToolScript::BadArgs), &req(after), 1));
        assert_eq!(c[0].arguments, r#"{"expression":"17*23"}"#);
        let Some(ToolTurn::Summary(s)) = plan(Some(ToolScript::Unknown), &req(after), 1) else { panic!() };
        assert!(s.contains("**calculator**: `Error:") && s.contains("None of the tools worked"), "{s}");
    }
}
