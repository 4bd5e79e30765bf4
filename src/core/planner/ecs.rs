//! ECS services: the `desiredCount` a stop saves, and the one a start restores (the tag written at stop, else the state table, else 1 with a warning).

use std::collections::{BTreeMap, HashMap};

use super::{Gap, Member, Resource, ScheduleState};
use crate::core::config::{Action, Problem, ResourceKind};
use crate::core::plan::Step;

/// The tag a stop writes on an ECS service: the `desiredCount` it had, which a start restores.
pub const DESIRED_COUNT_TAG: &str = "offhours:desired-count";

/// The count a stop saved on `r` (tag [`DESIRED_COUNT_TAG`]), if it is a whole number above 0.
pub fn saved_count(r: &Resource) -> Option<u32> {
    r.tags
        .get(DESIRED_COUNT_TAG)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
}

/// How a service stands, for people: `ACTIVE, 1 of 3 tasks running (3 saved)`.
pub fn shown_state(r: &Resource) -> String {
    let (desired, running) = (r.desired.unwrap_or(0), r.running.unwrap_or(0));
    let saved = match saved_count(r) {
        Some(n) if desired == 0 => format!(" ({n} saved)"),
        _ => String::new(),
    };
    format!("{}, {running} of {desired} tasks running{saved}", r.state)
}

/// The count a stop saves for a service whose `desiredCount` is `desired`: that count when
/// it is above 0; a service already at 0 keeps whatever was saved before (`None`).
pub fn count_to_save(desired: i64) -> Option<u32> {
    u32::try_from(desired).ok().filter(|n| *n > 0)
}

/// Puts on every ECS service of `steps` the count to act with: in a start the count to
/// restore (tag, else state table, else 1), in a stop the count to save. Returns one
/// warning per service that starts at 1 because no count was saved.
pub(super) fn apply(
    schedule: &str,
    members: &[Member<'_>],
    steps: &mut [Step],
    state: &ScheduleState,
) -> Vec<Problem> {
    // By key (kind, account, region and id): the same name in two accounts is two resources.
    let services: HashMap<String, &Resource> = members
        .iter()
        .filter(|(_, r, _)| r.kind == ResourceKind::Ecs)
        .map(|(_, r, _)| (r.key(), *r))
        .collect();
    let mut warnings = Vec::new();
    for step in steps.iter_mut() {
        let action = step.action;
        let refs = step.resources.iter_mut();
        for rref in refs.filter(|r| r.kind == ResourceKind::Ecs) {
            let Some(r) = services.get(&rref.key()) else {
                continue;
            };
            rref.desired = match action {
                Action::Stop => r.desired.and_then(|d| count_to_save(d.into())),
                Action::Start => Some(restore(r, state).unwrap_or_else(|| {
                    warnings.push(unsaved(schedule, r));
                    1
                })),
            };
        }
    }
    warnings
}

/// The count a start restores: the one the state table remembers (only the scheduler
/// writes it), else the tag written at stop (people can see, and edit, that one).
fn restore(r: &Resource, state: &ScheduleState) -> Option<u32> {
    state
        .counts
        .get(&r.key())
        .copied()
        .filter(|n| *n > 0)
        .or_else(|| saved_count(r))
}

fn unsaved(schedule: &str, r: &Resource) -> Problem {
    let found = match r.tags.get(DESIRED_COUNT_TAG) {
        Some(v) => format!("its tag {DESIRED_COUNT_TAG}='{v}' is not a count above 0"),
        None => format!("it has no tag {DESIRED_COUNT_TAG}"),
    };
    Problem::new(
        schedule,
        format!(
            "ECS service {} has no saved desired count ({found}, and the state table has none); it starts with 1 task: set its desired count by hand if it needs more (the next stop saves it)",
            r.id
        ),
    )
}

/// The desired counts the state table keeps for the schedule's ECS services (resource key
/// -> count): the count seen when above 0, else the one remembered before. Services not
/// seen are forgotten, unless a gap may hide them.
pub(super) fn remembered(
    members: &[Member<'_>],
    state: &ScheduleState,
    gaps: &[Gap],
) -> BTreeMap<String, u32> {
    let mut out = if gaps.iter().any(|g| g.hides(ResourceKind::Ecs)) {
        state.counts.clone()
    } else {
        BTreeMap::new()
    };
    for (_, r, _) in members
        .iter()
        .filter(|(_, r, _)| r.kind == ResourceKind::Ecs)
    {
        let key = r.key();
        let seen = r.desired.filter(|n| *n > 0);
        if let Some(n) = seen.or_else(|| state.counts.get(&key).copied()) {
            out.insert(key, n);
        }
    }
    out
}
