//! Runs a tick's transitions on a `Cloud`: observe, plan, act on ready steps, re-observe while something is in progress.

use std::collections::HashSet;
use std::time::Duration;

use crate::core::config::{Action, Config, Problem};
use crate::core::plan::{Failure, Report, ResourceRef, Step, StepStatus};
use crate::core::planner::{condition_of, plan, reached, Condition, Inputs, Resource, TagKeys};
use crate::error::{Error, Result};
use crate::ports::{Cloud, Fence, Outcome};

/// How long one invocation keeps a transition going.
#[derive(Debug, Clone)]
pub struct Options {
    /// Observe and plan only: no start or stop calls.
    pub dry_run: bool,
    /// Wait budget: after it, the rest continues at the next tick. Zero means one pass.
    pub max_wait: Duration,
    /// Pause between two observations while something is in progress.
    pub poll: Duration,
    /// When the whole tick must be over (the Lambda's end, less a margin): what comes
    /// after acting (flags, chat, state, the lease) stops there, and the next tick
    /// continues from the stored state. `None`: no limit (CLI, tests).
    pub deadline: Option<tokio::time::Instant>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dry_run: false,
            max_wait: Duration::from_secs(120),
            poll: Duration::from_secs(5),
            deadline: None,
        }
    }
}

/// A resource's key (kind, account, region, id).
type Key = String;

fn key(r: &ResourceRef) -> Key {
    r.key()
}

/// Steps acted on, merged per (schedule, group, action), in the order they were acted on.
#[derive(Default)]
struct Acted {
    steps: Vec<Step>,
    attempted: HashSet<(Key, Action)>,
}

impl Acted {
    fn record(&mut self, step: &Step, outcomes: Vec<Outcome>) {
        let index = match self.steps.iter().position(|s| {
            s.schedule == step.schedule && s.group == step.group && s.action == step.action
        }) {
            Some(i) => i,
            None => {
                self.steps.push(Step {
                    status: StepStatus::Done,
                    waiting_on: Vec::new(),
                    resources: Vec::new(),
                    failures: Vec::new(),
                    ..step.clone()
                });
                self.steps.len() - 1
            }
        };
        let merged = &mut self.steps[index];
        for o in outcomes {
            self.attempted.insert((key(&o.resource), step.action));
            if let Some(e) = o.error {
                merged.failures.push(Failure {
                    id: o.resource.id.clone(),
                    account: o.resource.account.clone(),
                    region: o.resource.region.clone(),
                    message: e.message,
                    operation: e.operation,
                    code: e.code,
                });
                merged.status = StepStatus::Failed;
            }
            merged.resources.push(o.resource);
        }
    }

    /// The part of `step` not acted on yet in this invocation.
    fn remaining(&self, step: &Step) -> Vec<ResourceRef> {
        step.resources
            .iter()
            .filter(|r| !self.attempted.contains(&(key(r), step.action)))
            .cloned()
            .collect()
    }
}

/// True while waiting can change the plan: a resource of a schedule that is mid-transition
/// is in a transient state, or was acted on and has not left its old state yet.
fn in_progress(
    report: &Report,
    config: &Config,
    resources: &[Resource],
    tags: &TagKeys,
    acted: &Acted,
) -> bool {
    let moving: HashSet<&str> = report
        .schedules
        .iter()
        .filter(|d| d.transition.is_some() && !d.complete)
        .filter_map(|d| config.schedule(&d.schedule))
        .map(|s| s.tag_value.as_str())
        .collect();
    resources.iter().any(|r| {
        let Some(tag) = r.tags.get(&tags.schedule) else {
            return false;
        };
        if !moving.contains(tag) {
            return false;
        }
        let c = condition_of(r);
        let still_old = |action: Action| {
            let acted_ok = acted.attempted.contains(&(r.key(), action))
                && !acted
                    .steps
                    .iter()
                    .any(|s| s.failures.iter().any(|f| f.is_for(&r.to_ref())));
            acted_ok
                && matches!(
                    (c, action),
                    (Condition::Down, Action::Start) | (Condition::Up, Action::Stop)
                )
        };
        c == Condition::Busy || still_old(Action::Start) || still_old(Action::Stop)
    })
}

/// Runs one tick's transitions: observe, plan, perform every ready step, and repeat while
/// something is in progress and the wait budget lasts. `ctx` is the planner's input for the
/// tick; its `resources` are replaced by each observation (every pass plans at its `now`).
/// The report's acted steps are `done` or `failed`; steps still waiting are `blocked`. The decisions come from the
/// final observation. A failure holds back only its dependents (they stay blocked).
pub async fn execute(
    cloud: &impl Cloud,
    ctx: &Inputs<'_>,
    options: &Options,
    fence: &impl Fence,
) -> Result<Report> {
    let started = tokio::time::Instant::now();
    let mut acted = Acted::default();
    let mut first = true;
    // The previous pass's plan: if nothing can be observed any more, what this tick did
    // is reported with it (and the tick's bookkeeping still runs) instead of being lost.
    let mut last: Option<Report> = None;
    let mut warnings = Vec::new();
    loop {
        let elapsed = started.elapsed();
        // Every pass plans at the tick's instant: a boundary that passes while this tick
        // waits belongs to the next tick, so what this tick acted on (a force, say) is
        // never attributed to an event that came later.
        let seen = match (cloud.observe_all().await, last.take()) {
            (Ok(seen), _) => seen,
            (Err(e), Some(previous)) => return Ok(unobserved(previous, acted, ctx, &e)),
            (Err(e), None) => return Err(e),
        };
        let resources = seen.resources;
        let report = plan(&Inputs {
            resources: &resources,
            gaps: &seen.gaps,
            ..*ctx
        });
        let report = keep_warnings(report, &mut warnings);
        if options.dry_run {
            return Ok(report);
        }
        let out_of_time = elapsed >= options.max_wait;
        let todo: Vec<Step> = report
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Ready)
            .map(|s| Step {
                resources: acted.remaining(s),
                ..s.clone()
            })
            .filter(|s| !s.resources.is_empty())
            .collect();
        let act_now = !todo.is_empty() && (first || !out_of_time);
        if !act_now {
            let waiting = in_progress(&report, ctx.config, &resources, ctx.tags, &acted);
            if !waiting || out_of_time {
                return Ok(close(report, acted, ctx, &resources));
            }
            tokio::time::sleep(options.poll).await;
            last = Some(report);
            continue;
        }
        if !act(cloud, &todo, &mut acted, fence).await {
            let mut report = close(report, acted, ctx, &resources);
            report.errors.push(Problem::new("*", LEASE_LOST));
            report.lease_lost = true;
            return Ok(report);
        }
        first = false;
        last = Some(report);
        if !options.poll.is_zero() && !out_of_time {
            tokio::time::sleep(options.poll.min(Duration::from_secs(1))).await;
        }
    }
}

/// Adds `report`'s warnings to those of the tick's earlier passes, and gives it all of
/// them: a warning about what a pass did (a database stopped again) outlives the pass.
fn keep_warnings(mut report: Report, seen: &mut Vec<Problem>) -> Report {
    seen.append(&mut report.warnings);
    seen.sort();
    seen.dedup();
    report.warnings = seen.clone();
    report
}

/// The report of a tick that could observe nothing any more after an earlier pass: what it
/// did, the previous plan (its blocked steps and decisions: transitions not complete), and
/// the failure. Partial: nothing is declared done or resolved on what could not be seen.
fn unobserved(previous: Report, acted: Acted, ctx: &Inputs<'_>, error: &Error) -> Report {
    let mut report = close(previous, acted, ctx, &[]);
    report.errors.push(Problem::new(
        "*",
        format!("could not observe anything after acting ({error}); the next tick continues"),
    ));
    report.partial = true;
    report
}

/// Why a tick stopped acting before its work was done.
const LEASE_LOST: &str = "another invocation took the scheduler lease during this tick; this one stopped acting (nothing is done twice), and the next tick continues";

/// Performs `todo` in order, checking before each batch that this tick still holds the
/// lease (fencing). False when it lost it: nothing more was done.
async fn act(cloud: &impl Cloud, todo: &[Step], acted: &mut Acted, fence: &impl Fence) -> bool {
    for step in todo {
        match fence.hold().await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::error!(error = %e, "cannot confirm the lease; not acting");
                return false;
            }
        }
        tracing::info!(schedule = %step.schedule, group = %step.group, action = %step.action, resources = step.resources.len(), "acting");
        let outcomes = match step.action {
            Action::Start => cloud.start(&step.resources).await,
            Action::Stop => cloud.stop(&step.resources).await,
        };
        for (o, e) in outcomes.iter().filter_map(|o| Some((o, o.error.as_ref()?))) {
            tracing::warn!(schedule = %step.schedule, group = %step.group, action = %step.action, id = %o.resource.id, operation = %e.operation, code = %e.code, error = %e.message, "action failed");
        }
        acted.record(step, outcomes);
    }
    true
}

/// The final report of a run: acted steps, what still waits, failures as problems, and
/// what the last observation (`resources`; none when it failed) shows arrived.
fn close(mut report: Report, acted: Acted, ctx: &Inputs<'_>, resources: &[Resource]) -> Report {
    report.errors.extend(failure_problems(&acted.steps));
    report.errors.sort();
    report.steps = finish(std::mem::take(&mut report.steps), acted);
    report.reached = reached(&report, resources, ctx.states, ctx.tags);
    report.dry_run = false;
    report.at = ctx.now.with_timezone(&ctx.report_timezone).fixed_offset();
    report
}

/// One keyed problem per failed action: its identity is resource, operation and AWS error
/// code, so an alert is sent when it starts and when it clears, whatever the message says.
fn failure_problems(steps: &[Step]) -> Vec<Problem> {
    let mut out = Vec::new();
    for step in steps {
        for f in &step.failures {
            let Some(r) = step.resources.iter().find(|r| f.is_for(r)) else {
                continue;
            };
            let key = format!("{}#{}#{}", r.key(), f.operation, f.code);
            let message = format!(
                "{} of {r} failed: {} {}: {}; retried at the next tick, and groups that depend on it wait",
                step.action, f.operation, f.code, f.message
            );
            out.push(Problem::keyed(&step.schedule, key, message));
        }
    }
    out
}

/// The run's steps: what was acted on (done/failed) in order, then what still waits (blocked).
fn finish(last_plan: Vec<Step>, acted: Acted) -> Vec<Step> {
    let mut waiting = Vec::new();
    for step in last_plan {
        let resources = acted.remaining(&step);
        if resources.is_empty() {
            continue;
        }
        waiting.push(Step {
            status: StepStatus::Blocked,
            resources,
            ..step
        });
    }
    let mut steps = acted.steps;
    steps.extend(waiting);
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{validate, Defaults, RawConfig};
    use crate::ports::NoFence;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory cloud: a start or stop shows as pending/stopping for `lag`
    /// observations, then lands; ids in `fail` refuse.
    struct FakeCloud {
        resources: Mutex<Vec<Resource>>,
        fail: Vec<String>,
        calls: Mutex<Vec<String>>,
        lag: usize,
        /// id -> (observations left, final state)
        moving: Mutex<HashMap<String, (usize, String)>>,
        observations: Mutex<usize>,
    }

    impl FakeCloud {
        fn new(resources: &str, fail: &[&str]) -> Self {
            Self {
                resources: Mutex::new(
                    crate::core::inventory::parse_inventory(resources, "fake").expect("inventory"),
                ),
                fail: fail.iter().map(|s| s.to_string()).collect(),
                calls: Mutex::new(Vec::new()),
                lag: 0,
                moving: Mutex::new(HashMap::new()),
                observations: Mutex::new(0),
            }
        }

        fn act(&self, action: Action, refs: &[ResourceRef]) -> Vec<Outcome> {
            let mut resources = self.resources.lock().expect("lock");
            let mut calls = self.calls.lock().expect("lock");
            refs.iter()
                .map(|r| {
                    calls.push(format!("{action} {}", r.id));
                    let error = if self.fail.contains(&r.id) {
                        Some(crate::ports::ActionError {
                            operation: "StartInstances".into(),
                            code: "InsufficientInstanceCapacity".into(),
                            message: "Insufficient capacity.".into(),
                        })
                    } else {
                        if let Some(res) = resources.iter_mut().find(|x| x.id == r.id) {
                            let (transient, done) = match (action, res.kind) {
                                (Action::Start, crate::core::config::ResourceKind::Ec2) => {
                                    ("pending", "running")
                                }
                                (Action::Start, _) => ("starting", "available"),
                                (Action::Stop, _) => ("stopping", "stopped"),
                            };
                            if self.lag == 0 {
                                res.state = done.into();
                            } else {
                                res.state = transient.into();
                                self.moving
                                    .lock()
                                    .expect("lock")
                                    .insert(r.id.clone(), (self.lag, done.into()));
                            }
                        }
                        None
                    };
                    Outcome {
                        resource: r.clone(),
                        error,
                    }
                })
                .collect()
        }
    }

    impl Cloud for FakeCloud {
        async fn observe(&self) -> Result<Vec<Resource>> {
            *self.observations.lock().expect("lock") += 1;
            let mut resources = self.resources.lock().expect("lock");
            let mut moving = self.moving.lock().expect("lock");
            for r in resources.iter_mut() {
                if let Some((left, done)) = moving.get_mut(r.id.as_str()) {
                    if *left == 0 {
                        r.state = done.as_str().into();
                        moving.remove(r.id.as_str());
                    } else {
                        *left -= 1;
                    }
                }
            }
            Ok(resources.clone())
        }
        async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
            self.act(Action::Start, resources)
        }
        async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
            self.act(Action::Stop, resources)
        }
    }

    const CONFIG: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", Timezone: UTC}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: WEB, InstanceType: EC2, Dependency: [API]}
  - {ScheduleName: dev, GroupName: CACHE, InstanceType: EC2}
"#;

    const FLEET: &str = r#"
resources:
  - {id: db, kind: rds, state: stopped, tags: {ScheduleName: dev, ScheduleGroupName: DB}}
  - {id: i-api, kind: ec2, state: stopped, tags: {ScheduleName: dev, ScheduleGroupName: API}}
  - {id: i-web, kind: ec2, state: stopped, tags: {ScheduleName: dev, ScheduleGroupName: WEB}}
  - {id: i-cache, kind: ec2, state: stopped, tags: {ScheduleName: dev, ScheduleGroupName: CACHE}}
"#;

    async fn tick(cloud: &FakeCloud, at: &str, max_wait: u64) -> Report {
        tick_polling(cloud, at, max_wait, Duration::ZERO).await
    }

    async fn tick_polling(cloud: &FakeCloud, at: &str, max_wait: u64, poll: Duration) -> Report {
        let config = validate(
            &RawConfig::parse(CONFIG, "test").expect("config"),
            &Defaults::default(),
        );
        let states = HashMap::new();
        let tags = TagKeys::default();
        let ctx = Inputs {
            now: at.parse().expect("instant"),
            config: &config,
            resources: &[],
            gaps: &[],
            states: &states,
            tags: &tags,
            report_timezone: chrono_tz::UTC,
        };
        let options = Options {
            dry_run: false,
            max_wait: Duration::from_secs(max_wait),
            poll,
            deadline: None,
        };
        execute(cloud, &ctx, &options, &NoFence)
            .await
            .expect("tick")
    }

    fn summary(report: &Report) -> Vec<String> {
        report
            .steps
            .iter()
            .map(|s| format!("{} {} {}", s.group, s.action, s.status.as_str()))
            .collect()
    }

    #[tokio::test]
    async fn chain_completes_in_dependency_order_within_the_budget() {
        // GIVEN a stopped three-layer chain and a free group WHEN the start tick runs
        let cloud = FakeCloud::new(FLEET, &[]);
        let report = tick(&cloud, "2026-11-23T09:01:00Z", 60).await;
        // THEN the first layer (CACHE, DB by name), then API, then WEB start; nothing waits
        assert_eq!(
            summary(&report),
            [
                "CACHE start done",
                "DB start done",
                "API start done",
                "WEB start done"
            ]
        );
        assert!(report.schedules[0].complete);
        assert!(!report.dry_run);
        // AND the last observation saw all four arrive
        let reached: Vec<&str> = report
            .reached
            .iter()
            .map(|r| r.resource.id.as_str())
            .collect();
        assert_eq!(reached, ["i-cache", "db", "i-api", "i-web"]);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_states_are_waited_for_and_never_hit_again() {
        // GIVEN resources that take three observations to start
        let mut cloud = FakeCloud::new(FLEET, &[]);
        cloud.lag = 3;
        // WHEN a tick with a 60 s budget, polling every 5 s, runs
        let report = tick_polling(&cloud, "2026-11-23T09:01:00Z", 60, Duration::from_secs(5)).await;
        // THEN the chain still completes in order, each resource started exactly once
        assert_eq!(
            summary(&report),
            [
                "CACHE start done",
                "DB start done",
                "API start done",
                "WEB start done"
            ]
        );
        assert!(report.schedules[0].complete);
        let calls = cloud.calls.lock().expect("lock").clone();
        assert_eq!(calls.len(), 4, "{calls:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_budget_bounds_the_tick() {
        // GIVEN resources that stay pending for a long time
        let mut cloud = FakeCloud::new(FLEET, &[]);
        cloud.lag = 1000;
        // WHEN a tick with a 20 s budget, polling every 5 s, runs
        let started = tokio::time::Instant::now();
        let report = tick_polling(&cloud, "2026-11-23T09:01:00Z", 20, Duration::from_secs(5)).await;
        // THEN it gives up after the budget with the dependents blocked
        assert!(started.elapsed() <= Duration::from_secs(30));
        assert_eq!(
            summary(&report),
            [
                "CACHE start done",
                "DB start done",
                "API start blocked",
                "WEB start blocked"
            ]
        );
        assert_eq!(report.steps[2].waiting_on, ["DB"]);
        assert!(*cloud.observations.lock().expect("lock") <= 7);
    }

    #[tokio::test]
    async fn zero_budget_acts_once_and_reports_the_rest_blocked() {
        let cloud = FakeCloud::new(FLEET, &[]);
        let report = tick(&cloud, "2026-11-23T09:01:00Z", 0).await;
        assert_eq!(
            summary(&report),
            [
                "CACHE start done",
                "DB start done",
                "API start blocked",
                "WEB start blocked"
            ]
        );
        assert_eq!(report.steps[3].waiting_on, ["API"]);
        assert!(!report.schedules[0].complete);
        assert_eq!(report.reached.len(), 2, "{:?}", report.reached);
    }

    #[tokio::test]
    async fn failure_holds_back_only_its_dependents() {
        let cloud = FakeCloud::new(FLEET, &["i-api"]);
        let report = tick(&cloud, "2026-11-23T09:01:00Z", 60).await;
        assert_eq!(
            summary(&report),
            [
                "CACHE start done",
                "DB start done",
                "API start failed",
                "WEB start blocked"
            ]
        );
        assert_eq!(report.steps[2].failures[0].id, "i-api");
        assert_eq!(report.steps[3].waiting_on, ["API"]);
        // A failed start never counts as arrived.
        assert!(report.reached.iter().all(|r| r.resource.id != "i-api"));
        // The failed instance was tried once, not hammered.
        let calls = cloud.calls.lock().expect("lock").clone();
        assert_eq!(calls.iter().filter(|c| *c == "start i-api").count(), 1);
    }

    #[tokio::test]
    async fn stop_runs_in_reverse_order() {
        let running = FLEET
            .replace("state: stopped", "state: running")
            .replace("kind: rds, state: running", "kind: rds, state: available");
        let cloud = FakeCloud::new(&running, &[]);
        let report = tick(&cloud, "2026-11-23T18:01:00Z", 60).await;
        assert_eq!(
            summary(&report),
            [
                "WEB stop done",
                "CACHE stop done",
                "API stop done",
                "DB stop done"
            ]
        );
    }

    #[tokio::test]
    async fn dry_run_makes_no_calls() {
        let cloud = FakeCloud::new(FLEET, &[]);
        let config = validate(
            &RawConfig::parse(CONFIG, "test").expect("config"),
            &Defaults::default(),
        );
        let states = HashMap::new();
        let tags = TagKeys::default();
        let ctx = Inputs {
            now: "2026-11-23T09:01:00Z".parse().expect("instant"),
            config: &config,
            resources: &[],
            gaps: &[],
            states: &states,
            tags: &tags,
            report_timezone: chrono_tz::UTC,
        };
        let options = Options {
            dry_run: true,
            ..Options::default()
        };
        let report = execute(&cloud, &ctx, &options, &NoFence)
            .await
            .expect("plan");
        assert!(report.dry_run);
        assert_eq!(report.steps[0].status, StepStatus::Ready);
        assert!(cloud.calls.lock().expect("lock").is_empty());
    }
}
