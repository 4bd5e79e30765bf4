//! Resource tags in a compact form: every (key, value) pair of one resource, sorted by key, in one length-prefixed string.
//!
//! A fleet of 100k resources has some 400k tags. As a `BTreeMap<String, String>` each
//! resource cost a map node and two allocations per tag (about 880 bytes). Here a resource's
//! tags are one allocation holding `<len><key><len><value>...`, where each `<len>` is one
//! `char` whose code point is the byte length that follows (one byte up to 127, which
//! covers nearly every tag; surrogates skipped): the four tags of the generated fleet take
//! about 80 bytes. Lookups scan the few pairs a resource has; AWS allows at most 50.

use std::fmt;
use std::ops::Index;

use compact_str::CompactString;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A resource's tags: key -> value, one value per key (the last one given wins, as in a map).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tags(Box<str>);

/// Iterates over the pairs of an encoded tag string.
struct Pairs<'a>(&'a str);

impl<'a> Pairs<'a> {
    /// The next length-prefixed string, or `None` at the end.
    fn field(&mut self) -> Option<&'a str> {
        let prefix = self.0.chars().next()?;
        let rest = &self.0[prefix.len_utf8()..];
        let len = length_of(prefix);
        let field = rest.get(..len)?;
        self.0 = rest.get(len..)?;
        Some(field)
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.field()?, self.field()?))
    }
}

impl Tags {
    /// The value of tag `key`, if the resource has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The tags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        Pairs(&self.0)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sorts by key, keeps the last value given for a key, and encodes the pairs.
    fn from_pairs<K: AsRef<str>, V: AsRef<str>>(mut pairs: Vec<(K, V)>) -> Self {
        // A stable sort keeps pairs of one key in the order given; the last one wins.
        pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let kept = |i: usize| {
            let key = pairs[i].0.as_ref();
            pairs.get(i + 1).is_none_or(|next| next.0.as_ref() != key)
        };
        let encoded = |field: &str| {
            let field = clipped(field);
            prefix(field.len()).len_utf8() + field.len()
        };
        let size = (0..pairs.len())
            .filter(|&i| kept(i))
            .map(|i| encoded(pairs[i].0.as_ref()) + encoded(pairs[i].1.as_ref()))
            .sum();
        let mut out = String::with_capacity(size);
        for i in (0..pairs.len()).filter(|&i| kept(i)) {
            for field in [pairs[i].0.as_ref(), pairs[i].1.as_ref()] {
                let field = clipped(field);
                out.push(prefix(field.len()));
                out.push_str(field);
            }
        }
        Self(out.into_boxed_str())
    }
}

/// First code point above the surrogates, which a `char` cannot hold.
const SURROGATES: std::ops::RangeInclusive<u32> = 0xD800..=0xDFFF;
const SURROGATE_COUNT: u32 = 0x800;
/// The longest field the one-`char` prefix can describe (about 1.1 MB; an AWS tag value
/// is at most 256 characters).
const MAX_FIELD: usize = (char::MAX as u32 - SURROGATE_COUNT) as usize;

/// The `char` that stands for a byte length (lengths from 0xD800 up shift past the surrogates).
fn prefix(len: usize) -> char {
    let n = len.min(MAX_FIELD) as u32;
    let code = if n < *SURROGATES.start() {
        n
    } else {
        n + SURROGATE_COUNT
    };
    char::from_u32(code).unwrap_or(char::MAX)
}

/// The byte length a prefix `char` stands for.
fn length_of(prefix: char) -> usize {
    let code = prefix as u32;
    (if code > *SURROGATES.end() {
        code - SURROGATE_COUNT
    } else {
        code
    }) as usize
}

/// `field`, cut at a character boundary if it is longer than a prefix can describe
/// (only an offline inventory could hold such a tag; AWS cannot).
fn clipped(field: &str) -> &str {
    if field.len() <= MAX_FIELD {
        return field;
    }
    let mut end = MAX_FIELD;
    while !field.is_char_boundary(end) {
        end -= 1;
    }
    &field[..end]
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Tags {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_pairs(iter.into_iter().collect())
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
        let mut map = serializer.serialize_map(None)?;
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
    fn any_text_survives_the_encoding() {
        let given = [
            ("12:x", "3:abc"),
            ("", ""),
            ("이름", "서버 ✓ 1"),
            ("k", &"v".repeat(1000)),
            ("aws:autoscaling:groupName", "asg-1"),
        ];
        let tags: Tags = given.iter().copied().collect();
        assert_eq!(tags.len(), given.len());
        for (k, v) in given {
            assert_eq!(tags.get(k), Some(v), "{k}");
        }
        assert_eq!(tags.get("12"), None);
        assert_eq!(tags.get("x"), None);
    }

    #[test]
    fn every_length_round_trips_through_its_prefix_including_past_the_surrogates() {
        for len in [
            0, 1, 127, 128, 2047, 2048, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 70_000, MAX_FIELD,
        ] {
            assert_eq!(length_of(prefix(len)), len, "{len}");
        }
        let long = "é".repeat(40_000); // 80,000 bytes: a prefix beyond the surrogate range
        let tags: Tags = [("k", long.as_str()), ("z", "1")].into_iter().collect();
        assert_eq!(tags.get("k"), Some(long.as_str()));
        assert_eq!(tags.get("z"), Some("1"));
        let huge = "x".repeat(MAX_FIELD + 10);
        let tags: Tags = [("k", huge.as_str())].into_iter().collect();
        assert_eq!(
            tags.get("k").map(str::len),
            Some(MAX_FIELD),
            "clipped, not corrupt"
        );
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
