//! Format detection and the openers: the content decides, the extension must agree, and
//! binary garbage is refused before any reader sees it.

use std::io::Cursor;

use sangam_ingest::read::{Format, ReadError, detect_format, open_file, open_reader};

/// Bytes that look like nothing in particular, NULs included (a small xorshift, so the test
/// needs no random source and always sees the same bytes).
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn small_workbook() -> Vec<u8> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "name").expect("writes");
    sheet.write_string(1, 0, "Sita").expect("writes");
    workbook.save_to_buffer().expect("saves")
}

#[test]
fn content_decides() {
    assert_eq!(detect_format(None, b"a,b\n"), Ok(Format::Csv));
    assert_eq!(detect_format(None, b"\xEF\xBB\xBFa;b\n"), Ok(Format::Csv));
    assert_eq!(
        detect_format(None, b"\n  {\"a\": 1}\n"),
        Ok(Format::JsonLines)
    );
    assert_eq!(detect_format(None, &small_workbook()), Ok(Format::Xlsx));
    assert_eq!(detect_format(Some("data.CSV"), b"a,b\n"), Ok(Format::Csv));
    assert_eq!(detect_format(Some("data.tsv"), b"a\tb\n"), Ok(Format::Csv));
    assert_eq!(
        detect_format(Some("data.ndjson"), b"{}"),
        Ok(Format::JsonLines)
    );
}

#[test]
fn binary_garbage_is_refused() {
    let bytes = garbage(8192);
    assert!(bytes.contains(&0));
    assert_eq!(detect_format(None, &bytes), Err(ReadError::Binary));
    assert_eq!(detect_format(Some("x.csv"), &bytes), Err(ReadError::Binary));
    // Garbage without NULs is refused too: most of it is not text.
    let no_nul: Vec<u8> = bytes.iter().map(|&b| b.max(1)).collect();
    assert_eq!(detect_format(None, &no_nul), Err(ReadError::Binary));
    // And the openers refuse it before reading.
    assert_eq!(
        open_reader(Some("x.csv"), Cursor::new(bytes)).err(),
        Some(ReadError::Binary)
    );
}

#[test]
fn extension_must_agree() {
    assert_eq!(
        detect_format(Some("ration_cards.csv"), &small_workbook()),
        Err(ReadError::ExtensionMismatch {
            extension: "csv".into(),
            detected: Format::Xlsx
        })
    );
    assert_eq!(
        detect_format(Some("ration_cards.xlsx"), b"card_no,name\n1,Sita\n"),
        Err(ReadError::ExtensionMismatch {
            extension: "xlsx".into(),
            detected: Format::Csv
        })
    );
    assert_eq!(
        detect_format(Some("x.jsonl"), b"a,b\n"),
        Err(ReadError::ExtensionMismatch {
            extension: "jsonl".into(),
            detected: Format::Csv
        })
    );
    let message = detect_format(Some("ration_cards.csv"), &small_workbook())
        .expect_err("mismatch")
        .to_string();
    assert_eq!(message, "the file is named .csv but its content is XLSX");
}

#[test]
fn empty_input() {
    assert_eq!(detect_format(Some("x.csv"), b""), Err(ReadError::Empty));
    assert_eq!(
        open_reader(Some("x.csv"), Cursor::new(Vec::new())).err(),
        Some(ReadError::Empty)
    );
}

#[test]
fn open_reader_sniffs_without_losing_the_head() {
    let (format, source) =
        open_reader(Some("upload"), Cursor::new(b"a|b\n1|2\n".to_vec())).expect("opens");
    assert_eq!(format, Format::Csv);
    assert_eq!(source.header(), ["a", "b"]);
    let rows: Vec<_> = source.map(|r| r.expect("reads").fields).collect();
    assert_eq!(rows, [["1", "2"]]);

    let (format, source) =
        open_reader(None, Cursor::new(b"{\"a\":1}\n{\"a\":2}\n".to_vec())).expect("opens");
    assert_eq!(format, Format::JsonLines);
    assert_eq!(source.count(), 2);

    assert_eq!(
        open_reader(Some("x.xlsx"), Cursor::new(small_workbook())).err(),
        Some(ReadError::NeedsFile)
    );
}

#[test]
fn open_file_opens_each_format() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cases: [(&str, Vec<u8>, Format); 3] = [
        ("a.csv", b"name\nSita\n".to_vec(), Format::Csv),
        (
            "a.jsonl",
            b"{\"name\":\"Sita\"}\n".to_vec(),
            Format::JsonLines,
        ),
        ("a.xlsx", small_workbook(), Format::Xlsx),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("writes");
        let (format, source) = open_file(&path, None).expect("opens");
        assert_eq!(format, expected);
        assert_eq!(source.header(), ["name"]);
        let rows: Vec<_> = source.map(|r| r.expect("reads").fields).collect();
        assert_eq!(rows, [["Sita"]], "{name}");
    }
    assert!(matches!(
        open_file(&dir.path().join("missing.csv"), None),
        Err(ReadError::Io(_))
    ));
}
