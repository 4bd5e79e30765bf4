//! Pure planner: schedules + observed resources + stored state at `now` -> ordered steps, notices and errors.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::core::config::{Action, Config, Problem, ResourceKind, Schedule};
use crate::core::metrics::Tally;
pub use crate::core::plan::resource_key;
use crate::core::plan::{Decision, Notice, Reason, Report, ResourceRef, Skipped, Step, StepStatus};
use crate::core::schedule::{latest_event, EventKey};
pub use crate::core::tags::Tags;

mod asg;
mod condition;
mod ecs;
mod gap;
mod hibernate;
mod homes;
mod notice;
mod reached;
mod runs;
mod skip;
mod state;
mod wake;

pub use asg::{owner as asg_owner, saved_sizes, Sizes, ASG_TAG, SAVED_SIZE_TAG};
pub use condition::{condition, condition_of, Condition};
pub use ecs::{count_to_save, saved_count, DESIRED_COUNT_TAG};
pub use gap::{place, Gap};
pub use reached::reached;
pub use skip::skip_until;
pub use state::{next_state, Attempts, BusySince, Forced, ScheduleState, TickResult};
pub use wake::RDS_AUTO_START_DAYS;

/// How long a resource may stay in a transient state before it is reported as stuck.
pub const STUCK_AFTER_MINUTES: i64 = 30;

/// A resource as the cloud (or an inventory file) reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: CompactString,
    pub kind: ResourceKind,
    /// The provider's own state string (`running`, `stopped`, `available`, ...).
    pub state: CompactString,
    #[serde(default)]
    pub tags: Tags,
    /// The AWS account it lives in, when offhours manages several (env `ACCOUNTS`);
    /// inventory files may name it for offline previews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Box<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Box<str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Box<str>>,
    /// Why the provider last changed the state (EC2 StateReason), e.g.
    /// `Server.InsufficientInstanceCapacity: Insufficient capacity.`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Box<str>>,
    /// For an RDS instance that belongs to an Aurora cluster: the cluster (it starts and
    /// stops with its cluster, never on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<Box<str>>,
    /// For an EC2 instance: it was launched configured for hibernation
    /// (`HibernationOptions.Configured`), so a `Hibernate` group can hibernate it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernation: bool,
    /// EC2 instance type or RDS DB instance class (`t3.large`, `db.t3.medium`), for prices.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<Box<str>>,
    /// For an ECS service its `desiredCount`, for an Auto Scaling group its
    /// `DesiredCapacity` (absent: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<u32>,
    /// For an ECS service its `runningCount`, for an Auto Scaling group its `InService`
    /// instances (absent: 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<u32>,
    /// For an Auto Scaling group: `MinSize`, `MaxSize`, and its instances in any lifecycle
    /// state (absent: 0; `instances` absent: as many as `running`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
}

impl Resource {
    pub fn to_ref(&self) -> ResourceRef {
        ResourceRef {
            id: self.id.to_string(),
            kind: self.kind,
            account: self.account.as_deref().map(String::from),
            region: self.region.as_deref().map(String::from),
            name: self
                .tags
                .get("Name")
                .filter(|n| !n.is_empty())
                .map(str::to_string),
            engine: self.engine.as_deref().map(String::from),
            hibernate: false,
            desired: None,
            min: None,
            max: None,
        }
    }

    /// Its state for people: the provider's state string, with an ECS service's task
    /// counts (`ACTIVE, 1 of 3 tasks running`) or an Auto Scaling group's instances.
    pub fn shown_state(&self) -> String {
        match self.kind {
            ResourceKind::Ecs => ecs::shown_state(self),
            ResourceKind::Asg => asg::shown_state(self),
            _ => self.state.to_string(),
        }
    }

    /// The key this resource's bookkeeping is stored under (`ec2:i-0a1`).
    pub fn key(&self) -> String {
        resource_key(
            self.kind,
            self.account.as_deref(),
            self.region.as_deref(),
            &self.id,
        )
    }

    /// Where it lives, as homes and gaps name places: its region, prefixed by its
    /// account when it has one (`111122223333/eu-west-1`).
    pub fn place(&self) -> Option<String> {
        let region = self.region.as_deref()?;
        Some(place(self.account.as_deref(), region))
    }
}

fn target_reached(c: Condition, action: Action) -> bool {
    matches!(
        (c, action),
        (Condition::Up, Action::Start) | (Condition::Down, Action::Stop)
    )
}

fn actionable(c: Condition, action: Action) -> bool {
    matches!(
        (c, action),
        (Condition::Down, Action::Start) | (Condition::Up, Action::Stop)
    )
}

/// Tag keys that tie resources to schedules and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagKeys {
    pub schedule: String,
    pub group: String,
    /// A date or instant until which the resource is neither started nor stopped.
    pub skip_until: String,
}

impl Default for TagKeys {
    fn default() -> Self {
        Self {
            schedule: "ScheduleName".into(),
            group: "ScheduleGroupName".into(),
            skip_until: "offhours:skip-until".into(),
        }
    }
}

/// Everything one planning pass looks at (the executor re-plans with fresh `resources`).
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub now: DateTime<Utc>,
    pub config: &'a Config,
    pub resources: &'a [Resource],
    /// Regions and services that could not be observed.
    pub gaps: &'a [Gap],
    pub states: &'a HashMap<String, ScheduleState>,
    pub tags: &'a TagKeys,
    /// Timezone the report's `at` is shown in.
    pub report_timezone: Tz,
}

/// Plans one tick: for every schedule, what to start or stop now, in dependency order.
pub fn plan(inputs: &Inputs<'_>) -> Report {
    plan_on(inputs, 1)
}

/// [`plan`], with the schedules split into up to `workers` runs of about as many resources,
/// planned at the same time on scoped threads (the calling thread takes the first). The
/// report is the same for any number of workers: schedules are planned independently, and
/// the runs are joined in schedule order.
pub fn plan_on(inputs: &Inputs<'_>, workers: usize) -> Report {
    let config = inputs.config;
    let mut errors: Vec<Problem> = config.errors.clone();
    errors.extend(inputs.gaps.iter().map(Gap::problem));
    let mut warnings: Vec<Problem> = config.warnings.clone();
    let (mut members, unmatched) = runs::by_schedule_on(
        inputs.config,
        inputs.resources,
        inputs.tags,
        &mut warnings,
        workers,
    );
    for (tag, n) in unmatched {
        warnings.push(Problem::new(
            tag,
            format!(
                "{n} resource(s) tagged {}={tag} match no valid schedule; they are left alone",
                inputs.tags.schedule
            ),
        ));
    }

    let planned = runs::plan_schedules(&config.schedules, &mut members, inputs, workers);
    errors.extend(planned.errors);
    warnings.extend(planned.warnings);
    errors.sort();
    errors.dedup();
    warnings.sort();
    warnings.dedup();
    Report {
        at: inputs
            .now
            .with_timezone(&inputs.report_timezone)
            .fixed_offset(),
        steps: planned.steps,
        notices: planned.notices,
        errors,
        warnings,
        skipped: planned.skipped,
        schedules: planned.decisions,
        dry_run: true,
        partial: !inputs.gaps.is_empty(),
        lease_lost: false,
        reached: Vec::new(),
    }
}

/// Resources per schedule (index-aligned with `config.schedules`), in one pass, and the
/// count of resources per schedule tag that names no valid schedule. Aurora member
/// instances and Auto Scaling instances are left out with a warning naming the cluster
/// or group to tag instead.
fn by_schedule<'a>(
    config: &Config,
    resources: &'a [Resource],
    tags: &TagKeys,
    warnings: &mut Vec<Problem>,
) -> (Vec<Vec<&'a Resource>>, BTreeMap<&'a str, usize>) {
    runs::by_schedule_on(config, resources, tags, warnings, 1)
}

/// Schedule tag value -> index into `config.schedules`.
type ByTag<'c> = HashMap<&'c str, usize>;

/// [`by_schedule`]'s pass over one slice of the fleet.
#[derive(Default)]
struct Grouped<'a> {
    members: Vec<Vec<&'a Resource>>,
    unmatched: BTreeMap<&'a str, usize>,
    warnings: Vec<Problem>,
}

fn group_slice<'a>(
    by_tag: &ByTag<'_>,
    schedules: usize,
    managed: &asg::Managed<'_>,
    resources: &'a [Resource],
    tags: &TagKeys,
) -> Grouped<'a> {
    let mut out = Grouped {
        members: vec![Vec::new(); schedules],
        ..Grouped::default()
    };
    for r in resources {
        let Some(tag) = r.tags.get(&tags.schedule) else {
            continue;
        };
        if let Some(group) = asg::owner(r) {
            out.warnings
                .extend(asg::guard(r, group, (&tags.schedule, tag), managed));
            continue;
        }
        if let Some(cluster) = &r.cluster {
            out.warnings.push(Problem::new(
                tag,
                format!(
                    "resource {} ({}) is a member of Aurora cluster '{cluster}' and starts and stops with it; it is left alone: tag the cluster {}={tag} instead (an AURORA group)",
                    r.id, r.kind, tags.schedule
                ),
            ));
            continue;
        }
        match by_tag.get(tag) {
            Some(i) => out.members[*i].push(r),
            None => *out.unmatched.entry(tag).or_default() += 1,
        }
    }
    out
}

/// The resources each schedule manages (index-aligned with `config.schedules`), by the
/// same rules as a tick (Auto Scaling instances and Aurora members left out), without the
/// ones that are gone: for read-only views such as savings.
pub fn scheduled_resources<'a>(
    config: &Config,
    resources: &'a [Resource],
    tags: &TagKeys,
) -> Vec<Vec<&'a Resource>> {
    let mut ignored = Vec::new();
    let (mut members, _) = by_schedule(config, resources, tags, &mut ignored);
    for list in &mut members {
        list.retain(|r| condition_of(r) != Condition::Gone);
    }
    members
}

struct ScheduleOutcome {
    steps: Vec<Step>,
    notice: Option<Notice>,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    skipped: Vec<Skipped>,
    decision: Decision,
}

/// Whether and towards which phase a schedule transitions this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The latest boundary event at or before now.
    pub event: Option<EventKey>,
    /// The phase the schedule wants.
    pub desired: Option<Action>,
    /// The transition this tick drives, if any.
    pub transition: Option<Action>,
    pub reason: Reason,
}

/// Decides whether the schedule transitions this tick, and towards which phase.
pub fn decide(schedule: &Schedule, state: &ScheduleState, now: DateTime<Utc>) -> Verdict {
    let event = latest_event(schedule, now).map(|e| e.key());
    let natural = event.map(|e| e.action);
    let verdict = |desired, transition, reason| Verdict {
        event,
        desired,
        transition,
        reason,
    };
    if schedule.force_start {
        let start = Some(Action::Start);
        return verdict(start, start, Reason::ForceStart);
    }
    if schedule.force_stop {
        let stop = Some(Action::Stop);
        return verdict(stop, stop, Reason::ForceStop);
    }
    // A forced transition under the same latest event: driven until done, then held.
    if let Some(f) = state.forced.filter(|f| f.event == event) {
        let transition = (!f.done || (schedule.enforced && schedule.enabled)).then_some(f.action);
        return verdict(Some(f.action), transition, Reason::Forced);
    }
    if !schedule.enabled {
        return verdict(natural, None, Reason::Disabled);
    }
    let Some(latest) = event else {
        return verdict(None, None, Reason::NoEvent);
    };
    if state.applied.is_none_or(|applied| latest > applied) {
        verdict(natural, natural, Reason::Boundary)
    } else if schedule.enforced {
        verdict(natural, natural, Reason::Enforced)
    } else if state.skip_ends.is_some_and(|t| t <= now) {
        verdict(natural, natural, Reason::SkipEnded)
    } else {
        verdict(natural, None, Reason::Applied)
    }
}

/// Index of the "group" that holds resources with no group tag.
const UNGROUPED: usize = usize::MAX;

/// One member of a schedule: its group index (or [`UNGROUPED`]), the resource, its condition.
type Member<'a> = (usize, &'a Resource, Condition);

/// Sorts a schedule's resources into its groups; a group tag that names no group of the
/// resource's kind is an error, and that resource is left alone.
fn members<'a>(
    schedule: &Schedule,
    resources: &[&'a Resource],
    tags: &TagKeys,
    errors: &mut Vec<Problem>,
) -> Vec<Member<'a>> {
    let mut out = Vec::with_capacity(resources.len());
    for r in resources {
        let c = condition_of(r);
        if c == Condition::Gone {
            continue;
        }
        let tag = r
            .tags
            .get(&tags.group)
            .map(|g| g.trim())
            .filter(|g| !g.is_empty());
        let group = match tag {
            None => UNGROUPED,
            Some(g) => match schedule.group_index(g) {
                Some(i) if schedule.groups[i].kind == r.kind => i,
                Some(i) => {
                    errors.push(Problem::new(&schedule.name, format!(
                        "resource {} ({}): tag {}={g} names group '{g}', which holds {} resources; it is left alone",
                        r.id, r.kind, tags.group, schedule.groups[i].kind.as_str().to_uppercase()
                    )));
                    continue;
                }
                None => {
                    errors.push(Problem::new(&schedule.name, format!(
                        "resource {} ({}): tag {}={g} names no group of schedule '{}'; it is left alone",
                        r.id, r.kind, tags.group, schedule.name
                    )));
                    continue;
                }
            },
        };
        out.push((group, *r, c));
    }
    out
}

fn plan_schedule(
    schedule: &Schedule,
    resources: &[&Resource],
    state: &ScheduleState,
    inputs: &Inputs<'_>,
) -> ScheduleOutcome {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let members = members(schedule, resources, inputs.tags, &mut errors);
    let (mut scope, skipped) =
        skip::scan(schedule, &members, inputs.tags, inputs.now, &mut warnings);
    let verdict = decide(schedule, state, inputs.now);
    let woken = wake::woken(&members, state, &verdict, inputs.now);
    let (mut steps, complete) = match wake::pass(verdict.transition, &woken, &mut scope) {
        Some(action) => {
            let mut t = Transition {
                schedule,
                state,
                verdict,
                action,
                now: inputs.now,
                gaps: inputs.gaps,
                scope: &scope,
                errors: &mut errors,
            };
            t.steps(&members)
        }
        None => (Vec::new(), true),
    };
    warnings.extend(hibernate::apply(schedule, &members, &mut steps));
    warnings.extend(ecs::apply(&schedule.name, &members, &mut steps, state));
    warnings.extend(asg::apply(&schedule.name, &members, &mut steps, state));
    let now = inputs.now;
    warnings.extend(wake::notices(&schedule.name, &steps, &woken, state, now));
    let busy = members
        .iter()
        .filter(|(_, _, c)| matches!(c, Condition::Busy | Condition::Unknown))
        .map(|(_, r, _)| (r.key(), r.state.to_string()))
        .collect();
    ScheduleOutcome {
        steps,
        notice: notice::warning(schedule, &members, &scope, state, inputs.now),
        errors,
        warnings,
        skipped,
        decision: Decision {
            schedule: schedule.name.clone(),
            event: verdict.event,
            desired: verdict.desired,
            transition: verdict.transition,
            reason: verdict.reason,
            complete: verdict.transition.is_some() && complete,
            busy,
            homes: homes::next(schedule, &members, state, inputs.gaps),
            skip_ends: verdict.transition.and_then(|a| scope.ends(&members, a)),
            stopped: wake::kept(&members, state, &woken, inputs.gaps),
            counts: ecs::remembered(&members, state, inputs.gaps),
            sizes: asg::remembered(&members, state, inputs.gaps),
            tally: Tally::of(members.iter().map(|(_, _, c)| *c)),
        },
    }
}

/// One schedule's transition this tick: which resources to act on, in which order.
struct Transition<'a, 'e> {
    schedule: &'a Schedule,
    state: &'a ScheduleState,
    verdict: Verdict,
    action: Action,
    now: DateTime<Utc>,
    gaps: &'a [Gap],
    scope: &'a skip::Scope,
    errors: &'e mut Vec<Problem>,
}

impl Transition<'_, '_> {
    fn error(&mut self, r: &Resource, what: &str, message: String) {
        self.errors.push(Problem::keyed(
            &self.schedule.name,
            format!("{}#{what}", r.key()),
            message,
        ));
    }

    /// The steps (ungrouped first, then groups in start or stop order) and whether every
    /// resource is in the target state, but for skipped ones and the groups they hold.
    fn steps(&mut self, members: &[Member<'_>]) -> (Vec<Step>, bool) {
        let n = self.schedule.groups.len();
        // reached[g]: every resource of group g is in the target state. A group a gap may
        // hide is not known to be: its dependents wait, its dependencies stay.
        let mut reached: Vec<bool> = self
            .schedule
            .groups
            .iter()
            .map(|g| !homes::hidden(g, self.gaps, self.state))
            .collect();
        let mut complete = self.gaps.is_empty();
        let mut ungrouped = Vec::new();
        let mut todo: Vec<Vec<ResourceRef>> = vec![Vec::new(); n];
        // Per group: a member out of the target phase that is skipped / that is not.
        let (mut skipped, mut loose) = (vec![false; n], vec![false; n]);
        for (g, r, c) in members {
            let skip = self.scope.is_skipped(r);
            if !target_reached(*c, self.action) {
                match (*g, skip) {
                    (UNGROUPED, skip) => complete &= skip,
                    (g, true) => (reached[g], skipped[g]) = (false, true),
                    (g, false) => (reached[g], loose[g]) = (false, true),
                }
            }
            if self.scope.acts_on(r) && self.check(r, *c) {
                match *g {
                    UNGROUPED => ungrouped.push(r.to_ref()),
                    g => todo[g].push(r.to_ref()),
                }
            }
        }
        let mut steps = Vec::new();
        if !ungrouped.is_empty() {
            steps.push(self.step("", Vec::new(), ungrouped));
        }
        let order: Vec<usize> = match self.action {
            Action::Start => (0..n).collect(),
            Action::Stop => (0..n).rev().collect(),
        };
        // held[g]: out of the target phase only because of skipped resources (its own, or
        // gates held that way): the transition is complete without it.
        let mut held = vec![false; n];
        for g in order {
            let group = &self.schedule.groups[g];
            let gates = match self.action {
                Action::Start => &group.depends_on,
                Action::Stop => &group.dependents,
            };
            let waiting: Vec<usize> = gates.iter().copied().filter(|d| !reached[*d]).collect();
            let gated = !waiting.is_empty() && waiting.iter().all(|d| held[*d]);
            held[g] = !reached[g] && ((skipped[g] && !loose[g]) || (loose[g] && gated));
            complete &= reached[g] || held[g];
            if todo[g].is_empty() {
                continue;
            }
            let names = waiting
                .iter()
                .map(|d| self.schedule.groups[*d].name.clone());
            let waiting_on: Vec<String> = names.collect();
            let resources = std::mem::take(&mut todo[g]);
            steps.push(self.step(&group.name, waiting_on, resources));
        }
        (steps, complete)
    }

    fn step(&self, group: &str, waiting_on: Vec<String>, mut resources: Vec<ResourceRef>) -> Step {
        // A report holds every step until it is written: no growth slack in them.
        resources.shrink_to_fit();
        Step {
            schedule: self.schedule.name.clone(),
            group: group.to_string(),
            action: self.action,
            status: if waiting_on.is_empty() {
                StepStatus::Ready
            } else {
                StepStatus::Blocked
            },
            waiting_on,
            resources,
            failures: Vec::new(),
        }
    }

    /// Reports what stands in the way of `r` and says whether to act on it now.
    fn check(&mut self, r: &Resource, c: Condition) -> bool {
        let verb = self.action.as_str();
        match c {
            Condition::Broken => {
                let message = format!(
                    "resource {} ({}) is '{}' and cannot be {}; its dependents wait",
                    r.id,
                    r.kind,
                    r.state,
                    past(self.action)
                );
                self.error(r, &format!("state#{}", r.state), message);
                false
            }
            Condition::Unknown => {
                let message = format!(
                    "resource {} ({}) is in state '{}', which offhours does not know; it is not {} and its dependents wait",
                    r.id, r.kind, r.shown_state(), past(self.action)
                );
                self.error(r, &format!("state#{}", r.state), message);
                false
            }
            // An ECS service or Auto Scaling group that never reaches its count (a
            // crash-looping task, no capacity) is still scaled to 0 at the stop: waiting
            // would keep it launching all night and hold back the groups behind it.
            Condition::Busy
                if self.action == Action::Stop
                    && matches!(r.kind, ResourceKind::Ecs | ResourceKind::Asg)
                    && r.desired.unwrap_or(0) > 0 =>
            {
                true
            }
            Condition::Busy => {
                let since = self
                    .state
                    .busy
                    .get(&r.key())
                    .filter(|b| b.state == r.state)
                    .map_or(self.now, |b| b.since);
                let minutes = (self.now - since).num_minutes();
                if minutes >= STUCK_AFTER_MINUTES {
                    let message = format!(
                        "resource {} ({}) has been '{}' for {minutes} min; offhours waits for it before the {verb}, and its dependents wait too",
                        r.id, r.kind, r.shown_state()
                    );
                    self.error(r, &format!("stuck#{}", r.state), message);
                }
                false
            }
            Condition::Down if self.action == Action::Start => self.retry_start(r),
            _ => actionable(c, self.action),
        }
    }

    /// A stopped resource that an earlier tick started (AWS accepted the start) fell back
    /// to stopped: report it with its state reason; start it again up to `MaxAttempts`.
    fn retry_start(&mut self, r: &Resource) -> bool {
        let fresh = matches!(self.verdict.reason, Reason::ForceStart);
        let tried = if fresh {
            0
        } else {
            self.state.attempts_for(r, self.verdict.event)
        };
        if tried == 0 {
            return true;
        }
        let max = self.schedule.max_attempts;
        let reason = r.reason.as_deref().unwrap_or("no state reason given");
        if tried >= max {
            let message = format!(
                "gave up starting {} ({}): it fell back to stopped after {tried} accepted start(s) ({reason}); ForceStart or chat `start` tries again",
                r.id, r.kind
            );
            self.error(r, "gave-up", message);
            return false;
        }
        let message = format!(
            "resource {} ({}) fell back to stopped after a start ({reason}); starting it again (attempt {} of {max})",
            r.id,
            r.kind,
            tried + 1
        );
        self.error(r, "fell-back", message);
        true
    }
}

/// `started` / `stopped`.
fn past(action: Action) -> &'static str {
    match action {
        Action::Start => "started",
        Action::Stop => "stopped",
    }
}

#[cfg(test)]
mod tests;
