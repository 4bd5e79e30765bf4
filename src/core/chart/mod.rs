//! Days as a picture: one row per schedule, running windows as bars in local time, exceptions, holidays and DST changes marked, as plain dependency-free SVG.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Days, NaiveDate, Offset, Timelike, Utc};

use crate::core::config::{hm, Config, Schedule};
use crate::core::schedule::{events_between, local_midnight, running_windows, Source};

const LABEL_W: f64 = 210.0;
const HOUR_W: f64 = 4.0;
const DAY_W: f64 = 24.0 * HOUR_W;
const HEAD_H: f64 = 34.0;
const ROW_H: f64 = 46.0;
const BAR_Y: f64 = 12.0;
const BAR_H: f64 = 18.0;

/// Renders local dates `from .. from + days` of every valid schedule. `caption(name)` may add
/// a line under a schedule's name (e.g. what it saved).
pub fn days_svg(
    config: &Config,
    from: NaiveDate,
    days: u32,
    title: &str,
    caption: &dyn Fn(&str) -> Option<String>,
) -> String {
    let days = days.clamp(1, 62);
    let width = LABEL_W + DAY_W * f64::from(days) + 10.0;
    let height = HEAD_H + ROW_H * config.schedules.len().max(1) as f64 + 28.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">
<title>{}</title>
<rect width="{width}" height="{height}" fill="#ffffff"/>
<text x="8" y="16" font-size="13" font-weight="bold">{}</text>"##,
        text(title),
        text(title)
    );
    header(
        &mut out,
        from,
        days,
        HEAD_H + ROW_H * config.schedules.len().max(1) as f64,
    );
    for (i, s) in config.schedules.iter().enumerate() {
        let y = HEAD_H + ROW_H * i as f64;
        row(&mut out, s, from, days, y, caption(&s.name));
    }
    let legend_y = height - 10.0;
    let _ = writeln!(
        out,
        r##"<g class="legend"><rect x="8" y="{}" width="14" height="9" fill="#2e7d32"/><text x="26" y="{legend_y}">running (local time of each schedule)</text><rect x="250" y="{}" width="14" height="9" fill="#fde0dc"/><text x="268" y="{legend_y}">no start (exception or holiday)</text><text x="470" y="{legend_y}" fill="#c62828">&#9660; moved by an exception</text><text x="640" y="{legend_y}" fill="#1565c0">DST: clocks change</text></g>
</svg>"##,
        legend_y - 8.0,
        legend_y - 8.0
    );
    out
}

fn header(out: &mut String, from: NaiveDate, days: u32, bottom: f64) {
    for d in 0..days {
        let date = from + Days::new(u64::from(d));
        let x = LABEL_W + DAY_W * f64::from(d);
        let _ = writeln!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle">{} {}</text>
<line x1="{x}" y1="{}" x2="{x}" y2="{bottom}" stroke="#bbbbbb"/>"##,
            x + DAY_W / 2.0,
            HEAD_H - 6.0,
            date.weekday(),
            date.format("%m-%d"),
            HEAD_H - 2.0,
        );
        for h in [6.0, 12.0, 18.0] {
            let hx = x + h * HOUR_W;
            let _ = writeln!(
                out,
                r##"<line x1="{hx}" y1="{HEAD_H}" x2="{hx}" y2="{bottom}" stroke="#e4e4e4"/>"##
            );
        }
    }
    let end = LABEL_W + DAY_W * f64::from(days);
    let _ = writeln!(
        out,
        r##"<line x1="{end}" y1="{}" x2="{end}" y2="{bottom}" stroke="#bbbbbb"/>"##,
        HEAD_H - 2.0
    );
}

/// One schedule's row: name, shaded no-start days, running bars, exception and DST marks.
fn row(
    out: &mut String,
    s: &Schedule,
    from: NaiveDate,
    days: u32,
    y: f64,
    caption: Option<String>,
) {
    let to = from + Days::new(u64::from(days));
    let _ = writeln!(
        out,
        r##"<g class="schedule" data-schedule="{}">
<text x="8" y="{}" font-weight="bold">{}</text>
<text x="8" y="{}" fill="#555555">{}</text>"##,
        attr(&s.name),
        y + 16.0,
        text(&s.name),
        y + 30.0,
        text(&caption.map_or_else(
            || s.timezone.name().to_string(),
            |c| format!("{} · {c}", s.timezone.name())
        ))
    );
    let _ = writeln!(
        out,
        r##"<rect x="{LABEL_W}" y="{}" width="{}" height="{BAR_H}" fill="#f3f3f3" fill-opacity="0.6"/>"##,
        y + BAR_Y,
        DAY_W * f64::from(days)
    );
    for e in s
        .exceptions
        .iter()
        .filter(|e| e.time.is_none() && e.date >= from && e.date < to)
    {
        let x = day_x(from, e.date);
        let _ = writeln!(
            out,
            r##"<rect class="no-{}" x="{x}" y="{}" width="{DAY_W}" height="{BAR_H}" fill="#fde0dc"><title>no {} on {} (exception {})</title></rect>"##,
            e.action,
            y + BAR_Y,
            e.action,
            e.date,
            text(&e.uuid)
        );
    }
    for (a, b) in running_windows(s, from, to) {
        bars(out, s, from, days, y, a, b);
    }
    marks(out, s, from, to, y);
    out.push_str("</g>\n");
}

/// The x of the start of local `date`'s column.
fn day_x(from: NaiveDate, date: NaiveDate) -> f64 {
    LABEL_W + DAY_W * (date - from).num_days() as f64
}

/// Hours since local midnight of `at` on the wall clock (24 for the next midnight).
fn wall_hours(s: &Schedule, at: DateTime<Utc>, date: NaiveDate) -> f64 {
    let local = at.with_timezone(&s.timezone);
    if local.date_naive() > date {
        return 24.0;
    }
    f64::from(local.hour()) + f64::from(local.minute()) / 60.0
}

/// A running window, cut at local midnights into one bar per day.
fn bars(
    out: &mut String,
    s: &Schedule,
    from: NaiveDate,
    days: u32,
    y: f64,
    a: DateTime<Utc>,
    b: DateTime<Utc>,
) {
    for d in 0..days {
        let date = from + Days::new(u64::from(d));
        let (d0, d1) = (
            local_midnight(s, date),
            local_midnight(s, date + Days::new(1)),
        );
        let (x0, x1) = (a.max(d0), b.min(d1));
        if x1 <= x0 {
            continue;
        }
        let (h0, h1) = (wall_hours(s, x0, date), wall_hours(s, x1, date));
        let local = |t: DateTime<Utc>| hm(t.with_timezone(&s.timezone).time());
        let _ = writeln!(
            out,
            r##"<rect class="running" x="{:.1}" y="{}" width="{:.1}" height="{BAR_H}" fill="#2e7d32"><title>{} {}-{} running</title></rect>"##,
            day_x(from, date) + h0 * HOUR_W,
            y + BAR_Y,
            ((h1 - h0) * HOUR_W).max(1.0),
            date,
            local(x0),
            if h1 >= 24.0 {
                "24:00".to_string()
            } else {
                local(x1)
            }
        );
    }
}

/// Triangles over events an exception moved or added, and a DST note on the days the
/// schedule's clocks change.
fn marks(out: &mut String, s: &Schedule, from: NaiveDate, to: NaiveDate, y: f64) {
    let last = to.pred_opt().unwrap_or(to);
    for e in events_between(s, from, last) {
        let why = match &e.source {
            Source::Schedule => continue,
            Source::Exception(u) => format!("exception {u}"),
            Source::MakeUpDay(u) => format!("make-up day {u}"),
        };
        let date = e.local.date_naive();
        let x = day_x(from, date) + wall_hours(s, e.at, date) * HOUR_W;
        let _ = writeln!(
            out,
            r##"<text class="exception" x="{x:.1}" y="{}" text-anchor="middle" fill="#c62828">&#9660;<title>{} {} at {} ({})</title></text>"##,
            y + BAR_Y - 1.0,
            e.action,
            e.date,
            hm(e.local.time()),
            text(&why)
        );
    }
    let mut date = from;
    while date < to {
        let next = date + Days::new(1);
        let offset = |t: DateTime<Utc>| {
            t.with_timezone(&s.timezone)
                .offset()
                .fix()
                .local_minus_utc()
        };
        let (before, after) = (
            offset(local_midnight(s, date)),
            offset(local_midnight(s, next)),
        );
        if before != after {
            let shift = (after - before) / 60;
            let _ = writeln!(
                out,
                r##"<text class="dst" x="{:.1}" y="{}" fill="#1565c0">DST {}{} min<title>clocks change on {date}: {} local hours</title></text>"##,
                day_x(from, date) + 2.0,
                y + BAR_Y + BAR_H + 11.0,
                if shift > 0 { "+" } else { "" },
                shift,
                24 - shift / 60
            );
        }
        date = next;
    }
}

/// Escapes text content.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escapes an attribute value (double-quoted).
fn attr(s: &str) -> String {
    text(s).replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests;
