//! Per-platform request verification: Slack `v0` signature and timestamp window, JANDI token.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{ChatAccess, ChatRequest};

/// Secrets that verify incoming commands (a platform whose secret is unset is refused), and
/// who may run what once verified.
#[derive(Clone, Default)]
pub struct ChatSecrets {
    /// Env `SLACK_SIGNING_SECRET`: the Slack app's signing secret.
    pub slack_signing_secret: Option<String>,
    /// Env `JANDI_TOKEN`: the token of the JANDI outgoing webhook.
    pub jandi_token: Option<String>,
    /// Env `CHAT_COMMAND` (default `/offhours`): the command name shown in help texts.
    pub command: String,
    /// Env `CHAT_WRITERS` / `CHAT_ADMINS`: who may change things (not secret).
    pub access: ChatAccess,
}

impl fmt::Debug for ChatSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<String>| if s.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("ChatSecrets")
            .field("slack_signing_secret", &set(&self.slack_signing_secret))
            .field("jandi_token", &set(&self.jandi_token))
            .field("command", &self.command)
            .field("access", &self.access)
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
    /// Who sent it, as people read it (Slack `user_name`, JANDI `writerName`): the reply and the log.
    pub user: String,
    /// Who sent it, as the platform identifies them (Slack `user_id`, JANDI `writerEmail`),
    /// taken from the verified body: what `CHAT_WRITERS` and `CHAT_ADMINS` list.
    pub user_id: String,
    /// Slack's certificate check (`ssl_check=1`): answer 200 and do nothing.
    pub ssl_check: bool,
    /// Slack's `response_url` from the verified body: where a reply that takes longer than
    /// Slack's 3 seconds is posted (only `https://hooks.slack.com/...` is ever used).
    pub response_url: Option<String>,
    /// What identifies this delivery, so that the same message delivered twice changes
    /// things once (see [`delivery_key`]); `None` when the request carries nothing that
    /// tells a re-delivery from a new message.
    pub delivery: Option<String>,
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
    let mut user_id = String::new();
    let mut ssl_check = false;
    let mut response_url = None;
    let mut trigger_id = None;
    // Read only after the signature matched: these fields are Slack's, not the caller's.
    for (k, v) in form_urlencoded::parse(request.body.as_bytes()) {
        match k.as_ref() {
            "text" => text = v.into_owned(),
            "user_name" => user = v.into_owned(),
            "user_id" => user_id = v.into_owned(),
            "ssl_check" => ssl_check = v == "1",
            "response_url" => response_url = Some(v.into_owned()),
            "trigger_id" => trigger_id = Some(v.into_owned()),
            _ => {}
        }
    }
    Ok(Incoming {
        platform: Platform::Slack,
        text: text.trim().to_string(),
        user,
        user_id,
        ssl_check,
        response_url: response_url.filter(|u| !u.is_empty()),
        // Slack gives every slash-command invocation its own trigger_id.
        delivery: trigger_id
            .filter(|t| !t.is_empty())
            .map(|t| delivery_key(&["slack", &t])),
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
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("").trim();
    Ok(Incoming {
        platform: Platform::Jandi,
        text: text.to_string(),
        user: field("writerName").to_string(),
        user_id: field("writerEmail").to_string(),
        ssl_check: false,
        response_url: None,
        delivery: jandi_delivery(body),
    })
}

/// The identity of a JANDI delivery. JANDI's outgoing webhook carries no message id; its
/// body has `teamName`, `roomName`, `writerEmail`, `writerName`, `text`, `keyword` and
/// `createdAt` (when the message was written, to the millisecond). A message JANDI
/// delivers again has the same fields, while the same text typed again has a new
/// `createdAt`; so the key is derived from the verified team, room, writer, text and
/// `createdAt`. Without `createdAt` a re-delivery cannot be told from a new message, and
/// there is no key (the command runs every time it arrives).
fn jandi_delivery(body: &serde_json::Map<String, Value>) -> Option<String> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or("").trim();
    let created = field("createdAt");
    if created.is_empty() {
        return None;
    }
    Some(delivery_key(&[
        "jandi",
        field("teamName"),
        field("roomName"),
        field("writerEmail"),
        field("text"),
        created,
    ]))
}

/// A short key for a delivery: hex SHA-256 of the length-prefixed parts (so no choice of
/// field contents makes two different deliveries collide by concatenation).
pub fn delivery_key(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for p in parts {
        hash.update((p.len() as u64).to_be_bytes());
        hash.update(p.as_bytes());
    }
    format!("chat#{}", hex::encode(&hash.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::fixtures::*;
    use chrono::TimeDelta;

    #[test]
    fn slack_verification_table() {
        let now = at("2026-11-23T12:50:00Z");
        let good = slack_request("status dev", now, SECRET);
        assert_eq!(
            verify(&good, now, &secrets()).map(|i| (i.platform, i.text, i.user, i.user_id)),
            Ok((
                Platform::Slack,
                "status dev".to_string(),
                "mina".to_string(),
                SLACK_USER.to_string()
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
            ok.map(|i| (i.platform, i.text, i.user, i.user_id)),
            Ok((
                Platform::Jandi,
                "extend dev +1h".to_string(),
                "Mina".to_string(),
                "mina@example.com".to_string()
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

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let text = format!("{:?}", secrets());
        assert!(!text.contains(SECRET) && !text.contains(TOKEN), "{text}");
    }
}
