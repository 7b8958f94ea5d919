//! The analyst: one model asked to judge the answers of a turn. Builds its request (the prompt
//! and every answer, labelled by blind label in a blind round), the JSON schema sent as
//! `response_format` when the analyst's catalog entry lists structured outputs, the plain-text
//! fallback prompt otherwise, and parses the reply back into an `Analysis`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::vote::blind_label;
use crate::core::catalog::ModelInfo;
use crate::core::catalog::pricing::{Pricing, estimate_prompt_cost, estimate_prompt_tokens};
use crate::core::protocol::{ChatMessage, Role};

/// Name of the schema in `response_format.json_schema.name`.
pub const SCHEMA_NAME: &str = "answer_analysis";

/// One answer shown to the analyst, under `label` ("Model A" in a blind round, the model id in
/// an open one). `model` never reaches the analyst in a blind round; it is there to map the
/// analyst's verdict back to a pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalystAnswer {
    pub label: String,
    pub model: String,
    pub text: String,
}

impl AnalystAnswer {
    /// The answers of a turn, in pane order, labelled for the analyst. Blind: "Model A", "Model
    /// B", … in the order given (pass the panes in their blind order). Open: the model id, with
    /// "#2", "#3" after a model that has several panes so every label is distinct.
    pub fn label_all(answers: &[(String, String)], blind: bool) -> Vec<AnalystAnswer> {
        answers
            .iter()
            .enumerate()
            .map(|(i, (model, text))| {
                let label = if blind {
                    blind_label(i)
                } else {
                    let earlier = answers[..i].iter().filter(|(m, _)| m == model).count();
                    if earlier == 0 { model.clone() } else { format!("{model} #{}", earlier + 1) }
                };
                AnalystAnswer { label, model: model.clone(), text: text.clone() }
            })
            .collect()
    }
}

/// What to send to the analyst model.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalystRequest {
    pub messages: Vec<ChatMessage>,
    /// The `response_format` body field (a JSON schema) when the analyst takes structured
    /// output; `None` for the plain-text fallback.
    pub response_format: Option<Value>,
}

impl AnalystRequest {
    /// The request for `prompt` and its `answers` (at least one). `structured`: whether the
    /// analyst's catalog entry supports structured output (`supports_structured_output`).
    pub fn build(prompt: &str, answers: &[AnalystAnswer], structured: bool) -> AnalystRequest {
        let labels: Vec<&str> = answers.iter().map(|a| a.label.as_str()).collect();
        let instructions = if structured { STRUCTURED_INSTRUCTIONS } else { TEXT_INSTRUCTIONS };
        let mut user = String::new();
        user.push_str("The prompt the models were given:\n\n<prompt>\n");
        user.push_str(prompt.trim_end());
        user.push_str("\n</prompt>\n");
        for a in answers {
            user.push_str(&format!("\n<answer label=\"{}\">\n{}\n</answer>\n", a.label, a.text.trim_end()));
        }
        user.push_str(&format!("\nThe answers' labels are: {}.", labels.join(", ")));
        let message = |role, content: String| ChatMessage {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning_details: Vec::new(),
            attachments: Vec::new(),
        };
        AnalystRequest {
            messages: vec![message(Role::System, instructions.to_owned()), message(Role::User, user)],
            response_format: structured.then(|| response_format(&labels)),
        }
    }

    /// Prompt tokens the request will probably use (an estimate, as for a draft: see
    /// `estimate_prompt_tokens`), the schema included: the analyst's prompt holds every answer,
    /// so the status line shows its cost before it is sent.
    pub fn estimated_prompt_tokens(&self) -> u64 {
        let schema = self.response_format.as_ref().map_or(0, |f| f.to_string().len() as u64);
        estimate_prompt_tokens(&self.messages).saturating_add(schema.div_ceil(4))
    }

    /// What the prompt alone will probably cost at `pricing` (the answer comes on top).
    pub fn estimated_prompt_cost(&self, pricing: &Pricing) -> Option<Decimal> {
        estimate_prompt_cost(pricing, self.estimated_prompt_tokens())
    }
}

const STRUCTURED_INSTRUCTIONS: &str = "You compare answers that several language models gave to the same prompt. \
Report where the answers agree, where they contradict each other (naming the answers involved by their labels), \
factual or code errors you can spot in any answer, and which answer is best for the prompt and why. \
Refer to answers only by their labels. Be concise and specific. Reply with JSON that follows the given schema.";

const TEXT_INSTRUCTIONS: &str = "You compare answers that several language models gave to the same prompt. \
Refer to answers only by their labels. Be concise and specific. Reply in plain text with exactly these four \
sections, each heading on its own line:\n\
Agreements: where the answers agree.\n\
Contradictions: where they contradict each other, naming the answers involved.\n\
Errors: factual or code errors you can spot, naming the answer.\n\
Best: the label of the best answer for the prompt, then why.";

/// The JSON schema of the analysis; `best.answer` must be one of `labels`.
pub fn schema(labels: &[&str]) -> Value {
    let text = json!({"type": "string"});
    json!({
        "type": "object",
        "properties": {
            "agreements": {"type": "array", "items": text, "description": "Points where the answers agree."},
            "contradictions": {
                "type": "array",
                "description": "Points where answers contradict each other.",
                "items": {
                    "type": "object",
                    "properties": {"answers": {"type": "array", "items": {"type": "string", "enum": labels}}, "point": text},
                    "required": ["answers", "point"],
                    "additionalProperties": false
                }
            },
            "errors": {
                "type": "array",
                "description": "Factual or code errors in an answer.",
                "items": {
                    "type": "object",
                    "properties": {"answer": {"type": "string", "enum": labels}, "error": text},
                    "required": ["answer", "error"],
                    "additionalProperties": false
                }
            },
            "best": {
                "type": "object",
                "properties": {"answer": {"type": "string", "enum": labels}, "why": text},
                "required": ["answer", "why"],
                "additionalProperties": false
            }
        },
        "required": ["agreements", "contradictions", "errors", "best"],
        "additionalProperties": false
    })
}

/// The `response_format` body field: a strict JSON schema (§2.6 of the API notes).
pub fn response_format(labels: &[&str]) -> Value {
    json!({"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": true, "schema": schema(labels)}})
}

/// Whether the analyst can be asked for a JSON schema: its catalog entry lists
/// `structured_outputs` (`response_format` alone may mean JSON mode without a schema).
pub fn supports_structured_output(info: &ModelInfo) -> bool {
    info.supported_parameters.iter().any(|p| p == "structured_outputs")
}

/// A contradiction between answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contradiction {
    pub answers: Vec<String>,
    pub point: String,
}

/// An error spotted in one answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerError {
    pub answer: String,
    pub error: String,
}

/// The analyst's verdict on the best answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BestAnswer {
    pub answer: String,
    pub why: String,
}

/// A structured analysis, as the schema describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analysis {
    #[serde(default)]
    pub agreements: Vec<String>,
    #[serde(default)]
    pub contradictions: Vec<Contradiction>,
    #[serde(default)]
    pub errors: Vec<AnswerError>,
    pub best: BestAnswer,
}

impl Analysis {
    /// The index (into the answers the request was built from) of the answer judged best.
    pub fn best_index(&self, answers: &[AnalystAnswer]) -> Option<usize> {
        let wanted = self.best.answer.trim();
        answers.iter().position(|a| a.label.eq_ignore_ascii_case(wanted))
    }

    /// The analysis as readable text (for an overlay or a pane), sections in schema order.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let list = |s: &mut String, items: Vec<String>| {
            if items.is_empty() {
                s.push_str("- none\n");
            }
            for i in items {
                s.push_str(&format!("- {i}\n"));
            }
        };
        s.push_str("Agreements\n");
        list(&mut s, self.agreements.clone());
        s.push_str("\nContradictions\n");
        list(&mut s, self.contradictions.iter().map(|c| format!("{}: {}", c.answers.join(" vs "), c.point)).collect());
        s.push_str("\nErrors\n");
        list(&mut s, self.errors.iter().map(|e| format!("{}: {}", e.answer, e.error)).collect());
        s.push_str(&format!("\nBest: {}\n{}\n", self.best.answer, self.best.why));
        s
    }
}

/// The analyst's reply: parsed when it is the JSON the schema asked for, else its text as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalystReply {
    Structured(Analysis),
    Text(String),
}

/// Read the reply text. JSON is accepted bare or inside a ```json fence (models that ignore
/// `response_format` often fence it); anything else is the plain-text analysis.
pub fn parse_reply(text: &str) -> AnalystReply {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.trim_end().strip_suffix("```"))
        .map_or(trimmed, str::trim);
    match serde_json::from_str::<Analysis>(unfenced) {
        Ok(a) => AnalystReply::Structured(a),
        Err(_) => AnalystReply::Text(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(blind: bool) -> Vec<AnalystAnswer> {
        let raw = [
            ("openai/gpt-4o-mini".to_owned(), "TCP starts slow.".to_owned()),
            ("google/gemini-2.5-flash".to_owned(), "TCP doubles its window.".to_owned()),
            ("openai/gpt-4o-mini".to_owned(), "Slow start is exponential.".to_owned()),
        ];
        AnalystAnswer::label_all(&raw, blind)
    }

    #[test]
    fn request_carries_the_prompt_and_every_answer_under_its_label() {
        let a = answers(false);
        assert_eq!(
            a.iter().map(|x| x.label.as_str()).collect::<Vec<_>>(),
            ["openai/gpt-4o-mini", "google/gemini-2.5-flash", "openai/gpt-4o-mini #2"]
        );
        let req = AnalystRequest::build("Explain TCP slow start", &a, true);
        assert_eq!(req.messages.len(), 2);
        assert_eq!(req.messages[0].role, Role::System);
        let user = &req.messages[1].content;
        assert!(user.contains("<prompt>\nExplain TCP slow start\n</prompt>"), "{user}");
        for x in &a {
            assert!(user.contains(&format!("<answer label=\"{}\">\n{}\n</answer>", x.label, x.text)), "{user}");
        }
        let bare = estimate_prompt_tokens(&req.messages);
        assert!(req.estimated_prompt_tokens() > bare && bare as usize > user.len() / 4, "the schema counts too");
        let pricing = Pricing::per_token(Decimal::new(1, 6), Decimal::new(2, 6));
        assert_eq!(
            req.estimated_prompt_cost(&pricing),
            Some(Decimal::new(1, 6) * Decimal::from(req.estimated_prompt_tokens()))
        );
    }

    #[test]
    fn blind_request_names_no_model() {
        let a = answers(true);
        assert_eq!(a.iter().map(|x| x.label.as_str()).collect::<Vec<_>>(), ["Model A", "Model B", "Model C"]);
        for structured in [true, false] {
            let req = AnalystRequest::build("Explain TCP slow start", &a, structured);
            let all = serde_json::to_string(&req.messages).unwrap() + &format!("{:?}", req.response_format);
            assert!(!all.contains("gpt") && !all.contains("gemini") && !all.contains("openai"), "{all}");
            assert!(all.contains("Model C"));
        }
    }

    #[test]
    fn structured_request_has_a_strict_schema_and_the_fallback_has_none() {
        let a = answers(true);
        let req = AnalystRequest::build("p", &a, true);
        let f = req.response_format.expect("schema");
        assert_eq!(f["type"], "json_schema");
        assert_eq!(f["json_schema"]["name"], SCHEMA_NAME);
        assert_eq!(f["json_schema"]["strict"], true);
        let schema = &f["json_schema"]["schema"];
        assert_eq!(schema["required"], json!(["agreements", "contradictions", "errors", "best"]));
        assert_eq!(
            schema["properties"]["best"]["properties"]["answer"]["enum"],
            json!(["Model A", "Model B", "Model C"])
        );
        assert!(req.messages[0].content.contains("schema"));
        let plain = AnalystRequest::build("p", &a, false);
        assert!(plain.response_format.is_none());
        assert!(plain.messages[0].content.contains("Best:"));
    }

    #[test]
    fn replies_parse_bare_or_fenced_and_fall_back_to_text() {
        let a = answers(true);
        let json = r#"{"agreements":["all say slow"],"contradictions":[{"answers":["Model A","Model B"],"point":"rate"}],
            "errors":[{"answer":"Model C","error":"not exponential forever"}],"best":{"answer":"model b","why":"precise"},
            "extra":1}"#;
        let AnalystReply::Structured(parsed) = parse_reply(json) else { panic!("bare JSON") };
        assert_eq!(parsed.best_index(&a), Some(1));
        assert_eq!(parsed.errors[0].answer, "Model C");
        assert!(parsed.to_text().contains("Model A vs Model B: rate"));
        assert_eq!(parse_reply(&format!("```json\n{json}\n```")), AnalystReply::Structured(parsed));
        let text = "Agreements: all of them.\nBest: Model B";
        assert_eq!(parse_reply(text), AnalystReply::Text(text.to_owned()));
        assert!(matches!(parse_reply(r#"{"agreements":[]}"#), AnalystReply::Text(_)), "no verdict, not an analysis");
    }

    #[test]
    fn structured_output_follows_the_catalog_entry() {
        let catalog = crate::core::catalog::Catalog::snapshot();
        let with = catalog.models.iter().find(|m| m.supported_parameters.iter().any(|p| p == "structured_outputs"));
        let without = catalog.models.iter().find(|m| !m.supported_parameters.iter().any(|p| p == "structured_outputs"));
        assert!(supports_structured_output(with.expect("a catalog model with structured outputs")));
        assert!(!supports_structured_output(without.expect("a catalog model without")));
    }
}
