//! One chat request from arrival to answer: verify, acknowledge re-deliveries, parse, check the caller, run a change once, answer within Slack's time limit.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

use super::{
    execute, parse, refusal, render_reply, required, verify, ChatRequest, ChatResponse,
    ChatSecrets, Command, FollowUp, Incoming, Platform, Rejection, Reply,
};
use crate::core::inert::plain;
use crate::ports::{CommandStore, Dedup, Settings};

/// The answer to a chat request: complete now, or an acknowledgement now and the rest
/// (the command, then its reply posted to Slack's `response_url`) to drive to the end.
pub enum Handled<'a> {
    Now(ChatResponse),
    Later {
        ack: ChatResponse,
        rest: Pin<Box<dyn Future<Output = ()> + Send + 'a>>,
    },
}

impl Handled<'_> {
    /// Runs whatever is left, then gives the response: what a caller does when it can
    /// only answer once it is done (the Lambda's buffered Function URL).
    pub async fn finish(self) -> ChatResponse {
        match self {
            Self::Now(response) => response,
            Self::Later { ack, rest } => {
                rest.await;
                ack
            }
        }
    }
}

/// Handles one chat request to the end and answers: verify, parse, act, reply. Unverified
/// requests get 401 and change nothing; a Slack retry is acknowledged and not run; a
/// change delivered twice runs once. No time limit (see [`handle_in_time`]).
pub async fn handle<S>(
    request: &ChatRequest,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    secrets: &ChatSecrets,
) -> ChatResponse
where
    S: CommandStore + Dedup + Sync,
{
    handle_in_time(request, now, store, settings, secrets, None)
        .await
        .finish()
        .await
}

/// Like [`handle`], but a Slack command that has not finished within `follow.budget` is
/// answered "working on it…" at once, and its reply goes to the request's `response_url`
/// when it is done ([`Handled::Later`]). Used by the Lambda Function URL and `offhours serve`.
pub async fn handle_in_time<'a, S>(
    request: &ChatRequest,
    now: DateTime<Utc>,
    store: &'a S,
    settings: &'a Settings,
    secrets: &'a ChatSecrets,
    follow: Option<&'a FollowUp>,
) -> Handled<'a>
where
    S: CommandStore + Dedup + Sync,
{
    let incoming = match verify(request, now, secrets) {
        Ok(i) => i,
        Err(Rejection(why)) => {
            tracing::warn!(reason = why, "chat request refused");
            return Handled::Now(ChatResponse::unauthorized());
        }
    };
    if incoming.ssl_check {
        return Handled::Now(ChatResponse::plain(200, ""));
    }
    if let Some(retry) = slack_retry(&incoming, request) {
        // Slack sends the same request again when the first answer was late or lost; the
        // first one is (or was) running already. An empty 200 shows nothing more in Slack.
        tracing::info!(retry, reason = request.header("x-slack-retry-reason").unwrap_or(""),
            user = %incoming.user, "Slack retry acknowledged, not run again");
        return Handled::Now(ChatResponse::plain(200, ""));
    }
    let platform = incoming.platform;
    // Commands need no backticks; without them, no argument echoed back can open a code span.
    let text = plain(&incoming.text);
    let command = match parse(&text, &secrets.command) {
        Err(message) => return Handled::Now(render_reply(platform, &Reply::error(message))),
        Ok(command) => command,
    };
    let url = follow.and_then(|f| Some((f, f.accepts(incoming.response_url.as_deref()?)?)));
    if url.is_none() && incoming.response_url.is_some() && follow.is_some() {
        tracing::warn!("Slack response_url is not https://hooks.slack.com: no follow-up");
    }
    let mut work =
        Box::pin(
            async move { run_as(&incoming, &command, &text, now, store, settings, secrets).await },
        );
    let Some((follow, url)) = url else {
        return Handled::Now(render_reply(platform, &work.await));
    };
    match tokio::time::timeout(follow.budget, &mut work).await {
        Ok(reply) => Handled::Now(render_reply(platform, &reply)),
        Err(_) => Handled::Later {
            ack: render_reply(
                platform,
                &Reply::ok("working on it… the answer follows here", Vec::new()),
            ),
            rest: Box::pin(async move {
                let reply = work.await;
                follow.post(&url, &render_reply(platform, &reply)).await;
            }),
        },
    }
}

/// `X-Slack-Retry-Num` of a verified Slack request (the header is covered by nothing
/// Slack signs, but a retry of a request that verifies is still that request).
fn slack_retry<'r>(incoming: &Incoming, request: &'r ChatRequest) -> Option<&'r str> {
    (incoming.platform == Platform::Slack)
        .then(|| request.header("x-slack-retry-num"))
        .flatten()
}

/// Runs a verified command if the caller may (else a refusal that changes nothing), once
/// per delivery for changes, and logs every change it ran as an audit line: who, what,
/// and how it ended.
async fn run_as<S: CommandStore + Dedup>(
    incoming: &Incoming,
    command: &Command,
    text: &str,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    secrets: &ChatSecrets,
) -> Reply {
    let granted = secrets.access.granted(&incoming.user_id);
    let needed = required(command);
    let (platform, user, user_id) = (incoming.platform, &incoming.user, &incoming.user_id);
    if granted < needed {
        tracing::warn!(?platform, %user, %user_id, command = %text, ?needed, "chat command refused");
        return refusal(needed);
    }
    if command.changes() {
        match first_delivery(store, incoming.delivery.as_deref()).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(?platform, %user, command = %text, "chat re-delivery acknowledged, not run again");
                return Reply::ok("already done: this message was delivered twice", Vec::new());
            }
            Err(e) => return Reply::failed(&e),
        }
    }
    tracing::info!(%user, command = %text, "chat command");
    let reply = execute(command, now, store, settings, &secrets.command, granted).await;
    if !command.changes() {
        return reply;
    }
    tracing::info!(
        target: "offhours::audit",
        ?platform, %user, %user_id, command = %text, ok = reply.ok, result = %reply.title,
        "chat change"
    );
    if !reply.ok {
        return reply;
    }
    let mut r = reply.public();
    if !user.is_empty() {
        r.lines.push(format!("(by {})", plain(user)));
    }
    r
}

/// Claims the delivery `key` before its change runs; false when it was claimed before
/// (the same message delivered again). The DynamoDB store claims the key with one
/// conditional write, so two Lambda instances that get the same message at once cannot
/// both run it; the in-memory store checks and records, one call after the other. No
/// key: every delivery runs.
async fn first_delivery<D: Dedup>(dedup: &D, key: Option<&str>) -> crate::error::Result<bool> {
    let Some(key) = key else {
        return Ok(true);
    };
    dedup.claim(key).await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::chat::fixtures::*;
    use crate::core::config::{Action, Item, RawConfig};
    use crate::core::planner::Resource;
    use crate::ports::MemoryStore;

    const SET: &str = "exception set dev 2026-11-26 stop 23:00";

    fn text_of(r: &ChatResponse) -> String {
        let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        v["text"]
            .as_str()
            .or(v["body"].as_str())
            .unwrap_or("")
            .into()
    }

    #[tokio::test]
    async fn a_slack_retry_is_acknowledged_and_not_run_again() {
        // GIVEN a signed Slack command that was run once
        let now = at("2026-11-23T12:50:00Z");
        let store = store();
        let first = slack_request(SET, now, SECRET);
        let r = handle(&first, now, &store, &settings(), &secrets()).await;
        assert!(text_of(&r).contains("stop moved to 23:00"), "{r:?}");
        let after_first = store.snapshot().expect("snapshot");
        // WHEN Slack delivers it again with its retry headers
        let mut retry = first.clone();
        retry.headers.push(("X-Slack-Retry-Num".into(), "1".into()));
        retry
            .headers
            .push(("X-Slack-Retry-Reason".into(), "http_timeout".into()));
        let r = handle(&retry, now, &store, &settings(), &secrets()).await;
        // THEN it gets an empty 200 at once, and the store shows the one change only
        assert_eq!((r.status, r.body.as_str()), (200, ""));
        assert_eq!(store.snapshot().expect("snapshot"), after_first);
        let set: Vec<&Item> = after_first
            .exceptions
            .iter()
            .filter(|e| e["ExceptionDate"] == "2026-11-26")
            .collect();
        assert_eq!(set.len(), 1, "{set:?}");
        // AND a forged retry is still refused
        let mut forged = slack_request(SET, now, "not-the-secret");
        forged
            .headers
            .push(("X-Slack-Retry-Num".into(), "1".into()));
        let r = handle(&forged, now, &store, &settings(), &secrets()).await;
        assert_eq!(r.status, 401);
    }

    #[tokio::test]
    async fn a_jandi_message_delivered_twice_runs_once() {
        let now = at("2026-11-23T12:50:00Z");
        let store = store();
        let message = jandi_request_at(
            &format!("/offhours {SET}"),
            TOKEN,
            Some("2026-11-23T12:50:00.000Z"),
        );
        // GIVEN the message ran once
        let r = handle(&message, now, &store, &settings(), &secrets()).await;
        assert!(text_of(&r).contains("stop moved to 23:00"), "{r:?}");
        let after_first = store.snapshot().expect("snapshot");
        // WHEN JANDI delivers the same body again
        let r = handle(&message, now, &store, &settings(), &secrets()).await;
        // THEN it is acknowledged and nothing changes
        assert_eq!(r.status, 200);
        assert!(text_of(&r).contains("already done"), "{r:?}");
        assert_eq!(store.snapshot().expect("snapshot"), after_first);
        // AND queries are answered every time they arrive
        let status = jandi_request_at(
            "/offhours status dev",
            TOKEN,
            Some("2026-11-23T12:50:00.000Z"),
        );
        for _ in 0..2 {
            let r = handle(&status, now, &store, &settings(), &secrets()).await;
            assert_eq!(text_of(&r), "dev (Asia/Seoul)");
        }
        // AND the same text written again (a new createdAt) is a new message that runs
        let again = jandi_request_at(
            &format!("/offhours {SET}"),
            TOKEN,
            Some("2026-11-23T12:51:07.123Z"),
        );
        handle(&again, now, &store, &settings(), &secrets()).await;
        assert_ne!(store.snapshot().expect("snapshot"), after_first);
        // AND without createdAt a re-delivery cannot be recognised: it runs
        let bare = jandi_request_at(&format!("/offhours {SET}"), TOKEN, None);
        let before = store.snapshot().expect("snapshot");
        handle(&bare, now, &store, &settings(), &secrets()).await;
        assert_ne!(store.snapshot().expect("snapshot"), before);
    }

    /// The fixture store, slow to set force flags (a DynamoDB write that takes its time).
    struct Slow(MemoryStore);

    impl CommandStore for Slow {
        async fn load_config(&self) -> crate::error::Result<RawConfig> {
            CommandStore::load_config(&self.0).await
        }
        async fn put_exception(&self, item: &Item) -> crate::error::Result<()> {
            self.0.put_exception(item).await
        }
        async fn delete_exception(&self, uuid: &str) -> crate::error::Result<bool> {
            self.0.delete_exception(uuid).await
        }
        async fn set_force(&self, schedule: &str, action: Action) -> crate::error::Result<bool> {
            tokio::time::sleep(Duration::from_millis(400)).await;
            self.0.set_force(schedule, action).await
        }
        async fn observe(&self) -> crate::error::Result<Vec<Resource>> {
            self.0.observe().await
        }
    }

    impl Dedup for Slow {
        async fn delivered(&self, key: &str) -> crate::error::Result<bool> {
            self.0.delivered(key).await
        }
        async fn record(&self, key: &str) -> crate::error::Result<()> {
            self.0.record(key).await
        }
        async fn claim(&self, key: &str) -> crate::error::Result<bool> {
            self.0.claim(key).await
        }
    }

    /// Accepts one HTTP request on `listener`, answers `status` with `extra` headers, and
    /// returns the request's head and body.
    async fn one_request(listener: &TcpListener, answer: &str) -> (String, String) {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.expect("read");
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if buf.len() >= end + 4 + length || n == 0 {
                    stream.write_all(answer.as_bytes()).await.expect("answer");
                    return (text[..end].to_string(), text[end + 4..].to_string());
                }
            }
            if n == 0 {
                return (text, String::new());
            }
        }
    }

    const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_slow_slack_command_is_acknowledged_and_its_reply_posted_to_response_url() {
        // GIVEN a store that takes 400 ms to set a flag, a 50 ms budget, and a listener
        // standing in for hooks.slack.com (the explicit test-only loopback setting)
        let now = at("2026-11-23T12:50:00Z");
        let store = Slow(store());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/commands/T1/1/abc",
            listener.local_addr().expect("addr")
        );
        let follow = FollowUp::slack()
            .expect("client")
            .for_tests_on_loopback(Duration::from_millis(50));
        let (settings, secrets) = (settings(), secrets());
        let request = slack_request_with("stop dev", &[("response_url", &url)], now, SECRET);
        // WHEN `stop dev` arrives
        let started = std::time::Instant::now();
        let handled =
            handle_in_time(&request, now, &store, &settings, &secrets, Some(&follow)).await;
        // THEN the answer is "working on it…", given before the command finished
        let Handled::Later { ack, rest } = handled else {
            panic!("a slow command must be answered at once");
        };
        assert!(
            started.elapsed() < Duration::from_millis(350),
            "{:?}",
            started.elapsed()
        );
        let v: Value = serde_json::from_str(&ack.body).expect("json");
        assert_eq!(v["response_type"], "ephemeral");
        assert!(text_of(&ack).contains("working on it"), "{ack:?}");
        assert_eq!(
            store.0.snapshot().expect("snapshot").schedules[0].get("ForceStop"),
            None
        );
        // AND the reply is posted to response_url as Slack's JSON once the command is done
        let ((head, body), ()) = tokio::join!(one_request(&listener, OK), rest);
        assert!(head.starts_with("POST /commands/T1/1/abc "), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let v: Value = serde_json::from_str(&body).expect("json body");
        assert_eq!(v["response_type"], "in_channel");
        assert!(
            v["text"]
                .as_str()
                .is_some_and(|t| t.contains("dev: ForceStop set")),
            "{v}"
        );
        assert_eq!(
            store.0.snapshot().expect("snapshot").schedules[0]["ForceStop"],
            Value::Bool(true)
        );
        // AND a quick command is answered inline, with nothing posted
        let help = slack_request_with("help", &[("response_url", &url)], now, SECRET);
        let handled = handle_in_time(&help, now, &store, &settings, &secrets, Some(&follow)).await;
        let Handled::Now(r) = handled else {
            panic!("help is quick");
        };
        assert!(text_of(&r).contains("offhours commands"), "{r:?}");
    }

    #[tokio::test]
    async fn a_response_url_elsewhere_is_never_posted_to_and_redirects_are_not_followed() {
        let now = at("2026-11-23T12:50:00Z");
        let (settings, secrets) = (settings(), secrets());
        let follow = FollowUp::slack()
            .expect("client")
            .for_tests_on_loopback(Duration::from_millis(50));
        // GIVEN a response_url that is not Slack's: the slow command is answered inline
        let store = Slow(store());
        let request = slack_request_with(
            "stop dev",
            &[("response_url", "https://evil.example/collect")],
            now,
            SECRET,
        );
        let handled =
            handle_in_time(&request, now, &store, &settings, &secrets, Some(&follow)).await;
        assert!(matches!(&handled, Handled::Now(r) if text_of(r).contains("ForceStop set")));
        // GIVEN a listener that redirects to another one
        let first = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let second = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let moved = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{}/stolen\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            second.local_addr().expect("addr")
        );
        let url = follow
            .accepts(&format!("http://{}/r", first.local_addr().expect("addr")))
            .expect("loopback accepted in tests");
        let reply = render_reply(Platform::Slack, &Reply::ok("done", Vec::new()));
        // WHEN the follow-up is posted THEN the redirect target never hears of it
        let (_, ()) = tokio::join!(one_request(&first, &moved), follow.post(&url, &reply));
        let followed = tokio::time::timeout(Duration::from_millis(200), second.accept()).await;
        assert!(followed.is_err(), "the redirect was followed");
    }
}
