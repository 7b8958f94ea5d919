//! The analyst end to end through the routing core and the simulator on loopback: three models
//! answer, the analyst gets every answer under its blind label and a JSON schema, and its reply
//! parses into an analysis that names one of the labels, with usage and a reported cost. A model
//! without structured outputs gets the plain-text prompt and its reply is kept as text.

mod common;

use common::*;
use roundtable::core::catalog::Catalog;
use roundtable::core::compare::analyst::{self, AnalystAnswer, AnalystReply, AnalystRequest};
use roundtable::core::protocol::{CostSource, EventKind, ModelSettings, TargetId, TargetRequest};

fn finished_text(events: &[EventKind]) -> (String, roundtable::core::protocol::StreamSummary) {
    let EventKind::Finished { summary, .. } = final_of(events) else { panic!("{:?}", final_of(events)) };
    (summary.text.clone(), (**summary).clone())
}

fn analyst_target(model: &str, req: &AnalystRequest) -> TargetRequest {
    TargetRequest {
        target: TargetId(0),
        model: format!("{model}@tps=0@ttft=0"),
        messages: req.messages.clone(),
        settings: ModelSettings { response_format: req.response_format.clone(), ..ModelSettings::default() },
        tools: vec![],
        tools_to_start: vec![],
    }
}

#[tokio::test]
async fn structured_analysis_of_a_blind_round() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let prompt = "Explain TCP slow start";
    let models = ["a@tokens=60@tps=0@ttft=0", "b@tokens=40@tps=0@ttft=0", "c@tokens=50@tps=0@ttft=0"];
    let targets = models.iter().enumerate().map(|(i, m)| target(i as u32, m, prompt)).collect();
    let per = run_turn(&core, &mut events, targets).await;
    let answers: Vec<(String, String)> =
        models.iter().zip(&per).map(|(m, evs)| ((*m).to_owned(), finished_text(evs).0)).collect();
    let labelled = AnalystAnswer::label_all(&answers, true);

    let catalog = Catalog::snapshot();
    let analyst_model = catalog
        .models
        .iter()
        .find(|m| analyst::supports_structured_output(m) && !m.is_free())
        .expect("a catalog model with structured outputs");
    let req = AnalystRequest::build(prompt, &labelled, true);
    let user = &req.messages[1].content;
    for (label, (_, text)) in labelled.iter().map(|a| &a.label).zip(&answers) {
        assert!(user.contains(&format!("<answer label=\"{label}\">")) && user.contains(text.trim_end()));
    }
    assert!(!user.contains("a@tokens"), "no model id in a blind analysis request");

    let per = run_turn(&core, &mut events, vec![analyst_target(&analyst_model.id, &req)]).await;
    let (text, summary) = finished_text(&per[0]);
    let AnalystReply::Structured(analysis) = analyst::parse_reply(&text) else { panic!("not structured: {text}") };
    let best = analysis.best_index(&labelled).expect("the verdict names one of the labels");
    assert!(best < 3);
    let usage = summary.usage.as_ref().expect("usage");
    let answers_chars: usize = answers.iter().map(|(_, t)| t.len()).sum();
    assert!(usage.prompt_tokens as usize > answers_chars / 4, "the prompt carried the answers: {usage:?}");
    assert_eq!(summary.cost.as_ref().map(|c| c.source), Some(CostSource::Reported));
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_text_fallback_without_structured_outputs() {
    let sim = sim().await;
    let (core, mut events) = start_core(core_config(&sim.base_url()));
    let answers = vec![("x".to_owned(), "One answer.".to_owned()), ("y".to_owned(), "Another answer.".to_owned())];
    let labelled = AnalystAnswer::label_all(&answers, false);
    let catalog = Catalog::snapshot();
    let plain_model = catalog
        .models
        .iter()
        .find(|m| !analyst::supports_structured_output(m) && !m.supports_tools())
        .expect("a catalog model without structured outputs");
    let req = AnalystRequest::build("Say something", &labelled, analyst::supports_structured_output(plain_model));
    assert!(req.response_format.is_none());
    let per = run_turn(&core, &mut events, vec![analyst_target(&plain_model.id, &req)]).await;
    let (text, _) = finished_text(&per[0]);
    assert_eq!(analyst::parse_reply(&text), AnalystReply::Text(text.clone()));
    sim.shutdown().await;
}
