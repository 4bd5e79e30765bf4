//! Inventory and state documents (parsing only): the offline stand-ins for what AWS reports and what the state table holds.

use std::collections::HashMap;

use serde::Deserialize;

use crate::core::document::{self, Syntax};
use crate::core::planner::{Resource, ScheduleState};
use crate::error::Result;

#[derive(Deserialize)]
struct InventoryFile {
    #[serde(default)]
    resources: Vec<Resource>,
}

/// Parses an inventory document (`resources: [{id, kind, state, tags}]`), YAML or JSON.
pub fn parse_inventory(text: &str, what: &str) -> Result<Vec<Resource>> {
    parse_inventory_as(text, what, None)
}

/// Parses an inventory document of a known syntax (`None`: told by its first byte).
/// JSON goes straight into the typed resources, with no value tree in between.
pub fn parse_inventory_as(text: &str, what: &str, syntax: Option<Syntax>) -> Result<Vec<Resource>> {
    let mut resources = document::parse::<InventoryFile>(text, what, syntax)?.resources;
    // The vector grew by doubling; the plan runs next to it, so give the slack back.
    resources.shrink_to_fit();
    Ok(resources)
}

/// Parses a state document: schedule name -> `{applied, forced, warned, ...}` (YAML or JSON);
/// an empty document is no state.
pub fn parse_state(text: &str, what: &str) -> Result<HashMap<String, ScheduleState>> {
    parse_state_as(text, what, None)
}

/// Parses a state document of a known syntax (`None`: told by its first byte).
pub fn parse_state_as(
    text: &str,
    what: &str,
    syntax: Option<Syntax>,
) -> Result<HashMap<String, ScheduleState>> {
    if text.trim().is_empty() {
        return Ok(HashMap::new());
    }
    document::parse(text, what, syntax)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::ResourceKind;

    #[test]
    fn inventory_reads_the_spec_example() {
        let text = "resources:\n  - {id: i-0a1, kind: ec2, state: stopped, tags: {ScheduleName: dev, ScheduleGroupName: API}}\n  - {id: dev-db, kind: rds, state: available, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n";
        let r = parse_inventory(text, "test").expect("parses");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].kind, ResourceKind::Rds);
        assert_eq!(r[0].tags.get("ScheduleGroupName"), Some("API"));
    }

    #[test]
    fn inventory_takes_hibernation_per_instance() {
        let text = "resources:\n  - {id: i-1, kind: ec2, state: running, hibernation: true}\n  - {id: i-2, kind: ec2, state: running}\n";
        let r = parse_inventory(text, "test").expect("parses");
        assert_eq!((r[0].hibernation, r[1].hibernation), (true, false));
    }

    #[test]
    fn inventory_takes_ecs_services_with_their_task_counts() {
        let yaml = "resources:\n  - {id: dev/api, kind: ecs, state: ACTIVE, desired: 3, running: 2}\n  - {id: dev/worker, kind: ecs, state: ACTIVE}\n";
        let json = r#"{"resources": [{"id": "dev/api", "kind": "ecs", "state": "ACTIVE", "desired": 3, "running": 2}, {"id": "dev/worker", "kind": "ecs", "state": "ACTIVE"}]}"#;
        for text in [yaml, json] {
            let r = parse_inventory(text, "test").expect("parses");
            assert_eq!(r[0].kind, ResourceKind::Ecs);
            assert_eq!((r[0].desired, r[0].running), (Some(3), Some(2)));
            assert_eq!((r[1].desired, r[1].running), (None, None));
        }
    }

    #[test]
    fn inventory_takes_auto_scaling_groups_with_their_sizes() {
        let yaml = "resources:\n  - {id: web, kind: asg, state: active, min: 1, max: 4, desired: 2, running: 1, instances: 2}\n  - {id: batch, kind: asg, state: active}\n";
        let r = parse_inventory(yaml, "test").expect("parses");
        assert_eq!(r[0].kind, ResourceKind::Asg);
        assert_eq!(
            (
                r[0].min,
                r[0].max,
                r[0].desired,
                r[0].running,
                r[0].instances
            ),
            (Some(1), Some(4), Some(2), Some(1), Some(2))
        );
        assert_eq!((r[1].min, r[1].max, r[1].instances), (None, None, None));
    }

    #[test]
    fn inventory_errors_name_the_file() {
        let e = parse_inventory(
            "resources:\n  - {id: x, kind: lambda, state: on}\n",
            "inv.yaml",
        );
        assert!(e.is_err_and(|e| e.to_string().contains("inv.yaml")));
    }

    #[test]
    fn json_inventory_reads_like_yaml() {
        let yaml = "resources:\n  - {id: dev-db, kind: rds, state: available, engine: postgres, tags: {ScheduleName: dev, ScheduleGroupName: DB}}\n";
        let json = r#"{"resources": [{"id": "dev-db", "kind": "rds", "state": "available", "engine": "postgres", "tags": {"ScheduleName": "dev", "ScheduleGroupName": "DB"}}]}"#;
        let from_yaml = parse_inventory(yaml, "a.yaml").expect("yaml");
        assert_eq!(parse_inventory(json, "stdin").expect("sniffed"), from_yaml);
        let known = parse_inventory_as(json, "a.json", Some(Syntax::Json)).expect("json");
        assert_eq!(known, from_yaml);
        let e = parse_inventory_as(
            r#"{"resources": [{"id": "x", "kind": "lambda", "state": "on"}]}"#,
            "inv.json",
            Some(Syntax::Json),
        );
        assert!(e.is_err_and(|e| e.to_string().contains("inv.json")));
    }
}
