//! iCalendar expansion (DTEND exclusive, multi-day, timed events), stable ids, and import plans.

use super::*;

fn ics(events: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n")
}

fn event(uid: &str, start: &str, end: Option<&str>) -> String {
    let end = end
        .map(|e| format!("DTEND;VALUE=DATE:{e}\r\n"))
        .unwrap_or_default();
    format!("BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:{start}\r\n{end}SUMMARY:{uid} day\r\nEND:VEVENT\r\n")
}

fn dates(c: &HolidayCalendar) -> Vec<String> {
    c.days
        .iter()
        .map(|h| format!("{} {}", h.date, h.uid))
        .collect()
}

#[test]
fn all_day_events_expand_to_each_day_with_dtend_exclusive() {
    let text = ics(&[
        event("a", "20260216", Some("20260219")),
        event("b", "20261225", None),
        event("c", "20260301", Some("20260302")),
        "BEGIN:VEVENT\r\nUID:meeting\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260305T090000Z\r\nDTEND:20260305T100000Z\r\nSUMMARY:standup\r\nEND:VEVENT\r\n".to_string(),
    ]
    .concat());
    let c = read_ics(&text, "test.ics", "test").expect("parses");
    assert_eq!(
        dates(&c),
        [
            "2026-02-16 a",
            "2026-02-17 a",
            "2026-02-18 a",
            "2026-03-01 c",
            "2026-12-25 b"
        ]
    );
    assert_eq!(c.name, "test", "no X-WR-CALNAME: the caller's name");
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert!(c.warnings[0].contains("meeting") && c.warnings[0].contains("start time"));
}

#[test]
fn the_shipped_korean_calendar_has_the_published_days() {
    let text = include_str!("../../../examples/holidays-kr-2026-2027.ics");
    let c = read_ics(text, "kr.ics", "kr").expect("parses");
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert_eq!(c.name, "kr-holidays");
    let on = |d: &str| c.days.iter().filter(|h| h.date.to_string() == d).count();
    for d in [
        "2026-02-16",
        "2026-02-17",
        "2026-02-18", // Seollal
        "2026-03-02",
        "2026-05-25",
        "2026-08-17",
        "2026-10-05", // substitutes
        "2026-06-03", // local elections
        "2026-09-24",
        "2026-09-25",
        "2026-09-26", // Chuseok
        "2027-02-05",
        "2027-02-08",
        "2027-05-13",
        "2027-09-15",
        "2027-12-27",
    ] {
        assert_eq!(on(d), 1, "{d}");
    }
    assert_eq!(on("2026-11-23"), 0);
    assert_eq!(c.days.len(), 40, "32 events, four of them 3 days long");
}

#[test]
fn items_have_stable_ids_and_a_second_import_changes_nothing() {
    let text = ics(&[
        event("x@cal", "20261009", None),
        event("y@cal", "20261225", None),
    ]
    .concat())
    .replace(
        "PRODID:-//test//EN\r\n",
        "PRODID:-//test//EN\r\nX-WR-CALNAME:KR holidays\r\n",
    );
    let c = read_ics(&text, "t.ics", "t").expect("parses");
    assert_eq!(c.name, "KR-holidays");
    let items = exception_items(&c, "*");
    assert_eq!(
        items[0]["ExceptionUuid"],
        "ics:KR-holidays:*:2026-10-09:x@cal"
    );
    assert_eq!(
        (
            items[0]["ScheduleName"].as_str(),
            items[0]["ExceptionType"].as_str(),
            items[0]["ExceptionValue"].as_str()
        ),
        (Some("*"), Some("start"), Some("None"))
    );
    let prefix = uuid_prefix(&c.name, "*");
    let first = plan_import(&[], items.clone(), &prefix);
    assert_eq!(
        (first.write.len(), first.unchanged, first.stale.len()),
        (2, 0, 0)
    );
    let again = plan_import(&items, items.clone(), &prefix);
    assert_eq!(
        (again.write.len(), again.unchanged, again.stale.len()),
        (0, 2, 0)
    );
}

#[test]
fn prune_finds_only_this_calendars_days_that_the_file_lost() {
    let c = read_ics(
        &ics(&[event("x", "20261009", None), event("y", "20261225", None)].concat()),
        "t.ics",
        "cal",
    )
    .expect("parses");
    let before = exception_items(&c, "dev");
    let mut other = before[0].clone();
    other.insert("ExceptionUuid".into(), "manual-overtime".into());
    let mut other_schedule = exception_items(&c, "*");
    let mut existing = before.clone();
    existing.push(other);
    existing.append(&mut other_schedule);
    let smaller = read_ics(&ics(&event("x", "20261009", None)), "t.ics", "cal").expect("parses");
    let plan = plan_import(
        &existing,
        exception_items(&smaller, "dev"),
        &uuid_prefix("cal", "dev"),
    );
    assert_eq!(plan.stale, ["ics:cal:dev:2026-12-25:y"]);
    assert_eq!((plan.write.len(), plan.unchanged), (0, 1));
}

#[test]
fn bad_files_and_odd_events_are_named() {
    let e = read_ics("hello", "notes.txt", "n").expect_err("not ics");
    assert!(e.to_string().contains("notes.txt"), "{e}");
    let long = ics(&event("long", "20260101", Some("20300101")));
    let c = read_ics(&long, "l.ics", "l").expect("parses");
    assert_eq!(c.days.len() as u64, MAX_EVENT_DAYS);
    assert!(
        c.warnings[0].contains("more than 366 days"),
        "{:?}",
        c.warnings
    );
    let no_uid = ics("BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260101\r\nSUMMARY:x\r\nEND:VEVENT\r\n");
    let c = read_ics(&no_uid, "u.ics", "u").expect("parses");
    assert!(
        c.days.is_empty() && c.warnings[0].contains("no UID"),
        "{:?}",
        c.warnings
    );
}
