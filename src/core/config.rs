//! Configuration items (Schedule, ServerGroup, Exception) of SPEC section 1: raw items in, validated schedules out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;
use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// One item as users write it (DynamoDB console, YAML, JSON): field name -> value.
pub type Item = serde_json::Map<String, Value>;

/// The three item lists of a config file or of the three tables, before validation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RawConfig {
    #[serde(default)]
    pub schedules: Vec<Item>,
    #[serde(default)]
    pub groups: Vec<Item>,
    #[serde(default)]
    pub exceptions: Vec<Item>,
}

impl RawConfig {
    /// Parses a YAML or JSON document (`schedules:`, `groups:`, `exceptions:`).
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let raw: Option<RawConfig> = serde_norway::from_str(text).map_err(|e| Error::Parse {
            what: what.to_string(),
            source: Box::new(e),
        })?;
        Ok(raw.unwrap_or_default())
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
}

impl ResourceKind {
    /// Parses `EC2`, `RDS`, `AURORA` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ec2" => Some(Self::Ec2),
            "rds" => Some(Self::Rds),
            "aurora" => Some(Self::Aurora),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ec2 => "ec2",
            Self::Rds => "rds",
            Self::Aurora => "aurora",
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
    pub fn force_field(self) -> &'static str {
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

fn day_from_name(name: &str) -> Option<Weekday> {
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

const SCHEDULE_FIELDS: &[&str] = &[
    "ScheduleName",
    "TagValue",
    "DaysActive",
    "Enabled",
    "StartTime",
    "StopTime",
    "ForceStart",
    "ForceStop",
    "Timezone",
    "Enforced",
    "WarnMinutes",
    "WebhookUrl",
];
const GROUP_FIELDS: &[&str] = &["ScheduleName", "GroupName", "InstanceType", "Dependency"];
const EXCEPTION_FIELDS: &[&str] = &[
    "ExceptionUuid",
    "ScheduleName",
    "ExceptionDate",
    "ExceptionType",
    "ExceptionValue",
];

/// Reads typed fields out of one item, collecting every problem with the item's name.
struct Fields<'a> {
    item: &'a Item,
    label: String,
    errors: Vec<String>,
}

impl<'a> Fields<'a> {
    fn new(item: &'a Item, label: String) -> Self {
        Self {
            item,
            label,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, field: &str, message: impl fmt::Display) {
        self.errors
            .push(Error::invalid(&self.label, field, message.to_string()).to_string());
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.item.get(field).filter(|v| !v.is_null())
    }

    fn string(&mut self, field: &str) -> Option<String> {
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.fail(field, format!("expected a string, got {}", kind_of(other)));
                None
            }
        }
    }

    fn required(&mut self, field: &str) -> Option<String> {
        match self.string(field) {
            Some(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(_) => {
                self.fail(field, "is empty");
                None
            }
            None => {
                if self.get(field).is_none() {
                    self.fail(field, "is required");
                }
                None
            }
        }
    }

    fn boolean(&mut self, field: &str, default: bool) -> bool {
        match self.get(field) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" | "" => false,
                _ => {
                    self.fail(field, format!("'{s}' is not true or false"));
                    default
                }
            },
            Some(Value::Number(n)) => n.as_f64().is_some_and(|v| v != 0.0),
            Some(other) => {
                self.fail(
                    field,
                    format!("expected true or false, got {}", kind_of(other)),
                );
                default
            }
        }
    }

    fn minutes(&mut self, field: &str, default: u32) -> u32 {
        let parsed = match self.get(field) {
            None => return default,
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) if s.trim().is_empty() => return default,
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match parsed
            .and_then(|v| u32::try_from(v).ok())
            .filter(|v| *v <= 7 * 24 * 60)
        {
            Some(v) => v,
            None => {
                let shown = self.get(field).map(Value::to_string).unwrap_or_default();
                self.fail(
                    field,
                    format!("{shown} is not a whole number of minutes from 0 to 10080"),
                );
                default
            }
        }
    }

    fn time(&mut self, field: &str) -> Option<NaiveTime> {
        let text = self.string(field)?;
        match parse_time(&text) {
            Ok(t) => t,
            Err(e) => {
                self.fail(field, e);
                None
            }
        }
    }

    fn string_list(&mut self, field: &str) -> Vec<String> {
        match self.get(field) {
            None => Vec::new(),
            Some(Value::String(s)) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for v in items {
                    match v {
                        Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                        other => self.fail(
                            field,
                            format!("list entries must be group names, got {other}"),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                self.fail(
                    field,
                    format!("expected a list of group names, got {}", kind_of(other)),
                );
                Vec::new()
            }
        }
    }

    fn unknown_fields(&self, known: &[&str]) -> Vec<String> {
        self.item
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| format!("{}: unknown field {k} is ignored", self.label))
            .collect()
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

fn item_name(item: &Item, field: &str) -> String {
    match item.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".to_string(),
        Some(other) => other.to_string(),
    }
}

/// A schedule item read field by field, before its groups and exceptions are attached.
struct ScheduleDraft {
    schedule: Schedule,
    ok: bool,
}

fn read_schedule(
    item: &Item,
    index: usize,
    defaults: &Defaults,
    problems: &mut Problems,
) -> Option<ScheduleDraft> {
    let raw_name = item_name(item, "ScheduleName");
    let label = if raw_name == "?" {
        format!("schedule #{}", index + 1)
    } else {
        format!("schedule '{raw_name}'")
    };
    let mut f = Fields::new(item, label);
    let name = f.required("ScheduleName");
    let tag_value = f.required("TagValue");
    let days = match f.string("DaysActive") {
        None => Days::ALL,
        Some(text) => match Days::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                f.fail("DaysActive", e);
                Days::ALL
            }
        },
    };
    let enabled = f.boolean("Enabled", true);
    let start = f.time("StartTime");
    let stop = f.time("StopTime");
    if let (Some(a), Some(b)) = (start, stop) {
        if a == b {
            f.fail("StopTime", "equals StartTime: the window would be empty");
        }
    }
    let force_start = f.boolean("ForceStart", false);
    let force_stop = f.boolean("ForceStop", false);
    // Both at once (a console edit): an error, but not one that disables the schedule.
    let force_conflict = force_start && force_stop;
    let timezone = match f.string("Timezone") {
        None => defaults.timezone,
        Some(s) if s.trim().is_empty() => defaults.timezone,
        Some(s) => match s.trim().parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                f.fail(
                    "Timezone",
                    format!("'{s}' is not an IANA timezone name (e.g. Asia/Seoul)"),
                );
                defaults.timezone
            }
        },
    };
    let enforced = f.boolean("Enforced", false);
    let warn_minutes = f.minutes("WarnMinutes", defaults.warn_minutes);
    let webhook_url = f.string("WebhookUrl").filter(|s| !s.trim().is_empty());
    let schedule_name = name.clone().unwrap_or(raw_name);
    for w in f.unknown_fields(SCHEDULE_FIELDS) {
        problems.warn(&schedule_name, w);
    }
    flag_conflicts_and_intervals(
        &f.label,
        &schedule_name,
        force_conflict,
        warn_minutes,
        defaults,
        problems,
    );
    let ok = f.errors.is_empty();
    for e in f.errors {
        problems.error(&schedule_name, e);
    }
    let name = name?;
    Some(ScheduleDraft {
        ok,
        schedule: Schedule {
            name,
            tag_value: tag_value.unwrap_or_default(),
            days,
            enabled,
            start,
            stop,
            force_start: force_start && !force_conflict,
            force_stop: force_stop && !force_conflict,
            force_conflict,
            timezone,
            enforced,
            warn_minutes,
            webhook_url,
            max_attempts: defaults.max_attempts.max(1),
            groups: Vec::new(),
            exceptions: Vec::new(),
        },
    })
}

/// Problems of a schedule that do not disable it: both one-shot flags set, and a warning
/// lead shorter than the tick interval.
fn flag_conflicts_and_intervals(
    label: &str,
    schedule_name: &str,
    force_conflict: bool,
    warn_minutes: u32,
    defaults: &Defaults,
    problems: &mut Problems,
) {
    if force_conflict {
        problems.error(
            schedule_name,
            format!(
                "{label}: fields ForceStart and ForceStop: both are true; neither acts, both are set back to false, and the schedule's boundaries keep running (set only one)"
            ),
        );
    }
    if let Some(tick) = defaults.tick_minutes {
        if warn_minutes > 0 && warn_minutes < tick {
            problems.warn(
                schedule_name,
                format!(
                    "{label}: field WarnMinutes: {warn_minutes} min is shorter than the scheduler's interval of {tick} min (TICK_MINUTES): a tick may not fall inside the warning window, and the warning can be missed; use WarnMinutes >= {tick}"
                ),
            );
        }
    }
}

struct GroupDraft {
    schedule: String,
    name: String,
    kind: Option<ResourceKind>,
    depends: Vec<String>,
    ok: bool,
}

fn read_group(item: &Item, problems: &mut Problems) -> Option<GroupDraft> {
    let schedule = item_name(item, "ScheduleName");
    let label = format!("group '{}/{}'", schedule, item_name(item, "GroupName"));
    let mut f = Fields::new(item, label);
    let schedule_name = f.required("ScheduleName");
    let name = f.required("GroupName");
    let kind = match f.required("InstanceType") {
        None => None,
        Some(t) => {
            let k = ResourceKind::parse(&t);
            if k.is_none() {
                f.fail("InstanceType", format!("'{t}' is not EC2, RDS or AURORA"));
            }
            k
        }
    };
    let depends = f.string_list("Dependency");
    for w in f.unknown_fields(GROUP_FIELDS) {
        problems.warn(&schedule, w);
    }
    let ok = f.errors.is_empty();
    for e in f.errors {
        problems.error(&schedule, e);
    }
    Some(GroupDraft {
        schedule: schedule_name?,
        name: name?,
        kind,
        depends,
        ok,
    })
}

fn read_exception(item: &Item, index: usize, problems: &mut Problems) -> Option<Exception> {
    let uuid = item_name(item, "ExceptionUuid");
    let label = if uuid == "?" {
        format!("exception #{}", index + 1)
    } else {
        format!("exception '{uuid}'")
    };
    let schedule = item_name(item, "ScheduleName");
    let mut f = Fields::new(item, label);
    let uuid = f.required("ExceptionUuid");
    let schedule_name = f.required("ScheduleName");
    let date = f.required("ExceptionDate").and_then(|d| {
        match NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                f.fail("ExceptionDate", format!("'{d}' is not a date (YYYY-MM-DD)"));
                None
            }
        }
    });
    let action =
        f.required("ExceptionType")
            .and_then(|t| match t.trim().to_ascii_lowercase().as_str() {
                "start" => Some(Action::Start),
                "stop" => Some(Action::Stop),
                _ => {
                    f.fail("ExceptionType", format!("'{t}' is not start or stop"));
                    None
                }
            });
    // Required: an absent value must not silently cancel the boundary.
    let time = match f.required("ExceptionValue") {
        None => None,
        Some(_) => f.time("ExceptionValue"),
    };
    for w in f.unknown_fields(EXCEPTION_FIELDS) {
        problems.warn(&schedule, w);
    }
    let ok = f.errors.is_empty();
    for e in f.errors {
        problems.error(&schedule, e);
    }
    if !ok {
        return None;
    }
    Some(Exception {
        uuid: uuid?,
        schedule: schedule_name?,
        date: date?,
        action: action?,
        time,
    })
}

#[derive(Default)]
struct Problems {
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

impl Problems {
    fn error(&mut self, schedule: &str, message: impl Into<String>) {
        self.errors.push(Problem::new(schedule, message));
    }
    fn warn(&mut self, schedule: &str, message: impl Into<String>) {
        self.warnings.push(Problem::new(schedule, message));
    }
}

/// Validates raw items into schedules. Every problem names its item and field; a schedule
/// with an error is left out, and every other schedule is kept.
pub fn validate(raw: &RawConfig, defaults: &Defaults) -> Config {
    let mut problems = Problems::default();

    // Schedules, with duplicate names and shared TagValues refused.
    let drafts: Vec<ScheduleDraft> = raw
        .schedules
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_schedule(item, i, defaults, &mut problems))
        .collect();
    let mut bad: BTreeSet<String> = drafts
        .iter()
        .filter(|d| !d.ok)
        .map(|d| d.schedule.name.clone())
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for d in &drafts {
        *count.entry(d.schedule.name.as_str()).or_default() += 1;
    }
    for (name, n) in &count {
        if *n > 1 {
            problems.error(
                name,
                format!("schedule '{name}': field ScheduleName: {n} items share this name"),
            );
            bad.insert(name.to_string());
        }
    }
    let mut by_tag: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in drafts.iter().filter(|d| !d.schedule.tag_value.is_empty()) {
        by_tag
            .entry(d.schedule.tag_value.as_str())
            .or_default()
            .push(d.schedule.name.as_str());
    }
    for (tag, names) in &by_tag {
        let distinct: BTreeSet<&str> = names.iter().copied().collect();
        if distinct.len() > 1 {
            let list = distinct.iter().copied().collect::<Vec<_>>().join(", ");
            for name in &distinct {
                problems.error(
                    name,
                    format!("schedule '{name}': field TagValue: '{tag}' is also used by another schedule ({list})"),
                );
                bad.insert(name.to_string());
            }
        }
    }
    let known: BTreeSet<&str> = drafts.iter().map(|d| d.schedule.name.as_str()).collect();

    // Groups, per schedule.
    let mut groups: BTreeMap<String, Vec<GroupDraft>> = BTreeMap::new();
    for item in &raw.groups {
        if let Some(g) = read_group(item, &mut problems) {
            if !g.ok {
                bad.insert(g.schedule.clone());
            }
            groups.entry(g.schedule.clone()).or_default().push(g);
        } else {
            let schedule = item_name(item, "ScheduleName");
            bad.insert(schedule);
        }
    }
    for name in groups.keys() {
        if !known.contains(name.as_str()) {
            problems.error(
                name,
                format!("group items name schedule '{name}', which does not exist"),
            );
        }
    }

    // Exceptions.
    let mut exceptions: Vec<Exception> = Vec::new();
    let mut seen_uuid: BTreeSet<String> = BTreeSet::new();
    for (i, item) in raw.exceptions.iter().enumerate() {
        let Some(e) = read_exception(item, i, &mut problems) else {
            continue;
        };
        if !seen_uuid.insert(e.uuid.clone()) {
            problems.error(
                &e.schedule,
                format!("exception '{}': field ExceptionUuid: used by more than one item; the later one is ignored", e.uuid),
            );
            continue;
        }
        if e.schedule != "*" && !known.contains(e.schedule.as_str()) {
            problems.warn(
                &e.schedule,
                format!(
                    "exception '{}': field ScheduleName: schedule '{}' does not exist",
                    e.uuid, e.schedule
                ),
            );
            continue;
        }
        exceptions.push(e);
    }
    exceptions.sort_by(|a, b| (a.date, a.action, &a.uuid).cmp(&(b.date, b.action, &b.uuid)));
    let mut clash: BTreeMap<(&str, NaiveDate, Action), Vec<&str>> = BTreeMap::new();
    for e in &exceptions {
        clash
            .entry((e.schedule.as_str(), e.date, e.action))
            .or_default()
            .push(e.uuid.as_str());
    }
    for ((schedule, date, action), uuids) in &clash {
        if uuids.len() > 1 {
            problems.warn(
                schedule,
                format!(
                    "exceptions {} all set the {action} of {date}; '{}' is used",
                    uuids.join(", "),
                    uuids[0]
                ),
            );
        }
    }

    let mut schedules = Vec::new();
    for draft in drafts {
        let mut s = draft.schedule;
        // Group checks run even for a schedule that is already bad, so every problem shows.
        match build_groups(
            &s.name,
            groups.get(&s.name).map(Vec::as_slice).unwrap_or(&[]),
        ) {
            Ok(g) => s.groups = g,
            Err(messages) => {
                for m in messages {
                    problems.error(&s.name, m);
                }
                continue;
            }
        }
        if bad.contains(&s.name) {
            continue;
        }
        s.exceptions = exceptions
            .iter()
            .filter(|e| e.schedule == s.name || e.schedule == "*")
            .cloned()
            .collect();
        schedules.push(s);
    }
    schedules.sort_by(|a, b| a.name.cmp(&b.name));
    problems.errors.sort();
    problems.errors.dedup();
    problems.warnings.sort();
    problems.warnings.dedup();
    Config {
        schedules,
        errors: problems.errors,
        warnings: problems.warnings,
    }
}

/// Checks a schedule's groups (duplicates, unknown dependencies, cycles) and orders them:
/// topologically with petgraph, by layer and then name.
fn build_groups(
    schedule: &str,
    drafts: &[GroupDraft],
) -> std::result::Result<Vec<Group>, Vec<String>> {
    let mut errors = Vec::new();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, g) in drafts.iter().enumerate() {
        if names.insert(g.name.as_str(), i).is_some() {
            errors.push(format!(
                "group '{schedule}/{}': field GroupName: defined more than once",
                g.name
            ));
        }
    }
    let mut graph: DiGraph<&str, ()> = DiGraph::new();
    let nodes: BTreeMap<&str, NodeIndex> = names.keys().map(|n| (*n, graph.add_node(*n))).collect();
    for g in drafts {
        for dep in &g.depends {
            match nodes.get(dep.as_str()) {
                Some(from) => {
                    graph.update_edge(*from, nodes[g.name.as_str()], ());
                }
                None => errors.push(format!(
                    "group '{schedule}/{}': field Dependency: group '{dep}' does not exist in schedule '{schedule}'",
                    g.name
                )),
            }
        }
    }
    for cycle in cycles(&graph) {
        errors.push(format!(
            "group '{schedule}/{}': field Dependency: dependency cycle: {}",
            cycle[0],
            cycle.join(" -> ")
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let order = toposort(&graph, None)
        .map_err(|_| vec![format!("schedule '{schedule}': dependency cycle")])?;
    let mut layer: HashMap<NodeIndex, usize> = HashMap::new();
    for n in &order {
        let l = graph
            .neighbors_directed(*n, petgraph::Direction::Incoming)
            .map(|p| layer[&p] + 1)
            .max()
            .unwrap_or(0);
        layer.insert(*n, l);
    }
    let mut sorted: Vec<NodeIndex> = order.clone();
    sorted.sort_by(|a, b| (layer[a], graph[*a]).cmp(&(layer[b], graph[*b])));
    let position: HashMap<NodeIndex, usize> =
        sorted.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let groups = sorted
        .iter()
        .map(|n| {
            let draft = &drafts[names[graph[*n]]];
            let mut depends_on: Vec<usize> = graph
                .neighbors_directed(*n, petgraph::Direction::Incoming)
                .map(|p| position[&p])
                .collect();
            depends_on.sort_unstable();
            let mut dependents: Vec<usize> = graph
                .neighbors_directed(*n, petgraph::Direction::Outgoing)
                .map(|p| position[&p])
                .collect();
            dependents.sort_unstable();
            Group {
                name: draft.name.clone(),
                kind: draft.kind.unwrap_or(ResourceKind::Ec2),
                depends_on,
                dependents,
            }
        })
        .collect();
    Ok(groups)
}

/// Every dependency cycle, as a closed path of group names read as "depends on"
/// (`API -> WEB -> API`), starting at its smallest name. Members of the same strongly
/// connected component that are not on that path are named after it.
fn cycles(graph: &DiGraph<&str, ()>) -> Vec<Vec<String>> {
    use petgraph::Direction::Incoming;
    let mut out = Vec::new();
    for scc in tarjan_scc(graph) {
        let self_loop = scc.len() == 1 && graph.find_edge(scc[0], scc[0]).is_some();
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let Some(&start) = scc.iter().min_by_key(|n| graph[**n]) else {
            continue;
        };
        // Breadth-first over "depends on" edges inside the component, back to start.
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = graph
                .neighbors_directed(n, Incoming)
                .filter(|m| members.contains(m))
                .collect();
            next.sort_by_key(|m| graph[*m]);
            if next.contains(&start) {
                last = Some(n);
                break;
            }
            for m in next {
                if m != start && !parent.contains_key(&m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        let mut path = Vec::new();
        let mut cur = last;
        while let Some(n) = cur {
            path.push(n);
            cur = if n == start {
                None
            } else {
                parent.get(&n).copied()
            };
        }
        path.reverse();
        let mut names: Vec<String> = path.iter().map(|n| graph[*n].to_string()).collect();
        names.push(graph[start].to_string());
        let mut rest: Vec<&str> = members
            .iter()
            .filter(|n| !path.contains(n))
            .map(|n| graph[*n])
            .collect();
        rest.sort_unstable();
        if !rest.is_empty() {
            let end = names.len() - 1;
            names[end] = format!("{} (also in the cycle: {})", names[end], rest.join(", "));
        }
        out.push(names);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Config {
        let raw = RawConfig::parse(yaml, "test").expect("test yaml parses");
        validate(&raw, &Defaults::default())
    }

    #[test]
    fn day_lists_parse() {
        use Weekday::*;
        let cases: &[(&str, &[Weekday])] = &[
            ("all", &[Mon, Tue, Wed, Thu, Fri, Sat, Sun]),
            ("weekdays", &[Mon, Tue, Wed, Thu, Fri]),
            ("Weekends", &[Sat, Sun]),
            ("mon,wed,fri", &[Mon, Wed, Fri]),
            ("mon-thu,sat", &[Mon, Tue, Wed, Thu, Sat]),
            ("Monday, TUESDAY", &[Mon, Tue]),
            ("fri-mon", &[Fri, Sat, Sun, Mon]),
        ];
        for (text, expected) in cases {
            let days = Days::parse(text).expect(text);
            for d in [Mon, Tue, Wed, Thu, Fri, Sat, Sun] {
                assert_eq!(days.contains(d), expected.contains(&d), "{text} {d}");
            }
        }
        for bad in ["", "funday", "mon,,tue", "mon-xyz"] {
            assert!(Days::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn times_parse() {
        let t = |h, m| Some(NaiveTime::from_hms_opt(h, m, 0).expect("valid"));
        assert_eq!(parse_time("09:00"), Ok(t(9, 0)));
        assert_eq!(parse_time("9:05"), Ok(t(9, 5)));
        assert_eq!(parse_time("23:59"), Ok(t(23, 59)));
        assert_eq!(parse_time("None"), Ok(None));
        assert_eq!(parse_time(""), Ok(None));
        for bad in ["24:00", "9:5", "09:60", "0900", "nine", "123:00", "-1:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_apply_and_unknown_fields_warn() {
        let c = load(
            "schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: '9:00', StopTime: '18:00', Colour: blue}\n",
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let s = &c.schedules[0];
        assert_eq!(s.timezone, chrono_tz::Asia::Seoul);
        assert_eq!(s.warn_minutes, 10);
        assert!(s.enabled && !s.enforced && !s.force_start);
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].message.contains("Colour"), "{:?}", c.warnings);
    }

    #[test]
    fn bad_fields_name_item_and_field_and_spare_other_schedules() {
        let cases: &[(&str, &str)] = &[
            (
                "StartTime: '25:00'",
                "schedule 'bad': field StartTime: '25:00' is not a time",
            ),
            (
                "DaysActive: funday",
                "schedule 'bad': field DaysActive: 'funday' is not a day",
            ),
            (
                "Timezone: Mars/Base",
                "schedule 'bad': field Timezone: 'Mars/Base' is not an IANA",
            ),
            ("WarnMinutes: -3", "schedule 'bad': field WarnMinutes"),
            (
                "Enabled: maybe",
                "schedule 'bad': field Enabled: 'maybe' is not true or false",
            ),
            ("StopTime: '09:00'", "field StopTime: equals StartTime"),
        ];
        for (field, expected) in cases {
            let c = load(&format!(
                "schedules:\n  - {{ScheduleName: bad, TagValue: bad, StartTime: '09:00', {field}}}\n  - {{ScheduleName: good, TagValue: good}}\n"
            ));
            assert_eq!(c.schedules.len(), 1, "{field}");
            assert_eq!(c.schedules[0].name, "good");
            assert!(
                c.errors
                    .iter()
                    .any(|p| p.schedule == "bad" && p.message.contains(expected)),
                "{field}: {:?}",
                c.errors
            );
        }
    }

    #[test]
    fn instance_type_and_dependencies_are_checked() {
        let c = load(
            "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: API, InstanceType: Lambda}\n  - {ScheduleName: s, GroupName: WEB, InstanceType: ec2, Dependency: [CACHE]}\n",
        );
        assert!(c.schedules.is_empty());
        let text: Vec<&str> = c.errors.iter().map(|p| p.message.as_str()).collect();
        assert!(
            text.iter()
                .any(|m| m.contains("group 's/API': field InstanceType: 'Lambda'")),
            "{text:?}"
        );
        assert!(
            text.iter().any(
                |m| m.contains("group 's/WEB': field Dependency: group 'CACHE' does not exist")
            ),
            "{text:?}"
        );
    }

    #[test]
    fn cycle_names_every_group_in_it() {
        let c = load(
            "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: s, GroupName: API, InstanceType: EC2, Dependency: [DB, WEB]}\n  - {ScheduleName: s, GroupName: WEB, InstanceType: EC2, Dependency: [BATCH]}\n  - {ScheduleName: s, GroupName: BATCH, InstanceType: EC2, Dependency: [API]}\n",
        );
        assert!(c.schedules.is_empty());
        assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
        assert!(
            c.errors[0]
                .message
                .contains("dependency cycle: API -> WEB -> BATCH -> API"),
            "{:?}",
            c.errors
        );
    }

    #[test]
    fn self_dependency_is_a_cycle() {
        let c = load(
            "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: A, InstanceType: EC2, Dependency: [A]}\n",
        );
        assert!(
            c.errors[0].message.contains("dependency cycle: A -> A"),
            "{:?}",
            c.errors
        );
    }

    #[test]
    fn groups_are_ordered_by_layer_then_name() {
        let c = load(
            "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: BATCH, InstanceType: EC2, Dependency: [API, CACHE]}\n  - {ScheduleName: s, GroupName: API, InstanceType: EC2, Dependency: DB}\n  - {ScheduleName: s, GroupName: CACHE, InstanceType: EC2, Dependency: [DB]}\n  - {ScheduleName: s, GroupName: DB, InstanceType: rds}\n",
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let s = &c.schedules[0];
        let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["DB", "API", "CACHE", "BATCH"]);
        assert_eq!(s.groups[3].depends_on, vec![1, 2]);
        assert_eq!(s.groups[0].dependents, vec![1, 2]);
        assert_eq!(s.groups[0].kind, ResourceKind::Rds);
    }

    #[test]
    fn duplicates_are_refused() {
        let c = load(
            "schedules:\n  - {ScheduleName: a, TagValue: x}\n  - {ScheduleName: a, TagValue: y}\n  - {ScheduleName: b, TagValue: z}\n  - {ScheduleName: c, TagValue: z}\n  - {ScheduleName: d, TagValue: d}\ngroups:\n  - {ScheduleName: d, GroupName: G, InstanceType: EC2}\n  - {ScheduleName: d, GroupName: G, InstanceType: EC2}\n",
        );
        assert!(c.schedules.is_empty(), "{:?}", c.schedules);
        let all = c
            .errors
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            all.contains("[a] schedule 'a': field ScheduleName: 2 items share this name"),
            "{all}"
        );
        assert!(
            all.contains("[b] schedule 'b': field TagValue: 'z' is also used"),
            "{all}"
        );
        assert!(all.contains("[c] schedule 'c': field TagValue"), "{all}");
        assert!(
            all.contains("group 'd/G': field GroupName: defined more than once"),
            "{all}"
        );
    }

    #[test]
    fn exceptions_attach_to_their_schedule_and_star() {
        let c = load(
            "schedules:\n  - {ScheduleName: a, TagValue: a}\n  - {ScheduleName: b, TagValue: b}\nexceptions:\n  - {ExceptionUuid: h1, ScheduleName: '*', ExceptionDate: '2026-12-25', ExceptionType: start, ExceptionValue: None}\n  - {ExceptionUuid: x1, ScheduleName: a, ExceptionDate: '2026-11-26', ExceptionType: stop, ExceptionValue: '23:00'}\n  - {ExceptionUuid: x2, ScheduleName: a, ExceptionDate: '2026-13-01', ExceptionType: stop}\n  - {ExceptionUuid: x3, ScheduleName: a, ExceptionDate: '2026-11-27', ExceptionType: later}\n",
        );
        assert_eq!(c.schedule("a").map(|s| s.exceptions.len()), Some(2));
        assert_eq!(c.schedule("b").map(|s| s.exceptions.len()), Some(1));
        let all = c
            .errors
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            all.contains("exception 'x2': field ExceptionDate: '2026-13-01' is not a date"),
            "{all}"
        );
        assert!(
            all.contains("exception 'x3': field ExceptionType: 'later' is not start or stop"),
            "{all}"
        );
    }

    #[test]
    fn lenient_types_from_the_console() {
        let c = load(
            "schedules:\n  - {ScheduleName: a, TagValue: a, Enabled: 'false', Enforced: 'TRUE', WarnMinutes: '15'}\ngroups:\n  - {ScheduleName: a, GroupName: API, InstanceType: ec2, Dependency: 'DB, CACHE'}\n  - {ScheduleName: a, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: a, GroupName: CACHE, InstanceType: Ec2}\n",
        );
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let s = &c.schedules[0];
        assert!(!s.enabled && s.enforced);
        assert_eq!(s.warn_minutes, 15);
        assert_eq!(s.groups[2].depends_on.len(), 2);
    }

    #[test]
    fn exception_value_is_required_and_none_cancels() {
        // GIVEN exceptions with a time, with no ExceptionValue, and with `None`
        let c = load(
            "schedules:\n  - {ScheduleName: a, TagValue: a, StartTime: '09:00', StopTime: '18:00'}\nexceptions:\n  - {ExceptionUuid: x1, ScheduleName: a, ExceptionDate: '2026-11-26', ExceptionType: stop, ExceptionValue: '23:00'}\n  - {ExceptionUuid: x2, ScheduleName: a, ExceptionDate: '2026-11-27', ExceptionType: start}\n  - {ExceptionUuid: x3, ScheduleName: a, ExceptionDate: '2026-11-30', ExceptionType: start, ExceptionValue: None}\n",
        );
        // THEN the missing value is an error naming the exception and the field
        let all: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            all,
            ["[a] exception 'x2': field ExceptionValue: is required"],
            "{all:?}"
        );
        // AND the schedule still runs, without the bad exception
        let s = c.schedule("a").expect("schedule a is valid");
        let attached: Vec<(&str, Option<NaiveTime>)> = s
            .exceptions
            .iter()
            .map(|e| (e.uuid.as_str(), e.time))
            .collect();
        assert_eq!(
            attached,
            [("x1", NaiveTime::from_hms_opt(23, 0, 0)), ("x3", None)],
            "`None` is valid and cancels"
        );
    }

    #[test]
    fn warn_minutes_shorter_than_the_tick_interval_is_a_warning() {
        let with_tick = Defaults {
            tick_minutes: Some(15),
            ..Default::default()
        };
        // (case, defaults, WarnMinutes, warning expected)
        let cases = [
            ("10 < 15", &with_tick, "10", true),
            ("0 disables the warning", &with_tick, "0", false),
            ("15 = 15", &with_tick, "15", false),
            ("20 > 15", &with_tick, "20", false),
            ("no TICK_MINUTES", &Defaults::default(), "10", false),
        ];
        for (name, defaults, warn, expected) in cases {
            let yaml = format!(
                "schedules:\n  - {{ScheduleName: a, TagValue: a, StartTime: '09:00', StopTime: '18:00', WarnMinutes: {warn}}}\n"
            );
            let c = validate(&RawConfig::parse(&yaml, "test").expect("yaml"), defaults);
            // THEN the schedule is valid either way
            assert!(c.errors.is_empty(), "{name}: {:?}", c.errors);
            assert_eq!(c.schedules.len(), 1, "{name}");
            // AND only a lead shorter than the interval is warned about, naming both settings
            let warned = c.warnings.iter().any(|w| {
                w.schedule == "a"
                    && w.message.contains("field WarnMinutes")
                    && w.message.contains("TICK_MINUTES")
            });
            assert_eq!(warned, expected, "{name}: {:?}", c.warnings);
            if !expected {
                assert!(c.warnings.is_empty(), "{name}: {:?}", c.warnings);
            }
        }
    }
}
