//! Google Chat webhook payload: fallback text plus a cardsV2 card with one section per message section, every text escaped by `inert::google_chat`.

use serde_json::json;

use super::{clip, escaped, fit, json_only, Payload};
use crate::core::inert::google_chat as escape;
use crate::notify::message::Message;

/// Google Chat's limit of one text (the fallback text, a text paragraph).
pub(super) const TEXT_CHARS: usize = 4096;

/// Renders a message for Google Chat.
pub(super) fn render(m: &Message) -> Payload {
    json_only(json!({
        "text": clip(&escape(&format!("{}: {}", m.title, m.text)), TEXT_CHARS),
        "cardsV2": [{
            "cardId": format!("offhours-{}", m.kind.as_str()),
            "card": {
                "header": {"title": clip(&escape(&m.title), 200), "subtitle": clip(&escape(&m.text), 400)},
                "sections": m.sections.iter().map(|s| json!({
                    "header": clip(&escape(&s.title), 200),
                    "widgets": [{"textParagraph": {"text": fit(&escaped(&s.lines, escape), "<br>", TEXT_CHARS)}}],
                })).collect::<Vec<_>>(),
            }
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::rendered;
    use super::super::WebhookFormat;

    #[test]
    fn google_chat_payload_has_text_and_cards_v2() {
        let p = rendered(WebhookFormat::GoogleChat);
        assert!(p.body["text"].is_string());
        let card = &p.body["cardsV2"][0];
        assert!(card["cardId"].is_string());
        assert!(card["card"]["header"]["title"].is_string());
        let w = &card["card"]["sections"][0]["widgets"][0]["textParagraph"]["text"];
        assert!(w
            .as_str()
            .is_some_and(|t| t.contains("api-1") && t.contains("<br>")));
    }
}
