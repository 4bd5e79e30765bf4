//! offhours: switch dev/staging EC2, RDS and Aurora off outside working hours, in dependency order.
//!
//! Layers (docs/architecture.md): `core` is pure (no AWS, no clock, no env, no I/O);
//! `ports` holds the traits and plain settings the edges share; `aws`, `chat` and `notify`
//! are the edges; `app` (tick, Lambda, CLI, serve, settings from env) wires them together.

pub mod app;
pub mod aws;
pub mod chat;
pub mod core;
pub mod error;
pub mod notify;
pub mod ports;

pub use error::{Error, Result};
