//! Configuration items (Schedule, ServerGroup, Exception) of SPEC section 1: raw items in, validated schedules out.

use std::fmt;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::core::document::{self, Syntax};
use crate::error::Result;

/// The three item lists of a config file or of the three tables, before validation
/// (deserialized by the reader in [`read`], the one the validator is fed by too).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct RawConfig {
    pub schedules: Vec<Item>,
    pub groups: Vec<Item>,
    pub exceptions: Vec<Item>,
}

impl RawConfig {
    /// Parses a YAML or JSON document (`schedules:`, `groups:`, `exceptions:`), JSON when it
    /// starts with `{` or `[`.
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        Self::parse_as(text, what, None)
    }

    /// Parses a document whose syntax is known (from its file name), or told by its first
    /// byte when `syntax` is `None`. An empty document has no items.
    pub fn parse_as(text: &str, what: &str, syntax: Option<Syntax>) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        document::parse_seed(text, what, syntax, || read::Fill(RawConfig::default()))
    }
}

impl Config {
    /// Parses and validates a YAML or JSON document (as [`RawConfig::parse_as`]) item by
    /// item: the raw items are never all in memory, and the result is the same as
    /// validating the parsed document.
    pub fn parse_as(
        text: &str,
        what: &str,
        syntax: Option<Syntax>,
        defaults: &Defaults,
    ) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(validate(&RawConfig::default(), defaults));
        }
        document::parse_seed(text, what, syntax, || read::Fill(Validator::new(defaults)))
            .map(Validator::finish)
    }
}

/// Settings that come from the environment when an item leaves them out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub timezone: Tz,
    pub warn_minutes: u32,
    /// Env `TICK_MINUTES`: how often the scheduler runs, when known. A schedule whose
    /// WarnMinutes is shorter can miss its warning, and validation says so.
    pub tick_minutes: Option<u32>,
    /// Env `MAX_ATTEMPTS`: accepted starts per resource and event before offhours gives up
    /// on a resource that keeps falling back to stopped.
    pub max_attempts: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            timezone: chrono_tz::Asia::Seoul,
            warn_minutes: 10,
            tick_minutes: None,
            max_attempts: 3,
        }
    }
}

/// What kind of AWS resource a group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceKind {
    Ec2,
    Rds,
    Aurora,
    /// ECS services: stop saves `desiredCount` and sets it to 0, start restores it.
    Ecs,
    /// Auto Scaling groups: stop saves MinSize, MaxSize and DesiredCapacity and sets all
    /// three to 0, start restores them.
    Asg,
}

impl ResourceKind {
    /// Parses `EC2`, `RDS`, `AURORA`, `ECS`, `ASG` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ec2" => Some(Self::Ec2),
            "rds" => Some(Self::Rds),
            "aurora" => Some(Self::Aurora),
            "ecs" => Some(Self::Ecs),
            "asg" => Some(Self::Asg),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ec2 => "ec2",
            Self::Rds => "rds",
            Self::Aurora => "aurora",
            Self::Ecs => "ecs",
            Self::Asg => "asg",
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which boundary an event or exception is about: a start or a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Start,
    Stop,
}

impl Action {
    /// The Schedule field that forces this action now (`ForceStart` / `ForceStop`).
    pub const fn force_field(self) -> &'static str {
        match self {
            Action::Start => "ForceStart",
            Action::Stop => "ForceStop",
        }
    }

    /// The other action.
    pub fn opposite(self) -> Action {
        match self {
            Action::Start => Action::Stop,
            Action::Stop => Action::Start,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of weekdays (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days(u8);

impl Days {
    pub const ALL: Days = Days(0b111_1111);
    pub const WEEKDAYS: Days = Days(0b001_1111);
    pub const WEEKENDS: Days = Days(0b110_0000);

    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Parses `all`, `weekdays`, `weekends`, or a comma list of day names and ranges
    /// (`mon,wed,fri`, `mon-thu,sat`, `fri-mon`); case-insensitive, 3-letter or full names.
    pub fn parse(text: &str) -> std::result::Result<Days, String> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "" => return Err("is empty".into()),
            "all" | "daily" | "everyday" => return Ok(Days::ALL),
            "weekdays" => return Ok(Days::WEEKDAYS),
            "weekends" => return Ok(Days::WEEKENDS),
            _ => {}
        }
        let mut bits = 0u8;
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(format!("'{text}' has an empty entry"));
            }
            let (from, to) = match part.split_once('-') {
                Some((a, b)) => (day_from_name(a.trim()), day_from_name(b.trim())),
                None => (day_from_name(part), day_from_name(part)),
            };
            let (Some(from), Some(to)) = (from, to) else {
                return Err(format!(
                    "'{part}' is not a day or day range (use mon..sun, e.g. mon-fri,sat)"
                ));
            };
            let mut d = from;
            loop {
                bits |= 1 << d.num_days_from_monday();
                if d == to {
                    break;
                }
                d = d.succ();
            }
        }
        Ok(Days(bits))
    }
}

pub(crate) fn day_from_name(name: &str) -> Option<Weekday> {
    Some(match name {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tues" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// A local time as `HH:MM`, the shape items, reports and chat use.
pub fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// Parses `HH:MM` or `H:MM` (24 h). `None`, empty and absent mean no time.
pub fn parse_time(text: &str) -> std::result::Result<Option<NaiveTime>, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let bad = || format!("'{t}' is not a time (HH:MM, 24 h, or None)");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(h, m, 0).map(Some).ok_or_else(bad)
}

/// A dependency group inside a schedule, with its place in the dependency graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub kind: ResourceKind,
    /// Field `Hibernate`: its EC2 instances that are configured for hibernation hibernate
    /// instead of stopping (the others stop normally, with a warning).
    pub hibernate: bool,
    /// Indices (into `Schedule::groups`) of the groups that must be up before this one starts.
    pub depends_on: Vec<usize>,
    /// Indices of the groups that depend on this one (must be down before this one stops).
    pub dependents: Vec<usize>,
}

/// One exception row: moves or cancels a boundary on a local date.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub uuid: String,
    /// A schedule name, or `*` for every schedule.
    pub schedule: String,
    pub date: NaiveDate,
    pub action: Action,
    /// `None` cancels the boundary on that date; a time moves (or adds) it.
    pub time: Option<NaiveTime>,
}

/// A validated schedule, with its groups in start order and the exceptions that apply to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub name: String,
    pub tag_value: String,
    pub days: Days,
    pub enabled: bool,
    pub start: Option<NaiveTime>,
    pub stop: Option<NaiveTime>,
    pub force_start: bool,
    pub force_stop: bool,
    /// ForceStart and ForceStop were both true: neither acts, and the tick clears both.
    pub force_conflict: bool,
    pub timezone: Tz,
    pub enforced: bool,
    pub warn_minutes: u32,
    pub webhook_url: Option<String>,
    /// Field `Digest`: when the weekly digest is due (`None`: no digest).
    pub digest: Option<DigestAt>,
    /// Accepted starts per resource and event before giving up (env `MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Groups in start order (topological, then by name); stop order is the reverse.
    pub groups: Vec<Group>,
    /// Exceptions for this schedule and for `*`; the schedule's own win per date and type.
    pub exceptions: Vec<Exception>,
}

impl Schedule {
    /// True when the window ends on the next day (StopTime earlier than StartTime).
    pub fn overnight(&self) -> bool {
        matches!((self.start, self.stop), (Some(a), Some(b)) if b < a)
    }

    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }
}

/// A problem found in the configuration, attributed to a schedule (`*` for global items).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    pub schedule: String,
    pub message: String,
    /// Identity of a resource-level failure (`ec2:i-1#StartInstances#InsufficientInstanceCapacity`):
    /// alerts are sent when a key appears and when it clears, never per message text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Problem {
    /// A problem identified by its text (configuration errors: the text is stable).
    pub fn new(schedule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            schedule: schedule.into(),
            message: message.into(),
            key: None,
        }
    }

    /// A resource-level problem identified by `key`, whatever its text says.
    pub fn keyed(
        schedule: impl Into<String>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            schedule: schedule.into(),
            message: message.into(),
            key: Some(key.into()),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.schedule, self.message)
    }
}

/// The validated configuration: good schedules, plus every problem and warning found.
/// A schedule with an error is left out of `schedules`; all others are kept.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub schedules: Vec<Schedule>,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Config {
    pub fn schedule(&self, name: &str) -> Option<&Schedule> {
        self.schedules.iter().find(|s| s.name == name)
    }
}

mod digest_at;
mod fields;
mod groups;
mod item;
pub mod read;
mod validate;

pub use digest_at::DigestAt;
pub use item::Item;

pub use validate::{validate, Validator};

#[cfg(test)]
mod tests;
