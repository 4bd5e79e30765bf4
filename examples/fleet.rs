//! Fleet generator for the benchmarks: a JSON config and a JSON inventory in the exact
//! formats `offhours plan` / `offhours validate` read.
//!
//! ```sh
//! cargo run --example fleet -- --resources 10000 --schedules 500 --out /tmp/fleet-10k
//! # writes /tmp/fleet-10k/config.json and /tmp/fleet-10k/inventory.json
//! ```
//!
//! Every schedule has a timezone out of 5, four groups `DB` (RDS) <- `API`, `CACHE` (EC2)
//! <- `BATCH` (EC2), and one exception of its own; the config adds one `*` holiday. Each
//! schedule's resources: one RDS instance in `DB`, EC2 instances spread over `API`,
//! `CACHE` and `BATCH`, and every 20th resource ungrouped. States alternate between
//! stopped and running so that a plan has work in both directions. Output is
//! deterministic (same arguments, same bytes). `--resources` defaults to 20 per schedule.

use std::fs::File;
use std::io::{BufWriter, Result, Write};
use std::path::PathBuf;

const TIMEZONES: [&str; 5] = [
    "Asia/Seoul",
    "America/New_York",
    "Europe/Berlin",
    "America/Los_Angeles",
    "UTC",
];
const DAYS: [&str; 3] = ["weekdays", "mon-fri", "mon,tue,wed,thu,fri"];

struct Args {
    resources: usize,
    schedules: usize,
    out: PathBuf,
}

fn args() -> Args {
    let mut resources = None;
    let mut schedules = None;
    let mut out = PathBuf::from("fleet");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| usage(&flag));
        match flag.as_str() {
            "--resources" => resources = Some(number(&value)),
            "--schedules" => schedules = Some(number(&value)),
            "--out" => out = PathBuf::from(value),
            _ => usage(&flag),
        }
    }
    let resources = resources.unwrap_or(10_000);
    let schedules = schedules.unwrap_or((resources / 20).max(1)).max(1);
    Args {
        resources,
        schedules,
        out,
    }
}

fn number(s: &str) -> usize {
    s.replace('_', "").parse().unwrap_or_else(|_| usage(s))
}

fn usage(bad: &str) -> ! {
    eprintln!(
        "fleet: bad argument '{bad}'\nusage: fleet [--resources N] [--schedules N] [--out DIR]"
    );
    std::process::exit(2)
}

fn write_config(path: &PathBuf, schedules: usize) -> Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "{{\"schedules\": [")?;
    for i in 0..schedules {
        let sep = if i + 1 < schedules { "," } else { "" };
        let tz = TIMEZONES[i % TIMEZONES.len()];
        let days = DAYS[i % DAYS.len()];
        let (start, stop) = if i % 7 == 6 {
            ("22:00", "06:00") // overnight window
        } else {
            ("09:00", "18:30")
        };
        writeln!(
            w,
            "  {{\"ScheduleName\": \"s{i}\", \"TagValue\": \"team-{i}\", \"DaysActive\": \"{days}\", \"StartTime\": \"{start}\", \"StopTime\": \"{stop}\", \"Timezone\": \"{tz}\", \"Enforced\": {}, \"WarnMinutes\": {}}}{sep}",
            i % 3 == 0,
            5 + (i % 4) * 5
        )?;
    }
    writeln!(w, "], \"groups\": [")?;
    for i in 0..schedules {
        let sep = if i + 1 < schedules { "," } else { "" };
        writeln!(
            w,
            "  {{\"ScheduleName\": \"s{i}\", \"GroupName\": \"DB\", \"InstanceType\": \"RDS\"}},"
        )?;
        writeln!(w, "  {{\"ScheduleName\": \"s{i}\", \"GroupName\": \"API\", \"InstanceType\": \"EC2\", \"Dependency\": [\"DB\"]}},")?;
        writeln!(w, "  {{\"ScheduleName\": \"s{i}\", \"GroupName\": \"CACHE\", \"InstanceType\": \"EC2\", \"Dependency\": [\"DB\"]}},")?;
        writeln!(w, "  {{\"ScheduleName\": \"s{i}\", \"GroupName\": \"BATCH\", \"InstanceType\": \"EC2\", \"Dependency\": [\"API\", \"CACHE\"]}}{sep}")?;
    }
    writeln!(w, "], \"exceptions\": [")?;
    writeln!(w, "  {{\"ExceptionUuid\": \"holiday-2026-12-25\", \"ScheduleName\": \"*\", \"ExceptionDate\": \"2026-12-25\", \"ExceptionType\": \"start\", \"ExceptionValue\": \"None\"}},")?;
    for i in 0..schedules {
        let sep = if i + 1 < schedules { "," } else { "" };
        let day = 1 + i % 28;
        writeln!(
            w,
            "  {{\"ExceptionUuid\": \"ex-{i}\", \"ScheduleName\": \"s{i}\", \"ExceptionDate\": \"2026-12-{day:02}\", \"ExceptionType\": \"stop\", \"ExceptionValue\": \"23:30\"}}{sep}"
        )?;
    }
    writeln!(w, "]}}")?;
    w.flush()
}

fn write_inventory(path: &PathBuf, resources: usize, schedules: usize) -> Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "{{\"resources\": [")?;
    let per = resources.div_ceil(schedules).max(1);
    for n in 0..resources {
        let sep = if n + 1 < resources { "," } else { "" };
        let (s, j) = (n / per, n % per);
        let state_ec2 = if (n / 3) % 2 == 0 {
            "stopped"
        } else {
            "running"
        };
        if j == 0 {
            let state = if state_ec2 == "stopped" {
                "stopped"
            } else {
                "available"
            };
            writeln!(
                w,
                "  {{\"id\": \"db-{s}\", \"kind\": \"rds\", \"state\": \"{state}\", \"engine\": \"postgres\", \"tags\": {{\"ScheduleName\": \"team-{s}\", \"ScheduleGroupName\": \"DB\", \"Owner\": \"team-{s}@example.com\"}}}}{sep}"
            )?;
            continue;
        }
        let group = match j % 20 {
            0 => None,
            1..=8 => Some("API"),
            9..=13 => Some("CACHE"),
            _ => Some("BATCH"),
        };
        let group_tag = group
            .map(|g| format!(", \"ScheduleGroupName\": \"{g}\""))
            .unwrap_or_default();
        writeln!(
            w,
            "  {{\"id\": \"i-{n:016x}\", \"kind\": \"ec2\", \"state\": \"{state_ec2}\", \"tags\": {{\"Name\": \"team-{s}-{j}\", \"ScheduleName\": \"team-{s}\"{group_tag}, \"Owner\": \"team-{s}@example.com\"}}}}{sep}"
        )?;
    }
    writeln!(w, "]}}")?;
    w.flush()
}

fn main() -> Result<()> {
    let a = args();
    std::fs::create_dir_all(&a.out)?;
    write_config(&a.out.join("config.json"), a.schedules)?;
    write_inventory(&a.out.join("inventory.json"), a.resources, a.schedules)?;
    println!(
        "{}: {} resources, {} schedules",
        a.out.display(),
        a.resources,
        a.schedules
    );
    Ok(())
}
