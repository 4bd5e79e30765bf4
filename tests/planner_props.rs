//! Property tests of planner invariants over random dependency graphs, fleets and instants.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use offhours::core::config::{validate, Action, Defaults, RawConfig, ResourceKind};
use offhours::core::plan::StepStatus;
use offhours::core::planner::{
    condition, plan, plan_on, Condition, Inputs, Resource, ScheduleState, TagKeys,
};
use proptest::prelude::*;

const EC2_STATES: &[&str] = &["running", "stopped", "pending", "stopping", "terminated"];
const RDS_STATES: &[&str] = &[
    "available",
    "stopped",
    "starting",
    "stopping",
    "backing-up",
    "failed",
];

#[derive(Debug, Clone)]
struct Case {
    /// deps[i]: indices < i that group i depends on.
    deps: Vec<Vec<usize>>,
    kinds: Vec<ResourceKind>,
    /// (schedule tag, group index or none, kind, state index)
    resources: Vec<(u8, Option<usize>, ResourceKind, usize)>,
    minutes: i64,
}

fn kind() -> impl Strategy<Value = ResourceKind> {
    prop_oneof![
        Just(ResourceKind::Ec2),
        Just(ResourceKind::Rds),
        Just(ResourceKind::Aurora)
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..6)
        .prop_flat_map(|n| {
            let deps = (0..n)
                .map(|i| {
                    proptest::collection::vec(0..i.max(1), 0..=i.min(3)).prop_map(move |v| {
                        if i == 0 {
                            vec![]
                        } else {
                            v
                        }
                    })
                })
                .collect::<Vec<_>>();
            let kinds = proptest::collection::vec(kind(), n);
            let resources = proptest::collection::vec(
                (0u8..3, proptest::option::of(0..n), kind(), 0usize..6),
                0..25,
            );
            (deps, kinds, resources, 0i64..(8 * 24 * 60))
        })
        .prop_map(|(mut deps, kinds, resources, minutes)| {
            for d in &mut deps {
                d.sort_unstable();
                d.dedup();
            }
            Case {
                deps,
                kinds,
                resources,
                minutes,
            }
        })
}

fn yaml(case: &Case) -> String {
    let mut y = String::from(
        "schedules:\n  - {ScheduleName: s0, TagValue: t0, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}\n  - {ScheduleName: s1, TagValue: t1, StartTime: '22:00', StopTime: '06:00', Timezone: America/New_York, Enforced: true}\ngroups:\n",
    );
    for s in ["s0", "s1"] {
        for (i, deps) in case.deps.iter().enumerate() {
            let names: Vec<String> = deps.iter().map(|d| format!("G{d}")).collect();
            y.push_str(&format!(
                "  - {{ScheduleName: {s}, GroupName: G{i}, InstanceType: {}, Dependency: [{}]}}\n",
                case.kinds[i].as_str(),
                names.join(", ")
            ));
        }
    }
    y
}

fn fleet(case: &Case) -> Vec<Resource> {
    case.resources
        .iter()
        .enumerate()
        .map(|(n, (tag, group, kind, state))| {
            let mut tags = BTreeMap::from([("ScheduleName".to_string(), format!("t{tag}"))]);
            if let Some(g) = group {
                // Use the group's own kind most of the time so most resources are scheduled.
                tags.insert("ScheduleGroupName".into(), format!("G{g}"));
            }
            let kind = match group {
                Some(g) if n % 4 != 0 => case.kinds[*g],
                _ => *kind,
            };
            let states = if kind == ResourceKind::Ec2 {
                EC2_STATES
            } else {
                RDS_STATES
            };
            Resource {
                id: format!("r{n}").into(),
                kind,
                state: states[state % states.len()].into(),
                tags: tags.into_iter().collect(),
                account: None,
                region: None,
                engine: None,
                reason: None,
                cluster: None,
                hibernation: false,
                instance_type: None,
                desired: None,
                running: None,
                min: None,
                max: None,
                instances: None,
            }
        })
        .collect()
}

fn now(case: &Case) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T00:00:00+09:00")
        .map(|t| t.with_timezone(&Utc) + TimeDelta::minutes(case.minutes))
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn ready_steps_respect_dependencies_and_tags(case in case()) {
        let config = validate(&RawConfig::parse(&yaml(&case), "prop").expect("yaml"), &Defaults::default());
        prop_assert!(config.errors.is_empty(), "{:?}", config.errors);
        let resources = fleet(&case);
        let states = HashMap::new();
        let tags = TagKeys::default();
        let report = plan(&Inputs { now: now(&case), config: &config, resources: &resources, gaps: &[], states: &states, tags: &tags, report_timezone: chrono_tz::UTC });
        let by_id: HashMap<&str, &Resource> = resources.iter().map(|r| (r.id.as_str(), r)).collect();
        for step in &report.steps {
            let schedule = config.schedule(&step.schedule).expect("step names a schedule");
            for r in &step.resources {
                let res = by_id[r.id.as_str()];
                // Never touches a resource outside its schedule's tag or group.
                prop_assert_eq!(res.tags.get("ScheduleName"), Some(schedule.tag_value.as_str()));
                prop_assert_eq!(res.tags.get("ScheduleGroupName").map(str::to_string).unwrap_or_default(), step.group.clone());
                // Only resources that can take the action are in a step.
                let c = condition(res.kind, &res.state);
                prop_assert!(matches!((step.action, c), (Action::Start, Condition::Down) | (Action::Stop, Condition::Up)));
            }
            if step.status != StepStatus::Ready || step.group.is_empty() {
                continue;
            }
            let g = schedule.group_index(&step.group).expect("group exists");
            let (gates, target) = match step.action {
                Action::Start => (&schedule.groups[g].depends_on, Condition::Up),
                Action::Stop => (&schedule.groups[g].dependents, Condition::Down),
            };
            for d in gates {
                let gate = &schedule.groups[*d];
                for res in resources.iter().filter(|r| r.tags.get("ScheduleName") == Some(&schedule.tag_value)
                    && r.tags.get("ScheduleGroupName") == Some(&gate.name) && r.kind == gate.kind) {
                    let c = condition(res.kind, &res.state);
                    prop_assert!(c == target || c == Condition::Gone,
                        "{} {} ready while {} of {} is {}", step.action, step.group, res.id, gate.name, res.state);
                }
            }
        }
    }

    #[test]
    fn output_is_deterministic(case in case(), seed in any::<u64>()) {
        let config = validate(&RawConfig::parse(&yaml(&case), "prop").expect("yaml"), &Defaults::default());
        let resources = fleet(&case);
        let mut shuffled = resources.clone();
        // A cheap deterministic shuffle.
        let len = shuffled.len();
        if len > 1 {
            for i in 0..len {
                let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % len as u64) as usize;
                shuffled.swap(i, j);
            }
        }
        let states = HashMap::new();
        let tags = TagKeys::default();
        let a = plan(&Inputs { now: now(&case), config: &config, resources: &resources, gaps: &[], states: &states, tags: &tags, report_timezone: chrono_tz::UTC });
        let b = plan(&Inputs { now: now(&case), config: &config, resources: &shuffled, gaps: &[], states: &states, tags: &tags, report_timezone: chrono_tz::UTC });
        prop_assert_eq!(serde_json::to_string(&a).expect("json"), serde_json::to_string(&b).expect("json"));
    }

    #[test]
    fn the_report_is_the_same_on_any_number_of_workers(case in case(), workers in 1usize..5) {
        // A third schedule, so that the fleet (tags t0..t2) can be cut into three runs.
        let yaml = yaml(&case).replacen(
            "groups:\n",
            "  - {ScheduleName: s2, TagValue: t2, StartTime: '07:00', StopTime: '20:00', Timezone: Europe/Berlin}\ngroups:\n",
            1,
        );
        let config = validate(&RawConfig::parse(&yaml, "prop").expect("yaml"), &Defaults::default());
        prop_assert_eq!(config.schedules.len(), 3);
        let resources = fleet(&case);
        let states = HashMap::new();
        let tags = TagKeys::default();
        let inputs = Inputs { now: now(&case), config: &config, resources: &resources, gaps: &[], states: &states, tags: &tags, report_timezone: chrono_tz::UTC };
        let one = serde_json::to_string(&plan(&inputs)).expect("json");
        prop_assert_eq!(one, serde_json::to_string(&plan_on(&inputs, workers)).expect("json"));
    }

    #[test]
    fn executing_ready_steps_converges_in_dependency_order(case in case()) {
        // GIVEN a fleet with no broken or transient resources
        let config = validate(&RawConfig::parse(&yaml(&case), "prop").expect("yaml"), &Defaults::default());
        let mut resources: Vec<Resource> = fleet(&case)
            .into_iter()
            .filter(|r| matches!(condition(r.kind, &r.state), Condition::Up | Condition::Down))
            .collect();
        let states: HashMap<String, ScheduleState> = HashMap::new();
        let tags = TagKeys::default();
        // WHEN ready steps are carried out tick after tick
        let mut rounds = 0;
        loop {
            let report = plan(&Inputs { now: now(&case), config: &config, resources: &resources, gaps: &[], states: &states, tags: &tags, report_timezone: chrono_tz::UTC });
            let ready: Vec<_> = report.steps.iter().filter(|s| s.status == StepStatus::Ready).collect();
            if ready.is_empty() {
                // THEN nothing is left blocked: every transition completed
                prop_assert!(report.steps.is_empty(), "stuck: {:?}", report.steps);
                break;
            }
            for step in ready {
                for r in &step.resources {
                    if let Some(res) = resources.iter_mut().find(|x| x.id == r.id) {
                        res.state = match (step.action, res.kind) {
                            (Action::Start, ResourceKind::Ec2) => "running".into(),
                            (Action::Start, _) => "available".into(),
                            (Action::Stop, _) => "stopped".into(),
                        };
                    }
                }
            }
            rounds += 1;
            // AND it takes at most one round per dependency layer (plus the ungrouped one)
            prop_assert!(rounds <= case.deps.len() + 1, "too many rounds");
        }
    }
}
