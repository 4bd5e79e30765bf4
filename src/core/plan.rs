//! The plan/report value (steps, notices, errors, per-schedule decisions): `Serialize` for JSON, `Display` for people.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::core::config::{Action, Problem, ResourceKind};
use crate::core::metrics::Tally;
use crate::core::schedule::EventKey;

/// A resource named in a step or notice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    pub id: String,
    pub kind: ResourceKind,
    /// The AWS account it lives in, when offhours manages several (env `ACCOUNTS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// EC2 Name tag, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RDS/Aurora engine, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// In a stop step: the instance hibernates (a `Hibernate` group, and it is configured
    /// for hibernation) instead of stopping.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hibernate: bool,
    /// For an ECS service: the `desiredCount` a start restores, or the one a stop saves
    /// (in the tag `offhours:desired-count`) before it sets 0. For an Auto Scaling group:
    /// the `DesiredCapacity` a start restores or a stop saves (with `min` and `max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<u32>,
    /// For an Auto Scaling group: the `MinSize` and `MaxSize` a start restores, or the ones
    /// a stop saves (in the tag `offhours:saved-size`) before it sets all three to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

impl ResourceRef {
    /// The key its bookkeeping is stored under (`ec2:i-0a1`; with an account,
    /// `rds:111122223333/eu-west-1:db-1`).
    pub fn key(&self) -> String {
        resource_key(
            self.kind,
            self.account.as_deref(),
            self.region.as_deref(),
            &self.id,
        )
    }
}

/// The key a resource's bookkeeping is stored under: `kind:id` in the function's own
/// account (as before accounts existed), `kind:account/region:id` in another one (RDS
/// and ECS names are unique only within an account and region).
pub fn resource_key(
    kind: ResourceKind,
    account: Option<&str>,
    region: Option<&str>,
    id: &str,
) -> String {
    match account {
        Some(account) => format!("{kind}:{account}/{}:{id}", region.unwrap_or("")),
        None => format!("{kind}:{id}"),
    }
}

impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hibernate = match (self.hibernate, self.desired, self.min, self.max) {
            (true, ..) => ", hibernate".to_string(),
            (false, Some(n), Some(min), Some(max)) => {
                format!(", min {min}, max {max}, desired {n}")
            }
            (false, Some(1), ..) => ", 1 task".to_string(),
            (false, Some(n), ..) => format!(", {n} tasks"),
            (false, None, ..) => String::new(),
        };
        // Where it lives, when offhours manages several accounts.
        let place = match (&self.account, &self.region) {
            (Some(account), Some(region)) => format!(", {account} {region}"),
            (Some(account), None) => format!(", {account}"),
            (None, _) => String::new(),
        };
        let mode = format!("{hibernate}{place}");
        match (&self.name, &self.engine) {
            (Some(name), _) => write!(f, "{name} ({}, {}{mode})", self.id, self.kind),
            (None, Some(engine)) => write!(f, "{} ({}, {engine}{mode})", self.id, self.kind),
            (None, None) => write!(f, "{} ({}{mode})", self.id, self.kind),
        }
    }
}

/// Where a step stands: `ready`/`blocked` in a plan; `done`/`failed`/`blocked` after a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Ready,
    Blocked,
    Done,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Blocked => "blocked",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// A failed action on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub id: String,
    /// The resource's account and region, when it names them (the same name in two
    /// accounts or regions is two resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub message: String,
    /// The API operation that failed (`StartInstances`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation: String,
    /// AWS's error code (`InsufficientInstanceCapacity`), or the kind of transport failure.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub code: String,
}

impl Failure {
    /// Whether this failure is the one of resource `r` (same id, account and region).
    pub fn is_for(&self, r: &ResourceRef) -> bool {
        self.id == r.id && self.account == r.account && self.region == r.region
    }
}

/// Start or stop the resources of one group of one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub schedule: String,
    /// Group name; `""` for resources with no group tag.
    pub group: String,
    pub action: Action,
    pub status: StepStatus,
    /// Groups this step waits for (blocked steps only).
    pub waiting_on: Vec<String>,
    pub resources: Vec<ResourceRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<Failure>,
}

impl Step {
    /// Whether it was acted on (its calls made: `done` or `failed`).
    pub fn acted(&self) -> bool {
        matches!(self.status, StepStatus::Done | StepStatus::Failed)
    }

    /// Its resources whose start or stop AWS accepted: none unless it was acted on.
    pub fn accepted(&self) -> impl Iterator<Item = &ResourceRef> {
        let acted = self.acted();
        self.resources
            .iter()
            .filter(move |r| acted && !self.failures.iter().any(|f| f.is_for(r)))
    }
}

/// What kind of notice this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    PreStopWarning,
}

/// A message for people, e.g. the warning before a stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub schedule: String,
    pub kind: NoticeKind,
    /// The stop instant, in the schedule's timezone.
    pub stop_at: DateTime<FixedOffset>,
    pub resources: Vec<ResourceRef>,
    /// The schedule's IANA timezone.
    pub timezone: String,
    /// Whole minutes left until the stop (rounded up).
    pub minutes_left: i64,
    /// The stop event, for de-duplication across ticks.
    pub event: EventKey,
    /// The first start after this stop, in the schedule's timezone (for the skip hint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_start: Option<DateTime<FixedOffset>>,
    /// The group of each of `resources`, in the same order (`""`: ungrouped), for the
    /// action events; empty in notices built by hand.
    #[serde(skip)]
    pub groups: Vec<String>,
}

/// A resource that an acted-on step (this tick's) or a transition in progress (an
/// earlier tick's) brought to the step's target state: `running`/`available` after a
/// start, `stopped` after a stop, as this tick's last observation saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reached {
    pub schedule: String,
    /// Group name; `""` for resources with no group tag.
    pub group: String,
    pub action: Action,
    pub resource: ResourceRef,
}

/// A resource that a skip-until tag holds out of scheduling: offhours neither starts nor
/// stops it until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub schedule: String,
    /// Group name; `""` for resources with no group tag.
    pub group: String,
    pub resource: ResourceRef,
    /// When scheduling resumes (for a date: the end of that day), in the schedule's timezone.
    pub until: DateTime<FixedOffset>,
    /// The tag's value as written.
    pub skip_until: String,
}

/// Why a schedule does (or does not) transition this tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A boundary event newer than the last one applied.
    Boundary,
    /// Enforced: every tick drives to the desired state.
    Enforced,
    ForceStart,
    ForceStop,
    /// The last event was applied; manual changes are respected.
    Applied,
    /// A ForceStart/ForceStop holds until the next boundary.
    Forced,
    Disabled,
    /// No event in the last eight days: no opinion.
    NoEvent,
    /// The skip-until date that held part of the applied transition back has passed: the
    /// schedule's phase is applied again, as at a boundary.
    SkipEnded,
}

/// What the planner decided for one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub schedule: String,
    /// The latest boundary event at or before `at`.
    pub event: Option<EventKey>,
    /// The phase the schedule wants (`start` = running, `stop` = stopped).
    pub desired: Option<Action>,
    /// The transition this tick drives, if any.
    pub transition: Option<Action>,
    pub reason: Reason,
    /// Every resource of the schedule is in the transition's target state.
    pub complete: bool,
    /// Resources seen in a transient or unknown state (resource key, state), so the
    /// state table can tell how long they have been there.
    #[serde(skip)]
    pub busy: Vec<(String, String)>,
    /// Where each group's members are, as far as this tick knows (the state table keeps it).
    #[serde(skip)]
    pub homes: BTreeMap<String, BTreeSet<String>>,
    /// The earliest end of a skip that kept a resource out of this transition's target
    /// phase (the state table keeps it, to apply the phase again then).
    #[serde(skip)]
    pub skip_ends: Option<DateTime<Utc>>,
    /// Databases offhours stopped and that are still down (resource key -> when it
    /// stopped them), for RDS's automatic start after seven days.
    #[serde(skip)]
    pub stopped: BTreeMap<String, DateTime<Utc>>,
    /// ECS services' desired counts to remember (resource key -> count above 0).
    #[serde(skip)]
    pub counts: BTreeMap<String, u32>,
    /// Auto Scaling groups' sizes to remember (resource key -> sizes, desired above 0).
    #[serde(skip)]
    pub sizes: BTreeMap<String, crate::core::planner::Sizes>,
    /// The schedule's resources at the end of planning: managed, running, stopped (metrics).
    #[serde(skip)]
    pub tally: Tally,
}

/// The result of planning (or running) one tick: the stable JSON of SPEC section 5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub at: DateTime<FixedOffset>,
    pub steps: Vec<Step>,
    pub notices: Vec<Notice>,
    pub errors: Vec<Problem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Problem>,
    /// Resources a skip-until tag holds out of scheduling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    #[serde(default)]
    pub schedules: Vec<Decision>,
    /// True for `run --dry-run` and for `plan`: nothing was changed.
    #[serde(default)]
    pub dry_run: bool,
    /// Some region or service could not be observed: the report covers the rest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Another invocation took the lease during this tick, which then stopped acting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lease_lost: bool,
    /// After a run: resources that reached their step's target state (see [`Reached`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reached: Vec<Reached>,
}

fn list(resources: &[ResourceRef]) -> String {
    resources
        .iter()
        .map(ResourceRef::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "offhours{} at {}",
            if self.dry_run { " (dry run)" } else { "" },
            self.at.format("%Y-%m-%d %H:%M %:z")
        )?;
        if self.steps.is_empty() {
            writeln!(
                f,
                "\nNo steps: every scheduled resource is where it should be."
            )?;
        } else {
            write_steps(f, &self.steps)?;
            for s in &self.steps {
                for fail in &s.failures {
                    writeln!(
                        f,
                        "  failed: {} {} {}: {}",
                        s.schedule, s.action, fail.id, fail.message
                    )?;
                }
            }
        }
        if !self.notices.is_empty() {
            writeln!(f, "\nNotices:")?;
            for n in &self.notices {
                writeln!(
                    f,
                    "  {}: stop at {} ({}, in {} min): {}",
                    n.schedule,
                    n.stop_at.format("%Y-%m-%d %H:%M"),
                    n.timezone,
                    n.minutes_left,
                    list(&n.resources)
                )?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(
                f,
                "\nSkipped (a skip-until tag: neither started nor stopped):"
            )?;
            for s in &self.skipped {
                writeln!(
                    f,
                    "  {}: {} until {}",
                    s.schedule,
                    s.resource,
                    s.until.format("%Y-%m-%d %H:%M %:z")
                )?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f, "\nErrors:")?;
            for e in &self.errors {
                writeln!(f, "  {e}")?;
            }
        }
        if !self.warnings.is_empty() {
            writeln!(f, "\nWarnings:")?;
            for w in &self.warnings {
                writeln!(f, "  {w}")?;
            }
        }
        Ok(())
    }
}

/// The steps as an aligned table: #, schedule, group, action, status, waiting on, resources.
fn write_steps(f: &mut fmt::Formatter<'_>, steps: &[Step]) -> fmt::Result {
    let rows: Vec<[String; 7]> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            [
                format!("{}", i + 1),
                s.schedule.clone(),
                if s.group.is_empty() {
                    "(ungrouped)".into()
                } else {
                    s.group.clone()
                },
                s.action.to_string(),
                s.status.as_str().to_string(),
                s.waiting_on.join(", "),
                list(&s.resources),
            ]
        })
        .collect();
    let header = [
        "#",
        "SCHEDULE",
        "GROUP",
        "ACTION",
        "STATUS",
        "WAITING ON",
        "RESOURCES",
    ];
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    writeln!(f)?;
    let line = |f: &mut fmt::Formatter<'_>, cells: [&str; 7]| -> fmt::Result {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        writeln!(f, "{}", out.trim_end())
    };
    line(f, header)?;
    for r in &rows {
        line(f, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_of_another_account_names_its_account_and_region() {
        let mut r = ResourceRef {
            id: "db-1".into(),
            kind: ResourceKind::Rds,
            account: None,
            region: Some("eu-west-1".into()),
            name: None,
            engine: Some("postgres".into()),
            hibernate: false,
            desired: None,
            min: None,
            max: None,
        };
        // The own account (or a deployment of one account): as before accounts existed.
        assert_eq!(r.to_string(), "db-1 (rds, postgres)");
        assert_eq!(r.key(), "rds:db-1");
        r.account = Some("111122223333".into());
        assert_eq!(
            r.to_string(),
            "db-1 (rds, postgres, 111122223333 eu-west-1)"
        );
        // The same name in another account or region is another resource.
        assert_eq!(r.key(), "rds:111122223333/eu-west-1:db-1");
        r.region = Some("us-east-1".into());
        assert_ne!(r.key(), "rds:111122223333/eu-west-1:db-1");
        // A failure is the one of the resource with the same id, account and region.
        let failure = |account: Option<&str>| Failure {
            id: "db-1".into(),
            account: account.map(String::from),
            region: Some("us-east-1".into()),
            message: "no".into(),
            operation: "StopDBInstance".into(),
            code: "InvalidDBInstanceState".into(),
        };
        assert!(failure(Some("111122223333")).is_for(&r));
        assert!(!failure(Some("444455556666")).is_for(&r));
        assert!(!failure(None).is_for(&r));
    }
}
