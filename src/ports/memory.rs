//! In-memory implementations of the ports: a config store for tests and `offhours serve --config`, and a message dedup set.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::Value;

use crate::core::config::{Action, Item, RawConfig};
use crate::core::planner::Resource;
use crate::error::{Error, Result};
use crate::ports::{CommandStore, Dedup};

/// An in-memory [`CommandStore`]: tests, and `offhours serve --config FILE` (changes stay in memory).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<(RawConfig, Vec<Resource>)>,
}

impl MemoryStore {
    pub fn new(raw: RawConfig, resources: Vec<Resource>) -> Self {
        Self {
            inner: Mutex::new((raw, resources)),
        }
    }

    /// The current items (for assertions and inspection).
    pub fn snapshot(&self) -> Result<RawConfig> {
        Ok(self.lock()?.0.clone())
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, (RawConfig, Vec<Resource>)>> {
        self.inner
            .lock()
            .map_err(|_| Error::Poisoned("the in-memory store"))
    }
}

fn uuid_of(item: &Item) -> Option<&str> {
    item.get("ExceptionUuid").and_then(Value::as_str)
}

impl CommandStore for MemoryStore {
    async fn load_config(&self) -> Result<RawConfig> {
        self.snapshot()
    }

    async fn put_exception(&self, item: &Item) -> Result<()> {
        let mut inner = self.lock()?;
        let uuid = uuid_of(item).map(String::from);
        inner.0.exceptions.retain(|e| uuid_of(e) != uuid.as_deref());
        inner.0.exceptions.push(item.clone());
        Ok(())
    }

    async fn delete_exception(&self, uuid: &str) -> Result<bool> {
        let mut inner = self.lock()?;
        let before = inner.0.exceptions.len();
        inner.0.exceptions.retain(|e| uuid_of(e) != Some(uuid));
        Ok(inner.0.exceptions.len() != before)
    }

    async fn set_force(&self, schedule: &str, action: Action) -> Result<bool> {
        let mut inner = self.lock()?;
        let other = action.opposite();
        match inner
            .0
            .schedules
            .iter_mut()
            .find(|s| s.get("ScheduleName").and_then(Value::as_str) == Some(schedule))
        {
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
        Ok(self.lock()?.1.clone())
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
