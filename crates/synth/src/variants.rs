//! Spelling and recording variants, for record-linkage tests with ground truth.
//!
//! The same person appears in different schemes' records with their name transliterated
//! differently ("Lakshmi" / "Laxmi"), initials moved or expanded ("K. Ramesh" / "Ramesh K" /
//! "Krishnan Ramesh"), tokens joined or split, the odd typo, and dates of birth recorded in
//! other formats or as an age. These functions produce such variants deterministically from the
//! caller's RNG.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::household::{Dob, Gender, Member, default_reference_date, random_mobile};
use crate::names;

/// Groups of spellings of the same name token, all lowercase.
const SYNONYMS: &[&[&str]] = &[
    &["lakshmi", "laxmi", "lakshmy", "latchumi", "letchumi"],
    &["mohammed", "mohammad", "muhammad", "mohamed", "md", "mohd"],
    &["krishnan", "kirshnan", "krishna", "kishnan"],
    &["fathima", "fatima", "fathimah", "pathima"],
    &["ayesha", "aisha", "aysha", "ayisha"],
    &["shaik", "shaikh", "sheikh", "shek", "sk"],
    &["syed", "sayed", "saiyed", "sayyed"],
    &["begum", "beegum", "bagum"],
    &["beevi", "bivi", "bibi", "bee"],
    &["venkata", "venkat", "v"],
    &["srinivasa", "srinivas", "sreenivasa", "shrinivas"],
    &["subramanian", "subramaniam", "subramani", "subramanyam"],
    &["murugan", "murugun", "murukan"],
    &["selvi", "selvy", "shelvi"],
    &["devi", "devy"],
    &["kumar", "kumaar", "kr"],
    &["joseph", "josef", "jose", "ouseph"],
    &["mary", "mari", "marie"],
    &["thomas", "tomas", "thoms"],
    &["varghese", "varghees", "verghese", "vargis"],
    &["antony", "anthony", "antoni"],
    &["xavier", "saviour", "xaviour"],
    &["abdul", "abdhul", "abd"],
    &["rahim", "raheem", "rahiem"],
    &["rahman", "rehman", "rahuman"],
    &["jayanthi", "jeyanthi", "jayanti"],
    &["parvathi", "parvati", "parvathy"],
    &["saraswathi", "saraswati", "saraswathy"],
    &[
        "chandrasekar",
        "chandrasekaran",
        "chandrashekhar",
        "chandrasekhar",
    ],
    &["geetha", "gita", "geeta"],
    &["sita", "seetha", "seeta"],
    &["sunita", "sunitha", "suneetha"],
    &["anitha", "anita"],
    &["kavitha", "kavita"],
    &["latha", "lata"],
    &["kamala", "kamla"],
    &["vimala", "vimla"],
    &["savitri", "savithri"],
    &["shanthi", "shanti", "santhi"],
    &["ramesh", "rameshh", "rames"],
];

/// Transliteration substitutions (from, to), applied to one occurrence.
const RULES: &[(&str, &str)] = &[
    ("th", "t"),
    ("dh", "d"),
    ("bh", "b"),
    ("sh", "s"),
    ("v", "w"),
    ("w", "v"),
    ("aa", "a"),
    ("ee", "i"),
    ("oo", "u"),
    ("ks", "x"),
    ("x", "ks"),
    ("ph", "f"),
    ("z", "j"),
    ("u", "oo"),
    ("i", "ee"),
    ("ja", "je"),
    ("je", "ja"),
    ("kk", "k"),
    ("tt", "t"),
    ("ll", "l"),
    ("nn", "n"),
    ("mm", "m"),
    ("ss", "s"),
    ("ai", "ay"),
    ("y", "i"),
    ("t", "th"),
    ("d", "dh"),
    ("s", "sh"),
];

/// Suffixes at which a joined name can be split ("Ramkumar" → "Ram Kumar").
const SPLIT_SUFFIXES: &[&str] = &[
    "kumar", "raj", "lakshmi", "devi", "rao", "sekar", "samy", "swamy", "murthy", "prasad", "babu",
    "mary", "ammal", "nath", "doss", "das", "jahan", "selvi", "vel", "raman", "krishnan", "kannan",
    "mani", "gopal",
];

fn tokens(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn join(tokens: &[String]) -> String {
    tokens.join(" ")
}

/// Copies the case of `like`'s first character onto `word`.
fn match_case(word: &str, like: &str) -> String {
    let upper = like.chars().next().is_some_and(char::is_uppercase);
    let all_upper = like.len() > 1 && like.chars().all(|c| !c.is_lowercase());
    if all_upper {
        return word.to_uppercase();
    }
    let mut chars = word.chars();
    match chars.next() {
        Some(c) if upper => c.to_uppercase().chain(chars).collect(),
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn synonym<R: Rng + ?Sized>(rng: &mut R, s: &str) -> Option<String> {
    let mut toks = tokens(s);
    let candidates: Vec<(usize, &[&str])> = toks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let key = t.trim_end_matches('.').to_ascii_lowercase();
            SYNONYMS
                .iter()
                .find(|g| g.contains(&key.as_str()))
                .map(|g| (i, *g))
        })
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let (i, group) = candidates[rng.random_range(0..candidates.len())];
    let key = toks[i].trim_end_matches('.').to_ascii_lowercase();
    let others: Vec<&str> = group.iter().copied().filter(|g| *g != key).collect();
    let pick = others[rng.random_range(0..others.len())];
    let mut word = match_case(pick, &toks[i]);
    if pick == "md" && rng.random_bool(0.5) {
        word.push('.');
    }
    toks[i] = word;
    Some(join(&toks))
}

fn transliterate<R: Rng + ?Sized>(rng: &mut R, s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase(); // same byte offsets as `s`
    let applicable: Vec<(usize, &str, &str)> = RULES
        .iter()
        .flat_map(|(from, to)| {
            lower
                .match_indices(from)
                .map(move |(at, _)| (at, *from, *to))
        })
        .collect();
    if applicable.is_empty() {
        return None;
    }
    let (at, from, to) = applicable[rng.random_range(0..applicable.len())];
    let original = &s[at..at + from.len()];
    let mut out = String::with_capacity(s.len() + 2);
    out.push_str(&s[..at]);
    out.push_str(&match_case(to, original));
    out.push_str(&s[at + from.len()..]);
    Some(out)
}

fn is_initial(t: &str) -> bool {
    let mut chars = t.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(c), None, None) => c.is_alphabetic() && c.is_uppercase(),
        (Some(c), Some('.'), None) => c.is_alphabetic(),
        _ => false,
    }
}

fn initials<R: Rng + ?Sized>(rng: &mut R, s: &str) -> Option<String> {
    // Split a glued initial: "K.Ramesh" -> "K." "Ramesh".
    let mut toks: Vec<String> = Vec::new();
    for t in s.split_whitespace() {
        let mut chars = t.char_indices();
        if let (Some((_, c)), Some((_, '.')), Some((rest, _))) =
            (chars.next(), chars.next(), chars.next())
            && c.is_alphabetic()
        {
            toks.push(t[..rest].to_string());
            toks.push(t[rest..].to_string());
        } else {
            toks.push(t.to_string());
        }
    }
    let positions: Vec<usize> = (0..toks.len()).filter(|&i| is_initial(&toks[i])).collect();
    if positions.is_empty() || toks.len() < 2 {
        // Abbreviate the first token of a multi-token name: "Kommineni Venkata" -> "K. Venkata".
        if toks.len() >= 2 && toks[0].chars().count() > 2 && rng.random_bool(0.5) {
            let c = toks[0].chars().next()?;
            toks[0] = format!("{}.", c.to_uppercase());
            return Some(join(&toks));
        }
        return None;
    }
    let i = positions[rng.random_range(0..positions.len())];
    let letter = toks[i].chars().next()?;
    let bare = letter.to_uppercase().to_string();
    match rng.random_range(0..5u8) {
        0 => {
            // Move to the end (or the front if already at the end), without a dot.
            let t = toks.remove(i);
            let t = t.trim_end_matches('.').to_string();
            if i == toks.len() {
                toks.insert(0, format!("{t}."));
            } else {
                toks.push(t);
            }
        }
        1 => {
            toks.remove(i);
        }
        2 => {
            let expanded = names::pools()
                .male_starting_with(rng, letter)
                .map(str::to_string);
            toks[i] = expanded.unwrap_or_else(|| format!("{bare}."));
        }
        3 => {
            toks[i] = if toks[i].ends_with('.') {
                bare
            } else {
                format!("{bare}.")
            };
        }
        _ => {
            // Glue to the neighbour: "K. Ramesh" -> "K.Ramesh".
            if i + 1 < toks.len() {
                let next = toks.remove(i + 1);
                toks[i] = format!("{bare}.{next}");
            } else {
                toks.remove(i);
            }
        }
    }
    Some(join(&toks))
}

fn swap_tokens<R: Rng + ?Sized>(rng: &mut R, s: &str) -> Option<String> {
    let mut toks = tokens(s);
    if toks.len() < 2 {
        return None;
    }
    if toks.len() == 2 || rng.random_bool(0.5) {
        toks.rotate_left(1);
    } else {
        let i = rng.random_range(0..toks.len() - 1);
        toks.swap(i, i + 1);
    }
    Some(join(&toks))
}

fn join_or_split<R: Rng + ?Sized>(rng: &mut R, s: &str) -> Option<String> {
    let mut toks = tokens(s);
    // Split first if some token ends with a known suffix.
    let splittable: Vec<(usize, usize)> = toks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let lower = t.to_ascii_lowercase();
            SPLIT_SUFFIXES
                .iter()
                .find(|suf| {
                    lower.len() >= suf.len() + 3
                        && lower.ends_with(*suf)
                        && t.is_char_boundary(t.len() - suf.len())
                })
                .map(|suf| (i, t.len() - suf.len()))
        })
        .collect();
    if !splittable.is_empty() && (toks.len() < 2 || rng.random_bool(0.5)) {
        let (i, at) = splittable[rng.random_range(0..splittable.len())];
        let t = toks.remove(i);
        let (a, b) = t.split_at(at);
        toks.insert(i, match_case(b, "X"));
        toks.insert(i, a.to_string());
        return Some(join(&toks));
    }
    if toks.len() >= 2 {
        let i = rng.random_range(0..toks.len() - 1);
        let next = toks.remove(i + 1);
        let lowered = if toks[i].ends_with('.') {
            next
        } else {
            match_case(&next, "x")
        };
        toks[i].push_str(&lowered);
        return Some(join(&toks));
    }
    None
}

fn trailing_a<R: Rng + ?Sized>(rng: &mut R, s: &str) -> Option<String> {
    let mut toks = tokens(s);
    let eligible: Vec<usize> = (0..toks.len())
        .filter(|&i| toks[i].chars().count() >= 4 && toks[i].chars().all(char::is_alphabetic))
        .collect();
    if eligible.is_empty() {
        return None;
    }
    let i = eligible[rng.random_range(0..eligible.len())];
    let t = &mut toks[i];
    if t.ends_with('a') || t.ends_with('A') {
        t.pop();
    } else if t.ends_with('y') || t.ends_with('i') {
        t.pop();
        t.push_str(if rng.random_bool(0.5) { "y" } else { "ee" });
    } else {
        t.push('a');
    }
    Some(join(&toks))
}

const KEYS: &str = "qwertyuiopasdfghjklzxcvbnm";

/// One typo: transposition, deletion, substitution or doubled letter.
fn typo<R: Rng + ?Sized>(rng: &mut R, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.is_empty() {
        chars.push('a');
        return chars.into_iter().collect();
    }
    let i = letters[rng.random_range(0..letters.len())];
    match rng.random_range(0..4u8) {
        0 if i + 1 < chars.len() && chars[i + 1].is_alphabetic() && chars[i] != chars[i + 1] => {
            let (a, b) = (chars[i], chars[i + 1]);
            if a.is_uppercase() && b.is_lowercase() {
                // Keep the capital at the front: "Jacob" -> "Ajcob".
                chars[i] = b.to_uppercase().next().unwrap_or(b);
                chars[i + 1] = a.to_lowercase().next().unwrap_or(a);
            } else {
                chars.swap(i, i + 1);
            }
        }
        1 if letters.len() >= 2 => {
            chars.remove(i);
        }
        2 => {
            let mut c = chars[i];
            while c.eq_ignore_ascii_case(&chars[i]) {
                let k = KEYS.as_bytes()[rng.random_range(0..KEYS.len())];
                c = char::from(k);
            }
            chars[i] = if chars[i].is_uppercase() {
                c.to_ascii_uppercase()
            } else {
                c
            };
        }
        _ if !chars[i].is_uppercase() => {
            let c = chars[i];
            chars.insert(i, c);
        }
        _ => {
            // Capital letter: double the following letter instead, or add one.
            match chars.get(i + 1).copied() {
                Some(c) if c.is_alphabetic() => chars.insert(i + 1, c),
                _ => chars.insert(i + 1, 'a'),
            }
        }
    }
    chars.into_iter().collect()
}

fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn one_change<R: Rng + ?Sized>(rng: &mut R, s: &str) -> String {
    let r = rng.random::<f64>();
    let attempt = if r < 0.22 {
        synonym(rng, s).or_else(|| transliterate(rng, s))
    } else if r < 0.52 {
        transliterate(rng, s)
    } else if r < 0.67 {
        initials(rng, s)
    } else if r < 0.75 {
        swap_tokens(rng, s)
    } else if r < 0.85 {
        join_or_split(rng, s)
    } else if r < 0.91 {
        trailing_a(rng, s)
    } else if r < 0.97 {
        Some(typo(rng, s))
    } else {
        Some(s.to_uppercase())
    };
    attempt
        .or_else(|| transliterate(rng, s))
        .unwrap_or_else(|| typo(rng, s))
}

/// A realistic spelling or recording variant of `name`.
///
/// Differs from the input most of the time, never panics, and never returns an empty string
/// for a non-empty input.
pub fn name_variant<R: Rng + ?Sized>(rng: &mut R, name: &str) -> String {
    if name.trim().is_empty() {
        return name.to_string();
    }
    let mut best = String::new();
    for _ in 0..4 {
        let mut s = one_change(rng, name);
        if rng.random_bool(0.25) {
            s = one_change(rng, &s);
        }
        let s = tidy(&s);
        if !s.is_empty() && s != name {
            return s;
        }
        if !s.is_empty() {
            best = s;
        }
    }
    if best.is_empty() {
        name.to_string()
    } else {
        best
    }
}

/// A variant of a recorded date of birth, counting ages from 2026-11-01.
pub fn dob_variant<R: Rng + ?Sized>(rng: &mut R, dob: &Dob) -> String {
    dob_variant_at(rng, dob, default_reference_date())
}

/// A variant of a recorded date of birth: day and month swapped, year only, an age, a year
/// off, or another format such as "DD/MM/YYYY". Ages count from `reference`.
pub fn dob_variant_at<R: Rng + ?Sized>(rng: &mut R, dob: &Dob, reference: NaiveDate) -> String {
    match *dob {
        Dob::Full(d) => {
            let r = rng.random::<f64>();
            if r < 0.25 {
                d.format("%d/%m/%Y").to_string()
            } else if r < 0.35 {
                d.format("%d-%m-%Y").to_string()
            } else if r < 0.50 {
                match NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()) {
                    Some(swapped) if swapped != d => swapped.format("%Y-%m-%d").to_string(),
                    _ => d.format("%d.%m.%Y").to_string(),
                }
            } else if r < 0.65 {
                d.year().to_string()
            } else if r < 0.75 {
                reference.years_since(d).unwrap_or(0).to_string()
            } else if r < 0.90 {
                let delta = if rng.random_bool(0.5) { 1 } else { -1 };
                let y = d.year() + delta;
                NaiveDate::from_ymd_opt(y, d.month(), d.day())
                    .or_else(|| NaiveDate::from_ymd_opt(y, d.month(), 28))
                    .map_or_else(|| y.to_string(), |x| x.format("%Y-%m-%d").to_string())
            } else {
                format!("{}-01-01", d.year())
            }
        }
        Dob::YearOnly(y) => match rng.random_range(0..4u8) {
            0 => format!("01/01/{y}"),
            1 => format!("{y}-01-01"),
            2 => (y + if rng.random_bool(0.5) { 1 } else { -1 }).to_string(),
            _ => (reference.year() - y).max(0).to_string(),
        },
        Dob::DeclaredAge(a) => {
            let a = i32::from(a);
            match rng.random_range(0..4u8) {
                0 => (a + if rng.random_bool(0.5) { 1 } else { -1 })
                    .max(0)
                    .to_string(),
                1 => {
                    // Age heaping: round to a multiple of five.
                    let heaped = ((a + 2) / 5) * 5;
                    if heaped == a {
                        (a + 5).to_string()
                    } else {
                        heaped.to_string()
                    }
                }
                2 => (reference.year() - a).to_string(),
                _ => format!("{}-01-01", reference.year() - a),
            }
        }
    }
}

/// One scheme's view of a person: fields possibly varied or missing, with the ground truth
/// `person_id` kept for scoring a matcher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoisyRecord {
    /// Ground truth: the `Member::person_id` this record describes.
    pub person_id: u64,
    /// Name as this scheme recorded it.
    pub name: String,
    /// Father's or husband's name, if recorded.
    pub relative_name: Option<String>,
    /// Gender, if recorded.
    pub gender: Option<Gender>,
    /// Date of birth or age as recorded, if at all.
    pub dob: Option<String>,
    /// ID number, if the scheme collected it.
    pub id_number: Option<String>,
    /// Mobile number, if recorded.
    pub mobile: Option<String>,
}

/// A noisy copy of `member` as another scheme would hold it. `noise` in `[0, 1]` scales how
/// often fields are varied; the ID number is dropped with probability 0.35 regardless.
pub fn noisy_copy<R: Rng + ?Sized>(rng: &mut R, member: &Member, noise: f64) -> NoisyRecord {
    let noise = if noise.is_nan() {
        0.0
    } else {
        noise.clamp(0.0, 1.0)
    };
    let name = if rng.random_bool(noise) {
        name_variant(rng, &member.name)
    } else {
        member.name.clone()
    };
    let relative_name = if rng.random_bool(0.15) || member.relative_name.trim().is_empty() {
        None
    } else if rng.random_bool(noise) {
        Some(name_variant(rng, &member.relative_name))
    } else {
        Some(member.relative_name.clone())
    };
    let gender = if rng.random_bool(0.05) {
        None
    } else if rng.random_bool(0.01 * noise) {
        Some(match member.gender {
            Gender::Male => Gender::Female,
            Gender::Female => Gender::Male,
            Gender::Transgender => Gender::Female,
        })
    } else {
        Some(member.gender)
    };
    let dob = if rng.random_bool(0.05) {
        None
    } else if rng.random_bool(noise) {
        Some(dob_variant(rng, &member.dob))
    } else {
        Some(member.dob.to_string())
    };
    let id_number = if rng.random_bool(0.35) {
        None
    } else {
        member.id_number.clone()
    };
    let mobile = match &member.mobile {
        Some(_) if rng.random_bool(0.3) => None,
        Some(_) if rng.random_bool(0.1 * noise) => Some(random_mobile(rng)),
        other => other.clone(),
    };
    NoisyRecord {
        person_id: member.person_id,
        name,
        relative_name,
        gender,
        dob,
        id_number,
        mobile,
    }
}
