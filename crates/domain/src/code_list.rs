//! Code lists loaded from CSV: the LGD village directory, the list of schemes and the
//! directory of bank branches (IFSC).
//!
//! Uploads are checked against these when a state has loaded them; without them only the
//! format of a code is checked. Loading is strict (one bad row fails the whole list), because
//! a half-loaded directory would silently reject valid villages later.

use std::collections::HashMap;
use std::io::Read;

use crate::error::ValidationError;
use crate::ifsc::Ifsc;
use crate::lgd::{DistrictCode, StateCode, SubDistrictCode, VillageCode};
use crate::scheme::SchemeCode;

/// Why a code list could not be loaded. Line numbers are 1-based and count the header line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeListError {
    /// The header lacks a required column.
    #[error("the code list has no `{column}` column")]
    MissingColumn {
        /// Canonical name of the missing column.
        column: &'static str,
    },
    /// A value in a row breaks its type's rule.
    #[error("line {line}, column `{column}`: {error}")]
    InvalidRow {
        /// 1-based line number in the file.
        line: u64,
        /// Canonical name of the column.
        column: &'static str,
        /// The broken rule.
        error: ValidationError,
    },
    /// A village code already appeared on an earlier line.
    #[error("line {line}: village code {code} appears more than once")]
    DuplicateVillage {
        /// 1-based line number of the repeat.
        line: u64,
        /// The repeated code.
        code: VillageCode,
    },
    /// A scheme code already appeared on an earlier line.
    #[error("line {line}: scheme code {code} appears more than once")]
    DuplicateScheme {
        /// 1-based line number of the repeat.
        line: u64,
        /// The repeated code.
        code: SchemeCode,
    },
    /// An IFSC already appeared on an earlier line.
    #[error("line {line}: IFSC {code} appears more than once")]
    DuplicateIfsc {
        /// 1-based line number of the repeat.
        line: u64,
        /// The repeated code.
        code: Ifsc,
    },
    /// The file is not well-formed CSV (ragged rows, invalid UTF-8, read failure).
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line number where the problem was found (best effort).
        line: u64,
        /// What went wrong.
        message: String,
    },
}

/// One village of the LGD directory with its place in the hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Village {
    /// State code.
    pub state_code: StateCode,
    /// State name, empty if the file had no `state_name` column.
    pub state_name: String,
    /// District code.
    pub district_code: DistrictCode,
    /// District name, empty if the file had no `district_name` column.
    pub district_name: String,
    /// Sub-district code.
    pub sub_district_code: SubDistrictCode,
    /// Sub-district name, empty if the file had no `sub_district_name` column.
    pub sub_district_name: String,
    /// Village code.
    pub village_code: VillageCode,
    /// Village name.
    pub village_name: String,
}

/// The LGD village directory, in file order, indexed by village code.
#[derive(Debug, Clone, Default)]
pub struct LgdDirectory {
    villages: Vec<Village>,
    by_code: HashMap<VillageCode, usize>,
}

impl LgdDirectory {
    /// Reads a CSV with one village per row. Header names are matched ignoring case, with
    /// spaces and hyphens read as underscores. Required: `state_code`, `district_code`,
    /// `sub_district_code` (or `subdistrict_code`), `village_code`, `village_name`. Optional:
    /// `state_name`, `district_name`, `sub_district_name` (or `subdistrict_name`).
    pub fn from_csv(reader: impl Read) -> Result<Self, CodeListError> {
        let mut csv = CsvTable::open(reader)?;
        let state_code = csv.required("state_code", &[])?;
        let state_name = csv.optional(&["state_name"]);
        let district_code = csv.required("district_code", &[])?;
        let district_name = csv.optional(&["district_name"]);
        let sub_district_code = csv.required("sub_district_code", &["subdistrict_code"])?;
        let sub_district_name = csv.optional(&["sub_district_name", "subdistrict_name"]);
        let village_code = csv.required("village_code", &[])?;
        let village_name = csv.required("village_name", &[])?;

        let mut dir = Self::default();
        while let Some(row) = csv.next_row()? {
            let village = Village {
                state_code: row.parse(state_code, StateCode::parse)?,
                state_name: row.text(state_name),
                district_code: row.parse(district_code, DistrictCode::parse)?,
                district_name: row.text(district_name),
                sub_district_code: row.parse(sub_district_code, SubDistrictCode::parse)?,
                sub_district_name: row.text(sub_district_name),
                village_code: row.parse(village_code, VillageCode::parse)?,
                village_name: row.parse(village_name, |s| {
                    non_empty(s, "village_name.empty", "a village name is required")
                })?,
            };
            if dir.by_code.contains_key(&village.village_code) {
                return Err(CodeListError::DuplicateVillage {
                    line: row.line,
                    code: village.village_code,
                });
            }
            dir.by_code.insert(village.village_code, dir.villages.len());
            dir.villages.push(village);
        }
        Ok(dir)
    }

    /// The village with this code, if the directory has it.
    pub fn village(&self, code: &VillageCode) -> Option<&Village> {
        self.by_code.get(code).and_then(|&i| self.villages.get(i))
    }

    /// Like [`LgdDirectory::village`], but an unknown code is a validation error
    /// (`village_code.unknown`) ready for a rejection report.
    pub fn check_village(&self, code: &VillageCode) -> Result<&Village, ValidationError> {
        self.village(code).ok_or_else(|| {
            ValidationError::new(
                "village_code.unknown",
                "the village code is not in the loaded LGD village directory",
            )
        })
    }

    /// Number of villages.
    pub fn len(&self) -> usize {
        self.villages.len()
    }

    /// Whether the directory has no villages.
    pub fn is_empty(&self) -> bool {
        self.villages.is_empty()
    }

    /// All villages in file order.
    pub fn villages(&self) -> impl Iterator<Item = &Village> {
        self.villages.iter()
    }
}

/// One scheme of the scheme code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeEntry {
    /// The scheme's code.
    pub code: SchemeCode,
    /// The scheme's name.
    pub name: String,
    /// The owning organisation, when the list says.
    pub organisation: Option<String>,
}

/// The list of schemes, in file order, indexed by code.
#[derive(Debug, Clone, Default)]
pub struct SchemeCodeList {
    schemes: Vec<SchemeEntry>,
    by_code: HashMap<SchemeCode, usize>,
}

impl SchemeCodeList {
    /// Reads a CSV with columns `scheme_code`, `scheme_name` and optionally `organisation`
    /// (header names matched ignoring case).
    pub fn from_csv(reader: impl Read) -> Result<Self, CodeListError> {
        let mut csv = CsvTable::open(reader)?;
        let code = csv.required("scheme_code", &[])?;
        let name = csv.required("scheme_name", &[])?;
        let organisation = csv.optional(&["organisation", "organization"]);

        let mut list = Self::default();
        while let Some(row) = csv.next_row()? {
            let organisation = row.text(organisation);
            let entry = SchemeEntry {
                code: row.parse(code, SchemeCode::parse)?,
                name: row.parse(name, |s| {
                    non_empty(s, "scheme_name.empty", "a scheme name is required")
                })?,
                organisation: (!organisation.is_empty()).then_some(organisation),
            };
            if list.by_code.contains_key(&entry.code) {
                return Err(CodeListError::DuplicateScheme {
                    line: row.line,
                    code: entry.code,
                });
            }
            list.by_code.insert(entry.code.clone(), list.schemes.len());
            list.schemes.push(entry);
        }
        Ok(list)
    }

    /// The scheme with this code, if listed.
    pub fn scheme(&self, code: &SchemeCode) -> Option<&SchemeEntry> {
        self.by_code.get(code).and_then(|&i| self.schemes.get(i))
    }

    /// Like [`SchemeCodeList::scheme`], but an unknown code is a validation error
    /// (`scheme_code.unknown`).
    pub fn check_scheme(&self, code: &SchemeCode) -> Result<&SchemeEntry, ValidationError> {
        self.scheme(code).ok_or_else(|| {
            ValidationError::new(
                "scheme_code.unknown",
                "the scheme code is not in the loaded scheme list",
            )
        })
    }

    /// Number of schemes.
    pub fn len(&self) -> usize {
        self.schemes.len()
    }

    /// Whether the list has no schemes.
    pub fn is_empty(&self) -> bool {
        self.schemes.is_empty()
    }

    /// All schemes in file order.
    pub fn schemes(&self) -> impl Iterator<Item = &SchemeEntry> {
        self.schemes.iter()
    }
}

/// One bank branch of the IFSC directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankBranch {
    /// The branch's code.
    pub ifsc: Ifsc,
    /// The bank's name, empty if the file had no `bank` column.
    pub bank: String,
    /// The branch's name, empty if the file had no `branch` column.
    pub branch: String,
}

/// The bank branches a state's benefit transfers may go to (the RBI's IFSC list, or the part
/// of it the state uses), indexed by IFSC. A well-formed IFSC of a branch that does not exist
/// or has closed makes the transfer bounce, so uploads check bank details against it once
/// it is loaded.
#[derive(Debug, Clone, Default)]
pub struct IfscDirectory {
    branches: Vec<BankBranch>,
    by_code: HashMap<Ifsc, usize>,
}

impl IfscDirectory {
    /// Reads a CSV with one branch per row: `ifsc` (or `ifsc_code`) required, `bank` (or
    /// `bank_name`) and `branch` (or `branch_name`) optional, other columns (address, city,
    /// MICR…) ignored, as the RBI's list has many.
    pub fn from_csv(reader: impl Read) -> Result<Self, CodeListError> {
        let mut csv = CsvTable::open(reader)?;
        let ifsc = csv.required("ifsc", &["ifsc_code"])?;
        let bank = csv.optional(&["bank", "bank_name"]);
        let branch = csv.optional(&["branch", "branch_name"]);

        let mut dir = Self::default();
        while let Some(row) = csv.next_row()? {
            let entry = BankBranch {
                ifsc: row.parse(ifsc, Ifsc::parse)?,
                bank: row.text(bank),
                branch: row.text(branch),
            };
            if dir.by_code.contains_key(&entry.ifsc) {
                return Err(CodeListError::DuplicateIfsc {
                    line: row.line,
                    code: entry.ifsc,
                });
            }
            dir.by_code.insert(entry.ifsc.clone(), dir.branches.len());
            dir.branches.push(entry);
        }
        Ok(dir)
    }

    /// The branch with this code, if listed.
    pub fn branch(&self, code: &Ifsc) -> Option<&BankBranch> {
        self.by_code.get(code).and_then(|&i| self.branches.get(i))
    }

    /// Like [`IfscDirectory::branch`], but an unknown code is a validation error
    /// (`ifsc.unknown`).
    pub fn check_ifsc(&self, code: &Ifsc) -> Result<&BankBranch, ValidationError> {
        self.branch(code).ok_or_else(|| {
            ValidationError::new(
                "ifsc.unknown",
                "the IFSC is not in the loaded list of bank branches (the branch may not exist, or may have closed or merged)",
            )
        })
    }

    /// Number of branches.
    pub fn len(&self) -> usize {
        self.branches.len()
    }

    /// Whether the directory has no branches.
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// All branches in file order.
    pub fn branches(&self) -> impl Iterator<Item = &BankBranch> {
        self.branches.iter()
    }
}

fn non_empty(s: &str, code: &'static str, message: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    if s.is_empty() {
        Err(ValidationError::new(code, message))
    } else {
        Ok(s.to_owned())
    }
}

/// A column located in the header: its index and canonical name for error messages.
#[derive(Debug, Clone, Copy)]
struct Column {
    index: usize,
    name: &'static str,
}

/// A CSV reader that knows its header and reports errors with line numbers.
struct CsvTable<R> {
    reader: csv::Reader<R>,
    headers: Vec<String>,
    record: csv::StringRecord,
    last_line: u64,
}

impl<R: Read> CsvTable<R> {
    fn open(reader: R) -> Result<Self, CodeListError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers = reader
            .headers()
            .map_err(|e| csv_error(&e, 1))?
            .iter()
            .map(normalise_header)
            .collect();
        Ok(Self {
            reader,
            headers,
            record: csv::StringRecord::new(),
            last_line: 1,
        })
    }

    fn find(&self, names: &[&str]) -> Option<usize> {
        self.headers
            .iter()
            .position(|h| names.iter().any(|n| h == n))
    }

    fn required(&self, name: &'static str, aliases: &[&str]) -> Result<Column, CodeListError> {
        let mut names = vec![name];
        names.extend_from_slice(aliases);
        self.find(&names)
            .map(|index| Column { index, name })
            .ok_or(CodeListError::MissingColumn { column: name })
    }

    fn optional(&self, names: &[&'static str]) -> Option<Column> {
        let name = names.first().copied()?;
        self.find(names).map(|index| Column { index, name })
    }

    fn next_row(&mut self) -> Result<Option<Row<'_>>, CodeListError> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = self
                    .record
                    .position()
                    .map_or(self.last_line + 1, csv::Position::line);
                self.last_line = line;
                Ok(Some(Row {
                    record: &self.record,
                    line,
                }))
            }
            Err(e) => Err(csv_error(&e, self.last_line + 1)),
        }
    }
}

/// One data row with its line number.
struct Row<'a> {
    record: &'a csv::StringRecord,
    line: u64,
}

impl Row<'_> {
    fn parse<T>(
        &self,
        column: Column,
        parse: impl FnOnce(&str) -> Result<T, ValidationError>,
    ) -> Result<T, CodeListError> {
        let value = self.record.get(column.index).unwrap_or_default();
        parse(value).map_err(|error| CodeListError::InvalidRow {
            line: self.line,
            column: column.name,
            error,
        })
    }

    fn text(&self, column: Option<Column>) -> String {
        column
            .and_then(|c| self.record.get(c.index))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
}

/// Lower case, byte-order mark and surrounding spaces dropped, inner spaces and hyphens as `_`.
fn normalise_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}')
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn csv_error(e: &csv::Error, fallback_line: u64) -> CodeListError {
    let line = e.position().map_or(fallback_line, csv::Position::line);
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("the row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "the text is not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(err) => format!("could not read the file: {err}"),
        _ => e.to_string(),
    };
    CodeListError::Csv { line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LGD: &str = "\
State_Code,State_Name,District Code,district_name,subdistrict_code,sub_district_name,village_code,village_name
34,Puducherry,603,Puducherry,5678,Ozhukarai,644250,Kurumbapet
34,Puducherry,603,Puducherry,5678,Ozhukarai,644251,\"Sulthanpet, East\"
09,Uttar Pradesh,0118,Agra,0701,Etmadpur,000123,Barhan
";

    fn load(csv: &str) -> Result<LgdDirectory, CodeListError> {
        LgdDirectory::from_csv(csv.as_bytes())
    }

    fn village(code: &str) -> VillageCode {
        VillageCode::parse(code).expect("code")
    }

    #[test]
    fn loads_and_looks_up() {
        let dir = load(LGD).expect("loads");
        assert_eq!(dir.len(), 3);
        assert!(!dir.is_empty());
        let v = dir.village(&village("644251")).expect("present");
        assert_eq!(v.village_name, "Sulthanpet, East");
        assert_eq!(v.sub_district_name, "Ozhukarai");
        assert_eq!(v.district_code.get(), 603);
        let v = dir.check_village(&village("123")).expect("present");
        assert_eq!(v.state_code.get(), 9);
        assert_eq!(v.state_name, "Uttar Pradesh");
        assert_eq!(
            dir.check_village(&village("1")).expect_err("absent").code,
            "village_code.unknown"
        );
        let names: Vec<_> = dir.villages().map(|v| v.village_name.as_str()).collect();
        assert_eq!(names, ["Kurumbapet", "Sulthanpet, East", "Barhan"]);
    }

    #[test]
    fn names_optional_bom_tolerated() {
        let dir = load("\u{feff}STATE_CODE,district_code,sub_district_code,village_code,village_name\n1,2,3,4,X\n")
            .expect("loads");
        let v = dir.village(&village("4")).expect("present");
        assert_eq!(v.state_name, "");
    }

    #[test]
    fn missing_column() {
        let err =
            load("state_code,district_code,village_code,village_name\n").expect_err("missing");
        assert_eq!(
            err,
            CodeListError::MissingColumn {
                column: "sub_district_code"
            }
        );
        assert_eq!(
            err.to_string(),
            "the code list has no `sub_district_code` column"
        );
    }

    #[test]
    fn invalid_row_names_line_and_column() {
        let csv = "state_code,district_code,sub_district_code,village_code,village_name\n1,2,3,4,A\n1,2,3,1234567,B\n";
        let err = load(csv).expect_err("invalid");
        match &err {
            CodeListError::InvalidRow {
                line,
                column,
                error,
            } => {
                assert_eq!(*line, 3);
                assert_eq!(*column, "village_code");
                assert_eq!(error.code, "village_code.format");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("line 3, column `village_code`: ")
        );
        let err = load(
            "state_code,district_code,sub_district_code,village_code,village_name\n1,2,3,4, \n",
        )
        .expect_err("empty name");
        assert!(matches!(
            err,
            CodeListError::InvalidRow { line: 2, column: "village_name", ref error } if error.code == "village_name.empty"
        ));
    }

    #[test]
    fn duplicate_village() {
        let csv = "state_code,district_code,sub_district_code,village_code,village_name\n1,2,3,4,A\n1,2,3,0004,B\n";
        let err = load(csv).expect_err("dup");
        assert_eq!(
            err,
            CodeListError::DuplicateVillage {
                line: 3,
                code: village("4")
            }
        );
    }

    #[test]
    fn malformed_csv() {
        let csv = "state_code,district_code,sub_district_code,village_code,village_name\n1,2,3,4,A\n1,2,3\n";
        match load(csv).expect_err("ragged") {
            CodeListError::Csv { line, message } => {
                assert_eq!(line, 3);
                assert!(message.contains("3 fields"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let bytes: &[u8] =
            b"state_code,district_code,sub_district_code,village_code,village_name\n1,2,3,4,\xff\n";
        assert!(matches!(
            LgdDirectory::from_csv(bytes),
            Err(CodeListError::Csv { line: 2, .. })
        ));
        assert_eq!(
            load("").expect_err("empty"),
            CodeListError::MissingColumn {
                column: "state_code"
            }
        );
    }

    #[test]
    fn scheme_list() {
        let csv = "Scheme_Code,Scheme_Name,Organisation\nOAP,Old Age Pension,Social Welfare\nPMAY-G,Housing,\n";
        let list = SchemeCodeList::from_csv(csv.as_bytes()).expect("loads");
        assert_eq!(list.len(), 2);
        let oap = SchemeCode::parse("OAP").expect("code");
        let entry = list.check_scheme(&oap).expect("present");
        assert_eq!(entry.name, "Old Age Pension");
        assert_eq!(entry.organisation.as_deref(), Some("Social Welfare"));
        let pmay = list
            .scheme(&SchemeCode::parse("PMAY-G").expect("code"))
            .expect("present");
        assert_eq!(pmay.organisation, None);
        assert_eq!(
            list.check_scheme(&SchemeCode::parse("oap").expect("code"))
                .expect_err("case matters")
                .code,
            "scheme_code.unknown"
        );
        assert_eq!(list.schemes().count(), 2);

        let no_org =
            SchemeCodeList::from_csv("scheme_code,scheme_name\nA,B\n".as_bytes()).expect("ok");
        assert_eq!(no_org.len(), 1);
        assert!(matches!(
            SchemeCodeList::from_csv("scheme_code,scheme_name\nA B,x\n".as_bytes()),
            Err(CodeListError::InvalidRow {
                line: 2,
                column: "scheme_code",
                ..
            })
        ));
        assert!(matches!(
            SchemeCodeList::from_csv("scheme_code,scheme_name\nA,x\nA,y\n".as_bytes()),
            Err(CodeListError::DuplicateScheme { line: 3, .. })
        ));
        assert_eq!(
            SchemeCodeList::from_csv("scheme_code\nA\n".as_bytes()).expect_err("missing"),
            CodeListError::MissingColumn {
                column: "scheme_name"
            }
        );
    }

    #[test]
    fn ifsc_directory() {
        let csv = "BANK,IFSC,BRANCH,CENTRE,ADDRESS\n\
State Bank of India,SBIN0000001,Kolkata Main,Kolkata,\"Samriddhi Bhavan, 1 Strand Road\"\n\
Indian Bank,idib000p042,Puducherry,Puducherry,\"Rue Mahe de Labourdonnais\"\n";
        let dir = IfscDirectory::from_csv(csv.as_bytes()).expect("loads");
        assert_eq!(dir.len(), 2);
        assert!(!dir.is_empty());
        let code = Ifsc::parse("IDIB000P042").expect("code");
        let branch = dir
            .check_ifsc(&code)
            .expect("listed, whatever its case in the file");
        assert_eq!(branch.bank, "Indian Bank");
        assert_eq!(branch.branch, "Puducherry");
        assert_eq!(
            dir.check_ifsc(&Ifsc::parse("SBIN0000002").expect("code"))
                .expect_err("not listed")
                .code,
            "ifsc.unknown"
        );
        assert_eq!(dir.branches().count(), 2);

        let only_codes = IfscDirectory::from_csv("ifsc_code\nSBIN0000001\n".as_bytes())
            .expect("names are optional");
        assert_eq!(
            only_codes.branches().next().map(|b| b.bank.as_str()),
            Some("")
        );
        assert!(matches!(
            IfscDirectory::from_csv("ifsc\nSBIN0000001\nSBIN1000001\n".as_bytes()),
            Err(CodeListError::InvalidRow {
                line: 3,
                column: "ifsc",
                ref error,
            }) if error.code == "ifsc.format"
        ));
        assert!(matches!(
            IfscDirectory::from_csv("ifsc\nSBIN0000001\nsbin0000001\n".as_bytes()),
            Err(CodeListError::DuplicateIfsc { line: 3, .. })
        ));
        assert_eq!(
            IfscDirectory::from_csv("bank,branch\nX,Y\n".as_bytes()).expect_err("missing"),
            CodeListError::MissingColumn { column: "ifsc" }
        );
    }
}
