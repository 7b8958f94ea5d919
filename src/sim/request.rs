//! Lenient parsing of a chat-completions request body: only the fields the simulator uses,
//! content given as a string or as an array of parts, unknown fields ignored (like OpenRouter).

use serde_json::Value;

#[derive(Clone, Debug, Default)]
pub struct ToolCallIn {
    pub id: String,
    pub name: String,
    pub arguments: String,
    /// `extra_content.google.thought_signature`, as Gemini clients echo it.
    pub thought_signature: Option<String>,
}

/// The request's `tool_choice`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ToolChoice {
    #[default]
    Auto,
    /// `"none"`: answer in text.
    None,
    Required,
    /// `{"type":"function","function":{"name":…}}`: only that tool.
    Named(String),
}

#[derive(Clone, Debug, Default)]
pub struct Message {
    pub role: String,
    /// Text content (parts joined); non-text parts are ignored.
    pub text: String,
    pub tool_calls: Vec<ToolCallIn>,
    pub tool_call_id: Option<String>,
    /// The message passed back a `reasoning_details` block with a signature.
    pub reasoning_signed: bool,
    /// Prompt tokens its `image_url` and `file` parts count for. The reference gives no
    /// figures: 1,000 per image, and a file's decoded size over 8.
    pub attachment_tokens: u64,
}

fn attachment_tokens(v: &Value) -> u64 {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|p| match p["type"].as_str() {
            Some("image_url") => 1_000,
            Some("file") => (p["file"]["file_data"].as_str().map_or(0, str::len) as u64 * 3 / 4).div_ceil(8),
            _ => 0,
        })
        .sum()
}

#[derive(Clone, Debug)]
pub struct ToolDef {
    pub name: String,
    pub parameters: Value,
}

#[derive(Clone, Debug, Default)]
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    pub messages: Vec<Message>,
    pub max_tokens: Option<u32>,
    pub tools: Vec<ToolDef>,
    pub tool_choice: ToolChoice,
    /// Whether the body speaks Google's OpenAI-compatible dialect (no OpenRouter-only fields):
    /// such clients must echo thought signatures, OpenRouter's clients need not.
    pub gemini_dialect: bool,
    /// The reasoning effort asked for: `reasoning.effort`, or the `reasoning_effort` shorthand;
    /// a `reasoning` object without an effort (`{enabled:true}`, `{max_tokens:N}`) asks for
    /// the default, `medium` (§2.5), and `{enabled:false}` for none.
    pub reasoning_effort: Option<String>,
    /// Web search asked for: the `openrouter:web_search` server tool, the `web` plugin, or the
    /// deprecated `:online` model suffix (§2.1, §9).
    pub web_search: bool,
    /// `reasoning.exclude`: think, bill the tokens, but leave the text out.
    pub reasoning_excluded: bool,
    /// `response_format` as sent (structured output), absent or `null` when not asked for.
    pub response_format: Option<Value>,
    /// OpenRouter's sticky-routing key (§2.1 `session_id`): requests that share it reach the
    /// same provider, whose prompt cache is then warm.
    pub session_id: Option<String>,
    /// Size of the serialized `tools` array; tool schemas count as prompt tokens.
    tools_chars: usize,
}

fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
            texts.join("\n")
        }
        _ => String::new(),
    }
}

/// Parses the body; the error string becomes a 400 message.
pub fn parse(body: &[u8]) -> Result<ChatRequest, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("Invalid JSON in request body: {e}"))?;
    if !v.is_object() {
        return Err("Request body must be a JSON object".to_string());
    }
    let msgs = v["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| "Input required: specify \"prompt\" or \"messages\"".to_string())?;
    let messages = msgs
        .iter()
        .map(|m| Message {
            role: m["role"].as_str().unwrap_or("user").to_string(),
            text: content_text(&m["content"]),
            attachment_tokens: attachment_tokens(&m["content"]),
            tool_calls: m["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| ToolCallIn {
                    id: c["id"].as_str().unwrap_or_default().to_string(),
                    name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
                    arguments: c["function"]["arguments"].as_str().unwrap_or_default().to_string(),
                    thought_signature: c["extra_content"]["google"]["thought_signature"].as_str().map(str::to_string),
                })
                .collect(),
            tool_call_id: m["tool_call_id"].as_str().map(str::to_string),
            reasoning_signed: m["reasoning_details"]
                .as_array()
                .is_some_and(|d| d.iter().any(|b| b["signature"].as_str().is_some_and(|s| !s.is_empty()))),
        })
        .collect();
    let tools: Vec<ToolDef> = v["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let f = &t["function"];
            Some(ToolDef { name: f["name"].as_str()?.to_string(), parameters: f["parameters"].clone() })
        })
        .collect();
    let max = v["max_completion_tokens"].as_u64().or_else(|| v["max_tokens"].as_u64());
    let tool_choice = match &v["tool_choice"] {
        Value::String(s) if s == "none" => ToolChoice::None,
        Value::String(s) if s == "required" => ToolChoice::Required,
        Value::Object(o) => match o.get("function").and_then(|f| f["name"].as_str()) {
            Some(name) => ToolChoice::Named(name.to_string()),
            None => ToolChoice::Auto,
        },
        _ => ToolChoice::Auto,
    };
    let reasoning = &v["reasoning"];
    let reasoning_effort = match reasoning {
        Value::Object(r) => Some(match (r.get("effort").and_then(Value::as_str), r.get("enabled")) {
            (Some(e), _) => e.to_string(),
            (None, Some(Value::Bool(false))) => "none".to_string(),
            (None, _) => "medium".to_string(),
        }),
        _ => v["reasoning_effort"].as_str().map(str::to_string),
    };
    let model = v["model"].as_str().unwrap_or("openrouter/auto");
    let web_search = v["tools"].as_array().is_some_and(|t| t.iter().any(|t| t["type"] == "openrouter:web_search"))
        || v["plugins"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == "web"))
        || model.split('@').next().is_some_and(|m| m.ends_with(":online"));
    Ok(ChatRequest {
        session_id: v["session_id"].as_str().filter(|s| !s.is_empty()).map(str::to_string),
        web_search,
        reasoning_effort,
        reasoning_excluded: reasoning["exclude"].as_bool().unwrap_or(false),
        // OpenRouter falls back to the account default; the sim's default is the auto router.
        model: v["model"].as_str().unwrap_or("openrouter/auto").to_string(),
        stream: v["stream"].as_bool().unwrap_or(false),
        messages,
        max_tokens: max.map(|m| m.clamp(1, u64::from(u32::MAX)) as u32),
        tools_chars: if tools.is_empty() { 0 } else { v["tools"].to_string().len() },
        tools,
        tool_choice,
        response_format: v.get("response_format").filter(|f| !f.is_null()).cloned(),
        gemini_dialect: ["usage", "provider", "models", "reasoning", "plugins"].iter().all(|k| v.get(k).is_none()),
    })
}

impl ChatRequest {
    pub fn last_user_text(&self) -> &str {
        self.messages.iter().rev().find(|m| m.role == "user").map(|m| m.text.as_str()).unwrap_or("")
    }

    /// Deterministic estimate: ceil(chars/4) per message content + 4 per message (+ tools).
    pub fn prompt_tokens(&self) -> u64 {
        let per_msg: u64 = self.messages.iter().map(Message::tokens).sum();
        per_msg + (self.tools_chars as u64).div_ceil(4)
    }

    /// Each message as (a hash of what it says, its prompt tokens): what a prompt cache matches
    /// a later request's prefix against.
    pub fn message_keys(&self) -> Vec<(u64, u64)> {
        self.messages
            .iter()
            .map(|m| {
                let calls: Vec<&[u8]> =
                    m.tool_calls.iter().flat_map(|c| [c.id.as_bytes(), c.arguments.as_bytes()]).collect();
                let mut parts = vec![m.role.as_bytes(), m.text.as_bytes()];
                parts.extend(calls);
                (super::util::fnv1a(&parts), m.tokens())
            })
            .collect()
    }

    /// A Gemini-style call (`function-call-…` id) that came back without its thought signature.
    pub fn lost_thought_signature(&self) -> bool {
        self.messages
            .iter()
            .flat_map(|m| m.tool_calls.iter())
            .any(|c| c.id.starts_with("function-call-") && c.thought_signature.is_none())
    }

    /// A tool-calling assistant step of this turn came back without the signed reasoning it was
    /// sent with (as Anthropic's thinking models require, through OpenRouter's
    /// `reasoning_details`).
    pub fn lost_reasoning(&self) -> bool {
        self.current_turn().iter().any(|m| m.role == "assistant" && !m.tool_calls.is_empty() && !m.reasoning_signed)
    }

    /// Messages after the last user message (the current turn's tool traffic).
    pub fn current_turn(&self) -> &[Message] {
        let start = self.messages.iter().rposition(|m| m.role == "user").map(|i| i + 1).unwrap_or(0);
        &self.messages[start..]
    }
}

impl Message {
    fn tokens(&self) -> u64 {
        (self.text.chars().count() as u64).div_ceil(4) + 4 + 8 * self.tool_calls.len() as u64 + self.attachment_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts_and_rejects_garbage() {
        let r = parse(br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hello there"}]}],"max_tokens":5}"#);
        let r = r.unwrap_or_default();
        assert_eq!(r.last_user_text(), "hello there");
        assert_eq!(r.prompt_tokens(), 3 + 4);
        assert_eq!(r.max_tokens, Some(5));
        assert!(parse(b"{nope").is_err());
        assert!(parse(br#"{"messages":[]}"#).is_err());
        assert!(parse(b"[1]").is_err());
    }
}
