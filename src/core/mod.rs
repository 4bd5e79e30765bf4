//! The functional core: config model and validation, schedule events, the weekly digest, planner, plan report, timeline and its SVG chart, savings, holiday calendars, action events, EMF metrics, inert text per chat markup and clipping to chat size limits. Pure: no AWS, no clock, no env, no I/O.

pub mod chart;
pub mod clip;
pub mod config;
pub mod digest;
pub mod document;
pub mod events;
pub mod holidays;
pub mod inert;
pub mod inventory;
pub mod inventory_stream;
pub mod metrics;
pub mod plan;
pub mod planner;
pub mod savings;
pub mod schedule;
pub mod tags;
pub mod timeline;
