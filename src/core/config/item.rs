//! One config item as users write it: field name -> JSON value, kept as a small sorted vector.
//!
//! Items have a dozen fields at most, so a vector searched by binary search is faster and far
//! smaller than a B-tree map (one allocation per item instead of a node per few fields, and
//! field names inline in `CompactString`s). It behaves like the map it replaces: keys are
//! unique, iterate in sorted order, and a repeated key keeps its last value.

use std::fmt;
use std::ops::Index;

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One item (DynamoDB console, YAML, JSON): field name -> value, sorted by field name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item(Vec<(CompactString, Value)>);

static NULL: Value = Value::Null;

impl Item {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    fn find(&self, field: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(field))
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.find(field).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, field: &str) -> Option<&mut Value> {
        self.find(field).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, field: &str) -> bool {
        self.find(field).is_ok()
    }

    /// Sets `field`, returning the value it had.
    pub fn insert(&mut self, field: CompactString, value: Value) -> Option<Value> {
        match self.find(&field) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (field, value));
                None
            }
        }
    }

    pub fn remove(&mut self, field: &str) -> Option<Value> {
        self.find(field).ok().map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = &CompactString> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CompactString, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// Sorts fields gathered in any order; of a repeated field the last value stays.
    fn from_unsorted(mut fields: Vec<(CompactString, Value)>) -> Self {
        // A stable sort keeps the values of one field in the order given; `dedup_by` drops
        // the later of two neighbours, so the later value moves into the one kept first.
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        fields.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
        // Thousands of items live as long as the process: no growth slack.
        fields.shrink_to_fit();
        Self(fields)
    }
}

impl<K: Into<CompactString>> FromIterator<(K, Value)> for Item {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        Self::from_unsorted(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl IntoIterator for Item {
    type Item = (CompactString, Value);
    type IntoIter = std::vec::IntoIter<(CompactString, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// `item["Field"]`: the value, or `null` when the item has no such field.
impl Index<&str> for Item {
    type Output = Value;

    fn index(&self, field: &str) -> &Value {
        self.get(field).unwrap_or(&NULL)
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_str(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;

        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of field names to values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Item, A::Error> {
                let mut fields = Vec::with_capacity(access.size_hint().unwrap_or(8).min(32));
                while let Some((k, v)) = access.next_entry::<CompactString, Value>()? {
                    fields.push((k, v));
                }
                Ok(Item::from_unsorted(fields))
            }
        }

        deserializer.deserialize_map(ItemVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map_whose_last_repeated_key_wins() {
        let item: Item = serde_json::from_str(
            r#"{"StopTime":"18:00","ScheduleName":"dev","WarnMinutes":5,"StopTime":"19:00"}"#,
        )
        .expect("json");
        let keys: Vec<&str> = item.keys().map(CompactString::as_str).collect();
        assert_eq!(keys, ["ScheduleName", "StopTime", "WarnMinutes"]);
        assert_eq!(item["StopTime"], "19:00");
        assert_eq!(item["Missing"], Value::Null);
        assert_eq!(
            serde_json::to_string(&item).expect("serializes"),
            r#"{"ScheduleName":"dev","StopTime":"19:00","WarnMinutes":5}"#
        );
        let same: Item =
            serde_json::from_str(&serde_json::to_string(&item).expect("json")).expect("round trip");
        assert_eq!(same, item);
    }

    #[test]
    fn insert_and_remove_keep_order_and_return_the_old_value() {
        let mut item = Item::new();
        assert_eq!(item.insert("b".into(), 1.into()), None);
        assert_eq!(item.insert("a".into(), 2.into()), None);
        assert_eq!(item.insert("b".into(), 3.into()), Some(1.into()));
        assert_eq!(
            item.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(item.remove("a"), Some(2.into()));
        assert_eq!(item.remove("a"), None);
        assert!(item.contains_key("b") && !item.contains_key("a"));
        assert_eq!(item.len(), 1);
    }

    #[test]
    fn reads_yaml_items_too() {
        let item: Item =
            serde_norway::from_str("ScheduleName: dev\nEnabled: true\nDependency: [DB]\n")
                .expect("yaml");
        assert_eq!(item["Enabled"], true);
        assert_eq!(item["Dependency"], serde_json::json!(["DB"]));
    }
}
