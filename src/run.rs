//! One scheduler tick, shared by the Lambda and `offhours run`: lease, load, observe, execute, notify, save state.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::cloud::Cloud;
use crate::config::{validate, Action, Config, Problem};
use crate::error::{Error, Result};
use crate::executor::{execute, Context, Options};
use crate::notify::{notify_tick, Notifier};
use crate::plan::{Reason, Report};
use crate::planner::{next_state, ScheduleState};
use crate::settings::Settings;
use crate::store::Store;

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
    let mut problems = Vec::new();
    for decision in &report.schedules {
        let old = states.get(&decision.schedule).cloned().unwrap_or_default();
        let new = next_state(&old, decision, notified.warned_for(&decision.schedule));
        if new != old {
            if let Err(e) = store.save_state(&decision.schedule, &new).await {
                problems.push(Problem {
                    schedule: decision.schedule.clone(),
                    message: format!("could not save the schedule's state: {e}"),
                });
            }
        }
        let force = match decision.reason {
            Reason::ForceStart => Some((Action::Start, "ForceStart")),
            Reason::ForceStop => Some((Action::Stop, "ForceStop")),
            _ => None,
        };
        if let (true, Some((action, field))) = (decision.complete, force) {
            if let Err(e) = store.clear_force(&decision.schedule, action).await {
                problems.push(Problem {
                    schedule: decision.schedule.clone(),
                    message: format!("could not set {field} back to false: {e}"),
                });
            }
        }
    }
    for p in &problems {
        tracing::error!(schedule = %p.schedule, message = %p.message, "state table");
    }
    report.errors.extend(problems);
    Ok(report)
}
