//! The weekly digest as a chat message (last week's hours and dollars, next week's exceptions and holidays) and its once-a-week dedup key.

use chrono::NaiveDate;
use serde_json::Value;

use super::message::{Message, MessageKind, Section, Severity};
use crate::core::config::Action;
use crate::core::digest::{Digest, Upcoming};
use crate::core::inert::plain;

/// Dedup key of a weekly digest: one per schedule and local date it is due on.
pub fn digest_key(digest: &Digest) -> String {
    format!("notify#digest#{}#{}", digest.schedule, digest.date)
}

/// What stopping does not save (the same caveat as `offhours savings`).
pub const STORAGE_CAVEAT: &str = "Stopped instances and databases keep paying for their EBS volumes and storage (and Elastic IPs); that is not saved and not counted here.";

fn day(date: NaiveDate) -> String {
    date.format("%a %Y-%m-%d").to_string()
}

/// One exception of the coming week as a line: `Wed 2026-12-02: no start (holiday: KR-holidays)`.
fn upcoming_line(u: &Upcoming) -> String {
    let what = match (u.action, u.time.as_deref()) {
        (Action::Start, None) => "no start".to_string(),
        (Action::Stop, None) => "no stop".to_string(),
        (Action::Start, Some(t)) if u.extra_day => format!("start at {t} (extra working day)"),
        (action, Some(t)) => format!("{action} at {t}"),
    };
    match &u.holiday {
        Some(calendar) => format!("{}: {what} (holiday: {})", day(u.date), plain(calendar)),
        None => format!("{}: {what}", day(u.date)),
    }
}

/// The weekly digest of one schedule.
pub fn digest_message(d: &Digest) -> Message {
    let s = &plain(&d.schedule);
    let v = &d.savings;
    let mut last = vec![
        format!(
            "{} resource(s): {:.1} instance-hours running, {:.1} avoided",
            v.resources, v.hours_running, v.hours_avoided
        ),
        format!(
            "Saved: {:.2} USD at on-demand compute prices",
            v.dollars_saved
        ),
    ];
    if !v.unpriced.is_empty() {
        last.push(format!(
            "No known price (hours counted, dollars not): {}",
            plain(v.unpriced.join(", "))
        ));
    }
    let mut next: Vec<String> = d.upcoming.iter().map(upcoming_line).collect();
    if next.is_empty() {
        next.push("No exceptions or holidays: the usual hours".into());
    }
    Message {
        kind: MessageKind::WeeklyDigest,
        severity: Severity::Info,
        schedule: d.schedule.clone(),
        title: format!("offhours weekly digest: {s}"),
        text: format!(
            "Last week ({} to {}, {}): {:.1} instance-hours avoided, {:.2} USD saved.",
            day(d.last_week.from),
            day(d.last_week.to),
            d.timezone,
            v.hours_avoided,
            v.dollars_saved
        ),
        sections: vec![
            Section {
                title: "Last week".into(),
                lines: last,
            },
            Section {
                title: format!(
                    "Next week ({} to {})",
                    day(d.next_week.from),
                    day(d.next_week.to)
                ),
                lines: next,
            },
            Section {
                title: "Not counted".into(),
                lines: vec![STORAGE_CAVEAT.into()],
            },
        ],
        data: serde_json::to_value(d).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::digest::Week;
    use crate::core::savings::ScheduleSavings;
    use crate::notify::render::{render, WebhookFormat};

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    /// office's digest of Monday 2026-11-30: 369 h and 37.88 USD, a holiday on Wednesday.
    fn office() -> Digest {
        let upcoming = |d: &str, action, time: Option<&str>, holiday: Option<&str>| Upcoming {
            date: date(d),
            action,
            time: time.map(String::from),
            holiday: holiday.map(String::from),
            extra_day: false,
            exception: "x".into(),
        };
        Digest {
            schedule: "office".into(),
            timezone: "Asia/Seoul".into(),
            date: date("2026-11-30"),
            due_at: "2026-11-30T09:00:00+09:00".parse().expect("instant"),
            last_week: Week {
                from: date("2026-11-23"),
                to: date("2026-11-29"),
            },
            savings: ScheduleSavings {
                schedule: "office".into(),
                timezone: "Asia/Seoul".into(),
                resources: 3,
                hours_running: 135.0,
                hours_avoided: 369.0,
                dollars_saved: 37.88,
                unpriced: vec!["i-9 (no type, ap-northeast-2)".into()],
            },
            next_week: Week {
                from: date("2026-11-30"),
                to: date("2026-12-06"),
            },
            upcoming: vec![
                upcoming("2026-12-02", Action::Start, None, Some("KR-holidays")),
                upcoming("2026-12-03", Action::Stop, Some("20:00"), None),
            ],
        }
    }

    #[test]
    fn the_digest_says_last_weeks_hours_and_dollars_next_weeks_days_and_what_storage_costs() {
        let m = digest_message(&office());
        assert_eq!(m.kind, MessageKind::WeeklyDigest);
        assert_eq!(m.title, "offhours weekly digest: office");
        assert_eq!(
            m.text,
            "Last week (Mon 2026-11-23 to Sun 2026-11-29, Asia/Seoul): 369.0 instance-hours avoided, 37.88 USD saved."
        );
        assert_eq!(
            m.sections[0].lines,
            [
                "3 resource(s): 135.0 instance-hours running, 369.0 avoided",
                "Saved: 37.88 USD at on-demand compute prices",
                "No known price (hours counted, dollars not): i-9 (no type, ap-northeast-2)",
            ]
        );
        assert_eq!(
            m.sections[1].title,
            "Next week (Mon 2026-11-30 to Sun 2026-12-06)"
        );
        assert_eq!(
            m.sections[1].lines,
            [
                "Wed 2026-12-02: no start (holiday: KR-holidays)",
                "Thu 2026-12-03: stop at 20:00",
            ]
        );
        assert!(m.plain_text().contains("EBS volumes and storage"));
        assert_eq!(digest_key(&office()), "notify#digest#office#2026-11-30");
    }

    #[test]
    fn a_week_without_exceptions_says_so() {
        let mut d = office();
        d.upcoming.clear();
        let m = digest_message(&d);
        assert_eq!(
            m.sections[1].lines,
            ["No exceptions or holidays: the usual hours"]
        );
    }

    /// Every string in a JSON value, joined.
    fn all_text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().map(all_text).collect::<Vec<_>>().join("\n"),
            Value::Object(o) => o.values().map(all_text).collect::<Vec<_>>().join("\n"),
            _ => String::new(),
        }
    }

    #[test]
    fn every_chat_format_carries_the_whole_digest() {
        let m = digest_message(&office());
        // (format, where the title goes)
        let cases = [
            (WebhookFormat::Slack, "/blocks/0/text/text"),
            (WebhookFormat::Teams, "/attachments/0/content/body/0/text"),
            (WebhookFormat::Discord, "/embeds/0/title"),
            (WebhookFormat::GoogleChat, "/cardsV2/0/card/header/title"),
            (WebhookFormat::Jandi, "/body"),
            (WebhookFormat::Generic, "/title"),
        ];
        for (format, title_at) in cases {
            let body = render(format, &m).body;
            let title = body.pointer(title_at).and_then(Value::as_str);
            assert!(
                title.is_some_and(|t| t.contains("weekly digest: office")),
                "{format}: title at {title_at}: {title:?}"
            );
            let text = all_text(&body);
            for needle in [
                "369.0",
                "37.88 USD",
                "2026-11-23",
                "Next week",
                "2026-12-02",
                "KR",
                "holidays",
                "20:00",
                "EBS volumes",
            ] {
                assert!(text.contains(needle), "{format}: {needle} missing:\n{text}");
            }
        }
        let generic = render(WebhookFormat::Generic, &m).body;
        assert_eq!(generic["kind"], "weekly_digest");
        assert_eq!(generic["data"]["savings"]["hours_avoided"], 369.0);
        assert_eq!(generic["data"]["date"], "2026-11-30");
        assert_eq!(generic["data"]["upcoming"][0]["holiday"], "KR-holidays");
    }
}
