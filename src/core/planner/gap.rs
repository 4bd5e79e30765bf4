//! A region and service that could not be observed this tick, and what its resources may be.

use serde::{Deserialize, Serialize};

use crate::core::config::{Problem, ResourceKind};

/// A region and service whose resources could not be observed this tick (access denied,
/// throttled beyond retries, unreachable). Its groups count as not in the target state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub region: String,
    /// `ec2` (EC2 instances), `rds` (RDS instances and Aurora clusters), `ecs` (services)
    /// or `autoscaling` (Auto Scaling groups).
    pub service: String,
    /// The API operation that failed (`DescribeInstances`).
    pub operation: String,
    /// AWS's error code, or the kind of failure when there was no answer.
    pub code: String,
}

impl Gap {
    /// Whether resources of `kind` may be among the unseen.
    pub fn hides(&self, kind: ResourceKind) -> bool {
        let service = match kind {
            ResourceKind::Ec2 => "ec2",
            ResourceKind::Rds | ResourceKind::Aurora => "rds",
            ResourceKind::Ecs => "ecs",
            ResourceKind::Asg => "autoscaling",
        };
        self.service == service
    }

    pub(super) fn problem(&self) -> Problem {
        Problem::new(
            "*",
            format!(
                "region {}, service {}: {} failed with {}; resources there are not seen this tick: groups that could hold them count as not done (their dependents do not start, their dependencies do not stop), everything seen elsewhere proceeds",
                self.region, self.service, self.operation, self.code
            ),
        )
    }
}
