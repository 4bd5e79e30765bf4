//! The invariants checked after a tick: one-shot flags consumed, exactly one warning per stop
//! event once the webhook was up, and convergence once the faults have cleared.

use std::collections::{BTreeSet, HashSet};

use offhours::core::config::Action;
use offhours::core::plan::{Decision, Reason, Report};
use serde_json::Value;

use super::cloud::World;
use super::fleet::SimResource;
use super::Sim;

impl Sim {
    /// After a tick that finished and kept its lease.
    pub(super) fn check_tick(&mut self, report: &Report, webhook_up: bool) {
        let forced = report
            .schedules
            .iter()
            .any(|d| matches!(d.reason, Reason::ForceStart | Reason::ForceStop));
        let raw = if forced || !self.both.is_empty() {
            self.store.snapshot().unwrap_or_default()
        } else {
            Default::default()
        };
        let flag = |schedule: &str, field: &str| {
            raw.schedules.iter().any(|s| {
                s.get("ScheduleName").and_then(Value::as_str) == Some(schedule)
                    && s.get(field) == Some(&Value::Bool(true))
            })
        };
        let mut broken = Vec::new();
        for d in &report.schedules {
            let field = match d.reason {
                Reason::ForceStart => "ForceStart",
                Reason::ForceStop => "ForceStop",
                _ => continue,
            };
            if flag(&d.schedule, field) {
                broken.push(format!(
                    "{field} of {} survived the tick that acted on it",
                    d.schedule
                ));
            }
        }
        // A chat start/stop holds until the schedule's next boundary, whatever crashed.
        for d in &report.schedules {
            let (Some(event), Some((at, action))) = (d.event, self.last_force.get(&d.schedule))
            else {
                continue;
            };
            if event.at < *at && d.desired != Some(*action) {
                broken.push(format!(
                    "chat {action} of {} at {at} was lost before the next boundary (desired {:?}, reason {:?})",
                    d.schedule, d.desired, d.reason
                ));
            }
        }
        for name in std::mem::take(&mut self.both) {
            if flag(&name, "ForceStart") || flag(&name, "ForceStop") {
                broken.push(format!("both flags set by hand on {name} survived a tick"));
            }
            if report.schedules.iter().any(|d| {
                d.schedule == name && matches!(d.reason, Reason::ForceStart | Reason::ForceStop)
            }) {
                broken.push(format!("{name} acted on one of two conflicting flags"));
            }
        }
        if webhook_up {
            let hook = self.hook.lock();
            for n in &report.notices {
                self.stats.warnings_checked += 1;
                let key = (n.schedule.clone(), n.event.at.timestamp());
                let sent = hook.warnings.get(&key).copied().unwrap_or(0);
                if sent != 1 {
                    broken.push(format!(
                        "the webhook was up, yet {sent} warning(s) for the stop of {} at {}",
                        n.schedule, n.event.at
                    ));
                }
            }
        }
        let mut w = self.cloud.lock();
        for b in broken {
            w.violation(b);
        }
    }

    /// After two calm ticks in a row (no storm, no tick anomaly; a region may be down):
    /// every resource is in its schedule's desired phase, except those a person changed
    /// by hand since the last event (not Enforced), those offhours gave up on, those in a
    /// region that is down, and their dependents (start) or dependencies (stop).
    pub(super) fn check_convergence(&mut self, report: &Report) {
        self.stats.convergence_checks += 1;
        let gave_up: HashSet<&str> = report
            .errors
            .iter()
            .filter_map(|p| p.key.as_deref())
            .filter_map(|k| k.strip_suffix("#gave-up"))
            .filter_map(|k| k.split_once(':').map(|(_, id)| id))
            .collect();
        let mut w = self.cloud.lock();
        let mut broken = Vec::new();
        for d in &report.schedules {
            let (Some(desired), Some(event)) = (d.desired, d.event) else {
                continue;
            };
            let enforced = self.schedules.iter().any(|(n, e)| *n == d.schedule && *e);
            let since = self
                .last_force
                .get(&d.schedule)
                .map_or(event.at, |(f, _)| (*f).max(event.at));
            let up = desired == Action::Start;
            let excused = |r: &SimResource| {
                w.weather.down.contains(&r.region)
                    || gave_up.contains(r.id.as_str())
                    || (!enforced && r.manual_at.is_some_and(|m| m > since))
            };
            let in_target = |r: &SimResource| if up { r.is_up() } else { r.is_down() };
            let blocked: BTreeSet<&str> = w
                .resources
                .iter()
                .filter(|r| r.schedule() == Some(d.schedule.as_str()))
                .filter(|r| excused(r) && (!in_target(r) || w.weather.down.contains(&r.region)))
                .filter_map(|r| r.group())
                .collect();
            let shadow = shadowed(&w, &d.schedule, &blocked, up);
            for r in w
                .resources
                .iter()
                .filter(|r| r.schedule() == Some(d.schedule.as_str()))
            {
                if excused(r) || r.group().is_some_and(|g| shadow.contains(g)) || in_target(r) {
                    continue;
                }
                let steps: Vec<String> = report
                    .steps
                    .iter()
                    .filter(|s| s.schedule == d.schedule)
                    .map(|s| {
                        format!(
                            "{}:{:?}:{:?}:{:?}",
                            s.group, s.action, s.status, s.waiting_on
                        )
                    })
                    .collect();
                broken.push(format!(
                    "{} [steps {}] [gaps in report: partial={}]",
                    describe(d, r, up),
                    steps.join(", "),
                    report.partial
                ));
            }
        }
        for b in broken {
            w.violation(b);
        }
    }
}

fn describe(d: &Decision, r: &SimResource, up: bool) -> String {
    format!(
        "faults cleared two ticks ago, yet {} of {} is {} (wanted {}, reason {:?}, transition {:?}, complete {})",
        r.id,
        d.schedule,
        r.state,
        if up { "up" } else { "stopped" },
        d.reason,
        d.transition,
        d.complete
    )
}

/// Groups that cannot reach the target because of a blocked group: for a start, the groups
/// that depend on one (transitively); for a stop, the groups one depends on.
fn shadowed<'a>(
    w: &'a World,
    schedule: &str,
    blocked: &BTreeSet<&'a str>,
    start: bool,
) -> BTreeSet<&'a str> {
    let groups: Vec<_> = w.groups.iter().filter(|g| g.schedule == schedule).collect();
    // Reached through at least one dependency edge from a blocked group (the blocked
    // group's own visible members still act).
    let mut out: BTreeSet<&str> = BTreeSet::new();
    loop {
        let before = out.len();
        for g in &groups {
            for dep in &g.deps {
                let (from, to) = if start {
                    (dep.as_str(), g.name.as_str())
                } else {
                    (g.name.as_str(), dep.as_str())
                };
                if blocked.contains(from) || out.contains(from) {
                    out.insert(to);
                }
            }
        }
        if out.len() == before {
            return out;
        }
    }
}
