//! Auto Scaling groups against moto: a stop saves MinSize/MaxSize/DesiredCapacity in a tag and sets all three to 0, a start restores exactly them (the state table's when the tag is gone; one instance with a warning when nothing was saved), a DB group -> ASG group chain starts in order and stops in reverse, and the groups' instances are never started, stopped or terminated by offhours, all seen in moto's request recording.
//!
//! moto's Auto Scaling: CreateAutoScalingGroup launches the desired instances at once,
//! InService, with the tags marked PropagateAtLaunch; UpdateAutoScalingGroup terminates or
//! launches instances at once (inside moto: no EC2 request is made), so one tick's update
//! leaves the group down (or up) at once. DescribeAutoScalingGroups filters by `tag-key`
//! and pages by MaxRecords (at most 100) and NextToken; a group has no Status.

mod common;

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, LifecycleState, Tag};
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};
use common::{summary, World, AMI};
use offhours::core::planner::SAVED_SIZE_TAG;

/// Weekdays 09:00-18:00 UTC: WEB (Auto Scaling groups).
const GROUPS: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: WEB, InstanceType: ASG}
"#;

/// Weekdays 09:00-18:00 UTC: DB (RDS) <- WEB (ASG).
const DB_THEN_WEB: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: WEB, InstanceType: ASG, Dependency: [DB]}
"#;

const MON_STOP: &str = "2026-11-23T18:05:00Z";
const TUE_START: &str = "2026-11-24T09:05:00Z";

fn autoscaling(w: &World) -> aws_sdk_autoscaling::Client {
    aws_sdk_autoscaling::Client::new(&w.sdk)
}

fn tag(name: &str, k: &str, v: &str, propagate: bool) -> Tag {
    Tag::builder()
        .resource_id(name)
        .resource_type("auto-scaling-group")
        .key(k)
        .value(v)
        .propagate_at_launch(propagate)
        .build()
}

/// Auto Scaling group `name` of `(min, max, desired)`, tagged `ScheduleName=dev` (passed on
/// to its instances, so they carry the schedule tag too) and `ScheduleGroupName=WEB` (kept
/// on the group: its instances are ungrouped members of dev but for the Auto Scaling guard).
async fn group(w: &World, name: &str, (min, max, desired): (i32, i32, i32)) {
    let template = format!("{name}-template");
    aws_sdk_ec2::Client::new(&w.sdk)
        .create_launch_template()
        .launch_template_name(&template)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(AMI)
                .instance_type(InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .expect("create launch template");
    autoscaling(w)
        .create_auto_scaling_group()
        .auto_scaling_group_name(name)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name(&template)
                .build(),
        )
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a")
        .tags(tag(name, "ScheduleName", "dev", true))
        .tags(tag(name, "ScheduleGroupName", "WEB", false))
        .send()
        .await
        .expect("create auto scaling group");
}

/// What moto holds for group `name`: (min, max, desired), InService instances, and the
/// `offhours:saved-size` tag.
async fn sizes(w: &World, name: &str) -> ((i32, i32, i32), usize, Option<String>) {
    let out = autoscaling(w)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("describe auto scaling groups");
    let g = &out.auto_scaling_groups()[0];
    let in_service = g
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
        .count();
    let saved = g
        .tags()
        .iter()
        .find(|t| t.key() == Some(SAVED_SIZE_TAG))
        .and_then(|t| t.value().map(String::from));
    let s = |v: Option<i32>| v.expect("a size");
    (
        (s(g.min_size()), s(g.max_size()), s(g.desired_capacity())),
        in_service,
        saved,
    )
}

/// (MinSize, MaxSize, DesiredCapacity) of every recorded UpdateAutoScalingGroup, in order.
async fn updates(w: &World) -> Vec<(String, String, String)> {
    let forms = w
        .moto
        .recorded_forms("autoscaling:UpdateAutoScalingGroup")
        .await;
    forms
        .iter()
        .map(|f| {
            let get = |k: &str| f.get(k).cloned().unwrap_or_default();
            (get("MinSize"), get("MaxSize"), get("DesiredCapacity"))
        })
        .collect()
}

fn sized(min: &str, max: &str, desired: &str) -> (String, String, String) {
    (min.into(), max.into(), desired.into())
}

/// Recorded EC2 calls that start, stop or terminate instances (offhours must make none
/// for a group's instances; these worlds have no other instance).
async fn instance_calls(w: &World) -> Vec<String> {
    let ops = w.moto.recorded_operations().await;
    ops.into_iter()
        .filter(|o| {
            [
                "ec2:StartInstances",
                "ec2:StopInstances",
                "ec2:TerminateInstances",
            ]
            .contains(&o.as_str())
        })
        .collect()
}

#[tokio::test]
async fn stop_scales_the_group_to_zero_and_start_restores_its_exact_sizes() {
    // GIVEN a group of min 1, max 4, desired 2 whose two instances carry the schedule tag
    let w = World::new().await;
    w.import(GROUPS).await;
    group(&w, "web", (1, 4, 2)).await;
    assert_eq!(sizes(&w, "web").await, ((1, 4, 2), 2, None));

    // WHEN the stop boundary passes
    w.moto.start_recording().await;
    let stop = w.tick(MON_STOP).await;

    // THEN the sizes are saved in the tag first, then all three are set to 0
    assert_eq!(summary(&stop), ["WEB stop done"]);
    let saved = Some("min=1,max=4,desired=2".to_string());
    assert_eq!(sizes(&w, "web").await, ((0, 0, 0), 0, saved.clone()));
    let ops = w.moto.recorded_operations().await;
    let tagged = ops
        .iter()
        .position(|o| o == "autoscaling:CreateOrUpdateTags");
    let scaled = ops
        .iter()
        .position(|o| o == "autoscaling:UpdateAutoScalingGroup");
    assert!(tagged.is_some() && tagged < scaled, "{ops:?}");
    let tags = w
        .moto
        .recorded_forms("autoscaling:CreateOrUpdateTags")
        .await;
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(tags[0]["Tags.member.1.Key"], SAVED_SIZE_TAG);
    assert_eq!(tags[0]["Tags.member.1.Value"], "min=1,max=4,desired=2");
    assert_eq!(tags[0]["Tags.member.1.PropagateAtLaunch"], "false");
    assert_eq!(updates(&w).await, [sized("0", "0", "0")]);
    // AND the instances were left to their group: no EC2 call named them, no warning
    assert_eq!(instance_calls(&w).await, Vec::<String>::new());
    assert!(stop.warnings.is_empty(), "{:?}", stop.warnings);

    // WHEN the next start boundary passes
    let start = w.tick(TUE_START).await;

    // THEN exactly 1/4/2 again (moto launches the two instances at once), with no warning
    assert_eq!(summary(&start), ["WEB start done"]);
    assert_eq!(sizes(&w, "web").await, ((1, 4, 2), 2, saved));
    assert_eq!(
        updates(&w).await,
        [sized("0", "0", "0"), sized("1", "4", "2")]
    );
    assert_eq!(instance_calls(&w).await, Vec::<String>::new());
    assert!(start.warnings.is_empty(), "{:?}", start.warnings);
}

#[tokio::test]
async fn the_state_table_restores_the_sizes_when_the_tag_was_removed() {
    // GIVEN a group stopped by offhours, whose saved-size tag someone removed since
    let w = World::new().await;
    w.import(GROUPS).await;
    group(&w, "web", (1, 4, 2)).await;
    w.tick(MON_STOP).await;
    assert_eq!(sizes(&w, "web").await.0, (0, 0, 0));
    autoscaling(&w)
        .delete_tags()
        .tags(tag("web", SAVED_SIZE_TAG, "", false))
        .send()
        .await
        .expect("delete tag");
    assert_eq!(sizes(&w, "web").await.2, None);

    // WHEN the start boundary passes
    w.moto.start_recording().await;
    let report = w.tick(TUE_START).await;

    // THEN the sizes the state table kept are restored, with no warning
    assert_eq!(updates(&w).await, [sized("1", "4", "2")]);
    assert_eq!(sizes(&w, "web").await, ((1, 4, 2), 2, None));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[tokio::test]
async fn a_group_with_no_saved_sizes_starts_with_one_instance_and_a_warning() {
    // GIVEN a tagged group at 0/0/0 that offhours never stopped (nothing saved)
    let w = World::new().await;
    w.import(GROUPS).await;
    group(&w, "batch", (0, 0, 0)).await;
    w.moto.start_recording().await;

    // WHEN the start boundary passes
    let report = w.tick(TUE_START).await;

    // THEN it gets one instance, and the report warns, naming the group
    assert_eq!(summary(&report), ["WEB start done"]);
    assert_eq!(updates(&w).await, [sized("1", "1", "1")]);
    assert_eq!(sizes(&w, "batch").await, ((1, 1, 1), 1, None));
    let warned: Vec<&str> = report
        .warnings
        .iter()
        .map(|p| p.message.as_str())
        .filter(|m| m.starts_with("Auto Scaling group batch has no saved sizes"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", report.warnings);
}

#[tokio::test]
async fn a_db_group_starts_before_the_asg_group_and_stops_after_it() {
    // GIVEN a running DB and a group of 1/4/2 that depends on it
    let w = World::new().await;
    w.import(DB_THEN_WEB).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    group(&w, "web", (1, 4, 2)).await;
    w.moto.start_recording().await;

    // WHEN the stop boundary passes (ticks until both are down)
    let first = w.tick(MON_STOP).await;
    assert_eq!(summary(&first), ["WEB stop done", "DB stop blocked"]);
    let second = w.tick("2026-11-23T18:10:00Z").await;
    assert_eq!(summary(&second), ["DB stop done"]);

    // WHEN the start boundary passes (ticks until both are up)
    let third = w.tick(TUE_START).await;
    assert_eq!(summary(&third), ["DB start done", "WEB start blocked"]);
    let fourth = w.tick("2026-11-24T09:10:00Z").await;
    assert_eq!(summary(&fourth), ["WEB start done"]);

    // THEN moto saw: group to 0, DB stopped, DB started, group back to 1/4/2
    let ops: Vec<String> = w
        .moto
        .recorded_operations()
        .await
        .into_iter()
        .filter(|o| o == "autoscaling:UpdateAutoScalingGroup" || o.ends_with("DBInstance"))
        .collect();
    assert_eq!(
        ops,
        [
            "autoscaling:UpdateAutoScalingGroup",
            "rds:StopDBInstance",
            "rds:StartDBInstance",
            "autoscaling:UpdateAutoScalingGroup"
        ]
    );
    assert_eq!(
        updates(&w).await,
        [sized("0", "0", "0"), sized("1", "4", "2")]
    );
    assert_eq!(instance_calls(&w).await, Vec::<String>::new());
}
