//! The deterministic fleet simulation: one seed is one fleet driven through weeks of 5-minute
//! ticks by the real tick (store logic in memory, planner, executor, notifier) against a
//! simulated cloud and webhook, with seeded faults and people, checking the invariants after
//! every tick.
//!
//! The invariants (a failure prints the seed, the tick and the last events):
//! - at every start: all resources of the groups it depends on are up (`cloud.rs`);
//! - at every stop: all resources of the groups that depend on it are stopped (`cloud.rs`);
//! - nothing without a configured schedule tag is ever started or stopped, although the
//!   simulated cloud lists untagged resources too (`cloud.rs`);
//! - at most one warning per stop event (`hook.rs`), and exactly one once a tick with the
//!   webhook up reported the warning (`checks.rs`);
//! - a ForceStart/ForceStop never survives the tick that acted on it; both flags set by
//!   hand are both cleared and neither acts (`checks.rs`);
//! - a tick never fails, except a concurrent one refused by the lease and one whose first
//!   observation saw no region and no service at all (`mod.rs`);
//! - after two calm ticks in a row every resource is in its schedule's desired phase,
//!   except those a person changed by hand since the last event (not Enforced), those
//!   offhours gave up on after `MAX_ATTEMPTS`, those in a region that is down and the
//!   groups that wait on them: a region that is down never holds back the rest
//!   (`checks.rs`).

pub mod cloud;
pub mod fleet;
pub mod hook;
pub mod store;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use offhours::app::tick::Tick;
use offhours::aws::executor::Options;
use offhours::core::config::Action;
use offhours::core::plan::Report;
use offhours::error::{Error, Result};
use offhours::notify::{Notifier, NotifySettings, WebhookFormat};
use offhours::ports::{CommandStore, MemoryStore, Settings};
use serde_json::Value;

use cloud::{SimCloud, Weather, World};
use fleet::{Fleet, Rng};
use hook::SimHook;
use store::SimStore;

/// Ticks in a simulated week.
pub const TICKS_PER_WEEK: u64 = 7 * 24 * 12;
const TICK: TimeDelta = TimeDelta::minutes(5);

/// What a run exercised, to prove the faults really happened.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub ticks: u64,
    pub starts: u64,
    pub stops: u64,
    pub injected_errors: u64,
    pub crashes: u64,
    pub missed: u64,
    pub late: u64,
    pub doubled: u64,
    pub concurrent: u64,
    pub region_outages: u64,
    pub webhook_outages: u64,
    pub forces: u64,
    pub both_flags: u64,
    pub manual: u64,
    pub warnings: u64,
    pub warnings_checked: u64,
    pub convergence_checks: u64,
    pub storm_ticks: u64,
    /// Ticks that failed because nothing at all could be observed (allowed, as on AWS).
    pub blind: u64,
    /// Observations of the cloud (a tick observes again while a transition moves).
    pub observations: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        let pairs: [(&mut u64, u64); 20] = [
            (&mut self.observations, o.observations),
            (&mut self.blind, o.blind),
            (&mut self.ticks, o.ticks),
            (&mut self.starts, o.starts),
            (&mut self.stops, o.stops),
            (&mut self.injected_errors, o.injected_errors),
            (&mut self.crashes, o.crashes),
            (&mut self.missed, o.missed),
            (&mut self.late, o.late),
            (&mut self.doubled, o.doubled),
            (&mut self.concurrent, o.concurrent),
            (&mut self.region_outages, o.region_outages),
            (&mut self.webhook_outages, o.webhook_outages),
            (&mut self.forces, o.forces),
            (&mut self.both_flags, o.both_flags),
            (&mut self.manual, o.manual),
            (&mut self.warnings, o.warnings),
            (&mut self.warnings_checked, o.warnings_checked),
            (&mut self.convergence_checks, o.convergence_checks),
            (&mut self.storm_ticks, o.storm_ticks),
        ];
        for (a, b) in pairs {
            *a += b;
        }
    }
}

/// How one tick is disturbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anomaly {
    None,
    Crash,
    Missed,
    Late,
    Doubled,
    Concurrent,
}

enum Ran {
    Done(Result<Report>),
    Crashed,
}

/// Runs one seed for `weeks` simulated weeks on a paused-clock runtime.
pub fn run_seed(seed: u64, weeks: u32) -> std::result::Result<Stats, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(Sim::new(seed, weeks).run())
}

struct Sim {
    seed: u64,
    weeks: u32,
    start: DateTime<Utc>,
    rng: Rng,
    store: MemoryStore,
    cloud: SimCloud,
    hook: Arc<SimHook>,
    notifier: Notifier,
    settings: Settings,
    options: Options,
    /// (name, enforced).
    schedules: Vec<(String, bool)>,
    /// The last chat start/stop per schedule: when, and which.
    last_force: HashMap<String, (DateTime<Utc>, Action)>,
    both: HashSet<String>,
    region_until: HashMap<String, DateTime<Utc>>,
    webhook_until: Option<DateTime<Utc>>,
    calm: u32,
    stats: Stats,
}

impl Sim {
    fn new(seed: u64, weeks: u32) -> Self {
        let mut rng = Rng::new(seed);
        let fleet = Fleet::generate(&mut rng, weeks);
        let configured: BTreeSet<String> = fleet.schedules.iter().map(|s| s.0.clone()).collect();
        let world = World {
            rng: Rng::new(seed.wrapping_mul(31).wrapping_add(7)),
            now: fleet.start,
            resources: fleet.resources,
            groups: fleet.groups,
            configured,
            regions: fleet.regions,
            weather: Weather::default(),
            crash_in: None,
            violations: Vec::new(),
            log: Default::default(),
            starts: 0,
            stops: 0,
            injected: 0,
            blind: false,
            observations: 0,
        };
        let hook = Arc::new(SimHook::default());
        let notify = NotifySettings {
            webhook_url: Some("https://hooks.example.invalid/sim".into()),
            format: Some(WebhookFormat::Generic),
            ..NotifySettings::default()
        };
        let settings = Settings::from_lookup(|name| match name {
            "MAX_WAIT_SECONDS" => Some("60".into()),
            _ => None,
        })
        .expect("settings");
        Sim {
            seed,
            weeks,
            start: fleet.start,
            rng,
            store: MemoryStore::new(fleet.raw, Vec::new()),
            cloud: SimCloud {
                world: Mutex::new(world),
                crashed: Default::default(),
            },
            notifier: Notifier::with_transport(notify, hook.clone()),
            hook,
            settings,
            options: Options {
                dry_run: false,
                max_wait: Duration::from_secs(60),
                poll: Duration::from_secs(5),
                deadline: None,
            },
            schedules: fleet.schedules,
            last_force: HashMap::new(),
            both: HashSet::new(),
            region_until: HashMap::new(),
            webhook_until: None,
            calm: 0,
            stats: Stats::default(),
        }
    }

    async fn run(mut self) -> std::result::Result<Stats, String> {
        for i in 0..TICKS_PER_WEEK * u64::from(self.weeks) {
            let now = self.start + TICK * i as i32;
            self.weather(now);
            self.people(now).await;
            let anomaly = self.anomaly();
            let at = match anomaly {
                Anomaly::Late => now + TimeDelta::minutes(self.rng.range(1, 4) as i64),
                _ => now,
            };
            self.cloud.lock().now = at;
            let _ = self.store.set_clock(at);
            self.stats.ticks += 1;
            let webhook_up = !self.hook.lock().down;
            self.cloud.lock().blind = false;
            let runs = self.tick(anomaly, at).await;
            let calm = !self.cloud.lock().weather.storm && anomaly == Anomaly::None;
            let mut last = None;
            for ran in runs {
                match ran {
                    Ran::Crashed => self.stats.crashes += 1,
                    Ran::Done(Err(Error::LeaseHeld { .. })) if anomaly == Anomaly::Concurrent => {}
                    Ran::Done(Err(e)) => {
                        self.stats.blind += 1;
                        let mut w = self.cloud.lock();
                        if !w.blind {
                            w.violation(format!("tick failed: {e}"));
                        }
                    }
                    Ran::Done(Ok(report)) if !report.lease_lost => {
                        self.check_tick(&report, webhook_up);
                        last = Some(report);
                    }
                    Ran::Done(Ok(_)) => {}
                }
            }
            match (calm, last) {
                (true, Some(report)) => {
                    self.calm += 1;
                    if self.calm >= 2 {
                        self.check_convergence(&report);
                    }
                }
                _ => self.calm = 0,
            }
            self.fail_on_violation(i)?;
        }
        let w = self.cloud.lock();
        self.stats.starts = w.starts;
        self.stats.stops = w.stops;
        self.stats.injected_errors = w.injected;
        self.stats.observations = w.observations;
        self.stats.warnings = self
            .hook
            .lock()
            .warnings
            .values()
            .map(|n| u64::from(*n))
            .sum();
        Ok(self.stats.clone())
    }

    fn fail_on_violation(&self, tick: u64) -> std::result::Result<(), String> {
        let w = self.cloud.lock();
        let hook = self.hook.lock();
        let found: Vec<&String> = w.violations.iter().chain(hook.violations.iter()).collect();
        if found.is_empty() {
            return Ok(());
        }
        let log: Vec<&String> = w.log.iter().collect();
        let fleet: Vec<String> = w
            .resources
            .iter()
            .map(|r| {
                let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} {} {} [{}]", r.id, r.region, r.state, tags.join(" "))
            })
            .collect();
        Err(format!(
            "seed {} tick {tick} ({}): {} invariant(s) broken:\n  {}\nlast events:\n  {}\nfleet now:\n  {}\nreplay: OFFHOURS_SIM_SEED={} OFFHOURS_SIM_WEEKS={} cargo test --test simulation",
            self.seed,
            w.now.to_rfc3339(),
            found.len(),
            found.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
            log.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
            fleet.join("\n  "),
            self.seed,
            self.weeks,
        ))
    }

    /// Storms come and go (about half the time, a few hours each); a region goes down for
    /// one to six hours now and then; the webhook has outages of half an hour to half a day.
    fn weather(&mut self, now: DateTime<Utc>) {
        let mut w = self.cloud.lock();
        w.now = now;
        if self.rng.chance(1.0 / 48.0) {
            w.weather.storm = !w.weather.storm;
            if !w.weather.storm {
                // The faults clear: stuck resources move on, no more fall-backs.
                for r in &mut w.resources {
                    r.stuck_until = None;
                    r.falls_back = false;
                }
            }
            let text = format!("storm {}", if w.weather.storm { "begins" } else { "ends" });
            w.note(text);
        }
        if w.weather.storm {
            self.stats.storm_ticks += 1;
        }
        self.region_until.retain(|_, until| *until > now);
        if self.region_until.is_empty() && self.rng.chance(1.0 / 700.0) {
            let region = self.rng.pick(&w.regions).clone();
            let until = now + TICK * self.rng.range(12, 72) as i32;
            w.note(format!(
                "region {region} down until {}",
                until.format("%H:%M")
            ));
            self.region_until.insert(region, until);
            self.stats.region_outages += 1;
        }
        w.weather.down = self.region_until.keys().cloned().collect();
        w.settle(u32::MAX);
        drop(w);
        if self.webhook_until.is_some_and(|u| u <= now) {
            self.webhook_until = None;
        }
        if self.webhook_until.is_none() && self.rng.chance(1.0 / 400.0) {
            self.webhook_until = Some(now + TICK * self.rng.range(6, 144) as i32);
            self.stats.webhook_outages += 1;
        }
        self.hook.lock().down = self.webhook_until.is_some();
    }

    /// People between ticks: manual starts and stops, chat `start`/`stop` (ForceStart /
    /// ForceStop), and now and then both flags set by hand in the console.
    async fn people(&mut self, now: DateTime<Utc>) {
        {
            let mut w = self.cloud.lock();
            for i in 0..w.resources.len() {
                if !self.rng.chance(0.0005) {
                    continue;
                }
                let r = &mut w.resources[i];
                let to = if r.is_up() {
                    "stopped"
                } else if r.is_down() {
                    r.up_state()
                } else {
                    continue;
                };
                r.state = to.to_string();
                r.manual_at = Some(now);
                let text = format!("by hand: {} -> {to}", r.id);
                w.note(text);
                self.stats.manual += 1;
            }
        }
        for (name, _) in self.schedules.clone() {
            if self.rng.chance(0.0003) {
                let action = if self.rng.chance(0.5) {
                    Action::Start
                } else {
                    Action::Stop
                };
                let _ = self.store.set_force(&name, action).await;
                self.last_force.insert(name.clone(), (now, action));
                self.both.remove(&name);
                self.cloud.lock().note(format!("chat: {action} {name}"));
                self.stats.forces += 1;
            } else if self.rng.chance(0.0001) {
                self.set_both_flags(&name);
                self.cloud
                    .lock()
                    .note(format!("console: both flags on {name}"));
            }
        }
    }

    fn set_both_flags(&mut self, name: &str) {
        let Ok(mut raw) = self.store.snapshot() else {
            return;
        };
        for item in &mut raw.schedules {
            if item.get("ScheduleName").and_then(Value::as_str) == Some(name) {
                item.insert("ForceStart".into(), Value::Bool(true));
                item.insert("ForceStop".into(), Value::Bool(true));
            }
        }
        let _ = self.store.replace_config(raw);
        // A chat command not yet acted on is overwritten: no longer expected to hold.
        self.last_force.remove(name);
        self.both.insert(name.to_string());
        self.stats.both_flags += 1;
    }

    fn anomaly(&mut self) -> Anomaly {
        if !self.cloud.lock().weather.storm {
            return Anomaly::None;
        }
        let roll = self.rng.range(0, 99);
        match roll {
            0..=3 => Anomaly::Crash,
            4..=6 => Anomaly::Missed,
            7..=10 => Anomaly::Late,
            11..=13 => Anomaly::Doubled,
            14..=16 => Anomaly::Concurrent,
            _ => Anomaly::None,
        }
    }

    async fn tick(&mut self, anomaly: Anomaly, at: DateTime<Utc>) -> Vec<Ran> {
        let store = SimStore {
            inner: &self.store,
            cloud: &self.cloud,
        };
        let tick = Tick {
            store: &store,
            cloud: &self.cloud,
            notifier: &self.notifier,
            settings: &self.settings,
            options: &self.options,
            events: None,
        };
        match anomaly {
            Anomaly::Missed => {
                self.stats.missed += 1;
                Vec::new()
            }
            Anomaly::Late => {
                self.stats.late += 1;
                vec![Ran::Done(tick.run(at).await)]
            }
            Anomaly::None => vec![Ran::Done(tick.run(at).await)],
            Anomaly::Doubled => {
                self.stats.doubled += 1;
                let first = Ran::Done(tick.run(at).await);
                vec![first, Ran::Done(tick.run(at).await)]
            }
            Anomaly::Concurrent => {
                self.stats.concurrent += 1;
                let (a, b) = tokio::join!(tick.run(at), tick.run(at));
                vec![Ran::Done(a), Ran::Done(b)]
            }
            Anomaly::Crash => {
                let calls = self.rng.range(0, 8) as u32;
                self.cloud.lock().crash_in = Some(calls);
                let ran = tokio::select! {
                    biased;
                    _ = self.cloud.crashed.notified() => Ran::Crashed,
                    r = tick.run(at) => Ran::Done(r),
                };
                self.cloud.lock().crash_in = None;
                vec![ran]
            }
        }
    }
}

mod checks;
