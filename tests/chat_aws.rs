//! Chat end to end on moto: real ticks post to a loopback webhook, a signed Slack `extend` writes to DynamoDB, the next ticks honour it; a delivery is claimed once in the state table.

mod common;

use chrono::{DateTime, Utc};
use serde_json::Value;

use common::hook::{hook, Mode};
use common::World;
use offhours::aws::store::AwsCommandStore;
use offhours::chat::{handle, slack_signature, ChatRequest, ChatSecrets};
use offhours::core::plan::StepStatus;
use offhours::notify::{Notifier, NotifySettings, WebhookFormat};
use offhours::ports::Dedup;

/// dev: DB (RDS) <- APP (EC2) <- WEB (EC2), weekdays 09:00-18:00 UTC, warned 10 minutes ahead.
const CHAIN: &str = r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", WarnMinutes: 10}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: APP, InstanceType: EC2, Dependency: [DB]}
  - {ScheduleName: dev, GroupName: WEB, InstanceType: EC2, Dependency: [APP]}
"#;

const SECRET: &str = "slack-signing-secret";

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339 instant")
}

/// A Slack slash command signed with `secret` at `now`.
fn slack(text: &str, now: DateTime<Utc>, secret: &str) -> ChatRequest {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/offhours")
        .append_pair("text", text)
        .append_pair("user_name", "mina")
        .finish();
    let ts = now.timestamp().to_string();
    ChatRequest {
        headers: vec![
            ("X-Slack-Request-Timestamp".into(), ts.clone()),
            (
                "X-Slack-Signature".into(),
                slack_signature(secret, &ts, &body),
            ),
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ],
        body,
    }
}

fn kinds(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| b["kind"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn warning_once_then_extend_from_chat_keeps_servers_up_and_moves_the_warning() {
    // GIVEN a running chain whose ticks post generic JSON to a loopback webhook
    let mut w = World::new().await;
    w.import(CHAIN).await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let app = w.ec2(2, "dev", Some("APP")).await;
    let web = w.ec2(1, "dev", Some("WEB")).await;
    let hook = hook(Mode::Ok).await;
    w.notifier = Notifier::new(NotifySettings {
        webhook_url: Some(hook.url.clone()),
        format: Some(WebhookFormat::Generic),
        ..NotifySettings::default()
    })
    .expect("notifier");
    let bodies = || -> Vec<Value> { hook.requests().into_iter().map(|r| r.body).collect() };

    // WHEN ticks run at T-10 and T-5 before the 18:00 stop
    assert!(w.tick("2026-11-23T17:50:00Z").await.steps.is_empty());
    assert!(w.tick("2026-11-23T17:55:00Z").await.steps.is_empty());
    // THEN exactly one warning arrived, for the 18:00 stop, naming the resources
    let got = bodies();
    assert_eq!(kinds(&got), ["pre_stop_warning"]);
    assert_eq!(got[0]["schedule"], "dev");
    assert_eq!(got[0]["data"]["stop_at"], "2026-11-23T18:00:00Z");
    let text = got[0].to_string();
    assert!(text.contains("dev-db") && text.contains(&web[0]), "{text}");
    assert!(text.contains("/offhours extend dev"), "{text}");

    // WHEN someone answers `extend dev 19:00` from Slack (same handler as the Function URL)
    let commands = AwsCommandStore {
        store: w.store.clone(),
        cloud: w.cloud.clone(),
    };
    let secrets = ChatSecrets {
        slack_signing_secret: Some(SECRET.into()),
        jandi_token: None,
        command: "/offhours".into(),
        access: Default::default(),
    };
    let now = at("2026-11-23T17:56:00Z");
    // (a forged signature first: 401 and nothing written)
    let forged = handle(
        &slack("extend dev 23:00", now, "not-the-secret"),
        now,
        &commands,
        &w.settings,
        &secrets,
    )
    .await;
    assert_eq!(forged.status, 401);
    assert!(w
        .store
        .export()
        .await
        .expect("export")
        .exceptions
        .is_empty());
    let reply = handle(
        &slack("extend dev 19:00", now, SECRET),
        now,
        &commands,
        &w.settings,
        &secrets,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // THEN the exception is in the ScheduleException table
    let exceptions = w.store.export().await.expect("export").exceptions;
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert_eq!(exceptions[0]["ExceptionType"], "stop");
    assert_eq!(exceptions[0]["ExceptionValue"], "19:00");
    assert_eq!(exceptions[0]["ExceptionDate"], "2026-11-23");

    // WHEN the tick at the old stop time runs, THEN nothing stops
    assert!(w.tick("2026-11-23T18:00:00Z").await.steps.is_empty());
    assert!(w.tick("2026-11-23T18:05:00Z").await.steps.is_empty());
    let states = w.states().await;
    assert_eq!(states["dev-db"], "available");
    assert_eq!(states[&app[0]], "running");
    assert_eq!(states[&web[0]], "running");
    // AND the warning moved: a second one comes 10 minutes before 19:00, once
    w.tick("2026-11-23T18:50:00Z").await;
    w.tick("2026-11-23T18:55:00Z").await;
    let got = bodies();
    assert_eq!(kinds(&got), ["pre_stop_warning", "pre_stop_warning"]);
    assert_eq!(got[1]["data"]["stop_at"], "2026-11-23T19:00:00Z");

    // WHEN the new stop passes, one layer per tick (MAX_WAIT_SECONDS=0)
    for t in ["19:00", "19:05", "19:10"] {
        let report = w.tick(&format!("2026-11-23T{t}:00Z")).await;
        assert!(report.steps.iter().all(|s| s.status != StepStatus::Failed));
    }
    w.tick("2026-11-23T19:15:00Z").await;
    // THEN everything is stopped and one summary lists the groups in stop order
    let states = w.states().await;
    assert_eq!(states["dev-db"], "stopped");
    assert_eq!(states[&web[0]], "stopped");
    let got = bodies();
    assert_eq!(
        kinds(&got),
        ["pre_stop_warning", "pre_stop_warning", "transition_summary"]
    );
    let summary = got[2]["sections"].to_string();
    let pos = |g: &str| {
        summary
            .find(g)
            .unwrap_or_else(|| panic!("{g} in {summary}"))
    };
    assert!(
        pos("WEB") < pos("APP") && pos("APP") < pos("DB"),
        "{summary}"
    );
    // AND the webhook URL is in no message
    assert!(!got.iter().any(|b| b.to_string().contains("SECRET-PATH")));
}

#[tokio::test]
async fn a_delivery_is_claimed_once_in_the_state_table() {
    // GIVEN the tables on moto and the chat function's store
    let w = World::new().await;
    let commands = AwsCommandStore {
        store: w.store.clone(),
        cloud: w.cloud.clone(),
    };
    // WHEN two deliveries of one message claim its key, THEN only the first gets it
    assert!(commands.claim("chat#abc").await.expect("claim"));
    assert!(!commands.claim("chat#abc").await.expect("claim"));
    // AND another message's key is its own
    assert!(commands.claim("chat#def").await.expect("claim"));
    // AND the claims are once-markers with an expiry (DynamoDB's TTL removes them)
    assert!(w.store.is_marked("chat#abc").await.expect("read"));
}
