//! Where each group's members live (regions, `account/region` in other accounts), remembered across ticks, so that a region that cannot be observed holds back only the groups that live there.

use std::collections::{BTreeMap, BTreeSet};

use super::{Gap, Member, ScheduleState};
use crate::core::config::{Group, Schedule};

/// Whether a gap may hide members of `group`: one of its kind's service, in a region where
/// the group had members when last seen, or anywhere when that is not known.
pub(super) fn hidden(group: &Group, gaps: &[Gap], state: &ScheduleState) -> bool {
    let known = state.homes.get(&group.name);
    gaps.iter()
        .filter(|gap| gap.hides(group.kind))
        .any(|gap| known.is_none_or(|places| places.iter().any(|p| gap.covers(p))))
}

/// Where each group's members are now: the regions observed this tick say it exactly; for
/// a region in a gap the last knowledge stands. A group with a member of unknown region,
/// or unknown before and hidden now, gets no entry (every gap holds it back).
pub(super) fn next(
    schedule: &Schedule,
    members: &[Member<'_>],
    old: &ScheduleState,
    gaps: &[Gap],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (i, group) in schedule.groups.iter().enumerate() {
        let mut seen = BTreeSet::new();
        let mut placed = true;
        for (_, r, _) in members.iter().filter(|(g, _, _)| *g == i) {
            match r.place() {
                Some(place) => {
                    seen.insert(place);
                }
                None => placed = false,
            }
        }
        let unseen: Vec<&Gap> = gaps.iter().filter(|gap| gap.hides(group.kind)).collect();
        let regions = match old.homes.get(&group.name) {
            _ if unseen.is_empty() => seen,
            Some(before) => before
                .iter()
                .filter(|p| unseen.iter().any(|gap| gap.covers(p)))
                .cloned()
                .chain(seen)
                .collect(),
            None => continue,
        };
        if placed {
            out.insert(group.name.clone(), regions);
        }
    }
    out
}
