//! Planning runs of schedules: split by resource count, planned at once on scoped threads, joined in schedule order.

use super::*;

/// The outcomes of a run of schedules, in schedule order.
#[derive(Default)]
pub(super) struct Planned {
    pub(super) steps: Vec<Step>,
    pub(super) notices: Vec<Notice>,
    pub(super) errors: Vec<Problem>,
    pub(super) warnings: Vec<Problem>,
    pub(super) skipped: Vec<Skipped>,
    pub(super) decisions: Vec<Decision>,
}

impl Planned {
    fn add(&mut self, out: ScheduleOutcome) {
        self.steps.extend(out.steps);
        self.notices.extend(out.notice);
        self.errors.extend(out.errors);
        self.warnings.extend(out.warnings);
        self.skipped.extend(out.skipped);
        self.decisions.push(out.decision);
    }

    /// Appends the outcomes of the run that follows this one.
    fn append(&mut self, mut next: Planned) {
        self.steps.append(&mut next.steps);
        self.notices.append(&mut next.notices);
        self.errors.append(&mut next.errors);
        self.warnings.append(&mut next.warnings);
        self.skipped.append(&mut next.skipped);
        self.decisions.append(&mut next.decisions);
    }
}

/// Plans a run of schedules, each with its members (index-aligned).
fn plan_run(
    schedules: &[Schedule],
    members: &mut [Vec<&Resource>],
    inputs: &Inputs<'_>,
) -> Planned {
    let mut planned = Planned::default();
    for (schedule, resources) in schedules.iter().zip(members.iter_mut()) {
        resources.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        let state = inputs
            .states
            .get(&schedule.name)
            .cloned()
            .unwrap_or_default();
        planned.add(plan_schedule(schedule, resources, &state, inputs));
    }
    planned
}

/// Plans the schedules in up to `workers` runs at once (see [`plan_on`]).
pub(super) fn plan_schedules(
    schedules: &[Schedule],
    members: &mut [Vec<&Resource>],
    inputs: &Inputs<'_>,
    workers: usize,
) -> Planned {
    let cuts = split_points(members.iter().map(Vec::len), workers);
    if cuts.is_empty() {
        return plan_run(schedules, members, inputs);
    }
    let mut runs = Vec::with_capacity(cuts.len() + 1);
    let (mut rest_s, mut rest_m, mut at) = (schedules, members, 0);
    for cut in cuts {
        let (s, later_s) = rest_s.split_at(cut - at);
        let (m, later_m) = rest_m.split_at_mut(cut - at);
        runs.push((s, m));
        (rest_s, rest_m, at) = (later_s, later_m, cut);
    }
    runs.push((rest_s, rest_m));
    std::thread::scope(|scope| {
        let mut runs = runs.into_iter();
        let first = runs.next();
        let others: Vec<_> = runs
            .map(|(s, m)| scope.spawn(move || plan_run(s, m, inputs)))
            .collect();
        let mut planned = first
            .map(|(s, m)| plan_run(s, m, inputs))
            .unwrap_or_default();
        for other in others {
            let next = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            planned.append(next);
        }
        planned
    })
}

/// Where to cut a list of sizes into at most `parts` runs of about equal sums: the start
/// of every run but the first, ascending, none empty.
fn split_points(sizes: impl Iterator<Item = usize> + Clone, parts: usize) -> Vec<usize> {
    let total: usize = sizes.clone().sum();
    let len = sizes.clone().count();
    let mut cuts = Vec::new();
    if parts < 2 || len < 2 || total == 0 {
        return cuts;
    }
    let share = total.div_ceil(parts);
    let mut sum = 0;
    for (i, size) in sizes.enumerate() {
        sum += size;
        // A run ends once it holds its share; the last run takes the rest.
        if sum >= share * (cuts.len() + 1) && i + 1 < len && cuts.len() + 1 < parts {
            cuts.push(i + 1);
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::split_points;

    #[test]
    fn runs_hold_about_equal_shares_and_none_is_empty() {
        let cases: &[(&[usize], usize, &[usize])] = &[
            (&[], 2, &[]),
            (&[5], 2, &[]),
            (&[1, 1, 1, 1], 1, &[]),
            (&[1, 1, 1, 1], 2, &[2]),
            (&[3, 3, 3], 3, &[1, 2]),
            (&[10, 0, 0, 0], 2, &[1]),
            // The share is reached only at the last schedule: one run.
            (&[0, 0, 0, 10], 2, &[]),
            (&[1, 1], 4, &[1]),
            (&[0, 0, 0], 2, &[]),
            (&[4, 1, 1, 1, 1], 2, &[1]),
            (&[1, 1, 1, 1, 4], 2, &[4]),
        ];
        for (sizes, parts, want) in cases {
            assert_eq!(
                split_points(sizes.iter().copied(), *parts),
                *want,
                "{sizes:?} in {parts}"
            );
        }
    }
}
