//! When things fail: one-shot commands, warnings during a webhook outage, alerts by error
//! code, starts that fall back to stopped, Aurora members. AWS faults come from the
//! fault-injecting proxy in front of moto (tests/common/faults.rs), webhook outages from the
//! switchable loopback listener (tests/common/hook.rs).

mod common;

use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use common::faults::{Fault, Rule};
use common::hook::{hook, Hook, Mode};
use common::World;
use offhours::aws::cloud::AwsCloud;
use offhours::core::config::Action;
use offhours::core::plan::ResourceRef;
use offhours::core::planner::Resource;
use offhours::notify::{Notifier, NotifySettings, WebhookFormat};
use offhours::ports::{Cloud, Outcome};
use serde_json::Value;

/// Every day 09:00-18:00 UTC, no pre-stop warning.
const DEV: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
"#;

/// Sends every message of `w`'s ticks to `hook` as generic JSON.
fn chat_to(w: &mut World, hook: &Hook) {
    w.notifier = Notifier::new(NotifySettings {
        webhook_url: Some(hook.url.clone()),
        format: Some(WebhookFormat::Generic),
        ..NotifySettings::default()
    })
    .expect("notifier");
}

/// The messages the hook accepted (answered while it was up), as generic JSON bodies.
fn bodies(hook: &Hook) -> Vec<Value> {
    hook.requests().into_iter().map(|r| r.body).collect()
}

/// Alert bodies (`kind: alert`), error or info (all-clear).
fn alerts(bodies: &[Value], severity: &str) -> Vec<String> {
    bodies
        .iter()
        .filter(|b| b["kind"] == "alert" && b["severity"] == severity)
        .map(|b| format!("{}: {}", b["title"], b["text"]))
        .collect()
}

/// The Schedule item's one-shot flags as stored: (ForceStart, ForceStop).
async fn flags(w: &World, schedule: &str) -> (bool, bool) {
    let raw = w.store.load_config().await.expect("config");
    let item = raw
        .schedules
        .iter()
        .find(|s| s["ScheduleName"] == schedule)
        .expect("schedule item");
    let flag = |f: &str| item.get(f).and_then(Value::as_bool).unwrap_or(false);
    (flag("ForceStart"), flag("ForceStop"))
}

#[tokio::test]
async fn failed_force_start_is_cleared_and_the_next_stop_still_stops() {
    // GIVEN three stopped instances after the evening stop, and a chat webhook
    let (mut w, proxy) = World::new_with_proxy().await;
    w.import(DEV).await;
    let ids = w.ec2(3, "dev", None).await;
    w.stop_all().await;
    let hook = hook(Mode::Ok).await;
    chat_to(&mut w, &hook);
    w.tick("2026-11-23T20:00:00Z").await;
    // AND AWS has no capacity for the first instance
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "StartInstances",
        Fault::aws(
            "InsufficientInstanceCapacity",
            "We currently do not have sufficient capacity in the Availability Zone you requested.",
        ),
    )
    .body_contains(&ids[0])]);

    // WHEN ForceStart is set and a tick acts on it
    assert!(w.store.set_force("dev", Action::Start).await.expect("set"));
    let report = w.tick("2026-11-23T20:05:00Z").await;

    // THEN the flag is back to false in that same tick, though one start failed
    assert_eq!(flags(&w, "dev").await, (false, false));
    let states = w.states().await;
    assert_eq!(states[&ids[0]], "stopped");
    assert_eq!(
        (&*states[&ids[1]], &*states[&ids[2]]),
        ("running", "running")
    );
    let failure = report
        .errors
        .iter()
        .find(|p| p.key.as_deref().is_some_and(|k| k.contains(&ids[0])))
        .expect("a keyed failure for the refused instance");
    assert!(failure
        .key
        .as_deref()
        .is_some_and(|k| k.ends_with("StartInstances#InsufficientInstanceCapacity")));

    // AND the forced transition goes on: later ticks retry the failed instance
    for at in ["2026-11-23T20:10:00Z", "2026-11-23T20:15:00Z"] {
        let report = w.tick(at).await;
        assert!(
            report
                .steps
                .iter()
                .any(|s| s.action == Action::Start && s.resources.iter().any(|r| r.id == ids[0])),
            "{at}: {:?}",
            report.steps
        );
    }
    // AND the team heard of the failure once
    let got = bodies(&hook);
    let errors = alerts(&got, "error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("InsufficientInstanceCapacity"),
        "{errors:?}"
    );

    // WHEN the next StopTime passes
    w.tick("2026-11-24T18:05:00Z").await;
    // THEN the stop wins: everything is stopped, and the failure's all-clear is sent once
    let states = w.states().await;
    assert!(ids.iter().all(|id| states[id] == "stopped"), "{states:?}");
    let got = bodies(&hook);
    assert_eq!(alerts(&got, "info").len(), 1, "{got:?}");
    assert_eq!(alerts(&got, "error").len(), 1);
}

#[tokio::test]
async fn start_then_stop_keeps_the_last_and_both_flags_by_hand_are_cleared_without_acting() {
    // GIVEN two instances running after the 09:00 start
    let w = World::new().await;
    w.import(DEV).await;
    let ids = w.ec2(2, "dev", None).await;
    w.tick("2026-11-23T10:00:00Z").await;

    // WHEN chat sends `start` and then `stop`
    assert!(w.store.set_force("dev", Action::Start).await.expect("set"));
    assert!(w.store.set_force("dev", Action::Stop).await.expect("set"));
    // THEN only the last command is set, and the next tick carries it out
    assert_eq!(flags(&w, "dev").await, (false, true));
    let report = w.tick("2026-11-23T10:05:00Z").await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let states = w.states().await;
    assert!(ids.iter().all(|id| states[id] == "stopped"), "{states:?}");
    assert_eq!(flags(&w, "dev").await, (false, false));

    // WHEN someone sets both flags in the console
    aws_sdk_dynamodb::Client::new(&w.sdk)
        .update_item()
        .table_name(&w.settings.schedule_table)
        .key("ScheduleName", AttributeValue::S("dev".into()))
        .update_expression("SET ForceStart = :t, ForceStop = :t")
        .expression_attribute_values(":t", AttributeValue::Bool(true))
        .send()
        .await
        .expect("update");
    let report = w.tick("2026-11-23T10:10:00Z").await;
    // THEN one error names both fields, neither acts, and both are cleared
    let both: Vec<_> = report
        .errors
        .iter()
        .filter(|p| p.message.contains("ForceStart") && p.message.contains("ForceStop"))
        .collect();
    assert_eq!(both.len(), 1, "{:?}", report.errors);
    assert!(report.steps.is_empty(), "{:?}", report.steps);
    assert_eq!(flags(&w, "dev").await, (false, false));
    // AND the schedule's boundaries keep running: the next morning's start starts it
    let report = w.tick("2026-11-24T09:05:00Z").await;
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let states = w.states().await;
    assert!(ids.iter().all(|id| states[id] == "running"), "{states:?}");
}

#[tokio::test]
async fn warning_missed_during_a_webhook_outage_is_delivered_once_when_it_is_back() {
    // GIVEN dev (20-minute warning, its own webhook) and quiet (no destination at all),
    // both running after the morning start
    let w = World::new().await;
    let hook = hook(Mode::Ok).await;
    w.import(&format!(
        r#"
schedules:
  - {{ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 20, WebhookUrl: "{}"}}
  - {{ScheduleName: quiet, TagValue: quiet, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 20}}
"#,
        hook.url
    ))
    .await;
    w.ec2(1, "dev", None).await;
    w.ec2(1, "quiet", None).await;
    w.tick("2026-11-23T10:00:00Z").await;

    // WHEN the webhook answers 503 at T-15 and T-10 and is healthy again at T-5
    hook.set_mode(Mode::Unavailable);
    for at in ["2026-11-23T17:45:00Z", "2026-11-23T17:50:00Z"] {
        let report = w.tick(at).await;
        assert_eq!(report.notices.len(), 2, "{at}: both schedules are warned");
    }
    let during_outage = hook.requests().len();
    assert!(during_outage > 0, "the warning was tried during the outage");
    hook.set_mode(Mode::Ok);
    w.tick("2026-11-23T17:55:00Z").await;
    w.tick("2026-11-23T17:58:00Z").await;

    // THEN exactly one warning was delivered, after the outage
    let delivered: Vec<Value> = hook.requests()[during_outage..]
        .iter()
        .map(|r| r.body.clone())
        .collect();
    let warnings: Vec<&Value> = delivered
        .iter()
        .filter(|b| b["kind"] == "pre_stop_warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{delivered:?}");
    assert_eq!(warnings[0]["schedule"], "dev");

    // AND nothing was recorded for quiet, which has no destination
    let items = aws_sdk_dynamodb::Client::new(&w.sdk)
        .scan()
        .table_name(&w.settings.state_table)
        .send()
        .await
        .expect("scan");
    let keys: Vec<String> = items
        .items()
        .iter()
        .filter_map(|i| i.get("Key").and_then(|k| k.as_s().ok()).cloned())
        .collect();
    assert!(
        keys.iter().any(|k| k.starts_with("once#notify#warn#dev#")),
        "{keys:?}"
    );
    assert!(!keys
        .iter()
        .any(|k| k.contains("quiet") && k.starts_with("once#")));
    let states = w.store.load_states().await.expect("states");
    assert!(states["dev"].warned.is_some());
    assert_eq!(states["quiet"].warned, None);
}

#[tokio::test]
async fn a_failure_with_a_fresh_message_each_call_alerts_once_and_clears_once() {
    // GIVEN two stopped instances at the morning start, and EC2 refusing the first with
    // UnauthorizedOperation (whose encoded message differs on every call)
    let (mut w, proxy) = World::new_with_proxy().await;
    w.import(DEV).await;
    let ids = w.ec2(2, "dev", None).await;
    w.stop_all().await;
    let hook = hook(Mode::Ok).await;
    chat_to(&mut w, &hook);
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "StartInstances",
        Fault::unauthorized_operation(),
    )
    .body_contains(&ids[0])]);

    // WHEN three ticks try to start it
    let mut messages = Vec::new();
    for at in [
        "2026-11-23T09:05:00Z",
        "2026-11-23T09:10:00Z",
        "2026-11-23T09:15:00Z",
    ] {
        let report = w.tick(at).await;
        let failure = report
            .steps
            .iter()
            .flat_map(|s| &s.failures)
            .find(|f| f.id == ids[0])
            .expect("the start fails");
        assert_eq!(failure.code, "UnauthorizedOperation");
        messages.push(failure.message.clone());
    }
    // THEN AWS's message differed each time, and one alert was sent
    messages.dedup();
    assert_eq!(messages.len(), 3, "the proxy varies the message");
    assert_eq!(alerts(&bodies(&hook), "error").len(), 1);

    // WHEN the permission is fixed
    proxy.clear();
    w.tick("2026-11-23T09:20:00Z").await;
    w.tick("2026-11-23T09:25:00Z").await;
    // THEN it starts, and one all-clear names what failed
    assert_eq!(w.states().await[&ids[0]], "running");
    let got = bodies(&hook);
    let resolved = alerts(&got, "info");
    assert_eq!(resolved.len(), 1, "{got:?}");
    assert!(
        resolved[0].contains("UnauthorizedOperation"),
        "{resolved:?}"
    );
    assert_eq!(alerts(&got, "error").len(), 1);
}

/// The moto cloud, except that one instance falls back to `stopped` right after every
/// start AWS accepts, with EC2's state reason for missing capacity.
struct FallsBack<'a> {
    inner: &'a AwsCloud,
    ec2: aws_sdk_ec2::Client,
    victim: String,
    starts: Mutex<usize>,
}

const NO_CAPACITY: &str = "Server.InsufficientInstanceCapacity: Insufficient capacity.";

impl Cloud for FallsBack<'_> {
    async fn observe(&self) -> offhours::Result<Vec<Resource>> {
        let mut all = self.inner.observe().await?;
        for r in all.iter_mut().filter(|r| r.id == self.victim) {
            r.reason = Some(NO_CAPACITY.into());
        }
        Ok(all)
    }

    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        let outcomes = self.inner.start(resources).await;
        if resources.iter().any(|r| r.id == self.victim) {
            *self.starts.lock().expect("lock") += 1;
            self.ec2
                .stop_instances()
                .instance_ids(&self.victim)
                .send()
                .await
                .expect("fall back to stopped");
        }
        outcomes
    }

    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.inner.stop(resources).await
    }
}

#[tokio::test]
async fn start_that_falls_back_to_stopped_is_retried_up_to_max_attempts_then_given_up() {
    // GIVEN two stopped instances, one of which never stays up (MAX_ATTEMPTS = 3)
    let mut w = World::new().await;
    w.import(DEV).await;
    let ids = w.ec2(2, "dev", None).await;
    w.stop_all().await;
    let hook = hook(Mode::Ok).await;
    chat_to(&mut w, &hook);
    let cloud = FallsBack {
        inner: &w.cloud,
        ec2: aws_sdk_ec2::Client::new(&w.sdk),
        victim: ids[0].clone(),
        starts: Mutex::new(0),
    };

    // WHEN five ticks pass after the 09:00 start
    let mut reports = Vec::new();
    for minute in [5, 10, 15, 20, 25] {
        reports.push(
            w.tick_with(&cloud, &format!("2026-11-23T09:{minute}:00Z"))
                .await,
        );
    }
    // THEN it was started three times, then left alone
    assert_eq!(*cloud.starts.lock().expect("lock"), 3);
    assert_eq!(w.states().await[&ids[1]], "running");
    assert!(reports[4].steps.is_empty(), "{:?}", reports[4].steps);
    // AND the fallback was reported with its state reason, and giving up once
    let last = &reports[4].errors;
    assert!(
        last.iter()
            .any(|p| p.message.contains("gave up") && p.message.contains(NO_CAPACITY)),
        "{last:?}"
    );
    let errors = alerts(&bodies(&hook), "error");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("fell back to stopped") && errors[0].contains(NO_CAPACITY));
    assert!(errors[1].contains("gave up"), "{errors:?}");

    // WHEN chat's `start` (ForceStart) asks again
    assert!(w.store.set_force("dev", Action::Start).await.expect("set"));
    w.tick_with(&cloud, "2026-11-23T09:30:00Z").await;
    // THEN it is tried again
    assert_eq!(*cloud.starts.lock().expect("lock"), 4);
}

#[tokio::test]
async fn aurora_member_with_the_schedule_tag_is_warned_about_and_left_alone() {
    // GIVEN an Aurora cluster without the tag whose member instance carries it
    let w = World::new().await;
    w.import(DEV).await;
    let rds = aws_sdk_rds::Client::new(&w.sdk);
    rds.create_db_cluster()
        .db_cluster_identifier("pg-cluster")
        .engine("aurora-postgresql")
        .master_username("admin")
        .master_user_password("password123")
        .send()
        .await
        .expect("cluster");
    rds.create_db_instance()
        .db_instance_identifier("pg-member-1")
        .db_cluster_identifier("pg-cluster")
        .db_instance_class("db.r6g.large")
        .engine("aurora-postgresql")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("ScheduleName")
                .value("dev")
                .build(),
        )
        .send()
        .await
        .expect("member");

    // WHEN the stop tick runs
    let report = w.tick("2026-11-23T18:05:00Z").await;
    // THEN nothing acts on the member, and a warning names the cluster to tag instead
    assert!(report.steps.is_empty(), "{:?}", report.steps);
    assert!(
        report
            .warnings
            .iter()
            .any(|p| p.message.contains("pg-member-1") && p.message.contains("pg-cluster")),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn throttled_batch_is_not_split_into_more_calls_and_is_retried_next_tick() {
    // GIVEN four stopped instances at the morning start, and EC2 throttling StartInstances
    let (w, proxy) = World::new_with_proxy().await;
    w.import(DEV).await;
    let ids = w.ec2(4, "dev", None).await;
    w.stop_all().await;
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "StartInstances",
        Fault::aws("RequestLimitExceeded", "Request limit exceeded."),
    )]);

    // WHEN a tick tries to start them
    let report = w.tick("2026-11-23T09:05:00Z").await;

    // THEN the one batch call is retried by the SDK (3 attempts) and not split in halves
    // (which would make 7 calls of 3 attempts each), and all four report the throttling
    assert_eq!(proxy.hits(0), 3, "{:?}", proxy.calls());
    let failures: Vec<_> = report.steps.iter().flat_map(|s| &s.failures).collect();
    assert_eq!(failures.len(), 4);
    assert!(failures.iter().all(|f| f.code == "RequestLimitExceeded"));
    // AND the next tick, with the throttling over, starts them
    proxy.clear();
    w.tick("2026-11-23T09:10:00Z").await;
    let states = w.states().await;
    assert!(ids.iter().all(|id| states[id] == "running"), "{states:?}");
}

/// Creates one stopped EC2 instance in `region` tagged for `schedule` / `group`.
async fn ec2_in(w: &World, region: &str, schedule: &str, group: &str) -> String {
    let id = w.ec2_in(region, 1, schedule, Some(group)).await[0].clone();
    let sdk = w
        .sdk
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build();
    aws_sdk_ec2::Client::new(&sdk)
        .stop_instances()
        .instance_ids(&id)
        .send()
        .await
        .expect("stop");
    id
}

#[tokio::test]
async fn a_refused_region_is_one_error_and_every_other_region_proceeds() {
    // GIVEN a chain DB (RDS, us-east-1) -> APP (EC2 in both regions) -> and a schedule
    // of its own in ap-northeast-2 only, with EC2 refusing DescribeInstances in us-east-1
    let (mut w, proxy) = World::new_with_proxy().await;
    w.settings.regions = vec!["us-east-1".into(), "ap-northeast-2".into()];
    w.through(&proxy).await;
    w.import(
        r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
  - {ScheduleName: seoul, TagValue: seoul, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: seoul, GroupName: WEB, InstanceType: EC2}
"#,
    )
    .await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let home = ec2_in(&w, "us-east-1", "dev", "APP").await;
    let seoul = ec2_in(&w, "ap-northeast-2", "seoul", "WEB").await;
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "DescribeInstances",
        Fault::unauthorized_operation(),
    )
    .region("us-east-1")]);

    // WHEN the morning tick runs (the database is up, everything else stopped)
    let report = w.tick("2026-11-23T09:05:00Z").await;

    // THEN Seoul's schedule starts, and the refusal is one error naming region, service,
    // operation and code
    let started: Vec<&str> = report
        .steps
        .iter()
        .filter(|s| s.status == offhours::core::plan::StepStatus::Done)
        .flat_map(|s| s.resources.iter().map(|r| r.id.as_str()))
        .collect();
    assert_eq!(started, [seoul.as_str()], "{:?}", report.steps);
    let refused: Vec<_> = report
        .errors
        .iter()
        .filter(|p| p.message.contains("us-east-1"))
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", report.errors);
    for needle in ["service ec2", "DescribeInstances", "UnauthorizedOperation"] {
        assert!(refused[0].message.contains(needle), "{needle}: {refused:?}");
    }
    assert!(!report
        .schedules
        .iter()
        .any(|d| d.complete && d.schedule == "dev"));

    // WHEN the evening stop comes while us-east-1's EC2 is still unseen
    w.tick("2026-11-23T18:05:00Z").await;
    // THEN the database stays up: APP, which depends on it, could not be seen to be down
    let direct = w.direct_cloud();
    let state = |id: &str| {
        let id = id.to_string();
        let cloud = direct.clone();
        async move {
            cloud
                .observe()
                .await
                .expect("observe")
                .into_iter()
                .find(|r| r.id == id)
                .map(|r| r.state)
                .expect("resource")
        }
    };
    assert_eq!(state("dev-db").await, "available");
    assert_eq!(state(&seoul).await, "stopped");

    // WHEN the permission is back
    proxy.clear();
    w.tick("2026-11-23T18:10:00Z").await;
    // THEN the chain stops in order (APP was already stopped, so the database stops)
    assert_eq!(state("dev-db").await, "stopped");
    assert_eq!(state(&home).await, "stopped");
}

#[tokio::test]
async fn an_endpoint_that_stops_answering_ends_in_a_timeout_not_a_hung_tick() {
    // GIVEN EC2 that accepts DescribeInstances and never answers, and the SDK built the
    // way the Lambda and the CLI build it, with a 3-second limit per call
    let (mut w, proxy) = World::new_with_proxy().await;
    w.import(DEV).await;
    w.rds("dev-db", "dev", None).await;
    w.settings.aws_call_timeout_seconds = 3;
    let sdk = offhours::app::settings::aws_sdk_loader(&w.settings)
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&proxy.url)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await;
    w.store = offhours::aws::store::Store::new(&sdk, &w.settings);
    w.cloud = AwsCloud::new(&sdk, &w.settings);
    proxy.set_rules(vec![Rule::on("ec2", "DescribeInstances", Fault::Hang)]);

    // WHEN the stop tick runs
    let started = std::time::Instant::now();
    let report = tick_within(&w, "2026-11-23T18:05:00Z", 60).await;

    // THEN it returns (well before the test's own 60 s guard) with EC2 as a timed-out gap,
    // and the database, which EC2 does not hide, still stops
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        report
            .errors
            .iter()
            .any(|p| p.message.contains("DescribeInstances failed with Timeout")),
        "{:?}",
        report.errors
    );
    let states = w.direct_cloud().observe().await.expect("observe");
    let db = states.iter().find(|r| r.id == "dev-db").expect("db");
    assert_eq!(db.state, "stopped");
}

/// A tick that must finish within `seconds` (a hung tick fails the test instead of hanging it).
async fn tick_within(w: &World, at: &str, seconds: u64) -> offhours::core::plan::Report {
    tokio::time::timeout(std::time::Duration::from_secs(seconds), w.tick(at))
        .await
        .expect("the tick finished in time")
}

/// The moto cloud, except that right after its first start another invocation takes the
/// scheduler lease (as if this tick's lease had expired and a new tick had begun).
struct LeaseStolen<'a> {
    inner: &'a AwsCloud,
    ddb: aws_sdk_dynamodb::Client,
    state_table: String,
}

impl Cloud for LeaseStolen<'_> {
    async fn observe(&self) -> offhours::Result<Vec<Resource>> {
        self.inner.observe().await
    }

    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        let outcomes = self.inner.start(resources).await;
        let until = chrono::Utc::now() + chrono::TimeDelta::minutes(5);
        self.ddb
            .put_item()
            .table_name(&self.state_table)
            .item("Key", AttributeValue::S("lease".into()))
            .item("Owner", AttributeValue::S("another-tick".into()))
            .item("Until", AttributeValue::N(until.timestamp().to_string()))
            .send()
            .await
            .expect("steal the lease");
        outcomes
    }

    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.inner.stop(resources).await
    }
}

#[tokio::test]
async fn a_tick_that_loses_its_lease_stops_acting() {
    // GIVEN a stopped chain DB -> APP at the morning start, a tick that may wait for the
    // chain, and a lease taken over by another invocation right after the first batch
    let mut w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
"#,
    )
    .await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let app = w.ec2(1, "dev", Some("APP")).await;
    w.stop_all().await;
    w.options.max_wait = std::time::Duration::from_secs(30);
    let cloud = LeaseStolen {
        inner: &w.cloud,
        ddb: aws_sdk_dynamodb::Client::new(&w.sdk),
        state_table: w.settings.state_table.clone(),
    };

    // WHEN the tick starts the database and, the database being up, would start APP
    let report = w.tick_with(&cloud, "2026-11-23T09:05:00Z").await;

    // THEN it started the database, saw the lease gone before the next batch, and stopped
    let states = w.states().await;
    assert_eq!(states["dev-db"], "available");
    assert_eq!(states[&app[0]], "stopped", "{:?}", report.steps);
    assert!(
        report.errors.iter().any(|p| p.message.contains("lease")),
        "{:?}",
        report.errors
    );
    assert!(report.lease_lost);
    // AND it left the bookkeeping to the tick that holds the lease now: no state written
    let states = w.store.load_states().await.expect("states");
    assert!(!states.contains_key("dev"), "{states:?}");
}

#[tokio::test]
async fn items_with_wrong_attribute_types_are_errors_naming_item_and_field_and_the_rest_runs() {
    // GIVEN a good schedule, and items written in the console with wrong attribute types
    let w = World::new().await;
    w.import(DEV).await;
    let ids = w.ec2(1, "dev", None).await;
    w.stop_all().await;
    let ddb = aws_sdk_dynamodb::Client::new(&w.sdk);
    let s = |v: &str| AttributeValue::S(v.into());
    let bad_schedules = [
        ("n-time", "StartTime", AttributeValue::N("900".into())),
        ("bool-days", "DaysActive", AttributeValue::Bool(true)),
        (
            "list-tz",
            "Timezone",
            AttributeValue::L(vec![s("Asia/Seoul")]),
        ),
        (
            "blob-stop",
            "StopTime",
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![1, 2])),
        ),
        ("str-enabled", "Enabled", s("maybe")),
        (
            "map-warn",
            "WarnMinutes",
            AttributeValue::M(Default::default()),
        ),
    ];
    for (name, field, value) in &bad_schedules {
        ddb.put_item()
            .table_name(&w.settings.schedule_table)
            .item("ScheduleName", s(name))
            .item("TagValue", s(name))
            .item(*field, value.clone())
            .send()
            .await
            .expect("put");
    }
    ddb.put_item()
        .table_name(&w.settings.exception_table)
        .item("ExceptionUuid", s("num-date"))
        .item("ScheduleName", s("dev"))
        .item("ExceptionDate", AttributeValue::N("20261123".into()))
        .item("ExceptionType", s("start"))
        .item("ExceptionValue", s("None"))
        .send()
        .await
        .expect("put");

    // WHEN the morning tick runs
    let report = w.tick("2026-11-23T09:05:00Z").await;

    // THEN each bad item is an error naming its item and field
    for (name, field, _) in &bad_schedules {
        assert!(
            report.errors.iter().any(|p| p.schedule == *name
                && p.message.contains(&format!("schedule '{name}'"))
                && p.message.contains(&format!("field {field}"))),
            "{name}/{field}: {:?}",
            report.errors
        );
    }
    assert!(
        report.errors.iter().any(|p| p
            .message
            .contains("exception 'num-date': field ExceptionDate")),
        "{:?}",
        report.errors
    );
    // AND the good schedule still runs (the bad exception is ignored, not applied)
    assert_eq!(w.states().await[&ids[0]], "running");
}

#[tokio::test]
async fn an_unobserved_region_does_not_declare_open_failures_resolved() {
    // GIVEN two stopped instances at the morning start, EC2 refusing to start the first,
    // and the failure alerted
    let (mut w, proxy) = World::new_with_proxy().await;
    w.import(DEV).await;
    let ids = w.ec2(2, "dev", None).await;
    w.stop_all().await;
    let hook = hook(Mode::Ok).await;
    chat_to(&mut w, &hook);
    let refuse_start = || {
        Rule::on("ec2", "StartInstances", Fault::unauthorized_operation()).body_contains(&ids[0])
    };
    proxy.set_rules(vec![refuse_start()]);
    w.tick("2026-11-23T09:05:00Z").await;

    // WHEN the next tick cannot list EC2 at all, and the one after sees the same failure
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "DescribeInstances",
        Fault::aws("RequestLimitExceeded", "Request limit exceeded."),
    )]);
    let partial = w.tick("2026-11-23T09:10:00Z").await;
    assert!(partial.partial);
    proxy.set_rules(vec![refuse_start()]);
    w.tick("2026-11-23T09:15:00Z").await;

    // THEN the failure was alerted once and never declared resolved in between
    let got = bodies(&hook);
    let starts: Vec<String> = alerts(&got, "error")
        .into_iter()
        .filter(|a| a.contains("StartInstances"))
        .collect();
    assert_eq!(starts.len(), 1, "{got:?}");
    assert!(alerts(&got, "info").is_empty(), "{got:?}");
}
