//! Throughput of row validation on 200,000 synthetic base-registry rows, to catch anything
//! pathological on the hot path of million-row uploads. No timing assertion (machines vary);
//! run with `--release -- --nocapture spec_speed` to see rows per second.

#![allow(clippy::print_stdout)] // printing the figure is the point of this test

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use sangam_domain::{IdNumber, LgdDirectory};
use sangam_ingest::RawRecord;
use sangam_ingest::spec::{CodeLists, Validator, base_registry, match_header};

const ROWS: u64 = 200_000;

use sangam_synth::BASE_REGISTRY_HEADER as HEADER;

const NAMES: [&str; 6] = [
    "Lakshmi Devi",
    "Ramasamy K",
    "Anbu Selvan",
    "Fathima Beevi",
    "Joseph Arul",
    "லட்சுமி",
];
const RELATIONSHIPS: [&str; 4] = ["HEAD", "SPOUSE", "SON", "DAUGHTER"];
const CARD_TYPES: [&str; 3] = ["AAY", "PHH", "NPHH"];

fn rows() -> Vec<RawRecord> {
    (0..ROWS)
        .map(|i| {
            let id = IdNumber::from_eleven_digits(&format!("{:011}", 23_456_789_012 + i * 7))
                .map(|id| id.expose_digits().to_owned())
                .unwrap_or_default();
            let n = usize::try_from(i).unwrap_or_default();
            let fields = vec![
                format!("PY{:08}", i / 4),
                CARD_TYPES[n % 3].to_owned(),
                format!("{}", n % 300 + 1),
                "Gandhi Street".to_owned(),
                "Muthialpet".to_owned(),
                format!("{}", 644_000 + n % 500 + 1),
                "605003".to_owned(),
                NAMES[n % NAMES.len()].to_owned(),
                NAMES[(n + 1) % NAMES.len()].to_owned(),
                ["F", "M"][n % 2].to_owned(),
                match n % 3 {
                    0 => format!("{:02}-{:02}-{}", n % 28 + 1, n % 12 + 1, 1940 + n % 80),
                    1 => format!("{}", 1940 + n % 80),
                    _ => format!("{}", n % 90),
                },
                RELATIONSHIPS[n % 4].to_owned(),
                id,
                if n % 5 == 0 {
                    String::new()
                } else {
                    format!("9{:09}", n)
                },
                "alive".to_owned(),
            ];
            RawRecord {
                line: i + 2,
                fields: fields.into(),
            }
        })
        .collect()
}

fn villages() -> Arc<LgdDirectory> {
    let mut csv =
        String::from("state_code,district_code,sub_district_code,village_code,village_name\n");
    for v in 644_001..=644_500 {
        csv.push_str(&format!("34,603,5678,{v},Village {v}\n"));
    }
    Arc::new(LgdDirectory::from_csv(csv.as_bytes()).expect("lgd"))
}

#[test]
fn spec_speed_validates_200k_base_rows() {
    let rows = rows();
    let spec = base_registry();
    let header: Vec<String> = HEADER.iter().map(|h| (*h).to_owned()).collect();
    let map = match_header(&spec, &header).expect("header");
    let today = NaiveDate::from_ymd_opt(2024, 6, 15).expect("date");
    let lists = CodeLists {
        villages: Some(villages()),
        ..CodeLists::default()
    };
    let v = Validator::new(spec, map, today, lists).expect("validator");

    let start = Instant::now();
    let mut accepted = 0u64;
    let mut rejected = 0u64;
    for r in &rows {
        match v.validate(r) {
            Ok(row) => {
                accepted += 1;
                std::hint::black_box(row);
            }
            Err(p) => {
                rejected += 1;
                if rejected == 1 {
                    println!("first rejection: line {} {p:?}", r.line);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "validated {ROWS} base-registry rows in {secs:.3} s: {:.0} rows/s ({accepted} accepted, {rejected} rejected)",
        ROWS as f64 / secs.max(1e-9)
    );
    assert_eq!(accepted, ROWS, "the synthetic rows are all valid");
}
