//! Runs the `offhours` binary on files, as a user would: plan, validate, timeline.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn offhours(args: &[&str]) -> Output {
    offhours_with(&[], args)
}

/// Runs the binary with the settings it reads cleared, then `env` set.
fn offhours_with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_offhours"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in [
        "TIMEZONE",
        "WARN_MINUTES",
        "TICK_MINUTES",
        "MAX_ATTEMPTS",
        "SCHEDULE_TAG_KEY",
        "GROUP_TAG_KEY",
        "SKIP_UNTIL_TAG_KEY",
    ] {
        command.env_remove(name);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("the offhours binary runs")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Writes `text` to a fresh file under the target dir and returns its path.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write temp file");
    path
}

/// `schedule/group/action/status[waiting]` per step.
fn steps(report: &Value) -> Vec<String> {
    report["steps"]
        .as_array()
        .expect("steps array")
        .iter()
        .map(|s| {
            let waiting: Vec<&str> = s["waiting_on"]
                .as_array()
                .expect("waiting_on")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "{}/{}/{}/{}[{}]",
                s["schedule"].as_str().unwrap_or("?"),
                s["group"].as_str().unwrap_or("?"),
                s["action"].as_str().unwrap_or("?"),
                s["status"].as_str().unwrap_or("?"),
                waiting.join(",")
            )
        })
        .collect()
}

#[test]
fn plan_monday_morning_starts_the_first_layer_and_blocks_the_rest() {
    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        "examples/inventory.yaml",
        "--at",
        "2026-11-23T09:05:00+09:00",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = json(&out);
    assert_eq!(report["at"], "2026-11-23T09:05:00+09:00");
    assert_eq!(
        steps(&report),
        [
            "dev//start/ready[]",
            "dev/DB/start/ready[]",
            "dev/API/start/blocked[DB]",
            "dev/CACHE/start/blocked[DB]",
            "dev/BATCH/start/blocked[API,CACHE]",
        ]
    );
    let db = &report["steps"][1]["resources"][0];
    assert_eq!(
        (db["id"].as_str(), db["kind"].as_str()),
        (Some("dev-db"), Some("rds"))
    );
    assert_eq!(report["errors"], serde_json::json!([]));
    assert_eq!(report["notices"], serde_json::json!([]));
}

/// The bundled example inventory with every resource up (RDS `available`, the rest
/// `running`; Aurora left to the caller).
fn running_example_inventory() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/inventory.yaml"),
    )
    .expect("example inventory")
    .replace("state: stopped", "state: running")
    .replace("kind: rds, state: running", "kind: rds, state: available")
}

#[test]
fn plan_at_stop_time_reverses_the_order_and_warns_before() {
    let inventory = running_example_inventory().replace(
        "kind: aurora, state: running",
        "kind: aurora, state: available",
    );
    let inventory = temp_file("running.yaml", &inventory);
    let inventory = inventory.to_str().expect("utf-8 path");

    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        inventory,
        "--at",
        "2026-11-23T22:05:00+09:00",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dev: Vec<String> = steps(&json(&out))
        .into_iter()
        .filter(|s| s.starts_with("dev/"))
        .collect();
    assert_eq!(
        dev,
        [
            "dev//stop/ready[]",
            "dev/BATCH/stop/ready[]",
            "dev/CACHE/stop/blocked[BATCH]",
            "dev/API/stop/blocked[BATCH]",
            "dev/DB/stop/blocked[API,CACHE]",
        ]
    );

    // Ten minutes before, a warning lists what will stop, in the schedule's timezone.
    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        inventory,
        "--at",
        "2026-11-23T21:50:00+09:00",
        "--format",
        "json",
    ]);
    let report = json(&out);
    let notices = report["notices"].as_array().expect("notices");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["schedule"], "dev");
    assert_eq!(notices[0]["kind"], "pre_stop_warning");
    assert_eq!(notices[0]["stop_at"], "2026-11-23T22:00:00+09:00");
    assert_eq!(notices[0]["resources"].as_array().map(Vec::len), Some(6));
}

#[test]
fn plan_text_output_is_a_table() {
    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        "examples/inventory.yaml",
        "--at",
        "2026-11-23T09:05:00+09:00",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("SCHEDULE"), "{text}");
    let api = text
        .lines()
        .find(|l| l.contains(" API "))
        .expect("an API row");
    assert!(
        api.contains("blocked") && api.contains("DB") && api.contains("dev-api-1"),
        "{api}"
    );
}

#[test]
fn plan_with_state_respects_an_applied_event() {
    let state = temp_file(
        "state.yaml",
        "dev:\n  applied: {at: '2026-11-23T00:00:00Z', action: start}\nstaging-us:\n  applied: {at: '2026-11-21T03:00:00Z', action: stop}\n",
    );
    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        "examples/inventory.yaml",
        "--state",
        state.to_str().expect("utf-8"),
        "--at",
        "2026-11-23T09:05:00+09:00",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["steps"], serde_json::json!([]));
}

#[test]
fn validate_reports_every_group_of_a_cycle_and_exits_1() {
    let config = temp_file(
        "cycle.yaml",
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: '09:00', StopTime: '18:00'}\n  - {ScheduleName: ok, TagValue: ok}\ngroups:\n  - {ScheduleName: dev, GroupName: API, InstanceType: EC2, Dependency: [WEB]}\n  - {ScheduleName: dev, GroupName: WEB, InstanceType: EC2, Dependency: [BATCH]}\n  - {ScheduleName: dev, GroupName: BATCH, InstanceType: EC2, Dependency: [API]}\n",
    );
    let out = offhours(&["validate", "--config", config.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dependency cycle: API -> WEB -> BATCH -> API"),
        "{text}"
    );

    let out = offhours(&[
        "validate",
        "--config",
        config.to_str().expect("utf-8"),
        "--format",
        "json",
    ]);
    let v = json(&out);
    assert_eq!(v["valid"], false);
    assert_eq!(v["schedules"], serde_json::json!(["ok"]));
}

#[test]
fn validate_accepts_the_example() {
    let out = offhours(&["validate", "--config", "examples/offhours.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: 2 schedule(s): dev, staging-us"));
}

#[test]
fn validate_warns_when_warn_minutes_is_shorter_than_tick_minutes() {
    // GIVEN a schedule warning 5 minutes ahead, and a scheduler ticking every 15
    let config = temp_file(
        "tick.yaml",
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: '09:00', StopTime: '18:00', WarnMinutes: 5}\n",
    );
    let path = config.to_str().expect("utf-8");
    let tick = [("TICK_MINUTES", "15")];
    let out = offhours_with(&tick, &["validate", "--config", path]);
    // THEN the config is valid (exit 0) and the warning names both settings
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("valid: 1 schedule(s): dev"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("warning:")
            && l.contains("WarnMinutes")
            && l.contains("TICK_MINUTES")),
        "{text}"
    );
    let v = json(&offhours_with(
        &tick,
        &["validate", "--config", path, "--format", "json"],
    ));
    assert_eq!(v["valid"], true);
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("WarnMinutes") && m.contains("TICK_MINUTES")),
        "{v}"
    );
    // AND without TICK_MINUTES there is nothing to warn about
    let out = offhours(&["validate", "--config", path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("warning:"), "{text}");
}

#[test]
fn timeline_shows_a_0230_start_firing_at_0300_on_the_us_dst_change() {
    let config = temp_file(
        "ny.yaml",
        "schedules:\n  - {ScheduleName: ny, TagValue: ny, StartTime: '02:30', StopTime: '12:00', Timezone: America/New_York}\n",
    );
    let out = offhours(&[
        "timeline",
        "--config",
        config.to_str().expect("utf-8"),
        "--from",
        "2026-03-07",
        "--days",
        "3",
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let v = json(&out);
    let starts: Vec<(&str, &str)> = v["schedules"][0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "start")
        .map(|e| {
            (
                e["at"].as_str().unwrap_or(""),
                e["scheduled"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        starts,
        [
            ("2026-03-07T02:30:00-05:00", "02:30"),
            ("2026-03-08T03:00:00-04:00", "02:30"),
            ("2026-03-09T02:30:00-04:00", "02:30"),
        ]
    );
    let text = offhours(&[
        "timeline",
        "--config",
        config.to_str().expect("utf-8"),
        "--from",
        "2026-03-08",
        "--days",
        "1",
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("2026-03-08 Sun 03:00 -04:00  start")
            && text.contains("02:30 does not exist"),
        "{text}"
    );
}

#[test]
fn unreadable_files_and_bad_instants_exit_2_with_a_message() {
    let out = offhours(&[
        "plan",
        "--config",
        "nope.yaml",
        "--inventory",
        "examples/inventory.yaml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read nope.yaml"));
    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        "examples/inventory.yaml",
        "--at",
        "monday",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

/// Kills the child process (by its pid) when the test ends, pass or fail.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_answers_jandi_commands_from_a_config_file_and_refuses_a_wrong_token() {
    // GIVEN `offhours serve --config` on a free loopback port with a JANDI token
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Running(
        Command::new(env!("CARGO_BIN_EXE_offhours"))
            .args([
                "serve",
                "--listen",
                &listen,
                "--config",
                "examples/offhours.yaml",
                "--inventory",
                "examples/inventory.yaml",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("JANDI_TOKEN", "jandi-test-token")
            .env_remove("SLACK_SIGNING_SECRET")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("offhours serve starts"),
    );
    let client = reqwest::Client::new();
    let post = |token: &'static str, text: &'static str| {
        client
            .post(format!("http://{listen}/"))
            .json(&serde_json::json!({
                "token": token, "teamName": "team", "roomName": "ops", "writerName": "Mina",
                "text": text, "keyword": "offhours",
            }))
            .send()
    };
    let mut ready = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(&listen).is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ready, "offhours serve listens on {listen}");

    // WHEN JANDI asks for Monday's events of dev
    let answer = post("jandi-test-token", "/offhours info dev 2026-11-23")
        .await
        .expect("answer");
    // THEN the reply is a JANDI message with the day's start and stop in Seoul time
    assert_eq!(answer.status(), 200);
    let reply: Value = answer.json().await.expect("JSON reply");
    let text = reply.to_string();
    assert!(reply.get("body").is_some(), "JANDI shape: {text}");
    assert!(
        text.contains("09:00") && text.contains("22:00"),
        "events: {text}"
    );

    // AND a wrong token is refused
    let refused = post("not-the-token", "/offhours stop dev")
        .await
        .expect("answer");
    assert_eq!(refused.status(), 401);
}

#[test]
fn plan_keeps_a_box_tagged_skip_until_friday_up_and_says_so() {
    // GIVEN the example fleet running on Monday evening, dev-api-1 kept up through Friday
    // under the tag key of SKIP_UNTIL_TAG_KEY
    let inventory = running_example_inventory().replace(
        "Name: dev-api-1,",
        "Name: dev-api-1, KeepUntil: '2026-11-27',",
    );
    let inventory = temp_file("skip.yaml", &inventory);
    let inventory = inventory.to_str().expect("utf-8 path");
    let plan = |format: &str| {
        offhours_with(
            &[("SKIP_UNTIL_TAG_KEY", "KeepUntil")],
            &[
                "plan",
                "--config",
                "examples/offhours.yaml",
                "--inventory",
                inventory,
                "--at",
                "2026-11-23T22:05:00+09:00",
                "--format",
                format,
            ],
        )
    };
    // WHEN the stop is planned
    let report = json(&plan("json"));
    // THEN dev-api-1 is not stopped, and is listed as skipped until the end of Friday
    let api: Vec<&Value> = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["group"] == "API")
        .flat_map(|s| s["resources"].as_array().expect("resources"))
        .collect();
    let ids: Vec<&str> = api.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, ["i-0a9a9e0000000002"]);
    let skipped = &report["skipped"][0];
    assert_eq!(skipped["resource"]["id"], "i-0a9a9e0000000001");
    assert_eq!(skipped["until"], "2026-11-28T00:00:00+09:00");
    assert_eq!(skipped["skip_until"], "2026-11-27");
    // AND the text report says the same
    let text = String::from_utf8_lossy(&plan("text").stdout).into_owned();
    assert!(
        text.contains("dev: dev-api-1 (i-0a9a9e0000000001, ec2) until 2026-11-28 00:00 +09:00"),
        "{text}"
    );
}

#[test]
fn plan_previews_an_auto_scaling_group_with_the_sizes_it_saves_and_restores() {
    // GIVEN DB <- WEB (an ASG group) and an inventory with the group running 1/4/2 and one
    // of its instances, which inherited the schedule tag
    let config = temp_file(
        "asg.yaml",
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '18:00', Timezone: Asia/Seoul}\ngroups:\n  - {ScheduleName: dev, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: dev, GroupName: WEB, InstanceType: ASG, Dependency: [DB]}\n",
    );
    let running = "resources:\n  - {id: dev-db, kind: rds, state: available, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n  - {id: web, kind: asg, state: active, min: 1, max: 4, desired: 2, running: 2, tags: {ScheduleName: dev, ScheduleGroupName: WEB}}\n  - {id: i-web1, kind: ec2, state: running, tags: {ScheduleName: dev, 'aws:autoscaling:groupName': web}}\n";
    let stopped = "resources:\n  - {id: dev-db, kind: rds, state: stopped, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n  - {id: web, kind: asg, state: active, min: 0, max: 0, desired: 0, running: 0, tags: {ScheduleName: dev, ScheduleGroupName: WEB, 'offhours:saved-size': 'min=1,max=4,desired=2'}}\n";
    let plan = |inventory: &str, at: &str, format: &str| {
        let inventory = temp_file(&format!("asg-{at}.yaml"), inventory);
        offhours(&[
            "plan",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--inventory",
            inventory.to_str().expect("utf-8 path"),
            "--at",
            at,
            "--format",
            format,
        ])
    };
    // WHEN the stop is planned THEN the group stops first with the sizes it saves, the DB
    // waits, and its instance is in no step and no warning
    let stop = json(&plan(running, "2026-11-23T18:05:00+09:00", "json"));
    assert_eq!(
        steps(&stop),
        ["dev/WEB/stop/ready[]", "dev/DB/stop/blocked[WEB]"]
    );
    let web = &stop["steps"][0]["resources"][0];
    assert_eq!(
        (
            &web["id"],
            &web["kind"],
            &web["min"],
            &web["max"],
            &web["desired"]
        ),
        (
            &Value::from("web"),
            &Value::from("asg"),
            &Value::from(1),
            &Value::from(4),
            &Value::from(2)
        )
    );
    assert!(stop.get("warnings").is_none(), "{}", stop["warnings"]);
    // WHEN the start is planned on the stopped fleet THEN the DB starts, then the group
    // with the sizes of its tag; the text report shows them
    let text = plan(stopped, "2026-11-24T09:05:00+09:00", "text");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("web (asg, min 1, max 4, desired 2)"),
        "{text}"
    );
}

#[test]
fn savings_on_the_example_week_match_the_hand_count() {
    let out = offhours(&[
        "savings",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        "examples/inventory.yaml",
        "--from",
        "2026-11-23",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = json(&out);
    assert_eq!(
        (s["period"].as_str(), s["from"].as_str()),
        (Some("week"), Some("2026-11-23"))
    );
    let row = |name: &str| -> (u64, f64, f64, f64) {
        let r = s["schedules"]
            .as_array()
            .and_then(|a| a.iter().find(|r| r["schedule"] == name))
            .unwrap_or_else(|| panic!("no row for {name}: {s}"));
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        (
            r["resources"].as_u64().unwrap_or(0),
            f("hours_running"),
            f("hours_avoided"),
            f("dollars_saved"),
        )
    };
    // dev (Seoul): 09:00-22:00 on 5 weekdays, Thursday until 23:30 = 66.5 h, 6 resources:
    // 399 running, 6 x 168 - 399 = 609 avoided; 101.5 h each at Seoul prices
    // db.t3.medium 0.1 + t3.medium 0.052 + 2 x t3.large 0.104 + m5.large 0.118 +
    // t3.micro 0.013 = 0.491 $/h -> 49.84 $.
    assert_eq!(row("dev"), (6, 399.0, 609.0, 49.84));
    // staging-us (Los Angeles): 08:00-19:00 x 5 = 55 h, 3 resources: 165 running, 339
    // avoided; 113 h each at us-east-1 prices db.r5.large 0.25 + 2 x m5.large 0.096 =
    // 0.442 $/h -> 49.95 $.
    assert_eq!(row("staging-us"), (3, 165.0, 339.0, 49.95));
    assert_eq!(s["total"]["dollars_saved"].as_f64(), Some(99.79));
    assert_eq!(s["total"]["hours_avoided"].as_f64(), Some(948.0));

    // A price file overrides the embedded table; the text output says what is not saved.
    let prices = temp_file(
        "prices.csv",
        "region,type,usd_per_hour\nap-northeast-2,t3.micro,1.0\n",
    );
    let out = offhours(&[
        "savings",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        "examples/inventory.yaml",
        "--from",
        "2026-11-23",
        "--prices",
        prices.to_str().expect("utf-8 path"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    // dev: 0.491 - 0.013 + 1.0 = 1.478 $/h x 101.5 h = 150.02 $.
    assert!(text.contains("150.02"), "{text}");
    assert!(text.contains("EBS"), "{text}");
}

#[test]
fn importing_the_korean_holidays_skips_those_days_and_a_second_import_changes_nothing() {
    let example = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/offhours.yaml"),
    )
    .expect("example config");
    let config = temp_file("holidays.yaml", &example);
    let config = config.to_str().expect("utf-8 path");
    let ics = "examples/holidays-kr-2026-2027.ics";
    let import = |args: &[&str]| {
        let mut all = vec![
            "holidays", "import", "--ics", ics, "--config", config, "--format", "json",
        ];
        all.extend_from_slice(args);
        let out = offhours(&all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    let first = import(&["--schedule", "*"]);
    assert_eq!(
        (first["days"].as_u64(), first["written"].as_u64()),
        (Some(40), Some(40))
    );
    let bytes = std::fs::read(config).expect("config");
    let second = import(&["--schedule", "*"]);
    assert_eq!(
        (second["written"].as_u64(), second["unchanged"].as_u64()),
        (Some(0), Some(40))
    );
    assert_eq!(
        std::fs::read(config).expect("config"),
        bytes,
        "the file is untouched"
    );

    // Chuseok (Thu 2026-09-24, Fri 09-25): dev has no start on those days, Wednesday has one.
    let out = offhours(&[
        "timeline",
        "--config",
        config,
        "--from",
        "2026-09-21",
        "--format",
        "json",
    ]);
    let t = json(&out);
    let dev = t["schedules"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["schedule"] == "dev"))
        .expect("dev");
    let starts: Vec<&str> = dev["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"] == "start")
        .filter_map(|e| e["at"].as_str())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-09-21T09:00:00+09:00",
            "2026-09-22T09:00:00+09:00",
            "2026-09-23T09:00:00+09:00"
        ]
    );
    // The config with the holidays is still valid.
    assert!(offhours(&["validate", "--config", config]).status.success());

    // A calendar that lost a day: listed without --prune, removed with it.
    let smaller = std::fs::read_to_string(ics)
        .expect("ics")
        .replace(
            "UID:kr-2027-christmas-substitute@offhours.example",
            "UID:gone@offhours.example",
        )
        .replace("DTSTART;VALUE=DATE:20271227", "DTSTART;VALUE=DATE:20281227")
        .replace("DTEND;VALUE=DATE:20271228", "DTEND;VALUE=DATE:20281228");
    let smaller = temp_file("holidays-kr-2026-2027.ics", &smaller);
    let smaller = smaller.to_str().expect("utf-8 path");
    let run = |prune: bool| {
        let mut args = vec![
            "holidays",
            "import",
            "--ics",
            smaller,
            "--config",
            config,
            "--schedule",
            "*",
            "--format",
            "json",
        ];
        if prune {
            args.push("--prune");
        }
        json(&offhours(&args))
    };
    let listed = run(false);
    let stale = "ics:kr-holidays:*:2027-12-27:kr-2027-christmas-substitute@offhours.example";
    assert_eq!(listed["stale"], serde_json::json!([stale]));
    assert!(std::fs::read_to_string(config)
        .expect("config")
        .contains(stale));
    let pruned = run(true);
    assert_eq!(
        (pruned["pruned"].as_bool(), pruned["stale"][0].as_str()),
        (Some(true), Some(stale))
    );
    assert!(!std::fs::read_to_string(config)
        .expect("config")
        .contains(stale));
}

#[test]
fn timeline_and_savings_draw_well_formed_svg_and_the_readme_pictures_are_current() {
    for (args, committed) in [
        (
            vec![
                "timeline",
                "--config",
                "examples/offhours.yaml",
                "--from",
                "2026-11-23",
                "--format",
                "svg",
            ],
            "docs/timeline.svg",
        ),
        (
            vec![
                "savings",
                "--config",
                "examples/offhours.yaml",
                "--inventory",
                "examples/inventory.yaml",
                "--from",
                "2026-11-23",
                "--format",
                "svg",
            ],
            "docs/savings.svg",
        ),
    ] {
        let out = offhours(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let svg = String::from_utf8(out.stdout).expect("utf-8");
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{committed}: not XML: {e}"));
        let rows: Vec<&str> = doc
            .descendants()
            .filter_map(|n| n.attribute("data-schedule"))
            .collect();
        assert_eq!(rows, ["dev", "staging-us"], "{committed}");
        let bars = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("running"))
            .count();
        // dev: 5 weekdays in Seoul; staging-us: 5 weekdays in Los Angeles.
        assert_eq!(bars, 10, "{committed}");
        let file =
            std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(committed))
                .expect("committed picture");
        assert_eq!(
            file,
            svg,
            "{committed} is stale: regenerate it with `offhours {}` (README)",
            args.join(" ")
        );
    }
}

/// A JSON inventory of `n` API instances for the example's `dev` schedule (names with
/// multi-byte characters, so blocks also cut characters), with `bad` as the kind of one.
fn big_json_inventory(n: usize, bad: Option<usize>) -> String {
    let mut text = String::from(
        "{\"generated\": {\"by\": \"test\", \"ratio\": -1.5e+3},\n \"resources\": [\n",
    );
    for i in 0..n {
        let kind = if Some(i) == bad { "lambda" } else { "ec2" };
        text.push_str(&format!(
            "  {{\"id\": \"i-{i:016x}\", \"kind\": \"{kind}\", \"state\": \"stopped\", \"region\": \"ap-northeast-2\", \"tags\": {{\"Name\": \"dev-api-{i} – Zoë\", \"ScheduleName\": \"dev\", \"ScheduleGroupName\": \"API\"}}}}{}\n",
            if i + 1 < n { "," } else { "" }
        ));
    }
    text.push_str(" ],\n \"count\": 12.25}\n");
    text
}

#[test]
fn a_json_inventory_read_as_it_streams_plans_like_the_whole_document() {
    // 3,000 resources are about 600 KB: the file is read in several 256 KiB blocks.
    let text = big_json_inventory(3000, None);
    assert!(text.len() > 3 * (1 << 18) / 2, "{} bytes", text.len());
    let plan_of = |inventory: &str| {
        let out = offhours(&[
            "plan",
            "--config",
            "examples/offhours.yaml",
            "--inventory",
            inventory,
            "--at",
            "2026-11-23T09:05:00+09:00",
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    // The same text named .yaml goes through the YAML parser, whole.
    let streamed = plan_of(temp_file("stream.json", &text).to_str().expect("path"));
    let whole = plan_of(temp_file("stream.yaml", &text).to_str().expect("path"));
    assert_eq!(streamed, whole);
    let api: Vec<&Value> = streamed["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["group"] == "API")
        .collect();
    assert_eq!(api.len(), 1);
    assert_eq!(api[0]["resources"].as_array().map(Vec::len), Some(3000));
}

#[test]
fn a_bad_resource_deep_in_a_json_inventory_gets_the_whole_documents_error() {
    let text = big_json_inventory(3000, Some(2500));
    let path = temp_file("bad.json", &text);
    let out = offhours(&[
        "plan",
        "--config",
        "examples/offhours.yaml",
        "--inventory",
        path.to_str().expect("path"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // serde_json's own position in the whole file: the bad resource is on line 2,503.
    assert!(
        stderr.contains("bad.json")
            && stderr.contains("unknown variant `lambda`")
            && stderr.contains("line 2503 column"),
        "{stderr}"
    );
}

#[test]
fn plan_reads_at_most_one_file_from_stdin() {
    let out = offhours(&["plan", "--config", "-", "--inventory", "-"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--config, --inventory")
            && stderr.contains("only one file can be read from stdin"),
        "{stderr}"
    );
}
