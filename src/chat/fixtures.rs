//! Test fixtures shared by the chat modules' tests: a small config and inventory, secrets, signed requests, captured logs.

use std::cell::RefCell;
use std::sync::Once;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use crate::core::config::{validate, RawConfig, Schedule};
use crate::core::inventory::parse_inventory;
use crate::ports::{MemoryStore, Settings};

use super::{
    execute, parse, slack_signature, ChatAccess, ChatRequest, ChatSecrets, Permission, Reply,
};

pub(super) const CONFIG: &str = "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '22:00', Timezone: Asia/Seoul}\n  - {ScheduleName: broken, TagValue: broken, StartTime: '25:00'}\ngroups:\n  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}\nexceptions:\n  - {ExceptionUuid: xmas, ScheduleName: '*', ExceptionDate: '2026-12-25', ExceptionType: start, ExceptionValue: None}\n  - {ExceptionUuid: old, ScheduleName: dev, ExceptionDate: '2026-11-02', ExceptionType: stop, ExceptionValue: '23:00'}\n";
pub(super) const INVENTORY: &str = "resources:\n  - {id: i-0a1, kind: ec2, state: running, tags: {ScheduleName: dev, ScheduleGroupName: API, Name: api-1}}\n  - {id: dev-db, kind: rds, state: available, engine: postgres, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n";
pub(super) const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub(super) const TOKEN: &str = "jandi-token-123";
/// The Slack user id `slack_request` sends (user name `mina`).
pub(super) const SLACK_USER: &str = "U0MINA";

pub(super) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

pub(super) fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

pub(super) fn store() -> MemoryStore {
    MemoryStore::new(
        RawConfig::parse(CONFIG, "test").expect("config"),
        parse_inventory(INVENTORY, "test").expect("inventory"),
    )
}

pub(super) fn settings() -> Settings {
    Settings::from_lookup(|_| None).expect("defaults")
}

pub(super) fn secrets() -> ChatSecrets {
    ChatSecrets {
        slack_signing_secret: Some(SECRET.into()),
        jandi_token: Some(TOKEN.into()),
        command: "/offhours".into(),
        access: ChatAccess::default(),
    }
}

pub(super) fn dev() -> Schedule {
    let c = validate(
        &RawConfig::parse(CONFIG, "test").expect("config"),
        &settings().defaults,
    );
    c.schedule("dev").cloned().expect("dev schedule")
}

pub(super) fn slack_request(text: &str, now: DateTime<Utc>, secret: &str) -> ChatRequest {
    slack_request_with(text, &[], now, secret)
}

/// A signed Slack request whose form also carries `extra` fields (`response_url`, `trigger_id`).
pub(super) fn slack_request_with(
    text: &str,
    extra: &[(&str, &str)],
    now: DateTime<Utc>,
    secret: &str,
) -> ChatRequest {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("token", "legacy")
        .append_pair("command", "/offhours")
        .append_pair("text", text)
        .append_pair("user_id", SLACK_USER)
        .append_pair("user_name", "mina");
    for (k, v) in extra {
        form.append_pair(k, v);
    }
    let body = form.finish();
    let ts = now.timestamp().to_string();
    ChatRequest {
        headers: vec![
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("X-Slack-Request-Timestamp".into(), ts.clone()),
            (
                "X-Slack-Signature".into(),
                slack_signature(secret, &ts, &body),
            ),
        ],
        body,
    }
}

pub(super) fn jandi_request(text: &str, token: &str) -> ChatRequest {
    jandi_request_at(text, token, Some("2026-11-23T12:50:00.000Z"))
}

/// A JANDI outgoing-webhook request for a message written at `created_at` (JANDI's `createdAt`).
pub(super) fn jandi_request_at(text: &str, token: &str, created_at: Option<&str>) -> ChatRequest {
    let mut body = json!({
        "token": token, "teamName": "team", "roomName": "ops", "writerName": "Mina",
        "writerEmail": "mina@example.com", "text": text, "keyword": "offhours",
    });
    if let Some(at) = created_at {
        body["createdAt"] = at.into();
    }
    ChatRequest {
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string(),
    }
}

pub(super) async fn run_text(store: &MemoryStore, text: &str, now: DateTime<Utc>) -> Reply {
    let command = parse(text, "/offhours").expect("parses");
    execute(
        &command,
        now,
        store,
        &settings(),
        "/offhours",
        Permission::Admin,
    )
    .await
}

/// The log lines written on this thread while a [`Logs`] lives. One global subscriber
/// (INFO and up) writes every thread's events to that thread's buffer, if it has one: a
/// subscriber per test would race other test threads over tracing's per-callsite cache.
pub(super) struct Logs;

thread_local! {
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

impl Logs {
    /// Starts capturing this thread's logs (a `#[tokio::test]` runs on one thread).
    pub(super) fn capture() -> Self {
        static GLOBAL: Once = Once::new();
        GLOBAL.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .with_writer(|| ThreadBuffer)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        });
        CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
        Self
    }

    pub(super) fn text(&self) -> String {
        CAPTURED.with(|c| {
            String::from_utf8_lossy(c.borrow().as_deref().unwrap_or_default()).into_owned()
        })
    }
}

impl Drop for Logs {
    fn drop(&mut self) {
        CAPTURED.with(|c| *c.borrow_mut() = None);
    }
}

/// Writes to the current thread's capture buffer, or nowhere.
struct ThreadBuffer;

impl std::io::Write for ThreadBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(out) = c.borrow_mut().as_mut() {
                out.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
