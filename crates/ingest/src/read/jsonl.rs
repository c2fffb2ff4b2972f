//! The JSON Lines reader: one JSON object per line, read line by line into a reused buffer.
//!
//! The header is the keys of the first object, in the order the file gives them (a custom
//! visitor keeps the order, since `serde_json` here is built without `preserve_order`). Each
//! object's values are then placed by key: a missing key gives an empty value; a key the
//! first object did not have, or the same key twice, rejects the line, since its value
//! would otherwise be silently lost. Keys are matched ignoring case and surrounding spaces,
//! as header names are.
//!
//! Values become text: strings as they are, numbers as their digits (never with an
//! exponent), booleans as `true`/`false`, null as empty. Arrays and objects reject the line:
//! a record is flat. Integers beyond 64 bits lose precision (`serde_json` reads them as
//! floating point); ID and phone numbers should be sent as strings anyway.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Cursor, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{
    MAX_FIELD_BYTES, MAX_RECORD_BYTES, ReadError, RecordSource, check_header, read_head, strip_bom,
};
use crate::{RawRecord, RecordError};

/// Opens a JSON Lines stream. The first object is read now for the header (and is also the
/// first record); the rest as the returned source is iterated.
pub fn jsonl_source<R: Read + Send + 'static>(
    mut reader: R,
) -> Result<Box<dyn RecordSource>, ReadError> {
    let head = read_head(&mut reader, 3)?;
    let bom = head.len() - strip_bom(&head).len();
    let mut start = Cursor::new(head);
    start.set_position(bom as u64);
    let mut lines = LineReader {
        input: BufReader::with_capacity(64 * 1024, start.chain(reader)),
        buf: Vec::with_capacity(4096),
        line: 0,
    };

    // The first non-blank line decides the columns, so it must be an object.
    let (line, first) = loop {
        match lines.next_line() {
            Err(e) => return Err(ReadError::Io(e.to_string())),
            Ok(None) => return Err(ReadError::Empty),
            Ok(Some(Line::TooLong)) => {
                return Err(ReadError::Malformed {
                    line: lines.line,
                    message: line_too_long(),
                });
            }
            Ok(Some(Line::Text)) => {
                if is_blank(&lines.buf) {
                    continue;
                }
                match parse_object(&lines.buf) {
                    Ok(pairs) => break (lines.line, pairs),
                    Err(e) => {
                        return Err(ReadError::Malformed {
                            line: lines.line,
                            message: e.message(),
                        });
                    }
                }
            }
        }
    };
    let header = check_header(first.iter().map(|(k, _)| k.clone()).collect())?;
    // check_header drops trailing empty names; an object whose keys are all "" has none left.
    let index = header
        .iter()
        .enumerate()
        .map(|(i, k)| (key_for_lookup(k), i))
        .collect();
    let mut source = JsonlSource {
        lines,
        header,
        index,
        pending: None,
        stopped: None,
        done: false,
    };
    source.pending = Some(source.place(line, first));
    Ok(Box::new(source))
}

struct JsonlSource<R> {
    lines: LineReader<R>,
    header: Vec<String>,
    /// Header position by normalised key.
    index: HashMap<String, usize>,
    /// The first record, read early for the header.
    pending: Option<Result<RawRecord, RecordError>>,
    stopped: Option<ReadError>,
    done: bool,
}

impl<R: Read + Send> RecordSource for JsonlSource<R> {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn stopped(&self) -> Option<&ReadError> {
        self.stopped.as_ref()
    }
}

impl<R: Read> Iterator for JsonlSource<R> {
    type Item = Result<RawRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(first) = self.pending.take() {
            return Some(first);
        }
        while !self.done {
            let read = self.lines.next_line();
            let line = self.lines.line;
            match read {
                Ok(None) => self.done = true,
                Ok(Some(Line::TooLong)) => {
                    return Some(Err(RecordError::Malformed {
                        line,
                        message: line_too_long(),
                    }));
                }
                Ok(Some(Line::Text)) => {
                    if is_blank(&self.lines.buf) {
                        continue;
                    }
                    let item = match parse_object(&self.lines.buf) {
                        Ok(pairs) => self.place(line, pairs),
                        Err(LineProblem::NotUtf8) => Err(RecordError::InvalidUtf8 { line }),
                        Err(e) => Err(RecordError::Malformed {
                            line,
                            message: e.message(),
                        }),
                    };
                    self.lines.shrink();
                    return Some(item);
                }
                Err(e) => {
                    self.done = true;
                    self.stopped = Some(ReadError::Io(e.to_string()));
                    return Some(Err(RecordError::Malformed {
                        line: line + 1,
                        message: "the file could not be read past this line; reading stopped"
                            .into(),
                    }));
                }
            }
        }
        None
    }
}

impl<R> JsonlSource<R> {
    /// Places an object's values in header order.
    fn place(&self, line: u64, pairs: Vec<(String, Value)>) -> Result<RawRecord, RecordError> {
        let mut fields = vec![None; self.header.len()];
        for (key, value) in pairs {
            let Some(&i) = self.index.get(&key_for_lookup(&key)) else {
                return Err(RecordError::Malformed {
                    line,
                    message: format!("unknown key {:?}: it is not in the first line", short(&key)),
                });
            };
            if fields[i].is_some() {
                return Err(RecordError::Malformed {
                    line,
                    message: format!("the key {:?} appears more than once", short(&key)),
                });
            }
            let text = match value {
                Value::Null => String::new(),
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => number_text(&n),
                Value::String(s) => s,
                Value::Array(_) | Value::Object(_) => {
                    return Err(RecordError::Malformed {
                        line,
                        message: format!(
                            "the value of {:?} is a list or an object; values must be flat",
                            short(&key)
                        ),
                    });
                }
            };
            if text.len() > MAX_FIELD_BYTES {
                return Err(RecordError::FieldTooLarge {
                    line,
                    column: self.header[i].clone(),
                    limit: MAX_FIELD_BYTES,
                });
            }
            fields[i] = Some(text);
        }
        Ok(RawRecord {
            line,
            fields: fields.into_iter().map(Option::unwrap_or_default).collect(),
        })
    }
}

/// Numbers as their digits. Integers are exact; other numbers use Rust's shortest
/// round-trip form, which never has an exponent (1e20 reads as 100000000000000000000).
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        i.to_string()
    } else if let Some(u) = n.as_u64() {
        u.to_string()
    } else {
        n.as_f64().map(|f| f.to_string()).unwrap_or_default()
    }
}

/// A key as named in a message: cut short, since a line may carry any key at all.
fn short(key: &str) -> &str {
    match key.char_indices().nth(64) {
        Some((i, _)) => &key[..i],
        None => key,
    }
}

fn key_for_lookup(key: &str) -> String {
    key.trim().to_lowercase()
}

fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

fn line_too_long() -> String {
    format!("the line is longer than {MAX_RECORD_BYTES} bytes")
}

/// Why a line is not an object. Messages name the problem and where, never the text.
#[derive(Debug)]
enum LineProblem {
    NotUtf8,
    NotObject,
    Syntax { column: usize },
}

impl LineProblem {
    fn message(&self) -> String {
        match self {
            LineProblem::NotUtf8 => "the text is not valid UTF-8".into(),
            LineProblem::NotObject => "the line is not a JSON object".into(),
            LineProblem::Syntax { column } => {
                format!("the line is not valid JSON (at character {column})")
            }
        }
    }
}

fn parse_object(line: &[u8]) -> Result<Vec<(String, Value)>, LineProblem> {
    let text = std::str::from_utf8(line).map_err(|_| LineProblem::NotUtf8)?;
    match serde_json::from_str::<TopLevel>(text) {
        Ok(TopLevel::Object(pairs)) => Ok(pairs),
        Ok(TopLevel::Other) => Err(LineProblem::NotObject),
        // Only syntax can fail here: the visitor accepts every kind of value. The error's
        // own text is not used, as it may quote the line.
        Err(e) => Err(LineProblem::Syntax { column: e.column() }),
    }
}

/// A line's top-level value: an object's pairs in file order, or anything else.
enum TopLevel {
    Object(Vec<(String, Value)>),
    Other,
}

impl<'de> de::Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(16).min(1024));
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed)?;
            pairs.push((key, value));
        }
        Ok(TopLevel::Object(pairs))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }

    fn visit_none<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other)
    }
}

/// Reads a value as `serde_json::Value`: nested values are rejected later, but must parse.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        de::Deserialize::deserialize(deserializer)
    }
}

/// What one call to [`LineReader::next_line`] found.
enum Line {
    /// A line, in the reader's buffer, without its line end.
    Text,
    /// A line over [`MAX_RECORD_BYTES`], skipped to its end without keeping it.
    TooLong,
}

/// Reads lines into one reused buffer, never holding more than [`MAX_RECORD_BYTES`] of one
/// line: `read_until` alone would buffer a line of any length.
struct LineReader<R> {
    input: BufReader<R>,
    buf: Vec<u8>,
    /// The number of the line last read (1-based).
    line: u64,
}

impl<R: Read> LineReader<R> {
    fn next_line(&mut self) -> std::io::Result<Option<Line>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (chunk, found_end) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > MAX_RECORD_BYTES {
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let used = chunk.len() + usize::from(found_end);
            self.input.consume(used);
            if found_end {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line += 1;
        if too_long {
            self.shrink();
            return Ok(Some(Line::TooLong));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text))
    }

    /// Gives back the memory of an outsized line rather than keep it for the rest of the file.
    fn shrink(&mut self) {
        if self.buf.capacity() > 4 * MAX_FIELD_BYTES {
            self.buf = Vec::with_capacity(4096);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_rejects_non_objects() {
        let pairs = parse_object(br#"{"z": 1, "a": "x", "m": null}"#)
            .map(|p| p.into_iter().map(|(k, _)| k).collect::<Vec<_>>());
        assert_eq!(pairs.ok(), Some(vec!["z".into(), "a".into(), "m".into()]));
        assert!(matches!(
            parse_object(b"[1, 2]"),
            Err(LineProblem::NotObject)
        ));
        assert!(matches!(
            parse_object(b"\"x\""),
            Err(LineProblem::NotObject)
        ));
        assert!(matches!(
            parse_object(b"{\"a\": "),
            Err(LineProblem::Syntax { .. })
        ));
        assert!(matches!(parse_object(b"\xff{}"), Err(LineProblem::NotUtf8)));
    }

    #[test]
    fn syntax_messages_do_not_quote_the_line() {
        let Err(e) = parse_object(br#"{"id": 234567890123x}"#) else {
            panic!("should not parse");
        };
        assert!(!e.message().contains("234567890123"));
    }

    #[test]
    fn numbers_never_use_exponents() {
        let n = |s: &str| match serde_json::from_str::<Value>(s) {
            Ok(Value::Number(n)) => number_text(&n),
            _ => String::new(),
        };
        assert_eq!(n("234567890123"), "234567890123");
        assert_eq!(n("-5"), "-5");
        assert_eq!(n("18446744073709551615"), "18446744073709551615");
        assert_eq!(n("1.5"), "1.5");
        assert_eq!(n("1e20"), "100000000000000000000");
    }
}
