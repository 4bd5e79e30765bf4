//! Size-limit tests: a transition of a 500-resource group rendered for every platform stays within the platform's limits and says exactly how many resources it left out.

use serde_json::Value;

use super::{render, WebhookFormat};
use crate::core::config::{Action, ResourceKind};
use crate::core::plan::{Decision, Reason, ResourceRef, Step, StepStatus};
use crate::notify::message::transition_message;

const RESOURCES: usize = 500;

/// `dev` started: one step of the API group with 500 named EC2 instances.
fn big_transition() -> crate::notify::message::Message {
    let step = Step {
        schedule: "dev".into(),
        group: "API".into(),
        action: Action::Start,
        status: StepStatus::Done,
        waiting_on: Vec::new(),
        resources: (0..RESOURCES)
            .map(|i| ResourceRef {
                id: format!("i-{i:017x}"),
                kind: ResourceKind::Ec2,
                account: None,
                region: None,
                name: Some(format!("api-server-{i:03}")),
                engine: None,
                hibernate: false,
                desired: None,
                min: None,
                max: None,
            })
            .collect(),
        failures: Vec::new(),
    };
    let decision = Decision {
        schedule: "dev".into(),
        event: None,
        desired: Some(Action::Start),
        transition: Some(Action::Start),
        reason: Reason::Boundary,
        complete: true,
        busy: Vec::new(),
        homes: Default::default(),
        skip_ends: None,
        stopped: Default::default(),
        counts: Default::default(),
        sizes: Default::default(),
        tally: Default::default(),
    };
    transition_message(&decision, &[&step], None)
}

/// (resources shown, N of "…and N more") in `text`.
fn shown_and_left_out(text: &str) -> (usize, usize) {
    let shown = text.matches("ec2").count();
    let left = text
        .split("…and ")
        .nth(1)
        .and_then(|rest| rest.split(" more").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (shown, left)
}

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Asserts the exact count: every resource is either shown or counted, and some are shown.
fn assert_counted(format: WebhookFormat, text: &str) {
    let (shown, left) = shown_and_left_out(text);
    assert!(
        shown > 0 && left > 0,
        "{format}: shown {shown}, left out {left}"
    );
    assert_eq!(shown + left, RESOURCES, "{format}: {text}");
}

#[test]
fn a_500_resource_group_fits_every_platform_and_counts_what_was_left_out() {
    let m = big_transition();
    // Slack: sections of 3,000 characters, at most 50 blocks.
    let slack = render(WebhookFormat::Slack, &m).body;
    let blocks = slack["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50);
    assert!(chars(&slack["text"]) <= 40_000);
    assert!(blocks[1..]
        .iter()
        .all(|b| chars(&b["text"]["text"]) <= 3000));
    assert_counted(
        WebhookFormat::Slack,
        blocks[2]["text"]["text"].as_str().unwrap_or(""),
    );
    // Discord: a field of 1,024, a description of 4,096, an embed of 6,000 characters.
    let discord = render(WebhookFormat::Discord, &m).body;
    let embed = &discord["embeds"][0];
    let field = &embed["fields"][0];
    assert!(chars(&field["value"]) <= 1024 && chars(&embed["description"]) <= 4096);
    let total = chars(&embed["title"])
        + chars(&embed["description"])
        + embed["fields"].as_array().map_or(0, |f| {
            f.iter()
                .map(|x| chars(&x["name"]) + chars(&x["value"]))
                .sum()
        });
    assert!(total <= 6000, "{total}");
    assert_counted(
        WebhookFormat::Discord,
        field["value"].as_str().unwrap_or(""),
    );
    // Teams: the whole payload under 28 KB.
    let teams = render(WebhookFormat::Teams, &m).body;
    assert!(
        teams.to_string().len() <= 28_000,
        "{}",
        teams.to_string().len()
    );
    let texts: Vec<&str> = teams["attachments"][0]["content"]["body"]
        .as_array()
        .expect("card body")
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert_counted(WebhookFormat::Teams, &texts.join("\n"));
    // Google Chat: 4,096 characters per text.
    let google = render(WebhookFormat::GoogleChat, &m).body;
    let paragraph =
        &google["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"];
    assert!(chars(paragraph) <= 4096 && chars(&google["text"]) <= 4096);
    assert_counted(WebhookFormat::GoogleChat, paragraph.as_str().unwrap_or(""));
    // JANDI: offhours' own limits (JANDI publishes none).
    let jandi = render(WebhookFormat::Jandi, &m).body;
    let description = &jandi["connectInfo"][1]["description"];
    assert!(chars(description) <= 4000 && chars(&jandi["body"]) <= 1000);
    assert_counted(WebhookFormat::Jandi, description.as_str().unwrap_or(""));
    // Generic JSON is data for a program: everything, unclipped.
    let generic = render(WebhookFormat::Generic, &m).body;
    let all = generic["sections"][0]["lines"].as_array().expect("lines");
    assert_eq!(all.len(), RESOURCES + 1);
}
