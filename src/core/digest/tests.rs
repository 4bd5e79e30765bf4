//! Digest tests: when it is due (late ticks, the day's end, timezones, DST), last week's figures by hand, and next week's exceptions and holidays.

use super::*;
use crate::core::config::{validate, DigestAt, RawConfig, ResourceKind};
use crate::core::tags::Tags;

fn config(schedules: &str, exceptions: &str) -> Config {
    let yaml = format!("schedules:\n{schedules}\nexceptions:\n{exceptions}");
    let c = validate(
        &RawConfig::parse(&yaml, "test").expect("yaml"),
        &crate::core::config::Defaults::default(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    c
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn resource(id: &str, tag: &str, instance_type: &str) -> Resource {
    Resource {
        id: id.into(),
        kind: if instance_type.starts_with("db.") {
            ResourceKind::Rds
        } else {
            ResourceKind::Ec2
        },
        state: "stopped".into(),
        tags: [("ScheduleName", tag)].into_iter().collect::<Tags>(),
        account: None,
        region: Some("ap-northeast-2".into()),
        engine: None,
        reason: None,
        cluster: None,
        hibernation: false,
        instance_type: Some(instance_type.into()),
        desired: None,
        running: None,
        min: None,
        max: None,
        instances: None,
    }
}

const OFFICE: &str = "  - {ScheduleName: office, TagValue: office, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul, Digest: 'on'}";
const BERLIN: &str = "  - {ScheduleName: berlin, TagValue: berlin, DaysActive: weekdays, StartTime: '08:00', StopTime: '20:00', Timezone: Europe/Berlin, Digest: 'Fri 17:30'}";
const QUIET: &str = "  - {ScheduleName: quiet, TagValue: quiet, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}";

#[test]
fn due_from_its_local_time_until_that_local_day_ends() {
    let c = config(&[OFFICE, BERLIN, QUIET].join("\n"), "");
    let office = c.schedule("office").expect("office");
    let berlin = c.schedule("berlin").expect("berlin");
    let quiet = c.schedule("quiet").expect("quiet");
    // (schedule, now, local date it is due on)
    let cases = [
        // Monday 2026-11-30 in Seoul (UTC+9): 09:00 KST is 00:00 UTC.
        (office, "2026-11-29T23:59:00Z", None),
        (office, "2026-11-30T00:00:00Z", Some("2026-11-30")),
        (office, "2026-11-30T00:04:00Z", Some("2026-11-30")),
        (office, "2026-11-30T02:00:00Z", Some("2026-11-30")), // 11:00 KST: late, still due
        (office, "2026-11-30T14:59:00Z", Some("2026-11-30")), // 23:59 KST
        (office, "2026-11-30T15:00:00Z", None),               // Tuesday 00:00 KST: stale
        (office, "2026-12-07T00:05:00Z", Some("2026-12-07")),
        // Friday 2026-12-04 in Berlin (UTC+1): 17:30 CET is 16:30 UTC.
        (berlin, "2026-12-04T16:29:00Z", None),
        (berlin, "2026-12-04T16:30:00Z", Some("2026-12-04")),
        (berlin, "2026-12-04T22:59:00Z", Some("2026-12-04")),
        (berlin, "2026-12-04T23:00:00Z", None),
        (berlin, "2026-11-30T16:30:00Z", None), // a Monday
        (quiet, "2026-11-30T00:05:00Z", None),  // Digest off
    ];
    for (schedule, now, expected) in cases {
        let got = due(schedule, at(now)).map(|m| m.date_naive().to_string());
        assert_eq!(got.as_deref(), expected, "{} at {now}", schedule.name);
    }
}

#[test]
fn a_digest_time_in_the_spring_forward_gap_is_due_after_the_gap() {
    // Berlin springs forward on Sunday 2027-03-28 at 02:00 -> 03:00.
    let c = config(
        "  - {ScheduleName: night, TagValue: n, Timezone: Europe/Berlin, Digest: 'Sun 02:30'}",
        "",
    );
    let s = &c.schedules[0];
    assert_eq!(due(s, at("2027-03-28T00:59:00Z")), None);
    let m = due(s, at("2027-03-28T01:00:00Z")).expect("due at 03:00 CEST");
    assert_eq!(m.to_rfc3339(), "2027-03-28T03:00:00+02:00");
}

#[test]
fn last_week_is_counted_by_hand_and_only_due_schedules_get_one() {
    // GIVEN office (weekdays 09:00-18:00, Seoul, Digest on) with two t3.large and a
    // db.t3.medium, and quiet (no digest) with one box
    let c = config(&[OFFICE, QUIET].join("\n"), "");
    let resources = vec![
        resource("i-1", "office", "t3.large"),
        resource("i-2", "office", "t3.large"),
        resource("db-1", "office", "db.t3.medium"),
        resource("i-9", "quiet", "t3.large"),
    ];
    let prices = Prices::embedded();
    let tags = TagKeys::default();
    let inputs = |now| DigestInputs {
        config: &c,
        resources: &resources,
        tags: &tags,
        prices: &prices,
        default_region: "ap-northeast-2",
        now,
    };
    // WHEN the tick of Monday 2026-11-30 09:05 KST looks for digests
    let digests = due_digests(&inputs(at("2026-11-30T00:05:00Z")));
    // THEN office's covers Mon 2026-11-23 .. Sun 11-29: 5 x 9 h x 3 = 135 running, 504 -
    // 135 = 369 avoided, 123 h x (0.104 + 0.104 + 0.1) $/h = 37.88 saved
    assert_eq!(digests.len(), 1, "{digests:?}");
    let d = &digests[0];
    assert_eq!(d.schedule, "office");
    assert_eq!(d.date.to_string(), "2026-11-30");
    assert_eq!(d.due_at.to_rfc3339(), "2026-11-30T09:00:00+09:00");
    assert_eq!(
        (d.last_week.from.to_string(), d.last_week.to.to_string()),
        ("2026-11-23".into(), "2026-11-29".into())
    );
    let s = &d.savings;
    assert_eq!(
        (
            s.resources,
            s.hours_running,
            s.hours_avoided,
            s.dollars_saved
        ),
        (3, 135.0, 369.0, 37.88)
    );
    assert_eq!(
        (d.next_week.from.to_string(), d.next_week.to.to_string()),
        ("2026-11-30".into(), "2026-12-06".into())
    );
    // AND no digest on Sunday, nor for quiet
    assert!(due_digests(&inputs(at("2026-11-29T00:05:00Z"))).is_empty());
}

#[test]
fn next_week_lists_exceptions_and_holidays_the_schedules_own_first() {
    // GIVEN a holiday import for every schedule on Wednesday, an office exception that
    // overrides a `*` one on Thursday, a make-up Saturday, and an exception out of range
    let exceptions = [
        "  - {ExceptionUuid: 'ics:KR-holidays:*:2026-12-02:x@cal', ScheduleName: '*', ExceptionDate: '2026-12-02', ExceptionType: start, ExceptionValue: None}",
        "  - {ExceptionUuid: star-thu, ScheduleName: '*', ExceptionDate: '2026-12-03', ExceptionType: stop, ExceptionValue: '16:00'}",
        "  - {ExceptionUuid: own-thu, ScheduleName: office, ExceptionDate: '2026-12-03', ExceptionType: stop, ExceptionValue: '20:00'}",
        "  - {ExceptionUuid: makeup, ScheduleName: office, ExceptionDate: '2026-12-05', ExceptionType: start, ExceptionValue: '10:00'}",
        "  - {ExceptionUuid: later, ScheduleName: office, ExceptionDate: '2026-12-07', ExceptionType: start, ExceptionValue: None}",
    ]
    .join("\n");
    let c = config(OFFICE, &exceptions);
    let week = Week::starting("2026-11-30".parse().expect("date"));
    // WHEN the coming week is listed
    let got: Vec<String> = upcoming(&c.schedules[0], week)
        .iter()
        .map(|u| {
            format!(
                "{} {} {} {:?} {}",
                u.date,
                u.action,
                u.time.as_deref().unwrap_or("None"),
                u.holiday,
                u.extra_day
            )
        })
        .collect();
    // THEN
    assert_eq!(
        got,
        [
            "2026-12-02 start None Some(\"KR-holidays\") false",
            "2026-12-03 stop 20:00 None false",
            "2026-12-05 start 10:00 None true",
        ]
    );
    assert_eq!(
        c.schedules[0].digest,
        Some(DigestAt::default_at()),
        "Digest: on is Monday 09:00"
    );
}
