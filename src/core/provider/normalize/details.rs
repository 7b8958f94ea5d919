//! OpenRouter's structured reasoning (`reasoning_details`, §4.8) of one stream, merged across
//! chunks into whole blocks, so a tool loop can pass them back unmodified on the next request
//! (which keeps the model's reasoning, and carries the signatures some providers require).

use serde_json::{Map, Value};

/// The blocks of one stream, in the order they first appeared.
#[derive(Debug, Default)]
pub(super) struct ReasoningDetails {
    blocks: Vec<Map<String, Value>>,
}

/// Fields whose fragments are appended; every other field is set (a later value wins).
const GROWING: [&str; 3] = ["text", "summary", "data"];

impl ReasoningDetails {
    /// Fold one streamed detail in: a fragment of the block with the same `index` (and type)
    /// extends it, anything else starts a block.
    pub(super) fn absorb(&mut self, detail: Map<String, Value>) {
        let index = detail.get("index").and_then(Value::as_u64);
        let kind = detail.get("type").and_then(Value::as_str);
        let same = |b: &Map<String, Value>| {
            index.is_some()
                && b.get("index").and_then(Value::as_u64) == index
                && kind.is_none_or(|k| b.get("type").and_then(Value::as_str) == Some(k))
        };
        let Some(block) = self.blocks.iter_mut().find(|b| same(b)) else {
            self.blocks.push(detail);
            return;
        };
        for (key, value) in detail {
            match (block.get_mut(&key), value) {
                (_, Value::Null) => {}
                (Some(Value::String(old)), Value::String(more)) if GROWING.contains(&key.as_str()) => {
                    old.push_str(&more);
                }
                (_, value) => {
                    block.insert(key, value);
                }
            }
        }
    }

    pub(super) fn blocks(&self) -> Vec<Value> {
        self.blocks.iter().cloned().map(Value::Object).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn absorb_all(details: &[Value]) -> Vec<Value> {
        let mut d = ReasoningDetails::default();
        for v in details {
            d.absorb(v.as_object().unwrap().clone());
        }
        d.blocks()
    }

    #[test]
    fn fragments_of_a_block_join_and_the_signature_arrives_last() {
        let merged = absorb_all(&[
            json!({"type": "reasoning.text", "text": "Okay, ", "format": "anthropic-claude-v1", "index": 0}),
            json!({"type": "reasoning.text", "text": "the user", "signature": null, "index": 0}),
            json!({"type": "reasoning.text", "text": "", "signature": "EqQBCkgI", "index": 0}),
            json!({"type": "reasoning.encrypted", "data": "gAAAA", "index": 1}),
        ]);
        assert_eq!(
            merged,
            [
                json!({"type": "reasoning.text", "text": "Okay, the user", "format": "anthropic-claude-v1",
                       "index": 0, "signature": "EqQBCkgI"}),
                json!({"type": "reasoning.encrypted", "data": "gAAAA", "index": 1}),
            ]
        );
    }

    #[test]
    fn blocks_without_an_index_stay_apart() {
        let merged = absorb_all(&[
            json!({"type": "reasoning.summary", "summary": "a"}),
            json!({"type": "reasoning.summary", "summary": "b"}),
        ]);
        assert_eq!(merged.len(), 2);
    }
}
