//! A platform-independent `Reply`, its rendering per platform (every text escaped by `core::inert`), and the time formats replies use.

use chrono::NaiveDate;
use serde_json::json;

use super::{ChatResponse, Platform};
use crate::core::clip::{clip, fit, JANDI_BODY_CHARS, JANDI_DESCRIPTION_CHARS, SLACK_TEXT_CHARS};
use crate::core::inert;
use crate::error::Error;

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

    /// The answer to a command that failed inside offhours (AWS, the tables): short and
    /// generic, with a correlation id. The full error (operation, code, message with ARNs
    /// and account ids) goes to the log under that id, never into the chat.
    pub(super) fn failed(error: &Error) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        tracing::error!(error_id = %id, error = %error, "chat command failed");
        Self::error(format!(
            "offhours could not do that (error {id}). Try again later; if it persists, an operator can look up {id} in the log."
        ))
    }

    pub(super) fn public(mut self) -> Self {
        self.public = true;
        self
    }
}

/// Renders a reply in the platform's response format, within the platform's size limit
/// (lines that do not fit are counted: "…and 37 more").
pub fn render_reply(platform: Platform, reply: &Reply) -> ChatResponse {
    match platform {
        Platform::Slack => {
            let title = format!("*{}*", clip(&inert::slack(&reply.title), 3000));
            let lines: Vec<String> = reply.lines.iter().map(|l| inert::slack(l)).collect();
            let budget = SLACK_TEXT_CHARS - title.chars().count() - 1;
            let text = if lines.is_empty() {
                title
            } else {
                format!("{title}\n{}", fit(&lines, "\n", budget))
            };
            ChatResponse::json(json!({
                "response_type": if reply.public { "in_channel" } else { "ephemeral" },
                "text": text,
            }))
        }
        Platform::Jandi => {
            let mut body = json!({
                "body": clip(&inert::jandi(&reply.title), JANDI_BODY_CHARS),
                "connectColor": if reply.ok { "#2EB67D" } else { "#E01E5A" },
            });
            if !reply.lines.is_empty() {
                let lines: Vec<String> = reply.lines.iter().map(|l| inert::jandi(l)).collect();
                body["connectInfo"] = json!([{
                    "title": "",
                    "description": fit(&lines, "\n", JANDI_DESCRIPTION_CHARS),
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

    #[tokio::test]
    async fn replies_fit_the_platform_and_count_the_resources_left_out() {
        // GIVEN dev's API group has 500 instances with long Name tags
        let mut inventory = String::from("resources:\n");
        for i in 0..500 {
            inventory.push_str(&format!(
                "  - {{id: i-{i:017x}, kind: ec2, state: running, tags: {{ScheduleName: dev, ScheduleGroupName: API, Name: {}-{i:03}}}}}\n",
                "a-rather-long-instance-name-for-the-payments-api-in-the-staging-account"
            ));
        }
        let store = crate::ports::MemoryStore::new(
            crate::core::config::RawConfig::parse(CONFIG, "test").expect("config"),
            crate::core::inventory::parse_inventory(&inventory, "test").expect("inventory"),
        );
        let now = at("2026-11-23T12:50:00Z");
        for (request, field, limit) in [
            (slack_request("status dev", now, SECRET), "/text", 40_000),
            (
                jandi_request("/offhours status dev", TOKEN),
                "/connectInfo/0/description",
                4000,
            ),
        ] {
            // WHEN status is asked
            let r = handle(&request, now, &store, &settings(), &secrets()).await;
            let v: Value = serde_json::from_str(&r.body).expect("json");
            let text = v.pointer(field).and_then(Value::as_str).expect("text");
            // THEN the reply is within the limit, one resource per line, the rest counted
            assert!(text.chars().count() <= limit, "{}", text.chars().count());
            assert!(text.contains("API (EC2): 500 resources"), "{text}");
            let shown = text.matches(", ec2) running").count();
            let left: usize = text
                .rsplit("…and ")
                .next()
                .and_then(|t| t.strip_suffix(" more"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("no count at the end of {text}"));
            assert!(shown > 0, "{text}");
            assert_eq!(shown + left, 500, "{field}");
        }
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

    /// The fixture store, whose cloud and writes fail the way AWS does: with ARNs and the
    /// account id in the message.
    struct Denied(crate::ports::MemoryStore);

    const ACCOUNT: &str = "123456789012";

    fn denied() -> crate::error::Error {
        crate::error::Error::Aws {
            operation: "UpdateItem",
            code: "AccessDeniedException".into(),
            message: format!(
                "User: arn:aws:sts::{ACCOUNT}:assumed-role/offhours-chat/fn is not authorized to perform: \
                 dynamodb:UpdateItem on resource: arn:aws:dynamodb:ap-northeast-2:{ACCOUNT}:table/Schedule"
            ),
            source: None,
        }
    }

    impl crate::ports::CommandStore for Denied {
        async fn load_config(&self) -> crate::error::Result<crate::core::config::RawConfig> {
            self.0.load_config().await
        }
        async fn put_exception(&self, _: &crate::core::config::Item) -> crate::error::Result<()> {
            Err(denied())
        }
        async fn delete_exception(&self, _: &str) -> crate::error::Result<bool> {
            Err(denied())
        }
        async fn set_force(
            &self,
            _: &str,
            _: crate::core::config::Action,
        ) -> crate::error::Result<bool> {
            Err(denied())
        }
        async fn observe(&self) -> crate::error::Result<Vec<crate::core::planner::Resource>> {
            Err(denied())
        }
    }

    impl crate::ports::Dedup for Denied {
        async fn delivered(&self, key: &str) -> crate::error::Result<bool> {
            crate::ports::Dedup::delivered(&self.0, key).await
        }
        async fn record(&self, key: &str) -> crate::error::Result<()> {
            crate::ports::Dedup::record(&self.0, key).await
        }
    }

    #[tokio::test]
    async fn aws_errors_reach_the_log_under_an_id_and_only_the_id_reaches_chat() {
        let now = at("2026-11-23T12:50:00Z");
        let store = Denied(store());
        for (request, field) in [
            (slack_request("stop dev", now, SECRET), "text"),
            (slack_request("status dev", now, SECRET), "text"),
            (jandi_request("/offhours extend dev +1h", TOKEN), "body"),
        ] {
            // GIVEN the log is captured WHEN a command meets an AWS error
            let logs = Logs::capture();
            let r = handle(&request, now, &store, &settings(), &secrets()).await;
            let v: Value = serde_json::from_str(&r.body).expect("json");
            let reply = v[field].as_str().expect("reply text").to_string();
            // THEN the reply names an 8-hex-digit id and nothing of the error
            let id = reply
                .split("(error ")
                .nth(1)
                .and_then(|rest| rest.get(..8))
                .unwrap_or_default()
                .to_string();
            assert!(
                id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()),
                "{reply}"
            );
            for internal in ["arn:", ACCOUNT, "AccessDenied", "UpdateItem", "dynamodb"] {
                assert!(!r.body.contains(internal), "{internal} leaked: {}", r.body);
            }
            // AND the log has the whole error under that id
            let log = logs.text();
            let line = log
                .lines()
                .find(|l| l.contains(&format!("error_id={id}")))
                .unwrap_or_else(|| panic!("no log line for {id}:\n{log}"));
            assert!(
                line.contains("AccessDeniedException")
                    && line.contains(&format!(
                        "arn:aws:dynamodb:ap-northeast-2:{ACCOUNT}:table/Schedule"
                    )),
                "{line}"
            );
        }
    }
}
