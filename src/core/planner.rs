//! Pure planner: schedules + observed resources + stored state at `now` -> ordered steps, notices and errors.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::core::config::{Action, Config, Problem, ResourceKind, Schedule};
use crate::core::plan::{
    Decision, Notice, NoticeKind, Reason, Report, ResourceRef, Step, StepStatus,
};
use crate::core::schedule::{latest_event, next_event, EventKey};

/// How long a resource may stay in a transient state before it is reported as stuck.
pub const STUCK_AFTER_MINUTES: i64 = 30;

/// A resource as the cloud (or an inventory file) reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub kind: ResourceKind,
    /// The provider's own state string (`running`, `stopped`, `available`, ...).
    pub state: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Why the provider last changed the state (EC2 StateReason), e.g.
    /// `Server.InsufficientInstanceCapacity: Insufficient capacity.`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For an RDS instance that belongs to an Aurora cluster: the cluster (it starts and
    /// stops with its cluster, never on its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

impl Resource {
    pub fn to_ref(&self) -> ResourceRef {
        ResourceRef {
            id: self.id.clone(),
            kind: self.kind,
            region: self.region.clone(),
            name: self.tags.get("Name").filter(|n| !n.is_empty()).cloned(),
            engine: self.engine.clone(),
        }
    }

    /// The key this resource's bookkeeping is stored under (`ec2:i-0a1`).
    pub fn key(&self) -> String {
        resource_key(self.kind, &self.id)
    }
}

/// The key of a resource in the state table and in alert identities (`ec2:i-0a1`).
pub fn resource_key(kind: ResourceKind, id: &str) -> String {
    format!("{kind}:{id}")
}

/// Where a resource stands, in terms the planner needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Running / available.
    Up,
    /// Stopped.
    Down,
    /// In a known transient state (pending, starting, stopping, backing-up...): wait, never hit again.
    Busy,
    /// In a state offhours does not know (AWS adds new ones): not acted on, reported.
    Unknown,
    /// In a state from which it can be neither started nor stopped (failed, storage-full...).
    Broken,
    /// Terminated or being terminated: not scheduled at all.
    Gone,
}

/// RDS instance and Aurora cluster states that pass by themselves.
const RDS_TRANSIENT: &[&str] = &[
    "starting",
    "stopping",
    "backing-up",
    "backtracking",
    "configuring-activity-stream",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "converting-to-vpc",
    "creating",
    "failing-over",
    "maintenance",
    "migrating",
    "modifying",
    "moving-to-vpc",
    "promoting",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "storage-config-upgrade",
    "storage-initialization",
    "storage-optimization",
    "update-iam-db-auth",
    "upgrading",
];

/// RDS instance and Aurora cluster states that need a person.
const RDS_BROKEN: &[&str] = &[
    "failed",
    "storage-full",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-credentials",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "insufficient-capacity",
    "restore-error",
    "cloning-failed",
    "migration-failed",
];

/// Maps a provider state string to a condition.
pub fn condition(kind: ResourceKind, state: &str) -> Condition {
    let state = state.trim().to_ascii_lowercase();
    let state = state.as_str();
    match kind {
        ResourceKind::Ec2 => match state {
            "running" => Condition::Up,
            "stopped" => Condition::Down,
            "pending" | "stopping" => Condition::Busy,
            "shutting-down" | "terminated" => Condition::Gone,
            _ => Condition::Unknown,
        },
        ResourceKind::Rds | ResourceKind::Aurora => match state {
            // moto answers `started` to StartDBCluster; AWS reports `available`.
            "available" | "started" => Condition::Up,
            "stopped" => Condition::Down,
            "deleting" | "deleted" => Condition::Gone,
            s if RDS_BROKEN.contains(&s) => Condition::Broken,
            s if RDS_TRANSIENT.contains(&s) => Condition::Busy,
            _ => Condition::Unknown,
        },
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
}

impl ScheduleState {
    /// Accepted starts of `key` for `event` so far.
    fn attempts_for(&self, key: &str, event: Option<EventKey>) -> u32 {
        self.attempts
            .get(key)
            .filter(|a| a.event == event)
            .map_or(0, |a| a.count)
    }
}

/// Tag keys that tie resources to schedules and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagKeys {
    pub schedule: String,
    pub group: String,
}

impl Default for TagKeys {
    fn default() -> Self {
        Self {
            schedule: "ScheduleName".into(),
            group: "ScheduleGroupName".into(),
        }
    }
}

/// Everything one planning pass looks at.
pub struct Inputs<'a> {
    pub now: DateTime<Utc>,
    pub config: &'a Config,
    pub resources: &'a [Resource],
    pub states: &'a HashMap<String, ScheduleState>,
    pub tags: &'a TagKeys,
    /// Timezone the report's `at` is shown in.
    pub report_timezone: Tz,
}

/// Plans one tick: for every schedule, what to start or stop now, in dependency order.
pub fn plan(inputs: &Inputs<'_>) -> Report {
    let config = inputs.config;
    let mut errors: Vec<Problem> = config.errors.clone();
    let mut warnings: Vec<Problem> = config.warnings.clone();
    let (mut members, unmatched) = by_schedule(inputs, &mut warnings);
    for (tag, n) in unmatched {
        warnings.push(Problem::new(
            tag,
            format!(
                "{n} resource(s) tagged {}={tag} match no valid schedule; they are left alone",
                inputs.tags.schedule
            ),
        ));
    }

    let mut steps = Vec::new();
    let mut notices = Vec::new();
    let mut decisions = Vec::new();
    for (schedule, resources) in config.schedules.iter().zip(members.iter_mut()) {
        resources.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        let state = inputs
            .states
            .get(&schedule.name)
            .cloned()
            .unwrap_or_default();
        let out = plan_schedule(schedule, resources, &state, inputs);
        steps.extend(out.steps);
        notices.extend(out.notice);
        errors.extend(out.errors);
        decisions.push(out.decision);
    }
    errors.sort();
    errors.dedup();
    warnings.sort();
    warnings.dedup();
    Report {
        at: inputs
            .now
            .with_timezone(&inputs.report_timezone)
            .fixed_offset(),
        steps,
        notices,
        errors,
        warnings,
        schedules: decisions,
        dry_run: true,
    }
}

/// Resources per schedule (index-aligned with `config.schedules`), in one pass, and the
/// count of resources per schedule tag that names no valid schedule. Aurora member
/// instances are left out with a warning naming the cluster to tag instead.
fn by_schedule<'a>(
    inputs: &Inputs<'a>,
    warnings: &mut Vec<Problem>,
) -> (Vec<Vec<&'a Resource>>, BTreeMap<&'a str, usize>) {
    let config = inputs.config;
    let by_tag: HashMap<&str, usize> = config
        .schedules
        .iter()
        .enumerate()
        .map(|(i, s)| (s.tag_value.as_str(), i))
        .collect();
    let mut members: Vec<Vec<&Resource>> = vec![Vec::new(); config.schedules.len()];
    let mut unmatched: BTreeMap<&str, usize> = BTreeMap::new();
    for r in inputs.resources {
        let Some(tag) = r.tags.get(&inputs.tags.schedule) else {
            continue;
        };
        if let Some(cluster) = &r.cluster {
            warnings.push(Problem::new(
                tag.as_str(),
                format!(
                    "resource {} ({}) is a member of Aurora cluster '{cluster}' and starts and stops with it; it is left alone: tag the cluster {}={tag} instead (an AURORA group)",
                    r.id, r.kind, inputs.tags.schedule
                ),
            ));
            continue;
        }
        match by_tag.get(tag.as_str()) {
            Some(i) => members[*i].push(r),
            None => *unmatched.entry(tag.as_str()).or_default() += 1,
        }
    }
    (members, unmatched)
}

struct ScheduleOutcome {
    steps: Vec<Step>,
    notice: Option<Notice>,
    errors: Vec<Problem>,
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
        let c = condition(r.kind, &r.state);
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
    let mut errors = Vec::new();
    let members = members(schedule, resources, inputs.tags, &mut errors);
    let verdict = decide(schedule, state, inputs.now);
    let (steps, complete) = match verdict.transition {
        Some(action) => {
            let mut t = Transition {
                schedule,
                state,
                verdict,
                action,
                now: inputs.now,
                errors: &mut errors,
            };
            t.steps(&members)
        }
        None => (Vec::new(), true),
    };
    let busy = members
        .iter()
        .filter(|(_, _, c)| matches!(c, Condition::Busy | Condition::Unknown))
        .map(|(_, r, _)| (r.key(), r.state.clone()))
        .collect();
    ScheduleOutcome {
        steps,
        notice: warning(schedule, &members, state, inputs.now),
        errors,
        decision: Decision {
            schedule: schedule.name.clone(),
            event: verdict.event,
            desired: verdict.desired,
            transition: verdict.transition,
            reason: verdict.reason,
            complete: verdict.transition.is_some() && complete,
            busy,
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
    /// resource is already in the target state.
    fn steps(&mut self, members: &[Member<'_>]) -> (Vec<Step>, bool) {
        let n = self.schedule.groups.len();
        // reached[g]: every resource of group g is in the target state.
        let mut reached = vec![true; n];
        let mut complete = true;
        let mut ungrouped = Vec::new();
        let mut todo: Vec<Vec<ResourceRef>> = vec![Vec::new(); n];
        for (g, r, c) in members {
            if !target_reached(*c, self.action) {
                complete = false;
                if *g != UNGROUPED {
                    reached[*g] = false;
                }
            }
            if self.check(r, *c) {
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
        for g in order {
            if todo[g].is_empty() {
                continue;
            }
            let group = &self.schedule.groups[g];
            let gates = match self.action {
                Action::Start => &group.depends_on,
                Action::Stop => &group.dependents,
            };
            let waiting_on: Vec<String> = gates
                .iter()
                .filter(|d| !reached[**d])
                .map(|d| self.schedule.groups[*d].name.clone())
                .collect();
            let resources = std::mem::take(&mut todo[g]);
            steps.push(self.step(&group.name, waiting_on, resources));
        }
        (steps, complete)
    }

    fn step(&self, group: &str, waiting_on: Vec<String>, resources: Vec<ResourceRef>) -> Step {
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
                    r.id, r.kind, r.state, past(self.action)
                );
                self.error(r, &format!("state#{}", r.state), message);
                false
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
                        r.id, r.kind, r.state
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
            self.state.attempts_for(&r.key(), self.verdict.event)
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

/// The pre-stop warning, once per stop event, when something is running.
fn warning(
    schedule: &Schedule,
    members: &[Member<'_>],
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
    let running: Vec<ResourceRef> = members
        .iter()
        .filter(|(_, _, c)| matches!(c, Condition::Up | Condition::Busy))
        .map(|(_, r, _)| r.to_ref())
        .collect();
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
    })
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
    );
    if decision.complete && finished {
        next.applied = decision.event.or(next.applied);
    }
    // A force that a newer event superseded is forgotten.
    if next.forced.is_some_and(|f| f.event != decision.event) {
        next.forced = None;
    }
    count_attempts(&mut next, decision, &tick.steps);
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
        if !matches!(step.status, StepStatus::Done | StepStatus::Failed) {
            continue;
        }
        for r in &step.resources {
            if step.failures.iter().any(|f| f.id == r.id) {
                continue;
            }
            let entry = next
                .attempts
                .entry(resource_key(r.kind, &r.id))
                .or_insert(Attempts {
                    event: decision.event,
                    count: 0,
                });
            entry.count += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{validate, Defaults, RawConfig};

    const CHAIN: &str = "schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: CACHE, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: BATCH, InstanceType: EC2, Dependency: [API, CACHE]}
";

    fn config(yaml: &str) -> Config {
        let c = validate(
            &RawConfig::parse(yaml, "test").expect("yaml"),
            &Defaults::default(),
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        c
    }

    /// `res("db", Rds, "stopped", "dev", Some("DB"))`
    fn res(
        id: &str,
        kind: ResourceKind,
        state: &str,
        schedule: &str,
        group: Option<&str>,
    ) -> Resource {
        let mut tags = BTreeMap::from([("ScheduleName".to_string(), schedule.to_string())]);
        if let Some(g) = group {
            tags.insert("ScheduleGroupName".into(), g.into());
        }
        Resource {
            id: id.into(),
            kind,
            state: state.into(),
            tags,
            region: None,
            engine: None,
            reason: None,
            cluster: None,
        }
    }

    /// The example fleet of CHAIN with every resource in `ec2`/`rds` state.
    fn fleet(rds: &str, api: &str, cache: &str, batch: &str) -> Vec<Resource> {
        vec![
            res("db", ResourceKind::Rds, rds, "dev", Some("DB")),
            res("i-api", ResourceKind::Ec2, api, "dev", Some("API")),
            res("i-cache", ResourceKind::Ec2, cache, "dev", Some("CACHE")),
            res("i-batch", ResourceKind::Ec2, batch, "dev", Some("BATCH")),
        ]
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    fn run(
        config: &Config,
        resources: &[Resource],
        states: &HashMap<String, ScheduleState>,
        now: &str,
    ) -> Report {
        plan(&Inputs {
            now: at(now),
            config,
            resources,
            states,
            tags: &TagKeys::default(),
            report_timezone: chrono_tz::Asia::Seoul,
        })
    }

    /// Steps as `GROUP:action:status[waiting]` strings, in order.
    fn steps(r: &Report) -> Vec<String> {
        r.steps
            .iter()
            .map(|s| {
                let mut t = format!("{}:{}:{}", s.group, s.action, s.status.as_str());
                if !s.waiting_on.is_empty() {
                    t.push_str(&format!("[{}]", s.waiting_on.join(",")));
                }
                t
            })
            .collect()
    }

    const MON_0905: &str = "2026-11-23T09:05:00+09:00";
    const MON_1805: &str = "2026-11-23T18:05:00+09:00";

    #[test]
    fn transitions_follow_the_dependency_graph() {
        let c = config(CHAIN);
        let none = HashMap::new();
        let cases: Vec<(&str, Vec<Resource>, &str, Vec<&str>)> = vec![
            (
                "start: first layer ready, the rest blocked",
                fleet("stopped", "stopped", "stopped", "stopped"),
                MON_0905,
                vec![
                    "DB:start:ready",
                    "API:start:blocked[DB]",
                    "CACHE:start:blocked[DB]",
                    "BATCH:start:blocked[API,CACHE]",
                ],
            ),
            (
                "start: DB up, second layer ready",
                fleet("available", "stopped", "stopped", "stopped"),
                MON_0905,
                vec![
                    "API:start:ready",
                    "CACHE:start:ready",
                    "BATCH:start:blocked[API,CACHE]",
                ],
            ),
            (
                "start: diamond waits for both branches",
                fleet("available", "running", "pending", "stopped"),
                MON_0905,
                vec!["BATCH:start:blocked[CACHE]"],
            ),
            (
                "start: transient DB is waited for, never hit again",
                fleet("starting", "stopped", "stopped", "stopped"),
                MON_0905,
                vec![
                    "API:start:blocked[DB]",
                    "CACHE:start:blocked[DB]",
                    "BATCH:start:blocked[API,CACHE]",
                ],
            ),
            (
                "stop: reverse order, last layer first",
                fleet("available", "running", "running", "running"),
                MON_1805,
                vec![
                    "BATCH:stop:ready",
                    "CACHE:stop:blocked[BATCH]",
                    "API:stop:blocked[BATCH]",
                    "DB:stop:blocked[API,CACHE]",
                ],
            ),
            (
                "stop: DB waits for every dependent to be fully stopped",
                fleet("available", "stopping", "stopped", "stopped"),
                MON_1805,
                vec!["DB:stop:blocked[API]"],
            ),
            (
                "stop: already stopped costs nothing",
                fleet("stopped", "stopped", "stopped", "stopped"),
                MON_1805,
                vec![],
            ),
        ];
        for (name, resources, now, expected) in cases {
            let r = run(&c, &resources, &none, now);
            assert_eq!(steps(&r), expected, "{name}");
            assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
        }
    }

    #[test]
    fn completion_is_reported_per_schedule() {
        let c = config(CHAIN);
        let none = HashMap::new();
        let r = run(
            &c,
            &fleet("available", "running", "running", "pending"),
            &none,
            MON_0905,
        );
        assert!(!r.schedules[0].complete);
        let r = run(
            &c,
            &fleet("available", "running", "running", "running"),
            &none,
            MON_0905,
        );
        assert!(r.schedules[0].complete);
        assert_eq!(r.schedules[0].reason, Reason::Boundary);
        assert_eq!(r.schedules[0].transition, Some(Action::Start));
    }

    #[test]
    fn applied_event_respects_manual_changes_unless_enforced() {
        // GIVEN the 09:00 start was applied and someone stopped the API by hand
        let c = config(CHAIN);
        let applied = run(&c, &[], &HashMap::new(), MON_0905).schedules[0].event;
        let states = HashMap::from([(
            "dev".to_string(),
            ScheduleState {
                applied,
                ..Default::default()
            },
        )]);
        let resources = fleet("available", "stopped", "running", "running");
        // WHEN the next tick plans
        let r = run(&c, &resources, &states, "2026-11-23T11:00:00+09:00");
        // THEN nothing happens
        assert!(r.steps.is_empty());
        assert_eq!(r.schedules[0].reason, Reason::Applied);
        // BUT an Enforced schedule starts it again
        let enforced = config(&CHAIN.replace(
            "Timezone: Asia/Seoul}",
            "Timezone: Asia/Seoul, Enforced: true}",
        ));
        let r = run(&enforced, &resources, &states, "2026-11-23T11:00:00+09:00");
        assert_eq!(steps(&r), ["API:start:ready"]);
        assert_eq!(r.schedules[0].reason, Reason::Enforced);
        // AND a newer boundary acts again
        let r = run(&c, &resources, &states, MON_1805);
        assert_eq!(r.schedules[0].reason, Reason::Boundary);
        assert_eq!(steps(&r)[0], "BATCH:stop:ready");
    }

    #[test]
    fn force_start_runs_now_and_then_holds_until_the_next_boundary() {
        let yaml = CHAIN.replace(
            "Timezone: Asia/Seoul}",
            "Timezone: Asia/Seoul, ForceStart: true}",
        );
        let c = config(&yaml);
        let night = "2026-11-23T20:00:00+09:00";
        let r = run(
            &c,
            &fleet("stopped", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            night,
        );
        assert_eq!(r.schedules[0].reason, Reason::ForceStart);
        assert_eq!(steps(&r)[0], "DB:start:ready");
        // When the forced start completes, the state remembers it.
        let done = run(
            &c,
            &fleet("available", "running", "running", "running"),
            &HashMap::new(),
            night,
        );
        assert!(done.schedules[0].complete);
        let state = next_state(
            &ScheduleState::default(),
            &done.schedules[0],
            &TickResult::default(),
        );
        assert_eq!(state.forced.map(|f| f.action), Some(Action::Start));
        // With the flag cleared, the 18:00 stop (already past) does not stop it again...
        let cleared = config(CHAIN);
        let states = HashMap::from([("dev".to_string(), state)]);
        let r = run(
            &cleared,
            &fleet("available", "running", "running", "running"),
            &states,
            "2026-11-23T21:00:00+09:00",
        );
        assert!(r.steps.is_empty(), "{:?}", steps(&r));
        assert_eq!(r.schedules[0].reason, Reason::Forced);
        // ...until the next boundary (Tuesday's start, then Tuesday's stop).
        let r = run(
            &cleared,
            &fleet("available", "running", "running", "running"),
            &states,
            "2026-11-24T18:01:00+09:00",
        );
        assert_eq!(r.schedules[0].reason, Reason::Boundary);
        assert_eq!(r.schedules[0].transition, Some(Action::Stop));
    }

    #[test]
    fn disabled_schedule_does_nothing_but_force_still_works() {
        let c = config(&CHAIN.replace(
            "Timezone: Asia/Seoul}",
            "Timezone: Asia/Seoul, Enabled: false}",
        ));
        let r = run(
            &c,
            &fleet("stopped", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            MON_0905,
        );
        assert!(r.steps.is_empty());
        assert_eq!(r.schedules[0].reason, Reason::Disabled);
        let c = config(&CHAIN.replace(
            "Timezone: Asia/Seoul}",
            "Timezone: Asia/Seoul, Enabled: false, ForceStop: true}",
        ));
        let r = run(
            &c,
            &fleet("available", "running", "running", "running"),
            &HashMap::new(),
            MON_0905,
        );
        assert_eq!(steps(&r)[0], "BATCH:stop:ready");
    }

    #[test]
    fn ungrouped_resources_have_no_ordering_and_bad_group_tags_are_reported() {
        let c = config(CHAIN);
        let mut resources = fleet("stopped", "stopped", "stopped", "stopped");
        resources.push(res("i-free", ResourceKind::Ec2, "stopped", "dev", None));
        resources.push(res(
            "i-typo",
            ResourceKind::Ec2,
            "stopped",
            "dev",
            Some("APY"),
        ));
        resources.push(res(
            "i-wrongkind",
            ResourceKind::Ec2,
            "stopped",
            "dev",
            Some("DB"),
        ));
        resources.push(res("i-other", ResourceKind::Ec2, "stopped", "nobody", None));
        let r = run(&c, &resources, &HashMap::new(), MON_0905);
        assert_eq!(r.steps[0].group, "");
        assert_eq!(r.steps[0].status, StepStatus::Ready);
        assert_eq!(r.steps[0].resources[0].id, "i-free");
        let touched: Vec<&str> = r
            .steps
            .iter()
            .flat_map(|s| s.resources.iter().map(|x| x.id.as_str()))
            .collect();
        assert!(
            !touched.contains(&"i-typo")
                && !touched.contains(&"i-wrongkind")
                && !touched.contains(&"i-other")
        );
        let errors: Vec<&str> = r.errors.iter().map(|e| e.message.as_str()).collect();
        assert!(errors.iter().any(|e| e.contains("i-typo") && e.contains("ScheduleGroupName=APY names no group")), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("i-wrongkind") && e.contains("holds RDS")),
            "{errors:?}"
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w.message.contains("ScheduleName=nobody")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn broken_resource_blocks_only_its_dependents() {
        let c = config(CHAIN);
        let r = run(
            &c,
            &fleet("available", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            MON_0905,
        );
        assert_eq!(steps(&r)[..2], ["API:start:ready", "CACHE:start:ready"]);
        let r = run(
            &c,
            &fleet("storage-full", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            MON_0905,
        );
        assert_eq!(
            steps(&r),
            [
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]"
            ]
        );
        assert!(
            r.errors.iter().any(|e| e
                .message
                .contains("db (rds) is 'storage-full' and cannot be started")),
            "{:?}",
            r.errors
        );
    }

    #[test]
    fn pre_stop_warning_once_per_stop_event_when_something_runs() {
        let c = config(CHAIN);
        let running = fleet("available", "running", "stopped", "stopped");
        let t10 = "2026-11-23T17:50:00+09:00";
        let r = run(&c, &running, &HashMap::new(), t10);
        assert_eq!(r.notices.len(), 1);
        let n = &r.notices[0];
        assert_eq!(n.stop_at.to_rfc3339(), "2026-11-23T18:00:00+09:00");
        assert_eq!(n.minutes_left, 10);
        let ids: Vec<&str> = n.resources.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids, ["i-api", "db"], "sorted by kind, then id");
        // Not yet at T-11, none once warned, none when everything is stopped.
        assert!(
            run(&c, &running, &HashMap::new(), "2026-11-23T17:49:00+09:00")
                .notices
                .is_empty()
        );
        let warned = HashMap::from([(
            "dev".to_string(),
            ScheduleState {
                warned: Some(n.event),
                ..Default::default()
            },
        )]);
        assert!(run(&c, &running, &warned, "2026-11-23T17:55:00+09:00")
            .notices
            .is_empty());
        assert!(run(
            &c,
            &fleet("stopped", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            t10
        )
        .notices
        .is_empty());
    }

    #[test]
    fn resources_are_filtered_by_the_tag_keys_in_use() {
        let c = config(CHAIN);
        let tags = TagKeys {
            schedule: "Sched".into(),
            group: "Grp".into(),
        };
        let mut r = res("i-x", ResourceKind::Ec2, "stopped", "dev", None);
        r.tags = BTreeMap::from([("Sched".into(), "dev".into()), ("Grp".into(), "API".into())]);
        let report = plan(&Inputs {
            now: at(MON_0905),
            config: &c,
            resources: &[r],
            states: &HashMap::new(),
            tags: &tags,
            report_timezone: chrono_tz::UTC,
        });
        assert_eq!(steps(&report), ["API:start:ready"]);
        assert_eq!(report.at.to_rfc3339(), "2026-11-23T00:05:00+00:00");
    }

    /// CHAIN with `extra` added to the dev schedule's fields.
    fn chain_with(extra: &str) -> String {
        CHAIN.replace(
            "Timezone: Asia/Seoul}",
            &format!("Timezone: Asia/Seoul, {extra}}}"),
        )
    }

    fn state_of(s: ScheduleState) -> HashMap<String, ScheduleState> {
        HashMap::from([("dev".to_string(), s)])
    }

    /// Ids of every resource in a step, in order.
    fn planned(r: &Report) -> Vec<&str> {
        r.steps
            .iter()
            .flat_map(|s| s.resources.iter().map(|x| x.id.as_str()))
            .collect()
    }

    /// The error with `key`, if the report has one.
    fn keyed<'r>(r: &'r Report, key: &str) -> Option<&'r Problem> {
        r.errors.iter().find(|e| e.key.as_deref() == Some(key))
    }

    /// The steps of `r` as the executor would leave them: every ready step acted on
    /// (`done`), and the resources in `failed` failed with `StartInstances`.
    fn as_run(r: &Report, failed: &[&str]) -> Vec<Step> {
        r.steps
            .iter()
            .cloned()
            .map(|mut s| {
                if s.status == StepStatus::Ready {
                    s.failures = s
                        .resources
                        .iter()
                        .filter(|x| failed.contains(&x.id.as_str()))
                        .map(|x| crate::core::plan::Failure {
                            id: x.id.clone(),
                            message: "boom".into(),
                            operation: "StartInstances".into(),
                            code: "InternalError".into(),
                        })
                        .collect();
                    s.status = if s.failures.is_empty() {
                        StepStatus::Done
                    } else {
                        StepStatus::Failed
                    };
                }
                s
            })
            .collect()
    }

    /// The state stored after a tick at `now` whose final plan was `r` and whose steps ran as `steps`.
    fn after(old: &ScheduleState, r: &Report, steps: &[Step], now: &str) -> ScheduleState {
        let tick = TickResult {
            now: at(now),
            steps: steps.iter().collect(),
            ..Default::default()
        };
        next_state(old, &r.schedules[0], &tick)
    }

    #[test]
    fn force_start_with_a_failure_is_driven_until_done_then_held_until_the_next_boundary() {
        // GIVEN ForceStart at night (the stopped phase) and a tick whose CACHE start failed
        let forced = config(&chain_with("ForceStart: true"));
        let night = "2026-11-23T20:00:00+09:00";
        let r = run(
            &forced,
            &fleet("available", "running", "stopped", "stopped"),
            &HashMap::new(),
            night,
        );
        assert_eq!(r.schedules[0].reason, Reason::ForceStart);
        assert_eq!(
            steps(&r),
            ["CACHE:start:ready", "BATCH:start:blocked[CACHE]"]
        );
        let ran = as_run(&r, &["i-cache"]);
        let state = after(&ScheduleState::default(), &r, &ran, night);
        // THEN the state carries the unfinished force (the flag itself is cleared)
        let event = r.schedules[0].event;
        assert_eq!(
            state.forced,
            Some(Forced {
                action: Action::Start,
                event,
                done: false
            })
        );
        assert_eq!(state.applied, None);

        // WHEN the next tick plans with the flag cleared
        let cleared = config(CHAIN);
        let later = "2026-11-23T20:05:00+09:00";
        let r = run(
            &cleared,
            &fleet("available", "running", "stopped", "stopped"),
            &state_of(state.clone()),
            later,
        );
        // THEN the forced start goes on: the failed resource is started again
        assert_eq!(r.schedules[0].reason, Reason::Forced);
        assert_eq!(r.schedules[0].transition, Some(Action::Start));
        assert_eq!(
            steps(&r),
            ["CACHE:start:ready", "BATCH:start:blocked[CACHE]"]
        );
        assert!(planned(&r).contains(&"i-cache"));

        // WHEN everything is up
        let up = fleet("available", "running", "running", "running");
        let r = run(&cleared, &up, &state_of(state.clone()), later);
        // THEN the force is done, with nothing left to do
        assert!(r.steps.is_empty(), "{:?}", steps(&r));
        assert!(r.schedules[0].complete);
        let state = after(&state, &r, &[], later);
        assert_eq!(
            state.forced.map(|f| (f.action, f.done)),
            Some((Action::Start, true))
        );

        // AND a later tick before the next boundary does nothing, even to a manual stop
        let by_hand = fleet("available", "stopped", "running", "running");
        let r = run(
            &cleared,
            &by_hand,
            &state_of(state.clone()),
            "2026-11-23T23:00:00+09:00",
        );
        assert!(r.steps.is_empty(), "{:?}", steps(&r));
        assert_eq!(r.schedules[0].reason, Reason::Forced);
        assert_eq!(r.schedules[0].transition, None);

        // AND the next boundaries supersede it: Tuesday's start, then Tuesday's stop
        let r = run(
            &cleared,
            &by_hand,
            &state_of(state.clone()),
            "2026-11-24T09:05:00+09:00",
        );
        assert_eq!(r.schedules[0].reason, Reason::Boundary);
        assert_eq!(r.schedules[0].transition, Some(Action::Start));
        assert_eq!(steps(&r), ["API:start:ready"]);
        let tue_1801 = "2026-11-24T18:01:00+09:00";
        let r = run(&cleared, &up, &state_of(state.clone()), tue_1801);
        assert_eq!(r.schedules[0].reason, Reason::Boundary);
        assert_eq!(r.schedules[0].transition, Some(Action::Stop));
        assert_eq!(steps(&r)[0], "BATCH:stop:ready");
        // AND the superseded force is forgotten
        assert_eq!(after(&state, &r, &[], tue_1801).forced, None);
    }

    #[test]
    fn both_force_flags_are_an_error_but_boundaries_keep_running() {
        // GIVEN ForceStart and ForceStop both set (a console edit)
        let raw = RawConfig::parse(&chain_with("ForceStart: true, ForceStop: true"), "test")
            .expect("yaml");
        let c = validate(&raw, &Defaults::default());
        // THEN validation names both fields for that schedule
        assert!(
            c.errors.iter().any(|e| e.schedule == "dev"
                && e.message.contains("ForceStart")
                && e.message.contains("ForceStop")),
            "{:?}",
            c.errors
        );
        // AND the schedule is kept, with neither force acting
        let s = c.schedule("dev").expect("dev is still scheduled");
        assert!(s.force_conflict);
        assert!(!s.force_start && !s.force_stop);
        // AND its boundaries keep running
        let cases = [
            (
                MON_0905,
                fleet("stopped", "stopped", "stopped", "stopped"),
                Action::Start,
                "DB:start:ready",
            ),
            (
                MON_1805,
                fleet("available", "running", "running", "running"),
                Action::Stop,
                "BATCH:stop:ready",
            ),
        ];
        for (now, resources, action, first) in cases {
            let r = run(&c, &resources, &HashMap::new(), now);
            assert_eq!(r.schedules[0].reason, Reason::Boundary, "{now}");
            assert_eq!(r.schedules[0].transition, Some(action), "{now}");
            assert_eq!(steps(&r)[0], first, "{now}");
        }
    }

    #[test]
    fn provider_states_map_to_conditions() {
        use Condition::*;
        use ResourceKind::*;
        let cases = [
            (Ec2, "running", Up),
            (Ec2, "stopped", Down),
            (Ec2, "pending", Busy),
            (Ec2, "stopping", Busy),
            (Ec2, "terminated", Gone),
            (Ec2, "hibernating-someday", Unknown),
            (Ec2, " Running ", Up),
            (Rds, "available", Up),
            (Rds, "stopped", Down),
            (Rds, "backing-up", Busy),
            (Rds, "starting", Busy),
            (Rds, "failed", Broken),
            (Rds, "storage-full", Broken),
            (Rds, "deleting", Gone),
            (Rds, "some-new-state", Unknown),
            (Aurora, "started", Up),
            (Aurora, "available", Up),
            (Aurora, "stopped", Down),
            (Aurora, "modifying", Busy),
            (Aurora, "failed", Broken),
            (Aurora, "some-new-state", Unknown),
        ];
        for (kind, state, expected) in cases {
            assert_eq!(condition(kind, state), expected, "{kind} {state:?}");
        }
    }

    #[test]
    fn unknown_state_is_an_error_and_blocks_dependents() {
        // GIVEN the DB in a state offhours does not know, at the start boundary
        let c = config(CHAIN);
        let r = run(
            &c,
            &fleet("some-new-state", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            MON_0905,
        );
        // THEN it is not acted on, its dependents wait for it, and it is a keyed error
        assert!(!planned(&r).contains(&"db"), "{:?}", planned(&r));
        assert_eq!(
            steps(&r),
            [
                "API:start:blocked[DB]",
                "CACHE:start:blocked[DB]",
                "BATCH:start:blocked[API,CACHE]"
            ]
        );
        let e = r
            .errors
            .iter()
            .find(|e| e.key.as_deref().is_some_and(|k| k.contains("rds:db")))
            .unwrap_or_else(|| panic!("no keyed error for rds:db: {:?}", r.errors));
        assert!(
            e.key
                .as_deref()
                .is_some_and(|k| k.contains("some-new-state")),
            "{e:?}"
        );
        assert!(e.message.contains("some-new-state"), "{e:?}");
        assert!(!r.schedules[0].complete);
    }

    #[test]
    fn transient_state_is_an_error_only_once_stuck() {
        let c = config(CHAIN);
        let now = at(MON_0905);
        let busy = |state: &str, minutes: i64| ScheduleState {
            busy: BTreeMap::from([(
                "rds:db".to_string(),
                BusySince {
                    state: state.into(),
                    since: now - TimeDelta::minutes(minutes),
                },
            )]),
            ..Default::default()
        };
        // (case, stored state, stuck error expected)
        let cases = [
            ("first seen now", ScheduleState::default(), false),
            ("backing-up for 29 min", busy("backing-up", 29), false),
            ("backing-up for 31 min", busy("backing-up", 31), true),
            ("31 min in another state", busy("modifying", 31), false),
        ];
        for (name, state, stuck) in cases {
            // GIVEN the DB backing up at the start boundary
            let r = run(
                &c,
                &fleet("backing-up", "stopped", "stopped", "stopped"),
                &state_of(state),
                MON_0905,
            );
            // THEN it is waited for, never hit, and its dependents wait
            assert!(!planned(&r).contains(&"db"), "{name}");
            assert_eq!(steps(&r)[0], "API:start:blocked[DB]", "{name}");
            // AND it is an error only once it has been there for 30 minutes
            let e = keyed(&r, "rds:db#stuck#backing-up");
            assert_eq!(e.is_some(), stuck, "{name}: {:?}", r.errors);
            if let Some(e) = e {
                assert!(e.message.contains("'backing-up' for 31 min"), "{e:?}");
            }
            assert!(
                r.errors
                    .iter()
                    .all(|e| e.key.as_deref() == Some("rds:db#stuck#backing-up")),
                "{name}: {:?}",
                r.errors
            );
        }
        // AND the state remembers since when, across ticks in the same state
        let r = run(
            &c,
            &fleet("backing-up", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            MON_0905,
        );
        let old = busy("backing-up", 10);
        let next = after(&old, &r, &[], MON_0905);
        assert_eq!(next.busy, old.busy);
        let next = after(&busy("modifying", 10), &r, &[], MON_0905);
        assert_eq!(next.busy["rds:db"].since, now);
    }

    #[test]
    fn start_that_falls_back_is_retried_up_to_max_attempts() {
        let c = config(CHAIN);
        assert_eq!(c.schedules[0].max_attempts, 3, "Defaults: MAX_ATTEMPTS 3");
        let event = run(&c, &[], &HashMap::new(), MON_0905).schedules[0].event;
        let older = run(&c, &[], &HashMap::new(), "2026-11-20T09:05:00+09:00").schedules[0].event;
        assert_ne!(event, older);
        let mut resources = fleet("available", "stopped", "running", "stopped");
        resources[1].reason =
            Some("Server.InsufficientInstanceCapacity: Insufficient capacity.".into());
        let tried = |event, count| ScheduleState {
            attempts: BTreeMap::from([("ec2:i-api".to_string(), Attempts { event, count })]),
            ..Default::default()
        };
        let forced = config(&chain_with("ForceStart: true"));
        // (case, config, stored state, i-api planned, error key expected)
        let cases = [
            ("never tried", &c, ScheduleState::default(), true, None),
            ("tried for an older event", &c, tried(older, 2), true, None),
            (
                "fell back once",
                &c,
                tried(event, 1),
                true,
                Some("ec2:i-api#fell-back"),
            ),
            (
                "fell back twice",
                &c,
                tried(event, 2),
                true,
                Some("ec2:i-api#fell-back"),
            ),
            (
                "fell back max_attempts times",
                &c,
                tried(event, 3),
                false,
                Some("ec2:i-api#gave-up"),
            ),
            (
                "ForceStart tries again",
                &forced,
                tried(event, 3),
                true,
                None,
            ),
        ];
        for (name, config, state, started, key) in cases {
            // GIVEN the API stopped again after accepted starts, at the start boundary
            let r = run(config, &resources, &state_of(state), MON_0905);
            // THEN it is started again until it has fallen back max_attempts times
            assert_eq!(
                planned(&r).contains(&"i-api"),
                started,
                "{name}: {:?}",
                steps(&r)
            );
            let keys: Vec<&str> = r.errors.iter().filter_map(|e| e.key.as_deref()).collect();
            assert_eq!(keys, key.into_iter().collect::<Vec<_>>(), "{name}");
            // AND the error gives the provider's reason
            for e in &r.errors {
                assert!(
                    e.message
                        .contains("Server.InsufficientInstanceCapacity: Insufficient capacity."),
                    "{name}: {e:?}"
                );
            }
            // AND its dependents wait for it
            let expected: &[&str] = if started {
                &["API:start:ready", "BATCH:start:blocked[API]"]
            } else {
                &["BATCH:start:blocked[API]"]
            };
            assert_eq!(steps(&r), expected, "{name}");
        }
    }

    #[test]
    fn accepted_starts_are_counted_until_the_transition_completes() {
        let c = config(CHAIN);
        let older = run(&c, &[], &HashMap::new(), "2026-11-20T09:05:00+09:00").schedules[0].event;
        // GIVEN a start tick in which the API start was accepted and the CACHE start failed
        let r = run(
            &c,
            &fleet("available", "stopped", "stopped", "stopped"),
            &HashMap::new(),
            MON_0905,
        );
        let event = r.schedules[0].event;
        assert_eq!(
            steps(&r),
            [
                "API:start:ready",
                "CACHE:start:ready",
                "BATCH:start:blocked[API,CACHE]"
            ]
        );
        let ran = as_run(&r, &["i-cache"]);
        let old = ScheduleState {
            attempts: BTreeMap::from([
                ("ec2:i-api".to_string(), Attempts { event, count: 1 }),
                (
                    "ec2:i-old".to_string(),
                    Attempts {
                        event: older,
                        count: 2,
                    },
                ),
            ]),
            ..Default::default()
        };
        // WHEN the state is stored
        let next = after(&old, &r, &ran, MON_0905);
        // THEN the accepted start counts, the failed and blocked ones do not, and counts
        // of an older event are dropped
        assert_eq!(
            next.attempts,
            BTreeMap::from([("ec2:i-api".to_string(), Attempts { event, count: 2 })])
        );
        // AND once the transition is complete, the counts are dropped
        let r = run(
            &c,
            &fleet("available", "running", "running", "running"),
            &state_of(next.clone()),
            MON_0905,
        );
        assert!(r.schedules[0].complete);
        assert!(after(&next, &r, &[], MON_0905).attempts.is_empty());
    }

    #[test]
    fn aurora_member_instances_are_left_to_their_cluster() {
        // GIVEN an RDS instance of an Aurora cluster tagged like a DB of the schedule
        let c = config(CHAIN);
        let mut member = res(
            "aurora-1-a",
            ResourceKind::Rds,
            "stopped",
            "dev",
            Some("DB"),
        );
        member.cluster = Some("aurora-1".into());
        let mut resources = fleet("stopped", "stopped", "stopped", "stopped");
        resources.push(member);
        let r = run(&c, &resources, &HashMap::new(), MON_0905);
        // THEN it is in no step, and a warning names its cluster
        assert!(!planned(&r).contains(&"aurora-1-a"), "{:?}", planned(&r));
        assert_eq!(planned(&r), ["db", "i-api", "i-cache", "i-batch"]);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.message.contains("aurora-1-a") && w.message.contains("'aurora-1'")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn pre_stop_warning_names_the_next_start() {
        let overnight = config(
            "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '22:00', StopTime: '02:00', Timezone: Asia/Seoul}\n",
        );
        let day = config(CHAIN);
        // (case, config, warned at, stop, next start)
        let cases = [
            (
                "overnight, Tuesday 01:50: the same day's 22:00",
                &overnight,
                "2026-11-24T01:50:00+09:00",
                "2026-11-24T02:00:00+09:00",
                "2026-11-24T22:00:00+09:00",
            ),
            (
                "overnight, Saturday 01:50: Monday 22:00",
                &overnight,
                "2026-11-28T01:50:00+09:00",
                "2026-11-28T02:00:00+09:00",
                "2026-11-30T22:00:00+09:00",
            ),
            (
                "day, Friday 17:50: Monday 09:00",
                &day,
                "2026-11-27T17:50:00+09:00",
                "2026-11-27T18:00:00+09:00",
                "2026-11-30T09:00:00+09:00",
            ),
        ];
        let running = [res("i-web", ResourceKind::Ec2, "running", "dev", None)];
        for (name, c, now, stop, next_start) in cases {
            let r = run(c, &running, &HashMap::new(), now);
            assert_eq!(r.notices.len(), 1, "{name}");
            let n = &r.notices[0];
            assert_eq!(n.stop_at.to_rfc3339(), stop, "{name}");
            assert_eq!(
                n.next_start.map(|t| t.to_rfc3339()).as_deref(),
                Some(next_start),
                "{name}"
            );
        }
    }
}
