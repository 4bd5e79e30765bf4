//! JANDI incoming webhook payload: a body line, a colour bar and `connectInfo` blocks, sent with JANDI's `Accept` header; every text escaped by `inert::jandi`.

use serde_json::json;

use super::{clip, escaped, fit, lines_of, Payload};
use crate::core::clip::{JANDI_BODY_CHARS, JANDI_DESCRIPTION_CHARS};
use crate::core::inert::jandi as escape;
use crate::notify::message::Message;

/// The JANDI `Accept` header that incoming webhooks require.
pub const JANDI_ACCEPT: &str = "application/vnd.tosslab.jandi-v2+json";

/// Renders a message for JANDI.
pub(super) fn render(m: &Message) -> Payload {
    let title = if m.title.starts_with("offhours") {
        escape(&m.title)
    } else {
        format!("[offhours] {}", escape(&m.title))
    };
    let text = fit(
        &escaped(&lines_of(&m.text), escape),
        "\n",
        JANDI_DESCRIPTION_CHARS,
    );
    Payload {
        headers: vec![("Accept", JANDI_ACCEPT)],
        body: json!({
            "body": clip(&title, JANDI_BODY_CHARS),
            "connectColor": m.severity.color(),
            "connectInfo": std::iter::once(json!({"title": "", "description": text}))
                .chain(m.sections.iter().map(|s| json!({
                    "title": clip(&escape(&s.title), 200),
                    "description": fit(&escaped(&s.lines, escape), "\n", JANDI_DESCRIPTION_CHARS),
                })))
                .collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::rendered;
    use super::super::WebhookFormat;

    #[test]
    fn jandi_payload_has_accept_header_body_color_and_info() {
        let p = rendered(WebhookFormat::Jandi);
        assert_eq!(
            p.headers,
            [("Accept", "application/vnd.tosslab.jandi-v2+json")]
        );
        assert!(p.body["body"]
            .as_str()
            .is_some_and(|b| b.contains("dev stops at 22:00")));
        assert_eq!(p.body["connectColor"], "#FAC11B");
        let info = p.body["connectInfo"].as_array().expect("connectInfo list");
        assert!(info
            .iter()
            .all(|i| i["title"].is_string() && i["description"].is_string()));
        assert!(info.iter().any(|i| i["description"]
            .as_str()
            .is_some_and(|d| d.contains("/offhours extend dev +1h") && !d.contains('`'))));
    }
}
