//! Discord webhook payload: one embed with a colour and one field per section, mentions disabled, every text escaped by `inert::discord`.

use serde_json::json;

use super::{clip, json_only, Payload};
use crate::core::inert::discord as escape;
use crate::notify::message::{Message, Severity};

/// The severity colour as the number Discord expects.
fn color_number(severity: Severity) -> u32 {
    u32::from_str_radix(severity.color().trim_start_matches('#'), 16).unwrap_or(0)
}

/// Renders a message for Discord.
pub(super) fn render(m: &Message) -> Payload {
    json_only(json!({
        "username": "offhours",
        "embeds": [{
            "title": clip(&escape(&m.title), 256),
            "description": clip(&escape(&m.text), 4000),
            "color": color_number(m.severity),
            "fields": m.sections.iter().take(25).map(|s| json!({
                "name": clip(&escape(&s.title), 256),
                "value": clip(&escape(&s.lines.join("\n")), 1024),
                "inline": false,
            })).collect::<Vec<_>>(),
        }],
        "allowed_mentions": {"parse": []},
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::rendered;
    use super::super::WebhookFormat;
    use serde_json::json;

    #[test]
    fn discord_payload_has_an_embed_with_fields() {
        let p = rendered(WebhookFormat::Discord);
        let e = &p.body["embeds"][0];
        assert!(e["title"].as_str().is_some_and(|t| t.contains("dev stops")));
        assert_eq!(e["color"], 0xFAC11B);
        assert_eq!(e["fields"].as_array().map(Vec::len), Some(2));
        assert_eq!(p.body["allowed_mentions"]["parse"], json!([]));
    }
}
