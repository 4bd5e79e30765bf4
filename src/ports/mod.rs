//! Ports: the traits the edges implement (`Cloud`, `SchedulerStore`, `CommandStore`, `Dedup`, `EventSink`) and the plain settings they receive; no I/O here.

use std::collections::HashMap;
use std::future::Future;

use chrono::TimeDelta;

use crate::core::config::{Action, Config, Defaults, Item, RawConfig};
use crate::core::events::ActionEvent;
use crate::core::plan::ResourceRef;
use crate::core::planner::{Gap, Resource, ScheduleState, TagKeys};
use crate::error::{Error, Result};

pub mod memory;

pub use memory::{MemoryDedup, MemoryStore};

/// Everything the environment configures.
#[derive(Debug, Clone)]
pub struct Settings {
    pub defaults: Defaults,
    pub tags: TagKeys,
    pub schedule_table: String,
    pub group_table: String,
    pub exception_table: String,
    pub state_table: String,
    /// Seconds one invocation keeps re-observing a transition in progress.
    pub max_wait_seconds: u64,
    /// Regions handled in one tick; empty means the SDK's default region.
    pub regions: Vec<String>,
    /// Accounts handled in one tick (env `ACCOUNTS`); empty means the function's own only.
    pub accounts: Vec<Account>,
    /// Env `SPOKE_EXTERNAL_ID`: the external id passed when assuming a spoke role.
    pub spoke_external_id: Option<String>,
    /// Limit of one AWS call, its retries included (seconds).
    pub aws_call_timeout_seconds: u64,
    /// Limit of connecting to an AWS endpoint (seconds).
    pub aws_connect_timeout_seconds: u64,
}

/// One AWS account offhours observes and acts in (env `ACCOUNTS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Account {
    /// The function's own account, with its own credentials (`self`).
    Own,
    /// Another account, entered by assuming `role` through STS.
    Role { account: String, role: String },
}

/// Why a start or stop of one resource failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionError {
    /// The API operation (`StartInstances`).
    pub operation: String,
    /// AWS's error code, the failure's identity (`InsufficientInstanceCapacity`).
    pub code: String,
    /// The provider's message, for people and logs (may differ on every call).
    pub message: String,
}

impl From<Error> for ActionError {
    fn from(e: Error) -> Self {
        match e {
            Error::Aws {
                operation,
                code,
                message,
                ..
            } => Self {
                operation: operation.to_string(),
                code,
                message,
            },
            other => Self {
                operation: String::new(),
                code: "NotAttempted".into(),
                message: other.to_string(),
            },
        }
    }
}

/// What happened to one resource of a start or stop request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub resource: ResourceRef,
    /// `None` when the call succeeded.
    pub error: Option<ActionError>,
}

/// What one observation of the cloud saw, and the parts it could not see.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub resources: Vec<Resource>,
    /// Regions and services that failed to answer (each a part of the fleet unseen).
    pub gaps: Vec<Gap>,
}

/// Where scheduled resources live: list them, start them, stop them.
pub trait Cloud: Sync {
    /// Every resource carrying the schedule tag, with its state and tags.
    fn observe(&self) -> impl Future<Output = Result<Vec<Resource>>> + Send;
    /// Like `observe`, but a failure in one region or service leaves a gap instead of
    /// failing the whole observation (a cloud that cannot fail in parts keeps the default).
    fn observe_all(&self) -> impl Future<Output = Result<Observation>> + Send {
        async move {
            Ok(Observation {
                resources: self.observe().await?,
                gaps: Vec::new(),
            })
        }
    }
    /// Starts `resources`; one outcome per resource, in the same order.
    fn start(&self, resources: &[ResourceRef]) -> impl Future<Output = Vec<Outcome>> + Send;
    /// Stops `resources`; one outcome per resource, in the same order.
    fn stop(&self, resources: &[ResourceRef]) -> impl Future<Output = Vec<Outcome>> + Send;
    /// Tells the cloud what the tick's config can schedule, so that it need not list what
    /// no schedule could use (ECS services without an ECS group). A cloud that lists
    /// everything keeps the default.
    fn scope(&self, _config: &Config) {}
}

/// Where action events go (Amazon EventBridge in production, a fake in tests).
pub trait EventSink: Sync {
    /// Sends at most 10 `events` in one call. Per event, in the same order: `None` when
    /// it was accepted, else its error code. `Err`: the whole call failed.
    fn put(
        &self,
        events: &[ActionEvent],
    ) -> impl Future<Output = Result<Vec<Option<String>>>> + Send;
}

/// The right to act, held by one tick at a time (the lease in the state table): renewed
/// and checked before every batch of starts or stops, so a tick that lost it stops acting.
pub trait Fence: Sync {
    /// Renews the right to act; false when another invocation holds it now.
    fn hold(&self) -> impl Future<Output = Result<bool>> + Send;
}

/// No fencing: dry runs, tests of the executor alone.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFence;

impl Fence for NoFence {
    async fn hold(&self) -> Result<bool> {
        Ok(true)
    }
}

/// What chat commands need from storage. Production: the DynamoDB store plus the cloud
/// observer; tests and `offhours serve --config`: [`MemoryStore`].
pub trait CommandStore {
    /// The three item lists (Schedule, ScheduleServerGroup, ScheduleException).
    fn load_config(&self) -> impl Future<Output = Result<RawConfig>> + Send;
    /// Writes (creates or replaces) one ScheduleException item.
    fn put_exception(&self, item: &Item) -> impl Future<Output = Result<()>> + Send;
    /// Deletes one exception; false when no item has that ExceptionUuid.
    fn delete_exception(&self, uuid: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Sets ForceStart (`Start`) or ForceStop (`Stop`) on a schedule; false when it does not exist.
    fn set_force(
        &self,
        schedule: &str,
        action: Action,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// Every resource carrying the schedule tag, as the cloud reports it now.
    fn observe(&self) -> impl Future<Output = Result<Vec<Resource>>> + Send;
}

/// How long the production [`Dedup`] keeps a key: a persisting configuration error is
/// reported again after this many days.
pub const DEDUP_TTL_DAYS: u32 = 14;

/// Storage of delivered chat messages, for de-duplicating them across ticks. A message is
/// recorded only after its webhook accepted it. Production: once-markers in the state
/// table; tests: [`MemoryDedup`].
pub trait Dedup: Sync {
    /// True when the message `key` was recorded as delivered.
    fn delivered(&self, key: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Records the message `key` as delivered.
    fn record(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
    /// Records `key` before the work it stands for; true for the one caller that recorded
    /// it first. A store that can write conditionally does it in one step, so two
    /// processes never both get true; the default checks and then records.
    fn claim(&self, key: &str) -> impl Future<Output = Result<bool>> + Send {
        async move {
            if self.delivered(key).await? {
                return Ok(false);
            }
            self.record(key).await?;
            Ok(true)
        }
    }
}

/// What one scheduler tick needs from storage: the configuration, each schedule's state,
/// the lease that keeps ticks from acting at once, the one-shot flags, and (through
/// [`Dedup`]) the chat once-markers. Production: the DynamoDB tables; the fleet
/// simulation: [`MemoryStore`].
pub trait SchedulerStore: Dedup + Sync {
    /// The three item lists (Schedule, ScheduleServerGroup, ScheduleException).
    fn load_config(&self) -> impl Future<Output = Result<RawConfig>> + Send;
    /// The stored states of the schedules `names` (absent: never run).
    fn load_states_of(
        &self,
        names: &[&str],
    ) -> impl Future<Output = Result<HashMap<String, ScheduleState>>> + Send;
    /// Stores the state of schedule `name`.
    fn save_state(
        &self,
        name: &str,
        state: &ScheduleState,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Takes the lease for `ttl` from the store's clock if it is free, expired or already
    /// held by `owner`; false when another owner holds it.
    fn acquire_lease(
        &self,
        owner: &str,
        ttl: TimeDelta,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// When the current lease ends (RFC 3339), for messages.
    fn lease_until(&self) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Gives the lease back if `owner` still holds it.
    fn release_lease(&self, owner: &str) -> impl Future<Output = Result<()>> + Send;
    /// Sets ForceStart (`Start`) or ForceStop (`Stop`) back to false; whether it was true.
    fn clear_force(
        &self,
        schedule: &str,
        action: Action,
    ) -> impl Future<Output = Result<bool>> + Send;
}
