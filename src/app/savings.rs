//! `offhours savings`: loads config, inventory and prices (files, or the tables and the live fleet) and prints the core's count.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::{Args, ValueEnum};

use crate::app::cli::{block_on, print, sdk_config, write_out, ChartFormat};
use crate::app::files::load_inventory;
use crate::aws::cloud::AwsCloud;
use crate::aws::store::Store;
use crate::core::chart::days_svg;
use crate::core::config::{validate, RawConfig};
use crate::core::planner::Resource;
use crate::core::savings::{savings, Period, Prices, SavingsInputs};
use crate::error::{Error, Result};
use crate::ports::{Cloud, Settings};

/// The period's length, as the command line spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum PeriodArg {
    Day,
    #[default]
    Week,
    Month,
}

impl From<PeriodArg> for Period {
    fn from(p: PeriodArg) -> Period {
        match p {
            PeriodArg::Day => Period::Day,
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
        }
    }
}

/// Arguments of `offhours savings`.
#[derive(Debug, Args)]
pub struct SavingsArgs {
    /// Config file (JSON or YAML); without it, the DynamoDB tables.
    #[arg(long, requires = "inventory")]
    pub config: Option<PathBuf>,
    /// Inventory file (`resources: [{id, kind, state, tags, type, region}]`); without it,
    /// the live fleet (EC2/RDS describe calls, nothing changed).
    #[arg(long, requires = "config")]
    pub inventory: Option<PathBuf>,
    /// First local date (YYYY-MM-DD); default the start of the current period (today, this
    /// week's Monday, this month's first) in TIMEZONE.
    #[arg(long)]
    pub from: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t)]
    pub period: PeriodArg,
    /// Price file (CSV `region,type,usd_per_hour`, or a JSON list of such objects) added
    /// over the embedded table.
    #[arg(long)]
    pub prices: Option<PathBuf>,
    /// Region of inventory resources that name none (default: the first of REGIONS, else
    /// us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// `svg` draws the period (days up to 62) with each schedule's savings under its name.
    #[arg(long, value_enum, default_value_t)]
    pub format: ChartFormat,
}

/// `offhours savings`: hours and dollars saved per schedule over a day, week or month.
pub fn savings_command(settings: &Settings, args: SavingsArgs) -> Result<ExitCode> {
    let mut prices = Prices::embedded();
    if let Some(path) = &args.prices {
        let text = std::fs::read_to_string(path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        prices.add_file(&text, &path.display().to_string())?;
    }
    let (raw, resources) = match (&args.config, &args.inventory) {
        (Some(config), Some(inventory)) => (RawConfig::load(config)?, load_inventory(inventory)?),
        _ => block_on(live(settings))?,
    };
    let config = validate(&raw, &settings.defaults);
    let period = Period::from(args.period);
    let today = Utc::now()
        .with_timezone(&settings.defaults.timezone)
        .date_naive();
    let region = args
        .region
        .or_else(|| settings.regions.first().cloned())
        .unwrap_or_else(|| "us-east-1".to_string());
    let report = savings(&SavingsInputs {
        config: &config,
        resources: &resources,
        tags: &settings.tags,
        prices: &prices,
        default_region: &region,
        from: args.from.unwrap_or_else(|| period.start_of(today)),
        period,
    });
    match args.format.report() {
        Some(format) => print(&report, format)?,
        None => {
            let from = report.from;
            let days = (period.end(from) - from).num_days().clamp(1, 62) as u32;
            let title = format!(
                "offhours: {} from {from}: {:.0} instance-hours and {:.2} USD saved",
                period.as_str(),
                report.total.hours_avoided,
                report.total.dollars_saved
            );
            let caption = |name: &str| {
                let s = report.schedules.iter().find(|s| s.schedule == name)?;
                Some(format!(
                    "{:.0} h avoided, {:.2} USD",
                    s.hours_avoided, s.dollars_saved
                ))
            };
            write_out(&days_svg(&config, from, days, &title, &caption))?;
        }
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The tables' items and the live fleet (read-only).
async fn live(settings: &Settings) -> Result<(RawConfig, Vec<Resource>)> {
    let sdk = sdk_config(settings).await;
    let raw = Store::new(&sdk, settings).load_config().await?;
    let resources = AwsCloud::new(&sdk, settings).observe().await?;
    Ok((raw, resources))
}
