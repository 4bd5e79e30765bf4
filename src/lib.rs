//! offhours: switch dev/staging EC2, RDS and Aurora off outside working hours, in dependency order.

pub mod chat;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod error;
pub mod executor;
pub mod inventory;
pub mod lambda;
pub mod notify;
pub mod plan;
pub mod planner;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod settings;
pub mod store;
pub mod timeline;

pub use error::{Error, Result};
