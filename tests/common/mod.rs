//! Test harness: a private moto server per test process, SDK config pointing at it, and fleet/table builders.
#![allow(dead_code)]

pub mod faults;
pub mod hook;

use std::collections::{BTreeMap, HashMap};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use base64::Engine;
use offhours::app::tick::Tick;
use offhours::aws::cloud::AwsCloud;
use offhours::aws::events::Events;
use offhours::aws::executor::Options;
use offhours::aws::store::Store;
use offhours::core::config::{RawConfig, ResourceKind};
use offhours::core::plan::Report;
use offhours::notify::{Notifier, NotifySettings};
use offhours::ports::Cloud;
use offhours::ports::Settings;

/// A moto server on a free local port, killed (by its process id) when dropped.
pub struct Moto {
    /// Behind a lock so that a test can kill moto while a tick borrows the world.
    child: std::sync::Mutex<Child>,
    pub url: String,
    recording: std::path::PathBuf,
}

impl Moto {
    /// Starts moto on a free local port, with a fresh recording file.
    pub fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free local port")
            .port();
        let recording = std::env::temp_dir().join(format!("offhours-moto-{port}.jsonl"));
        let _ = std::fs::remove_file(&recording);
        Moto {
            child: std::sync::Mutex::new(spawn_moto(port, &recording)),
            url: format!("http://127.0.0.1:{port}"),
            recording,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().expect("lock").id()
    }

    /// Kills the server (SIGKILL to its process id, as a crash would) and waits for it:
    /// everything it held in memory is gone; its recording file stays.
    pub fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts a new, empty server on the same port (so clients and proxies that knew the
    /// old one reach the new one) with the same recording file, after [`Moto::kill`].
    pub fn restart(&self) {
        let mut child = self.child.lock().expect("lock");
        let _ = child.kill();
        let _ = child.wait();
        *child = spawn_moto(self.port(), &self.recording);
    }

    fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("moto url ends in a port")
    }

    /// SDK config for the server: region us-east-1, dummy credentials.
    pub async fn sdk(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    async fn post(&self, path: &str) {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("moto api answers");
    }

    pub async fn start_recording(&self) {
        self.post("/moto-api/recorder/reset-recording").await;
        self.post("/moto-api/recorder/start-recording").await;
    }

    pub async fn stop_recording(&self) {
        self.post("/moto-api/recorder/stop-recording").await;
    }

    /// Seeds moto's random generator: the same seed and the same requests give the same
    /// resource ids (instance ids, for instance).
    pub async fn seed(&self, seed: u32) {
        self.post(&format!("/moto-api/seed?a={seed}")).await;
    }

    /// Replays the recording file into this server, request by request: after a
    /// [`Moto::restart`], the new server holds what the killed one held (with the same
    /// seed, even the same ids).
    pub async fn replay_recording(&self) {
        self.post("/moto-api/recorder/replay-recording").await;
    }

    /// The operations recorded since `start_recording`, e.g. `ec2:DescribeInstances`,
    /// `dynamodb:Scan`, in order.
    pub async fn recorded_operations(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|entry| operation(&entry))
            .collect()
    }

    /// The JSON body of every recorded request of `operation` (e.g. `events:PutEvents`,
    /// `ecs:UpdateService`)
    /// since `start_recording`, in order.
    pub async fn recorded_json(&self, operation_name: &str) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|entry| operation(entry) == operation_name)
            .filter_map(|entry| serde_json::from_str(&body(&entry)).ok())
            .collect()
    }

    /// The form parameters of every recorded request of `operation` (e.g.
    /// `ec2:StopInstances`) since `start_recording`, in order: `InstanceId.1`, `Hibernate`...
    pub async fn recorded_forms(&self, operation_name: &str) -> Vec<BTreeMap<String, String>> {
        let text = std::fs::read_to_string(&self.recording).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|entry| operation(entry) == operation_name)
            .map(|entry| {
                form_urlencoded::parse(body(&entry).as_bytes())
                    .into_owned()
                    .collect()
            })
            .collect()
    }
}

/// Spawns moto_server on `port`, recording to `recording` when asked, and waits until it
/// accepts connections.
fn spawn_moto(port: u16, recording: &std::path::Path) -> Child {
    // The project's .venv/ (made by `bash scripts/test.sh`) first, then PATH.
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/moto_server");
    let program = if venv.exists() {
        venv
    } else {
        "moto_server".into()
    };
    let mut child = Command::new(&program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_RECORDER_FILEPATH", recording)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}). These tests need moto[server]: \
                 `bash scripts/test.sh` installs it into .venv/",
                program.display()
            )
        });
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("moto_server exited at start-up with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not answer within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn operation(entry: &serde_json::Value) -> String {
    let headers = &entry["headers"];
    let target = headers
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-target"))
                .and_then(|(_, v)| v.as_str())
        })
        .map(String::from);
    if let Some(t) = target {
        // JSON protocols name the service in the target: `AWSEvents.PutEvents`,
        // `AmazonSQS.ReceiveMessage`, `AmazonEC2ContainerServiceV20141113.UpdateService`,
        // `DynamoDB_20120810.PutItem`.
        let prefix = t.split('.').next().unwrap_or_default();
        let service = match prefix {
            "AWSEvents" => "events",
            "AmazonSQS" => "sqs",
            _ if prefix.starts_with("AmazonEC2ContainerService") => "ecs",
            _ => "dynamodb",
        };
        return format!("{service}:{}", t.rsplit('.').next().unwrap_or_default());
    }
    let body = body(entry);
    let action = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "?".into());
    let auth = headers
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, v)| v.as_str())
        })
        .unwrap_or_default();
    let service = if auth.contains("/rds/") {
        "rds"
    } else if auth.contains("/sts/") {
        "sts"
    } else if auth.contains("/autoscaling/") {
        "autoscaling"
    } else {
        "ec2"
    };
    format!("{service}:{action}")
}

/// The body of a recorded request, decoded.
fn body(entry: &serde_json::Value) -> String {
    let body = entry["body"].as_str().unwrap_or_default();
    if entry["body_encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    } else {
        body.to_string()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(&self.recording);
    }
}

/// One test's world: moto, settings (UTC, one pass per tick), store and cloud.
pub struct World {
    pub moto: Moto,
    pub sdk: SdkConfig,
    pub settings: Settings,
    pub store: Store,
    pub cloud: AwsCloud,
    /// No webhook by default; tests of chat replace it.
    pub notifier: Notifier,
    pub options: Options,
    /// No EventBridge bus by default; tests of action events set one.
    pub events: Option<Events>,
}

pub const AMI: &str = "ami-03cf127a";

impl World {
    /// Starts moto and creates the four tables.
    pub async fn new() -> World {
        World::on(Moto::start()).await
    }

    /// Starts moto with its random generator seeded and every request recorded from the
    /// first, tables included: after `moto.kill()`, `moto.restart()`, `moto.seed(seed)` and
    /// `moto.replay_recording()` the new server holds what the killed one held, ids included.
    pub async fn new_replayable(seed: u32) -> World {
        let moto = Moto::start();
        moto.seed(seed).await;
        moto.start_recording().await;
        World::on(moto).await
    }

    /// Settings, store, cloud and the four tables on `moto`.
    async fn on(moto: Moto) -> World {
        let sdk = moto.sdk().await;
        let settings = Settings::from_lookup(|k| match k {
            "TIMEZONE" => Some("UTC".into()),
            "REGIONS" => Some("us-east-1".into()),
            _ => None,
        })
        .expect("settings");
        let store = Store::new(&sdk, &settings);
        let cloud = AwsCloud::new(&sdk, &settings);
        let world = World {
            moto,
            sdk,
            settings,
            store,
            cloud,
            notifier: Notifier::new(NotifySettings::default()).expect("notifier"),
            options: Options {
                dry_run: false,
                max_wait: Duration::ZERO,
                poll: Duration::ZERO,
                deadline: None,
            },
            events: None,
        };
        world.create_tables().await;
        world
    }

    /// Starts moto, the tables and a [`faults::FaultProxy`] in front of moto; the world's
    /// `store` and `cloud` go through the proxy, while `sdk` (and so the `ec2`, `rds`,
    /// `aurora` builders) goes straight to moto.
    pub async fn new_with_proxy() -> (World, faults::FaultProxy) {
        let mut world = World::new().await;
        let proxy = world.through_proxy().await;
        (world, proxy)
    }

    /// Starts a [`faults::FaultProxy`] in front of this world's moto and rebuilds `store`
    /// and `cloud` on it (`sdk` still goes straight to moto).
    pub async fn through_proxy(&mut self) -> faults::FaultProxy {
        let proxy = faults::FaultProxy::start(&self.moto.url).await;
        self.through(&proxy).await;
        proxy
    }

    /// Rebuilds `store` and `cloud` on `proxy` (same region and credentials).
    pub async fn through(&mut self, proxy: &faults::FaultProxy) {
        let sdk = proxy.sdk().await;
        self.store = Store::new(&sdk, &self.settings);
        self.cloud = AwsCloud::new(&sdk, &self.settings);
    }

    /// Rebuilds `store` and `cloud` on `proxy` with the SDK built as the Lambda and the CLI
    /// build it: connect and per-call timeouts from `settings`, adaptive retries.
    pub async fn through_as_deployed(&mut self, proxy: &faults::FaultProxy) {
        let sdk = offhours::app::settings::aws_sdk_loader(&self.settings)
            .region(Region::new("us-east-1"))
            .endpoint_url(&proxy.url)
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await;
        self.store = Store::new(&sdk, &self.settings);
        self.cloud = AwsCloud::new(&sdk, &self.settings);
    }

    /// Manages the accounts `accounts` (env `ACCOUNTS`), straight to moto: settings and
    /// cloud rebuilt (moto keeps the resources of every assumed account apart).
    pub fn with_accounts(&mut self, accounts: &str) {
        let accounts = accounts.to_string();
        self.settings = Settings::from_lookup(|k| match k {
            "TIMEZONE" => Some("UTC".into()),
            "REGIONS" => Some("us-east-1".into()),
            "ACCOUNTS" => Some(accounts.clone()),
            _ => None,
        })
        .expect("settings");
        self.cloud = AwsCloud::new(&self.sdk, &self.settings);
    }

    /// The SDK settings of `account` (its role assumed in moto, which needs no role to
    /// exist): for creating and inspecting resources there.
    pub async fn account_sdk(&self, account: &str) -> SdkConfig {
        let sts = aws_sdk_sts::Client::new(&self.sdk);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/test-setup"))
            .role_session_name("test-setup")
            .send()
            .await
            .expect("assume role");
        let c = out.credentials().expect("credentials");
        let credentials = aws_sdk_sts::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "test-setup",
        );
        self.sdk
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .build()
    }

    /// A cloud straight to moto, whatever `cloud` goes through: for assertions that
    /// faults must not disturb.
    pub fn direct_cloud(&self) -> AwsCloud {
        AwsCloud::new(&self.sdk, &self.settings)
    }

    async fn create_tables(&self) {
        let ddb = aws_sdk_dynamodb::Client::new(&self.sdk);
        let s = &self.settings;
        let tables: [(&str, &[&str]); 4] = [
            (&s.schedule_table, &["ScheduleName"]),
            (&s.group_table, &["ScheduleName", "GroupName"]),
            (&s.exception_table, &["ExceptionUuid"]),
            (&s.state_table, &["Key"]),
        ];
        for (name, keys) in tables {
            let mut req = ddb
                .create_table()
                .table_name(name)
                .billing_mode(BillingMode::PayPerRequest);
            for (i, k) in keys.iter().enumerate() {
                req = req
                    .attribute_definitions(
                        AttributeDefinition::builder()
                            .attribute_name(*k)
                            .attribute_type(ScalarAttributeType::S)
                            .build()
                            .expect("attribute"),
                    )
                    .key_schema(
                        KeySchemaElement::builder()
                            .attribute_name(*k)
                            .key_type(if i == 0 {
                                KeyType::Hash
                            } else {
                                KeyType::Range
                            })
                            .build()
                            .expect("key"),
                    );
            }
            req.send().await.expect("create table");
        }
    }

    /// Imports a YAML config into the tables.
    pub async fn import(&self, yaml: &str) {
        let raw = RawConfig::parse(yaml, "test config").expect("config parses");
        self.store
            .import(&raw, &self.settings.defaults, false)
            .await
            .expect("import");
    }

    /// Creates `count` EC2 instances (one reservation each) tagged for `schedule`/`group`.
    pub async fn ec2(&self, count: usize, schedule: &str, group: Option<&str>) -> Vec<String> {
        self.ec2_in("us-east-1", count, schedule, group).await
    }

    /// Creates `count` EC2 instances in `region`, tagged for `schedule`/`group` (running).
    pub async fn ec2_in(
        &self,
        region: &str,
        count: usize,
        schedule: &str,
        group: Option<&str>,
    ) -> Vec<String> {
        self.ec2_on(&self.sdk, region, count, schedule, group).await
    }

    /// Like [`World::ec2_in`], with the credentials (and so the account) of `sdk`.
    pub async fn ec2_on(
        &self,
        sdk: &SdkConfig,
        region: &str,
        count: usize,
        schedule: &str,
        group: Option<&str>,
    ) -> Vec<String> {
        let sdk = sdk
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let mut tags = vec![("ScheduleName", schedule)];
        tags.extend(group.map(|g| ("ScheduleGroupName", g)));
        let spec = aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(*k).value(*v).build())
                    .collect(),
            ))
            .build();
        let mut ids = Vec::new();
        // A few requests in flight at once keeps 1,000+ reservations quick.
        for chunk in (0..count).collect::<Vec<_>>().chunks(16) {
            let calls = chunk.iter().map(|_| {
                ec2.run_instances()
                    .image_id(AMI)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .min_count(1)
                    .max_count(1)
                    .tag_specifications(spec.clone())
                    .send()
            });
            for out in futures_join(calls).await {
                let out = out.expect("run instances");
                ids.extend(
                    out.instances()
                        .iter()
                        .filter_map(|i| i.instance_id().map(String::from)),
                );
            }
        }
        ids
    }

    /// Creates an RDS postgres instance tagged for `schedule`/`group`.
    pub async fn rds(&self, id: &str, schedule: &str, group: Option<&str>) {
        self.rds_on(&self.sdk, id, schedule, group).await
    }

    /// Like [`World::rds`], with the credentials (and so the account) of `sdk`.
    pub async fn rds_on(&self, sdk: &SdkConfig, id: &str, schedule: &str, group: Option<&str>) {
        let rds = aws_sdk_rds::Client::new(sdk);
        let mut req = rds
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("password123")
            .tags(rds_tag("ScheduleName", schedule));
        if let Some(g) = group {
            req = req.tags(rds_tag("ScheduleGroupName", g));
        }
        req.send().await.expect("create db instance");
    }

    /// Creates an Aurora cluster tagged for `schedule`/`group`.
    pub async fn aurora(&self, id: &str, schedule: &str, group: Option<&str>) {
        let rds = aws_sdk_rds::Client::new(&self.sdk);
        let mut req = rds
            .create_db_cluster()
            .db_cluster_identifier(id)
            .engine("aurora-postgresql")
            .master_username("admin")
            .master_user_password("password123")
            .tags(rds_tag("ScheduleName", schedule));
        if let Some(g) = group {
            req = req.tags(rds_tag("ScheduleGroupName", g));
        }
        req.send().await.expect("create db cluster");
    }

    /// Provider state per resource id.
    pub async fn states(&self) -> HashMap<String, String> {
        self.cloud
            .observe()
            .await
            .expect("observe")
            .into_iter()
            .map(|r| (r.id.to_string(), r.state.to_string()))
            .collect()
    }

    /// Stops everything the cloud sees (moto creates resources running).
    pub async fn stop_all(&self) {
        let refs: Vec<_> = self
            .cloud
            .observe()
            .await
            .expect("observe")
            .iter()
            .map(|r| r.to_ref())
            .collect();
        let outcomes = self.cloud.stop(&refs).await;
        assert!(outcomes.iter().all(|o| o.error.is_none()), "{outcomes:?}");
    }

    /// One tick at `at` (RFC 3339).
    pub async fn tick(&self, at: &str) -> Report {
        self.tick_with(&self.cloud, at).await
    }

    pub async fn tick_with(&self, cloud: &impl Cloud, at: &str) -> Report {
        self.try_tick_with(cloud, at).await.expect("tick")
    }

    /// One tick at `at`, its error kept (lease held, AWS unreachable, ...).
    pub async fn try_tick(&self, at: &str) -> offhours::Result<Report> {
        self.try_tick_with(&self.cloud, at).await
    }

    async fn try_tick_with(&self, cloud: &impl Cloud, at: &str) -> offhours::Result<Report> {
        let tick = Tick {
            store: &self.store,
            cloud,
            notifier: &self.notifier,
            settings: &self.settings,
            options: &self.options,
            events: self.events.as_ref(),
        };
        tick.run(at.parse().expect("RFC 3339 instant")).await
    }
}

fn rds_tag(k: &str, v: &str) -> aws_sdk_rds::types::Tag {
    aws_sdk_rds::types::Tag::builder().key(k).value(v).build()
}

/// Runs the futures as tasks (concurrently) and returns their outputs in order.
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// `group action status` for every step, e.g. `DB start done`.
pub fn summary(report: &Report) -> Vec<String> {
    report
        .steps
        .iter()
        .map(|s| format!("{} {} {}", s.group, s.action, s.status.as_str()))
        .collect()
}

/// Counts of each resource kind's states, for compact assertions.
pub fn by_kind(resources: &[offhours::core::planner::Resource]) -> BTreeMap<ResourceKind, usize> {
    let mut m = BTreeMap::new();
    for r in resources {
        *m.entry(r.kind).or_default() += 1;
    }
    m
}
