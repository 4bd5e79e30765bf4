//! Everything that talks to AWS: the DynamoDB store, EC2/RDS/Aurora/ECS/Auto Scaling access in one or more accounts, the executor that runs a plan on a cloud, action events to EventBridge, and the count of API calls made.

pub mod accounts;
pub mod asg;
pub mod calls;
pub mod cloud;
pub mod commands;
pub mod ecs;
pub mod events;
pub mod executor;
pub mod secrets;
pub mod store;
