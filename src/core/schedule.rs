//! Pure time engine: a schedule's boundary events in its own timezone (days, overnight, exceptions, DST).

use std::fmt;

use chrono::{
    DateTime, Datelike, Days as ChronoDays, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::core::config::{Action, Exception, Schedule};

/// How far back the latest event is looked for (SPEC section 2).
pub const LOOKBACK_DAYS: u64 = 8;

/// Where an event comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The schedule's own StartTime/StopTime on an active day.
    Schedule,
    /// An exception moved or added it (its ExceptionUuid).
    Exception(String),
    /// The usual stop of a working day that an exception added (make-up day).
    MakeUpDay(String),
}

/// One boundary event: the instant it fires, and what the schedule asked for locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub action: Action,
    /// Local date-time at which the event fires (after a DST gap, the end of the gap).
    pub local: DateTime<Tz>,
    /// The local date the event was asked for (the date exceptions refer to).
    pub date: NaiveDate,
    /// The wall-clock time that was asked for (differs from `local` only in a DST gap).
    pub requested: NaiveTime,
    pub source: Source,
}

impl Event {
    pub fn key(&self) -> EventKey {
        EventKey {
            at: self.at,
            action: self.action,
        }
    }

    /// True when the requested local time did not exist (spring-forward gap).
    pub fn shifted(&self) -> bool {
        self.local.time() != self.requested
    }
}

/// Identity of an event, as stored in the state table ("last applied", "warned").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventKey {
    pub at: DateTime<Utc>,
    pub action: Action,
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.action, self.at.to_rfc3339())
    }
}

/// The instant a local wall-clock time fires in `tz`: the first occurrence of a repeated
/// time (fall-back), the first instant after the gap for a missing one (spring-forward).
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Tz> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(a, b) => a.min(b),
        LocalResult::None => {
            // Inside a gap: walk forward minute by minute to the first existing local time.
            // Real gaps are at most a day long (Samoa 2011), so this is bounded.
            let mut probe = local;
            for _ in 0..(2 * 24 * 60) {
                probe += TimeDelta::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t;
                }
            }
            // Unreachable for real timezones; fall back to reading the time as UTC.
            tz.from_utc_datetime(&local)
        }
    }
}

/// The exception that sets `action` on `date`: the schedule's own beats a `*` one.
pub fn exception_for(schedule: &Schedule, date: NaiveDate, action: Action) -> Option<&Exception> {
    let mut star = None;
    for e in &schedule.exceptions {
        if e.date == date && e.action == action {
            if e.schedule == schedule.name {
                return Some(e);
            }
            if star.is_none() {
                star = Some(e);
            }
        }
    }
    star
}

fn event(
    schedule: &Schedule,
    date: NaiveDate,
    time: NaiveTime,
    action: Action,
    source: Source,
) -> Event {
    let local = resolve_local(schedule.timezone, date.and_time(time));
    Event {
        at: local.with_timezone(&Utc),
        action,
        local,
        date,
        requested: time,
        source,
    }
}

/// Every event that fires on a local date in `from..=to`, sorted by instant (a stop sorts
/// after a start at the same instant, so it wins).
pub fn events_between(schedule: &Schedule, from: NaiveDate, to: NaiveDate) -> Vec<Event> {
    let mut out = Vec::new();
    if to < from {
        return out;
    }
    let overnight = schedule.overnight();
    let day_before = from.pred_opt().unwrap_or(from);
    let mut date = day_before;
    while date <= to {
        let active = schedule.days.contains(date.weekday());

        // Start of `date`.
        let start_exception = exception_for(schedule, date, Action::Start);
        let start = match start_exception {
            Some(e) => e.time.map(|t| (t, Source::Exception(e.uuid.clone()))),
            None if active => schedule.start.map(|t| (t, Source::Schedule)),
            None => None,
        };
        if date >= from {
            if let Some((t, source)) = start {
                out.push(event(schedule, date, t, Action::Start, source));
            }
        }

        // Stop owned by `date`'s working day (fires on `date`, or the next day if overnight).
        let make_up = !active && start_exception.is_some_and(|e| e.time.is_some());
        if let (true, Some(stop)) = (active || make_up, schedule.stop) {
            let fires_on = if overnight {
                date.succ_opt()
            } else {
                Some(date)
            };
            if let Some(fires_on) = fires_on.filter(|d| *d >= from && *d <= to) {
                let source = match (make_up, start_exception) {
                    (true, Some(e)) => Source::MakeUpDay(e.uuid.clone()),
                    _ => Source::Schedule,
                };
                out.push(event(schedule, fires_on, stop, Action::Stop, source));
            }
        }
        match date.checked_add_days(ChronoDays::new(1)) {
            Some(next) => date = next,
            None => break,
        }
    }

    // Stop exceptions replace (or cancel) the stops that fire on their date, or add one.
    let mut date = from;
    while date <= to {
        if let Some(e) = exception_for(schedule, date, Action::Stop) {
            out.retain(|ev| !(ev.action == Action::Stop && ev.date == date));
            if let Some(t) = e.time {
                out.push(event(
                    schedule,
                    date,
                    t,
                    Action::Stop,
                    Source::Exception(e.uuid.clone()),
                ));
            }
        }
        match date.checked_add_days(ChronoDays::new(1)) {
            Some(next) => date = next,
            None => break,
        }
    }
    out.sort_by_key(|e| (e.at, e.action));
    out.dedup_by(|a, b| a.at == b.at && a.action == b.action);
    out
}

/// The local date of `now` in the schedule's timezone.
pub fn local_date(schedule: &Schedule, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&schedule.timezone).date_naive()
}

/// The latest event at or before `now`, looking back at most eight days. `None`: the
/// schedule has no opinion.
pub fn latest_event(schedule: &Schedule, now: DateTime<Utc>) -> Option<Event> {
    let today = local_date(schedule, now);
    let from = today
        .checked_sub_days(ChronoDays::new(LOOKBACK_DAYS))
        .unwrap_or(today);
    let horizon = now - TimeDelta::days(LOOKBACK_DAYS as i64);
    events_between(schedule, from, today)
        .into_iter()
        .rfind(|e| e.at <= now && e.at >= horizon)
}

/// The first event of type `action` strictly after `now`, within `within` of it.
pub fn next_event(
    schedule: &Schedule,
    now: DateTime<Utc>,
    action: Action,
    within: TimeDelta,
) -> Option<Event> {
    let today = local_date(schedule, now);
    let days = (within.num_days().max(0) as u64) + 2;
    let to = today
        .checked_add_days(ChronoDays::new(days))
        .unwrap_or(today);
    events_between(schedule, today, to)
        .into_iter()
        .find(|e| e.action == action && e.at > now && e.at - now <= within)
}

/// The instant local `date` begins in the schedule's timezone.
pub fn local_midnight(schedule: &Schedule, date: NaiveDate) -> DateTime<Utc> {
    resolve_local(schedule.timezone, date.and_time(NaiveTime::MIN)).with_timezone(&Utc)
}

/// The spans in the running phase between the starts of local dates `from` and `to`, as the
/// schedule's events (after exceptions and DST) say. A disabled schedule, or one with no
/// event yet, leaves its resources as they are: the whole span counts as running.
pub fn running_windows(
    schedule: &Schedule,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let start = local_midnight(schedule, from);
    let end = local_midnight(schedule, to);
    if !schedule.enabled {
        return vec![(start, end)];
    }
    let mut running = latest_event(schedule, start).is_none_or(|e| e.action == Action::Start);
    let mut since = start;
    let mut out = Vec::new();
    let last_day = to.pred_opt().unwrap_or(to);
    for e in events_between(schedule, from, last_day) {
        if e.at <= start || e.at >= end {
            continue;
        }
        let now_running = e.action == Action::Start;
        if running && !now_running && e.at > since {
            out.push((since, e.at));
        }
        if !running && now_running {
            since = e.at;
        }
        running = now_running;
    }
    if running && end > since {
        out.push((since, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{validate, Defaults, RawConfig};

    fn schedule(fields: &str, exceptions: &str) -> Schedule {
        let yaml = format!(
            "schedules:\n  - {{ScheduleName: s, TagValue: s, {fields}}}\nexceptions:\n{exceptions}"
        );
        let raw = RawConfig::parse(&yaml, "test").expect("test yaml parses");
        let config = validate(&raw, &Defaults::default());
        assert!(config.errors.is_empty(), "{:?}", config.errors);
        config.schedules.into_iter().next().expect("one schedule")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    fn latest(s: &Schedule, now: &str) -> Option<(String, Action)> {
        latest_event(s, at(now)).map(|e| (e.local.format("%Y-%m-%d %H:%M").to_string(), e.action))
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
    }

    const OFFICE: &str =
        "DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul";
    const NIGHT: &str =
        "DaysActive: weekdays, StartTime: '22:00', StopTime: '6:00', Timezone: Asia/Seoul";
    // 2026-11-23 is a Monday.
    const HOLIDAY: &str = "  - {ExceptionUuid: h, ScheduleName: '*', ExceptionDate: '2026-11-25', ExceptionType: start, ExceptionValue: None}\n";
    const OVERTIME: &str = "  - {ExceptionUuid: o, ScheduleName: s, ExceptionDate: '2026-11-26', ExceptionType: stop, ExceptionValue: '23:30'}\n";
    const MAKEUP: &str = "  - {ExceptionUuid: m, ScheduleName: s, ExceptionDate: '2026-11-28', ExceptionType: start, ExceptionValue: '10:00'}\n";
    const OWN_BEATS_STAR: &str = "  - {ExceptionUuid: a, ScheduleName: '*', ExceptionDate: '2026-11-24', ExceptionType: start, ExceptionValue: None}\n  - {ExceptionUuid: b, ScheduleName: s, ExceptionDate: '2026-11-24', ExceptionType: start, ExceptionValue: '11:00'}\n";
    const ADD_STOP: &str = "  - {ExceptionUuid: x, ScheduleName: s, ExceptionDate: '2026-11-24', ExceptionType: stop, ExceptionValue: '12:00'}\n";

    #[test]
    fn latest_event_table() {
        let s = |f: &str, e: &str| schedule(f, e);
        type Case<'a> = (&'a str, Schedule, &'a str, Option<(&'a str, Action)>);
        let cases: Vec<Case> = vec![
            ("monday morning", s(OFFICE, ""), "2026-11-23T09:05:00+09:00", Some(("2026-11-23 09:00", Action::Start))),
            ("exactly at start", s(OFFICE, ""), "2026-11-23T09:00:00+09:00", Some(("2026-11-23 09:00", Action::Start))),
            ("just before start", s(OFFICE, ""), "2026-11-23T08:59:59+09:00", Some(("2026-11-20 18:00", Action::Stop))),
            ("saturday", s(OFFICE, ""), "2026-11-28T12:00:00+09:00", Some(("2026-11-27 18:00", Action::Stop))),
            ("overnight friday night", s(NIGHT, ""), "2026-11-28T05:00:00+09:00", Some(("2026-11-27 22:00", Action::Start))),
            ("overnight saturday morning", s(NIGHT, ""), "2026-11-28T07:00:00+09:00", Some(("2026-11-28 06:00", Action::Stop))),
            ("overnight monday early: no sunday window", s(NIGHT, ""), "2026-11-23T07:00:00+09:00", Some(("2026-11-21 06:00", Action::Stop))),
            ("start only", s("StartTime: '08:00'", ""), "2026-11-23T07:00:00+09:00", Some(("2026-11-22 08:00", Action::Start))),
            ("stop only", s("StopTime: '20:00', DaysActive: 'mon,wed'", ""), "2026-11-24T21:00:00+09:00", Some(("2026-11-23 20:00", Action::Stop))),
            ("no times: no opinion", s("DaysActive: all", ""), "2026-11-24T21:00:00+09:00", None),
            ("holiday cancels start", s(OFFICE, HOLIDAY), "2026-11-25T10:00:00+09:00", Some(("2026-11-24 18:00", Action::Stop))),
            ("holiday's stop still fires", s(OFFICE, HOLIDAY), "2026-11-25T19:00:00+09:00", Some(("2026-11-25 18:00", Action::Stop))),
            ("overtime moves stop", s(OFFICE, OVERTIME), "2026-11-26T22:00:00+09:00", Some(("2026-11-26 09:00", Action::Start))),
            ("overtime stop fires", s(OFFICE, OVERTIME), "2026-11-26T23:31:00+09:00", Some(("2026-11-26 23:30", Action::Stop))),
            ("make-up saturday starts", s(OFFICE, MAKEUP), "2026-11-28T10:30:00+09:00", Some(("2026-11-28 10:00", Action::Start))),
            ("make-up saturday stops at StopTime", s(OFFICE, MAKEUP), "2026-11-28T18:30:00+09:00", Some(("2026-11-28 18:00", Action::Stop))),
            ("own exception beats star", s(OFFICE, OWN_BEATS_STAR), "2026-11-24T10:30:00+09:00", Some(("2026-11-23 18:00", Action::Stop))),
            ("own exception time used", s(OFFICE, OWN_BEATS_STAR), "2026-11-24T11:00:00+09:00", Some(("2026-11-24 11:00", Action::Start))),
            ("stop exception adds a stop", s("StartTime: '09:00', DaysActive: weekdays", ADD_STOP), "2026-11-24T12:01:00+09:00", Some(("2026-11-24 12:00", Action::Stop))),
            ("lookback is eight days", s("StartTime: '09:00', DaysActive: mon", ""), "2026-12-02T10:00:00+09:00", Some(("2026-11-30 09:00", Action::Start))),
            ("nothing within eight days", s("StartTime: '09:00', DaysActive: mon", "  - {ExceptionUuid: z, ScheduleName: s, ExceptionDate: '2026-11-30', ExceptionType: start, ExceptionValue: None}\n"), "2026-12-06T10:00:00+09:00", None),
        ];
        for (name, s, now, expected) in cases {
            let got = latest(&s, now);
            let expected = expected.map(|(t, a)| (t.to_string(), a));
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn spring_forward_gap_fires_at_end_of_gap() {
        // GIVEN a 02:30 start in New York; 2026-03-08 02:00-03:00 does not exist.
        let s = schedule(
            "StartTime: '02:30', StopTime: '12:00', Timezone: America/New_York",
            "",
        );
        // WHEN listing that Sunday's events
        let events = events_between(&s, day("2026-03-08"), day("2026-03-08"));
        // THEN the start fires at 03:00 EDT (07:00 UTC), once.
        let starts: Vec<&Event> = events
            .iter()
            .filter(|e| e.action == Action::Start)
            .collect();
        assert_eq!(starts.len(), 1);
        assert_eq!(starts[0].at, at("2026-03-08T07:00:00Z"));
        assert_eq!(starts[0].local.format("%H:%M %Z").to_string(), "03:00 EDT");
        assert!(starts[0].shifted());
    }

    #[test]
    fn fall_back_repeated_time_fires_once_at_first_occurrence() {
        // 2026-11-01 01:00-02:00 happens twice in New York.
        let s = schedule(
            "StartTime: '01:30', StopTime: '12:00', Timezone: America/New_York",
            "",
        );
        let events = events_between(&s, day("2026-11-01"), day("2026-11-01"));
        let starts: Vec<&Event> = events
            .iter()
            .filter(|e| e.action == Action::Start)
            .collect();
        assert_eq!(starts.len(), 1);
        assert_eq!(
            starts[0].at,
            at("2026-11-01T05:30:00Z"),
            "first occurrence is EDT"
        );
        // A tick during the second 01:30 (EST) sees the same event, not a new one.
        let again = latest_event(&s, at("2026-11-01T06:30:00Z")).expect("event");
        assert_eq!(again.key(), starts[0].key());
    }

    #[test]
    fn overnight_window_crosses_midnight_and_dst() {
        // Europe/Berlin falls back on 2026-10-25 03:00 -> 02:00.
        let s = schedule(
            "StartTime: '22:00', StopTime: '02:30', Timezone: Europe/Berlin",
            "",
        );
        let events = events_between(&s, day("2026-10-24"), day("2026-10-25"));
        let stop = events
            .iter()
            .find(|e| e.action == Action::Stop && e.local.date_naive() == day("2026-10-25"))
            .expect("stop on the 25th");
        assert_eq!(
            stop.at,
            at("2026-10-25T00:30:00Z"),
            "02:30 CEST, the first one"
        );
    }

    #[test]
    fn next_stop_is_found_within_the_lead_time() {
        let s = schedule(OFFICE, OVERTIME);
        let ten = TimeDelta::minutes(10);
        let n = next_event(&s, at("2026-11-23T17:52:00+09:00"), Action::Stop, ten).expect("stop");
        assert_eq!(n.at, at("2026-11-23T18:00:00+09:00"));
        assert!(next_event(&s, at("2026-11-23T17:49:00+09:00"), Action::Stop, ten).is_none());
        assert!(
            next_event(&s, at("2026-11-23T18:00:00+09:00"), Action::Stop, ten).is_none(),
            "0 < stop - now"
        );
        assert!(
            next_event(&s, at("2026-11-26T17:55:00+09:00"), Action::Stop, ten).is_none(),
            "moved by overtime"
        );
    }

    #[test]
    fn events_are_sorted_and_unique() {
        let s = schedule(NIGHT, &format!("{HOLIDAY}{OVERTIME}{MAKEUP}"));
        let events = events_between(&s, day("2026-11-01"), day("2026-12-31"));
        for pair in events.windows(2) {
            assert!((pair[0].at, pair[0].action) < (pair[1].at, pair[1].action));
        }
    }
}
