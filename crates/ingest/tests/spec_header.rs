//! Header matching: aliases, odd spelling and spacing, missing, ambiguous and unknown columns.

use sangam_ingest::spec::{HeaderError, base_registry, match_header, normalise_header};

fn header(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn position(map: &sangam_ingest::spec::HeaderMap, column: &str) -> Option<usize> {
    let spec = base_registry();
    map.position(spec.column_index(column).expect("spec column"))
}

#[test]
fn normalisation_ignores_case_spacing_and_punctuation() {
    assert_eq!(normalise_header("Ration Card No."), "rationcardno");
    assert_eq!(normalise_header(" AADHAAR_NO "), "aadhaarno");
    assert_eq!(normalise_header("Father/Husband Name"), "fatherhusbandname");
    assert_eq!(normalise_header("\u{feff}Date-of-Birth"), "dateofbirth");
}

#[test]
fn synth_csv_header_maps_fully() {
    // The header the synthetic generator writes (and `sangam synth` produces).
    let synth = header(sangam_synth::BASE_REGISTRY_HEADER);
    let spec = base_registry();
    let map = match_header(&spec, &synth).expect("maps");
    assert!(map.unknown.is_empty(), "{:?}", map.unknown);
    assert_eq!(map.file_width, 15);
    for (i, name) in synth.iter().enumerate() {
        assert_eq!(position(&map, name), Some(i), "{name}");
    }
    assert_eq!(position(&map, "consent_ref"), None);
}

#[test]
fn aliases_and_odd_spelling_match() {
    let file = header(&[
        "Ration Card No.",
        "Category",
        "Door No",
        " AADHAAR_NO ",
        "Date of Birth",
        "Name",
        "Father/Husband Name",
        "SEX",
        "Relation",
        "LGD Village Code",
        "PIN Code",
        "Mobile-No",
        "Status",
        "e-Consent ID",
    ]);
    let map = match_header(&base_registry(), &file).expect("maps");
    assert!(map.unknown.is_empty(), "{:?}", map.unknown);
    for (column, at) in [
        ("ration_card_no", 0),
        ("card_type", 1),
        ("house_no", 2),
        ("aadhaar", 3),
        ("dob", 4),
        ("member_name", 5),
        ("relative_name", 6),
        ("gender", 7),
        ("relationship", 8),
        ("village_code", 9),
        ("pincode", 10),
        ("mobile", 11),
        ("life_status", 12),
        ("consent_ref", 13),
    ] {
        assert_eq!(position(&map, column), Some(at), "{column}");
    }
    assert_eq!(position(&map, "street"), None);
}

#[test]
fn unknown_columns_are_reported_not_fatal() {
    let file = header(&[
        "S.No",
        "ration_card_no",
        "card_type",
        "village_code",
        "member_name",
        "gender",
        "age",
        "relationship",
        "Caste",
    ]);
    let map = match_header(&base_registry(), &file).expect("maps");
    let unknown: Vec<(usize, &str)> = map
        .unknown
        .iter()
        .map(|u| (u.index, u.header.as_str()))
        .collect();
    assert_eq!(unknown, [(0, "S.No"), (8, "Caste")]);
    assert_eq!(position(&map, "dob"), Some(6), "age is an alias of dob");
}

#[test]
fn missing_required_columns_are_all_listed_with_aliases() {
    let file = header(&["Ration Card No", "member_name", "gender", "aadhaar"]);
    let err = match_header(&base_registry(), &file).expect_err("missing");
    let HeaderError::MissingColumns {
        missing,
        known,
        first_row_looks_like_data,
    } = &err
    else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(
        missing,
        &["card_type", "village_code", "dob", "relationship"]
    );
    assert_eq!(known.len(), 4);
    assert_eq!(known[2].column, "dob");
    assert!(known[2].names.contains(&"date_of_birth".to_owned()));
    assert!(!first_row_looks_like_data);
    assert_eq!(err.code(), "header.missing_columns");
    let msg = err.to_string();
    assert!(msg.contains("lacks 4 required column(s)"), "{msg}");
    assert!(
        msg.contains("`dob` (also accepted: `date_of_birth`, `birth_date`, `age`"),
        "{msg}"
    );
    assert!(
        msg.contains("`card_type` (also accepted: `category`"),
        "{msg}"
    );
}

#[test]
fn a_data_row_taken_for_a_header_is_flagged_without_echoing_it() {
    let file = header(&[
        "PY0012345",
        "PHH",
        "644250",
        "Lakshmi",
        "F",
        "12-03-1958",
        "HEAD",
        "234567890124",
        "9876543210",
    ]);
    let err = match_header(&base_registry(), &file).expect_err("no header");
    assert!(matches!(
        err,
        HeaderError::MissingColumns {
            first_row_looks_like_data: true,
            ..
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("header row may be missing"), "{msg}");
    assert!(
        !msg.contains("234567890124") && !msg.contains("9876543210"),
        "{msg}"
    );
}

#[test]
fn two_headers_for_one_column_are_ambiguous() {
    let file = header(&[
        "ration_card_no",
        "card_type",
        "village_code",
        "member_name",
        "gender",
        "dob",
        "relationship",
        "Aadhaar No",
        "UID",
    ]);
    let err = match_header(&base_registry(), &file).expect_err("ambiguous");
    assert_eq!(
        err,
        HeaderError::Ambiguous {
            column: "aadhaar".into(),
            headers: vec!["Aadhaar No".into(), "UID".into()],
        }
    );
    assert_eq!(err.code(), "header.ambiguous");
    assert!(
        err.to_string()
            .contains("2 columns that all match column `aadhaar`")
    );
}

#[test]
fn empty_header_is_an_error() {
    let spec = base_registry();
    assert_eq!(match_header(&spec, &[]), Err(HeaderError::Empty));
    assert_eq!(
        match_header(&spec, &header(&["", "  "])),
        Err(HeaderError::Empty)
    );
}
