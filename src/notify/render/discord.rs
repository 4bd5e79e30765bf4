//! Discord webhook payload: one embed with a colour and one field per section, mentions disabled, every text escaped by `inert::discord`.

use serde_json::json;

use super::{clip, escaped, fit, json_only, lines_of, Payload};
use crate::core::inert::discord as escape;
use crate::notify::message::{Message, Severity};

/// The severity colour as the number Discord expects.
fn color_number(severity: Severity) -> u32 {
    u32::from_str_radix(severity.color().trim_start_matches('#'), 16).unwrap_or(0)
}

/// Discord's embed limits: title, description, fields, a field's name and value, and all
/// of an embed's text together.
pub(super) const TITLE_CHARS: usize = 256;
pub(super) const DESCRIPTION_CHARS: usize = 4096;
pub(super) const MAX_FIELDS: usize = 25;
pub(super) const FIELD_CHARS: usize = 1024;
pub(super) const EMBED_CHARS: usize = 6000;

/// Renders a message for Discord (an embed; no `content`, whose limit is 2,000).
pub(super) fn render(m: &Message) -> Payload {
    let title = clip(&escape(&m.title), TITLE_CHARS);
    let description = fit(
        &escaped(&lines_of(&m.text), escape),
        "\n",
        DESCRIPTION_CHARS,
    );
    let sections = &m.sections[..m.sections.len().min(MAX_FIELDS)];
    let names: Vec<String> = sections
        .iter()
        .map(|s| clip(&escape(&s.title), TITLE_CHARS))
        .collect();
    let used = title.chars().count()
        + description.chars().count()
        + names.iter().map(|n| n.chars().count()).sum::<usize>();
    // What is left of the embed's total goes to the fields in equal shares.
    let share = (EMBED_CHARS.saturating_sub(used) / sections.len().max(1)).min(FIELD_CHARS);
    let fields: Vec<_> = sections
        .iter()
        .zip(names)
        .map(|(s, name)| {
            json!({
                "name": name,
                "value": fit(&escaped(&s.lines, escape), "\n", share),
                "inline": false,
            })
        })
        .collect();
    json_only(json!({
        "username": "offhours",
        "embeds": [{
            "title": title,
            "description": description,
            "color": color_number(m.severity),
            "fields": fields,
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
