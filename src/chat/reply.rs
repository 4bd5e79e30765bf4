//! A platform-independent `Reply`, its rendering per platform (every text escaped by `core::inert`), and the time formats replies use.

use chrono::NaiveDate;
use serde_json::json;

use super::{ChatResponse, Platform};
use crate::core::inert;

/// A reply, independent of the platform. Title and lines are text with `code` spans in
/// backticks; user-controlled text in them carries no backtick (`inert::plain`), and the
/// renderer escapes all of it for the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub ok: bool,
    pub title: String,
    pub lines: Vec<String>,
    /// Shown to the whole channel (changes), or only to the sender (queries, errors).
    pub public: bool,
}

impl Reply {
    pub(super) fn ok(title: impl Into<String>, lines: Vec<String>) -> Self {
        Self {
            ok: true,
            title: title.into(),
            lines,
            public: false,
        }
    }

    pub(super) fn error(title: impl Into<String>) -> Self {
        Self {
            ok: false,
            title: title.into(),
            lines: Vec::new(),
            public: false,
        }
    }

    pub(super) fn public(mut self) -> Self {
        self.public = true;
        self
    }
}

/// Renders a reply in the platform's response format.
pub fn render_reply(platform: Platform, reply: &Reply) -> ChatResponse {
    match platform {
        Platform::Slack => {
            let mut text = format!("*{}*", inert::slack(&reply.title));
            for l in &reply.lines {
                text.push('\n');
                text.push_str(&inert::slack(l));
            }
            ChatResponse::json(json!({
                "response_type": if reply.public { "in_channel" } else { "ephemeral" },
                "text": text,
            }))
        }
        Platform::Jandi => {
            let mut body = json!({
                "body": inert::jandi(&reply.title),
                "connectColor": if reply.ok { "#2EB67D" } else { "#E01E5A" },
            });
            if !reply.lines.is_empty() {
                body["connectInfo"] = json!([{
                    "title": "",
                    "description": inert::jandi(&reply.lines.join("\n")),
                }]);
            }
            ChatResponse::json(body)
        }
    }
}

pub(super) fn weekday_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d (%a)").to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::chat::fixtures::*;
    use crate::chat::handle;

    #[tokio::test]
    async fn slack_replies_are_json_with_response_type() {
        let now = at("2026-11-23T12:50:00Z");
        let store = store();
        let r = handle(
            &slack_request("help", now, SECRET),
            now,
            &store,
            &settings(),
            &secrets(),
        )
        .await;
        assert_eq!((r.status, r.content_type), (200, "application/json"));
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["response_type"], "ephemeral");
        assert!(v["text"]
            .as_str()
            .is_some_and(|t| t.contains("`/offhours extend &lt;schedule&gt;")));

        let r = handle(
            &slack_request("start dev", now, SECRET),
            now,
            &store,
            &settings(),
            &secrets(),
        )
        .await;
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["response_type"], "in_channel");
        assert!(v["text"]
            .as_str()
            .is_some_and(|t| t.contains("ForceStart set") && t.contains("mina")));
        let raw = store.snapshot().expect("snapshot");
        assert_eq!(raw.schedules[0]["ForceStart"], Value::Bool(true));
    }

    #[tokio::test]
    async fn jandi_replies_have_body_color_and_info() {
        let now = at("2026-11-23T12:50:00Z");
        let r = handle(
            &jandi_request("/offhours status dev", TOKEN),
            now,
            &store(),
            &settings(),
            &secrets(),
        )
        .await;
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["body"], "dev (Asia/Seoul)");
        assert_eq!(v["connectColor"], "#2EB67D");
        let d = v["connectInfo"][0]["description"]
            .as_str()
            .expect("description");
        assert!(
            d.contains("DB (RDS): dev-db (rds, postgres) available"),
            "{d}"
        );
        assert!(d.contains("API (EC2): api-1 (i-0a1, ec2) running"), "{d}");
        assert!(d.contains("next stop: 2026-11-23 22:00 KST"), "{d}");
    }

    /// Every chat trick in one EC2 Name tag (see `notify/render/golden.rs`).
    const EVIL: &str =
        "<!channel> *api* <https://evil.example|click> [click](https://evil.example) @everyone _x_";
    const Z: char = '\u{200B}';

    /// The fixture store with api-1's Name tag set to `EVIL`.
    fn evil_store() -> crate::ports::MemoryStore {
        crate::ports::MemoryStore::new(
            crate::core::config::RawConfig::parse(CONFIG, "test").expect("config"),
            crate::core::inventory::parse_inventory(
                &INVENTORY.replace("Name: api-1", &format!("Name: '{EVIL}'")),
                "test",
            )
            .expect("inventory"),
        )
    }

    #[tokio::test]
    async fn slack_replies_show_tags_and_arguments_as_literal_text() {
        let now = at("2026-11-23T12:50:00Z");
        let store = evil_store();
        let answer = |text: &str| {
            let request = slack_request(text, now, SECRET);
            let store = &store;
            async move {
                let r = handle(&request, now, store, &settings(), &secrets()).await;
                let v: Value = serde_json::from_str(&r.body).expect("json");
                v["text"].as_str().expect("text").to_string()
            }
        };
        let status = answer("status dev").await;
        assert!(!status.contains('<') && !status.contains("://"), "{status}");
        assert!(
            status.contains(&format!(
                "API (EC2): &lt;!channel&gt; {Z}*{Z}api{Z}*{Z} &lt;https:{Z}//evil.example|click&gt; \
                 [click](https:{Z}//evil.example) @everyone {Z}_{Z}x{Z}_{Z} (i-0a1, ec2) running"
            )),
            "{status}"
        );
        // An argument echoed back in an error is inert too.
        let unknown = answer("status <!here|*x*>").await;
        assert_eq!(
            unknown,
            format!("*unknown schedule '&lt;!here|{Z}*{Z}x{Z}*{Z}&gt;'. Schedules: dev*")
        );
    }

    #[tokio::test]
    async fn jandi_replies_show_tags_as_literal_text() {
        let now = at("2026-11-23T12:50:00Z");
        let r = handle(
            &jandi_request("/offhours status dev", TOKEN),
            now,
            &evil_store(),
            &settings(),
            &secrets(),
        )
        .await;
        let v: Value = serde_json::from_str(&r.body).expect("json");
        let d = v["connectInfo"][0]["description"]
            .as_str()
            .expect("description");
        assert!(!d.contains("](") && !d.contains("://"), "{d}");
        assert!(
            d.contains(&format!(
                "API (EC2): <!channel> *api* <https:{Z}//evil.example|click> \
                 [click]{Z}(https:{Z}//evil.example) @everyone _x_ (i-0a1, ec2) running"
            )),
            "{d}"
        );
    }
}
