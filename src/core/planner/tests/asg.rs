//! Planner tests of Auto Scaling groups: up/down from instance counts, the sizes a stop saves and a start restores, the warnings when none were saved or the tag does not read, ordering after a DB group, and the instances of a scheduled group.

use super::*;
use serde_json::json;

/// DB (an RDS instance) -> WEB (an Auto Scaling group).
const DB_ASG: &str = "schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: WEB, InstanceType: ASG, Dependency: [DB]}
";

/// The Auto Scaling group `web` of group WEB: `(min, max, desired)`, `in_service` of
/// `instances`, and, if given, the tag `offhours:saved-size`.
fn group(sizes: (u32, u32, u32), in_service: u32, instances: u32, saved: Option<&str>) -> Resource {
    let mut r = res("web", ResourceKind::Asg, "active", "dev", Some("WEB"));
    (r.min, r.max, r.desired) = (Some(sizes.0), Some(sizes.1), Some(sizes.2));
    (r.running, r.instances) = (Some(in_service), Some(instances));
    if let Some(v) = saved {
        r.tags = r.tags.iter().chain([(SAVED_SIZE_TAG, v)]).collect();
    }
    r
}

fn db(state: &str) -> Resource {
    res("db", ResourceKind::Rds, state, "dev", Some("DB"))
}

/// `(min, max, desired)` put on the group in the report's steps.
fn sizes(r: &Report) -> Option<(u32, u32, u32)> {
    let x = r
        .steps
        .iter()
        .flat_map(|s| &s.resources)
        .find(|x| x.kind == ResourceKind::Asg)?;
    Some((x.min?, x.max?, x.desired?))
}

fn sized(min: u32, max: u32, desired: u32) -> Sizes {
    Sizes { min, max, desired }
}

#[test]
fn a_group_is_up_when_its_in_service_instances_match_the_desired_capacity() {
    // (case, status, (min, max, desired), InService, all instances, condition)
    type Case = (
        &'static str,
        &'static str,
        (u32, u32, u32),
        u32,
        u32,
        Condition,
    );
    let cases: Vec<Case> = vec![
        (
            "every desired instance in service",
            "active",
            (1, 4, 2),
            2,
            2,
            Condition::Up,
        ),
        (
            "scaled to zero, no instance left",
            "active",
            (0, 0, 0),
            0,
            0,
            Condition::Down,
        ),
        (
            "desired 0 by hand, max kept",
            "active",
            (0, 4, 0),
            0,
            0,
            Condition::Down,
        ),
        ("launching", "active", (1, 4, 2), 1, 2, Condition::Busy),
        (
            "restored, nothing launched yet",
            "active",
            (1, 4, 2),
            0,
            0,
            Condition::Busy,
        ),
        (
            "instances still terminating",
            "active",
            (0, 0, 0),
            0,
            2,
            Condition::Busy,
        ),
        (
            "being deleted",
            "Delete in progress",
            (0, 0, 0),
            0,
            0,
            Condition::Gone,
        ),
        (
            "a status offhours does not know",
            "Updating",
            (1, 4, 2),
            2,
            2,
            Condition::Unknown,
        ),
    ];
    for (case, status, (min, max, desired), in_service, instances, want) in cases {
        let mut r = group((min, max, desired), in_service, instances, None);
        r.state = status.into();
        assert_eq!(condition_of(&r), want, "{case}");
    }
    // An inventory that gives no instance count counts the InService ones.
    let mut r = group((1, 4, 2), 2, 0, None);
    r.instances = None;
    assert_eq!(condition_of(&r), Condition::Up);
}

#[test]
fn stop_saves_the_sizes_and_start_restores_them_after_the_db() {
    let c = config(DB_ASG);
    let remembered = HashMap::from([(
        "dev".to_string(),
        ScheduleState {
            sizes: BTreeMap::from([("asg:web".to_string(), sized(2, 6, 3))]),
            ..ScheduleState::default()
        },
    )]);
    let none = HashMap::new();
    let down = (0, 0, 0);
    // (case, fleet, state, at, steps, sizes on the group, warning that starts with)
    type Case<'a> = (
        &'a str,
        Vec<Resource>,
        &'a HashMap<String, ScheduleState>,
        &'a str,
        Vec<&'a str>,
        Option<(u32, u32, u32)>,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "start: the group waits for the DB",
            vec![db("stopped"), group(down, 0, 0, Some("min=1,max=4,desired=2"))],
            &none,
            MON_0905,
            vec!["DB:start:ready", "WEB:start:blocked[DB]"],
            Some((1, 4, 2)),
            None,
        ),
        (
            "start: DB up, the tag's sizes are restored",
            vec![db("available"), group(down, 0, 0, Some("min=1,max=4,desired=2"))],
            &none,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((1, 4, 2)),
            None,
        ),
        (
            "start: a hand-written tag in another order and case reads too",
            vec![db("available"), group(down, 0, 0, Some(" Desired=2, MAX=4 ,min=1"))],
            &none,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((1, 4, 2)),
            None,
        ),
        (
            "start: no tag, the state table's sizes",
            vec![db("available"), group(down, 0, 0, None)],
            &remembered,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((2, 6, 3)),
            None,
        ),
        (
            "start: the state table (written by offhours only) wins over the tag",
            vec![db("available"), group(down, 0, 0, Some("min=1,max=4,desired=2"))],
            &remembered,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((2, 6, 3)),
            None,
        ),
        (
            "start: a tag that does not read, the state table's sizes and a warning",
            vec![db("available"), group(down, 0, 0, Some("min=1,max=4"))],
            &remembered,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((2, 6, 3)),
            Some("Auto Scaling group web: its tag offhours:saved-size='min=1,max=4' does not read"),
        ),
        (
            "start: nothing saved, one instance and a warning",
            vec![db("available"), group(down, 0, 0, None)],
            &none,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((1, 1, 1)),
            Some("Auto Scaling group web has no saved sizes (it has no tag offhours:saved-size"),
        ),
        (
            "start: nothing saved, a maximum kept by hand stays",
            vec![db("available"), group((0, 4, 0), 0, 0, None)],
            &none,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((1, 4, 1)),
            Some("Auto Scaling group web has no saved sizes"),
        ),
        (
            "start: a tag out of order (desired above max) is not used",
            vec![db("available"), group(down, 0, 0, Some("min=1,max=2,desired=3"))],
            &none,
            MON_0905,
            vec!["WEB:start:ready"],
            Some((1, 1, 1)),
            Some("Auto Scaling group web has no saved sizes (its tag offhours:saved-size='min=1,max=2,desired=3' does not read"),
        ),
        (
            "start: a group still launching is waited for",
            vec![db("available"), group((1, 4, 2), 1, 2, None)],
            &none,
            MON_0905,
            vec![],
            None,
            None,
        ),
        (
            "stop: the group first, its sizes saved; the DB waits",
            vec![db("available"), group((1, 4, 2), 2, 2, None)],
            &none,
            MON_1805,
            vec!["WEB:stop:ready", "DB:stop:blocked[WEB]"],
            Some((1, 4, 2)),
            None,
        ),
        (
            "stop: a group that never reaches its capacity is scaled to 0 anyway",
            vec![db("available"), group((1, 4, 2), 1, 1, None)],
            &none,
            MON_1805,
            vec!["WEB:stop:ready", "DB:stop:blocked[WEB]"],
            Some((1, 4, 2)),
            None,
        ),
        (
            "stop: instances still terminating hold the DB",
            vec![db("available"), group(down, 0, 2, Some("min=1,max=4,desired=2"))],
            &none,
            MON_1805,
            vec!["DB:stop:blocked[WEB]"],
            None,
            None,
        ),
        (
            "stop: group down, the DB stops",
            vec![db("available"), group(down, 0, 0, Some("min=1,max=4,desired=2"))],
            &none,
            MON_1805,
            vec!["DB:stop:ready"],
            None,
            None,
        ),
    ];
    for (case, fleet, states, now, want, want_sizes, warned) in cases {
        let r = run(&c, &fleet, states, now);
        assert_eq!(steps(&r), want, "{case}");
        assert_eq!(sizes(&r), want_sizes, "{case}");
        let about: Vec<&str> = r
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .filter(|m| m.contains("Auto Scaling group web"))
            .collect();
        match warned {
            Some(start) => assert!(
                about.len() == 1 && about[0].starts_with(start),
                "{case}: {about:?}"
            ),
            None => assert!(about.is_empty(), "{case}: {about:?}"),
        }
    }
}

#[test]
fn the_state_table_remembers_the_last_sizes_with_instances_desired() {
    let c = config(DB_ASG);
    let old = ScheduleState {
        sizes: BTreeMap::from([("asg:web".to_string(), sized(2, 6, 3))]),
        ..ScheduleState::default()
    };
    let states = HashMap::from([("dev".to_string(), old.clone())]);
    // (case, fleet, sizes kept)
    type Case = (&'static str, Vec<Resource>, Option<Sizes>);
    let cases: Vec<Case> = vec![
        (
            "running: the sizes seen",
            vec![group((1, 4, 2), 2, 2, None)],
            Some(sized(1, 4, 2)),
        ),
        (
            "stopped: the sizes remembered",
            vec![group((0, 0, 0), 0, 0, None)],
            Some(sized(2, 6, 3)),
        ),
        ("gone: forgotten", vec![db("available")], None),
    ];
    for (case, fleet, want) in cases {
        let r = run(&c, &fleet, &states, MON_0905);
        let next = next_state(&old, &r.schedules[0], &TickResult::default());
        assert_eq!(next.sizes.get("asg:web").copied(), want, "{case}");
    }
    // A state item written before Auto Scaling groups existed still loads.
    let item: ScheduleState =
        serde_json::from_str(r#"{"counts": {"ecs:dev/api": 2}}"#).expect("an old item loads");
    assert!(item.sizes.is_empty());
}

#[test]
fn sizes_saved_by_this_ticks_stop_are_remembered_though_the_final_plan_sees_zero() {
    // GIVEN the tick's stop step as run (1/4/2 saved) and a final plan that sees 0/0/0
    let c = config(DB_ASG);
    let none = HashMap::new();
    let before = run(
        &c,
        &[db("available"), group((1, 4, 2), 2, 2, None)],
        &none,
        MON_1805,
    );
    let mut stop = before.steps[0].clone();
    stop.status = StepStatus::Done;
    let after = run(
        &c,
        &[db("available"), group((0, 0, 0), 0, 0, None)],
        &none,
        MON_1805,
    );
    // WHEN the next state is computed
    let tick = TickResult {
        steps: vec![&stop],
        ..TickResult::default()
    };
    let next = next_state(&ScheduleState::default(), &after.schedules[0], &tick);
    // THEN the saved sizes are kept; a failed stop saves nothing
    assert_eq!(next.sizes.get("asg:web"), Some(&sized(1, 4, 2)));
    stop.failures.push(crate::core::plan::Failure {
        id: "web".into(),
        account: None,
        region: None,
        message: "denied".into(),
        operation: "CreateOrUpdateTags".into(),
        code: "AccessDenied".into(),
    });
    let tick = TickResult {
        steps: vec![&stop],
        ..TickResult::default()
    };
    let next = next_state(&ScheduleState::default(), &after.schedules[0], &tick);
    assert_eq!(next.sizes.get("asg:web"), None);
}

#[test]
fn the_saved_size_tag_reads_only_restorable_sizes() {
    let cases = [
        ("min=1,max=4,desired=2", Some(sized(1, 4, 2))),
        ("desired=2,min=1,max=4", Some(sized(1, 4, 2))),
        (" MIN = 0 , Max=3, desired=3 ", Some(sized(0, 3, 3))),
        ("min=1,max=4", None),
        ("min=1,max=4,desired=2,min=2", None),
        ("min=1,max=4,desired=2,extra=1", None),
        ("min=0,max=0,desired=0", None),
        ("min=3,max=4,desired=2", None),
        ("min=-1,max=4,desired=2", None),
        ("1/4/2", None),
        ("", None),
    ];
    for (text, want) in cases {
        assert_eq!(Sizes::parse(text), want, "{text}");
    }
    assert_eq!(sized(1, 4, 2).to_string(), "min=1,max=4,desired=2");
    assert_eq!(Sizes::to_save(1, 4, 2), Some(sized(1, 4, 2)));
    assert_eq!(Sizes::to_save(0, 4, 0), None);
}

#[test]
fn reports_show_the_sizes() {
    let c = config(DB_ASG);
    let r = run(
        &c,
        &[db("available"), group((1, 4, 2), 2, 2, None)],
        &HashMap::new(),
        MON_1805,
    );
    let web = &r.steps[0].resources[0];
    assert_eq!(web.to_string(), "web (asg, min 1, max 4, desired 2)");
    let json = serde_json::to_value(web).expect("json");
    assert_eq!(
        (&json["kind"], &json["min"], &json["max"], &json["desired"]),
        (&json!("asg"), &json!(1), &json!(4), &json!(2))
    );
}

#[test]
fn instances_of_a_scheduled_group_are_left_to_it_without_a_warning() {
    let c = config(DB_ASG);
    // An instance the group launched: it inherited the schedule (and group) tag.
    let instance = |schedule: &str| {
        let mut r = res(
            "i-web1",
            ResourceKind::Ec2,
            "running",
            schedule,
            Some("WEB"),
        );
        r.tags = r.tags.iter().chain([(ASG_TAG, "web")]).collect();
        r
    };
    // (case, fleet, warning about the instance that contains)
    let cases: Vec<(&str, Vec<Resource>, Option<&str>)> = vec![
        (
            "the group is scheduled by the same tag: nothing to say",
            vec![db("available"), group((1, 4, 2), 2, 2, None), instance("dev")],
            None,
        ),
        (
            "the group is scheduled by another tag: the instance's tag has no effect",
            vec![db("available"), group((1, 4, 2), 2, 2, None), instance("other")],
            Some("is scheduled as a whole with ScheduleName=dev; the instance is left alone and its own tag ScheduleName=other has no effect"),
        ),
        (
            "the group is not scheduled: tag it in an ASG group",
            vec![db("available"), instance("dev")],
            Some("tag the Auto Scaling group 'web' ScheduleName=dev instead (in a group with InstanceType ASG)"),
        ),
    ];
    for (case, fleet, want) in cases {
        let r = run(&c, &fleet, &HashMap::new(), MON_1805);
        // THEN the instance is in no step
        assert!(
            r.steps
                .iter()
                .flat_map(|s| &s.resources)
                .all(|x| x.id != "i-web1"),
            "{case}"
        );
        let said: Vec<&str> = r
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .filter(|m| m.contains("i-web1"))
            .collect();
        match want {
            Some(text) => assert!(
                said.len() == 1 && said[0].contains(text),
                "{case}: {said:?}"
            ),
            None => assert!(said.is_empty(), "{case}: {said:?}"),
        }
    }
}
