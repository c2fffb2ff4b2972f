//! Typed values of a validated row, and the two small types ingest adds to the domain's:
//! bank account numbers and incremental-upload operations.
//!
//! `Debug` of every value is safe to log: ID numbers, mobile numbers and bank accounts show
//! only their masks, because rows end up in panics, traces and test output.

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDate;
use sangam_domain::{
    CardType, ConsentRef, DateOfBirth, DistrictCode, Gender, IdNumber, Ifsc, LifeStatus,
    MobileNumber, PersonName, RationCardNumber, RefKey, Relationship, SchemeCode, StateCode,
    SubDistrictCode, ValidationError, VillageCode, mask_keep_last,
};
use serde::{Serialize, Serializer};

/// A bank account number: 9 to 18 digits, stored without separators.
///
/// Account numbers identify people and move money, so like ID and mobile numbers the digits
/// are only reachable through [`BankAccount::expose_digits`]; `Display`, `Debug` and
/// `Serialize` give the mask `XXXX XXXX 1234`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BankAccount {
    digits: String,
}

impl BankAccount {
    /// Parses 9 to 18 digits; spaces and hyphens between them are ignored (passbooks print
    /// account numbers in groups).
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        let mut digits = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'0'..=b'9' => digits.push(char::from(b)),
                b' ' | b'-' => {}
                _ => return Err(bank_error()),
            }
        }
        if !(9..=18).contains(&digits.len()) {
            return Err(bank_error());
        }
        Ok(Self { digits })
    }

    /// The digits. Every call site is a disclosure and worth a review.
    pub fn expose_digits(&self) -> &str {
        &self.digits
    }

    /// The masked form, `XXXX XXXX 1234` style, safe to show and log.
    pub fn masked(&self) -> String {
        mask_keep_last(&self.digits, 4, Some(4))
    }

    /// The last four digits.
    pub fn last_four(&self) -> &str {
        self.digits
            .get(self.digits.len().saturating_sub(4)..)
            .unwrap_or_default()
    }
}

fn bank_error() -> ValidationError {
    ValidationError::new(
        "bank_account.format",
        "a bank account number must be 9 to 18 digits (spaces or hyphens between digits are allowed)",
    )
}

impl fmt::Display for BankAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BankAccount({})", self.masked())
    }
}

impl Serialize for BankAccount {
    /// The mask only, so an account inside any serialized structure cannot leak.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// What an incremental-upload row does to the department's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A new record.
    Add,
    /// A change to a record the hub holds.
    Modify,
    /// The record is to be removed.
    Delete,
}

impl Operation {
    /// Parses `add`/`a`/`insert`/`i`, `modify`/`m`/`update`/`u`/`edit`, `delete`/`d`/`remove`,
    /// ignoring case and surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let s = input.trim();
        const ADD: [&str; 5] = ["add", "a", "insert", "i", "new"];
        const MODIFY: [&str; 5] = ["modify", "m", "update", "u", "edit"];
        const DELETE: [&str; 4] = ["delete", "d", "remove", "del"];
        let is = |words: &[&str]| words.iter().any(|w| s.eq_ignore_ascii_case(w));
        if is(&ADD) {
            Ok(Self::Add)
        } else if is(&MODIFY) {
            Ok(Self::Modify)
        } else if is(&DELETE) {
            Ok(Self::Delete)
        } else {
            Err(ValidationError::new(
                "operation.unknown",
                "the operation must be add (A, insert), modify (M, update) or delete (D, remove)",
            ))
        }
    }

    /// `add`, `modify` or `delete`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Modify => "modify",
            Self::Delete => "delete",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One typed cell of a validated row.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// An optional cell left empty (or a column the file does not have).
    #[default]
    Empty,
    IdNumber(IdNumber),
    ConsentRef(ConsentRef),
    Name(PersonName),
    Dob(DateOfBirth),
    Gender(Gender),
    Relationship(Relationship),
    RationCard(RationCardNumber),
    CardType(CardType),
    Mobile(MobileNumber),
    VillageCode(VillageCode),
    DistrictCode(DistrictCode),
    SubDistrictCode(SubDistrictCode),
    StateCode(StateCode),
    /// Six digits.
    Pincode(String),
    Ifsc(Ifsc),
    BankAccount(BankAccount),
    SchemeCode(SchemeCode),
    LifeStatus(LifeStatus),
    /// Trimmed text.
    Text(String),
    Integer(i64),
    Decimal(f64),
    Date(NaiveDate),
    Boolean(bool),
    Operation(Operation),
    RefKey(RefKey),
}

impl Value {
    /// Whether the cell was empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The value as text, for the kinds that are text and not sensitive (text, names, card
    /// numbers and types, codes, PIN codes, consent references). ID, mobile and bank numbers
    /// give `None`: their digits are reached only through their own `expose_digits`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Text(s) | Self::Pincode(s) => Some(s),
            Self::Name(n) => Some(n.as_str()),
            Self::RationCard(c) => Some(c.as_str()),
            Self::CardType(c) => Some(c.code()),
            Self::ConsentRef(c) => Some(c.as_str()),
            Self::Ifsc(c) => Some(c.as_str()),
            Self::SchemeCode(c) => Some(c.as_str()),
            Self::Gender(g) => Some(g.code()),
            Self::Relationship(r) => Some(r.code()),
            Self::LifeStatus(s) => Some(s.code()),
            Self::Operation(o) => Some(o.code()),
            Self::RefKey(k) => Some(k.as_str()),
            _ => None,
        }
    }

    /// Equality as rules and `allowed` lists mean it: text ignoring ASCII case, everything
    /// else as typed values (so `SELF` and `HEAD` are one relationship).
    pub(crate) fn matches(&self, other: &Value) -> bool {
        match (self, other) {
            (Self::Text(a), Self::Text(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

/// Where the special columns of a spec sit, shared by every row of an upload so that a row's
/// accessors need no name look-up and no copy of the spec.
#[derive(Debug)]
pub(crate) struct RowSchema {
    pub(crate) names: Vec<String>,
    pub(crate) id_number: Option<usize>,
    pub(crate) consent_ref: Option<usize>,
    pub(crate) record_key: Option<usize>,
    pub(crate) operation: Option<usize>,
    pub(crate) ref_key: Option<usize>,
}

/// A row that passed every check: one typed value per spec column, in spec order.
#[derive(Clone)]
pub struct ValidRow {
    /// Where the record starts in the file.
    pub line: u64,
    /// One value per spec column, in the spec's column order.
    pub values: Vec<Value>,
    pub(crate) schema: Arc<RowSchema>,
}

impl ValidRow {
    /// The value of the spec column named `column` (canonical name), or `None` if the spec
    /// has no such column.
    pub fn get(&self, column: &str) -> Option<&Value> {
        let i = self.schema.names.iter().position(|n| n == column)?;
        self.values.get(i)
    }

    /// Takes the value of the spec column named `column` out of the row, leaving it empty;
    /// `None` if the spec has no such column. For a loader that reads each value once and
    /// would otherwise copy it.
    pub fn take(&mut self, column: &str) -> Option<Value> {
        let i = self.schema.names.iter().position(|n| n == column)?;
        self.values.get_mut(i).map(std::mem::take)
    }

    /// The value at spec column position `index`.
    pub fn get_index(&self, index: usize) -> Option<&Value> {
        self.values.get(index)
    }

    /// The spec's column names, in the order of [`ValidRow::values`].
    pub fn column_names(&self) -> &[String] {
        &self.schema.names
    }

    /// The row's ID number, if the spec has an ID column and the cell was filled.
    pub fn id_number(&self) -> Option<&IdNumber> {
        match self.values.get(self.schema.id_number?)? {
            Value::IdNumber(id) => Some(id),
            _ => None,
        }
    }

    /// The consent reference for the ID number, if the spec has one and it was filled.
    pub fn consent_ref(&self) -> Option<&ConsentRef> {
        match self.values.get(self.schema.consent_ref?)? {
            Value::ConsentRef(c) => Some(c),
            _ => None,
        }
    }

    /// The department's record key, if the spec declares one.
    pub fn record_key(&self) -> Option<&str> {
        self.values.get(self.schema.record_key?)?.as_str()
    }

    /// The row's operation, if the spec has an operation column and the cell was filled.
    pub fn operation(&self) -> Option<Operation> {
        match self.values.get(self.schema.operation?)? {
            Value::Operation(op) => Some(*op),
            _ => None,
        }
    }

    /// The reference key the row names its record or member by, if the spec has a
    /// reference-key column and the cell was filled.
    pub fn ref_key(&self) -> Option<&RefKey> {
        match self.values.get(self.schema.ref_key?)? {
            Value::RefKey(k) => Some(k),
            _ => None,
        }
    }

    /// The row with `key` as its record key: a row that named its record by reference key
    /// gets the key of the record it was found to be, so that it is stored as one that named
    /// it. Kept as text, which every record-key kind is stored as.
    pub fn with_record_key(mut self, key: &str) -> Self {
        if let Some(slot) = self.schema.record_key.and_then(|i| self.values.get_mut(i)) {
            *slot = Value::Text(key.to_owned());
        }
        self
    }

    /// The values, dropping the row's link to its spec.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

impl fmt::Debug for ValidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Name and value pairs read better than two parallel lists; values mask themselves.
        struct Cells<'a>(&'a ValidRow);
        impl fmt::Debug for Cells<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.schema.names.iter().zip(&self.0.values))
                    .finish()
            }
        }
        f.debug_struct("ValidRow")
            .field("line", &self.line)
            .field("values", &Cells(self))
            .finish()
    }
}

impl PartialEq for ValidRow {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
            && self.values == other.values
            && self.schema.names == other.schema.names
    }
}
