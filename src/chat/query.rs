//! The read-only commands' answers (status, info, exception list): pure, from a schedule and what was observed.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::reply::weekday_date;
use super::Reply;
use crate::core::config::{hm, Action, Schedule};
use crate::core::inert::plain;
use crate::core::planner::{asg_owner, skip_until, Resource};
use crate::core::schedule::{events_between, latest_event, local_date, next_event, Source};
use crate::ports::Settings;

/// Groups with more members than this list them one per line.
const INLINE_RESOURCES: usize = 5;

fn source_label(source: &Source) -> String {
    match source {
        Source::Schedule => "schedule".into(),
        Source::Exception(u) => format!("exception {u}"),
        Source::MakeUpDay(u) => format!("make-up day {u}"),
    }
}

/// Pure: one day's events of a schedule (default: today).
pub fn info(s: &Schedule, date: Option<NaiveDate>, now: DateTime<Utc>) -> Reply {
    let date = date.unwrap_or_else(|| local_date(s, now));
    let events = events_between(s, date, date);
    let mut lines: Vec<String> = events
        .iter()
        .map(|e| {
            let mut line = format!(
                "{} {}: {} ({})",
                e.local.format("%H:%M %Z"),
                e.action,
                if e.at <= now { "done" } else { "upcoming" },
                source_label(&e.source)
            );
            if e.shifted() {
                line.push_str(&format!(
                    ", asked for {} which does not exist that day",
                    hm(e.requested)
                ));
            }
            line
        })
        .collect();
    if lines.is_empty() {
        lines.push("no start or stop that day".into());
    }
    if !s.enabled {
        lines.push("the schedule is disabled (Enabled: false)".into());
    }
    Reply::ok(
        format!(
            "{} on {}, {}",
            s.name,
            weekday_date(date),
            s.timezone.name()
        ),
        lines,
    )
}

/// Pure: the exceptions of a schedule from `today` on (its own and `*` ones).
pub fn exception_list(s: &Schedule, today: NaiveDate) -> Reply {
    let mut upcoming: Vec<_> = s.exceptions.iter().filter(|e| e.date >= today).collect();
    upcoming.sort_by(|a, b| (a.date, a.action, &a.uuid).cmp(&(b.date, b.action, &b.uuid)));
    let past = s.exceptions.len() - upcoming.len();
    let mut lines: Vec<String> = upcoming
        .iter()
        .map(|e| {
            format!(
                "{} {} {}{}: `{}`",
                weekday_date(e.date),
                e.action,
                e.time.map(hm).unwrap_or_else(|| "None".into()),
                if e.schedule == "*" {
                    " (all schedules)"
                } else {
                    ""
                },
                e.uuid
            )
        })
        .collect();
    if lines.is_empty() {
        lines.push("no upcoming exceptions".into());
    }
    if past > 0 {
        lines.push(format!("({past} past exception(s) not shown)"));
    }
    Reply::ok(format!("{}: exceptions from {today}", s.name), lines)
}

/// Pure: resources of a schedule and their states, by group in start order.
pub fn status(
    s: &Schedule,
    resources: &[Resource],
    now: DateTime<Utc>,
    settings: &Settings,
) -> Reply {
    let tags = &settings.tags;
    let mine: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.tags.get(&tags.schedule) == Some(&s.tag_value))
        .collect();
    let mut by_group: BTreeMap<String, Vec<&Resource>> = BTreeMap::new();
    for r in &mine {
        let g = r
            .tags
            .get(&tags.group)
            .map(|g| g.trim().to_string())
            .unwrap_or_default();
        by_group.entry(g).or_default().push(r);
    }
    let mut lines = state_lines(s, now);
    lines.extend(group_lines(s, &by_group));
    lines.extend(skipped_lines(s, &mine, now, &tags.skip_until));
    if mine.is_empty() {
        lines.push(format!(
            "no resources tagged {}={}",
            tags.schedule, s.tag_value
        ));
    }
    Reply::ok(format!("{} ({})", s.name, s.timezone.name()), lines)
}

/// What the schedule wants now, its next start and stop, and pending flags.
fn state_lines(s: &Schedule, now: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    match latest_event(s, now) {
        Some(e) => lines.push(format!(
            "should be {} since {} ({})",
            if e.action == Action::Start {
                "running"
            } else {
                "stopped"
            },
            e.local.format("%Y-%m-%d %H:%M %Z"),
            source_label(&e.source)
        )),
        None => lines.push("no start or stop in the last 8 days: offhours leaves it alone".into()),
    }
    for action in [Action::Start, Action::Stop] {
        if let Some(e) = next_event(s, now, action, TimeDelta::days(8)) {
            lines.push(format!(
                "next {action}: {}",
                e.local.format("%Y-%m-%d %H:%M %Z")
            ));
        }
    }
    if s.force_start || s.force_stop {
        lines.push(format!(
            "{} is pending for the next tick",
            if s.force_start {
                Action::Start
            } else {
                Action::Stop
            }
            .force_field()
        ));
    }
    if !s.enabled {
        lines.push("the schedule is disabled (Enabled: false)".into());
    }
    lines
}

/// One line per resource a skip-until tag holds out of scheduling now.
fn skipped_lines(s: &Schedule, mine: &[&Resource], now: DateTime<Utc>, key: &str) -> Vec<String> {
    mine.iter()
        .filter_map(|r| {
            let until = skip_until(r.tags.get(key)?, s.timezone).filter(|u| *u > now)?;
            Some(format!(
                "skipped until {}: {} (tag {}; neither started nor stopped)",
                until.with_timezone(&s.timezone).format("%Y-%m-%d %H:%M %Z"),
                plain(r.to_ref()),
                plain(key)
            ))
        })
        .collect()
}

/// One line per group (in the schedule's order, then ungrouped, then unknown groups).
fn group_lines(s: &Schedule, by_group: &BTreeMap<String, Vec<&Resource>>) -> Vec<String> {
    let mut groups: Vec<(String, String)> = s
        .groups
        .iter()
        .map(|g| {
            let hibernate = if g.hibernate { ", Hibernate" } else { "" };
            (
                g.name.clone(),
                format!("{} ({}{hibernate})", g.name, g.kind.as_str().to_uppercase()),
            )
        })
        .collect();
    groups.push((String::new(), "(ungrouped)".into()));
    for key in by_group.keys() {
        if !groups.iter().any(|(k, _)| k == key) {
            groups.push((
                key.clone(),
                format!("{} (no such group: left alone)", plain(key)),
            ));
        }
    }
    let mut lines = Vec::new();
    for (key, label) in groups {
        let Some(members) = by_group.get(&key) else {
            continue;
        };
        let each = members.iter().map(|r| {
            let alone = asg_owner(r)
                .map(|g| format!(" (Auto Scaling group '{}': left alone)", plain(g)))
                .unwrap_or_default();
            format!("{} {}{alone}", plain(r.to_ref()), plain(r.shown_state()))
        });
        if members.len() > INLINE_RESOURCES {
            // A long group: one resource per line, so clipping counts resources.
            lines.push(format!("{label}: {} resources", members.len()));
            lines.extend(each.map(|r| format!("    {r}")));
        } else {
            lines.push(format!("{label}: {}", each.collect::<Vec<_>>().join(", ")));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use crate::chat::fixtures::*;

    #[test]
    fn status_marks_hibernate_groups_and_auto_scaling_instances() {
        // GIVEN a Hibernate group with an ordinary instance and one of an Auto Scaling group
        let config = CONFIG.replace(
            "GroupName: API, InstanceType: EC2,",
            "GroupName: API, InstanceType: EC2, Hibernate: true,",
        );
        let c = crate::core::config::validate(
            &crate::core::config::RawConfig::parse(&config, "test").expect("config"),
            &settings().defaults,
        );
        let dev = c.schedule("dev").expect("dev");
        let inventory = "resources:\n  - {id: i-0a1, kind: ec2, state: running, tags: {ScheduleName: dev, ScheduleGroupName: API}}\n  - {id: i-0b2, kind: ec2, state: running, tags: {ScheduleName: dev, ScheduleGroupName: API, 'aws:autoscaling:groupName': web-asg}}\n";
        let resources = crate::core::inventory::parse_inventory(inventory, "test").expect("inv");
        // WHEN someone asks for its status
        let r = super::status(
            dev,
            &resources,
            at("2026-11-23T12:00:00+09:00"),
            &settings(),
        );
        // THEN the group says it hibernates, and the ASG instance is left alone
        let api = r
            .lines
            .iter()
            .find(|l| l.starts_with("API"))
            .expect("API line");
        assert_eq!(
            api,
            "API (EC2, Hibernate): i-0a1 (ec2) running, i-0b2 (ec2) running (Auto Scaling group 'web-asg': left alone)"
        );
    }

    #[test]
    fn status_shows_ecs_services_with_their_task_counts() {
        // GIVEN an ECS group with one service up and one stopped by offhours
        let config = CONFIG.replace(
            "exceptions:",
            "  - {ScheduleName: dev, GroupName: SVC, InstanceType: ECS, Dependency: [DB]}\nexceptions:",
        );
        let c = crate::core::config::validate(
            &crate::core::config::RawConfig::parse(&config, "test").expect("config"),
            &settings().defaults,
        );
        let dev = c.schedule("dev").expect("dev");
        let inventory = "resources:\n  - {id: dev/api, kind: ecs, state: ACTIVE, desired: 3, running: 3, tags: {ScheduleName: dev, ScheduleGroupName: SVC}}\n  - {id: dev/worker, kind: ecs, state: ACTIVE, tags: {ScheduleName: dev, ScheduleGroupName: SVC, 'offhours:desired-count': '2'}}\n";
        let resources = crate::core::inventory::parse_inventory(inventory, "test").expect("inv");
        // WHEN someone asks for its status
        let r = super::status(
            dev,
            &resources,
            at("2026-11-23T12:00:00+09:00"),
            &settings(),
        );
        // THEN the group is labelled ECS and each service shows its tasks
        let svc = r
            .lines
            .iter()
            .find(|l| l.starts_with("SVC"))
            .expect("SVC line");
        assert_eq!(
            svc,
            "SVC (ECS): dev/api (ecs) ACTIVE, 3 of 3 tasks running, dev/worker (ecs) ACTIVE, 0 of 0 tasks running (2 saved)"
        );
    }

    #[test]
    fn status_shows_auto_scaling_groups_with_their_instances_and_sizes() {
        // GIVEN an ASG group with one group up and one stopped by offhours, and an instance
        // launched by the running group (it inherited the schedule tag)
        let config = CONFIG.replace(
            "exceptions:",
            "  - {ScheduleName: dev, GroupName: WEB, InstanceType: ASG, Dependency: [DB]}\nexceptions:",
        );
        let c = crate::core::config::validate(
            &crate::core::config::RawConfig::parse(&config, "test").expect("config"),
            &settings().defaults,
        );
        let dev = c.schedule("dev").expect("dev");
        let inventory = "resources:\n  - {id: web, kind: asg, state: active, min: 1, max: 4, desired: 2, running: 2, tags: {ScheduleName: dev, ScheduleGroupName: WEB}}\n  - {id: batch, kind: asg, state: active, min: 0, max: 0, desired: 0, running: 0, tags: {ScheduleName: dev, ScheduleGroupName: WEB, 'offhours:saved-size': 'min=1,max=2,desired=1'}}\n";
        let resources = crate::core::inventory::parse_inventory(inventory, "test").expect("inv");
        // WHEN someone asks for its status
        let r = super::status(
            dev,
            &resources,
            at("2026-11-23T12:00:00+09:00"),
            &settings(),
        );
        // THEN the group is labelled ASG and each Auto Scaling group shows its instances
        let web = r
            .lines
            .iter()
            .find(|l| l.starts_with("WEB"))
            .expect("WEB line");
        assert_eq!(
            web,
            "WEB (ASG): web (asg) active, 2 of 2 instances in service (min 1, max 4), batch (asg) active, 0 of 0 instances in service (saved min=1,max=2,desired=1)"
        );
    }

    #[test]
    fn status_lists_resources_skipped_until_a_date() {
        // GIVEN the API instance tagged to be left alone through Friday, the DB until Monday
        let inventory = INVENTORY
            .replace(
                "Name: api-1}",
                "Name: api-1, 'offhours:skip-until': '2026-11-27'}",
            )
            .replace(
                "ScheduleGroupName: DB}",
                "ScheduleGroupName: DB, 'offhours:skip-until': '2026-11-23'}",
            );
        let resources =
            crate::core::inventory::parse_inventory(&inventory, "test").expect("inventory");
        // WHEN status is asked on Tuesday
        let r = super::status(
            &dev(),
            &resources,
            at("2026-11-24T10:00:00+09:00"),
            &settings(),
        );
        // THEN the API is listed as skipped until the end of Friday; the DB's skip is over
        let skipped: Vec<&String> = r
            .lines
            .iter()
            .filter(|l| l.starts_with("skipped"))
            .collect();
        assert_eq!(
            skipped,
            ["skipped until 2026-11-28 00:00 KST: api-1 (i-0a1, ec2) (tag offhours:skip-until; neither started nor stopped)"]
        );
    }

    #[tokio::test]
    async fn info_shows_the_days_events_after_exceptions() {
        let store = store();
        let now = at("2026-11-23T12:00:00+09:00");
        let r = run_text(&store, "info dev", now).await;
        assert_eq!(
            r.lines,
            [
                "09:00 KST start: done (schedule)",
                "22:00 KST stop: upcoming (schedule)"
            ]
        );
        let r = run_text(&store, "info dev 2026-12-25", now).await;
        assert_eq!(r.lines, ["22:00 KST stop: upcoming (schedule)"]);
        run_text(&store, "exception set dev 2026-11-24 stop 23:45", now).await;
        let r = run_text(&store, "info dev tomorrow", now).await;
        assert!(
            r.lines[1].starts_with("23:45 KST stop: upcoming (exception "),
            "{r:?}"
        );
    }
}
