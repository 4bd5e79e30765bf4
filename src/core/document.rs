//! YAML or JSON documents: JSON goes through serde_json, YAML through serde_norway, chosen by file name or first byte.

use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed};

use crate::error::{Error, Result};

/// The syntax of a config, inventory or state document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

impl Syntax {
    /// The syntax a file name promises: `.json` is JSON, `.yaml` / `.yml` YAML (any case);
    /// anything else (stdin included) says nothing.
    pub fn of_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }

    /// The syntax a document looks like: JSON when its first non-space byte is `{` or `[`.
    pub fn sniff(text: &str) -> Self {
        match text.trim_start().as_bytes().first() {
            Some(b'{' | b'[') => Self::Json,
            _ => Self::Yaml,
        }
    }
}

/// Parses `text` (named `what` in errors) as `syntax`, or, when that is unknown, as what
/// it looks like. A document that only looks like JSON (`{schedules: []}` is a YAML flow
/// mapping) is read as YAML when it is not JSON; if neither reads, the JSON error is given.
pub fn parse<T: DeserializeOwned>(text: &str, what: &str, syntax: Option<Syntax>) -> Result<T> {
    parse_seed(text, what, syntax, || PhantomData::<T>)
}

/// [`parse`] through a seed (one from `seed()` per attempt: a document read as JSON and
/// then as YAML starts afresh), for documents read into something as they are parsed.
pub fn parse_seed<T, S>(
    text: &str,
    what: &str,
    syntax: Option<Syntax>,
    seed: impl Fn() -> S,
) -> Result<T>
where
    S: for<'de> DeserializeSeed<'de, Value = T>,
{
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::Parse {
        what: what.to_string(),
        source,
    };
    // As serde_json::from_str: the value, then nothing but white space.
    let json = || {
        let mut de = serde_json::Deserializer::from_str(text);
        seed()
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v))
    };
    let yaml = || seed().deserialize(serde_norway::Deserializer::from_str(text));
    match syntax.ok_or_else(|| Syntax::sniff(text)) {
        Ok(Syntax::Json) => json().map_err(|e| fail(Box::new(e))),
        Ok(Syntax::Yaml) | Err(Syntax::Yaml) => yaml().map_err(|e| fail(Box::new(e))),
        Err(Syntax::Json) => json().or_else(|e| yaml().map_err(|_| fail(Box::new(e)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Doc {
        items: Vec<String>,
    }

    #[test]
    fn the_file_name_decides_and_else_the_first_byte() {
        assert_eq!(Syntax::of_name("fleet/config.json"), Some(Syntax::Json));
        assert_eq!(Syntax::of_name("OFFHOURS.YML"), Some(Syntax::Yaml));
        assert_eq!(Syntax::of_name("a.yaml"), Some(Syntax::Yaml));
        assert_eq!(Syntax::of_name("-"), None);
        assert_eq!(Syntax::of_name("config.txt"), None);
        assert_eq!(Syntax::sniff("  \n{\"items\": []}"), Syntax::Json);
        assert_eq!(Syntax::sniff("[1]"), Syntax::Json);
        assert_eq!(Syntax::sniff("items: []"), Syntax::Yaml);
        assert_eq!(Syntax::sniff(""), Syntax::Yaml);
    }

    #[test]
    fn json_yaml_and_flow_yaml_read_the_same() {
        let want = Doc {
            items: vec!["a".into(), "b".into()],
        };
        for (text, syntax) in [
            ("{\"items\": [\"a\", \"b\"]}", None),
            ("{\"items\": [\"a\", \"b\"]}", Some(Syntax::Json)),
            ("items: [a, b]", None),
            ("items:\n  - a\n  - b\n", Some(Syntax::Yaml)),
            ("{items: [a, b]}", None),
        ] {
            assert_eq!(parse::<Doc>(text, "t", syntax).expect(text), want, "{text}");
        }
    }

    #[test]
    fn errors_name_the_document_and_json_files_are_not_read_as_yaml() {
        let e = parse::<Doc>("{items: [a]}", "config.json", Some(Syntax::Json));
        assert!(e.is_err_and(|e| e.to_string().starts_with("cannot parse config.json: ")));
        let e = parse::<Doc>("{\"items\": [1, }", "-", None);
        assert!(e.is_err_and(|e| e.to_string().contains("line 1 column")));
    }
}
