//! Savings per schedule over a day, week or month: running hours from the timeline, hours avoided, and on-demand dollars.
//!
//! Pure: the caller gives the config, the resources, the prices and the first local date.
//! A schedule's running phase is what its boundary events (after exceptions and DST) say,
//! the same events the planner acts on; a resource of the schedule runs for exactly those
//! hours, whatever it is doing at the moment.

use std::collections::HashMap;
use std::fmt;

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::core::config::{Config, Problem, ResourceKind, Schedule};
use crate::core::planner::{scheduled_resources, Resource, TagKeys};
use crate::core::schedule::{local_midnight, running_windows};
use crate::error::{Error, Result};

/// The length of the period savings are counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    #[default]
    Week,
    Month,
}

impl Period {
    /// The day after the period that starts on `from`.
    pub fn end(self, from: NaiveDate) -> NaiveDate {
        let next = match self {
            Period::Day => from.checked_add_days(chrono::Days::new(1)),
            Period::Week => from.checked_add_days(chrono::Days::new(7)),
            Period::Month => from.checked_add_months(Months::new(1)),
        };
        next.unwrap_or(from)
    }

    /// The first day of the period that holds `today`: today, its Monday, its first of month.
    pub fn start_of(self, today: NaiveDate) -> NaiveDate {
        use chrono::Datelike;
        match self {
            Period::Day => today,
            Period::Week => today
                .checked_sub_days(chrono::Days::new(u64::from(
                    today.weekday().num_days_from_monday(),
                )))
                .unwrap_or(today),
            Period::Month => today.with_day(1).unwrap_or(today),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// On-demand hourly prices by (region, instance type or DB class).
#[derive(Debug, Clone, Default)]
pub struct Prices {
    by_type: HashMap<(String, String), f64>,
}

/// The embedded price table (its source and date are in its header).
const EMBEDDED: &str = include_str!("../prices.csv");

/// One row of a price file.
#[derive(Debug, Deserialize)]
struct PriceRow {
    region: String,
    #[serde(rename = "type")]
    instance_type: String,
    usd_per_hour: f64,
}

impl Prices {
    /// The embedded table.
    pub fn embedded() -> Prices {
        let mut prices = Prices::default();
        // The embedded file is checked by a test; a bad row cannot ship.
        let _ = prices.add_csv(EMBEDDED, "embedded price table");
        prices
    }

    pub fn get(&self, region: &str, instance_type: &str) -> Option<f64> {
        self.by_type
            .get(&(region.to_string(), instance_type.to_string()))
            .copied()
    }

    pub fn len(&self) -> usize {
        self.by_type.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// Adds (or replaces) prices from a user file: JSON (`[{"region", "type",
    /// "usd_per_hour"}]`) when it starts with `[`, else CSV with those three columns.
    pub fn add_file(&mut self, text: &str, what: &str) -> Result<usize> {
        if text.trim_start().starts_with('[') {
            let rows: Vec<PriceRow> = serde_json::from_str(text).map_err(|e| Error::Parse {
                what: what.to_string(),
                source: Box::new(e),
            })?;
            let n = rows.len();
            for row in rows {
                self.insert(row, what, 0)?;
            }
            Ok(n)
        } else {
            self.add_csv(text, what)
        }
    }

    fn insert(&mut self, row: PriceRow, what: &str, line: usize) -> Result<()> {
        if !row.usd_per_hour.is_finite() || row.usd_per_hour < 0.0 {
            let at = if line > 0 {
                format!(" line {line}")
            } else {
                String::new()
            };
            return Err(Error::invalid(
                format!("{what}{at}"),
                "usd_per_hour",
                format!("{} is not a price (a number >= 0)", row.usd_per_hour),
            ));
        }
        self.by_type.insert(
            (
                row.region.trim().to_string(),
                row.instance_type.trim().to_string(),
            ),
            row.usd_per_hour,
        );
        Ok(())
    }

    /// CSV rows `region,type,usd_per_hour`; `#` comments, blank lines and the header skipped.
    fn add_csv(&mut self, text: &str, what: &str) -> Result<usize> {
        let mut n = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with("region,") {
                continue;
            }
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let label = format!("{what} line {}", i + 1);
            let [region, instance_type, price] = cells[..] else {
                return Err(Error::invalid(
                    label,
                    "region,type,usd_per_hour",
                    format!("has {} columns, not 3", cells.len()),
                ));
            };
            let usd_per_hour = price.parse::<f64>().map_err(|_| {
                Error::invalid(&label, "usd_per_hour", format!("'{price}' is not a number"))
            })?;
            let row = PriceRow {
                region: region.to_string(),
                instance_type: instance_type.to_string(),
                usd_per_hour,
            };
            self.insert(row, what, i + 1)?;
            n += 1;
        }
        Ok(n)
    }
}

/// What one schedule saved over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduleSavings {
    pub schedule: String,
    pub timezone: String,
    /// Resources of the schedule in the inventory, whatever their state now.
    pub resources: usize,
    /// Hours in the running phase, summed over the resources.
    pub hours_running: f64,
    /// Hours of the period times resources, minus `hours_running`.
    pub hours_avoided: f64,
    /// Hours avoided times each priced resource's on-demand rate.
    pub dollars_saved: f64,
    /// Resources whose hours count but whose price is not known (`id (type, region)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unpriced: Vec<String>,
}

/// The sums over every schedule.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub resources: usize,
    pub hours_running: f64,
    pub hours_avoided: f64,
    pub dollars_saved: f64,
}

/// Savings of every valid schedule over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Savings {
    pub period: Period,
    pub from: NaiveDate,
    pub schedules: Vec<ScheduleSavings>,
    pub total: Totals,
    /// Config errors: those schedules are left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Problem>,
}

/// Everything a savings count looks at.
pub struct SavingsInputs<'a> {
    pub config: &'a Config,
    pub resources: &'a [Resource],
    pub tags: &'a TagKeys,
    pub prices: &'a Prices,
    /// The region of resources that do not name one (the scheduler's own).
    pub default_region: &'a str,
    pub from: NaiveDate,
    pub period: Period,
}

/// Counts the savings of every valid schedule over the period from `from`.
pub fn savings(inputs: &SavingsInputs<'_>) -> Savings {
    let to = inputs.period.end(inputs.from);
    let members = scheduled_resources(inputs.config, inputs.resources, inputs.tags);
    let mut schedules = Vec::new();
    let mut total = Totals::default();
    for (schedule, resources) in inputs.config.schedules.iter().zip(members) {
        let s = schedule_savings(schedule, &resources, inputs, to);
        total.resources += s.resources;
        total.hours_running += s.hours_running;
        total.hours_avoided += s.hours_avoided;
        total.dollars_saved += s.dollars_saved;
        schedules.push(s);
    }
    total.hours_running = round2(total.hours_running);
    total.hours_avoided = round2(total.hours_avoided);
    total.dollars_saved = round2(total.dollars_saved);
    Savings {
        period: inputs.period,
        from: inputs.from,
        schedules,
        total,
        errors: inputs.config.errors.clone(),
    }
}

/// What `schedule` saved with its `resources` (its members in `inputs.resources`) over the
/// local dates `inputs.from..to`.
pub fn schedule_savings(
    schedule: &Schedule,
    resources: &[&Resource],
    inputs: &SavingsInputs<'_>,
    to: NaiveDate,
) -> ScheduleSavings {
    let (running, length) = running_hours(schedule, inputs.from, to);
    let n = resources.len() as f64;
    let avoided = (length - running).max(0.0);
    let mut dollars = 0.0;
    let mut unpriced = Vec::new();
    for r in resources {
        match hourly_price(r, inputs) {
            Ok(p) => dollars += p * avoided,
            Err(what) => unpriced.push(what),
        }
    }
    ScheduleSavings {
        schedule: schedule.name.clone(),
        timezone: schedule.timezone.name().to_string(),
        resources: resources.len(),
        hours_running: round2(running * n),
        hours_avoided: round2(avoided * n),
        dollars_saved: round2(dollars),
        unpriced,
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// (hours in the running phase, hours in the period) for local dates `from..to` in the
/// schedule's timezone (a week with a DST change has 167 or 169 hours). A disabled
/// schedule, or one with no event yet, leaves its resources as they are: counted running.
pub fn running_hours(schedule: &Schedule, from: NaiveDate, to: NaiveDate) -> (f64, f64) {
    let length = hours(local_midnight(schedule, to) - local_midnight(schedule, from));
    let running = running_windows(schedule, from, to)
        .iter()
        .map(|(a, b)| hours(*b - *a))
        .sum();
    (running, length)
}

fn hours(d: chrono::TimeDelta) -> f64 {
    d.num_seconds() as f64 / 3600.0
}

/// A resource's on-demand hourly price, or why it has none (`id (type, region)`). An
/// Aurora cluster costs what its member instances cost.
fn hourly_price(r: &Resource, inputs: &SavingsInputs<'_>) -> std::result::Result<f64, String> {
    let region = r.region.as_deref().unwrap_or(inputs.default_region);
    if r.kind == ResourceKind::Aurora && r.instance_type.is_none() {
        let members: Vec<&Resource> = inputs
            .resources
            .iter()
            .filter(|m| m.cluster.as_deref() == Some(r.id.as_str()))
            .collect();
        let prices: Option<Vec<f64>> = members
            .iter()
            .map(|m| hourly_price(m, inputs).ok())
            .collect();
        return match prices {
            Some(p) if !p.is_empty() => Ok(p.iter().sum()),
            _ => Err(format!(
                "{} (aurora cluster: member instance classes not known, {region})",
                r.id
            )),
        };
    }
    let Some(t) = r.instance_type.as_deref() else {
        return Err(format!("{} (no type, {region})", r.id));
    };
    inputs
        .prices
        .get(region, t)
        .ok_or_else(|| format!("{} ({t}, {region})", r.id))
}

impl fmt::Display for Savings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Savings over the {} from {} (local dates of each schedule)",
            self.period.as_str(),
            self.from
        )?;
        writeln!(
            f,
            "{:<24} {:>9} {:>13} {:>13} {:>11}",
            "schedule", "resources", "hours running", "hours avoided", "USD saved"
        )?;
        for s in &self.schedules {
            writeln!(
                f,
                "{:<24} {:>9} {:>13.1} {:>13.1} {:>11.2}",
                s.schedule, s.resources, s.hours_running, s.hours_avoided, s.dollars_saved
            )?;
        }
        let t = &self.total;
        writeln!(
            f,
            "{:<24} {:>9} {:>13.1} {:>13.1} {:>11.2}",
            "total", t.resources, t.hours_running, t.hours_avoided, t.dollars_saved
        )?;
        let unpriced: Vec<&String> = self.schedules.iter().flat_map(|s| &s.unpriced).collect();
        if !unpriced.is_empty() {
            writeln!(
                f,
                "\nNo known price (hours counted, dollars not; add them with --prices FILE): {}",
                unpriced
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        writeln!(
            f,
            "\nOn-demand compute only. Stopped instances and databases keep paying for their \
             EBS volumes and storage (and Elastic IPs); that is not saved and not counted here."
        )?;
        if !self.errors.is_empty() {
            writeln!(f, "\nSkipped because of errors:")?;
            for e in &self.errors {
                writeln!(f, "  {e}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
