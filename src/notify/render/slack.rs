//! Slack incoming webhook payload: fallback text plus Block Kit header and mrkdwn sections, every text escaped by `inert::slack`.

use serde_json::json;

use super::{clip, json_only, Payload};
use crate::core::inert::slack as escape;
use crate::notify::message::Message;

/// Renders a message for Slack.
pub(super) fn render(m: &Message) -> Payload {
    // `verbatim`: Slack neither links URLs nor parses names in these texts by itself.
    let mrkdwn = |text: &str| json!({"type": "mrkdwn", "text": clip(text, 3000), "verbatim": true});
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&escape(&m.title), 150), "emoji": false}}),
        json!({"type": "section", "text": mrkdwn(&escape(&m.text))}),
    ];
    for s in &m.sections {
        let text = format!("*{}*\n{}", escape(&s.title), escape(&s.lines.join("\n")));
        blocks.push(json!({"type": "section", "text": mrkdwn(&text)}));
    }
    json_only(json!({
        "text": clip(&escape(&format!("{}: {}", m.title, m.text)), 3000),
        "blocks": blocks,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::rendered;
    use super::super::WebhookFormat;

    #[test]
    fn slack_payload_has_text_and_blocks() {
        let p = rendered(WebhookFormat::Slack);
        assert!(p.headers.is_empty());
        assert!(p.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("dev stops")));
        let blocks = p.body["blocks"].as_array().expect("blocks");
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert!(blocks[1..]
            .iter()
            .all(|b| b["type"] == "section" && b["text"]["type"] == "mrkdwn"));
    }
}
