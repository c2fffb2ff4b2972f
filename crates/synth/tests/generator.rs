#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::collections::{HashMap, HashSet};

use chrono::Datelike;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sangam_synth::{
    BASE_REGISTRY_HEADER, Dob, Gender, Generator, GeneratorConfig, LifeStatus, Relationship,
    dob_variant, name_variant, noisy_copy, write_base_registry_csv,
};

fn generator(seed: u64, households: u64) -> Generator {
    Generator::new(GeneratorConfig {
        seed,
        households,
        ..Default::default()
    })
}

#[test]
fn same_seed_same_output_different_seed_different_output() {
    let a: Vec<_> = generator(11, 200).households().collect();
    let b: Vec<_> = generator(11, 200).households().collect();
    assert_eq!(a, b);
    let c: Vec<_> = generator(12, 200).households().collect();
    assert_ne!(a, c);
    assert_eq!(generator(11, 200).places(), generator(11, 200).places());
}

#[test]
fn household_at_index_matches_iteration() {
    let g = generator(5, 300);
    for (i, h) in g.households().enumerate() {
        assert_eq!(h.index, i as u64);
        if i % 7 == 0 {
            assert_eq!(g.household(i as u64), h);
        }
    }
    // Out of order access gives the same answer.
    assert_eq!(g.household(250), g.households().nth(250).unwrap());
}

#[test]
fn id_numbers_valid_and_unique_mobiles_valid() {
    let g = generator(3, 50_000);
    let mut ids = HashSet::new();
    let mut person_ids = HashSet::new();
    let mut cards = HashSet::new();
    for h in g.households() {
        assert!(
            cards.insert(h.card_number.clone()),
            "duplicate card {}",
            h.card_number
        );
        assert_eq!(h.card_number.len(), 12);
        assert!(h.card_number.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(h.address.pincode.len(), 6);
        assert!(h.address.pincode.starts_with("60"));
        assert!(h.address.pincode.chars().all(|c| c.is_ascii_digit()));
        for m in &h.members {
            assert!(person_ids.insert(m.person_id));
            if let Some(id) = &m.id_number {
                assert_eq!(id.len(), 12, "{id}");
                assert!(id.chars().all(|c| c.is_ascii_digit()));
                assert!(matches!(id.as_bytes()[0], b'2'..=b'9'), "{id}");
                assert!(sangam_domain::verhoeff::is_valid(id), "{id}");
                assert!(ids.insert(id.clone()), "duplicate {id}");
                assert_eq!(*id, g.id_number_of(m.person_id));
            }
            if let Some(mobile) = &m.mobile {
                assert_eq!(mobile.len(), 10);
                assert!(mobile.chars().all(|c| c.is_ascii_digit()));
                assert!(matches!(mobile.as_bytes()[0], b'6'..=b'9'));
            }
            assert!(!m.name.trim().is_empty());
            assert!(!m.relative_name.trim().is_empty());
        }
    }
}

#[test]
fn household_structure_and_ages_are_plausible() {
    let g = generator(9, 20_000);
    let reference = g.config().reference_date;
    let mut sizes = 0usize;
    let mut n = 0usize;
    let mut female_heads = 0usize;
    let mut rels: HashMap<Relationship, usize> = HashMap::new();
    for h in g.households() {
        n += 1;
        sizes += h.members.len();
        assert!((1..=9).contains(&h.members.len()));
        let heads: Vec<_> = h
            .members
            .iter()
            .filter(|m| m.relationship == Relationship::Head)
            .collect();
        assert_eq!(
            heads.len(),
            1,
            "household {} has {} heads",
            h.index,
            heads.len()
        );
        assert_eq!(h.members[0].relationship, Relationship::Head);
        let head = heads[0];
        if head.gender == Gender::Female {
            female_heads += 1;
        }
        let year = |d: &Dob| d.approx_year(reference);
        for m in &h.members {
            *rels.entry(m.relationship).or_default() += 1;
            if let Dob::Full(d) = m.dob {
                assert!(d <= reference, "dob after reference date");
            }
            let age = reference.year() - year(&m.dob);
            assert!((0..=110).contains(&age), "age {age}");
        }
        let parents: Vec<_> = h
            .members
            .iter()
            .filter(|m| matches!(m.relationship, Relationship::Head | Relationship::Spouse))
            .collect();
        for m in &h.members {
            match m.relationship {
                Relationship::Son | Relationship::Daughter => {
                    for p in &parents {
                        assert!(
                            year(&m.dob) - year(&p.dob) >= 15,
                            "child {:?} vs parent {:?} in {}",
                            m.dob,
                            p.dob,
                            h.index
                        );
                    }
                    // Relative name is the father's (or head's) name.
                    if head.gender == Gender::Male {
                        assert_eq!(m.relative_name, head.name);
                    }
                }
                Relationship::Father | Relationship::Mother => {
                    assert!(year(&head.dob) - year(&m.dob) >= 15);
                }
                Relationship::Grandson | Relationship::Granddaughter => {
                    assert!(year(&m.dob) - year(&head.dob) >= 30);
                }
                Relationship::Spouse if head.gender == Gender::Male => {
                    assert_eq!(m.relative_name, head.name);
                }
                _ => {}
            }
        }
    }
    let mean = sizes as f64 / n as f64;
    assert!((4.0..=4.6).contains(&mean), "mean size {mean}");
    let female_share = female_heads as f64 / n as f64;
    assert!(
        (0.10..=0.20).contains(&female_share),
        "female heads {female_share}"
    );
    for r in [
        Relationship::Spouse,
        Relationship::Son,
        Relationship::Daughter,
        Relationship::Mother,
        Relationship::DaughterInLaw,
        Relationship::Grandson,
    ] {
        assert!(
            rels.get(&r).copied().unwrap_or(0) > 50,
            "too few {r:?}: {rels:?}"
        );
    }
}

#[test]
fn shares_are_roughly_as_configured() {
    let g = Generator::new(GeneratorConfig {
        seed: 21,
        households: 20_000,
        id_number_coverage: 0.8,
        mobile_coverage: 0.6,
        ..Default::default()
    });
    let (mut people, mut ids, mut mobiles, mut full, mut year_only, mut alive, mut trans) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let mut card_types = HashMap::new();
    for h in g.households() {
        *card_types.entry(h.card_type).or_insert(0usize) += 1;
        for m in &h.members {
            people += 1;
            ids += usize::from(m.id_number.is_some());
            mobiles += usize::from(m.mobile.is_some());
            full += usize::from(matches!(m.dob, Dob::Full(_)));
            year_only += usize::from(matches!(m.dob, Dob::YearOnly(_)));
            alive += usize::from(m.life_status == LifeStatus::Alive);
            trans += usize::from(m.gender == Gender::Transgender);
        }
    }
    let share = |k: usize| k as f64 / people as f64;
    assert!((share(ids) - 0.8).abs() < 0.03, "ids {}", share(ids));
    assert!(
        (share(mobiles) - 0.6).abs() < 0.03,
        "mobiles {}",
        share(mobiles)
    );
    assert!((share(full) - 0.8).abs() < 0.03);
    assert!((share(year_only) - 0.12).abs() < 0.03);
    assert!((share(alive) - 0.97).abs() < 0.03);
    assert!(share(trans) < 0.005);
    let aay = card_types[&sangam_synth::CardType::Aay] as f64 / 20_000.0;
    assert!((aay - 0.10).abs() < 0.03, "aay {aay}");

    // Default coverage too.
    let g = generator(22, 20_000);
    let (mut people, mut ids) = (0usize, 0usize);
    for h in g.households() {
        for m in &h.members {
            people += 1;
            ids += usize::from(m.id_number.is_some());
        }
    }
    assert!((ids as f64 / people as f64 - 0.92).abs() < 0.03);
}

#[test]
fn village_codes_unique_and_shaped() {
    let g = Generator::new(GeneratorConfig {
        districts: 12,
        villages_per_district: 60,
        ..Default::default()
    });
    assert_eq!(g.places().len(), 720);
    let mut codes = HashSet::new();
    let mut districts = HashMap::new();
    let mut subs = HashMap::new();
    for v in g.places() {
        assert!(codes.insert(v.village_code));
        assert!((100_000..=999_999).contains(&v.village_code));
        assert!((100..=999).contains(&v.district_code));
        assert!((1000..=9999).contains(&v.sub_district_code));
        assert_eq!(v.state_code, 34);
        assert!(!v.village_name.is_empty());
        // A district code has one name; a sub-district belongs to one district.
        assert_eq!(
            districts
                .entry(v.district_code)
                .or_insert(v.district_name.clone()),
            &v.district_name
        );
        assert_eq!(
            subs.entry(v.sub_district_code).or_insert(v.district_code),
            &v.district_code
        );
    }
    assert_eq!(districts.len(), 12);
    let default = generator(0, 1);
    assert_eq!(default.places().len(), 100);
    assert_eq!(default.places()[0].district_name, "Puducherry");
}

#[test]
fn csv_has_header_and_one_row_per_member() {
    let g = generator(4, 500);
    let members: usize = g.households().map(|h| h.members.len()).sum();
    let mut buf = Vec::new();
    let rows = write_base_registry_csv(&g, &mut buf).unwrap();
    assert_eq!(rows as usize, members);
    let mut rdr = csv::Reader::from_reader(buf.as_slice());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, BASE_REGISTRY_HEADER);
    let records: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), members);
    let first = g.household(0);
    assert_eq!(&records[0][0], first.card_number);
    assert_eq!(&records[0][7], first.members[0].name);
    assert_eq!(&records[0][11], "HEAD");
    for r in &records {
        assert_eq!(r.len(), BASE_REGISTRY_HEADER.len());
        assert!(["AAY", "PHH", "NPHH"].contains(&&r[1]));
        assert!(["F", "M", "T"].contains(&&r[9]));
        assert!(["alive", "deceased", "migrated"].contains(&&r[14]));
    }
}

#[test]
fn name_variants_usually_differ_and_are_never_empty() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let g = generator(8, 2000);
    let (mut total, mut changed) = (0, 0);
    for h in g.households() {
        for m in &h.members {
            let v = name_variant(&mut rng, &m.name);
            assert!(!v.trim().is_empty());
            total += 1;
            changed += usize::from(v != m.name);
        }
    }
    assert!(changed as f64 / total as f64 > 0.9, "{changed}/{total}");
    // The classic ones show up.
    let seen: HashSet<String> = (0..400)
        .map(|_| name_variant(&mut rng, "Lakshmi"))
        .collect();
    assert!(seen.contains("Laxmi"), "{seen:?}");
    let seen: HashSet<String> = (0..400)
        .map(|_| name_variant(&mut rng, "K. Ramesh"))
        .collect();
    assert!(seen.contains("Ramesh K"), "{seen:?}");
    let seen: HashSet<String> = (0..400)
        .map(|_| name_variant(&mut rng, "Ram Kumar"))
        .collect();
    assert!(seen.contains("Ramkumar"), "{seen:?}");
}

#[test]
fn dob_variants_and_noisy_copies() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let d = Dob::Full(chrono::NaiveDate::from_ymd_opt(1981, 4, 9).unwrap());
    let seen: HashSet<String> = (0..300).map(|_| dob_variant(&mut rng, &d)).collect();
    assert!(seen.contains("09/04/1981"), "{seen:?}");
    assert!(seen.contains("1981-09-04"), "{seen:?}");
    assert!(seen.contains("1981"), "{seen:?}");
    assert!(seen.contains("45"), "{seen:?}");
    assert!(!seen.contains("1981-04-09"));
    for d in [Dob::YearOnly(1970), Dob::DeclaredAge(52)] {
        for _ in 0..50 {
            let v = dob_variant(&mut rng, &d);
            assert!(!v.is_empty());
            assert_ne!(v, d.to_string());
        }
    }

    let g = generator(2, 3000);
    let (mut n, mut with_id, mut had_id, mut name_changed) = (0, 0, 0, 0);
    for h in g.households() {
        for m in &h.members {
            let r = noisy_copy(&mut rng, m, 0.5);
            assert_eq!(r.person_id, m.person_id);
            assert!(!r.name.is_empty());
            n += 1;
            if m.id_number.is_some() {
                had_id += 1;
                with_id += usize::from(r.id_number.is_some());
            }
            if let Some(id) = &r.id_number {
                assert_eq!(Some(id), m.id_number.as_ref());
            }
            name_changed += usize::from(r.name != m.name);
        }
    }
    let kept = with_id as f64 / had_id as f64;
    assert!((kept - 0.65).abs() < 0.03, "kept {kept}");
    let changed = name_changed as f64 / n as f64;
    assert!((0.4..0.6).contains(&changed), "changed {changed}");
    // No noise: names and dobs stay.
    let m = &g.household(0).members[0];
    let r = noisy_copy(&mut rng, m, 0.0);
    assert_eq!(r.name, m.name);
}

#[test]
fn naming_conventions_are_all_used() {
    let g = generator(6, 5000);
    let mut seen = HashSet::new();
    for h in g.households() {
        seen.insert(h.convention);
    }
    assert_eq!(seen.len(), sangam_synth::Convention::ALL.len(), "{seen:?}");
}

#[test]
fn print_sample() {
    let g = generator(1, 3);
    for h in g.households() {
        println!(
            "{} {} {:?} {}",
            h.card_number,
            h.card_type.code(),
            h.convention,
            h.village.village_name
        );
        for m in &h.members {
            println!(
                "  {:>12} {:<28} s/o {:<28} {} {} {:?} {:?}",
                m.relationship.code(),
                m.name,
                m.relative_name,
                m.gender.code(),
                m.dob,
                m.id_number,
                m.mobile
            );
        }
    }
}
