//! Everything that talks to AWS: the DynamoDB store, EC2/RDS/Aurora/ECS access in one or more accounts, the executor that runs a plan on a cloud, and action events to EventBridge.

pub mod accounts;
pub mod cloud;
pub mod commands;
pub mod ecs;
pub mod events;
pub mod executor;
pub mod secrets;
pub mod store;
