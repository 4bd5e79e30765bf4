//! Bounded state over a simulated month of ticks against moto: what a tick reads from the
//! state table does not grow with the chat once-markers that accumulate in it, the items
//! still live (Expires in the future) stay flat, and a configuration error that persists is
//! reported again after the dedup period (`DEDUP_TTL_DAYS`).
//!
//! The once-markers' `Expires` is the wall clock + 14 days when written, and the store
//! compares it with the wall clock. The month is simulated in seconds, so at the end of
//! each simulated day the test moves every stored `Expires` one day back: what a day of wall
//! clock does to them. moto never deletes expired items (DynamoDB's TTL does, within days),
//! so the table holds every marker ever written: the test counts all of them and the live ones.
//!
//! `OFFHOURS_MONTH_DAYS` (default 30) sets the number of simulated days; BENCHMARKS.md has
//! the numbers.

mod common;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{NaiveDate, TimeDelta, Utc};
use common::faults::FaultProxy;
use common::hook::{hook, Hook, Mode};
use common::World;
use offhours::notify::{Notifier, NotifySettings, WebhookFormat};
use offhours::ports::DEDUP_TTL_DAYS;

/// dev: every day with a 15-minute warning; qa: weekdays, a DB -> APP chain, 10-minute
/// warning. (And `broken`, written by hand: see [`month_world`].)
const CONFIG: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 15}
  - {ScheduleName: qa, TagValue: qa, DaysActive: weekdays, StartTime: "08:00", StopTime: "20:00", WarnMinutes: 10}
groups:
  - {ScheduleName: qa, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: qa, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
"#;

/// The ticks of each simulated day (UTC): around every boundary, in every warning window,
/// and quiet ones.
const TICKS: [&str; 8] = [
    "07:00", "08:05", "09:05", "12:00", "17:50", "18:05", "19:55", "20:05",
];

/// Day 0 is a Monday.
fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).expect("date") + TimeDelta::days(i64::from(n))
}

/// What one tick read from DynamoDB: requests per operation, items returned, bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Reads {
    requests: BTreeMap<String, usize>,
    items: usize,
    bytes: usize,
}

impl Reads {
    fn of(proxy: &FaultProxy) -> Reads {
        let mut reads = Reads::default();
        for call in proxy.calls() {
            let Some(items) = call.items else { continue };
            *reads.requests.entry(call.action.clone()).or_default() += 1;
            reads.items += items;
            reads.bytes += call.bytes;
        }
        reads
    }

    fn add(&mut self, other: &Reads) {
        for (op, n) in &other.requests {
            *self.requests.entry(op.clone()).or_default() += n;
        }
        self.items += other.items;
        self.bytes += other.bytes;
    }
}

/// The state table at the end of a day: every item, the live ones (no `Expires`, or one
/// in the future), and the bytes of the schedule states (`schedule#...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Table {
    items: usize,
    live: usize,
    state_bytes: usize,
}

fn ddb(w: &World) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&w.sdk)
}

/// Every item of the state table, straight from moto (not counted as a tick's reads).
async fn state_items(w: &World) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut pages = ddb(w)
        .scan()
        .table_name(&w.settings.state_table)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        items.extend(page.expect("scan").items().iter().cloned());
    }
    items
}

fn expires(item: &std::collections::HashMap<String, AttributeValue>) -> Option<i64> {
    item.get("Expires")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

async fn table(w: &World) -> Table {
    let items = state_items(w).await;
    let now = Utc::now().timestamp();
    let state_bytes = items
        .iter()
        .filter_map(|i| i.get("State").and_then(|s| s.as_s().ok()))
        .map(String::len)
        .sum();
    Table {
        items: items.len(),
        live: items
            .iter()
            .filter(|i| expires(i).is_none_or(|e| e > now))
            .count(),
        state_bytes,
    }
}

/// One simulated day of wall clock for the once-markers: every `Expires` still in the
/// future one day earlier (an expired one stays expired: it is left as it is).
async fn age_one_day(w: &World) {
    let client = ddb(w);
    let table = w.settings.state_table.clone();
    let now = Utc::now().timestamp();
    let updates = state_items(w).await.into_iter().filter_map(|item| {
        let at = expires(&item).filter(|at| *at > now)?;
        let key = item.get("Key")?.clone();
        let (client, table) = (client.clone(), table.clone());
        Some(tokio::spawn(async move {
            client
                .update_item()
                .table_name(table)
                .key("Key", key)
                .update_expression("SET Expires = :e")
                .expression_attribute_values(":e", AttributeValue::N((at - 86_400).to_string()))
                .send()
                .await
                .expect("age a marker");
        }))
    });
    for task in updates.collect::<Vec<_>>() {
        task.await.expect("task");
    }
}

/// The fleet of [`CONFIG`] (everything stopped), plus a schedule `broken` whose StartTime
/// (`25:00`, written in the console: import would refuse it) is a configuration error on
/// every tick; chat to a webhook, ticks through a proxy.
async fn month_world() -> (World, FaultProxy, Hook) {
    let (mut w, proxy) = World::new_with_proxy().await;
    let hook = hook(Mode::Ok).await;
    w.notifier = Notifier::new(NotifySettings {
        webhook_url: Some(hook.url.clone()),
        format: Some(WebhookFormat::Generic),
        ..NotifySettings::default()
    })
    .expect("notifier");
    w.import(CONFIG).await;
    let s = |v: &str| AttributeValue::S(v.into());
    ddb(&w)
        .put_item()
        .table_name(&w.settings.schedule_table)
        .item("ScheduleName", s("broken"))
        .item("TagValue", s("broken"))
        .item("StartTime", s("25:00"))
        .item("StopTime", s("18:00"))
        .send()
        .await
        .expect("put");
    w.ec2(2, "dev", None).await;
    w.rds("qa-db", "qa", Some("DB")).await;
    w.ec2(1, "qa", Some("APP")).await;
    w.stop_all().await;
    (w, proxy, hook)
}

/// Chat messages the hook accepted, per simulated day: (day, kind, schedule).
type Said = Vec<(u32, String, String)>;

/// Runs `days` simulated days of [`TICKS`]; returns each tick's reads (day, tick index),
/// the table at the end of each day, and what chat said.
async fn run_month(w: &World, proxy: &FaultProxy, hook: &Hook, days: u32) -> Month {
    let mut month = Month::default();
    for d in 0..days {
        for (i, time) in TICKS.iter().enumerate() {
            proxy.reset_calls();
            let heard = hook.requests().len();
            let report = w.tick(&format!("{}T{time}:00Z", day(d))).await;
            assert!(
                report.errors.iter().all(|p| p.schedule == "broken"),
                "day {d} {time}: {:?}",
                report.errors
            );
            month.reads.insert((d, i), Reads::of(proxy));
            for r in &hook.requests()[heard..] {
                let field = |f: &str| r.body[f].as_str().unwrap_or_default().to_string();
                month.said.push((d, field("kind"), field("schedule")));
            }
        }
        age_one_day(w).await;
        month.tables.push(table(w).await);
    }
    month
}

#[derive(Default)]
struct Month {
    reads: BTreeMap<(u32, usize), Reads>,
    tables: Vec<Table>,
    said: Said,
}

impl Month {
    /// The reads of days `from..=to`, summed.
    fn reads_of(&self, from: u32, to: u32) -> Reads {
        let mut sum = Reads::default();
        for ((_, _), r) in self.reads.range((from, 0)..=(to, TICKS.len())) {
            sum.add(r);
        }
        sum
    }
}

#[tokio::test]
async fn a_month_of_ticks_reads_the_same_per_tick_in_week_four_as_in_week_one_and_live_state_stays_flat(
) {
    let days: u32 = std::env::var("OFFHOURS_MONTH_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    assert!(days >= 29, "weeks 1 and 4 are days 1-7 and 22-28");
    // GIVEN dev and qa (warned and switched every working day) and a broken schedule
    let (w, proxy, hook) = month_world().await;
    let started = std::time::Instant::now();

    // WHEN a month of ticks runs
    let month = run_month(&w, &proxy, &hook, days).await;
    eprintln!(
        "{days} days x {} ticks in {:?}",
        TICKS.len(),
        started.elapsed()
    );
    // Week 1 is days 1-7 (day 0 creates the states); the last week is the last full week
    // on the same weekdays (days 22-28 of 30).
    let last = 1 + 7 * ((days - 8) / 7);
    let (week1, week_last) = (month.reads_of(1, 7), month.reads_of(last, last + 6));
    eprintln!(
        "reads week 1: {week1:?}\nreads days {last}-{}: {week_last:?}",
        last + 6
    );
    for (i, time) in TICKS.iter().enumerate() {
        eprintln!("day 1 {time}: {:?}", month.reads[&(1, i)]);
    }
    for (d, t) in month.tables.iter().enumerate() {
        eprintln!("end of day {d}: {t:?}");
    }

    // THEN every tick of the last week reads what the same tick of week 1 read: the same
    // requests and the same number of items, though the table holds weeks more markers
    for d in last..last + 7 {
        for (i, time) in TICKS.iter().enumerate() {
            let (then, now) = (&month.reads[&(d - last + 1, i)], &month.reads[&(d, i)]);
            assert_eq!(now.requests, then.requests, "day {d} {time}");
            assert_eq!(now.items, then.items, "day {d} {time}");
        }
    }
    assert_eq!(week_last, week1);
    assert!(month.tables[last as usize + 6].items > month.tables[7].items + 50);

    // AND the live items (what DynamoDB's TTL keeps) stop growing after the dedup period:
    // the last week's peak is the peak of the week before it, and the schedule states
    // do not grow
    let ttl = DEDUP_TTL_DAYS as usize;
    let peak = |from: usize| {
        let week = &month.tables[from..from + 7];
        (
            week.iter().map(|t| t.live).max(),
            week.iter().map(|t| t.state_bytes).max(),
        )
    };
    let (live_last, state_last) = peak(last as usize);
    let (live_before, _) = peak(last as usize - 7);
    assert!(
        last as usize - 7 >= ttl,
        "the week before the last is past the dedup period"
    );
    assert_eq!(live_last, live_before);
    assert_eq!(state_last, peak(1).1);

    // AND the configuration error, which persists, was said once per dedup period
    let broken: Vec<u32> = month
        .said
        .iter()
        .filter(|(_, kind, schedule)| kind == "alert" && schedule == "broken")
        .map(|(d, _, _)| *d)
        .collect();
    let every_period: Vec<u32> = (0..days).step_by(ttl).collect();
    assert_eq!(broken, every_period);
    // AND each stop was warned exactly once: dev every day, qa on weekdays
    let warned = |schedule: &str| {
        month
            .said
            .iter()
            .filter(|(_, kind, s)| kind == "pre_stop_warning" && s == schedule)
            .count()
    };
    let weekdays = (0..days).filter(|d| d % 7 < 5).count();
    assert_eq!((warned("dev"), warned("qa")), (days as usize, weekdays));
}
