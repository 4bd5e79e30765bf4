//! Which resources a run brought to their target state: acted on this tick, or busy at the end of an earlier tick of a transition still under way.

use std::collections::{HashMap, HashSet};

use super::{condition_of, target_reached, Resource, ScheduleState, TagKeys};
use crate::core::config::Action;
use crate::core::plan::{Reached, Report};

/// One resource that may have reached its target: (schedule, group, action, resource key).
type Candidate = (String, String, Action, String);

/// The resources of `report` (a run's, after acting) that the last observation
/// (`resources`) shows in their step's target state: every resource acted on without a
/// failure, and every resource the schedule's stored state (`states`, from before the
/// tick) held as busy while the schedule's transition goes on (a database that took
/// longer than one tick to start). A resource still moving is reported by the tick
/// that sees it arrive.
pub fn reached(
    report: &Report,
    resources: &[Resource],
    states: &HashMap<String, ScheduleState>,
    tags: &TagKeys,
) -> Vec<Reached> {
    let mut seen = HashSet::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for step in &report.steps {
        for r in step.accepted() {
            let key = r.key();
            if seen.insert(key.clone()) {
                candidates.push((step.schedule.clone(), step.group.clone(), step.action, key));
            }
        }
    }
    let moving = |d: &&crate::core::plan::Decision| {
        d.transition.is_some() && states.get(&d.schedule).is_some_and(|s| !s.busy.is_empty())
    };
    if candidates.is_empty() && !report.schedules.iter().any(|d| moving(&d)) {
        return Vec::new();
    }
    let by_key: HashMap<String, &Resource> = resources.iter().map(|r| (r.key(), r)).collect();
    for decision in &report.schedules {
        let (Some(action), Some(state)) = (decision.transition, states.get(&decision.schedule))
        else {
            continue;
        };
        for key in state.busy.keys() {
            let Some(r) = by_key.get(key) else { continue };
            if seen.insert(key.clone()) {
                let group = r.tags.get(&tags.group).unwrap_or_default().trim();
                let schedule = decision.schedule.clone();
                candidates.push((schedule, group.to_string(), action, key.clone()));
            }
        }
    }
    candidates
        .into_iter()
        .filter_map(|(schedule, group, action, key)| {
            let r = by_key.get(&key)?;
            target_reached(condition_of(r), action).then(|| Reached {
                schedule,
                group,
                action,
                resource: r.to_ref(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn resource(id: &str, kind: &str, state: &str, group: &str) -> Resource {
        serde_json::from_value(json!({"id": id, "kind": kind, "state": state,
            "tags": {"ScheduleName": "dev", "ScheduleGroupName": group}}))
        .expect("resource")
    }

    #[test]
    fn an_ecs_service_arrives_by_its_task_counts_not_its_active_status() {
        let report: Report = serde_json::from_value(json!({
            "at": "2026-11-23T18:01:00Z", "notices": [], "errors": [],
            "steps": [{"schedule": "dev", "group": "API", "action": "stop", "status": "done",
                       "waiting_on": [], "resources": [{"id": "dev/api", "kind": "ecs"}]}],
            "schedules": [{"schedule": "dev", "event": null, "desired": "stop",
                           "transition": "stop", "reason": "boundary", "complete": false}]
        }))
        .expect("report");
        let service = |desired: u32, running: u32| -> Resource {
            serde_json::from_value(json!({"id": "dev/api", "kind": "ecs", "state": "ACTIVE",
                "desired": desired, "running": running,
                "tags": {"ScheduleName": "dev", "ScheduleGroupName": "API"}}))
            .expect("service")
        };
        let tags = TagKeys::default();
        let arrived = |r: Resource| reached(&report, &[r], &HashMap::new(), &tags).len();
        assert_eq!(arrived(service(0, 2)), 0, "still draining: not stopped yet");
        assert_eq!(arrived(service(0, 0)), 1, "0 of 0 tasks: stopped");
    }

    #[test]
    fn arrivals_are_acted_resources_and_earlier_busy_ones_seen_in_their_target_state() {
        let decision = |transition: Value| {
            json!({"schedule": "dev", "event": null, "desired": "start",
                   "transition": transition, "reason": "boundary", "complete": false})
        };
        let report = |transition: Value| -> Report {
            serde_json::from_value(json!({
                "at": "2026-11-23T09:01:00Z", "notices": [], "errors": [],
                "steps": [
                    {"schedule": "dev", "group": "APP", "action": "start", "status": "failed",
                     "waiting_on": [], "resources": [{"id": "i-1", "kind": "ec2"}, {"id": "i-2", "kind": "ec2"}],
                     "failures": [{"id": "i-2", "message": "no"}]},
                    {"schedule": "dev", "group": "WEB", "action": "start", "status": "blocked",
                     "waiting_on": ["APP"], "resources": [{"id": "i-3", "kind": "ec2"}]}
                ],
                "schedules": [decision(transition)]
            }))
            .expect("report")
        };
        let seen = [
            resource("i-1", "ec2", "running", "APP"),
            resource("i-2", "ec2", "running", "APP"),
            resource("i-3", "ec2", "running", "WEB"),
            resource("db", "rds", "available", "DB"),
            resource("db2", "rds", "starting", "DB"),
        ];
        let mut state = ScheduleState::default();
        for key in ["rds:db", "rds:db2"] {
            let since = crate::core::planner::BusySince {
                state: "starting".into(),
                since: "2026-11-23T09:00:00Z".parse().expect("instant"),
            };
            state.busy.insert(key.into(), since);
        }
        let states = HashMap::from([("dev".to_string(), state)]);
        let tags = TagKeys::default();
        // (transition in progress, arrivals as "group id action")
        let cases = [
            (json!("start"), vec!["APP i-1 start", "DB db start"]),
            (json!(null), vec!["APP i-1 start"]),
        ];
        for (transition, want) in cases {
            let got: Vec<String> = reached(&report(transition.clone()), &seen, &states, &tags)
                .iter()
                .map(|r| format!("{} {} {}", r.group, r.resource.id, r.action))
                .collect();
            assert_eq!(got, want, "{transition}");
        }
    }
}
