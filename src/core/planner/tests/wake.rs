//! Planner tests: a database offhours stopped and AWS started again after seven days is stopped again while its schedule is in its stopped phase; one started by hand sooner is respected.

use chrono::TimeDelta;

use super::*;

/// Tuesday evening: the schedule has been in its stopped phase since 18:00, applied.
const TUE_2000: &str = "2026-11-24T20:00:00+09:00";

/// The applied state at `now`, remembering that offhours stopped `db` `days` ago.
fn stopped_days_ago(c: &Config, now: &str, days: i64) -> ScheduleState {
    ScheduleState {
        applied: run(c, &[], &HashMap::new(), now).schedules[0].event,
        stopped: BTreeMap::from([("rds:db".to_string(), at(now) - TimeDelta::days(days))]),
        ..ScheduleState::default()
    }
}

#[test]
fn database_started_by_aws_after_seven_days_is_stopped_again() {
    let c = config(CHAIN);
    // (name, fleet, when, days since offhours stopped db, steps, db still remembered)
    type Case<'a> = (&'a str, Vec<Resource>, &'a str, i64, Vec<&'a str>, bool);
    let cases: Vec<Case> = vec![
        (
            "AWS started it 8 days after the stop: stopped again",
            fleet("available", "stopped", "stopped", "stopped"),
            TUE_2000,
            8,
            vec!["DB:stop:ready"],
            true,
        ),
        (
            "exactly 7 days: stopped again",
            fleet("available", "stopped", "stopped", "stopped"),
            TUE_2000,
            7,
            vec!["DB:stop:ready"],
            true,
        ),
        (
            "started by hand after 2 days: respected, and forgotten",
            fleet("available", "stopped", "stopped", "stopped"),
            TUE_2000,
            2,
            vec![],
            false,
        ),
        (
            "still stopped after 8 days: nothing to do, still remembered",
            fleet("stopped", "stopped", "stopped", "stopped"),
            TUE_2000,
            8,
            vec![],
            true,
        ),
        (
            "AWS is starting it: waited for, still remembered",
            fleet("starting", "stopped", "stopped", "stopped"),
            TUE_2000,
            8,
            vec![],
            true,
        ),
        (
            "a dependent running by hand: DB waits for it",
            fleet("available", "running", "stopped", "stopped"),
            TUE_2000,
            8,
            vec!["DB:stop:blocked[API]"],
            true,
        ),
        (
            "the schedule wants it running: not a stop, and forgotten",
            fleet("available", "running", "running", "running"),
            "2026-11-24T10:00:00+09:00",
            8,
            vec![],
            false,
        ),
    ];
    for (name, resources, now, days, expected, remembered) in cases {
        let states = HashMap::from([("dev".to_string(), stopped_days_ago(&c, now, days))]);
        let r = run(&c, &resources, &states, now);
        assert_eq!(steps(&r), expected, "{name}");
        let d = &r.schedules[0];
        assert_eq!((d.reason, d.transition), (Reason::Applied, None), "{name}");
        assert_eq!(d.stopped.contains_key("rds:db"), remembered, "{name}");
        let again = r.warnings.iter().any(|w| {
            w.message
                .starts_with("db (rds): stopped again after RDS's automatic 7-day start")
        });
        let ready = expected == ["DB:stop:ready"];
        assert_eq!(again, ready, "{name}: {:?}", r.warnings);
        assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
    }
}

#[test]
fn a_disabled_schedule_does_not_stop_a_database_again() {
    let c = config(&CHAIN.replace(
        "Timezone: Asia/Seoul}",
        "Timezone: Asia/Seoul, Enabled: false}",
    ));
    let states = HashMap::from([("dev".to_string(), stopped_days_ago(&c, TUE_2000, 8))]);
    let resources = fleet("available", "stopped", "stopped", "stopped");
    let r = run(&c, &resources, &states, TUE_2000);
    assert_eq!(r.schedules[0].reason, Reason::Disabled);
    assert!(r.steps.is_empty(), "{:?}", steps(&r));
}

#[test]
fn a_skipped_database_is_not_stopped_again() {
    let c = config(CHAIN);
    let mut resources = fleet("available", "stopped", "stopped", "stopped");
    resources[0] = super::skips::skipping(resources[0].clone(), "2026-11-30");
    let states = HashMap::from([("dev".to_string(), stopped_days_ago(&c, TUE_2000, 8))]);
    let r = run(&c, &resources, &states, TUE_2000);
    assert!(r.steps.is_empty(), "{:?}", steps(&r));
}

#[test]
fn state_remembers_when_offhours_stopped_each_database() {
    // GIVEN a tick that stopped the DB (and an EC2 instance) and one that started it
    let c = config(CHAIN);
    let r = run(
        &c,
        &fleet("available", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_1805,
    );
    let stop = Step {
        status: StepStatus::Done,
        ..r.steps[0].clone()
    };
    let now = at(MON_1805);
    let tick = TickResult {
        now,
        steps: vec![&stop],
        ..TickResult::default()
    };
    // WHEN the state is stored, THEN it holds the stop time of the database only
    let state = next_state(&ScheduleState::default(), &r.schedules[0], &tick);
    assert_eq!(state.stopped, BTreeMap::from([("rds:db".to_string(), now)]));
    // AND a start of it forgets it
    let start = Step {
        action: Action::Start,
        ..stop.clone()
    };
    let tick = TickResult {
        now,
        steps: vec![&start],
        ..TickResult::default()
    };
    let mut decision = r.schedules[0].clone();
    decision.stopped = state.stopped.clone();
    assert!(next_state(&state, &decision, &tick).stopped.is_empty());
}
