//! Planner tests of Auto Scaling instances (left to their group).

use super::*;

/// `res(...)` launched by Auto Scaling group `asg`.
fn in_asg(mut r: Resource, asg: &str) -> Resource {
    r.tags = r.tags.iter().chain([(ASG_TAG, asg)]).collect();
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
