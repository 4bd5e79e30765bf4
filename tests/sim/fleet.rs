//! A seeded random fleet: schedules with dependency chains, their resources across regions,
//! resources offhours must never touch, and the configuration items that describe them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use offhours::core::config::{Item, RawConfig, ResourceKind};
use serde_json::{json, Value};

/// SplitMix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) / ((1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

pub const SCHEDULE_TAG: &str = "ScheduleName";
pub const GROUP_TAG: &str = "ScheduleGroupName";

/// One group of a schedule and the groups it depends on.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    pub schedule: String,
    pub name: String,
    pub deps: Vec<String>,
}

/// A resource as the simulated cloud holds it.
#[derive(Debug, Clone)]
pub struct SimResource {
    pub id: String,
    pub kind: ResourceKind,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    pub state: String,
    /// Why the state last changed (EC2 StateReason).
    pub reason: Option<String>,
    /// Observations left before a transient state settles.
    pub settle_in: u32,
    /// A transient state that does not settle before this instant (a stuck resource).
    pub stuck_until: Option<DateTime<Utc>>,
    /// This start is accepted but the instance falls back to stopped.
    pub falls_back: bool,
    /// When a person last started or stopped it by hand.
    pub manual_at: Option<DateTime<Utc>>,
}

impl SimResource {
    pub fn schedule(&self) -> Option<&str> {
        self.tags.get(SCHEDULE_TAG).map(String::as_str)
    }

    pub fn group(&self) -> Option<&str> {
        self.tags.get(GROUP_TAG).map(String::as_str)
    }

    pub fn up_state(&self) -> &'static str {
        match self.kind {
            ResourceKind::Ec2 => "running",
            _ => "available",
        }
    }

    pub fn is_up(&self) -> bool {
        self.state == self.up_state()
    }

    pub fn is_down(&self) -> bool {
        self.state == "stopped"
    }

    pub fn service(&self) -> &'static str {
        match self.kind {
            ResourceKind::Ec2 => "ec2",
            _ => "rds",
        }
    }
}

/// The fleet one seed simulates.
pub struct Fleet {
    pub start: DateTime<Utc>,
    pub regions: Vec<String>,
    /// (name, enforced).
    pub schedules: Vec<(String, bool)>,
    pub groups: Vec<GroupSpec>,
    pub resources: Vec<SimResource>,
    pub raw: RawConfig,
}

const REGIONS: &[&str] = &["ap-northeast-2", "us-east-1", "eu-west-1"];
const ZONES: &[&str] = &[
    "UTC",
    "Asia/Seoul",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Sydney",
    "America/Los_Angeles",
];

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map.into_iter().collect(),
        _ => Item::new(),
    }
}

impl Fleet {
    /// A fleet of 2-4 schedules, each a chain of 1-4 groups (some with two dependencies)
    /// plus ungrouped resources, spread over 2-3 regions; three resources that offhours must
    /// never touch; a few exceptions. The simulated weeks start on a Monday of 2026, so
    /// some seeds cross a DST change.
    pub fn generate(rng: &mut Rng, weeks: u32) -> Self {
        let monday = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default();
        let offset = rng.range(0, 50);
        let start = monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            + TimeDelta::weeks(offset as i64)
            + TimeDelta::minutes(rng.range(0, 4) as i64);
        let regions: Vec<String> = REGIONS[..rng.range(2, 3) as usize]
            .iter()
            .map(|r| r.to_string())
            .collect();
        let mut fleet = Fleet {
            start,
            regions,
            schedules: Vec::new(),
            groups: Vec::new(),
            resources: Vec::new(),
            raw: RawConfig::default(),
        };
        for s in 0..rng.range(2, 4) {
            fleet.add_schedule(rng, &format!("s{s}"), weeks);
        }
        // Never to be touched: no schedule tag, only a group tag, a schedule nobody configured.
        let untouchable: [&[(&str, &str)]; 3] = [
            &[("Name", "shared-bastion")],
            &[(GROUP_TAG, "API")],
            &[(SCHEDULE_TAG, "ghost"), (GROUP_TAG, "API")],
        ];
        for (i, tags) in untouchable.into_iter().enumerate() {
            let region = rng.pick(&fleet.regions).clone();
            let state = if rng.chance(0.5) {
                "running"
            } else {
                "stopped"
            };
            fleet.push(format!("i-keep{i}"), ResourceKind::Ec2, region, tags, state);
        }
        fleet
    }

    fn push(
        &mut self,
        id: String,
        kind: ResourceKind,
        region: String,
        tags: &[(&str, &str)],
        state: &str,
    ) {
        self.resources.push(SimResource {
            id,
            kind,
            region,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state: state.to_string(),
            reason: None,
            settle_in: 0,
            stuck_until: None,
            falls_back: false,
            manual_at: None,
        });
    }

    fn add_schedule(&mut self, rng: &mut Rng, name: &str, weeks: u32) {
        let enforced = rng.chance(0.3);
        let start_h = rng.range(6, 10);
        let stop_h = rng.range(17, 23);
        let minute = *rng.pick(&[0u64, 0, 15, 30, 7]);
        self.raw.schedules.push(item(json!({
            "ScheduleName": name,
            "TagValue": name,
            "DaysActive": rng.pick(&["weekdays", "all", "mon-thu", "weekdays"]),
            "StartTime": format!("{start_h:02}:{minute:02}"),
            "StopTime": format!("{stop_h:02}:{minute:02}"),
            "Timezone": rng.pick(ZONES),
            "WarnMinutes": rng.pick(&[0u64, 10, 15, 30]),
            "Enforced": enforced,
        })));
        self.schedules.push((name.to_string(), enforced));
        let names = ["DB", "MID", "API", "BATCH"];
        let depth = rng.range(1, 4) as usize;
        for (g, group) in names.iter().enumerate().take(depth) {
            let mut deps: Vec<String> = Vec::new();
            if g > 0 {
                deps.push(names[g - 1].to_string());
                if g > 1 && rng.chance(0.3) {
                    deps.push(names[g - 2].to_string());
                }
            }
            let rds = g == 0 && rng.chance(0.5);
            let kind = if rds {
                ResourceKind::Rds
            } else {
                ResourceKind::Ec2
            };
            self.raw.groups.push(item(json!({
                "ScheduleName": name,
                "GroupName": group,
                "InstanceType": if rds { "RDS" } else { "EC2" },
                "Dependency": deps,
            })));
            self.groups.push(GroupSpec {
                schedule: name.to_string(),
                name: group.to_string(),
                deps,
            });
            for r in 0..rng.range(1, 3) {
                let prefix = if rds { "db" } else { "i" };
                let id = format!("{prefix}-{name}-{}{r}", group.to_ascii_lowercase());
                let region = rng.pick(&self.regions).clone();
                let state = self.initial_state(rng, kind);
                self.push(
                    id,
                    kind,
                    region,
                    &[(SCHEDULE_TAG, name), (GROUP_TAG, group)],
                    &state,
                );
            }
        }
        for r in 0..rng.range(0, 2) {
            let region = rng.pick(&self.regions).clone();
            let state = self.initial_state(rng, ResourceKind::Ec2);
            let id = format!("i-{name}-solo{r}");
            self.push(
                id,
                ResourceKind::Ec2,
                region,
                &[(SCHEDULE_TAG, name)],
                &state,
            );
        }
        self.add_exceptions(rng, name, weeks);
    }

    fn initial_state(&self, rng: &mut Rng, kind: ResourceKind) -> String {
        match (kind, rng.chance(0.5)) {
            (ResourceKind::Ec2, true) => "running",
            (_, true) => "available",
            _ => "stopped",
        }
        .to_string()
    }

    /// A day off (no start) and a late stop, on random days of the simulated weeks.
    fn add_exceptions(&mut self, rng: &mut Rng, name: &str, weeks: u32) {
        let days = i64::from(weeks) * 7;
        let off = (self.start + TimeDelta::days(rng.range(0, days as u64) as i64)).date_naive();
        let late = (self.start + TimeDelta::days(rng.range(0, days as u64) as i64)).date_naive();
        self.raw.exceptions.push(item(json!({
            "ExceptionUuid": format!("{name}-day-off"),
            "ScheduleName": name,
            "ExceptionDate": off.to_string(),
            "ExceptionType": "start",
            "ExceptionValue": "None",
        })));
        self.raw.exceptions.push(item(json!({
            "ExceptionUuid": format!("{name}-late"),
            "ScheduleName": name,
            "ExceptionDate": late.to_string(),
            "ExceptionType": "stop",
            "ExceptionValue": "23:45",
        })));
    }
}
