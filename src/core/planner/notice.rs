//! The pre-stop warning: once per stop event, when something of the schedule that will stop is running (skipped resources do not stop).

use chrono::{DateTime, TimeDelta, Utc};

use super::{skip, Condition, Member, ScheduleState};
use crate::core::config::{Action, Schedule};
use crate::core::plan::{Notice, NoticeKind, ResourceRef};
use crate::core::schedule::next_event;

/// The pre-stop warning, once per stop event, when something is running.
pub(super) fn warning(
    schedule: &Schedule,
    members: &[Member<'_>],
    scope: &skip::Scope,
    state: &ScheduleState,
    now: DateTime<Utc>,
) -> Option<Notice> {
    if !schedule.enabled || schedule.warn_minutes == 0 || schedule.force_stop {
        return None;
    }
    let lead = TimeDelta::minutes(i64::from(schedule.warn_minutes));
    let stop = next_event(schedule, now, Action::Stop, lead)?;
    if state.warned == Some(stop.key()) {
        return None;
    }
    let (running, groups): (Vec<ResourceRef>, Vec<String>) = members
        .iter()
        .filter(|(_, r, c)| matches!(c, Condition::Up | Condition::Busy) && !scope.is_skipped(r))
        .map(|(g, r, _)| {
            let group = schedule.groups.get(*g).map(|g| g.name.clone());
            (r.to_ref(), group.unwrap_or_default())
        })
        .unzip();
    if running.is_empty() {
        return None;
    }
    let seconds = (stop.at - now).num_seconds();
    let next_start = next_event(schedule, stop.at, Action::Start, TimeDelta::days(8))
        .map(|e| e.local.fixed_offset());
    Some(Notice {
        schedule: schedule.name.clone(),
        kind: NoticeKind::PreStopWarning,
        stop_at: stop.local.fixed_offset(),
        resources: running,
        timezone: schedule.timezone.name().to_string(),
        minutes_left: (seconds + 59) / 60,
        event: stop.key(),
        next_start,
        groups,
    })
}
