//! Pure planner: schedules + observed resources + stored state at `now` -> ordered steps, notices and errors.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::config::{Action, Config, Problem, ResourceKind, Schedule};
use crate::plan::{Decision, Notice, NoticeKind, Reason, Report, ResourceRef, Step, StepStatus};
use crate::schedule::{latest_event, next_event, EventKey};

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
}

/// Where a resource stands, in terms the planner needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Running / available.
    Up,
    /// Stopped.
    Down,
    /// In a transient state (pending, starting, stopping, backing-up...): wait, never hit again.
    Busy,
    /// In a state from which it can be neither started nor stopped (failed, storage-full...).
    Broken,
    /// Terminated or being terminated: not scheduled at all.
    Gone,
}

/// Maps a provider state string to a condition.
pub fn condition(kind: ResourceKind, state: &str) -> Condition {
    let state = state.trim().to_ascii_lowercase();
    match kind {
        ResourceKind::Ec2 => match state.as_str() {
            "running" => Condition::Up,
            "stopped" => Condition::Down,
            "pending" | "stopping" => Condition::Busy,
            "shutting-down" | "terminated" => Condition::Gone,
            _ => Condition::Broken,
        },
        ResourceKind::Rds | ResourceKind::Aurora => match state.as_str() {
            // moto answers `started` to StartDBCluster; AWS reports `available`.
            "available" | "started" => Condition::Up,
            "stopped" => Condition::Down,
            "deleting" | "deleted" => Condition::Gone,
            "failed"
            | "storage-full"
            | "incompatible-restore"
            | "incompatible-parameters"
            | "incompatible-network"
            | "incompatible-option-group"
            | "incompatible-credentials"
            | "inaccessible-encryption-credentials"
            | "inaccessible-encryption-credentials-recoverable"
            | "insufficient-capacity"
            | "restore-error" => Condition::Broken,
            // starting, stopping, backing-up, modifying, rebooting, upgrading, maintenance...
            _ => Condition::Busy,
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

/// A ForceStart/ForceStop that was carried out: its phase holds until a newer event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forced {
    pub action: Action,
    /// The latest event when the force was applied.
    pub event: Option<EventKey>,
}

/// The scheduler's own memory of one schedule (kept in the state table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleState {
    /// The last event whose transition finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<EventKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced: Option<Forced>,
    /// The last stop event a pre-stop warning was sent for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warned: Option<EventKey>,
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

    // Resources per schedule, in one pass.
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
        match by_tag.get(tag.as_str()) {
            Some(i) => members[*i].push(r),
            None => *unmatched.entry(tag.as_str()).or_default() += 1,
        }
    }
    for (tag, n) in unmatched {
        warnings.push(Problem {
            schedule: tag.to_string(),
            message: format!(
                "{n} resource(s) tagged {}={tag} match no valid schedule; they are left alone",
                inputs.tags.schedule
            ),
        });
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

struct ScheduleOutcome {
    steps: Vec<Step>,
    notice: Option<Notice>,
    errors: Vec<Problem>,
    decision: Decision,
}

/// Decides whether the schedule transitions this tick, and towards which phase.
pub fn decide(
    schedule: &Schedule,
    state: &ScheduleState,
    now: DateTime<Utc>,
) -> (Option<EventKey>, Option<Action>, Option<Action>, Reason) {
    let latest = latest_event(schedule, now).map(|e| e.key());
    let forced = state.forced.filter(|f| f.event == latest);
    let natural = latest.map(|e| e.action);
    if schedule.force_start {
        return (
            latest,
            Some(Action::Start),
            Some(Action::Start),
            Reason::ForceStart,
        );
    }
    if schedule.force_stop {
        return (
            latest,
            Some(Action::Stop),
            Some(Action::Stop),
            Reason::ForceStop,
        );
    }
    if !schedule.enabled {
        return (latest, natural, None, Reason::Disabled);
    }
    if let Some(f) = forced {
        let transition = schedule.enforced.then_some(f.action);
        return (latest, Some(f.action), transition, Reason::Forced);
    }
    let Some(event) = latest else {
        return (None, None, None, Reason::NoEvent);
    };
    let newer = state.applied.is_none_or(|applied| event > applied);
    if newer {
        (latest, natural, natural, Reason::Boundary)
    } else if schedule.enforced {
        (latest, natural, natural, Reason::Enforced)
    } else {
        (latest, natural, None, Reason::Applied)
    }
}

/// Index of the "group" that holds resources with no group tag.
const UNGROUPED: usize = usize::MAX;

fn plan_schedule(
    schedule: &Schedule,
    resources: &[&Resource],
    state: &ScheduleState,
    inputs: &Inputs<'_>,
) -> ScheduleOutcome {
    let now = inputs.now;
    let mut errors = Vec::new();
    let err = |errors: &mut Vec<Problem>, message: String| {
        errors.push(Problem {
            schedule: schedule.name.clone(),
            message,
        })
    };

    // Sort resources into groups; reject group tags that name no group of their kind.
    let mut members: Vec<(usize, &Resource, Condition)> = Vec::with_capacity(resources.len());
    for r in resources {
        let c = condition(r.kind, &r.state);
        if c == Condition::Gone {
            continue;
        }
        let group = match r
            .tags
            .get(&inputs.tags.group)
            .map(|g| g.trim())
            .filter(|g| !g.is_empty())
        {
            None => UNGROUPED,
            Some(g) => match schedule.group_index(g) {
                Some(i) if schedule.groups[i].kind == r.kind => i,
                Some(i) => {
                    err(&mut errors, format!(
                        "resource {} ({}): tag {}={g} names group '{g}', which holds {} resources; it is left alone",
                        r.id, r.kind, inputs.tags.group, schedule.groups[i].kind.as_str().to_uppercase()
                    ));
                    continue;
                }
                None => {
                    err(&mut errors, format!(
                        "resource {} ({}): tag {}={g} names no group of schedule '{}'; it is left alone",
                        r.id, r.kind, inputs.tags.group, schedule.name
                    ));
                    continue;
                }
            },
        };
        members.push((group, r, c));
    }

    let (event, desired, transition, reason) = decide(schedule, state, now);
    let mut steps = Vec::new();
    let mut complete = true;
    if let Some(action) = transition {
        // reached[g]: every resource of group g is in the target state.
        let n = schedule.groups.len();
        let mut reached = vec![true; n];
        let mut ungrouped_todo = Vec::new();
        let mut todo: Vec<Vec<ResourceRef>> = vec![Vec::new(); n];
        for (g, r, c) in &members {
            if !target_reached(*c, action) {
                complete = false;
                if *g != UNGROUPED {
                    reached[*g] = false;
                }
            }
            if *c == Condition::Broken {
                err(
                    &mut errors,
                    format!(
                        "resource {} ({}) is '{}' and cannot be {}ed",
                        r.id,
                        r.kind,
                        r.state,
                        if action == Action::Start {
                            "start"
                        } else {
                            "stopp"
                        }
                    ),
                );
            }
            if actionable(*c, action) {
                if *g == UNGROUPED {
                    ungrouped_todo.push(r.to_ref());
                } else {
                    todo[*g].push(r.to_ref());
                }
            }
        }
        if !ungrouped_todo.is_empty() {
            steps.push(Step {
                schedule: schedule.name.clone(),
                group: String::new(),
                action,
                status: StepStatus::Ready,
                waiting_on: Vec::new(),
                resources: ungrouped_todo,
                failures: Vec::new(),
            });
        }
        let order: Vec<usize> = match action {
            Action::Start => (0..n).collect(),
            Action::Stop => (0..n).rev().collect(),
        };
        for g in order {
            if todo[g].is_empty() {
                continue;
            }
            let group = &schedule.groups[g];
            let gates = match action {
                Action::Start => &group.depends_on,
                Action::Stop => &group.dependents,
            };
            let waiting_on: Vec<String> = gates
                .iter()
                .filter(|d| !reached[**d])
                .map(|d| schedule.groups[*d].name.clone())
                .collect();
            steps.push(Step {
                schedule: schedule.name.clone(),
                group: group.name.clone(),
                action,
                status: if waiting_on.is_empty() {
                    StepStatus::Ready
                } else {
                    StepStatus::Blocked
                },
                waiting_on,
                resources: std::mem::take(&mut todo[g]),
                failures: Vec::new(),
            });
        }
    }

    // Pre-stop warning, once per stop event, when something is running.
    let mut notice = None;
    if schedule.enabled && schedule.warn_minutes > 0 && !schedule.force_stop {
        let lead = TimeDelta::minutes(i64::from(schedule.warn_minutes));
        if let Some(stop) = next_event(schedule, now, Action::Stop, lead) {
            let running: Vec<ResourceRef> = members
                .iter()
                .filter(|(_, _, c)| matches!(c, Condition::Up | Condition::Busy))
                .map(|(_, r, _)| r.to_ref())
                .collect();
            if !running.is_empty() && state.warned != Some(stop.key()) {
                let seconds = (stop.at - now).num_seconds();
                notice = Some(Notice {
                    schedule: schedule.name.clone(),
                    kind: NoticeKind::PreStopWarning,
                    stop_at: stop.local.fixed_offset(),
                    resources: running,
                    timezone: schedule.timezone.name().to_string(),
                    minutes_left: (seconds + 59) / 60,
                    event: stop.key(),
                });
            }
        }
    }

    ScheduleOutcome {
        steps,
        notice,
        errors,
        decision: Decision {
            schedule: schedule.name.clone(),
            event,
            desired,
            transition,
            reason,
            complete: transition.is_some() && complete,
        },
    }
}

/// The state to store after a tick whose final plan made `decision` (and sent `warned`).
pub fn next_state(
    old: &ScheduleState,
    decision: &Decision,
    warned: Option<EventKey>,
) -> ScheduleState {
    let mut next = old.clone();
    if let Some(w) = warned {
        next.warned = Some(w);
    }
    if decision.complete {
        match decision.reason {
            Reason::ForceStart | Reason::ForceStop => {
                next.forced = decision.transition.map(|action| Forced {
                    action,
                    event: decision.event,
                });
                next.applied = decision.event.or(next.applied);
            }
            Reason::Boundary | Reason::Enforced => {
                next.applied = decision.event.or(next.applied);
            }
            _ => {}
        }
    }
    // A force that a newer event superseded is forgotten.
    if next.forced.is_some_and(|f| f.event != decision.event) {
        next.forced = None;
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{validate, Defaults, RawConfig};

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
        let state = next_state(&ScheduleState::default(), &done.schedules[0], None);
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
}
