//! DynamoDB storage: the three config tables, the scheduler's state table, its lease and chat de-duplication (the only file using aws_sdk_dynamodb).

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

pub use crate::aws::commands::AwsCommandStore;
use crate::core::config::{validate, Action, Defaults, Item, RawConfig};
use crate::core::planner::ScheduleState;
use crate::error::{Error, Result};
use crate::ports::{Dedup, SchedulerStore, Settings, DEDUP_TTL_DAYS};

/// A DynamoDB item as the SDK sees it.
type Attributes = HashMap<String, AttributeValue>;

/// The state-table key of the lease item.
const LEASE_KEY: &str = "lease";
/// Prefix of per-schedule state keys (`schedule#dev`).
const SCHEDULE_PREFIX: &str = "schedule#";
/// Prefix of once-only markers (`once#warn#dev#...`).
const ONCE_PREFIX: &str = "once#";

/// The four offhours tables, behind one DynamoDB client.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    schedule_table: String,
    group_table: String,
    exception_table: String,
    state_table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The outcome of a conditional write: true if written, false if its condition did not hold.
fn conditional<T, E, R>(
    result: std::result::Result<T, SdkError<E, R>>,
    op: &'static str,
) -> Result<bool>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(Error::aws(op, e)),
    }
}

/// Converts one stored item into the JSON item the validator reads. An attribute that has
/// no JSON form (binary, for instance) becomes `{"unsupported": "..."}`, which the
/// validator rejects with the item and field name if the field matters, so a malformed
/// item only fails its own schedule.
fn to_json(item: &Attributes) -> Item {
    item.iter()
        .map(|(name, av)| {
            let value = serde_dynamo::aws_sdk_dynamodb_1::from_attribute_value::<Value>(av.clone())
                .unwrap_or_else(|e| {
                    let mut m = serde_json::Map::new();
                    m.insert("unsupported".into(), Value::String(e.to_string()));
                    Value::Object(m)
                });
            (name.clone(), value)
        })
        .collect()
}

/// Converts a JSON item to DynamoDB attributes (`null` fields are left out).
fn to_attributes(item: &Item, what: &str) -> Result<Attributes> {
    let clean: Item = item
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_dynamo::aws_sdk_dynamodb_1::to_item(clean).map_err(|e| Error::Parse {
        what: what.to_string(),
        source: Box::new(e),
    })
}

fn field<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(Value::as_str).unwrap_or("?")
}

/// Schedule states from state-table items. A state that cannot be read counts as "never
/// applied" (logged), so the schedule converges instead of failing.
fn parse_states(items: Vec<Attributes>) -> HashMap<String, ScheduleState> {
    let mut states = HashMap::new();
    for item in items {
        let Some(AttributeValue::S(key)) = item.get("Key") else {
            continue;
        };
        let Some(name) = key.strip_prefix(SCHEDULE_PREFIX) else {
            continue;
        };
        let parsed = match item.get("State") {
            Some(AttributeValue::S(text)) => serde_json::from_str::<ScheduleState>(text).ok(),
            _ => None,
        };
        match parsed {
            Some(state) => {
                states.insert(name.to_string(), state);
            }
            None => tracing::warn!(
                schedule = name,
                "unreadable state item; treated as never applied"
            ),
        }
    }
    states
}

impl Store {
    /// The same store, its API calls counted by `calls`.
    pub fn counting(mut self, calls: &crate::aws::calls::ApiCalls) -> Self {
        let config = self.client.config().to_builder().interceptor(calls.clone());
        self.client = Client::from_conf(config.build());
        self
    }

    /// A store for the tables named in `settings`, using the SDK config (region, endpoint, credentials).
    pub fn new(sdk: &aws_config::SdkConfig, settings: &Settings) -> Self {
        Self {
            client: Client::new(sdk),
            schedule_table: settings.schedule_table.clone(),
            group_table: settings.group_table.clone(),
            exception_table: settings.exception_table.clone(),
            state_table: settings.state_table.clone(),
        }
    }

    /// Every item of `table` (paginated Scan), optionally only keys starting with `prefix`.
    async fn scan(&self, table: &str, prefix: Option<&str>) -> Result<Vec<Attributes>> {
        let mut req = self.client.scan().table_name(table);
        if let Some(p) = prefix {
            req = req
                .filter_expression("begins_with(#k, :p)")
                .expression_attribute_names("#k", "Key")
                .expression_attribute_values(":p", s(p));
        }
        let mut items = Vec::new();
        let mut pages = req.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("Scan", e))?;
            items.extend(page.items().iter().cloned());
        }
        Ok(items)
    }

    /// Reads the Schedule, ScheduleServerGroup and ScheduleException tables.
    pub async fn load_config(&self) -> Result<RawConfig> {
        let (schedules, groups, exceptions) = tokio::try_join!(
            self.scan(&self.schedule_table, None),
            self.scan(&self.group_table, None),
            self.scan(&self.exception_table, None),
        )?;
        let json = |items: Vec<Attributes>| items.iter().map(to_json).collect::<Vec<_>>();
        Ok(RawConfig {
            schedules: json(schedules),
            groups: json(groups),
            exceptions: json(exceptions),
        })
    }

    /// The stored state of every schedule (a Scan: for inspection; ticks read by key with
    /// [`Store::load_states_of`]).
    pub async fn load_states(&self) -> Result<HashMap<String, ScheduleState>> {
        let items = self.scan(&self.state_table, Some(SCHEDULE_PREFIX)).await?;
        Ok(parse_states(items))
    }

    /// The stored states of the schedules `names`, read by key (BatchGetItem, 100 keys per
    /// call): a tick's reads grow with the schedules, never with the chat once-markers
    /// that accumulate in the same table.
    pub async fn load_states_of(&self, names: &[&str]) -> Result<HashMap<String, ScheduleState>> {
        let mut items = Vec::new();
        for chunk in names.chunks(100) {
            let keys: Vec<Attributes> = chunk
                .iter()
                .map(|n| HashMap::from([("Key".to_string(), s(format!("{SCHEDULE_PREFIX}{n}")))]))
                .collect();
            let mut request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| Error::invalid("state table", "Key", e.to_string()))?;
            // Unprocessed keys (throttling) are asked again with backoff, a bounded number of
            // times; keys still unread then fail the tick (a schedule whose state is unknown
            // must not be treated as never run).
            let mut left = true;
            for attempt in 0..5u32 {
                if attempt > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.state_table, request)
                    .send()
                    .await
                    .map_err(|e| Error::aws("BatchGetItem", e))?;
                if let Some(found) = out.responses().and_then(|r| r.get(&self.state_table)) {
                    items.extend(found.iter().cloned());
                }
                match out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.state_table))
                    .cloned()
                {
                    Some(rest) if !rest.keys().is_empty() => request = rest,
                    _ => {
                        left = false;
                        break;
                    }
                }
            }
            if left {
                return Err(Error::Aws {
                    operation: "BatchGetItem",
                    code: "UnprocessedKeys".into(),
                    message: "some schedule states stayed unprocessed after 5 attempts".into(),
                    source: None,
                });
            }
        }
        Ok(parse_states(items))
    }

    /// Stores the state of schedule `name`.
    pub async fn save_state(&self, name: &str, state: &ScheduleState) -> Result<()> {
        let text = serde_json::to_string(state)?;
        self.client
            .put_item()
            .table_name(&self.state_table)
            .item("Key", s(format!("{SCHEDULE_PREFIX}{name}")))
            .item("State", s(text))
            .send()
            .await
            .map_err(|e| Error::aws("PutItem", e))?;
        Ok(())
    }

    /// Takes the scheduler lease for `ttl` if it is free, expired, or already held by
    /// `owner`. Returns false when another owner holds it. `now` is the wall clock.
    pub async fn acquire_lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        ttl: TimeDelta,
    ) -> Result<bool> {
        let until = now + ttl;
        let result = self
            .client
            .put_item()
            .table_name(&self.state_table)
            .item("Key", s(LEASE_KEY))
            .item("Owner", s(owner))
            .item("Until", n(until.timestamp()))
            .item("UntilText", s(until.to_rfc3339()))
            .condition_expression("attribute_not_exists(#k) OR #u < :now OR #o = :owner")
            .expression_attribute_names("#k", "Key")
            .expression_attribute_names("#u", "Until")
            .expression_attribute_names("#o", "Owner")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        conditional(result, "PutItem")
    }

    /// When the current lease ends (RFC 3339), for messages; `None` if there is none.
    pub async fn lease_until(&self) -> Result<Option<String>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.state_table)
            .key("Key", s(LEASE_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("GetItem", e))?;
        Ok(out.item().and_then(|i| match i.get("UntilText") {
            Some(AttributeValue::S(t)) => Some(t.clone()),
            _ => None,
        }))
    }

    /// Gives the lease back, if `owner` still holds it.
    pub async fn release_lease(&self, owner: &str) -> Result<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.state_table)
            .key("Key", s(LEASE_KEY))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", "Owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        // Not ours any more (expired and taken over): nothing to release.
        conditional(result, "DeleteItem").map(|_| ())
    }

    /// Sets ForceStart/ForceStop back to false, only if it is still true. Returns whether it was.
    pub async fn clear_force(&self, schedule: &str, action: Action) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.schedule_table)
            .key("ScheduleName", s(schedule))
            .update_expression("SET #f = :false")
            .condition_expression("#f = :true")
            .expression_attribute_names("#f", action.force_field())
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        conditional(result, "UpdateItem")
    }

    /// Sets ForceStart (or ForceStop) on an existing schedule and clears the other flag in
    /// the same write (the last command wins). False if there is no such schedule.
    pub async fn set_force(&self, schedule: &str, action: Action) -> Result<bool> {
        let other = action.opposite();
        let result = self
            .client
            .update_item()
            .table_name(&self.schedule_table)
            .key("ScheduleName", s(schedule))
            .update_expression("SET #f = :true, #o = :false")
            .condition_expression("attribute_exists(ScheduleName)")
            .expression_attribute_names("#f", action.force_field())
            .expression_attribute_names("#o", other.force_field())
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        conditional(result, "UpdateItem")
    }

    /// Writes one exception item (replacing one with the same ExceptionUuid).
    pub async fn put_exception(&self, item: &Item) -> Result<()> {
        let what = format!("exception '{}'", field(item, "ExceptionUuid"));
        self.put(&self.exception_table, item, &what).await
    }

    /// Deletes an exception; true if it existed.
    pub async fn delete_exception(&self, uuid: &str) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.exception_table)
            .key("ExceptionUuid", s(uuid))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| Error::aws("DeleteItem", e))?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }

    /// True when the once-marker `key` exists and has not expired (TTL deletion lags, so
    /// the expiry is checked here too).
    pub async fn is_marked(&self, key: &str) -> Result<bool> {
        let out = self
            .client
            .get_item()
            .table_name(&self.state_table)
            .key("Key", s(format!("{ONCE_PREFIX}{key}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::aws("GetItem", e))?;
        let expires = out.item().and_then(|i| match i.get("Expires") {
            Some(AttributeValue::N(text)) => text.parse::<i64>().ok(),
            _ => None,
        });
        Ok(match (out.item(), expires) {
            (None, _) => false,
            (Some(_), Some(at)) => at > Utc::now().timestamp(),
            (Some(_), None) => true,
        })
    }

    /// Claims the once-marker `key` for `ttl` with one conditional write: true for the
    /// first caller (no marker, or an expired one), false for every later one while it lasts.
    pub async fn claim_once(&self, key: &str, ttl: TimeDelta) -> Result<bool> {
        let now = Utc::now();
        let written = self
            .client
            .put_item()
            .table_name(&self.state_table)
            .item("Key", s(format!("{ONCE_PREFIX}{key}")))
            .item("Expires", n((now + ttl).timestamp()))
            .condition_expression("attribute_not_exists(#k) OR #e <= :now")
            .expression_attribute_names("#k", "Key")
            .expression_attribute_names("#e", "Expires")
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        conditional(written, "PutItem")
    }

    /// Writes the once-marker `key`, kept for `ttl_days` (a chat message delivered).
    pub async fn mark(&self, key: &str, ttl_days: u32) -> Result<()> {
        let expires = Utc::now() + TimeDelta::days(i64::from(ttl_days));
        self.client
            .put_item()
            .table_name(&self.state_table)
            .item("Key", s(format!("{ONCE_PREFIX}{key}")))
            .item("Expires", n(expires.timestamp()))
            .send()
            .await
            .map_err(|e| Error::aws("PutItem", e))?;
        Ok(())
    }

    async fn put(&self, table: &str, item: &Item, what: &str) -> Result<()> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(to_attributes(item, what)?))
            .send()
            .await
            .map_err(|e| Error::aws("PutItem", e))?;
        Ok(())
    }

    /// Validates `raw` and, only if it has no errors, writes every item (PutItem: running
    /// it twice changes nothing). One-shot flags (ForceStart/ForceStop) are never
    /// imported. Items in the tables that the file no longer has are listed, and deleted
    /// when `prune` is set.
    pub async fn import(
        &self,
        raw: &RawConfig,
        defaults: &Defaults,
        prune: bool,
    ) -> Result<ImportSummary> {
        let config = validate(raw, defaults);
        if !config.errors.is_empty() {
            return Err(Error::ImportRefused {
                problems: config.errors.iter().map(ToString::to_string).collect(),
            });
        }
        let mut summary = ImportSummary::default();
        let stored = self.load_config().await?;
        for table in self.tables() {
            let items = table.items(raw);
            for item in items {
                let what = table.describe(item);
                let mut item = item.clone();
                for flag in ONE_SHOT_FLAGS {
                    if item.remove(flag).is_some_and(|v| v == Value::Bool(true)) {
                        summary.ignored.push(format!("{what}: {flag}"));
                    }
                }
                // A command set from chat since the last tick survives the import.
                let key = table.key_of(&item);
                if let Some(old) = table.items(&stored).iter().find(|o| table.key_of(o) == key) {
                    for flag in ONE_SHOT_FLAGS {
                        if old.get(flag) == Some(&Value::Bool(true)) {
                            item.insert((*flag).into(), Value::Bool(true));
                        }
                    }
                }
                self.put(table.name, &item, &what).await?;
                summary.written += 1;
            }
            let keep: std::collections::BTreeSet<Vec<String>> =
                items.iter().map(|i| table.key_of(i)).collect();
            for item in table.items(&stored) {
                if keep.contains(&table.key_of(item)) {
                    continue;
                }
                summary.stale.push(table.describe(item));
                if prune {
                    self.delete(&table, item).await?;
                }
            }
        }
        summary.pruned = prune;
        Ok(summary)
    }

    fn tables(&self) -> [Table<'_>; 3] {
        [
            Table {
                name: &self.schedule_table,
                keys: &["ScheduleName"],
                pick: |raw| &raw.schedules,
            },
            Table {
                name: &self.group_table,
                keys: &["ScheduleName", "GroupName"],
                pick: |raw| &raw.groups,
            },
            Table {
                name: &self.exception_table,
                keys: &["ExceptionUuid"],
                pick: |raw| &raw.exceptions,
            },
        ]
    }

    async fn delete(&self, table: &Table<'_>, item: &Item) -> Result<()> {
        let mut req = self.client.delete_item().table_name(table.name);
        for k in table.keys {
            req = req.key(*k, s(field(item, k)));
        }
        req.send().await.map_err(|e| Error::aws("DeleteItem", e))?;
        Ok(())
    }

    /// Every config item, sorted by key, in the file shape `import` reads; one-shot flags
    /// are left out (they are commands, not configuration).
    pub async fn export(&self) -> Result<RawConfig> {
        let mut raw = self.load_config().await?;
        let key = |item: &Item, fields: &[&str]| -> Vec<String> {
            fields.iter().map(|f| field(item, f).to_string()).collect()
        };
        for item in &mut raw.schedules {
            for flag in ONE_SHOT_FLAGS {
                item.remove(flag);
            }
        }
        raw.schedules.sort_by_key(|i| key(i, &["ScheduleName"]));
        raw.groups
            .sort_by_key(|i| key(i, &["ScheduleName", "GroupName"]));
        raw.exceptions
            .sort_by_key(|i| key(i, &["ScheduleName", "ExceptionDate", "ExceptionUuid"]));
        Ok(raw)
    }
}

/// Schedule fields that are commands, not configuration: never imported nor exported.
const ONE_SHOT_FLAGS: &[&str] = &[Action::Start.force_field(), Action::Stop.force_field()];

/// One config table as `import` sees it.
struct Table<'a> {
    name: &'a str,
    keys: &'static [&'static str],
    pick: fn(&RawConfig) -> &Vec<Item>,
}

impl Table<'_> {
    fn items<'r>(&self, raw: &'r RawConfig) -> &'r Vec<Item> {
        (self.pick)(raw)
    }

    fn key_of(&self, item: &Item) -> Vec<String> {
        self.keys
            .iter()
            .map(|k| field(item, k).to_string())
            .collect()
    }

    /// `Schedule ScheduleName=dev`, for messages.
    fn describe(&self, item: &Item) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| format!("{k}={}", field(item, k)))
            .collect();
        format!("{} {}", self.name, keys.join(" "))
    }
}

/// What `import` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Items written.
    pub written: usize,
    /// Items in the tables that the file does not have (`Table Key=value`).
    pub stale: Vec<String>,
    /// Whether `stale` was deleted (`--prune`).
    pub pruned: bool,
    /// One-shot flags set in the file that were not imported.
    pub ignored: Vec<String>,
}

impl Dedup for Store {
    async fn delivered(&self, key: &str) -> Result<bool> {
        self.is_marked(key).await
    }

    /// Each chat message key is kept for [`DEDUP_TTL_DAYS`].
    async fn record(&self, key: &str) -> Result<()> {
        self.mark(key, DEDUP_TTL_DAYS).await
    }
}

impl SchedulerStore for Store {
    async fn load_config(&self) -> Result<RawConfig> {
        Store::load_config(self).await
    }

    async fn load_states_of(&self, names: &[&str]) -> Result<HashMap<String, ScheduleState>> {
        Store::load_states_of(self, names).await
    }

    async fn save_state(&self, name: &str, state: &ScheduleState) -> Result<()> {
        Store::save_state(self, name, state).await
    }

    /// The lease is about real concurrency: it runs on the wall clock.
    async fn acquire_lease(&self, owner: &str, ttl: TimeDelta) -> Result<bool> {
        Store::acquire_lease(self, owner, Utc::now(), ttl).await
    }

    async fn lease_until(&self) -> Result<Option<String>> {
        Store::lease_until(self).await
    }

    async fn release_lease(&self, owner: &str) -> Result<()> {
        Store::release_lease(self, owner).await
    }

    async fn clear_force(&self, schedule: &str, action: Action) -> Result<bool> {
        Store::clear_force(self, schedule, action).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    #[test]
    fn stored_items_become_json_items_field_by_field() {
        let item: Attributes = [
            ("ScheduleName".to_string(), s("dev")),
            ("WarnMinutes".to_string(), AttributeValue::N("15".into())),
            ("Enabled".to_string(), AttributeValue::Bool(true)),
            (
                "Dependency".to_string(),
                AttributeValue::Ss(vec!["DB".into()]),
            ),
            (
                "StartTime".to_string(),
                AttributeValue::B(Blob::new(vec![1, 2])),
            ),
        ]
        .into_iter()
        .collect();
        let json = to_json(&item);
        assert_eq!(json["ScheduleName"], "dev");
        assert_eq!(json["WarnMinutes"], 15);
        assert_eq!(json["Enabled"], true);
        assert_eq!(json["Dependency"], serde_json::json!(["DB"]));
        assert!(json["StartTime"].is_object(), "binary is kept as a marker");
    }

    #[test]
    fn json_items_become_attributes_without_nulls() {
        let item: Item = serde_json::from_str(
            r#"{"ScheduleName":"dev","Dependency":["DB","API"],"WarnMinutes":5,"StopTime":null}"#,
        )
        .expect("json");
        let av = to_attributes(&item, "test").expect("converts");
        assert_eq!(av["ScheduleName"], s("dev"));
        assert_eq!(av["WarnMinutes"], AttributeValue::N("5".into()));
        assert!(matches!(av["Dependency"], AttributeValue::L(_)));
        assert!(!av.contains_key("StopTime"));
    }
}
