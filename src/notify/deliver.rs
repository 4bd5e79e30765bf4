//! Delivery: the HTTP client that posts rendered messages to webhooks, with per-attempt and total time limits and bounded retries.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::message::Message;
use super::render::{render, Payload, WebhookFormat};
use crate::core::config::Config;
use crate::error::{Error, Result};

/// Time limits of one delivery: a webhook that is slow or down never holds a tick for long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Limit of one HTTP attempt (connect + response).
    pub attempt_timeout: Duration,
    /// Extra attempts after a 5xx, 408, 429, timeout or connection failure.
    pub retries: u32,
    /// Pause before the first retry; doubles for each further one.
    pub backoff: Duration,
    /// Limit of the whole delivery, retries included.
    pub total: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(3),
            retries: 2,
            backoff: Duration::from_millis(300),
            total: Duration::from_secs(8),
        }
    }
}

/// Where and how messages go, from the environment.
#[derive(Clone)]
pub struct NotifySettings {
    /// Env `WEBHOOK_URL`: the destination of schedules without their own WebhookUrl.
    pub webhook_url: Option<String>,
    /// Env `WEBHOOK_FORMAT`; detected from each URL's host when absent.
    pub format: Option<WebhookFormat>,
    /// Env `CHAT_COMMAND` (default `/offhours`): the prefix shown in postpone hints.
    pub command: String,
    pub policy: DeliveryPolicy,
    /// Limit of all chat delivery in one tick: messages left when it is used up are not
    /// attempted (nor recorded) and go out at the next tick.
    pub tick_budget: Duration,
}

impl fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The webhook URL is a secret: never printed.
        f.debug_struct("NotifySettings")
            .field("webhook_url", &self.webhook_url.as_ref().map(|_| "<set>"))
            .field("format", &self.format)
            .field("command", &self.command)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            webhook_url: None,
            format: None,
            command: "/offhours".into(),
            policy: DeliveryPolicy::default(),
            tick_budget: Duration::from_secs(30),
        }
    }
}

/// The result of delivering one message. Never carries the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Delivery {
    Sent {
        attempts: u32,
    },
    Failed {
        attempts: u32,
        reason: String,
    },
    /// Not attempted (no destination, or the destination failed earlier in this tick).
    Skipped {
        reason: String,
    },
    /// Already sent by an earlier tick.
    Duplicate,
}

/// What one post of a payload came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// The receiver answered with this HTTP status.
    Status(u16),
    /// No answer; `retry` when trying again may help (timeout, connection failure).
    NoAnswer { reason: String, retry: bool },
}

/// A boxed future, for the object-safe [`Transport`].
pub type PostFuture<'a> = Pin<Box<dyn Future<Output = Posted> + Send + 'a>>;

/// Where rendered payloads go: HTTPS through reqwest in production ([`Notifier::new`]);
/// a recorder that can be down in the fleet simulation ([`Notifier::with_transport`]).
/// The retries, the time limits and the dedup stay in [`Notifier`], whatever the transport.
pub trait Transport: Send + Sync {
    /// Posts `payload` to `url` once. Never puts the URL into a reason.
    fn post<'a>(&'a self, url: &'a str, payload: &'a Payload) -> PostFuture<'a>;
}

/// The production transport: reqwest with rustls, no redirects, per-attempt time limit.
struct Https {
    client: reqwest::Client,
}

impl Transport for Https {
    fn post<'a>(&'a self, url: &'a str, payload: &'a Payload) -> PostFuture<'a> {
        Box::pin(async move {
            let mut request = self.client.post(url).json(&payload.body);
            for (name, value) in &payload.headers {
                request = request.header(*name, *value);
            }
            match request.send().await {
                Ok(response) => Posted::Status(response.status().as_u16()),
                Err(e) => {
                    let retry = e.is_timeout() || e.is_connect() || e.is_request();
                    Posted::NoAnswer {
                        reason: describe(e, url),
                        retry,
                    }
                }
            }
        })
    }
}

/// Sends messages to webhooks: rendering, bounded retries and time limits over a [`Transport`].
pub struct Notifier {
    transport: Arc<dyn Transport>,
    settings: NotifySettings,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("settings", &self.settings)
            .finish()
    }
}

/// Describes a reqwest error without its URL (and, to be sure, with the URL text removed).
fn describe(e: reqwest::Error, url: &str) -> String {
    let e = e.without_url();
    let text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        format!("request failed: {e}")
    };
    if url.is_empty() {
        text
    } else {
        text.replace(url, "<webhook>")
    }
}

/// 5xx, 429 Too Many Requests and 408 Request Timeout are worth another attempt.
fn retryable_status(status: u16) -> bool {
    (500..600).contains(&status) || status == 429 || status == 408
}

impl Notifier {
    pub fn new(settings: NotifySettings) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.policy.attempt_timeout)
            .timeout(settings.policy.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("offhours/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                Error::Webhook(format!("cannot build the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self::with_transport(settings, Arc::new(Https { client })))
    }

    /// A notifier that posts through `transport` (the fleet simulation's recorder).
    pub fn with_transport(settings: NotifySettings, transport: Arc<dyn Transport>) -> Self {
        Self {
            transport,
            settings,
        }
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.settings
    }

    /// The format used for `url`: `WEBHOOK_FORMAT` if set, else detected from the host.
    pub fn format_for(&self, url: &str) -> WebhookFormat {
        self.settings
            .format
            .unwrap_or_else(|| WebhookFormat::detect(url))
    }

    /// The destination of a schedule's messages: its WebhookUrl, else `WEBHOOK_URL`.
    pub fn destination<'a>(&'a self, config: &'a Config, schedule: &str) -> Option<&'a str> {
        config
            .schedule(schedule)
            .and_then(|s| s.webhook_url.as_deref())
            .or(self.settings.webhook_url.as_deref())
    }

    /// Delivers one message to `url`: bounded attempts, bounded total time, never an error.
    pub async fn deliver(&self, url: &str, message: &Message) -> (WebhookFormat, Delivery) {
        let format = self.format_for(url);
        let payload = render(format, message);
        let policy = self.settings.policy;
        let attempts = AtomicU32::new(0);
        let tries = async {
            let mut backoff = policy.backoff;
            let mut last = String::new();
            for attempt in 0..=policy.retries {
                if attempt > 0 {
                    tokio::time::sleep(backoff).await;
                    backoff = backoff.saturating_mul(2);
                }
                attempts.fetch_add(1, Ordering::Relaxed);
                match self.transport.post(url, &payload).await {
                    Posted::Status(status) if (200..300).contains(&status) => {
                        return Delivery::Sent {
                            attempts: attempts.load(Ordering::Relaxed),
                        }
                    }
                    Posted::Status(status) => {
                        last = format!("HTTP {status}");
                        if !retryable_status(status) {
                            break;
                        }
                    }
                    Posted::NoAnswer { reason, retry } => {
                        last = reason;
                        if !retry {
                            break;
                        }
                    }
                }
            }
            Delivery::Failed {
                attempts: attempts.load(Ordering::Relaxed),
                reason: last,
            }
        };
        let started = Instant::now();
        let delivery = match tokio::time::timeout(policy.total, tries).await {
            Ok(d) => d,
            Err(_) => Delivery::Failed {
                attempts: attempts.load(Ordering::Relaxed),
                reason: format!(
                    "gave up after {} ms (delivery time limit)",
                    policy.total.as_millis()
                ),
            },
        };
        log_delivery(format, message, &delivery, started);
        (format, delivery)
    }
}

/// Logs a delivery that was attempted (never the URL).
fn log_delivery(format: WebhookFormat, message: &Message, delivery: &Delivery, started: Instant) {
    match delivery {
        Delivery::Sent { attempts } => tracing::info!(
            format = format.as_str(),
            kind = message.kind.as_str(),
            schedule = %message.schedule,
            attempts,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "chat message sent"
        ),
        Delivery::Failed { attempts, reason } => tracing::warn!(
            format = format.as_str(),
            kind = message.kind.as_str(),
            schedule = %message.schedule,
            attempts,
            reason = %reason,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "chat message not delivered"
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_setting_overrides_detection_and_rejects_unknown_values() {
        let s =
            NotifySettings::from_lookup(|k| (k == "WEBHOOK_FORMAT").then(|| "Google-Chat".into()))
                .expect("valid");
        assert_eq!(s.format, Some(WebhookFormat::GoogleChat));
        let n = Notifier::new(s).expect("client");
        assert_eq!(
            n.format_for("https://hooks.slack.com/services/x"),
            WebhookFormat::GoogleChat
        );
        let e = NotifySettings::from_lookup(|k| (k == "WEBHOOK_FORMAT").then(|| "irc".into()));
        assert!(e.is_err_and(|e| e.to_string().contains("WEBHOOK_FORMAT")));
    }

    /// Answers every post with one status.
    struct Answers(u16);

    impl Transport for Answers {
        fn post<'a>(&'a self, _: &'a str, _: &'a Payload) -> PostFuture<'a> {
            Box::pin(async move { Posted::Status(self.0) })
        }
    }

    #[tokio::test]
    async fn any_2xx_is_delivered_teams_202_included() {
        let url = "https://prod-1.westus.logic.azure.com/workflows/x";
        let message = crate::notify::message::alert_message(&crate::core::config::Problem::new(
            "dev", "boom",
        ));
        for (status, sent) in [(200, true), (202, true), (204, true), (400, false)] {
            let settings = NotifySettings::from_lookup(|_| None).expect("defaults");
            let n = Notifier::with_transport(settings, Arc::new(Answers(status)));
            let (format, delivery) = n.deliver(url, &message).await;
            assert_eq!(format, WebhookFormat::Teams);
            assert_eq!(matches!(delivery, Delivery::Sent { .. }), sent, "{status}");
        }
    }

    #[test]
    fn settings_debug_hides_the_webhook_url() {
        let s = NotifySettings::from_lookup(|k| {
            (k == "WEBHOOK_URL").then(|| "https://hooks.slack.com/services/SECRET".into())
        })
        .expect("valid");
        assert!(!format!("{s:?}").contains("SECRET"));
    }
}
