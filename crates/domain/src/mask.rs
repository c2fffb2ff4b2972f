//! Masking of sensitive numbers for display: everything but the last few characters becomes `X`.
//!
//! Shared by ID numbers, mobile numbers and (in other crates) bank account numbers so that
//! every masked value in the hub looks the same, e.g. `XXXX XXXX 1234`.

/// Replaces every character of `digits` except the last `keep` with `X`, then, when `group` is
/// `Some(n)` with `n > 0`, splits the result into blocks of `n` characters counted from the left,
/// separated by single spaces.
///
/// Counting is by `char`, so the function never splits a multi-byte character and never panics.
pub fn mask_keep_last(digits: &str, keep: usize, group: Option<usize>) -> String {
    // Digits are ASCII, so their count is their length (an upload masks two numbers a row).
    let total = if digits.is_ascii() {
        digits.len()
    } else {
        digits.chars().count()
    };
    let hidden = total.saturating_sub(keep);
    let group = group.filter(|&n| n > 0);
    let mut out = String::with_capacity(total * 2);
    for (i, c) in digits.chars().enumerate() {
        if let Some(n) = group
            && i > 0
            && i % n == 0
        {
            out.push(' ');
        }
        out.push(if i < hidden { 'X' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_number_style() {
        assert_eq!(mask_keep_last("234567890124", 4, Some(4)), "XXXX XXXX 0124");
    }

    #[test]
    fn mobile_style() {
        assert_eq!(mask_keep_last("9876543210", 4, None), "XXXXXX3210");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(mask_keep_last("", 4, Some(4)), "");
        assert_eq!(mask_keep_last("12", 4, None), "12");
        assert_eq!(mask_keep_last("123456", 0, Some(0)), "XXXXXX");
        assert_eq!(mask_keep_last("1234567", 2, Some(3)), "XXX XX6 7");
        assert_eq!(mask_keep_last("१२३४५", 1, None), "XXXX५");
    }
}
