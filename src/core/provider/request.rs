//! Request bodies per backend: each gets only the fields it accepts (Gemini's compatibility
//! endpoint rejects unknown fields with a 400, so OpenRouter's extras never reach it).

use serde_json::{Map, Value, json};

use super::ProviderKind;
use crate::core::protocol::{ChatMessage, ModelSettings, Role, ToolSpec};

/// Whether the model may call the tools it is offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// The model decides (the usual case).
    #[default]
    Auto,
    /// Tools stay listed (the conversation refers to them, and OpenRouter wants them on every
    /// request of a tool loop) but the model must answer in text: the loop's last step.
    None,
}

/// Everything needed to build one chat-completions body.
pub struct BodyParts<'a> {
    pub kind: ProviderKind,
    pub upstream_model: &'a str,
    pub messages: &'a [ChatMessage],
    pub settings: &'a ModelSettings,
    pub tools: &'a [ToolSpec],
    pub tool_choice: ToolChoice,
}

/// The JSON body of a streaming chat-completions request.
pub fn build_body(parts: &BodyParts<'_>) -> Value {
    let BodyParts { kind, upstream_model, messages, settings, tools, tool_choice } = *parts;
    let mut body = Map::new();
    body.insert("model".into(), Value::from(upstream_model));
    body.insert("messages".into(), Value::Array(wire_messages(kind, messages, settings.system.as_deref())));
    body.insert("stream".into(), Value::Bool(true));
    // OpenRouter always sends usage; `usage.include` is a deprecated no-op kept for older
    // deployments. `stream_options.include_usage` is what every other OpenAI-compatible server
    // (LiteLLM, vLLM, llama.cpp, OpenAI, Gemini) needs to report token counts, and it goes to
    // OpenRouter-kind providers too, which may be such a server behind `--base-url`. A server
    // that refuses the field gets the request again without it (the client's job).
    if kind == ProviderKind::Openrouter {
        body.insert("usage".into(), json!({"include": true}));
    }
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(t) = settings.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = settings.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(m) = settings.max_tokens {
        body.insert("max_tokens".into(), json!(m));
    }
    if let Some(stop) = &settings.stop {
        body.insert("stop".into(), json!(stop));
    }
    if let Some(seed) = settings.seed
        && kind != ProviderKind::Gemini
    {
        body.insert("seed".into(), json!(seed));
    }
    if let Some(effort) = &settings.reasoning_effort {
        match kind {
            ProviderKind::Openrouter => body.insert("reasoning".into(), json!({"effort": effort})),
            _ => body.insert("reasoning_effort".into(), json!(effort)),
        };
    }
    if let Some(format) = &settings.response_format {
        body.insert("response_format".into(), format.clone());
    }
    if kind == ProviderKind::Openrouter {
        if let Some(provider) = &settings.provider {
            body.insert("provider".into(), provider.clone());
        }
        if !settings.fallbacks.is_empty() {
            body.insert("models".into(), json!(settings.fallbacks));
        }
        if let Some(session) = settings.session_id.as_deref().filter(|s| !s.is_empty()) {
            // At most 256 characters (§2.1); cut on a char boundary.
            let session: String = session.chars().take(256).collect();
            body.insert("session_id".into(), Value::from(session));
        }
    }
    if !tools.is_empty() {
        let mut tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        if let Some(web) = web_search_tool(kind, settings) {
            tools.push(web);
        }
        body.insert("tools".into(), Value::Array(tools));
        // Ollama rejects `tool_choice`; "auto" is everyone else's default anyway.
        if kind != ProviderKind::OpenaiCompatible {
            let choice = match tool_choice {
                ToolChoice::Auto => "auto",
                ToolChoice::None => "none",
            };
            body.insert("tool_choice".into(), Value::from(choice));
        }
    }
    if tools.is_empty()
        && let Some(web) = web_search_tool(kind, settings)
    {
        body.insert("tools".into(), json!([web]));
    }
    Value::Object(body)
}

/// Why `model` (served by `provider`, named `provider_name`) cannot search the web, if it
/// cannot: only OpenRouter runs searches for its models.
pub fn web_search_refusal(kind: ProviderKind, provider_name: &str, model: &str) -> Option<String> {
    (kind != ProviderKind::Openrouter).then(|| {
        format!("{model} cannot search the web: web search is OpenRouter's, and {provider_name} does not offer it")
    })
}

/// OpenRouter's web search as its current server tool (§2.1: `{"type":"openrouter:web_search"}`;
/// the `:online` suffix and the `web` plugin are its deprecated forms, §9/§12). OpenRouter
/// runs the searches itself, so no call comes back to the client. Other backends have no
/// such tool: the chatroom and `ask` refuse web search for them before sending.
fn web_search_tool(kind: ProviderKind, settings: &ModelSettings) -> Option<Value> {
    (kind == ProviderKind::Openrouter && settings.web_search == Some(true))
        .then(|| json!({"type": "openrouter:web_search"}))
}

fn wire_messages(kind: ProviderKind, messages: &[ChatMessage], system: Option<&str>) -> Vec<Value> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    let has_system = messages.iter().any(|m| m.role == Role::System);
    if let Some(system) = system.filter(|s| !s.trim().is_empty())
        && !has_system
    {
        out.push(json!({"role": "system", "content": system}));
    }
    for m in messages {
        let mut obj = Map::new();
        obj.insert("role".into(), serde_json::to_value(m.role).unwrap_or(Value::Null));
        if m.role == Role::Assistant && !m.tool_calls.is_empty() && m.content.is_empty() {
            obj.insert("content".into(), Value::Null);
        } else if !m.attachments.is_empty() {
            obj.insert("content".into(), content_parts(kind, m));
        } else {
            obj.insert("content".into(), Value::from(m.content.as_str()));
        }
        if !m.tool_calls.is_empty() {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    let mut call = json!({"id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments}});
                    // Gemini requires its thought signature echoed back on the next request.
                    if kind == ProviderKind::Gemini
                        && let Some(sig) = &c.thought_signature
                    {
                        call["extra_content"] = json!({"google": {"thought_signature": sig}});
                    }
                    call
                })
                .collect();
            obj.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(id) = &m.tool_call_id {
            obj.insert("tool_call_id".into(), Value::from(id.as_str()));
        }
        // OpenRouter's own field; other backends are not sent what they do not know.
        if kind == ProviderKind::Openrouter && m.role == Role::Assistant && !m.reasoning_details.is_empty() {
            obj.insert("reasoning_details".into(), Value::Array(m.reasoning_details.clone()));
        }
        out.push(Value::Object(obj));
    }
    out
}

/// A message with attachments as content parts (§2.2): its text, then each image as
/// `image_url` and each PDF as `file`, both as `data:` URLs. `file` parts are OpenRouter's; the
/// other backends are sent images only (their chat APIs take `image_url` data URLs) and a note
/// in place of a PDF. A file that changed or went away since it was attached is replaced by a
/// note saying so, and the request still goes out.
fn content_parts(kind: ProviderKind, m: &ChatMessage) -> Value {
    let mut parts = vec![json!({"type": "text", "text": m.content})];
    for a in &m.attachments {
        let is_image = crate::core::attach::modality(a) == "image";
        if !is_image && kind != ProviderKind::Openrouter {
            parts.push(
                json!({"type": "text", "text": format!("[{} not sent: PDFs go to OpenRouter models only]", a.name)}),
            );
            continue;
        }
        match crate::core::attach::data_url(a) {
            Ok(url) if is_image => parts.push(json!({"type": "image_url", "image_url": {"url": url}})),
            Ok(url) => parts.push(json!({"type": "file", "file": {"filename": a.name, "file_data": url}})),
            Err(e) => parts.push(json!({"type": "text", "text": format!("[attachment not sent: {e}]")})),
        }
    }
    Value::Array(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::protocol::ToolCall;

    fn parts<'a>(kind: ProviderKind, messages: &'a [ChatMessage], settings: &'a ModelSettings) -> BodyParts<'a> {
        BodyParts { kind, upstream_model: "m", messages, settings, tools: &[], tool_choice: ToolChoice::Auto }
    }

    #[test]
    fn gemini_gets_only_openai_fields() {
        let settings = ModelSettings {
            temperature: Some(0.4),
            max_tokens: Some(512),
            reasoning_effort: Some("low".into()),
            provider: Some(json!({"order": ["x"]})),
            fallbacks: vec!["other".into()],
            seed: Some(7),
            ..Default::default()
        };
        let msgs = [ChatMessage::user("Why is the sky blue?")];
        let body = build_body(&parts(ProviderKind::Gemini, &msgs, &settings));
        let keys: Vec<&str> = body.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        for forbidden in ["provider", "models", "reasoning", "usage", "seed", "top_k"] {
            assert!(!keys.contains(&forbidden), "{forbidden} sent to gemini: {body}");
        }
        assert_eq!(body["reasoning_effort"], "low");
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn response_format_reaches_every_backend() {
        let format = json!({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}});
        let settings = ModelSettings { response_format: Some(format.clone()), ..Default::default() };
        let msgs = [ChatMessage::user("hi")];
        for kind in
            [ProviderKind::Openrouter, ProviderKind::Gemini, ProviderKind::Openai, ProviderKind::OpenaiCompatible]
        {
            assert_eq!(build_body(&parts(kind, &msgs, &settings))["response_format"], format, "{kind:?}");
        }
        assert!(
            build_body(&parts(ProviderKind::Openrouter, &msgs, &ModelSettings::default()))
                .get("response_format")
                .is_none()
        );
    }

    #[test]
    fn openrouter_gets_routing_and_reasoning_object() {
        let settings = ModelSettings {
            reasoning_effort: Some("high".into()),
            provider: Some(json!({"sort": "throughput"})),
            fallbacks: vec!["openai/gpt-4o-mini".into()],
            system: Some("Be terse.".into()),
            ..Default::default()
        };
        let msgs = [ChatMessage::user("hi")];
        let body = build_body(&parts(ProviderKind::Openrouter, &msgs, &settings));
        assert_eq!(body["reasoning"]["effort"], "high");
        assert_eq!(body["provider"]["sort"], "throughput");
        assert_eq!(body["models"][0], "openai/gpt-4o-mini");
        assert!(body.get("session_id").is_none(), "no session unless given one");
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["content"], "hi");
        assert_eq!(body["stream_options"]["include_usage"], true, "another server may sit behind --base-url");
    }

    #[test]
    fn session_id_goes_to_openrouter_only() {
        let settings = ModelSettings { session_id: Some("s".repeat(300)), ..Default::default() };
        let msgs = [ChatMessage::user("hi")];
        let body = build_body(&parts(ProviderKind::Openrouter, &msgs, &settings));
        assert_eq!(body["session_id"].as_str().map(str::len), Some(256));
        assert!(build_body(&parts(ProviderKind::Gemini, &msgs, &settings)).get("session_id").is_none());
    }

    #[test]
    fn web_search_is_openrouter_server_tool_beside_function_tools() {
        let settings = ModelSettings { web_search: Some(true), ..Default::default() };
        let msgs = [ChatMessage::user("news?")];
        let body = build_body(&parts(ProviderKind::Openrouter, &msgs, &settings));
        assert_eq!(body["tools"], json!([{"type": "openrouter:web_search"}]));
        assert!(body.get("tool_choice").is_none(), "no function tools, no tool_choice");
        let tools = [ToolSpec { name: "calc".into(), description: "d".into(), parameters: json!({}) }];
        let body = build_body(&BodyParts { tools: &tools, ..parts(ProviderKind::Openrouter, &msgs, &settings) });
        assert_eq!(body["tools"][0]["function"]["name"], "calc");
        assert_eq!(body["tools"][1]["type"], "openrouter:web_search");
        let body = build_body(&parts(ProviderKind::Gemini, &msgs, &settings));
        assert!(body.get("tools").is_none(), "{body}");
        assert!(web_search_refusal(ProviderKind::Gemini, "gemini", "gemini:x").is_some());
        assert!(web_search_refusal(ProviderKind::Openrouter, "openrouter", "a/b").is_none());
    }

    #[test]
    fn tool_messages_round_trip_with_gemini_signature() {
        let mut assistant = ChatMessage::assistant("");
        assistant.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "calculator".into(),
            arguments: "{\"expression\":\"1+1\"}".into(),
            thought_signature: Some("sig".into()),
        });
        let mut tool = ChatMessage::new(Role::Tool, "2");
        tool.tool_call_id = Some("c1".into());
        let msgs = [ChatMessage::user("1+1?"), assistant, tool];
        let settings = ModelSettings::default();
        let body = build_body(&parts(ProviderKind::Gemini, &msgs, &settings));
        assert_eq!(body["messages"][1]["content"], Value::Null);
        assert_eq!(body["messages"][1]["tool_calls"][0]["extra_content"]["google"]["thought_signature"], "sig");
        assert_eq!(body["messages"][2]["tool_call_id"], "c1");
        let body = build_body(&parts(ProviderKind::Openrouter, &msgs, &settings));
        assert!(body["messages"][1]["tool_calls"][0].get("extra_content").is_none());
    }

    #[test]
    fn reasoning_details_go_back_to_openrouter_only() {
        let mut assistant = ChatMessage::assistant("");
        assistant.tool_calls.push(ToolCall {
            id: "c1".into(),
            name: "calculator".into(),
            arguments: "{}".into(),
            thought_signature: None,
        });
        let block = json!({"type": "reasoning.text", "text": "think", "signature": "EqQB", "index": 0});
        assistant.reasoning_details = vec![block.clone()];
        let msgs = [ChatMessage::user("q"), assistant, ChatMessage::tool_result("c1", "2")];
        let settings = ModelSettings::default();
        let body = build_body(&parts(ProviderKind::Openrouter, &msgs, &settings));
        assert_eq!(body["messages"][1]["reasoning_details"], json!([block]));
        for kind in [ProviderKind::Openai, ProviderKind::Gemini] {
            let body = build_body(&parts(kind, &msgs, &settings));
            assert!(body["messages"][1].get("reasoning_details").is_none(), "{kind:?}");
        }
    }
}
