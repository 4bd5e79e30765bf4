//! The `offhours` binary against moto: import/export round trip, `run --dry-run` and `run` in JSON.

mod common;

use std::process::{Command, Output};

use common::World;
use offhours::config::RawConfig;

fn offhours(w: &World, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_offhours"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &w.moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("MAX_WAIT_SECONDS", "0")
        .output()
        .expect("offhours runs")
}

fn sorted(mut raw: RawConfig) -> RawConfig {
    let key = |i: &offhours::config::Item| serde_json::Value::Object(i.clone()).to_string();
    raw.schedules.sort_by_key(key);
    raw.groups.sort_by_key(key);
    raw.exceptions.sort_by_key(key);
    raw
}

#[tokio::test]
async fn import_export_round_trip_and_invalid_import_writes_nothing() {
    let w = World::new().await;
    let out = offhours(&w, &["import", "--config", "examples/offhours.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 10 item(s)"));

    let out = offhours(&w, &["export", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported: RawConfig = serde_json::from_slice(&out.stdout).expect("export is JSON");
    let original = RawConfig::load("examples/offhours.yaml".as_ref()).expect("example");
    assert_eq!(sorted(exported.clone()), sorted(original));

    // An invalid file (a dependency cycle) is refused as a whole.
    let bad = std::env::temp_dir().join(format!("offhours-bad-{}.yaml", std::process::id()));
    std::fs::write(
        &bad,
        "schedules:\n  - {ScheduleName: new, TagValue: new, StartTime: '09:00'}\ngroups:\n  - {ScheduleName: new, GroupName: A, InstanceType: EC2, Dependency: [A]}\n",
    )
    .expect("write");
    let out = offhours(&w, &["import", "--config", &bad.display().to_string()]);
    let _ = std::fs::remove_file(&bad);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cycle"));
    let out = offhours(&w, &["export", "--format", "yaml"]);
    let after = RawConfig::parse(&String::from_utf8_lossy(&out.stdout), "export").expect("yaml");
    assert_eq!(sorted(after), sorted(exported));
}

#[tokio::test]
async fn run_prints_the_report_and_dry_run_changes_nothing() {
    let w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: dev, TagValue: dev, StartTime: "09:00", StopTime: "22:00", Timezone: Asia/Seoul, WarnMinutes: 0}
groups:
  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}
  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [DB]}
"#,
    )
    .await;
    w.rds("dev-db", "dev", Some("DB")).await;
    let api = w.ec2(1, "dev", Some("API")).await;
    let at = "2026-11-23T22:01:00+09:00";

    let out = offhours(&w, &["run", "--at", at, "--dry-run", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["at"], at);
    assert_eq!(report["steps"][0]["group"], "API");
    assert_eq!(report["steps"][0]["status"], "ready");
    assert_eq!(report["steps"][1]["status"], "blocked");
    assert_eq!(report["steps"][1]["waiting_on"], serde_json::json!(["API"]));
    assert_eq!(w.states().await[&api[0]], "running");

    let out = offhours(&w, &["run", "--at", at, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["dry_run"], false);
    assert_eq!(report["steps"][0]["status"], "done");
    assert_eq!(report["steps"][0]["resources"][0]["id"], api[0].as_str());
    assert_eq!(w.states().await[&api[0]], "stopped");

    let out = offhours(&w, &["run", "--at", "2026-11-23T22:06:00+09:00"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("DB") && text.contains("stop") && text.contains("done"),
        "{text}"
    );
    assert_eq!(w.states().await["dev-db"], "stopped");
}
