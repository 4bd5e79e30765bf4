//! Planner tests of Auto Scaling instances (left to their group) and hibernation (`Hibernate` groups).

use super::*;

/// `res(...)` launched by Auto Scaling group `asg`.
fn in_asg(mut r: Resource, asg: &str) -> Resource {
    r.tags = r.tags.iter().chain([(ASG_TAG, asg)]).collect();
    r
}

/// `res(...)` launched configured for hibernation.
fn hibernation(mut r: Resource) -> Resource {
    r.hibernation = true;
    r
}

/// Ids of every resource in a step, in order.
fn planned(r: &Report) -> Vec<&str> {
    r.steps
        .iter()
        .flat_map(|s| s.resources.iter().map(|x| x.id.as_str()))
        .collect()
}

#[test]
fn auto_scaling_instances_are_never_acted_on_one_by_one() {
    let c = config(CHAIN);
    let asg = |state| {
        in_asg(
            res("i-web", ResourceKind::Ec2, state, "dev", Some("API")),
            "web-asg",
        )
    };
    // (case, fleet, at, resources of the steps, schedule complete)
    type Case = (
        &'static str,
        Vec<Resource>,
        &'static str,
        Vec<&'static str>,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "start: the stopped ASG instance is in no step",
            [
                fleet("stopped", "stopped", "stopped", "stopped"),
                vec![asg("stopped")],
            ]
            .concat(),
            MON_0905,
            vec!["db", "i-api", "i-cache", "i-batch"],
            false,
        ),
        (
            "stop: the running ASG instance is in no step",
            [
                fleet("available", "running", "running", "running"),
                vec![asg("running")],
            ]
            .concat(),
            MON_1805,
            vec!["i-batch", "i-cache", "i-api", "db"],
            false,
        ),
        (
            "start: an ASG instance left stopped holds nothing back",
            [
                fleet("available", "running", "running", "running"),
                vec![asg("stopped")],
            ]
            .concat(),
            MON_0905,
            vec![],
            true,
        ),
        (
            "ungrouped ASG instance: in no step either",
            vec![in_asg(
                res("i-solo", ResourceKind::Ec2, "stopped", "dev", None),
                "solo-asg",
            )],
            MON_0905,
            vec![],
            true,
        ),
    ];
    for (case, resources, now, want, complete) in cases {
        let r = run(&c, &resources, &HashMap::new(), now);
        assert_eq!(planned(&r), want, "{case}");
        assert_eq!(r.schedules[0].complete, complete, "{case}");
        // THEN a warning names the instance and the Auto Scaling group to tag instead
        let (id, group) = resources
            .iter()
            .find_map(|r| Some((&r.id, asg_owner(r)?)))
            .expect("an ASG instance");
        assert!(
            r.warnings.iter().any(|w| w.schedule == "dev"
                && w.message.contains(&format!("resource {id} (ec2)"))
                && w.message.contains(&format!(
                    "tag the Auto Scaling group '{group}' ScheduleName=dev instead"
                ))),
            "{case}: {:?}",
            r.warnings
        );
    }
}

#[test]
fn auto_scaling_instances_are_not_in_the_pre_stop_warning() {
    let c = config(CHAIN);
    let mut resources = fleet("stopped", "stopped", "stopped", "stopped");
    resources.push(in_asg(
        res("i-web", ResourceKind::Ec2, "running", "dev", Some("API")),
        "web-asg",
    ));
    // 17:55, ten minutes before the stop: the only running instance is the ASG's
    let r = run(&c, &resources, &HashMap::new(), "2026-11-23T17:55:00+09:00");
    assert!(r.notices.is_empty(), "{:?}", r.notices);
}

/// CHAIN where group API has `Hibernate: true`.
fn hibernating_chain() -> Config {
    config(&CHAIN.replace(
        "GroupName: API, InstanceType: EC2,",
        "GroupName: API, InstanceType: EC2, Hibernate: true,",
    ))
}

/// A fleet in which API has a hibernation-ready instance and one that is not, and CACHE
/// (no `Hibernate`) has a hibernation-ready one.
fn hibernating_fleet(rds: &str, ec2: &str) -> Vec<Resource> {
    vec![
        res("db", ResourceKind::Rds, rds, "dev", Some("DB")),
        hibernation(res("i-api", ResourceKind::Ec2, ec2, "dev", Some("API"))),
        res("i-api-plain", ResourceKind::Ec2, ec2, "dev", Some("API")),
        hibernation(res("i-cache", ResourceKind::Ec2, ec2, "dev", Some("CACHE"))),
        res("i-batch", ResourceKind::Ec2, ec2, "dev", Some("BATCH")),
    ]
}

/// `id` for every resource of a step, `id+h` when it hibernates.
fn modes(r: &Report) -> Vec<String> {
    r.steps
        .iter()
        .flat_map(|s| s.resources.iter())
        .map(|x| format!("{}{}", x.id, if x.hibernate { "+h" } else { "" }))
        .collect()
}

#[test]
fn hibernate_groups_hibernate_only_instances_configured_for_it() {
    let c = hibernating_chain();
    // (case, fleet, at, resources of the steps in order)
    let cases = [
        (
            "stop: only API's configured instance hibernates",
            hibernating_fleet("available", "running"),
            MON_1805,
            vec!["i-batch", "i-cache", "i-api+h", "i-api-plain", "db"],
        ),
        (
            "start: nothing is marked",
            hibernating_fleet("stopped", "stopped"),
            MON_0905,
            vec!["db", "i-api", "i-api-plain", "i-cache", "i-batch"],
        ),
    ];
    for (case, resources, now, want) in cases {
        let r = run(&c, &resources, &HashMap::new(), now);
        assert_eq!(modes(&r), want, "{case}");
        // THEN, stop or start, the instance that cannot hibernate is named, and only it
        let hibernation: Vec<&str> = r
            .warnings
            .iter()
            .filter(|w| w.message.contains("hibernation"))
            .map(|w| w.message.as_str())
            .collect();
        assert_eq!(hibernation.len(), 1, "{case}: {hibernation:?}");
        assert!(
            hibernation[0].starts_with("resource i-api-plain (ec2) of group 'API' (Hibernate: true) is not configured for hibernation; it stops normally"),
            "{case}: {hibernation:?}"
        );
    }
}

#[test]
fn without_hibernate_nothing_hibernates_and_nothing_is_said() {
    let c = config(CHAIN);
    let r = run(
        &c,
        &hibernating_fleet("available", "running"),
        &HashMap::new(),
        MON_1805,
    );
    assert_eq!(
        modes(&r),
        ["i-batch", "i-cache", "i-api", "i-api-plain", "db"]
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn the_report_shows_which_instances_hibernate() {
    let c = hibernating_chain();
    let r = run(
        &c,
        &hibernating_fleet("available", "running"),
        &HashMap::new(),
        MON_1805,
    );
    let api = r.steps.iter().find(|s| s.group == "API").expect("API step");
    let json = serde_json::to_value(api).expect("json");
    assert_eq!(json["resources"][0]["hibernate"], true);
    assert!(json["resources"][1].get("hibernate").is_none(), "{json}");
    let text = r.to_string();
    assert!(
        text.contains("i-api (ec2, hibernate), i-api-plain (ec2)"),
        "{text}"
    );
}
