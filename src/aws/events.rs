//! Publishing a tick's action events to an Amazon EventBridge bus: batches of 10, failed entries sent once more, what still fails becomes a warning.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};

use crate::core::config::Problem;
use crate::core::events::{action_events, ActionEvent, Origin, SOURCE};
use crate::core::plan::Report;
use crate::error::{Error, Result};
use crate::ports::EventSink;

/// PutEvents takes at most this many entries per call.
pub const MAX_ENTRIES: usize = 10;

/// An EventBridge bus (`EVENT_BUS`: a name or an ARN) and the client that reaches it.
#[derive(Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBus {
    pub fn new(sdk: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus: bus.into(),
        }
    }
}

impl EventBus {
    /// The same bus, its API calls counted by `calls`.
    pub fn counting(mut self, calls: &crate::aws::calls::ApiCalls) -> Self {
        let config = self.client.config().to_builder().interceptor(calls.clone());
        self.client = aws_sdk_eventbridge::Client::from_conf(config.build());
        self
    }
}

impl EventSink for EventBus {
    async fn put(&self, events: &[ActionEvent]) -> Result<Vec<Option<String>>> {
        let entries = events
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(e.detail_type.as_str())
                    .detail(e.detail_json())
                    .build()
            })
            .collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| Error::aws("PutEvents", e))?;
        // One result per entry, in order; an entry with an error code was not accepted.
        let mut results: Vec<Option<String>> = out
            .entries()
            .iter()
            .map(|r| {
                r.error_code()
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .or_else(|| r.event_id().is_none().then(|| "NoEventId".to_string()))
            })
            .collect();
        results.resize(events.len(), Some("NoResult".into()));
        Ok(results)
    }
}

/// What a tick publishes to, and where it runs.
pub struct Events {
    pub bus: EventBus,
    pub origin: Origin,
}

impl Events {
    /// The bus `bus` with the account and region of `sdk`. The account comes from STS
    /// GetCallerIdentity, once (at cold start; it needs no permission); when that fails
    /// the events carry no `account` (EventBridge's own envelope still names it).
    pub async fn new(sdk: &aws_config::SdkConfig, bus: &str) -> Self {
        let sts = aws_sdk_sts::Client::new(sdk);
        let account = match sts.get_caller_identity().send().await {
            Ok(me) => me.account().map(String::from),
            Err(e) => {
                let e = Error::aws("GetCallerIdentity", e);
                tracing::warn!(error = %e, "cannot tell the account id; action events carry none");
                None
            }
        };
        Self {
            bus: EventBus::new(sdk, bus),
            origin: Origin {
                account,
                region: sdk.region().map(|r| r.to_string()),
            },
        }
    }

    /// Publishes the events of a run's `report` (see [`action_events`]); the problems are
    /// warnings for the report, never errors of the tick.
    pub async fn publish(
        &self,
        report: &Report,
        warned: &[String],
        now: DateTime<Utc>,
    ) -> Vec<Problem> {
        let events = action_events(report, warned, &self.origin, now);
        publish(&self.bus, &events).await
    }
}

/// Sends `events` in calls of at most [`MAX_ENTRIES`]; the entries that fail (one by one,
/// or with their whole call) are sent once more, and those that fail again become one
/// warning per schedule, naming how many were lost and their error codes. An outage of
/// EventBridge costs each batch its two calls (each bounded by the SDK's timeouts).
pub async fn publish(sink: &impl EventSink, events: &[ActionEvent]) -> Vec<Problem> {
    let failed = send(sink, events.iter().collect()).await;
    if failed.is_empty() {
        tracing::info!(events = events.len(), "action events published");
        return Vec::new();
    }
    let retry: Vec<&ActionEvent> = failed.iter().map(|(e, _)| *e).collect();
    let lost = send(sink, retry).await;
    tracing::info!(
        events = events.len(),
        lost = lost.len(),
        "action events published"
    );
    lost_warnings(&lost)
}

/// Sends `events` in batches; the events not accepted, each with its error code.
async fn send<'e>(
    sink: &impl EventSink,
    events: Vec<&'e ActionEvent>,
) -> Vec<(&'e ActionEvent, String)> {
    let mut failed = Vec::new();
    for batch in events.chunks(MAX_ENTRIES) {
        let owned: Vec<ActionEvent> = batch.iter().map(|e| (*e).clone()).collect();
        match sink.put(&owned).await {
            Ok(results) => {
                for (e, r) in batch.iter().zip(results) {
                    if let Some(code) = r {
                        failed.push((*e, code));
                    }
                }
            }
            Err(e) => {
                let code = match &e {
                    Error::Aws { code, .. } => code.clone(),
                    other => other.to_string(),
                };
                tracing::warn!(error = %e, events = batch.len(), "PutEvents failed");
                failed.extend(batch.iter().map(|ev| (*ev, code.clone())));
            }
        }
    }
    failed
}

/// One warning per schedule for the events that could not be published.
fn lost_warnings(lost: &[(&ActionEvent, String)]) -> Vec<Problem> {
    let mut per_schedule: BTreeMap<&str, (usize, Vec<&str>)> = BTreeMap::new();
    for (e, code) in lost {
        let entry = per_schedule.entry(&e.detail.schedule).or_default();
        entry.0 += 1;
        if !entry.1.contains(&code.as_str()) {
            entry.1.push(code);
        }
    }
    per_schedule
        .into_iter()
        .map(|(schedule, (count, codes))| {
            Problem::new(
                schedule,
                format!(
                    "{count} action event(s) could not be published to EventBridge ({}), even when sent again; they are lost, the actions themselves are not affected",
                    codes.join(", ")
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{Action, ResourceKind};
    use crate::core::events::{Detail, DetailType};
    use std::sync::Mutex;

    /// A sink that answers from a script: per call, `Err` code or per-entry failures.
    struct FakeSink {
        /// Resource ids refused once each (the first time they are sent).
        refuse_once: Mutex<Vec<String>>,
        /// Resource ids refused every time.
        refuse: Vec<String>,
        /// Calls that fail as a whole (by call number, from 0).
        outage: Vec<usize>,
        calls: Mutex<Vec<Vec<String>>>,
    }

    impl FakeSink {
        fn new(refuse_once: &[&str], refuse: &[&str], outage: &[usize]) -> Self {
            Self {
                refuse_once: Mutex::new(refuse_once.iter().map(|s| s.to_string()).collect()),
                refuse: refuse.iter().map(|s| s.to_string()).collect(),
                outage: outage.to_vec(),
                calls: Mutex::new(Vec::new()),
            }
        }
    }

    impl EventSink for FakeSink {
        async fn put(&self, events: &[ActionEvent]) -> Result<Vec<Option<String>>> {
            let ids: Vec<String> = events.iter().map(|e| e.detail.resource.clone()).collect();
            let n = {
                let mut calls = self.calls.lock().expect("lock");
                calls.push(ids.clone());
                calls.len() - 1
            };
            if self.outage.contains(&n) {
                return Err(Error::Aws {
                    operation: "PutEvents",
                    code: "ServiceUnavailable".into(),
                    message: "down".into(),
                    source: None,
                });
            }
            let mut once = self.refuse_once.lock().expect("lock");
            Ok(ids
                .iter()
                .map(|id| {
                    if self.refuse.contains(id) {
                        return Some("InternalFailure".to_string());
                    }
                    let i = once.iter().position(|x| x == id)?;
                    once.remove(i);
                    Some("ThrottlingException".to_string())
                })
                .collect())
        }
    }

    fn events(n: usize, schedule: &str) -> Vec<ActionEvent> {
        (0..n)
            .map(|i| ActionEvent {
                detail_type: DetailType::StartRequested,
                detail: Detail {
                    schedule: schedule.into(),
                    group: String::new(),
                    resource: format!("{schedule}-{i}"),
                    kind: ResourceKind::Ec2,
                    account: None,
                    region: None,
                    action: Action::Start,
                    time: "2026-11-23T00:00:00Z".into(),
                    error: None,
                    stop_at: None,
                },
            })
            .collect()
    }

    #[tokio::test]
    async fn batches_retry_once_and_report_what_is_lost() {
        let mut all = events(23, "dev");
        all.extend(events(2, "qa"));
        // (case, sink, call sizes, warnings as "schedule: count (codes)")
        let cases: [(&str, FakeSink, Vec<usize>, Vec<&str>); 5] = [
            (
                "all accepted",
                FakeSink::new(&[], &[], &[]),
                vec![10, 10, 5],
                vec![],
            ),
            (
                "refused once, accepted when sent again",
                FakeSink::new(&["dev-3", "dev-17", "qa-1"], &[], &[]),
                vec![10, 10, 5, 3],
                vec![],
            ),
            (
                "refused twice",
                FakeSink::new(&[], &["dev-4", "qa-0"], &[]),
                vec![10, 10, 5, 2],
                vec!["dev: 1 (InternalFailure)", "qa: 1 (InternalFailure)"],
            ),
            (
                "one whole call down once",
                FakeSink::new(&[], &[], &[1]),
                vec![10, 10, 5, 10],
                vec![],
            ),
            (
                "outage",
                FakeSink::new(&[], &[], &[0, 1, 2, 3, 4, 5]),
                vec![10, 10, 5, 10, 10, 5],
                vec!["dev: 23 (ServiceUnavailable)", "qa: 2 (ServiceUnavailable)"],
            ),
        ];
        for (name, sink, sizes, want) in cases {
            let warnings = publish(&sink, &all).await;
            let calls = sink.calls.lock().expect("lock").clone();
            let got: Vec<usize> = calls.iter().map(Vec::len).collect();
            assert_eq!(got, sizes, "{name}");
            assert!(calls.iter().all(|c| c.len() <= MAX_ENTRIES), "{name}");
            let got: Vec<String> = warnings
                .iter()
                .map(|w| {
                    let count = w.message.split(' ').next().unwrap_or_default();
                    let codes = w.message.split("EventBridge (").nth(1).unwrap_or_default();
                    let codes = codes.split(')').next().unwrap_or_default();
                    format!("{}: {count} ({codes})", w.schedule)
                })
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }
}
