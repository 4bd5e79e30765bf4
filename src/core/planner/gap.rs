//! Gaps: the accounts, regions and services a tick could not observe, and the places (`region`, `account/region`) they cover.

use serde::{Deserialize, Serialize};

use crate::core::config::{Problem, ResourceKind};

/// A region and service whose resources could not be observed this tick (access denied,
/// throttled beyond retries, unreachable), or a whole account that could not be entered
/// (its role could not be assumed). Its groups count as not in the target state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The account, when offhours manages several (absent: the function's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The region; `*` when the account could not be entered at all.
    pub region: String,
    /// `ec2` (EC2 instances), `rds` (RDS instances and Aurora clusters), `ecs` (services),
    /// `autoscaling` (Auto Scaling groups), or `sts` when the account could not be entered: nothing there is seen.
    pub service: String,
    /// The API operation that failed (`DescribeInstances`, `AssumeRole`).
    pub operation: String,
    /// AWS's error code, or the kind of failure when there was no answer.
    pub code: String,
    /// For an account that could not be entered: the role offhours tried to assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
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
        self.service == service || self.service == "sts"
    }

    /// Whether this gap covers the place `at` (a region, or `account/region`).
    pub fn covers(&self, at: &str) -> bool {
        match (&self.account, self.region.as_str()) {
            (Some(account), "*") => at
                .strip_prefix(account.as_str())
                .is_some_and(|rest| rest.starts_with('/')),
            (None, "*") => true,
            (account, region) => at == place(account.as_deref(), region),
        }
    }

    pub(super) fn problem(&self) -> Problem {
        let message = match (&self.account, &self.role) {
            (Some(account), Some(role)) => format!(
                "account {account}: {} of role {role} failed with {}; nothing in this account is seen or acted on this tick: groups that could hold its resources count as not done (their dependents do not start, their dependencies do not stop), every other account proceeds",
                self.operation, self.code
            ),
            (account, _) => format!(
                "{}region {}, service {}: {} failed with {}; resources there are not seen this tick: groups that could hold them count as not done (their dependents do not start, their dependencies do not stop), everything seen elsewhere proceeds",
                account.as_ref().map(|a| format!("account {a}, ")).unwrap_or_default(),
                self.region, self.service, self.operation, self.code
            ),
        };
        Problem::new("*", message)
    }
}

/// A place as homes and gaps name it: `region` in the function's own account,
/// `account/region` in another.
pub fn place(account: Option<&str>, region: &str) -> String {
    match account {
        Some(account) => format!("{account}/{region}"),
        None => region.to_string(),
    }
}
