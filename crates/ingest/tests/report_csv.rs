//! The CSV rejection report and the general safe CSV writer: they parse back as written, open
//! in Excel as UTF-8, and never carry a formula.

use proptest::prelude::*;
use sangam_ingest::report::{
    RejectedRow, RejectionCsvWriter, ReportError, RowProblem, SafeCsvWriter, neutralise,
};

const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn problem(column: Option<&str>, code: &str, message: &str) -> RowProblem {
    RowProblem {
        column: column.map(str::to_owned),
        code: code.into(),
        message: message.into(),
    }
}

fn parse(bytes: &[u8]) -> Vec<Vec<String>> {
    let text = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("starts with a BOM");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text)
        .records()
        .map(|r| r.expect("parses").iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn neutralise_cases() {
    assert_eq!(neutralise("=SUM(A1)"), "'=SUM(A1)");
    assert_eq!(neutralise("+919876543210"), "'+919876543210");
    assert_eq!(neutralise("-1"), "'-1");
    assert_eq!(neutralise("@x"), "'@x");
    assert_eq!(neutralise("\t="), "'\t=");
    assert_eq!(neutralise("\r=1"), "'\r=1");
    assert_eq!(neutralise("सीता देवी"), "सीता देवी");
    assert_eq!(neutralise("a=b"), "a=b");
    assert_eq!(neutralise(""), "");
}

proptest! {
    #[test]
    fn neutralised_never_starts_a_formula(x in any::<String>()) {
        let once = neutralise(&x);
        prop_assert!(!once.starts_with(FORMULA_STARTS));
        prop_assert_eq!(neutralise(&once), once.clone());
    }

    #[test]
    fn neutralised_formula_like_strings(x in "[=+@\t\r-][ -~]{0,20}") {
        let once = neutralise(&x);
        prop_assert_eq!(once.as_ref(), format!("'{x}"));
        prop_assert_eq!(neutralise(&once), once.clone());
    }
}

#[test]
fn rejection_report_round_trips_and_is_safe() {
    let header: Vec<String> = ["id_number", "name", "mobile", "remark"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut writer = RejectionCsvWriter::new(Vec::new(), &header).expect("starts");
    writer
        .write(&RejectedRow {
            line: 2,
            fields: vec![
                "234567890123".into(),
                "=HYPERLINK(\"http://x\",\"y\")".into(),
                "+919876543210".into(),
                "line one\nline, \"two\"".into(),
            ],
            errors: vec![
                problem(
                    Some("id_number"),
                    "id_number.checksum",
                    "the checksum is wrong",
                ),
                problem(Some("mobile"), "mobile.format", "10 digits expected"),
            ],
        })
        .expect("writes");
    writer
        .write(&RejectedRow {
            line: 3,
            fields: vec!["@cmd".into(), "सीता".into()],
            errors: vec![problem(None, "row.duplicate_in_file", "-same as line 2")],
        })
        .expect("writes");
    // A row that could not be read at all has no values, only its line and reason.
    writer
        .write(&RejectedRow {
            line: 9,
            fields: vec![],
            errors: vec![problem(
                None,
                "row.invalid_utf8",
                "the text is not valid UTF-8",
            )],
        })
        .expect("writes");
    assert_eq!(writer.rows(), 3);
    let bytes = writer.finish().expect("finishes");

    assert!(bytes.starts_with(
        b"\xEF\xBB\xBFid_number,name,mobile,remark,line,error_codes,error_messages\r\n"
    ));
    let rows = parse(&bytes);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[0],
        [
            "id_number",
            "name",
            "mobile",
            "remark",
            "line",
            "error_codes",
            "error_messages"
        ]
    );
    assert_eq!(
        rows[1],
        [
            "234567890123",
            "'=HYPERLINK(\"http://x\",\"y\")",
            "'+919876543210",
            "line one\nline, \"two\"",
            "2",
            "id_number.checksum; mobile.format",
            "id_number: the checksum is wrong; mobile: 10 digits expected",
        ]
    );
    assert_eq!(
        rows[2],
        [
            "'@cmd",
            "सीता",
            "",
            "",
            "3",
            "row.duplicate_in_file",
            "'-same as line 2"
        ]
    );
    assert_eq!(
        rows[3],
        [
            "",
            "",
            "",
            "",
            "9",
            "row.invalid_utf8",
            "the text is not valid UTF-8"
        ]
    );
    for cell in rows.iter().flatten() {
        assert!(!cell.starts_with(FORMULA_STARTS), "{cell:?}");
    }
}

#[test]
fn header_cells_are_neutralised_too_and_clashes_avoided() {
    let header = vec!["=cmd".to_string(), "line".to_string()];
    let bytes = RejectionCsvWriter::new(Vec::new(), &header)
        .expect("starts")
        .finish()
        .expect("finishes");
    let rows = parse(&bytes);
    assert_eq!(
        rows,
        [["'=cmd", "line", "_line", "error_codes", "error_messages"]]
    );
}

#[test]
fn safe_writer() {
    let mut writer = SafeCsvWriter::new(Vec::new(), &["record_key", "reference_key", "id_masked"])
        .expect("starts");
    writer
        .write_row(&["-42", "RK-1", "XXXX-XXXX-0123"])
        .expect("writes");
    let owned = vec!["=1+1".to_string(), "RK-2".to_string(), "".to_string()];
    writer.write_row(&owned).expect("writes");
    assert_eq!(
        writer.write_row(&["too", "few"]),
        Err(ReportError::FieldCount {
            expected: 3,
            found: 2
        })
    );
    let bytes = writer.finish().expect("finishes");
    assert_eq!(
        String::from_utf8(bytes).expect("UTF-8"),
        "\u{FEFF}record_key,reference_key,id_masked\r\n'-42,RK-1,XXXX-XXXX-0123\r\n'=1+1,RK-2,\r\n"
    );

    let mut plain = SafeCsvWriter::without_bom(Vec::new(), &["a"]).expect("starts");
    plain.write_row(&["@b"]).expect("writes");
    assert_eq!(plain.finish().expect("finishes"), b"a\r\n'@b\r\n");
}
