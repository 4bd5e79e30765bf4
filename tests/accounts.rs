//! Several AWS accounts from one deployment against a real moto server: spoke roles assumed through STS (moto keeps each assumed account's resources apart), a dependency chain across accounts, a refused AssumeRole isolating its account, and the requests of a quiet tick.

mod common;

use std::collections::BTreeMap;

use common::faults::{Fault, Rule};
use common::{summary, World};
use offhours::core::plan::Report;
use offhours::ports::Cloud;

/// moto's own account: the function's account here.
const OWN: &str = "123456789012";
const SPOKE: &str = "111111111111";
const REFUSING: &str = "222222222222";

/// Weekdays 09:00-18:00 UTC: DB (RDS, own account) <- API (EC2, spoke account).
const DB_THEN_API: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}
"#;

/// Weekdays 09:00-18:00 UTC, one group of EC2 instances, no dependencies.
const APP: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2}
"#;

/// The account of every resource the report's steps name, per step: `group action: ids@account`.
fn placed(report: &Report) -> Vec<String> {
    report
        .steps
        .iter()
        .map(|s| {
            let at: Vec<String> = s
                .resources
                .iter()
                .map(|r| format!("{}@{}", r.id, r.account.as_deref().unwrap_or("?")))
                .collect();
            format!("{} {}: {}", s.group, s.action, at.join(","))
        })
        .collect()
}

/// Settings of the own account only, in us-east-1.
fn single() -> offhours::ports::Settings {
    offhours::ports::Settings::from_lookup(|k| match k {
        "TIMEZONE" => Some("UTC".into()),
        "REGIONS" => Some("us-east-1".into()),
        _ => None,
    })
    .expect("settings")
}

/// Provider state per resource id, in `account` only (a cloud of that account alone).
async fn states_in(w: &World, account: &str) -> BTreeMap<String, String> {
    let sdk = w.account_sdk(account).await;
    let cloud = offhours::aws::cloud::AwsCloud::new(&sdk, &single());
    cloud
        .observe()
        .await
        .expect("observe")
        .into_iter()
        .map(|r| (r.id.to_string(), r.state.to_string()))
        .collect()
}

#[tokio::test]
async fn a_chain_across_two_accounts_starts_and_stops_in_order() {
    // GIVEN a DB in the own account and the API that needs it in a spoke account
    let mut w = World::new().await;
    w.import(DB_THEN_API).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let spoke = w.account_sdk(SPOKE).await;
    let api = w.ec2_on(&spoke, "us-east-1", 1, "dev", Some("API")).await;
    // (the spoke's instance is not in the own account: moto keeps accounts apart)
    assert!(!states_in(&w, OWN).await.contains_key(&api[0]));
    w.with_accounts(&format!("self,{SPOKE}"));
    w.moto.start_recording().await;

    // WHEN the stop boundary passes: the API (spoke) stops first, the DB after it
    let first = w.tick("2026-11-23T18:05:00Z").await;
    assert_eq!(summary(&first), ["API stop done", "DB stop blocked"]);
    assert_eq!(placed(&first)[0], format!("API stop: {}@{SPOKE}", api[0]));
    let second = w.tick("2026-11-23T18:10:00Z").await;
    assert_eq!(summary(&second), ["DB stop done"]);
    assert_eq!(placed(&second), [format!("DB stop: dev-db@{OWN}")]);
    assert_eq!(states_in(&w, SPOKE).await[&api[0]], "stopped");
    assert_eq!(states_in(&w, OWN).await["dev-db"], "stopped");

    // WHEN the start boundary passes: the DB (own) starts first, the API after it
    let third = w.tick("2026-11-24T09:05:00Z").await;
    assert_eq!(summary(&third), ["DB start done", "API start blocked"]);
    let fourth = w.tick("2026-11-24T09:10:00Z").await;
    assert_eq!(summary(&fourth), ["API start done"]);
    assert_eq!(states_in(&w, SPOKE).await[&api[0]], "running");
    assert_eq!(states_in(&w, OWN).await["dev-db"], "available");

    // THEN moto saw the calls in dependency order, and the spoke role was assumed once
    // for all four ticks (its credentials cached), the own account looked up once
    let ops: Vec<String> = w
        .moto
        .recorded_operations()
        .await
        .into_iter()
        .filter(|o| {
            o == "sts:GetCallerIdentity"
                || o.ends_with("Instances") && !o.contains("Describe")
                || o.ends_with("DBInstance")
        })
        .collect();
    assert_eq!(
        ops,
        [
            "sts:GetCallerIdentity",
            "ec2:StopInstances",
            "rds:StopDBInstance",
            "rds:StartDBInstance",
            "ec2:StartInstances",
        ]
    );
    let assumed: Vec<(String, String)> = w
        .moto
        .recorded_forms("sts:AssumeRole")
        .await
        .into_iter()
        .filter(|f| f.get("RoleSessionName").map(String::as_str) == Some("offhours"))
        .map(|f| (f["RoleArn"].clone(), f["DurationSeconds"].clone()))
        .collect();
    let role = format!("arn:aws:iam::{SPOKE}:role/offhours-spoke");
    assert_eq!(assumed, [(role, "3600".to_string())]);
    // AND the report, as JSON, names each resource's account and region
    let json = serde_json::to_value(&fourth).expect("json");
    let resource = &json["steps"][0]["resources"][0];
    assert_eq!(resource["account"], SPOKE);
    assert_eq!(resource["region"], "us-east-1");
}

#[tokio::test]
async fn a_refused_assume_role_is_one_error_and_every_other_account_proceeds() {
    // GIVEN instances of one group in the own account, a spoke, and a spoke whose role
    // cannot be assumed (AccessDenied from STS, answered by the proxy)
    let mut w = World::new().await;
    w.import(APP).await;
    let own = w.ec2(1, "dev", Some("APP")).await;
    let spoke = w.account_sdk(SPOKE).await;
    let reachable = w.ec2_on(&spoke, "us-east-1", 1, "dev", Some("APP")).await;
    let refusing = w.account_sdk(REFUSING).await;
    let unreachable = w
        .ec2_on(&refusing, "us-east-1", 1, "dev", Some("APP"))
        .await;
    w.with_accounts(&format!("self,{SPOKE},{REFUSING}"));
    let proxy = w.through_proxy().await;
    proxy.set_rules(vec![Rule::on(
        "sts",
        "AssumeRole",
        Fault::aws(
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/offhours/x is not authorized to perform: sts:AssumeRole",
        ),
    )
    .body_contains(REFUSING)]);

    // WHEN the stop boundary passes
    let report = w.tick("2026-11-23T18:05:00Z").await;

    // THEN the own and the reachable spoke's instances stop; the refusing account's keeps
    // running, untouched
    assert_eq!(summary(&report), ["APP stop done"]);
    let mut stopped: Vec<String> = placed(&report);
    stopped.sort();
    let mut want = [
        format!("{}@{OWN}", own[0]),
        format!("{}@{SPOKE}", reachable[0]),
    ];
    want.sort();
    assert_eq!(stopped, [format!("APP stop: {}", want.join(","))]);
    assert_eq!(states_in(&w, OWN).await[&own[0]], "stopped");
    assert_eq!(states_in(&w, SPOKE).await[&reachable[0]], "stopped");
    assert_eq!(states_in(&w, REFUSING).await[&unreachable[0]], "running");

    // AND exactly one error names the account and the role
    let role = format!("arn:aws:iam::{REFUSING}:role/offhours-spoke");
    let errors: Vec<&str> = report.errors.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!(
            "account {REFUSING}: AssumeRole of role {role} failed with AccessDenied"
        )),
        "{errors:?}"
    );
    // AND nothing was asked of the refusing account beyond the one refused AssumeRole
    // (and the SDK's retries of it)
    let refused = proxy
        .calls()
        .into_iter()
        .filter(|c| c.rule.is_some())
        .count();
    assert!((1..=3).contains(&refused), "{refused}");
}

#[tokio::test]
async fn a_quiet_tick_over_two_accounts_and_two_regions_costs_one_listing_set_per_place() {
    // GIVEN two accounts (own and a spoke) x two regions, resources in each, all stopped
    let mut w = World::new().await;
    w.import(APP).await;
    let spoke = w.account_sdk(SPOKE).await;
    for region in ["us-east-1", "eu-west-1"] {
        w.ec2_in(region, 1, "dev", Some("APP")).await;
        w.ec2_on(&spoke, region, 1, "dev", Some("APP")).await;
    }
    w.settings = offhours::ports::Settings::from_lookup(|k| match k {
        "TIMEZONE" => Some("UTC".into()),
        "REGIONS" => Some("us-east-1,eu-west-1".into()),
        "ACCOUNTS" => Some(format!("self,{SPOKE}")),
        _ => None,
    })
    .expect("settings");
    let proxy = w.through_proxy().await;
    let stop = w.tick("2026-11-23T18:05:00Z").await;
    assert_eq!(summary(&stop), ["APP stop done"]);
    assert_eq!(stop.steps[0].resources.len(), 4);

    // WHEN two quiet ticks run
    let mut per_tick = Vec::new();
    for at in ["2026-11-23T18:10:00Z", "2026-11-23T18:15:00Z"] {
        proxy.reset_calls();
        assert!(w.tick(at).await.steps.is_empty());
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for call in proxy.calls() {
            *counts.entry(call.operation()).or_default() += 1;
        }
        per_tick.push(counts);
    }

    // THEN each costs one set of listings per account and region (EC2, RDS instances,
    // Aurora clusters: 3 x 4 places) plus the config and state reads, and no STS call:
    // the role's credentials from the stop tick are still fresh
    let expected = BTreeMap::from([
        ("dynamodb:BatchGetItem".to_string(), 1),
        ("dynamodb:DeleteItem".to_string(), 1),
        ("dynamodb:PutItem".to_string(), 1),
        ("dynamodb:Scan".to_string(), 3),
        ("ec2:DescribeInstances".to_string(), 4),
        ("rds:DescribeDBClusters".to_string(), 4),
        ("rds:DescribeDBInstances".to_string(), 4),
    ]);
    eprintln!("quiet tick, 2 accounts x 2 regions: {:?}", per_tick[1]);
    assert_eq!(per_tick[0], expected);
    assert_eq!(per_tick[1], expected);
}

/// Weekdays 09:00-18:00 UTC, one group of ECS services.
const SERVICES: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: API, InstanceType: ECS}
"#;

/// Cluster `dev` with service `api` of `desired` tasks in the account of `sdk`, tagged
/// for schedule dev, group API.
async fn service_in(sdk: &aws_config::SdkConfig, desired: i32) -> aws_sdk_ecs::Client {
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster()
        .cluster_name("dev")
        .send()
        .await
        .expect("cluster");
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("nginx")
        .memory(128)
        .build();
    ecs.register_task_definition()
        .family("api")
        .container_definitions(container)
        .send()
        .await
        .expect("task definition");
    let tag = |k: &str, v: &str| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
    ecs.create_service()
        .cluster("dev")
        .service_name("api")
        .task_definition("api")
        .desired_count(desired)
        .tags(tag("ScheduleName", "dev"))
        .tags(tag("ScheduleGroupName", "API"))
        .send()
        .await
        .expect("service");
    ecs
}

async fn desired_count(ecs: &aws_sdk_ecs::Client) -> i32 {
    let out = ecs
        .describe_services()
        .cluster("dev")
        .services("api")
        .send()
        .await
        .expect("describe");
    out.services()[0].desired_count()
}

#[tokio::test]
async fn the_same_service_name_in_two_accounts_keeps_its_own_count() {
    // GIVEN service dev/api at 3 tasks in the own account and at 2 in a spoke
    let mut w = World::new().await;
    w.import(SERVICES).await;
    let own = service_in(&w.sdk, 3).await;
    let spoke = service_in(&w.account_sdk(SPOKE).await, 2).await;
    w.with_accounts(&format!("self,{SPOKE}"));

    // WHEN the stop boundary passes THEN both scale to 0, each saving its own count
    let stop = w.tick("2026-11-23T18:05:00Z").await;
    assert_eq!(summary(&stop), ["API stop done"]);
    let mut saved: Vec<String> = stop.steps[0]
        .resources
        .iter()
        .map(|r| {
            format!(
                "{}@{}={:?}",
                r.id,
                r.account.as_deref().unwrap_or("?"),
                r.desired
            )
        })
        .collect();
    saved.sort();
    assert_eq!(
        saved,
        [
            format!("dev/api@{SPOKE}=Some(2)"),
            format!("dev/api@{OWN}=Some(3)")
        ]
    );
    assert_eq!(
        (desired_count(&own).await, desired_count(&spoke).await),
        (0, 0)
    );

    // WHEN the start boundary passes THEN each gets back exactly its own count
    let start = w.tick("2026-11-24T09:05:00Z").await;
    assert_eq!(summary(&start), ["API start done"]);
    assert_eq!(
        (desired_count(&own).await, desired_count(&spoke).await),
        (3, 2)
    );
    assert!(start.warnings.is_empty(), "{:?}", start.warnings);
}
