//! Generic JSON event for any other receiver: the message's fields plus the data it was built from.

use serde_json::json;

use super::{json_only, Payload};
use crate::notify::message::Message;

/// Renders a message for the generic JSON receiver. Texts go out raw, with no escaping:
/// this format is data for a program (a JSON string cannot inject anything into the JSON
/// around it); a receiver that shows the texts in a markup escapes them for that markup.
pub(super) fn render(m: &Message) -> Payload {
    json_only(json!({
        "source": "offhours",
        "kind": m.kind,
        "severity": m.severity,
        "schedule": m.schedule,
        "title": m.title,
        "text": m.text,
        "sections": m.sections,
        "data": m.data,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::rendered;
    use super::super::WebhookFormat;

    #[test]
    fn generic_payload_carries_kind_schedule_and_data() {
        let p = rendered(WebhookFormat::Generic);
        assert_eq!(p.body["source"], "offhours");
        assert_eq!(p.body["kind"], "pre_stop_warning");
        assert_eq!(p.body["schedule"], "dev");
        assert_eq!(p.body["severity"], "warning");
        assert_eq!(p.body["data"]["stop_at"], "2026-11-23T22:00:00+09:00");
        assert_eq!(p.body["data"]["resources"][0]["id"], "i-0a1");
    }
}
