//! The simulated cloud behind the same `Cloud` trait as AWS: seeded API errors, throttling,
//! insufficient capacity, stuck and falling-back starts, regions that are down, crash
//! points; and, at every start or stop call, the ordering and tagging invariants.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, TimeDelta, Utc};
use offhours::core::config::ResourceKind;
use offhours::core::plan::ResourceRef;
use offhours::core::planner::{Gap, Resource};
use offhours::error::{Error, Result};
use offhours::ports::{ActionError, Cloud, Observation, Outcome};
use tokio::sync::Notify;

use super::fleet::{GroupSpec, Rng, SimResource};

/// The faults in force now.
#[derive(Debug, Clone, Default)]
pub struct Weather {
    /// API errors and throttling on 10% of calls, capacity errors, stuck and falling-back
    /// starts, and tick anomalies (crashes, late, missed, doubled, concurrent ticks).
    pub storm: bool,
    /// Regions that answer nothing.
    pub down: BTreeSet<String>,
}

/// Everything the simulated cloud knows.
pub struct World {
    pub rng: Rng,
    pub now: DateTime<Utc>,
    pub resources: Vec<SimResource>,
    pub groups: Vec<GroupSpec>,
    /// TagValues of the configured schedules.
    pub configured: BTreeSet<String>,
    pub regions: Vec<String>,
    pub weather: Weather,
    /// Cloud calls left before the running tick crashes.
    pub crash_in: Option<u32>,
    pub violations: Vec<String>,
    /// The latest events, printed with a violation.
    pub log: VecDeque<String>,
    pub starts: u64,
    pub stops: u64,
    pub injected: u64,
    /// An observation of this tick saw nothing at all (the tick may fail, as on AWS).
    pub blind: bool,
    pub observations: u64,
}

impl World {
    pub fn note(&mut self, text: String) {
        if self.log.len() == 60 {
            self.log.pop_front();
        }
        self.log
            .push_back(format!("{} {text}", self.now.format("%a %F %H:%M")));
    }

    pub fn violation(&mut self, text: String) {
        let text = format!("{}: {text}", self.now.to_rfc3339());
        self.note(format!("VIOLATION {text}"));
        self.violations.push(text);
    }

    /// Members of a group (by tags, wherever they are, whatever offhours can see).
    pub fn members<'a>(
        &'a self,
        schedule: &'a str,
        group: &'a str,
    ) -> impl Iterator<Item = &'a SimResource> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.schedule() == Some(schedule) && r.group() == Some(group))
    }

    /// Transient states settle: `observations` observations have passed (between two ticks:
    /// all of them), unless the resource is stuck.
    pub fn settle(&mut self, observations: u32) {
        let now = self.now;
        for r in &mut self.resources {
            if !matches!(r.state.as_str(), "pending" | "starting" | "stopping") {
                continue;
            }
            if r.stuck_until.is_some_and(|u| u > now) {
                continue;
            }
            r.stuck_until = None;
            r.settle_in = r.settle_in.saturating_sub(observations);
            if r.settle_in > 0 {
                continue;
            }
            r.state = match r.state.as_str() {
                "stopping" => "stopped",
                _ if r.falls_back => "stopped",
                _ => r.up_state(),
            }
            .to_string();
            if r.falls_back {
                r.reason =
                    Some("Server.InsufficientInstanceCapacity: Insufficient capacity.".into());
                r.falls_back = false;
            }
        }
    }

    /// The invariants of one start or stop offhours asks for.
    fn check_touch(&mut self, i: usize, start: bool) {
        let r = &self.resources[i];
        let (id, schedule, group) = (r.id.clone(), r.schedule(), r.group());
        let Some(schedule) = schedule.filter(|s| self.configured.contains(*s)) else {
            let text = format!(
                "{} of {id}, which has no configured schedule tag",
                verb(start)
            );
            return self.violation(text);
        };
        let Some(group) = group else { return };
        let mut broken = Vec::new();
        for spec in self.groups.iter().filter(|g| g.schedule == schedule) {
            let related = if start {
                spec.name == group && !spec.deps.is_empty()
            } else {
                spec.deps.iter().any(|d| d == group)
            };
            if !related {
                continue;
            }
            if start {
                for dep in &spec.deps {
                    for m in self.members(schedule, dep).filter(|m| !m.is_up()) {
                        broken.push(format!("dependency {} is {}", m.id, m.state));
                    }
                }
            } else {
                for m in self.members(schedule, &spec.name).filter(|m| !m.is_down()) {
                    broken.push(format!("dependent {} is {}", m.id, m.state));
                }
            }
        }
        if !broken.is_empty() {
            let text = format!("{} of {id} while {}", verb(start), broken.join(", "));
            self.violation(text);
        }
    }

    fn storm_error(&mut self, operation: &str) -> Option<ActionError> {
        if !(self.weather.storm && self.rng.chance(0.10)) {
            return None;
        }
        self.injected += 1;
        let code = *self
            .rng
            .pick(&["RequestLimitExceeded", "Throttling", "InternalError"]);
        Some(error(operation, code))
    }

    fn act(&mut self, i: usize, start: bool) -> Option<ActionError> {
        let now = self.now;
        let operation = operation(self.resources[i].kind, start);
        if self.weather.down.contains(&self.resources[i].region) {
            return Some(error(operation, "RequestTimeout"));
        }
        let storm = self.weather.storm;
        let capacity = start && storm && self.rng.chance(0.10);
        let stuck = storm && self.rng.chance(0.10);
        let falls_back = start && storm && self.rng.chance(0.10);
        let settle_in = self.rng.range(1, 3) as u32;
        let stuck_for = TimeDelta::minutes(5 * self.rng.range(6, 36) as i64);
        let r = &mut self.resources[i];
        let rds = r.kind != ResourceKind::Ec2;
        let busy = if start { "pending" } else { "stopping" };
        let busy = if rds && start { "starting" } else { busy };
        match (start, r.state.as_str()) {
            (true, "stopped") | (false, "running" | "available") => {}
            // EC2 accepts a start of a running instance and a stop of a stopped one.
            (true, "running" | "pending") | (false, "stopped" | "stopping") if !rds => return None,
            _ if rds => return Some(error(operation, "InvalidDBInstanceState")),
            _ => return Some(error(operation, "IncorrectInstanceState")),
        }
        if capacity {
            self.injected += 1;
            let code = if rds {
                "InsufficientDBInstanceCapacity"
            } else {
                "InsufficientInstanceCapacity"
            };
            return Some(error(operation, code));
        }
        r.state = busy.to_string();
        r.settle_in = settle_in;
        r.falls_back = falls_back && !rds;
        r.stuck_until = stuck.then_some(now + stuck_for);
        r.reason = None;
        None
    }

    fn call(&mut self, refs: &[ResourceRef], start: bool) -> Vec<Outcome> {
        if start {
            self.starts += refs.len() as u64;
        } else {
            self.stops += refs.len() as u64;
        }
        let kind = refs.first().map_or(ResourceKind::Ec2, |r| r.kind);
        let whole = self.storm_error(operation(kind, start));
        let mut out = Vec::new();
        for reference in refs {
            let found = self.resources.iter().position(|r| r.id == reference.id);
            let error = match found {
                None => {
                    self.violation(format!("{} of unknown {}", verb(start), reference.id));
                    Some(error(operation(kind, start), "NotFound"))
                }
                Some(_) if whole.is_some() => whole.clone(),
                Some(i) => {
                    self.check_touch(i, start);
                    let e = self.act(i, start);
                    let r = &self.resources[i];
                    let result = e.as_ref().map_or("ok".into(), |e| e.code.clone());
                    self.note(format!(
                        "{} {} -> {} ({result})",
                        verb(start),
                        r.id,
                        r.state
                    ));
                    e
                }
            };
            out.push(Outcome {
                resource: reference.clone(),
                error,
            });
        }
        out
    }

    fn observe(&mut self) -> Observation {
        self.observations += 1;
        self.settle(1);
        let mut seen = Observation::default();
        for region in self.regions.clone() {
            for (service, operation) in
                [("ec2", "DescribeInstances"), ("rds", "DescribeDBInstances")]
            {
                let code = if self.weather.down.contains(&region) {
                    Some("RequestTimeout".to_string())
                } else {
                    self.storm_error(operation).map(|e| e.code)
                };
                if let Some(code) = code {
                    seen.gaps.push(Gap {
                        account: None,
                        region: region.clone(),
                        service: service.into(),
                        operation: operation.into(),
                        code,
                        role: None,
                    });
                    continue;
                }
                // A leaky tag filter: everything comes back, tagged or not.
                for r in self.resources.iter() {
                    if r.region == region && r.service() == service {
                        seen.resources.push(Resource {
                            id: r.id.as_str().into(),
                            kind: r.kind,
                            state: r.state.as_str().into(),
                            tags: r.tags.iter().collect(),
                            account: None,
                            region: Some(region.as_str().into()),
                            engine: (r.kind != ResourceKind::Ec2).then(|| "postgres".into()),
                            reason: r.reason.as_deref().map(Box::from),
                            cluster: None,
                            hibernation: false,
                            instance_type: None,
                            desired: None,
                            running: None,
                            min: None,
                            max: None,
                            instances: None,
                        });
                    }
                }
            }
        }
        seen
    }
}

fn verb(start: bool) -> &'static str {
    if start {
        "start"
    } else {
        "stop"
    }
}

fn operation(kind: ResourceKind, start: bool) -> &'static str {
    match (kind, start) {
        (ResourceKind::Ec2, true) => "StartInstances",
        (ResourceKind::Ec2, false) => "StopInstances",
        (_, true) => "StartDBInstance",
        (_, false) => "StopDBInstance",
    }
}

fn error(operation: &str, code: &str) -> ActionError {
    ActionError {
        operation: operation.into(),
        code: code.into(),
        message: format!("simulated {code}"),
    }
}

/// The cloud offhours sees: a [`World`] behind a lock, and the crash switch.
pub struct SimCloud {
    pub world: Mutex<World>,
    /// Fired when a crash point is reached: the driver drops the tick there.
    pub crashed: Notify,
}

impl SimCloud {
    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A crash point: when armed and due, the tick never gets past this call.
    pub async fn crash_point(&self) {
        let due = {
            let mut w = self.lock();
            match w.crash_in {
                Some(0) => {
                    w.note("the tick crashes here".into());
                    true
                }
                Some(n) => {
                    w.crash_in = Some(n - 1);
                    false
                }
                None => false,
            }
        };
        if due {
            self.crashed.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

impl Cloud for SimCloud {
    async fn observe(&self) -> Result<Vec<Resource>> {
        Ok(self.observe_all().await?.resources)
    }

    /// Like AWS's: every region and service failing is an error, not an empty fleet.
    async fn observe_all(&self) -> Result<Observation> {
        self.crash_point().await;
        let mut w = self.lock();
        let seen = w.observe();
        if seen.gaps.len() == w.regions.len() * 2 {
            w.blind = true;
            return Err(Error::Aws {
                operation: "DescribeInstances",
                code: seen.gaps[0].code.clone(),
                message: "no region or service could be observed".into(),
                source: None,
            });
        }
        Ok(seen)
    }

    async fn start(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.crash_point().await;
        self.lock().call(resources, true)
    }

    async fn stop(&self, resources: &[ResourceRef]) -> Vec<Outcome> {
        self.crash_point().await;
        self.lock().call(resources, false)
    }
}
