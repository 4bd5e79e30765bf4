//! Inventory and state files: the offline stand-ins for what AWS reports and what the state table holds.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::core::planner::{Resource, ScheduleState};

#[derive(Deserialize)]
struct InventoryFile {
    #[serde(default)]
    resources: Vec<Resource>,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })
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

/// Reads an inventory file (YAML or JSON).
pub fn load_inventory(path: &Path) -> Result<Vec<Resource>> {
    parse_inventory(&read(path)?, &path.display().to_string())
}

/// Reads a state file: schedule name -> `{applied, forced, warned}` (YAML or JSON).
pub fn load_state(path: &Path) -> Result<HashMap<String, ScheduleState>> {
    let text = read(path)?;
    if text.trim().is_empty() {
        return Ok(HashMap::new());
    }
    parse(&text, &path.display().to_string())
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
