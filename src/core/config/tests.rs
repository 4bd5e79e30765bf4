//! Config tests: parsing, defaults, validation errors naming item and field, groups, cycles, exceptions.

use super::*;

/// Validates a document both ways, the parsed items and item by item as it is read, and
/// checks that the two agree: every test here covers the reader the CLI uses.
fn load(yaml: &str) -> Config {
    load_with(yaml, &Defaults::default())
}

fn load_with(text: &str, defaults: &Defaults) -> Config {
    let raw = RawConfig::parse(text, "test").expect("test yaml parses");
    let whole = validate(&raw, defaults);
    let streamed = Config::parse_as(text, "test", None, defaults).expect("reads item by item");
    assert_same(&whole, &streamed);
    whole
}

fn assert_same(a: &Config, b: &Config) {
    assert_eq!(a.schedules, b.schedules);
    assert_eq!(a.errors, b.errors);
    assert_eq!(a.warnings, b.warnings);
}

/// What serde's derive reads from a document: the hand-written reader must read the same.
fn derived(text: &str) -> std::result::Result<RawConfig, String> {
    mod derive {
        use super::super::Item;

        #[derive(serde::Deserialize)]
        pub struct RawConfig {
            #[serde(default)]
            pub schedules: Vec<Item>,
            #[serde(default)]
            pub groups: Vec<Item>,
            #[serde(default)]
            pub exceptions: Vec<Item>,
        }
    }
    if text.trim().is_empty() {
        return Ok(RawConfig::default());
    }
    let raw: Option<derive::RawConfig> =
        document::parse(text, "t", None).map_err(|e| e.to_string())?;
    Ok(raw.map_or_else(RawConfig::default, |r| RawConfig {
        schedules: r.schedules,
        groups: r.groups,
        exceptions: r.exceptions,
    }))
}

#[test]
fn read_item_by_item_as_from_the_parsed_document_in_any_shape() {
    let defaults = Defaults::default();
    let docs = [
        "",
        "~",
        "null",
        "{}",
        "[]",
        "[[{\"ScheduleName\": \"a\", \"TagValue\": \"a\"}]]",
        "{\"other\": {\"x\": [1]}, \"schedules\": [{\"ScheduleName\": \"a\", \"TagValue\": \"a\"}]}",
        // The lists in reverse order: exceptions and groups before their schedule.
        r#"{"exceptions": [{"ExceptionUuid": "x1", "ScheduleName": "a", "ExceptionDate": "2026-12-24", "ExceptionType": "start", "ExceptionValue": "None"},
                           {"ExceptionUuid": "x1", "ScheduleName": "a", "ExceptionDate": "2026-12-25", "ExceptionType": "start", "ExceptionValue": "None"},
                           {"ExceptionUuid": "x2", "ScheduleName": "nope", "ExceptionDate": "2026-12-25", "ExceptionType": "stop", "ExceptionValue": "17:00"}],
            "groups": [{"ScheduleName": "a", "GroupName": "API", "InstanceType": "EC2", "Dependency": ["DB"]},
                       {"ScheduleName": "a", "GroupName": "DB", "InstanceType": "RDS"},
                       {"ScheduleName": "ghost", "GroupName": "X", "InstanceType": "EC2"},
                       {"GroupName": "Y"}],
            "schedules": [{"ScheduleName": "a", "TagValue": "a", "StartTime": "09:00", "StopTime": "18:00"},
                          {"TagValue": "b"},
                          {"ScheduleName": "c", "TagValue": "a"}]}"#,
        "schedules:\n  - {ScheduleName: a, TagValue: a, Extra: 1}\ngroups: []\nexceptions: []\nnotes: hi\n",
        // Not JSON once an item is read (`groups` has no quotes), but a YAML flow mapping:
        // the YAML reading starts from scratch.
        "{\"schedules\": [{\"ScheduleName\": \"a\", \"TagValue\": \"a\"}], groups: []}",
    ];
    for doc in docs {
        let whole = RawConfig::parse(doc, "t").expect(doc);
        assert_eq!(Some(&whole), derived(doc).as_ref().ok(), "{doc}");
        let streamed = Config::parse_as(doc, "t", None, &defaults).expect(doc);
        assert_same(&validate(&whole, &defaults), &streamed);
    }
    let late = Config::parse_as(docs[docs.len() - 1], "t", None, &defaults).expect("yaml");
    assert_eq!(
        (late.schedules.len(), late.errors.len()),
        (1, 0),
        "{:?}",
        late.errors
    );
    // Documents that do not read give the same error either way.
    for bad in [
        "{\"schedules\": [], \"schedules\": []}",
        "{\"schedules\": null}",
        "{\"schedules\": [1]}",
        "{\"groups\": {\"a\": 1}}",
        "{\"schedules\": [{\"ScheduleName\": \"a\"}], ",
        "[1]",
        "5",
        "schedules: 5\n",
        "schedules:\n  - a: [\n",
    ] {
        let whole = RawConfig::parse(bad, "t")
            .map(|_| ())
            .map_err(|e| e.to_string());
        let streamed = Config::parse_as(bad, "t", None, &defaults)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert!(whole.is_err(), "{bad}");
        assert_eq!(whole, streamed, "{bad}");
        assert_eq!(whole, derived(bad).map(|_| ()), "{bad}");
    }
    let e = Config::parse_as(
        "{\"schedules\": [], \"schedules\": []}",
        "c.json",
        Some(Syntax::Json),
        &defaults,
    );
    assert!(e.is_err_and(|e| e.to_string().contains("duplicate field `schedules`")));
}

#[test]
fn day_lists_parse() {
    use Weekday::*;
    let cases: &[(&str, &[Weekday])] = &[
        ("all", &[Mon, Tue, Wed, Thu, Fri, Sat, Sun]),
        ("weekdays", &[Mon, Tue, Wed, Thu, Fri]),
        ("Weekends", &[Sat, Sun]),
        ("mon,wed,fri", &[Mon, Wed, Fri]),
        ("mon-thu,sat", &[Mon, Tue, Wed, Thu, Sat]),
        ("Monday, TUESDAY", &[Mon, Tue]),
        ("fri-mon", &[Fri, Sat, Sun, Mon]),
    ];
    for (text, expected) in cases {
        let days = Days::parse(text).expect(text);
        for d in [Mon, Tue, Wed, Thu, Fri, Sat, Sun] {
            assert_eq!(days.contains(d), expected.contains(&d), "{text} {d}");
        }
    }
    for bad in ["", "funday", "mon,,tue", "mon-xyz"] {
        assert!(Days::parse(bad).is_err(), "{bad:?} should be refused");
    }
}

#[test]
fn times_parse() {
    let t = |h, m| Some(NaiveTime::from_hms_opt(h, m, 0).expect("valid"));
    assert_eq!(parse_time("09:00"), Ok(t(9, 0)));
    assert_eq!(parse_time("9:05"), Ok(t(9, 5)));
    assert_eq!(parse_time("23:59"), Ok(t(23, 59)));
    assert_eq!(parse_time("None"), Ok(None));
    assert_eq!(parse_time(""), Ok(None));
    for bad in ["24:00", "9:5", "09:60", "0900", "nine", "123:00", "-1:00"] {
        assert!(parse_time(bad).is_err(), "{bad}");
    }
}

#[test]
fn defaults_apply_and_unknown_fields_warn() {
    let c = load(
        "schedules:\n  - {ScheduleName: dev, TagValue: dev, StartTime: '9:00', StopTime: '18:00', Colour: blue}\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let s = &c.schedules[0];
    assert_eq!(s.timezone, chrono_tz::Asia::Seoul);
    assert_eq!(s.warn_minutes, 10);
    assert!(s.enabled && !s.enforced && !s.force_start);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.contains("Colour"), "{:?}", c.warnings);
}

#[test]
fn bad_fields_name_item_and_field_and_spare_other_schedules() {
    let cases: &[(&str, &str)] = &[
        (
            "StartTime: '25:00'",
            "schedule 'bad': field StartTime: '25:00' is not a time",
        ),
        (
            "DaysActive: funday",
            "schedule 'bad': field DaysActive: 'funday' is not a day",
        ),
        (
            "Timezone: Mars/Base",
            "schedule 'bad': field Timezone: 'Mars/Base' is not an IANA",
        ),
        ("WarnMinutes: -3", "schedule 'bad': field WarnMinutes"),
        (
            "Enabled: maybe",
            "schedule 'bad': field Enabled: 'maybe' is not true or false",
        ),
        ("StopTime: '09:00'", "field StopTime: equals StartTime"),
    ];
    for (field, expected) in cases {
        let c = load(&format!(
            "schedules:\n  - {{ScheduleName: bad, TagValue: bad, StartTime: '09:00', {field}}}\n  - {{ScheduleName: good, TagValue: good}}\n"
        ));
        assert_eq!(c.schedules.len(), 1, "{field}");
        assert_eq!(c.schedules[0].name, "good");
        assert!(
            c.errors
                .iter()
                .any(|p| p.schedule == "bad" && p.message.contains(expected)),
            "{field}: {:?}",
            c.errors
        );
    }
}

#[test]
fn instance_types_parse_in_any_case() {
    let cases = [
        ("EC2", Some(ResourceKind::Ec2)),
        ("rds", Some(ResourceKind::Rds)),
        ("Aurora", Some(ResourceKind::Aurora)),
        ("ECS", Some(ResourceKind::Ecs)),
        (" ecs ", Some(ResourceKind::Ecs)),
        ("ASG", Some(ResourceKind::Asg)),
        ("asg", Some(ResourceKind::Asg)),
        ("Lambda", None),
    ];
    for (text, want) in cases {
        assert_eq!(ResourceKind::parse(text), want, "{text}");
    }
    let c = load(
        "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: s, GroupName: API, InstanceType: ECS, Dependency: [DB]}\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.schedules[0].groups[1].kind, ResourceKind::Ecs);
}

#[test]
fn instance_type_and_dependencies_are_checked() {
    let c = load(
        "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: API, InstanceType: Lambda}\n  - {ScheduleName: s, GroupName: WEB, InstanceType: ec2, Dependency: [CACHE]}\n",
    );
    assert!(c.schedules.is_empty());
    let text: Vec<&str> = c.errors.iter().map(|p| p.message.as_str()).collect();
    assert!(
        text.iter()
            .any(|m| m.contains("group 's/API': field InstanceType: 'Lambda'")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("group 's/WEB': field Dependency: group 'CACHE' does not exist")),
        "{text:?}"
    );
}

#[test]
fn hibernate_is_a_group_boolean() {
    // GIVEN groups with Hibernate true, absent, typed as a string, on RDS, and not a boolean
    let base = "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: API, InstanceType: EC2, Hibernate: true}\n  - {ScheduleName: s, GroupName: WEB, InstanceType: EC2}\n  - {ScheduleName: s, GroupName: JOB, InstanceType: ec2, Hibernate: 'TRUE'}\n  - {ScheduleName: s, GroupName: DB, InstanceType: RDS, Hibernate: true}\n";
    let c = load(base);
    // THEN it is read per group, never for a kind that cannot hibernate (a warning says so)
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let hibernate: Vec<(&str, bool)> = c.schedules[0]
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.hibernate))
        .collect();
    assert_eq!(
        hibernate,
        [("API", true), ("DB", false), ("JOB", true), ("WEB", false)]
    );
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["[s] group 's/DB': field Hibernate: only EC2 instances hibernate; it is ignored for this group"]
    );
    // AND a value that is not a boolean is an error naming the group and the field
    let c = load(&base.replace("Hibernate: 'TRUE'", "Hibernate: sometimes"));
    assert!(c.schedules.is_empty());
    let errors: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("group 's/JOB': field Hibernate: 'sometimes' is not true or false")),
        "{errors:?}"
    );
}

#[test]
fn cycle_names_every_group_in_it() {
    let c = load(
        "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: s, GroupName: API, InstanceType: EC2, Dependency: [DB, WEB]}\n  - {ScheduleName: s, GroupName: WEB, InstanceType: EC2, Dependency: [BATCH]}\n  - {ScheduleName: s, GroupName: BATCH, InstanceType: EC2, Dependency: [API]}\n",
    );
    assert!(c.schedules.is_empty());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert!(
        c.errors[0]
            .message
            .contains("dependency cycle: API -> WEB -> BATCH -> API"),
        "{:?}",
        c.errors
    );
}

#[test]
fn self_dependency_is_a_cycle() {
    let c = load(
        "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: A, InstanceType: EC2, Dependency: [A]}\n",
    );
    assert!(
        c.errors[0].message.contains("dependency cycle: A -> A"),
        "{:?}",
        c.errors
    );
}

#[test]
fn groups_are_ordered_by_layer_then_name() {
    let c = load(
        "schedules:\n  - {ScheduleName: s, TagValue: s}\ngroups:\n  - {ScheduleName: s, GroupName: BATCH, InstanceType: EC2, Dependency: [API, CACHE]}\n  - {ScheduleName: s, GroupName: API, InstanceType: EC2, Dependency: DB}\n  - {ScheduleName: s, GroupName: CACHE, InstanceType: EC2, Dependency: [DB]}\n  - {ScheduleName: s, GroupName: DB, InstanceType: rds}\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let s = &c.schedules[0];
    let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["DB", "API", "CACHE", "BATCH"]);
    assert_eq!(s.groups[3].depends_on, vec![1, 2]);
    assert_eq!(s.groups[0].dependents, vec![1, 2]);
    assert_eq!(s.groups[0].kind, ResourceKind::Rds);
}

#[test]
fn duplicates_are_refused() {
    let c = load(
        "schedules:\n  - {ScheduleName: a, TagValue: x}\n  - {ScheduleName: a, TagValue: y}\n  - {ScheduleName: b, TagValue: z}\n  - {ScheduleName: c, TagValue: z}\n  - {ScheduleName: d, TagValue: d}\ngroups:\n  - {ScheduleName: d, GroupName: G, InstanceType: EC2}\n  - {ScheduleName: d, GroupName: G, InstanceType: EC2}\n",
    );
    assert!(c.schedules.is_empty(), "{:?}", c.schedules);
    let all = c
        .errors
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("[a] schedule 'a': field ScheduleName: 2 items share this name"),
        "{all}"
    );
    assert!(
        all.contains("[b] schedule 'b': field TagValue: 'z' is also used"),
        "{all}"
    );
    assert!(all.contains("[c] schedule 'c': field TagValue"), "{all}");
    assert!(
        all.contains("group 'd/G': field GroupName: defined more than once"),
        "{all}"
    );
}

#[test]
fn exceptions_attach_to_their_schedule_and_star() {
    let c = load(
        "schedules:\n  - {ScheduleName: a, TagValue: a}\n  - {ScheduleName: b, TagValue: b}\nexceptions:\n  - {ExceptionUuid: h1, ScheduleName: '*', ExceptionDate: '2026-12-25', ExceptionType: start, ExceptionValue: None}\n  - {ExceptionUuid: x1, ScheduleName: a, ExceptionDate: '2026-11-26', ExceptionType: stop, ExceptionValue: '23:00'}\n  - {ExceptionUuid: x2, ScheduleName: a, ExceptionDate: '2026-13-01', ExceptionType: stop}\n  - {ExceptionUuid: x3, ScheduleName: a, ExceptionDate: '2026-11-27', ExceptionType: later}\n",
    );
    assert_eq!(c.schedule("a").map(|s| s.exceptions.len()), Some(2));
    assert_eq!(c.schedule("b").map(|s| s.exceptions.len()), Some(1));
    let all = c
        .errors
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        all.contains("exception 'x2': field ExceptionDate: '2026-13-01' is not a date"),
        "{all}"
    );
    assert!(
        all.contains("exception 'x3': field ExceptionType: 'later' is not start or stop"),
        "{all}"
    );
}

#[test]
fn lenient_types_from_the_console() {
    let c = load(
        "schedules:\n  - {ScheduleName: a, TagValue: a, Enabled: 'false', Enforced: 'TRUE', WarnMinutes: '15'}\ngroups:\n  - {ScheduleName: a, GroupName: API, InstanceType: ec2, Dependency: 'DB, CACHE'}\n  - {ScheduleName: a, GroupName: DB, InstanceType: RDS}\n  - {ScheduleName: a, GroupName: CACHE, InstanceType: Ec2}\n",
    );
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    let s = &c.schedules[0];
    assert!(!s.enabled && s.enforced);
    assert_eq!(s.warn_minutes, 15);
    assert_eq!(s.groups[2].depends_on.len(), 2);
}

#[test]
fn exception_value_is_required_and_none_cancels() {
    // GIVEN exceptions with a time, with no ExceptionValue, and with `None`
    let c = load(
        "schedules:\n  - {ScheduleName: a, TagValue: a, StartTime: '09:00', StopTime: '18:00'}\nexceptions:\n  - {ExceptionUuid: x1, ScheduleName: a, ExceptionDate: '2026-11-26', ExceptionType: stop, ExceptionValue: '23:00'}\n  - {ExceptionUuid: x2, ScheduleName: a, ExceptionDate: '2026-11-27', ExceptionType: start}\n  - {ExceptionUuid: x3, ScheduleName: a, ExceptionDate: '2026-11-30', ExceptionType: start, ExceptionValue: None}\n",
    );
    // THEN the missing value is an error naming the exception and the field
    let all: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        all,
        ["[a] exception 'x2': field ExceptionValue: is required"],
        "{all:?}"
    );
    // AND the schedule still runs, without the bad exception
    let s = c.schedule("a").expect("schedule a is valid");
    let attached: Vec<(&str, Option<NaiveTime>)> = s
        .exceptions
        .iter()
        .map(|e| (e.uuid.as_str(), e.time))
        .collect();
    assert_eq!(
        attached,
        [("x1", NaiveTime::from_hms_opt(23, 0, 0)), ("x3", None)],
        "`None` is valid and cancels"
    );
}

#[test]
fn warn_minutes_shorter_than_the_tick_interval_is_a_warning() {
    let with_tick = Defaults {
        tick_minutes: Some(15),
        ..Default::default()
    };
    // (case, defaults, WarnMinutes, warning expected)
    let cases = [
        ("10 < 15", &with_tick, "10", true),
        ("0 disables the warning", &with_tick, "0", false),
        ("15 = 15", &with_tick, "15", false),
        ("20 > 15", &with_tick, "20", false),
        ("no TICK_MINUTES", &Defaults::default(), "10", false),
    ];
    for (name, defaults, warn, expected) in cases {
        let yaml = format!(
            "schedules:\n  - {{ScheduleName: a, TagValue: a, StartTime: '09:00', StopTime: '18:00', WarnMinutes: {warn}}}\n"
        );
        let c = load_with(&yaml, defaults);
        // THEN the schedule is valid either way
        assert!(c.errors.is_empty(), "{name}: {:?}", c.errors);
        assert_eq!(c.schedules.len(), 1, "{name}");
        // AND only a lead shorter than the interval is warned about, naming both settings
        let warned = c.warnings.iter().any(|w| {
            w.schedule == "a"
                && w.message.contains("field WarnMinutes")
                && w.message.contains("TICK_MINUTES")
        });
        assert_eq!(warned, expected, "{name}: {:?}", c.warnings);
        if !expected {
            assert!(c.warnings.is_empty(), "{name}: {:?}", c.warnings);
        }
    }
}

#[test]
fn a_bad_digest_is_an_error_naming_item_and_field_but_the_schedule_still_runs() {
    // GIVEN a schedule whose Digest is a typo, one with Digest on (a console BOOL), one off
    let c = load(
        "schedules:\n  - {ScheduleName: typo, TagValue: a, StartTime: '09:00', Digest: 'mondays 9am'}\n  - {ScheduleName: on, TagValue: b, Digest: true}\n  - {ScheduleName: off, TagValue: c}\n",
    );
    // THEN the typo is one error naming item and field, and every schedule is kept
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    assert_eq!(c.errors[0].schedule, "typo");
    assert!(
        c.errors[0]
            .message
            .starts_with("schedule 'typo': field Digest: 'mondays 9am' is not on, off"),
        "{}",
        c.errors[0].message
    );
    let digest = |name: &str| c.schedule(name).expect(name).digest;
    assert_eq!(digest("typo"), None);
    assert_eq!(digest("on"), Some(DigestAt::default_at()));
    assert_eq!(digest("off"), None);
    assert!(
        c.warnings.is_empty(),
        "Digest is a known field: {:?}",
        c.warnings
    );
}
