//! The CLI's files: config, inventory and state documents read from disk (parsing lives in core).

use std::collections::HashMap;
use std::path::Path;

use crate::core::config::RawConfig;
use crate::core::inventory::{parse_inventory, parse_state};
use crate::core::planner::{Resource, ScheduleState};
use crate::error::{Error, Result};

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })
}

impl RawConfig {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::parse(&read(path)?, &path.display().to_string())
    }
}

/// Reads an inventory file (YAML or JSON).
pub fn load_inventory(path: &Path) -> Result<Vec<Resource>> {
    parse_inventory(&read(path)?, &path.display().to_string())
}

/// Reads a state file: schedule name -> state (YAML or JSON).
pub fn load_state(path: &Path) -> Result<HashMap<String, ScheduleState>> {
    parse_state(&read(path)?, &path.display().to_string())
}
