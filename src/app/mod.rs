//! The entry points: one tick (shared by the Lambda and the CLI) and its weekly digests, the Lambda handler, the chat endpoint, the command line, and settings from the environment (the only place that reads env).

pub mod cli;
pub mod digest;
pub mod files;
pub mod holidays;
pub mod lambda;
pub mod savings;
pub mod serve;
pub mod settings;
pub mod tick;
