//! A platform-independent `Reply`, its rendering per platform, and the time formats replies use.

use chrono::NaiveDate;
use serde_json::json;

use super::{ChatResponse, Platform};

/// A reply, independent of the platform.
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
            let mut text = format!("*{}*", reply.title);
            for l in &reply.lines {
                text.push('\n');
                text.push_str(l);
            }
            ChatResponse::json(json!({
                "response_type": if reply.public { "in_channel" } else { "ephemeral" },
                "text": text,
            }))
        }
        Platform::Jandi => {
            let mut body = json!({
                "body": reply.title,
                "connectColor": if reply.ok { "#2EB67D" } else { "#E01E5A" },
            });
            if !reply.lines.is_empty() {
                body["connectInfo"] = json!([{
                    "title": "",
                    "description": reply.lines.iter().map(|l| l.replace('`', "")).collect::<Vec<_>>().join("\n"),
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
            .is_some_and(|t| t.contains("/offhours extend <schedule>")));

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
}
