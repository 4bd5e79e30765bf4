//! Planner tests: a skip-until tag holds a resource out of starts and stops until its date, while it still counts for ordering; the phase is applied again when the date passes.

use super::*;

/// `r` tagged `offhours:skip-until=value` (the one place tests set the tag).
pub(super) fn skipping(mut r: Resource, value: &str) -> Resource {
    r.tags = r
        .tags
        .iter()
        .chain([("offhours:skip-until", value)])
        .collect();
    r
}

/// The CHAIN fleet with the API instance skipped until `value`.
fn api_skipped(rds: &str, api: &str, cache: &str, batch: &str, value: &str) -> Vec<Resource> {
    let mut f = fleet(rds, api, cache, batch);
    f[1] = skipping(f[1].clone(), value);
    f
}

/// The end of Monday 2026-11-23 in Seoul.
const MON_END: &str = "2026-11-24T00:00:00+09:00";

#[test]
fn skipped_resources_are_left_alone_but_still_hold_their_dependencies() {
    let c = config(CHAIN);
    let none = HashMap::new();
    // (name, fleet, when, steps, complete, skip_ends); the API is reported skipped unless
    // the name says the skip is over
    type Case<'a> = (
        &'a str,
        Vec<Resource>,
        &'a str,
        Vec<&'a str>,
        bool,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "stop: the skipped API is not stopped, and DB waits for it",
            api_skipped("available", "running", "running", "running", "2026-11-23"),
            MON_1805,
            vec![
                "BATCH:stop:ready",
                "CACHE:stop:blocked[BATCH]",
                "DB:stop:blocked[API,CACHE]",
            ],
            false,
            Some(MON_END),
        ),
        (
            "stop: all else down, DB still waits for the running skipped API; done for now",
            api_skipped("available", "running", "stopped", "stopped", "2026-11-23"),
            MON_1805,
            vec!["DB:stop:blocked[API]"],
            true,
            Some(MON_END),
        ),
        (
            "stop: an RFC 3339 instant works the same",
            api_skipped(
                "available",
                "running",
                "stopped",
                "stopped",
                "2026-11-23T20:00:00+09:00",
            ),
            MON_1805,
            vec!["DB:stop:blocked[API]"],
            true,
            Some("2026-11-23T20:00:00+09:00"),
        ),
        (
            "stop: a skip already over is no skip",
            api_skipped("available", "running", "stopped", "stopped", "2026-11-22"),
            MON_1805,
            vec!["API:stop:ready", "DB:stop:blocked[API]"],
            false,
            None,
        ),
        (
            "start: a skipped stopped API is not started, and BATCH waits for it",
            api_skipped("available", "stopped", "running", "stopped", "2026-11-23"),
            MON_0905,
            vec!["BATCH:start:blocked[API]"],
            true,
            Some(MON_END),
        ),
        (
            "start: a skipped API already running changes nothing",
            api_skipped("available", "running", "running", "running", "2026-11-23"),
            MON_0905,
            vec![],
            true,
            None,
        ),
    ];
    for (name, resources, now, expected, complete, ends) in cases {
        let r = run(&c, &resources, &none, now);
        assert_eq!(steps(&r), expected, "{name}");
        assert!(
            r.errors.is_empty() && r.warnings.is_empty(),
            "{name}: {r:?}"
        );
        let d = &r.schedules[0];
        assert_eq!(d.complete, complete, "{name}");
        assert_eq!(d.skip_ends, ends.map(at), "{name}");
        let skipped: Vec<&str> = r.skipped.iter().map(|s| s.resource.id.as_str()).collect();
        let expect_skipped = if name.contains("is no skip") {
            vec![]
        } else {
            vec!["i-api"]
        };
        assert_eq!(skipped, expect_skipped, "{name}");
    }
}

#[test]
fn skipped_resource_is_reported_with_its_date_in_text_and_json() {
    let c = config(CHAIN);
    let fleet = api_skipped("available", "running", "stopped", "stopped", "2026-11-27");
    let r = run(&c, &fleet, &HashMap::new(), MON_1805);
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(
        json["skipped"],
        serde_json::json!([{
            "schedule": "dev", "group": "API", "resource": {"id": "i-api", "kind": "ec2"},
            "until": "2026-11-28T00:00:00+09:00", "skip_until": "2026-11-27"
        }])
    );
    let text = r.to_string();
    assert!(
        text.contains("Skipped (a skip-until tag: neither started nor stopped):\n  dev: i-api (ec2) until 2026-11-28 00:00 +09:00"),
        "{text}"
    );
}

#[test]
fn unparsable_skip_until_is_a_warning_and_the_resource_is_scheduled() {
    let c = config(CHAIN);
    let fleet = api_skipped("available", "running", "stopped", "stopped", "next friday");
    let r = run(&c, &fleet, &HashMap::new(), MON_1805);
    assert_eq!(steps(&r), ["API:stop:ready", "DB:stop:blocked[API]"]);
    assert!(r.skipped.is_empty());
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    let w = &r.warnings[0].message;
    assert!(
        w.contains("i-api") && w.contains("offhours:skip-until") && w.contains("next friday"),
        "{w}"
    );
}

#[test]
fn pre_stop_warning_leaves_out_skipped_resources() {
    let c = config(CHAIN);
    let before = "2026-11-23T17:55:00+09:00";
    let only_api = api_skipped("stopped", "running", "stopped", "stopped", "2026-11-23");
    let r = run(&c, &only_api, &HashMap::new(), before);
    assert!(r.notices.is_empty(), "{:?}", r.notices);
    let more = api_skipped("available", "running", "stopped", "stopped", "2026-11-23");
    let r = run(&c, &more, &HashMap::new(), before);
    let ids: Vec<&str> = r.notices[0]
        .resources
        .iter()
        .map(|x| x.id.as_str())
        .collect();
    assert_eq!(ids, ["db"]);
}

#[test]
fn when_the_skip_ends_the_phase_is_applied_again_and_then_respected() {
    // GIVEN Monday's stop applied while the skipped API kept running (and DB with it)
    let c = config(CHAIN);
    let plan_at = |fleet: &[Resource], state: &ScheduleState, now: &str| {
        let states = HashMap::from([("dev".to_string(), state.clone())]);
        run(&c, fleet, &states, now)
    };
    let stop = plan_at(
        &api_skipped("available", "running", "stopped", "stopped", "2026-11-23"),
        &ScheduleState::default(),
        MON_1805,
    );
    let state = next_state(
        &ScheduleState::default(),
        &stop.schedules[0],
        &TickResult::default(),
    );
    assert_eq!(state.applied, stop.schedules[0].event);
    assert_eq!(state.skip_ends, Some(at(MON_END)));

    // WHEN a tick runs before the date passes, THEN nothing is done
    let evening = api_skipped("available", "running", "stopped", "stopped", "2026-11-23");
    let r = plan_at(&evening, &state, "2026-11-23T23:55:00+09:00");
    assert_eq!(
        (r.schedules[0].reason, steps(&r).len()),
        (Reason::Applied, 0)
    );

    // WHEN the first tick after the date runs, THEN the API stops, then DB
    let r = plan_at(&evening, &state, "2026-11-24T00:05:00+09:00");
    assert_eq!(r.schedules[0].reason, Reason::SkipEnded);
    assert_eq!(steps(&r), ["API:stop:ready", "DB:stop:blocked[API]"]);
    assert!(r.skipped.is_empty());
    let later = api_skipped("available", "stopped", "stopped", "stopped", "2026-11-23");
    assert_eq!(
        steps(&plan_at(&later, &state, "2026-11-24T00:10:00+09:00")),
        ["DB:stop:ready"]
    );

    // AND once everything is down the schedule is applied again: a later manual start stays
    let down = api_skipped("stopped", "stopped", "stopped", "stopped", "2026-11-23");
    let done = plan_at(&down, &state, "2026-11-24T00:15:00+09:00");
    assert!(done.schedules[0].complete);
    let state = next_state(&state, &done.schedules[0], &TickResult::default());
    assert_eq!(state.skip_ends, None);
    let by_hand = api_skipped("stopped", "running", "stopped", "stopped", "2026-11-23");
    let r = plan_at(&by_hand, &state, "2026-11-24T02:00:00+09:00");
    assert_eq!(
        (r.schedules[0].reason, steps(&r).len()),
        (Reason::Applied, 0)
    );
}
