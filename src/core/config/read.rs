//! Reading a config document item by item into a sink: the raw lists, or the validator, which then never holds them all.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{Item, RawConfig};

/// The three item lists of a config document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Schedules,
    Groups,
    Exceptions,
}

impl List {
    const ALL: [List; 3] = [List::Schedules, List::Groups, List::Exceptions];

    fn field(self) -> &'static str {
        match self {
            List::Schedules => "schedules",
            List::Groups => "groups",
            List::Exceptions => "exceptions",
        }
    }
}

/// Where the items of a config document go, one at a time and in document order.
pub trait Sink {
    fn item(&mut self, list: List, item: Item);
}

impl Sink for RawConfig {
    fn item(&mut self, list: List, item: Item) {
        match list {
            List::Schedules => self.schedules.push(item),
            List::Groups => self.groups.push(item),
            List::Exceptions => self.exceptions.push(item),
        }
    }
}

/// A sink filled by a whole config document, given back when the document is read.
pub struct Fill<S>(pub S);

impl<'de, S: Sink> DeserializeSeed<'de> for Fill<S> {
    type Value = S;

    fn deserialize<D: Deserializer<'de>>(mut self, deserializer: D) -> Result<S, D::Error> {
        Document(&mut self.0).deserialize(deserializer)?;
        Ok(self.0)
    }
}

/// A whole config document (`schedules:`, `groups:`, `exceptions:`; other keys are
/// ignored) into `sink`, or nothing from a null one: what an `Option<RawConfig>` reads,
/// with the same errors.
pub struct Document<'s, S>(pub &'s mut S);

impl<'de, S: Sink> DeserializeSeed<'de> for Document<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: Sink> Visitor<'de> for Document<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct RawConfig")
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_struct("RawConfig", &FIELDS, Lists(self.0))
    }
}

const FIELDS: [&str; 3] = ["schedules", "groups", "exceptions"];

/// The document's map (or, as serde allows for a struct, a sequence of the three lists).
struct Lists<'s, S>(&'s mut S);

impl<'de, S: Sink> Visitor<'de> for Lists<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct RawConfig")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = [false; 3];
        while let Some(key) = map.next_key::<Key>()? {
            let Key::List(list) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let i = list as usize;
            if std::mem::replace(&mut seen[i], true) {
                return Err(serde::de::Error::duplicate_field(list.field()));
            }
            map.next_value_seed(Items(list, &mut *self.0))?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for list in List::ALL {
            if seq.next_element_seed(Items(list, &mut *self.0))?.is_none() {
                break;
            }
        }
        Ok(())
    }
}

/// A key of the document's map: one of the lists, or anything else.
enum Key {
    List(List),
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("field identifier")
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(List::ALL
                    .into_iter()
                    .find(|l| l.field() == key)
                    .map_or(Key::Other, Key::List))
            }

            fn visit_bytes<E: serde::de::Error>(self, key: &[u8]) -> Result<Key, E> {
                match std::str::from_utf8(key) {
                    Ok(key) => self.visit_str(key),
                    Err(_) => Ok(Key::Other),
                }
            }

            /// A field's position, as serde's derive reads it from formats that have them.
            fn visit_u64<E>(self, index: u64) -> Result<Key, E> {
                let list = usize::try_from(index).ok().and_then(|i| List::ALL.get(i));
                Ok(list.map_or(Key::Other, |l| Key::List(*l)))
            }
        }

        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// One list: each item goes to the sink as soon as it is read.
struct Items<'s, S>(List, &'s mut S);

impl<'de, S: Sink> DeserializeSeed<'de> for Items<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, S: Sink> Visitor<'de> for Items<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Item>()? {
            self.1.item(self.0, item);
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for RawConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut raw = RawConfig::default();
        deserializer.deserialize_struct("RawConfig", &FIELDS, Lists(&mut raw))?;
        Ok(raw)
    }
}
