//! Every line is a valid EMF document (checked against the format's rules) and carries the counts of the plan it came from.

use super::*;
use crate::core::config::{validate, Defaults, RawConfig};
use crate::core::inventory::parse_inventory;
use crate::core::planner::{plan, Inputs, TagKeys};

/// The rules of the EMF specification a line must follow to become metrics.
fn check_emf(line: &str) -> Value {
    const UNITS: &[&str] = &["Count", "Milliseconds", "Seconds", "Percent", "None"];
    let v: Value = serde_json::from_str(line).expect("a JSON object per line");
    let aws = &v["_aws"];
    assert!(
        aws["Timestamp"].is_i64(),
        "Timestamp is an integer of ms: {line}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics array");
    assert!(!directives.is_empty());
    for d in directives {
        let ns = d["Namespace"].as_str().expect("Namespace");
        assert!(!ns.is_empty() && ns.len() <= 1024);
        for set in d["Dimensions"].as_array().expect("Dimensions array") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(set.len() <= 30);
            for key in set {
                let key = key.as_str().expect("dimension names are strings");
                assert!(
                    v[key].is_string(),
                    "dimension {key} has a string value: {line}"
                );
            }
        }
        let metrics = d["Metrics"].as_array().expect("Metrics array");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().expect("metric Name");
            assert!(v[name].is_number(), "metric {name} has a number: {line}");
            let unit = m["Unit"].as_str().expect("Unit");
            assert!(UNITS.contains(&unit), "{unit}");
        }
    }
    v
}

#[test]
fn a_planned_tick_gives_one_valid_emf_line_per_schedule_and_one_for_the_tick() {
    let raw = RawConfig::parse(include_str!("../../../examples/offhours.yaml"), "example")
        .expect("config");
    let config = validate(&raw, &Defaults::default());
    let resources = parse_inventory(
        include_str!("../../../examples/inventory.yaml"),
        "inventory",
    )
    .expect("inventory");
    let report = plan(&Inputs {
        now: "2026-11-23T00:05:00Z".parse().expect("instant"),
        config: &config,
        resources: &resources,
        gaps: &[],
        states: &Default::default(),
        tags: &TagKeys::default(),
        report_timezone: chrono_tz::Asia::Seoul,
    });
    let lines = emf_lines(
        &report,
        TickFacts {
            timestamp_ms: 1_795_000_000_000,
            duration_ms: 1234,
            api_calls: 10,
        },
    );
    assert_eq!(lines.len(), 3);
    let dev = check_emf(&lines[0]);
    assert_eq!(dev["Schedule"], "dev");
    // dev's six resources are all stopped in the example inventory.
    assert_eq!(
        (
            dev["ResourcesManaged"].as_u64(),
            dev["ResourcesRunning"].as_u64(),
            dev["ResourcesStopped"].as_u64()
        ),
        (Some(6), Some(0), Some(6))
    );
    assert_eq!(
        (dev["Actions"].as_u64(), dev["Failures"].as_u64()),
        (Some(0), Some(0)),
        "a plan acts on nothing"
    );
    assert_eq!(check_emf(&lines[1])["Schedule"], "staging-us");
    let tick = check_emf(&lines[2]);
    assert_eq!(tick["TickDuration"], 1234);
    assert_eq!(tick["ApiCalls"], 10);
    assert_eq!(
        tick["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([[]])
    );
}

#[test]
fn done_and_failed_steps_count_as_actions_and_their_failures_as_failures() {
    let mut report: Report = serde_json::from_value(json!({
        "at": "2026-11-23T09:05:00+09:00",
        "steps": [
            {"schedule": "dev", "group": "DB", "action": "start", "status": "done", "waiting_on": [], "resources": [{"id": "db", "kind": "rds"}]},
            {"schedule": "dev", "group": "API", "action": "start", "status": "failed", "waiting_on": [], "resources": [{"id": "i-1", "kind": "ec2"}, {"id": "i-2", "kind": "ec2"}], "failures": [{"id": "i-2", "operation": "StartInstances", "message": "InsufficientInstanceCapacity"}]},
            {"schedule": "dev", "group": "BATCH", "action": "start", "status": "blocked", "waiting_on": ["API"], "resources": [{"id": "i-3", "kind": "ec2"}]}
        ],
        "notices": [], "errors": [], "schedules": [{"schedule": "dev", "event": null, "desired": "start", "transition": "start", "reason": "boundary", "complete": false}]
    }))
    .expect("report");
    report.schedules[0].tally = Tally {
        managed: 4,
        running: 2,
        stopped: 2,
    };
    let lines = emf_lines(
        &report,
        TickFacts {
            timestamp_ms: 0,
            duration_ms: 5,
            api_calls: 0,
        },
    );
    let dev = check_emf(&lines[0]);
    assert_eq!(
        (
            dev["Actions"].as_u64(),
            dev["Failures"].as_u64(),
            dev["ResourcesRunning"].as_u64()
        ),
        (Some(3), Some(1), Some(2))
    );
    let tick = check_emf(&lines[1]);
    assert_eq!(
        (tick["Actions"].as_u64(), tick["Failures"].as_u64()),
        (Some(3), Some(1))
    );
}
