//! Self-tests of the test-support fault proxy (tests/common/faults.rs) and the switchable
//! webhook (tests/common/hook.rs): faults reach the Rust SDK as the real AWS error codes,
//! everything else reaches moto.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::InstanceStateName;
use common::faults::{Fault, FaultProxy, Rule};
use common::hook::{hook, Mode};
use common::World;

async fn ec2_state(w: &World, id: &str) -> InstanceStateName {
    let out = aws_sdk_ec2::Client::new(&w.sdk)
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .expect("describe instances");
    out.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .cloned()
        .expect("state")
}

async fn stop(w: &World, ids: &[String]) {
    aws_sdk_ec2::Client::new(&w.sdk)
        .stop_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .expect("stop instances");
}

#[tokio::test]
async fn ec2_start_of_one_instance_fails_with_insufficient_capacity_while_another_starts() {
    // GIVEN two stopped instances and a rule failing StartInstances calls naming the first
    let (w, proxy) = World::new_with_proxy().await;
    let ids = w.ec2(2, "dev", Some("APP")).await;
    stop(&w, &ids).await;
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "StartInstances",
        Fault::aws(
            "InsufficientInstanceCapacity",
            "We currently do not have sufficient capacity in the Availability Zone you requested.",
        ),
    )
    .body_contains(&ids[0])]);
    let ec2 = aws_sdk_ec2::Client::new(&proxy.sdk().await);

    // WHEN both are started through the proxy, one call each
    let failed = ec2
        .start_instances()
        .instance_ids(&ids[0])
        .send()
        .await
        .expect_err("capacity fault");
    let started = ec2.start_instances().instance_ids(&ids[1]).send().await;

    // THEN the SDK reports the EC2 code; AWS sends it with 500, so the SDK tried 3 times
    assert_eq!(failed.code(), Some("InsufficientInstanceCapacity"));
    assert!(failed.message().unwrap_or_default().contains("capacity"));
    assert_eq!(proxy.hits(0), 3, "{:?}", proxy.calls());
    // AND the other call reached moto and really started its instance
    started.expect("second instance starts");
    assert_eq!(ec2_state(&w, &ids[0]).await, InstanceStateName::Stopped);
    assert_eq!(ec2_state(&w, &ids[1]).await, InstanceStateName::Running);
    assert_eq!(proxy.forwarded(), ["ec2:StartInstances"]);
}

#[tokio::test]
async fn rds_start_fails_with_invalid_db_instance_state() {
    // GIVEN an RDS instance and a rule on StartDBInstance
    let (w, proxy) = World::new_with_proxy().await;
    w.rds("dev-db", "dev", Some("DB")).await;
    proxy.set_rules(vec![Rule::on(
        "rds",
        "StartDBInstance",
        Fault::aws(
            "InvalidDBInstanceState",
            "DbInstance dev-db is not stopped.",
        ),
    )]);
    let rds = aws_sdk_rds::Client::new(&proxy.sdk().await);

    // WHEN it is started through the proxy
    let err = rds
        .start_db_instance()
        .db_instance_identifier("dev-db")
        .send()
        .await
        .expect_err("state fault");

    // THEN the SDK reports the RDS code, once (a 400 with this code is not retried)
    assert_eq!(err.code(), Some("InvalidDBInstanceState"));
    assert_eq!(err.message(), Some("DbInstance dev-db is not stopped."));
    assert_eq!(proxy.hits(0), 1);
    // AND other RDS calls go through
    let out = rds.describe_db_instances().send().await.expect("describe");
    assert_eq!(out.db_instances().len(), 1);
    assert_eq!(proxy.forwarded(), ["rds:DescribeDBInstances"]);
}

#[tokio::test]
async fn dynamodb_put_is_throttled_and_retried_while_reads_pass_through() {
    // GIVEN the state table and a rule throttling PutItem
    let (w, proxy) = World::new_with_proxy().await;
    let table = w.settings.state_table.clone();
    let ddb = aws_sdk_dynamodb::Client::new(&proxy.sdk().await);
    let direct = aws_sdk_dynamodb::Client::new(&w.sdk);
    direct
        .put_item()
        .table_name(&table)
        .item("Key", AttributeValue::S("before".into()))
        .send()
        .await
        .expect("direct put");
    proxy.set_rules(vec![Rule::on(
        "dynamodb",
        "PutItem",
        Fault::aws(
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
    )]);

    // WHEN an item is put through the proxy
    let err = ddb
        .put_item()
        .table_name(&table)
        .item("Key", AttributeValue::S("after".into()))
        .send()
        .await
        .expect_err("throttled");

    // THEN the SDK reports the DynamoDB code after 3 attempts (throttling is retried)
    assert_eq!(err.code(), Some("ProvisionedThroughputExceededException"));
    assert_eq!(proxy.hits(0), 3);
    // AND reads pass through to moto, which never saw the put
    let got = ddb
        .get_item()
        .table_name(&table)
        .key("Key", AttributeValue::S("before".into()))
        .send()
        .await
        .expect("get item");
    assert!(got.item().is_some());
    let scan = ddb.scan().table_name(&table).send().await.expect("scan");
    assert_eq!(scan.count(), 1);
    assert_eq!(proxy.forwarded(), ["dynamodb:GetItem", "dynamodb:Scan"]);
}

#[tokio::test]
async fn ec2_unauthorized_operation_has_a_fresh_message_each_call() {
    // GIVEN a rule denying DescribeInstances
    let (_w, proxy) = World::new_with_proxy().await;
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "DescribeInstances",
        Fault::unauthorized_operation(),
    )]);
    let ec2 = aws_sdk_ec2::Client::new(&proxy.sdk().await);

    // WHEN it is called twice
    let first = ec2.describe_instances().send().await.expect_err("denied");
    let second = ec2.describe_instances().send().await.expect_err("denied");

    // THEN the code is the same, the encoded messages differ, and nothing was retried
    assert_eq!(first.code(), Some("UnauthorizedOperation"));
    assert_eq!(second.code(), Some("UnauthorizedOperation"));
    let (m1, m2) = (first.message().unwrap(), second.message().unwrap());
    assert!(
        m1.contains("Encoded authorization failure message: "),
        "{m1}"
    );
    assert_ne!(m1, m2);
    assert_eq!(proxy.hits(0), 2);
}

#[tokio::test]
async fn a_rule_limited_to_one_answer_lets_the_second_call_through() {
    // GIVEN a DescribeDBInstances fault limited to one answer (a non-retried code)
    let (_w, proxy) = World::new_with_proxy().await;
    proxy.set_rules(vec![Rule::on(
        "rds",
        "DescribeDBInstances",
        Fault::aws("AccessDenied", "not now"),
    )
    .times(1)]);
    let rds = aws_sdk_rds::Client::new(&proxy.sdk().await);

    // WHEN it is called twice
    let first = rds.describe_db_instances().send().await;
    let second = rds.describe_db_instances().send().await;

    // THEN the first fails, the second reaches moto
    assert_eq!(first.expect_err("fault").code(), Some("AccessDenied"));
    second.expect("second call passes");
    assert_eq!(proxy.hits(0), 1);
    assert_eq!(proxy.forwarded(), ["rds:DescribeDBInstances"]);
}

#[tokio::test]
async fn a_throttle_for_one_attempt_is_absorbed_by_the_sdk_retry() {
    // GIVEN EC2 throttling (503 RequestLimitExceeded) for one answer only
    let (w, proxy) = World::new_with_proxy().await;
    w.ec2(1, "dev", None).await;
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "DescribeInstances",
        Fault::aws("RequestLimitExceeded", "Request limit exceeded."),
    )
    .times(1)]);

    // WHEN the world's cloud (through the proxy) observes
    let states = w.states().await;

    // THEN the SDK retried once and succeeded
    assert_eq!(states.len(), 1);
    assert_eq!(proxy.hits(0), 1);
    assert!(proxy
        .forwarded()
        .contains(&"ec2:DescribeInstances".to_string()));
}

#[tokio::test]
async fn a_rule_for_one_region_does_not_hit_another() {
    // GIVEN a rule for EC2 in us-east-1 only
    let (_w, proxy) = World::new_with_proxy().await;
    proxy.set_rules(vec![Rule::on(
        "ec2",
        "DescribeInstances",
        Fault::aws("UnauthorizedOperation", "denied"),
    )
    .region("us-east-1")]);

    // WHEN a client in ap-northeast-2 and one in us-east-1 call
    let seoul = aws_sdk_ec2::Client::new(&proxy.sdk_in("ap-northeast-2").await);
    let virginia = aws_sdk_ec2::Client::new(&proxy.sdk().await);
    let from_seoul = seoul.describe_instances().send().await;
    let from_virginia = virginia.describe_instances().send().await;

    // THEN only the us-east-1 call fails
    from_seoul.expect("ap-northeast-2 passes through");
    assert_eq!(
        from_virginia.expect_err("fault").code(),
        Some("UnauthorizedOperation")
    );
    assert_eq!(proxy.hits(0), 1);
    let regions: Vec<_> = proxy
        .calls()
        .iter()
        .map(|c| (c.region.clone(), c.rule))
        .collect();
    assert_eq!(
        regions,
        [
            ("ap-northeast-2".to_string(), None),
            ("us-east-1".to_string(), Some(0))
        ]
    );
}

#[tokio::test]
async fn a_hanging_answer_ends_in_the_sdk_operation_timeout() {
    // GIVEN a proxy that never answers DescribeInstances, and a 500 ms operation timeout
    let (_w, proxy) = World::new_with_proxy().await;
    proxy.set_rules(vec![Rule::on("ec2", "DescribeInstances", Fault::Hang)]);
    let config = aws_sdk_ec2::config::Builder::from(&proxy.sdk().await)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(500))
                .build(),
        )
        .build();
    let ec2 = aws_sdk_ec2::Client::from_conf(config);

    // WHEN it is called
    let began = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(10), ec2.describe_instances().send())
        .await
        .expect("the SDK gives up before the test does");

    // THEN the SDK reports a timeout, after about the timeout
    let err = result.expect_err("timeout");
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(began.elapsed() < Duration::from_secs(5));
    assert_eq!(proxy.hits(0), 1);
}

#[tokio::test]
async fn a_dropped_connection_is_a_dispatch_failure_after_retries() {
    // GIVEN a proxy that closes the connection on DescribeDBInstances
    let (_w, proxy) = World::new_with_proxy().await;
    proxy.set_rules(vec![Rule::on("rds", "DescribeDBInstances", Fault::Drop)]);
    let rds = aws_sdk_rds::Client::new(&proxy.sdk().await);

    // WHEN it is called
    let err = rds
        .describe_db_instances()
        .send()
        .await
        .expect_err("dropped");

    // THEN the SDK reports a dispatch failure (no AWS code) after retrying
    assert!(
        matches!(err, aws_sdk_rds::error::SdkError::DispatchFailure(_)),
        "{err:?}"
    );
    assert_eq!(err.code(), None);
    assert_eq!(proxy.hits(0), 3, "{:?}", proxy.calls());

    // AND once the rules are cleared the same client works again
    proxy.clear();
    rds.describe_db_instances().send().await.expect("passes");
}

#[tokio::test]
async fn the_proxy_stops_answering_when_dropped() {
    // GIVEN a proxy in front of moto
    let w = World::new().await;
    let proxy = FaultProxy::start(&w.moto.url).await;
    let url = proxy.url.clone();

    // WHEN it is dropped
    drop(proxy);
    tokio::task::yield_now().await;

    // THEN its port refuses connections
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the proxy still listens on {url}");
}

#[tokio::test]
async fn the_hook_answers_as_switched() {
    // GIVEN a hook created unavailable
    let h = hook(Mode::Unavailable).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let post = || client.post(&h.url).body("{\"n\":1}").send();

    // WHEN it is called, switched to Ok, called, switched to Accepted, called
    let first = post().await.expect("answer").status().as_u16();
    h.set_mode(Mode::Ok);
    let second = post().await.expect("answer").status().as_u16();
    h.set_mode(Mode::Accepted);
    let third = post().await.expect("answer").status().as_u16();

    // THEN it answered 503, 200, 202 and recorded all three
    assert_eq!([first, second, third], [503, 200, 202]);
    assert_eq!(h.mode(), Mode::Accepted);
    assert_eq!(h.requests().len(), 3);
}
