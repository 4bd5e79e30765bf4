//! The store the simulated ticks use: the library's in-memory store (DynamoDB semantics,
//! its own clock) with crash points on the writes after acting, so a tick can die after clearing
//! a flag, or between saving one schedule's state and the next.

use std::collections::HashMap;

use chrono::TimeDelta;
use offhours::core::config::{Action, RawConfig};
use offhours::core::planner::ScheduleState;
use offhours::error::Result;
use offhours::ports::{Dedup, MemoryStore, SchedulerStore};

use super::cloud::SimCloud;

pub struct SimStore<'a> {
    pub inner: &'a MemoryStore,
    /// The crash switch lives with the cloud: one countdown over every call of a tick.
    pub cloud: &'a SimCloud,
}

impl Dedup for SimStore<'_> {
    async fn delivered(&self, key: &str) -> Result<bool> {
        self.inner.delivered(key).await
    }

    /// No crash point between a webhook's 2xx and this record: a crash there is the one
    /// place a message can go out twice (at-least-once by design: a duplicate warning
    /// rather than none), and no store can close it without the receiver's help.
    async fn record(&self, key: &str) -> Result<()> {
        self.inner.record(key).await
    }
}

impl SchedulerStore for SimStore<'_> {
    async fn load_config(&self) -> Result<RawConfig> {
        self.inner.snapshot()
    }

    async fn load_states_of(&self, names: &[&str]) -> Result<HashMap<String, ScheduleState>> {
        SchedulerStore::load_states_of(self.inner, names).await
    }

    async fn save_state(&self, name: &str, state: &ScheduleState) -> Result<()> {
        self.cloud.crash_point().await;
        self.inner.save_state(name, state).await
    }

    async fn acquire_lease(&self, owner: &str, ttl: TimeDelta) -> Result<bool> {
        self.inner.acquire_lease(owner, ttl).await
    }

    async fn lease_until(&self) -> Result<Option<String>> {
        self.inner.lease_until().await
    }

    async fn release_lease(&self, owner: &str) -> Result<()> {
        self.inner.release_lease(owner).await
    }

    async fn clear_force(&self, schedule: &str, action: Action) -> Result<bool> {
        self.cloud.crash_point().await;
        SchedulerStore::clear_force(self.inner, schedule, action).await
    }
}
