//! `POST /chat/completions`: auth, free-tier counting, failure directives, then the answer
//! (text, reasoning or tool calls) as an SSE script or a JSON body, and its generation record.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use rust_decimal::Decimal;
use tokio::time::Instant;

use super::answer::{self, Answer};
use super::failures::{self, ErrorReply};
use super::limits::Verdict;
use super::model::{self, Interrupt, ModelSpec, Price};
use super::request::{self, ChatRequest};
use super::server::{bearer, reply};
use super::state::{GenRecord, Shared};
use super::stream::{self, Delivery, Ending, KEEPALIVE, Outcome, Script, ScriptBuilder};
use super::structured;
use super::tools::{self, Call, ToolTurn};
use super::util::{Obj, Rng, fnv1a, quoted};

pub async fn chat(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    {
        let mut g = sh.lock();
        if g.bodies.len() == super::state::KEPT_BODIES {
            g.bodies.pop_front();
        }
        g.bodies.push_back(body.clone());
    }
    let gen_id = sh.new_generation_id();
    let mut resp = handle(&sh, &headers, &body, &gen_id).await;
    if let Ok(v) = HeaderValue::from_str(&gen_id) {
        resp.headers_mut().insert("x-generation-id", v);
    }
    resp
}

fn error(sh: &Shared, r: ErrorReply, directive: bool) -> Response {
    let mut g = sh.lock();
    g.stats.error_responses += 1;
    g.stats.status_429 += u64::from(r.status == 429);
    g.stats.directive_errors += u64::from(directive);
    drop(g);
    reply(r)
}

async fn handle(sh: &Arc<Shared>, headers: &HeaderMap, body: &[u8], gen_id: &str) -> Response {
    {
        let mut g = sh.lock();
        g.stats.requests += 1;
        g.stats.chat_requests += 1;
    }
    let Some(key) = bearer(headers) else {
        return error(sh, failures::missing_auth(), false);
    };
    let req = match request::parse(body) {
        Ok(r) => r,
        Err(m) => return error(sh, failures::bad_request(&m), false),
    };
    let spec = ModelSpec::parse(&req.model);
    let now = sh.now_ms();
    let cfg = &sh.config;
    if spec.is_free() {
        let verdict = {
            let mut g = sh.lock();
            g.stats.free_requests += 1;
            let v = g.limits.check_and_count(&key, now, cfg.free_per_minute, cfg.free_daily_limit);
            g.stats.rate_limited_rpm += u64::from(matches!(v, Verdict::PerMinute { .. }));
            g.stats.rate_limited_daily += u64::from(matches!(v, Verdict::Daily { .. }));
            v
        };
        match verdict {
            Verdict::Allowed => {}
            Verdict::PerMinute { limit, reset_ms } => {
                return error(sh, failures::free_per_minute(&key, limit, reset_ms), false);
            }
            Verdict::Daily { limit, reset_ms } => {
                return error(sh, failures::free_per_day(&key, limit, reset_ms), false);
            }
        }
    }
    let failure = |f| {
        failures::for_directive(f, &spec, &key, req.last_user_text(), now, cfg.free_daily_limit, cfg.free_per_minute)
    };
    if let Some(f) = spec.failure {
        return error(sh, failure(f), true);
    }
    if spec.tools == Some(model::ToolScript::Gemini) && req.gemini_dialect && req.lost_thought_signature() {
        return error(sh, failures::gemini_missing_signature(), false);
    }
    if spec.reasoning && !req.gemini_dialect && req.lost_reasoning() {
        return error(sh, failures::reasoning_not_passed_back(), false);
    }
    // Like OpenRouter: tools offered to a model none of whose endpoints takes them.
    if !req.tools.is_empty() && spec.tools.is_none() && model::catalog_supports_tools(&spec.base) == Some(false) {
        return error(sh, failure(model::Failure::NoToolEndpoints), false);
    }
    respond(sh.clone(), key, &req, &spec, gen_id).await
}

/// What the model says this turn.
enum Content {
    Text {
        reasoning: Option<Answer>,
        answer: Answer,
        citations: Vec<(String, String)>,
    },
    /// Tool calls; a web-search step cites what it found before calling.
    Calls {
        calls: Vec<Call>,
        gemini: bool,
        citations: Vec<(String, String)>,
    },
}

/// Everything about one answer that the body builders and the bookkeeping share.
struct Plan<'a> {
    spec: &'a ModelSpec,
    gen_id: &'a str,
    created: i64,
    seed: u64,
    content: Content,
    finish: &'static str,
    prompt_tokens: u64,
    /// Of `prompt_tokens`, read from the session's prompt cache.
    cached_tokens: u64,
    reasoning_tokens: u64,
    completion_tokens: u64,
    price: Price,
    /// Web searches run for the answer (one per web-search answer).
    web_searches: u64,
    tps: f64,
}

fn plan<'a>(sh: &Shared, req: &ChatRequest, spec: &'a ModelSpec, gen_id: &'a str) -> Plan<'a> {
    let prof = model::profile(spec, &sh.config);
    let prompt = req.last_user_text();
    let seed = fnv1a(&[spec.base.as_bytes(), prompt.as_bytes()]);
    let mut finish = "stop";
    // Catalog models that take tools use them sensibly without a directive.
    let script = spec
        .tools
        .or_else(|| (model::catalog_supports_tools(&spec.base) == Some(true)).then_some(model::ToolScript::Auto));
    // Each step of a tool loop searches again and cites partly new sources.
    let step = req.current_turn().iter().filter(|m| m.role == "assistant" && !m.tool_calls.is_empty()).count();
    let sources = || if req.web_search { citations(prompt, seed, step) } else { Vec::new() };
    let (content, reasoning_tokens, completion_tokens) = match tools::plan(script, req, seed) {
        Some(ToolTurn::Calls { calls, gemini }) => {
            let tokens = calls.iter().map(|c| call_tokens(c, gemini)).sum();
            finish = "tool_calls";
            (Content::Calls { calls, gemini, citations: sources() }, 0, tokens)
        }
        turn => {
            let mut answer = match turn {
                Some(ToolTurn::Summary(s)) => {
                    let mut a = Answer::default();
                    a.push(&s);
                    a
                }
                _ => match structured::answer(req, seed) {
                    Some(json) => {
                        let mut a = Answer::default();
                        a.push(&json);
                        a
                    }
                    None => answer::generate(seed, prof.tokens, prompt),
                },
            };
            // A model reasons when told to by `@reasoning`, or when the request asks for an
            // effort and the catalog lists reasoning for it; effort `none` turns it off. The
            // effort scales how long it thinks (the reference gives no lengths; these are ours).
            let effort = req.reasoning_effort.as_deref();
            let reasons = match effort {
                Some("none") => false,
                Some(_) => spec.reasoning || model::catalog_reasons(&spec.base),
                None => spec.reasoning,
            };
            let quarters: u64 = match effort {
                Some("minimal") => 1,
                Some("low") => 2,
                Some("high" | "xhigh" | "max") => 8,
                _ => 4,
            };
            let thinking = ((20 + seed % 40) * quarters / 4) as u32;
            let mut reasoning = reasons.then(|| answer::reasoning(seed, thinking, prompt));
            let r = reasoning.as_ref().map_or(0, Answer::len);
            if let Some(cap) = req.max_tokens.map(|m| m as usize).filter(|&m| m < r + answer.len()) {
                if let Some(reasoning) = reasoning.as_mut() {
                    reasoning.truncate(cap);
                }
                answer.truncate(cap.saturating_sub(r));
                finish = "length";
            }
            let r = reasoning.as_ref().map_or(0, Answer::len);
            let total = (r + answer.len()) as u64;
            // `exclude`: the tokens are billed, the text is not sent.
            let reasoning = reasoning.filter(|_| !req.reasoning_excluded);
            (Content::Text { reasoning, answer, citations: sources() }, r as u64, total)
        }
    };
    let web_searches = u64::from(matches!(&content,
        Content::Text { citations, .. } | Content::Calls { citations, .. } if !citations.is_empty()));
    let mut price = model::price(spec);
    price.per_request = model::web_search_price(&spec.base) * Decimal::from(web_searches);
    let prompt_tokens = req.prompt_tokens();
    let cached_tokens = cached_prefix(sh, req, spec, price).min(prompt_tokens);
    Plan {
        spec,
        gen_id,
        created: sh.now_ms() / 1000,
        seed,
        content,
        finish,
        prompt_tokens,
        cached_tokens,
        reasoning_tokens,
        completion_tokens,
        price,
        web_searches,
        tps: prof.tps,
    }
}

/// Prompt caching behind sticky routing: a request with the same `session_id` as an earlier one
/// to the same model finds the messages they share from the start in the provider's cache, on
/// models whose catalog lists a cache-read price (automatic caching, as OpenAI, DeepSeek and
/// Gemini do). Real providers cache only prefixes past about 1,024 tokens; the reference gives
/// no figure and the simulator caches any, so a short demo conversation shows it. The whole
/// prompt can hit the cache (a resent prompt); the tools' schemas never do.
fn cached_prefix(sh: &Shared, req: &ChatRequest, spec: &ModelSpec, price: Price) -> u64 {
    let Some(session) = req.session_id.as_ref().filter(|_| price.cache_read.is_some()) else { return 0 };
    let keys = req.message_keys();
    let hashes: Vec<u64> = keys.iter().map(|k| k.0).collect();
    let mut g = sh.lock();
    if g.prompt_caches.len() >= crate::sim::state::KEPT_SESSIONS {
        g.prompt_caches.clear();
    }
    let Some(before) = g.prompt_caches.insert((session.clone(), spec.base.clone()), hashes) else { return 0 };
    keys.iter().zip(&before).take_while(|((hash, _), seen)| hash == *seen).map(|((_, tokens), _)| tokens).sum()
}

/// Header fragment plus argument text, at ~4 chars per token.
fn call_tokens(c: &Call, gemini: bool) -> u64 {
    // Gemini sends the call in one chunk but bills the same tokens.
    let _ = gemini;
    (c.arguments.len() as u64).div_ceil(4).max(1) + 4
}

fn usage_json(p: &Plan) -> String {
    let (prompt, completion, reasoning, web_searches) =
        (p.prompt_tokens, p.completion_tokens, p.reasoning_tokens, p.web_searches);
    let (cost, pc, cc) = model::cost(p.price, prompt, p.cached_tokens, completion);
    let usage = Obj::new()
        .num("prompt_tokens", prompt)
        .num("completion_tokens", completion)
        .num("total_tokens", prompt + completion)
        .num("cost", cost)
        .bool("is_byok", false)
        .raw(
            "prompt_tokens_details",
            &Obj::new()
                .num("cached_tokens", p.cached_tokens)
                .num("cache_write_tokens", 0)
                .num("audio_tokens", 0)
                .num("video_tokens", 0)
                .end(),
        )
        .raw(
            "cost_details",
            &Obj::new()
                .num("upstream_inference_cost", cost)
                .num("upstream_inference_prompt_cost", pc)
                .num("upstream_inference_completions_cost", cc)
                .end(),
        )
        .raw(
            "completion_tokens_details",
            &Obj::new().num("reasoning_tokens", reasoning).num("image_tokens", 0).num("audio_tokens", 0).end(),
        );
    // §3.2 names `server_tool_use.web_search_requests` for server tools.
    let usage = if web_searches > 0 {
        usage.raw("server_tool_use", &Obj::new().num("web_search_requests", web_searches).end())
    } else {
        usage
    };
    usage.end()
}

/// The sources a web-search answer cites: deterministic, on a reserved domain.
/// Step `step` of a tool loop cites sources `step + 1` and `step + 2`: each step one new, one
/// seen before (so a client's list of an answer's sources must merge them, each once).
fn citations(prompt: &str, seed: u64, step: usize) -> Vec<(String, String)> {
    let topic: String =
        prompt.chars().filter(char::is_ascii_alphanumeric).take(24).collect::<String>().to_ascii_lowercase();
    let topic = if topic.is_empty() { "answer".to_string() } else { topic };
    (step + 1..=step + 2)
        .map(|i| (format!("https://example.org/{topic}/{:x}-{i}", seed & 0xffff), format!("Source {i} on {topic}")))
        .collect()
}

/// `annotations` as OpenAI's chat completions write them (`url_citation` objects); the
/// reference names the type but not its fields.
fn annotations_json(citations: &[(String, String)]) -> String {
    let items: Vec<String> = citations
        .iter()
        .map(|(url, title)| {
            let c = Obj::new().str("url", url).str("title", title).end();
            Obj::new().str("type", "url_citation").raw("url_citation", &c).end()
        })
        .collect();
    format!("[{}]", items.join(","))
}

/// Where interrupted answers break off: a third of the way, at most 40 tokens in.
fn interrupt_at(total: usize) -> usize {
    (total / 3).clamp(1, 40).min(total)
}

/// Emits `a` in deterministic groups of `lo..=hi` tokens.
fn emit(a: &Answer, upto: usize, rng: &mut Rng, lo: u64, hi: u64, mut f: impl FnMut(&str, u64)) {
    let mut i = 0;
    while i < upto {
        let j = (i + rng.range(lo, hi) as usize).min(upto);
        f(a.slice(i, j), (j - i) as u64);
        i = j;
    }
}

fn sse_script(p: &Plan) -> Script {
    let spec = p.spec;
    let fp = model::fingerprint(spec);
    let mut b =
        ScriptBuilder::new(p.gen_id, model::provider_name(spec), &spec.base, p.created, fp.as_deref(), spec.crlf);
    let mut rng = Rng::new(p.seed ^ 0xc4a2);
    // Unlimited speed packs more tokens per event so a 20k-token stream stays cheap to parse.
    let (lo, hi) = if p.tps <= 0.0 { (8, 16) } else { (1, 3) };
    let mut reasoning_nulls = false;
    match &p.content {
        Content::Text { reasoning, answer, citations } => {
            if let Some(r) = reasoning {
                reasoning_nulls = true;
                emit(r, r.len(), &mut rng, lo, hi, |t, n| b.reasoning(t, n));
            } else {
                b.content("", 0, false);
            }
            let upto = if spec.interrupt.is_some() { interrupt_at(answer.len()) } else { answer.len() };
            emit(answer, upto, &mut rng, lo, hi, |t, n| b.content(t, n, reasoning_nulls));
            match spec.interrupt {
                Some(Interrupt::Midstream) => {
                    b.error(
                        502,
                        "Provider disconnected unexpectedly",
                        "provider_unavailable",
                        "upstream_connection_closed",
                    );
                    return b.build();
                }
                Some(Interrupt::Drop) => {
                    let rest = answer.slice(upto, (upto + 3).min(answer.len()));
                    b.partial(if rest.is_empty() { " and then" } else { rest });
                    return b.build();
                }
                Some(Interrupt::Stall) => return b.build(),
                None => {}
            }
            if !citations.is_empty() {
                b.annotations(&annotations_json(citations));
            }
        }
        Content::Calls { calls, gemini, citations } => {
            if !citations.is_empty() {
                b.annotations(&annotations_json(citations));
            }
            if spec.reasoning && !*gemini {
                // A thinking model reasons before it calls, and signs the reasoning.
                b.reasoning("I should use the tools for this. ", 8);
                b.reasoning_signature(&reasoning_signature(p.seed));
            }
            for (index, c) in calls.iter().enumerate() {
                if *gemini {
                    let sig = Rng::new(p.seed ^ index as u64).alnum(40);
                    b.gemini_call(&c.id, &c.name, &c.arguments, &sig, call_tokens(c, true));
                    continue;
                }
                b.tool_header(index, &c.id, &c.name, 4);
                // Fragments split anywhere, even mid-string, like the captures.
                let chars: Vec<char> = c.arguments.chars().collect();
                let mut i = 0;
                while i < chars.len() {
                    let j = (i + rng.range(3, 9) as usize).min(chars.len());
                    let frag: String = chars[i..j].iter().collect();
                    let before = (i as u64).div_ceil(4);
                    let after = if j == chars.len() { call_tokens(c, false) - 4 } else { (j as u64).div_ceil(4) };
                    b.tool_args(index, &frag, after.saturating_sub(before));
                    i = j;
                }
            }
        }
    }
    b.finish(p.finish, model::native_finish(spec, p.finish), reasoning_nulls);
    if !spec.no_usage {
        let usage = usage_json(p);
        b.usage(&usage, (spec.hash() >> 7) & 1 == 1);
    }
    if !spec.no_done {
        b.done();
    }
    b.build()
}

fn json_body(p: &Plan) -> String {
    let spec = p.spec;
    let mut finish = p.finish;
    let mut msg = Obj::new().str("role", "assistant");
    let mut choice_error = None;
    match &p.content {
        Content::Text { reasoning, answer, citations } => {
            if !citations.is_empty() {
                msg = msg.raw("annotations", &annotations_json(citations));
            }
            let text = if spec.interrupt == Some(Interrupt::Midstream) {
                finish = "error";
                choice_error = Some(
                    "{\"code\":502,\"message\":\"Provider disconnected unexpectedly\",\"metadata\":{\"error_type\":\"provider_unavailable\"}}",
                );
                answer.slice(0, interrupt_at(answer.len()))
            } else {
                answer.text.as_str()
            };
            msg = msg.str("content", text).null("refusal");
            msg = match reasoning {
                Some(r) => msg.str("reasoning", &r.text).raw(
                    "reasoning_details",
                    &format!(
                        "[{{\"type\":\"reasoning.text\",\"text\":{},\"format\":\"unknown\",\"index\":0}}]",
                        quoted(&r.text)
                    ),
                ),
                None => msg.null("reasoning"),
            };
        }
        Content::Calls { calls, citations, .. } => {
            if !citations.is_empty() {
                msg = msg.raw("annotations", &annotations_json(citations));
            }
            let list: Vec<String> = calls
                .iter()
                .map(|c| {
                    let f = Obj::new().str("name", &c.name).str("arguments", &c.arguments).end();
                    Obj::new().str("id", &c.id).str("type", "function").raw("function", &f).end()
                })
                .collect();
            msg = msg
                .null("content")
                .null("refusal")
                .null("reasoning")
                .raw("tool_calls", &format!("[{}]", list.join(",")));
        }
    }
    let mut choice = Obj::new()
        .num("index", 0)
        .null("logprobs")
        .str("finish_reason", finish)
        .str("native_finish_reason", model::native_finish(spec, finish));
    if let Some(e) = choice_error {
        choice = choice.raw("error", e);
    }
    let choice = choice.raw("message", &msg.end()).end();
    let fp = model::fingerprint(spec);
    Obj::new()
        .str("id", p.gen_id)
        .str("object", "chat.completion")
        .num("created", p.created)
        .str("model", &spec.base)
        .str("provider", model::provider_name(spec))
        .opt_str("system_fingerprint", fp.as_deref())
        .str("service_tier", "default")
        .raw("choices", &format!("[{choice}]"))
        .raw("usage", &usage_json(p))
        .end()
}

async fn respond(sh: Arc<Shared>, key: String, req: &ChatRequest, spec: &ModelSpec, gen_id: &str) -> Response {
    let p = plan(&sh, req, spec, gen_id);
    let prof = model::profile(spec, &sh.config);
    let streamed = req.stream && !spec.force_json;
    let ttft = Duration::from_millis(prof.ttft_ms);
    let (script, keepalive, content_type) = if streamed {
        let nl = if spec.crlf { "\r\n" } else { "\n" };
        (sse_script(&p), Some(Bytes::from(format!("{KEEPALIVE}{nl}{nl}"))), "text/event-stream")
    } else {
        let body = json_body(&p);
        let script = match spec.interrupt {
            Some(Interrupt::Drop) => {
                // Cut inside the JSON object, on a char boundary.
                let mut cut = body.len() / 2;
                while !body.is_char_boundary(cut) {
                    cut -= 1;
                }
                Script::whole(body[..cut].to_string(), p.completion_tokens)
            }
            Some(Interrupt::Stall) => Script::default(),
            _ => Script::whole(body, p.completion_tokens),
        };
        (script, None, "application/json")
    };
    let scripted_tokens = script.marks.last().map_or(0, |m| m.due);
    let record = GenRecord {
        model: spec.base.clone(),
        provider: model::provider_name(spec),
        streamed,
        created_ms: sh.now_ms(),
        prompt_tokens: p.prompt_tokens,
        completion_tokens: scripted_tokens,
        reasoning_tokens: p.reasoning_tokens,
        cached_tokens: p.cached_tokens,
        cache_discount: model::cache_discount(p.price, p.cached_tokens),
        cost: Decimal::ZERO,
        finish_reason: p.finish.to_string(),
        native_finish_reason: model::native_finish(spec, p.finish).to_string(),
        finished: None,
        cancelled: false,
        latency_ms: 0,
        generation_ms: 0,
    };
    {
        let mut g = sh.lock();
        g.generations.insert(gen_id.to_string(), record);
        g.stats.ok_responses += 1;
        g.stats.in_flight += 1;
        g.stats.max_in_flight = g.stats.max_in_flight.max(g.stats.in_flight);
    }
    let (price, prompt, interrupt) = (p.price, (p.prompt_tokens, p.cached_tokens), spec.interrupt);
    let id = gen_id.to_string();
    let shared = sh.clone();
    let done = move |o: Outcome| finalize(&shared, &id, &key, o, price, prompt, interrupt);
    let delivery = Delivery {
        keepalive,
        ttft,
        tps: p.tps,
        script,
        ending: match spec.interrupt {
            Some(Interrupt::Stall) => Ending::Stall,
            Some(Interrupt::Drop) => Ending::Cut,
            _ => Ending::Close,
        },
    };
    if !streamed && delivery.ending == Ending::Close {
        // Non-streamed answers arrive whole after the full generation time, headers included.
        let stop = sh.stop.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let generation = if delivery.tps <= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(scripted_tokens as f64 / delivery.tps)
            };
            let wait = ttft + generation;
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
            done(Outcome {
                cancelled: false,
                shutdown: false,
                tokens_sent: scripted_tokens,
                started,
                first_data: Some(started + ttft),
                ended: Instant::now(),
            });
            delivery.script.bytes
        });
        return match task.await {
            Ok(bytes) => build(StatusCode::OK, content_type, Body::from(bytes)),
            Err(_) => reply(failures::for_directive(model::Failure::Internal, spec, "", "", 0, 0, 0)),
        };
    }
    build(StatusCode::OK, content_type, stream::body(delivery, sh.stop.clone(), done))
}

fn build(status: StatusCode, content_type: &'static str, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == "text/event-stream" {
        resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    resp
}

/// `prompt`: the prompt tokens, and how many of them were read from the cache.
fn finalize(
    sh: &Shared,
    id: &str,
    key: &str,
    o: Outcome,
    price: Price,
    prompt: (u64, u64),
    interrupt: Option<Interrupt>,
) {
    let mut g = sh.lock();
    let Some(rec) = g.generations.get_mut(id) else { return };
    if o.cancelled || o.shutdown {
        rec.completion_tokens = o.tokens_sent;
    }
    let (cost, _, _) = model::cost(price, prompt.0, prompt.1, rec.completion_tokens);
    rec.cost = cost;
    rec.cancelled = o.cancelled;
    rec.finished = Some(o.ended);
    rec.latency_ms = (o.ended - o.started).as_millis() as u64;
    rec.generation_ms = o.first_data.map_or(0, |f| o.ended.saturating_duration_since(f).as_millis() as u64);
    if interrupt.is_some() {
        rec.finish_reason = "error".into();
        rec.native_finish_reason = "error".into();
    }
    *g.spend.entry(key.to_string()).or_default() += cost;
    g.total_spend += cost;
    let s = &mut g.stats;
    s.in_flight = s.in_flight.saturating_sub(1);
    s.completion_tokens_sent += o.tokens_sent;
    if o.shutdown || matches!(interrupt, Some(Interrupt::Stall | Interrupt::Drop)) {
        s.interrupted += 1;
    } else if o.cancelled {
        s.cancelled += 1;
    } else {
        s.completed += 1;
    }
}

/// The signature of a thinking model's reasoning before its tool calls (deterministic).
fn reasoning_signature(seed: u64) -> String {
    format!("EqQB{}", Rng::new(seed ^ 0x5167).alnum(32))
}
