//! Slack's `response_url` follow-up: where a reply that takes longer than Slack's 3 seconds is posted, and which URLs are accepted.

use std::time::Duration;

use url::Url;

use super::ChatResponse;
use crate::error::{Error, Result};

/// How long a Slack command may run before the answer becomes "working on it…" and the
/// reply follows through `response_url` (Slack shows a timeout after 3 seconds).
pub const REPLY_BUDGET: Duration = Duration::from_millis(2500);

/// Limit of one follow-up POST, connection included.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// Posts late replies to Slack's `response_url`. Only `https://hooks.slack.com/...` is
/// accepted (anything else is refused unposted: the URL comes from a verified body, but
/// a secret-holder could still point it anywhere), and redirects are never followed.
#[derive(Debug, Clone)]
pub struct FollowUp {
    client: reqwest::Client,
    /// How long a command runs before the answer is "working on it…".
    pub budget: Duration,
    loopback: bool,
}

impl FollowUp {
    /// The production follow-up: [`REPLY_BUDGET`], hooks.slack.com over HTTPS only.
    pub fn slack() -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(POST_TIMEOUT)
            .connect_timeout(POST_TIMEOUT)
            .build()
            .map_err(|e| Error::Webhook(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client,
            budget: REPLY_BUDGET,
            loopback: false,
        })
    }

    /// Test-only setting: also accept `http://127.0.0.1:PORT/...` (a listener the test
    /// owns), and run commands for `budget` before answering "working on it…". Never set
    /// from the environment; production code never calls it.
    pub fn for_tests_on_loopback(mut self, budget: Duration) -> Self {
        self.loopback = true;
        self.budget = budget;
        self
    }

    /// The URL if a follow-up may go there: `https://hooks.slack.com/...` on the default
    /// port, with no user info (or, with the test-only setting, an `http` loopback address).
    pub fn accepts(&self, url: &str) -> Option<Url> {
        let parsed = Url::parse(url).ok()?;
        let clean = parsed.username().is_empty() && parsed.password().is_none();
        let slack = parsed.scheme() == "https"
            && parsed.host_str() == Some("hooks.slack.com")
            && parsed.port().is_none();
        let loopback = self.loopback
            && parsed.scheme() == "http"
            && matches!(parsed.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback());
        (clean && (slack || loopback)).then_some(parsed)
    }

    /// Posts a rendered Slack reply (`{"response_type", "text"}`) to `url`. Failures are
    /// logged without the URL (it is a bearer credential for the channel).
    pub async fn post(&self, url: &Url, reply: &ChatResponse) {
        let sent = self
            .client
            .post(url.clone())
            .header("Content-Type", "application/json")
            .body(reply.body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => tracing::info!("chat follow-up delivered"),
            Ok(r) => tracing::warn!(status = r.status().as_u16(), "chat follow-up refused"),
            Err(e) => tracing::warn!(
                error = %e.without_url(),
                "chat follow-up could not be delivered"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slack_https_urls_are_followed_up() {
        let prod = FollowUp::slack().expect("client");
        let test = prod.clone().for_tests_on_loopback(Duration::from_millis(1));
        let cases = [
            ("https://hooks.slack.com/commands/T1/397/96rGlf", true, true),
            (
                "http://hooks.slack.com/commands/T1/397/96rGlf",
                false,
                false,
            ),
            ("https://hooks.slack.com:8443/commands/T1", false, false),
            (
                "https://hooks.slack.com.evil.example/commands",
                false,
                false,
            ),
            (
                "https://evil.example/hooks.slack.com/commands",
                false,
                false,
            ),
            ("https://user:pw@hooks.slack.com/commands/T1", false, false),
            ("https://slack.com/api/chat.postMessage", false, false),
            ("http://127.0.0.1:8080/reply", false, true),
            ("https://127.0.0.1:8080/reply", false, false),
            ("http://10.0.0.1/reply", false, false),
            ("http://localhost:8080/reply", false, false),
            ("not a url", false, false),
        ];
        for (url, in_prod, in_test) in cases {
            assert_eq!(prod.accepts(url).is_some(), in_prod, "production: {url}");
            assert_eq!(test.accepts(url).is_some(), in_test, "test setting: {url}");
        }
    }
}
