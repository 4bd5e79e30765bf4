//! Microsoft Teams (Workflows webhook) payload: an Adaptive Card attachment of text blocks, every text escaped by `inert::teams`.

use serde_json::json;

use super::{clip, json_only, Payload};
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

/// Renders a message for Teams.
pub(super) fn render(m: &Message) -> Payload {
    let mut body = vec![
        json!({"type": "TextBlock", "text": clip(&escape(&m.title), 500), "weight": "Bolder", "size": "Medium", "wrap": true, "color": color(m.severity)}),
        json!({"type": "TextBlock", "text": clip(&escape(&m.text), 2000), "wrap": true}),
    ];
    for s in &m.sections {
        body.push(json!({"type": "TextBlock", "text": escape(&s.title), "weight": "Bolder", "wrap": true, "spacing": "Medium"}));
        for l in &s.lines {
            body.push(json!({"type": "TextBlock", "text": clip(&escape(l), 1000), "wrap": true, "spacing": "None"}));
        }
    }
    json_only(json!({
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
    }))
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
