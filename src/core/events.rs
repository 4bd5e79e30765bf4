//! Action events for Amazon EventBridge, built from a run's report: starts and stops requested, reached and failed, and pre-stop warnings sent (docs/events.md).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::core::config::{Action, ResourceKind};
use crate::core::plan::{Report, ResourceRef};

/// The `Source` of every event offhours publishes.
pub const SOURCE: &str = "offhours";

/// What happened, as the event's `DetailType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailType {
    StartRequested,
    StopRequested,
    Started,
    Stopped,
    ActionFailed,
    StopWarningSent,
}

impl DetailType {
    /// Every detail-type, in the order docs/events.md lists them.
    pub const ALL: [DetailType; 6] = [
        Self::StartRequested,
        Self::StopRequested,
        Self::Started,
        Self::Stopped,
        Self::ActionFailed,
        Self::StopWarningSent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StartRequested => "Resource Start Requested",
            Self::StopRequested => "Resource Stop Requested",
            Self::Started => "Resource Started",
            Self::Stopped => "Resource Stopped",
            Self::ActionFailed => "Resource Action Failed",
            Self::StopWarningSent => "Stop Warning Sent",
        }
    }

    fn requested(action: Action) -> Self {
        match action {
            Action::Start => Self::StartRequested,
            Action::Stop => Self::StopRequested,
        }
    }

    fn reached(action: Action) -> Self {
        match action {
            Action::Start => Self::Started,
            Action::Stop => Self::Stopped,
        }
    }
}

/// Why a start or stop failed: the API operation, AWS's error code and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventError {
    pub operation: String,
    pub code: String,
    pub message: String,
}

/// The event's `Detail` (a JSON object; its schema is docs/events.schema.json).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    pub schedule: String,
    /// Group name; `""` for resources with no group tag.
    pub group: String,
    /// The resource id (`i-0a1`, a DB instance or cluster identifier).
    pub resource: String,
    pub kind: ResourceKind,
    /// The resource's AWS account: its own when offhours manages several, else the
    /// account the tick runs in, when it is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `start` or `stop` (a warning is about a stop).
    pub action: Action,
    /// The tick's instant (RFC 3339, UTC).
    pub time: String,
    /// Failures only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
    /// Warnings only: the stop instant, in the schedule's timezone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_at: Option<String>,
}

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionEvent {
    pub detail_type: DetailType,
    pub detail: Detail,
}

impl ActionEvent {
    /// The `Detail` as JSON text.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).unwrap_or_else(|_| "{}".into())
    }
}

/// Where the tick runs: its account (if known) and the region of resources that carry none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub account: Option<String>,
    pub region: Option<String>,
}

/// The events of a run's `report` at `now`, in order: per acted step and resource a
/// request (or a failure), then the resources that reached their target state, then one
/// event per resource of each pre-stop warning delivered this tick (`warned` lists the
/// schedules whose warning a webhook accepted now; a warning sent by an earlier tick is
/// not published again). Dry runs have none.
pub fn action_events(
    report: &Report,
    warned: &[String],
    origin: &Origin,
    now: DateTime<Utc>,
) -> Vec<ActionEvent> {
    if report.dry_run {
        return Vec::new();
    }
    let time = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let event = |detail_type, schedule: &str, group: &str, action, r: &ResourceRef| ActionEvent {
        detail_type,
        detail: Detail {
            schedule: schedule.to_string(),
            group: group.to_string(),
            resource: r.id.clone(),
            kind: r.kind,
            account: r.account.clone().or_else(|| origin.account.clone()),
            region: r.region.clone().or_else(|| origin.region.clone()),
            action,
            time: time.clone(),
            error: None,
            stop_at: None,
        },
    };
    let mut out = Vec::new();
    for step in report.steps.iter().filter(|s| s.acted()) {
        for r in &step.resources {
            let failure = step.failures.iter().find(|f| f.is_for(r));
            let kind = match failure {
                Some(_) => DetailType::ActionFailed,
                None => DetailType::requested(step.action),
            };
            let mut e = event(kind, &step.schedule, &step.group, step.action, r);
            e.detail.error = failure.map(|f| EventError {
                operation: f.operation.clone(),
                code: f.code.clone(),
                message: f.message.clone(),
            });
            out.push(e);
        }
    }
    for r in &report.reached {
        let kind = DetailType::reached(r.action);
        out.push(event(kind, &r.schedule, &r.group, r.action, &r.resource));
    }
    for notice in report
        .notices
        .iter()
        .filter(|n| warned.contains(&n.schedule))
    {
        for (i, r) in notice.resources.iter().enumerate() {
            let group = notice.groups.get(i).map_or("", String::as_str);
            let kind = DetailType::StopWarningSent;
            let mut e = event(kind, &notice.schedule, group, Action::Stop, r);
            e.detail.stop_at = Some(notice.stop_at.to_rfc3339_opts(SecondsFormat::Secs, true));
            out.push(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    /// A run's report at 09:01 UTC: DB started, API failed for one of two instances,
    /// WEB still blocked, one earlier start arrived, and dev's warning notice.
    fn report() -> Report {
        let r = |id: &str, kind: &str| json!({"id": id, "kind": kind});
        let mut report: Report = serde_json::from_value(json!({
            "at": "2026-11-23T09:01:00Z",
            "steps": [
                {"schedule": "dev", "group": "DB", "action": "start", "status": "done",
                 "waiting_on": [], "resources": [{"id": "dev-db", "kind": "rds", "region": "eu-west-1"}]},
                {"schedule": "dev", "group": "API", "action": "stop", "status": "failed",
                 "waiting_on": [], "resources": [r("i-1", "ec2"), r("i-2", "ec2")],
                 "failures": [{"id": "i-2", "message": "no", "operation": "StopInstances",
                               "code": "IncorrectInstanceState"}]},
                {"schedule": "dev", "group": "WEB", "action": "start", "status": "blocked",
                 "waiting_on": ["API"], "resources": [r("i-3", "ec2")]}
            ],
            "notices": [
                {"schedule": "dev", "kind": "pre_stop_warning", "stop_at": "2026-11-23T18:00:00+09:00",
                 "resources": [r("i-1", "ec2"), r("c-1", "aurora")], "timezone": "Asia/Seoul",
                 "minutes_left": 9, "event": {"at": "2026-11-23T09:00:00Z", "action": "stop"}}
            ],
            "errors": [],
            "reached": [
                {"schedule": "dev", "group": "DB", "action": "start", "resource": r("dev-db", "rds")},
                {"schedule": "qa", "group": "", "action": "stop", "resource": r("i-9", "ec2")}
            ],
            "dry_run": false
        }))
        .expect("report");
        report.notices[0].groups = vec!["API".into(), "".into()];
        report
    }

    /// (detail-type, resource, group, action, region, error code, stop_at)
    type Row = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    );

    fn rows(events: &[ActionEvent]) -> Vec<Row> {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        events
            .iter()
            .map(|e| {
                let d = &e.detail;
                (
                    e.detail_type.as_str(),
                    leak(d.resource.clone()),
                    leak(d.group.clone()),
                    d.action.as_str(),
                    leak(d.region.clone().unwrap_or_default()),
                    leak(d.error.as_ref().map(|e| e.code.clone()).unwrap_or_default()),
                    leak(d.stop_at.clone().unwrap_or_default()),
                )
            })
            .collect()
    }

    const ACTED: [Row; 5] = [
        (
            "Resource Start Requested",
            "dev-db",
            "DB",
            "start",
            "eu-west-1",
            "",
            "",
        ),
        (
            "Resource Stop Requested",
            "i-1",
            "API",
            "stop",
            "us-east-1",
            "",
            "",
        ),
        (
            "Resource Action Failed",
            "i-2",
            "API",
            "stop",
            "us-east-1",
            "IncorrectInstanceState",
            "",
        ),
        (
            "Resource Started",
            "dev-db",
            "DB",
            "start",
            "us-east-1",
            "",
            "",
        ),
        ("Resource Stopped", "i-9", "", "stop", "us-east-1", "", ""),
    ];

    const WARNED: [Row; 2] = [
        (
            "Stop Warning Sent",
            "i-1",
            "API",
            "stop",
            "us-east-1",
            "",
            "2026-11-23T18:00:00+09:00",
        ),
        (
            "Stop Warning Sent",
            "c-1",
            "",
            "stop",
            "us-east-1",
            "",
            "2026-11-23T18:00:00+09:00",
        ),
    ];

    #[test]
    fn reports_become_one_event_per_resource_and_happening() {
        let origin = Origin {
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
        };
        let now = at("2026-11-23T00:01:00Z");
        let warned_dev = vec!["dev".to_string()];
        let dry = Report {
            dry_run: true,
            ..report()
        };
        let cases: [(&str, Report, &[String], Vec<Row>); 4] = [
            ("warning not sent this tick", report(), &[], ACTED.to_vec()),
            (
                "warning sent",
                report(),
                &warned_dev,
                [ACTED.to_vec(), WARNED.to_vec()].concat(),
            ),
            (
                "another schedule's warning",
                report(),
                &["qa".to_string()],
                ACTED.to_vec(),
            ),
            ("dry run", dry, &warned_dev, Vec::new()),
        ];
        for (name, report, warned, want) in cases {
            let events = action_events(&report, warned, &origin, now);
            assert_eq!(rows(&events), want, "{name}");
            for e in &events {
                assert_eq!(e.detail.account.as_deref(), Some("123456789012"), "{name}");
                assert_eq!(e.detail.time, "2026-11-23T00:01:00Z", "{name}");
            }
        }
    }

    #[test]
    fn a_resource_of_a_member_account_is_published_with_its_account() {
        let mut r = report();
        r.steps[0].resources[0].account = Some("444455556666".into());
        let origin = Origin {
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
        };
        let events = action_events(&r, &[], &origin, at("2026-11-23T00:01:00Z"));
        assert_eq!(events[0].detail.resource, "dev-db");
        assert_eq!(events[0].detail.account.as_deref(), Some("444455556666"));
        assert!(events[1..]
            .iter()
            .all(|e| e.detail.account.as_deref() == Some("123456789012")));
    }

    #[test]
    fn detail_json_has_the_documented_fields_and_omits_the_unknown() {
        let events = action_events(
            &report(),
            &[],
            &Origin::default(),
            at("2026-11-23T00:01:00Z"),
        );
        let failed: serde_json::Value =
            serde_json::from_str(&events[2].detail_json()).expect("json");
        assert_eq!(
            failed,
            json!({"schedule": "dev", "group": "API", "resource": "i-2", "kind": "ec2",
                   "action": "stop", "time": "2026-11-23T00:01:00Z",
                   "error": {"operation": "StopInstances", "code": "IncorrectInstanceState",
                             "message": "no"}})
        );
        let started: serde_json::Value =
            serde_json::from_str(&events[0].detail_json()).expect("json");
        assert_eq!(started["region"], "eu-west-1");
        assert_eq!(started["kind"], "rds");
        assert!(started.get("account").is_none() && started.get("error").is_none());
        let names: Vec<&str> = DetailType::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(names.len(), 6);
        assert!(names
            .iter()
            .all(|n| n.starts_with("Resource ") || *n == "Stop Warning Sent"));
    }
}
