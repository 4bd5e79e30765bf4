//! Validation: raw items -> schedules with their groups (ordered in groups.rs) and exceptions; every problem names its item and field.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;

use super::fields::*;
use super::groups::{build_groups, GroupDraft};
use super::read::{List, Sink};
use super::*;

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
    let days = f.days("DaysActive");
    let enabled = f.boolean("Enabled", true);
    let start = f.time("StartTime");
    let stop = f.time("StopTime");
    if let (Some(a), Some(b)) = (start, stop) {
        if a == b {
            f.fail("StopTime", "equals StartTime: the window would be empty");
        }
    }
    let force_start = f.boolean(Action::Start.force_field(), false);
    let force_stop = f.boolean(Action::Stop.force_field(), false);
    // Both at once (a console edit): an error, but not one that disables the schedule.
    let force_conflict = force_start && force_stop;
    let timezone = f.timezone("Timezone", defaults.timezone);
    let enforced = f.boolean("Enforced", false);
    let warn_minutes = f.minutes("WarnMinutes", defaults.warn_minutes);
    let webhook_url = f.string("WebhookUrl").filter(|s| !s.trim().is_empty());
    let schedule_name = name.clone().unwrap_or(raw_name);
    let digest = read_digest(&f, &schedule_name, problems);
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
            digest,
            max_attempts: defaults.max_attempts.max(1),
            groups: Vec::new(),
            exceptions: Vec::new(),
        },
    })
}

/// Field `Digest`. A bad value is an error, but only the digest is off: the schedule
/// still runs.
fn read_digest(f: &Fields<'_>, schedule_name: &str, problems: &mut Problems) -> Option<DigestAt> {
    f.digest("Digest").unwrap_or_else(|e| {
        let e = crate::error::Error::invalid(
            &f.label,
            "Digest",
            format!("{e}; no weekly digest is sent until it is fixed (the schedule itself runs)"),
        );
        problems.error(schedule_name, e.to_string());
        None
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
                f.fail(
                    "InstanceType",
                    format!("'{t}' is not EC2, RDS, AURORA, ECS or ASG"),
                );
            }
            k
        }
    };
    let depends = f.string_list("Dependency");
    let hibernate = f.boolean("Hibernate", false);
    if hibernate && kind.is_some_and(|k| k != ResourceKind::Ec2) {
        problems.warn(
            &schedule,
            format!(
                "{}: field Hibernate: only EC2 instances hibernate; it is ignored for this group",
                f.label
            ),
        );
    }
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
        hibernate: hibernate && kind == Some(ResourceKind::Ec2),
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
    let mut v = Validator::new(defaults);
    raw.schedules.iter().for_each(|item| v.schedule(item));
    raw.groups.iter().for_each(|item| v.group(item));
    raw.exceptions.iter().for_each(|item| v.exception(item));
    v.finish()
}

/// [`validate`], one item at a time and the three lists in any order: a config file is
/// validated as it is read, so its items are never all in memory at once.
pub struct Validator<'d> {
    defaults: &'d Defaults,
    problems: Problems,
    /// Items read per list (`schedule #3` names an item without a name).
    counts: [usize; 3],
    drafts: Vec<ScheduleDraft>,
    groups: HashMap<String, Vec<GroupDraft>>,
    /// Schedules made bad by one of their group items.
    bad: HashSet<String>,
    /// Exceptions that read well, the first of each ExceptionUuid, in document order.
    exceptions: Vec<Exception>,
    seen_uuid: HashSet<String>,
}

impl<'d> Validator<'d> {
    pub fn new(defaults: &'d Defaults) -> Self {
        Self {
            defaults,
            problems: Problems::default(),
            counts: [0; 3],
            drafts: Vec::new(),
            groups: HashMap::new(),
            bad: HashSet::new(),
            exceptions: Vec::new(),
            seen_uuid: HashSet::new(),
        }
    }

    /// One Schedule item.
    pub fn schedule(&mut self, item: &Item) {
        let index = self.count(List::Schedules);
        let draft = read_schedule(item, index, self.defaults, &mut self.problems);
        self.drafts.extend(draft);
    }

    /// One ServerGroup item; a bad one makes its schedule bad.
    pub fn group(&mut self, item: &Item) {
        self.count(List::Groups);
        match read_group(item, &mut self.problems) {
            Some(g) => {
                if !g.ok {
                    self.bad.insert(g.schedule.clone());
                }
                match self.groups.get_mut(&g.schedule) {
                    Some(list) => list.push(g),
                    None => {
                        self.groups.insert(g.schedule.clone(), vec![g]);
                    }
                }
            }
            None => {
                self.bad.insert(item_name(item, "ScheduleName"));
            }
        }
    }

    /// One Exception item; of two with the same ExceptionUuid the later is ignored.
    pub fn exception(&mut self, item: &Item) {
        let index = self.count(List::Exceptions);
        let Some(e) = read_exception(item, index, &mut self.problems) else {
            return;
        };
        if self.seen_uuid.contains(&e.uuid) {
            self.problems.error(
                &e.schedule,
                format!("exception '{}': field ExceptionUuid: used by more than one item; the later one is ignored", e.uuid),
            );
            return;
        }
        self.seen_uuid.insert(e.uuid.clone());
        self.exceptions.push(e);
    }

    /// The position of the next item of `list` among the items of that list.
    fn count(&mut self, list: List) -> usize {
        let n = &mut self.counts[list as usize];
        *n += 1;
        *n - 1
    }

    /// The validated configuration, once every item is in.
    pub fn finish(self) -> Config {
        let Validator {
            mut problems,
            drafts,
            groups,
            bad: bad_groups,
            exceptions,
            ..
        } = self;
        let mut bad = refuse_shared_names_and_tags(&drafts, &mut problems);
        bad.extend(bad_groups);
        let known: HashSet<&str> = drafts.iter().map(|d| d.schedule.name.as_str()).collect();
        for name in groups.keys() {
            if !known.contains(name.as_str()) {
                problems.error(
                    name,
                    format!("group items name schedule '{name}', which does not exist"),
                );
            }
        }
        let exceptions = known_exceptions(exceptions, &known, &mut problems);
        drop(known);
        let schedules = attach(drafts, &groups, &bad, &exceptions, &mut problems);
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
}

impl Sink for Validator<'_> {
    fn item(&mut self, list: List, item: Item) {
        match list {
            List::Schedules => self.schedule(&item),
            List::Groups => self.group(&item),
            List::Exceptions => self.exception(&item),
        }
    }
}

/// The good schedules, sorted by name, each with its ordered groups and its exceptions.
fn attach(
    drafts: Vec<ScheduleDraft>,
    groups: &HashMap<String, Vec<GroupDraft>>,
    bad: &HashSet<String>,
    exceptions: &[Exception],
    problems: &mut Problems,
) -> Vec<Schedule> {
    // Positions of each schedule's own exceptions and of the `*` ones, in date order: a
    // lookup per schedule instead of a scan of every exception (quadratic at 5k schedules).
    let mut by_schedule: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in exceptions.iter().enumerate() {
        by_schedule.entry(e.schedule.as_str()).or_default().push(i);
    }
    let global = by_schedule.get("*").map(Vec::as_slice).unwrap_or(&[]);
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
        let own = by_schedule.get(s.name.as_str()).map(Vec::as_slice);
        let mut mine: Vec<usize> = own.unwrap_or(&[]).iter().chain(global).copied().collect();
        mine.sort_unstable();
        mine.dedup(); // a schedule named `*`
        s.exceptions = mine.iter().map(|i| exceptions[*i].clone()).collect();
        schedules.push(s);
    }
    schedules.sort_by(|a, b| a.name.cmp(&b.name));
    schedules
}

/// The names of schedules that are invalid on their own, share a name, or share a TagValue.
fn refuse_shared_names_and_tags(
    drafts: &[ScheduleDraft],
    problems: &mut Problems,
) -> HashSet<String> {
    let mut bad: HashSet<String> = drafts
        .iter()
        .filter(|d| !d.ok)
        .map(|d| d.schedule.name.clone())
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for d in drafts {
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
    bad
}

/// Exceptions of known schedules (or `*`), sorted by date; the others are reported, and
/// so are clashes.
fn known_exceptions(
    exceptions: Vec<Exception>,
    known: &HashSet<&str>,
    problems: &mut Problems,
) -> Vec<Exception> {
    let mut exceptions: Vec<Exception> = exceptions
        .into_iter()
        .filter(|e| {
            let ok = e.schedule == "*" || known.contains(e.schedule.as_str());
            if !ok {
                problems.warn(
                    &e.schedule,
                    format!(
                        "exception '{}': field ScheduleName: schedule '{}' does not exist",
                        e.uuid, e.schedule
                    ),
                );
            }
            ok
        })
        .collect();
    exceptions.sort_by(|a, b| (a.date, a.action, &a.uuid).cmp(&(b.date, b.action, &b.uuid)));
    warn_about_clashes(&exceptions, problems);
    exceptions
}

/// Several exceptions setting the same boundary of the same date: the first one wins.
fn warn_about_clashes(exceptions: &[Exception], problems: &mut Problems) {
    let mut clash: BTreeMap<(&str, NaiveDate, Action), Vec<&str>> = BTreeMap::new();
    for e in exceptions {
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
}
