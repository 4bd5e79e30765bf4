//! Microsoft Teams (Workflows webhook) payload: an Adaptive Card attachment of text blocks, every text escaped by `inert::teams`.

use serde_json::json;

use super::{clip, json_only, Payload};
use crate::core::clip::more;
use crate::core::inert::teams as escape;
use crate::notify::message::{Message, Severity};

/// The Adaptive Card text colour of a severity.
fn color(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "Good",
        Severity::Warning => "Warning",
        Severity::Error => "Attention",
    }
}

/// Teams refuses a message larger than about 28 KB; offhours keeps the whole payload
/// (JSON, in bytes) under this.
pub(super) const PAYLOAD_BYTES: usize = 27_000;

/// Renders a message for Teams: one text block per line while the payload stays under
/// [`PAYLOAD_BYTES`]; then one block counts the lines left out.
pub(super) fn render(m: &Message) -> Payload {
    let mut body = vec![
        json!({"type": "TextBlock", "text": clip(&escape(&m.title), 500), "weight": "Bolder", "size": "Medium", "wrap": true, "color": color(m.severity)}),
        json!({"type": "TextBlock", "text": clip(&escape(&m.text), 2000), "wrap": true}),
    ];
    let size = |v: &serde_json::Value| v.to_string().len() + 1;
    // The card around the blocks, and the last block that counts what was left out.
    let reserve = size(&card(Vec::new())) + size(&line(&more(usize::MAX)));
    let mut used: usize = body.iter().map(size).sum::<usize>() + reserve;
    let total: usize = m.sections.iter().map(|s| s.lines.len() + 1).sum();
    let mut placed = 0;
    'sections: for s in &m.sections {
        let heading = json!({"type": "TextBlock", "text": clip(&escape(&s.title), 500), "weight": "Bolder", "wrap": true, "spacing": "Medium"});
        for block in
            std::iter::once(heading).chain(s.lines.iter().map(|l| line(&clip(&escape(l), 1000))))
        {
            if used + size(&block) > PAYLOAD_BYTES {
                break 'sections;
            }
            used += size(&block);
            body.push(block);
            placed += 1;
        }
    }
    if placed < total {
        // Counted as lines (a section's heading included).
        body.push(line(&more(total - placed)));
    }
    json_only(card(body))
}

fn line(text: &str) -> serde_json::Value {
    json!({"type": "TextBlock", "text": text, "wrap": true, "spacing": "None"})
}

fn card(body: Vec<serde_json::Value>) -> serde_json::Value {
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body,
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::rendered;
    use super::super::WebhookFormat;

    #[test]
    fn teams_payload_is_an_adaptive_card_attachment() {
        let p = rendered(WebhookFormat::Teams);
        assert_eq!(p.body["type"], "message");
        let a = &p.body["attachments"][0];
        assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(a["content"]["type"], "AdaptiveCard");
        assert_eq!(a["content"]["version"], "1.4");
        let body = a["content"]["body"].as_array().expect("card body");
        assert!(body.iter().all(|b| b["type"] == "TextBlock"));
    }
}
