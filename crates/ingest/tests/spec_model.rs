//! Data spec model: TOML and JSON parsing, the built-in specs, and the spec's own checks.

use sangam_ingest::spec::{
    ColumnKind, Condition, DataSpec, SpecError, base_registry, example_scheme_spec_toml,
};

/// A small valid scheme spec; tests break one thing at a time.
const WIDOW_PENSION: &str = r#"
dataset = "widow_pension"
version = 2
title = "Widow pension"
record_key = "beneficiary_id"

[[columns]]
name = "beneficiary_id"
kind = "text"
required = true

[[columns]]
name = "aadhaar"
aliases = ["uid"]
kind = "id_number"

[[columns]]
name = "gender"
kind = "gender"
required = true

[[columns]]
name = "dob"
kind = "dob"
required = true

[[rules]]
name = "female"
check = "equals"
column = "gender"
value = "F"
message = "a widow pension is paid to women"

[[rules]]
name = "adult"
check = "age_at_least"
column = "dob"
years = 18
message = "the beneficiary must be an adult"
"#;

fn problems(err: &SpecError) -> Vec<String> {
    err.problems().iter().map(ToString::to_string).collect()
}

fn invalid(toml_text: &str) -> SpecError {
    DataSpec::from_toml(toml_text).expect_err("spec should be refused")
}

#[test]
fn toml_spec_parses_with_rules() {
    let spec = DataSpec::from_toml(WIDOW_PENSION).expect("valid");
    assert_eq!(spec.dataset, "widow_pension");
    assert_eq!(spec.version, 2);
    assert_eq!(spec.record_key.as_deref(), Some("beneficiary_id"));
    assert_eq!(spec.columns.len(), 4);
    assert_eq!(spec.columns[1].kind, ColumnKind::IdNumber);
    assert_eq!(spec.columns[1].aliases, ["uid"]);
    assert!(!spec.columns[1].required);
    assert_eq!(spec.rules.len(), 2);
    assert_eq!(
        spec.rules[0].condition,
        Condition::Equals {
            column: "gender".into(),
            value: "F".into()
        }
    );
    assert_eq!(
        spec.rules[1].condition,
        Condition::AgeAtLeast {
            column: "dob".into(),
            years: 18
        }
    );
}

#[test]
fn json_and_toml_round_trip() {
    let spec = DataSpec::from_toml(WIDOW_PENSION).expect("valid");
    let json = spec.to_json().expect("json");
    assert!(json.contains(r#""check": "equals""#), "{json}");
    assert_eq!(DataSpec::from_json(&json).expect("from json"), spec);
    let toml_text = spec.to_toml().expect("toml");
    assert_eq!(DataSpec::from_toml(&toml_text).expect("from toml"), spec);
    let base = base_registry();
    assert_eq!(
        DataSpec::from_json(&base.to_json().expect("json")).expect("base"),
        base
    );
}

#[test]
fn json_spec_from_api_shape() {
    let json = r#"{
        "dataset": "scholarship", "version": 1, "title": "Post-matric scholarship",
        "record_key": "application_no",
        "columns": [
            {"name": "application_no", "kind": "text", "required": true},
            {"name": "category", "kind": "text", "allowed": ["SC", "ST", "OBC"]},
            {"name": "income", "kind": "decimal", "min": 0, "max": 250000}
        ],
        "rules": [{"name": "young", "check": "age_at_most", "column": "dob", "years": 30,
                   "message": "too old"}]
    }"#;
    let err = DataSpec::from_json(json).expect_err("rule on unknown column");
    assert!(
        problems(&err)
            .iter()
            .any(|p| p.starts_with("rules[0].column: ") && p.contains("`dob`")),
        "{err}"
    );
}

#[test]
fn parse_errors_name_the_problem_and_place() {
    let typo = WIDOW_PENSION.replace(
        "required = true\n\n[[columns]]\nname = \"aadhaar\"",
        "requried = true\n\n[[columns]]\nname = \"aadhaar\"",
    );
    let err = DataSpec::from_toml(&typo).expect_err("unknown key");
    let msg = err.to_string();
    assert!(matches!(err, SpecError::Toml { .. }));
    assert!(msg.contains("requried"), "{msg}");
    assert!(msg.contains("line"), "{msg}");

    let bad_kind = WIDOW_PENSION.replace("kind = \"gender\"", "kind = \"sex\"");
    let msg = DataSpec::from_toml(&bad_kind)
        .expect_err("kind")
        .to_string();
    assert!(msg.contains("unknown variant `sex`"), "{msg}");
    assert!(msg.contains("person_name"), "lists the kinds: {msg}");

    let bad_check = WIDOW_PENSION.replace("check = \"equals\"", "check = \"equal\"");
    let msg = DataSpec::from_toml(&bad_check)
        .expect_err("check")
        .to_string();
    assert!(msg.contains("equal"), "{msg}");

    let typo_in_rule = WIDOW_PENSION.replace("years = 18", "years = 18\nyaers = 3");
    let msg = DataSpec::from_toml(&typo_in_rule)
        .expect_err("unknown rule key")
        .to_string();
    assert!(msg.contains("yaers"), "{msg}");

    let msg = DataSpec::from_json("{\"dataset\": \"x\"")
        .expect_err("json")
        .to_string();
    assert!(msg.starts_with("the data spec is not valid JSON"), "{msg}");
}

#[test]
fn duplicate_alias_is_refused_with_both_names() {
    // `UID No.` normalises like `uid_no`; putting it on another column must fail.
    let text = WIDOW_PENSION.replace(
        "name = \"gender\"\nkind",
        "name = \"gender\"\naliases = [\"sex\", \"U.I.D\"]\nkind",
    );
    let err = invalid(&text);
    let all = problems(&err);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].starts_with("columns[2].aliases[1]: "), "{}", all[0]);
    assert!(
        all[0].contains("`U.I.D`") && all[0].contains("`uid`") && all[0].contains("`aadhaar`"),
        "{}",
        all[0]
    );
    assert!(err.to_string().contains("1 problem(s)"));

    // A column name clashing with another column's name.
    let text = WIDOW_PENSION.replace("name = \"dob\"", "name = \"gender\"");
    let msg = invalid(&text).to_string();
    assert!(msg.contains("column name `gender` is used twice"), "{msg}");
}

#[test]
fn record_key_must_name_a_required_text_column() {
    let err = invalid(&WIDOW_PENSION.replace(
        "record_key = \"beneficiary_id\"",
        "record_key = \"pension_id\"",
    ));
    assert_eq!(
        problems(&err),
        ["record_key: record_key `pension_id` is not the name of a column of this spec"]
    );

    let err = invalid(&WIDOW_PENSION.replace(
        "record_key = \"beneficiary_id\"",
        "record_key = \"aadhaar\"",
    ));
    let all = problems(&err).join("\n");
    assert!(all.contains("is of kind id_number"), "{all}");
    assert!(all.contains("must be required"), "{all}");

    let err = invalid(&WIDOW_PENSION.replace("record_key = \"beneficiary_id\"\n", ""));
    assert!(
        problems(&err)[0].contains("a scheme spec must name its record_key"),
        "{err}"
    );
}

#[test]
fn rules_must_reference_known_columns_and_valid_values() {
    let err = invalid(&WIDOW_PENSION.replace("column = \"dob\"", "column = \"birth\""));
    assert_eq!(
        problems(&err),
        ["rules[1].column: rule `adult` refers to column `birth`, which this spec does not have"]
    );

    let err = invalid(&WIDOW_PENSION.replace("value = \"F\"", "value = \"W\""));
    let all = problems(&err);
    assert!(
        all[0].starts_with("rules[0].value: `W` is not a valid gender value (gender.unknown)"),
        "{all:?}"
    );

    let err = invalid(&WIDOW_PENSION.replace("column = \"dob\"", "column = \"gender\""));
    assert!(problems(&err)[0].contains("age_at_least needs a dob or date column"));

    let err = invalid(&WIDOW_PENSION.replace("name = \"adult\"", "name = \"female\""));
    assert!(problems(&err)[0].contains("rule name `female` is used twice"));
}

#[test]
fn many_problems_are_listed_together() {
    let text = r#"
dataset = "X"
version = 0
title = " "
[[columns]]
name = "Amount"
kind = "text"
min = 5
[[columns]]
name = "id1"
kind = "id_number"
[[columns]]
name = "id2"
kind = "id_number"
[[columns]]
name = "village"
kind = "integer"
code_list = "villages"
min = 10
max = 1
"#;
    let err = invalid(text);
    let all = problems(&err);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "dataset",
        "version",
        "title",
        "columns[0].name",
        "columns[0].min",
        "columns[3].min",
        "columns[3].code_list",
        "columns",
        "record_key",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {all:#?}"
        );
    }
    assert!(
        all.iter()
            .any(|p| p.contains("at most one column may be of kind id_number, found id1, id2"))
    );
}

#[test]
fn base_registry_spec_is_valid_and_complete() {
    let spec = base_registry();
    spec.validate().expect("base spec validates");
    assert_eq!(spec.dataset, "base");
    assert_eq!(spec.record_key, None);
    let names: Vec<&str> = spec.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ration_card_no",
            "card_type",
            "house_no",
            "street",
            "locality",
            "village_code",
            "pincode",
            "member_name",
            "relative_name",
            "gender",
            "dob",
            "relationship",
            "aadhaar",
            "consent_ref",
            "mobile",
            "life_status",
            "operation",
            "ref_key"
        ]
    );
    let required: Vec<&str> = spec
        .columns
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        required,
        [
            "ration_card_no",
            "card_type",
            "village_code",
            "member_name",
            "gender",
            "dob",
            "relationship"
        ]
    );
}

#[test]
fn example_scheme_spec_parses_and_validates() {
    let spec = DataSpec::from_toml(example_scheme_spec_toml()).expect("example is valid");
    assert_eq!(spec.dataset, "old_age_pension");
    assert_eq!(spec.record_key.as_deref(), Some("beneficiary_id"));
    let kind = |name: &str| spec.column(name).map(|c| c.kind);
    assert_eq!(kind("operation"), Some(ColumnKind::Operation));
    assert_eq!(kind("aadhaar"), Some(ColumnKind::IdNumber));
    assert_eq!(kind("bank_account"), Some(ColumnKind::BankAccount));
    assert_eq!(kind("ifsc"), Some(ColumnKind::Ifsc));
    assert_eq!(kind("pension_amount"), Some(ColumnKind::Decimal));
    assert_eq!(spec.column("pension_amount").and_then(|c| c.min), Some(0.0));
    assert_eq!(
        spec.rules[0].condition,
        Condition::AgeAtLeast {
            column: "dob".into(),
            years: 60
        }
    );
    assert!(example_scheme_spec_toml().contains("# "), "commented");
}

#[test]
fn exclusive_schemes_and_the_household_limit_are_spec_data() {
    let text = WIDOW_PENSION.replace(
        "record_key = \"beneficiary_id\"",
        "record_key = \"beneficiary_id\"\nexclusive_with = [\"old_age_pension\", \"not_declared_yet\"]\none_per_household = true",
    );
    let spec = DataSpec::from_toml(&text).expect("valid");
    assert_eq!(spec.exclusive_with, ["old_age_pension", "not_declared_yet"]);
    assert!(spec.one_per_household);
    let again = DataSpec::from_json(&spec.to_json().unwrap()).unwrap();
    assert_eq!(again, spec, "both survive the stored JSON form");
    let plain = DataSpec::from_toml(WIDOW_PENSION).unwrap();
    assert!(plain.exclusive_with.is_empty() && !plain.one_per_household);
    assert!(
        !plain.to_json().unwrap().contains("exclusive_with"),
        "left out when unset, so earlier stored specs read the same"
    );

    let with = |list: &str| {
        WIDOW_PENSION.replace(
            "record_key = \"beneficiary_id\"",
            &format!("record_key = \"beneficiary_id\"\nexclusive_with = {list}"),
        )
    };
    let p = problems(&invalid(&with(r#"["widow_pension"]"#)));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("exclusive_with[0]: a scheme cannot exclude itself"),
        "{p:?}"
    );
    let p = problems(&invalid(&with(r#"["a", "base", "Old Age", "x_y", "x_y"]"#)));
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(p[0].starts_with("exclusive_with[0]: `a` is not a dataset name"));
    assert!(p[1].starts_with("exclusive_with[1]: `base` is the base registry"));
    assert!(p[2].starts_with("exclusive_with[2]: `Old Age` is not a dataset name"));
    assert!(p[3].starts_with("exclusive_with[4]: `x_y` is listed twice"));

    let mut base = base_registry();
    base.one_per_household = true;
    base.exclusive_with = vec!["old_age_pension".into()];
    let p = problems(&base.validate().unwrap_err());
    assert_eq!(p.len(), 2, "{p:?}");
}
