//! The weekly digest end to end: the real tick, every 5 minutes over a simulated month, with
//! a real webhook listener on 127.0.0.1; and its once-marker in the DynamoDB state table
//! (moto). Exactly one digest per week per schedule with `Digest` on, none without, at
//! the right local time in two timezones, late ticks, a retried tick and a webhook outage
//! included, with last week's hours counted by hand.

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use common::hook::{hook, Mode, Recorded};
use offhours::app::tick::Tick;
use offhours::aws::executor::Options;
use offhours::core::config::RawConfig;
use offhours::core::inventory::parse_inventory;
use offhours::core::plan::ResourceRef;
use offhours::core::planner::Resource;
use offhours::error::Result;
use offhours::notify::{DeliveryPolicy, Notifier, NotifySettings};
use offhours::ports::{Cloud, Dedup, MemoryStore, Outcome, Settings};
use serde_json::Value;

/// seoul: weekdays 09:00-18:00 in Seoul, digest on (Monday 09:00); berlin: weekdays
/// 08:00-20:00 in Berlin, digest Friday 17:30; quiet: no digest. A public holiday for
/// every schedule on Wednesday 2026-11-25 (an imported one: `ics:` id).
const CONFIG: &str = r#"
schedules:
  - {ScheduleName: seoul, TagValue: seoul, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", Timezone: Asia/Seoul, Digest: "on"}
  - {ScheduleName: berlin, TagValue: berlin, DaysActive: weekdays, StartTime: "08:00", StopTime: "20:00", Timezone: Europe/Berlin, Digest: "Fri 17:30"}
  - {ScheduleName: quiet, TagValue: quiet, StartTime: "09:00", StopTime: "18:00", Timezone: Asia/Seoul}
exceptions:
  - {ExceptionUuid: "ics:KR-holidays:*:2026-11-25:h1@example", ScheduleName: "*", ExceptionDate: "2026-11-25", ExceptionType: start, ExceptionValue: None}
"#;

const INVENTORY: &str = r#"
resources:
  - {id: i-s1, kind: ec2, state: stopped, type: t3.large, region: ap-northeast-2, tags: {ScheduleName: seoul}}
  - {id: i-s2, kind: ec2, state: stopped, type: t3.large, region: ap-northeast-2, tags: {ScheduleName: seoul}}
  - {id: db-s, kind: rds, state: stopped, type: db.t3.medium, region: ap-northeast-2, tags: {ScheduleName: seoul}}
  - {id: i-b1, kind: ec2, state: stopped, type: t3.large, region: eu-central-1, tags: {ScheduleName: berlin}}
  - {id: i-q1, kind: ec2, state: stopped, type: t3.large, region: ap-northeast-2, tags: {ScheduleName: quiet}}
"#;

/// A cloud whose starts and stops take effect at once.
struct InstantCloud(Mutex<Vec<Resource>>);

impl InstantCloud {
    fn set(&self, refs: &[ResourceRef], ec2: &str, rds: &str) -> Vec<Outcome> {
        let mut all = self.0.lock().expect("lock");
        for r in all.iter_mut() {
            if refs.iter().any(|x| x.id == r.id.as_str()) {
                let state = if r.kind == offhours::core::config::ResourceKind::Rds {
                    rds
                } else {
                    ec2
                };
                r.state = state.into();
            }
        }
        refs.iter()
            .map(|r| Outcome {
                resource: r.clone(),
                error: None,
            })
            .collect()
    }
}

impl Cloud for InstantCloud {
    async fn observe(&self) -> Result<Vec<Resource>> {
        Ok(self.0.lock().expect("lock").clone())
    }
    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.set(resources, "running", "available")
    }
    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.set(resources, "stopped", "stopped")
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn notifier(url: &str) -> Notifier {
    Notifier::new(NotifySettings {
        webhook_url: Some(url.to_string()),
        policy: DeliveryPolicy {
            attempt_timeout: Duration::from_secs(2),
            retries: 0,
            backoff: Duration::from_millis(10),
            total: Duration::from_secs(2),
        },
        ..NotifySettings::default()
    })
    .expect("notifier")
}

fn options() -> Options {
    Options {
        dry_run: false,
        max_wait: Duration::ZERO,
        poll: Duration::ZERO,
        deadline: None,
    }
}

fn digests_in(requests: &[Recorded]) -> Vec<&Value> {
    requests
        .iter()
        .map(|r| &r.body)
        .filter(|b| b["kind"] == "weekly_digest")
        .collect()
}

/// A digest as received: (schedule, its date, local time of the tick that sent it).
type Received = (String, String, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_digest_per_week_per_schedule_over_a_month_of_five_minute_ticks() {
    // GIVEN the three schedules, their resources, and a webhook on 127.0.0.1
    let hook = hook(Mode::Ok).await;
    let raw = RawConfig::parse(CONFIG, "test").expect("config");
    let store = MemoryStore::new(raw, Vec::new());
    let cloud = InstantCloud(Mutex::new(parse_inventory(INVENTORY, "test").expect("inv")));
    let notifier = notifier(&hook.url);
    let settings = Settings::from_lookup(|_| None).expect("settings");
    let options = options();
    let tick = Tick {
        store: &store,
        cloud: &cloud,
        notifier: &notifier,
        settings: &settings,
        options: &options,
        events: None,
    };
    let local = |now: DateTime<Utc>, tz: Tz| now.with_timezone(&tz).format("%a %H:%M").to_string();
    // Disturbances: Monday 11-16 no tick in Seoul from 09:00 to 10:55 (the first is 11:00);
    // Monday 11-23 the webhook is down from 09:00 to 09:25 KST; every tick of the month is
    // run twice in a row now and then (a retried invocation).
    let silent = at("2026-11-16T00:00:00Z")..at("2026-11-16T02:00:00Z");
    let outage = at("2026-11-23T00:00:00Z")..at("2026-11-23T00:30:00Z");
    let start = at("2026-11-02T00:00:00Z"); // Monday 09:00 KST
    let mut received: Vec<Received> = Vec::new();
    // WHEN the scheduler ticks every 5 minutes for 30 days
    for i in 0..30 * 24 * 12 {
        let now = start + TimeDelta::minutes(5 * i);
        if silent.contains(&now) {
            continue;
        }
        hook.set_mode(if outage.contains(&now) {
            Mode::Unavailable
        } else {
            Mode::Ok
        });
        store.set_clock(now).expect("clock");
        let runs = if i % 7 == 0 { 2 } else { 1 };
        for _ in 0..runs {
            let before = hook.requests().len();
            tick.run(now).await.expect("tick");
            if hook.mode() != Mode::Ok {
                continue;
            }
            let requests = hook.requests();
            for d in digests_in(&requests[before..]) {
                let schedule = d["schedule"].as_str().expect("schedule").to_string();
                let tz: Tz = d["data"]["timezone"]
                    .as_str()
                    .expect("tz")
                    .parse()
                    .expect("tz");
                let date = d["data"]["date"].as_str().expect("date").to_string();
                received.push((schedule, date, local(now, tz)));
            }
        }
    }
    // THEN seoul got one each Monday at 09:00 KST (11:00 after the silent morning, 09:30
    // after the outage), berlin one each Friday at 17:30 CET, quiet none
    let by_schedule = |name: &str| -> Vec<(String, String)> {
        received
            .iter()
            .filter(|r| r.0 == name)
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        by_schedule("seoul"),
        pairs(&[
            ("2026-11-02", "Mon 09:00"),
            ("2026-11-09", "Mon 09:00"),
            ("2026-11-16", "Mon 11:00"),
            ("2026-11-23", "Mon 09:30"),
            ("2026-11-30", "Mon 09:00"),
        ])
    );
    assert_eq!(
        by_schedule("berlin"),
        pairs(&[
            ("2026-11-06", "Fri 17:30"),
            ("2026-11-13", "Fri 17:30"),
            ("2026-11-20", "Fri 17:30"),
            ("2026-11-27", "Fri 17:30"),
        ])
    );
    assert_eq!(by_schedule("quiet"), Vec::new());
    assert_eq!(received.len(), 9, "{:?}", count(&received));
    // (The hook also recorded the attempts it refused during the outage.)
    let all = hook.requests();
    let digests = digests_in(&all);
    // AND the week of the holiday, counted by hand: Mon 11-23 .. Sun 11-29 in Seoul runs
    // 4 days x 9 h (no start on Wednesday) x 3 resources = 108 h of 3 x 168 = 504, so
    // 396 h avoided; 132 h each x (0.104 + 0.104 + 0.1) USD/h = 40.656 USD
    let week = digests
        .iter()
        .find(|d| d["schedule"] == "seoul" && d["data"]["date"] == "2026-11-30")
        .expect("the digest of 11-30");
    let s = &week["data"]["savings"];
    assert_eq!(
        (
            &s["resources"],
            &s["hours_running"],
            &s["hours_avoided"],
            &s["dollars_saved"]
        ),
        (
            &Value::from(3),
            &Value::from(108.0),
            &Value::from(396.0),
            &Value::from(40.66)
        )
    );
    // AND the digests before it announced the holiday as next week's
    let announced = |schedule: &str, date: &str| {
        digests
            .iter()
            .find(|d| d["schedule"] == schedule && d["data"]["date"] == date)
            .map(|d| d["data"]["upcoming"].clone())
    };
    for (schedule, date) in [("seoul", "2026-11-23"), ("berlin", "2026-11-20")] {
        let upcoming = announced(schedule, date).expect("digest");
        assert_eq!(upcoming[0]["date"], "2026-11-25", "{schedule}: {upcoming}");
        assert_eq!(
            upcoming[0]["holiday"], "KR-holidays",
            "{schedule}: {upcoming}"
        );
    }
    assert_eq!(
        announced("seoul", "2026-11-30").expect("digest"),
        Value::Array(Vec::new())
    );
}

/// Once-markers per digest in the state table, as the Lambda keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_table_keeps_the_digest_once_across_retried_and_late_ticks() {
    // GIVEN moto, a schedule with Digest on and two instances, and a webhook
    let mut world = common::World::new().await;
    let hook = hook(Mode::Ok).await;
    world.notifier = notifier(&hook.url);
    world
        .import("schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul, Digest: 'Mon 09:00'}\n")
        .await;
    world.ec2(2, "dev", None).await;
    // WHEN ticks run before, at, after (twice: a retried invocation) and long after 09:00
    // KST on Monday 2026-11-30, and on Tuesday
    let ticks = [
        "2026-11-30T08:55:00+09:00",
        "2026-11-30T09:00:00+09:00",
        "2026-11-30T09:00:00+09:00",
        "2026-11-30T09:05:00+09:00",
        "2026-11-30T11:00:00+09:00",
        "2026-12-01T09:00:00+09:00",
    ];
    let mut sent = Vec::new();
    for t in ticks {
        let before = hook.requests().len();
        world.tick(t).await;
        sent.push(digests_in(&hook.requests()[before..]).len());
    }
    // THEN the 09:00 tick sent it, and nothing else did
    assert_eq!(sent, [0, 1, 0, 0, 0, 0]);
    let all = hook.requests();
    let digest = digests_in(&all)[0];
    assert_eq!(digest["data"]["savings"]["resources"], 2);
    assert_eq!(
        digest["data"]["savings"]["hours_running"], 90.0,
        "5 x 9 h x 2 instances"
    );
    assert!(world
        .store
        .delivered("notify#digest#dev#2026-11-30")
        .await
        .expect("marker"));
}

/// Digests received per schedule, for failure messages.
fn count(received: &[Received]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in received {
        *m.entry(r.0.clone()).or_default() += 1;
    }
    m
}
