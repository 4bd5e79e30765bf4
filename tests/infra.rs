//! Checks infra/: the starter config is valid, and the DynamoDB JSON items for console users
//! (infra/items/<Table>/*.json) hold exactly the same items with the right keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use offhours::core::config::{validate, Defaults, Item, RawConfig};
use serde_json::{Map, Number, Value};

fn infra() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("infra")
}

/// DynamoDB JSON (`{"S": "dev"}`, `{"N": "10"}`, `{"L": [...]}`, ...) -> plain JSON.
fn plain(v: &Value) -> Value {
    let map = v.as_object().expect("a DynamoDB attribute value");
    assert_eq!(map.len(), 1, "one type per attribute value: {v}");
    let (ty, inner) = map.iter().next().unwrap();
    match ty.as_str() {
        "S" => Value::String(inner.as_str().expect("S is a string").to_string()),
        "N" => {
            let text = inner.as_str().expect("N is a string");
            let n: Number = text.parse().unwrap_or_else(|_| panic!("N {text}"));
            Value::Number(n)
        }
        "BOOL" => Value::Bool(inner.as_bool().expect("BOOL")),
        "NULL" => Value::Null,
        "L" => Value::Array(inner.as_array().expect("L").iter().map(plain).collect()),
        "SS" => inner.clone(),
        "M" => Value::Object(
            inner
                .as_object()
                .expect("M")
                .iter()
                .map(|(k, v)| (k.clone(), plain(v)))
                .collect(),
        ),
        other => panic!("unexpected DynamoDB type {other}"),
    }
}

/// The items of one table folder, as plain items, with the file each came from.
fn items(table: &str) -> Vec<(String, Item)> {
    let dir = infra().join("items").join(table);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            assert_eq!(path.extension().and_then(|e| e.to_str()), Some("json"));
            let text = std::fs::read_to_string(&path).unwrap();
            let item: Map<String, Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let item = item.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
            (path.display().to_string(), item)
        })
        .collect()
}

fn key(item: &Item, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| item[*f].as_str().expect("key attributes are strings"))
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn starter_config_is_valid() {
    let raw = RawConfig::load(&infra().join("example-config.yaml")).expect("parses");
    let config = validate(&raw, &Defaults::default());
    assert!(config.errors.is_empty(), "{:?}", config.errors);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.schedules.len(), raw.schedules.len());
    assert!(!raw.groups.is_empty() && !raw.exceptions.is_empty());
}

#[test]
fn console_items_hold_the_same_items_as_the_starter_config() {
    // GIVEN the YAML config and the per-table DynamoDB JSON files
    let raw = RawConfig::load(&infra().join("example-config.yaml")).expect("parses");
    let tables: [(&str, &[&str], &Vec<Item>); 3] = [
        ("Schedule", &["ScheduleName"], &raw.schedules),
        (
            "ScheduleServerGroup",
            &["ScheduleName", "GroupName"],
            &raw.groups,
        ),
        ("ScheduleException", &["ExceptionUuid"], &raw.exceptions),
    ];
    for (table, keys, yaml_items) in tables {
        // WHEN the files are read as DynamoDB would store them
        let files = items(table);
        // THEN each YAML item has exactly one file with the same attributes, and back
        assert_eq!(files.len(), yaml_items.len(), "{table}: one file per item");
        let mut seen = BTreeSet::new();
        for (path, item) in &files {
            for k in keys.iter() {
                assert!(item[*k].is_string(), "{path}: key {k} must be S");
            }
            let id = key(item, keys);
            assert!(seen.insert(id.clone()), "{path}: duplicate key {id}");
            let twin = yaml_items
                .iter()
                .find(|y| key(y, keys) == id)
                .unwrap_or_else(|| panic!("{path}: {id} is not in example-config.yaml"));
            assert_eq!(item, twin, "{path} differs from example-config.yaml");
        }
    }
}
