//! In-memory implementations of the ports: a store for tests, the fleet simulation and `offhours serve --config`, and a message dedup set.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::core::config::{Action, Item, RawConfig};
use crate::core::planner::{Resource, ScheduleState};
use crate::error::{Error, Result};
use crate::ports::{CommandStore, Dedup, SchedulerStore, DEDUP_TTL_DAYS};

/// An in-memory store with the DynamoDB store's semantics: the config items (chat commands
/// and ticks), schedule states, the conditional lease and expiring once-markers. It has its
/// own clock ([`MemoryStore::set_clock`]) for the lease and the markers, so a simulation
/// can run weeks in a second. Used by tests, the fleet simulation, and `offhours serve
/// --config FILE` (changes stay in memory).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    raw: RawConfig,
    resources: Vec<Resource>,
    states: HashMap<String, ScheduleState>,
    /// (owner, until).
    lease: Option<(String, DateTime<Utc>)>,
    /// Once-marker key -> expiry.
    marks: HashMap<String, DateTime<Utc>>,
    clock: DateTime<Utc>,
}

impl MemoryStore {
    pub fn new(raw: RawConfig, resources: Vec<Resource>) -> Self {
        Self {
            inner: Mutex::new(Inner {
                raw,
                resources,
                ..Inner::default()
            }),
        }
    }

    /// The current items (for assertions and inspection).
    pub fn snapshot(&self) -> Result<RawConfig> {
        Ok(self.lock()?.raw.clone())
    }

    /// Replaces the config items (an operator editing the tables).
    pub fn replace_config(&self, raw: RawConfig) -> Result<()> {
        self.lock()?.raw = raw;
        Ok(())
    }

    /// Sets the clock the lease and the once-markers run on.
    pub fn set_clock(&self, now: DateTime<Utc>) -> Result<()> {
        self.lock()?.clock = now;
        Ok(())
    }

    /// The stored state of every schedule (for assertions).
    pub fn states(&self) -> Result<HashMap<String, ScheduleState>> {
        Ok(self.lock()?.states.clone())
    }

    /// Once-markers stored, and how many of them have not expired at the store's clock.
    pub fn marker_counts(&self) -> Result<(usize, usize)> {
        let inner = self.lock()?;
        let live = inner.marks.values().filter(|e| **e > inner.clock).count();
        Ok((inner.marks.len(), live))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>> {
        self.inner
            .lock()
            .map_err(|_| Error::Poisoned("the in-memory store"))
    }
}

fn uuid_of(item: &Item) -> Option<&str> {
    item.get("ExceptionUuid").and_then(Value::as_str)
}

fn schedule_item<'a>(raw: &'a mut RawConfig, schedule: &str) -> Option<&'a mut Item> {
    raw.schedules
        .iter_mut()
        .find(|s| s.get("ScheduleName").and_then(Value::as_str) == Some(schedule))
}

impl CommandStore for MemoryStore {
    async fn load_config(&self) -> Result<RawConfig> {
        self.snapshot()
    }

    async fn put_exception(&self, item: &Item) -> Result<()> {
        let mut inner = self.lock()?;
        let uuid = uuid_of(item).map(String::from);
        inner
            .raw
            .exceptions
            .retain(|e| uuid_of(e) != uuid.as_deref());
        inner.raw.exceptions.push(item.clone());
        Ok(())
    }

    async fn delete_exception(&self, uuid: &str) -> Result<bool> {
        let mut inner = self.lock()?;
        let before = inner.raw.exceptions.len();
        inner.raw.exceptions.retain(|e| uuid_of(e) != Some(uuid));
        Ok(inner.raw.exceptions.len() != before)
    }

    async fn set_force(&self, schedule: &str, action: Action) -> Result<bool> {
        let mut inner = self.lock()?;
        let other = action.opposite();
        match schedule_item(&mut inner.raw, schedule) {
            Some(item) => {
                // The last command wins: setting one flag clears the other.
                item.insert(action.force_field().into(), Value::Bool(true));
                item.insert(other.force_field().into(), Value::Bool(false));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn observe(&self) -> Result<Vec<Resource>> {
        Ok(self.lock()?.resources.clone())
    }
}

impl SchedulerStore for MemoryStore {
    async fn load_config(&self) -> Result<RawConfig> {
        self.snapshot()
    }

    async fn load_states_of(&self, names: &[&str]) -> Result<HashMap<String, ScheduleState>> {
        let inner = self.lock()?;
        Ok(names
            .iter()
            .filter_map(|n| inner.states.get(*n).map(|s| (n.to_string(), s.clone())))
            .collect())
    }

    async fn save_state(&self, name: &str, state: &ScheduleState) -> Result<()> {
        self.lock()?.states.insert(name.to_string(), state.clone());
        Ok(())
    }

    async fn acquire_lease(&self, owner: &str, ttl: TimeDelta) -> Result<bool> {
        let mut inner = self.lock()?;
        let now = inner.clock;
        // The DynamoDB condition: no lease, an expired one, or our own.
        let free = match &inner.lease {
            None => true,
            Some((o, until)) => *until < now || o == owner,
        };
        if free {
            inner.lease = Some((owner.to_string(), now + ttl));
        }
        Ok(free)
    }

    async fn lease_until(&self) -> Result<Option<String>> {
        Ok(self.lock()?.lease.as_ref().map(|(_, u)| u.to_rfc3339()))
    }

    async fn release_lease(&self, owner: &str) -> Result<()> {
        let mut inner = self.lock()?;
        if inner.lease.as_ref().is_some_and(|(o, _)| o == owner) {
            inner.lease = None;
        }
        Ok(())
    }

    async fn clear_force(&self, schedule: &str, action: Action) -> Result<bool> {
        let mut inner = self.lock()?;
        let field = action.force_field();
        match schedule_item(&mut inner.raw, schedule) {
            Some(item) if item.get(field) == Some(&Value::Bool(true)) => {
                item.insert(field.into(), Value::Bool(false));
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl Dedup for MemoryStore {
    /// A marker counts until it expires (the DynamoDB store checks `Expires` the same way).
    async fn delivered(&self, key: &str) -> Result<bool> {
        let inner = self.lock()?;
        Ok(inner.marks.get(key).is_some_and(|e| *e > inner.clock))
    }

    async fn record(&self, key: &str) -> Result<()> {
        let mut inner = self.lock()?;
        let expires = inner.clock + TimeDelta::days(i64::from(DEDUP_TTL_DAYS));
        inner.marks.insert(key.to_string(), expires);
        Ok(())
    }

    /// Checks and records under one lock: two concurrent callers never both get true.
    async fn claim(&self, key: &str) -> Result<bool> {
        let mut inner = self.lock()?;
        let now = inner.clock;
        if inner.marks.get(key).is_some_and(|e| *e > now) {
            return Ok(false);
        }
        let expires = now + TimeDelta::days(i64::from(DEDUP_TTL_DAYS));
        inner.marks.insert(key.to_string(), expires);
        Ok(true)
    }
}

/// An in-memory [`Dedup`] for tests and local runs.
#[derive(Debug, Default)]
pub struct MemoryDedup {
    keys: std::sync::Mutex<HashSet<String>>,
}

impl MemoryDedup {
    pub fn contains(&self, key: &str) -> bool {
        self.keys.lock().map(|k| k.contains(key)).unwrap_or(false)
    }

    /// Number of keys recorded so far.
    pub fn len(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Dedup for MemoryDedup {
    async fn delivered(&self, key: &str) -> Result<bool> {
        let keys = self
            .keys
            .lock()
            .map_err(|_| Error::Poisoned("the in-memory dedup set"))?;
        Ok(keys.contains(key))
    }

    async fn record(&self, key: &str) -> Result<()> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| Error::Poisoned("the in-memory dedup set"))?;
        keys.insert(key.to_string());
        Ok(())
    }
}
