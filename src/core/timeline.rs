//! The upcoming events per schedule, after exceptions and DST: `Serialize` for JSON, `Display` for people.

use std::fmt;

use chrono::{DateTime, Days, FixedOffset, NaiveDate};
use serde::Serialize;

use crate::core::config::{hm, Action, Config, Problem};
use crate::core::schedule::{events_between, Source};

/// One event on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    /// When it fires, in the schedule's timezone.
    pub at: DateTime<FixedOffset>,
    pub action: Action,
    /// The local time that was asked for (differs from `at` in a DST gap).
    pub scheduled: String,
    /// Why it is here: `schedule`, `exception <uuid>`, `make-up day <uuid>`.
    pub source: String,
    /// A short explanation when DST moved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Events of one schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleTimeline {
    pub schedule: String,
    pub timezone: String,
    pub events: Vec<TimelineEvent>,
}

/// Events of every valid schedule over a range of local dates, plus config errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub from: NaiveDate,
    pub days: u32,
    pub schedules: Vec<ScheduleTimeline>,
    pub errors: Vec<Problem>,
}

/// Lists the events of local dates `from .. from + days` for every schedule.
pub fn timeline(config: &Config, from: NaiveDate, days: u32) -> Timeline {
    let to = from
        .checked_add_days(Days::new(u64::from(days.max(1)) - 1))
        .unwrap_or(from);
    let schedules = config
        .schedules
        .iter()
        .map(|s| ScheduleTimeline {
            schedule: s.name.clone(),
            timezone: s.timezone.name().to_string(),
            events: events_between(s, from, to)
                .into_iter()
                .map(|e| TimelineEvent {
                    at: e.local.fixed_offset(),
                    action: e.action,
                    scheduled: hm(e.requested),
                    note: e.shifted().then(|| {
                        format!(
                            "{} does not exist on {} (clocks go forward): fires at {}",
                            hm(e.requested),
                            e.date,
                            hm(e.local.time())
                        )
                    }),
                    source: match e.source {
                        Source::Schedule => "schedule".to_string(),
                        Source::Exception(u) => format!("exception {u}"),
                        Source::MakeUpDay(u) => format!("make-up day {u}"),
                    },
                })
                .collect(),
        })
        .collect();
    Timeline {
        from,
        days,
        schedules,
        errors: config.errors.clone(),
    }
}

impl fmt::Display for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.schedules.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{} ({})", s.schedule, s.timezone)?;
            if s.events.is_empty() {
                writeln!(f, "  no events in these {} days", self.days)?;
            }
            for e in &s.events {
                let mut line = format!(
                    "  {}  {:<5}  {}",
                    e.at.format("%Y-%m-%d %a %H:%M %:z"),
                    e.action.as_str(),
                    e.source
                );
                if let Some(note) = &e.note {
                    line.push_str(&format!("  ({note})"));
                }
                writeln!(f, "{line}")?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f, "\nSkipped because of errors:")?;
            for e in &self.errors {
                writeln!(f, "  {e}")?;
            }
        }
        Ok(())
    }
}
