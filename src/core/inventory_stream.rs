//! A JSON inventory read as its bytes arrive: each resource is parsed as soon as it is whole, so the file is never held in memory at once.
//!
//! `offhours plan` on a 100k-resource inventory (19 MB of JSON) used to read the whole file
//! into one string before parsing it, so the text and the parsed fleet were in memory
//! together at the peak. Here the caller feeds blocks of the file; the document's own
//! structure (`{`, keys, `[`, commas) is followed by hand and every value in it is parsed by
//! serde_json, starting where the last one ended. Only the shape offhours writes and reads
//! is followed: one object whose `resources` member is an array. Anything else (a document
//! that is not that shape, or not valid, or not UTF-8) makes the stream give up with
//! [`NotStreamed`], and the caller parses the whole document the ordinary way, which gives
//! the same result or the same error as always.

use serde::de::{DeserializeOwned, IgnoredAny};

use crate::core::planner::Resource;

/// The document is not one this stream follows (or not valid): parse it whole instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotStreamed;

/// Where the stream is in `{"resources": [...], ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the opening `{`.
    Open,
    /// Before a member's key (or, for the first member, the closing `}`).
    Key { first: bool },
    /// Before the `:` of a member (`resources` or another).
    Colon { resources: bool },
    /// Before a member's value.
    Value { resources: bool },
    /// After a member's value: `,` or `}`.
    Members,
    /// Before an element of `resources` (or, for the first, the closing `]`).
    Element { first: bool },
    /// After an element: `,` or `]`.
    Elements,
    /// After the closing `}`: only white space may follow.
    Tail,
}

/// A JSON inventory document parsed as it is fed.
#[derive(Debug)]
pub struct InventoryStream {
    /// The text fed and not yet consumed (UTF-8 checked).
    text: String,
    /// Bytes fed that may be the start of a character cut by the block boundary.
    pending: Vec<u8>,
    /// How much of `text` is consumed.
    pos: usize,
    at: At,
    seen_resources: bool,
    resources: Vec<Resource>,
    /// After a value was cut by the end of the text: the unconsumed length at which to
    /// try it again (twice what it was), so that a value spanning many blocks is parsed
    /// a few times, not once per block (linear, not quadratic, in its size).
    retry_at: usize,
    /// How many values were parsed, whole or cut (tests count the retries).
    #[cfg(test)]
    parses: std::cell::Cell<usize>,
}

impl Default for InventoryStream {
    fn default() -> Self {
        Self::new()
    }
}

/// What parsing one value at the front of the text found.
enum Parsed<T> {
    Value(T, usize),
    NeedMore,
}

impl InventoryStream {
    pub fn new() -> Self {
        Self {
            text: String::new(),
            pending: Vec::new(),
            pos: 0,
            at: At::Open,
            seen_resources: false,
            resources: Vec::new(),
            retry_at: 0,
            #[cfg(test)]
            parses: std::cell::Cell::new(0),
        }
    }

    /// Takes the next block of the document and parses every resource it completes.
    pub fn feed(&mut self, block: &[u8]) -> Result<(), NotStreamed> {
        // What is left unconsumed is one value cut by the block boundary, at most.
        self.text.drain(..self.pos);
        self.pos = 0;
        let block = self.finish_character(block)?;
        let valid = match std::str::from_utf8(block) {
            Ok(all) => all.len(),
            // A character cut at the end of the block: keep its bytes for the next one.
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(NotStreamed),
        };
        let (whole, cut) = block.split_at(valid);
        self.text
            .push_str(std::str::from_utf8(whole).map_err(|_| NotStreamed)?);
        self.pending.extend_from_slice(cut);
        self.advance(false)
    }

    /// Completes a character the last block cut with the first bytes of `block`; the rest
    /// of `block`.
    fn finish_character<'b>(&mut self, block: &'b [u8]) -> Result<&'b [u8], NotStreamed> {
        let Some(&lead) = self.pending.first() else {
            return Ok(block);
        };
        let width = match lead {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        let take = (width - self.pending.len()).min(block.len());
        self.pending.extend_from_slice(&block[..take]);
        if self.pending.len() == width {
            let c = std::str::from_utf8(&self.pending).map_err(|_| NotStreamed)?;
            self.text.push_str(c);
            self.pending.clear();
        }
        Ok(&block[take..])
    }

    /// Ends the document: the resources, once it was whole and of the followed shape.
    pub fn finish(mut self) -> Result<Vec<Resource>, NotStreamed> {
        if !self.pending.is_empty() {
            return Err(NotStreamed);
        }
        self.advance(true)?;
        if self.at != At::Tail {
            return Err(NotStreamed);
        }
        let mut resources = self.resources;
        resources.shrink_to_fit();
        Ok(resources)
    }

    /// Consumes as much of the text as is whole.
    fn advance(&mut self, end: bool) -> Result<(), NotStreamed> {
        if !end && self.text.len() - self.pos < self.retry_at {
            return Ok(());
        }
        self.retry_at = 0;
        loop {
            let rest = &self.text[self.pos..];
            let skipped = rest.len() - rest.trim_start_matches([' ', '\t', '\n', '\r']).len();
            self.pos += skipped;
            let Some(&byte) = self.text.as_bytes().get(self.pos) else {
                return Ok(());
            };
            let punct = |want: u8, next: At| (byte == want).then_some((1, next));
            let step = match self.at {
                At::Open => punct(b'{', At::Key { first: true }),
                At::Key { first: true } if byte == b'}' => Some((1, At::Tail)),
                At::Key { .. } => match self.parse::<String>(end)? {
                    Parsed::NeedMore => return self.wait_for_more(),
                    Parsed::Value(key, len) => {
                        let resources = key == "resources";
                        if resources && self.seen_resources {
                            return Err(NotStreamed); // a duplicate member: serde's error
                        }
                        Some((len, At::Colon { resources }))
                    }
                },
                At::Colon { resources } => punct(b':', At::Value { resources }),
                At::Value { resources: true } => {
                    self.seen_resources = true;
                    punct(b'[', At::Element { first: true })
                }
                At::Value { resources: false } => match self.parse::<IgnoredAny>(end)? {
                    Parsed::NeedMore => return self.wait_for_more(),
                    Parsed::Value(_, len) => Some((len, At::Members)),
                },
                At::Members => match byte {
                    b',' => Some((1, At::Key { first: false })),
                    b'}' => Some((1, At::Tail)),
                    _ => None,
                },
                At::Element { first: true } if byte == b']' => Some((1, At::Members)),
                At::Element { .. } => match self.parse::<Resource>(end)? {
                    Parsed::NeedMore => return self.wait_for_more(),
                    Parsed::Value(resource, len) => {
                        self.resources.push(resource);
                        Some((len, At::Elements))
                    }
                },
                At::Elements => match byte {
                    b',' => Some((1, At::Element { first: false })),
                    b']' => Some((1, At::Members)),
                    _ => None,
                },
                At::Tail => None,
            };
            let (len, next) = step.ok_or(NotStreamed)?;
            self.pos += len;
            self.at = next;
        }
    }

    /// Waits with the value at the front until the unconsumed text has doubled.
    fn wait_for_more(&mut self) -> Result<(), NotStreamed> {
        self.retry_at = 2 * (self.text.len() - self.pos);
        Ok(())
    }

    /// Parses one value at the front of the unconsumed text. A value that reaches the end
    /// of the text fed so far may go on in the next block, so it waits for more unless the
    /// document has ended.
    fn parse<T: DeserializeOwned>(&self, end: bool) -> Result<Parsed<T>, NotStreamed> {
        #[cfg(test)]
        self.parses.set(self.parses.get() + 1);
        let rest = &self.text[self.pos..];
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
        match values.next() {
            Some(Ok(value)) => {
                let len = values.byte_offset();
                if len == rest.len() && !end {
                    Ok(Parsed::NeedMore)
                } else {
                    Ok(Parsed::Value(value, len))
                }
            }
            // A value cut by the end of the text so far: a string, array or object says
            // so (EOF), a number cut after `-`, `.` or `e` is "invalid" at the last byte.
            Some(Err(e)) if !end && (e.is_eof() || offset_of(rest, &e) + 1 >= rest.len()) => {
                Ok(Parsed::NeedMore)
            }
            None if !end => Ok(Parsed::NeedMore),
            _ => Err(NotStreamed),
        }
    }
}

/// The byte offset in `text` of where serde_json's `error` points (line from 1, column
/// the bytes before it on its line).
fn offset_of(text: &str, error: &serde_json::Error) -> usize {
    let start_of_line = match error.line() {
        0 | 1 => 0,
        line => text
            .match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    start_of_line + error.column()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::inventory::parse_inventory;

    /// Feeds `text` in blocks of `size` bytes.
    fn streamed(text: &str, size: usize) -> Result<Vec<Resource>, NotStreamed> {
        let mut stream = InventoryStream::new();
        for block in text.as_bytes().chunks(size.max(1)) {
            stream.feed(block)?;
        }
        stream.finish()
    }

    const DOC: &str = r#" {"note": {"made by": ["a \"tool\"", 1.5e3, null]}, "resources": [
  {"id": "db-0", "kind": "rds", "state": "stopped", "engine": "postgres", "tags": {"ScheduleName": "team-0", "Owner": "Zoë ünï"}},
  {"id": "i-1", "kind": "ec2", "state": "running", "tags": {"Name": "x\u00e9 \\ ]}"}},
  {"id": "web", "kind": "asg", "state": "active", "min": 1, "max": 4, "desired": 2}
 ], "version": 12345}
"#;

    #[test]
    fn every_block_size_reads_what_the_whole_parse_reads() {
        let whole = parse_inventory(DOC, "t.json").expect("the whole parse");
        assert_eq!(whole.len(), 3);
        for size in 1..=DOC.len() {
            assert_eq!(streamed(DOC, size), Ok(whole.clone()), "blocks of {size}");
        }
    }

    #[test]
    fn numbers_cut_after_a_sign_point_or_exponent_wait_for_the_rest() {
        let doc = r#"{"n": -1.5e+3, "resources": [{"id": "w", "kind": "asg", "state": "active", "min": 10, "max": 12}], "m": 2.25}"#;
        let whole = parse_inventory(doc, "t.json").expect("the whole parse");
        for size in 1..=doc.len() {
            assert_eq!(streamed(doc, size), Ok(whole.clone()), "blocks of {size}");
        }
    }

    #[test]
    fn a_value_over_many_blocks_is_parsed_a_few_times_not_once_a_block() {
        let dump = "x".repeat(2 << 20);
        let doc = format!(
            r#"{{"dump": "{dump}", "resources": [{{"id": "i-1", "kind": "ec2", "state": "running"}}]}}"#
        );
        let mut stream = InventoryStream::new();
        for block in doc.as_bytes().chunks(4096) {
            assert_eq!(stream.feed(block), Ok(()));
        }
        // 513 blocks: retried each time the text doubled, about 10 times, not 513.
        let parses = stream.parses.get();
        assert!(parses < 40, "{parses} parses");
        assert_eq!(stream.finish().map(|r| r.len()), Ok(1));
    }

    #[test]
    fn empty_and_missing_resources_are_no_resources() {
        for doc in [r#"{"resources": []}"#, "{}", r#"{"other": 1}"#, "\n{ }\n"] {
            let whole = parse_inventory(doc, "t.json").expect(doc);
            for size in [1, 3, 64] {
                assert_eq!(streamed(doc, size), Ok(whole.clone()), "{doc}");
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_the_whole_parse() {
        let cut = &DOC[..DOC.len() / 2];
        let bad = [
            "",
            cut,
            r#"{"resources": [{"id": "x", "kind": "lambda", "state": "on"}]}"#,
            r#"{"resources": [{"id": "x", "kind": "ec2", "state": "on"},]}"#,
            r#"{"resources": [], "resources": []}"#,
            r#"{"resources": null}"#,
            r#"[{"id": "x", "kind": "ec2", "state": "on"}]"#,
            r#"{"resources": []} {}"#,
            r#"{"resources": [] "x": 1}"#,
            "resources: []",
        ];
        for doc in bad {
            for size in [1, 7, 4096] {
                assert_eq!(
                    streamed(doc, size),
                    Err(NotStreamed),
                    "{doc:?} in blocks of {size}"
                );
            }
        }
        let mut stream = InventoryStream::new();
        let not_utf8 = stream
            .feed(b"{\"resources\": [{\"id\": \"\xff\"")
            .and_then(|()| stream.finish());
        assert_eq!(not_utf8, Err(NotStreamed));
    }

    #[test]
    fn a_character_cut_by_the_last_block_is_not_a_document() {
        let mut stream = InventoryStream::new();
        let cut = "{\"resources\": []}\u{e9}".as_bytes();
        assert_eq!(stream.feed(&cut[..cut.len() - 1]), Ok(()));
        assert_eq!(stream.finish(), Err(NotStreamed));
    }
}
