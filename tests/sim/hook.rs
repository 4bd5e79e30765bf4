//! The simulated chat webhook: a `Transport` that is up or down, and counts the pre-stop
//! warnings it accepted per stop event (more than one is a violation).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::DateTime;
use offhours::notify::{Payload, PostFuture, Posted, Transport};

#[derive(Debug, Default)]
pub struct HookState {
    pub down: bool,
    /// Accepted warnings per (schedule, stop event instant as a Unix timestamp).
    pub warnings: HashMap<(String, i64), u32>,
    /// Messages accepted, by kind.
    pub accepted: HashMap<String, u64>,
    pub refused: u64,
    pub violations: Vec<String>,
}

#[derive(Debug, Default)]
pub struct SimHook {
    state: Mutex<HookState>,
}

impl SimHook {
    pub fn lock(&self) -> MutexGuard<'_, HookState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Transport for SimHook {
    fn post<'a>(&'a self, _url: &'a str, payload: &'a Payload) -> PostFuture<'a> {
        Box::pin(async move {
            let mut s = self.lock();
            if s.down {
                s.refused += 1;
                return if s.refused % 3 == 0 {
                    Posted::NoAnswer {
                        reason: "timed out".into(),
                        retry: true,
                    }
                } else {
                    Posted::Status(503)
                };
            }
            let body = &payload.body;
            let kind = body["kind"].as_str().unwrap_or("?").to_string();
            *s.accepted.entry(kind.clone()).or_default() += 1;
            if kind == "pre_stop_warning" {
                let schedule = body["schedule"].as_str().unwrap_or("?").to_string();
                let event = body["data"]["event"]["at"].as_str().unwrap_or("?");
                let at = DateTime::parse_from_rfc3339(event).map_or(0, |t| t.timestamp());
                let n = s.warnings.entry((schedule.clone(), at)).or_default();
                *n += 1;
                if *n > 1 {
                    let count = *n;
                    s.violations.push(format!(
                        "warning {count} for the stop of {schedule} at {event}"
                    ));
                }
            }
            Posted::Status(200)
        })
    }
}
