//! A tick whose bookkeeping hangs (a state table that stops answering after the starts)
//! still returns before the invocation's deadline, with what it did and why the rest is
//! missing; the next tick continues from the stored state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use offhours::app::tick::Tick;
use offhours::aws::executor::Options;
use offhours::core::config::{Action, Defaults, RawConfig, ResourceKind};
use offhours::core::plan::{ResourceRef, StepStatus};
use offhours::core::planner::{Resource, ScheduleState, TagKeys};
use offhours::error::Result;
use offhours::notify::{Notifier, NotifySettings};
use offhours::ports::{Cloud, Dedup, MemoryStore, Outcome, SchedulerStore, Settings};

/// The in-memory store, except that saving a state never finishes.
struct HangingSaves(MemoryStore);

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
    async fn save_state(&self, _name: &str, _state: &ScheduleState) -> Result<()> {
        std::future::pending().await
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
            state,
            tags: BTreeMap::from([("ScheduleName".to_string(), "dev".to_string())]),
            region: Some("ap-northeast-2".into()),
            engine: None,
            reason: None,
            cluster: None,
        }])
    }
    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        if let Ok(mut s) = self.0.lock() {
            *s = "running".into();
        }
        resources
            .iter()
            .map(|r| Outcome {
                resource: r.clone(),
                error: None,
            })
            .collect()
    }
    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        resources
            .iter()
            .map(|r| Outcome {
                resource: r.clone(),
                error: None,
            })
            .collect()
    }
}

#[tokio::test(start_paused = true)]
async fn bookkeeping_that_hangs_ends_at_the_deadline_with_the_work_reported() {
    let raw = RawConfig::parse(
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: all, StartTime: '09:00', StopTime: '18:00', Timezone: UTC}\n",
        "test",
    )
    .expect("config");
    let store = HangingSaves(MemoryStore::new(raw, Vec::new()));
    let cloud = OneInstance(Mutex::new("stopped".into()));
    let notifier = Notifier::new(NotifySettings::default()).expect("notifier");
    let settings = Settings {
        defaults: Defaults::default(),
        tags: TagKeys::default(),
        schedule_table: "Schedule".into(),
        group_table: "ScheduleServerGroup".into(),
        exception_table: "ScheduleException".into(),
        state_table: "SchedulerState".into(),
        max_wait_seconds: 0,
        regions: Vec::new(),
        aws_call_timeout_seconds: 20,
        aws_connect_timeout_seconds: 3,
    };
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
    };
    let now: DateTime<Utc> = "2026-11-23T09:05:00Z".parse().expect("instant");
    let started = tokio::time::Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(3600), tick.run(now))
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
