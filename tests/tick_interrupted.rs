//! Ticks interrupted after acting: bookkeeping that hangs (a state table that stops
//! answering after the starts) still ends before the invocation's deadline, with what it
//! did and why the rest is missing; a tick that dies while saving state loses no chat
//! `start`/`stop`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use offhours::app::tick::Tick;
use offhours::aws::executor::Options;
use offhours::core::config::{Action, RawConfig, ResourceKind};
use offhours::core::plan::{Reason, ResourceRef, StepStatus};
use offhours::core::planner::{Resource, ScheduleState};
use offhours::error::Result;
use offhours::notify::{Notifier, NotifySettings};
use offhours::ports::{Cloud, CommandStore, Dedup, MemoryStore, Outcome, SchedulerStore, Settings};

/// The in-memory store, except that saving a state never finishes while `hang` is set.
struct HangingSaves(MemoryStore, AtomicBool);

impl Dedup for HangingSaves {
    async fn delivered(&self, key: &str) -> Result<bool> {
        self.0.delivered(key).await
    }
    async fn record(&self, key: &str) -> Result<()> {
        self.0.record(key).await
    }
}

impl SchedulerStore for HangingSaves {
    async fn load_config(&self) -> Result<RawConfig> {
        self.0.snapshot()
    }
    async fn load_states_of(&self, names: &[&str]) -> Result<HashMap<String, ScheduleState>> {
        SchedulerStore::load_states_of(&self.0, names).await
    }
    async fn save_state(&self, name: &str, state: &ScheduleState) -> Result<()> {
        if self.1.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.0.save_state(name, state).await
    }
    async fn acquire_lease(&self, owner: &str, ttl: TimeDelta) -> Result<bool> {
        self.0.acquire_lease(owner, ttl).await
    }
    async fn lease_until(&self) -> Result<Option<String>> {
        self.0.lease_until().await
    }
    async fn release_lease(&self, owner: &str) -> Result<()> {
        self.0.release_lease(owner).await
    }
    async fn clear_force(&self, schedule: &str, action: Action) -> Result<bool> {
        SchedulerStore::clear_force(&self.0, schedule, action).await
    }
}

/// One EC2 instance that starts when asked.
struct OneInstance(Mutex<String>);

impl Cloud for OneInstance {
    async fn observe(&self) -> Result<Vec<Resource>> {
        let state = self.0.lock().map(|s| s.clone()).unwrap_or_default();
        Ok(vec![Resource {
            id: "i-1".into(),
            kind: ResourceKind::Ec2,
            state: state.into(),
            tags: [("ScheduleName", "dev")].into_iter().collect(),
            account: None,
            region: Some("ap-northeast-2".into()),
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
        }])
    }
    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.set(resources, "running")
    }
    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.set(resources, "stopped")
    }
}

impl OneInstance {
    /// Every call succeeds and the instance is in `state` at once.
    fn set(&self, resources: &[ResourceRef], state: &str) -> Vec<Outcome> {
        if let Ok(mut s) = self.0.lock() {
            *s = state.into();
        }
        resources
            .iter()
            .map(|r| Outcome {
                resource: r.clone(),
                error: None,
            })
            .collect()
    }
}

fn settings() -> Settings {
    Settings::from_lookup(|name| (name == "MAX_WAIT_SECONDS").then(|| "0".into()))
        .expect("settings")
}

fn store(hang: bool) -> HangingSaves {
    let raw = RawConfig::parse(
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: all, StartTime: '09:00', StopTime: '18:00', Timezone: UTC, Enforced: true}\n",
        "test",
    )
    .expect("config");
    HangingSaves(MemoryStore::new(raw, Vec::new()), AtomicBool::new(hang))
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

#[tokio::test(start_paused = true)]
async fn bookkeeping_that_hangs_ends_at_the_deadline_with_the_work_reported() {
    let store = store(true);
    let cloud = OneInstance(Mutex::new("stopped".into()));
    let notifier = Notifier::new(NotifySettings::default()).expect("notifier");
    let settings = settings();
    let options = Options {
        dry_run: false,
        max_wait: Duration::ZERO,
        poll: Duration::ZERO,
        deadline: Some(tokio::time::Instant::now() + Duration::from_secs(40)),
    };
    let tick = Tick {
        store: &store,
        cloud: &cloud,
        notifier: &notifier,
        settings: &settings,
        options: &options,
        events: None,
    };
    let started = tokio::time::Instant::now();
    let report = tokio::time::timeout(
        Duration::from_secs(3600),
        tick.run(at("2026-11-23T09:05:00Z")),
    )
    .await
    .expect("the tick returns (it does not wait for a state table that never answers)")
    .expect("a report");
    assert!(
        started.elapsed() <= Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
    let done: Vec<&str> = report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Done)
        .flat_map(|s| s.resources.iter().map(|r| r.id.as_str()))
        .collect();
    assert_eq!(done, ["i-1"], "{report:#?}");
    assert!(
        report
            .errors
            .iter()
            .any(|p| p.message.contains("ran out of time after acting")),
        "{:#?}",
        report.errors
    );
    // The lease was given back in time: the next tick is not refused.
    assert!(store.0.lease_until().await.expect("lease").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_tick_that_dies_while_saving_state_keeps_the_chat_start() {
    // Enforced schedule in its stopped phase; chat `start` at 20:00.
    let store = store(true);
    assert!(store.0.set_force("dev", Action::Start).await.expect("set"));
    let cloud = OneInstance(Mutex::new("stopped".into()));
    let notifier = Notifier::new(NotifySettings::default()).expect("notifier");
    let settings = settings();
    let options = Options {
        dry_run: false,
        max_wait: Duration::ZERO,
        poll: Duration::ZERO,
        deadline: None,
    };
    let tick = Tick {
        store: &store,
        cloud: &cloud,
        notifier: &notifier,
        settings: &settings,
        options: &options,
        events: None,
    };
    // The first tick starts the instance and dies while saving the schedule's state (the
    // process is gone: its future is dropped there).
    let died = tokio::time::timeout(
        Duration::from_secs(60),
        tick.run(at("2026-11-23T20:00:00Z")),
    )
    .await;
    assert!(
        died.is_err(),
        "the first tick was meant to hang in save_state"
    );
    assert_eq!(
        cloud.0.lock().map(|s| s.clone()).unwrap_or_default(),
        "running"
    );

    // The store answers again; the lease of the dead tick has expired by the next tick.
    store.1.store(false, Ordering::SeqCst);
    store
        .0
        .set_clock(at("2026-11-23T20:05:00Z"))
        .expect("clock");
    let report = tick.run(at("2026-11-23T20:05:00Z")).await.expect("report");
    let d = &report.schedules[0];
    assert_eq!(d.desired, Some(Action::Start), "{d:#?}");
    assert!(
        matches!(d.reason, Reason::ForceStart | Reason::Forced),
        "{d:#?}"
    );
    assert_eq!(
        cloud.0.lock().map(|s| s.clone()).unwrap_or_default(),
        "running"
    );
    let flags = store.0.snapshot().expect("items");
    assert_eq!(
        flags.schedules[0].get("ForceStart"),
        Some(&serde_json::Value::Bool(false))
    );

    // And it holds on later ticks until the next boundary (09:00).
    store
        .0
        .set_clock(at("2026-11-23T21:00:00Z"))
        .expect("clock");
    let report = tick.run(at("2026-11-23T21:00:00Z")).await.expect("report");
    assert_eq!(
        report.schedules[0].desired,
        Some(Action::Start),
        "{report:#?}"
    );
    assert_eq!(
        cloud.0.lock().map(|s| s.clone()).unwrap_or_default(),
        "running"
    );
}
