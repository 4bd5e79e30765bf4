//! The chat-command endpoint end to end on 127.0.0.1, and `extend` seen by the planner.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::net::TcpListener;

use offhours::app::serve::{serve, Endpoint};
use offhours::chat::{handle, slack_signature, ChatRequest, ChatSecrets};
use offhours::core::config::{validate, Action, RawConfig};
use offhours::core::inventory::parse_inventory;
use offhours::core::planner::{plan, Inputs, ScheduleState, TagKeys};
use offhours::core::schedule::EventKey;
use offhours::ports::MemoryStore;
use offhours::ports::Settings;

const CONFIG: &str = "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '22:00', Timezone: Asia/Seoul, WarnMinutes: 10}\ngroups:\n  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}\n";
const INVENTORY: &str = "resources:\n  - {id: i-0a1, kind: ec2, state: running, tags: {ScheduleName: dev, ScheduleGroupName: API, Name: api-1}}\n  - {id: dev-db, kind: rds, state: available, engine: postgres, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n";
const SECRET: &str = "test-signing-secret";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

fn store() -> MemoryStore {
    MemoryStore::new(
        RawConfig::parse(CONFIG, "test").expect("config"),
        parse_inventory(INVENTORY, "test").expect("inventory"),
    )
}

fn settings() -> Settings {
    Settings::from_lookup(|_| None).expect("defaults")
}

fn secrets() -> ChatSecrets {
    ChatSecrets {
        slack_signing_secret: Some(SECRET.into()),
        jandi_token: None,
        command: "/offhours".into(),
        access: Default::default(),
    }
}

fn form(text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/offhours")
        .append_pair("text", text)
        .append_pair("user_name", "mina")
        .finish()
}

#[tokio::test]
async fn serve_answers_signed_slack_requests_and_refuses_bad_ones() {
    // GIVEN the endpoint on a local port with an in-memory store
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let endpoint = Arc::new(Endpoint {
        store: store(),
        settings: settings(),
        secrets: secrets(),
    });
    let server = tokio::spawn(serve(listener, endpoint.clone()));
    let client = reqwest::Client::new();
    let post = |body: String, signature: String, ts: String| {
        client
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
    };
    let ts = Utc::now().timestamp().to_string();

    // WHEN a correctly signed `start dev` arrives
    let body = form("start dev");
    let good = post(
        body.clone(),
        slack_signature(SECRET, &ts, &body),
        ts.clone(),
    )
    .await
    .expect("request");
    // THEN it is answered in Slack's format and ForceStart is set.
    assert_eq!(good.status(), 200);
    let reply: Value = good.json().await.expect("json reply");
    assert_eq!(reply["response_type"], "in_channel");
    assert!(reply["text"]
        .as_str()
        .is_some_and(|t| t.contains("ForceStart set")));
    let after_good = endpoint.store.snapshot().expect("snapshot");
    assert_eq!(after_good.schedules[0]["ForceStop"], Value::Bool(false));
    assert_eq!(after_good.schedules[0]["ForceStart"], Value::Bool(true));

    // WHEN a request signed with another secret asks to stop
    let body = form("stop dev");
    let bad = post(
        body.clone(),
        slack_signature("guessed", &ts, &body),
        ts.clone(),
    )
    .await
    .expect("request");
    // THEN 401 and nothing changed.
    assert_eq!(bad.status(), 401);
    assert_eq!(endpoint.store.snapshot().expect("snapshot"), after_good);

    // AND other methods and paths never reach the handler.
    let get = client.get(&url).send().await.expect("request");
    assert_eq!(get.status(), 405);
    let other = client
        .post(format!("{url}admin"))
        .body("x")
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 404);
    server.abort();
}

#[tokio::test]
async fn extend_moves_the_stop_the_planner_acts_on_and_the_warning() {
    // GIVEN dev (09:00-22:00 KST) running at 21:50 on Monday, started at 09:00 today.
    let store = store();
    let now = at("2026-11-23T21:50:00+09:00");
    let body = form("extend dev +1h");
    let ts = now.timestamp().to_string();
    let request = ChatRequest {
        headers: vec![
            ("X-Slack-Request-Timestamp".into(), ts.clone()),
            (
                "X-Slack-Signature".into(),
                slack_signature(SECRET, &ts, &body),
            ),
        ],
        body,
    };

    // WHEN someone extends by one hour from chat
    let response = handle(&request, now, &store, &settings(), &secrets()).await;
    assert_eq!(response.status, 200, "{}", response.body);

    // THEN a tick at the old stop time plans no stop, and warns for nothing yet;
    let raw = store.snapshot().expect("snapshot");
    let config = validate(&raw, &settings().defaults);
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    let resources = parse_inventory(INVENTORY, "test").expect("inventory");
    let states = HashMap::from([(
        "dev".to_string(),
        ScheduleState {
            applied: Some(EventKey {
                at: at("2026-11-23T09:00:00+09:00"),
                action: Action::Start,
            }),
            forced: None,
            warned: Some(EventKey {
                at: at("2026-11-23T22:00:00+09:00"),
                action: Action::Stop,
            }),
            ..ScheduleState::default()
        },
    )]);
    let tick = |now: DateTime<Utc>| {
        plan(&Inputs {
            now,
            config: &config,
            resources: &resources,
            gaps: &[],
            states: &states,
            tags: &TagKeys::default(),
            report_timezone: chrono_tz::Asia::Seoul,
        })
    };
    let old_stop = tick(at("2026-11-23T22:00:00+09:00"));
    assert!(
        old_stop.steps.iter().all(|s| s.action != Action::Stop),
        "{:?}",
        old_stop.steps
    );
    assert!(old_stop.notices.is_empty());

    // AND the warning moves to ten minutes before the new stop at 23:00,
    let before_new = tick(at("2026-11-23T22:50:00+09:00"));
    assert_eq!(before_new.notices.len(), 1);
    assert_eq!(
        before_new.notices[0].stop_at.to_rfc3339(),
        "2026-11-23T23:00:00+09:00"
    );
    // AND the stop happens at 23:00.
    let new_stop = tick(at("2026-11-23T23:00:00+09:00"));
    let stops: Vec<&str> = new_stop
        .steps
        .iter()
        .filter(|s| s.action == Action::Stop)
        .map(|s| s.group.as_str())
        .collect();
    assert_eq!(stops, ["API", "DB"]);
}
