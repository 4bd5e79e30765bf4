//! ECS services against moto: a stop saves `desiredCount` in a tag and sets 0, a start restores it (1 with a warning when nothing was saved), and a DB group -> ECS group chain starts in order and stops in reverse, seen in moto's request recording.
//!
//! moto's ECS: CreateService leaves `runningCount` at 0 (the tasks stay "pending"), and
//! UpdateService sets `runningCount` to the new `desiredCount` at once. So a service made
//! here is scaled once with UpdateService before the test to be "up", and one tick's
//! UpdateService leaves it up (or down) at once.

mod common;

use aws_sdk_ecs::types::{ServiceField, Tag};
use common::{summary, World};
use offhours::core::planner::DESIRED_COUNT_TAG;

/// Weekdays 09:00-18:00 UTC: API (ECS services).
const SERVICES: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: API, InstanceType: ECS}
"#;

/// Weekdays 09:00-18:00 UTC: DB (RDS) <- API (ECS).
const DB_THEN_API: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: ECS, Dependency: [DB]}
"#;

const MON_STOP: &str = "2026-11-23T18:05:00Z";
const TUE_START: &str = "2026-11-24T09:05:00Z";

fn ecs(w: &World) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&w.sdk)
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// Cluster `dev` with service `name` of `desired` tasks, tagged `ScheduleName=dev`,
/// `ScheduleGroupName=API`. A service with tasks is scaled once more so that moto reports
/// them running.
async fn service(w: &World, name: &str, desired: i32) {
    let client = ecs(w);
    client
        .create_cluster()
        .cluster_name("dev")
        .send()
        .await
        .expect("create cluster");
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("nginx")
        .memory(128)
        .build();
    client
        .register_task_definition()
        .family(name)
        .container_definitions(container)
        .send()
        .await
        .expect("register task definition");
    client
        .create_service()
        .cluster("dev")
        .service_name(name)
        .task_definition(name)
        .desired_count(desired)
        .tags(tag("ScheduleName", "dev"))
        .tags(tag("ScheduleGroupName", "API"))
        .send()
        .await
        .expect("create service");
    if desired > 0 {
        scale(w, name, desired).await;
    }
}

async fn scale(w: &World, name: &str, desired: i32) {
    ecs(w)
        .update_service()
        .cluster("dev")
        .service(name)
        .desired_count(desired)
        .send()
        .await
        .expect("update service");
}

/// (desiredCount, runningCount, the `offhours:desired-count` tag) of service `name`.
async fn counts(w: &World, name: &str) -> (i32, i32, Option<String>) {
    let out = ecs(w)
        .describe_services()
        .cluster("dev")
        .services(name)
        .include(ServiceField::Tags)
        .send()
        .await
        .expect("describe services");
    let s = &out.services()[0];
    let saved = s
        .tags()
        .iter()
        .find(|t| t.key() == Some(DESIRED_COUNT_TAG))
        .and_then(|t| t.value().map(String::from));
    (s.desired_count(), s.running_count(), saved)
}

/// The `desiredCount` of every recorded UpdateService request, in order.
async fn updates(w: &World) -> Vec<i64> {
    let bodies = w.moto.recorded_json("ecs:UpdateService").await;
    bodies
        .iter()
        .map(|b| b["desiredCount"].as_i64().expect("a desiredCount"))
        .collect()
}

#[tokio::test]
async fn stop_saves_the_desired_count_in_a_tag_and_start_restores_exactly_it() {
    // GIVEN a service running 3 tasks
    let w = World::new().await;
    w.import(SERVICES).await;
    service(&w, "api", 3).await;
    assert_eq!(counts(&w, "api").await, (3, 3, None));

    // WHEN the stop boundary passes
    w.moto.start_recording().await;
    let stop = w.tick(MON_STOP).await;

    // THEN the count is saved in the tag first, then the service is scaled to 0
    assert_eq!(summary(&stop), ["API stop done"]);
    assert_eq!(counts(&w, "api").await, (0, 0, Some("3".into())));
    let ops = w.moto.recorded_operations().await;
    let tagged = ops.iter().position(|o| o == "ecs:TagResource");
    let scaled = ops.iter().position(|o| o == "ecs:UpdateService");
    assert!(tagged.is_some() && tagged < scaled, "{ops:?}");
    let tags = w.moto.recorded_json("ecs:TagResource").await;
    assert_eq!(tags.len(), 1, "{tags:?}");
    assert_eq!(
        tags[0]["tags"],
        serde_json::json!([{"key": DESIRED_COUNT_TAG, "value": "3"}])
    );
    assert_eq!(updates(&w).await, [0]);

    // WHEN the next start boundary passes
    let start = w.tick(TUE_START).await;

    // THEN exactly 3 tasks are desired again (moto runs them at once), with no warning
    assert_eq!(summary(&start), ["API start done"]);
    assert_eq!(counts(&w, "api").await, (3, 3, Some("3".into())));
    assert_eq!(updates(&w).await, [0, 3]);
    assert!(start.warnings.is_empty(), "{:?}", start.warnings);
}

#[tokio::test]
async fn a_service_with_no_saved_count_starts_at_one_task_with_a_warning() {
    // GIVEN a tagged service at 0 tasks that offhours never stopped (no saved count)
    let w = World::new().await;
    w.import(SERVICES).await;
    service(&w, "worker", 0).await;
    w.moto.start_recording().await;

    // WHEN the start boundary passes
    let report = w.tick(TUE_START).await;

    // THEN it is scaled to 1, and the report warns, naming the service
    assert_eq!(summary(&report), ["API start done"]);
    assert_eq!(updates(&w).await, [1]);
    assert_eq!(counts(&w, "worker").await, (1, 1, None));
    let warned: Vec<&str> = report
        .warnings
        .iter()
        .map(|p| p.message.as_str())
        .filter(|m| m.contains("ECS service dev/worker has no saved desired count"))
        .collect();
    assert_eq!(warned.len(), 1, "{:?}", report.warnings);
}

#[tokio::test]
async fn the_state_table_restores_the_count_when_the_tag_was_removed() {
    // GIVEN a service of 2 tasks stopped by offhours, whose tag someone removed since
    let w = World::new().await;
    w.import(SERVICES).await;
    service(&w, "api", 2).await;
    w.tick(MON_STOP).await;
    assert_eq!(counts(&w, "api").await, (0, 0, Some("2".into())));
    let arn = "arn:aws:ecs:us-east-1:123456789012:service/dev/api";
    ecs(&w)
        .untag_resource()
        .resource_arn(arn)
        .tag_keys(DESIRED_COUNT_TAG)
        .send()
        .await
        .expect("untag");

    // WHEN the start boundary passes
    let report = w.tick(TUE_START).await;

    // THEN the count the state table kept is restored, with no warning
    assert_eq!(counts(&w, "api").await, (2, 2, None));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[tokio::test]
async fn a_db_group_starts_before_the_ecs_group_and_stops_after_it() {
    // GIVEN a running DB and a service of 3 tasks that depends on it
    let w = World::new().await;
    w.import(DB_THEN_API).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    service(&w, "api", 3).await;
    w.moto.start_recording().await;

    // WHEN the stop boundary passes (ticks until both are down)
    let first = w.tick(MON_STOP).await;
    assert_eq!(summary(&first), ["API stop done", "DB stop blocked"]);
    let second = w.tick("2026-11-23T18:10:00Z").await;
    assert_eq!(summary(&second), ["DB stop done"]);

    // WHEN the start boundary passes (ticks until both are up)
    let third = w.tick(TUE_START).await;
    assert_eq!(summary(&third), ["DB start done", "API start blocked"]);
    let fourth = w.tick("2026-11-24T09:10:00Z").await;
    assert_eq!(summary(&fourth), ["API start done"]);

    // THEN moto saw: service to 0, DB stopped, DB started, service back to 3
    let ops: Vec<String> = w
        .moto
        .recorded_operations()
        .await
        .into_iter()
        .filter(|o| o == "ecs:UpdateService" || o.ends_with("DBInstance"))
        .collect();
    assert_eq!(
        ops,
        [
            "ecs:UpdateService",
            "rds:StopDBInstance",
            "rds:StartDBInstance",
            "ecs:UpdateService"
        ]
    );
    assert_eq!(updates(&w).await, [0, 3]);
    assert_eq!(counts(&w, "api").await, (3, 3, Some("3".into())));
}
