//! One scheduler tick, shared by the Lambda and `offhours run`: lease, load, observe, execute, notify (weekly digests included), save state.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::app::digest::Observed;
use crate::aws::events::Events;
use crate::aws::executor::{execute, Options};
use crate::core::config::{validate, Action, Config, Problem};
use crate::core::digest::Digest;
use crate::core::plan::{Reason, Report};
use crate::core::planner::{next_state, Inputs, ScheduleState, TickResult};
use crate::error::{Error, Result};
use crate::notify::{notify_tick_with_digests, Delivery, MessageKind, Notifier, NotifyOutcome};
use crate::ports::Settings;
use crate::ports::{Cloud, Fence, NoFence, SchedulerStore};

/// Extra lease time beyond the wait budget, for loading, saving and slow API calls.
const LEASE_MARGIN_SECONDS: i64 = 120;

/// Why a tick's report lacks its bookkeeping.
const OUT_OF_TIME: &str = "the invocation ran out of time after acting: flags, chat or state may not be written; the next tick continues from the stored state";

/// Why a tick's report lacks its action events.
const NO_TIME_FOR_EVENTS: &str =
    "the invocation ran out of time before the action events were published to EventBridge";

/// One scheduler tick's context, built once per invocation and shared by the Lambda and
/// `offhours run`: the store, the cloud, the notifier, the settings, the wait budget, and
/// the EventBridge bus action events go to (`None`: `EVENT_BUS` unset).
pub struct Tick<'a, S, C> {
    pub store: &'a S,
    pub cloud: &'a C,
    pub notifier: &'a Notifier,
    pub settings: &'a Settings,
    pub options: &'a Options,
    pub events: Option<&'a Events>,
}

impl<S: SchedulerStore, C: Cloud> Tick<'_, S, C> {
    /// Runs one tick at `now` (the wall clock, or `--at`). Without `dry_run` it holds the
    /// lease for the whole tick, so two concurrent ticks never both act; the second gets
    /// [`Error::LeaseHeld`].
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Report> {
        if self.options.dry_run {
            let config = validate(&self.store.load_config().await?, &self.settings.defaults);
            let states = self.store.load_states_of(&schedule_names(&config)).await?;
            // The same wrapper as a real tick (one copy of the executor in the binary);
            // a dry run sends nothing, so it keeps nothing.
            let cloud = Observed::new(self.cloud, &Config::default(), self.settings, now);
            cloud.scope(&config);
            return execute(
                &cloud,
                &self.inputs(now, &config, &states),
                self.options,
                &NoFence,
            )
            .await;
        }
        let owner = uuid::Uuid::new_v4().to_string();
        let budget = i64::try_from(self.options.max_wait.as_secs()).unwrap_or(i64::MAX / 2);
        let ttl = TimeDelta::seconds(budget + LEASE_MARGIN_SECONDS);
        // The lease is about real concurrency, so it runs on the store's clock (the wall
        // clock in production), not on `now`.
        if !self.store.acquire_lease(&owner, ttl).await? {
            let until = self.store.lease_until().await.ok().flatten();
            let until = until.unwrap_or_else(|| "an unknown time".to_string());
            return Err(Error::LeaseHeld { until });
        }
        let lease = Lease {
            store: self.store,
            owner: &owner,
            ttl,
        };
        let result = self.holding_lease(now, &lease).await;
        let release = self.store.release_lease(&owner);
        match self.before_deadline(release).await {
            Some(Err(e)) => {
                tracing::warn!(error = %e, "could not release the lease; it expires by itself")
            }
            None => tracing::warn!("no time left to release the lease; it expires by itself"),
            Some(Ok(())) => {}
        }
        result
    }

    /// The planner's input for this tick (the executor fills in what it observes).
    fn inputs<'i>(
        &self,
        now: DateTime<Utc>,
        config: &'i Config,
        states: &'i HashMap<String, ScheduleState>,
    ) -> Inputs<'i>
    where
        Self: 'i,
    {
        Inputs {
            now,
            config,
            resources: &[],
            gaps: &[],
            states,
            tags: &self.settings.tags,
            report_timezone: self.settings.defaults.timezone,
        }
    }

    async fn holding_lease(&self, now: DateTime<Utc>, lease: &Lease<'_, S>) -> Result<Report> {
        let store = self.store;
        let config = validate(&store.load_config().await?, &self.settings.defaults);
        let states = store.load_states_of(&schedule_names(&config)).await?;
        let inputs = self.inputs(now, &config, &states);
        let cloud = Observed::new(self.cloud, &config, self.settings, now);
        cloud.scope(&config);
        let mut report = execute(&cloud, &inputs, self.options, lease).await?;
        if report.lease_lost {
            // The tick that holds the lease now does the bookkeeping; writing it here too
            // could clear a flag it has not acted on or overwrite its state. What this
            // one did is still published.
            tracing::error!(
                "lost the lease during the tick: no flags cleared, no chat, no state saved"
            );
            self.publish(&mut report, &[], now).await;
            return Ok(report);
        }
        let digests = cloud.digests(&config, self.settings, now);
        let bookkeeping = self.bookkeeping(&config, &report, &states, &digests, now);
        let (problems, warned) = match self.before_deadline(bookkeeping).await {
            Some(done) => done,
            None => (vec![Problem::new("*", OUT_OF_TIME)], Vec::new()),
        };
        for p in &problems {
            tracing::error!(schedule = %p.schedule, message = %p.message, "after acting");
        }
        report.errors.extend(problems);
        self.publish(&mut report, &warned, now).await;
        Ok(report)
    }

    /// Publishes the run's action events when a bus is configured; what cannot be
    /// delivered becomes a warning of the report, never an error of the tick.
    async fn publish(&self, report: &mut Report, warned: &[String], now: DateTime<Utc>) {
        let Some(events) = self.events else { return };
        let warnings = match self
            .before_deadline(events.publish(report, warned, now))
            .await
        {
            Some(warnings) => warnings,
            None => vec![Problem::new("*", NO_TIME_FOR_EVENTS)],
        };
        for w in &warnings {
            tracing::warn!(schedule = %w.schedule, message = %w.message, "action events");
        }
        report.warnings.extend(warnings);
    }

    /// `work`, or `None` when the tick's deadline comes first.
    async fn before_deadline<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        match self.options.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, work).await.ok(),
            None => Some(work.await),
        }
    }

    /// After acting: chat, state saved, one-shot flags cleared. Problems are reported,
    /// never undo what was done. Also returns the schedules whose pre-stop warning a
    /// webhook accepted in this tick.
    async fn bookkeeping(
        &self,
        config: &Config,
        report: &Report,
        states: &HashMap<String, ScheduleState>,
        digests: &[Digest],
        now: DateTime<Utc>,
    ) -> (Vec<Problem>, Vec<String>) {
        let store = self.store;
        // Chat after the work: a slow webhook cannot delay a start or stop, and delivery
        // problems never fail the tick (notify_tick bounds its own time). Weekly digests
        // due now go last, each once per schedule and week.
        let notified =
            notify_tick_with_digests(self.notifier, config, report, states, store, digests).await;
        tracing::info!(
            sent = notified.sent(),
            failed = notified.failed(),
            messages = notified.deliveries.len(),
            "chat notifications"
        );
        let mut problems = save_states(store, report, states, &notified, now).await;
        // Flags last: the state that carries a forced transition on is stored before its
        // flag goes, so a tick that dies in between leaves the flag set (the next tick
        // acts on it again, which changes nothing) rather than losing the force.
        problems.extend(clear_force_flags(store, config, report).await);
        (problems, warnings_sent(&notified))
    }
}

/// This tick's lease: renewing it before each batch is the fence.
struct Lease<'a, S> {
    store: &'a S,
    owner: &'a str,
    ttl: TimeDelta,
}

impl<S: SchedulerStore> Fence for Lease<'_, S> {
    async fn hold(&self) -> Result<bool> {
        self.store.acquire_lease(self.owner, self.ttl).await
    }
}

/// The schedules whose pre-stop warning was delivered now (not by an earlier tick).
fn warnings_sent(notified: &NotifyOutcome) -> Vec<String> {
    notified
        .deliveries
        .iter()
        .filter(|d| d.kind == MessageKind::PreStopWarning)
        .filter(|d| matches!(d.delivery, Delivery::Sent { .. }))
        .map(|d| d.schedule.clone())
        .collect()
}

fn schedule_names(config: &Config) -> Vec<&str> {
    config.schedules.iter().map(|s| s.name.as_str()).collect()
}

/// Stores each schedule's next state. Bookkeeping failures do not undo what was done;
/// they are reported, and the next tick (idempotent) picks up from the stored state.
async fn save_states(
    store: &impl SchedulerStore,
    report: &Report,
    states: &HashMap<String, ScheduleState>,
    notified: &NotifyOutcome,
    now: DateTime<Utc>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for decision in &report.schedules {
        let old = states.get(&decision.schedule).cloned().unwrap_or_default();
        let result = TickResult {
            now,
            steps: report
                .steps
                .iter()
                .filter(|s| s.schedule == decision.schedule)
                .collect(),
            ..notified.result_for(&decision.schedule)
        };
        let new = next_state(&old, decision, &result);
        if new != old {
            if let Err(e) = store.save_state(&decision.schedule, &new).await {
                problems.push(Problem::new(
                    &decision.schedule,
                    format!("could not save the schedule's state: {e}"),
                ));
            }
        }
    }
    problems
}

/// One-shot flags are triggers: the tick that acted on ForceStart/ForceStop sets it back to
/// false whether or not every resource succeeded (the state table carries the forced
/// transition on); a schedule with both set gets both cleared, and neither acts.
async fn clear_force_flags(
    store: &impl SchedulerStore,
    config: &Config,
    report: &Report,
) -> Vec<Problem> {
    let mut todo: Vec<(&str, Action)> = Vec::new();
    for decision in &report.schedules {
        match decision.reason {
            Reason::ForceStart => todo.push((&decision.schedule, Action::Start)),
            Reason::ForceStop => todo.push((&decision.schedule, Action::Stop)),
            _ => {}
        }
    }
    for s in config.schedules.iter().filter(|s| s.force_conflict) {
        todo.push((&s.name, Action::Start));
        todo.push((&s.name, Action::Stop));
    }
    let mut problems = Vec::new();
    for (schedule, action) in todo {
        if let Err(e) = store.clear_force(schedule, action).await {
            problems.push(Problem::new(
                schedule,
                format!("could not set {} back to false: {e}", action.force_field()),
            ));
        }
    }
    problems
}
