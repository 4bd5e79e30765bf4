//! Test fixtures shared by the notify tests: a pre-stop notice for schedule `dev`.

use chrono::{DateTime, Utc};

use crate::core::config::{Action, ResourceKind};
use crate::core::plan::{Notice, NoticeKind, ResourceRef};
use crate::core::schedule::EventKey;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test instant")
        .with_timezone(&Utc)
}

/// A warning 10 minutes before `dev` stops two resources at 22:00 KST.
pub(crate) fn notice() -> Notice {
    Notice {
        schedule: "dev".into(),
        kind: NoticeKind::PreStopWarning,
        stop_at: DateTime::parse_from_rfc3339("2026-11-23T22:00:00+09:00").expect("instant"),
        resources: vec![
            ResourceRef {
                id: "i-0a1".into(),
                kind: ResourceKind::Ec2,
                account: None,
                region: None,
                name: Some("api-1".into()),
                engine: None,
                hibernate: false,
                desired: None,
                min: None,
                max: None,
            },
            ResourceRef {
                id: "dev-db".into(),
                kind: ResourceKind::Rds,
                account: None,
                region: None,
                name: None,
                engine: Some("postgres".into()),
                hibernate: false,
                desired: None,
                min: None,
                max: None,
            },
        ],
        timezone: "Asia/Seoul".into(),
        next_start: DateTime::parse_from_rfc3339("2026-11-24T09:00:00+09:00").ok(),
        groups: Vec::new(),
        minutes_left: 10,
        event: EventKey {
            at: at("2026-11-23T13:00:00Z"),
            action: Action::Stop,
        },
    }
}
