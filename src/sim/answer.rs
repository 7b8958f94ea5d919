//! Deterministic markdown answers (prose, lists, tables, fenced code, headings) and the
//! simulator's notion of a token: a word piece of at most 6 letters with its leading space, one
//! punctuation mark (or a short run of the same one), or a run of newlines — about 4 chars.

use super::util::Rng;

/// A text with its token boundaries (`ends[i]` = byte end of token `i`).
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub text: String,
    pub ends: Vec<u32>,
}

impl Answer {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Keeps the first `n` tokens.
    pub fn truncate(&mut self, n: usize) {
        if n < self.ends.len() {
            self.ends.truncate(n);
            let end = self.ends.last().copied().unwrap_or(0) as usize;
            self.text.truncate(end);
        }
    }

    /// Text of tokens `a..b`.
    pub fn slice(&self, a: usize, b: usize) -> &str {
        let start = if a == 0 { 0 } else { self.ends.get(a - 1).copied().unwrap_or(0) as usize };
        let end = self.ends.get(b.saturating_sub(1)).copied().unwrap_or(0) as usize;
        self.text.get(start..end.max(start)).unwrap_or("")
    }

    /// Appends `s`, tokenized.
    pub fn push(&mut self, s: &str) {
        let base = self.text.len();
        self.text.push_str(s);
        tokenize(s, base, &mut self.ends);
    }
}

/// Token boundaries of `s`, offset by `base`, appended to `out`.
pub fn tokenize(s: &str, base: usize, out: &mut Vec<u32>) {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = 0;
    let is_space = |c: u8| c == b' ' || c == b'\t';
    let is_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    while i < n {
        let start = i;
        if b[i] == b'\n' || b[i] == b'\r' {
            while i < n && (b[i] == b'\n' || b[i] == b'\r') {
                i += 1;
            }
        } else {
            while i < n && is_space(b[i]) && i - start < 8 {
                i += 1;
            }
            if i < n && is_word(b[i]) {
                let w = i;
                let mut chars = 0;
                while i < n && is_word(b[i]) && chars < 6 {
                    i += 1;
                    // Continuation bytes of one UTF-8 char stay together.
                    while i < n && (b[i] & 0xC0) == 0x80 {
                        i += 1;
                    }
                    chars += 1;
                }
                debug_assert!(i > w);
            } else if i < n && !is_space(b[i]) && b[i] != b'\n' && b[i] != b'\r' {
                let c = b[i];
                let mut run = 0;
                while i < n && b[i] == c && run < 3 {
                    i += 1;
                    run += 1;
                }
            }
        }
        if i == start {
            i += 1;
        }
        out.push((base + i) as u32);
    }
}

const SHORT: &[&str] = &[
    "the", "a", "data", "cache", "model", "query", "stream", "token", "value", "layer", "index", "batch", "limit",
    "error", "state", "graph", "path", "queue", "event", "fast", "small", "clear", "simple", "stable", "each", "every",
    "first", "then", "often", "keeps", "makes", "uses", "reads", "writes", "checks", "moves", "holds", "avoids",
    "needs", "gives", "and", "but", "so", "with", "from", "into", "over", "per", "when", "while", "which", "this",
    "that", "its", "your", "our", "more", "less", "most", "one", "two", "few", "many", "is", "can",
];
const LONG: &[&str] = &[
    "throughput",
    "latency",
    "allocation",
    "consistency",
    "deterministic",
    "backpressure",
    "concurrency",
    "serialization",
    "invariant",
    "heuristic",
    "benchmark",
    "configuration",
    "partitioning",
    "amortized",
    "idempotent",
    "observability",
];
const HEADINGS: &[&str] = &[
    "Overview",
    "Key ideas",
    "How it works",
    "A worked example",
    "Trade-offs",
    "Pitfalls",
    "Performance notes",
    "Step by step",
    "Summary",
    "Going further",
];
const LANGS: &[&str] = &["rust", "python", "sql", "bash", "json", "typescript", "go"];

fn word(rng: &mut Rng) -> &'static str {
    if rng.chance(15) { rng.pick(LONG) } else { rng.pick(SHORT) }
}

fn sentence(rng: &mut Rng, out: &mut String) {
    let n = rng.range(6, 14);
    for i in 0..n {
        let w = word(rng);
        if i == 0 {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
            continue;
        }
        out.push(' ');
        match rng.below(20) {
            0 => {
                out.push_str("**");
                out.push_str(w);
                out.push_str("**");
            }
            1 => {
                out.push('`');
                out.push_str(w);
                out.push_str("_id`");
            }
            _ => out.push_str(w),
        }
        if i + 1 < n && rng.chance(8) {
            out.push(',');
        }
    }
    out.push('.');
}

fn paragraph(rng: &mut Rng, out: &mut String) {
    for i in 0..rng.range(2, 4) {
        if i > 0 {
            out.push(' ');
        }
        sentence(rng, out);
    }
    out.push_str("\n\n");
}

fn list(rng: &mut Rng, out: &mut String) {
    let numbered = rng.chance(50);
    for i in 1..=rng.range(3, 6) {
        if numbered {
            out.push_str(&format!("{i}. "));
        } else {
            out.push_str("- ");
        }
        let w = rng.pick(LONG);
        out.push_str(&format!("**{w}**: "));
        sentence(rng, out);
        out.push('\n');
    }
    out.push('\n');
}

fn table(rng: &mut Rng, out: &mut String) {
    out.push_str("| Option | Latency (ms) | Memory | Notes |\n|---|---:|---:|---|\n");
    for _ in 0..rng.range(3, 5) {
        let name = rng.pick(LONG);
        out.push_str(&format!(
            "| `{name}` | {} | {} MB | {} {} |\n",
            rng.range(2, 900),
            rng.range(1, 512),
            rng.pick(SHORT),
            rng.pick(SHORT)
        ));
    }
    out.push('\n');
}

fn ident(rng: &mut Rng) -> String {
    format!(
        "{}_{}",
        rng.pick(&["load", "parse", "merge", "count", "fetch", "index"]),
        rng.pick(&["rows", "items", "events", "users", "tokens"])
    )
}

fn code(rng: &mut Rng, out: &mut String) {
    let lang = rng.pick(LANGS);
    let name = ident(rng);
    let n = rng.range(2, 99);
    let field = rng.pick(&["status", "region", "kind", "owner"]);
    let body = match lang {
        "rust" => format!("fn {name}(items: &[u64]) -> u64 {{\n    items.iter().filter(|x| **x > {n}).sum()\n}}\n"),
        "python" => format!(
            "def {name}(rows):\n    \"\"\"Keep rows above the threshold.\"\"\"\n    return [r for r in rows if r[\"{field}\"] > {n}]\n"
        ),
        "sql" => format!(
            "SELECT {field}, COUNT(*) AS total\nFROM events\nWHERE created_at > now() - interval '{n} days'\nGROUP BY {field}\nORDER BY total DESC;\n"
        ),
        "bash" => {
            format!("set -euo pipefail\nfor f in logs/*.txt; do\n  grep -c \"{field}\" \"$f\" | head -n {n}\ndone\n")
        }
        "json" => {
            format!("{{\n  \"name\": \"{name}\",\n  \"retries\": {n},\n  \"{field}\": null,\n  \"enabled\": true\n}}\n")
        }
        "typescript" => {
            format!("export function {name}(xs: number[]): number {{\n  return xs.reduce((a, b) => a + b, {n});\n}}\n")
        }
        _ => format!(
            "func {name}(xs []int) int {{\n\tsum := {n}\n\tfor _, x := range xs {{\n\t\tsum += x\n\t}}\n\treturn sum\n}}\n"
        ),
    };
    out.push_str(&format!("```{lang}\n{body}```\n\n"));
}

/// Up to 8 plain words of the prompt, for a plausible opening line.
fn topic(prompt: &str) -> String {
    let words: Vec<&str> = prompt
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '\'')
        .filter(|w| !w.is_empty())
        .take(8)
        .collect();
    if words.is_empty() { "your question".to_string() } else { words.join(" ") }
}

/// Exactly `k` tokens of plain prose (short words are one token each, a sentence every dozen
/// words), ending with a period.
fn fill(rng: &mut Rng, ans: &mut Answer, k: usize, at_line_start: bool) {
    if k == 0 {
        return;
    }
    let mut s = String::new();
    let mut capital = at_line_start || ans.text.trim_end().ends_with('.');
    for i in 0..k - 1 {
        if i % 12 == 11 && i + 2 < k {
            s.push('.');
            capital = true;
            continue;
        }
        if i > 0 || !at_line_start {
            s.push(' ');
        }
        let w = rng.pick(SHORT);
        let mut c = w.chars();
        match c.next() {
            Some(f) if capital => {
                s.extend(f.to_uppercase());
                s.push_str(c.as_str());
            }
            _ => s.push_str(w),
        }
        capital = false;
    }
    if k == 1 && at_line_start {
        s.push_str("Done");
    } else {
        s.push('.');
    }
    ans.push(&s);
}

/// A markdown answer of exactly `target` tokens, seeded by `seed`.
pub fn generate(seed: u64, target: u32, prompt: &str) -> Answer {
    let target = target as usize;
    let mut rng = Rng::new(seed);
    let mut ans = Answer { text: String::with_capacity(target * 5), ends: Vec::with_capacity(target) };
    let mut block = String::new();
    let mut scratch = Vec::new();
    let mut step = 0u32;
    let mut at_line_start = true;
    let mut retries = 0;
    while ans.len() < target {
        block.clear();
        match step {
            0 => {
                block.push_str(&format!("You asked about *{}*. ", topic(prompt)));
                paragraph(&mut rng, &mut block);
            }
            _ => match (step - 1) % 5 {
                0 => {
                    let h = rng.pick(HEADINGS);
                    block.push_str(&format!("## {h}\n\n"));
                    paragraph(&mut rng, &mut block);
                }
                1 | 3 => match rng.below(3) {
                    0 => list(&mut rng, &mut block),
                    1 => table(&mut rng, &mut block),
                    _ => code(&mut rng, &mut block),
                },
                2 => code(&mut rng, &mut block),
                _ => paragraph(&mut rng, &mut block),
            },
        }
        step += 1;
        scratch.clear();
        tokenize(&block, 0, &mut scratch);
        let remaining = target - ans.len();
        if scratch.len() <= remaining {
            ans.push(&block);
            at_line_start = true;
        } else if remaining < 60 || retries >= 2 {
            // Too little room for a whole block: end with prose of exactly the right length.
            fill(&mut rng, &mut ans, remaining, at_line_start);
        } else {
            retries += 1;
        }
    }
    ans.truncate(target);
    // A trailing blank-line token is wasted; the length stays exact either way.
    ans
}

/// Thinking text streamed as `delta.reasoning` before the answer.
pub fn reasoning(seed: u64, target: u32, prompt: &str) -> Answer {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut ans = Answer::default();
    ans.push(&format!("The user asks about {}.", topic(prompt)));
    let rest = (target as usize).saturating_sub(ans.len());
    fill(&mut rng, &mut ans, rest, false);
    ans.truncate(target as usize);
    ans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_length_and_determinism() {
        for n in [1u32, 2, 7, 59, 150, 600, 20_000] {
            let a = generate(42, n, "How do I index a table?");
            assert_eq!(a.len(), n as usize, "n={n}");
            let b = generate(42, n, "How do I index a table?");
            assert_eq!(a.text, b.text);
        }
        let big = generate(9, 20_000, "x");
        assert!(big.text.contains("```"));
        let avg = big.text.len() as f64 / 20_000.0;
        assert!((2.5..6.0).contains(&avg), "avg chars/token {avg}");
        assert_eq!(big.slice(0, big.len()), big.text);
    }

    #[test]
    fn tokenizer_covers_text() {
        let mut ends = Vec::new();
        let s = "héllo wörld,  **bold**\n\n```rust\n\tfn x() {}\n```";
        tokenize(s, 0, &mut ends);
        assert_eq!(ends.last().copied(), Some(s.len() as u32));
        let mut prev = 0;
        for e in ends {
            assert!(s.is_char_boundary(e as usize) && e as usize > prev);
            prev = e as usize;
        }
    }
}
