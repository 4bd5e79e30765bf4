//! Golden tests: a resource whose Name tag carries every chat trick renders inert in every format.

use serde_json::Value;

use super::{render, WebhookFormat};
use crate::notify::fixtures::notice;
use crate::notify::message::warning_message;

/// A Slack broadcast, bold, a disguised Slack link, a Markdown link, a Discord broadcast and
/// italics, all in one EC2 Name tag.
const EVIL: &str =
    "<!channel> *api* <https://evil.example|click> [click](https://evil.example) @everyone _x_";

/// Zero-width space, which fences characters where a markup has no escape.
const Z: char = '\u{200B}';

/// The fixture warning, its first resource named `EVIL`, rendered for `format`.
fn evil_warning(format: WebhookFormat) -> Value {
    let mut n = notice();
    n.resources[0].name = Some(EVIL.into());
    render(format, &warning_message(&n, "/offhours")).body
}

/// Every string in a JSON value.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// Asserts that no string of `body` contains any of `live`.
fn assert_absent(format: WebhookFormat, body: &Value, live: &[&str]) {
    for s in strings(body) {
        for l in live {
            assert!(!s.contains(l), "{format}: {l:?} is live in {s:?}");
        }
    }
}

#[test]
fn slack_warning_is_inert() {
    let body = evil_warning(WebhookFormat::Slack);
    // No mention or <url|label> (every `<` is an entity), no bare URL, no bold or italics.
    assert_absent(WebhookFormat::Slack, &body, &["<", "://", "*api*", "_x_"]);
    let section = &body["blocks"][2]["text"];
    assert_eq!(section["verbatim"], true, "Slack must not auto-link");
    assert_eq!(
        section["text"],
        format!(
            "*Will stop*\n&lt;!channel&gt; {Z}*{Z}api{Z}*{Z} &lt;https:{Z}//evil.example|click&gt; \
             [click](https:{Z}//evil.example) @everyone {Z}_{Z}x{Z}_{Z} (i-0a1, ec2)\ndev-db (rds, postgres)"
        )
    );
    // offhours' own code spans still render as code.
    assert!(body["blocks"][3]["text"]["text"]
        .as_str()
        .is_some_and(|t| t.contains("`/offhours extend dev +1h`")));
}

#[test]
fn discord_warning_is_inert() {
    let body = evil_warning(WebhookFormat::Discord);
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_absent(
        WebhookFormat::Discord,
        &body,
        &["@everyone", "](", "https://", " *api*", " _x_"],
    );
    assert_eq!(
        body["embeds"][0]["fields"][0]["value"],
        format!(
            r"\<!channel\> \*api\* \<https\://evil.example\|click\> \[click\]\(https\://evil.example\) @{Z}everyone \_x\_ \(i-0a1, ec2\)"
        ) + "\n"
            + r"dev-db \(rds, postgres\)"
    );
}

#[test]
fn teams_warning_is_inert() {
    let body = evil_warning(WebhookFormat::Teams);
    assert_absent(
        WebhookFormat::Teams,
        &body,
        &["](", "https://", " *api*", " _x_", "`"],
    );
    let blocks = body["attachments"][0]["content"]["body"]
        .as_array()
        .expect("card body");
    let line = blocks
        .iter()
        .filter_map(|b| b["text"].as_str())
        .find(|t| t.contains("i-0a1"))
        .expect("the resource's TextBlock");
    assert_eq!(
        line,
        r"\<!channel\> \*api\* \<https\://evil.example\|click\> \[click\]\(https\://evil.example\) @everyone \_x\_ \(i-0a1, ec2\)"
    );
}

#[test]
fn google_chat_warning_is_inert() {
    let body = evil_warning(WebhookFormat::GoogleChat);
    assert_absent(
        WebhookFormat::GoogleChat,
        &body,
        &["<!channel>", "<https", "://", "*api*", "_x_"],
    );
    assert_eq!(
        body["cardsV2"][0]["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"],
        format!(
            "&lt;!channel&gt; {Z}*{Z}api{Z}*{Z} &lt;https:{Z}//evil.example|click&gt; \
             [click](https:{Z}//evil.example) @everyone {Z}_{Z}x{Z}_{Z} (i-0a1, ec2)<br>dev-db (rds, postgres)"
        )
    );
}

#[test]
fn jandi_warning_is_inert() {
    let body = evil_warning(WebhookFormat::Jandi);
    assert_absent(WebhookFormat::Jandi, &body, &["](", "://"]);
    assert_eq!(
        body["connectInfo"][1]["description"],
        format!(
            "<!channel> *api* <https:{Z}//evil.example|click> [click]{Z}(https:{Z}//evil.example) \
             @everyone _x_ (i-0a1, ec2)\ndev-db (rds, postgres)"
        )
    );
}

#[test]
fn generic_json_carries_the_name_as_data() {
    // Data for a program, not markup: the exact tag value, unescaped.
    let body = evil_warning(WebhookFormat::Generic);
    assert_eq!(body["data"]["resources"][0]["name"], EVIL);
    assert_eq!(
        body["sections"][0]["lines"][0],
        format!("{EVIL} (i-0a1, ec2)")
    );
}
