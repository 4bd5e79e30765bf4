//! Holiday calendars (RFC 5545 iCalendar): all-day events become one `start None` exception per day, with ids from calendar, schedule, event UID and date.
//!
//! Pure: the caller reads the file and writes the items. An ExceptionUuid is
//! `ics:<calendar>:<schedule>:<date>:<uid>`, so importing the same file twice changes
//! nothing, and `--prune` can tell which exceptions an earlier import of this calendar
//! (for this schedule) made.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{Days, NaiveDate};
use icalendar::{Component, DatePerhapsTime};
use serde_json::Value;

use crate::core::config::{Action, Item};
use crate::error::{Error, Result};

/// The longest event expanded (a hostile or mistaken file cannot make millions of items).
pub const MAX_EVENT_DAYS: u64 = 366;

/// One day off from one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub uid: String,
    pub summary: String,
    pub date: NaiveDate,
}

/// The days of an iCalendar file, with what was skipped and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayCalendar {
    /// `X-WR-CALNAME`, else the name the caller gave (the file's stem), made id-safe.
    pub name: String,
    /// Sorted by date, then UID; one entry per (UID, date).
    pub days: Vec<Holiday>,
    pub warnings: Vec<String>,
}

/// Reads an iCalendar document: every all-day VEVENT, one entry per day it covers (DTEND
/// is exclusive; no DTEND means one day). Events with a time are skipped with a warning.
pub fn read_ics(text: &str, what: &str, fallback_name: &str) -> Result<HolidayCalendar> {
    if !text.trim_start().starts_with("BEGIN:VCALENDAR") {
        return Err(Error::invalid(
            what,
            "BEGIN:VCALENDAR",
            "is not an iCalendar file",
        ));
    }
    let calendar = icalendar::Calendar::from_str(text)
        .map_err(|e| Error::invalid(what, "iCalendar", e.trim().to_string()))?;
    let name = calendar
        .property_value("X-WR-CALNAME")
        .map(str::to_string)
        .unwrap_or_else(|| fallback_name.to_string());
    let mut out = HolidayCalendar {
        name: id_safe(&name),
        days: Vec::new(),
        warnings: Vec::new(),
    };
    let mut seen = BTreeSet::new();
    for (i, event) in calendar.events().enumerate() {
        let summary = event.get_summary().unwrap_or("").to_string();
        let label = match event.get_uid() {
            Some(uid) => format!("{what}: event {uid} ({summary})"),
            None => format!("{what}: event #{} ({summary})", i + 1),
        };
        let Some(uid) = event.get_uid().map(str::trim).filter(|u| !u.is_empty()) else {
            out.warnings.push(format!(
                "{label}: has no UID; ignored (ids come from the UID)"
            ));
            continue;
        };
        let (start, end) = match whole_days(event) {
            Ok((start, end, note)) => {
                out.warnings.extend(note.map(|n| format!("{label}: {n}")));
                (start, end)
            }
            Err(why) => {
                out.warnings.push(format!("{label}: {why}; ignored"));
                continue;
            }
        };
        let limit = start
            .checked_add_days(Days::new(MAX_EVENT_DAYS))
            .unwrap_or(end);
        if end > limit {
            out.warnings.push(format!(
                "{label}: covers more than {MAX_EVENT_DAYS} days; only the first {MAX_EVENT_DAYS} are taken"
            ));
        }
        for date in start.iter_days().take_while(|d| *d < end.min(limit)) {
            if seen.insert((uid.to_string(), date)) {
                out.days.push(Holiday {
                    uid: uid.to_string(),
                    summary: summary.clone(),
                    date,
                });
            }
        }
    }
    out.days
        .sort_by(|a, b| (a.date, &a.uid).cmp(&(b.date, &b.uid)));
    Ok(out)
}

/// The first day and the day after the last of an all-day event, with a note when DTEND
/// was unusable; `Err` says why the event is not a whole-day event.
fn whole_days(
    event: &icalendar::Event,
) -> std::result::Result<(NaiveDate, NaiveDate, Option<&'static str>), &'static str> {
    let start = match event.get_start() {
        Some(DatePerhapsTime::Date(d)) => d,
        Some(DatePerhapsTime::DateTime(_)) => return Err("has a start time, not a whole day"),
        None => return Err("has no DTSTART"),
    };
    let next = start.succ_opt().unwrap_or(start);
    match event.get_end() {
        Some(DatePerhapsTime::Date(d)) if d > start => Ok((start, d, None)),
        Some(DatePerhapsTime::Date(_)) => Ok((
            start,
            next,
            Some("DTEND is not after DTSTART; taken as one day"),
        )),
        Some(DatePerhapsTime::DateTime(_)) => Err("has an end time, not a whole day"),
        None => Ok((start, next, None)),
    }
}

/// Letters, digits, `.`, `_` and `-` kept, anything else `-` (ids stay readable keys).
fn id_safe(name: &str) -> String {
    let safe: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if safe.is_empty() {
        "calendar".into()
    } else {
        safe
    }
}

/// The prefix of every ExceptionUuid an import of `calendar` for `schedule` writes.
pub fn uuid_prefix(calendar: &str, schedule: &str) -> String {
    format!("ics:{calendar}:{schedule}:")
}

/// The exception items of `calendar` for `schedule` (a name or `*`): no start on each day.
pub fn exception_items(calendar: &HolidayCalendar, schedule: &str) -> Vec<Item> {
    let prefix = uuid_prefix(&calendar.name, schedule);
    calendar
        .days
        .iter()
        .map(|h| {
            let mut item = Item::new();
            let uuid = format!("{prefix}{}:{}", h.date, h.uid);
            item.insert("ExceptionUuid".into(), Value::String(uuid));
            item.insert("ScheduleName".into(), Value::String(schedule.to_string()));
            item.insert("ExceptionDate".into(), Value::String(h.date.to_string()));
            item.insert(
                "ExceptionType".into(),
                Value::String(Action::Start.as_str().into()),
            );
            item.insert("ExceptionValue".into(), Value::String("None".into()));
            item
        })
        .collect()
}

/// What an import changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportPlan {
    /// Items to write (new, or changed since the last import).
    pub write: Vec<Item>,
    /// Items already there exactly as the file has them.
    pub unchanged: usize,
    /// ExceptionUuids an earlier import of this calendar and schedule made that the file
    /// no longer has: deleted with `prune`, listed without.
    pub stale: Vec<String>,
}

/// Compares the wanted items with the exceptions there are now.
pub fn plan_import(existing: &[Item], wanted: Vec<Item>, prefix: &str) -> ImportPlan {
    let uuid = |item: &Item| {
        item.get("ExceptionUuid")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let now: BTreeMap<String, &Item> = existing
        .iter()
        .filter_map(|item| Some((uuid(item)?, item)))
        .collect();
    let wanted_ids: BTreeSet<String> = wanted.iter().filter_map(uuid).collect();
    let mut plan = ImportPlan::default();
    for item in wanted {
        match uuid(&item).and_then(|id| now.get(&id).copied()) {
            Some(old) if *old == item => plan.unchanged += 1,
            _ => plan.write.push(item),
        }
    }
    plan.stale = now
        .keys()
        .filter(|id| id.starts_with(prefix) && !wanted_ids.contains(*id))
        .cloned()
        .collect();
    plan
}

#[cfg(test)]
mod tests;
