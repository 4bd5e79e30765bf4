//! The chat command grammar: `parse`, the `Command` it yields, and the usage and help texts.

use chrono::{NaiveDate, NaiveTime, TimeDelta};

use super::Reply;
use crate::core::config::{parse_time, Action};

/// A day argument: a date, or `today`/`tomorrow` in the schedule's timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    Date(NaiveDate),
    Today,
    Tomorrow,
}

impl Day {
    pub(super) fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "today" => Ok(Self::Today),
            "tomorrow" => Ok(Self::Tomorrow),
            _ => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Self::Date)
                .map_err(|_| format!("'{text}' is not a date (YYYY-MM-DD, today or tomorrow)")),
        }
    }

    pub(super) fn resolve(self, today: NaiveDate) -> NaiveDate {
        match self {
            Self::Date(d) => d,
            Self::Today => today,
            Self::Tomorrow => today.succ_opt().unwrap_or(today),
        }
    }
}

/// The new stop of `extend`: a wall-clock time, or a delay after the current stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    At(NaiveTime),
    By(TimeDelta),
}

impl Extension {
    fn parse(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("'{text}' is not HH:MM, +Nh, +Nm or +NhMm (e.g. 23:00, +1h, +30m)");
        if let Some(rest) = text.strip_prefix('+') {
            let rest = rest.to_ascii_lowercase();
            let (hours, minutes) = match rest.split_once('h') {
                Some((h, m)) => (h, m.strip_suffix('m').unwrap_or(m)),
                None => ("0", rest.strip_suffix('m').ok_or_else(bad)?),
            };
            let hours: i64 = if hours.is_empty() {
                return Err(bad());
            } else {
                hours.parse().map_err(|_| bad())?
            };
            let minutes: i64 = if minutes.is_empty() {
                0
            } else {
                minutes.parse().map_err(|_| bad())?
            };
            let total = hours * 60 + minutes;
            if total <= 0 || total > 24 * 60 {
                return Err(format!("'{text}': extend by 1 minute to 24 hours"));
            }
            return Ok(Self::By(TimeDelta::minutes(total)));
        }
        match parse_time(text) {
            Ok(Some(t)) => Ok(Self::At(t)),
            _ => Err(bad()),
        }
    }
}

/// A parsed chat command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Status {
        schedule: String,
    },
    Info {
        schedule: String,
        day: Option<Day>,
    },
    ExceptionList {
        schedule: String,
    },
    ExceptionSet {
        schedule: String,
        date: NaiveDate,
        action: Action,
        time: Option<NaiveTime>,
    },
    ExceptionDel {
        uuid: String,
    },
    Extend {
        schedule: String,
        to: Extension,
    },
    Skip {
        schedule: String,
        day: Option<Day>,
    },
    Start {
        schedule: String,
    },
    Stop {
        schedule: String,
    },
}

impl Command {
    /// True for commands that change something (their replies are shown to the channel).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            Self::Help | Self::Status { .. } | Self::Info { .. } | Self::ExceptionList { .. }
        )
    }
}

const USAGE: &[(&str, &str)] = &[
    ("help", "this list"),
    ("status <schedule>", "resources and their states, by group"),
    (
        "info <schedule> [YYYY-MM-DD]",
        "that day's start and stop, after exceptions (default today)",
    ),
    ("exception list <schedule>", "upcoming exceptions"),
    (
        "exception set <schedule|*> <YYYY-MM-DD> <start|stop> <HH:MM|None>",
        "move or cancel a start or stop on a date",
    ),
    ("exception del <uuid>", "delete an exception"),
    (
        "extend <schedule> <HH:MM|+Nh|+Nm>",
        "move today's stop later (or earlier)",
    ),
    (
        "skip <schedule> [YYYY-MM-DD]",
        "no start that day (default: today if its start is still ahead, else tomorrow)",
    ),
    (
        "start <schedule>",
        "start everything now, in dependency order (ForceStart)",
    ),
    (
        "stop <schedule>",
        "stop everything now, in reverse dependency order (ForceStop)",
    ),
];

fn usage(prefix: &str, name: &str) -> String {
    let line = USAGE
        .iter()
        .find(|(u, _)| u.starts_with(name))
        .map(|(u, _)| *u)
        .unwrap_or("help");
    format!("usage: {prefix} {line}")
}

/// Parses the text after the command name. `Err` is the message to show.
pub fn parse(text: &str, prefix: &str) -> std::result::Result<Command, String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first) = words.first() else {
        return Ok(Command::Help);
    };
    let verb = first.to_ascii_lowercase();
    let args = &words[1..];
    match verb.as_str() {
        "help" | "?" => Ok(Command::Help),
        "status" => {
            schedule_only(args, prefix, "status").map(|schedule| Command::Status { schedule })
        }
        "info" => schedule_and_day(args, prefix, "info")
            .map(|(schedule, day)| Command::Info { schedule, day }),
        "exception" | "exceptions" => parse_exception(args, prefix),
        "extend" => parse_extend(args, prefix),
        "skip" => schedule_and_day(args, prefix, "skip")
            .map(|(schedule, day)| Command::Skip { schedule, day }),
        "start" => schedule_only(args, prefix, "start").map(|schedule| Command::Start { schedule }),
        "stop" => schedule_only(args, prefix, "stop").map(|schedule| Command::Stop { schedule }),
        other => Err(format!("unknown command '{other}'. Try `{prefix} help`.")),
    }
}

/// `<schedule>`: exactly one argument.
fn schedule_only(args: &[&str], prefix: &str, name: &str) -> std::result::Result<String, String> {
    if args.len() > 1 {
        return Err(usage(prefix, name));
    }
    args.first()
        .map(|s| s.to_string())
        .ok_or_else(|| usage(prefix, name))
}

/// `<schedule> [day]`.
fn schedule_and_day(
    args: &[&str],
    prefix: &str,
    name: &str,
) -> std::result::Result<(String, Option<Day>), String> {
    if args.len() > 2 {
        return Err(usage(prefix, name));
    }
    let schedule = args
        .first()
        .map(|s| s.to_string())
        .ok_or_else(|| usage(prefix, name))?;
    let day = args.get(1).map(|d| Day::parse(d)).transpose()?;
    Ok((schedule, day))
}

/// `exception list|set|del ...`
fn parse_exception(args: &[&str], prefix: &str) -> std::result::Result<Command, String> {
    let sub = args.first().map(|s| s.to_ascii_lowercase());
    let args = args.get(1..).unwrap_or(&[]);
    match sub.as_deref() {
        Some("list" | "ls") => {
            if args.len() != 1 {
                return Err(usage(prefix, "exception list"));
            }
            Ok(Command::ExceptionList {
                schedule: args[0].to_string(),
            })
        }
        Some("set" | "add") => parse_exception_set(args, prefix),
        Some("del" | "delete" | "rm") => {
            let [uuid] = args else {
                return Err(usage(prefix, "exception del"));
            };
            Ok(Command::ExceptionDel {
                uuid: uuid.to_string(),
            })
        }
        _ => Err(format!(
            "{}\n{}\n{}",
            usage(prefix, "exception list"),
            usage(prefix, "exception set"),
            usage(prefix, "exception del")
        )),
    }
}

/// `exception set <schedule|*> <YYYY-MM-DD> <start|stop> <HH:MM|None>`
fn parse_exception_set(args: &[&str], prefix: &str) -> std::result::Result<Command, String> {
    let [schedule, date, kind, value] = args else {
        return Err(usage(prefix, "exception set"));
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| format!("'{date}' is not a date (YYYY-MM-DD)"))?;
    let action = match kind.to_ascii_lowercase().as_str() {
        "start" => Action::Start,
        "stop" => Action::Stop,
        _ => return Err(format!("'{kind}' is not start or stop")),
    };
    let time = parse_time(value)?;
    Ok(Command::ExceptionSet {
        schedule: schedule.to_string(),
        date,
        action,
        time,
    })
}

/// `extend <schedule> <HH:MM|+Nh|+Nm>`
fn parse_extend(args: &[&str], prefix: &str) -> std::result::Result<Command, String> {
    if args.len() != 2 {
        return Err(usage(prefix, "extend"));
    }
    Ok(Command::Extend {
        schedule: args[0].to_string(),
        to: Extension::parse(args[1])?,
    })
}

/// The help text.
pub fn help(prefix: &str) -> Reply {
    Reply::ok(
        "offhours commands",
        USAGE
            .iter()
            .map(|(u, what)| format!("`{prefix} {u}`: {what}"))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::fixtures::*;

    #[test]
    fn command_parsing_table() {
        let d = date;
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        let s = |x: &str| x.to_string();
        let cases: Vec<(&str, Command)> = vec![
            ("", Command::Help),
            ("help", Command::Help),
            ("status dev", Command::Status { schedule: s("dev") }),
            (
                "info dev",
                Command::Info {
                    schedule: s("dev"),
                    day: None,
                },
            ),
            (
                "info dev 2026-11-26",
                Command::Info {
                    schedule: s("dev"),
                    day: Some(Day::Date(d("2026-11-26"))),
                },
            ),
            (
                "info dev tomorrow",
                Command::Info {
                    schedule: s("dev"),
                    day: Some(Day::Tomorrow),
                },
            ),
            (
                "exception list dev",
                Command::ExceptionList { schedule: s("dev") },
            ),
            (
                "exception set dev 2026-11-26 stop 23:30",
                Command::ExceptionSet {
                    schedule: s("dev"),
                    date: d("2026-11-26"),
                    action: Action::Stop,
                    time: Some(t(23, 30)),
                },
            ),
            (
                "Exception SET * 2026-12-31 start None",
                Command::ExceptionSet {
                    schedule: s("*"),
                    date: d("2026-12-31"),
                    action: Action::Start,
                    time: None,
                },
            ),
            (
                "exception del 1b4e28ba",
                Command::ExceptionDel {
                    uuid: s("1b4e28ba"),
                },
            ),
            (
                "extend dev +1h",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::By(TimeDelta::hours(1)),
                },
            ),
            (
                "extend dev +30m",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::By(TimeDelta::minutes(30)),
                },
            ),
            (
                "extend dev +1h30m",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::By(TimeDelta::minutes(90)),
                },
            ),
            (
                "extend dev 23:15",
                Command::Extend {
                    schedule: s("dev"),
                    to: Extension::At(t(23, 15)),
                },
            ),
            (
                "skip dev",
                Command::Skip {
                    schedule: s("dev"),
                    day: None,
                },
            ),
            (
                "skip dev 2026-11-24",
                Command::Skip {
                    schedule: s("dev"),
                    day: Some(Day::Date(d("2026-11-24"))),
                },
            ),
            ("start dev", Command::Start { schedule: s("dev") }),
            ("  STOP   dev ", Command::Stop { schedule: s("dev") }),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text, "/offhours"), Ok(expected), "{text:?}");
        }
        let errors: &[(&str, &str)] = &[
            (
                "reboot dev",
                "unknown command 'reboot'. Try `/offhours help`.",
            ),
            ("status", "usage: /offhours status <schedule>"),
            ("status dev extra", "usage: /offhours status <schedule>"),
            ("extend dev", "usage: /offhours extend"),
            ("extend dev soon", "'soon' is not HH:MM, +Nh, +Nm"),
            ("extend dev +0m", "extend by 1 minute to 24 hours"),
            ("extend dev +25h", "extend by 1 minute to 24 hours"),
            ("extend dev 24:00", "'24:00' is not HH:MM"),
            ("info dev 2026-13-01", "'2026-13-01' is not a date"),
            (
                "exception set dev 2026-11-26 later 10:00",
                "'later' is not start or stop",
            ),
            (
                "exception set dev 26/11 stop 10:00",
                "'26/11' is not a date",
            ),
            (
                "exception set dev 2026-11-26 stop 7pm",
                "'7pm' is not a time",
            ),
            (
                "exception set dev 2026-11-26 stop",
                "usage: /offhours exception set",
            ),
            ("exception frobnicate", "usage: /offhours exception list"),
            ("skip", "usage: /offhours skip"),
        ];
        for (text, expected) in errors {
            match parse(text, "/offhours") {
                Err(e) => assert!(e.contains(expected), "{text:?}: {e}"),
                Ok(c) => panic!("{text:?} parsed as {c:?}"),
            }
        }
    }
}
