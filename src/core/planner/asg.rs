//! The Auto Scaling guard: EC2 instances launched by an Auto Scaling group are never started or stopped one by one (the group would replace them).

use super::Resource;
use crate::core::config::{Problem, ResourceKind};

/// The tag AWS puts on every instance an Auto Scaling group launches.
pub const ASG_TAG: &str = "aws:autoscaling:groupName";

/// The Auto Scaling group that owns `r`, if any.
pub fn owner(r: &Resource) -> Option<&str> {
    if r.kind != ResourceKind::Ec2 {
        return None;
    }
    r.tags
        .get(ASG_TAG)
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
}

/// The warning for an instance of an Auto Scaling group that carries the schedule tag
/// `schedule_key`=`tag`: it is left alone, and the group is the thing to tag.
pub(super) fn guard(r: &Resource, schedule_key: &str, tag: &str) -> Option<Problem> {
    let group = owner(r)?;
    Some(Problem::new(
        tag,
        format!(
            "resource {} ({}) belongs to Auto Scaling group '{group}', which would replace it if it were stopped; it is left alone: tag the Auto Scaling group '{group}' {schedule_key}={tag} instead",
            r.id, r.kind
        ),
    ))
}
