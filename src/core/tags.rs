//! Resource tags in a compact form: one boxed slice of (key, value) pairs sorted by key, short strings stored inline.
//!
//! A fleet of 100k resources has some 400k tags. As a `BTreeMap<String, String>` each
//! resource cost a map node and two allocations per tag (about 880 bytes); here it is one
//! allocation of 48 bytes per tag, since keys and values up to 24 bytes (`ScheduleName`,
//! `team-7@example.com`) live inside the pair itself.

use std::fmt;
use std::ops::Index;

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A resource's tags: key -> value, one value per key (the last one given wins, as in a map).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tags(Box<[(CompactString, CompactString)]>);

impl Tags {
    /// The value of tag `key`, if the resource has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The tags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts by key and keeps the last value given for a key.
    fn from_pairs(mut pairs: Vec<(CompactString, CompactString)>) -> Self {
        // A stable sort keeps pairs of one key in the order given; the last one wins.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(CompactString, CompactString)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match kept.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => kept.push(pair),
            }
        }
        Self(kept.into_boxed_slice())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Tags {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let pairs = iter
            .into_iter()
            .map(|(k, v)| (k.as_ref().into(), v.as_ref().into()))
            .collect();
        Self::from_pairs(pairs)
    }
}

impl Index<&str> for Tags {
    type Output = str;

    /// The value of tag `key`; panics when there is none (tests and literals only).
    fn index(&self, key: &str) -> &str {
        match self.get(key) {
            Some(v) => v,
            None => panic!("no tag {key:?}"),
        }
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagsVisitor;
        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of tag names to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
                while let Some(pair) = map.next_entry::<CompactString, CompactString>()? {
                    pairs.push(pair);
                }
                Ok(Tags::from_pairs(pairs))
            }
        }
        deserializer.deserialize_map(TagsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn reads_like_the_map_it_replaces() {
        let given = [("b", "2"), ("a", "1"), ("c", "x"), ("b", "3")];
        let tags: Tags = given.iter().copied().collect();
        let map: BTreeMap<&str, &str> = given.iter().copied().collect();
        assert_eq!(tags.len(), map.len());
        assert_eq!(
            tags.iter().collect::<Vec<_>>(),
            map.clone().into_iter().collect::<Vec<_>>()
        );
        for key in ["a", "b", "c", "d", ""] {
            assert_eq!(tags.get(key), map.get(key).copied(), "{key}");
        }
        assert_eq!(&tags["b"], "3");
        assert!(Tags::default().is_empty());
    }

    #[test]
    fn json_and_yaml_round_trip_in_key_order() {
        let tags: Tags = serde_json::from_str(r#"{"Name": "api-1", "ScheduleName": "dev", "A": "a long value well beyond twenty-four bytes"}"#)
            .expect("json");
        assert_eq!(
            tags.get("A"),
            Some("a long value well beyond twenty-four bytes")
        );
        assert_eq!(
            serde_json::to_string(&tags).expect("json"),
            r#"{"A":"a long value well beyond twenty-four bytes","Name":"api-1","ScheduleName":"dev"}"#
        );
        let from_yaml: Tags = serde_norway::from_str(
            "{ScheduleName: dev, Name: api-1, A: a long value well beyond twenty-four bytes}",
        )
        .expect("yaml");
        assert_eq!(from_yaml, tags);
        assert!(serde_json::from_str::<Tags>(r#"{"a": 1}"#).is_err());
        assert!(serde_json::from_str::<Tags>(r#"["a"]"#).is_err());
    }
}
