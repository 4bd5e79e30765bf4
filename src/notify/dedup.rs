//! What a tick says, once: dedup keys, the messages a finished tick has to send (warnings, summaries, alerts and all-clears, weekly digests), and `notify_tick`, which delivers them and reports what was accepted.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::deliver::{Delivery, Notifier};
use super::digest::{digest_key, digest_message};
use super::message::{
    alert_message, failed, resolved_message, transition_message, warning_message, with_skipped,
    Message, MessageKind,
};
use super::render::{clip, WebhookFormat};
use crate::core::config::{Config, Problem};
use crate::core::digest::Digest;
use crate::core::plan::{Decision, Notice, Reason, Report, Skipped, Step};
use crate::core::planner::{ScheduleState, TickResult};
use crate::core::schedule::EventKey;
use crate::ports::Dedup;

/// One message of a tick and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryRecord {
    pub kind: MessageKind,
    pub schedule: String,
    /// `None` when there was no destination.
    pub format: Option<WebhookFormat>,
    #[serde(flatten)]
    pub delivery: Delivery,
}

/// What `notify_tick` did; never an error. Only what a webhook accepted counts here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NotifyOutcome {
    /// Stop events a warning was delivered for (now or by an earlier tick), per schedule:
    /// record them in the state's `warned` so the planner stops proposing them.
    pub warned: Vec<(String, EventKey)>,
    /// Failure alerts delivered: (schedule, problem key, what it was about).
    pub alerted: Vec<(String, String, String)>,
    /// Failures that are over (all-clear delivered, or superseded): (schedule, problem key).
    pub cleared: Vec<(String, String)>,
    pub deliveries: Vec<DeliveryRecord>,
}

impl NotifyOutcome {
    pub fn sent(&self) -> usize {
        self.count(|d| matches!(d, Delivery::Sent { .. }))
    }

    pub fn failed(&self) -> usize {
        self.count(|d| matches!(d, Delivery::Failed { .. }))
    }

    fn count(&self, f: impl Fn(&Delivery) -> bool) -> usize {
        self.deliveries.iter().filter(|r| f(&r.delivery)).count()
    }

    /// The warned stop event of `schedule`, if any.
    pub fn warned_for(&self, schedule: &str) -> Option<EventKey> {
        self.warned
            .iter()
            .find(|(s, _)| s == schedule)
            .map(|(_, e)| *e)
    }

    /// What this tick's chat did for `schedule`, for its next stored state.
    pub fn result_for(&self, schedule: &str) -> TickResult<'static> {
        TickResult {
            warned: self.warned_for(schedule),
            alerted: self
                .alerted
                .iter()
                .filter(|(s, _, _)| s == schedule)
                .map(|(_, k, about)| (k.clone(), about.clone()))
                .collect(),
            cleared: self
                .cleared
                .iter()
                .filter(|(s, _)| s == schedule)
                .map(|(_, k)| k.clone())
                .collect(),
            ..TickResult::default()
        }
    }
}

fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..8])
}

/// Dedup key of a pre-stop warning: one per schedule and stop event.
pub fn warning_key(notice: &Notice) -> String {
    format!(
        "notify#warn#{}#{}",
        notice.schedule,
        notice.event.at.to_rfc3339()
    )
}

/// Dedup key of an error without a resource identity (configuration errors, whose text
/// is stable): one per schedule and distinct message. Keyed problems are tracked in the
/// schedule's state instead (alert when they start, all-clear when they end).
pub fn error_key(problem: &Problem) -> String {
    format!(
        "notify#error#{}#{}",
        problem.schedule,
        short_hash(&problem.message)
    )
}

/// The resources of schedule `name` that a skip-until tag holds out.
fn skipped_of<'r>(report: &'r Report, name: &str) -> Vec<&'r Skipped> {
    report
        .skipped
        .iter()
        .filter(|k| k.schedule == name)
        .collect()
}

/// Dedup key of a transition summary, or `None` when nothing worth saying happened.
/// `had_history`: offhours has applied an event of this schedule before (so a transition
/// that finishes without steps in this tick was driven by earlier ticks, not found done).
/// Failures are not summarised: each is alerted on its own (by resource, operation and code).
fn transition_key(
    report: &Report,
    decision: &Decision,
    steps: &[&Step],
    had_history: bool,
) -> Option<String> {
    let action = decision.transition?;
    if !decision.complete || steps.iter().any(|st| failed(st)) {
        return None;
    }
    let event = decision
        .event
        .map(|e| e.at.to_rfc3339())
        .unwrap_or_else(|| "none".into());
    // Forced and enforced transitions can repeat under one event: key them by tick too.
    let occasion = match decision.reason {
        Reason::ForceStart
        | Reason::ForceStop
        | Reason::Forced
        | Reason::Enforced
        | Reason::SkipEnded => format!("{event}@{}", report.at.to_rfc3339()),
        _ => event,
    };
    let key = format!("notify#done#{}#{action}#{occasion}", decision.schedule);
    match decision.reason {
        // Enforcement, or the end of a skip, only has news when it changed something.
        Reason::Enforced | Reason::SkipEnded => (!steps.is_empty()).then_some(key),
        // The tick that finishes an event's transition, even when the steps ran in
        // earlier ticks; but a schedule seen for the first time with everything already
        // in place (a fresh deploy mid-window) has no news.
        Reason::Boundary => (!steps.is_empty() || had_history).then_some(key),
        Reason::ForceStart | Reason::ForceStop => Some(key),
        // A forced transition finished by a later tick.
        Reason::Forced => (!steps.is_empty()).then_some(key),
        _ => None,
    }
}

/// Tracks destinations that failed during this tick so that later messages skip them.
struct Destinations<'a> {
    notifier: &'a Notifier,
    down: HashSet<String>,
    outcome: NotifyOutcome,
    /// When this tick's chat delivery must stop.
    until: std::time::Instant,
}

impl Destinations<'_> {
    /// Delivers `message`; true only when the webhook accepted it. Nothing is attempted
    /// without a destination, or when that destination already failed in this tick.
    async fn send(&mut self, url: Option<&str>, message: &Message) -> bool {
        let Some(url) = url else {
            let reason = "no webhook configured".into();
            self.record(message, None, Delivery::Skipped { reason });
            return false;
        };
        let id = short_hash(url);
        if std::time::Instant::now() >= self.until {
            let reason = "the chat time budget of this tick is used up".into();
            let format = Some(self.notifier.format_for(url));
            self.record(message, format, Delivery::Skipped { reason });
            return false;
        }
        if self.down.contains(&id) {
            let reason = "the webhook failed earlier in this tick".into();
            let format = Some(self.notifier.format_for(url));
            self.record(message, format, Delivery::Skipped { reason });
            return false;
        }
        let (format, delivery) = self.notifier.deliver(url, message).await;
        let sent = matches!(delivery, Delivery::Sent { .. });
        if !sent {
            self.down.insert(id);
        }
        self.record(message, Some(format), delivery);
        sent
    }

    fn record(&mut self, m: &Message, format: Option<WebhookFormat>, delivery: Delivery) {
        self.outcome.deliveries.push(DeliveryRecord {
            kind: m.kind,
            schedule: m.schedule.clone(),
            format,
            delivery,
        });
    }
}

/// How a message is remembered once delivered.
enum Memory {
    /// A once-marker in [`Dedup`] (warnings, summaries, configuration errors).
    Once {
        key: String,
        warns: Option<EventKey>,
    },
    /// A failure alert kept in the schedule's state until it clears.
    Alert { key: String, about: String },
    /// An all-clear: the alert key leaves the schedule's state.
    Clear { key: String },
}

/// A message this tick has to say.
struct Pending<'a> {
    url: Option<&'a str>,
    message: Message,
    memory: Memory,
}

/// Sends what a finished tick has to say: each pre-stop warning once per stop event,
/// summaries of transitions that finished, one alert when a resource failure starts and
/// one when it clears, and each distinct configuration error once. Call it after
/// execution with the run's report and the states the tick started from; not for dry runs.
///
/// A message is recorded as delivered only after its webhook answered 2xx, so a webhook
/// that is down gets warnings, alerts and all-clears at a later tick while they still
/// apply (the lease serialises ticks, so each is delivered once). A transition summary is
/// only due in the tick that finishes the transition: one that could not be delivered
/// then is not sent later. Nothing is recorded for a schedule without a destination.
pub async fn notify_tick(
    notifier: &Notifier,
    config: &Config,
    report: &Report,
    previous: &HashMap<String, ScheduleState>,
    dedup: &impl Dedup,
) -> NotifyOutcome {
    notify_tick_with_digests(notifier, config, report, previous, dedup, &[]).await
}

/// [`notify_tick`], then the weekly `digests` due at this tick, each once (a once-marker
/// per schedule and local date, written after its webhook accepted it; one that could
/// not be delivered is tried again by the next tick while it is still due).
pub async fn notify_tick_with_digests(
    notifier: &Notifier,
    config: &Config,
    report: &Report,
    previous: &HashMap<String, ScheduleState>,
    dedup: &impl Dedup,
    digests: &[Digest],
) -> NotifyOutcome {
    let mut out = Destinations {
        notifier,
        down: HashSet::new(),
        outcome: NotifyOutcome::default(),
        until: std::time::Instant::now() + notifier.settings().tick_budget,
    };
    let mut pending = pending_messages(notifier, config, report, previous, &mut out.outcome);
    pending.extend(digests.iter().map(|d| Pending {
        url: notifier.destination(config, &d.schedule),
        message: digest_message(d),
        memory: Memory::Once {
            key: digest_key(d),
            warns: None,
        },
    }));
    for p in pending {
        if let Memory::Once { key, .. } = &p.memory {
            if p.url.is_some() {
                match dedup.delivered(key).await {
                    Ok(false) => {}
                    Ok(true) => {
                        out.record(&p.message, None, Delivery::Duplicate);
                        if let Memory::Once { warns: Some(w), .. } = &p.memory {
                            out.outcome.warned.push((p.message.schedule.clone(), *w));
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell whether a chat message was sent; holding it back until the next tick");
                        continue;
                    }
                }
            }
        }
        if !out.send(p.url, &p.message).await {
            continue;
        }
        let schedule = p.message.schedule.clone();
        match p.memory {
            Memory::Once { key, warns } => {
                if let Err(e) = dedup.record(&key).await {
                    tracing::warn!(error = %e, "a chat message was sent but could not be recorded");
                }
                if let Some(w) = warns {
                    out.outcome.warned.push((schedule, w));
                }
            }
            Memory::Alert { key, about } => out.outcome.alerted.push((schedule, key, about)),
            Memory::Clear { key } => out.outcome.cleared.push((schedule, key)),
        }
    }
    out.outcome
}

/// Everything a tick has to say, in order: warnings, summaries, alerts and all-clears,
/// then configuration errors. Alerts that another failure of the same resource replaced
/// are cleared silently (recorded in `outcome.cleared`).
fn pending_messages<'a>(
    notifier: &'a Notifier,
    config: &'a Config,
    report: &Report,
    previous: &HashMap<String, ScheduleState>,
    outcome: &mut NotifyOutcome,
) -> Vec<Pending<'a>> {
    let command = &notifier.settings().command;
    let url = |schedule: &str| notifier.destination(config, schedule);
    let mut pending: Vec<Pending<'a>> = Vec::new();
    for notice in &report.notices {
        pending.push(Pending {
            url: url(&notice.schedule),
            message: warning_message(notice, command),
            memory: Memory::Once {
                key: warning_key(notice),
                warns: Some(notice.event),
            },
        });
    }
    let mut steps: BTreeMap<&str, Vec<&Step>> = BTreeMap::new();
    for step in &report.steps {
        steps.entry(step.schedule.as_str()).or_default().push(step);
    }
    let none = ScheduleState::default();
    for decision in &report.schedules {
        let name = decision.schedule.as_str();
        let mine = steps.get(name).cloned().unwrap_or_default();
        let old = previous.get(name).unwrap_or(&none);
        if let Some(key) = transition_key(report, decision, &mine, old.applied.is_some()) {
            pending.push(Pending {
                url: url(name),
                message: with_skipped(
                    transition_message(decision, &mine, config.schedule(name)),
                    decision,
                    &skipped_of(report, name),
                ),
                memory: Memory::Once { key, warns: None },
            });
        }
        alerts(name, old, report, url(name), &mut pending, outcome);
    }
    for problem in report.errors.iter().filter(|p| p.key.is_none()) {
        pending.push(Pending {
            url: url(&problem.schedule),
            message: alert_message(problem),
            memory: Memory::Once {
                key: error_key(problem),
                warns: None,
            },
        });
    }
    pending
}

/// Alerts for the keyed problems of `schedule` that its state does not hold yet, and
/// all-clears for the held ones that are gone.
fn alerts<'a>(
    schedule: &str,
    old: &ScheduleState,
    report: &Report,
    url: Option<&'a str>,
    pending: &mut Vec<Pending<'a>>,
    outcome: &mut NotifyOutcome,
) {
    let current: BTreeMap<&str, &Problem> = report
        .errors
        .iter()
        .filter(|p| p.schedule == schedule)
        .filter_map(|p| Some((p.key.as_deref()?, p)))
        .collect();
    for (key, problem) in &current {
        if !old.alerts.contains_key(*key) {
            pending.push(Pending {
                url,
                message: alert_message(problem),
                memory: Memory::Alert {
                    key: key.to_string(),
                    about: clip(&problem.message, 300),
                },
            });
        }
    }
    for (key, about) in &old.alerts {
        // A resource in an unobserved region or service is not known to be fine: while
        // the observation is partial, nothing is declared resolved.
        if current.contains_key(key.as_str()) || report.partial {
            continue;
        }
        // Another failure of the same resource (a new code, or giving up) replaced it.
        let resource = key.split('#').next().unwrap_or_default();
        if current
            .keys()
            .any(|k| k.split('#').next() == Some(resource))
        {
            outcome.cleared.push((schedule.to_string(), key.clone()));
            continue;
        }
        pending.push(Pending {
            url,
            message: resolved_message(schedule, about),
            memory: Memory::Clear { key: key.clone() },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_keys_differ_per_message_and_repeat_for_the_same() {
        let p = |m: &str| Problem::new("dev", m);
        assert_eq!(error_key(&p("a")), error_key(&p("a")));
        assert_ne!(error_key(&p("a")), error_key(&p("b")));
    }
}
