//! `offhours holidays import`: an iCalendar file's all-day events as `start None` exceptions, in a config file or the exception table.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::Value;

use crate::app::cli::{block_on, print, sdk_config, Format};
use crate::aws::store::Store;
use crate::core::config::{Item, RawConfig};
use crate::core::document::Syntax;
use crate::core::holidays::{exception_items, plan_import, read_ics, uuid_prefix, ImportPlan};
use crate::error::{Error, Result};
use crate::ports::Settings;

#[derive(Debug, Subcommand)]
pub enum HolidaysCommand {
    /// Import an iCalendar (.ics) file: every all-day event becomes one `start None`
    /// exception per day it covers. Importing the same file again changes nothing.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The iCalendar file (RFC 5545), e.g. examples/holidays-kr-2026-2027.ics.
    #[arg(long)]
    pub ics: PathBuf,
    /// The schedule the days apply to, or `*` for every schedule.
    #[arg(long)]
    pub schedule: String,
    /// Write into this config file (its format kept) instead of the exception table.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Delete the exceptions an earlier import of this calendar (for this schedule) made
    /// that the file no longer has; without it they are only listed.
    #[arg(long)]
    pub prune: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    pub calendar: String,
    pub schedule: String,
    pub days: usize,
    pub written: usize,
    pub unchanged: usize,
    /// Exceptions of an earlier import that the file no longer has.
    pub stale: Vec<String>,
    /// True when `stale` was deleted (`--prune`).
    pub pruned: bool,
    pub warnings: Vec<String>,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "calendar {} for schedule '{}': {} day(s); {} written, {} unchanged",
            self.calendar, self.schedule, self.days, self.written, self.unchanged
        )?;
        if !self.stale.is_empty() {
            let what = if self.pruned {
                "removed"
            } else {
                "no longer in the file (--prune removes them)"
            };
            writeln!(f, "{} exception(s) {what}:", self.stale.len())?;
            for id in &self.stale {
                writeln!(f, "  {id}")?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

pub fn holidays_command(settings: &Settings, command: HolidaysCommand) -> Result<ExitCode> {
    let HolidaysCommand::Import(args) = command;
    let text = std::fs::read_to_string(&args.ics).map_err(|source| Error::File {
        path: args.ics.clone(),
        source,
    })?;
    let stem = args
        .ics
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("calendar");
    let calendar = read_ics(&text, &args.ics.display().to_string(), stem)?;
    let schedule = args.schedule.trim().to_string();
    let items = exception_items(&calendar, &schedule);
    let prefix = uuid_prefix(&calendar.name, &schedule);
    let plan = match &args.config {
        Some(path) => import_into_file(path, &schedule, items, &prefix, args.prune)?,
        None => block_on(import_into_table(
            settings, &schedule, items, &prefix, args.prune,
        ))?,
    };
    let report = ImportReport {
        calendar: calendar.name,
        schedule,
        days: calendar.days.len(),
        written: plan.write.len(),
        unchanged: plan.unchanged,
        stale: plan.stale,
        pruned: args.prune,
        warnings: calendar.warnings,
    };
    print(&report, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// A schedule name that is neither `*` nor one of the config's schedules is an error.
fn check_schedule(raw: &RawConfig, schedule: &str, source: &str) -> Result<()> {
    let known = raw
        .schedules
        .iter()
        .any(|s| s.get("ScheduleName").and_then(Value::as_str).map(str::trim) == Some(schedule));
    if schedule == "*" || known {
        return Ok(());
    }
    Err(Error::invalid(
        format!("--schedule {schedule}"),
        "ScheduleName",
        format!("{source} has no schedule '{schedule}' (use a schedule name or '*')"),
    ))
}

fn import_into_file(
    path: &Path,
    schedule: &str,
    items: Vec<Item>,
    prefix: &str,
    prune: bool,
) -> Result<ImportPlan> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let syntax = Syntax::of_name(&name).unwrap_or_else(|| Syntax::sniff(&text));
    let mut raw = RawConfig::parse_as(&text, &name, Some(syntax))?;
    check_schedule(&raw, schedule, &name)?;
    let plan = plan_import(&raw.exceptions, items, prefix);
    if plan.write.is_empty() && (plan.stale.is_empty() || !prune) {
        return Ok(plan); // nothing to change: the file is left as it is, byte for byte
    }
    let id = |item: &Item| {
        item.get("ExceptionUuid")
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    for item in &plan.write {
        match raw.exceptions.iter_mut().find(|e| id(e) == id(item)) {
            Some(old) => *old = item.clone(),
            None => raw.exceptions.push(item.clone()),
        }
    }
    if prune {
        raw.exceptions
            .retain(|e| id(e).is_none_or(|u| !plan.stale.contains(&u)));
    }
    let out = match syntax {
        Syntax::Json => serde_json::to_string_pretty(&raw)? + "\n",
        Syntax::Yaml => serde_norway::to_string(&raw).map_err(|e| Error::Parse {
            what: name.clone(),
            source: Box::new(e),
        })?,
    };
    std::fs::write(path, out).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(plan)
}

async fn import_into_table(
    settings: &Settings,
    schedule: &str,
    items: Vec<Item>,
    prefix: &str,
    prune: bool,
) -> Result<ImportPlan> {
    let sdk = sdk_config(settings).await;
    let store = Store::new(&sdk, settings);
    let raw = store.load_config().await?;
    check_schedule(&raw, schedule, "the Schedule table")?;
    let plan = plan_import(&raw.exceptions, items, prefix);
    for item in &plan.write {
        store.put_exception(item).await?;
    }
    if prune {
        for uuid in &plan.stale {
            store.delete_exception(uuid).await?;
        }
    }
    Ok(plan)
}
