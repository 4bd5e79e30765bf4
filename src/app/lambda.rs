//! The AWS Lambda entry: EventBridge schedule events run a tick; Function URL requests are chat commands.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;

use crate::app::serve::handle_function_url;
use crate::app::settings::Environment;
use crate::app::tick::Tick;
use crate::aws::calls::ApiCalls;
use crate::aws::cloud::AwsCloud;
use crate::aws::events::Events;
use crate::aws::executor::Options;
use crate::aws::store::{AwsCommandStore, Store};
use crate::chat::{ChatSecrets, FollowUp};
use crate::core::metrics::{emf_lines, TickFacts};
use crate::error::{Error, Result};
use crate::notify::{Notifier, NotifySettings};
use crate::ports::Settings;

/// What an invocation payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// An EventBridge scheduled event; `at` is its `time` (compared with the clock, never
    /// used as the tick's instant).
    Scheduled { at: DateTime<Utc> },
    /// A Lambda Function URL request (chat commands).
    FunctionUrl,
    /// Anything else.
    Unknown,
}

/// Recognises the payload: EventBridge (`detail-type` + `time`) or Function URL (`requestContext.http`).
pub fn classify(event: &Value) -> Invocation {
    if event.pointer("/requestContext/http").is_some() {
        return Invocation::FunctionUrl;
    }
    if event.get("detail-type").is_some() {
        if let Some(at) = event
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        {
            return Invocation::Scheduled {
                at: at.with_timezone(&Utc),
            };
        }
    }
    Invocation::Unknown
}

/// Where a tick's CloudWatch EMF lines go: the function's stdout (its log group), or a
/// buffer a test reads.
#[derive(Clone, Default)]
pub enum MetricsOut {
    #[default]
    Stdout,
    Buffer(Arc<std::sync::Mutex<Vec<String>>>),
}

impl MetricsOut {
    fn write(&self, lines: Vec<String>) {
        match self {
            MetricsOut::Stdout => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                for line in lines {
                    // A log line that cannot be written loses one data point, never the tick.
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
            }
            MetricsOut::Buffer(buffer) => match buffer.lock() {
                Ok(mut b) => b.extend(lines),
                Err(poisoned) => poisoned.into_inner().extend(lines),
            },
        }
    }
}

/// Everything built once per cold start.
pub struct Handler {
    store: Store,
    cloud: AwsCloud,
    notifier: Notifier,
    secrets: ChatSecrets,
    follow: FollowUp,
    settings: Settings,
    options: Options,
    events: Option<Events>,
    metrics: MetricsOut,
    /// Every AWS request the store, cloud and bus send (the per-tick `ApiCalls` metric).
    calls: ApiCalls,
}

impl Handler {
    /// Builds the clients once (at cold start) from an SDK config and the chat settings.
    pub fn new(
        sdk: &aws_config::SdkConfig,
        settings: Settings,
        notify: NotifySettings,
        secrets: ChatSecrets,
    ) -> Result<Self> {
        let options = Options {
            max_wait: std::time::Duration::from_secs(settings.max_wait_seconds),
            ..Options::default()
        };
        let calls = ApiCalls::default();
        Ok(Self {
            store: Store::new(sdk, &settings).counting(&calls),
            cloud: AwsCloud::new(sdk, &settings).counting(&calls),
            notifier: Notifier::new(notify)?,
            secrets,
            follow: FollowUp::slack()?,
            settings,
            options,
            events: None,
            metrics: MetricsOut::Stdout,
            calls,
        })
    }

    /// Writes each tick's EMF metric lines to `out` instead of stdout.
    pub fn with_metrics(mut self, out: MetricsOut) -> Self {
        self.metrics = out;
        self
    }

    /// Publishes action events to `bus` (env `EVENT_BUS`; `None`: no events). Looks up
    /// the account once, here at cold start.
    pub async fn with_events(mut self, sdk: &aws_config::SdkConfig, bus: Option<String>) -> Self {
        self.events = match bus {
            Some(bus) => {
                let mut events = Events::new(sdk, &bus).await;
                events.bus = events.bus.counting(&self.calls);
                Some(events)
            }
            None => None,
        };
        self
    }

    /// Handles one invocation with no deadline of its own (tests, local runs).
    pub async fn handle(&self, event: Value) -> Result<Value> {
        self.handle_until(event, None).await
    }

    /// One tick for an EventBridge event dated `at`; writes its EMF metric lines.
    async fn scheduled(&self, at: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> Result<Value> {
        let now = Utc::now();
        check_event_time(at, now);
        let options = Options {
            max_wait: wait_budget(self.options.max_wait, now, deadline),
            deadline: deadline.map(|d| finish_by(now, d)),
            ..self.options.clone()
        };
        let tick = Tick {
            store: &self.store,
            cloud: &self.cloud,
            notifier: &self.notifier,
            settings: &self.settings,
            options: &options,
            events: self.events.as_ref(),
        };
        let started = std::time::Instant::now();
        // One invocation at a time per Lambda environment: the difference is this tick's.
        let calls_before = self.calls.count();
        let ticked = tick.run(now).await;
        match ticked {
            Ok(report) => {
                let facts = TickFacts {
                    timestamp_ms: now.timestamp_millis(),
                    duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    api_calls: self.calls.count().saturating_sub(calls_before),
                };
                self.metrics.write(emf_lines(&report, facts));
                let value = serde_json::to_value(&report)?;
                tracing::info!(report = %value, "tick done");
                Ok(value)
            }
            Err(Error::LeaseHeld { until }) => {
                tracing::info!(%until, "another tick holds the lease; skipped");
                Ok(json!({"skipped": format!("another invocation holds the lease until {until}")}))
            }
            Err(e) => {
                tracing::error!(error = %e, "tick failed");
                Err(e)
            }
        }
    }

    /// Handles one invocation that must end by `deadline` (the Lambda's): a tick's wait
    /// budget ends early enough to report, notify and save state before it.
    pub async fn handle_until(
        &self,
        event: Value,
        deadline: Option<DateTime<Utc>>,
    ) -> Result<Value> {
        match classify(&event) {
            Invocation::Scheduled { at } => self.scheduled(at, deadline).await,
            Invocation::FunctionUrl => {
                let request: LambdaFunctionUrlRequest = match serde_json::from_value(event) {
                    Ok(request) => request,
                    Err(e) => {
                        tracing::warn!(error = %e, "malformed Function URL event");
                        return Ok(json!({
                            "statusCode": 400,
                            "headers": {"content-type": "text/plain; charset=utf-8"},
                            "body": "malformed request",
                        }));
                    }
                };
                let commands = AwsCommandStore {
                    store: self.store.clone(),
                    cloud: self.cloud.clone(),
                };
                let response = handle_function_url(
                    &request,
                    &commands,
                    &self.settings,
                    &self.secrets,
                    &self.follow,
                )
                .await;
                Ok(serde_json::to_value(response)?)
            }
            Invocation::Unknown => Err(Error::invalid(
                "invocation",
                "payload",
                "neither an EventBridge scheduled event nor a Function URL request",
            )),
        }
    }
}

/// Seconds of the Lambda's remaining time kept back from the wait budget, for the final
/// observation, chat delivery (bounded itself) and the state writes.
const RESERVE_SECONDS: i64 = 45;

/// The wait budget of a tick: `MAX_WAIT_SECONDS`, but never past the Lambda's deadline
/// minus [`RESERVE_SECONDS`] (zero: one acting pass, the rest at the next tick).
pub fn wait_budget(
    max_wait: std::time::Duration,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> std::time::Duration {
    let Some(deadline) = deadline else {
        return max_wait;
    };
    let left = (deadline - now).num_seconds() - RESERVE_SECONDS;
    max_wait.min(std::time::Duration::from_secs(
        u64::try_from(left).unwrap_or(0),
    ))
}

/// Seconds kept free before the Lambda's deadline: the report is logged and returned.
const FINISH_MARGIN_SECONDS: i64 = 3;

/// The instant the tick's last step must end by, on tokio's clock.
fn finish_by(now: DateTime<Utc>, deadline: DateTime<Utc>) -> tokio::time::Instant {
    let left = (deadline - now).num_milliseconds() - FINISH_MARGIN_SECONDS * 1000;
    tokio::time::Instant::now() + std::time::Duration::from_millis(u64::try_from(left).unwrap_or(0))
}

/// How far an event's `time` may be from the clock before the log says so.
const EVENT_SKEW_MINUTES: i64 = 15;

/// The tick runs at the wall clock. An event dated far from it (a hand-made test event,
/// an async retry delivered late) only gets a warning naming both instants; it returns
/// whether the two were within [`EVENT_SKEW_MINUTES`].
pub fn check_event_time(event: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let skew = (event - now).num_minutes().abs();
    if skew > EVENT_SKEW_MINUTES {
        tracing::warn!(
            event_time = %event.to_rfc3339(),
            now = %now.to_rfc3339(),
            minutes_apart = skew,
            "the event's time is more than {EVENT_SKEW_MINUTES} minutes from the clock; the tick runs at the clock's time"
        );
        return false;
    }
    true
}

impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        let error_type = match &e {
            Error::Invalid { .. } => "InvalidInput",
            Error::Aws { .. } => "AwsError",
            Error::LeaseHeld { .. } => "LeaseHeld",
            _ => "OffhoursError",
        };
        Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (filter, note) = crate::app::settings::log_filter("info");
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .finish()
        .with(filter)
        .init();
    if let Some(note) = note {
        tracing::warn!("{note}");
    }
}

/// Once per cold start: a tick interval longer than the default warning lead can miss
/// warnings (per-schedule WarnMinutes are checked with the config, in every report).
fn warn_about_tick_interval(settings: &Settings) {
    let d = &settings.defaults;
    if let Some(tick) = d.tick_minutes {
        if d.warn_minutes > 0 && d.warn_minutes < tick {
            tracing::warn!(
                tick_minutes = tick,
                warn_minutes = d.warn_minutes,
                "WARN_MINUTES is shorter than the scheduler's interval (TICK_MINUTES): a tick may not fall inside a warning window, and warnings can be missed"
            );
        }
    }
}

/// Runs the Lambda runtime loop until the process ends.
pub async fn serve(settings: Settings) -> std::result::Result<(), lambda_runtime::Error> {
    let sdk = crate::app::settings::aws_sdk_loader(&settings).load().await;
    warn_about_tick_interval(&settings);
    // Secrets given as SSM parameter names are read here, once per cold start.
    let env = Environment::load(&sdk).await;
    env.check_webhook()?;
    let bus = crate::app::settings::event_bus(|name| env.get(name));
    let handler = Handler::new(
        &sdk,
        settings,
        NotifySettings::from_lookup(|name| env.get(name))?,
        ChatSecrets::from_lookup(|name| env.get(name)),
    )?;
    let handler = Arc::new(handler.with_events(&sdk, bus).await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        // The Runtime API gives the invocation's deadline in epoch milliseconds.
        let deadline = i64::try_from(event.context.deadline)
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis);
        async move { handler.handle_until(event.payload, deadline).await }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_recognised() {
        let scheduled = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2026-11-23T00:05:00Z", "region": "ap-northeast-2", "resources": [], "detail": {}
        });
        assert_eq!(
            classify(&scheduled),
            Invocation::Scheduled {
                at: "2026-11-23T00:05:00Z".parse().expect("instant")
            }
        );
        let url = json!({"rawPath": "/", "requestContext": {"http": {"method": "POST"}}});
        assert_eq!(classify(&url), Invocation::FunctionUrl);
        assert_eq!(classify(&json!({"hello": 1})), Invocation::Unknown);
    }

    #[test]
    fn wait_budget_ends_before_the_lambda_does() {
        let now: DateTime<Utc> = "2026-11-23T00:05:00Z".parse().expect("instant");
        let max = std::time::Duration::from_secs(120);
        let secs = |s: i64| Some(now + chrono::TimeDelta::seconds(s));
        let cases = [
            (None, 120),
            (secs(180), 120),
            (secs(120), 75),
            (secs(45), 0),
            (secs(10), 0),
            (secs(-5), 0),
        ];
        for (deadline, want) in cases {
            assert_eq!(
                wait_budget(max, now, deadline).as_secs(),
                want,
                "{deadline:?}"
            );
        }
    }

    #[test]
    fn event_time_is_only_compared_with_the_clock() {
        let now: DateTime<Utc> = "2026-11-23T00:05:00Z".parse().expect("instant");
        let cases = [
            ("2026-11-23T00:05:00Z", true),
            ("2026-11-23T00:19:59Z", true),
            ("2026-11-22T23:51:00Z", true),
            ("2026-11-23T00:21:00Z", false),
            ("2026-11-22T23:49:00Z", false),
            ("2027-11-23T00:05:00Z", false),
        ];
        for (event, close) in cases {
            let event: DateTime<Utc> = event.parse().expect("instant");
            assert_eq!(check_event_time(event, now), close, "{event}");
        }
    }
}
