//! The AWS Lambda entry: EventBridge schedule events run a tick; Function URL requests get HTTP answers.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

use crate::cloud::AwsCloud;
use crate::error::{Error, Result};
use crate::executor::Options;
use crate::run::tick;
use crate::settings::Settings;
use crate::store::Store;

/// What an invocation payload is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// An EventBridge scheduled event; `at` is its `time`.
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

/// The Function URL answer for paths nobody serves yet.
fn not_found() -> Value {
    json!({
        "statusCode": 404,
        "headers": {"content-type": "application/json"},
        "body": json!({"error": "not found"}).to_string(),
    })
}

/// Everything built once per cold start.
pub struct Handler {
    store: Store,
    cloud: AwsCloud,
    settings: Settings,
    options: Options,
}

impl Handler {
    /// Builds the clients once (at cold start) from an SDK config.
    pub fn new(sdk: &aws_config::SdkConfig, settings: Settings) -> Self {
        let options = Options {
            max_wait: std::time::Duration::from_secs(settings.max_wait_seconds),
            ..Options::default()
        };
        Self {
            store: Store::new(sdk, &settings),
            cloud: AwsCloud::new(sdk, &settings),
            settings,
            options,
        }
    }

    /// Handles one invocation.
    pub async fn handle(&self, event: Value) -> Result<Value> {
        match classify(&event) {
            Invocation::Scheduled { at } => {
                match tick(&self.store, &self.cloud, &self.settings, at, &self.options).await {
                    Ok(report) => {
                        let value = serde_json::to_value(&report)?;
                        tracing::info!(report = %value, "tick done");
                        Ok(value)
                    }
                    Err(Error::LeaseHeld { until }) => {
                        tracing::info!(%until, "another tick holds the lease; skipped");
                        Ok(
                            json!({"skipped": format!("another invocation holds the lease until {until}")}),
                        )
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "tick failed");
                        Err(e)
                    }
                }
            }
            Invocation::FunctionUrl => Ok(not_found()),
            Invocation::Unknown => Err(Error::invalid(
                "invocation",
                "payload",
                "neither an EventBridge scheduled event nor a Function URL request",
            )),
        }
    }
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
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .init();
}

/// Runs the Lambda runtime loop until the process ends.
pub async fn serve(settings: Settings) -> std::result::Result<(), lambda_runtime::Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let handler = Arc::new(Handler::new(&sdk, settings));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle(event.payload).await }
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
        assert_eq!(not_found()["statusCode"], 404);
    }
}
