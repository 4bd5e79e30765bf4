//! The weekly digests of a tick: a cloud wrapper that keeps what the tick observed of the schedules whose digest is due, and the digests built from it.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::core::config::Config;
use crate::core::digest::{due, due_digests, Digest, DigestInputs};
use crate::core::plan::ResourceRef;
use crate::core::planner::Resource;
use crate::core::savings::Prices;
use crate::error::Result;
use crate::ports::{Cloud, Observation, Outcome, Settings};

/// The tick's cloud, which also keeps the last observation's resources of the schedules
/// whose weekly digest is due at the tick (and Aurora member instances, for prices). With
/// no digest due (nearly every tick) it keeps nothing.
pub struct Observed<'a, C> {
    cloud: &'a C,
    /// Schedule tag key and the tag values of the schedules with a digest due.
    tag_key: &'a str,
    due_tags: BTreeSet<String>,
    seen: Mutex<Vec<Resource>>,
}

impl<'a, C: Cloud> Observed<'a, C> {
    /// Wraps `cloud` for a tick at `now` with `config`.
    pub fn new(cloud: &'a C, config: &Config, settings: &'a Settings, now: DateTime<Utc>) -> Self {
        let due_tags = config
            .schedules
            .iter()
            .filter(|s| due(s, now).is_some())
            .map(|s| s.tag_value.clone())
            .collect();
        Self {
            cloud,
            tag_key: &settings.tags.schedule,
            due_tags,
            seen: Mutex::new(Vec::new()),
        }
    }

    /// The digests due at `now` (empty when none is), from the last observation kept.
    pub fn digests(&self, config: &Config, settings: &Settings, now: DateTime<Utc>) -> Vec<Digest> {
        if self.due_tags.is_empty() {
            return Vec::new();
        }
        let resources = match self.seen.lock() {
            Ok(seen) => seen.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let region = settings.regions.first().map_or("us-east-1", String::as_str);
        due_digests(&DigestInputs {
            config,
            resources: &resources,
            tags: &settings.tags,
            prices: &Prices::embedded(),
            default_region: region,
            now,
        })
    }

    fn keep(&self, observation: &Observation) {
        if self.due_tags.is_empty() {
            return;
        }
        let kept: Vec<Resource> = observation
            .resources
            .iter()
            .filter(|r| {
                r.cluster.is_some()
                    || r.tags
                        .get(self.tag_key)
                        .is_some_and(|t| self.due_tags.contains(t))
            })
            .cloned()
            .collect();
        match self.seen.lock() {
            Ok(mut seen) => *seen = kept,
            Err(poisoned) => *poisoned.into_inner() = kept,
        }
    }
}

impl<C: Cloud> Cloud for Observed<'_, C> {
    async fn observe(&self) -> Result<Vec<Resource>> {
        Ok(self.observe_all().await?.resources)
    }

    async fn observe_all(&self) -> Result<Observation> {
        let observation = self.cloud.observe_all().await?;
        self.keep(&observation);
        Ok(observation)
    }

    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.cloud.start(resources).await
    }

    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.cloud.stop(resources).await
    }

    fn scope(&self, config: &Config) {
        self.cloud.scope(config)
    }
}
