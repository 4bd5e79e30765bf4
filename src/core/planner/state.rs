//! The scheduler's memory of each schedule (state table): applied events, forced transitions, start attempts, busy resources, alerts, ECS desired counts, Auto Scaling group sizes; and how a tick updates it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Sizes;
use crate::core::config::{Action, ResourceKind};
use crate::core::plan::{Decision, Reason, Step};
use crate::core::schedule::EventKey;

fn yes() -> bool {
    true
}

/// A ForceStart/ForceStop that was acted on: driven like a boundary transition until it
/// completes, then its phase holds until a newer event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forced {
    pub action: Action,
    /// The latest event when the force was applied.
    pub event: Option<EventKey>,
    /// Every resource reached the forced phase (states stored before this field existed
    /// were only stored once complete).
    #[serde(default = "yes")]
    pub done: bool,
}

/// Accepted starts of one resource for one event (a start that falls back to stopped is
/// tried again up to `MaxAttempts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    pub event: Option<EventKey>,
    pub count: u32,
}

/// Since when a resource has been in a transient or unknown state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusySince {
    pub state: String,
    pub since: DateTime<Utc>,
}

/// The scheduler's own memory of one schedule (kept in the state table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// The last event whose transition finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<EventKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<Forced>,
    /// The last stop event a pre-stop warning was delivered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned: Option<EventKey>,
    /// Accepted starts per resource key, for the current event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attempts: BTreeMap<String, Attempts>,
    /// Resources in a transient or unknown state, per resource key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub busy: BTreeMap<String, BusySince>,
    /// Failures alerted in chat and not yet cleared: problem key -> what it was.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alerts: BTreeMap<String, String>,
    /// Where each group's members were last seen (group -> regions), so that a region that
    /// cannot be observed holds back only the groups that have members there. A group not
    /// listed is not known yet: any gap of its kind holds it back.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub homes: BTreeMap<String, BTreeSet<String>>,
    /// The applied transition left a skipped resource out of its phase: when its skip
    /// ends, the phase is applied again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_ends: Option<DateTime<Utc>>,
    /// Databases offhours stopped and has not seen up since (resource key -> when), so
    /// that RDS's automatic start after seven days is undone. Only databases down now.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stopped: BTreeMap<String, DateTime<Utc>>,
    /// ECS services' last desired count above 0 (resource key -> count): what a start
    /// restores when the service lost its `offhours:desired-count` tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, u32>,
    /// Auto Scaling groups' last sizes with a desired capacity above 0 (resource key ->
    /// min/max/desired): what a start restores (it wins over the `offhours:saved-size` tag,
    /// which people can edit). Items written before Auto Scaling groups have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sizes: BTreeMap<String, Sizes>,
}

impl ScheduleState {
    /// Accepted starts of `key` for `event` so far.
    /// Accepted starts of `r` for `event` (its key is built only when there are any).
    pub(super) fn attempts_for(&self, r: &super::Resource, event: Option<EventKey>) -> u32 {
        if self.attempts.is_empty() {
            return 0;
        }
        self.attempts
            .get(&r.key())
            .filter(|a| a.event == event)
            .map_or(0, |a| a.count)
    }
}

/// What one tick did for one schedule, besides its final decision: the basis of the
/// state stored for the next tick.
#[derive(Debug, Default)]
pub struct TickResult<'a> {
    pub now: DateTime<Utc>,
    /// This schedule's steps as run (acted: `done`/`failed`; `blocked`: not acted on).
    pub steps: Vec<&'a Step>,
    /// The stop event whose warning was delivered this tick.
    pub warned: Option<EventKey>,
    /// Alerts delivered this tick: problem key -> what it was about.
    pub alerted: Vec<(String, String)>,
    /// Alert keys whose failure is over (the all-clear was delivered, or not needed).
    pub cleared: Vec<String>,
}

/// The state to store after a tick whose final plan made `decision`.
pub fn next_state(
    old: &ScheduleState,
    decision: &Decision,
    tick: &TickResult<'_>,
) -> ScheduleState {
    let mut next = old.clone();
    if let Some(w) = tick.warned {
        next.warned = Some(w);
    }
    match decision.reason {
        Reason::ForceStart | Reason::ForceStop => {
            // The flag is cleared in this tick: the force lives on here until it is done.
            next.forced = decision.transition.map(|action| Forced {
                action,
                event: decision.event,
                done: decision.complete,
            });
            next.attempts.clear();
        }
        Reason::Forced if decision.complete => {
            if let Some(f) = next.forced.as_mut() {
                f.done = true;
            }
        }
        _ => {}
    }
    let finished = matches!(
        decision.reason,
        Reason::ForceStart
            | Reason::ForceStop
            | Reason::Forced
            | Reason::Boundary
            | Reason::Enforced
            | Reason::SkipEnded
    );
    if decision.complete && finished {
        next.applied = decision.event.or(next.applied);
        next.skip_ends = decision.skip_ends;
    }
    // A force that a newer event superseded is forgotten.
    if next.forced.is_some_and(|f| f.event != decision.event) {
        next.forced = None;
    }
    count_attempts(&mut next, decision, &tick.steps);
    note_stops(&mut next, decision, &tick.steps, tick.now);
    next.homes = decision.homes.clone();
    note_counts(&mut next, decision, &tick.steps);
    note_sizes(&mut next, decision, &tick.steps);
    next.busy = decision
        .busy
        .iter()
        .map(|(key, state)| {
            let since = old
                .busy
                .get(key)
                .filter(|b| &b.state == state)
                .map_or(tick.now, |b| b.since);
            let entry = BusySince {
                state: state.clone(),
                since,
            };
            (key.clone(), entry)
        })
        .collect();
    for key in &tick.cleared {
        next.alerts.remove(key);
    }
    next.alerts.extend(tick.alerted.iter().cloned());
    next
}

/// Counts the starts AWS accepted in this tick, per resource, for the current event;
/// counts of other events are dropped.
fn count_attempts(next: &mut ScheduleState, decision: &Decision, steps: &[&Step]) {
    next.attempts.retain(|_, a| a.event == decision.event);
    if decision.complete {
        next.attempts.clear();
        return;
    }
    for step in steps.iter().filter(|s| s.action == Action::Start) {
        for r in step.accepted() {
            let entry = next.attempts.entry(r.key()).or_insert(Attempts {
                event: decision.event,
                count: 0,
            });
            entry.count += 1;
        }
    }
}

/// Keeps the ECS desired counts the planner saw, and the ones this tick's accepted stops
/// saved (the final plan of a tick may already see those services at 0).
fn note_counts(next: &mut ScheduleState, decision: &Decision, steps: &[&Step]) {
    next.counts = decision.counts.clone();
    for step in steps.iter().filter(|s| s.action == Action::Stop) {
        let saved = step.accepted().filter(|r| r.kind == ResourceKind::Ecs);
        for r in saved {
            if let Some(n) = r.desired {
                next.counts.insert(r.key(), n);
            }
        }
    }
}

/// Keeps the Auto Scaling group sizes the planner saw, and the ones this tick's accepted
/// stops saved (the final plan of a tick may already see those groups at 0).
fn note_sizes(next: &mut ScheduleState, decision: &Decision, steps: &[&Step]) {
    next.sizes = decision.sizes.clone();
    for step in steps.iter().filter(|s| s.action == Action::Stop) {
        let saved = step.accepted().filter(|r| r.kind == ResourceKind::Asg);
        for r in saved {
            if let Some(sizes) = Sizes::of_ref(r) {
                next.sizes.insert(r.key(), sizes);
            }
        }
    }
}

/// Remembers when this tick stopped each database (and forgets those it started), on top
/// of what the planner kept.
fn note_stops(next: &mut ScheduleState, decision: &Decision, steps: &[&Step], now: DateTime<Utc>) {
    next.stopped = decision.stopped.clone();
    for step in steps {
        let accepted = step
            .accepted()
            .filter(|r| matches!(r.kind, ResourceKind::Rds | ResourceKind::Aurora));
        for r in accepted {
            let key = r.key();
            match step.action {
                Action::Stop => next.stopped.insert(key, now),
                Action::Start => next.stopped.remove(&key),
            };
        }
    }
}
