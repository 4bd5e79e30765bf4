//! The `offhours` command line (clap): each command loads its inputs, calls the core and prints a report.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::app::files::{load_config, load_inventory, load_state};
use crate::app::holidays::{holidays_command, HolidaysCommand};
use crate::app::savings::{savings_command, SavingsArgs};
use crate::app::serve::{serve_addr, Endpoint};
use crate::app::tick::Tick;
use crate::aws::cloud::AwsCloud;
use crate::aws::events::Events;
use crate::aws::executor::Options;
use crate::aws::store::{AwsCommandStore, Store};
use crate::chat::ChatSecrets;
use crate::core::chart::days_svg;
use crate::core::config::RawConfig;
use crate::core::planner::{plan_on, Inputs, Resource};
use crate::core::timeline::timeline;
use crate::error::{Error, Result};
use crate::notify::{Notifier, NotifySettings};
use crate::ports::MemoryStore;
use crate::ports::Settings;

/// Switch dev/staging EC2, RDS and Aurora off outside working hours, in dependency order.
#[derive(Debug, Parser)]
#[command(name = "offhours", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// A readable table (default).
    #[default]
    Text,
    /// The stable JSON shape of SPEC section 5.
    Json,
}

/// Output format of reports that can also be drawn: `timeline` and `savings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ChartFormat {
    /// A readable table (default).
    #[default]
    Text,
    /// The stable JSON shape.
    Json,
    /// A picture of the days: one row per schedule, running windows as bars (plain SVG).
    Svg,
}

impl ChartFormat {
    /// The report format, or `None` for a picture.
    pub fn report(self) -> Option<Format> {
        match self {
            ChartFormat::Text => Some(Format::Text),
            ChartFormat::Json => Some(Format::Json),
            ChartFormat::Svg => None,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Preview one tick offline: what would start or stop, in which order (no AWS).
    Plan {
        /// Config file with `schedules:`, `groups:`, `exceptions:`: JSON (`.json`) or YAML (`.yaml`, `.yml`); `-` reads stdin.
        #[arg(long)]
        config: PathBuf,
        /// Inventory file: `resources: [{id, kind, state, tags}]`, JSON or YAML; `-` reads stdin.
        #[arg(long)]
        inventory: PathBuf,
        /// State file: schedule name -> {applied, forced, warned}. Without it every
        /// schedule is treated as never applied.
        #[arg(long)]
        state: Option<PathBuf>,
        /// The instant to plan for (RFC 3339); default now.
        #[arg(long, value_parser = parse_instant)]
        at: Option<DateTime<Utc>>,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Check a config file; exit 1 and list every problem if it is not valid.
    Validate {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List the upcoming events per schedule, after exceptions and DST.
    Timeline {
        #[arg(long)]
        config: PathBuf,
        /// First local date (YYYY-MM-DD); default today in TIMEZONE.
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Number of days to list.
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// `svg` draws the days (at most 62) instead of listing them.
        #[arg(long, value_enum, default_value_t)]
        format: ChartFormat,
    },
    /// Run one tick against AWS (same environment as the Lambda; honours AWS_ENDPOINT_URL
    /// and AWS_REGION). Exit 1 if the report has errors or failed actions.
    Run {
        /// The instant the tick is for (RFC 3339); default now.
        #[arg(long, value_parser = parse_instant)]
        at: Option<DateTime<Utc>>,
        /// Observe and plan only: no start/stop calls, no state written.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Validate a config file and write its items to the DynamoDB tables (nothing is
    /// written if it has errors). Prints the items the tables have and the file does not;
    /// --prune deletes them. One-shot ForceStart/ForceStop are never imported.
    Import {
        #[arg(long)]
        config: PathBuf,
        /// Delete table items that the file no longer has.
        #[arg(long)]
        prune: bool,
    },
    /// Print the DynamoDB tables as a config file (without one-shot ForceStart/ForceStop).
    Export {
        #[arg(long, value_enum, default_value_t)]
        format: ExportFormat,
    },
    /// Holiday calendars: `holidays import --ics FILE --schedule NAME|* [--config FILE] [--prune]`.
    Holidays {
        #[command(subcommand)]
        command: HolidaysCommand,
    },
    /// Hours and on-demand dollars saved per schedule over a day, week or month (from
    /// files, or the tables and the live fleet, read-only).
    Savings(SavingsArgs),
    /// Serve chat commands (Slack slash command, JANDI outgoing webhook) on POST /, the
    /// same handler as the Lambda Function URL. Verifies requests with SLACK_SIGNING_SECRET /
    /// JANDI_TOKEN. Commands act on the DynamoDB tables (AWS_ENDPOINT_URL honoured); with
    /// --config they act on that file's items in memory instead (nothing is written back).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Config file (YAML or JSON) loaded into an in-memory store instead of DynamoDB.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Inventory file for `status` with --config (optional).
        #[arg(long)]
        inventory: Option<PathBuf>,
    },
}

/// File format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportFormat {
    #[default]
    Yaml,
    Json,
}

fn parse_instant(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("'{s}' is not an RFC 3339 instant such as 2026-11-23T09:05:00+09:00 ({e})")
        })
}

/// Prints `value` as JSON or text to stdout, through one buffered writer on the locked
/// stdout (stdout alone flushes at every line) and with no intermediate string.
pub fn print<T: Serialize + std::fmt::Display>(value: &T, format: Format) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match format {
        Format::Json => serde_json::to_writer_pretty(&mut out, value)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Text => write!(out, "{value}"),
    }
    .and_then(|()| out.flush());
    // A closed pipe (`| head`) is not an error worth reporting.
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::File {
            path: PathBuf::from("<stdout>"),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Writes a finished document (an SVG) to stdout.
pub fn write_out(document: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out
        .write_all(document.as_bytes())
        .and_then(|()| out.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::File {
            path: PathBuf::from("<stdout>"),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Validation result, printable both ways.
#[derive(Serialize)]
struct Validation {
    valid: bool,
    schedules: Vec<String>,
    errors: Vec<crate::core::config::Problem>,
    warnings: Vec<crate::core::config::Problem>,
}

impl std::fmt::Display for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.valid {
            writeln!(
                f,
                "valid: {} schedule(s): {}",
                self.schedules.len(),
                self.schedules.join(", ")
            )?;
        } else {
            writeln!(f, "invalid: {} problem(s)", self.errors.len())?;
            for e in &self.errors {
                writeln!(f, "  error: {e}")?;
            }
        }
        for w in &self.warnings {
            writeln!(f, "  warning: {w}")?;
        }
        Ok(())
    }
}

/// Human logs on stderr for the command line; level from `RUST_LOG` (default `warn`).
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (filter, note) = crate::app::settings::log_filter("warn");
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .finish()
        .with(filter)
        .init();
    if let Some(note) = note {
        tracing::warn!("{note}");
    }
}

/// Runs commands that talk to AWS on a small tokio runtime.
pub(crate) fn block_on<T, F: std::future::Future<Output = Result<T>>>(future: F) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::File {
            path: PathBuf::from("<tokio runtime>"),
            source,
        })?
        .block_on(future)
}

pub(crate) async fn sdk_config(settings: &Settings) -> aws_config::SdkConfig {
    crate::app::settings::aws_sdk_loader(settings).load().await
}

async fn run_tick(
    settings: &Settings,
    at: Option<DateTime<Utc>>,
    dry_run: bool,
    format: Format,
) -> Result<ExitCode> {
    let sdk = sdk_config(settings).await;
    let store = Store::new(&sdk, settings);
    let cloud = AwsCloud::new(&sdk, settings);
    let env = crate::app::settings::Environment::load(&sdk).await;
    env.check_webhook()?;
    let notifier = Notifier::new(NotifySettings::from_lookup(|name| env.get(name))?)?;
    let options = Options {
        dry_run,
        max_wait: std::time::Duration::from_secs(settings.max_wait_seconds),
        ..Options::default()
    };
    let events = match crate::app::settings::event_bus(|name| env.get(name)) {
        Some(bus) if !dry_run => Some(Events::new(&sdk, &bus).await),
        _ => None,
    };
    let tick = Tick {
        store: &store,
        cloud: &cloud,
        notifier: &notifier,
        settings,
        options: &options,
        events: events.as_ref(),
    };
    let report = tick.run(at.unwrap_or_else(Utc::now)).await?;
    print(&report, format)?;
    let failed = report.steps.iter().any(|s| !s.failures.is_empty());
    Ok(if report.errors.is_empty() && !failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn import(settings: &Settings, path: &std::path::Path, prune: bool) -> Result<ExitCode> {
    let raw = RawConfig::load(path)?;
    let sdk = sdk_config(settings).await;
    let summary = Store::new(&sdk, settings)
        .import(&raw, &settings.defaults, prune)
        .await?;
    println!(
        "imported {} item(s) from {}",
        summary.written,
        path.display()
    );
    for flag in &summary.ignored {
        println!("not imported (a one-shot command, not configuration): {flag}");
    }
    for item in &summary.stale {
        if summary.pruned {
            println!("removed (not in the file): {item}");
        } else {
            println!("would remove with --prune (not in the file): {item}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(settings: &Settings, format: ExportFormat) -> Result<ExitCode> {
    let sdk = sdk_config(settings).await;
    let raw = Store::new(&sdk, settings).export().await?;
    let text = match format {
        ExportFormat::Json => serde_json::to_string_pretty(&raw)?,
        ExportFormat::Yaml => serde_norway::to_string(&raw).map_err(|e| Error::Parse {
            what: "export".into(),
            source: Box::new(e),
        })?,
    };
    println!("{}", text.trim_end());
    Ok(ExitCode::SUCCESS)
}

/// Runs one command and returns the process exit code.
pub fn run_command(command: Command, settings: &Settings) -> Result<ExitCode> {
    match command {
        Command::Run {
            at,
            dry_run,
            format,
        } => block_on(run_tick(settings, at, dry_run, format)),
        Command::Import { config, prune } => block_on(import(settings, &config, prune)),
        Command::Export { format } => block_on(export(settings, format)),
        Command::Plan {
            config,
            inventory,
            state,
            at,
            format,
        } => plan_files(settings, &config, &inventory, state.as_deref(), at, format),
        Command::Validate { config, format } => validate_file(settings, &config, format),
        Command::Timeline {
            config,
            from,
            days,
            format,
        } => {
            let config = load_config(&config, &settings.defaults)?;
            let from = from.unwrap_or_else(|| {
                Utc::now()
                    .with_timezone(&settings.defaults.timezone)
                    .date_naive()
            });
            match format.report() {
                Some(format) => print(&timeline(&config, from, days.clamp(1, 366)), format)?,
                None => {
                    let title = format!("offhours: {days} day(s) from {from}");
                    write_out(&days_svg(&config, from, days, &title, &|_| None))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Savings(args) => savings_command(settings, args),
        Command::Holidays { command } => holidays_command(settings, command),
        Command::Serve {
            listen,
            config,
            inventory,
        } => serve(settings, &listen, config.as_deref(), inventory.as_deref()),
    }
}

/// `offhours plan`: the pure preview from files; exit 1 when the report has errors.
///
/// Two threads read the files: this one the inventory, while a planner thread reads the
/// config and validates it item by item, then takes the inventory and plans, on two
/// threads for a fleet large enough to pay for the second (BENCHMARKS.md).
fn plan_files(
    settings: &Settings,
    config: &Path,
    inventory: &Path,
    state: Option<&Path>,
    at: Option<DateTime<Utc>>,
    format: Format,
) -> Result<ExitCode> {
    // The files are read on two threads: two of them from stdin would race for it.
    let files = [
        ("--config", Some(config)),
        ("--inventory", Some(inventory)),
        ("--state", state),
    ];
    let from_stdin: Vec<&str> = files
        .into_iter()
        .filter(|(_, path)| path.is_some_and(|p| p == Path::new("-")))
        .map(|(flag, _)| flag)
        .collect();
    if from_stdin.len() > 1 {
        return Err(Error::Invalid {
            item: "offhours plan".into(),
            field: from_stdin.join(", "),
            message: "only one file can be read from stdin (-)".into(),
        });
    }
    let now = at.unwrap_or_else(Utc::now);
    let planned = std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Resource>>(1);
        let planner = scope.spawn(move || {
            let config = load_config(config, &settings.defaults)?;
            // Nothing arrives when the inventory could not be read: that error is the one given.
            let Ok(resources) = receive.recv() else {
                return Ok(None);
            };
            let states = match state {
                Some(path) => load_state(path)?,
                None => HashMap::new(),
            };
            let inputs = Inputs {
                now,
                config: &config,
                resources: &resources,
                gaps: &[],
                states: &states,
                tags: &settings.tags,
                report_timezone: settings.defaults.timezone,
            };
            let report = plan_on(&inputs, plan_workers(resources.len()));
            Ok(Some((report, (config, resources, states))))
        });
        let resources = load_inventory(inventory).map(|r| send.send(r));
        drop(send);
        let planned = planner
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        resources.and(planned)
    })?;
    let Some((report, inputs)) = planned else {
        return Err(Error::Parse {
            what: inventory.display().to_string(),
            source: "the planner thread received no inventory".into(),
        });
    };
    print(&report, format)?;
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    let code = if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    leave_to_exit((inputs, report));
    Ok(code)
}

/// Fleets smaller than this are planned on one thread: a second costs more than it saves.
const PARALLEL_FROM: usize = 4096;

/// Threads `plan` groups and plans a fleet of `resources` on: two from [`PARALLEL_FROM`]
/// resources (one on a single core). More would each bring a heap arena of their own for
/// a smaller share of the work, while the two file reads stay as long.
fn plan_workers(resources: usize) -> usize {
    if resources < PARALLEL_FROM {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(2))
}

/// Leaves `inputs` to the process exit instead of freeing them one allocation at a time:
/// the command is over, and a 100k-resource fleet is over a million allocations.
fn leave_to_exit<T>(inputs: T) {
    std::mem::forget(inputs);
}

/// `offhours validate`: exit 1 when the config has errors.
fn validate_file(settings: &Settings, config: &Path, format: Format) -> Result<ExitCode> {
    let config = load_config(config, &settings.defaults)?;
    let v = Validation {
        valid: config.errors.is_empty(),
        schedules: config.schedules.iter().map(|s| s.name.clone()).collect(),
        errors: config.errors,
        warnings: config.warnings,
    };
    print(&v, format)?;
    let code = if v.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    leave_to_exit((config.schedules, v));
    Ok(code)
}

/// `offhours serve`: the chat endpoint on the DynamoDB tables, or on a config file in memory.
fn serve(
    settings: &Settings,
    listen: &str,
    config: Option<&Path>,
    inventory: Option<&Path>,
) -> Result<ExitCode> {
    let secrets = ChatSecrets::from_env();
    if secrets.slack_signing_secret.is_none() && secrets.jandi_token.is_none() {
        eprintln!("warning: neither SLACK_SIGNING_SECRET nor JANDI_TOKEN is set: every request will be refused");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Serve {
            addr: listen.to_string(),
            source,
        })?;
    runtime.block_on(async {
        match config {
            Some(config) => {
                let resources = match inventory {
                    Some(path) => load_inventory(path)?,
                    None => Vec::new(),
                };
                let store = MemoryStore::new(RawConfig::load(config)?, resources);
                serve_until_interrupted(listen, endpoint(store, settings, secrets)).await
            }
            None => {
                let sdk = sdk_config(settings).await;
                let store = AwsCommandStore {
                    store: Store::new(&sdk, settings),
                    cloud: AwsCloud::new(&sdk, settings),
                };
                serve_until_interrupted(listen, endpoint(store, settings, secrets)).await
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn endpoint<S>(store: S, settings: &Settings, secrets: ChatSecrets) -> Endpoint<S> {
    Endpoint {
        store,
        settings: settings.clone(),
        secrets,
    }
}

/// Serves chat commands on `listen` until Ctrl-C.
async fn serve_until_interrupted<S>(listen: &str, endpoint: Endpoint<S>) -> Result<()>
where
    S: crate::ports::CommandStore + crate::ports::Dedup + Send + Sync + 'static,
{
    tokio::select! {
        served = serve_addr(listen, endpoint) => served,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
