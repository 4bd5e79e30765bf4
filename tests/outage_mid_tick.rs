//! Outages in the middle of a tick: EC2 and RDS unreachable after the tick has acted, and
//! the emulator itself killed while a tick is starting a dependency chain (then a second
//! moto that holds what the first held when it died comes up on the same port).

mod common;

use std::time::{Duration, Instant};

use common::faults::{Fault, FaultProxy, Gate, Rule};
use common::hook::{hook, Hook, Mode};
use common::{summary, World};
use offhours::core::config::Action;
use offhours::core::plan::Report;
use offhours::notify::{Notifier, NotifySettings, WebhookFormat};
use serde_json::Value;

/// dev: DB (RDS) -> APP (EC2), 09:00-18:00. ops: 22:00-23:00, started by chat's `start`
/// (ForceStart) outside its window.
const CONFIG: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
  - {ScheduleName: ops, TagValue: ops, StartTime: "22:00", StopTime: "23:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
"#;

/// The fleet of [`CONFIG`], stopped and applied by an 08:00 tick, with ForceStart set on
/// ops; ticks go through `proxy` with 2-second AWS calls, wait up to 30 s for the chain,
/// and chat goes to a webhook. Returns the APP instance ids, the ops instance id, the hook.
async fn fleet(w: &mut World, proxy: &FaultProxy) -> ([String; 2], String, Hook) {
    w.settings.aws_call_timeout_seconds = 2;
    w.settings.aws_connect_timeout_seconds = 1;
    w.through_as_deployed(proxy).await;
    let hook = hook(Mode::Ok).await;
    w.notifier = Notifier::new(NotifySettings {
        webhook_url: Some(hook.url.clone()),
        format: Some(WebhookFormat::Generic),
        ..NotifySettings::default()
    })
    .expect("notifier");
    w.import(CONFIG).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    // One instance per call: a replayed recording makes the same ids in the same order.
    let app = [
        w.ec2(1, "dev", Some("APP")).await.remove(0),
        w.ec2(1, "dev", Some("APP")).await.remove(0),
    ];
    let ops = w.ec2(1, "ops", None).await.remove(0);
    w.stop_all().await;
    let quiet = w.tick("2026-11-23T08:00:00Z").await;
    assert!(
        quiet.steps.is_empty() && quiet.errors.is_empty(),
        "{quiet:?}"
    );
    assert!(w.store.set_force("ops", Action::Start).await.expect("set"));
    w.options.max_wait = Duration::from_secs(30);
    (app, ops, hook)
}

/// The ForceStart flag of ops as stored.
async fn ops_force_start(w: &World) -> bool {
    let raw = w.store.load_config().await.expect("config");
    let ops = raw.schedules.iter().find(|s| s["ScheduleName"] == "ops");
    ops.and_then(|s| s.get("ForceStart"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Runs the 09:05 tick; when APP's StartInstances reaches the proxy, holds it and runs
/// `meanwhile` (the outage) before letting it go on. Returns the tick and how long it took.
async fn tick_with_outage_at_app_start(
    w: &World,
    proxy: &FaultProxy,
    app: &[String; 2],
    meanwhile: impl FnOnce(),
) -> (offhours::Result<Report>, Duration) {
    let gate = Gate::new();
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "StartInstances",
        Fault::Hold(gate.clone()),
    )
    .body_contains(&app[0])]);
    let outage = async {
        gate.arrived().await;
        meanwhile();
        gate.open();
    };
    let started = Instant::now();
    let tick = tokio::time::timeout(Duration::from_secs(60), w.try_tick("2026-11-23T09:05:00Z"));
    let (result, ()) = tokio::join!(tick, outage);
    (
        result.expect("the tick returned within 60 s"),
        started.elapsed(),
    )
}

#[tokio::test]
async fn ec2_and_rds_unreachable_after_acting_still_report_what_was_done_and_clear_the_flag() {
    // GIVEN the stopped fleet at the morning start, ForceStart set on ops
    let (mut w, proxy) = World::new_with_proxy().await;
    let (app, _ops, _hook) = fleet(&mut w, &proxy).await;

    // WHEN EC2 and RDS stop answering while APP is being started (DynamoDB still answers):
    // the tick has started the database and ops, and cannot observe anything any more
    let (result, took) = tick_with_outage_at_app_start(&w, &proxy, &app, || {
        proxy.push_rule(Rule::any(Fault::Drop).service("ec2"));
        proxy.push_rule(Rule::any(Fault::Drop).service("rds"));
    })
    .await;

    // THEN the tick reports what it did, as partial, naming what it could not observe
    let report = result.expect("a report of what the tick did, not an error");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(report.partial);
    assert_eq!(
        summary(&report),
        ["DB start done", " start done", "APP start done"]
    );
    let unseen: Vec<_> = report
        .errors
        .iter()
        .filter(|p| p.message.contains("DescribeInstances") && p.message.contains("Unreachable"))
        .collect();
    assert_eq!(unseen.len(), 1, "{:?}", report.errors);
    // AND the ForceStart it acted on is cleared in that same tick
    assert!(!ops_force_start(&w).await);

    // WHEN EC2 and RDS answer again
    proxy.clear();
    proxy.reset_calls();
    let next = w.tick("2026-11-23T09:10:00Z").await;
    // THEN the next tick finds everything up: no start call, dev's 09:00 start applied
    assert!(next.steps.is_empty() && next.errors.is_empty(), "{next:?}");
    assert!(
        !proxy.forwarded().iter().any(|op| op.contains(":Start")),
        "{:?}",
        proxy.forwarded()
    );
    let states = w.store.load_states().await.expect("states");
    assert!(states["dev"]
        .applied
        .is_some_and(|e| e.action == Action::Start));
}
