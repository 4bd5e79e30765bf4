//! Savings counted by hand for a week, exceptions, DST, overnight windows and price files.

use super::*;
use crate::core::config::{validate, Defaults, RawConfig};
use crate::core::tags::Tags;

fn config(schedules: &str, exceptions: &str) -> Config {
    let yaml = format!("schedules:\n{schedules}\nexceptions:\n{exceptions}");
    let c = validate(
        &RawConfig::parse(&yaml, "test").expect("yaml"),
        &Defaults::default(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    c
}

fn resource(id: &str, kind: ResourceKind, tag: &str, instance_type: Option<&str>) -> Resource {
    Resource {
        id: id.into(),
        kind,
        state: "stopped".into(),
        tags: [("ScheduleName", tag)].into_iter().collect::<Tags>(),
        account: None,
        region: Some("ap-northeast-2".into()),
        engine: None,
        reason: None,
        cluster: None,
        hibernation: false,
        instance_type: instance_type.map(Box::from),
        desired: None,
        running: None,
        min: None,
        max: None,
        instances: None,
    }
}

fn count(config: &Config, resources: &[Resource], from: &str, period: Period) -> Savings {
    let prices = Prices::embedded();
    savings(&SavingsInputs {
        config,
        resources,
        tags: &TagKeys::default(),
        prices: &prices,
        default_region: "ap-northeast-2",
        from: from.parse().expect("date"),
        period,
    })
}

const OFFICE: &str = "  - {ScheduleName: office, TagValue: office, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}";

fn three() -> Vec<Resource> {
    vec![
        resource("i-1", ResourceKind::Ec2, "office", Some("t3.large")),
        resource("i-2", ResourceKind::Ec2, "office", Some("t3.large")),
        resource("db-1", ResourceKind::Rds, "office", Some("db.t3.medium")),
    ]
}

#[test]
fn a_weekday_office_week_runs_135_of_504_instance_hours_and_saves_their_price() {
    let s = count(&config(OFFICE, ""), &three(), "2026-11-23", Period::Week);
    let o = &s.schedules[0];
    // 5 days x 9 h x 3 resources = 135; 7 x 24 x 3 = 504 hours in the week.
    assert_eq!(
        (o.resources, o.hours_running, o.hours_avoided),
        (3, 135.0, 369.0)
    );
    // 123 hours avoided each: 2 x t3.large (0.104 $/h in Seoul) + db.t3.medium (0.1 $/h).
    assert_eq!(
        o.dollars_saved, 37.88,
        "123 x (0.104 + 0.104 + 0.1) = 37.884"
    );
    assert!(o.unpriced.is_empty());
    assert_eq!(s.total.dollars_saved, 37.88);
    let text = s.to_string();
    assert!(
        text.contains("EBS"),
        "stopped storage is said to keep costing: {text}"
    );
}

#[test]
fn a_cancelled_start_on_wednesday_leaves_108_running_hours() {
    let exceptions = "  - {ExceptionUuid: x1, ScheduleName: office, ExceptionDate: '2026-11-25', ExceptionType: start, ExceptionValue: None}";
    let s = count(
        &config(OFFICE, exceptions),
        &three(),
        "2026-11-23",
        Period::Week,
    );
    assert_eq!(s.schedules[0].hours_running, 108.0, "4 days x 9 h x 3");
    assert_eq!(s.schedules[0].hours_avoided, 396.0);
}

#[test]
fn the_week_clocks_go_back_has_169_hours() {
    // New York leaves DST on Sunday 2026-11-01: the week from Monday 2026-10-26 is 169 h.
    let ny = "  - {ScheduleName: ny, TagValue: ny, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: America/New_York}";
    let r = vec![resource("i-1", ResourceKind::Ec2, "ny", None)];
    let s = count(&config(ny, ""), &r, "2026-10-26", Period::Week);
    assert_eq!(
        (s.schedules[0].hours_running, s.schedules[0].hours_avoided),
        (45.0, 124.0)
    );
    assert_eq!(s.schedules[0].dollars_saved, 0.0);
    assert_eq!(s.schedules[0].unpriced, ["i-1 (no type, ap-northeast-2)"]);
}

#[test]
fn overnight_windows_disabled_schedules_and_days_count_what_the_timeline_says() {
    let cfg = config(
        "  - {ScheduleName: night, TagValue: night, DaysActive: weekdays, StartTime: '22:00', StopTime: '06:00', Timezone: UTC}\n  - {ScheduleName: off, TagValue: off, Enabled: false, StartTime: '09:00', StopTime: '18:00', Timezone: UTC}",
        "",
    );
    let r = vec![
        resource("i-n", ResourceKind::Ec2, "night", Some("t3.micro")),
        resource("i-o", ResourceKind::Ec2, "off", Some("t3.micro")),
    ];
    let week = count(&cfg, &r, "2026-11-23", Period::Week);
    assert_eq!(week.schedules[0].hours_running, 40.0, "five 8-hour nights");
    assert_eq!(
        week.schedules[1].hours_avoided, 0.0,
        "a disabled schedule saves nothing"
    );
    // Tuesday: runs 00:00-06:00 (Monday's night) and 22:00-24:00.
    let day = count(&cfg, &r, "2026-11-24", Period::Day);
    assert_eq!(
        (
            day.schedules[0].hours_running,
            day.schedules[0].hours_avoided
        ),
        (8.0, 16.0)
    );
    let month = count(&cfg, &r, "2026-11-01", Period::Month);
    assert_eq!(
        month.schedules[1].hours_running, 720.0,
        "30 days of November"
    );
}

#[test]
fn gone_auto_scaling_and_other_schedules_resources_do_not_count() {
    let mut r = three();
    r[0].state = "terminated".into();
    r.push(resource(
        "i-other",
        ResourceKind::Ec2,
        "elsewhere",
        Some("t3.large"),
    ));
    let mut asg = resource("i-asg", ResourceKind::Ec2, "office", Some("t3.large"));
    asg.tags = [
        ("ScheduleName", "office"),
        ("aws:autoscaling:groupName", "web"),
    ]
    .into_iter()
    .collect();
    r.push(asg);
    let s = count(&config(OFFICE, ""), &r, "2026-11-23", Period::Week);
    assert_eq!(s.schedules[0].resources, 2);
}

#[test]
fn an_aurora_cluster_costs_what_its_instances_cost() {
    let mut member = resource("db-a1", ResourceKind::Rds, "-", Some("db.r5.large"));
    member.tags = Tags::default();
    member.cluster = Some("aurora-1".into());
    let r = vec![
        resource("aurora-1", ResourceKind::Aurora, "office", None),
        member,
    ];
    let s = count(&config(OFFICE, ""), &r, "2026-11-23", Period::Week);
    assert_eq!(s.schedules[0].resources, 1);
    assert_eq!(
        s.schedules[0].dollars_saved, 35.67,
        "123 h x 0.29 $/h = 35.67"
    );
}

#[test]
fn price_files_in_csv_or_json_override_and_bad_rows_name_line_and_field() {
    let mut p = Prices::embedded();
    assert!(p.len() >= 70, "{}", p.len());
    assert_eq!(p.get("ap-northeast-2", "t3.large"), Some(0.104));
    let n = p
        .add_file(
            "region,type,usd_per_hour\n# mine\nap-northeast-2,t3.large,0.2\n",
            "mine.csv",
        )
        .expect("csv");
    assert_eq!((n, p.get("ap-northeast-2", "t3.large")), (1, Some(0.2)));
    p.add_file(
        r#"[{"region": "eu-north-1", "type": "m5.large", "usd_per_hour": 0.102}]"#,
        "p.json",
    )
    .expect("json");
    assert_eq!(p.get("eu-north-1", "m5.large"), Some(0.102));
    let e = p
        .add_file("us-east-1,t3.micro,cheap\n", "bad.csv")
        .expect_err("bad");
    assert!(
        e.to_string().contains("bad.csv line 1") && e.to_string().contains("usd_per_hour"),
        "{e}"
    );
    let e = p
        .add_file("us-east-1,t3.micro\n", "short.csv")
        .expect_err("short");
    assert!(e.to_string().contains("2 columns"), "{e}");
    let e = p
        .add_file(
            r#"[{"region": "x", "type": "y", "usd_per_hour": -1}]"#,
            "neg.json",
        )
        .expect_err("negative");
    assert!(e.to_string().contains("neg.json"), "{e}");
}

#[test]
fn periods_start_on_today_its_monday_or_its_first_and_end_a_day_week_or_month_later() {
    let d = |s: &str| s.parse::<NaiveDate>().expect("date");
    assert_eq!(Period::Week.start_of(d("2026-11-29")), d("2026-11-23"));
    assert_eq!(Period::Month.start_of(d("2026-11-29")), d("2026-11-01"));
    assert_eq!(Period::Day.start_of(d("2026-11-29")), d("2026-11-29"));
    assert_eq!(Period::Month.end(d("2026-01-31")), d("2026-02-28"));
    assert_eq!(Period::Week.end(d("2026-11-23")), d("2026-11-30"));
}

#[test]
fn the_json_shape_is_the_documented_one() {
    let s = count(&config(OFFICE, ""), &three(), "2026-11-23", Period::Week);
    let v = serde_json::to_value(&s).expect("json");
    assert_eq!(v["period"], "week");
    assert_eq!(v["from"], "2026-11-23");
    for k in [
        "schedule",
        "resources",
        "hours_running",
        "hours_avoided",
        "dollars_saved",
    ] {
        assert!(v["schedules"][0].get(k).is_some(), "{k}");
    }
    for k in [
        "resources",
        "hours_running",
        "hours_avoided",
        "dollars_saved",
    ] {
        assert!(v["total"].get(k).is_some(), "{k}");
    }
}
