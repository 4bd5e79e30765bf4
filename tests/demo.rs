//! Runs scripts/demo.sh (moto, a webhook listener, `offhours run` ticks, a signed Slack command) and checks what it shows.

use std::process::Command;

/// Index of the first line at or after `from` that contains every one of `parts`.
fn find(lines: &[&str], from: usize, parts: &[&str]) -> usize {
    lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| parts.iter().all(|p| l.contains(p)))
        .map(|(i, _)| i)
        .unwrap_or_else(|| {
            panic!(
                "no line with {parts:?} after line {from}:\n{}",
                lines.join("\n")
            )
        })
}

#[test]
fn demo_moves_the_fleet_in_order_and_chat_sees_warnings_summaries_and_the_postponed_stop() {
    // WHEN the demo runs with this build of the binary
    let out = Command::new("bash")
        .arg("scripts/demo.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("OFFHOURS", env!("CARGO_BIN_EXE_offhours"))
        .output()
        .expect("bash runs the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();

    // THEN Monday morning starts DB first, then API and CACHE, then BATCH, then a summary
    let db = find(&lines, 0, &["2026-11-23 09:00", ""]);
    let db = find(&lines, db, &["start DB", "done", "dev-db"]);
    let api = find(&lines, db, &["2026-11-23 09:05", "start API", "done"]);
    let batch = find(&lines, api, &["2026-11-23 09:10", "start BATCH", "done"]);
    let started = find(&lines, batch, &["chat> [transition_summary] dev: started"]);
    // AND the 21:50 tick warns once about 22:00, with the postpone command
    let warn = find(
        &lines,
        started,
        &["2026-11-23 21:50", "chat> [pre_stop_warning]", "22:00"],
    );
    find(&lines, warn, &["/offhours extend dev"]);
    // AND the signed Slack command moves the stop, so 22:00 stops nothing
    let moved = find(&lines, warn, &["reply:", "stop moved to 22:30"]);
    let quiet = find(&lines, moved, &["2026-11-23 22:00"]);
    assert!(lines[quiet].contains("nothing to do"), "{}", lines[quiet]);
    // AND the warning comes again before 22:30, and the stop runs in reverse order
    let warn2 = find(
        &lines,
        quiet,
        &["2026-11-23 22:20", "chat> [pre_stop_warning]", "22:30"],
    );
    let batch_stop = find(&lines, warn2, &["2026-11-23 22:30", ""]);
    let batch_stop = find(&lines, batch_stop, &["stop  BATCH", "done"]);
    let api_stop = find(
        &lines,
        batch_stop,
        &["2026-11-23 22:35", "stop  CACHE", "done"],
    );
    let api_stop = find(&lines, api_stop, &["stop  API", "done"]);
    let db_stop = find(&lines, api_stop, &["2026-11-23 22:40", "stop  DB", "done"]);
    find(
        &lines,
        db_stop,
        &["chat> [transition_summary] dev: stopped"],
    );
    // AND the second schedule (Los Angeles) runs on its own clock: Aurora first
    let aurora = find(
        &lines,
        db_stop,
        &[
            "2026-11-24 01:00",
            "staging-us start DB",
            "done",
            "staging-aurora",
        ],
    );
    find(
        &lines,
        aurora,
        &["2026-11-24 01:05", "staging-us start APP", "done"],
    );
    // AND exactly two warnings and no errors were shown
    assert_eq!(
        stdout.matches("[pre_stop_warning] dev").count(),
        2,
        "{stdout}"
    );
    assert!(!stdout.contains("error:"), "{stdout}");
}
