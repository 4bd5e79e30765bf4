//! Rendering per chat platform: the webhook formats (detected from the URL host) and `render`, which hands a message to the platform's file.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::message::Message;

mod discord;
mod generic;
#[cfg(test)]
mod golden;
mod google_chat;
mod jandi;
#[cfg(test)]
mod limits;
mod slack;
mod teams;

pub use jandi::JANDI_ACCEPT;

/// The chat platform a webhook belongs to, which decides the payload shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    Jandi,
    Slack,
    /// Microsoft Teams through a Workflows (Power Automate) webhook: an Adaptive Card.
    Teams,
    Discord,
    GoogleChat,
    /// A plain JSON event for anything else (a custom receiver, a log pipeline).
    Generic,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jandi => "jandi",
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Discord => "discord",
            Self::GoogleChat => "google_chat",
            Self::Generic => "generic",
        }
    }

    /// Parses a `WEBHOOK_FORMAT` value (`jandi`, `slack`, `teams`, `discord`, `google_chat`/`googlechat`/`gchat`, `generic`/`json`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(
            match text
                .trim()
                .to_ascii_lowercase()
                .replace(['-', ' '], "_")
                .as_str()
            {
                "jandi" => Self::Jandi,
                "slack" => Self::Slack,
                "teams" | "msteams" | "ms_teams" | "workflows" => Self::Teams,
                "discord" => Self::Discord,
                "google_chat" | "googlechat" | "gchat" | "google" => Self::GoogleChat,
                "generic" | "json" => Self::Generic,
                _ => return None,
            },
        )
    }

    /// Recognises the platform from the webhook URL's host; `Generic` when unknown.
    pub fn detect(url: &str) -> Self {
        let Some(host) = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        else {
            return Self::Generic;
        };
        let is = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if is("jandi.com") {
            Self::Jandi
        } else if is("hooks.slack.com") {
            Self::Slack
        } else if is("webhook.office.com")
            || is("logic.azure.com")
            || is("powerautomate.com")
            || is("powerplatform.com")
        {
            Self::Teams
        } else if is("discord.com") || is("discordapp.com") {
            Self::Discord
        } else if is("chat.googleapis.com") {
            Self::GoogleChat
        } else {
            Self::Generic
        }
    }
}

impl fmt::Display for WebhookFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP request body plus the extra headers a platform needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Value,
}

/// Renders a message for one platform.
pub fn render(format: WebhookFormat, m: &Message) -> Payload {
    match format {
        WebhookFormat::Jandi => jandi::render(m),
        WebhookFormat::Slack => slack::render(m),
        WebhookFormat::Teams => teams::render(m),
        WebhookFormat::Discord => discord::render(m),
        WebhookFormat::GoogleChat => google_chat::render(m),
        WebhookFormat::Generic => generic::render(m),
    }
}

/// A payload with only a JSON body (no extra headers).
fn json_only(body: Value) -> Payload {
    Payload {
        headers: Vec::new(),
        body,
    }
}

pub(super) use crate::core::clip::{clip, fit};

/// Each line of `lines` escaped for a platform (escaping first: entities make text longer).
fn escaped(lines: &[String], escape: impl Fn(&str) -> String) -> Vec<String> {
    lines.iter().map(|l| escape(l)).collect()
}

/// A text's lines, for [`fit`].
fn lines_of(text: &str) -> Vec<String> {
    text.lines().map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::Problem;
    use crate::notify::fixtures::notice;
    use crate::notify::message::{alert_message, warning_message};

    /// The fixture warning rendered for `format`.
    pub(super) fn rendered(format: WebhookFormat) -> Payload {
        render(format, &warning_message(&notice(), "/offhours"))
    }

    #[test]
    fn host_detection_table() {
        let cases = [
            ("https://wh.jandi.com/connect-api/webhook/123/abc", WebhookFormat::Jandi),
            ("https://hooks.slack.com/services/T0/B0/xyz", WebhookFormat::Slack),
            ("https://contoso.webhook.office.com/webhookb2/abc", WebhookFormat::Teams),
            ("https://prod-12.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x", WebhookFormat::Teams),
            ("https://default1234.56.environment.api.powerplatform.com:443/powerautomate/automations/direct/workflows/abc", WebhookFormat::Teams),
            ("https://discord.com/api/webhooks/1/abc", WebhookFormat::Discord),
            ("https://discordapp.com/api/webhooks/1/abc", WebhookFormat::Discord),
            ("https://ptb.discord.com/api/webhooks/1/abc", WebhookFormat::Discord),
            ("https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t", WebhookFormat::GoogleChat),
            ("https://example.com/hooks/offhours", WebhookFormat::Generic),
            ("https://notslack.com.evil.example/hooks.slack.com", WebhookFormat::Generic),
            ("https://evil-discord.com/api/webhooks", WebhookFormat::Generic),
            ("not a url", WebhookFormat::Generic),
        ];
        for (url, expected) in cases {
            assert_eq!(WebhookFormat::detect(url), expected, "{url}");
        }
    }

    #[test]
    fn long_texts_are_clipped_to_platform_limits() {
        let mut m = alert_message(&Problem::new("dev", "x".repeat(10_000)));
        m.title = "t".repeat(500);
        let slack = render(WebhookFormat::Slack, &m);
        assert!(slack.body["blocks"][0]["text"]["text"]
            .as_str()
            .is_some_and(|t| t.chars().count() <= 150));
        let discord = render(WebhookFormat::Discord, &m);
        assert!(discord.body["embeds"][0]["title"]
            .as_str()
            .is_some_and(|t| t.chars().count() <= 256));
    }
}
