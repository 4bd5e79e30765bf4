//! The `offhours` binary against moto: import/export round trip, one-shot flags and --prune on import, `run --dry-run` and `run` in JSON.

mod common;

use std::process::{Command, Output};

use common::World;
use offhours::core::config::{Action, RawConfig};

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

/// Writes `text` to a fresh file under the target dir and returns its path.
fn temp_file(name: &str, text: &str) -> String {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-aws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path.display().to_string()
}

/// Stdout of a run that must succeed.
fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(schedules, groups, exceptions)` in the tables, by key.
async fn stored(w: &World) -> (Vec<String>, Vec<String>, Vec<String>) {
    let raw = w.store.load_config().await.expect("tables load");
    let key = |item: &offhours::core::config::Item, fields: &[&str]| -> String {
        fields
            .iter()
            .map(|f| item.get(f).and_then(|v| v.as_str()).unwrap_or("?"))
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut out = (
        raw.schedules
            .iter()
            .map(|i| key(i, &["ScheduleName"]))
            .collect::<Vec<_>>(),
        raw.groups
            .iter()
            .map(|i| key(i, &["ScheduleName", "GroupName"]))
            .collect::<Vec<_>>(),
        raw.exceptions
            .iter()
            .map(|i| key(i, &["ExceptionUuid"]))
            .collect::<Vec<_>>(),
    );
    out.0.sort();
    out.1.sort();
    out.2.sort();
    out
}

fn sorted(mut raw: RawConfig) -> RawConfig {
    let key = |i: &offhours::core::config::Item| serde_json::to_string(i).expect("item serializes");
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

#[tokio::test]
async fn import_skips_one_shot_flags_export_leaves_them_out_and_prune_removes_what_the_file_lost() {
    let w = World::new().await;
    // GIVEN a file with dev (ForceStart set) and old (with a group and an exception)
    let a = temp_file(
        "a.yaml",
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: '09:00', StopTime: '18:00', ForceStart: true}\n  - {ScheduleName: old, TagValue: old, StartTime: '08:00', StopTime: '20:00'}\ngroups:\n  - {ScheduleName: old, GroupName: WEB, InstanceType: EC2}\nexceptions:\n  - {ExceptionUuid: old-x, ScheduleName: old, ExceptionDate: '2026-12-24', ExceptionType: stop, ExceptionValue: '15:00'}\n",
    );
    // WHEN it is imported
    let text = stdout(&offhours(&w, &["import", "--config", &a]));
    // THEN the one-shot flag is reported and not written
    assert!(
        text.lines().any(|l| l.starts_with("not imported")
            && l.contains("ScheduleName=dev")
            && l.contains("ForceStart")),
        "{text}"
    );
    let raw = w.store.load_config().await.expect("tables load");
    let dev = raw
        .schedules
        .iter()
        .find(|i| i.get("ScheduleName").and_then(|v| v.as_str()) == Some("dev"))
        .expect("dev imported");
    assert!(!dev.contains_key("ForceStart"), "{dev:?}");
    let before = stored(&w).await;
    assert_eq!(
        before,
        (
            vec!["dev".into(), "old".into()],
            vec!["old/WEB".into()],
            vec!["old-x".into()]
        )
    );

    // GIVEN ForceStop set on the table item (UpdateItem, as chat does)
    assert!(w
        .store
        .set_force("dev", Action::Stop)
        .await
        .expect("update"));
    let raw = w.store.load_config().await.expect("tables load");
    assert!(raw
        .schedules
        .iter()
        .any(|i| i.get("ForceStop") == Some(&serde_json::Value::Bool(true))));
    // THEN export leaves the flags out, in both formats
    for format in ["yaml", "json"] {
        let text = stdout(&offhours(&w, &["export", "--format", format]));
        assert!(
            text.contains("ScheduleName: dev") || text.contains("\"dev\""),
            "{text}"
        );
        assert!(
            !text.contains("ForceStart") && !text.contains("ForceStop"),
            "{format}: {text}"
        );
    }

    // WHEN a file without old is imported, without --prune
    let b = temp_file(
        "b.yaml",
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: '09:00', StopTime: '18:00'}\n",
    );
    let text = stdout(&offhours(&w, &["import", "--config", &b]));
    // THEN old's items are listed, and nothing is removed
    let stale = [
        "Schedule ScheduleName=old",
        "ScheduleServerGroup ScheduleName=old GroupName=WEB",
        "ScheduleException ExceptionUuid=old-x",
    ];
    for item in stale {
        assert!(
            text.lines()
                .any(|l| l.contains("would remove with --prune") && l.ends_with(item)),
            "{item}: {text}"
        );
    }
    assert!(!text.contains("removed"), "{text}");
    assert!(!text.contains("ScheduleName=dev"), "{text}");
    assert_eq!(stored(&w).await, before);

    // WHEN it is imported with --prune
    let text = stdout(&offhours(&w, &["import", "--config", &b, "--prune"]));
    // THEN they are removed, and said so
    for item in stale {
        assert!(
            text.lines()
                .any(|l| l.starts_with("removed") && l.ends_with(item)),
            "{item}: {text}"
        );
    }
    assert!(!text.contains("would remove"), "{text}");
    assert_eq!(stored(&w).await, (vec!["dev".into()], vec![], vec![]));

    // AND a second --prune import has nothing left to remove
    let text = stdout(&offhours(&w, &["import", "--config", &b, "--prune"]));
    assert!(text.contains("imported 1 item(s)"), "{text}");
    assert!(!text.contains("remove"), "{text}");
    assert_eq!(stored(&w).await, (vec!["dev".into()], vec![], vec![]));
}

#[tokio::test]
async fn savings_without_files_reads_the_tables_and_the_live_fleet_with_its_types() {
    let w = World::new().await;
    w.import(
        r#"
schedules:
  - {ScheduleName: office, TagValue: office, DaysActive: weekdays, StartTime: "09:00", StopTime: "18:00", Timezone: Asia/Seoul}
"#,
    )
    .await;
    w.rds("office-db", "office", None).await; // db.t3.micro
    w.ec2(2, "office", None).await; // t3.micro
    w.ec2(1, "elsewhere", None).await;
    let out = offhours(&w, &["savings", "--from", "2026-11-23", "--format", "json"]);
    let s: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let row = &s["schedules"][0];
    assert_eq!(row["schedule"], "office");
    assert_eq!(row["resources"], 3);
    // 5 x 9 h x 3 = 135 running of 504; 123 h avoided each at us-east-1 prices:
    // db.t3.micro 0.018 + 2 x t3.micro 0.0104 = 0.0388 $/h -> 4.77 $.
    assert_eq!(row["hours_running"].as_f64(), Some(135.0));
    assert_eq!(row["hours_avoided"].as_f64(), Some(369.0));
    assert_eq!(row["dollars_saved"].as_f64(), Some(4.77));
    assert!(row.get("unpriced").is_none(), "{row}");
}

#[tokio::test]
async fn holidays_import_into_the_exception_table_is_idempotent() {
    let w = World::new().await;
    w.import("schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: \"09:00\", StopTime: \"18:00\"}\n")
        .await;
    let ics = "examples/holidays-kr-2026-2027.ics";
    let args = [
        "holidays",
        "import",
        "--ics",
        ics,
        "--schedule",
        "dev",
        "--format",
        "json",
    ];
    let first: serde_json::Value =
        serde_json::from_str(&stdout(&offhours(&w, &args))).expect("json");
    assert_eq!(first["written"], 40);
    let (_, _, exceptions) = stored(&w).await;
    assert_eq!(exceptions.len(), 40);
    let second: serde_json::Value =
        serde_json::from_str(&stdout(&offhours(&w, &args))).expect("json");
    assert_eq!(
        (second["written"].as_u64(), second["unchanged"].as_u64()),
        (Some(0), Some(40))
    );
    assert_eq!(stored(&w).await.2, exceptions);
    let unknown = offhours(
        &w,
        &["holidays", "import", "--ics", ics, "--schedule", "nope"],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no schedule 'nope'"));
}
