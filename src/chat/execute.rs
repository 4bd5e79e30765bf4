//! Running parsed commands against the `CommandStore`: `execute`, and one step per command.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde_json::Value;

use super::query::{exception_list, info, status};
use super::reply::weekday_date;
use super::{help, refusal, Command, Day, Extension, Permission, Reply};
use crate::core::config::{hm, validate, Action, Config, Item, RawConfig, Schedule};
use crate::core::schedule::{events_between, local_date, next_event, resolve_local};
use crate::error::Result;
use crate::ports::{CommandStore, Settings};

/// Runs a parsed command against the store for a caller holding `granted` (the caller of
/// [`handle`] checked [`required`] already; an `exception del` of a `*` exception is
/// checked here, once the item is read).
pub async fn execute<S: CommandStore>(
    command: &Command,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    prefix: &str,
    granted: Permission,
) -> Reply {
    match run(command, now, store, settings, prefix, granted).await {
        Ok(reply) => reply,
        Err(e) => Reply::failed(&e),
    }
}

/// The loaded config, and the schedule a command names (or a reply explaining why not).
struct Loaded {
    raw: RawConfig,
    config: Config,
}

impl Loaded {
    fn schedule(&self, name: &str) -> std::result::Result<&Schedule, Reply> {
        if let Some(s) = self.config.schedule(name) {
            return Ok(s);
        }
        let errors: Vec<String> = self
            .config
            .errors
            .iter()
            .filter(|p| p.schedule == name)
            .map(|p| p.message.clone())
            .collect();
        if !errors.is_empty() {
            let mut r = Reply::error(format!(
                "schedule '{name}' has configuration errors and is skipped until they are fixed"
            ));
            r.lines = errors;
            return Err(r);
        }
        let known: Vec<&str> = self
            .config
            .schedules
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        Err(Reply::error(format!(
            "unknown schedule '{name}'. Schedules: {}",
            if known.is_empty() {
                "(none)".to_string()
            } else {
                known.join(", ")
            }
        )))
    }

    /// ExceptionUuids of items that set the same boundary as (schedule, date, action).
    fn clashing(&self, schedule: &str, date: NaiveDate, action: Action) -> Vec<String> {
        let field = |item: &Item, name: &str| {
            item.get(name)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        self.raw
            .exceptions
            .iter()
            .filter(|e| {
                field(e, "ScheduleName") == schedule
                    && field(e, "ExceptionDate") == date.to_string()
                    && field(e, "ExceptionType").eq_ignore_ascii_case(action.as_str())
            })
            .map(|e| field(e, "ExceptionUuid"))
            .filter(|u| !u.is_empty())
            .collect()
    }
}

async fn load<S: CommandStore>(store: &S, settings: &Settings) -> Result<Loaded> {
    let raw = store.load_config().await?;
    let config = validate(&raw, &settings.defaults);
    Ok(Loaded { raw, config })
}

/// The ScheduleException item a command writes.
pub fn exception_item(
    uuid: &str,
    schedule: &str,
    date: NaiveDate,
    action: Action,
    time: Option<NaiveTime>,
) -> Item {
    let mut item = Item::new();
    item.insert("ExceptionUuid".into(), uuid.into());
    item.insert("ScheduleName".into(), schedule.into());
    item.insert("ExceptionDate".into(), date.to_string().into());
    item.insert("ExceptionType".into(), action.as_str().into());
    item.insert(
        "ExceptionValue".into(),
        time.map(hm).unwrap_or_else(|| "None".into()).into(),
    );
    item
}

/// Writes an exception and removes the items it replaces (same schedule, date and type).
async fn replace_exception<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    date: NaiveDate,
    action: Action,
    time: Option<NaiveTime>,
) -> Result<String> {
    let old = loaded.clashing(schedule, date, action);
    let uuid = uuid::Uuid::new_v4().to_string();
    store
        .put_exception(&exception_item(&uuid, schedule, date, action, time))
        .await?;
    for u in old {
        store.delete_exception(&u).await?;
    }
    Ok(uuid)
}

async fn run<S: CommandStore>(
    command: &Command,
    now: DateTime<Utc>,
    store: &S,
    settings: &Settings,
    prefix: &str,
    granted: Permission,
) -> Result<Reply> {
    match command {
        Command::Help => return Ok(help(prefix)),
        Command::ExceptionDel { uuid } => return delete_exception(store, uuid, granted).await,
        _ => {}
    }
    let loaded = load(store, settings).await?;
    match command {
        // Answered above, without loading the config.
        Command::Help | Command::ExceptionDel { .. } => Ok(help(prefix)),
        Command::Status { schedule } => run_status(store, &loaded, schedule, now, settings).await,
        Command::Info { schedule, day } => Ok(run_info(&loaded, schedule, *day, now)),
        Command::ExceptionList { schedule } => Ok(run_exception_list(&loaded, schedule, now)),
        Command::ExceptionSet {
            schedule,
            date,
            action,
            time,
        } => run_exception_set(store, &loaded, schedule, *date, *action, *time).await,
        Command::Extend { schedule, to } => run_extend(store, &loaded, schedule, *to, now).await,
        Command::Skip { schedule, day } => {
            run_skip(store, &loaded, schedule, *day, now, prefix).await
        }
        Command::Start { schedule } => run_force(store, &loaded, schedule, Action::Start).await,
        Command::Stop { schedule } => run_force(store, &loaded, schedule, Action::Stop).await,
    }
}

/// `exception del`: reads the exceptions only to refuse deleting a `*` one without `Admin`.
async fn delete_exception<S: CommandStore>(
    store: &S,
    uuid: &str,
    granted: Permission,
) -> Result<Reply> {
    if granted < Permission::Admin {
        let raw = store.load_config().await?;
        let every_schedule = raw.exceptions.iter().any(|e| {
            e.get("ExceptionUuid")
                .and_then(Value::as_str)
                .map(str::trim)
                == Some(uuid)
                && e.get("ScheduleName").and_then(Value::as_str).map(str::trim) == Some("*")
        });
        if every_schedule {
            return Ok(refusal(Permission::Admin));
        }
    }
    Ok(if store.delete_exception(uuid).await? {
        Reply::ok(format!("exception {uuid} deleted"), Vec::new())
    } else {
        Reply::error(format!("no exception with id {uuid}"))
    })
}

async fn run_status<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Result<Reply> {
    let s = match loaded.schedule(schedule) {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let resources = store.observe().await?;
    Ok(status(s, &resources, now, settings))
}

fn run_info(loaded: &Loaded, schedule: &str, day: Option<Day>, now: DateTime<Utc>) -> Reply {
    match loaded.schedule(schedule) {
        Ok(s) => info(s, day.map(|d| d.resolve(local_date(s, now))), now),
        Err(r) => r,
    }
}

fn run_exception_list(loaded: &Loaded, schedule: &str, now: DateTime<Utc>) -> Reply {
    match loaded.schedule(schedule) {
        Ok(s) => exception_list(s, local_date(s, now)),
        Err(r) => r,
    }
}

async fn run_exception_set<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    date: NaiveDate,
    action: Action,
    time: Option<NaiveTime>,
) -> Result<Reply> {
    if schedule != "*" {
        if let Err(r) = loaded.schedule(schedule) {
            return Ok(r);
        }
    }
    let uuid = replace_exception(store, loaded, schedule, date, action, time).await?;
    let what = match time {
        Some(t) => format!("{action} moved to {}", hm(t)),
        None => format!("no {action}"),
    };
    let whom = if schedule == "*" {
        "every schedule".to_string()
    } else {
        schedule.to_string()
    };
    Ok(Reply::ok(
        format!("{whom}: {what} on {}", weekday_date(date)),
        vec![format!("exception id: `{uuid}`")],
    ))
}

async fn run_extend<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    to: Extension,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let s = match loaded.schedule(schedule) {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let ext = match plan_extend(s, to, now) {
        Err(message) => return Ok(Reply::error(message)),
        Ok(ext) => ext,
    };
    let unchanged = ext.from == Some(ext.time);
    if !unchanged {
        let time = Some(ext.time);
        replace_exception(store, loaded, &s.name, ext.date, Action::Stop, time).await?;
    }
    let mut lines = Vec::new();
    if let (Extension::By(_), Some(scheduled)) = (to, ext.scheduled) {
        lines.push(format!(
            "Counted from the scheduled stop ({}): sending it again changes nothing.",
            hm(scheduled)
        ));
    }
    if s.warn_minutes > 0 && !unchanged {
        lines.push(format!(
            "A new warning comes {} minutes before the new stop.",
            s.warn_minutes
        ));
    }
    let (day, to_time) = (weekday_date(ext.date), hm(ext.time));
    let title = match ext.from {
        Some(_) if unchanged => {
            format!("{}: stop on {day} stays at {to_time} {}", s.name, ext.zone)
        }
        Some(f) => format!(
            "{}: stop on {day} moved from {} to {to_time} {}",
            s.name,
            hm(f),
            ext.zone
        ),
        None => format!(
            "{}: stop on {day} moved (there was none) to {to_time} {}",
            s.name, ext.zone
        ),
    };
    Ok(Reply::ok(title, lines))
}

async fn run_skip<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    day: Option<Day>,
    now: DateTime<Utc>,
    prefix: &str,
) -> Result<Reply> {
    let s = match loaded.schedule(schedule) {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let today = local_date(s, now);
    let date = match day {
        Some(d) => d.resolve(today),
        None => default_skip_date(s, now),
    };
    if date < today {
        return Ok(Reply::error(format!(
            "{} is in the past in {}",
            date,
            s.timezone.name()
        )));
    }
    let had_start = events_between(s, date, date)
        .iter()
        .any(|e| e.action == Action::Start);
    replace_exception(store, loaded, &s.name, date, Action::Start, None).await?;
    let mut lines = Vec::new();
    if !had_start {
        lines.push("(that day had no start anyway)".to_string());
    }
    lines.push(format!(
        "Undo: `{prefix} exception list {}` and `{prefix} exception del <id>`",
        s.name
    ));
    Ok(Reply::ok(
        format!("{}: no start on {}", s.name, weekday_date(date)),
        lines,
    ))
}

/// `start` / `stop`: sets the schedule's force flag for the next tick.
async fn run_force<S: CommandStore>(
    store: &S,
    loaded: &Loaded,
    schedule: &str,
    action: Action,
) -> Result<Reply> {
    let s = match loaded.schedule(schedule) {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    let flag = action.force_field();
    let how = match action {
        Action::Start => "starts every resource in dependency order",
        Action::Stop => "stops every resource in reverse dependency order",
    };
    Ok(if store.set_force(&s.name, action).await? {
        Reply::ok(
            format!("{}: {flag} set", s.name),
            vec![format!(
                "The next tick (within 5 minutes) {how}; then the schedule continues from its next boundary."
            )],
        )
    } else {
        Reply::error(format!(
            "schedule '{}' is not in the Schedule table",
            s.name
        ))
    })
}

/// Today if its start is still ahead, else tomorrow (local dates of the schedule).
pub fn default_skip_date(s: &Schedule, now: DateTime<Utc>) -> NaiveDate {
    let today = local_date(s, now);
    let start_ahead = events_between(s, today, today)
        .iter()
        .any(|e| e.action == Action::Start && e.at > now);
    if start_ahead {
        today
    } else {
        today.checked_add_days(Days::new(1)).unwrap_or(today)
    }
}

/// Where `extend` moves the stop to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendPlan {
    /// Local date of the stop exception.
    pub date: NaiveDate,
    pub time: NaiveTime,
    /// The stop it replaces (local wall-clock, exceptions applied), if there was one.
    pub from: Option<NaiveTime>,
    /// The schedule's own stop that day (StopTime, no stop exception applied), which a
    /// delay (`+1h`) counts from.
    pub scheduled: Option<NaiveTime>,
    /// Timezone abbreviation for the reply.
    pub zone: String,
}

/// Pure: the stop exception that moves the next stop (within 24 h; else today's) as asked.
/// A delay (`+1h`) counts from that day's *scheduled* stop (the schedule's StopTime in its
/// timezone, ignoring stop exceptions, an earlier `extend` included), so sending the same
/// command twice gives the same stop; a time (`21:30`) is absolute. Refuses a new stop in
/// the past, one past midnight (an exception moves a stop within its date), and a delay
/// on a day whose only stop comes from an exception.
pub fn plan_extend(
    s: &Schedule,
    to: Extension,
    now: DateTime<Utc>,
) -> std::result::Result<ExtendPlan, String> {
    let next = next_event(s, now, Action::Stop, TimeDelta::hours(24));
    let tz = s.timezone;
    let date = next
        .as_ref()
        .map(|b| b.date)
        .unwrap_or_else(|| local_date(s, now));
    let scheduled = scheduled_stop(s, date);
    let time = match to {
        Extension::By(delta) => {
            let Some(base) = &scheduled else {
                return Err(match &next {
                    None => format!(
                        "{} has no stop in the next 24 hours to extend; use `extend {} HH:MM` to add one today",
                        s.name, s.name
                    ),
                    Some(_) => format!(
                        "{} has no scheduled stop on {date} to count from (its stop that day comes from an exception); use `extend {} HH:MM`",
                        s.name, s.name
                    ),
                });
            };
            let moved = base.local + delta;
            if moved.date_naive() != base.date {
                return Err(format!(
                    "{} would be past midnight; extend moves the stop within {}. To keep running overnight: `exception set {} {} stop None`",
                    moved.format("%Y-%m-%d %H:%M"),
                    base.date,
                    s.name,
                    base.date
                ));
            }
            moved.time().with_second(0).unwrap_or(moved.time())
        }
        Extension::At(t) => t,
    };
    let fires = resolve_local(tz, date.and_time(time));
    if fires.with_timezone(&Utc) <= now {
        return Err(format!(
            "{} {} is in the past; the stop must be later than now ({} {})",
            date,
            hm(time),
            now.with_timezone(&tz).format("%H:%M"),
            tz.name()
        ));
    }
    Ok(ExtendPlan {
        date,
        time,
        from: next.as_ref().map(|b| b.local.time()),
        scheduled: scheduled.map(|b| b.requested),
        zone: fires.format("%Z").to_string(),
    })
}

/// The schedule's own stop on local `date`: its StopTime with every stop exception of
/// that date left out (start exceptions stay: a make-up day stops at the usual time).
fn scheduled_stop(s: &Schedule, date: NaiveDate) -> Option<crate::core::schedule::Event> {
    let mut bare = s.clone();
    bare.exceptions
        .retain(|e| !(e.action == Action::Stop && e.date == date));
    events_between(&bare, date, date)
        .into_iter()
        .find(|e| e.action == Action::Stop && e.date == date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::fixtures::*;
    use crate::chat::{handle, ChatRequest};

    #[tokio::test]
    async fn unverified_requests_get_401_and_change_nothing() {
        let now = at("2026-11-23T12:50:00Z");
        let requests = [
            slack_request("stop dev", now, "other-secret"),
            slack_request("stop dev", now - TimeDelta::minutes(6), SECRET),
            jandi_request("/offhours stop dev", "wrong"),
            jandi_request("/offhours extend dev +1h", ""),
            ChatRequest {
                headers: vec![],
                body: "hello".into(),
            },
        ];
        for request in requests {
            let store = store();
            let before = store.snapshot().expect("snapshot");
            let r = handle(&request, now, &store, &settings(), &secrets()).await;
            assert_eq!(r.status, 401, "{request:?}");
            assert!(!r.body.contains(SECRET) && !r.body.contains(TOKEN));
            assert_eq!(store.snapshot().expect("snapshot"), before);
        }
    }

    #[tokio::test]
    async fn unknown_and_broken_schedules_are_explained() {
        let now = at("2026-11-23T12:50:00Z");
        let store = store();
        let r = run_text(&store, "status prod", now).await;
        assert!(!r.ok);
        assert_eq!(r.title, "unknown schedule 'prod'. Schedules: dev");
        let r = run_text(&store, "extend broken +1h", now).await;
        assert!(
            r.title
                .contains("schedule 'broken' has configuration errors"),
            "{r:?}"
        );
        assert!(r.lines.iter().any(|l| l.contains("StartTime")), "{r:?}");
        let r = run_text(&store, "exception del nope", now).await;
        assert_eq!(r.title, "no exception with id nope");
    }

    #[tokio::test]
    async fn extend_writes_todays_stop_exception_and_replaces_an_older_one() {
        // GIVEN dev stops at 22:00 KST; it is 21:50 on Monday 2026-11-23.
        let now = at("2026-11-23T21:50:00+09:00");
        let store = store();
        // WHEN extending twice
        let first = run_text(&store, "extend dev +1h", now).await;
        assert!(first.ok, "{first:?}");
        assert_eq!(
            first.title,
            "dev: stop on 2026-11-23 (Mon) moved from 22:00 to 23:00 KST"
        );
        let second = run_text(&store, "extend dev 23:30", now).await;
        assert!(second.ok, "{second:?}");
        // THEN one stop exception for today remains, at 23:30.
        let raw = store.snapshot().expect("snapshot");
        let today: Vec<&Item> = raw
            .exceptions
            .iter()
            .filter(|e| e["ExceptionDate"] == "2026-11-23")
            .collect();
        assert_eq!(today.len(), 1, "{today:?}");
        assert_eq!(today[0]["ExceptionType"], "stop");
        assert_eq!(today[0]["ExceptionValue"], "23:30");
        assert_eq!(today[0]["ScheduleName"], "dev");
    }

    #[tokio::test]
    async fn extend_by_a_delay_twice_gives_the_same_stop() {
        // GIVEN dev stops at 22:00 KST; it is 21:50 on Monday 2026-11-23.
        let now = at("2026-11-23T21:50:00+09:00");
        let store = store();
        let stops = |store: &crate::ports::MemoryStore| -> Vec<String> {
            let raw = store.snapshot().expect("snapshot");
            raw.exceptions
                .iter()
                .filter(|e| e["ExceptionDate"] == "2026-11-23" && e["ExceptionType"] == "stop")
                .map(|e| e["ExceptionValue"].as_str().unwrap_or("?").to_string())
                .collect()
        };
        // WHEN `extend dev +1h` is sent, and sent again (a second later, and after 22:00)
        let first = run_text(&store, "extend dev +1h", now).await;
        assert_eq!(
            first.title,
            "dev: stop on 2026-11-23 (Mon) moved from 22:00 to 23:00 KST"
        );
        let after_first = store.snapshot().expect("snapshot");
        for later in ["2026-11-23T21:50:01+09:00", "2026-11-23T22:10:00+09:00"] {
            let again = run_text(&store, "extend dev +1h", at(later)).await;
            // THEN the stop stays at 23:00, the reply says so, and nothing is written
            assert!(again.ok, "{again:?}");
            assert_eq!(
                again.title,
                "dev: stop on 2026-11-23 (Mon) stays at 23:00 KST"
            );
            assert!(
                again.lines[0].contains("Counted from the scheduled stop (22:00)"),
                "{again:?}"
            );
            assert_eq!(store.snapshot().expect("snapshot"), after_first);
        }
        assert_eq!(stops(&store), ["23:00"]);
        // AND a time stays absolute, while a delay still counts from 22:00
        let absolute = run_text(&store, "extend dev 23:30", now).await;
        assert_eq!(
            absolute.title,
            "dev: stop on 2026-11-23 (Mon) moved from 23:00 to 23:30 KST"
        );
        assert_eq!(stops(&store), ["23:30"]);
        let delay = run_text(&store, "extend dev +30m", now).await;
        assert_eq!(
            delay.title,
            "dev: stop on 2026-11-23 (Mon) moved from 23:30 to 22:30 KST"
        );
        assert_eq!(stops(&store), ["22:30"]);
    }

    #[test]
    fn extend_plans_and_refusals() {
        let now = at("2026-11-23T21:50:00+09:00");
        let s = dev();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        let ok = plan_extend(&s, Extension::By(TimeDelta::minutes(90)), now).expect("ok");
        assert_eq!(
            (ok.date, ok.time, ok.from, ok.scheduled),
            (
                date("2026-11-23"),
                t(23, 30),
                Some(t(22, 0)),
                Some(t(22, 0))
            )
        );
        let past = plan_extend(&s, Extension::At(t(21, 0)), now);
        assert!(past.is_err_and(|e| e.contains("is in the past")));
        let midnight = plan_extend(&s, Extension::By(TimeDelta::hours(3)), now);
        assert!(midnight.is_err_and(|e| e.contains("past midnight") && e.contains("stop None")));
        // Saturday: no stop within 24 hours; a time adds one today, a delay cannot.
        let saturday = at("2026-11-28T12:00:00+09:00");
        assert!(plan_extend(&s, Extension::By(TimeDelta::hours(1)), saturday).is_err());
        let added = plan_extend(&s, Extension::At(t(18, 0)), saturday).expect("adds");
        assert_eq!((added.date, added.from), (date("2026-11-28"), None));
    }

    #[tokio::test]
    async fn skip_defaults_to_today_before_the_start_and_tomorrow_after() {
        let store = store();
        let early = at("2026-11-23T08:00:00+09:00");
        let r = run_text(&store, "skip dev", early).await;
        assert_eq!(r.title, "dev: no start on 2026-11-23 (Mon)");
        let late = at("2026-11-23T10:00:00+09:00");
        assert_eq!(default_skip_date(&dev(), late), date("2026-11-24"));
        let r = run_text(&store, "skip dev", late).await;
        assert_eq!(r.title, "dev: no start on 2026-11-24 (Tue)");
        let raw = store.snapshot().expect("snapshot");
        assert!(raw
            .exceptions
            .iter()
            .any(|e| e["ExceptionDate"] == "2026-11-24"
                && e["ExceptionType"] == "start"
                && e["ExceptionValue"] == "None"));
        let r = run_text(&store, "skip dev 2026-11-01", late).await;
        assert!(!r.ok && r.title.contains("in the past"), "{r:?}");
        let r = run_text(&store, "skip dev 2026-11-28", late).await;
        assert!(
            r.lines.iter().any(|l| l.contains("no start anyway")),
            "{r:?}"
        );
    }

    #[tokio::test]
    async fn exception_list_set_and_del() {
        let store = store();
        let now = at("2026-11-23T12:00:00+09:00");
        let r = run_text(&store, "exception list dev", now).await;
        assert_eq!(
            r.lines,
            [
                "2026-12-25 (Fri) start None (all schedules): `xmas`",
                "(1 past exception(s) not shown)"
            ]
        );
        let set = run_text(&store, "exception set dev 2026-11-26 stop 23:00", now).await;
        assert!(set.ok, "{set:?}");
        let id = set.lines[0]
            .trim_start_matches("exception id: `")
            .trim_end_matches('`')
            .to_string();
        let r = run_text(&store, "exception list dev", now).await;
        assert!(r.lines[0].contains(&id), "{r:?}");
        let del = run_text(&store, &format!("exception del {id}"), now).await;
        assert!(del.ok, "{del:?}");
        let r = run_text(&store, "exception set prod 2026-11-26 stop 23:00", now).await;
        assert!(!r.ok && r.title.contains("unknown schedule"), "{r:?}");
    }
}
