//! The user-facing message for each non-rate-limit failure category: what happened, what to do.

use serde_json::Value;

use super::body::{number_after, str_of, unknown_field};
use super::{Decision, Facts, decision};
use crate::core::error::ErrorKind;
use crate::core::provider::ProviderKind;

impl Facts<'_> {
    pub(super) fn moderation(&self) -> Decision {
        let reasons: Vec<&str> = self
            .meta("reasons")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let model = str_of(self.meta("model_slug")).map_or_else(|| self.model_ref(), |m| format!("'{m}'"));
        let by = str_of(self.meta("provider_name")).map(|p| format!(" by {p}'s moderation")).unwrap_or_default();
        let flagged = if reasons.is_empty() { String::new() } else { format!(" for: {}", reasons.join(", ")) };
        decision(
            ErrorKind::Moderation,
            format!(
                "The input to {model} was flagged{flagged}{by}; nothing was charged. Rephrase it, or ask a different model, which may accept it."
            ),
        )
    }

    pub(super) fn model_not_found(&self, excerpt: Option<&str>) -> Decision {
        let fallback = self
            .availability
            .and_then(|a| a.get("fallback_models"))
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str);
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        let model = self.model_ref();
        let message = match (avail, fallback) {
            (Some("free_variant_ended"), Some(f)) => {
                format!("The free variant of {model} has ended: use '{f}' instead.")
            }
            (Some("model_deprecated"), _) => {
                format!("{model} has been retired by {}: pick another model (see `roundtable models`).", self.label)
            }
            _ if self.has("try pulling") || self.has("ollama") => {
                format!(
                    "{} does not have {model}{}: download it with `ollama pull {}` or check the id.",
                    self.label,
                    self.detail(excerpt),
                    self.model
                )
            }
            _ => format!(
                "{} does not know the model {model}{}: check the id with `roundtable models`.",
                self.label,
                self.detail(excerpt)
            ),
        };
        decision(ErrorKind::ModelNotFound, message)
    }

    pub(super) fn unauthorized(&self, excerpt: Option<&str>) -> Decision {
        let keys_at = match self.kind {
            ProviderKind::Openrouter => " (keys: https://openrouter.ai/settings/keys)",
            ProviderKind::Gemini => " (keys: https://aistudio.google.com/apikey)",
            ProviderKind::Openai => " (keys: https://platform.openai.com/api-keys)",
            ProviderKind::OpenaiCompatible => "",
        };
        let what = match self.key_env {
            Some(env) => format!("check that the environment variable {env} holds a valid, enabled key{keys_at}."),
            None => format!("set api_key_env for this provider in the config and export a valid key{keys_at}."),
        };
        decision(
            ErrorKind::Unauthorized,
            format!("{} rejected the API key{}: {what}", self.label, self.detail(excerpt)),
        )
    }

    pub(super) fn payment(&self, excerpt: Option<&str>) -> Decision {
        let message = if self.limit_source == Some("openrouter_key_limit") || self.has("key limit exceeded") {
            format!(
                "This API key reached its spend limit{}: raise or remove the per-key limit in the key settings at https://openrouter.ai/settings/keys, or use another key.",
                self.paren()
            )
        } else if self.has("can only afford") || self.has("fewer max_tokens") {
            let by = match (
                number_after(&self.message, "requested up to"),
                number_after(&self.message, "can only afford"),
            ) {
                (Some(want), Some(can)) => {
                    format!(" ({want} requested, {can} affordable): lower max_tokens to {can} or less")
                }
                (None, Some(can)) => format!(": lower max_tokens to {can} or less"),
                _ => ": lower max_tokens".to_owned(),
            };
            format!(
                "The balance cannot cover max_tokens for {}{by} in this model's settings, or add credits at https://openrouter.ai/settings/credits.",
                self.model_ref()
            )
        } else if self.limit_source == Some("openrouter_in_flight_budget") {
            format!(
                "Too many requests are reserving credits at once{}: wait for running requests to finish, then retry.",
                self.detail(excerpt)
            )
        } else if self.code_is("insufficient_quota") {
            format!(
                "{} reports no remaining quota on this account{}: check the plan and billing settings.",
                self.label,
                self.detail(excerpt)
            )
        } else if self.kind == ProviderKind::Openrouter {
            // The upstream text only repeats the link; it stays in `upstream_message`.
            "The OpenRouter account is out of credits: add credits at https://openrouter.ai/settings/credits (a negative balance blocks even :free models).".to_owned()
        } else {
            format!("{} requires payment{}: check the account's credits or billing.", self.label, self.detail(excerpt))
        };
        decision(ErrorKind::PaymentRequired, message)
    }

    pub(super) fn forbidden(&self, excerpt: Option<&str>) -> Decision {
        let avail = self.availability.and_then(|a| str_of(a.get("code")));
        let message = if self.has("key limit exceeded") {
            format!(
                "This API key reached its spend limit{}: raise or remove the per-key limit in the key settings at https://openrouter.ai/settings/keys.",
                self.paren()
            )
        } else if avail == Some("region_restricted") || self.has("region") || self.has("country") {
            format!(
                "{} is not available from this region{}: pick another model or provider.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else if self.has("blocked") || self.has("guardrail") {
            format!(
                "A guardrail blocked the request{}: rephrase it or adjust the guardrail settings.",
                self.detail(excerpt)
            )
        } else if self.has("management key") {
            format!(
                "This endpoint needs a management key{}: create one at https://openrouter.ai/settings/keys.",
                self.detail(excerpt)
            )
        } else if self.code_is("permission_denied") && self.kind == ProviderKind::Gemini {
            format!(
                "Google refused the request{}: check that the API key's project has the Generative Language API enabled.",
                self.detail(excerpt)
            )
        } else {
            format!(
                "{} refused the request{}: check the key's permissions and the model's access requirements.",
                self.label,
                self.detail(excerpt)
            )
        };
        decision(ErrorKind::Forbidden, message)
    }

    pub(super) fn not_found(&self, excerpt: Option<&str>, http: bool) -> Decision {
        let avail = self.availability;
        let excluded: Vec<&str> = avail
            .and_then(|a| a.get("excluded_by"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let avail_code = avail.and_then(|a| str_of(a.get("code")));
        if self.has("data policy")
            || avail_code == Some("privacy_restricted")
            || excluded.iter().any(|e| e.starts_with("data_policy"))
        {
            let which = self
                .message
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(p, _)| format!(" ({p})"))
                .unwrap_or_default();
            return decision(
                ErrorKind::DataPolicy,
                format!(
                    "No endpoint of {} matches your data policy{which}. Enable the free-endpoint training/publication toggles at https://openrouter.ai/settings/privacy, or drop provider.data_collection / provider.zdr from this model's settings, or pick another model.",
                    self.model_ref()
                ),
            );
        }
        if self.has("tool use") || self.has("tool_choice") {
            return decision(
                ErrorKind::NoToolEndpoints,
                format!(
                    "{} has no tool-capable endpoint{}: pick a model whose supported parameters include tools (see `roundtable models`), relax provider.only/order/require_parameters, or resend without tools.",
                    self.model_ref(),
                    self.detail(excerpt)
                ),
            );
        }
        let message = if self.has("no endpoints") || avail_code.is_some() {
            let why =
                if excluded.is_empty() { String::new() } else { format!(" (excluded by: {})", excluded.join(", ")) };
            format!(
                "No available endpoint can serve {}{}{why}: relax the provider settings for this model or pick another model.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else if http && excerpt.is_some() {
            format!(
                "{} answered 404{}: check the provider's base_url (it should end in the API root, e.g. …/v1).",
                self.label,
                self.detail(excerpt)
            )
        } else {
            format!("{} could not find what was requested{}.", self.label, self.detail(excerpt))
        };
        decision(ErrorKind::NotFound, message)
    }

    pub(super) fn bad_request(&self, excerpt: Option<&str>) -> Decision {
        let field = unknown_field(&self.message).map(str::to_owned).or_else(|| {
            let violations = self.err?.get("details")?.as_array()?;
            violations.iter().find_map(|d| {
                d.get("fieldViolations")?.as_array()?.iter().find_map(|v| {
                    str_of(v.get("field"))
                        .map(str::to_owned)
                        .or_else(|| str_of(v.get("description")).and_then(unknown_field).map(str::to_owned))
                })
            })
        });
        let message = if let Some(field) = field {
            format!(
                "{} rejected the request field '{field}'{}: its OpenAI-compatible endpoint accepts only OpenAI fields, so remove '{field}' from this model's settings.",
                self.label,
                self.detail(excerpt)
            )
        } else if matches!(
            self.error_type,
            Some("context_length_exceeded" | "token_limit_exceeded" | "string_too_long" | "exceed_context_size_error")
        ) || self.has("context length")
            || self.has("context window")
            || self.has("maximum context")
            // llama.cpp's server: "request (2431 tokens) exceeds the available context size".
            || self.has("context size")
        {
            format!(
                "The conversation is too long for {}{}: shorten it, start a new room, or pick a model with a larger context.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else if self.error_type == Some("max_tokens_exceeded") || self.has("max_tokens") {
            format!(
                "{} rejected max_tokens{}: lower max_tokens in this model's settings.",
                self.label,
                self.detail(excerpt)
            )
        } else if matches!(self.error_type, Some("content_policy_violation" | "refusal")) {
            format!(
                "{} refused the prompt under its content policy{}: rephrase it or try another model.",
                self.model_ref(),
                self.detail(excerpt)
            )
        } else {
            format!("{} rejected the request{}: check this model's settings.", self.label, self.detail(excerpt))
        };
        decision(ErrorKind::BadRequest, message)
    }

    pub(super) fn server(&self, status: u16, excerpt: Option<&str>, http: bool) -> Decision {
        let model = self.model_ref();
        let upstream = str_of(self.meta("provider_name")).map(|p| format!(" ({p})")).unwrap_or_default();
        if !http {
            return decision(
                ErrorKind::MidStream,
                format!(
                    "The provider{upstream} failed in the middle of the answer{}: the partial answer is kept; retry, or pick another model.",
                    self.detail(excerpt)
                ),
            );
        }
        let message = match status {
            502 => format!(
                "The provider{upstream} returned an error for {model}{}: retry, or pick another model.",
                self.detail(excerpt)
            ),
            503 => format!(
                "No provider can serve {model} right now{}: retry shortly, or pick another model.",
                self.detail(excerpt)
            ),
            504 | 524 => format!(
                "The provider{upstream} timed out on {model}{}: retry, or pick a faster model.",
                self.detail(excerpt)
            ),
            529 => format!(
                "The provider{upstream} is overloaded{}: retry shortly, or pick another model.",
                self.detail(excerpt)
            ),
            _ => format!("{} had an internal error{}: retry in a moment.", self.label, self.detail(excerpt)),
        };
        decision(ErrorKind::Server, message)
    }
}
