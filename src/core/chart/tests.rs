//! The SVG is well-formed XML with every schedule's windows, no-start days, exception and DST marks, and hostile names escaped.

use super::*;
use crate::core::config::{validate, Defaults, RawConfig};

fn config(yaml: &str) -> Config {
    let c = validate(
        &RawConfig::parse(yaml, "test").expect("yaml"),
        &Defaults::default(),
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    c
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML ({e}):\n{svg}"))
}

/// (class, title) of the elements in a schedule's group.
fn marks(doc: &roxmltree::Document<'_>, schedule: &str) -> Vec<(String, String)> {
    let group = doc
        .descendants()
        .find(|n| n.attribute("data-schedule") == Some(schedule))
        .unwrap_or_else(|| panic!("no row for {schedule}"));
    group
        .children()
        .filter_map(|n| {
            let class = n.attribute("class")?.to_string();
            let title = n
                .children()
                .find(|c| c.has_tag_name("title"))?
                .text()?
                .to_string();
            Some((class, title))
        })
        .collect()
}

#[test]
fn a_week_shows_each_running_window_holiday_and_moved_stop() {
    let c = config(
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, DaysActive: weekdays, StartTime: '09:00', StopTime: '22:00', Timezone: Asia/Seoul}\n  - {ScheduleName: night, TagValue: night, DaysActive: mon, StartTime: '22:00', StopTime: '06:00', Timezone: UTC}\nexceptions:\n  - {ExceptionUuid: h1, ScheduleName: dev, ExceptionDate: '2026-11-25', ExceptionType: start, ExceptionValue: None}\n  - {ExceptionUuid: ot, ScheduleName: dev, ExceptionDate: '2026-11-26', ExceptionType: stop, ExceptionValue: '23:30'}\n",
    );
    let svg = days_svg(&c, "2026-11-23".parse().expect("date"), 7, "week", &|_| {
        None
    });
    let doc = parse(&svg);
    assert!(doc
        .root_element()
        .has_tag_name(("http://www.w3.org/2000/svg", "svg")));
    let dev = marks(&doc, "dev");
    let running: Vec<&str> = dev
        .iter()
        .filter(|(c, _)| c == "running")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        running,
        [
            "2026-11-23 09:00-22:00 running",
            "2026-11-24 09:00-22:00 running",
            "2026-11-26 09:00-23:30 running",
            "2026-11-27 09:00-22:00 running",
        ]
    );
    assert!(
        dev.contains(&(
            "no-start".into(),
            "no start on 2026-11-25 (exception h1)".into()
        )),
        "{dev:?}"
    );
    assert!(
        dev.iter()
            .any(|(c, t)| c == "exception" && t.contains("stop 2026-11-26 at 23:30")),
        "{dev:?}"
    );
    let night = marks(&doc, "night");
    let running: Vec<&str> = night
        .iter()
        .filter(|(c, _)| c == "running")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        running,
        [
            "2026-11-23 22:00-24:00 running",
            "2026-11-24 00:00-06:00 running"
        ]
    );
}

#[test]
fn the_day_clocks_change_is_marked_and_its_bars_follow_the_wall_clock() {
    let c = config("schedules:\n  - {ScheduleName: ny, TagValue: ny, DaysActive: all, StartTime: '01:00', StopTime: '04:00', Timezone: America/New_York}\n");
    let svg = days_svg(&c, "2026-10-31".parse().expect("date"), 3, "DST", &|_| None);
    let ny = marks(&parse(&svg), "ny");
    assert!(
        ny.iter()
            .any(|(c, t)| c == "dst" && t == "clocks change on 2026-11-01: 25 local hours"),
        "{ny:?}"
    );
    assert_eq!(ny.iter().filter(|(c, _)| c == "dst").count(), 1);
    assert!(
        ny.iter()
            .any(|(c, t)| c == "running" && t == "2026-11-01 01:00-04:00 running"),
        "{ny:?}"
    );
}

#[test]
fn names_and_captions_are_escaped_text() {
    let c = config("schedules:\n  - {ScheduleName: '<b>&\"x\"</b>', TagValue: x, StartTime: '09:00', StopTime: '18:00'}\n");
    let svg = days_svg(
        &c,
        "2026-11-23".parse().expect("date"),
        1,
        "a < b & c",
        &|_| Some("$1 <saved>".into()),
    );
    let doc = parse(&svg);
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"<b>&\"x\"</b>"), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("$1 <saved>")), "{texts:?}");
    assert!(!svg.contains("<b>"), "raw markup must not reach the SVG");
}
