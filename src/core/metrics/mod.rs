//! CloudWatch Embedded Metric Format (EMF) lines for one tick: per schedule the resources managed, running and stopped, actions and failures; per tick its duration, AWS API calls, actions, failures and errors.
//!
//! Written to the scheduler's log, each line becomes metrics in namespace `offhours`
//! without a PutMetricData call (CloudWatch extracts them from the log group), so
//! dashboards and alarms cost no extra API calls.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::core::plan::Report;
use crate::core::planner::Condition;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "offhours";

/// How a schedule's resources stood at the end of the tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Resources of the schedule (in its groups or ungrouped), gone ones left out.
    pub managed: usize,
    pub running: usize,
    pub stopped: usize,
}

impl Tally {
    pub fn of(conditions: impl Iterator<Item = Condition>) -> Tally {
        let mut t = Tally::default();
        for c in conditions {
            t.managed += 1;
            match c {
                Condition::Up => t.running += 1,
                Condition::Down => t.stopped += 1,
                _ => {}
            }
        }
        t
    }
}

/// What the tick itself measured.
#[derive(Debug, Clone, Copy)]
pub struct TickFacts {
    /// Milliseconds since the Unix epoch when the tick started.
    pub timestamp_ms: i64,
    pub duration_ms: u64,
    /// HTTP requests sent to AWS during the tick (retries included).
    pub api_calls: u64,
}

fn directive(dimensions: &[&str], metrics: &[(&str, &str)]) -> Value {
    json!({
        "Namespace": NAMESPACE,
        "Dimensions": [dimensions],
        "Metrics": metrics.iter().map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
    })
}

fn line(timestamp_ms: i64, directive: Value, fields: Map<String, Value>) -> String {
    let mut root = fields;
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}),
    );
    Value::Object(root).to_string()
}

/// One EMF line per schedule (dimension `Schedule`) and one for the tick (no dimension).
pub fn emf_lines(report: &Report, facts: TickFacts) -> Vec<String> {
    const PER_SCHEDULE: &[(&str, &str)] = &[
        ("ResourcesManaged", "Count"),
        ("ResourcesRunning", "Count"),
        ("ResourcesStopped", "Count"),
        ("Actions", "Count"),
        ("Failures", "Count"),
    ];
    let mut lines = Vec::new();
    let (mut actions_total, mut failures_total) = (0usize, 0usize);
    for d in &report.schedules {
        let steps = report.steps.iter().filter(|s| s.schedule == d.schedule);
        let (mut actions, mut failures) = (0, 0);
        for s in steps {
            failures += s.failures.len();
            if s.acted() {
                actions += s.resources.len();
            }
        }
        actions_total += actions;
        failures_total += failures;
        let mut fields = Map::new();
        fields.insert("Schedule".into(), d.schedule.clone().into());
        fields.insert("ResourcesManaged".into(), d.tally.managed.into());
        fields.insert("ResourcesRunning".into(), d.tally.running.into());
        fields.insert("ResourcesStopped".into(), d.tally.stopped.into());
        fields.insert("Actions".into(), actions.into());
        fields.insert("Failures".into(), failures.into());
        lines.push(line(
            facts.timestamp_ms,
            directive(&["Schedule"], PER_SCHEDULE),
            fields,
        ));
    }
    let mut fields = Map::new();
    fields.insert("TickDuration".into(), facts.duration_ms.into());
    fields.insert("Actions".into(), actions_total.into());
    fields.insert("Failures".into(), failures_total.into());
    fields.insert("Errors".into(), report.errors.len().into());
    fields.insert("DryRun".into(), report.dry_run.into());
    fields.insert("ApiCalls".into(), facts.api_calls.into());
    let tick = directive(
        &[],
        &[
            ("TickDuration", "Milliseconds"),
            ("ApiCalls", "Count"),
            ("Actions", "Count"),
            ("Failures", "Count"),
            ("Errors", "Count"),
        ],
    );
    lines.push(line(facts.timestamp_ms, tick, fields));
    lines
}

#[cfg(test)]
mod tests;
