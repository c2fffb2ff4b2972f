//! Record-linkage test data with ground truth: a base registry and a welfare scheme's noisy
//! beneficiary list, for measuring a matching engine (ours or Splink) on Indian data.
//!
//! Three CSV files come out of one run:
//! - `base.csv`: every resident of the generated households, clean, ids `B000001`…;
//! - `scheme.csv`: a scheme's beneficiaries, ids `S000001`…: noisy copies
//!   ([`noisy_copy`]) of a random sample of residents, some residents enrolled twice with
//!   different noise, and some people who are not in the base registry at all (drawn from
//!   household indexes past the base's, so their person ids cannot occur in it);
//! - `truth.csv`: `id,person_id` for every record of both files.
//!
//! The two id prefixes keep ids unique across the two files, so a linker can write one output
//! file without clashes. Everything depends only on the configuration: same settings, same
//! bytes.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::household::{Generator, GeneratorConfig, Household, Member};
use crate::variants::{NoisyRecord, noisy_copy};

/// Columns of `base.csv`, in order.
pub const LINKAGE_BASE_HEADER: &[&str] = &[
    "id",
    "name",
    "relative_name",
    "gender",
    "dob",
    "id_number",
    "mobile",
    "house_no",
    "street",
    "locality",
    "village_code",
    "district_code",
    "pincode",
];

/// Columns of `scheme.csv`, in order.
pub const LINKAGE_SCHEME_HEADER: &[&str] = &[
    "id",
    "name",
    "relative_name",
    "gender",
    "dob",
    "id_number",
    "mobile",
    "village_code",
    "pincode",
];

/// Columns of `truth.csv`.
pub const LINKAGE_TRUTH_HEADER: &[&str] = &["id", "person_id"];

/// Settings of one linkage data set.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkageConfig {
    /// Seed: same seed, same files.
    pub seed: u64,
    /// Households in the base registry (about 4.3 residents each).
    pub households: u64,
    /// How often `noisy_copy` varies a field, in `[0, 1]`.
    pub noise: f64,
    /// Share of base residents the scheme enrols (a scheme covers a slice of the population).
    pub scheme_share: f64,
    /// Share of scheme records describing people absent from the base registry.
    pub outside_share: f64,
    /// Share of enrolled residents enrolled a second time, with different noise.
    pub duplicate_share: f64,
    /// Share of scheme records whose village code is left blank.
    pub village_missing: f64,
}

impl Default for LinkageConfig {
    fn default() -> Self {
        LinkageConfig {
            seed: 2026,
            households: 1000,
            noise: 0.5,
            scheme_share: 0.1,
            outside_share: 0.05,
            duplicate_share: 0.02,
            village_missing: 0.05,
        }
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkageCounts {
    /// Rows of `base.csv`.
    pub base: u64,
    /// Rows of `scheme.csv`.
    pub scheme: u64,
    /// Distinct residents enrolled.
    pub enrolled: u64,
    /// Second enrolments of a resident.
    pub duplicates: u64,
    /// Scheme records of people not in the base registry.
    pub outside: u64,
}

/// A scheme record before it gets its id.
struct SchemeRow {
    record: NoisyRecord,
    village_code: Option<u32>,
    pincode: String,
}

fn probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

/// The base ID of the `n`th resident (1-based).
pub fn base_id(n: u64) -> String {
    format!("B{n:06}")
}

/// The scheme ID of the `n`th scheme record (1-based).
pub fn scheme_id(n: u64) -> String {
    format!("S{n:06}")
}

fn scheme_row(
    rng: &mut ChaCha8Rng,
    config: &LinkageConfig,
    household: &Household,
    member: &Member,
) -> SchemeRow {
    let record = noisy_copy(rng, member, config.noise);
    let village_code = if rng.random_bool(probability(config.village_missing)) {
        None
    } else {
        Some(household.village.village_code)
    };
    SchemeRow {
        record,
        village_code,
        pincode: household.address.pincode.clone(),
    }
}

/// Generates the data set and writes the three CSV files to the given writers.
pub fn write_linkage<B: Write, S: Write, T: Write>(
    config: &LinkageConfig,
    base: B,
    scheme: S,
    truth: T,
) -> csv::Result<LinkageCounts> {
    let generator = Generator::new(GeneratorConfig {
        seed: config.seed,
        households: config.households,
        ..Default::default()
    });
    // The sample has its own stream so that changing the shares never changes the residents.
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x11AC_A6E0_5EED_0001);
    let mut base_wtr = csv::Writer::from_writer(base);
    let mut truth_wtr = csv::Writer::from_writer(truth);
    base_wtr.write_record(LINKAGE_BASE_HEADER)?;
    truth_wtr.write_record(LINKAGE_TRUTH_HEADER)?;

    let mut counts = LinkageCounts::default();
    let mut rows: Vec<SchemeRow> = Vec::new();
    for household in generator.households() {
        let village_code = household.village.village_code.to_string();
        let district_code = household.village.district_code.to_string();
        for member in &household.members {
            counts.base += 1;
            let id = base_id(counts.base);
            let person = member.person_id.to_string();
            let dob = member.dob.to_string();
            base_wtr.write_record([
                id.as_str(),
                member.name.as_str(),
                member.relative_name.as_str(),
                member.gender.code(),
                dob.as_str(),
                member.id_number.as_deref().unwrap_or(""),
                member.mobile.as_deref().unwrap_or(""),
                household.address.house_no.as_str(),
                household.address.street.as_str(),
                household.address.locality.as_str(),
                village_code.as_str(),
                district_code.as_str(),
                household.address.pincode.as_str(),
            ])?;
            truth_wtr.write_record([id.as_str(), person.as_str()])?;

            if rng.random_bool(probability(config.scheme_share)) {
                counts.enrolled += 1;
                rows.push(scheme_row(&mut rng, config, &household, member));
                if rng.random_bool(probability(config.duplicate_share)) {
                    counts.duplicates += 1;
                    rows.push(scheme_row(&mut rng, config, &household, member));
                }
            }
        }
    }

    // People the base registry lacks: one member each of households numbered past the base's.
    // Their person ids (index * 10 + position) are therefore not in base.csv.
    let outside_share = probability(config.outside_share).min(0.9);
    let outside = (rows.len() as f64 * outside_share / (1.0 - outside_share)).round() as u64;
    for index in config.households..config.households.saturating_add(outside) {
        let household = generator.household(index);
        let pick = rng.random_range(0..household.members.len().max(1));
        if let Some(member) = household.members.get(pick) {
            counts.outside += 1;
            rows.push(scheme_row(&mut rng, config, &household, member));
        }
    }

    // A scheme's list is in its own order, not the registry's.
    rows.shuffle(&mut rng);
    let mut scheme_wtr = csv::Writer::from_writer(scheme);
    scheme_wtr.write_record(LINKAGE_SCHEME_HEADER)?;
    for row in &rows {
        counts.scheme += 1;
        let id = scheme_id(counts.scheme);
        let r = &row.record;
        let village = row.village_code.map(|v| v.to_string()).unwrap_or_default();
        scheme_wtr.write_record([
            id.as_str(),
            r.name.as_str(),
            r.relative_name.as_deref().unwrap_or(""),
            r.gender.map_or("", |g| g.code()),
            r.dob.as_deref().unwrap_or(""),
            r.id_number.as_deref().unwrap_or(""),
            r.mobile.as_deref().unwrap_or(""),
            village.as_str(),
            row.pincode.as_str(),
        ])?;
        truth_wtr.write_record([id.as_str(), r.person_id.to_string().as_str()])?;
    }
    base_wtr.flush()?;
    scheme_wtr.flush()?;
    truth_wtr.flush()?;
    Ok(counts)
}

/// Writes `base.csv`, `scheme.csv` and `truth.csv` into `dir`, creating it if needed.
pub fn write_linkage_dir(config: &LinkageConfig, dir: &Path) -> io::Result<LinkageCounts> {
    std::fs::create_dir_all(dir)?;
    let open = |name: &str| -> io::Result<BufWriter<File>> {
        let path = dir.join(name);
        let file = File::create(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(BufWriter::new(file))
    };
    let counts = write_linkage(
        config,
        open("base.csv")?,
        open("scheme.csv")?,
        open("truth.csv")?,
    )?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    struct Data {
        base: Vec<csv::StringRecord>,
        scheme: Vec<csv::StringRecord>,
        truth: HashMap<String, String>,
        truth_rows: usize,
        counts: LinkageCounts,
    }

    fn read(bytes: &[u8], header: &[&str]) -> Vec<csv::StringRecord> {
        let mut rdr = csv::Reader::from_reader(bytes);
        let got: Vec<String> = rdr
            .headers()
            .expect("header")
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(got, header);
        rdr.records().map(|r| r.expect("row")).collect()
    }

    fn generate(config: &LinkageConfig) -> (Data, [Vec<u8>; 3]) {
        let (mut b, mut s, mut t) = (Vec::new(), Vec::new(), Vec::new());
        let counts = write_linkage(config, &mut b, &mut s, &mut t).expect("write");
        let base = read(&b, LINKAGE_BASE_HEADER);
        let scheme = read(&s, LINKAGE_SCHEME_HEADER);
        let truth_records = read(&t, LINKAGE_TRUTH_HEADER);
        let truth_rows = truth_records.len();
        let truth = truth_records
            .iter()
            .map(|r| (r[0].to_string(), r[1].to_string()))
            .collect();
        let data = Data {
            base,
            scheme,
            truth,
            truth_rows,
            counts,
        };
        (data, [b, s, t])
    }

    fn config() -> LinkageConfig {
        LinkageConfig {
            seed: 17,
            households: 1500,
            // A larger sample than the default so the shares below are measurable.
            scheme_share: 0.3,
            duplicate_share: 0.05,
            ..Default::default()
        }
    }

    #[test]
    fn every_record_has_exactly_one_truth_row_and_ids_are_unique() {
        let (d, _) = generate(&config());
        assert_eq!(d.counts.base as usize, d.base.len());
        assert_eq!(d.counts.scheme as usize, d.scheme.len());
        assert_eq!(d.truth_rows, d.base.len() + d.scheme.len());
        // Unique across both files: the map lost nothing.
        assert_eq!(d.truth.len(), d.truth_rows);
        for r in d.base.iter().chain(&d.scheme) {
            assert!(d.truth.contains_key(&r[0]), "{} not in truth", &r[0]);
        }
        assert_eq!(&d.base[0][0], "B000001");
        assert!(d.scheme.iter().all(|r| r[0].starts_with('S')));
        assert!(d.base.iter().all(|r| r[0].starts_with('B')));
    }

    #[test]
    fn base_truth_is_the_generators_person_ids_in_order() {
        let c = config();
        let (d, _) = generate(&c);
        let generator = Generator::new(GeneratorConfig {
            seed: c.seed,
            households: c.households,
            ..Default::default()
        });
        let members: Vec<(Member, u32)> = generator
            .households()
            .flat_map(|h| {
                let v = h.village.village_code;
                h.members.into_iter().map(move |m| (m, v))
            })
            .collect();
        assert_eq!(members.len(), d.base.len());
        for (row, (m, village)) in d.base.iter().zip(&members) {
            assert_eq!(d.truth[&row[0]], m.person_id.to_string());
            assert_eq!(&row[1], m.name);
            assert_eq!(&row[5], m.id_number.as_deref().unwrap_or(""));
            assert_eq!(&row[10], village.to_string());
        }
    }

    #[test]
    fn scheme_records_carry_the_persons_own_id_number_and_place() {
        let (d, _) = generate(&config());
        let base_by_person: HashMap<&str, &csv::StringRecord> = d
            .base
            .iter()
            .map(|r| (d.truth[&r[0]].as_str(), r))
            .collect();
        let mut with_id_number = 0;
        for r in &d.scheme {
            let Some(b) = base_by_person.get(d.truth[&r[0]].as_str()) else {
                continue;
            };
            // An ID number a scheme record carries is always the person's own.
            if !r[5].is_empty() {
                with_id_number += 1;
                assert_eq!(&r[5], &b[5]);
            }
            // The pincode is the household's, and a village code, when present, too.
            assert_eq!(&r[8], &b[12]);
            assert!(r[7].is_empty() || r[7] == b[10]);
        }
        assert!(with_id_number > 0);
    }

    #[test]
    fn duplicates_share_a_person_and_outsiders_are_absent_from_base() {
        let c = config();
        let (d, _) = generate(&c);
        let base_people: HashSet<&str> = d.base.iter().map(|r| d.truth[&r[0]].as_str()).collect();
        let mut per_person: HashMap<&str, usize> = HashMap::new();
        for r in &d.scheme {
            *per_person.entry(d.truth[&r[0]].as_str()).or_default() += 1;
        }
        let twice: Vec<&str> = per_person
            .iter()
            .filter(|(_, n)| **n == 2)
            .map(|(p, _)| *p)
            .collect();
        assert!(per_person.values().all(|n| *n <= 2));
        assert_eq!(twice.len() as u64, d.counts.duplicates);
        assert!(twice.iter().all(|p| base_people.contains(p)));

        let outside: Vec<&str> = per_person
            .keys()
            .filter(|p| !base_people.contains(*p))
            .copied()
            .collect();
        assert_eq!(outside.len() as u64, d.counts.outside);
        let last_base_person = c.households * crate::household::MEMBER_SLOTS;
        for p in &outside {
            let id: u64 = p.parse().expect("numeric person id");
            assert!(id > last_base_person, "outsider {id} inside the base range");
        }
        assert_eq!(
            per_person.len() as u64,
            d.counts.enrolled + d.counts.outside
        );
    }

    #[test]
    fn shares_are_about_what_was_asked() {
        let (d, _) = generate(&config());
        let scheme = d.scheme.len() as f64;
        let enrolled = d.counts.enrolled as f64 / d.base.len() as f64;
        assert!(
            (0.27..0.33).contains(&enrolled),
            "enrolled share {enrolled}"
        );
        let outside = d.counts.outside as f64 / scheme;
        assert!((0.04..0.06).contains(&outside), "outside share {outside}");
        let dup = d.counts.duplicates as f64 / d.counts.enrolled as f64;
        assert!((0.03..0.07).contains(&dup), "duplicate share {dup}");
        let blank_village = d.scheme.iter().filter(|r| r[7].is_empty()).count() as f64 / scheme;
        assert!(
            (0.03..0.07).contains(&blank_village),
            "blank village {blank_village}"
        );
        // Noise is real: many names differ from the base.
        let base_names: HashMap<&str, &str> = d
            .base
            .iter()
            .map(|r| (d.truth[&r[0]].as_str(), &r[1]))
            .collect();
        let changed = d
            .scheme
            .iter()
            .filter(|r| {
                base_names
                    .get(d.truth[&r[0]].as_str())
                    .is_some_and(|n| *n != &r[1])
            })
            .count() as f64;
        assert!(changed / scheme > 0.3, "changed names {}", changed / scheme);
    }

    #[test]
    fn default_sample_is_about_one_scheme_record_per_ten_residents() {
        let c = LinkageConfig {
            households: 2000,
            ..Default::default()
        };
        let (d, _) = generate(&c);
        let ratio = d.scheme.len() as f64 / d.base.len() as f64;
        assert!((0.09..0.13).contains(&ratio), "ratio {ratio}");
    }

    #[test]
    fn deterministic_for_a_seed() {
        let c = LinkageConfig {
            households: 300,
            ..config()
        };
        let (_, a) = generate(&c);
        let (_, b) = generate(&c);
        assert_eq!(a, b);
        let (_, other) = generate(&LinkageConfig { seed: 18, ..c });
        assert_ne!(a[1], other[1]);
    }

    #[test]
    fn writes_the_three_files_into_a_directory() {
        let dir = std::env::temp_dir().join(format!("sangam-linkage-test-{}", std::process::id()));
        let c = LinkageConfig {
            households: 50,
            ..config()
        };
        let counts = write_linkage_dir(&c, &dir).expect("write dir");
        for name in ["base.csv", "scheme.csv", "truth.csv"] {
            assert!(dir.join(name).is_file(), "{name} missing");
        }
        let truth = std::fs::read_to_string(dir.join("truth.csv")).expect("truth");
        assert_eq!(
            truth.lines().count() as u64,
            1 + counts.base + counts.scheme
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
