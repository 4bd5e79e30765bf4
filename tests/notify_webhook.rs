//! Webhook delivery against a real HTTP listener on 127.0.0.1: dedup across ticks, bounded retries, bounded time.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use common::hook::{hook, Mode, Recorded};

use offhours::core::config::{validate, Config, Defaults, Problem, RawConfig};
use offhours::core::inventory::parse_inventory;
use offhours::core::plan::Report;
use offhours::core::planner::{next_state, plan, Inputs, ScheduleState, TagKeys, TickResult};
use offhours::notify::{
    notify_tick, Delivery, DeliveryPolicy, MessageKind, Notifier, NotifySettings, WebhookFormat,
};
use offhours::ports::MemoryDedup;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

fn config(webhook: &str) -> Config {
    let yaml = format!(
        "schedules:\n  - {{ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '22:00', Timezone: Asia/Seoul, WarnMinutes: 10, WebhookUrl: '{webhook}'}}\ngroups:\n  - {{ScheduleName: dev, GroupName: DB, InstanceType: RDS}}\n  - {{ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}}\n"
    );
    let config = validate(
        &RawConfig::parse(&yaml, "test").expect("yaml"),
        &Defaults::default(),
    );
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    config
}

const INVENTORY: &str = "resources:\n  - {id: i-0a1, kind: ec2, state: running, tags: {ScheduleName: dev, ScheduleGroupName: API, Name: api-1}}\n  - {id: dev-db, kind: rds, state: available, engine: postgres, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n";

fn tick(config: &Config, now: DateTime<Utc>, states: &HashMap<String, ScheduleState>) -> Report {
    let resources = parse_inventory(INVENTORY, "test").expect("inventory");
    plan(&Inputs {
        now,
        config,
        resources: &resources,
        gaps: &[],
        states,
        tags: &TagKeys::default(),
        report_timezone: chrono_tz::Asia::Seoul,
    })
}

/// State after this morning's 09:00 start was applied.
fn morning_states() -> HashMap<String, ScheduleState> {
    HashMap::from([(
        "dev".to_string(),
        ScheduleState {
            applied: Some(offhours::core::schedule::EventKey {
                at: at("2026-11-23T09:00:00+09:00"),
                action: offhours::core::config::Action::Start,
            }),
            ..ScheduleState::default()
        },
    )])
}

fn notifier(format: Option<WebhookFormat>, policy: DeliveryPolicy) -> Notifier {
    Notifier::new(NotifySettings {
        webhook_url: None,
        format,
        command: "/offhours".into(),
        policy,
        ..NotifySettings::default()
    })
    .expect("client")
}

fn fast_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        attempt_timeout: Duration::from_millis(500),
        retries: 2,
        backoff: Duration::from_millis(20),
        total: Duration::from_secs(3),
    }
}

#[tokio::test]
async fn one_warning_per_stop_event_across_ticks_at_t10_and_t5() {
    // GIVEN dev stops at 22:00 KST with a 10-minute warning, and its resources run.
    let hook = hook(Mode::Ok).await;
    let config = config(&hook.url);
    let notifier = notifier(None, fast_policy());
    let dedup = MemoryDedup::default();
    // The 09:00 start was applied this morning.
    let morning = morning_states()["dev"].clone();
    let mut states = HashMap::from([("dev".to_string(), morning.clone())]);

    // WHEN a tick runs at T-10 and records what it warned about
    let first = tick(&config, at("2026-11-23T21:50:00+09:00"), &states);
    assert_eq!(first.notices.len(), 1);
    let outcome = notify_tick(&notifier, &config, &first, &states, &dedup).await;
    assert_eq!(outcome.sent(), 1, "{outcome:?}");
    let warned = outcome.warned_for("dev");
    assert_eq!(warned, Some(first.notices[0].event));
    let decision = &first.schedules[0];
    let result = TickResult {
        warned,
        ..TickResult::default()
    };
    states.insert("dev".into(), next_state(&morning, decision, &result));

    // AND a tick at T-5 whose state write was lost, and one that kept it
    let lost = tick(
        &config,
        at("2026-11-23T21:55:00+09:00"),
        &HashMap::from([("dev".to_string(), morning)]),
    );
    let again = notify_tick(&notifier, &config, &lost, &states, &dedup).await;
    assert_eq!(again.sent(), 0);
    assert!(matches!(again.deliveries[0].delivery, Delivery::Duplicate));
    let kept = tick(&config, at("2026-11-23T21:55:00+09:00"), &states);
    assert!(kept.notices.is_empty(), "the planner knows it warned");

    // THEN exactly one message reached the webhook: a warning about the 22:00 stop.
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(body["kind"], "pre_stop_warning");
    assert_eq!(body["data"]["stop_at"], "2026-11-23T22:00:00+09:00");
    assert!(body["title"]
        .as_str()
        .is_some_and(|t| t.contains("22:00 KST")));
}

#[tokio::test]
async fn webhook_returning_500_is_retried_a_bounded_number_of_times() {
    let hook = hook(Mode::ServerError).await;
    let config = config(&hook.url);
    let notifier = notifier(Some(WebhookFormat::Slack), fast_policy());
    let report = tick(&config, at("2026-11-23T21:50:00+09:00"), &HashMap::new());

    let dedup = MemoryDedup::default();
    let outcome = notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;

    assert_eq!(hook.requests().len(), 3, "one attempt and two retries");
    // The morning summary that followed was not tried against the failing webhook, and
    // nothing was recorded as delivered: the next tick sends both.
    assert!(matches!(
        outcome.deliveries[1].delivery,
        Delivery::Skipped { .. }
    ));
    assert_eq!(dedup.len(), 0, "a failed warning is not recorded as sent");
    assert!(outcome.warned.is_empty());
    assert_eq!(
        outcome.deliveries[0].delivery,
        Delivery::Failed {
            attempts: 3,
            reason: "HTTP 500".into()
        }
    );
    assert!(hook.requests()[0].body["blocks"].is_array(), "Slack shape");
}

#[tokio::test]
async fn hanging_webhook_does_not_hold_a_delivery_past_the_bound() {
    let hook = hook(Mode::Hang).await;
    let config = config(&hook.url);
    let total = Duration::from_millis(900);
    let policy = DeliveryPolicy {
        attempt_timeout: Duration::from_millis(300),
        retries: 5,
        backoff: Duration::from_millis(10),
        total,
    };
    let notifier = notifier(None, policy);
    let report = tick(&config, at("2026-11-23T21:50:00+09:00"), &HashMap::new());

    let started = Instant::now();
    let outcome = notify_tick(
        &notifier,
        &config,
        &report,
        &morning_states(),
        &MemoryDedup::default(),
    )
    .await;
    let elapsed = started.elapsed();

    assert!(
        elapsed < total + Duration::from_millis(700),
        "took {elapsed:?}"
    );
    let Delivery::Failed { reason, .. } = &outcome.deliveries[0].delivery else {
        panic!("expected a failure: {outcome:?}");
    };
    let text = serde_json::to_string(&outcome).expect("json");
    assert!(
        !text.contains("SECRET-PATH") && !reason.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn unreachable_webhook_fails_without_naming_its_url() {
    // A port that was just freed: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/hook/SECRET-PATH",
        listener.local_addr().expect("addr")
    );
    drop(listener);
    let config = config(&url);
    let notifier = notifier(None, fast_policy());
    let report = tick(&config, at("2026-11-23T21:50:00+09:00"), &HashMap::new());
    let outcome = notify_tick(
        &notifier,
        &config,
        &report,
        &morning_states(),
        &MemoryDedup::default(),
    )
    .await;
    assert_eq!(outcome.failed(), 1, "{outcome:?}");
    let text = serde_json::to_string(&outcome).expect("json");
    assert!(!text.contains("SECRET-PATH"), "{text}");
}

#[tokio::test]
async fn each_distinct_error_is_reported_once_and_jandi_gets_its_accept_header() {
    let hook = hook(Mode::Ok).await;
    let config = config(&hook.url);
    let notifier = notifier(Some(WebhookFormat::Jandi), fast_policy());
    let dedup = MemoryDedup::default();
    let mut report = tick(&config, at("2026-11-23T12:00:00+09:00"), &HashMap::new());
    report.errors = vec![
        Problem::new(
            "dev",
            "schedule 'dev': field StopTime: '25:00' is not a time",
        ),
        Problem::new(
            "staging",
            "group 'staging/API': field Dependency: dependency cycle: API -> WEB -> API",
        ),
    ];

    for _ in 0..3 {
        notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;
    }

    // `staging` has no webhook of its own and WEBHOOK_URL is unset: nothing to send there.
    let requests: Vec<Recorded> = hook
        .requests()
        .into_iter()
        .filter(|r| r.body["connectColor"] == "#E01E5A")
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].body["body"], "offhours: error in schedule dev");
    assert_eq!(
        requests[0].headers.get("accept").map(String::as_str),
        Some("application/vnd.tosslab.jandi-v2+json")
    );
    assert_eq!(requests[0].body["connectColor"], "#E01E5A");
    assert!(requests[0].body["connectInfo"][0]["description"]
        .as_str()
        .is_some_and(|d| d.contains("is not a time")));
}

#[tokio::test]
async fn finished_transition_is_summarised_once_in_group_order() {
    // GIVEN a morning tick that started DB then API, and reported them done.
    let hook = hook(Mode::Ok).await;
    let config = config(&hook.url);
    let notifier = notifier(None, fast_policy());
    let dedup = MemoryDedup::default();
    let stopped = INVENTORY
        .replace("state: running", "state: stopped")
        .replace("state: available", "state: stopped");
    let resources = parse_inventory(&stopped, "test").expect("inventory");
    let mut report = plan(&Inputs {
        now: at("2026-11-23T09:05:00+09:00"),
        config: &config,
        resources: &resources,
        gaps: &[],
        states: &HashMap::new(),
        tags: &TagKeys::default(),
        report_timezone: chrono_tz::Asia::Seoul,
    });
    for step in &mut report.steps {
        step.status = offhours::core::plan::StepStatus::Done;
    }
    report.schedules[0].complete = true;

    // WHEN two ticks notify the same finished transition
    let first = notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;
    notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;

    // THEN one summary lists DB before API.
    assert_eq!(first.deliveries[0].kind, MessageKind::TransitionSummary);
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    let lines = requests[0].body["sections"][0]["lines"].clone();
    assert_eq!(
        lines,
        serde_json::json!([
            "1. DB: start done: dev-db (rds, postgres)",
            "2. API: start done: api-1 (i-0a1, ec2)"
        ])
    );
}

/// A dedup store that is down.
struct BrokenDedup;

fn unavailable() -> offhours::Error {
    offhours::Error::Aws {
        operation: "GetItem",
        code: "ServiceUnavailable".into(),
        message: "state table unavailable".into(),
        source: None,
    }
}

impl offhours::ports::Dedup for BrokenDedup {
    async fn delivered(&self, _key: &str) -> offhours::Result<bool> {
        Err(unavailable())
    }

    async fn record(&self, _key: &str) -> offhours::Result<()> {
        Err(unavailable())
    }
}

#[tokio::test]
async fn warning_is_held_back_while_the_dedup_store_is_down_then_sent_once() {
    // GIVEN a warning due, and a state table that cannot say whether it was sent
    let hook = hook(Mode::Ok).await;
    let config = config(&hook.url);
    let notifier = notifier(None, fast_policy());
    let report = tick(&config, at("2026-11-23T21:50:00+09:00"), &morning_states());
    assert_eq!(report.notices.len(), 1);

    // WHEN a tick notifies with the store down
    let outcome = notify_tick(&notifier, &config, &report, &morning_states(), &BrokenDedup).await;
    // THEN nothing is sent (it might be a duplicate) and nothing is recorded as warned
    assert!(outcome.warned.is_empty(), "{outcome:?}");
    assert!(outcome.deliveries.is_empty(), "{outcome:?}");
    assert!(hook.requests().is_empty());

    // WHEN the store is back: the next two ticks send it exactly once, and record it
    let dedup = MemoryDedup::default();
    let first = notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;
    let second = notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;
    assert_eq!(first.sent(), 1);
    assert_eq!(first.warned_for("dev"), Some(report.notices[0].event));
    assert_eq!(second.sent(), 0);
    assert_eq!(second.deliveries[0].delivery, Delivery::Duplicate);
    assert_eq!(hook.requests().len(), 1);
}

#[tokio::test]
async fn teams_202_counts_as_delivered() {
    // GIVEN a Teams Workflows webhook, which answers 202 Accepted
    let hook = hook(Mode::Accepted).await;
    let config = config(&hook.url);
    let notifier = notifier(Some(WebhookFormat::Teams), fast_policy());
    let report = tick(&config, at("2026-11-23T21:50:00+09:00"), &morning_states());
    let dedup = MemoryDedup::default();
    // WHEN the warning goes out
    let outcome = notify_tick(&notifier, &config, &report, &morning_states(), &dedup).await;
    // THEN it counts as sent, once, and is recorded
    assert_eq!(outcome.sent(), 1, "{outcome:?}");
    assert_eq!(hook.requests().len(), 1);
    assert_eq!(dedup.len(), 1);
    assert!(outcome.warned_for("dev").is_some());
}

#[tokio::test]
async fn transition_finished_by_earlier_ticks_is_summarised_in_stop_order() {
    // GIVEN everything already stopped by earlier ticks, and the 22:00 stop not yet applied.
    let hook = hook(Mode::Ok).await;
    let config = config(&hook.url);
    let notifier = notifier(None, fast_policy());
    let stopped = INVENTORY
        .replace("state: running", "state: stopped")
        .replace("state: available", "state: stopped");
    let resources = parse_inventory(&stopped, "test").expect("inventory");
    let report = plan(&Inputs {
        now: at("2026-11-23T22:05:00+09:00"),
        config: &config,
        resources: &resources,
        gaps: &[],
        states: &HashMap::new(),
        tags: &TagKeys::default(),
        report_timezone: chrono_tz::Asia::Seoul,
    });
    assert!(report.steps.is_empty() && report.schedules[0].complete);

    // WHEN the tick notifies
    notify_tick(
        &notifier,
        &config,
        &report,
        &morning_states(),
        &MemoryDedup::default(),
    )
    .await;

    // THEN the summary names the groups in the order they stop.
    let requests = hook.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body["title"], "dev: stopped");
    assert_eq!(
        requests[0].body["sections"][0]["lines"],
        serde_json::json!(["1. API (EC2): stopped", "2. DB (RDS): stopped"])
    );
}

#[tokio::test]
async fn chat_delivery_stops_at_the_tick_budget_and_leaves_the_rest_for_the_next_tick() {
    // GIVEN three schedules, each with its own webhook that never answers, and an error
    // to report for each
    let hooks = [
        hook(Mode::Hang).await,
        hook(Mode::Hang).await,
        hook(Mode::Hang).await,
    ];
    let mut yaml = String::from("schedules:\n");
    for (i, h) in hooks.iter().enumerate() {
        yaml.push_str(&format!(
            "  - {{ScheduleName: s{i}, TagValue: s{i}, WebhookUrl: '{}'}}\n",
            h.url
        ));
    }
    let config = validate(
        &RawConfig::parse(&yaml, "test").expect("yaml"),
        &Defaults::default(),
    );
    let mut report = tick(&config, at("2026-11-23T12:00:00+09:00"), &HashMap::new());
    report.errors = (0..3)
        .map(|i| Problem::new(format!("s{i}"), format!("schedule 's{i}': something")))
        .collect();
    // AND a notifier that gives each delivery 400 ms and the whole tick 600 ms
    let notifier = Notifier::new(NotifySettings {
        policy: DeliveryPolicy {
            attempt_timeout: Duration::from_millis(400),
            retries: 0,
            backoff: Duration::from_millis(10),
            total: Duration::from_millis(400),
        },
        tick_budget: Duration::from_millis(600),
        ..NotifySettings::default()
    })
    .expect("client");

    // WHEN the tick notifies
    let started = Instant::now();
    let dedup = MemoryDedup::default();
    let outcome = notify_tick(&notifier, &config, &report, &HashMap::new(), &dedup).await;

    // THEN two deliveries were tried, the third was left for the next tick (not recorded)
    let results: Vec<&Delivery> = outcome.deliveries.iter().map(|d| &d.delivery).collect();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(matches!(results[0], Delivery::Failed { .. }));
    assert!(matches!(results[1], Delivery::Failed { .. }));
    assert!(
        matches!(results[2], Delivery::Skipped { reason } if reason.contains("budget")),
        "{results:?}"
    );
    assert!(dedup.is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
}
