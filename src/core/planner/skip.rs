//! Opt-out until a date: a resource's skip-until tag, read in its schedule's timezone, holds it out of every start and stop until then.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::{target_reached, Member, Resource, TagKeys, UNGROUPED};
use crate::core::config::{Action, Problem, Schedule};
use crate::core::plan::Skipped;
use crate::core::schedule::resolve_local;

/// When a skip-until value ends: a `YYYY-MM-DD` date at the end of that day in `tz` (the
/// next day's first instant), an RFC 3339 instant as written. `None`: not a valid value.
pub fn skip_until(value: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let next = date.succ_opt()?.and_hms_opt(0, 0, 0)?;
        return Some(resolve_local(tz, next).with_timezone(&Utc));
    }
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Which members of a schedule a pass may act on: never a skipped one, and with `only`,
/// nothing outside it.
#[derive(Debug, Default)]
pub(super) struct Scope {
    /// Skipped members: resource key -> when the skip ends.
    pub skipped: HashMap<String, DateTime<Utc>>,
    pub only: Option<BTreeSet<String>>,
}

impl Scope {
    /// Whether `r` is skipped. Resource keys are built only when something is skipped: a
    /// fleet of 100k resources asks twice per resource in every pass.
    pub fn is_skipped(&self, r: &Resource) -> bool {
        !self.skipped.is_empty() && self.skipped.contains_key(&r.key())
    }

    pub fn acts_on(&self, r: &Resource) -> bool {
        if self.skipped.is_empty() && self.only.is_none() {
            return true;
        }
        let key = r.key();
        !self.skipped.contains_key(&key)
            && self.only.as_ref().is_none_or(|only| only.contains(&key))
    }

    /// The earliest end of a skip that keeps a member out of `action`'s target phase.
    pub fn ends(&self, members: &[Member<'_>], action: Action) -> Option<DateTime<Utc>> {
        if self.skipped.is_empty() {
            return None;
        }
        members
            .iter()
            .filter(|(_, _, c)| !target_reached(*c, action))
            .filter_map(|(_, r, _)| self.skipped.get(&r.key()).copied())
            .min()
    }
}

/// The skipped members of `schedule` at `now`, for the report; an unparsable value is a
/// warning naming the resource and the tag, and the resource is scheduled as usual.
pub(super) fn scan(
    schedule: &Schedule,
    members: &[Member<'_>],
    tags: &TagKeys,
    now: DateTime<Utc>,
    warnings: &mut Vec<Problem>,
) -> (Scope, Vec<Skipped>) {
    let mut scope = Scope::default();
    let mut report = Vec::new();
    for (g, r, _) in members {
        let Some(value) = r.tags.get(&tags.skip_until).map(|v| v.trim()) else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let Some(until) = skip_until(value, schedule.timezone) else {
            warnings.push(Problem::new(&schedule.name, format!(
                "resource {} ({}): tag {}='{value}' is neither a date (YYYY-MM-DD) nor an RFC 3339 instant; the resource is scheduled as usual",
                r.id, r.kind, tags.skip_until
            )));
            continue;
        };
        if until <= now {
            continue;
        }
        scope.skipped.insert(r.key(), until);
        report.push(Skipped {
            schedule: schedule.name.clone(),
            group: match *g {
                UNGROUPED => String::new(),
                g => schedule.groups[g].name.clone(),
            },
            resource: r.to_ref(),
            until: until.with_timezone(&schedule.timezone).fixed_offset(),
            skip_until: value.to_string(),
        });
    }
    (scope, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_until_reads_dates_in_the_schedule_timezone_and_instants_as_written() {
        let seoul = chrono_tz::Asia::Seoul;
        let cases: [(&str, Option<&str>); 7] = [
            // the end of Friday in Seoul is Saturday 00:00 KST
            ("2026-11-27", Some("2026-11-27T15:00:00Z")),
            (" 2026-11-27 ", Some("2026-11-27T15:00:00Z")),
            ("2026-11-27T18:30:00+09:00", Some("2026-11-27T09:30:00Z")),
            ("2026-11-27T09:30:00Z", Some("2026-11-27T09:30:00Z")),
            ("friday", None),
            ("2026-02-30", None),
            ("27/11/2026", None),
        ];
        for (value, expected) in cases {
            let expected = expected.map(|e| e.parse::<DateTime<Utc>>().expect("instant"));
            assert_eq!(skip_until(value, seoul), expected, "{value}");
        }
        // A date ends at local midnight: in New York that is 05:00 UTC in winter.
        assert_eq!(
            skip_until("2026-11-27", chrono_tz::America::New_York),
            Some("2026-11-28T05:00:00Z".parse().expect("instant"))
        );
    }
}
