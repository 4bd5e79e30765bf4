//! Everything that talks to AWS: the DynamoDB store, EC2/RDS/Aurora/ECS access, and the executor that runs a plan on a cloud.

pub mod cloud;
pub mod commands;
pub mod ecs;
pub mod executor;
pub mod secrets;
pub mod store;
