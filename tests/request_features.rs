//! Issue 13's request features through the real `ask` binary against the simulator: what each
//! model is sent (the simulator keeps the request bodies), what it answers, and the notices
//! for models whose catalog entry does not offer a feature.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use roundtable::sim::{SimConfig, SimServer};
use serde_json::Value;

/// `roundtable <args>` with every directory inside `home` and the test key.
fn command(home: &Path, base_url: &str, args: &[&str]) -> tokio::process::Command {
    common::binary(home, base_url, args)
}

async fn output(mut cmd: tokio::process::Command) -> Output {
    tokio::time::timeout(Duration::from_secs(60), cmd.output()).await.expect("the binary finishes").expect("runs")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Short answers at once (catalog ids carry no `@` directives, so their prices apply).
fn quick() -> SimConfig {
    SimConfig { default_tokens: Some(20), default_tps: Some(0.0), default_ttft_ms: Some(0), ..SimConfig::default() }
}

/// The JSON lines of `ask --json`.
fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The request body the simulator got for `model`.
fn body_for<'a>(bodies: &'a [Value], model: &str) -> &'a Value {
    bodies.iter().find(|b| b["model"] == model).unwrap_or_else(|| panic!("no request for {model}: {bodies:?}"))
}

#[tokio::test]
async fn reasoning_goes_only_where_the_catalog_lists_it() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let thinker = "anthropic/claude-sonnet-4.5";
    let plain = "openai/gpt-4o-mini";
    let args = ["ask", "--json", "--reasoning", "high", "-m", thinker, "-m", plain, "Why is the sky blue?"];
    let out = output(command(home.path(), &sim.base_url(), &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    let bodies = sim.request_bodies();
    assert_eq!(body_for(&bodies, thinker)["reasoning"], serde_json::json!({"effort": "high"}));
    assert!(body_for(&bodies, plain).get("reasoning").is_none(), "{bodies:?}");

    let lines = lines(&out);
    let notice = lines.iter().find(|l| l["type"] == "notice").unwrap_or_else(|| panic!("{}", text(&out)));
    assert_eq!(notice["target"], 1);
    assert!(notice["message"].as_str().is_some_and(|m| m.contains("does not reason")), "{notice}");
    assert!(lines.iter().any(|l| l["type"] == "reasoning" && l["target"] == 0), "{}", text(&out));
    assert!(!lines.iter().any(|l| l["type"] == "reasoning" && l["target"] == 1));
    let done = |t: u64| lines.iter().find(|l| l["type"] == "done" && l["target"] == t).cloned().unwrap_or_default();
    assert!(done(0)["usage"]["reasoning_tokens"].as_u64().is_some_and(|n| n > 0), "{}", done(0));
    sim.shutdown().await;
}

#[tokio::test]
async fn reasoning_off_is_refused_for_a_model_that_always_reasons() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let args = ["ask", "--reasoning", "off", "-m", "openai/gpt-5-mini", "-m", "google/gemini-2.5-flash", "hi"];
    let out = output(command(home.path(), &sim.base_url(), &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("cannot be turned off"), "{}", text(&out));
    let bodies = sim.request_bodies();
    assert!(body_for(&bodies, "openai/gpt-5-mini").get("reasoning").is_none(), "{bodies:?}");
    assert_eq!(body_for(&bodies, "google/gemini-2.5-flash")["reasoning"]["effort"], "none");
    sim.shutdown().await;
}

/// A chatroom with the snapshot catalog and no server behind it (commands only).
fn bare_app(models: &[&str]) -> roundtable::ui::app::App {
    let config = common::config_for("http://127.0.0.1:9/api/v1");
    let theme = roundtable::ui::theme::load("dark", None, true).unwrap();
    roundtable::ui::app::App::new(roundtable::ui::app::AppInit {
        no_color: true,
        estimator: Some(roundtable::core::catalog::CatalogEstimator::new(
            roundtable::core::catalog::Catalog::snapshot(),
            config.prices.clone(),
            &config.providers,
        )),
        ..roundtable::ui::app::AppInit::new(
            models.iter().map(|m| m.to_string()).collect(),
            theme,
            config.providers.clone(),
            std::env::temp_dir(),
        )
    })
}

fn status(app: &roundtable::ui::app::App) -> String {
    app.chrome.status.as_ref().map(|(_, t)| t.clone()).unwrap_or_default()
}

fn pane_settings(app: &roundtable::ui::app::App, i: usize) -> roundtable::core::protocol::ModelSettings {
    app.room.pane(app.view.panes[i].target).map(|p| p.settings.clone()).unwrap_or_default()
}

#[test]
fn chatroom_reasoning_is_set_where_offered_and_refused_elsewhere() {
    let mut app = bare_app(&["anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini"]);
    app.run_command_line("/reasoning all high");
    assert_eq!(pane_settings(&app, 0).reasoning_effort.as_deref(), Some("high"));
    assert_eq!(pane_settings(&app, 1).reasoning_effort, None);
    assert!(status(&app).contains("pane 2: openai/gpt-4o-mini does not reason"), "{}", status(&app));

    app.run_command_line("/reasoning 1 minimal");
    assert!(status(&app).contains("high, medium, low"), "{}", status(&app));
    assert_eq!(pane_settings(&app, 0).reasoning_effort.as_deref(), Some("high"), "a refused effort changes nothing");
    app.run_command_line("/reasoning 1 off");
    assert_eq!(pane_settings(&app, 0).reasoning_effort.as_deref(), Some("none"));
    app.run_command_line("/reasoning 1 default");
    assert_eq!(pane_settings(&app, 0).reasoning_effort, None);
}

#[tokio::test]
async fn web_search_sends_the_server_tool_prices_it_and_lists_the_sources() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    // The snapshot prices a search at $0.01 for this model.
    let searcher = "anthropic/claude-sonnet-4.5";
    let plain = "openai/gpt-4o-mini";
    let out = output(command(
        home.path(),
        &sim.base_url(),
        &["ask", "--json", "--web", "-m", searcher, "-m", plain, "Tide times?"],
    ))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let bodies = sim.request_bodies();
    assert_eq!(body_for(&bodies, searcher)["tools"], serde_json::json!([{"type": "openrouter:web_search"}]));
    let lines = lines(&out);
    let line = |kind: &str, t: u64| {
        lines
            .iter()
            .find(|l| l["type"] == kind && l["target"] == t)
            .cloned()
            .unwrap_or_else(|| panic!("{}", text(&out)))
    };
    let exact = |v: &Value, k: &str| v[k].as_str().and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    assert!(exact(&line("estimate", 0), "prompt_cost_usd_exact") >= 0.01, "the estimate includes one search");
    let done = line("done", 0);
    assert_eq!(done["usage"]["web_search_requests"], 1, "{done}");
    assert!(exact(&done, "cost_usd_exact") >= 0.01, "the cost includes the search: {done}");
    let citations = done["citations"].as_array().cloned().unwrap_or_default();
    assert_eq!(citations.len(), 2, "{done}");
    assert!(citations.iter().all(|c| c["url"].as_str().is_some_and(|u| u.starts_with("https://example.org/"))));

    // Without --json the sources are numbered under the answer.
    let out = output(command(home.path(), &sim.base_url(), &["ask", "--web", "-m", searcher, "Tide times?"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[1] Source 1 on tidetimes — https://example.org/tidetimes/"), "{stdout}");
    sim.shutdown().await;
}

#[test]
fn chatroom_web_search_is_refused_where_the_provider_does_not_search() {
    let mut app = bare_app(&["anthropic/claude-sonnet-4.5", "gemini:gemini-2.5-flash"]);
    app.run_command_line("/web all on");
    assert_eq!(pane_settings(&app, 0).web_search, Some(true));
    assert_eq!(pane_settings(&app, 1).web_search, None);
    assert!(status(&app).contains("pane 2: gemini:gemini-2.5-flash cannot search the web"), "{}", status(&app));
    app.run_command_line("/web 1 off");
    assert_eq!(pane_settings(&app, 0).web_search, None);
}

#[test]
fn citations_are_kept_with_the_answer_replayed_and_exported() {
    use roundtable::core::protocol::{
        Citation, CoreEvent, EventKind, FinishReason, StreamEvent, StreamSummary, TurnId,
    };
    use roundtable::core::room::{Room, RoomSetup};
    let dir = tempfile::tempdir().unwrap();
    let path = roundtable::core::store::db_path(dir.path());
    let st = roundtable::core::store::Store::open(&path).unwrap();
    let mut room = Room::new(RoomSetup { store: Some(st.clone()), ..RoomSetup::default() });
    let a = room.add_pane("vendor/a", Default::default());
    room.send("tides?", None).unwrap();
    let ev = |kind| CoreEvent::Stream(StreamEvent { turn: TurnId(1), target: a, kind });
    room.on_event(&ev(EventKind::Started { provider: "openrouter".into(), model: "vendor/a".into() }));
    room.on_event(&ev(EventKind::TextDelta("High tide at noon [1].".into())));
    let cited = vec![Citation { url: "https://example.org/tides".into(), title: Some("Tide \u{1b}[31mtable".into()) }];
    let summary =
        StreamSummary { text: "High tide at noon [1].".into(), citations: cited.clone(), ..Default::default() };
    room.on_event(&ev(EventKind::Finished { reason: Some(FinishReason::Stop), summary: Box::new(summary) }));
    assert_eq!(room.answers[0].citations, cited);
    st.flush().unwrap();

    let stored = roundtable::core::room::load(&path, None, false).unwrap().unwrap();
    let replayed = roundtable::core::room::open_stored(RoomSetup::default(), stored);
    assert_eq!(replayed.answers[0].citations, cited, "replay keeps the sources");
    let md = roundtable::present::room::markdown(&replayed);
    assert!(md.contains("Sources:\n\n- [1] Tide table — https://example.org/tides"), "control-stripped:\n{md}");
    let json = roundtable::present::room::json(&replayed);
    assert_eq!(json.to_string().matches("https://example.org/tides").count(), 1, "{json}");
}

#[tokio::test]
async fn ask_json_schema_sends_the_schema_checks_the_answer_and_refuses_models_without_it() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let schema = home.path().join("weather.json");
    std::fs::write(
        &schema,
        r#"{"type":"object","properties":{"temp_c":{"type":"number"},"sky":{"enum":["clear","cloudy"]}},
            "required":["temp_c","sky"],"additionalProperties":false}"#,
    )
    .unwrap();
    let schema_arg = schema.to_string_lossy().into_owned();
    let (taker, refuser) = ("openai/gpt-4o-mini", "anthropic/claude-haiku-4.5");
    let args = ["ask", "--json", "--json-schema", &schema_arg, "-m", taker, "-m", refuser, "Weather in Oslo?"];
    let out = output(command(home.path(), &sim.base_url(), &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    let bodies = sim.request_bodies();
    let format = &body_for(&bodies, taker)["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "weather");
    assert_eq!(format["json_schema"]["schema"]["required"], serde_json::json!(["temp_c", "sky"]));
    assert!(body_for(&bodies, refuser).get("response_format").is_none(), "{bodies:?}");
    let lines = lines(&out);
    let structured = lines.iter().find(|l| l["type"] == "structured").unwrap_or_else(|| panic!("{}", text(&out)));
    assert_eq!((structured["target"].as_u64(), structured["valid"].as_bool()), (Some(0), Some(true)), "{structured}");
    assert!(structured["value"]["temp_c"].is_number(), "{structured}");
    let notice = lines.iter().find(|l| l["type"] == "notice").unwrap_or_else(|| panic!("{}", text(&out)));
    assert_eq!(notice["target"], 1);
    assert!(notice["message"].as_str().is_some_and(|m| m.contains("does not take a JSON schema")), "{notice}");

    // A schema that is not JSON is a usage error, before anything is sent.
    std::fs::write(&schema, "{ nope").unwrap();
    let before = sim.request_bodies().len();
    let out =
        output(command(home.path(), &sim.base_url(), &["ask", "--json-schema", &schema_arg, "-m", taker, "hi"])).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid JSON"), "{}", text(&out));
    assert_eq!(sim.request_bodies().len(), before);
    sim.shutdown().await;
}

#[test]
fn chatroom_json_checks_the_schema_file_and_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("facts.json");
    std::fs::write(&schema, r#"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#).unwrap();
    let mut app = bare_app(&["openai/gpt-4o-mini", "anthropic/claude-haiku-4.5"]);
    app.run_command_line(&format!("/json all on {}", schema.display()));
    let format = pane_settings(&app, 0).response_format.unwrap_or_default();
    assert_eq!(format["json_schema"]["name"], "facts");
    assert_eq!(pane_settings(&app, 1).response_format, None);
    assert!(
        status(&app).contains("pane 2: anthropic/claude-haiku-4.5 does not take a JSON schema"),
        "{}",
        status(&app)
    );
    app.run_command_line("/json 1 on /no/such/schema.json");
    assert!(status(&app).contains("Cannot read the schema"), "{}", status(&app));
    app.run_command_line("/json 1 off");
    assert_eq!(pane_settings(&app, 0).response_format, None);
}

#[test]
fn a_room_notes_an_answer_that_is_not_the_json_asked_for() {
    use roundtable::core::protocol::{CoreEvent, EventKind, FinishReason, ModelSettings, StreamEvent, StreamSummary};
    use roundtable::core::room::{Room, RoomSetup};
    let mut room = Room::new(RoomSetup::default());
    let json = ModelSettings { response_format: Some(roundtable::core::structured::json_mode()), ..Default::default() };
    let a = room.add_pane("vendor/a", json);
    let b = room.add_pane("vendor/b", ModelSettings::default());
    room.send("facts?", None).unwrap();
    for target in [a, b] {
        let turn = room.head.unwrap_or_default();
        let ev = |kind| CoreEvent::Stream(StreamEvent { turn, target, kind });
        room.on_event(&ev(EventKind::Started { provider: "openrouter".into(), model: "m".into() }));
        room.on_event(&ev(EventKind::TextDelta("Sure! Here are the facts.".into())));
        let summary = StreamSummary { text: "Sure! Here are the facts.".into(), ..Default::default() };
        room.on_event(&ev(EventKind::Finished { reason: Some(FinishReason::Stop), summary: Box::new(summary) }));
    }
    let notices = |t| room.answers.iter().find(|x| x.key.target == t).map(|x| x.notices.clone()).unwrap_or_default();
    assert_eq!(notices(a), ["Not the JSON asked for: the answer is not valid JSON"]);
    assert!(notices(b).is_empty(), "a pane that asked for no JSON gets no notice");
}

#[tokio::test]
async fn presets_pass_through_and_each_pane_keeps_its_own_session() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let (preset, on_model) = ("@preset/fast-answers", "openai/gpt-4o-mini@preset/terse");
    let out = output(command(home.path(), &sim.base_url(), &["ask", "-m", preset, "-m", on_model, "hi"])).await;
    assert!(out.status.success(), "{}", text(&out));
    let bodies = sim.request_bodies();
    let (a, b) = (body_for(&bodies, preset), body_for(&bodies, on_model));
    let session = |v: &Value| v["session_id"].as_str().unwrap_or_default().to_string();
    assert!(session(a).starts_with("roundtable-room") && session(a).ends_with("-pane0"), "{a}");
    assert!(session(b).ends_with("-pane1"), "{b}");
    assert_ne!(session(a), session(b));
    sim.shutdown().await;
}

#[test]
fn chatroom_provider_preferences_build_the_provider_object() {
    let mut app = bare_app(&["openai/gpt-4o-mini", "gemini:gemini-2.5-flash"]);
    app.run_command_line("/provider 1 order openai,azure");
    app.run_command_line("/provider 1 fallbacks off");
    app.run_command_line("/provider 1 data deny");
    assert_eq!(
        pane_settings(&app, 0).provider,
        Some(serde_json::json!({"order": ["openai", "azure"], "allow_fallbacks": false, "data_collection": "deny"}))
    );
    app.run_command_line("/provider all sort throughput");
    assert!(status(&app).contains("pane 2: gemini does not route between providers"), "{}", status(&app));
    assert_eq!(pane_settings(&app, 0).provider.unwrap_or_default()["sort"], "throughput");
    assert_eq!(pane_settings(&app, 1).provider, None);
    app.run_command_line("/provider 1 off");
    assert_eq!(pane_settings(&app, 0).provider, None);
}

/// The smallest PNG there is (a 1×1 transparent pixel).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[tokio::test]
async fn reasoning_web_and_an_image_go_to_each_model_as_it_takes_them() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let img = home.path().join("img.png");
    std::fs::write(&img, PNG).unwrap();
    let img_arg = img.to_string_lossy().into_owned();
    // A: reasons, sees images, searches at $0.01. B: text only, reasons with efforts unlisted.
    let (a, b) = ("anthropic/claude-sonnet-4.5", "deepseek/deepseek-chat-v3.1");
    let args = [
        "ask",
        "--json",
        "--reasoning",
        "high",
        "--web",
        "--attach",
        &img_arg,
        "-m",
        a,
        "-m",
        b,
        "What is in the picture?",
    ];
    let out = output(command(home.path(), &sim.base_url(), &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    let bodies = sim.request_bodies();
    let (body_a, body_b) = (body_for(&bodies, a), body_for(&bodies, b));
    for body in [body_a, body_b] {
        assert_eq!(body["reasoning"], serde_json::json!({"effort": "high"}), "{body}");
        assert_eq!(body["tools"], serde_json::json!([{"type": "openrouter:web_search"}]), "{body}");
        assert!(body["session_id"].is_string(), "{body}");
    }
    let content = &body_a["messages"][0]["content"];
    assert_eq!(content[0], serde_json::json!({"type": "text", "text": "What is in the picture?"}));
    assert_eq!(content[1]["type"], "image_url");
    assert!(
        content[1]["image_url"]["url"].as_str().is_some_and(|u| u.starts_with("data:image/png;base64,iVBORw0KGgo"))
    );
    assert_eq!(body_b["messages"][0]["content"], "What is in the picture?", "the text-only model gets the text alone");

    let lines = lines(&out);
    let notice = lines.iter().find(|l| l["type"] == "notice" && l["target"] == 1);
    assert!(
        notice.is_some_and(|n| n["message"].as_str().is_some_and(|m| m.contains("without img.png"))),
        "{}",
        text(&out)
    );
    for t in [0, 1] {
        assert!(lines.iter().any(|l| l["type"] == "reasoning" && l["target"] == t), "reasoning from {t}");
        let done =
            lines.iter().find(|l| l["type"] == "done" && l["target"] == t).unwrap_or_else(|| panic!("{}", text(&out)));
        assert_eq!(done["citations"].as_array().map(Vec::len), Some(2), "{done}");
    }
    let estimate = |t: u64| {
        lines.iter().find(|l| l["type"] == "estimate" && l["target"] == t).and_then(|l| l["prompt_tokens"].as_u64())
    };
    assert!(estimate(0).unwrap_or(0) >= 1_000 && estimate(1).unwrap_or(0) < 100, "the image counts only where sent");

    // A file that is not an image or PDF is refused before anything is sent.
    let before = sim.request_bodies().len();
    let notes = home.path().join("notes.txt");
    std::fs::write(&notes, "plain").unwrap();
    let out =
        output(command(home.path(), &sim.base_url(), &["ask", "--attach", &notes.to_string_lossy(), "-m", a, "hi"]))
            .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only PNG, JPEG, WebP, GIF images and PDFs"));
    assert_eq!(sim.request_bodies().len(), before);
    sim.shutdown().await;
}

#[test]
fn chatroom_attach_checks_files_and_says_which_panes_take_them() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img.png");
    std::fs::write(&img, PNG).unwrap();
    let mut app = bare_app(&["openai/gpt-4o-mini", "deepseek/deepseek-chat-v3.1"]);
    app.run_command_line(&format!("/attach {}", img.display()));
    assert_eq!(app.room.attachments.len(), 1);
    assert!(status(&app).contains("Attached img.png (1 of 2 panes take it"), "{}", status(&app));
    app.run_command_line(&format!("/attach {}", dir.path().join("nope.png").display()));
    assert!(status(&app).contains("Cannot attach"), "{}", status(&app));
    assert_eq!(app.room.attachments.len(), 1, "a bad file adds nothing");
    app.run_command_line("/attach off");
    assert!(app.room.attachments.is_empty());
}

/// The figure of `key` in a JSON object as an exact decimal (written as a string or a number).
fn decimal(v: &Value, key: &str) -> rust_decimal::Decimal {
    let raw = match &v[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("{key} is {other} in {v}"),
    };
    raw.parse().unwrap_or_else(|e| panic!("{key} = {raw}: {e}"))
}

#[tokio::test]
async fn the_estimate_prices_searches_and_files_and_the_ledger_keeps_them_apart() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let img = home.path().join("img.png");
    std::fs::write(&img, PNG).unwrap();
    let img_arg = img.to_string_lossy().into_owned();
    // $3/M prompt tokens, $0.01 a search, takes images.
    let model = "anthropic/claude-sonnet-4.5";
    let prompt = "What is in the picture?";
    let plain = output(command(home.path(), &sim.base_url(), &["ask", "--json", "-m", model, prompt])).await;
    assert!(plain.status.success(), "{}", text(&plain));
    let args = ["ask", "--json", "--web", "--attach", &img_arg, "-m", model, prompt];
    let out = output(command(home.path(), &sim.base_url(), &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    let estimate =
        |o: &Output| lines(o).into_iter().find(|l| l["type"] == "estimate").unwrap_or_else(|| panic!("{}", text(o)));
    let (before, after) = (estimate(&plain), estimate(&out));
    assert_eq!(after["attachment_tokens"], 1_000, "{after}");
    assert_eq!(after["prompt_tokens"].as_u64(), before["prompt_tokens"].as_u64().map(|t| t + 1_000));
    assert_eq!(decimal(&after, "web_search_cost_usd_exact"), "0.01".parse().unwrap(), "{after}");
    // The image's 1,000 tokens at $3/M, plus one search.
    let added = decimal(&after, "prompt_cost_usd_exact") - decimal(&before, "prompt_cost_usd_exact");
    assert_eq!(added, "0.013".parse().unwrap(), "{before} → {after}");
    assert!(before.get("web_search_cost_usd_exact").is_none_or(Value::is_null), "{before}");

    // The ledger keeps the search, its cost and the file apart from the total.
    let usage = output(command(home.path(), &sim.base_url(), &["usage", "--json"])).await;
    let rows: Value = serde_json::from_slice(&usage.stdout).unwrap_or_else(|_| panic!("{}", text(&usage)));
    let row = rows.as_array().and_then(|r| r.iter().find(|r| r["group"] == model)).cloned().unwrap_or_default();
    assert_eq!(row["requests"], 2, "{row}");
    assert_eq!(row["web_search_requests"], 1, "{row}");
    assert_eq!(decimal(&row, "web_search_cost_usd"), "0.01".parse().unwrap(), "{row}");
    assert_eq!((row["attachments"].as_u64(), row["attachment_bytes"].as_u64()), (Some(1), Some(PNG.len() as u64)));
    assert_eq!(row["attachment_tokens"], 1_000, "{row}");
    let table = output(command(home.path(), &sim.base_url(), &["usage"])).await;
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.contains("Web search: 1 search, ~$0.0100"), "{table}");
    assert!(table.contains(&format!("Attachments: 1 file, {} B, ~1,000 prompt tokens", PNG.len())), "{table}");

    // `rooms show` prints them with the answer and the turn.
    let shown = output(command(home.path(), &sim.base_url(), &["rooms", "show", "last"])).await;
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("1 web search ~$0.0100"), "{shown}");
    assert!(shown.contains(&format!("Attached: img.png (image/png, {} B, ~1.0k tok est.)", PNG.len())), "{shown}");
    sim.shutdown().await;
}

#[tokio::test]
async fn ask_lists_the_sources_of_every_tool_step_each_once() {
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    // The simulator's first step searches and calls the calculator (sources 1 and 2); the
    // answer after it searches again (sources 2 and 3).
    let args = ["ask", "--json", "--web", "--tools", "calculator", "-m", "openai/gpt-4o-mini", "What is 17*23?"];
    let out = output(command(home.path(), &sim.base_url(), &args)).await;
    assert!(out.status.success(), "{}", text(&out));
    let lines = lines(&out);
    let step = lines.iter().find(|l| l["type"] == "step").unwrap_or_else(|| panic!("a tool step: {}", text(&out)));
    assert_eq!(step["citations"].as_array().map(Vec::len), Some(2), "{step}");
    let done = lines.iter().find(|l| l["type"] == "done").unwrap_or_else(|| panic!("{}", text(&out)));
    let urls: Vec<&str> =
        done["citations"].as_array().into_iter().flatten().filter_map(|c| c["url"].as_str()).collect();
    assert_eq!(urls.len(), 3, "every step's sources, each once: {done}");
    assert!(urls[0].ends_with("-1") && urls[1].ends_with("-2") && urls[2].ends_with("-3"), "{urls:?}");

    let out = output(command(
        home.path(),
        &sim.base_url(),
        &["ask", "--web", "--tools", "calculator", "-m", "openai/gpt-4o-mini", "What is 17*23?"],
    ))
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for n in 1..=3 {
        assert_eq!(stdout.matches(&format!("[{n}] Source {n} on ")).count(), 1, "{stdout}");
    }
    assert!(!stdout.contains("[4]"), "{stdout}");
    let export = output(command(home.path(), &sim.base_url(), &["rooms", "show", "last", "--json"])).await;
    let room: Value = serde_json::from_slice(&export.stdout).unwrap_or_else(|_| panic!("{}", text(&export)));
    assert_eq!(room["turns"][0]["answers"][0]["citations"].as_array().map(Vec::len), Some(3), "{room}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_sticky_session_reads_its_earlier_prompt_from_the_cache_and_the_footer_shows_the_saving() {
    use roundtable::core::protocol::{ChatMessage, CostSource, EventKind, TurnId, TurnRequest, Usage};
    let sim = SimServer::start(quick(), 0).await.unwrap();
    let mut config = common::core_config(&sim.base_url());
    let full = common::config_for(&sim.base_url());
    config.estimator = Some(std::sync::Arc::new(roundtable::core::catalog::CatalogEstimator::new(
        roundtable::core::catalog::Catalog::snapshot(),
        full.prices.clone(),
        &full.providers,
    )));
    let (core, mut events) = common::start_core(config);
    // $0.15/M prompt tokens, $0.075/M read from the cache.
    let model = "openai/gpt-4o-mini";
    let ask = |turn: u64, session: &str, messages: Vec<ChatMessage>| {
        let mut t = common::target(0, model, "");
        t.messages = messages;
        t.settings.session_id = Some(session.into());
        TurnRequest::new(TurnId(turn), vec![t])
    };
    let usage_of = |evs: &[EventKind]| -> Usage {
        let EventKind::Finished { summary, .. } = common::final_of(evs) else { panic!("{evs:?}") };
        summary.usage.clone().unwrap_or_else(|| panic!("usage: {summary:?}"))
    };
    let first = vec![ChatMessage::user("Explain TCP slow start")];
    core.send(roundtable::core::protocol::Command::Submit(ask(1, "pane-a", first.clone()))).await.unwrap();
    let evs = common::collect(&mut events, 1).await;
    let u1 = usage_of(&evs[0]);
    assert_eq!((u1.cached_tokens, u1.cache_discount.as_ref()), (0, None), "a cold cache: {u1:?}");
    let EventKind::Finished { summary, .. } = common::final_of(&evs[0]) else { unreachable!() };

    let mut second = first.clone();
    second.push(ChatMessage::assistant(summary.text.clone()));
    second.push(ChatMessage::user("And congestion avoidance?"));
    core.send(roundtable::core::protocol::Command::Submit(ask(2, "pane-a", second.clone()))).await.unwrap();
    let u2 = usage_of(&common::collect(&mut events, 1).await[0]);
    assert!(u2.cached_tokens > 0 && u2.cached_tokens < u2.prompt_tokens, "the shared start is cached: {u2:?}");
    let discount = u2.cache_discount.clone().unwrap_or_else(|| panic!("a saving: {u2:?}"));
    assert_eq!(discount.source, CostSource::Estimated);
    let per_token: rust_decimal::Decimal = "0.000000075".parse().unwrap();
    assert_eq!(discount.usd, Some((per_token * rust_decimal::Decimal::from(u2.cached_tokens)).normalize()));
    let footer = roundtable::present::room::cached_text(&u2).unwrap_or_default();
    assert!(footer.contains(" cached, saved ~$0.00000"), "{footer}");

    // Another pane's session starts cold, even with the same messages.
    core.send(roundtable::core::protocol::Command::Submit(ask(3, "pane-b", second))).await.unwrap();
    let u3 = usage_of(&common::collect(&mut events, 1).await[0]);
    assert_eq!(u3.cached_tokens, 0, "{u3:?}");
    sim.shutdown().await;
}

#[test]
fn the_chatroom_draft_estimate_adds_the_files_and_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img.png");
    std::fs::write(&img, PNG).unwrap();
    // Takes images at $3/M prompt tokens and searches at $0.01; the other is text only.
    let mut app = bare_app(&["anthropic/claude-sonnet-4.5", "deepseek/deepseek-chat-v3.1"]);
    let draft = |app: &mut roundtable::ui::app::App, text: &str| {
        app.chrome.input.set_text(text);
        app.refresh_draft_estimate();
        app.view.sidebar.draft.iter().map(|d| (d.tokens, d.cost)).collect::<Vec<_>>()
    };
    let before = draft(&mut app, "What is in the picture?");
    app.run_command_line(&format!("/attach {}", img.display()));
    app.run_command_line("/web 1 on");
    let after = draft(&mut app, "What is in the picture?");
    assert_eq!(after[0].0, before[0].0 + 1_000, "the image's tokens: {before:?} → {after:?}");
    let added = after[0].1.zip(before[0].1).map(|(a, b)| a - b);
    assert_eq!(added, Some("0.013".parse().unwrap()), "1,000 tokens at $3/M and a search: {before:?} → {after:?}");
    assert_eq!(after[1], before[1], "the text-only pane without web search pays for neither");
}

#[test]
fn the_chatroom_draft_estimate_counts_the_enabled_tools_definitions() {
    let mut app = bare_app(&["anthropic/claude-sonnet-4.5"]);
    let draft = |app: &mut roundtable::ui::app::App| {
        app.chrome.input.set_text("What is 17*23?");
        app.refresh_draft_estimate();
        app.view.sidebar.draft[0].tokens
    };
    let before = draft(&mut app);
    app.run_command_line("/tools calculator");
    let after = draft(&mut app);
    let specs = app.services.setup.tools.specs(&["calculator"]).unwrap();
    let expected = roundtable::core::catalog::estimate_tool_tokens(&specs);
    assert!(expected > 0);
    assert_eq!(after, before + expected, "the calculator's definition goes with the request");
}

#[tokio::test]
async fn ask_demo_needs_no_key_and_keeps_its_history_apart() {
    let home = tempfile::tempdir().unwrap();
    let img = home.path().join("img.png");
    std::fs::write(&img, PNG).unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_roundtable"));
    cmd.args(["ask", "--demo", "--json", "--web", "--attach"])
        .arg(&img)
        .args(["-m", "anthropic/claude-sonnet-4.5", "-m", "deepseek/deepseek-chat-v3.1", "What is in the picture?"])
        .env("ROUNDTABLE_DATA_DIR", home.path().join("data"))
        .env("ROUNDTABLE_CONFIG_DIR", home.path().join("config"))
        .env("ROUNDTABLE_CACHE_DIR", home.path().join("cache"))
        .env_remove("OPENROUTER_API_KEY")
        .env_remove("GEMINI_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .kill_on_drop(true);
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("demo: the built-in simulator answers"));
    let lines = lines(&out);
    for t in [0, 1] {
        let done = lines.iter().find(|l| l["type"] == "done" && l["target"] == t);
        assert!(done.is_some_and(|d| d["citations"].as_array().is_some_and(|c| c.len() == 2)), "{}", text(&out));
    }
    assert!(lines.iter().any(|l| l["type"] == "notice" && l["target"] == 1), "the text-only model is told");
    assert!(home.path().join("data/demo/roundtable.db").exists(), "the demo's own ledger");
    assert!(!home.path().join("data/roundtable.db").exists(), "the real ledger is untouched");
}

#[tokio::test]
async fn files_of_a_request_refused_for_want_of_a_key_are_not_ledgered_as_sent() {
    let home = tempfile::tempdir().unwrap();
    let img = home.path().join("img.png");
    std::fs::write(&img, PNG).unwrap();
    let mut cmd = command(home.path(), "http://127.0.0.1:9/api/v1", &["ask", "--attach"]);
    cmd.arg(&img).args(["-m", "anthropic/claude-sonnet-4.5", "hi"]).env_remove("OPENROUTER_API_KEY");
    let out = output(cmd).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Refused for want of a key (the message names the server that `--base-url` points at).
    assert!(String::from_utf8_lossy(&out.stdout).contains("No API key for provider 'openrouter'"), "{}", text(&out));
    let usage = output(command(home.path(), "http://127.0.0.1:9/api/v1", &["usage", "--json"])).await;
    let rows: Value = serde_json::from_slice(&usage.stdout).unwrap_or_else(|_| panic!("{}", text(&usage)));
    assert_eq!(rows[0]["requests"], 1, "{rows}");
    assert_eq!(rows[0]["attachments"], 0, "{rows}");
}
