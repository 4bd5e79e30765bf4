//! What to say: chat messages built from a tick's report (warnings, transition summaries, alerts and all-clears), independent of any platform (the weekly digest's is in `digest`).

use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Value};

use crate::core::config::{Action, Problem, Schedule};
use crate::core::inert::plain;
use crate::core::plan::{Decision, Notice, Skipped, Step, StepStatus};

/// What a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    PreStopWarning,
    TransitionSummary,
    Alert,
    /// The weekly digest of a schedule (field `Digest`).
    WeeklyDigest,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreStopWarning => "pre_stop_warning",
            Self::TransitionSummary => "transition_summary",
            Self::Alert => "alert",
            Self::WeeklyDigest => "weekly_digest",
        }
    }
}

/// How loud a message is; decides its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    /// `#RRGGBB` colour of the message's side bar.
    pub fn color(self) -> &'static str {
        match self {
            Self::Info => "#2EB67D",
            Self::Warning => "#FAC11B",
            Self::Error => "#E01E5A",
        }
    }
}

/// A titled list of lines inside a message. Lines may hold `code` spans in backticks; every
/// other character is text, and user-controlled text goes in through [`plain`] (no backticks),
/// so each renderer can escape all of it for its markup (`core::inert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
}

/// A chat message, independent of the platform it is rendered for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub kind: MessageKind,
    pub severity: Severity,
    /// The schedule it is about (`*` for global problems).
    pub schedule: String,
    pub title: String,
    pub text: String,
    pub sections: Vec<Section>,
    /// The core value the message was built from, for the generic JSON event.
    pub data: Value,
}

impl Message {
    /// The whole message as plain text (fallback text, logs of tests).
    pub fn plain_text(&self) -> String {
        let mut out = format!("{}\n{}", self.title, self.text);
        for s in &self.sections {
            out.push_str(&format!("\n\n{}:", s.title));
            for l in &s.lines {
                out.push_str(&format!("\n{l}"));
            }
        }
        out
    }
}

/// Groups with more resources than this list them one per line (each platform's renderer
/// keeps as many lines as its size limit allows and counts the rest: "…and 37 more").
pub const INLINE_RESOURCES: usize = 5;

/// The pre-stop warning for one notice. `command` is the chat command prefix (`/offhours`).
pub fn warning_message(notice: &Notice, command: &str) -> Message {
    let stop = notice.stop_at;
    let zone = match notice.timezone.parse::<Tz>() {
        Ok(tz) => stop.with_timezone(&tz).format("%Z").to_string(),
        Err(_) => stop.format("UTC%:z").to_string(),
    };
    let hm = stop.format("%H:%M").to_string();
    let date = stop.format("%Y-%m-%d").to_string();
    let s = &plain(&notice.schedule);
    let n = notice.resources.len();
    let later = (stop + chrono::TimeDelta::hours(2))
        .format("%H:%M")
        .to_string();
    let mut postpone = vec![format!("`{command} extend {s} +1h`: stop one hour later")];
    if (stop + chrono::TimeDelta::hours(2)).date_naive() == stop.date_naive() {
        postpone.push(format!("`{command} extend {s} {later}`: stop at {later}"));
    }
    postpone.push(format!(
        "`{command} exception set {s} {date} stop None`: no stop on {date}"
    ));
    // Named by date: "tomorrow" is wrong when an overnight window stops after midnight.
    if let Some(start) = notice.next_start {
        let day = start.format("%Y-%m-%d");
        let weekday = start.format("%a");
        postpone.push(format!(
            "`{command} skip {s} {day}`: no start on {weekday} {day} (the next start, {})",
            start.format("%H:%M")
        ));
    }
    Message {
        kind: MessageKind::PreStopWarning,
        severity: Severity::Warning,
        schedule: notice.schedule.clone(),
        title: format!("{s} stops at {hm} {zone} (in {} min)", notice.minutes_left),
        text: format!(
            "{n} resource(s) of schedule {s} will be stopped at {hm} {zone} on {date} ({}).",
            notice.timezone
        ),
        sections: vec![
            Section {
                title: "Will stop".into(),
                lines: notice.resources.iter().map(plain).collect(),
            },
            Section {
                title: "To postpone".into(),
                lines: postpone,
            },
        ],
        data: serde_json::to_value(notice).unwrap_or(Value::Null),
    }
}

/// A step as lines: `1. API: start done: a, b` for a short group; for a long one, that
/// line with the count, then one resource per line.
fn step_lines(i: usize, step: &Step) -> Vec<String> {
    let group = if step.group.is_empty() {
        "(ungrouped)".to_string()
    } else {
        plain(&step.group)
    };
    let mut line = format!(
        "{}. {group}: {} {}",
        i + 1,
        step.action,
        step.status.as_str()
    );
    if step.status == StepStatus::Blocked && !step.waiting_on.is_empty() {
        line.push_str(&format!(
            " (waiting on {})",
            plain(step.waiting_on.join(", "))
        ));
    }
    let resources = step.resources.iter().map(plain);
    if step.resources.len() > INLINE_RESOURCES {
        line.push_str(&format!(" ({} resources):", step.resources.len()));
        return std::iter::once(line)
            .chain(resources.map(|r| format!("    {r}")))
            .collect();
    }
    let resources = resources.collect::<Vec<_>>().join(", ");
    if !resources.is_empty() {
        line.push_str(&format!(": {resources}"));
    }
    vec![line]
}

/// Whether a step failed or left failures behind.
pub(super) fn failed(step: &Step) -> bool {
    step.status == StepStatus::Failed || !step.failures.is_empty()
}

/// The summary of one schedule's transition from the steps handled this tick, in order.
/// When this tick ran no step (the work was done by earlier ticks), the schedule's groups
/// are listed in the order they were handled.
pub fn transition_message(
    decision: &Decision,
    steps: &[&Step],
    schedule: Option<&Schedule>,
) -> Message {
    let s = &plain(&decision.schedule);
    let action = decision.transition.unwrap_or(Action::Stop);
    let verb = match action {
        Action::Start => "started",
        Action::Stop => "stopped",
    };
    let failures: Vec<String> = steps
        .iter()
        .flat_map(|st| {
            st.failures.iter().map(move |f| {
                // With several accounts, the resource with its account and region.
                let who = match &f.account {
                    Some(account) => {
                        format!("{} ({account} {})", f.id, f.region.as_deref().unwrap_or(""))
                    }
                    None => f.id.clone(),
                };
                plain(format!("{who} ({}): {}", group_label(st), f.message))
            })
        })
        .collect();
    let stalled = steps.iter().any(|st| failed(st));
    let (severity, title, text) = if stalled {
        (
            Severity::Error,
            format!("{s}: {} held back by failures", action.as_str()),
            format!(
                "Some resources of {s} could not be {verb}; they are retried at the next tick, and groups that depend on them wait."
            ),
        )
    } else if decision.complete {
        (
            Severity::Info,
            format!("{s}: {verb}"),
            format!("Every resource of {s} is {}.", end_state(action)),
        )
    } else {
        (
            Severity::Info,
            format!("{s}: {} in progress", action.as_str()),
            "The rest continues at the next tick.".to_string(),
        )
    };
    let lines = if decision.complete && !stalled {
        finished_lines(action, steps, schedule)
    } else {
        steps
            .iter()
            .enumerate()
            .flat_map(|(i, st)| step_lines(i, st))
            .collect()
    };
    let mut sections = vec![Section {
        title: "Groups, in order".into(),
        lines,
    }];
    if !failures.is_empty() {
        sections.push(Section {
            title: "Failures".into(),
            lines: failures,
        });
    }
    Message {
        kind: MessageKind::TransitionSummary,
        severity,
        schedule: decision.schedule.clone(),
        title,
        text,
        sections,
        data: json!({ "decision": decision, "steps": steps }),
    }
}

/// A transition summary of a schedule with resources skipped until a date: they are not in
/// the phase the summary names, so it says so and lists them.
pub fn with_skipped(mut m: Message, decision: &Decision, skipped: &[&Skipped]) -> Message {
    if skipped.is_empty() {
        return m;
    }
    if decision.complete {
        let state = end_state(decision.transition.unwrap_or(Action::Stop));
        m.text = format!(
            "Every resource of {} is {state}, but for {} skipped until a date (below).",
            plain(&decision.schedule),
            skipped.len()
        );
    }
    let lines = skipped
        .iter()
        .map(|k| {
            let until = k.until.format("%Y-%m-%d %H:%M %:z");
            format!(
                "{} until {until}: left as it is",
                plain(k.resource.to_string())
            )
        })
        .collect();
    m.sections.push(Section {
        title: "Skipped until a date".into(),
        lines,
    });
    m
}

/// Every group of a finished transition in the order it was handled: this tick's steps
/// in detail, groups finished by earlier ticks (or found in place) by name and state.
fn finished_lines(action: Action, steps: &[&Step], schedule: Option<&Schedule>) -> Vec<String> {
    let state = end_state(action);
    let mut groups: Vec<String> = schedule
        .map(|sc| {
            sc.groups
                .iter()
                .map(|g| format!("{} ({})", plain(&g.name), g.kind.as_str().to_uppercase()))
                .collect()
        })
        .unwrap_or_default();
    let mut names: Vec<&str> = schedule
        .map(|sc| sc.groups.iter().map(|g| g.name.as_str()).collect())
        .unwrap_or_default();
    if action == Action::Stop {
        groups.reverse();
        names.reverse();
    }
    let mut lines = Vec::new();
    let mut n = 0;
    for (label, name) in groups.iter().zip(&names) {
        match steps.iter().find(|st| st.group == *name) {
            Some(st) => lines.extend(step_lines(n, st)),
            None => lines.push(format!("{}. {label}: {state}", n + 1)),
        }
        n += 1;
    }
    // Ungrouped resources (and anything the schedule no longer lists).
    for st in steps
        .iter()
        .filter(|st| !names.contains(&st.group.as_str()))
    {
        lines.extend(step_lines(n, st));
        n += 1;
    }
    if lines.is_empty() {
        lines.push(format!("every resource is {state}"));
    }
    lines
}

/// What every resource is once a transition to `action` finished.
fn end_state(action: Action) -> &'static str {
    match action {
        Action::Start => "up",
        Action::Stop => "stopped",
    }
}

fn group_label(step: &Step) -> &str {
    if step.group.is_empty() {
        "ungrouped"
    } else {
        &step.group
    }
}

/// An alert for a configuration error or a failed action.
pub fn alert_message(problem: &Problem) -> Message {
    let title = if problem.schedule == "*" || problem.schedule.is_empty() {
        "offhours: error".to_string()
    } else {
        format!("offhours: error in schedule {}", plain(&problem.schedule))
    };
    Message {
        kind: MessageKind::Alert,
        severity: Severity::Error,
        schedule: problem.schedule.clone(),
        title,
        text: plain(&problem.message),
        sections: Vec::new(),
        data: serde_json::to_value(problem).unwrap_or(Value::Null),
    }
}

/// The all-clear for an alerted failure that no longer happens.
pub fn resolved_message(schedule: &str, about: &str) -> Message {
    Message {
        kind: MessageKind::Alert,
        severity: Severity::Info,
        schedule: schedule.to_string(),
        title: format!("offhours: resolved in schedule {}", plain(schedule)),
        text: format!("No longer failing: {}", plain(about)),
        sections: Vec::new(),
        data: json!({ "schedule": schedule, "resolved": about }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::ResourceKind;
    use crate::core::plan::{Failure, Reason, ResourceRef};
    use crate::notify::fixtures::notice;

    #[test]
    fn warning_names_resources_stop_time_and_postpone_commands() {
        let m = warning_message(&notice(), "/offhours");
        let text = m.plain_text();
        assert_eq!(m.title, "dev stops at 22:00 KST (in 10 min)");
        for needle in [
            "api-1 (i-0a1, ec2)",
            "dev-db (rds, postgres)",
            "2026-11-23",
            "Asia/Seoul",
            "`/offhours extend dev +1h`",
            "`/offhours skip dev 2026-11-24`: no start on Tue 2026-11-24",
            "`/offhours exception set dev 2026-11-23 stop None`",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }

    #[test]
    fn transition_summary_lists_groups_in_order_with_failures() {
        let step = |group: &str, status, failures: Vec<Failure>| Step {
            schedule: "dev".into(),
            group: group.into(),
            action: Action::Start,
            status,
            waiting_on: if status == StepStatus::Blocked {
                vec!["DB".into()]
            } else {
                vec![]
            },
            resources: vec![ResourceRef {
                id: format!("{group}-1"),
                kind: ResourceKind::Ec2,
                account: None,
                region: None,
                name: None,
                engine: None,
                hibernate: false,
                desired: None,
                min: None,
                max: None,
            }],
            failures,
        };
        let decision = Decision {
            schedule: "dev".into(),
            event: None,
            desired: Some(Action::Start),
            transition: Some(Action::Start),
            reason: Reason::Boundary,
            complete: false,
            busy: Vec::new(),
            homes: Default::default(),
            skip_ends: None,
            stopped: Default::default(),
            counts: Default::default(),
            sizes: Default::default(),
            tally: Default::default(),
        };
        let steps = [
            step(
                "DB",
                StepStatus::Failed,
                vec![Failure {
                    id: "DB-1".into(),
                    account: None,
                    region: None,
                    message: "InsufficientInstanceCapacity".into(),
                    operation: "StartDBInstance".into(),
                    code: "InsufficientDBInstanceCapacity".into(),
                }],
            ),
            step("API", StepStatus::Blocked, vec![]),
        ];
        let refs: Vec<&Step> = steps.iter().collect();
        let m = transition_message(&decision, &refs, None);
        assert_eq!(m.severity, Severity::Error);
        assert_eq!(
            m.sections[0].lines,
            [
                "1. DB: start failed: DB-1 (ec2)",
                "2. API: start blocked (waiting on DB): API-1 (ec2)"
            ]
        );
        assert_eq!(
            m.sections[1].lines,
            ["DB-1 (DB): InsufficientInstanceCapacity"]
        );
    }

    #[test]
    fn summary_of_a_stop_names_what_a_skip_kept_up() {
        // GIVEN a finished stop that left a box skipped until Friday running
        let decision = Decision {
            schedule: "dev".into(),
            event: None,
            desired: Some(Action::Stop),
            transition: Some(Action::Stop),
            reason: Reason::Boundary,
            complete: true,
            busy: Vec::new(),
            homes: Default::default(),
            skip_ends: None,
            stopped: Default::default(),
            counts: Default::default(),
            sizes: Default::default(),
            tally: Default::default(),
        };
        let skipped = crate::core::plan::Skipped {
            schedule: "dev".into(),
            group: String::new(),
            resource: ResourceRef {
                id: "i-0a1".into(),
                kind: ResourceKind::Ec2,
                account: None,
                region: None,
                name: Some("alice-box".into()),
                engine: None,
                hibernate: false,
                desired: None,
                min: None,
                max: None,
            },
            until: "2026-11-28T00:00:00+09:00".parse().expect("instant"),
            skip_until: "2026-11-27".into(),
        };
        // WHEN the summary is written
        let m = with_skipped(
            transition_message(&decision, &[], None),
            &decision,
            &[&skipped],
        );
        // THEN it does not claim everything stopped, and lists the box with its date
        assert_eq!(
            m.text,
            "Every resource of dev is stopped, but for 1 skipped until a date (below)."
        );
        let section = m.sections.last().expect("a section");
        assert_eq!(section.title, "Skipped until a date");
        assert_eq!(
            section.lines,
            ["alice-box (i-0a1, ec2) until 2026-11-28 00:00 +09:00: left as it is"]
        );
    }
}
