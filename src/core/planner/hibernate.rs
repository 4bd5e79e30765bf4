//! Hibernation: stop steps of a `Hibernate` group mark the instances configured for it, and every other instance of such a group gets a warning that it stops normally.

use std::collections::HashSet;

use super::{Condition, Member, UNGROUPED};
use crate::core::config::{Action, Problem, ResourceKind, Schedule};
use crate::core::plan::Step;

/// Marks, in the stop steps of `Hibernate` groups, the instances that are configured for
/// hibernation (the cloud stops them with hibernation), and returns one warning per
/// instance of such a group that is not configured for it and stops normally.
pub(super) fn apply(
    schedule: &Schedule,
    members: &[Member<'_>],
    steps: &mut [Step],
) -> Vec<Problem> {
    let hibernating = |g: usize| g != UNGROUPED && schedule.groups[g].hibernate;
    let mut warnings = Vec::new();
    for (g, r, c) in members {
        if !hibernating(*g) || r.kind != ResourceKind::Ec2 || r.hibernation || *c == Condition::Gone
        {
            continue;
        }
        warnings.push(Problem::new(
            &schedule.name,
            format!(
                "resource {} ({}) of group '{}' (Hibernate: true) is not configured for hibernation; it stops normally and loses its memory (hibernation can only be chosen when an instance is launched)",
                r.id, r.kind, schedule.groups[*g].name
            ),
        ));
    }
    let configured: HashSet<&str> = members
        .iter()
        .filter(|(g, r, _)| hibernating(*g) && r.kind == ResourceKind::Ec2 && r.hibernation)
        .map(|(_, r, _)| r.id.as_str())
        .collect();
    if configured.is_empty() {
        return warnings;
    }
    for step in steps.iter_mut().filter(|s| s.action == Action::Stop) {
        for rref in &mut step.resources {
            rref.hibernate =
                rref.kind == ResourceKind::Ec2 && configured.contains(rref.id.as_str());
        }
    }
    warnings
}
