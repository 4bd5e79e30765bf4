//! Planner tests: a region or service that cannot be observed holds back only the groups
//! that have (or may have) members there, and the state remembers where groups live.

use std::collections::BTreeSet;

use super::*;

const SEOUL: &str = "ap-northeast-2";
const VIRGINIA: &str = "us-east-1";

fn placed(mut r: Resource, region: &str) -> Resource {
    r.region = Some(region.into());
    r
}

fn gap(region: &str, service: &str) -> Gap {
    Gap {
        account: None,
        region: region.into(),
        service: service.into(),
        operation: "Describe".into(),
        code: "RequestTimeout".into(),
        role: None,
    }
}

fn homes(pairs: &[(&str, &[&str])]) -> ScheduleState {
    ScheduleState {
        homes: pairs
            .iter()
            .map(|(g, rs)| (g.to_string(), rs.iter().map(|r| r.to_string()).collect()))
            .collect(),
        ..ScheduleState::default()
    }
}

fn plan_with(resources: &[Resource], gaps: &[Gap], state: ScheduleState, now: &str) -> Report {
    let c = config(CHAIN);
    let states = HashMap::from([("dev".to_string(), state)]);
    plan(&Inputs {
        now: at(now),
        config: &c,
        resources,
        gaps,
        states: &states,
        tags: &TagKeys::default(),
        report_timezone: chrono_tz::Asia::Seoul,
    })
}

/// The CHAIN fleet, everything in Seoul.
fn seoul(rds: &str, api: &str, cache: &str, batch: &str) -> Vec<Resource> {
    fleet(rds, api, cache, batch)
        .into_iter()
        .map(|r| placed(r, SEOUL))
        .collect()
}

/// (name, fleet, the gap, the stored state, when, expected steps).
type Case<'a> = (
    &'a str,
    Vec<Resource>,
    Gap,
    ScheduleState,
    &'a str,
    Vec<&'a str>,
);

#[test]
fn a_gap_holds_back_only_groups_that_live_where_it_is() {
    let all_known: &[(&str, &[&str])] = &[
        ("DB", &[SEOUL]),
        ("API", &[SEOUL]),
        ("CACHE", &[SEOUL]),
        ("BATCH", &[SEOUL]),
    ];
    let cases: Vec<Case> = vec![
        (
            "start, DB's home unknown: a gap of its kind anywhere holds its dependents",
            seoul("available", "stopped", "stopped", "stopped"),
            gap(VIRGINIA, "rds"),
            ScheduleState::default(),
            MON_0905,
            vec![
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "start, DB known to live in Seoul: Virginia's RDS gap holds nothing",
            seoul("available", "stopped", "stopped", "stopped"),
            gap(VIRGINIA, "rds"),
            homes(all_known),
            MON_0905,
            vec![
                "API:start:ready",
                "CACHE:start:ready",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "start, DB has a member in Virginia too: its dependents wait",
            seoul("available", "stopped", "stopped", "stopped"),
            gap(VIRGINIA, "rds"),
            homes(&[("DB", &[SEOUL, VIRGINIA])]),
            MON_0905,
            vec![
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "stop, EC2 groups known to live in Seoul: Virginia's EC2 gap lets the DB stop",
            seoul("available", "stopped", "stopped", "stopped"),
            gap(VIRGINIA, "ec2"),
            homes(all_known),
            MON_1805,
            vec!["DB:stop:ready"],
        ),
        (
            "stop, API's home unknown: the DB stays up",
            seoul("available", "stopped", "stopped", "stopped"),
            gap(VIRGINIA, "ec2"),
            homes(&[("DB", &[SEOUL]), ("CACHE", &[SEOUL]), ("BATCH", &[SEOUL])]),
            MON_1805,
            vec!["DB:stop:blocked[API]"],
        ),
    ];
    for (name, resources, g, state, now, want) in cases {
        let report = plan_with(&resources, &[g], state, now);
        assert_eq!(steps(&report), want, "{name}");
        assert!(report.partial, "{name}");
    }
}

#[test]
fn homes_are_exact_where_observed_and_kept_where_not() {
    let set = |rs: &[&str]| {
        rs.iter()
            .map(|r| r.to_string())
            .collect::<BTreeSet<String>>()
    };
    let mut resources = seoul("available", "running", "running", "running");
    resources.push(placed(
        res("db2", ResourceKind::Rds, "available", "dev", Some("DB")),
        VIRGINIA,
    ));
    let clear = plan_with(&resources, &[], ScheduleState::default(), MON_0905);
    let h = &clear.schedules[0].homes;
    assert_eq!(h["DB"], set(&[SEOUL, VIRGINIA]));
    assert_eq!(h["API"], set(&[SEOUL]));

    // Virginia's RDS is unseen: the DB keeps its Virginia home from before, and an API
    // member that moved away from Virginia (EC2 observed fine there) is forgotten there.
    let before = homes(&[("DB", &[SEOUL, VIRGINIA]), ("API", &[SEOUL, VIRGINIA])]);
    let partial = plan_with(&resources[..4], &[gap(VIRGINIA, "rds")], before, MON_0905);
    let h = &partial.schedules[0].homes;
    assert_eq!(h["DB"], set(&[SEOUL, VIRGINIA]));
    assert_eq!(h["API"], set(&[SEOUL]));

    // Unknown before and hidden now: still unknown. A member without a region: unknown.
    let unknown = plan_with(
        &resources[..4],
        &[gap(VIRGINIA, "rds")],
        ScheduleState::default(),
        MON_0905,
    );
    assert!(!unknown.schedules[0].homes.contains_key("DB"));
    let nowhere = plan_with(
        &fleet("available", "running", "running", "running"),
        &[],
        ScheduleState::default(),
        MON_0905,
    );
    assert!(nowhere.schedules[0].homes.is_empty());

    // The state table keeps it.
    let next = next_state(
        &ScheduleState::default(),
        &clear.schedules[0],
        &TickResult {
            now: at(MON_0905),
            ..TickResult::default()
        },
    );
    assert_eq!(next.homes, clear.schedules[0].homes);
}

/// A gap of the spoke account `account`: one region, or `*` (its role was refused).
fn spoke_gap(account: &str, region: &str, service: &str) -> Gap {
    Gap {
        account: Some(account.into()),
        role: (region == "*").then(|| format!("arn:aws:iam::{account}:role/offhours-spoke")),
        ..gap(region, service)
    }
}

#[test]
fn a_refused_account_holds_back_only_groups_that_live_in_it() {
    // DB lives in account 111 (Seoul); API, CACHE and BATCH in account 222 (Seoul).
    let mut resources = seoul("available", "stopped", "stopped", "stopped");
    for r in &mut resources {
        let account = if r.kind == ResourceKind::Rds {
            "111111111111"
        } else {
            "222222222222"
        };
        r.account = Some(account.into());
    }
    let clear = plan_with(&resources, &[], ScheduleState::default(), MON_0905);
    let h = &clear.schedules[0].homes;
    assert_eq!(
        h["DB"],
        BTreeSet::from(["111111111111/ap-northeast-2".to_string()])
    );
    assert_eq!(
        h["API"],
        BTreeSet::from(["222222222222/ap-northeast-2".to_string()])
    );
    let known = clear.schedules[0].homes.clone();
    let state = || ScheduleState {
        homes: known.clone(),
        ..ScheduleState::default()
    };
    let cases: Vec<(&str, Gap, Vec<&str>)> = vec![
        (
            "account 333 refused: lives nowhere here, holds nothing",
            spoke_gap("333333333333", "*", "sts"),
            vec![
                "API:start:ready",
                "CACHE:start:ready",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "account 111 refused (the DB's): its dependents wait, whatever the service",
            spoke_gap("111111111111", "*", "sts"),
            vec![
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "account 222's RDS unseen in Seoul: the DB lives in 111, nothing waits",
            spoke_gap("222222222222", SEOUL, "rds"),
            vec![
                "API:start:ready",
                "CACHE:start:ready",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
        (
            "the own account's RDS unseen in Seoul: not where the DB lives",
            gap(SEOUL, "rds"),
            vec![
                "API:start:ready",
                "CACHE:start:ready",
                "BATCH:start:blocked[API,CACHE]",
            ],
        ),
    ];
    for (name, g, want) in cases {
        // The DB seen up (when its account is readable), the rest down.
        let seen: Vec<Resource> = resources
            .iter()
            .filter(|r| !(g.region == "*" && r.account.as_deref() == g.account.as_deref()))
            .cloned()
            .collect();
        let report = plan_with(&seen, std::slice::from_ref(&g), state(), MON_0905);
        assert_eq!(steps(&report), want, "{name}");
        // The refused account's homes are kept for the next tick, not forgotten.
        if g.region == "*" {
            assert_eq!(report.schedules[0].homes, known, "{name}");
        }
    }
}

#[test]
fn a_refused_account_is_one_error_naming_the_account_and_the_role() {
    let resources = seoul("available", "running", "running", "running");
    let report = plan_with(
        &resources,
        &[spoke_gap("222222222222", "*", "sts")],
        ScheduleState::default(),
        MON_0905,
    );
    let errors: Vec<&str> = report.errors.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "account 222222222222: Describe of role arn:aws:iam::222222222222:role/offhours-spoke failed with RequestTimeout; nothing in this account is seen"
        ),
        "{errors:?}"
    );
}
