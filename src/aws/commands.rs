//! What chat commands act on in production: the DynamoDB store, the cloud for `status`, and the once-markers that make a change delivered twice run once.

use chrono::TimeDelta;

use crate::aws::cloud::AwsCloud;
use crate::aws::store::Store;
use crate::core::config::{Action, Item, RawConfig};
use crate::core::planner::Resource;
use crate::error::Result;
use crate::ports::{Cloud, CommandStore, Dedup};

/// What chat commands act on in production (the Lambda Function URL and `offhours serve`
/// without `--config`): the DynamoDB tables, and EC2/RDS/Aurora for `status`.
#[derive(Debug, Clone)]
pub struct AwsCommandStore {
    pub store: Store,
    pub cloud: AwsCloud,
}

impl CommandStore for AwsCommandStore {
    async fn load_config(&self) -> Result<RawConfig> {
        self.store.load_config().await
    }

    async fn put_exception(&self, item: &Item) -> Result<()> {
        self.store.put_exception(item).await
    }

    async fn delete_exception(&self, uuid: &str) -> Result<bool> {
        self.store.delete_exception(uuid).await
    }

    async fn set_force(&self, schedule: &str, action: Action) -> Result<bool> {
        self.store.set_force(schedule, action).await
    }

    async fn observe(&self) -> Result<Vec<Resource>> {
        self.cloud.observe().await
    }
}

/// How long a chat delivery is remembered: JANDI and Slack deliver again within minutes.
const CHAT_DELIVERY_TTL_HOURS: i64 = 24;

/// Chat deliveries (`chat#…` keys): a change runs for the caller that claims its key.
impl Dedup for AwsCommandStore {
    /// A read (GetItem), which the chat role is not granted: chat commands only `claim`.
    async fn delivered(&self, key: &str) -> Result<bool> {
        self.store.is_marked(key).await
    }

    async fn record(&self, key: &str) -> Result<()> {
        self.claim(key).await.map(|_| ())
    }

    /// One conditional write, so two Lambda instances that got the same message cannot
    /// both run it.
    async fn claim(&self, key: &str) -> Result<bool> {
        self.store
            .claim_once(key, TimeDelta::hours(CHAT_DELIVERY_TTL_HOURS))
            .await
    }
}
