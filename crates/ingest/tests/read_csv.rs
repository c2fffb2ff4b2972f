//! The CSV reader on what departments actually send: BOMs, sniffed delimiters, quoted
//! fields, CRLF, bad rows among good ones, oversized fields, and files too big to hold.

use std::io::{Cursor, Read};

use sangam_ingest::read::{MAX_FIELD_BYTES, ReadError, RecordSource, csv_source};
use sangam_ingest::{RawRecord, RecordError};

fn open(bytes: impl Into<Vec<u8>>) -> Result<Box<dyn RecordSource>, ReadError> {
    csv_source(Cursor::new(bytes.into()))
}

fn all(bytes: impl Into<Vec<u8>>) -> (Vec<String>, Vec<Result<RawRecord, RecordError>>) {
    let source = open(bytes).expect("opens");
    let header = source.header().to_vec();
    (header, source.collect())
}

fn rec(line: u64, fields: &[&str]) -> Result<RawRecord, RecordError> {
    Ok(RawRecord {
        line,
        fields: fields.iter().map(|s| s.to_string()).collect(),
    })
}

#[test]
fn with_and_without_bom() {
    for prefix in ["", "\u{FEFF}"] {
        let (header, rows) = all(format!("{prefix}name,age\nराम,61\n"));
        assert_eq!(header, ["name", "age"]);
        assert_eq!(rows, [rec(2, &["राम", "61"])]);
    }
}

#[test]
fn delimiters_are_sniffed() {
    for d in [",", ";", "\t", "|"] {
        let text = format!("id{d} name {d}village\n1{d}Sita{d}Rampur\n2{d}Ravi{d}\n");
        let (header, rows) = all(text);
        assert_eq!(header, ["id", "name", "village"], "delimiter {d:?}");
        assert_eq!(
            rows,
            [rec(2, &["1", "Sita", "Rampur"]), rec(3, &["2", "Ravi", ""])],
            "delimiter {d:?}"
        );
    }
}

#[test]
fn semicolon_file_with_commas_in_values() {
    let (header, rows) = all("name;address\nSita;\"12, MG Road\"\nRavi;Ward 3, Rampur\n");
    assert_eq!(header, ["name", "address"]);
    assert_eq!(
        rows,
        [
            rec(2, &["Sita", "12, MG Road"]),
            rec(3, &["Ravi", "Ward 3, Rampur"])
        ]
    );
}

#[test]
fn quoted_fields_and_line_numbers() {
    let text = "id,remark,x\r\n\
                1,\"a, b\",z\r\n\
                2,\"she said \"\"hi\"\"\",z\r\n\
                3,\"first line\r\nsecond line\nthird\",z\r\n\
                4,plain,z\r\n";
    let (_, rows) = all(text);
    assert_eq!(
        rows,
        [
            rec(2, &["1", "a, b", "z"]),
            rec(3, &["2", "she said \"hi\"", "z"]),
            rec(4, &["3", "first line\r\nsecond line\nthird", "z"]),
            // Line numbers count physical lines: the record above took three.
            rec(7, &["4", "plain", "z"]),
        ]
    );
}

#[test]
fn crlf_and_lf_and_blank_lines() {
    let (header, rows) = all("a,b\r\n1,2\r\n\r\n3,4\n\n,\n  ,  \n5,6");
    assert_eq!(header, ["a", "b"]);
    assert_eq!(
        rows,
        [
            rec(2, &["1", "2"]),
            rec(4, &["3", "4"]),
            rec(8, &["5", "6"])
        ]
    );
}

#[test]
fn invalid_utf8_rejects_that_row_only() {
    let mut bytes = b"name,age\nSita,30\n".to_vec();
    bytes.extend_from_slice(b"R\xE0\xA4vi,40\n");
    bytes.extend_from_slice(b"Gita,50\n");
    let (_, rows) = all(bytes);
    assert_eq!(
        rows,
        [
            rec(2, &["Sita", "30"]),
            Err(RecordError::InvalidUtf8 { line: 3 }),
            rec(4, &["Gita", "50"]),
        ]
    );
}

/// The record is checked as a whole, so a character whose bytes a delimiter splits (each
/// field invalid, the two together valid) must still be refused.
#[test]
fn a_character_split_by_a_delimiter_rejects_that_row() {
    let mut bytes = b"name,age\n".to_vec();
    // U+00E9 is C3 A9: here C3 ends the first field and A9 begins the second.
    bytes.extend_from_slice(b"Ren\xC3,\xA930\n");
    bytes.extend_from_slice(b"Ren\xC3\xA9e,30\n");
    let (_, rows) = all(bytes);
    assert_eq!(
        rows,
        [
            Err(RecordError::InvalidUtf8 { line: 2 }),
            rec(3, &["Renée", "30"]),
        ]
    );
}

#[test]
fn oversized_field_rejects_that_row_only() {
    let mut text = String::from("id,remark\n1,ok\n2,");
    text.push_str(&"x".repeat(2 * MAX_FIELD_BYTES));
    text.push_str("\n3,ok\n");
    let (_, rows) = all(text);
    assert_eq!(
        rows,
        [
            rec(2, &["1", "ok"]),
            Err(RecordError::FieldTooLarge {
                line: 3,
                column: "remark".into(),
                limit: MAX_FIELD_BYTES
            }),
            rec(4, &["3", "ok"]),
        ]
    );
}

#[test]
fn short_rows_are_padded_long_rows_rejected() {
    let (_, rows) = all("a,b,c\n1\n1,2,3,4\n1,2,3,,\n");
    assert_eq!(
        rows,
        [
            rec(2, &["1", "", ""]),
            Err(RecordError::Malformed {
                line: 3,
                message: "expected 3 fields, found 4".into()
            }),
            // Trailing empty fields, as spreadsheets leave them, are dropped.
            rec(4, &["1", "2", "3"]),
        ]
    );
}

#[test]
fn errors_never_echo_values() {
    let (_, rows) = all("id\n234567890123,9876543210\n");
    let err = rows[0].clone().expect_err("too many fields");
    let text = err.to_string();
    assert!(
        !text.contains("234567890123") && !text.contains("9876543210"),
        "{text}"
    );
}

#[test]
fn header_problems() {
    assert_eq!(open("").err(), Some(ReadError::Empty));
    assert_eq!(open("\u{FEFF}").err(), Some(ReadError::Empty));
    assert_eq!(open("\n\r\n").err(), Some(ReadError::Empty));
    assert_eq!(open(" , ,\n1,2,3\n").err(), Some(ReadError::NoHeader));
    assert_eq!(
        open("Aadhaar,name, aadhaar \n").err(),
        Some(ReadError::DuplicateHeader {
            column: "aadhaar".into()
        })
    );
    assert!(matches!(
        open(b"na\xFFme,age\n".to_vec()).err(),
        Some(ReadError::Malformed { line: 1, .. })
    ));
    // A header alone is a file with no rows, not an error.
    let (header, rows) = all("a,b\n");
    assert_eq!((header.len(), rows.len()), (2, 0));
}

#[test]
fn header_is_trimmed_and_trailing_empty_names_dropped() {
    let (header, rows) = all(" id , name ,,\n1,Sita,,\n");
    assert_eq!(header, ["id", "name"]);
    assert_eq!(rows, [rec(2, &["1", "Sita"])]);
}

#[test]
fn unclosed_quote_stops_with_bounded_memory() {
    // A quote opened on line 3 and never closed, followed by 40 MiB: the reader must give up
    // on the record rather than buffer the rest of the file.
    let head = b"id,remark\n1,ok\n2,\"never closed\n".to_vec();
    let tail = Generated::new(40 << 20, |_| b"0123456789abcdef\n".to_vec());
    let mut source = csv_source(Cursor::new(head).chain(tail)).expect("opens");
    assert_eq!(source.next(), Some(rec(2, &["1", "ok"])));
    match source.next() {
        Some(Err(RecordError::Malformed { line: 3, .. })) => {}
        other => panic!("expected a malformed record on line 3, got {other:?}"),
    }
    assert_eq!(source.next(), None);
    assert!(matches!(
        source.stopped(),
        Some(ReadError::Malformed { line: 3, .. })
    ));
}

#[test]
fn io_error_mid_file_is_reported() {
    struct Breaks(Cursor<Vec<u8>>);
    impl Read for Breaks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::other("connection reset")),
                n => Ok(n),
            }
        }
    }
    let mut body = b"a,b\n".to_vec();
    for i in 0..20_000 {
        body.extend_from_slice(format!("{i},x\n").as_bytes());
    }
    let source = csv_source(Breaks(Cursor::new(body))).expect("opens");
    let mut source = source;
    let mut ok = 0;
    let mut last = None;
    for item in source.by_ref() {
        match item {
            Ok(_) => ok += 1,
            Err(e) => last = Some(e),
        }
    }
    assert_eq!(ok, 20_000);
    assert!(matches!(last, Some(RecordError::Malformed { .. })));
    assert!(matches!(source.stopped(), Some(ReadError::Io(_))));
}

/// Streams `total` bytes made of repeated `chunk(i)` without ever holding them.
struct Generated<F> {
    remaining: usize,
    chunk: F,
    buf: Vec<u8>,
    pos: usize,
    i: u64,
}

impl<F: FnMut(u64) -> Vec<u8>> Generated<F> {
    fn new(total: usize, chunk: F) -> Self {
        Generated {
            remaining: total,
            chunk,
            buf: Vec::new(),
            pos: 0,
            i: 0,
        }
    }
}

impl<F: FnMut(u64) -> Vec<u8>> Read for Generated<F> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        if self.pos == self.buf.len() {
            self.buf = (self.chunk)(self.i);
            self.i += 1;
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos).min(self.remaining);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n;
        Ok(n)
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use sangam_ingest::read::{detect_format, jsonl_source};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Whatever is written (quotes, delimiters, CR and LF inside values, CRLF or LF line
        /// ends, blank lines between records) reads back as written, each record with the
        /// physical line it starts on.
        #[test]
        fn written_records_read_back_with_their_lines(
            records in proptest::collection::vec(
                ("[a-z,\"\r\n ]{0,6}", "[a-z,;\"\r\n ]{0,6}", "[a-zअ-ह,|\"\r\n ]{0,6}", 0usize..3, any::<bool>()),
                1..20,
            ),
            crlf in any::<bool>(),
        ) {
            let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut file = b"a,b,c".to_vec();
            file.extend_from_slice(end);
            let mut expected = Vec::new();
            for (a, b, c, blanks, blank_crlf) in &records {
                for _ in 0..*blanks {
                    file.extend_from_slice(if *blank_crlf { b"\r\n" } else { b"\n" });
                }
                let line = 1 + file.iter().filter(|&&b| b == b'\n').count() as u64;
                // The first value is never blank, so that no record is skipped as empty.
                let fields = vec![format!("x{a}"), b.clone(), c.clone()];
                let mut writer = csv::WriterBuilder::new()
                    .terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') })
                    .from_writer(Vec::new());
                writer.write_record(&fields).expect("writes");
                file.extend_from_slice(&writer.into_inner().expect("flushes"));
                expected.push(Ok(RawRecord { line, fields: fields.into() }));
            }
            let (header, rows) = all(file);
            prop_assert_eq!(header, ["a", "b", "c"]);
            prop_assert_eq!(rows, expected);
        }

        /// No input makes a reader panic: every byte string either fails to open with a
        /// reason or reads to the end.
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = detect_format(Some("x.csv"), &bytes);
            if let Ok(source) = csv_source(Cursor::new(bytes.clone())) {
                for item in source {
                    let _ = item;
                }
            }
            if let Ok(source) = jsonl_source(Cursor::new(bytes)) {
                for item in source {
                    let _ = item;
                }
            }
        }

        /// Text-like input, which gets further into the parsers than random bytes.
        #[test]
        fn any_text_never_panics(text in "[a-z0-9,;|\t\"{}:\\[\\]\r\n ]{0,300}") {
            if let Ok(source) = csv_source(Cursor::new(text.clone().into_bytes())) {
                for item in source {
                    let _ = item;
                }
            }
            if let Ok(source) = jsonl_source(Cursor::new(text.into_bytes())) {
                for item in source {
                    let _ = item;
                }
            }
        }
    }
}
