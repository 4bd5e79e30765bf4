//! Fleet-size tests against moto: DescribeInstances pagination past 1,000 and the per-tick request count.

mod common;

use std::collections::BTreeMap;

use common::{by_kind, summary, World};
use offhours::core::config::ResourceKind;
use offhours::ports::Cloud;

const EC2: usize = 1001;

#[tokio::test]
async fn more_than_a_thousand_instances_are_paged_and_batched_with_minimum_requests() {
    // GIVEN 1,001 tagged instances (one reservation each: moto pages by reservation),
    // two tagged RDS instances, one tagged Aurora cluster with a member instance, and
    // an untagged RDS instance
    let w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: fleet, TagValue: fleet, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 0}
"#,
    )
    .await;
    let started = std::time::Instant::now();
    w.ec2(EC2, "fleet", None).await;
    eprintln!("created {EC2} instances in {:?}", started.elapsed());
    w.rds("db-1", "fleet", None).await;
    w.rds("db-2", "fleet", None).await;
    w.aurora("cluster-1", "fleet", None).await;
    aws_sdk_rds::Client::new(&w.sdk)
        .create_db_instance()
        .db_instance_identifier("cluster-1-member")
        .db_cluster_identifier("cluster-1")
        .db_instance_class("db.r6g.large")
        .engine("aurora-postgresql")
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("ScheduleName")
                .value("fleet")
                .build(),
        )
        .send()
        .await
        .expect("cluster member");
    aws_sdk_rds::Client::new(&w.sdk)
        .create_db_instance()
        .db_instance_identifier("untagged")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("password123")
        .send()
        .await
        .expect("untagged db");

    // THEN observe pages through every instance and skips untagged databases; the tagged
    // Aurora member is reported with its cluster (the planner warns and leaves it alone)
    let seen = w.cloud.observe().await.expect("observe");
    assert_eq!(
        by_kind(&seen),
        BTreeMap::from([
            (ResourceKind::Ec2, EC2),
            (ResourceKind::Rds, 3),
            (ResourceKind::Aurora, 1)
        ])
    );
    let member = seen.iter().find(|r| r.id == "cluster-1-member");
    assert_eq!(member.and_then(|r| r.cluster.as_deref()), Some("cluster-1"));

    // WHEN one stop tick runs, recorded
    w.moto.start_recording().await;
    let started = std::time::Instant::now();
    let report = w.tick("2026-11-23T18:01:00Z").await;
    eprintln!("stop tick took {:?} against moto", started.elapsed());
    w.moto.stop_recording().await;
    assert_eq!(summary(&report), [" stop done"]);
    assert_eq!(report.steps[0].resources.len(), EC2 + 3);
    assert!(report.schedules[0].complete);
    assert!(report
        .warnings
        .iter()
        .any(|p| p.message.contains("cluster-1-member")));

    // THEN the requests are the minimum: per observation (the first pass and the final
    // re-plan) 2 DescribeInstances pages + 1 DescribeDBInstances page + 1 DescribeDBClusters
    // page (no schedule has an ECS group, so no ECS listing); 2 StopInstances batches
    // (1000 + 1); one call per database; and DynamoDB: lease
    // put, 3 config scans, the schedule states read by key (1 BatchGetItem), the lease
    // renewed before the one batch (fencing, a conditional put), 1 state put, lease delete. (No webhook is set, so
    // nothing is recorded for the transition summary; with one, the summary's once-marker
    // costs a GetItem before delivery and a PutItem after the 2xx.)
    let ops = w.moto.recorded_operations().await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for op in &ops {
        *counts.entry(op.as_str()).or_default() += 1;
    }
    eprintln!("requests per tick: {} {counts:?}", ops.len());
    let expected = BTreeMap::from([
        ("dynamodb:BatchGetItem", 1),
        ("dynamodb:DeleteItem", 1),
        ("dynamodb:PutItem", 3),
        ("dynamodb:Scan", 3),
        ("ec2:DescribeInstances", 4),
        ("ec2:StopInstances", 2),
        ("rds:DescribeDBClusters", 2),
        ("rds:DescribeDBInstances", 2),
        ("rds:StopDBCluster", 1),
        ("rds:StopDBInstance", 2),
    ]);
    assert_eq!(counts, expected);

    // AND a quiet tick afterwards costs only the observation and the config reads
    w.moto.start_recording().await;
    assert!(w.tick("2026-11-23T18:06:00Z").await.steps.is_empty());
    w.moto.stop_recording().await;
    let quiet = w.moto.recorded_operations().await;
    eprintln!("requests per quiet tick: {} {quiet:?}", quiet.len());
    assert_eq!(quiet.len(), 2 + 4 + 4);
}
