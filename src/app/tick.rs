//! One scheduler tick, shared by the Lambda and `offhours run`: lease, load, observe, execute, notify, save state.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::aws::executor::{execute, Context, Options};
use crate::aws::store::Store;
use crate::core::config::{validate, Action, Config, Problem};
use crate::core::plan::{Reason, Report};
use crate::core::planner::{next_state, ScheduleState, TickResult};
use crate::error::{Error, Result};
use crate::notify::{notify_tick, Notifier};
use crate::ports::Cloud;
use crate::ports::Settings;

/// Extra lease time beyond the wait budget, for loading, saving and slow API calls.
const LEASE_MARGIN_SECONDS: i64 = 120;

/// Runs one tick at `now` (the event's time, or `--at`). Without `dry_run` it holds the
/// lease for the whole tick, so two concurrent ticks never both act; the second gets
/// [`Error::LeaseHeld`].
pub async fn tick(
    store: &Store,
    cloud: &impl Cloud,
    notifier: &Notifier,
    settings: &Settings,
    now: DateTime<Utc>,
    options: &Options,
) -> Result<Report> {
    if options.dry_run {
        let config = validate(&store.load_config().await?, &settings.defaults);
        let states = store.load_states().await?;
        return execute(cloud, &context(now, &config, &states, settings), options).await;
    }
    let owner = uuid::Uuid::new_v4().to_string();
    let ttl = TimeDelta::seconds(
        i64::try_from(options.max_wait.as_secs()).unwrap_or(i64::MAX / 2) + LEASE_MARGIN_SECONDS,
    );
    // The lease is about real concurrency, so it uses the wall clock, not `now`.
    if !store.acquire_lease(&owner, Utc::now(), ttl).await? {
        let until = store
            .lease_until()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "an unknown time".to_string());
        return Err(Error::LeaseHeld { until });
    }
    let result = tick_holding_lease(store, cloud, notifier, settings, now, options).await;
    if let Err(e) = store.release_lease(&owner).await {
        tracing::warn!(error = %e, "could not release the lease; it expires by itself");
    }
    result
}

fn context<'a>(
    now: DateTime<Utc>,
    config: &'a Config,
    states: &'a HashMap<String, ScheduleState>,
    settings: &'a Settings,
) -> Context<'a> {
    Context {
        now,
        config,
        states,
        tags: &settings.tags,
        report_timezone: settings.defaults.timezone,
    }
}

async fn tick_holding_lease(
    store: &Store,
    cloud: &impl Cloud,
    notifier: &Notifier,
    settings: &Settings,
    now: DateTime<Utc>,
    options: &Options,
) -> Result<Report> {
    let config = validate(&store.load_config().await?, &settings.defaults);
    let states = store.load_states().await?;
    let mut report = execute(cloud, &context(now, &config, &states, settings), options).await?;
    let mut problems = clear_force_flags(store, &config, &report).await;

    // Chat after the work: a slow webhook cannot delay a start or stop, and delivery
    // problems never fail the tick (notify_tick bounds its own time).
    let notified = notify_tick(notifier, &config, &report, &states, store).await;
    tracing::info!(
        sent = notified.sent(),
        failed = notified.failed(),
        messages = notified.deliveries.len(),
        "chat notifications"
    );

    // Bookkeeping failures do not undo what was done; they are reported, and the next
    // tick (idempotent) picks up from the stored state.
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
    for p in &problems {
        tracing::error!(schedule = %p.schedule, message = %p.message, "state table");
    }
    report.errors.extend(problems);
    Ok(report)
}

/// One-shot flags are triggers: the tick that acted on ForceStart/ForceStop sets it back to
/// false whether or not every resource succeeded (the state table carries the forced
/// transition on); a schedule with both set gets both cleared, and neither acts.
async fn clear_force_flags(store: &Store, config: &Config, report: &Report) -> Vec<Problem> {
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
