//! Secrets: SSM SecureString parameter names resolved once (moto), plain values for local
//! runs, unreadable secrets fail closed, and no secret ever reaches the logs of a tick or
//! of chat commands.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::Utc;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use common::hook::{hook, Mode};
use common::World;
use offhours::app::lambda::Handler;
use offhours::app::settings::Environment;
use offhours::aws::store::AwsCommandStore;
use offhours::chat::{handle, slack_signature, ChatRequest, ChatSecrets};
use offhours::notify::NotifySettings;
use offhours::ports::Settings;

/// Recognisable secret values: none of them may appear in any log line.
const WEBHOOK_TOKEN: &str = "T0HOOK/B0HOOK/whk-9f3a1c77e2";
const SLACK_SECRET: &str = "slk-sign-4b8e2d19c0a7";
const JANDI_TOKEN: &str = "jnd-tok-7c1f5e3a9b02";

const SCHEDULE: &str = r#"
schedules:
  - {ScheduleName: always, TagValue: always, StartTime: "00:00"}
"#;

// ------------------------------------------------------------------ log capture

/// Every log line of this test process, in the Lambda's JSON format, at `info` for the
/// dependencies (the Lambda's level) and `trace` for offhours itself.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let filter: tracing_subscriber::filter::Targets =
            "info,offhours=trace".parse().expect("a valid filter");
        tracing_subscriber::fmt()
            .json()
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .finish()
            .with(filter)
            .init();
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ------------------------------------------------------------------ helpers

async fn put_secret(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("moto stores the parameter");
}

/// An environment lookup from a fixed list.
fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

fn slack(text: &str, secret: &str) -> ChatRequest {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("command", "/offhours")
        .append_pair("text", text)
        .append_pair("user_name", "mina")
        .append_pair("user_id", "U0MINA")
        .finish();
    let ts = Utc::now().timestamp().to_string();
    ChatRequest {
        headers: vec![
            ("X-Slack-Request-Timestamp".into(), ts.clone()),
            (
                "X-Slack-Signature".into(),
                slack_signature(secret, &ts, &body),
            ),
        ],
        body,
    }
}

fn jandi(text: &str, token: &str) -> ChatRequest {
    let body = json!({
        "token": token, "teamName": "t", "roomName": "r", "writerName": "Mina",
        "writerEmail": "mina@example.com", "text": format!("/offhours {text}"), "keyword": "offhours",
    });
    ChatRequest {
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string(),
    }
}

fn settings() -> Settings {
    Settings::from_lookup(env_of(&[
        ("TIMEZONE", "UTC"),
        ("REGIONS", "us-east-1"),
        ("MAX_WAIT_SECONDS", "0"),
    ]))
    .expect("settings")
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn secrets_named_by_param_are_read_from_ssm_and_plain_values_still_work() {
    // GIVEN SecureString parameters in SSM (moto) and one plain value
    let world = World::new().await;
    put_secret(
        &world.sdk,
        "/offhours/webhook-url",
        "https://hooks.slack.com/services/T/B/x",
    )
    .await;
    put_secret(&world.sdk, "/offhours/slack-signing-secret", SLACK_SECRET).await;
    // WHEN the environment names them with NAME_PARAM (which wins over NAME)
    let env = Environment::resolve(
        env_of(&[
            ("WEBHOOK_URL_PARAM", "/offhours/webhook-url"),
            ("SLACK_SIGNING_SECRET", "plain-but-overridden"),
            (
                "SLACK_SIGNING_SECRET_PARAM",
                "/offhours/slack-signing-secret",
            ),
            ("JANDI_TOKEN", JANDI_TOKEN),
        ]),
        &world.sdk,
    )
    .await;
    // THEN the settings carry the decrypted values, and the plain one as given
    let notify = NotifySettings::from_lookup(|n| env.get(n)).expect("notify settings");
    assert_eq!(
        notify.webhook_url.as_deref(),
        Some("https://hooks.slack.com/services/T/B/x")
    );
    let chat = ChatSecrets::from_lookup(|n| env.get(n));
    assert_eq!(chat.slack_signing_secret.as_deref(), Some(SLACK_SECRET));
    assert_eq!(chat.jandi_token.as_deref(), Some(JANDI_TOKEN));
    assert!(env.check_webhook().is_ok());
    // AND without any NAME_PARAM no SSM client is needed: plain values (local runs)
    let plain = Environment::resolve(env_of(&[("JANDI_TOKEN", "x")]), &world.sdk).await;
    assert_eq!(plain.get("JANDI_TOKEN").as_deref(), Some("x"));
    assert_eq!(plain.get("WEBHOOK_URL"), None);
}

#[tokio::test]
async fn an_unreadable_secret_fails_closed() {
    // GIVEN parameter names that SSM does not have
    let world = World::new().await;
    let env = Environment::resolve(
        env_of(&[
            ("WEBHOOK_URL_PARAM", "/offhours/missing-webhook"),
            ("SLACK_SIGNING_SECRET", SLACK_SECRET),
            ("SLACK_SIGNING_SECRET_PARAM", "/offhours/missing-slack"),
        ]),
        &world.sdk,
    )
    .await;
    // THEN the scheduler refuses to start without its webhook (its cold start fails loudly)
    let e = env
        .check_webhook()
        .expect_err("a missing webhook parameter is an error");
    assert!(e.to_string().contains("WEBHOOK_URL_PARAM"), "{e}");
    // AND the Slack secret counts as unset, never as the plain value beside it
    let secrets = ChatSecrets::from_lookup(|n| env.get(n));
    assert_eq!(secrets.slack_signing_secret, None);
    // AND so even a request signed with that plain value is refused with 401
    let store = AwsCommandStore {
        store: world.store.clone(),
        cloud: world.cloud.clone(),
    };
    let reply = handle(
        &slack("status", SLACK_SECRET),
        Utc::now(),
        &store,
        &world.settings,
        &secrets,
    )
    .await;
    assert_eq!(reply.status, 401);
    // AND JANDI, with no token at all, is refused too
    let reply = handle(
        &jandi("status", ""),
        Utc::now(),
        &store,
        &world.settings,
        &secrets,
    )
    .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn no_secret_appears_in_the_logs_of_ticks_and_chat_commands() {
    let logs = logs();
    // GIVEN every secret set to a recognisable value: the webhook URL (with a token path)
    // and the Slack signing secret from SSM, the JANDI token as a plain value
    let world = World::new().await;
    world.import(SCHEDULE).await;
    world.ec2(2, "always", None).await;
    world.stop_all().await;
    let hook = hook(Mode::Ok).await;
    let webhook_url = format!("{}/services/{WEBHOOK_TOKEN}", hook.url);
    put_secret(&world.sdk, "/offhours/webhook-url", &webhook_url).await;
    put_secret(&world.sdk, "/offhours/slack-signing-secret", SLACK_SECRET).await;
    let env = Environment::resolve(
        env_of(&[
            ("WEBHOOK_URL_PARAM", "/offhours/webhook-url"),
            ("WEBHOOK_FORMAT", "slack"),
            (
                "SLACK_SIGNING_SECRET_PARAM",
                "/offhours/slack-signing-secret",
            ),
            ("JANDI_TOKEN", JANDI_TOKEN),
        ]),
        &world.sdk,
    )
    .await;
    let secrets = ChatSecrets::from_lookup(|n| env.get(n));
    let handler = Handler::new(
        &world.sdk,
        settings(),
        NotifySettings::from_lookup(|n| env.get(n)).expect("notify"),
        secrets.clone(),
    )
    .expect("handler");
    let scheduled = || json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": Utc::now().to_rfc3339()});

    // WHEN a full tick starts the fleet and reports to the webhook
    handler.handle(scheduled()).await.expect("tick");
    // AND chat commands arrive, good and bad, on both platforms
    let store = AwsCommandStore {
        store: world.store.clone(),
        cloud: world.cloud.clone(),
    };
    let s = &world.settings;
    let requests = [
        (slack("status", SLACK_SECRET), 200),
        (slack("stop always", SLACK_SECRET), 200),
        (slack("exception list", SLACK_SECRET), 200),
        (slack("status", "not-the-secret"), 401),
        (jandi("status always", JANDI_TOKEN), 200),
        (jandi("start always", JANDI_TOKEN), 200),
        (jandi("status", "not-the-token"), 401),
    ];
    for (request, status) in &requests {
        let reply = handle(request, Utc::now(), &store, s, &secrets).await;
        assert_eq!(reply.status, *status, "{}", request.body);
        assert!(!reply.body.contains(SLACK_SECRET) && !reply.body.contains(JANDI_TOKEN));
    }
    // AND the next tick's report fails to reach the webhook (errors are logged)
    hook.set_mode(Mode::ServerError);
    handler.handle(scheduled()).await.expect("tick");
    assert!(
        hook.requests().len() >= 2,
        "the ticks posted to the webhook"
    );

    // THEN the captured logs, which are not empty, contain none of the secrets
    let text = String::from_utf8(logs.lock().expect("logs").clone()).expect("UTF-8 logs");
    assert!(
        text.contains("chat message"),
        "deliveries were logged:\n{text}"
    );
    for secret in [
        WEBHOOK_TOKEN,
        "whk-9f3a1c77e2",
        webhook_url.as_str(),
        SLACK_SECRET,
        JANDI_TOKEN,
    ] {
        assert!(!text.contains(secret), "'{secret}' is in the logs:\n{text}");
    }
}
