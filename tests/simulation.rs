//! The deterministic fleet simulation (tests/sim): seeded fleets driven through weeks of
//! 5-minute ticks with faults, checking the scheduler's invariants after every tick.
//!
//! CI runs a fixed set of seeds. More: `OFFHOURS_SIM_SEEDS=2000 cargo test --release --test
//! simulation`; one seed again: `OFFHOURS_SIM_SEED=17 cargo test --test simulation`;
//! `OFFHOURS_SIM_WEEKS` sets the weeks per fleet and `OFFHOURS_SIM_FIRST_SEED` where
//! the seeds begin.

mod sim;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sim::{run_seed, Stats, TICKS_PER_WEEK};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs `seeds` on all cores, each thread taking the next seed when it is done with one;
/// the first failure (seed, tick, invariant, last events) fails.
fn run(seeds: Vec<u64>, weeks: u32) -> Stats {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let results: Vec<Result<Stats, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut total = Stats::default();
                    while let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let one = std::panic::catch_unwind(|| run_seed(seed, weeks))
                            .unwrap_or_else(|_| Err(format!("seed {seed} panicked (replay: OFFHOURS_SIM_SEED={seed} OFFHOURS_SIM_WEEKS={weeks} cargo test --test simulation)")));
                        match one {
                            Ok(one) => total.add(&one),
                            Err(e) => {
                                // The other threads stop at their next seed.
                                next.store(seeds.len(), Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok(total)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a simulation thread died".into()))
            })
            .collect()
    });
    let mut total = Stats::default();
    for r in results {
        match r {
            Ok(s) => total.add(&s),
            Err(e) => panic!("{e}"),
        }
    }
    total
}

#[test]
fn seeded_fleets_keep_every_invariant_through_weeks_of_faults() {
    let weeks = env_u64("OFFHOURS_SIM_WEEKS").unwrap_or(8) as u32;
    let seeds: Vec<u64> = match env_u64("OFFHOURS_SIM_SEED") {
        Some(seed) => vec![seed],
        None => {
            let first = env_u64("OFFHOURS_SIM_FIRST_SEED").unwrap_or(1);
            let count = env_u64("OFFHOURS_SIM_SEEDS").unwrap_or(125);
            (first..first + count).collect()
        }
    };
    let fleet_weeks = seeds.len() as u64 * u64::from(weeks);
    let started = Instant::now();
    let s = run(seeds, weeks);
    println!(
        "{fleet_weeks} fleet-weeks ({} ticks) in {:.1} s: {s:#?}",
        s.ticks,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(s.ticks, fleet_weeks * TICKS_PER_WEEK);
    // The faults and people really happened (a simulation that injects nothing proves nothing).
    if env_u64("OFFHOURS_SIM_SEED").is_none() {
        for (what, n) in [
            ("starts", s.starts),
            ("stops", s.stops),
            ("injected API errors", s.injected_errors),
            ("crashed ticks", s.crashes),
            ("missed ticks", s.missed),
            ("late ticks", s.late),
            ("doubled ticks", s.doubled),
            ("concurrent ticks", s.concurrent),
            ("region outages", s.region_outages),
            ("webhook outages", s.webhook_outages),
            ("chat start/stop", s.forces),
            ("both flags by hand", s.both_flags),
            ("manual starts/stops", s.manual),
            ("warnings delivered", s.warnings),
            ("warnings checked", s.warnings_checked),
            ("convergence checks", s.convergence_checks),
        ] {
            assert!(n > 0, "the simulation never exercised {what}: {s:#?}");
        }
    }
}
