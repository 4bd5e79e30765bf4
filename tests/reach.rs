//! Auto Scaling instances and hibernation against a real moto server: what offhours asks EC2 to do, seen in moto's request recording.

mod common;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    HibernationOptionsRequest, InstanceType, RequestLaunchTemplateData, ResourceType, Tag,
    TagSpecification,
};
use common::{summary, World, AMI};
use offhours::ports::Cloud;

/// dev, weekdays 09:00-18:00 UTC: APP hibernates, CACHE does not; neither waits for the other.
const CONFIG: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Hibernate: true}
  - {ScheduleName: dev, GroupName: CACHE, InstanceType: EC2}
"#;

/// One running instance tagged `ScheduleName=dev`, `ScheduleGroupName=group`, launched
/// configured for hibernation or not.
async fn instance(w: &World, group: &str, hibernation: bool) -> String {
    let ec2 = aws_sdk_ec2::Client::new(&w.sdk);
    let tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("ScheduleName").value("dev").build())
        .tags(Tag::builder().key("ScheduleGroupName").value(group).build())
        .build();
    let mut run = ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tags);
    if hibernation {
        run = run.hibernation_options(
            HibernationOptionsRequest::builder()
                .configured(true)
                .build(),
        );
    }
    let out = run.send().await.expect("run instances");
    out.instances()[0]
        .instance_id()
        .expect("an instance id")
        .to_string()
}

/// An Auto Scaling group `name` of one instance whose tags (launched with it) put it in
/// schedule dev, group CACHE; returns that instance's id. The SDK has no Auto Scaling client
/// here, so this is the Query API request itself (moto routes it by the signing scope).
async fn auto_scaling_group(w: &World, name: &str) -> String {
    let ec2 = aws_sdk_ec2::Client::new(&w.sdk);
    let template = format!("{name}-template");
    ec2.create_launch_template()
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
    let form = [
        ("Action", "CreateAutoScalingGroup"),
        ("Version", "2011-01-01"),
        ("AutoScalingGroupName", name),
        ("LaunchTemplate.LaunchTemplateName", &template),
        ("MinSize", "1"),
        ("MaxSize", "1"),
        ("DesiredCapacity", "1"),
        ("AvailabilityZones.member.1", "us-east-1a"),
        ("Tags.member.1.Key", "ScheduleName"),
        ("Tags.member.1.Value", "dev"),
        ("Tags.member.1.PropagateAtLaunch", "true"),
        ("Tags.member.2.Key", "ScheduleGroupName"),
        ("Tags.member.2.Value", "CACHE"),
        ("Tags.member.2.PropagateAtLaunch", "true"),
    ];
    reqwest::Client::new()
        .post(&w.moto.url)
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/autoscaling/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish(),
        )
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("create auto scaling group");
    let seen = w.direct_cloud().observe().await.expect("observe");
    seen.into_iter()
        .find(|r| r.tags.get("aws:autoscaling:groupName") == Some(name))
        .map(|r| r.id.to_string())
        .expect("the group launched an instance carrying the schedule tag")
}

/// The instance ids of a recorded Start/StopInstances request.
fn ids(form: &BTreeMap<String, String>) -> Vec<&str> {
    form.iter()
        .filter(|(k, _)| k.starts_with("InstanceId."))
        .map(|(_, v)| v.as_str())
        .collect()
}

#[tokio::test]
async fn auto_scaling_instances_are_never_started_or_stopped_one_by_one() {
    // GIVEN an Auto Scaling group whose instance inherited the schedule and group tags,
    // next to an ordinary instance of the same group
    let w = World::new().await;
    w.import(CONFIG).await;
    let web = auto_scaling_group(&w, "web-asg").await;
    let plain = instance(&w, "CACHE", false).await;
    w.moto.start_recording().await;

    // WHEN the stop boundary passes
    let stop = w.tick("2026-11-23T18:01:00Z").await;

    // THEN the ordinary instance stops, the group's instance keeps running, and no
    // StopInstances call names it
    assert_eq!(summary(&stop), ["CACHE stop done"]);
    let states = w.states().await;
    assert_eq!(states[&plain], "stopped");
    assert_eq!(states[&web], "running");
    let stops = w.moto.recorded_forms("ec2:StopInstances").await;
    assert!(
        stops.iter().all(|f| !ids(f).contains(&web.as_str())),
        "{stops:?}"
    );
    // AND the report names the instance and the Auto Scaling group to tag instead
    let warning = format!(
        "resource {web} (ec2) belongs to Auto Scaling group 'web-asg', which would replace it if it were stopped; it is left alone: tag the Auto Scaling group 'web-asg' ScheduleName=dev instead (in a group with InstanceType ASG)"
    );
    assert!(
        stop.warnings.iter().any(|p| p.message == warning),
        "{:?}",
        stop.warnings
    );

    // WHEN the group's instance is stopped (by hand) and the start boundary passes
    let ec2 = aws_sdk_ec2::Client::new(&w.sdk);
    ec2.stop_instances()
        .instance_ids(&web)
        .send()
        .await
        .expect("stop");
    w.moto.start_recording().await;
    let start = w.tick("2026-11-24T09:01:00Z").await;

    // THEN only the ordinary instance starts
    assert_eq!(summary(&start), ["CACHE start done"]);
    let states = w.states().await;
    assert_eq!(states[&plain], "running");
    assert_eq!(states[&web], "stopped");
    let starts = w.moto.recorded_forms("ec2:StartInstances").await;
    assert_eq!(
        starts.iter().map(ids).collect::<Vec<_>>(),
        [[plain.as_str()]]
    );
    assert!(start.warnings.iter().any(|p| p.message == warning));
}

#[tokio::test]
async fn a_hibernate_group_hibernates_only_the_instances_configured_for_it() {
    // GIVEN APP (Hibernate: true) with one instance configured for hibernation and one
    // not, and CACHE (no Hibernate) with one configured for hibernation
    let w = World::new().await;
    w.import(CONFIG).await;
    let app_hibernation = instance(&w, "APP", true).await;
    let app_plain = instance(&w, "APP", false).await;
    let cache_hibernation = instance(&w, "CACHE", true).await;
    w.moto.start_recording().await;

    // WHEN the stop boundary passes
    let report = w.tick("2026-11-23T18:01:00Z").await;

    // THEN everything stops, and only APP's configured instance with Hibernate=true: in a
    // StopInstances call of its own, since one call hibernates all its instances or none
    let mut stops: Vec<(Vec<&str>, Option<&str>)> = Vec::new();
    let forms = w.moto.recorded_forms("ec2:StopInstances").await;
    for f in &forms {
        stops.push((ids(f), f.get("Hibernate").map(String::as_str)));
    }
    stops.sort();
    let mut want = vec![
        (vec![app_hibernation.as_str()], Some("true")),
        (vec![app_plain.as_str()], None),
        (vec![cache_hibernation.as_str()], None),
    ];
    want.sort();
    assert_eq!(stops, want);
    let states = w.states().await;
    for id in [&app_hibernation, &app_plain, &cache_hibernation] {
        assert_eq!(states[id], "stopped", "{id}");
    }
    // AND the report says which instance hibernated, and which one stopped normally
    let app = report
        .steps
        .iter()
        .find(|s| s.group == "APP")
        .expect("APP step");
    let hibernated: Vec<(&str, bool)> = app
        .resources
        .iter()
        .map(|r| (r.id.as_str(), r.hibernate))
        .collect();
    assert!(
        hibernated.contains(&(app_hibernation.as_str(), true)),
        "{hibernated:?}"
    );
    assert!(
        hibernated.contains(&(app_plain.as_str(), false)),
        "{hibernated:?}"
    );
    let plain_warning = format!(
        "resource {app_plain} (ec2) of group 'APP' (Hibernate: true) is not configured for hibernation; it stops normally"
    );
    let said: Vec<&str> = report
        .warnings
        .iter()
        .map(|p| p.message.as_str())
        .filter(|m| m.contains("hibernation"))
        .collect();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(said[0].starts_with(&plain_warning), "{said:?}");
}
