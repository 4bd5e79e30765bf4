//! Planner tests of what happens when things fail: forced transitions, both flags, unknown and stuck states, starts that fall back, Aurora members, the next-start hint.

use super::*;
use chrono::TimeDelta;

/// CHAIN with `extra` added to the dev schedule's fields.
fn chain_with(extra: &str) -> String {
    CHAIN.replace(
        "Timezone: Asia/Seoul}",
        &format!("Timezone: Asia/Seoul, {extra}}}"),
    )
}

fn state_of(s: ScheduleState) -> HashMap<String, ScheduleState> {
    HashMap::from([("dev".to_string(), s)])
}

/// Ids of every resource in a step, in order.
fn planned(r: &Report) -> Vec<&str> {
    r.steps
        .iter()
        .flat_map(|s| s.resources.iter().map(|x| x.id.as_str()))
        .collect()
}

/// The error with `key`, if the report has one.
fn keyed<'r>(r: &'r Report, key: &str) -> Option<&'r Problem> {
    r.errors.iter().find(|e| e.key.as_deref() == Some(key))
}

/// The steps of `r` as the executor would leave them: every ready step acted on
/// (`done`), and the resources in `failed` failed with `StartInstances`.
fn as_run(r: &Report, failed: &[&str]) -> Vec<Step> {
    r.steps
        .iter()
        .cloned()
        .map(|mut s| {
            if s.status == StepStatus::Ready {
                s.failures = s
                    .resources
                    .iter()
                    .filter(|x| failed.contains(&x.id.as_str()))
                    .map(|x| crate::core::plan::Failure {
                        id: x.id.clone(),
                        account: x.account.clone(),
                        region: x.region.clone(),
                        message: "boom".into(),
                        operation: "StartInstances".into(),
                        code: "InternalError".into(),
                    })
                    .collect();
                s.status = if s.failures.is_empty() {
                    StepStatus::Done
                } else {
                    StepStatus::Failed
                };
            }
            s
        })
        .collect()
}

/// The state stored after a tick at `now` whose final plan was `r` and whose steps ran as `steps`.
fn after(old: &ScheduleState, r: &Report, steps: &[Step], now: &str) -> ScheduleState {
    let tick = TickResult {
        now: at(now),
        steps: steps.iter().collect(),
        ..Default::default()
    };
    next_state(old, &r.schedules[0], &tick)
}

#[test]
fn force_start_with_a_failure_is_driven_until_done() {
    // GIVEN ForceStart at night (the stopped phase) and a tick whose CACHE start failed
    let forced = config(&chain_with("ForceStart: true"));
    let night = "2026-11-23T20:00:00+09:00";
    let r = run(
        &forced,
        &fleet("available", "running", "stopped", "stopped"),
        &HashMap::new(),
        night,
    );
    assert_eq!(r.schedules[0].reason, Reason::ForceStart);
    assert_eq!(
        steps(&r),
        ["CACHE:start:ready", "BATCH:start:blocked[CACHE]"]
    );
    let ran = as_run(&r, &["i-cache"]);
    let state = after(&ScheduleState::default(), &r, &ran, night);
    // THEN the state carries the unfinished force (the flag itself is cleared)
    let event = r.schedules[0].event;
    assert_eq!(
        state.forced,
        Some(Forced {
            action: Action::Start,
            event,
            done: false
        })
    );
    assert_eq!(state.applied, None);

    // WHEN the next tick plans with the flag cleared
    let cleared = config(CHAIN);
    let later = "2026-11-23T20:05:00+09:00";
    let r = run(
        &cleared,
        &fleet("available", "running", "stopped", "stopped"),
        &state_of(state.clone()),
        later,
    );
    // THEN the forced start goes on: the failed resource is started again
    assert_eq!(r.schedules[0].reason, Reason::Forced);
    assert_eq!(r.schedules[0].transition, Some(Action::Start));
    assert_eq!(
        steps(&r),
        ["CACHE:start:ready", "BATCH:start:blocked[CACHE]"]
    );
    assert!(planned(&r).contains(&"i-cache"));

    // WHEN everything is up
    let up = fleet("available", "running", "running", "running");
    let r = run(&cleared, &up, &state_of(state.clone()), later);
    // THEN the force is done, with nothing left to do
    assert!(r.steps.is_empty(), "{:?}", steps(&r));
    assert!(r.schedules[0].complete);
    let state = after(&state, &r, &[], later);
    assert_eq!(
        state.forced.map(|f| (f.action, f.done)),
        Some((Action::Start, true))
    );
}

#[test]
fn finished_force_holds_until_the_next_boundary_supersedes_it() {
    // GIVEN a forced start that finished on Monday night, and someone stopping the API
    let cleared = config(CHAIN);
    let event = run(&cleared, &[], &HashMap::new(), "2026-11-23T20:00:00+09:00").schedules[0].event;
    let state = ScheduleState {
        forced: Some(Forced {
            action: Action::Start,
            event,
            done: true,
        }),
        ..ScheduleState::default()
    };
    let up = fleet("available", "running", "running", "running");

    // WHEN a later tick before the next boundary does nothing, even to a manual stop
    let by_hand = fleet("available", "stopped", "running", "running");
    let r = run(
        &cleared,
        &by_hand,
        &state_of(state.clone()),
        "2026-11-23T23:00:00+09:00",
    );
    assert!(r.steps.is_empty(), "{:?}", steps(&r));
    assert_eq!(r.schedules[0].reason, Reason::Forced);
    assert_eq!(r.schedules[0].transition, None);

    // AND the next boundaries supersede it: Tuesday's start, then Tuesday's stop
    let r = run(
        &cleared,
        &by_hand,
        &state_of(state.clone()),
        "2026-11-24T09:05:00+09:00",
    );
    assert_eq!(r.schedules[0].reason, Reason::Boundary);
    assert_eq!(r.schedules[0].transition, Some(Action::Start));
    assert_eq!(steps(&r), ["API:start:ready"]);
    let tue_1801 = "2026-11-24T18:01:00+09:00";
    let r = run(&cleared, &up, &state_of(state.clone()), tue_1801);
    assert_eq!(r.schedules[0].reason, Reason::Boundary);
    assert_eq!(r.schedules[0].transition, Some(Action::Stop));
    assert_eq!(steps(&r)[0], "BATCH:stop:ready");
    // AND the superseded force is forgotten
    assert_eq!(after(&state, &r, &[], tue_1801).forced, None);
}

#[test]
fn both_force_flags_are_an_error_but_boundaries_keep_running() {
    // GIVEN ForceStart and ForceStop both set (a console edit)
    let raw =
        RawConfig::parse(&chain_with("ForceStart: true, ForceStop: true"), "test").expect("yaml");
    let c = validate(&raw, &Defaults::default());
    // THEN validation names both fields for that schedule
    assert!(
        c.errors.iter().any(|e| e.schedule == "dev"
            && e.message.contains("ForceStart")
            && e.message.contains("ForceStop")),
        "{:?}",
        c.errors
    );
    // AND the schedule is kept, with neither force acting
    let s = c.schedule("dev").expect("dev is still scheduled");
    assert!(s.force_conflict);
    assert!(!s.force_start && !s.force_stop);
    // AND its boundaries keep running
    let cases = [
        (
            MON_0905,
            fleet("stopped", "stopped", "stopped", "stopped"),
            Action::Start,
            "DB:start:ready",
        ),
        (
            MON_1805,
            fleet("available", "running", "running", "running"),
            Action::Stop,
            "BATCH:stop:ready",
        ),
    ];
    for (now, resources, action, first) in cases {
        let r = run(&c, &resources, &HashMap::new(), now);
        assert_eq!(r.schedules[0].reason, Reason::Boundary, "{now}");
        assert_eq!(r.schedules[0].transition, Some(action), "{now}");
        assert_eq!(steps(&r)[0], first, "{now}");
    }
}

#[test]
fn provider_states_map_to_conditions() {
    use Condition::*;
    use ResourceKind::*;
    let cases = [
        (Ec2, "running", Up),
        (Ec2, "stopped", Down),
        (Ec2, "pending", Busy),
        (Ec2, "stopping", Busy),
        (Ec2, "terminated", Gone),
        (Ec2, "hibernating-someday", Unknown),
        (Ec2, " Running ", Up),
        (Rds, "available", Up),
        (Rds, "stopped", Down),
        (Rds, "backing-up", Busy),
        (Rds, "starting", Busy),
        (Rds, "failed", Broken),
        (Rds, "storage-full", Broken),
        (Rds, "deleting", Gone),
        (Rds, "some-new-state", Unknown),
        (Aurora, "started", Up),
        (Aurora, "available", Up),
        (Aurora, "stopped", Down),
        (Aurora, "modifying", Busy),
        (Aurora, "failed", Broken),
        (Aurora, "some-new-state", Unknown),
    ];
    for (kind, state, expected) in cases {
        assert_eq!(condition(kind, state), expected, "{kind} {state:?}");
    }
}

#[test]
fn unknown_state_is_an_error_and_blocks_dependents() {
    // GIVEN the DB in a state offhours does not know, at the start boundary
    let c = config(CHAIN);
    let r = run(
        &c,
        &fleet("some-new-state", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_0905,
    );
    // THEN it is not acted on, its dependents wait for it, and it is a keyed error
    assert!(!planned(&r).contains(&"db"), "{:?}", planned(&r));
    assert_eq!(
        steps(&r),
        [
            "API:start:blocked[DB]",
            "CACHE:start:blocked[DB]",
            "BATCH:start:blocked[API,CACHE]"
        ]
    );
    let e = r
        .errors
        .iter()
        .find(|e| e.key.as_deref().is_some_and(|k| k.contains("rds:db")))
        .unwrap_or_else(|| panic!("no keyed error for rds:db: {:?}", r.errors));
    assert!(
        e.key
            .as_deref()
            .is_some_and(|k| k.contains("some-new-state")),
        "{e:?}"
    );
    assert!(e.message.contains("some-new-state"), "{e:?}");
    assert!(!r.schedules[0].complete);
}

#[test]
fn transient_state_is_an_error_only_once_stuck() {
    let c = config(CHAIN);
    let now = at(MON_0905);
    let busy = |state: &str, minutes: i64| ScheduleState {
        busy: BTreeMap::from([(
            "rds:db".to_string(),
            BusySince {
                state: state.into(),
                since: now - TimeDelta::minutes(minutes),
            },
        )]),
        ..Default::default()
    };
    // (case, stored state, stuck error expected)
    let cases = [
        ("first seen now", ScheduleState::default(), false),
        ("backing-up for 29 min", busy("backing-up", 29), false),
        ("backing-up for 31 min", busy("backing-up", 31), true),
        ("31 min in another state", busy("modifying", 31), false),
    ];
    for (name, state, stuck) in cases {
        // GIVEN the DB backing up at the start boundary
        let r = run(
            &c,
            &fleet("backing-up", "stopped", "stopped", "stopped"),
            &state_of(state),
            MON_0905,
        );
        // THEN it is waited for, never hit, and its dependents wait
        assert!(!planned(&r).contains(&"db"), "{name}");
        assert_eq!(steps(&r)[0], "API:start:blocked[DB]", "{name}");
        // AND it is an error only once it has been there for 30 minutes
        let e = keyed(&r, "rds:db#stuck#backing-up");
        assert_eq!(e.is_some(), stuck, "{name}: {:?}", r.errors);
        if let Some(e) = e {
            assert!(e.message.contains("'backing-up' for 31 min"), "{e:?}");
        }
        assert!(
            r.errors
                .iter()
                .all(|e| e.key.as_deref() == Some("rds:db#stuck#backing-up")),
            "{name}: {:?}",
            r.errors
        );
    }
    // AND the state remembers since when, across ticks in the same state
    let r = run(
        &c,
        &fleet("backing-up", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_0905,
    );
    let old = busy("backing-up", 10);
    let next = after(&old, &r, &[], MON_0905);
    assert_eq!(next.busy, old.busy);
    let next = after(&busy("modifying", 10), &r, &[], MON_0905);
    assert_eq!(next.busy["rds:db"].since, now);
}

#[test]
fn start_that_falls_back_is_retried_up_to_max_attempts() {
    let c = config(CHAIN);
    assert_eq!(c.schedules[0].max_attempts, 3, "Defaults: MAX_ATTEMPTS 3");
    let event = run(&c, &[], &HashMap::new(), MON_0905).schedules[0].event;
    let older = run(&c, &[], &HashMap::new(), "2026-11-20T09:05:00+09:00").schedules[0].event;
    assert_ne!(event, older);
    let mut resources = fleet("available", "stopped", "running", "stopped");
    resources[1].reason =
        Some("Server.InsufficientInstanceCapacity: Insufficient capacity.".into());
    let tried = |event, count| ScheduleState {
        attempts: BTreeMap::from([("ec2:i-api".to_string(), Attempts { event, count })]),
        ..Default::default()
    };
    let forced = config(&chain_with("ForceStart: true"));
    // (case, config, stored state, i-api planned, error key expected)
    let cases = [
        ("never tried", &c, ScheduleState::default(), true, None),
        ("tried for an older event", &c, tried(older, 2), true, None),
        (
            "fell back once",
            &c,
            tried(event, 1),
            true,
            Some("ec2:i-api#fell-back"),
        ),
        (
            "fell back twice",
            &c,
            tried(event, 2),
            true,
            Some("ec2:i-api#fell-back"),
        ),
        (
            "fell back max_attempts times",
            &c,
            tried(event, 3),
            false,
            Some("ec2:i-api#gave-up"),
        ),
        (
            "ForceStart tries again",
            &forced,
            tried(event, 3),
            true,
            None,
        ),
    ];
    for (name, config, state, started, key) in cases {
        // GIVEN the API stopped again after accepted starts, at the start boundary
        let r = run(config, &resources, &state_of(state), MON_0905);
        // THEN it is started again until it has fallen back max_attempts times
        assert_eq!(
            planned(&r).contains(&"i-api"),
            started,
            "{name}: {:?}",
            steps(&r)
        );
        let keys: Vec<&str> = r.errors.iter().filter_map(|e| e.key.as_deref()).collect();
        assert_eq!(keys, key.into_iter().collect::<Vec<_>>(), "{name}");
        // AND the error gives the provider's reason
        for e in &r.errors {
            assert!(
                e.message
                    .contains("Server.InsufficientInstanceCapacity: Insufficient capacity."),
                "{name}: {e:?}"
            );
        }
        // AND its dependents wait for it
        let expected: &[&str] = if started {
            &["API:start:ready", "BATCH:start:blocked[API]"]
        } else {
            &["BATCH:start:blocked[API]"]
        };
        assert_eq!(steps(&r), expected, "{name}");
    }
}

#[test]
fn accepted_starts_are_counted_until_the_transition_completes() {
    let c = config(CHAIN);
    let older = run(&c, &[], &HashMap::new(), "2026-11-20T09:05:00+09:00").schedules[0].event;
    // GIVEN a start tick in which the API start was accepted and the CACHE start failed
    let r = run(
        &c,
        &fleet("available", "stopped", "stopped", "stopped"),
        &HashMap::new(),
        MON_0905,
    );
    let event = r.schedules[0].event;
    assert_eq!(
        steps(&r),
        [
            "API:start:ready",
            "CACHE:start:ready",
            "BATCH:start:blocked[API,CACHE]"
        ]
    );
    let ran = as_run(&r, &["i-cache"]);
    let old = ScheduleState {
        attempts: BTreeMap::from([
            ("ec2:i-api".to_string(), Attempts { event, count: 1 }),
            (
                "ec2:i-old".to_string(),
                Attempts {
                    event: older,
                    count: 2,
                },
            ),
        ]),
        ..Default::default()
    };
    // WHEN the state is stored
    let next = after(&old, &r, &ran, MON_0905);
    // THEN the accepted start counts, the failed and blocked ones do not, and counts
    // of an older event are dropped
    assert_eq!(
        next.attempts,
        BTreeMap::from([("ec2:i-api".to_string(), Attempts { event, count: 2 })])
    );
    // AND once the transition is complete, the counts are dropped
    let r = run(
        &c,
        &fleet("available", "running", "running", "running"),
        &state_of(next.clone()),
        MON_0905,
    );
    assert!(r.schedules[0].complete);
    assert!(after(&next, &r, &[], MON_0905).attempts.is_empty());
}

#[test]
fn aurora_member_instances_are_left_to_their_cluster() {
    // GIVEN an RDS instance of an Aurora cluster tagged like a DB of the schedule
    let c = config(CHAIN);
    let mut member = res(
        "aurora-1-a",
        ResourceKind::Rds,
        "stopped",
        "dev",
        Some("DB"),
    );
    member.cluster = Some("aurora-1".into());
    let mut resources = fleet("stopped", "stopped", "stopped", "stopped");
    resources.push(member);
    let r = run(&c, &resources, &HashMap::new(), MON_0905);
    // THEN it is in no step, and a warning names its cluster
    assert!(!planned(&r).contains(&"aurora-1-a"), "{:?}", planned(&r));
    assert_eq!(planned(&r), ["db", "i-api", "i-cache", "i-batch"]);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.message.contains("aurora-1-a") && w.message.contains("'aurora-1'")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn pre_stop_warning_names_the_next_start() {
    let overnight = config(
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '22:00', StopTime: '02:00', Timezone: Asia/Seoul}\n",
    );
    let day = config(CHAIN);
    // (case, config, warned at, stop, next start)
    let cases = [
        (
            "overnight, Tuesday 01:50: the same day's 22:00",
            &overnight,
            "2026-11-24T01:50:00+09:00",
            "2026-11-24T02:00:00+09:00",
            "2026-11-24T22:00:00+09:00",
        ),
        (
            "overnight, Saturday 01:50: Monday 22:00",
            &overnight,
            "2026-11-28T01:50:00+09:00",
            "2026-11-28T02:00:00+09:00",
            "2026-11-30T22:00:00+09:00",
        ),
        (
            "day, Friday 17:50: Monday 09:00",
            &day,
            "2026-11-27T17:50:00+09:00",
            "2026-11-27T18:00:00+09:00",
            "2026-11-30T09:00:00+09:00",
        ),
    ];
    let running = [res("i-web", ResourceKind::Ec2, "running", "dev", None)];
    for (name, c, now, stop, next_start) in cases {
        let r = run(c, &running, &HashMap::new(), now);
        assert_eq!(r.notices.len(), 1, "{name}");
        let n = &r.notices[0];
        assert_eq!(n.stop_at.to_rfc3339(), stop, "{name}");
        assert_eq!(
            n.next_start.map(|t| t.to_rfc3339()).as_deref(),
            Some(next_start),
            "{name}"
        );
    }
}
