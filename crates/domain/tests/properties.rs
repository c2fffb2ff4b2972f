//! Property tests: checksum guarantees, masking never leaks, parsers never panic, and the
//! canonical forms round-trip.

use std::collections::HashSet;

use chrono::{Datelike, Days, NaiveDate};
use proptest::prelude::*;
use sangam_domain::{
    CardType, ConsentRef, DateOfBirth, DistrictCode, EkycStatus, Gender, IdNumber, Ifsc,
    LgdDirectory, LifeStatus, MobileNumber, PersonName, RationCardNumber, RefKey, Relationship,
    SchemeCode, SchemeCodeList, StateCode, SubDistrictCode, VillageCode, mask_keep_last, verhoeff,
};

fn eleven_digits() -> impl Strategy<Value = String> {
    (2u8..=9, proptest::collection::vec(0u8..=9, 10)).prop_map(|(first, rest)| {
        std::iter::once(first)
            .chain(rest)
            .map(|d| char::from(b'0' + d))
            .collect()
    })
}

fn valid_id() -> impl Strategy<Value = String> {
    eleven_digits().prop_map(|s| {
        let check = verhoeff::check_digit(&s).expect("digits only");
        format!("{s}{check}")
    })
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 14).expect("valid date")
}

/// Dates from 130 years before `today()` up to `today()`.
fn birth_date() -> impl Strategy<Value = NaiveDate> {
    (0u64..=47_480).prop_map(|back| today().checked_sub_days(Days::new(back)).expect("in range"))
}

/// Whether `haystack` contains more than `max` ASCII digits in a row.
fn has_digit_run_longer_than(haystack: &str, max: usize) -> bool {
    let mut run = 0;
    for c in haystack.chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run > max {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn eleven_digits_plus_check_digit_parse(first11 in eleven_digits()) {
        let built = IdNumber::from_eleven_digits(&first11).expect("valid");
        prop_assert!(built.expose_digits().starts_with(&first11));
        let parsed = IdNumber::parse(built.expose_digits()).expect("parses");
        prop_assert_eq!(&parsed, &built);
        let grouped = format!(
            "{} {} {}",
            &built.expose_digits()[..4],
            &built.expose_digits()[4..8],
            &built.expose_digits()[8..]
        );
        prop_assert_eq!(IdNumber::parse(&grouped).expect("grouped parses"), built);
    }

    #[test]
    fn single_digit_substitution_is_caught(id in valid_id(), pos in 0usize..12, delta in 1u8..=9) {
        let mut bytes = id.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).expect("ascii");
        let err = IdNumber::parse(&changed).expect_err("substitution must fail");
        prop_assert!(
            err.code == "id_number.checksum" || err.code == "id_number.first_digit",
            "unexpected code {}", err.code
        );
    }

    #[test]
    fn adjacent_transposition_is_caught(id in valid_id(), pos in 0usize..11) {
        let mut bytes = id.into_bytes();
        prop_assume!(bytes[pos] != bytes[pos + 1]);
        bytes.swap(pos, pos + 1);
        let changed = String::from_utf8(bytes).expect("ascii");
        let err = IdNumber::parse(&changed).expect_err("transposition must fail");
        prop_assert!(
            err.code == "id_number.checksum" || err.code == "id_number.first_digit",
            "unexpected code {}", err.code
        );
    }

    #[test]
    fn id_number_never_shown_in_full(id in valid_id()) {
        let parsed = IdNumber::parse(&id).expect("valid");
        let json = serde_json::to_string(&parsed).expect("serialize");
        for shown in [parsed.masked(), parsed.to_string(), format!("{parsed:?}"), format!("{parsed:#?}"), json] {
            prop_assert!(!shown.contains(&id));
            prop_assert!(!shown.contains(&id[..8]));
            prop_assert!(!has_digit_run_longer_than(&shown, 4), "{}", shown);
            prop_assert!(shown.contains(&id[8..]));
        }
    }

    #[test]
    fn mobile_number_never_shown_in_full(rest in "[6-9][0-9]{9}", prefix in prop::sample::select(vec!["", "+91", "91", "0", "+91 "])) {
        let parsed = MobileNumber::parse(&format!("{prefix}{rest}")).expect("valid");
        prop_assert_eq!(parsed.expose_digits(), rest.as_str());
        let json = serde_json::to_string(&parsed).expect("serialize");
        for shown in [parsed.masked(), parsed.to_string(), format!("{parsed:?}"), json] {
            prop_assert!(!shown.contains(&rest));
            prop_assert!(!shown.contains(&rest[..6]));
            prop_assert!(!has_digit_run_longer_than(&shown, 4), "{}", shown);
        }
    }

    #[test]
    fn id_errors_never_echo_digits(input in "[0-9]{12}") {
        if let Err(e) = IdNumber::parse(&input) {
            prop_assert!(!e.message.contains(&input));
            prop_assert!(!e.message.contains(&input[..8]));
        }
    }

    #[test]
    fn person_name_is_idempotent(input in any::<String>()) {
        if let Ok(once) = PersonName::parse(&input) {
            let twice = PersonName::parse(once.as_str()).expect("canonical form must parse");
            prop_assert_eq!(twice, once);
        }
    }

    #[test]
    fn person_name_idempotent_on_name_like_input(input in "[ \\t\\p{L}\\p{M}.'/(),-]{0,160}") {
        if let Ok(once) = PersonName::parse(&input) {
            let twice = PersonName::parse(once.as_str()).expect("canonical form must parse");
            prop_assert_eq!(&twice, &once);
            prop_assert!(!once.as_str().starts_with(' ') && !once.as_str().ends_with(' '));
            prop_assert!(!once.as_str().contains("  "));
        }
    }

    /// Names taken as they arrive (already folded and NFC) come out exactly as the full
    /// fold and normalisation would make them.
    #[test]
    fn person_name_is_the_folded_nfc_of_its_input(input in "[ \\t\\p{L}\\p{M}.'-]{0,40}") {
        use unicode_normalization::UnicodeNormalization;
        if let Ok(name) = PersonName::parse(&input) {
            let folded = input.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(name.as_str(), folded.nfc().collect::<String>());
        }
    }

    #[test]
    fn date_of_birth_storage_roundtrip(d in birth_date(), age in 0u8..=130, as_of in birth_date()) {
        for value in [
            DateOfBirth::Full(d),
            DateOfBirth::Year(d.year()),
            DateOfBirth::DeclaredAge { age, as_of },
        ] {
            let stored = value.to_storage();
            prop_assert_eq!(DateOfBirth::from_storage(&stored).expect("roundtrip"), value);
            let json = serde_json::to_string(&value).expect("serialize");
            prop_assert_eq!(serde_json::from_str::<DateOfBirth>(&json).expect("deserialize"), value);
        }
    }

    #[test]
    fn date_of_birth_every_format_parses_back(d in birth_date()) {
        let (y, m, dd) = (d.year(), d.month(), d.day());
        for text in [
            format!("{dd:02}-{m:02}-{y:04}"),
            format!("{dd:02}/{m:02}/{y:04}"),
            format!("{dd:02}.{m:02}.{y:04}"),
            format!("{y:04}-{m:02}-{dd:02}"),
            format!("{y:04}/{m:02}/{dd:02}"),
            format!("{dd}-{m}-{y}"),
        ] {
            prop_assert_eq!(DateOfBirth::parse(&text, today()).expect("parses"), DateOfBirth::Full(d), "{}", text);
        }
        prop_assert_eq!(DateOfBirth::parse(&format!("{y}"), today()).expect("year"), DateOfBirth::Year(y));
    }

    #[test]
    fn declared_age_range_is_consistent(age in 0u8..=130, as_of in birth_date()) {
        let value = DateOfBirth::DeclaredAge { age, as_of };
        let (lo, hi) = value.earliest_and_latest_birth_date();
        prop_assert!(lo <= hi);
        prop_assert_eq!(DateOfBirth::Full(lo).age_on(as_of), Some(u32::from(age)));
        prop_assert_eq!(DateOfBirth::Full(hi).age_on(as_of), Some(u32::from(age)));
        prop_assert_eq!(value.age_on(as_of), Some(u32::from(age)));
    }

    #[test]
    fn parsers_never_panic(input in any::<String>()) {
        let _ = IdNumber::parse(&input);
        let _ = IdNumber::from_eleven_digits(&input);
        let _ = RefKey::parse(&input);
        let _ = PersonName::parse(&input);
        let _ = DateOfBirth::parse(&input, today());
        let _ = DateOfBirth::from_storage(&input);
        let _ = Gender::parse(&input);
        let _ = Relationship::parse(&input);
        let _ = RationCardNumber::parse(&input);
        let _ = CardType::parse(&input);
        let _ = MobileNumber::parse(&input);
        let _ = StateCode::parse(&input);
        let _ = DistrictCode::parse(&input);
        let _ = SubDistrictCode::parse(&input);
        let _ = VillageCode::parse(&input);
        let _ = Ifsc::parse(&input);
        let _ = ConsentRef::parse(&input);
        let _ = LifeStatus::parse(&input);
        let _ = EkycStatus::parse(&input);
        let _ = SchemeCode::parse(&input);
        let _ = LgdDirectory::from_csv(input.as_bytes());
        let _ = SchemeCodeList::from_csv(input.as_bytes());
        let _ = mask_keep_last(&input, 4, Some(4));
        let _ = verhoeff::is_valid(&input);
    }

    #[test]
    fn parsers_never_panic_on_digit_heavy_input(input in "[0-9 +/.:@a-]{0,20}") {
        let _ = IdNumber::parse(&input);
        let _ = DateOfBirth::parse(&input, today());
        let _ = DateOfBirth::from_storage(&input);
        let _ = MobileNumber::parse(&input);
        let _ = RationCardNumber::parse(&input);
        let _ = VillageCode::parse(&input);
    }

    #[test]
    fn code_list_loader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut input = b"state_code,district_code,sub_district_code,village_code,village_name\n".to_vec();
        input.extend(bytes);
        let _ = LgdDirectory::from_csv(input.as_slice());
    }

    #[test]
    fn ration_card_parse_is_idempotent(input in "[A-Za-z0-9 /-]{0,30}") {
        if let Ok(once) = RationCardNumber::parse(&input) {
            prop_assert_eq!(RationCardNumber::parse(once.as_str()).expect("canonical"), once);
        }
    }
}

#[test]
fn generated_ref_keys_parse_and_are_distinct() {
    let mut seen = HashSet::with_capacity(10_000);
    for _ in 0..10_000 {
        let key = RefKey::generate();
        assert_eq!(
            RefKey::parse(key.as_str()).expect("generated keys parse"),
            key
        );
        assert!(seen.insert(key), "duplicate reference key");
    }
}
