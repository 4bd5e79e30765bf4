//! The CLI's files: config, inventory and state documents read from disk or stdin (parsing lives in core).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::core::config::{Config, Defaults, RawConfig};
use crate::core::document::Syntax;
use crate::core::inventory::{parse_inventory_as, parse_state_as};
use crate::core::inventory_stream::InventoryStream;
use crate::core::planner::{Resource, ScheduleState};
use crate::error::{Error, Result};

/// A document read whole, with the name errors give it and the syntax its name promises
/// (`.json` JSON, `.yaml` / `.yml` YAML; otherwise, and for stdin, told by the first byte).
struct Document {
    text: String,
    name: String,
    syntax: Option<Syntax>,
}

/// Reads `path`; `-` is stdin.
fn read(path: &Path) -> Result<Document> {
    let failed = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let name = path.display().to_string();
    if name == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(failed)?;
        return Ok(Document {
            text,
            name: "<stdin>".into(),
            syntax: None,
        });
    }
    let text = std::fs::read_to_string(path).map_err(failed)?;
    Ok(Document {
        syntax: Syntax::of_name(&name),
        text,
        name,
    })
}

impl RawConfig {
    /// Reads and parses a config file (`-`: stdin).
    pub fn load(path: &Path) -> Result<Self> {
        let d = read(path)?;
        Self::parse_as(&d.text, &d.name, d.syntax)
    }
}

/// Reads a config file (`-`: stdin) and validates it item by item as it is parsed.
pub fn load_config(path: &Path, defaults: &Defaults) -> Result<Config> {
    let d = read(path)?;
    Config::parse_as(&d.text, &d.name, d.syntax, defaults)
}

/// Reads an inventory file (YAML or JSON; `-`: stdin). A `.json` file is parsed block by
/// block as it is read, so its text is never in memory whole next to the fleet; a document
/// the stream does not follow (or an invalid one) is then read whole, which gives the
/// same resources or the same error as ever.
pub fn load_inventory(path: &Path) -> Result<Vec<Resource>> {
    // Only a regular file: a fallback reads it again, which a pipe cannot be.
    let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    if regular && Syntax::of_name(&path.display().to_string()) == Some(Syntax::Json) {
        if let Some(resources) = stream_inventory(path)? {
            return Ok(resources);
        }
    }
    let d = read(path)?;
    parse_inventory_as(&d.text, &d.name, d.syntax)
}

/// Blocks of this size (256 KiB) are read at a time.
const BLOCK: usize = 1 << 18;

/// The resources of a JSON inventory file, parsed as it is read; `None` when the stream
/// gave up on the document.
fn stream_inventory(path: &Path) -> Result<Option<Vec<Resource>>> {
    let failed = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let mut stream = InventoryStream::new();
    let mut block = vec![0; BLOCK];
    loop {
        let n = match file.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(failed(e)),
        };
        if stream.feed(&block[..n]).is_err() {
            return Ok(None);
        }
    }
    Ok(stream.finish().ok())
}

/// Reads a state file: schedule name -> state (YAML or JSON; `-`: stdin).
pub fn load_state(path: &Path) -> Result<HashMap<String, ScheduleState>> {
    let d = read(path)?;
    parse_state_as(&d.text, &d.name, d.syntax)
}
