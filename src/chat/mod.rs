//! Chat commands (Slack slash command, JANDI outgoing webhook): verify the request, parse the command, act through a store, reply in the platform's format.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::core::config::{parse_time, validate, Action, Config, Item, RawConfig, Schedule};
use crate::core::planner::Resource;
use crate::core::schedule::{
    events_between, latest_event, local_date, next_event, resolve_local, Source,
};
use crate::error::Result;
use crate::ports::{CommandStore, Settings};

/// An HTTP request as received: header names in any case, the raw body.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ChatRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The HTTP answer to a chat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl ChatResponse {
    fn json(body: Value) -> Self {
        Self {
            status: 200,
            content_type: "application/json",
            body: body.to_string(),
        }
    }

    fn plain(status: u16, body: &str) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
        }
    }

    /// 401: the request was not verified; nothing was changed.
    pub fn unauthorized() -> Self {
        Self::plain(401, "unauthorized\n")
    }
}

/// Secrets that verify incoming commands. A platform whose secret is unset is refused.
#[derive(Clone, Default)]
pub struct ChatSecrets {
    /// Env `SLACK_SIGNING_SECRET`: the Slack app's signing secret.
    pub slack_signing_secret: Option<String>,
    /// Env `JANDI_TOKEN`: the token of the JANDI outgoing webhook.
    pub jandi_token: Option<String>,
    /// Env `CHAT_COMMAND` (default `/offhours`): the command name shown in help texts.
    pub command: String,
}

impl fmt::Debug for ChatSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("ChatSecrets")
            .field("slack_signing_secret", &set(&self.slack_signing_secret))
            .field("jandi_token", &set(&self.jandi_token))
            .field("command", &self.command)
            .finish()
    }
}

/// Which chat platform sent a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Slack,
    Jandi,
}

/// A verified command request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub platform: Platform,
    /// The command text without the command name (`extend dev +1h`).
    pub text: String,
    /// Who sent it, for the reply and the log.
    pub user: String,
    /// Slack's certificate check (`ssl_check=1`): answer 200 and do nothing.
    pub ssl_check: bool,
}

/// Slack rejects requests whose timestamp is further than this from now.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 5 * 60;

/// Why a request was refused (logged; the client only sees 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub &'static str);

/// Recognises the platform and verifies the request's signature or token.
pub fn verify(
    request: &ChatRequest,
    now: DateTime<Utc>,
    secrets: &ChatSecrets,
) -> std::result::Result<Incoming, Rejection> {
    let slack_headers = request.header("x-slack-signature").is_some()
        || request.header("x-slack-request-timestamp").is_some();
    if slack_headers {
        return verify_slack(request, now, secrets);
    }
    match serde_json::from_str::<Value>(&request.body) {
        Ok(Value::Object(body)) if body.contains_key("token") => verify_jandi(&body, secrets),
        _ => Err(Rejection("not a signed Slack request nor a JANDI webhook")),
    }
}

/// The Slack `v0` signature of `body` sent at `timestamp`: `v0=` + hex HMAC-SHA256.
pub fn slack_signature(secret: &str, timestamp: &str, body: &str) -> String {
    format!("v0={}", hex::encode(slack_mac(secret, timestamp, body)))
}

fn slack_mac(secret: &str, timestamp: &str, body: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return Vec::new();
    };
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn verify_slack(
    request: &ChatRequest,
    now: DateTime<Utc>,
    secrets: &ChatSecrets,
) -> std::result::Result<Incoming, Rejection> {
    let secret = secrets.slack_signing_secret.as_deref().ok_or(Rejection(
        "Slack request, but SLACK_SIGNING_SECRET is not set",
    ))?;
    let timestamp = request
        .header("x-slack-request-timestamp")
        .ok_or(Rejection("Slack request without X-Slack-Request-Timestamp"))?
        .trim();
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| Rejection("Slack timestamp is not a number"))?;
    if (now.timestamp() - sent).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(Rejection("Slack timestamp is more than 5 minutes off"));
    }
    let given = request
        .header("x-slack-signature")
        .and_then(|s| s.trim().strip_prefix("v0="))
        .and_then(|h| hex::decode(h).ok())
        .ok_or(Rejection("Slack signature missing or not v0"))?;
    let expected = slack_mac(secret, timestamp, &request.body);
    if expected.is_empty() || !bool::from(expected.as_slice().ct_eq(given.as_slice())) {
        return Err(Rejection("Slack signature does not match"));
    }
    let mut text = String::new();
    let mut user = String::new();
    let mut ssl_check = false;
    for (k, v) in form_urlencoded::parse(request.body.as_bytes()) {
        match k.as_ref() {
            "text" => text = v.into_owned(),
            "user_name" => user = v.into_owned(),
            "ssl_check" => ssl_check = v == "1",
            _ => {}
        }
    }
    Ok(Incoming {
        platform: Platform::Slack,
        text: text.trim().to_string(),
        user,
        ssl_check,
    })
}

fn verify_jandi(
    body: &serde_json::Map<String, Value>,
    secrets: &ChatSecrets,
) -> std::result::Result<Incoming, Rejection> {
    let expected = secrets
        .jandi_token
        .as_deref()
        .ok_or(Rejection("JANDI request, but JANDI_TOKEN is not set"))?;
    let given = body.get("token").and_then(Value::as_str).unwrap_or("");
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Err(Rejection("JANDI token does not match"));
    }
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    let keyword = body
        .get("keyword")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .trim_start_matches('/');
    // The message starts with the trigger word (`/offhours status dev`): drop it.
    let mut words = text.splitn(2, char::is_whitespace);
    let first = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("").trim();
    let is_trigger = first.starts_with('/')
        || (!keyword.is_empty() && first.trim_start_matches('/').eq_ignore_ascii_case(keyword));
    let text = if is_trigger { rest } else { text };
    Ok(Incoming {
        platform: Platform::Jandi,
        text: text.to_string(),
        user: body
            .get("writerName")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        ssl_check: false,
    })
}

/// A day argument: a date, or `today`/`tomorrow` in the schedule's timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Date(NaiveDate),
    Today,
    Tomorrow,
}

impl Day {
    fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "today" => Ok(Self::Today),
            "tomorrow" => Ok(Self::Tomorrow),
            _ => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Self::Date)
                .map_err(|_| format!("'{text}' is not a date (YYYY-MM-DD, today or tomorrow)")),
        }
    }

    fn resolve(self, today: NaiveDate) -> NaiveDate {
        match self {
            Self::Date(d) => d,
            Self::Today => today,
            Self::Tomorrow => today.succ_opt().unwrap_or(today),
        }
    }
}

/// The new stop of `extend`: a wall-clock time, or a delay after the current stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    At(NaiveTime),
    By(TimeDelta),
}

impl Extension {
    fn parse(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{text}' is not HH:MM, +Nh, +Nm or +NhMm (e.g. 23:00, +1h, +30m)");
        if let Some(rest) = text.strip_prefix('+') {
            let rest = rest.to_ascii_lowercase();
            let (hours, minutes) = match rest.split_once('h') {
                Some((h, m)) => (h, m.strip_suffix('m').unwrap_or(m)),
                None => ("0", rest.strip_suffix('m').ok_or_else(bad)?),
            };
            let hours: i64 = if hours.is_empty() {
                return Err(bad());
            } else {
                hours.parse().map_err(|_| bad())?
            };
            let minutes: i64 = if minutes.is_empty() {
                0
            } else {
                minutes.parse().map_err(|_| bad())?
            };
            let total = hours * 60 + minutes;
            if total <= 0 || total > 24 * 60 {
                return Err(format!("'{text}': extend by 1 minute to 24 hours"));
            }
            return Ok(Self::By(TimeDelta::minutes(total)));
        }
        match parse_time(text) {
            Ok(Some(t)) => Ok(Self::At(t)),
            _ => Err(bad()),
        }
    }
}

/// A parsed chat command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status {
        schedule: String,
    },
    Info {
        schedule: String,
        day: Option<Day>,
    },
    ExceptionList {
        schedule: String,
    },
    ExceptionSet {
        schedule: String,
        date: NaiveDate,
        action: Action,
        time: Option<NaiveTime>,
    },
    ExceptionDel {
        uuid: String,
    },
    Extend {
        schedule: String,
        to: Extension,
    },
    Skip {
        schedule: String,
        day: Option<Day>,
    },
    Start {
        schedule: String,
    },
    Stop {
        schedule: String,
    },
}

impl Command {
    /// True for commands that change something (their replies are shown to the channel).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            Self::Help | Self::Status { .. } | Self::Info { .. } | Self::ExceptionList { .. }
        )
    }
}

const USAGE: &[(&str, &str)] = &[
    ("help", "this list"),
    ("status <schedule>", "resources and their states, by group"),
    (
        "info <schedule> [YYYY-MM-DD]",
        "that day's start and stop, after exceptions (default today)",
    ),
    ("exception list <schedule>", "upcoming exceptions"),
    (
        "exception set <schedule|*> <YYYY-MM-DD> <start|stop> <HH:MM|None>",
        "move or cancel a start or stop on a date",
    ),
    ("exception del <uuid>", "delete an exception"),
    (
        "extend <schedule> <HH:MM|+Nh|+Nm>",
        "move today's stop later (or earlier)",
    ),
    (
        "skip <schedule> [YYYY-MM-DD]",
        "no start that day (default: today if its start is still ahead, else tomorrow)",
    ),
    (
        "start <schedule>",
        "start everything now, in dependency order (ForceStart)",
    ),
    (
        "stop <schedule>",
        "stop everything now, in reverse dependency order (ForceStop)",
    ),
];

fn usage(prefix: &str, name: &str) -> String {
    let line = USAGE
        .iter()
        .find(|(u, _)| u.starts_with(name))
        .map(|(u, _)| *u)
        .unwrap_or("help");
    format!("usage: {prefix} {line}")
}

/// Parses the text after the command name. `Err` is the message to show.
pub fn parse(text: &str, prefix: &str) -> std::result::Result<Command, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Ok(Command::Help);
    };
    let verb = first.to_ascii_lowercase();
    let args = &words[1..];
    let schedule = |i: usize, name: &str| -> std::result::Result<String, String> {
        args.get(i)
            .map(|s| s.to_string())
            .ok_or_else(|| usage(prefix, name))
    };
    let too_many = |n: usize, name: &str| -> std::result::Result<(), String> {
        if args.len() > n {
            Err(usage(prefix, name))
        } else {
            Ok(())
        }
    };
    match verb.as_str() {
        "help" | "?" => Ok(Command::Help),
        "status" => {
            too_many(1, "status")?;
            Ok(Command::Status {
                schedule: schedule(0, "status")?,
            })
        }
        "info" => {
            too_many(2, "info")?;
            Ok(Command::Info {
                schedule: schedule(0, "info")?,
                day: args.get(1).map(|d| Day::parse(d)).transpose()?,
            })
        }
        "exception" | "exceptions" => {
            let sub = args.first().map(|s| s.to_ascii_lowercase());
            let args = args.get(1..).unwrap_or(&[]);
            match sub.as_deref() {
                Some("list" | "ls") => {
                    if args.len() != 1 {
                        return Err(usage(prefix, "exception list"));
                    }
                    Ok(Command::ExceptionList {
                        schedule: args[0].to_string(),
                    })
                }
                Some("set" | "add") => {
                    let [schedule, date, kind, value] = args else {
                        return Err(usage(prefix, "exception set"));
                    };
                    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                        .map_err(|_| format!("'{date}' is not a date (YYYY-MM-DD)"))?;
                    let action = match kind.to_ascii_lowercase().as_str() {
                        "start" => Action::Start,
                        "stop" => Action::Stop,
                        _ => return Err(format!("'{kind}' is not start or stop")),
                    };
                    let time = parse_time(value)?;
                    Ok(Command::ExceptionSet {
                        schedule: schedule.to_string(),
                        date,
                        action,
                        time,
                    })
                }
                Some("del" | "delete" | "rm") => {
                    let [uuid] = args else {
                        return Err(usage(prefix, "exception del"));
                    };
                    Ok(Command::ExceptionDel {
                        uuid: uuid.to_string(),
                    })
                }
                _ => Err(format!(
                    "{}\n{}\n{}",
                    usage(prefix, "exception list"),
                    usage(prefix, "exception set"),
                    usage(prefix, "exception del")
                )),
            }
        }
        "extend" => {
            if args.len() != 2 {
                return Err(usage(prefix, "extend"));
            }
            Ok(Command::Extend {
                schedule: args[0].to_string(),
                to: Extension::parse(args[1])?,
            })
        }
        "skip" => {
            too_many(2, "skip")?;
            Ok(Command::Skip {
                schedule: schedule(0, "skip")?,
                day: args.get(1).map(|d| Day::parse(d)).transpose()?,
            })
        }
        "start" => {
            too_many(1, "start")?;
            Ok(Command::Start {
                schedule: schedule(0, "start")?,
            })
        }
        "stop" => {
            too_many(1, "stop")?;
            Ok(Command::Stop {
                schedule: schedule(0, "stop")?,
            })
        }
        other => Err(format!("unknown command '{other}'. Try `{prefix} help`.")),
    }
}

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
    fn ok(title: impl Into<String>, lines: Vec<String>) -> Self {
        Self {
            ok: true,
            title: title.into(),
            lines,
            public: false,
        }
    }

    fn error(title: impl Into<String>) -> Self {
        Self {
            ok: false,
            title: title.into(),
            lines: Vec::new(),
            public: false,
        }
    }

    fn public(mut self) -> Self {
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

/// The help text.
pub fn help(prefix: &str) -> Reply {
    Reply::ok(
        "offhours commands",
        USAGE
            .iter()
            .map(|(u, what)| format!("`{prefix} {u}`: {what}"))
            .collect(),
    )
}

/// Handles one chat request: verify, parse, act, reply. Unverified requests get 401 and
/// change nothing. Used by the Lambda Function URL and by `offhours serve`.
pub async fn handle<S: CommandStore>(
    request: &ChatRequest,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    secrets: &ChatSecrets,
) -> ChatResponse {
    let incoming = match verify(request, now, secrets) {
        Ok(i) => i,
        Err(Rejection(why)) => {
            tracing::warn!(reason = why, "chat request refused");
            return ChatResponse::unauthorized();
        }
    };
    if incoming.ssl_check {
        return ChatResponse::plain(200, "");
    }
    let reply = match parse(&incoming.text, &secrets.command) {
        Err(message) => Reply::error(message),
        Ok(command) => {
            tracing::info!(user = %incoming.user, command = %incoming.text, "chat command");
            let changes = command.changes();
            let reply = execute(&command, now, store, settings, &secrets.command).await;
            if changes && reply.ok {
                let mut r = reply.public();
                if !incoming.user.is_empty() {
                    r.lines.push(format!("(by {})", incoming.user));
                }
                r
            } else {
                reply
            }
        }
    };
    render_reply(incoming.platform, &reply)
}

/// Runs a parsed command against the store.
pub async fn execute<S: CommandStore>(
    command: &Command,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    prefix: &str,
) -> Reply {
    match run(command, now, store, settings, prefix).await {
        Ok(reply) => reply,
        Err(e) => {
            tracing::warn!(error = %e, "chat command failed");
            Reply::error(format!("offhours could not do that: {e}"))
        }
    }
}

/// The loaded config, and the schedule a command names (or a reply explaining why not).
struct Loaded {
    raw: RawConfig,
    config: Config,
}

impl Loaded {
    fn schedule(&self, name: &str) -> std::result::Result<&Schedule, Reply> {
        if let Some(s) = self.config.schedule(name) {
            return Ok(s);
        }
        let errors: Vec<String> = self
            .config
            .errors
            .iter()
            .filter(|p| p.schedule == name)
            .map(|p| p.message.clone())
            .collect();
        if !errors.is_empty() {
            let mut r = Reply::error(format!(
                "schedule '{name}' has configuration errors and is skipped until they are fixed"
            ));
            r.lines = errors;
            return Err(r);
        }
        let known: Vec<&str> = self
            .config
            .schedules
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        Err(Reply::error(format!(
            "unknown schedule '{name}'. Schedules: {}",
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        )))
    }

    /// ExceptionUuids of items that set the same boundary as (schedule, date, action).
    fn clashing(&self, schedule: &str, date: NaiveDate, action: Action) -> Vec<String> {
        let field = |item: &Item, name: &str| {
            item.get(name)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        self.raw
            .exceptions
            .iter()
            .filter(|e| {
                field(e, "ScheduleName") == schedule
                    && field(e, "ExceptionDate") == date.to_string()
                    && field(e, "ExceptionType").eq_ignore_ascii_case(action.as_str())
            })
            .map(|e| field(e, "ExceptionUuid"))
            .filter(|u| !u.is_empty())
            .collect()
    }
}

async fn load<S: CommandStore>(store: &S, settings: &Settings) -> Result<Loaded> {
    let raw = store.load_config().await?;
    let config = validate(&raw, &settings.defaults);
    Ok(Loaded { raw, config })
}

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// The ScheduleException item a command writes.
pub fn exception_item(
    uuid: &str,
    schedule: &str,
    date: NaiveDate,
    action: Action,
    time: Option<NaiveTime>,
) -> Item {
    let mut item = Item::new();
    item.insert("ExceptionUuid".into(), uuid.into());
    item.insert("ScheduleName".into(), schedule.into());
    item.insert("ExceptionDate".into(), date.to_string().into());
    item.insert("ExceptionType".into(), action.as_str().into());
    item.insert(
        "ExceptionValue".into(),
        time.map(hm).unwrap_or_else(|| "None".into()).into(),
    );
    item
}

/// Writes an exception and removes the items it replaces (same schedule, date and type).
async fn replace_exception<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    date: NaiveDate,
    action: Action,
    time: Option<NaiveTime>,
) -> Result<String> {
    let old = loaded.clashing(schedule, date, action);
    let uuid = uuid::Uuid::new_v4().to_string();
    store
        .put_exception(&exception_item(&uuid, schedule, date, action, time))
        .await?;
    for u in old {
        store.delete_exception(&u).await?;
    }
    Ok(uuid)
}

fn weekday_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d (%a)").to_string()
}

async fn run<S: CommandStore>(
    command: &Command,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    prefix: &str,
) -> Result<Reply> {
    if let Command::Help = command {
        return Ok(help(prefix));
    }
    if let Command::ExceptionDel { uuid } = command {
        return Ok(if store.delete_exception(uuid).await? {
            Reply::ok(format!("exception {uuid} deleted"), Vec::new())
        } else {
            Reply::error(format!("no exception with id {uuid}"))
        });
    }
    let loaded = load(store, settings).await?;
    let reply = match command {
        Command::Help | Command::ExceptionDel { .. } => help(prefix),
        Command::Status { schedule } => {
            let s = match loaded.schedule(schedule) {
                Ok(s) => s,
                Err(r) => return Ok(r),
            };
            let resources = store.observe().await?;
            status(s, &resources, now, settings)
        }
        Command::Info { schedule, day } => match loaded.schedule(schedule) {
            Ok(s) => info(s, day.map(|d| d.resolve(local_date(s, now))), now),
            Err(r) => r,
        },
        Command::ExceptionList { schedule } => match loaded.schedule(schedule) {
            Ok(s) => exception_list(s, local_date(s, now)),
            Err(r) => r,
        },
        Command::ExceptionSet {
            schedule,
            date,
            action,
            time,
        } => {
            if schedule != "*" {
                if let Err(r) = loaded.schedule(schedule) {
                    return Ok(r);
                }
            }
            let uuid = replace_exception(store, &loaded, schedule, *date, *action, *time).await?;
            let what = match time {
                Some(t) => format!("{action} moved to {}", hm(*t)),
                None => format!("no {action}"),
            };
            let whom = if schedule == "*" {
                "every schedule".to_string()
            } else {
                schedule.clone()
            };
            Reply::ok(
                format!("{whom}: {what} on {}", weekday_date(*date)),
                vec![format!("exception id: `{uuid}`")],
            )
        }
        Command::Extend { schedule, to } => {
            let s = match loaded.schedule(schedule) {
                Ok(s) => s,
                Err(r) => return Ok(r),
            };
            match plan_extend(s, *to, now) {
                Err(message) => Reply::error(message),
                Ok(ext) => {
                    replace_exception(
                        store,
                        &loaded,
                        &s.name,
                        ext.date,
                        Action::Stop,
                        Some(ext.time),
                    )
                    .await?;
                    let mut lines = Vec::new();
                    if s.warn_minutes > 0 {
                        lines.push(format!(
                            "A new warning comes {} minutes before the new stop.",
                            s.warn_minutes
                        ));
                    }
                    Reply::ok(
                        format!(
                            "{}: stop on {} moved {} to {} {}",
                            s.name,
                            weekday_date(ext.date),
                            ext.from
                                .map(|f| format!("from {}", hm(f)))
                                .unwrap_or_else(|| "(there was none)".into()),
                            hm(ext.time),
                            ext.zone
                        ),
                        lines,
                    )
                }
            }
        }
        Command::Skip { schedule, day } => {
            let s = match loaded.schedule(schedule) {
                Ok(s) => s,
                Err(r) => return Ok(r),
            };
            let today = local_date(s, now);
            let date = match day {
                Some(d) => d.resolve(today),
                None => default_skip_date(s, now),
            };
            if date < today {
                return Ok(Reply::error(format!(
                    "{} is in the past in {}",
                    date,
                    s.timezone.name()
                )));
            }
            let had_start = events_between(s, date, date)
                .iter()
                .any(|e| e.action == Action::Start);
            replace_exception(store, &loaded, &s.name, date, Action::Start, None).await?;
            let mut lines = Vec::new();
            if !had_start {
                lines.push("(that day had no start anyway)".to_string());
            }
            lines.push(format!(
                "Undo: `{prefix} exception list {}` and `{prefix} exception del <id>`",
                s.name
            ));
            Reply::ok(
                format!("{}: no start on {}", s.name, weekday_date(date)),
                lines,
            )
        }
        Command::Start { schedule } | Command::Stop { schedule } => {
            let s = match loaded.schedule(schedule) {
                Ok(s) => s,
                Err(r) => return Ok(r),
            };
            let (action, flag, how) = match command {
                Command::Start { .. } => (
                    Action::Start,
                    "ForceStart",
                    "starts every resource in dependency order",
                ),
                _ => (
                    Action::Stop,
                    "ForceStop",
                    "stops every resource in reverse dependency order",
                ),
            };
            if store.set_force(&s.name, action).await? {
                Reply::ok(
                    format!("{}: {flag} set", s.name),
                    vec![format!(
                        "The next tick (within 5 minutes) {how}; then the schedule continues from its next boundary."
                    )],
                )
            } else {
                Reply::error(format!(
                    "schedule '{}' is not in the Schedule table",
                    s.name
                ))
            }
        }
    };
    Ok(reply)
}

/// Today if its start is still ahead, else tomorrow (local dates of the schedule).
pub fn default_skip_date(s: &Schedule, now: DateTime<Utc>) -> NaiveDate {
    let today = local_date(s, now);
    let start_ahead = events_between(s, today, today)
        .iter()
        .any(|e| e.action == Action::Start && e.at > now);
    if start_ahead {
        today
    } else {
        today.checked_add_days(Days::new(1)).unwrap_or(today)
    }
}

/// Where `extend` moves the stop to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendPlan {
    /// Local date of the stop exception.
    pub date: NaiveDate,
    pub time: NaiveTime,
    /// The stop it replaces (local wall-clock), if there was one.
    pub from: Option<NaiveTime>,
    /// Timezone abbreviation for the reply.
    pub zone: String,
}

/// Pure: the stop exception that moves the next stop (within 24 h; else today's) as asked.
/// Refuses a new stop in the past and one past midnight (an exception moves a stop within its date).
pub fn plan_extend(
    s: &Schedule,
    to: Extension,
    now: DateTime<Utc>,
) -> std::result::Result<ExtendPlan, String> {
    let next = next_event(s, now, Action::Stop, TimeDelta::hours(24));
    let tz = s.timezone;
    let (date, time) = match to {
        Extension::By(delta) => {
            let Some(base) = &next else {
                return Err(format!(
                    "{} has no stop in the next 24 hours to extend; use `extend {} HH:MM` to add one today",
                    s.name, s.name
                ));
            };
            let moved = base.local + delta;
            if moved.date_naive() != base.date {
                return Err(format!(
                    "{} would be past midnight; extend moves the stop within {}. To keep running overnight: `exception set {} {} stop None`",
                    moved.format("%Y-%m-%d %H:%M"),
                    base.date,
                    s.name,
                    base.date
                ));
            }
            (
                base.date,
                moved.time().with_second(0).unwrap_or(moved.time()),
            )
        }
        Extension::At(t) => {
            let date = next
                .as_ref()
                .map(|b| b.date)
                .unwrap_or_else(|| local_date(s, now));
            (date, t)
        }
    };
    let fires = resolve_local(tz, date.and_time(time));
    if fires.with_timezone(&Utc) <= now {
        return Err(format!(
            "{} {} is in the past; the stop must be later than now ({} {})",
            date,
            hm(time),
            now.with_timezone(&tz).format("%H:%M"),
            tz.name()
        ));
    }
    Ok(ExtendPlan {
        date,
        time,
        from: next.as_ref().map(|b| b.local.time()),
        zone: fires.format("%Z").to_string(),
    })
}

fn source_label(source: &Source) -> String {
    match source {
        Source::Schedule => "schedule".into(),
        Source::Exception(u) => format!("exception {u}"),
        Source::MakeUpDay(u) => format!("make-up day {u}"),
    }
}

/// Pure: one day's events of a schedule (default: today).
pub fn info(s: &Schedule, date: Option<NaiveDate>, now: DateTime<Utc>) -> Reply {
    let date = date.unwrap_or_else(|| local_date(s, now));
    let events = events_between(s, date, date);
    let mut lines: Vec<String> = events
        .iter()
        .map(|e| {
            let mut line = format!(
                "{} {}: {} ({})",
                e.local.format("%H:%M %Z"),
                e.action,
                if e.at <= now { "done" } else { "upcoming" },
                source_label(&e.source)
            );
            if e.shifted() {
                line.push_str(&format!(
                    ", asked for {} which does not exist that day",
                    hm(e.requested)
                ));
            }
            line
        })
        .collect();
    if lines.is_empty() {
        lines.push("no start or stop that day".into());
    }
    if !s.enabled {
        lines.push("the schedule is disabled (Enabled: false)".into());
    }
    Reply::ok(
        format!(
            "{} on {}, {}",
            s.name,
            weekday_date(date),
            s.timezone.name()
        ),
        lines,
    )
}

/// Pure: the exceptions of a schedule from `today` on (its own and `*` ones).
pub fn exception_list(s: &Schedule, today: NaiveDate) -> Reply {
    let mut upcoming: Vec<_> = s.exceptions.iter().filter(|e| e.date >= today).collect();
    upcoming.sort_by(|a, b| (a.date, a.action, &a.uuid).cmp(&(b.date, b.action, &b.uuid)));
    let past = s.exceptions.len() - upcoming.len();
    let mut lines: Vec<String> = upcoming
        .iter()
        .map(|e| {
            format!(
                "{} {} {}{}: `{}`",
                weekday_date(e.date),
                e.action,
                e.time.map(hm).unwrap_or_else(|| "None".into()),
                if e.schedule == "*" {
                    " (all schedules)"
                } else {
                    ""
                },
                e.uuid
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push("no upcoming exceptions".into());
    }
    if past > 0 {
        lines.push(format!("({past} past exception(s) not shown)"));
    }
    Reply::ok(format!("{}: exceptions from {today}", s.name), lines)
}

/// Pure: resources of a schedule and their states, by group in start order.
pub fn status(
    s: &Schedule,
    resources: &[Resource],
    now: DateTime<Utc>,
    settings: &Settings,
) -> Reply {
    let tags = &settings.tags;
    let mine: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.tags.get(&tags.schedule) == Some(&s.tag_value))
        .collect();
    let mut by_group: BTreeMap<String, Vec<&Resource>> = BTreeMap::new();
    for r in &mine {
        let g = r
            .tags
            .get(&tags.group)
            .map(|g| g.trim().to_string())
            .unwrap_or_default();
        by_group.entry(g).or_default().push(r);
    }
    let mut lines = Vec::new();
    match latest_event(s, now) {
        Some(e) => lines.push(format!(
            "should be {} since {} ({})",
            if e.action == Action::Start {
                "running"
            } else {
                "stopped"
            },
            e.local.format("%Y-%m-%d %H:%M %Z"),
            source_label(&e.source)
        )),
        None => lines.push("no start or stop in the last 8 days: offhours leaves it alone".into()),
    }
    for action in [Action::Start, Action::Stop] {
        if let Some(e) = next_event(s, now, action, TimeDelta::days(8)) {
            lines.push(format!(
                "next {action}: {}",
                e.local.format("%Y-%m-%d %H:%M %Z")
            ));
        }
    }
    if s.force_start || s.force_stop {
        lines.push(format!(
            "{} is pending for the next tick",
            if s.force_start {
                "ForceStart"
            } else {
                "ForceStop"
            }
        ));
    }
    if !s.enabled {
        lines.push("the schedule is disabled (Enabled: false)".into());
    }
    let mut groups: Vec<(String, String)> = s
        .groups
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                format!("{} ({})", g.name, g.kind.as_str().to_uppercase()),
            )
        })
        .collect();
    groups.push((String::new(), "(ungrouped)".into()));
    for key in by_group.keys() {
        if !groups.iter().any(|(k, _)| k == key) {
            groups.push((key.clone(), format!("{key} (no such group: left alone)")));
        }
    }
    for (key, label) in groups {
        let Some(members) = by_group.get(&key) else {
            continue;
        };
        let list = members
            .iter()
            .map(|r| format!("{} {}", r.to_ref(), r.state))
            .collect::<Vec<_>>()
            .join(", ");
        lines.push(format!("{label}: {list}"));
    }
    if mine.is_empty() {
        lines.push(format!(
            "no resources tagged {}={}",
            tags.schedule, s.tag_value
        ));
    }
    Reply::ok(format!("{} ({})", s.name, s.timezone.name()), lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inventory::parse_inventory;
    use crate::ports::MemoryStore;

    const CONFIG: &str = "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '22:00', Timezone: Asia/Seoul}\n  - {ScheduleName: broken, TagValue: broken, StartTime: '25:00'}\ngroups:\n  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}\nexceptions:\n  - {ExceptionUuid: xmas, ScheduleName: '*', ExceptionDate: '2026-12-25', ExceptionType: start, ExceptionValue: None}\n  - {ExceptionUuid: old, ScheduleName: dev, ExceptionDate: '2026-11-02', ExceptionType: stop, ExceptionValue: '23:00'}\n";
    const INVENTORY: &str = "resources:\n  - {id: i-0a1, kind: ec2, state: running, tags: {ScheduleName: dev, ScheduleGroupName: API, Name: api-1}}\n  - {id: dev-db, kind: rds, state: available, engine: postgres, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n";
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TOKEN: &str = "jandi-token-123";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    fn store() -> MemoryStore {
        MemoryStore::new(
            RawConfig::parse(CONFIG, "test").expect("config"),
            parse_inventory(INVENTORY, "test").expect("inventory"),
        )
    }

    fn settings() -> Settings {
        Settings::from_lookup(|_| None).expect("defaults")
    }

    fn secrets() -> ChatSecrets {
        ChatSecrets {
            slack_signing_secret: Some(SECRET.into()),
            jandi_token: Some(TOKEN.into()),
            command: "/offhours".into(),
        }
    }

    fn dev() -> Schedule {
        let c = validate(
            &RawConfig::parse(CONFIG, "test").expect("config"),
            &settings().defaults,
        );
        c.schedule("dev").cloned().expect("dev schedule")
    }

    fn slack_request(text: &str, now: DateTime<Utc>, secret: &str) -> ChatRequest {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", "legacy")
            .append_pair("command", "/offhours")
            .append_pair("text", text)
            .append_pair("user_name", "mina")
            .finish();
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

    fn jandi_request(text: &str, token: &str) -> ChatRequest {
        ChatRequest {
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json!({
                "token": token, "teamName": "team", "roomName": "ops", "writerName": "Mina",
                "writerEmail": "mina@example.com", "text": text, "keyword": "offhours",
                "createdAt": "2026-11-23T12:50:00.000Z",
            })
            .to_string(),
        }
    }

    #[test]
    fn command_parsing_table() {
        let d = date;
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        let s = |x: &str| x.to_string();
        let cases: Vec<(&str, Command)> = vec![
            ("", Command::Help),
            ("help", Command::Help),
            ("status dev", Command::Status { schedule: s("dev") }),
            (
                "info dev",
                Command::Info {
                    schedule: s("dev"),
                    day: None,
                },
            ),
            (
                "info dev 2026-11-26",
                Command::Info {
                    schedule: s("dev"),
                    day: Some(Day::Date(d("2026-11-26"))),
                },
            ),
            (
                "info dev tomorrow",
                Command::Info {
                    schedule: s("dev"),
                    day: Some(Day::Tomorrow),
                },
            ),
            (
                "exception list dev",
                Command::ExceptionList { schedule: s("dev") },
            ),
            (
                "exception set dev 2026-11-26 stop 23:30",
                Command::ExceptionSet {
                    schedule: s("dev"),
                    date: d("2026-11-26"),
                    action: Action::Stop,
                    time: Some(t(23, 30)),
                },
            ),
            (
                "Exception SET * 2026-12-31 start None",
                Command::ExceptionSet {
                    schedule: s("*"),
                    date: d("2026-12-31"),
                    action: Action::Start,
                    time: None,
                },
            ),
            (
                "exception del 1b4e28ba",
                Command::ExceptionDel {
                    uuid: s("1b4e28ba"),
                },
            ),
            (
                "extend dev +1h",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::By(TimeDelta::hours(1)),
                },
            ),
            (
                "extend dev +30m",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::By(TimeDelta::minutes(30)),
                },
            ),
            (
                "extend dev +1h30m",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::By(TimeDelta::minutes(90)),
                },
            ),
            (
                "extend dev 23:15",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::At(t(23, 15)),
                },
            ),
            (
                "skip dev",
                Command::Skip {
                    schedule: s("dev"),
                    day: None,
                },
            ),
            (
                "skip dev 2026-11-24",
                Command::Skip {
                    schedule: s("dev"),
                    day: Some(Day::Date(d("2026-11-24"))),
                },
            ),
            ("start dev", Command::Start { schedule: s("dev") }),
            ("  STOP   dev ", Command::Stop { schedule: s("dev") }),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text, "/offhours"), Ok(expected), "{text:?}");
        }
        let errors: &[(&str, &str)] = &[
            (
                "reboot dev",
                "unknown command 'reboot'. Try `/offhours help`.",
            ),
            ("status", "usage: /offhours status <schedule>"),
            ("status dev extra", "usage: /offhours status <schedule>"),
            ("extend dev", "usage: /offhours extend"),
            ("extend dev soon", "'soon' is not HH:MM, +Nh, +Nm"),
            ("extend dev +0m", "extend by 1 minute to 24 hours"),
            ("extend dev +25h", "extend by 1 minute to 24 hours"),
            ("extend dev 24:00", "'24:00' is not HH:MM"),
            ("info dev 2026-13-01", "'2026-13-01' is not a date"),
            (
                "exception set dev 2026-11-26 later 10:00",
                "'later' is not start or stop",
            ),
            (
                "exception set dev 26/11 stop 10:00",
                "'26/11' is not a date",
            ),
            (
                "exception set dev 2026-11-26 stop 7pm",
                "'7pm' is not a time",
            ),
            (
                "exception set dev 2026-11-26 stop",
                "usage: /offhours exception set",
            ),
            ("exception frobnicate", "usage: /offhours exception list"),
            ("skip", "usage: /offhours skip"),
        ];
        for (text, expected) in errors {
            match parse(text, "/offhours") {
                Err(e) => assert!(e.contains(expected), "{text:?}: {e}"),
                Ok(c) => panic!("{text:?} parsed as {c:?}"),
            }
        }
    }

    #[test]
    fn slack_verification_table() {
        let now = at("2026-11-23T12:50:00Z");
        let good = slack_request("status dev", now, SECRET);
        assert_eq!(
            verify(&good, now, &secrets()).map(|i| (i.platform, i.text, i.user)),
            Ok((
                Platform::Slack,
                "status dev".to_string(),
                "mina".to_string()
            ))
        );
        let mut tampered = good.clone();
        tampered.body = tampered.body.replace("status", "stop");
        let cases: Vec<(&str, ChatRequest, DateTime<Utc>, ChatSecrets)> = vec![
            (
                "wrong secret",
                slack_request("stop dev", now, "other-secret"),
                now,
                secrets(),
            ),
            ("tampered body", tampered, now, secrets()),
            (
                "stale timestamp",
                slack_request("stop dev", now - TimeDelta::seconds(301), SECRET),
                now,
                secrets(),
            ),
            (
                "future timestamp",
                slack_request("stop dev", now + TimeDelta::seconds(301), SECRET),
                now,
                secrets(),
            ),
            (
                "secret not configured",
                good.clone(),
                now,
                ChatSecrets {
                    slack_signing_secret: None,
                    ..secrets()
                },
            ),
            (
                "no signature",
                ChatRequest {
                    headers: vec![(
                        "X-Slack-Request-Timestamp".into(),
                        now.timestamp().to_string(),
                    )],
                    body: good.body.clone(),
                },
                now,
                secrets(),
            ),
            (
                "unsigned form",
                ChatRequest {
                    headers: vec![],
                    body: good.body.clone(),
                },
                now,
                secrets(),
            ),
        ];
        for (name, request, now, secrets) in cases {
            assert!(
                verify(&request, now, &secrets).is_err(),
                "{name} must be refused"
            );
        }
        // Within the window on both sides is fine.
        let edge = slack_request("status dev", now - TimeDelta::seconds(299), SECRET);
        assert!(verify(&edge, now, &secrets()).is_ok());
    }

    #[test]
    fn jandi_verification_strips_the_trigger_word() {
        let ok = verify(
            &jandi_request("/offhours extend dev +1h", TOKEN),
            Utc::now(),
            &secrets(),
        );
        assert_eq!(
            ok.map(|i| (i.platform, i.text, i.user)),
            Ok((
                Platform::Jandi,
                "extend dev +1h".to_string(),
                "Mina".to_string()
            ))
        );
        assert!(verify(
            &jandi_request("/offhours stop dev", "wrong"),
            Utc::now(),
            &secrets()
        )
        .is_err());
        assert!(verify(
            &jandi_request("/offhours stop dev", ""),
            Utc::now(),
            &secrets()
        )
        .is_err());
        let unset = ChatSecrets {
            jandi_token: None,
            ..secrets()
        };
        assert!(verify(
            &jandi_request("/offhours stop dev", TOKEN),
            Utc::now(),
            &unset
        )
        .is_err());
    }

    #[tokio::test]
    async fn unverified_requests_get_401_and_change_nothing() {
        let now = at("2026-11-23T12:50:00Z");
        let requests = [
            slack_request("stop dev", now, "other-secret"),
            slack_request("stop dev", now - TimeDelta::minutes(6), SECRET),
            jandi_request("/offhours stop dev", "wrong"),
            jandi_request("/offhours extend dev +1h", ""),
            ChatRequest {
                headers: vec![],
                body: "hello".into(),
            },
        ];
        for request in requests {
            let store = store();
            let before = store.snapshot().expect("snapshot");
            let r = handle(&request, now, &store, &settings(), &secrets()).await;
            assert_eq!(r.status, 401, "{request:?}");
            assert!(!r.body.contains(SECRET) && !r.body.contains(TOKEN));
            assert_eq!(store.snapshot().expect("snapshot"), before);
        }
    }

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

    async fn run_text(store: &MemoryStore, text: &str, now: DateTime<Utc>) -> Reply {
        let command = parse(text, "/offhours").expect("parses");
        execute(&command, now, store, &settings(), "/offhours").await
    }

    #[tokio::test]
    async fn unknown_and_broken_schedules_are_explained() {
        let now = at("2026-11-23T12:50:00Z");
        let store = store();
        let r = run_text(&store, "status prod", now).await;
        assert!(!r.ok);
        assert_eq!(r.title, "unknown schedule 'prod'. Schedules: dev");
        let r = run_text(&store, "extend broken +1h", now).await;
        assert!(
            r.title
                .contains("schedule 'broken' has configuration errors"),
            "{r:?}"
        );
        assert!(r.lines.iter().any(|l| l.contains("StartTime")), "{r:?}");
        let r = run_text(&store, "exception del nope", now).await;
        assert_eq!(r.title, "no exception with id nope");
    }

    #[tokio::test]
    async fn extend_writes_todays_stop_exception_and_replaces_an_older_one() {
        // GIVEN dev stops at 22:00 KST; it is 21:50 on Monday 2026-11-23.
        let now = at("2026-11-23T21:50:00+09:00");
        let store = store();
        // WHEN extending twice
        let first = run_text(&store, "extend dev +1h", now).await;
        assert!(first.ok, "{first:?}");
        assert_eq!(
            first.title,
            "dev: stop on 2026-11-23 (Mon) moved from 22:00 to 23:00 KST"
        );
        let second = run_text(&store, "extend dev 23:30", now).await;
        assert!(second.ok, "{second:?}");
        // THEN one stop exception for today remains, at 23:30.
        let raw = store.snapshot().expect("snapshot");
        let today: Vec<&Item> = raw
            .exceptions
            .iter()
            .filter(|e| e["ExceptionDate"] == "2026-11-23")
            .collect();
        assert_eq!(today.len(), 1, "{today:?}");
        assert_eq!(today[0]["ExceptionType"], "stop");
        assert_eq!(today[0]["ExceptionValue"], "23:30");
        assert_eq!(today[0]["ScheduleName"], "dev");
    }

    #[test]
    fn extend_plans_and_refusals() {
        let now = at("2026-11-23T21:50:00+09:00");
        let s = dev();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        let ok = plan_extend(&s, Extension::By(TimeDelta::minutes(90)), now).expect("ok");
        assert_eq!(
            (ok.date, ok.time, ok.from),
            (date("2026-11-23"), t(23, 30), Some(t(22, 0)))
        );
        let past = plan_extend(&s, Extension::At(t(21, 0)), now);
        assert!(past.is_err_and(|e| e.contains("is in the past")));
        let midnight = plan_extend(&s, Extension::By(TimeDelta::hours(3)), now);
        assert!(midnight.is_err_and(|e| e.contains("past midnight") && e.contains("stop None")));
        // Saturday: no stop within 24 hours; a time adds one today, a delay cannot.
        let saturday = at("2026-11-28T12:00:00+09:00");
        assert!(plan_extend(&s, Extension::By(TimeDelta::hours(1)), saturday).is_err());
        let added = plan_extend(&s, Extension::At(t(18, 0)), saturday).expect("adds");
        assert_eq!((added.date, added.from), (date("2026-11-28"), None));
    }

    #[tokio::test]
    async fn skip_defaults_to_today_before_the_start_and_tomorrow_after() {
        let store = store();
        let early = at("2026-11-23T08:00:00+09:00");
        let r = run_text(&store, "skip dev", early).await;
        assert_eq!(r.title, "dev: no start on 2026-11-23 (Mon)");
        let late = at("2026-11-23T10:00:00+09:00");
        assert_eq!(default_skip_date(&dev(), late), date("2026-11-24"));
        let r = run_text(&store, "skip dev", late).await;
        assert_eq!(r.title, "dev: no start on 2026-11-24 (Tue)");
        let raw = store.snapshot().expect("snapshot");
        assert!(raw
            .exceptions
            .iter()
            .any(|e| e["ExceptionDate"] == "2026-11-24"
                && e["ExceptionType"] == "start"
                && e["ExceptionValue"] == "None"));
        let r = run_text(&store, "skip dev 2026-11-01", late).await;
        assert!(!r.ok && r.title.contains("in the past"), "{r:?}");
        let r = run_text(&store, "skip dev 2026-11-28", late).await;
        assert!(
            r.lines.iter().any(|l| l.contains("no start anyway")),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn info_shows_the_days_events_after_exceptions() {
        let store = store();
        let now = at("2026-11-23T12:00:00+09:00");
        let r = run_text(&store, "info dev", now).await;
        assert_eq!(
            r.lines,
            [
                "09:00 KST start: done (schedule)",
                "22:00 KST stop: upcoming (schedule)"
            ]
        );
        let r = run_text(&store, "info dev 2026-12-25", now).await;
        assert_eq!(r.lines, ["22:00 KST stop: upcoming (schedule)"]);
        run_text(&store, "exception set dev 2026-11-24 stop 23:45", now).await;
        let r = run_text(&store, "info dev tomorrow", now).await;
        assert!(
            r.lines[1].starts_with("23:45 KST stop: upcoming (exception "),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn exception_list_set_and_del() {
        let store = store();
        let now = at("2026-11-23T12:00:00+09:00");
        let r = run_text(&store, "exception list dev", now).await;
        assert_eq!(
            r.lines,
            [
                "2026-12-25 (Fri) start None (all schedules): `xmas`",
                "(1 past exception(s) not shown)"
            ]
        );
        let set = run_text(&store, "exception set dev 2026-11-26 stop 23:00", now).await;
        assert!(set.ok, "{set:?}");
        let id = set.lines[0]
            .trim_start_matches("exception id: `")
            .trim_end_matches('`')
            .to_string();
        let r = run_text(&store, "exception list dev", now).await;
        assert!(r.lines[0].contains(&id), "{r:?}");
        let del = run_text(&store, &format!("exception del {id}"), now).await;
        assert!(del.ok, "{del:?}");
        let r = run_text(&store, "exception set prod 2026-11-26 stop 23:00", now).await;
        assert!(!r.ok && r.title.contains("unknown schedule"), "{r:?}");
    }

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let text = format!("{:?}", secrets());
        assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
    }
}
