//! Indian names in Latin script, reduced to what survives transliteration.
//!
//! The same name reaches the hub spelt many ways: "Lakshmi", "Laxmi", "Lakshmy"; "Md.
//! Rafi", "Mohammed Rafi"; "K. Ramesh", "Ramesh K"; "Ramkumar", "Ram Kumar"; with "Smt." or
//! "Late" in front and "S/O Krishnan" behind. A [`NameValue`] keeps each token in a *folded*
//! spelling (the transliteration choices collapsed: th/t, dh/d, bh/b, sh/s, v/w, x/ks, doubled
//! letters, aa/a, ee/i, oo/u, a trailing a) and a coarser *phonetic key*, and
//! [`compare_names`] grades two names by how their tokens line up.

use std::cmp::Ordering;

use unicode_normalization::UnicodeNormalization;

use super::hash_str;
use unicode_normalization::char::is_combining_mark;

/// Titles and forms of address that say nothing about who the person is.
const HONORIFICS: &[&str] = &[
    "shri",
    "sri",
    "shree",
    "sree",
    "smt",
    "shrimati",
    "srimati",
    "sreemathi",
    "kumari",
    "kum",
    "km",
    "late",
    "lt",
    "dr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mst",
    "master",
    "mstr",
    "thiru",
    "thirumathi",
    "tmt",
    "prof",
    "er",
    "adv",
    "capt",
    "sh",
    "janab",
    "baby",
];

/// Abbreviations written in place of a common name, expanded before folding.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("md", "mohammed"),
    ("mohd", "mohammed"),
    ("mohamad", "mohammed"),
    ("mohammad", "mohammed"),
    ("muhammad", "mohammed"),
    ("muhammed", "mohammed"),
    ("mohamed", "mohammed"),
    ("kr", "kumar"),
    ("pd", "prasad"),
    ("sk", "shaikh"),
    ("sheikh", "shaikh"),
    ("shaik", "shaikh"),
];

/// Relation markers that end a person's own name and start a relative's ("Ramesh S/O
/// Krishnan"): written with a slash, or spelt out as two words.
const SLASH_MARKERS: &[&str] = &["s/o", "w/o", "d/o", "c/o", "h/o", "so/", "wo/", "do/"];
const WORD_MARKERS: &[&str] = &["son", "wife", "daughter", "husband", "care", "widow"];

/// Most tokens of a name that are kept.
pub const MAX_TOKENS: usize = 12;

/// One token of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Spelling with transliteration choices folded away.
    pub folded: Box<str>,
    /// Hash of the coarse sound key (consonant classes, vowels dropped); 0 when the key is
    /// too short to mean anything.
    pub phonetic: u64,
}

impl Token {
    /// A single letter: an initial, agreeing with any token that starts with it.
    pub fn is_initial(&self) -> bool {
        self.folded.chars().nth(1).is_none()
    }
}

/// A name prepared for comparison. Whole-name forms are kept as hashes: they are only ever
/// tested for equality or counted, and a registry of a million names is lighter without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameValue {
    /// Hash of the folded tokens in written order.
    pub text: u64,
    /// Hash of the folded tokens sorted: equal for order swaps.
    pub sorted: u64,
    /// Hash of all tokens written together, then folded: equal for joined and split tokens.
    pub joined: u64,
    /// Hash of the joined form's sound key.
    pub joined_phonetic: u64,
    /// The tokens.
    pub tokens: Vec<Token>,
    /// False when the name holds letters outside the Latin script (compared as written).
    pub latin: bool,
}

impl NameValue {
    /// Full tokens (not initials), for blocking keys.
    pub fn full_tokens(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter().filter(|t| !t.is_initial())
    }

    /// The folded tokens joined by spaces, for explanations.
    pub fn display(&self) -> String {
        self.tokens
            .iter()
            .map(|t| &*t.folded)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A name split into the person's own name and, when the field carried a relation marker
/// ("S/O", "W/O", "son of"), the relative's name that followed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// The person's name.
    pub name: Option<NameValue>,
    /// The relative named after a relation marker.
    pub relative: Option<NameValue>,
}

/// Prepares a name field: see the module documentation.
pub fn parse_name(raw: &str) -> ParsedName {
    // Decompose and drop combining marks so "Rāmeśh" folds like "Ramesh"; lowercase.
    let mut cleaned = String::with_capacity(raw.len());
    for c in raw.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            cleaned.extend(c.to_lowercase());
        } else if c == '/' {
            cleaned.push('/');
        } else {
            cleaned.push(' ');
        }
    }
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut split_at = None;
    for (i, w) in words.iter().enumerate() {
        if SLASH_MARKERS.contains(w)
            || (WORD_MARKERS.contains(w) && words.get(i + 1) == Some(&"of"))
        {
            split_at = Some(i);
            break;
        }
    }
    match split_at {
        Some(i) => {
            let skip = if words[i].contains('/') { 1 } else { 2 };
            ParsedName {
                name: build(&words[..i]),
                relative: build(words.get(i + skip..).unwrap_or(&[])),
            }
        }
        None => ParsedName {
            name: build(&words),
            relative: None,
        },
    }
}

/// Prepares a name from separate given name and surname fields.
pub fn parse_given_and_surname(given: &str, surname: &str) -> Option<NameValue> {
    let joined = format!("{given} {surname}");
    parse_name(&joined).name
}

fn build(words: &[&str]) -> Option<NameValue> {
    let mut raw_tokens: Vec<String> = Vec::new();
    for w in words {
        for piece in w.split('/') {
            let letters: String = piece.chars().filter(|c| c.is_alphabetic()).collect();
            if !letters.is_empty() {
                raw_tokens.push(letters);
            }
        }
    }
    // Titles go only when something else remains: "Master" alone may be all there is.
    if raw_tokens.iter().any(|t| !HONORIFICS.contains(&t.as_str())) {
        raw_tokens.retain(|t| !HONORIFICS.contains(&t.as_str()));
    }
    if raw_tokens.is_empty() {
        return None;
    }
    // Comparing names pairs up their tokens; a name is a few tokens, and a field holding a
    // paragraph must not make every comparison with it slow.
    raw_tokens.truncate(MAX_TOKENS);
    for t in raw_tokens.iter_mut() {
        if let Some((_, full)) = ABBREVIATIONS.iter().find(|(short, _)| short == t) {
            *t = (*full).to_string();
        }
    }
    let latin = raw_tokens.iter().all(|t| t.is_ascii());
    let tokens: Vec<Token> = raw_tokens
        .iter()
        .map(|t| {
            let folded = fold(t);
            let key = phonetic(&folded);
            Token {
                phonetic: if key.len() >= 2 { hash_str(&key) } else { 0 },
                folded: folded.into(),
            }
        })
        .collect();
    let mut words: Vec<&str> = tokens.iter().map(|t| &*t.folded).collect();
    let text = hash_str(&words.join(" "));
    words.sort_unstable();
    let sorted = hash_str(&words.join(" "));
    let joined_text = fold(&raw_tokens.concat());
    let joined = hash_str(&joined_text);
    let joined_phonetic = hash_str(&phonetic(&joined_text));
    Some(NameValue {
        text,
        sorted,
        joined,
        joined_phonetic,
        tokens,
        latin,
    })
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'a' | b'e' | b'i' | b'o' | b'u')
}

/// Folds the spelling choices of Latin transliteration of Indian names. Tokens holding
/// letters outside ASCII are returned unchanged.
pub fn fold(token: &str) -> String {
    if !token.is_ascii() {
        return token.to_string();
    }
    let b = token.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 2);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'x' => out.extend_from_slice(b"ks"),
            b'q' => out.push(b'k'),
            b'z' => out.push(b'j'),
            b'w' => out.push(b'v'),
            b'p' if next == Some(b'h') => {
                out.push(b'f');
                i += 1;
            }
            b'c' if next == Some(b'k') => {
                out.push(b'k');
                i += 1;
            }
            b't' | b'd' | b'b' | b's' | b'k' | b'g' | b'c' | b'j' if next == Some(b'h') => {
                out.push(c);
                // "shh" is a typo of "sh": all the h's go.
                while b.get(i + 1) == Some(&b'h') {
                    i += 1;
                }
            }
            b'y' if i > 0 && !next.is_some_and(is_vowel) => out.push(b'i'),
            _ => out.push(c),
        }
        i += 1;
    }
    // Long vowels written doubled, and doubled consonants, collapse to one letter;
    // "ee" and "oo" are the long i and u.
    let mut folded: Vec<u8> = Vec::with_capacity(out.len());
    let mut j = 0;
    while j < out.len() {
        let c = out[j];
        let next = out.get(j + 1).copied();
        if c == b'e' && next == Some(b'e') {
            folded.push(b'i');
            j += 2;
            continue;
        }
        if c == b'o' && next == Some(b'o') {
            folded.push(b'u');
            j += 2;
            continue;
        }
        if folded.last() == Some(&c) {
            j += 1;
            continue;
        }
        folded.push(c);
        j += 1;
    }
    // The inherent vowel at the end is written or not ("Rama"/"Ram", "Krishna"/"Krishn").
    if folded.len() >= 4 && folded.last() == Some(&b'a') {
        folded.pop();
    }
    String::from_utf8(folded).unwrap_or_default()
}

/// A sound key for a folded token: the first letter's class, then the classes of the
/// consonants that follow, with vowels, h and y dropped and repeats collapsed. The classes
/// join the consonants that South and North Indian spellings interchange (k/g, t/d, p/b/f,
/// m/n, j/z, c/s before vowels is left alone).
pub fn phonetic(folded: &str) -> String {
    if !folded.is_ascii() {
        return folded.to_string();
    }
    let class = |b: u8| -> Option<u8> {
        Some(match b {
            b'k' | b'g' | b'c' | b'q' => b'k',
            b't' | b'd' => b't',
            b'p' | b'b' | b'f' => b'p',
            b'm' | b'n' => b'n',
            b'j' | b'z' => b'j',
            b'v' | b'w' => b'v',
            b's' | b'x' => b's',
            b'l' => b'l',
            b'r' => b'r',
            _ => return None,
        })
    };
    let bytes = folded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    if let Some(&first) = bytes.first() {
        out.push(class(first).unwrap_or(if is_vowel(first) { b'a' } else { first }));
    }
    for &b in bytes.iter().skip(1) {
        if let Some(c) = class(b)
            && out.last() != Some(&c)
        {
            out.push(c);
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// How two name tokens agree.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum TokenAgreement {
    Initial,
    Fuzzy(f64),
    Phonetic,
    Exact,
}

impl TokenAgreement {
    fn rank(self) -> f64 {
        match self {
            TokenAgreement::Exact => 4.0,
            TokenAgreement::Phonetic => 3.0,
            TokenAgreement::Fuzzy(s) => 2.0 + s,
            TokenAgreement::Initial => 1.0,
        }
    }
}

/// Jaro-Winkler similarity at or above which two folded tokens count as a typo of each other.
const FUZZY_TOKEN: f64 = 0.88;

fn agree(a: &Token, b: &Token) -> Option<TokenAgreement> {
    if a.folded == b.folded {
        return Some(TokenAgreement::Exact);
    }
    let (ai, bi) = (a.is_initial(), b.is_initial());
    if ai || bi {
        let (short, long) = if ai { (a, b) } else { (b, a) };
        return long
            .folded
            .starts_with(&*short.folded)
            .then_some(TokenAgreement::Initial);
    }
    if a.phonetic != 0 && a.phonetic == b.phonetic {
        return Some(TokenAgreement::Phonetic);
    }
    let s = strsim::jaro_winkler(&a.folded, &b.folded);
    (s >= FUZZY_TOKEN).then_some(TokenAgreement::Fuzzy(s))
}

/// Levels of name agreement, strongest first. Level 0 (a name missing) is the caller's.
pub mod level {
    /// The same tokens in the same order.
    pub const EXACT: u8 = 1;
    /// The same tokens in another order, or tokens joined or split.
    pub const REORDERED: u8 = 2;
    /// Every token pairs with one on the other side: equal, same sound, or an initial.
    pub const VARIANT: u8 = 3;
    /// Every token pairs with one on the other side, some only through a typo.
    pub const TYPO: u8 = 4;
    /// The shorter name's tokens all pair up; the longer has more.
    pub const SUBSET: u8 = 5;
    /// At least one full token agrees.
    pub const PARTIAL: u8 = 6;
    /// Nothing agrees.
    pub const DIFFERENT: u8 = 7;
    /// Labels for explanations, indexed by level.
    pub const LABELS: [&str; 8] = [
        "missing",
        "exact",
        "reordered, joined or split",
        "same tokens allowing initials and spelling variants",
        "same tokens allowing a typo",
        "one name holds all tokens of the other",
        "some tokens agree",
        "different",
    ];
}

/// Grades the agreement of two names; see [`level`].
pub fn compare_names(a: &NameValue, b: &NameValue) -> u8 {
    if a.text == b.text {
        return level::EXACT;
    }
    if a.sorted == b.sorted || a.joined == b.joined {
        return level::REORDERED;
    }
    let mut pairs: Vec<(f64, usize, usize, TokenAgreement)> =
        Vec::with_capacity(a.tokens.len() * b.tokens.len());
    for (i, ta) in a.tokens.iter().enumerate() {
        for (j, tb) in b.tokens.iter().enumerate() {
            if let Some(agreement) = agree(ta, tb) {
                pairs.push((agreement.rank(), i, j, agreement));
            }
        }
    }
    pairs.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap_or(Ordering::Equal));
    // Greedy one-to-one pairing, best agreements first; names are a few tokens long.
    let mut used_a = 0u64;
    let mut used_b = 0u64;
    let (mut paired, mut full, mut typo) = (0usize, 0usize, false);
    for (_, i, j, agreement) in pairs {
        if i >= 64 || j >= 64 || used_a & (1 << i) != 0 || used_b & (1 << j) != 0 {
            continue;
        }
        used_a |= 1 << i;
        used_b |= 1 << j;
        paired += 1;
        // Two equal initials say little: in South Indian names the initial is the father's,
        // which siblings share.
        let initials = a.tokens[i].is_initial() && b.tokens[j].is_initial();
        match agreement {
            TokenAgreement::Initial => {}
            _ if initials => {}
            TokenAgreement::Fuzzy(_) => {
                typo = true;
                full += 1;
            }
            _ => full += 1,
        }
    }
    let (na, nb) = (a.tokens.len(), b.tokens.len());
    if full == 0 {
        level::DIFFERENT
    } else if paired == na && paired == nb {
        if typo { level::TYPO } else { level::VARIANT }
    } else if paired == na.min(nb) {
        level::SUBSET
    } else {
        level::PARTIAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> NameValue {
        parse_name(s).name.expect("a name")
    }

    fn grade(a: &str, b: &str) -> u8 {
        compare_names(&name(a), &name(b))
    }

    #[test]
    fn transliteration_variants_fold_to_one_spelling() {
        for (a, b) in [
            ("Lakshmi", "Laxmi"),
            ("Lakshmy", "Laxmi"),
            ("Geetha", "Gita"),
            ("Sreenivasa", "Srinivas"),
            ("Parvathy", "Parvati"),
            ("Savithri", "Savitri"),
            ("Rameshh", "Ramesh"),
            ("Md", "Mohammed"),
            ("Muhammad", "Mohamed"),
            ("Vimala", "Wimala"),
        ] {
            assert_eq!(name(a).text, name(b).text, "{a} / {b}");
        }
        assert_ne!(name("Ramesh").text, name("Suresh").text);
    }

    #[test]
    fn honorifics_go_and_relation_markers_split_off_the_relative() {
        let parsed = parse_name("Smt. K. Lakshmi W/O Late Ramesh Kumar");
        assert_eq!(parsed.name.expect("name").display(), "k laksmi");
        assert_eq!(parsed.relative.expect("relative").display(), "rames kumar");
        let spelt = parse_name("Ravi son of Gopal");
        assert_eq!(spelt.name.expect("name").display(), "ravi");
        assert_eq!(spelt.relative.expect("relative").display(), "gopal");
        // A title alone is kept rather than leaving no name at all.
        assert_eq!(name("Master").display(), "master");
        assert!(parse_name(" .. ").name.is_none());
    }

    #[test]
    fn names_are_graded_from_exact_to_different() {
        assert_eq!(grade("Ramesh Kumar", "RAMESH  kumar."), level::EXACT);
        assert_eq!(grade("Ramesh Kumar", "Kumar Ramesh"), level::REORDERED);
        assert_eq!(grade("Ramkumar", "Ram Kumar"), level::REORDERED);
        assert_eq!(grade("Ramakrishna", "Rama Krishna"), level::REORDERED);
        assert_eq!(grade("K. Ramesh", "Ramesh Krishnan"), level::VARIANT);
        assert_eq!(grade("Lakshmi Devi", "Laxmi Devy"), level::EXACT);
        assert_eq!(grade("Murugan S", "Murukan Selvam"), level::VARIANT);
        assert_eq!(grade("Jessica Smith", "Jessixa Smith"), level::TYPO);
        assert_eq!(grade("Ramesh", "Ramesh Kumar"), level::SUBSET);
        assert_eq!(grade("Ramesh Babu", "Ramesh Kumar"), level::PARTIAL);
        assert_eq!(grade("Ramesh", "Fathima"), level::DIFFERENT);
        assert_eq!(grade("K", "Ramesh"), level::DIFFERENT);
        assert_eq!(
            grade("M. Ramesh", "M. Selvam"),
            level::DIFFERENT,
            "siblings"
        );
    }

    #[test]
    fn non_latin_names_are_kept_and_compared_as_written() {
        let a = name("रमेश कुमार");
        assert!(!a.latin);
        assert_eq!(compare_names(&a, &name("रमेश  कुमार")), level::EXACT);
        assert_eq!(compare_names(&a, &name("Ramesh Kumar")), level::DIFFERENT);
    }

    #[test]
    fn phonetic_keys_join_consonants_indian_spellings_interchange() {
        assert_eq!(phonetic(&fold("murugan")), phonetic(&fold("murukan")));
        assert_eq!(
            phonetic(&fold("subramanian")),
            phonetic(&fold("subramaniam"))
        );
        assert_eq!(phonetic(&fold("fathima")), phonetic(&fold("pathima")));
        assert_ne!(phonetic(&fold("ramesh")), phonetic(&fold("suresh")));
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_handled_without_panic(s in "\\PC{0,60}") {
            let parsed = parse_name(&s);
            if let (Some(a), Some(b)) = (parsed.name.as_ref(), parse_name(&s).name.as_ref()) {
                proptest::prop_assert_eq!(compare_names(a, b), level::EXACT);
            }
        }
    }
}
