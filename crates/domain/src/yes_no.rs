//! Yes-or-no values as offices write them: in a file's cell or in a request's parameter.

use crate::error::ValidationError;

const YES: [&str; 4] = ["yes", "y", "true", "1"];
const NO: [&str; 4] = ["no", "n", "false", "0"];

/// `yes`, `y`, `true` or `1`, and `no`, `n`, `false` or `0`, in any case.
pub fn parse_yes_no(raw: &str) -> Result<bool, ValidationError> {
    let raw = raw.trim();
    if YES.iter().any(|w| raw.eq_ignore_ascii_case(w)) {
        Ok(true)
    } else if NO.iter().any(|w| raw.eq_ignore_ascii_case(w)) {
        Ok(false)
    } else {
        Err(ValidationError::new(
            "boolean.format",
            "a yes/no value must be yes, no, y, n, true, false, 1 or 0",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_usual_words_in_any_case() {
        for yes in ["yes", "Y", "TRUE", " 1 "] {
            assert_eq!(parse_yes_no(yes), Ok(true), "{yes}");
        }
        for no in ["No", "n", "false", "0"] {
            assert_eq!(parse_yes_no(no), Ok(false), "{no}");
        }
        assert_eq!(parse_yes_no("maybe").unwrap_err().code, "boolean.format");
    }
}
