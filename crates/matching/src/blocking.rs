//! Blocking: which pairs of records are worth comparing at all.
//!
//! Comparing every pair is quadratic, so records are put into blocks by several keys (the ID
//! number; a name token with the birth year; a name token's sound with the village; the
//! birth date; ...) and only records sharing a key are compared. Several rules keep recall
//! high when any one field is wrong or missing. One sorted index holds every rule's keys;
//! keys held by more records than the block limit are dropped (a birth date of 01-01-1960 or
//! a name like "Kumar" in a large state says too little to be worth the pairs), and counted.

use rayon::prelude::*;
use serde::Serialize;

use crate::compare::Comparison;
use crate::normalise::date::Precision;
use crate::normalise::hash_str;
use crate::normalise::name::NameValue;
use crate::record::{PLACE_ROLES, Record};

/// A way of forming blocking keys from a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The ID number.
    IdNumber,
    /// The ID number with one character left out, every way: numbers one digit apart or
    /// with two digits swapped share a key.
    IdNumberTypo,
    /// The phone number.
    Phone,
    /// The email address.
    Email,
    /// Each full name token with the birth year (ages widen the year by one either way).
    NameTokenAndYear,
    /// Each full name token's sound with a place (the place slot).
    NameSoundAndPlace(usize),
    /// Each pair of full name tokens' sounds.
    NameSoundPair,
    /// The full birth date.
    BirthDate,
    /// Each full token of the relative's name with the birth year.
    RelativeTokenAndYear,
    /// The house number with a place (the place slot).
    HouseAndPlace(usize),
}

impl Rule {
    /// The comparisons whose fields form this rule's keys: pairs found only through this
    /// rule say little about how often those fields agree among true matches.
    pub fn uses(self) -> Vec<Comparison> {
        match self {
            Rule::IdNumber | Rule::IdNumberTypo => vec![Comparison::IdNumber],
            Rule::Phone => vec![Comparison::Phone],
            Rule::Email => vec![Comparison::Email],
            Rule::NameTokenAndYear => vec![Comparison::Name, Comparison::BirthDate],
            Rule::NameSoundAndPlace(_) => vec![Comparison::Name, Comparison::Place],
            Rule::NameSoundPair => vec![Comparison::Name],
            Rule::BirthDate => vec![Comparison::BirthDate],
            Rule::RelativeTokenAndYear => vec![Comparison::RelativeName, Comparison::BirthDate],
            Rule::HouseAndPlace(_) => vec![Comparison::Address, Comparison::Place],
        }
    }

    /// The rule's name in reports.
    pub fn name(self) -> String {
        match self {
            Rule::IdNumber => "id_number".into(),
            Rule::IdNumberTypo => "id_number_one_slip".into(),
            Rule::Phone => "phone".into(),
            Rule::Email => "email".into(),
            Rule::NameTokenAndYear => "name_token+birth_year".into(),
            Rule::NameSoundAndPlace(slot) => {
                format!("name_sound+{}", PLACE_ROLES[slot].as_str())
            }
            Rule::NameSoundPair => "name_sound_pair".into(),
            Rule::BirthDate => "birth_date".into(),
            Rule::RelativeTokenAndYear => "relative_token+birth_year".into(),
            Rule::HouseAndPlace(slot) => format!("house_number+{}", PLACE_ROLES[slot].as_str()),
        }
    }

    /// Appends the record's keys for this rule (already mixed with `tag`, the rule's
    /// position, so that one index can hold all rules). Indexed records ([`Side::Indexed`])
    /// file themselves under the neighbouring birth years too, so that a looked-up record
    /// finds them across a year's slip or an age's rounding with one key of its own.
    pub fn keys(self, r: &Record, tag: u64, side: Side, out: &mut Vec<u64>) {
        let mut push = |a: u64, b: u64| out.push(mix(tag, a, b));
        let years = |r: &Record| -> Vec<i32> {
            let spread = match (r.birth.map(|b| b.precision), side) {
                (None, _) => return Vec::new(),
                (Some(Precision::Age), Side::Indexed) => 2,
                (Some(Precision::Age), Side::Lookup) | (Some(_), Side::Indexed) => 1,
                (Some(_), Side::Lookup) => 0,
            };
            let year = r.birth.map_or(0, |b| b.year);
            (year - spread..=year + spread).collect()
        };
        // Names written joined ("Ramkumar") or split ("Ram Kumar") share their joined form,
        // which is keyed as one more token.
        let tokens = |name: &NameValue| -> Vec<u64> {
            let mut t: Vec<u64> = name.full_tokens().map(|t| hash_str(&t.folded)).collect();
            if name.tokens.len() > 1 {
                t.push(name.joined);
            }
            t
        };
        let sounds = |name: &NameValue| -> Vec<u64> {
            let mut t: Vec<u64> = name
                .full_tokens()
                .filter(|t| t.phonetic != 0)
                .map(|t| t.phonetic)
                .collect();
            if name.tokens.len() > 1 {
                t.push(name.joined_phonetic);
            }
            t
        };
        match self {
            Rule::HouseAndPlace(slot) => {
                if let (Some(house), Some(place)) = (
                    r.address.as_ref().and_then(|a| a.house.as_deref()),
                    &r.places[slot],
                ) {
                    push(hash_str(house), hash_str(place));
                }
            }
            Rule::IdNumber => {
                if let Some(id) = &r.id_number {
                    push(hash_str(id), 0);
                }
            }
            Rule::IdNumberTypo => {
                if let Some(id) = r.id_number.as_deref().filter(|id| id.len() <= 16) {
                    let mut shorter = String::with_capacity(id.len());
                    for skip in 0..id.len() {
                        shorter.clear();
                        shorter.push_str(&id[..skip]);
                        shorter.push_str(&id[skip + 1..]);
                        push(hash_str(&shorter), 0);
                    }
                }
            }
            Rule::Phone => {
                if let Some(p) = &r.phone {
                    push(hash_str(p), 0);
                }
            }
            Rule::Email => {
                if let Some(e) = &r.email {
                    push(hash_str(e), 0);
                }
            }
            Rule::NameTokenAndYear | Rule::RelativeTokenAndYear => {
                let name = if self == Rule::NameTokenAndYear {
                    &r.name
                } else {
                    &r.relative
                };
                if let Some(name) = name {
                    let ys = years(r);
                    for h in tokens(name) {
                        for y in &ys {
                            push(h, *y as u64);
                        }
                    }
                }
            }
            Rule::NameSoundAndPlace(slot) => {
                if let (Some(name), Some(place)) = (&r.name, &r.places[slot]) {
                    let p = hash_str(place);
                    for h in sounds(name) {
                        push(h, p);
                    }
                }
            }
            Rule::NameSoundPair => {
                if let Some(name) = &r.name {
                    // The tokens' own sounds only: the joined form pairs with nothing.
                    let own: Vec<u64> = name
                        .full_tokens()
                        .take(6)
                        .filter(|t| t.phonetic != 0)
                        .map(|t| t.phonetic)
                        .collect();
                    for (i, a) in own.iter().enumerate() {
                        for b in &own[i + 1..] {
                            if a != b {
                                push(*a.min(b), *a.max(b));
                            }
                        }
                    }
                }
            }
            Rule::BirthDate => {
                if let Some(b) = r.birth.filter(|b| b.precision == Precision::Day) {
                    push(b.year as u64, u64::from(b.month) << 8 | u64::from(b.day));
                }
            }
        }
    }
}

/// Which side of a lookup a record's keys are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The record is filed in the index.
    Indexed,
    /// The record looks its candidates up.
    Lookup,
}

fn mix(tag: u64, a: u64, b: u64) -> u64 {
    // splitmix64 finaliser over the three parts: cheap, and spreads similar inputs apart.
    let mut z = tag
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(a)
        .rotate_left(23)
        ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The rules worth using for a set of active comparisons, most precise first. `place` is
/// the place slot (of [`PLACE_ROLES`]) to block on, if both sides hold one worth it.
pub fn choose_rules(active: &[Comparison], place: Option<usize>) -> Vec<Rule> {
    let has = |c: Comparison| active.contains(&c);
    let mut rules = Vec::new();
    if has(Comparison::IdNumber) {
        rules.push(Rule::IdNumber);
        rules.push(Rule::IdNumberTypo);
    }
    if has(Comparison::Phone) {
        rules.push(Rule::Phone);
    }
    if has(Comparison::Email) {
        rules.push(Rule::Email);
    }
    if has(Comparison::Name) {
        if has(Comparison::BirthDate) {
            rules.push(Rule::NameTokenAndYear);
        }
        if let Some(slot) = place {
            rules.push(Rule::NameSoundAndPlace(slot));
        }
        rules.push(Rule::NameSoundPair);
    }
    if has(Comparison::BirthDate) {
        rules.push(Rule::BirthDate);
        if has(Comparison::RelativeName) {
            rules.push(Rule::RelativeTokenAndYear);
        }
    }
    if let (true, Some(slot)) = (has(Comparison::Address), place) {
        rules.push(Rule::HouseAndPlace(slot));
    }
    rules
}

/// All records' blocking keys, sorted for lookup.
#[derive(Debug, Default)]
pub struct BlockIndex {
    keys: Vec<u64>,
    /// `starts[i]..starts[i + 1]` are the postings of `keys[i]`.
    starts: Vec<u32>,
    postings: Vec<u32>,
    /// Keys dropped because more records than the limit held them.
    pub oversized_keys: usize,
}

impl BlockIndex {
    /// Indexes `records` under every rule's keys, dropping keys held by more than
    /// `max_block` records.
    pub fn build(records: &[Record], rules: &[Rule], max_block: usize) -> BlockIndex {
        let mut entries: Vec<(u64, u32)> = records
            .par_iter()
            .enumerate()
            .fold(Vec::new, |mut acc, (i, r)| {
                let mut keys = Vec::new();
                for (tag, rule) in rules.iter().enumerate() {
                    rule.keys(r, tag as u64, Side::Indexed, &mut keys);
                }
                keys.sort_unstable();
                keys.dedup();
                acc.extend(keys.into_iter().map(|k| (k, i as u32)));
                acc
            })
            .reduce(Vec::new, |mut a, mut b| {
                if a.len() < b.len() {
                    std::mem::swap(&mut a, &mut b);
                }
                a.extend(b);
                a
            });
        entries.par_sort_unstable();
        let mut index = BlockIndex::default();
        let mut i = 0;
        while i < entries.len() {
            let key = entries[i].0;
            let mut j = i;
            while j < entries.len() && entries[j].0 == key {
                j += 1;
            }
            if j - i > max_block {
                index.oversized_keys += 1;
            } else if j - i > 0 {
                index.keys.push(key);
                index.starts.push(index.postings.len() as u32);
                index.postings.extend(entries[i..j].iter().map(|e| e.1));
            }
            i = j;
        }
        index.starts.push(index.postings.len() as u32);
        index
    }

    /// The records holding `key`.
    pub fn postings(&self, key: u64) -> &[u32] {
        match self.keys.binary_search(&key) {
            Ok(i) => &self.postings[self.starts[i] as usize..self.starts[i + 1] as usize],
            Err(_) => &[],
        }
    }

    /// Number of (key, record) entries held.
    pub fn len(&self) -> usize {
        self.postings.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }
}

/// The records sharing a key with `record` under any rule, each with a bit mask of the rules
/// that paired them (bit `i` for `rules[i]`), sorted by record.
pub fn candidates(
    record: &Record,
    rules: &[Rule],
    index: &BlockIndex,
    out: &mut Vec<(u32, u32)>,
    scratch: &mut Vec<u64>,
) {
    out.clear();
    for (tag, rule) in rules.iter().enumerate() {
        scratch.clear();
        rule.keys(record, tag as u64, Side::Lookup, scratch);
        scratch.sort_unstable();
        scratch.dedup();
        for key in scratch.iter() {
            out.extend(index.postings(*key).iter().map(|&j| (j, 1u32 << tag)));
        }
    }
    out.sort_unstable_by_key(|e| e.0);
    // Merge the masks of a record found by several rules.
    let mut w = 0;
    for r in 0..out.len() {
        if w > 0 && out[w - 1].0 == out[r].0 {
            out[w - 1].1 |= out[r].1;
        } else {
            out[w] = out[r];
            w += 1;
        }
    }
    out.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RawFields;
    use crate::roles::{DateKind, Role};
    use chrono::NaiveDate;

    fn person(name: &str, dob: &str, pincode: &str) -> Record {
        let mut raw = RawFields::new();
        raw.push(Role::FullName, DateKind::Date, name)
            .push(Role::BirthDate, DateKind::Date, dob)
            .push(Role::Pincode, DateKind::Date, pincode);
        raw.prepare(NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"))
    }

    #[test]
    fn records_sharing_a_key_are_candidates_and_oversized_blocks_are_dropped() {
        let slot = crate::record::place_slot(Role::Pincode);
        let active = [Comparison::Name, Comparison::BirthDate, Comparison::Place];
        let rules = choose_rules(&active, slot);
        assert_eq!(
            rules,
            [
                Rule::NameTokenAndYear,
                Rule::NameSoundAndPlace(1),
                Rule::NameSoundPair,
                Rule::BirthDate
            ]
        );
        let records = vec![
            person("Ramesh Kumar", "12-04-1980", "605001"),
            person("Kumar Ramesh", "1981-01-01", "605002"),
            person("Murugan S", "02-02-1970", "605001"),
            person("Murukan Selvam", "1960", "605001"),
            person("Fathima", "05-05-1990", "600001"),
        ];
        let index = BlockIndex::build(&records, &rules, 10);
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        candidates(&records[0], &rules, &index, &mut out, &mut scratch);
        let found: Vec<u32> = out.iter().map(|c| c.0).collect();
        assert_eq!(found, [0, 1], "token pair joins the reordered name");
        assert_eq!(
            out[1].1,
            1 | 1 << 2,
            "found by the sound pair and by a name token with the neighbouring birth year"
        );
        candidates(&records[3], &rules, &index, &mut out, &mut scratch);
        assert_eq!(
            out.iter().map(|c| c.0).collect::<Vec<_>>(),
            [2, 3],
            "same sound, same pincode"
        );
        candidates(&records[4], &rules, &index, &mut out, &mut scratch);
        assert_eq!(out.iter().map(|c| c.0).collect::<Vec<_>>(), [4]);

        let crowded = vec![person("Kumar", "01-01-1960", "605001"); 5];
        let index = BlockIndex::build(&crowded, &rules, 3);
        candidates(&crowded[0], &rules, &index, &mut out, &mut scratch);
        assert!(out.is_empty());
        assert!(index.oversized_keys > 0);
    }
}
