//! The values of one record as read, kept in one buffer.
//!
//! A record's values travel from the reader through validation to the loader, which keeps
//! them until the row is stored, in case it is refused and goes back in the rejection report.
//! As one string per value they were some fifteen allocations a row, each freed on another
//! thread than the one that made it: a tenth of a million-row load's CPU went to allocating
//! and freeing. Here they are one text and the ends of its values.

use std::fmt;

/// The values of a record, in the order of the file's header.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Every value, one after the other, with nothing between them.
    text: String,
    /// Where each value ends in `text`; value `i` starts where value `i - 1` ends.
    ends: Vec<usize>,
}

impl Fields {
    /// Room for `values` values of `bytes` bytes in all.
    pub fn with_capacity(values: usize, bytes: usize) -> Self {
        Fields {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(values),
        }
    }

    /// `text` split at `ends` (each the end of a value, in order, the last at most
    /// `text.len()`), or `None` if an end is out of order, past the text or inside a
    /// character.
    pub fn from_parts(text: String, ends: Vec<usize>) -> Option<Self> {
        let mut start = 0;
        for &end in &ends {
            if end < start || !text.is_char_boundary(end) {
                return None;
            }
            start = end;
        }
        Some(Fields { text, ends })
    }

    /// Adds a value at the end.
    pub fn push(&mut self, value: &str) {
        self.text.push_str(value);
        self.ends.push(self.text.len());
    }

    /// Adds empty values until there are `len`, or drops values past `len`.
    pub fn resize(&mut self, len: usize) {
        if len < self.ends.len() {
            self.ends.truncate(len);
            let end = self.ends.last().copied().unwrap_or(0);
            self.text.truncate(end);
        } else {
            let end = self.text.len();
            self.ends.resize(len, end);
        }
    }

    /// How many values the record has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The value at `index`.
    pub fn get(&self, index: usize) -> Option<&str> {
        let end = *self.ends.get(index)?;
        let start = match index.checked_sub(1) {
            Some(before) => *self.ends.get(before)?,
            None => 0,
        };
        self.text.get(start..end)
    }

    /// The values in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.ends.len()).map(|i| self.get(i).unwrap_or_default())
    }

    /// The values as strings of their own (for a report of refused rows).
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl From<Fields> for Vec<String> {
    fn from(fields: Fields) -> Self {
        fields.to_vec()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Fields {
    fn from_iter<I: IntoIterator<Item = S>>(values: I) -> Self {
        let mut fields = Fields::default();
        for value in values {
            fields.push(value.as_ref());
        }
        fields
    }
}

impl From<Vec<String>> for Fields {
    fn from(values: Vec<String>) -> Self {
        values.into_iter().collect()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Fields {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Fields {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Fields {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_back_as_pushed() {
        let mut fields = Fields::default();
        for v in ["PY1", "", "सीता", "x,y"] {
            fields.push(v);
        }
        assert_eq!(fields.len(), 4);
        assert_eq!(fields.get(0), Some("PY1"));
        assert_eq!(fields.get(1), Some(""));
        assert_eq!(fields.get(2), Some("सीता"));
        assert_eq!(fields.get(3), Some("x,y"));
        assert_eq!(fields.get(4), None);
        assert_eq!(fields, ["PY1", "", "सीता", "x,y"]);
        assert_eq!(
            Vec::<String>::from(fields.clone()),
            ["PY1", "", "सीता", "x,y"]
        );
    }

    #[test]
    fn resizing_pads_with_empty_values_and_drops_from_the_end() {
        let mut fields: Fields = ["a", "bc"].into_iter().collect();
        fields.resize(4);
        assert_eq!(fields, ["a", "bc", "", ""]);
        fields.resize(1);
        assert_eq!(fields, ["a"]);
        fields.push("d");
        assert_eq!(fields, ["a", "d"]);
        fields.resize(0);
        assert!(fields.is_empty());
        assert_eq!(fields.iter().count(), 0);
    }

    #[test]
    fn parts_that_split_a_character_or_run_backwards_are_refused() {
        let text = "aसb".to_owned();
        assert_eq!(
            Fields::from_parts(text.clone(), vec![1, 4, 5]),
            Some(["a", "स", "b"].into_iter().collect())
        );
        assert_eq!(Fields::from_parts(text.clone(), vec![2, 5]), None);
        assert_eq!(Fields::from_parts(text.clone(), vec![4, 1]), None);
        assert_eq!(Fields::from_parts(text, vec![6]), None);
    }
}
