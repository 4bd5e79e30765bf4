//! Planning on several threads: the fleet grouped by schedule in slices, and runs of schedules planned at once, joined in order.

use super::*;

/// [`by_schedule`], the fleet cut into up to `workers` slices grouped at once (the calling
/// thread takes the first) and joined in fleet order: each schedule's members keep the
/// order they have in `resources`.
pub(super) fn by_schedule_on<'a>(
    config: &Config,
    resources: &'a [Resource],
    tags: &TagKeys,
    warnings: &mut Vec<Problem>,
    workers: usize,
) -> (Vec<Vec<&'a Resource>>, BTreeMap<&'a str, usize>) {
    let slice = resources.len().div_ceil(workers.max(1));
    by_schedule_in(config, resources, tags, warnings, slice)
}

/// [`by_schedule_on`] with slices of `slice` resources (the last may be shorter).
fn by_schedule_in<'a>(
    config: &Config,
    resources: &'a [Resource],
    tags: &TagKeys,
    warnings: &mut Vec<Problem>,
    slice: usize,
) -> (Vec<Vec<&'a Resource>>, BTreeMap<&'a str, usize>) {
    let by_tag: ByTag<'_> = config
        .schedules
        .iter()
        .enumerate()
        .map(|(i, s)| (s.tag_value.as_str(), i))
        .collect();
    let n = config.schedules.len();
    let managed = asg::managed(resources, &tags.schedule);
    let mut slices = resources.chunks(slice.max(1));
    let first = slices.next().unwrap_or_default();
    let mut all = std::thread::scope(|scope| {
        let (by_tag, managed) = (&by_tag, &managed);
        let others: Vec<_> = slices
            .map(|s| scope.spawn(move || group_slice(by_tag, n, managed, s, tags)))
            .collect();
        let mut all = group_slice(by_tag, n, managed, first, tags);
        for other in others {
            let next = other
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (mine, more) in all.members.iter_mut().zip(next.members) {
                mine.extend(more);
            }
            for (tag, count) in next.unmatched {
                *all.unmatched.entry(tag).or_default() += count;
            }
            all.warnings.extend(next.warnings);
        }
        all
    });
    warnings.append(&mut all.warnings);
    (all.members, all.unmatched)
}

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
    use super::*;
    use crate::core::planner::tests::{config, res};

    #[test]
    fn the_fleet_grouped_in_slices_is_grouped_as_in_one() {
        let config = config(
            "schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: '09:00', StopTime: '18:00'}
  - {ScheduleName: prod, TagValue: prod, StartTime: '07:00', StopTime: '22:00'}
  - {ScheduleName: asg, TagValue: web, StartTime: '07:00', StopTime: '22:00'}
groups:
  - {ScheduleName: asg, GroupName: WEB, InstanceType: ASG}
",
        );
        let tags = TagKeys::default();
        let mut fleet = Vec::new();
        for n in 0..40 {
            let tag = ["dev", "prod", "ghost", "web", "other"][n % 5];
            // Every id twice: members keep their fleet order where sorting cannot tell.
            let mut r = res(
                &format!("i-{}", n / 2),
                ResourceKind::Ec2,
                "running",
                tag,
                None,
            );
            match n % 7 {
                0 => {
                    r.tags = [(ASG_TAG, "web-asg"), ("ScheduleName", tag)]
                        .into_iter()
                        .collect()
                }
                1 => r.cluster = Some("c1".into()),
                2 => r.tags = Tags::default(),
                3 => r.kind = ResourceKind::Rds,
                _ => {}
            }
            fleet.push(r);
        }
        let mut web = res(
            "web-asg",
            ResourceKind::Asg,
            "InService",
            "web",
            Some("WEB"),
        );
        web.region = None;
        fleet.push(web);
        let ids = |members: &[Vec<&Resource>]| -> Vec<Vec<String>> {
            members
                .iter()
                .map(|m| {
                    m.iter()
                        .map(|r| format!("{}:{}:{}", r.kind, r.id, r.state))
                        .collect()
                })
                .collect()
        };
        let mut one_warnings = Vec::new();
        let (one, one_unmatched) =
            by_schedule_in(&config, &fleet, &tags, &mut one_warnings, fleet.len());
        assert!(
            one.iter().all(|m| !m.is_empty()),
            "every schedule has members"
        );
        assert!(!one_unmatched.is_empty() && !one_warnings.is_empty());
        one_warnings.sort();
        for slice in 1..=fleet.len() + 1 {
            let mut warnings = Vec::new();
            let (members, unmatched) = by_schedule_in(&config, &fleet, &tags, &mut warnings, slice);
            warnings.sort();
            assert_eq!(ids(&members), ids(&one), "slices of {slice}");
            assert_eq!(unmatched, one_unmatched, "slices of {slice}");
            assert_eq!(warnings, one_warnings, "slices of {slice}");
        }
    }

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
