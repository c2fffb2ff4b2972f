//! The Verhoeff check-digit scheme used by the 12-digit national ID number (Aadhaar).
//!
//! Verhoeff detects every single-digit error and every transposition of adjacent digits,
//! which is why the ID number uses it rather than a simple mod-10 sum.

const MULTIPLICATION: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];

/// Row `i` is the permutation `(1 5 8 9 4 2 7 0)(3 6)` applied `i` times; the
/// `permutation_rows_are_powers_of_the_first` test guards against a mistyped entry.
const PERMUTATION: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

const INVERSE: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

/// Runs the Verhoeff checksum over `digits` (ASCII `0`-`9` only), processing from the right.
/// `offset` is 1 when computing a check digit still to be appended, 0 when validating.
fn checksum(digits: &[u8], offset: usize) -> Option<u8> {
    let mut c = 0u8;
    for (i, &b) in digits.iter().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = (b - b'0') as usize;
        c = MULTIPLICATION[c as usize][PERMUTATION[(i + offset) % 8][d] as usize];
    }
    Some(c)
}

/// The check digit to append to `digits`, or `None` if `digits` holds anything but ASCII digits.
pub fn check_digit(digits: &str) -> Option<u8> {
    checksum(digits.as_bytes(), 1).map(|c| INVERSE[c as usize])
}

/// Whether `digits` (check digit last) passes the Verhoeff check. Non-digits never pass.
pub fn is_valid(digits: &str) -> bool {
    !digits.is_empty() && checksum(digits.as_bytes(), 0) == Some(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Classic published example: 236 has check digit 3.
        assert_eq!(check_digit("236"), Some(3));
        assert!(is_valid("2363"));
        assert!(!is_valid("2364"));
        assert_eq!(check_digit("12345"), Some(1));
        assert!(is_valid("123451"));
    }

    #[test]
    fn permutation_rows_are_powers_of_the_first() {
        for (i, pair) in PERMUTATION.windows(2).enumerate() {
            for (d, &previous) in pair[0].iter().enumerate() {
                assert_eq!(
                    pair[1][d],
                    PERMUTATION[1][previous as usize],
                    "row {}, digit {d}",
                    i + 1
                );
            }
        }
    }

    #[test]
    fn every_adjacent_transposition_changes_the_checksum() {
        for pos in 0..8 {
            for a in 0..10usize {
                for b in 0..10usize {
                    if a == b {
                        continue;
                    }
                    let ab = MULTIPLICATION[PERMUTATION[pos][a] as usize]
                        [PERMUTATION[(pos + 1) % 8][b] as usize];
                    let ba = MULTIPLICATION[PERMUTATION[pos][b] as usize]
                        [PERMUTATION[(pos + 1) % 8][a] as usize];
                    assert_ne!(ab, ba, "position {pos}, digits {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn fifth_row_regression() {
        // A mistyped fifth permutation row once accepted both of these.
        assert!(is_valid("200000016006"));
        assert!(!is_valid("200000061006"));
        assert_eq!(check_digit("23456789012"), Some(4));
    }

    #[test]
    fn rejects_non_digits() {
        assert_eq!(check_digit("12a"), None);
        assert!(!is_valid("12a4"));
        assert!(!is_valid(""));
    }
}
