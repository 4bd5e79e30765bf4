//! Planner tests of ECS services: up/down from task counts, the count a stop saves and a start restores, the warning when none was saved, ordering after a DB group.

use super::*;

/// DB (an RDS instance) -> API (an ECS service).
const DB_ECS: &str = "schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: ECS, Dependency: [DB]}
";

/// The ECS service `dev/api` of group API with `desired`/`running` tasks and, if given,
/// the tag `offhours:desired-count`.
fn service(desired: u32, running: u32, saved: Option<&str>) -> Resource {
    let mut r = res("dev/api", ResourceKind::Ecs, "ACTIVE", "dev", Some("API"));
    r.desired = Some(desired);
    r.running = Some(running);
    if let Some(v) = saved {
        r.tags = r.tags.iter().chain([(DESIRED_COUNT_TAG, v)]).collect();
    }
    r
}

fn db(state: &str) -> Resource {
    res("db", ResourceKind::Rds, state, "dev", Some("DB"))
}

/// The count put on the service in the report's steps.
fn count(r: &Report) -> Option<u32> {
    r.steps
        .iter()
        .flat_map(|s| &s.resources)
        .find(|x| x.kind == ResourceKind::Ecs)
        .and_then(|x| x.desired)
}

#[test]
fn a_service_is_up_when_every_desired_task_runs_and_down_at_zero() {
    // (case, status, desiredCount, runningCount, condition)
    type Case = (
        &'static str,
        &'static str,
        Option<u32>,
        Option<u32>,
        Condition,
    );
    let cases: Vec<Case> = vec![
        (
            "all desired tasks run",
            "ACTIVE",
            Some(3),
            Some(3),
            Condition::Up,
        ),
        (
            "nothing desired or running",
            "ACTIVE",
            Some(0),
            Some(0),
            Condition::Down,
        ),
        (
            "no counts given (inventory)",
            "ACTIVE",
            None,
            None,
            Condition::Down,
        ),
        ("scaling up", "ACTIVE", Some(3), Some(1), Condition::Busy),
        (
            "draining to zero",
            "ACTIVE",
            Some(0),
            Some(2),
            Condition::Busy,
        ),
        (
            "being deleted",
            "DRAINING",
            Some(0),
            Some(0),
            Condition::Gone,
        ),
        ("deleted", "INACTIVE", Some(3), Some(3), Condition::Gone),
        (
            "a status offhours does not know",
            "PAUSED",
            Some(3),
            Some(3),
            Condition::Unknown,
        ),
    ];
    for (case, status, desired, running, want) in cases {
        let mut r = res("dev/api", ResourceKind::Ecs, status, "dev", None);
        (r.desired, r.running) = (desired, running);
        assert_eq!(condition_of(&r), want, "{case}");
    }
}

#[test]
fn stop_saves_the_count_and_start_restores_it_after_the_db() {
    let c = config(DB_ECS);
    let remembered = HashMap::from([(
        "dev".to_string(),
        ScheduleState {
            counts: BTreeMap::from([("ecs:dev/api".to_string(), 4)]),
            ..ScheduleState::default()
        },
    )]);
    let none = HashMap::new();
    // (case, fleet, state, at, steps, count on the service, warned)
    type Case<'a> = (
        &'a str,
        Vec<Resource>,
        &'a HashMap<String, ScheduleState>,
        &'a str,
        Vec<&'a str>,
        Option<u32>,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "start: the service waits for the DB",
            vec![db("stopped"), service(0, 0, Some("3"))],
            &none,
            MON_0905,
            vec!["DB:start:ready", "API:start:blocked[DB]"],
            Some(3),
            false,
        ),
        (
            "start: DB up, the tag's count is restored",
            vec![db("available"), service(0, 0, Some("3"))],
            &none,
            MON_0905,
            vec!["API:start:ready"],
            Some(3),
            false,
        ),
        (
            "start: no tag, the state table's count",
            vec![db("available"), service(0, 0, None)],
            &remembered,
            MON_0905,
            vec!["API:start:ready"],
            Some(4),
            false,
        ),
        (
            "start: the state table (written by offhours only) wins over the tag people can edit",
            vec![db("available"), service(0, 0, Some("2"))],
            &remembered,
            MON_0905,
            vec!["API:start:ready"],
            Some(4),
            false,
        ),
        (
            "start: nothing saved, 1 task and a warning",
            vec![db("available"), service(0, 0, None)],
            &none,
            MON_0905,
            vec!["API:start:ready"],
            Some(1),
            true,
        ),
        (
            "start: a tag that is not a count, 1 task and a warning",
            vec![db("available"), service(0, 0, Some("lots"))],
            &none,
            MON_0905,
            vec!["API:start:ready"],
            Some(1),
            true,
        ),
        (
            "start: a service still scaling is waited for",
            vec![db("available"), service(3, 1, Some("3"))],
            &none,
            MON_0905,
            vec![],
            None,
            false,
        ),
        (
            "stop: the service first, its count saved; the DB waits",
            vec![db("available"), service(3, 3, None)],
            &none,
            MON_1805,
            vec!["API:stop:ready", "DB:stop:blocked[API]"],
            Some(3),
            false,
        ),
        (
            "stop: a service that never reaches its count (crash loop) is scaled to 0 anyway",
            vec![db("available"), service(3, 1, None)],
            &none,
            MON_1805,
            vec!["API:stop:ready", "DB:stop:blocked[API]"],
            Some(3),
            false,
        ),
        (
            "stop: a service draining holds the DB",
            vec![db("available"), service(0, 2, Some("3"))],
            &none,
            MON_1805,
            vec!["DB:stop:blocked[API]"],
            None,
            false,
        ),
        (
            "stop: service down, the DB stops",
            vec![db("available"), service(0, 0, Some("3"))],
            &none,
            MON_1805,
            vec!["DB:stop:ready"],
            None,
            false,
        ),
    ];
    for (case, fleet, states, now, want, want_count, warned) in cases {
        let r = run(&c, &fleet, states, now);
        assert_eq!(steps(&r), want, "{case}");
        assert_eq!(count(&r), want_count, "{case}");
        let warning = r
            .warnings
            .iter()
            .find(|w| w.message.contains("no saved desired count"));
        assert_eq!(warning.is_some(), warned, "{case}: {:?}", r.warnings);
        if let Some(w) = warning {
            assert!(w.message.contains("ECS service dev/api"), "{}", w.message);
        }
    }
}

#[test]
fn the_state_table_remembers_the_last_count_above_zero() {
    let c = config(DB_ECS);
    let old = ScheduleState {
        counts: BTreeMap::from([("ecs:dev/api".to_string(), 4)]),
        ..ScheduleState::default()
    };
    let states = HashMap::from([("dev".to_string(), old.clone())]);
    // (case, fleet, counts kept: resource key -> count)
    type Case = (&'static str, Vec<Resource>, Vec<(&'static str, u32)>);
    let cases: Vec<Case> = vec![
        (
            "running: the count seen",
            vec![service(3, 3, None)],
            vec![("ecs:dev/api", 3)],
        ),
        (
            "stopped: the count remembered",
            vec![service(0, 0, None)],
            vec![("ecs:dev/api", 4)],
        ),
        ("gone: forgotten", vec![db("available")], vec![]),
    ];
    for (case, fleet, want) in cases {
        let r = run(&c, &fleet, &states, MON_0905);
        let next = next_state(&old, &r.schedules[0], &TickResult::default());
        let want: BTreeMap<String, u32> = want.into_iter().map(|(k, n)| (k.into(), n)).collect();
        assert_eq!(next.counts, want, "{case}");
    }
}

#[test]
fn a_count_saved_by_this_ticks_stop_is_remembered_though_the_final_plan_sees_zero() {
    // GIVEN the tick's stop step as run (3 tasks saved) and a final plan that sees 0
    let c = config(DB_ECS);
    let none = HashMap::new();
    let before = run(&c, &[db("available"), service(3, 3, None)], &none, MON_1805);
    let mut stop = before.steps[0].clone();
    stop.status = StepStatus::Done;
    let after = run(&c, &[db("available"), service(0, 0, None)], &none, MON_1805);
    // WHEN the next state is computed
    let tick = TickResult {
        steps: vec![&stop],
        ..TickResult::default()
    };
    let next = next_state(&ScheduleState::default(), &after.schedules[0], &tick);
    // THEN the saved count is kept; a failed stop saves nothing
    assert_eq!(next.counts.get("ecs:dev/api"), Some(&3));
    stop.failures.push(crate::core::plan::Failure {
        id: "dev/api".into(),
        account: None,
        region: None,
        message: "denied".into(),
        operation: "TagResource".into(),
        code: "AccessDeniedException".into(),
    });
    let tick = TickResult {
        steps: vec![&stop],
        ..TickResult::default()
    };
    let next = next_state(&ScheduleState::default(), &after.schedules[0], &tick);
    assert_eq!(next.counts.get("ecs:dev/api"), None);
}

#[test]
fn reports_show_the_count_of_tasks() {
    let c = config(DB_ECS);
    let r = run(
        &c,
        &[db("available"), service(3, 3, None)],
        &HashMap::new(),
        MON_1805,
    );
    let api = &r.steps[0].resources[0];
    assert_eq!(api.to_string(), "dev/api (ecs, 3 tasks)");
    let json = serde_json::to_value(api).expect("json");
    assert_eq!(json["desired"], 3);
    assert_eq!(json["kind"], "ecs");
}
