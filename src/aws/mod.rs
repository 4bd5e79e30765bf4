//! Everything that talks to AWS: the DynamoDB store, EC2/RDS/Aurora/ECS/Auto Scaling access in one or more accounts, the executor that runs a plan on a cloud, and action events to EventBridge.

pub mod accounts;
pub mod asg;
pub mod cloud;
pub mod commands;
pub mod ecs;
pub mod events;
pub mod executor;
pub mod secrets;
pub mod store;
