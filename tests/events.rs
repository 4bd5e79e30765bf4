//! Action events against a real moto server: a bus, a rule on `source: offhours` with an SQS queue target, and what arrives in the queue; and a PutEvents outage that only becomes a warning.

mod common;

use std::collections::BTreeMap;

use common::faults::{Fault, Rule};
use common::hook::{hook, Mode};
use common::{summary, World};
use offhours::aws::events::Events;
use offhours::notify::{Notifier, NotifySettings, WebhookFormat};
use offhours::ports::Cloud;
use serde_json::{json, Value};

/// dev, 09:00-18:00 UTC, warned 10 minutes before the stop: APP (EC2) runs on DB (RDS).
const CONFIG: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "18:00", Timezone: UTC, WarnMinutes: 10}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
"#;

const BUS: &str = "ops-events";
const QUEUE: &str = "offhours-events";

/// A request to moto's SQS in its JSON protocol (no SQS crate needed).
async fn sqs(w: &World, action: &str, body: Value) -> Value {
    let answer = reqwest::Client::new()
        .post(&w.moto.url)
        .header("x-amz-target", format!("AmazonSQS.{action}"))
        .header("content-type", "application/x-amz-json-1.0")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("sqs {action}: {e}"));
    answer.json().await.expect("sqs answers JSON")
}

/// Creates the bus, the queue and a rule on the bus that sends `source: offhours` events
/// to the queue; returns the queue URL.
async fn bus_to_queue(w: &World) -> String {
    let created = sqs(w, "CreateQueue", json!({"QueueName": QUEUE})).await;
    let queue_url = created["QueueUrl"].as_str().expect("queue url").to_string();
    let eb = aws_sdk_eventbridge::Client::new(&w.sdk);
    eb.create_event_bus().name(BUS).send().await.expect("bus");
    eb.put_rule()
        .event_bus_name(BUS)
        .name("offhours-to-queue")
        .event_pattern(json!({"source": ["offhours"]}).to_string())
        .send()
        .await
        .expect("rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(format!("arn:aws:sqs:us-east-1:123456789012:{QUEUE}"))
        .build()
        .expect("target");
    eb.put_targets()
        .event_bus_name(BUS)
        .rule("offhours-to-queue")
        .targets(target)
        .send()
        .await
        .expect("target");
    queue_url
}

/// Every event the queue holds (EventBridge envelopes), draining it.
async fn received(w: &World, queue_url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let got = sqs(
            w,
            "ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10}),
        )
        .await;
        let messages = got["Messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            let body = m["Body"].as_str().expect("body");
            out.push(serde_json::from_str(body).expect("an event"));
            let receipt = m["ReceiptHandle"].clone();
            sqs(
                w,
                "DeleteMessage",
                json!({"QueueUrl": queue_url, "ReceiptHandle": receipt}),
            )
            .await;
        }
    }
}

/// detail-type -> resource ids, for compact assertions.
fn by_type(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events {
        let t = e["detail-type"].as_str().expect("detail-type").to_string();
        let id = e["detail"]["resource"]
            .as_str()
            .expect("resource")
            .to_string();
        m.entry(t).or_default().push(id);
    }
    for ids in m.values_mut() {
        ids.sort();
    }
    m
}

/// Checks `events` against docs/events.schema.json: required fields there, no field it
/// does not name, and every detail-type listed in docs/events.md.
fn check_documented(events: &[Value]) {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(docs.join("events.schema.json")).expect("schema"),
    )
    .expect("schema is JSON");
    let page = std::fs::read_to_string(docs.join("events.md")).expect("docs/events.md");
    for t in offhours::core::events::DetailType::ALL {
        assert!(
            page.contains(&format!("| `{}` |", t.as_str())),
            "{t:?} not in docs/events.md"
        );
    }
    for e in events {
        let detail = e["detail"].as_object().expect("detail object");
        for field in schema["required"].as_array().expect("required") {
            assert!(
                detail.contains_key(field.as_str().expect("name")),
                "{field} missing: {e}"
            );
        }
        for field in detail.keys() {
            assert!(
                schema["properties"].get(field).is_some(),
                "{field} undocumented: {e}"
            );
        }
        let kinds = &schema["properties"]["kind"]["enum"];
        assert!(
            kinds.as_array().expect("kinds").contains(&detail["kind"]),
            "{e}"
        );
    }
}

/// A running chain: the database and eleven instances (more than one PutEvents batch).
async fn running_chain(w: &World) -> Vec<String> {
    w.import(CONFIG).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let mut ids = w.ec2(11, "dev", Some("APP")).await;
    ids.sort();
    ids
}

#[tokio::test]
async fn warnings_and_stops_arrive_through_a_rule_in_batches_of_ten() {
    // GIVEN a bus whose rule sends offhours' events to a queue, a running chain, chat
    let mut w = World::new().await;
    let queue_url = bus_to_queue(&w).await;
    let ids = running_chain(&w).await;
    let chat = hook(Mode::Ok).await;
    w.notifier = Notifier::new(NotifySettings {
        webhook_url: Some(chat.url.clone()),
        format: Some(WebhookFormat::Generic),
        ..NotifySettings::default()
    })
    .expect("notifier");
    w.events = Some(Events::new(&w.sdk, BUS).await);
    w.options.max_wait = std::time::Duration::from_secs(30);
    w.moto.start_recording().await;

    // WHEN the tick before the stop warns, a second one does not warn again, and the
    // stop tick runs the chain down
    let warned = w.tick("2026-11-23T17:52:00Z").await;
    assert_eq!(warned.notices.len(), 1);
    let warnings = received(&w, &queue_url).await;
    w.tick("2026-11-23T17:57:00Z").await;
    assert!(received(&w, &queue_url).await.is_empty(), "warned once");
    let stopped = w.tick("2026-11-23T18:01:00Z").await;
    assert_eq!(summary(&stopped), ["APP stop done", "DB stop done"]);
    assert!(stopped.warnings.is_empty(), "{:?}", stopped.warnings);
    let stops = received(&w, &queue_url).await;
    w.moto.stop_recording().await;

    // THEN one warning event per running resource, with its group and the stop time
    let mut all = ids.clone();
    all.push("dev-db".into());
    all.sort();
    assert_eq!(
        by_type(&warnings),
        BTreeMap::from([("Stop Warning Sent".to_string(), all.clone())])
    );
    let db_warning = warnings
        .iter()
        .find(|e| e["detail"]["resource"] == "dev-db")
        .expect("the database's warning");
    assert_eq!(
        db_warning["detail"],
        json!({"schedule": "dev", "group": "DB", "resource": "dev-db", "kind": "rds",
               "account": "123456789012", "region": "us-east-1", "action": "stop",
               "time": "2026-11-23T17:52:00Z", "stop_at": "2026-11-23T18:00:00Z"})
    );
    check_documented(&warnings);
    check_documented(&stops);
    // AND every stop requested and completed, APP's before DB's
    assert_eq!(
        by_type(&stops),
        BTreeMap::from([
            ("Resource Stop Requested".to_string(), all.clone()),
            ("Resource Stopped".to_string(), all.clone()),
        ])
    );
    for e in &stops {
        assert_eq!(e["source"], "offhours");
        let d = &e["detail"];
        let group = if d["resource"] == "dev-db" {
            "DB"
        } else {
            "APP"
        };
        let kind = if group == "DB" { "rds" } else { "ec2" };
        assert_eq!(
            (
                d["schedule"].as_str(),
                d["group"].as_str(),
                d["kind"].as_str()
            ),
            (Some("dev"), Some(group), Some(kind)),
            "{e}"
        );
        assert_eq!(d["action"], "stop");
        assert_eq!(d["account"], "123456789012");
        assert_eq!(d["region"], "us-east-1");
        assert_eq!(d["time"], "2026-11-23T18:01:00Z");
        assert!(d.get("error").is_none(), "{e}");
    }
    // AND no PutEvents call carried more than ten entries: 12 + 24 events in 2 + 3 calls
    let calls = w.moto.recorded_json("events:PutEvents").await;
    let sizes: Vec<usize> = calls
        .iter()
        .map(|c| c["Entries"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, [10, 2, 10, 10, 4]);
    let entries: Vec<Value> = calls
        .iter()
        .flat_map(|c| c["Entries"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(entries
        .iter()
        .all(|e| e["EventBusName"] == BUS && e["Source"] == "offhours"));
    // AND in the order things happened: APP's eleven stops requested, then DB's, then
    // what the last observation saw stopped
    let stop_tick: Vec<String> = entries[12..]
        .iter()
        .map(|e| {
            let detail: Value = serde_json::from_str(e["Detail"].as_str().expect("detail"))
                .expect("detail is JSON");
            format!(
                "{} {}",
                e["DetailType"].as_str().unwrap_or("?"),
                detail["group"].as_str().unwrap_or("?")
            )
        })
        .collect();
    let mut want = vec!["Resource Stop Requested APP".to_string(); 11];
    want.push("Resource Stop Requested DB".into());
    want.extend(vec!["Resource Stopped APP".to_string(); 11]);
    want.push("Resource Stopped DB".into());
    assert_eq!(stop_tick, want);
}

#[tokio::test]
async fn an_eventbridge_outage_is_a_warning_and_the_chain_still_starts() {
    // GIVEN a stopped chain and a proxy that answers every PutEvents with an error
    let (mut w, proxy) = World::new_with_proxy().await;
    let queue_url = bus_to_queue(&w).await;
    let ids = running_chain(&w).await;
    w.stop_all().await;
    w.events = Some(Events::new(&proxy.sdk().await, BUS).await);
    w.options.max_wait = std::time::Duration::from_secs(30);
    let refused = proxy.push_rule(Rule::on(
        "events",
        "PutEvents",
        Fault::aws(
            "AccessDeniedException",
            "not authorized to perform events:PutEvents",
        ),
    ));

    // WHEN the start tick runs
    let report = w.tick("2026-11-23T09:01:00Z").await;

    // THEN the chain started all the same, with no error
    assert_eq!(summary(&report), ["DB start done", "APP start done"]);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let states: BTreeMap<String, String> = w
        .direct_cloud()
        .observe()
        .await
        .expect("observe")
        .into_iter()
        .map(|r| (r.id.to_string(), r.state.to_string()))
        .collect();
    assert!(ids.iter().all(|id| states[id] == "running"), "{states:?}");
    // AND the lost events are one warning naming the count and the error code, after
    // each batch was sent twice (24 events: 3 batches, then 3 again)
    let lost: Vec<_> = report
        .warnings
        .iter()
        .filter(|p| p.message.contains("EventBridge"))
        .collect();
    assert_eq!(lost.len(), 1, "{:?}", report.warnings);
    assert_eq!(lost[0].schedule, "dev");
    assert!(
        lost[0].message.starts_with("24 action event(s)")
            && lost[0].message.contains("AccessDeniedException"),
        "{}",
        lost[0].message
    );
    assert_eq!(proxy.hits(refused), 6);
    assert!(received(&w, &queue_url).await.is_empty());
}
