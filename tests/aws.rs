//! Scenario tests of the AWS runtime against a real moto server (one per test process).

mod common;

use common::{summary, World};
use offhours::core::config::{Action, ResourceKind};
use offhours::core::plan::{ResourceRef, StepStatus};
use offhours::core::planner::Resource;
use offhours::ports::{Cloud, Outcome};

/// dev: DB (RDS) <- APP (EC2) <- WEB (EC2), weekdays 09:00-18:00 UTC.
const CHAIN: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: WEB, InstanceType: EC2, Dependency: [APP]}
"#;

fn done(report: &offhours::core::plan::Report) -> Vec<String> {
    report
        .steps
        .iter()
        .filter(|s| s.status != StepStatus::Blocked)
        .map(|s| format!("{} {} {}", s.group, s.action, s.status.as_str()))
        .collect()
}

async fn chain_world() -> (World, Vec<String>, Vec<String>) {
    let w = World::new().await;
    w.import(CHAIN).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let app = w.ec2(2, "dev", Some("APP")).await;
    let web = w.ec2(1, "dev", Some("WEB")).await;
    (w, app, web)
}

#[tokio::test]
async fn three_layer_chain_starts_in_order_across_ticks_and_stops_in_reverse() {
    // GIVEN a running chain and one pass per tick (MAX_WAIT_SECONDS=0)
    let (w, app, web) = chain_world().await;

    // WHEN the stop boundary passes (Monday 18:00), THEN one layer stops per tick, top first
    let t1 = w.tick("2026-11-23T18:01:00Z").await;
    assert_eq!(done(&t1), ["WEB stop done"]);
    assert_eq!(w.states().await[&web[0]], "stopped");
    assert_eq!(w.states().await[&app[0]], "running");
    assert_eq!(
        done(&w.tick("2026-11-23T18:06:00Z").await),
        ["APP stop done"]
    );
    let t3 = w.tick("2026-11-23T18:11:00Z").await;
    assert_eq!(done(&t3), ["DB stop done"]);
    assert!(t3.schedules[0].complete);
    assert!(done(&w.tick("2026-11-23T18:16:00Z").await).is_empty());

    // WHEN the start boundary passes (Tuesday 09:00), THEN DB, APP, WEB start in that order
    assert_eq!(
        done(&w.tick("2026-11-24T09:00:00Z").await),
        ["DB start done"]
    );
    assert_eq!(w.states().await["dev-db"], "available");
    assert_eq!(w.states().await[&app[1]], "stopped");
    assert_eq!(
        done(&w.tick("2026-11-24T09:05:00Z").await),
        ["APP start done"]
    );
    assert_eq!(
        done(&w.tick("2026-11-24T09:10:00Z").await),
        ["WEB start done"]
    );
    let states = w.states().await;
    assert!(app.iter().chain(&web).all(|id| states[id] == "running"));
}

#[tokio::test]
async fn chain_completes_in_one_tick_when_the_budget_allows() {
    let (mut w, _, _) = chain_world().await;
    w.options.max_wait = std::time::Duration::from_secs(30);
    let report = w.tick("2026-11-23T18:01:00Z").await;
    assert_eq!(
        summary(&report),
        ["WEB stop done", "APP stop done", "DB stop done"]
    );
    assert!(report.schedules[0].complete);
}

#[tokio::test]
async fn manual_start_is_respected_unless_enforced() {
    // GIVEN two identical schedules, one Enforced, both stopped and applied
    let w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: relaxed, TagValue: relaxed, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
  - {ScheduleName: strict, TagValue: strict, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0, Enforced: true}
"#,
    )
    .await;
    let relaxed = w.ec2(1, "relaxed", None).await;
    let strict = w.ec2(1, "strict", None).await;
    let t = w.tick("2026-11-23T18:01:00Z").await;
    assert_eq!(summary(&t), [" stop done", " stop done"]);

    // WHEN someone starts both by hand after hours
    w.cloud
        .start(&[ec2_ref(&relaxed[0]), ec2_ref(&strict[0])])
        .await;

    // THEN the next tick leaves the relaxed one running and stops the enforced one
    let t = w.tick("2026-11-23T19:00:00Z").await;
    assert_eq!(t.steps.len(), 1);
    assert_eq!(t.steps[0].schedule, "strict");
    let states = w.states().await;
    assert_eq!(states[&relaxed[0]], "running");
    assert_eq!(states[&strict[0]], "stopped");
}

fn ec2_ref(id: &str) -> ResourceRef {
    ResourceRef {
        id: id.to_string(),
        kind: ResourceKind::Ec2,
        account: None,
        region: Some("us-east-1".into()),
        name: None,
        engine: None,
        hibernate: false,
        desired: None,
        min: None,
        max: None,
    }
}

#[tokio::test]
async fn exceptions_are_read_from_the_table() {
    // GIVEN Monday's start moved to 11:00 and Tuesday a holiday for every schedule
    let w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
exceptions:
  - {ExceptionUuid: late, ScheduleName: dev, ExceptionDate: "2026-11-23", ExceptionType: start, ExceptionValue: "11:00"}
"#,
    )
    .await;
    let ids = w.ec2(1, "dev", None).await;
    w.stop_all().await;
    w.tick("2026-11-22T18:01:00Z").await;
    let mut holiday = offhours::core::config::Item::new();
    for (k, v) in [
        ("ExceptionUuid", "holiday"),
        ("ScheduleName", "*"),
        ("ExceptionDate", "2026-11-24"),
        ("ExceptionType", "start"),
        ("ExceptionValue", "None"),
    ] {
        holiday.insert(k.into(), v.into());
    }
    w.store
        .put_exception(&holiday)
        .await
        .expect("put exception");

    // WHEN ticks run at the usual and the moved start time
    // THEN nothing starts at 09:05, the instance starts at 11:00
    assert!(w.tick("2026-11-23T09:05:00Z").await.steps.is_empty());
    assert_eq!(w.states().await[&ids[0]], "stopped");
    assert_eq!(
        summary(&w.tick("2026-11-23T11:00:00Z").await),
        [" start done"]
    );
    w.tick("2026-11-23T18:00:00Z").await;
    // AND the holiday keeps it off on Tuesday morning
    assert!(w.tick("2026-11-24T09:05:00Z").await.steps.is_empty());
    assert_eq!(w.states().await[&ids[0]], "stopped");
    // AND deleting the holiday lets the next tick start it
    assert!(w.store.delete_exception("holiday").await.expect("delete"));
    assert!(!w.store.delete_exception("holiday").await.expect("delete"));
    assert_eq!(
        summary(&w.tick("2026-11-24T09:10:00Z").await),
        [" start done"]
    );
}

#[tokio::test]
async fn force_start_runs_once_and_is_cleared() {
    // GIVEN a stopped schedule outside its window
    let (w, _, _) = chain_world().await;
    w.stop_all().await;
    w.tick("2026-11-23T20:00:00Z").await;
    // WHEN ForceStart is set (as chat would)
    assert!(w.store.set_force("dev", Action::Start).await.expect("set"));
    assert!(!w.store.set_force("nope", Action::Start).await.expect("set"));
    let mut w = w;
    w.options.max_wait = std::time::Duration::from_secs(30);
    let report = w.tick("2026-11-23T20:05:00Z").await;
    // THEN the whole chain starts in order and the flag is back to false
    assert_eq!(
        summary(&report),
        ["DB start done", "APP start done", "WEB start done"]
    );
    let raw = w.store.load_config().await.expect("config");
    assert_eq!(raw.schedules[0]["ForceStart"], false);
    // AND the next tick does not stop it again before the next boundary
    assert!(w.tick("2026-11-23T20:10:00Z").await.steps.is_empty());
    assert!(w.states().await.values().all(|s| s != "stopped"));
}

/// The real cloud plus one instance that AWS does not know: starting it makes the API fail.
struct WithGhost<'a> {
    inner: &'a offhours::aws::cloud::AwsCloud,
    ghost: Resource,
}

impl Cloud for WithGhost<'_> {
    async fn observe(&self) -> offhours::Result<Vec<Resource>> {
        let mut all = self.inner.observe().await?;
        all.push(self.ghost.clone());
        Ok(all)
    }
    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.inner.start(resources).await
    }
    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.inner.stop(resources).await
    }
}

#[tokio::test]
async fn failed_start_holds_back_only_its_dependents() {
    // GIVEN the chain plus an independent group, and a bad instance id in APP
    let mut w = World::new().await;
    w.import(&format!(
        "{CHAIN}  - {{ScheduleName: dev, GroupName: TOOLS, InstanceType: EC2}}\n"
    ))
    .await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let app = w.ec2(1, "dev", Some("APP")).await;
    let web = w.ec2(1, "dev", Some("WEB")).await;
    let tools = w.ec2(1, "dev", Some("TOOLS")).await;
    w.stop_all().await;
    w.options.max_wait = std::time::Duration::from_secs(30);
    let ghost = Resource {
        id: "i-0badbadbadbadbad0".into(),
        kind: ResourceKind::Ec2,
        state: "stopped".into(),
        tags: [("ScheduleName", "dev"), ("ScheduleGroupName", "APP")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        account: None,
        region: Some("us-east-1".into()),
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
    };
    let cloud = WithGhost {
        inner: &w.cloud,
        ghost,
    };

    // WHEN the start tick runs
    let report = w.tick_with(&cloud, "2026-11-23T09:01:00Z").await;

    // THEN the bad id fails alone (its batch was split), WEB waits, TOOLS and DB start
    assert_eq!(
        summary(&report),
        [
            "DB start done",
            "TOOLS start done",
            "APP start failed",
            "WEB start blocked"
        ]
    );
    let app_step = &report.steps[2];
    assert_eq!(app_step.failures.len(), 1);
    assert_eq!(app_step.failures[0].id, "i-0badbadbadbadbad0");
    assert!(
        app_step.failures[0].message.contains("InvalidInstanceID"),
        "{}",
        app_step.failures[0].message
    );
    assert_eq!(report.steps[3].waiting_on, ["APP"]);
    let states = w.states().await;
    assert_eq!(states[&app[0]], "running");
    assert_eq!(states[&tools[0]], "running");
    assert_eq!(states[&web[0]], "stopped");
    assert!(!report.schedules[0].complete);

    // AND without the bad id, the next tick finishes the chain
    let report = w.tick("2026-11-23T09:06:00Z").await;
    assert_eq!(summary(&report), ["WEB start done"]);
}

#[tokio::test]
async fn malformed_item_fails_only_its_schedule() {
    // GIVEN a good schedule and one whose StartTime is binary (written by hand)
    let w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: good, TagValue: good, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
"#,
    )
    .await;
    let ddb = aws_sdk_dynamodb::Client::new(&w.sdk);
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    ddb.put_item()
        .table_name(&w.settings.schedule_table)
        .item("ScheduleName", Av::S("bad".into()))
        .item("TagValue", Av::S("bad".into()))
        .item(
            "StartTime",
            Av::B(aws_sdk_dynamodb::primitives::Blob::new(vec![9, 0])),
        )
        .item("StopTime", Av::S("18:00".into()))
        .send()
        .await
        .expect("put");
    let good = w.ec2(1, "good", None).await;
    let bad = w.ec2(1, "bad", None).await;

    // WHEN the stop tick runs
    let report = w.tick("2026-11-23T18:01:00Z").await;

    // THEN the good schedule stops; the bad one is reported with its field and left alone
    assert_eq!(summary(&report), [" stop done"]);
    assert_eq!(report.steps[0].schedule, "good");
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.schedule == "bad" && e.message.contains("StartTime")),
        "{:?}",
        report.errors
    );
    let states = w.states().await;
    assert_eq!(states[&good[0]], "stopped");
    assert_eq!(states[&bad[0]], "running");
}

#[tokio::test]
async fn concurrent_ticks_act_once() {
    // GIVEN a running chain
    let (w, _, _) = chain_world().await;
    w.moto.start_recording().await;
    // WHEN two ticks run at the same time
    let at = "2026-11-23T18:01:00Z".parse().expect("instant");
    let tick = offhours::app::tick::Tick {
        store: &w.store,
        cloud: &w.cloud,
        notifier: &w.notifier,
        settings: &w.settings,
        options: &w.options,
        events: None,
    };
    let (a, b) = tokio::join!(tick.run(at), tick.run(at));
    w.moto.stop_recording().await;
    // THEN exactly one acts and the other reports the lease
    let (ok, held): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(|r| r.is_ok());
    assert_eq!(ok.len(), 1, "exactly one tick runs");
    assert!(matches!(held[0], Err(offhours::Error::LeaseHeld { .. })));
    let ops = w.moto.recorded_operations().await;
    assert_eq!(
        ops.iter().filter(|o| *o == "ec2:StopInstances").count(),
        1,
        "{ops:?}"
    );
    // AND the lease is free again afterwards
    assert_eq!(
        done(&w.tick("2026-11-23T18:06:00Z").await),
        ["APP stop done"]
    );
}

#[tokio::test]
async fn lease_and_once_markers_admit_one_holder() {
    let w = World::new().await;
    let now = chrono::Utc::now();
    let ttl = chrono::TimeDelta::seconds(60);
    // The first owner gets the lease and may renew it; a second owner may not.
    assert!(w.store.acquire_lease("a", now, ttl).await.expect("lease"));
    assert!(w.store.acquire_lease("a", now, ttl).await.expect("lease"));
    assert!(!w.store.acquire_lease("b", now, ttl).await.expect("lease"));
    // An expired lease is free for anyone.
    let later = now + chrono::TimeDelta::seconds(61);
    assert!(w.store.acquire_lease("b", later, ttl).await.expect("lease"));
    // Releasing someone else's lease does nothing; releasing your own frees it.
    w.store.release_lease("a").await.expect("release");
    assert!(!w.store.acquire_lease("c", later, ttl).await.expect("lease"));
    w.store.release_lease("b").await.expect("release");
    assert!(w.store.acquire_lease("c", later, ttl).await.expect("lease"));
    // A marker exists once written, and only until it expires.
    assert!(!w.store.is_marked("warn#dev#1").await.expect("read"));
    w.store.mark("warn#dev#1", 7).await.expect("mark");
    assert!(w.store.is_marked("warn#dev#1").await.expect("read"));
    assert!(!w.store.is_marked("warn#dev#2").await.expect("read"));
    w.store.mark("warn#dev#2", 0).await.expect("mark");
    assert!(
        !w.store.is_marked("warn#dev#2").await.expect("read"),
        "an expired marker counts as absent (TTL deletion lags)"
    );
    // Markers and the lease are not schedule states.
    assert!(w.store.load_states().await.expect("states").is_empty());
}

#[tokio::test]
async fn every_configured_region_is_scheduled() {
    // GIVEN instances of one schedule in two regions
    let mut w = World::new().await;
    w.settings.regions = vec!["us-east-1".into(), "eu-west-1".into()];
    w.cloud = offhours::aws::cloud::AwsCloud::new(&w.sdk, &w.settings);
    w.import(
        r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
"#,
    )
    .await;
    let home = w.ec2(1, "dev", None).await;
    let eu_id = w.ec2_in("eu-west-1", 1, "dev", None).await[0].clone();

    // WHEN the stop tick runs THEN both regions' instances stop
    let report = w.tick("2026-11-23T18:01:00Z").await;
    assert_eq!(report.steps[0].resources.len(), 2);
    let states = w.states().await;
    assert_eq!(states[&home[0]], "stopped");
    assert_eq!(states[&eu_id], "stopped");
}

#[tokio::test]
async fn lambda_scheduled_event_runs_a_tick_and_function_url_serves_chat_commands() {
    // GIVEN a start-only schedule (every day at 00:00 UTC) whose only stop is an exception
    // a year from now, two stopped instances, and a JANDI token
    let mut w = World::new().await;
    let future = (chrono::Utc::now() + chrono::TimeDelta::days(365)).date_naive();
    w.import(&format!(
        r#"
schedules:
  - {{ScheduleName: dev, TagValue: dev, StartTime: "00:00", WarnMinutes: 0}}
exceptions:
  - {{ExceptionUuid: far-stop, ScheduleName: dev, ExceptionDate: "{future}", ExceptionType: stop, ExceptionValue: "00:01"}}
"#
    ))
    .await;
    let ids = w.ec2(2, "dev", None).await;
    w.stop_all().await;
    w.settings.max_wait_seconds = 0;
    let secrets = offhours::chat::ChatSecrets::from_lookup(|k| {
        (k == "JANDI_TOKEN").then(|| "jandi-token-1".to_string())
    });
    let handler = offhours::app::lambda::Handler::new(
        &w.sdk,
        w.settings.clone(),
        offhours::notify::NotifySettings::default(),
        secrets,
    )
    .expect("handler");
    let metrics = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = handler.with_metrics(offhours::app::lambda::MetricsOut::Buffer(metrics.clone()));
    // WHEN EventBridge delivers an event dated a year ahead (at that instant the schedule
    // would be stopped by the exception)
    let event = serde_json::json!({
        "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": format!("{future}T12:00:00Z"), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/offhours"], "detail": {}
    });
    let before = chrono::Utc::now();
    w.moto.start_recording().await;
    let out = handler.handle(event).await.expect("tick");
    w.moto.stop_recording().await;
    let requests = w.moto.recorded_operations().await;
    // THEN the tick ran at the wall clock, not at the event's time: today's start applies
    let at: chrono::DateTime<chrono::Utc> =
        out["at"].as_str().expect("at").parse().expect("RFC 3339");
    assert!(
        (at - before).num_seconds().abs() < 120,
        "tick at {at}, clock {before}"
    );
    assert_eq!(out["steps"][0]["action"], "start", "{out}");
    assert_eq!(out["steps"][0]["status"], "done");
    let states = w.states().await;
    assert!(ids.iter().all(|id| states[id] == "running"), "{states:?}");
    // AND the tick wrote its CloudWatch EMF lines: one for schedule dev, one for the tick
    let lines: Vec<serde_json::Value> = metrics
        .lock()
        .expect("metrics")
        .iter()
        .map(|l| serde_json::from_str(l).expect("EMF line is JSON"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["Schedule"], "dev");
    assert_eq!(lines[0]["Actions"], 2, "both instances started");
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "offhours"
    );
    assert!(lines[1]["TickDuration"].is_u64(), "{}", lines[1]);
    // AND its ApiCalls are the requests moto received during the tick (an acting tick:
    // lease, config, states, observations, the starts, state, lease release)
    assert!(requests.len() >= 10, "{requests:?}");
    assert_eq!(
        lines[1]["ApiCalls"].as_u64(),
        Some(requests.len() as u64),
        "{requests:?}"
    );

    // WHEN a JANDI outgoing webhook with the right token asks for `start dev` via the Function URL
    let url_event = |token: &str| {
        let body = serde_json::json!({
            "token": token, "teamName": "team", "roomName": "ops", "writerName": "Mina",
            "text": "/offhours start dev", "keyword": "offhours",
        })
        .to_string();
        serde_json::json!({
            "version": "2.0", "rawPath": "/", "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"accountId": "anonymous", "apiId": "abc123",
                "domainName": "abc123.lambda-url.us-east-1.on.aws", "domainPrefix": "abc123",
                "requestId": "r-1", "time": "23/Nov/2026:18:01:00 +0000", "timeEpoch": 1_795_456_860_000_i64,
                "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9", "userAgent": "jandi"}},
            "body": body, "isBase64Encoded": false
        })
    };
    let forced = || async {
        w.store
            .load_config()
            .await
            .expect("config")
            .schedules
            .iter()
            .any(|s| s.get("ForceStart") == Some(&serde_json::Value::Bool(true)))
    };
    // THEN a wrong token gets 401 and writes nothing
    let refused = handler
        .handle(url_event("wrong"))
        .await
        .expect("http answer");
    assert_eq!(refused["statusCode"], 401);
    assert!(!forced().await, "nothing written for an unverified request");
    // AND the right token sets ForceStart in the Schedule table and answers in JANDI's shape
    let out = handler
        .handle(url_event("jandi-token-1"))
        .await
        .expect("http answer");
    assert_eq!(out["statusCode"], 200, "{out}");
    let reply: serde_json::Value =
        serde_json::from_str(out["body"].as_str().expect("body")).expect("JSON reply");
    assert!(reply["body"].as_str().expect("JANDI body").contains("dev"));
    assert!(forced().await, "ForceStart set by the chat command");
}
