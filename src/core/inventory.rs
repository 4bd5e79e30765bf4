//! Inventory and state documents (parsing only): the offline stand-ins for what AWS reports and what the state table holds.

use std::collections::HashMap;

use serde::Deserialize;

use crate::core::planner::{Resource, ScheduleState};
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct InventoryFile {
    #[serde(default)]
    resources: Vec<Resource>,
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T> {
    serde_norway::from_str(text).map_err(|e| Error::Parse {
        what: what.to_string(),
        source: Box::new(e),
    })
}

/// Parses an inventory document (`resources: [{id, kind, state, tags}]`).
pub fn parse_inventory(text: &str, what: &str) -> Result<Vec<Resource>> {
    Ok(parse::<InventoryFile>(text, what)?.resources)
}

/// Parses a state document: schedule name -> `{applied, forced, warned, ...}` (YAML or JSON);
/// an empty document is no state.
pub fn parse_state(text: &str, what: &str) -> Result<HashMap<String, ScheduleState>> {
    if text.trim().is_empty() {
        return Ok(HashMap::new());
    }
    parse(text, what)
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
        assert_eq!(r[0].tags["ScheduleGroupName"], "API");
    }

    #[test]
    fn inventory_errors_name_the_file() {
        let e = parse_inventory(
            "resources:\n  - {id: x, kind: lambda, state: on}\n",
            "inv.yaml",
        );
        assert!(e.is_err_and(|e| e.to_string().contains("inv.yaml")));
    }
}
