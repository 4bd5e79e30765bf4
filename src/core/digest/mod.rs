//! The weekly digest of a schedule: when it is due (field `Digest`, until that local day ends), last week's hours avoided and dollars saved, and the coming week's exceptions and holidays.
//!
//! Pure: the caller gives `now`, the observed resources and the prices. A digest is due
//! from its weekday and local time (`Mon 09:00` in the schedule's timezone) until the end
//! of that local day: a late tick (09:04, or 11:00) still sends it, a digest that could
//! not go out that day is dropped rather than sent days late. Its identity is the
//! schedule and that local date, so the caller's once-marker makes it once a week.

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::core::config::{hm, Action, Config, Schedule};
use crate::core::planner::{scheduled_resources, Resource, TagKeys};
use crate::core::savings::{schedule_savings, Period, Prices, SavingsInputs, ScheduleSavings};
use crate::core::schedule::{exception_for, local_date, resolve_local};

/// Everything the digests of one tick look at.
pub struct DigestInputs<'a> {
    pub config: &'a Config,
    /// The tick's observation (every resource carrying the schedule tag).
    pub resources: &'a [Resource],
    pub tags: &'a TagKeys,
    pub prices: &'a Prices,
    /// The region of resources that do not name one.
    pub default_region: &'a str,
    pub now: DateTime<Utc>,
}

/// Seven local dates, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Week {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Week {
    fn starting(from: NaiveDate) -> Week {
        Week {
            from,
            to: from + Days::new(6),
        }
    }
}

/// One exception (or imported holiday) of the coming week, as it applies to the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upcoming {
    pub date: NaiveDate,
    pub action: Action,
    /// `HH:MM`, or `None` when the boundary is cancelled.
    pub time: Option<String>,
    /// The calendar an imported holiday came from (`ics:<calendar>:...` ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holiday: Option<String>,
    /// A `start` time on a day the schedule is not active: an extra working day.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub extra_day: bool,
    /// The ExceptionUuid.
    pub exception: String,
}

/// One schedule's weekly digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Digest {
    pub schedule: String,
    pub timezone: String,
    /// The local date it is due on: with the schedule, its once-a-week identity.
    pub date: NaiveDate,
    /// When it was due, in the schedule's timezone.
    pub due_at: DateTime<FixedOffset>,
    /// The seven local dates before `date`.
    pub last_week: Week,
    pub savings: ScheduleSavings,
    /// `date` and the six after it.
    pub next_week: Week,
    pub upcoming: Vec<Upcoming>,
}

/// When the digest of `schedule` that is due at `now` was due, if one is: on its `Digest`
/// weekday (local), from its time until that local day ends.
pub fn due(schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Tz>> {
    let at = schedule.digest?;
    let today = local_date(schedule, now);
    if today.weekday() != at.day {
        return None;
    }
    let moment = resolve_local(schedule.timezone, today.and_time(at.time));
    (moment.with_timezone(&Utc) <= now).then_some(moment)
}

/// The digests due at `inputs.now`, one per schedule with `Digest` on whose moment has come
/// today (local); the caller sends each once (see [`Digest::date`]).
pub fn due_digests(inputs: &DigestInputs<'_>) -> Vec<Digest> {
    let due: Vec<(&Schedule, DateTime<Tz>)> = inputs
        .config
        .schedules
        .iter()
        .filter_map(|s| Some((s, due(s, inputs.now)?)))
        .collect();
    if due.is_empty() {
        return Vec::new();
    }
    // Only the due schedules: their members in one pass over the observation.
    let sub = Config {
        schedules: due.iter().map(|(s, _)| (*s).clone()).collect(),
        ..Config::default()
    };
    let members = scheduled_resources(&sub, inputs.resources, inputs.tags);
    sub.schedules
        .iter()
        .zip(members)
        .zip(due)
        .map(|((schedule, members), (_, at))| digest(schedule, &members, inputs, at))
        .collect()
}

/// The digest of `schedule` due at local moment `at`, with its `members` (resources of the
/// schedule in `inputs.resources`).
pub fn digest(
    schedule: &Schedule,
    members: &[&Resource],
    inputs: &DigestInputs<'_>,
    at: DateTime<Tz>,
) -> Digest {
    let date = at.date_naive();
    let last_week = Week::starting(date - Days::new(7));
    let savings = schedule_savings(
        schedule,
        members,
        &SavingsInputs {
            config: inputs.config,
            resources: inputs.resources,
            tags: inputs.tags,
            prices: inputs.prices,
            default_region: inputs.default_region,
            from: last_week.from,
            period: Period::Week,
        },
        date,
    );
    let next_week = Week::starting(date);
    Digest {
        schedule: schedule.name.clone(),
        timezone: schedule.timezone.name().to_string(),
        date,
        due_at: at.fixed_offset(),
        last_week,
        savings,
        next_week,
        upcoming: upcoming(schedule, next_week),
    }
}

/// The exceptions that apply to `schedule` on the dates of `week`, in date order, start
/// before stop (the schedule's own win over `*` ones, as in the timeline).
pub fn upcoming(schedule: &Schedule, week: Week) -> Vec<Upcoming> {
    let mut out = Vec::new();
    for date in week.from.iter_days().take_while(|d| *d <= week.to) {
        for action in [Action::Start, Action::Stop] {
            let Some(e) = exception_for(schedule, date, action) else {
                continue;
            };
            let holiday = e
                .uuid
                .strip_prefix("ics:")
                .and_then(|rest| rest.split(':').next())
                .map(String::from);
            out.push(Upcoming {
                date,
                action,
                time: e.time.map(hm),
                holiday,
                extra_day: action == Action::Start
                    && e.time.is_some()
                    && !schedule.days.contains(date.weekday()),
                exception: e.uuid.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
