//! Planning throughput: 100k resources across 5k schedules (each with a 4-group chain).

use std::collections::HashMap;
use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use offhours::core::config::{validate, Defaults, RawConfig, ResourceKind};
use offhours::core::planner::{plan, Inputs, Resource, ScheduleState, TagKeys};

const SCHEDULES: usize = 5_000;
const PER_SCHEDULE: usize = 20;

fn config_yaml() -> String {
    let mut y = String::from("schedules:\n");
    for i in 0..SCHEDULES {
        let tz = ["Asia/Seoul", "America/New_York", "Europe/Berlin", "UTC"][i % 4];
        y.push_str(&format!(
            "  - {{ScheduleName: s{i}, TagValue: t{i}, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: {tz}}}\n"
        ));
    }
    y.push_str("groups:\n");
    for i in 0..SCHEDULES {
        y.push_str(&format!(
            "  - {{ScheduleName: s{i}, GroupName: DB, InstanceType: RDS}}\n  - {{ScheduleName: s{i}, GroupName: API, InstanceType: EC2, Dependency: [DB]}}\n  - {{ScheduleName: s{i}, GroupName: CACHE, InstanceType: EC2, Dependency: [DB]}}\n  - {{ScheduleName: s{i}, GroupName: BATCH, InstanceType: EC2, Dependency: [API, CACHE]}}\n"
        ));
    }
    y.push_str("exceptions:\n  - {ExceptionUuid: h, ScheduleName: '*', ExceptionDate: '2026-12-25', ExceptionType: start, ExceptionValue: None}\n");
    y
}

fn fleet() -> Vec<Resource> {
    let mut out = Vec::with_capacity(SCHEDULES * PER_SCHEDULE);
    for i in 0..SCHEDULES {
        for j in 0..PER_SCHEDULE {
            let (kind, group, state) = match j {
                0 => (ResourceKind::Rds, "DB", "stopped"),
                1..=8 => (ResourceKind::Ec2, "API", "stopped"),
                9..=12 => (ResourceKind::Ec2, "CACHE", "stopped"),
                _ => (ResourceKind::Ec2, "BATCH", "stopped"),
            };
            out.push(Resource {
                id: format!("r-{i}-{j}").into(),
                kind,
                state: state.into(),
                tags: [
                    ("ScheduleName", format!("t{i}")),
                    ("ScheduleGroupName", group.to_string()),
                ]
                .into_iter()
                .collect(),
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
            });
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let raw = RawConfig::parse(&config_yaml(), "bench").unwrap_or_default();
    let config = validate(&raw, &Defaults::default());
    assert_eq!(config.schedules.len(), SCHEDULES);
    let resources = fleet();
    let states: HashMap<String, ScheduleState> = HashMap::new();
    let tags = TagKeys::default();
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T09:05:00+09:00")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    let mut group = c.benchmark_group("plan");
    group.sample_size(10);
    group.bench_function("100k_resources_5k_schedules", |b| {
        b.iter(|| {
            let report = plan(black_box(&Inputs {
                now,
                config: &config,
                resources: &resources,
                gaps: &[],
                states: &states,
                tags: &tags,
                report_timezone: chrono_tz::Asia::Seoul,
            }));
            assert!(!report.steps.is_empty());
            report
        })
    });
    group.bench_function("validate_5k_schedules", |b| {
        b.iter(|| validate(black_box(&raw), &Defaults::default()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
