//! Against moto, with ticks at chosen instants: a resource tagged to be skipped until a date
//! is left alone until then and scheduled after it (an unparsable date is a warning), and a
//! database AWS starts by itself seven days after offhours stopped it is stopped again while
//! one started by hand is respected.

mod common;

use common::World;
use offhours::core::plan::Report;

/// Weekdays 09:00-18:00 UTC: DB (RDS) <- APP (EC2).
const CHAIN: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
"#;

/// `nightly`: a stop every evening at 18:00 UTC, no start. `weekly`: a stop on Mondays at
/// 18:00, none on 2026-11-30, so it stays in the phase of 2026-11-23's stop for 8 days.
const STOPPED_FOR_DAYS: &str = r#"
schedules:
  - {ScheduleName: nightly, TagValue: nightly, StopTime: "18:00", WarnMinutes: 0}
  - {ScheduleName: weekly, TagValue: weekly, DaysActive: mon, StopTime: "18:00", WarnMinutes: 0}
exceptions:
  - {ExceptionUuid: no-stop, ScheduleName: weekly, ExceptionDate: "2026-11-30", ExceptionType: stop, ExceptionValue: None}
"#;

async fn tag_instance(w: &World, id: &str, key: &str, value: &str) {
    aws_sdk_ec2::Client::new(&w.sdk)
        .create_tags()
        .resources(id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key(key)
                .value(value)
                .build(),
        )
        .send()
        .await
        .expect("create tags");
}

async fn start_db(w: &World, id: &str) {
    aws_sdk_rds::Client::new(&w.sdk)
        .start_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("start db instance");
}

/// `group action status` of the steps acted on.
fn acted(report: &Report) -> Vec<String> {
    common::summary(report)
        .into_iter()
        .filter(|s| !s.ends_with("blocked"))
        .collect()
}

#[tokio::test]
async fn skipped_until_tomorrow_is_left_alone_then_stopped_the_day_after() {
    // GIVEN a running chain; one APP box is kept up through Tuesday, another has a typo
    let w = World::new().await;
    w.import(CHAIN).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let app = w.ec2(2, "dev", Some("APP")).await;
    let (kept, typo) = (&app[0], &app[1]);
    tag_instance(&w, kept, "offhours:skip-until", "2026-11-24").await;
    tag_instance(&w, typo, "offhours:skip-until", "24.11.2026").await;

    // WHEN Monday's stop passes
    let t = w.tick("2026-11-23T18:01:00Z").await;
    // THEN the kept box runs, reported as skipped with its date; the DB waits for it
    let states = w.states().await;
    assert_eq!(states[kept], "running");
    assert_eq!(states["dev-db"], "available");
    let skipped: Vec<(&str, String)> = t
        .skipped
        .iter()
        .map(|s| (s.resource.id.as_str(), s.until.to_rfc3339()))
        .collect();
    assert_eq!(
        skipped,
        [(kept.as_str(), "2026-11-25T00:00:00+00:00".into())]
    );
    assert!(t.to_string().contains("until 2026-11-25 00:00 +00:00"));
    // AND the box with an unparsable date is warned about and stopped as usual
    assert_eq!(states[typo], "stopped");
    let warned = t.warnings.iter().any(|p| {
        p.message.contains(typo.as_str())
            && p.message.contains("offhours:skip-until")
            && p.message.contains("24.11.2026")
    });
    assert!(warned, "{:?}", t.warnings);

    // WHEN Tuesday's start and stop pass, THEN the kept box is still left alone
    w.tick("2026-11-24T09:01:00Z").await;
    assert_eq!(w.states().await[typo], "running");
    let t = w.tick("2026-11-24T18:01:00Z").await;
    assert_eq!(w.states().await[kept], "running");
    assert_eq!(t.skipped.len(), 1);
    assert!(acted(&w.tick("2026-11-24T23:55:00Z").await).is_empty());

    // WHEN Tuesday is over, THEN the box stops, then the DB, with no one removing the tag
    let t = w.tick("2026-11-25T00:05:00Z").await;
    assert_eq!(acted(&t), ["APP stop done"]);
    assert!(t.skipped.is_empty());
    assert_eq!(
        acted(&w.tick("2026-11-25T00:10:00Z").await),
        ["DB stop done"]
    );
    assert_eq!(w.states().await["dev-db"], "stopped");
}

#[tokio::test]
async fn database_started_by_aws_after_seven_days_is_stopped_again_one_started_by_hand_is_not() {
    // GIVEN two databases that offhours stops on Monday 2026-11-23 at 18:01
    let w = World::new().await;
    w.import(STOPPED_FOR_DAYS).await;
    w.rds("aws-db", "nightly", None).await;
    w.rds("hand-db", "weekly", None).await;
    w.tick("2026-11-23T18:01:00Z").await;
    let states = w.states().await;
    assert_eq!(
        (&*states["aws-db"], &*states["hand-db"]),
        ("stopped", "stopped")
    );

    // WHEN someone starts hand-db by hand two days later
    start_db(&w, "hand-db").await;
    let t = w.tick("2026-11-25T10:05:00Z").await;
    // THEN it is respected (Enforced is false)
    assert!(acted(&t).is_empty(), "{:?}", t.steps);

    // AND seven days and 23 hours after the stop, hand-db (up since day two) is left alone
    let t = w.tick("2026-12-01T17:00:00Z").await;
    assert!(acted(&t).is_empty(), "{:?}", t.steps);
    assert_eq!(w.states().await["hand-db"], "available");

    // WHEN AWS starts aws-db eight days after the stop, right after a quiet stop boundary
    w.tick("2026-12-01T18:01:00Z").await;
    start_db(&w, "aws-db").await;
    let t = w.tick("2026-12-01T18:06:00Z").await;
    // THEN it is stopped again, and the report says why
    assert_eq!(acted(&t), [" stop done"]);
    assert_eq!(t.steps[0].resources[0].id, "aws-db");
    let why = t.warnings.iter().find(|p| {
        p.message
            .contains("stopped again after RDS's automatic 7-day start")
    });
    assert!(
        why.is_some_and(|p| p.message.starts_with("aws-db (rds")),
        "{:?}",
        t.warnings
    );
    assert_eq!(w.states().await["aws-db"], "stopped");
}
