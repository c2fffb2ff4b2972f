//! The JSON Lines reader: the header from the first object, values placed by key, and every
//! kind of bad line rejected on its own line.

use std::io::Cursor;

use sangam_ingest::read::{ReadError, RecordSource, jsonl_source};
use sangam_ingest::{RawRecord, RecordError};

fn open(text: impl Into<Vec<u8>>) -> Result<Box<dyn RecordSource>, ReadError> {
    jsonl_source(Cursor::new(text.into()))
}

fn rec(line: u64, fields: &[&str]) -> Result<RawRecord, RecordError> {
    Ok(RawRecord {
        line,
        fields: fields.iter().map(|s| s.to_string()).collect(),
    })
}

fn malformed(item: &Result<RawRecord, RecordError>) -> (u64, String) {
    match item {
        Err(RecordError::Malformed { line, message }) => (*line, message.clone()),
        other => panic!("expected a malformed line, got {other:?}"),
    }
}

#[test]
fn header_keeps_the_files_key_order_and_values_follow_it() {
    let text = "{\"name\": \"Sita\", \"id_number\": \"234567890123\", \"age\": 61}\n\
                {\"age\": 40, \"name\": \"Ravi\", \"id_number\": \"345678901234\"}\n";
    let source = open(text).expect("opens");
    assert_eq!(source.header(), ["name", "id_number", "age"]);
    let rows: Vec<_> = source.collect();
    assert_eq!(
        rows,
        [
            rec(1, &["Sita", "234567890123", "61"]),
            rec(2, &["Ravi", "345678901234", "40"]),
        ]
    );
}

#[test]
fn numbers_booleans_and_null() {
    let text = "{\"id\": 234567890123, \"mobile\": 9876543210, \"share\": 0.25, \"big\": 1e21, \
                \"neg\": -7, \"widow\": true, \"disabled\": false, \"remark\": null}\n\
                {\"id\": 1}\n";
    let rows: Vec<_> = open(text).expect("opens").collect();
    assert_eq!(
        rows,
        [
            rec(
                1,
                &[
                    "234567890123",
                    "9876543210",
                    "0.25",
                    "1000000000000000000000",
                    "-7",
                    "true",
                    "false",
                    ""
                ]
            ),
            // Missing keys read as empty values.
            rec(2, &["1", "", "", "", "", "", "", ""]),
        ]
    );
}

#[test]
fn bad_lines_are_rejected_each_on_its_line() {
    let mut text = b"{\"a\": \"1\", \"b\": \"2\"}\n".to_vec();
    text.extend_from_slice(b"[1, 2]\n"); // 2: not an object
    text.extend_from_slice(b"{\"a\": \"1\", \n"); // 3: invalid JSON
    text.extend_from_slice(b"{\"a\": \"1\", \"c\": \"9876543210\"}\n"); // 4: unknown key
    text.extend_from_slice(b"{\"a\": [1]}\n"); // 5: nested
    text.extend_from_slice(b"{\"a\": \"\xFF\"}\n"); // 6: invalid UTF-8
    text.extend_from_slice(b"{\"a\": \"1\", \"A\": \"2\"}\n"); // 7: the same key twice
    text.extend_from_slice(b"\n   \n"); // 8, 9: blank
    text.extend_from_slice(b"{\"b\": \"ok\"}"); // 10: fine, no final newline
    let rows: Vec<_> = open(text).expect("opens").collect();
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[0], rec(1, &["1", "2"]));
    assert_eq!(
        malformed(&rows[1]),
        (2, "the line is not a JSON object".into())
    );
    let (line, message) = malformed(&rows[2]);
    assert_eq!(line, 3);
    assert!(
        message.starts_with("the line is not valid JSON"),
        "{message}"
    );
    let (line, message) = malformed(&rows[3]);
    assert_eq!(line, 4);
    assert!(message.contains("unknown key \"c\""), "{message}");
    assert!(!message.contains("9876543210"), "{message}");
    assert_eq!(malformed(&rows[4]).0, 5);
    assert_eq!(rows[5], Err(RecordError::InvalidUtf8 { line: 6 }));
    assert_eq!(malformed(&rows[6]).0, 7);
    assert_eq!(rows[7], rec(10, &["", "ok"]));
}

#[test]
fn crlf_and_bom() {
    let rows: Vec<_> = open("\u{FEFF}{\"a\":\"x\"}\r\n{\"a\":\"y\"}\r\n")
        .expect("opens")
        .collect();
    assert_eq!(rows, [rec(1, &["x"]), rec(2, &["y"])]);
}

#[test]
fn first_line_problems_are_file_errors() {
    assert_eq!(open("").err(), Some(ReadError::Empty));
    assert_eq!(open("\n\n").err(), Some(ReadError::Empty));
    assert_eq!(open("{}\n").err(), Some(ReadError::NoHeader));
    assert_eq!(
        open("\n{\"a\": 1, \"a\": 2}\n").err(),
        Some(ReadError::DuplicateHeader { column: "a".into() })
    );
    assert!(matches!(
        open("\n[1]\n").err(),
        Some(ReadError::Malformed { line: 2, .. })
    ));
}

#[test]
fn oversized_values() {
    let big = "x".repeat(2 << 20);
    let text = format!("{{\"a\":\"1\",\"b\":\"2\"}}\n{{\"a\":\"{big}\"}}\n{{\"b\":\"3\"}}\n");
    let rows: Vec<_> = open(text).expect("opens").collect();
    assert_eq!(
        rows,
        [
            rec(1, &["1", "2"]),
            Err(RecordError::FieldTooLarge {
                line: 2,
                column: "a".into(),
                limit: 1 << 20
            }),
            rec(3, &["", "3"]),
        ]
    );
}

#[test]
fn overlong_line_is_skipped_and_reading_goes_on() {
    let big = "x".repeat(20 << 20);
    let text = format!("{{\"a\":\"1\"}}\n{{\"a\":\"{big}\"}}\n{{\"a\":\"2\"}}\n");
    let mut source = open(text).expect("opens");
    assert_eq!(source.next(), Some(rec(1, &["1"])));
    assert_eq!(malformed(&source.next().expect("a row")).0, 2);
    assert_eq!(source.next(), Some(rec(3, &["2"])));
    assert_eq!(source.next(), None);
    assert!(source.stopped().is_none());
}
