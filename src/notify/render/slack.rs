//! Slack incoming webhook payload: fallback text plus Block Kit header and mrkdwn sections, every text escaped by `inert::slack`.

use serde_json::json;

use super::{clip, escaped, fit, json_only, lines_of, Payload};
use crate::core::clip::more;
use crate::core::inert::slack as escape;
use crate::notify::message::Message;

/// Slack's limits: a section's text, blocks per message, a header's text.
pub(super) const SECTION_CHARS: usize = 3000;
pub(super) const MAX_BLOCKS: usize = 50;
const HEADER_CHARS: usize = 150;

/// Renders a message for Slack: each section's lines fit in one block (the rest counted).
pub(super) fn render(m: &Message) -> Payload {
    // `verbatim`: Slack neither links URLs nor parses names in these texts by itself.
    let mrkdwn = |text: String| json!({"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": true}});
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&escape(&m.title), HEADER_CHARS), "emoji": false}}),
        mrkdwn(fit(
            &escaped(&lines_of(&m.text), escape),
            "\n",
            SECTION_CHARS,
        )),
    ];
    let room = MAX_BLOCKS - blocks.len();
    let shown = if m.sections.len() > room {
        room - 1
    } else {
        m.sections.len()
    };
    for s in &m.sections[..shown] {
        let title = format!("*{}*", clip(&escape(&s.title), 200));
        let budget = SECTION_CHARS - title.chars().count() - 1;
        let lines = fit(&escaped(&s.lines, escape), "\n", budget);
        blocks.push(mrkdwn(format!("{title}\n{lines}")));
    }
    if shown < m.sections.len() {
        blocks.push(mrkdwn(more(m.sections.len() - shown)));
    }
    json_only(json!({
        "text": clip(&escape(&format!("{}: {}", m.title, m.text)), SECTION_CHARS),
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
