//! RDS's automatic start: AWS starts a database that has been stopped for seven days; offhours stops the ones it stopped itself again while their schedule is still in its stopped phase.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};

use super::skip::Scope;
use super::{Condition, Gap, Member, ScheduleState, Verdict};
use crate::core::config::{Action, Problem, ResourceKind};
use crate::core::plan::{Reason, ResourceRef, Step, StepStatus};

/// After this many days stopped, AWS starts an RDS instance or Aurora cluster by itself.
pub const RDS_AUTO_START_DAYS: i64 = 7;

fn database(kind: ResourceKind) -> bool {
    matches!(kind, ResourceKind::Rds | ResourceKind::Aurora)
}

/// The databases AWS started by itself: offhours stopped them at least seven days before
/// `now`, they are up, and the (enabled) schedule still wants them stopped. One started by
/// hand sooner was seen up before the seven days were over, and is no longer remembered.
pub(super) fn woken(
    members: &[Member<'_>],
    state: &ScheduleState,
    verdict: &Verdict,
    now: DateTime<Utc>,
) -> BTreeSet<String> {
    if verdict.desired != Some(Action::Stop) || verdict.reason == Reason::Disabled {
        return BTreeSet::new();
    }
    let after = TimeDelta::days(RDS_AUTO_START_DAYS);
    members
        .iter()
        .filter(|(_, r, c)| database(r.kind) && *c == Condition::Up)
        .map(|(_, r, _)| r.key())
        .filter(|key| state.stopped.get(key).is_some_and(|t| now - *t >= after))
        .collect()
}

/// What a schedule's pass does: its transition, or else stopping the woken databases
/// (only them), if any.
pub(super) fn pass(
    transition: Option<Action>,
    woken: &BTreeSet<String>,
    scope: &mut Scope,
) -> Option<Action> {
    if transition.is_some() {
        return transition;
    }
    scope.only = Some(woken.clone());
    (!woken.is_empty()).then_some(Action::Stop)
}

/// The stop times to keep: databases still down (or on their way), and those stopped again
/// now. A database seen up otherwise was started (by hand, or by its schedule) and is
/// forgotten; one not seen is forgotten unless a gap may hide it.
pub(super) fn kept(
    members: &[Member<'_>],
    state: &ScheduleState,
    woken: &BTreeSet<String>,
    gaps: &[Gap],
) -> BTreeMap<String, DateTime<Utc>> {
    let hidden = gaps.iter().any(|g| g.hides(ResourceKind::Rds));
    let seen: HashMap<String, Condition> = members
        .iter()
        .filter(|(_, r, _)| database(r.kind))
        .map(|(_, r, c)| (r.key(), *c))
        .collect();
    state
        .stopped
        .iter()
        .filter(|(key, _)| match seen.get(key.as_str()) {
            Some(c) => *c != Condition::Up || woken.contains(*key),
            None => hidden,
        })
        .map(|(key, at)| (key.clone(), *at))
        .collect()
}

/// What the report says about a database stopped again.
fn notice(schedule: &str, r: &ResourceRef, stopped: DateTime<Utc>, now: DateTime<Utc>) -> Problem {
    Problem::new(
        schedule,
        format!(
            "{r}: stopped again after RDS's automatic 7-day start (offhours stopped it {} days ago, at {}, and the schedule is still in its stopped phase)",
            (now - stopped).num_days(),
            stopped.format("%Y-%m-%d %H:%M UTC")
        ),
    )
}

/// A notice per database stopped again now (its step is ready).
pub(super) fn notices(
    schedule: &str,
    steps: &[Step],
    woken: &BTreeSet<String>,
    state: &ScheduleState,
    now: DateTime<Utc>,
) -> Vec<Problem> {
    let ready = steps
        .iter()
        .filter(|s| s.action == Action::Stop && s.status == StepStatus::Ready);
    ready
        .flat_map(|s| &s.resources)
        .filter_map(|r| {
            let key = r.key();
            let stopped = state.stopped.get(&key).filter(|_| woken.contains(&key))?;
            Some(notice(schedule, r, *stopped, now))
        })
        .collect()
}
