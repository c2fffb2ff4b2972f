//! The smaller fields: ID and phone numbers, gender, email, places and addresses.

use sangam_domain::Gender;

use super::name::fold;

/// An ID number with spaces and dashes removed, uppercase; `None` for blanks and obvious
/// placeholders ("0000 0000 0000", "NA", "XXXX").
pub fn id_number(raw: &str) -> Option<Box<str>> {
    let cleaned: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if cleaned.len() < 4 || placeholder(&cleaned) {
        return None;
    }
    Some(cleaned.into())
}

fn placeholder(s: &str) -> bool {
    let first = s.as_bytes()[0];
    s.bytes().all(|b| b == first) || matches!(s, "NULL" | "NONE" | "NIL")
}

/// The last ten digits of a phone number (country code and trunk zero dropped); `None` for
/// fewer than six digits or placeholders.
pub fn phone(raw: &str) -> Option<Box<str>> {
    let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    if digits.len() < 6 || placeholder(&digits) {
        return None;
    }
    let start = digits.len().saturating_sub(10);
    Some(digits[start..].into())
}

/// Gender as one letter: `M`, `F` or `T`: the hub's own reading, and a few more words that
/// lists use ("boy", "mahila", "other"); `None` for anything else.
pub fn gender(raw: &str) -> Option<u8> {
    if let Ok(g) = Gender::parse(raw) {
        return g.code().bytes().next();
    }
    match raw.trim().to_ascii_lowercase().as_str() {
        "man" | "boy" | "purush" => Some(b'M'),
        "woman" | "girl" | "mahila" | "w" => Some(b'F'),
        "other" | "o" | "x" => Some(b'T'),
        _ => None,
    }
}

/// An email address, trimmed and lowercased; `None` without an `@`.
pub fn email(raw: &str) -> Option<Box<str>> {
    let e = raw.trim().to_lowercase();
    (e.contains('@') && e.len() > 3).then(|| e.into())
}

/// A place name or code compared exactly: letters and digits only, lowercase, transliteration
/// folded per word; leading zeros of all-digit codes dropped ("012345" is "12345").
pub fn place(raw: &str) -> Option<Box<str>> {
    let lowered = raw.to_lowercase();
    let words: Vec<String> = lowered
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.bytes().all(|b| b.is_ascii_digit()) {
                let trimmed = w.trim_start_matches('0');
                if trimmed.is_empty() {
                    "0".to_string()
                } else {
                    trimmed.to_string()
                }
            } else {
                fold(w)
            }
        })
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(words.join(" ").into())
}

/// An address reduced to a house number and the folded words of the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressValue {
    /// The house or door number, if one is written ("12", "12/3", "45a").
    pub house: Option<Box<str>>,
    /// The other words, folded, sorted and without repeats.
    pub words: Vec<Box<str>>,
}

/// Words that appear in most addresses and tell nothing apart.
const ADDRESS_NOISE: &[&str] = &[
    "no", "door", "house", "h", "near", "opp", "po", "ps", "at", "the",
];

/// Reads an address from its parts (free-text lines, street, house number).
pub fn address(lines: &[&str], house_number: Option<&str>) -> Option<AddressValue> {
    let mut house = house_number
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .map(Box::<str>::from);
    let mut words: Vec<Box<str>> = Vec::new();
    for line in lines {
        for w in line
            .to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '/'))
            .filter(|w| !w.is_empty())
        {
            if w.bytes().any(|b| b.is_ascii_digit()) {
                if house.is_none() {
                    house = Some(w.into());
                }
                continue;
            }
            let w = w.replace('/', "");
            if w.is_empty() || ADDRESS_NOISE.contains(&w.as_str()) {
                continue;
            }
            words.push(fold(&w).into());
        }
    }
    words.sort_unstable();
    words.dedup();
    if house.is_none() && words.is_empty() {
        return None;
    }
    Some(AddressValue { house, words })
}

/// Levels of address agreement.
pub mod address_level {
    pub const EXACT: u8 = 1;
    pub const HOUSE_AND_STREET: u8 = 2;
    pub const STREET: u8 = 3;
    pub const SOME_WORDS: u8 = 4;
    pub const DIFFERENT: u8 = 5;
    pub const LABELS: [&str; 6] = [
        "missing",
        "exact",
        "same house number and most words",
        "most words agree",
        "some words agree",
        "different",
    ];
}

/// Grades two addresses by house number and the overlap of their words.
pub fn compare_addresses(a: &AddressValue, b: &AddressValue) -> u8 {
    use address_level::*;
    if a == b {
        return EXACT;
    }
    let shared = a
        .words
        .iter()
        .filter(|w| b.words.binary_search(w).is_ok())
        .count();
    let smaller = a.words.len().min(b.words.len());
    let most = smaller > 0
        && shared * 2 >= smaller.max(1)
        && shared * 3 >= a.words.len().max(b.words.len());
    let same_house = a.house.is_some() && a.house == b.house;
    if same_house && most {
        HOUSE_AND_STREET
    } else if most {
        STREET
    } else if shared > 0 || same_house {
        SOME_WORDS
    } else {
        DIFFERENT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_their_punctuation_and_placeholders_are_missing() {
        assert_eq!(id_number("2345 6789-0123").as_deref(), Some("234567890123"));
        assert_eq!(id_number("0000 0000 0000"), None);
        assert_eq!(id_number("na"), None);
        assert_eq!(phone("+91 98765 43210").as_deref(), Some("9876543210"));
        assert_eq!(phone("098765 43210").as_deref(), Some("9876543210"));
        assert_eq!(phone("12"), None);
    }

    #[test]
    fn genders_places_and_emails_are_normalised() {
        assert_eq!(gender(" Female "), Some(b'F'));
        assert_eq!(gender("TG"), Some(b'T'));
        assert_eq!(gender("Mahila"), Some(b'F'));
        assert_eq!(gender("unknown"), None);
        assert_eq!(place("0601234").as_deref(), Some("601234"));
        assert_eq!(
            place("Thiruvallur").as_deref(),
            place("Tiruvalur").as_deref()
        );
        assert_eq!(email(" A.B@Example.IN ").as_deref(), Some("a.b@example.in"));
        assert_eq!(email("none"), None);
    }

    #[test]
    fn addresses_compare_by_house_number_and_words() {
        let a = address(&["12/3 Gandhi Street, Anna Nagar"], None).expect("address");
        assert_eq!(a.house.as_deref(), Some("12/3"));
        let b = address(&["Ghandi St Anna Nagar"], Some("12/3")).expect("address");
        assert_eq!(compare_addresses(&a, &b), address_level::HOUSE_AND_STREET);
        let c = address(&["Nehru Road"], Some("4")).expect("address");
        assert_eq!(compare_addresses(&a, &c), address_level::DIFFERENT);
        assert_eq!(address(&["  "], None), None);
    }
}
