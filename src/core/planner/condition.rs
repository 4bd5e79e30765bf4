//! Where a resource stands for the planner (up, down, busy, unknown, broken, gone), from the provider's own state string (and the counts of an ECS service or an Auto Scaling group).

use super::Resource;
use crate::core::config::ResourceKind;

/// Where a resource stands, in terms the planner needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Running / available.
    Up,
    /// Stopped.
    Down,
    /// In a known transient state (pending, starting, stopping, backing-up...): wait, never hit again.
    Busy,
    /// In a state offhours does not know (AWS adds new ones): not acted on, reported.
    Unknown,
    /// In a state from which it can be neither started nor stopped (failed, storage-full...).
    Broken,
    /// Terminated or being terminated: not scheduled at all.
    Gone,
}

/// RDS instance and Aurora cluster states that pass by themselves.
const RDS_TRANSIENT: &[&str] = &[
    "starting",
    "stopping",
    "backing-up",
    "backtracking",
    "configuring-activity-stream",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "converting-to-vpc",
    "creating",
    "failing-over",
    "maintenance",
    "migrating",
    "modifying",
    "moving-to-vpc",
    "promoting",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "storage-config-upgrade",
    "storage-initialization",
    "storage-optimization",
    "update-iam-db-auth",
    "upgrading",
];

/// RDS instance and Aurora cluster states that need a person.
const RDS_BROKEN: &[&str] = &[
    "failed",
    "storage-full",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-credentials",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "insufficient-capacity",
    "restore-error",
    "cloning-failed",
    "migration-failed",
];

/// Where `r` stands: its state string, and for an ECS service its task counts (up when
/// every desired task runs and some are desired; down when none is desired or running;
/// busy while the counts differ). An Auto Scaling group is up when its InService
/// instances equal its desired capacity (above 0), down when it has no instance at all
/// (in any lifecycle state) and none is desired, busy in between.
pub fn condition_of(r: &Resource) -> Condition {
    let c = condition(r.kind, &r.state);
    if !matches!(r.kind, ResourceKind::Ecs | ResourceKind::Asg) || c != Condition::Up {
        return c;
    }
    let (desired, running) = (r.desired.unwrap_or(0), r.running.unwrap_or(0));
    // ECS reports no tasks outside runningCount here; an Auto Scaling group's instances
    // count pending and terminating ones too.
    let present = match r.kind {
        ResourceKind::Asg => r.instances.unwrap_or(running).max(running),
        _ => running,
    };
    match (desired, present) {
        (0, 0) => Condition::Down,
        (desired, _) if desired > 0 && desired == running => Condition::Up,
        _ => Condition::Busy,
    }
}

/// Maps a provider state string to a condition (for an ECS service `ACTIVE`, for an Auto
/// Scaling group `active`, is `Up` until [`condition_of`] looks at its counts).
pub fn condition(kind: ResourceKind, state: &str) -> Condition {
    let state = state.trim().to_ascii_lowercase();
    let state = state.as_str();
    match kind {
        ResourceKind::Ec2 => match state {
            "running" => Condition::Up,
            "stopped" => Condition::Down,
            "pending" | "stopping" => Condition::Busy,
            "shutting-down" | "terminated" => Condition::Gone,
            _ => Condition::Unknown,
        },
        ResourceKind::Rds | ResourceKind::Aurora => match state {
            // moto answers `started` to StartDBCluster; AWS reports `available`.
            "available" | "started" => Condition::Up,
            "stopped" => Condition::Down,
            "deleting" | "deleted" => Condition::Gone,
            s if RDS_BROKEN.contains(&s) => Condition::Broken,
            s if RDS_TRANSIENT.contains(&s) => Condition::Busy,
            _ => Condition::Unknown,
        },
        ResourceKind::Ecs => match state {
            "active" => Condition::Up,
            "draining" | "inactive" => Condition::Gone,
            _ => Condition::Unknown,
        },
        // DescribeAutoScalingGroups has a Status only while the group is deleted
        // (`Delete in progress`); offhours calls a group without one `active`.
        ResourceKind::Asg => match state {
            "active" => Condition::Up,
            s if s.starts_with("delete") => Condition::Gone,
            _ => Condition::Unknown,
        },
    }
}
