//! Planner tests: decisions, ordering and warnings (failure bookkeeping in failures.rs).

use super::*;
use crate::core::config::{validate, Defaults, RawConfig};

const CHAIN: &str = "schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: CACHE, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: BATCH, InstanceType: EC2, Dependency: [API, CACHE]}
";

pub(super) fn config(yaml: &str) -> Config {
    let c = validate(
        &RawConfig::parse(yaml, "test").expect("yaml"),
        &Defaults::default(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    c
}

/// `res("db", Rds, "stopped", "dev", Some("DB"))`
pub(super) fn res(
    id: &str,
    kind: ResourceKind,
    state: &str,
    schedule: &str,
    group: Option<&str>,
) -> Resource {
    let mut tags = BTreeMap::from([("ScheduleName".to_string(), schedule.to_string())]);
    if let Some(g) = group {
        tags.insert("ScheduleGroupName".into(), g.into());
    }
    Resource {
        id: id.into(),
        kind,
        state: state.into(),
        tags: tags.into_iter().collect(),
        account: None,
        region: None,
        engine: None,
        reason: None,
        cluster: None,
        hibernation: false,
        instance_type: None,
        desired: None,
        running: None,
        min: None,
        max: None,
        instances: None,
    }
}

/// The example fleet of CHAIN with every resource in `ec2`/`rds` state.
fn fleet(rds: &str, api: &str, cache: &str, batch: &str) -> Vec<Resource> {
    vec![
        res("db", ResourceKind::Rds, rds, "dev", Some("DB")),
        res("i-api", ResourceKind::Ec2, api, "dev", Some("API")),
        res("i-cache", ResourceKind::Ec2, cache, "dev", Some("CACHE")),
        res("i-batch", ResourceKind::Ec2, batch, "dev", Some("BATCH")),
    ]
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn run(
    config: &Config,
    resources: &[Resource],
    states: &HashMap<String, ScheduleState>,
    now: &str,
) -> Report {
    plan(&Inputs {
        now: at(now),
        config,
        resources,
        gaps: &[],
        states,
        tags: &TagKeys::default(),
        report_timezone: chrono_tz::Asia::Seoul,
    })
}

/// Steps as `GROUP:action:status[waiting]` strings, in order.
fn steps(r: &Report) -> Vec<String> {
    r.steps
        .iter()
        .map(|s| {
            let mut t = format!("{}:{}:{}", s.group, s.action, s.status.as_str());
            if !s.waiting_on.is_empty() {
                t.push_str(&format!("[{}]", s.waiting_on.join(",")));
            }
            t
        })
        .collect()
}

const MON_0905: &str = "2026-11-23T09:05:00+09:00";
const MON_1805: &str = "2026-11-23T18:05:00+09:00";

#[test]
fn transitions_follow_the_dependency_graph() {
    let c = config(CHAIN);
    let none = HashMap::new();
    let cases: Vec<(&str, Vec<Resource>, &str, Vec<&str>)> = vec![
        (
            "start: first layer ready, the rest blocked",
            fleet("stopped", "stopped", "stopped", "stopped"),
            MON_0905,
            vec![
                "DB:start:ready",
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "start: DB up, second layer ready",
            fleet("available", "stopped", "stopped", "stopped"),
            MON_0905,
            vec![
                "API:start:ready",
                "CACHE:start:ready",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "start: diamond waits for both branches",
            fleet("available", "running", "pending", "stopped"),
            MON_0905,
            vec!["BATCH:start:blocked[CACHE]"],
        ),
        (
            "start: transient DB is waited for, never hit again",
            fleet("starting", "stopped", "stopped", "stopped"),
            MON_0905,
            vec![
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "stop: reverse order, last layer first",
            fleet("available", "running", "running", "running"),
            MON_1805,
            vec![
                "BATCH:stop:ready",
                "CACHE:stop:blocked[BATCH]",
                "API:stop:blocked[BATCH]",
                "DB:stop:blocked[API,CACHE]",
            ],
        ),
        (
            "stop: DB waits for every dependent to be fully stopped",
            fleet("available", "stopping", "stopped", "stopped"),
            MON_1805,
            vec!["DB:stop:blocked[API]"],
        ),
        (
            "stop: already stopped costs nothing",
            fleet("stopped", "stopped", "stopped", "stopped"),
            MON_1805,
            vec![],
        ),
    ];
    for (name, resources, now, expected) in cases {
        let r = run(&c, &resources, &none, now);
        assert_eq!(steps(&r), expected, "{name}");
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
    }
}

#[test]
fn completion_is_reported_per_schedule() {
    let c = config(CHAIN);
    let none = HashMap::new();
    let r = run(
        &c,
        &fleet("available", "running", "running", "pending"),
        &none,
        MON_0905,
    );
    assert!(!r.schedules[0].complete);
    let r = run(
        &c,
        &fleet("available", "running", "running", "running"),
        &none,
        MON_0905,
    );
    assert!(r.schedules[0].complete);
    assert_eq!(r.schedules[0].reason, Reason::Boundary);
    assert_eq!(r.schedules[0].transition, Some(Action::Start));
}

#[test]
fn applied_event_respects_manual_changes_unless_enforced() {
    // GIVEN the 09:00 start was applied and someone stopped the API by hand
    let c = config(CHAIN);
    let applied = run(&c, &[], &HashMap::new(), MON_0905).schedules[0].event;
    let states = HashMap::from([(
        "dev".to_string(),
        ScheduleState {
            applied,
            ..Default::default()
        },
    )]);
    let resources = fleet("available", "stopped", "running", "running");
    // WHEN the next tick plans
    let r = run(&c, &resources, &states, "2026-11-23T11:00:00+09:00");
    // THEN nothing happens
    assert!(r.steps.is_empty());
    assert_eq!(r.schedules[0].reason, Reason::Applied);
    // BUT an Enforced schedule starts it again
    let enforced = config(&CHAIN.replace(
        "Timezone: Asia/Seoul}",
        "Timezone: Asia/Seoul, Enforced: true}",
    ));
    let r = run(&enforced, &resources, &states, "2026-11-23T11:00:00+09:00");
    assert_eq!(steps(&r), ["API:start:ready"]);
    assert_eq!(r.schedules[0].reason, Reason::Enforced);
    // AND a newer boundary acts again
    let r = run(&c, &resources, &states, MON_1805);
    assert_eq!(r.schedules[0].reason, Reason::Boundary);
    assert_eq!(steps(&r)[0], "BATCH:stop:ready");
}

#[test]
fn force_start_runs_now_and_then_holds_until_the_next_boundary() {
    let yaml = CHAIN.replace(
        "Timezone: Asia/Seoul}",
        "Timezone: Asia/Seoul, ForceStart: true}",
    );
    let c = config(&yaml);
    let night = "2026-11-23T20:00:00+09:00";
    let r = run(
        &c,
        &fleet("stopped", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        night,
    );
    assert_eq!(r.schedules[0].reason, Reason::ForceStart);
    assert_eq!(steps(&r)[0], "DB:start:ready");
    // When the forced start completes, the state remembers it.
    let done = run(
        &c,
        &fleet("available", "running", "running", "running"),
        &HashMap::new(),
        night,
    );
    assert!(done.schedules[0].complete);
    let state = next_state(
        &ScheduleState::default(),
        &done.schedules[0],
        &TickResult::default(),
    );
    assert_eq!(state.forced.map(|f| f.action), Some(Action::Start));
    // With the flag cleared, the 18:00 stop (already past) does not stop it again...
    let cleared = config(CHAIN);
    let states = HashMap::from([("dev".to_string(), state)]);
    let r = run(
        &cleared,
        &fleet("available", "running", "running", "running"),
        &states,
        "2026-11-23T21:00:00+09:00",
    );
    assert!(r.steps.is_empty(), "{:?}", steps(&r));
    assert_eq!(r.schedules[0].reason, Reason::Forced);
    // ...until the next boundary (Tuesday's start, then Tuesday's stop).
    let r = run(
        &cleared,
        &fleet("available", "running", "running", "running"),
        &states,
        "2026-11-24T18:01:00+09:00",
    );
    assert_eq!(r.schedules[0].reason, Reason::Boundary);
    assert_eq!(r.schedules[0].transition, Some(Action::Stop));
}

#[test]
fn disabled_schedule_does_nothing_but_force_still_works() {
    let c = config(&CHAIN.replace(
        "Timezone: Asia/Seoul}",
        "Timezone: Asia/Seoul, Enabled: false}",
    ));
    let r = run(
        &c,
        &fleet("stopped", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_0905,
    );
    assert!(r.steps.is_empty());
    assert_eq!(r.schedules[0].reason, Reason::Disabled);
    let c = config(&CHAIN.replace(
        "Timezone: Asia/Seoul}",
        "Timezone: Asia/Seoul, Enabled: false, ForceStop: true}",
    ));
    let r = run(
        &c,
        &fleet("available", "running", "running", "running"),
        &HashMap::new(),
        MON_0905,
    );
    assert_eq!(steps(&r)[0], "BATCH:stop:ready");
}

#[test]
fn ungrouped_resources_have_no_ordering_and_bad_group_tags_are_reported() {
    let c = config(CHAIN);
    let mut resources = fleet("stopped", "stopped", "stopped", "stopped");
    resources.push(res("i-free", ResourceKind::Ec2, "stopped", "dev", None));
    resources.push(res(
        "i-typo",
        ResourceKind::Ec2,
        "stopped",
        "dev",
        Some("APY"),
    ));
    resources.push(res(
        "i-wrongkind",
        ResourceKind::Ec2,
        "stopped",
        "dev",
        Some("DB"),
    ));
    resources.push(res("i-other", ResourceKind::Ec2, "stopped", "nobody", None));
    let r = run(&c, &resources, &HashMap::new(), MON_0905);
    assert_eq!(r.steps[0].group, "");
    assert_eq!(r.steps[0].status, StepStatus::Ready);
    assert_eq!(r.steps[0].resources[0].id, "i-free");
    let touched: Vec<&str> = r
        .steps
        .iter()
        .flat_map(|s| s.resources.iter().map(|x| x.id.as_str()))
        .collect();
    assert!(
        !touched.contains(&"i-typo")
            && !touched.contains(&"i-wrongkind")
            && !touched.contains(&"i-other")
    );
    let errors: Vec<&str> = r.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("i-typo") && e.contains("ScheduleGroupName=APY names no group")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("i-wrongkind") && e.contains("holds RDS")),
        "{errors:?}"
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("ScheduleName=nobody")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn broken_resource_blocks_only_its_dependents() {
    let c = config(CHAIN);
    let r = run(
        &c,
        &fleet("available", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_0905,
    );
    assert_eq!(steps(&r)[..2], ["API:start:ready", "CACHE:start:ready"]);
    let r = run(
        &c,
        &fleet("storage-full", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_0905,
    );
    assert_eq!(
        steps(&r),
        [
            "API:start:blocked[DB]",
            "CACHE:start:blocked[DB]",
            "BATCH:start:blocked[API,CACHE]"
        ]
    );
    assert!(
        r.errors.iter().any(|e| e
            .message
            .contains("db (rds) is 'storage-full' and cannot be started")),
        "{:?}",
        r.errors
    );
}

#[test]
fn pre_stop_warning_once_per_stop_event_when_something_runs() {
    let c = config(CHAIN);
    let running = fleet("available", "running", "stopped", "stopped");
    let t10 = "2026-11-23T17:50:00+09:00";
    let r = run(&c, &running, &HashMap::new(), t10);
    assert_eq!(r.notices.len(), 1);
    let n = &r.notices[0];
    assert_eq!(n.stop_at.to_rfc3339(), "2026-11-23T18:00:00+09:00");
    assert_eq!(n.minutes_left, 10);
    let ids: Vec<&str> = n.resources.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["i-api", "db"], "sorted by kind, then id");
    // Not yet at T-11, none once warned, none when everything is stopped.
    assert!(
        run(&c, &running, &HashMap::new(), "2026-11-23T17:49:00+09:00")
            .notices
            .is_empty()
    );
    let warned = HashMap::from([(
        "dev".to_string(),
        ScheduleState {
            warned: Some(n.event),
            ..Default::default()
        },
    )]);
    assert!(run(&c, &running, &warned, "2026-11-23T17:55:00+09:00")
        .notices
        .is_empty());
    assert!(run(
        &c,
        &fleet("stopped", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        t10
    )
    .notices
    .is_empty());
}

#[test]
fn resources_are_filtered_by_the_tag_keys_in_use() {
    let c = config(CHAIN);
    let tags = TagKeys {
        schedule: "Sched".into(),
        group: "Grp".into(),
        ..TagKeys::default()
    };
    let mut r = res("i-x", ResourceKind::Ec2, "stopped", "dev", None);
    r.tags = [("Sched", "dev"), ("Grp", "API")].into_iter().collect();
    let report = plan(&Inputs {
        now: at(MON_0905),
        config: &c,
        resources: &[r],
        gaps: &[],
        states: &HashMap::new(),
        tags: &tags,
        report_timezone: chrono_tz::UTC,
    });
    assert_eq!(steps(&report), ["API:start:ready"]);
    assert_eq!(report.at.to_rfc3339(), "2026-11-23T00:05:00+00:00");
}

mod asg;
mod ecs;
mod failures;
mod gaps;
mod reach;
mod skips;
mod wake;
