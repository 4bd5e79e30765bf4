//! Auto Scaling: groups as a resource kind (the sizes a stop saves and a start restores), and the guard that leaves the groups' instances alone (the group would replace them).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Gap, Member, Resource, ScheduleState};
use crate::core::config::{Action, Problem, ResourceKind};
use crate::core::plan::{ResourceRef, Step};

/// The tag AWS puts on every instance an Auto Scaling group launches.
pub const ASG_TAG: &str = "aws:autoscaling:groupName";

/// The tag a stop writes on an Auto Scaling group: the sizes it had, which a start
/// restores, as `min=1,max=4,desired=2`.
pub const SAVED_SIZE_TAG: &str = "offhours:saved-size";

/// An Auto Scaling group's `MinSize`, `MaxSize` and `DesiredCapacity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
}

impl Sizes {
    /// Sizes worth restoring: `min <= desired <= max` and `desired` above 0 (a group
    /// restored to 0 would stay down).
    pub fn restorable(self) -> Option<Self> {
        (self.desired > 0 && self.min <= self.desired && self.desired <= self.max).then_some(self)
    }

    /// Reads `min=1,max=4,desired=2` (keys in any order and case, spaces allowed); `None`
    /// unless each key appears once with a whole number and the sizes are restorable.
    pub fn parse(text: &str) -> Option<Self> {
        let (mut min, mut max, mut desired) = (None, None, None);
        for part in text.split(',') {
            let (key, value) = part.split_once('=')?;
            let slot = match key.trim().to_ascii_lowercase().as_str() {
                "min" => &mut min,
                "max" => &mut max,
                "desired" => &mut desired,
                _ => return None,
            };
            if slot.replace(value.trim().parse::<u32>().ok()?).is_some() {
                return None;
            }
        }
        Self {
            min: min?,
            max: max?,
            desired: desired?,
        }
        .restorable()
    }

    /// The sizes a stop saves for a group that has `(min, max, desired)` now (the API's
    /// numbers): those, when the group has a desired capacity above 0; a group already at
    /// 0 keeps whatever was saved before (`None`).
    pub fn to_save(min: i64, max: i64, desired: i64) -> Option<Self> {
        let n = |v: i64| u32::try_from(v).ok();
        Self {
            min: n(min)?,
            max: n(max)?,
            desired: n(desired)?,
        }
        .restorable()
    }

    /// The sizes a group has now, if worth restoring.
    pub fn of(r: &Resource) -> Option<Self> {
        Self {
            min: r.min.unwrap_or(0),
            max: r.max.unwrap_or(0),
            desired: r.desired.unwrap_or(0),
        }
        .restorable()
    }

    /// The sizes a step carries for a group (see [`apply`]).
    pub fn of_ref(r: &ResourceRef) -> Option<Self> {
        Some(Self {
            min: r.min?,
            max: r.max?,
            desired: r.desired?,
        })
    }
}

impl fmt::Display for Sizes {
    /// The tag's value: `min=1,max=4,desired=2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "min={},max={},desired={}",
            self.min, self.max, self.desired
        )
    }
}

/// The sizes a stop saved on `r` (tag [`SAVED_SIZE_TAG`]), if the tag reads well.
pub fn saved_sizes(r: &Resource) -> Option<Sizes> {
    r.tags.get(SAVED_SIZE_TAG).and_then(Sizes::parse)
}

/// How a group stands, for people: `active, 1 of 2 instances in service (min 1, max 4)`,
/// and at 0 what a start restores from the tag.
pub fn shown_state(r: &Resource) -> String {
    let (desired, running) = (r.desired.unwrap_or(0), r.running.unwrap_or(0));
    let extra = match saved_sizes(r) {
        Some(s) if desired == 0 => format!(" (saved {s})"),
        _ => format!(" (min {}, max {})", r.min.unwrap_or(0), r.max.unwrap_or(0)),
    };
    format!(
        "{}, {running} of {desired} instances in service{extra}",
        r.state
    )
}

/// The Auto Scaling group that launched `r`, if any.
pub fn owner(r: &Resource) -> Option<&str> {
    if r.kind != ResourceKind::Ec2 {
        return None;
    }
    r.tags
        .get(ASG_TAG)
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
}

/// Auto Scaling groups offhours manages as a whole: (region, group name) -> the value of
/// their schedule tag.
pub(super) type Managed<'a> = HashMap<(Option<&'a str>, &'a str), &'a str>;

/// The Auto Scaling groups among `resources` that carry the schedule tag `schedule_key`.
pub(super) fn managed<'a>(resources: &'a [Resource], schedule_key: &str) -> Managed<'a> {
    resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Asg)
        .filter_map(|r| {
            let tag = r.tags.get(schedule_key)?;
            Some(((r.region.as_deref(), r.id.as_str()), tag))
        })
        .collect()
}

/// What to say about `r`, an instance of Auto Scaling group `group` that carries the
/// schedule tag `schedule_key`=`tag` (it is always left alone): nothing when the group
/// itself belongs to that schedule; else where the schedule tag belongs.
pub(super) fn guard(
    r: &Resource,
    group: &str,
    (schedule_key, tag): (&str, &str),
    managed: &Managed<'_>,
) -> Option<Problem> {
    let message = match managed.get(&(r.region.as_deref(), group)) {
        Some(own) if *own == tag => return None,
        Some(own) => format!(
            "resource {} ({}) belongs to Auto Scaling group '{group}', which is scheduled as a whole with {schedule_key}={own}; the instance is left alone and its own tag {schedule_key}={tag} has no effect",
            r.id, r.kind
        ),
        None => format!(
            "resource {} ({}) belongs to Auto Scaling group '{group}', which would replace it if it were stopped; it is left alone: tag the Auto Scaling group '{group}' {schedule_key}={tag} instead (in a group with InstanceType ASG)",
            r.id, r.kind
        ),
    };
    Some(Problem::new(tag, message))
}

/// Puts on every Auto Scaling group of `steps` the sizes to act with: in a start the ones
/// to restore (state table, else tag, else a single instance), in a stop the ones to save.
/// Returns the warnings: a tag that does not read, a group that starts with one instance
/// because nothing was saved.
pub(super) fn apply(
    schedule: &str,
    members: &[Member<'_>],
    steps: &mut [Step],
    state: &ScheduleState,
) -> Vec<Problem> {
    // By key (kind, account, region and id): the same name in two accounts is two resources.
    let groups: HashMap<String, &Resource> = members
        .iter()
        .filter(|(_, r, _)| r.kind == ResourceKind::Asg)
        .map(|(_, r, _)| (r.key(), *r))
        .collect();
    let mut warnings = Vec::new();
    for step in steps.iter_mut() {
        let action = step.action;
        let refs = step.resources.iter_mut();
        for rref in refs.filter(|r| r.kind == ResourceKind::Asg) {
            let Some(r) = groups.get(&rref.key()) else {
                continue;
            };
            let sizes = match action {
                Action::Stop => Sizes::of(r),
                Action::Start => Some(restore(schedule, r, state, &mut warnings)),
            };
            (rref.min, rref.max, rref.desired) = match sizes {
                Some(s) => (Some(s.min), Some(s.max), Some(s.desired)),
                None => (None, None, None),
            };
        }
    }
    warnings
}

/// The sizes a start restores: the ones the state table remembers (only the scheduler
/// writes it), else the tag written at stop (people can see, and edit, that one), else
/// one instance: desired 1, min 1, max as now (at least 1).
fn restore(
    schedule: &str,
    r: &Resource,
    state: &ScheduleState,
    warnings: &mut Vec<Problem>,
) -> Sizes {
    let remembered = state.sizes.get(&r.key()).and_then(|s| s.restorable());
    let bad_tag = r
        .tags
        .get(SAVED_SIZE_TAG)
        .filter(|v| Sizes::parse(v).is_none());
    if let (Some(s), Some(v)) = (remembered, bad_tag) {
        warnings.push(Problem::new(
            schedule,
            format!(
                "Auto Scaling group {}: its tag {SAVED_SIZE_TAG}='{v}' does not read as min=N,max=N,desired=N (desired above 0, min <= desired <= max); the sizes the state table kept ({s}) are restored",
                r.id
            ),
        ));
    }
    if let Some(s) = remembered.or_else(|| saved_sizes(r)) {
        return s;
    }
    let found = match bad_tag {
        Some(v) => format!(
            "its tag {SAVED_SIZE_TAG}='{v}' does not read as min=N,max=N,desired=N (desired above 0, min <= desired <= max)"
        ),
        None => format!("it has no tag {SAVED_SIZE_TAG}"),
    };
    let one = Sizes {
        min: 1,
        max: r.max.unwrap_or(0).max(1),
        desired: 1,
    };
    warnings.push(Problem::new(
        schedule,
        format!(
            "Auto Scaling group {} has no saved sizes ({found}, and the state table has none); it starts with one instance ({one}): set its sizes by hand if it needs more (the next stop saves them)",
            r.id
        ),
    ));
    one
}

/// The sizes the state table keeps for the schedule's Auto Scaling groups (resource key
/// -> sizes): the ones seen when the desired capacity is above 0, else the ones
/// remembered before. Groups not seen are forgotten, unless a gap may hide them.
pub(super) fn remembered(
    members: &[Member<'_>],
    state: &ScheduleState,
    gaps: &[Gap],
) -> BTreeMap<String, Sizes> {
    let mut out = if gaps.iter().any(|g| g.hides(ResourceKind::Asg)) {
        state.sizes.clone()
    } else {
        BTreeMap::new()
    };
    for (_, r, _) in members
        .iter()
        .filter(|(_, r, _)| r.kind == ResourceKind::Asg)
    {
        let key = r.key();
        if let Some(s) = Sizes::of(r).or_else(|| state.sizes.get(&key).copied()) {
            out.insert(key, s);
        }
    }
    out
}
