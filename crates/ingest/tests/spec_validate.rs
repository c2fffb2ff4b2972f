//! Row validation against the base registry and a scheme spec: every error code, several
//! problems per row, rules, messages that never quote the value, and no panics.

use std::sync::Arc;

use chrono::NaiveDate;
use proptest::prelude::*;
use sangam_domain::{Gender, IfscDirectory, LgdDirectory, Relationship, SchemeCodeList};
use sangam_ingest::RawRecord;
use sangam_ingest::spec::{
    CodeListRef, CodeLists, ColumnKind, ColumnSpec, DataSpec, FieldProblem, Operation, ValidRow,
    Validator, Value, base_registry, example_scheme_spec_toml, match_header,
};

use sangam_synth::BASE_REGISTRY_HEADER as HEADER;

/// A valid ID number (Verhoeff check digit correct) and a mobile number.
const ID: &str = "234567890124";
const MOBILE: &str = "9876543210";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 15).expect("date")
}

fn strings(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn good_row() -> Vec<String> {
    strings(&[
        "PY/0012/345",
        "PHH",
        "12",
        "Gandhi Street",
        "Muthialpet",
        "644250",
        "605003",
        "Lakshmi Devi",
        "Murugan",
        "F",
        "12-03-1958",
        "HEAD",
        ID,
        MOBILE,
        "alive",
    ])
}

fn villages() -> Arc<LgdDirectory> {
    let csv = "state_code,district_code,sub_district_code,village_code,village_name\n\
               34,603,5678,644250,Kurumbapet\n34,603,5678,644251,Sulthanpet\n";
    Arc::new(LgdDirectory::from_csv(csv.as_bytes()).expect("lgd"))
}

fn validator_with(villages: Option<Arc<LgdDirectory>>) -> Validator {
    let spec = base_registry();
    let map = match_header(&spec, &strings(HEADER)).expect("header");
    let lists = CodeLists {
        villages,
        ..CodeLists::default()
    };
    Validator::new(spec, map, today(), lists).expect("validator")
}

fn base_validator() -> Validator {
    validator_with(Some(villages()))
}

fn record(fields: Vec<String>) -> RawRecord {
    RawRecord {
        line: 7,
        fields: fields.into(),
    }
}

/// The row with column `column` set to `value`.
fn with(column: &str, value: &str) -> RawRecord {
    let mut fields = good_row();
    let i = HEADER.iter().position(|h| *h == column).expect("column");
    fields[i] = value.to_owned();
    record(fields)
}

fn problems(v: &Validator, r: &RawRecord) -> Vec<FieldProblem> {
    match v.validate(r) {
        Ok(row) => panic!("row accepted: {row:?}"),
        Err(p) => p,
    }
}

fn codes(v: &Validator, r: &RawRecord) -> Vec<(String, String)> {
    problems(v, r)
        .into_iter()
        .map(|p| (p.column, p.code))
        .collect()
}

fn one(column: &str, code: &str) -> Vec<(String, String)> {
    vec![(column.to_owned(), code.to_owned())]
}

#[test]
fn good_row_becomes_typed_values() {
    let v = base_validator();
    let row = v.validate(&record(good_row())).expect("valid");
    assert_eq!(row.line, 7);
    assert_eq!(row.values.len(), v.spec().columns.len());
    assert_eq!(row.id_number().map(|id| id.expose_digits()), Some(ID));
    assert_eq!(row.get("gender"), Some(&Value::Gender(Gender::Female)));
    assert_eq!(
        row.get("relationship"),
        Some(&Value::Relationship(Relationship::Head))
    );
    assert_eq!(row.get("consent_ref"), Some(&Value::Empty), "absent column");
    assert_eq!(row.get("pincode"), Some(&Value::Pincode("605003".into())));
    assert_eq!(
        row.get("ration_card_no").and_then(Value::as_str),
        Some("PY/0012/345")
    );
    assert_eq!(row.get("nope"), None);
    assert_eq!(
        row.record_key(),
        None,
        "the base registry has no record key"
    );
    assert_eq!(row.operation(), None);
    match row.get("mobile") {
        Some(Value::Mobile(m)) => assert_eq!(m.expose_digits(), MOBILE),
        other => panic!("{other:?}"),
    }
    // Debug output of the row masks ID and mobile numbers.
    let shown = format!("{row:?}");
    assert!(!shown.contains(ID) && !shown.contains("98765"), "{shown}");
    assert!(shown.contains("0124") && shown.contains("Lakshmi Devi"));
}

#[test]
fn optional_cells_may_be_empty_or_absent() {
    let v = base_validator();
    let mut fields = good_row();
    for i in [2, 3, 4, 6, 8, 12, 13, 14] {
        fields[i] = "  ".into();
    }
    let row = v.validate(&record(fields)).expect("valid");
    assert_eq!(row.id_number(), None);
    assert_eq!(row.get("mobile"), Some(&Value::Empty));
    // A short record (a CSV row with trailing cells cut off) treats the rest as empty.
    let mut short = good_row();
    short.truncate(12);
    assert!(v.validate(&record(short)).is_ok());
}

#[test]
fn every_base_error_code() {
    let v = base_validator();
    let cases: &[(&str, &str, &str)] = &[
        ("member_name", "", "field.missing"),
        ("ration_card_no", "   ", "field.missing"),
        ("aadhaar", "234567890125", "id_number.checksum"),
        ("aadhaar", "2345678901", "id_number.format"),
        ("aadhaar", "134567890124", "id_number.first_digit"),
        ("dob", "16-06-2024", "dob.in_future"),
        ("dob", "1 March 1958", "dob.format"),
        ("dob", "31-02-1990", "dob.invalid_date"),
        ("dob", "1850", "dob.too_old"),
        ("gender", "X", "gender.unknown"),
        ("relationship", "neighbour", "relationship.unknown"),
        ("village_code", "12345678", "village_code.format"),
        ("village_code", "999999", "village_code.unknown"),
        ("mobile", "12345", "mobile.format"),
        ("card_type", "WHITE CARD!", "card_type.unknown"),
        ("ration_card_no", "PY//12", "ration_card.format"),
        ("pincode", "05001", "pincode.format"),
        ("member_name", "Lakshmi 2", "name.invalid_character"),
        ("relative_name", "1234", "name.invalid_character"),
        ("life_status", "unknown", "life_status.unknown"),
        ("house_no", &"x".repeat(201), "value.too_long"),
    ];
    for (column, value, code) in cases {
        assert_eq!(
            codes(&v, &with(column, value)),
            one(column, code),
            "{column} = {value:?}"
        );
    }
}

#[test]
fn village_codes_without_a_directory_are_checked_for_format_only() {
    let v = validator_with(None);
    assert!(v.validate(&with("village_code", "999999")).is_ok());
    assert_eq!(
        codes(&v, &with("village_code", "0")),
        one("village_code", "village_code.format")
    );
}

#[test]
fn several_problems_in_one_row_are_all_reported() {
    let v = base_validator();
    let mut fields = good_row();
    fields[0] = String::new(); // ration card
    fields[9] = "Q".into(); // gender
    fields[10] = "31/12/2099".into(); // dob
    fields[12] = "234567890125".into(); // aadhaar
    fields[13] = "55555".into(); // mobile
    let found = codes(&v, &record(fields));
    assert_eq!(
        found,
        vec![
            ("ration_card_no".into(), "field.missing".into()),
            ("gender".into(), "gender.unknown".into()),
            ("dob".into(), "dob.in_future".into()),
            ("aadhaar".into(), "id_number.checksum".into()),
            ("mobile".into(), "mobile.format".into()),
        ]
    );
}

#[test]
fn messages_name_the_column_never_the_value() {
    let v = base_validator();
    let bad_id = "234567890125";
    let bad_mobile = "5876543210";
    let mut fields = good_row();
    fields[12] = bad_id.into();
    fields[13] = bad_mobile.into();
    fields[6] = "999".into();
    for p in problems(&v, &record(fields)) {
        assert!(p.message.contains(&format!("`{}`", p.column)), "{p:?}");
        for secret in [bad_id, "23456789", bad_mobile, "58765", "999"] {
            assert!(!p.message.contains(secret), "{p:?}");
        }
        assert!(!format!("{p:?}").contains(bad_id));
    }
    let p = problems(&v, &with("aadhaar", "2345 6789 0125"));
    assert!(!p[0].message.contains("6789"), "{:?}", p[0]);
}

fn pension_validator(today: NaiveDate) -> Validator {
    let spec = DataSpec::from_toml(example_scheme_spec_toml()).expect("spec");
    let header = strings(&[
        "Beneficiary ID",
        "Aadhaar No",
        "Name",
        "Date of Birth",
        "Sex",
        "LGD Village Code",
        "Account No",
        "IFSC Code",
        "Amount",
        "Op",
    ]);
    let map = match_header(&spec, &header).expect("header");
    let lists = CodeLists {
        villages: Some(villages()),
        ..CodeLists::default()
    };
    Validator::new(spec, map, today, lists).expect("validator")
}

fn pension_row(dob: &str, amount: &str, op: &str) -> RawRecord {
    record(strings(&[
        "OAP-000123",
        ID,
        "Ramasamy K",
        dob,
        "M",
        "644251",
        "1234 5678 9012",
        "sbin0001234",
        amount,
        op,
    ]))
}

#[test]
fn scheme_spec_rule_rejects_the_too_young() {
    let v = pension_validator(today());
    let row = v
        .validate(&pension_row("01-01-1950", "1500", "A"))
        .expect("a 74-year-old is eligible");
    assert_eq!(row.record_key(), Some("OAP-000123"));
    assert_eq!(row.operation(), Some(Operation::Add));
    assert_eq!(row.get("pension_amount"), Some(&Value::Decimal(1500.0)));
    match row.get("bank_account") {
        Some(Value::BankAccount(acct)) => assert_eq!(acct.expose_digits(), "123456789012"),
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{row:?}").contains("12345678"),
        "bank digits masked"
    );

    let p = problems(&v, &pension_row("45", "1500", "A"));
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].column, "dob");
    assert_eq!(p[0].code, "rule.old_age");
    assert!(
        p[0].message.contains("60 years old or more"),
        "{}",
        p[0].message
    );
    // Year only: 1964 gives 59 on 15 June 2024 (birthday taken as 1 July).
    assert_eq!(
        codes(&v, &pension_row("1964", "1500", "")),
        one("dob", "rule.old_age")
    );
    assert!(v.validate(&pension_row("60", "1500", "")).is_ok());
    // A bad date is reported once, as a date problem, not as a rule failure too.
    assert_eq!(
        codes(&v, &pension_row("99-99-1950", "1500", "")),
        one("dob", "dob.invalid_date")
    );
}

#[test]
fn scheme_spec_ranges_operations_and_deletes() {
    let v = pension_validator(today());
    assert_eq!(
        codes(&v, &pension_row("1950", "-1", "")),
        one("pension_amount", "value.below_min")
    );
    assert_eq!(
        codes(&v, &pension_row("1950", "200000", "")),
        one("pension_amount", "value.above_max")
    );
    assert_eq!(
        codes(&v, &pension_row("1950", "1,500", "")),
        one("pension_amount", "decimal.format")
    );
    assert_eq!(
        codes(&v, &pension_row("1950", "1500", "upsert")),
        one("operation", "operation.unknown")
    );
    let mut bad_bank = pension_row("1950", "1500", "");
    let mut fields = bad_bank.fields.to_vec();
    fields[6] = "12AB".into();
    fields[7] = "SBIN1234567".into();
    bad_bank.fields = fields.into();
    assert_eq!(
        codes(&v, &bad_bank),
        vec![
            ("bank_account".into(), "bank_account.format".into()),
            ("ifsc".into(), "ifsc.format".into())
        ]
    );
    // A delete row needs only its key; rules are not applied to a record being removed.
    let delete = record(strings(&[
        "OAP-000123",
        "",
        "",
        "30",
        "",
        "",
        "",
        "",
        "",
        "D",
    ]));
    let row = v.validate(&delete).expect("delete with key only");
    assert_eq!(row.operation(), Some(Operation::Delete));
    assert_eq!(row.record_key(), Some("OAP-000123"));
    let no_key = record(strings(&["", "", "", "", "", "", "", "", "", "delete"]));
    assert_eq!(codes(&v, &no_key), one("beneficiary_id", "field.missing"));
    // Other cells are still checked when given.
    let bad = record(strings(&["K1", "1234", "", "", "", "", "", "", "", "D"]));
    assert_eq!(codes(&v, &bad), one("aadhaar", "id_number.format"));
}

#[test]
fn gender_rule_allowed_lists_and_not_empty() {
    let text = r#"
dataset = "widow_pension"
version = 1
title = "Widow pension"
record_key = "id"
[[columns]]
name = "id"
kind = "text"
required = true
max_length = 5
[[columns]]
name = "gender"
kind = "gender"
[[columns]]
name = "relationship"
kind = "relationship"
allowed = ["self", "spouse"]
[[columns]]
name = "district"
kind = "text"
allowed = ["Puducherry", "Karaikal"]
[[columns]]
name = "widow_certificate"
kind = "text"
[[columns]]
name = "children"
kind = "integer"
min = 0
[[rules]]
name = "female"
check = "equals"
column = "gender"
value = "female"
message = "a widow pension is paid to women"
[[rules]]
name = "certificate"
check = "not_empty"
column = "widow_certificate"
message = "the widow certificate number is required"
[[rules]]
name = "few_children"
check = "one_of"
column = "children"
values = ["0", "1", "2", "3"]
message = "at most three children"
"#;
    let spec = DataSpec::from_toml(text).expect("spec");
    let header = strings(&[
        "id",
        "gender",
        "relationship",
        "district",
        "widow_certificate",
        "children",
    ]);
    let map = match_header(&spec, &header).expect("header");
    let v = Validator::new(spec, map, today(), CodeLists::default()).expect("validator");
    let row = |cells: &[&str]| record(strings(cells));
    assert!(
        v.validate(&row(&["w1", "F", "HEAD", "karaikal", "WC-1", "2"]))
            .is_ok()
    );
    assert!(
        v.validate(&row(&["w1", "f", "wife", "PUDUCHERRY", "WC-1", "2.0"]))
            .is_ok()
    );
    assert_eq!(
        codes(&v, &row(&["w1", "M", "HEAD", "Karaikal", "WC-1", "0"])),
        one("gender", "rule.female")
    );
    // Empty gender: the equals rule passes (emptiness is `required`'s business).
    assert!(
        v.validate(&row(&["w1", "", "HEAD", "Karaikal", "WC-1", ""]))
            .is_ok()
    );
    assert_eq!(
        codes(&v, &row(&["w1", "F", "HEAD", "Karaikal", " ", "1"])),
        one("widow_certificate", "rule.certificate")
    );
    assert_eq!(
        codes(&v, &row(&["w1", "F", "SON", "Mahe", "WC", "5"])),
        vec![
            ("relationship".into(), "value.not_allowed".into()),
            ("district".into(), "value.not_allowed".into()),
            ("children".into(), "rule.few_children".into()),
        ]
    );
    let p = problems(&v, &row(&["w1", "F", "HEAD", "Mahe", "WC", "1"]));
    assert!(
        p[0].message.contains("one of: Puducherry, Karaikal"),
        "{p:?}"
    );
    assert!(!p[0].message.contains("Mahe"));
    assert_eq!(
        codes(&v, &row(&["w123456", "F", "HEAD", "Karaikal", "WC", "1"])),
        one("id", "value.too_long")
    );
    assert_eq!(
        codes(&v, &row(&["w1", "F", "HEAD", "Karaikal", "WC", "x"])),
        one("children", "integer.format")
    );
    assert_eq!(
        codes(&v, &row(&["w1", "F", "HEAD", "Karaikal", "WC", "-1"])),
        one("children", "value.below_min")
    );
}

#[test]
fn other_kinds_and_code_lists() {
    let mut spec = DataSpec {
        dataset: "misc".into(),
        version: 1,
        title: "All other kinds".into(),
        record_key: Some("key".into()),
        columns: vec![
            ColumnSpec::new("key", ColumnKind::Text, true),
            ColumnSpec::new("scheme", ColumnKind::SchemeCode, false),
            ColumnSpec::new("district", ColumnKind::DistrictCode, false),
            ColumnSpec::new("sub_district", ColumnKind::SubDistrictCode, false),
            ColumnSpec::new("state", ColumnKind::StateCode, false),
            ColumnSpec::new("paid_on", ColumnKind::Date, false),
            ColumnSpec::new("disabled", ColumnKind::Boolean, false),
            ColumnSpec::new("consent", ColumnKind::ConsentRef, false),
        ],
        rules: Vec::new(),
        update_frequency_days: None,
        exclusive_with: Vec::new(),
        one_per_household: false,
    };
    spec.columns[5].aliases = vec!["Payment Date".into()];
    let header = strings(&[
        "key",
        "scheme",
        "district",
        "sub_district",
        "state",
        "payment date",
        "disabled",
        "consent",
    ]);
    let map = match_header(&spec, &header).expect("header");
    let schemes =
        SchemeCodeList::from_csv("scheme_code,scheme_name\nOAP,Old age pension\n".as_bytes())
            .expect("schemes");
    let lists = CodeLists {
        schemes: Some(Arc::new(schemes)),
        ..CodeLists::default()
    };
    let v = Validator::new(spec, map, today(), lists).expect("validator");
    let row = |cells: &[&str]| record(strings(cells));
    let ok = v
        .validate(&row(&[
            "k",
            "OAP",
            "603",
            "5678",
            "34",
            "01/04/2024",
            "Yes",
            "CF-77",
        ]))
        .expect("valid");
    assert_eq!(
        ok.get("paid_on"),
        Some(&Value::Date(
            NaiveDate::from_ymd_opt(2024, 4, 1).expect("d")
        ))
    );
    assert_eq!(ok.get("disabled"), Some(&Value::Boolean(true)));
    assert_eq!(ok.get("consent").and_then(Value::as_str), Some("CF-77"));
    assert_eq!(
        codes(
            &v,
            &row(&[
                "k",
                "XYZ",
                "6033",
                "56789",
                "100",
                "2024-02-30",
                "maybe",
                "\u{7}"
            ])
        ),
        vec![
            ("scheme".into(), "scheme_code.unknown".into()),
            ("district".into(), "district_code.format".into()),
            ("sub_district".into(), "sub_district_code.format".into()),
            ("state".into(), "state_code.format".into()),
            ("paid_on".into(), "date.invalid_date".into()),
            ("disabled".into(), "boolean.format".into()),
            ("consent".into(), "consent_ref.format".into()),
        ]
    );
}

#[test]
fn an_ifsc_is_checked_against_the_loaded_bank_branches_and_only_its_format_without_them() {
    let spec = DataSpec {
        dataset: "pension".into(),
        version: 1,
        title: "Pension".into(),
        record_key: Some("key".into()),
        columns: vec![
            ColumnSpec::new("key", ColumnKind::Text, true),
            ColumnSpec::new("ifsc", ColumnKind::Ifsc, false),
        ],
        rules: Vec::new(),
        update_frequency_days: None,
        exclusive_with: Vec::new(),
        one_per_household: false,
    };
    assert_eq!(
        spec.columns[1].effective_code_list(),
        Some(CodeListRef::Ifsc),
        "an ifsc column is checked against the branches without saying so"
    );
    let map = match_header(&spec, &strings(&["key", " IFSC "])).expect("header");
    let branches = IfscDirectory::from_csv(
        "BANK,IFSC,BRANCH\nIndian Bank,IDIB000P042,Puducherry\n".as_bytes(),
    )
    .expect("branches");
    let checked = Validator::new(
        spec.clone(),
        map.clone(),
        today(),
        CodeLists {
            ifsc: Some(Arc::new(branches)),
            ..CodeLists::default()
        },
    )
    .expect("validator");
    let unchecked = Validator::new(spec, map, today(), CodeLists::default()).expect("validator");
    let row = |ifsc: &str| record(strings(&["k", ifsc]));
    assert!(checked.validate(&row("idib000p042")).is_ok(), "listed");
    assert_eq!(
        codes(&checked, &row("SBIN0000001")),
        one("ifsc", "ifsc.unknown")
    );
    assert!(
        unchecked.validate(&row("SBIN0000001")).is_ok(),
        "no list loaded: the format is all there is to check"
    );
    for v in [&checked, &unchecked] {
        assert_eq!(codes(v, &row("SBIN1000001")), one("ifsc", "ifsc.format"));
    }
    assert!(checked.validate(&row("")).is_ok(), "optional");
}

#[test]
fn validator_refuses_an_invalid_spec_or_a_foreign_header_map() {
    let mut spec = base_registry();
    let map = match_header(&spec, &strings(HEADER)).expect("header");
    spec.columns[0].aliases.push("Card Type".into());
    let err =
        Validator::new(spec, map.clone(), today(), CodeLists::default()).expect_err("invalid");
    assert!(err.to_string().contains("card_type"), "{err}");
    let scheme = DataSpec::from_toml(example_scheme_spec_toml()).expect("spec");
    assert!(Validator::new(scheme, map, today(), CodeLists::default()).is_err());
}

#[test]
fn validator_and_rows_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Validator>();
    assert_send_sync::<ValidRow>();
    assert_send_sync::<FieldProblem>();
}

fn accepted(v: &Validator, r: &RawRecord) -> Option<ValidRow> {
    v.validate(r).ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validate_never_panics_on_arbitrary_fields(
        fields in proptest::collection::vec(any::<String>(), 0..20),
        line in any::<u64>(),
    ) {
        let v = base_validator();
        let r = RawRecord {
            line,
            fields: fields.into(),
        };
        match v.validate(&r) {
            Ok(row) => prop_assert_eq!(row.values.len(), v.spec().columns.len()),
            Err(problems) => prop_assert!(!problems.is_empty()),
        }
        let p = pension_validator(today());
        let _ = accepted(&p, &r);
    }

    #[test]
    fn plausible_cells_never_panic_and_never_leak(
        column in 0usize..15,
        cell in "[0-9A-Za-z /.+-]{0,20}",
    ) {
        let v = base_validator();
        let mut fields = good_row();
        fields[column] = cell.clone();
        if let Err(problems) = v.validate(&record(fields)) {
            for p in problems {
                let digits: String = cell.chars().filter(char::is_ascii_digit).collect();
                if digits.len() >= 6 {
                    prop_assert!(!p.message.contains(&digits), "{:?}", p);
                }
            }
        }
    }
}

#[test]
fn scheme_rows_may_name_their_record_by_reference_key() {
    let declared = DataSpec::from_toml(example_scheme_spec_toml()).expect("spec");
    assert!(declared.column("ref_key").is_none(), "not declared");
    let spec = declared.clone().with_implicit_columns();
    let implicit = spec
        .column("ref_key")
        .expect("every scheme takes a ref_key");
    assert_eq!(implicit.kind, ColumnKind::RefKey);
    assert!(!implicit.required);
    assert_eq!(implicit.aliases, ["reference_key", "ref_no"]);
    assert_eq!(
        spec.clone().with_implicit_columns(),
        spec,
        "added once: a spec with a reference-key column keeps its own"
    );
    // A department's column that answers to one of the names keeps it.
    let mut taken = declared.clone();
    taken.columns[1].aliases.push("Ref No".into());
    let spec_taken = taken.with_implicit_columns();
    assert_eq!(
        spec_taken.column("ref_key").expect("added").aliases,
        ["reference_key"]
    );
    spec_taken.validate().expect("still a valid spec");

    // A file without the record key column is read when it has the reference-key column.
    let small = DataSpec::from_toml(
        r#"
dataset = "small"
version = 1
title = "Small"
record_key = "id"
[[columns]]
name = "op"
kind = "operation"
[[columns]]
name = "id"
kind = "text"
required = true
[[columns]]
name = "dob"
kind = "dob"
required = true
"#,
    )
    .expect("spec")
    .with_implicit_columns();
    let key = sangam_domain::RefKey::generate();
    let header = strings(&["Op", "DOB", "Reference Key"]);
    let map = match_header(&small, &header).expect("the ref_key column stands for the key");
    let v = Validator::new(small.clone(), map, today(), CodeLists::default()).expect("validator");
    let row = v
        .validate(&record(strings(&["D", "", key.as_str()])))
        .expect("a delete row named by reference key");
    assert_eq!(row.ref_key(), Some(&key));
    assert_eq!(row.record_key(), None);
    assert_eq!(
        row.clone().with_record_key("OAP-7").record_key(),
        Some("OAP-7")
    );
    assert_eq!(
        codes(&v, &record(strings(&["D", "", "not-a-key"]))),
        one("ref_key", "ref_key.format")
    );
    assert_eq!(
        codes(&v, &record(strings(&["M", "", key.as_str()]))),
        one("dob", "field.missing"),
        "a modify row still describes the record"
    );
    let mut undeclared = small.clone();
    undeclared.columns.pop();
    assert!(
        match_header(&undeclared, &header).is_err(),
        "without a reference-key column the record key is missing"
    );
    // With the record key column, an empty key cell is allowed only beside a reference key.
    let header = strings(&["ID", "Op", "DOB", "ref_key"]);
    let map = match_header(&small, &header).expect("header");
    let v = Validator::new(small, map, today(), CodeLists::default()).expect("validator");
    assert!(
        v.validate(&record(strings(&["", "D", "", key.as_str()])))
            .is_ok()
    );
    assert_eq!(
        codes(&v, &record(strings(&["", "D", "", ""]))),
        one("id", "field.missing")
    );
}
