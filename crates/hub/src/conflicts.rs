//! Conflict reports: beneficiaries who should not be where they are.
//!
//! Five kinds, each with a stable code: a resident enrolled twice in one scheme
//! (`duplicate_in_scheme`), a resident in two schemes that exclude each other
//! (`mutually_exclusive`), two members of one household in a scheme limited to one per
//! household (`household_limit`), a scheme's eligibility rule failing on the base registry's
//! data of the linked resident (`ineligible`), and an active enrolment of a resident the
//! registry marks deceased (`deceased`). Only active enrolments linked to a resident count:
//! an unlinked record has no registry data to be checked against.
//!
//! Conflicts are computed on demand from the enrolments and the registry as they are now;
//! nothing is stored. A scheme's report is read page by page ([`ConflictReport`]), each page
//! one bounded store query, so a scheme of a million enrolments is never held in memory.
//! Which schemes exclude which comes from the current specs: `exclusive_with` on either side
//! is enough (the relation is symmetric), and a name that is not a dataset is shown in the
//! report ([`ConflictReport::unknown_exclusive_with`]) rather than refused when the spec is
//! declared, so that two schemes can name each other whichever is declared first.
//!
//! A conflict names datasets, record keys, resident ids and the resident's reference key,
//! never an ID number, a phone or bank number, or the registry's values themselves (an
//! `ineligible` conflict says which rule fails, not the resident's age).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use sangam_domain::{DateOfBirth, Gender, LifeStatus, RationCardNumber, Relationship};
use sangam_ingest::report::SafeCsvWriter;
use sangam_ingest::spec::{ColumnKind, Condition, DataSpec, EligibilityRule};
use sangam_store::{LinkedEnrolment, Resident, Role, User};
use serde::Serialize;

use crate::audit::AuditEvent;
use crate::datasets::{DatasetWithSpec, acts_for, refuse_base};
use crate::{Hub, HubError, HubResult};

/// How many groups (residents, households) or records one store query of a report reads.
pub const REPORT_PAGE: u32 = 1000;

/// The most store queries [`ConflictReport::collect`] makes for one page.
pub const COLLECT_READS: u32 = 100;

/// What is wrong. The codes are stable: reports, dashboards and `POST /v1/validate` use them.
/// Declared in report order, which is also how they sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Two or more active enrolments of one dataset linked to the same resident.
    DuplicateInScheme,
    /// Two or more residents of one ration card in a dataset limited to one per household.
    HouseholdLimit,
    /// A resident with active enrolments in two datasets that exclude each other.
    MutuallyExclusive,
    /// An eligibility rule of the dataset's current spec fails on the registry's data.
    Ineligible,
    /// An active enrolment of a resident marked deceased in the registry.
    Deceased,
}

impl ConflictKind {
    /// All kinds, in report order.
    pub const ALL: [ConflictKind; 5] = [
        ConflictKind::DuplicateInScheme,
        ConflictKind::HouseholdLimit,
        ConflictKind::MutuallyExclusive,
        ConflictKind::Ineligible,
        ConflictKind::Deceased,
    ];

    /// The stable snake_case code, e.g. `duplicate_in_scheme`.
    pub fn code(self) -> &'static str {
        match self {
            ConflictKind::DuplicateInScheme => "duplicate_in_scheme",
            ConflictKind::MutuallyExclusive => "mutually_exclusive",
            ConflictKind::HouseholdLimit => "household_limit",
            ConflictKind::Ineligible => "ineligible",
            ConflictKind::Deceased => "deceased",
        }
    }
}

/// One enrolment a conflict is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConflictRecord {
    pub dataset: String,
    /// The department's record key.
    pub record_key: String,
    pub resident_id: String,
    /// The reference key of the resident's ID number, if the registry has one.
    pub ref_key: Option<String>,
}

impl ConflictRecord {
    fn of(e: &LinkedEnrolment) -> Self {
        ConflictRecord {
            dataset: e.dataset.clone(),
            record_key: e.record_key.clone(),
            resident_id: e.resident.resident_id.clone(),
            ref_key: e
                .resident
                .id_ref_key
                .as_ref()
                .map(|k| k.as_str().to_owned()),
        }
    }
}

/// One conflict: its kind, the enrolments involved and a plain message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    /// The dataset the conflict is seen from (the report's own, or the one a resident would
    /// be enrolled in).
    pub dataset: String,
    /// For `mutually_exclusive`: the other dataset.
    pub other_dataset: Option<String>,
    /// The enrolments involved, in both datasets for `mutually_exclusive`. Empty only for a
    /// conflict that enrolling a resident would create with nobody else (`deceased`).
    pub records: Vec<ConflictRecord>,
    /// For `household_limit`: the household's ration card number.
    pub card_number: Option<String>,
    /// For `ineligible`: the name of the failing rule.
    pub rule: Option<String>,
    /// What is wrong, in words; never a registry value or a sensitive number.
    pub message: String,
}

/// Whether a rule holds on a resident's registry data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    /// The registry does not hold what the rule looks at, or not precisely enough to tell.
    NotChecked,
}

/// One eligibility rule evaluated on a resident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleOutcome {
    /// The rule's name in the spec.
    pub rule: String,
    pub outcome: Outcome,
    /// The rule's own message when it fails; why it was not checked otherwise.
    pub message: String,
}

/// Evaluates every eligibility rule of `spec` on what the base registry holds of `resident`
/// (date of birth, gender, relationship, life status), as of `today`.
///
/// Age rules read the registry's date of birth. When the registry knows only a year or a
/// declared age, a rule fails only if it fails for every birth date the value allows (born
/// in 1966: "at least 60" on 1 March 2026 is not checked, "at least 61" fails), so that an
/// imprecise record is never called ineligible on a guess. Rules on columns the registry
/// does not hold (amounts, codes, free text, other dates) are not checked.
pub fn eligibility_on_resident(
    spec: &DataSpec,
    resident: &Resident,
    today: NaiveDate,
) -> Vec<RuleOutcome> {
    spec.rules
        .iter()
        .map(|rule| {
            let (outcome, why) = evaluate(spec, rule, resident, today);
            let message = match outcome {
                Outcome::Fail => rule.message.trim().to_owned(),
                Outcome::Pass => "holds on the base registry's data".to_owned(),
                Outcome::NotChecked => why,
            };
            RuleOutcome {
                rule: rule.name.clone(),
                outcome,
                message,
            }
        })
        .collect()
}

/// The registry field a column of this kind corresponds to, if the registry holds one.
fn registry_holds(kind: ColumnKind) -> bool {
    matches!(
        kind,
        ColumnKind::Dob
            | ColumnKind::Gender
            | ColumnKind::Relationship
            | ColumnKind::LifeStatus
            | ColumnKind::PersonName
            | ColumnKind::RationCard
    )
}

fn evaluate(
    spec: &DataSpec,
    rule: &EligibilityRule,
    resident: &Resident,
    today: NaiveDate,
) -> (Outcome, String) {
    let column = rule.condition.column();
    let Some(kind) = spec.column(column).map(|c| c.kind) else {
        return (
            Outcome::NotChecked,
            format!("the spec has no column `{column}`"),
        );
    };
    let not_held = || {
        (
            Outcome::NotChecked,
            format!(
                "the base registry does not hold column `{column}` ({})",
                kind.as_str()
            ),
        )
    };
    if !registry_holds(kind) {
        return not_held();
    }
    let pass = |holds: bool| {
        (
            if holds { Outcome::Pass } else { Outcome::Fail },
            String::new(),
        )
    };
    match &rule.condition {
        Condition::NotEmpty { .. } => pass(true),
        Condition::AgeAtLeast { years, .. } | Condition::AgeAtMost { years, .. } => {
            if kind != ColumnKind::Dob {
                return not_held();
            }
            let (youngest, oldest) = age_range(&resident.dob, today);
            let at_least = matches!(rule.condition, Condition::AgeAtLeast { .. });
            let (certain_pass, certain_fail) = if at_least {
                (youngest >= *years, oldest < *years)
            } else {
                (oldest <= *years, youngest > *years)
            };
            if certain_pass {
                pass(true)
            } else if certain_fail {
                pass(false)
            } else {
                (
                    Outcome::NotChecked,
                    "the base registry knows the date of birth only as a year or a declared age, \
                     which cannot tell whether the rule holds"
                        .to_owned(),
                )
            }
        }
        Condition::Equals { value, .. } => {
            one_of(kind, std::slice::from_ref(value), resident).map_or_else(not_held, pass)
        }
        Condition::OneOf { values, .. } => {
            one_of(kind, values, resident).map_or_else(not_held, pass)
        }
    }
}

/// Whether the resident's registry value of a column of this kind is one of `values`;
/// `None` for kinds the registry cannot compare (names, card numbers) or a value that does
/// not parse (a validated spec has none).
fn one_of(kind: ColumnKind, values: &[String], resident: &Resident) -> Option<bool> {
    let any = |matches: &dyn Fn(&str) -> Option<bool>| -> Option<bool> {
        let mut found = false;
        for v in values {
            found |= matches(v)?;
        }
        Some(found)
    };
    match kind {
        ColumnKind::Gender => any(&|v| Gender::parse(v).ok().map(|g| g == resident.gender)),
        ColumnKind::LifeStatus => {
            any(&|v| LifeStatus::parse(v).ok().map(|s| s == resident.life_status))
        }
        ColumnKind::Relationship => any(&|v| {
            Relationship::parse(v)
                .ok()
                .map(|r| r == resident.relationship)
        }),
        _ => None,
    }
}

/// The youngest and oldest the resident can be on `today`, given how precisely the registry
/// knows the birth (the same for a full date). Not yet born counts as 0.
fn age_range(dob: &DateOfBirth, today: NaiveDate) -> (u32, u32) {
    let (earliest, latest) = dob.earliest_and_latest_birth_date();
    let age = |birth| DateOfBirth::Full(birth).age_on(today).unwrap_or(0);
    (age(latest), age(earliest))
}

// ------------------------------------------------------------------ which schemes exclude

/// Every stored scheme with its current spec, for the questions that span schemes: which
/// exclude which, which are limited to one per household.
struct Schemes {
    by_name: BTreeMap<String, DatasetWithSpec>,
}

impl Schemes {
    /// The existing datasets that exclude `name` or that it excludes (symmetric).
    fn exclusive_of(&self, name: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        if let Some(own) = self.by_name.get(name) {
            for other in &own.spec.exclusive_with {
                if self.by_name.contains_key(other) {
                    out.insert(other.clone());
                }
            }
        }
        for (other, d) in &self.by_name {
            if other != name && d.spec.exclusive_with.iter().any(|n| n == name) {
                out.insert(other.clone());
            }
        }
        out.into_iter().collect()
    }

    /// The names in `name`'s `exclusive_with` that are not datasets.
    fn unknown_exclusive_of(&self, name: &str) -> Vec<String> {
        self.by_name.get(name).map_or_else(Vec::new, |d| {
            d.spec
                .exclusive_with
                .iter()
                .filter(|n| !self.by_name.contains_key(*n))
                .cloned()
                .collect()
        })
    }

    fn excludes(&self, a: &str, b: &str) -> bool {
        let names = |x: &str, y: &str| {
            self.by_name
                .get(x)
                .is_some_and(|d| d.spec.exclusive_with.iter().any(|n| n == y))
        };
        a != b && (names(a, b) || names(b, a))
    }

    fn get(&self, name: &str) -> HubResult<&DatasetWithSpec> {
        self.by_name
            .get(name)
            .ok_or_else(|| HubError::NotFound(format!("dataset {name}")))
    }
}

// ------------------------------------------------------------------ building conflicts

fn keys_of(records: &[ConflictRecord]) -> String {
    records
        .iter()
        .map(|r| r.record_key.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn duplicate(dataset: &str, resident_id: &str, records: Vec<ConflictRecord>) -> Conflict {
    Conflict {
        kind: ConflictKind::DuplicateInScheme,
        dataset: dataset.to_owned(),
        other_dataset: None,
        message: format!(
            "resident {resident_id} is enrolled {} times in {dataset} (records {})",
            records.len(),
            keys_of(&records)
        ),
        records,
        card_number: None,
        rule: None,
    }
}

fn exclusive(
    dataset: &str,
    other: &str,
    resident_id: &str,
    records: Vec<ConflictRecord>,
) -> Conflict {
    let (here, there): (Vec<_>, Vec<_>) = records.iter().partition(|r| r.dataset == dataset);
    let here: Vec<ConflictRecord> = here.into_iter().cloned().collect();
    let there: Vec<ConflictRecord> = there.into_iter().cloned().collect();
    Conflict {
        kind: ConflictKind::MutuallyExclusive,
        dataset: dataset.to_owned(),
        other_dataset: Some(other.to_owned()),
        message: format!(
            "resident {resident_id} is enrolled in {dataset} (records {}) and in {other} \
             (records {}), schemes that exclude each other",
            keys_of(&here),
            keys_of(&there)
        ),
        records,
        card_number: None,
        rule: None,
    }
}

fn household(dataset: &str, card: &str, records: Vec<ConflictRecord>) -> Conflict {
    let members: BTreeSet<&str> = records.iter().map(|r| r.resident_id.as_str()).collect();
    Conflict {
        kind: ConflictKind::HouseholdLimit,
        dataset: dataset.to_owned(),
        other_dataset: None,
        message: format!(
            "{} members of household {card} are enrolled in {dataset}, which allows one per \
             household (records {})",
            members.len(),
            keys_of(&records)
        ),
        records,
        card_number: Some(card.to_owned()),
        rule: None,
    }
}

/// The conflicts of one enrolment on its own: its resident deceased, rules failing.
fn record_conflicts(spec: &DataSpec, e: &LinkedEnrolment, today: NaiveDate) -> Vec<Conflict> {
    let mut out = Vec::new();
    let record = ConflictRecord::of(e);
    for outcome in eligibility_on_resident(spec, &e.resident, today) {
        if outcome.outcome != Outcome::Fail {
            continue;
        }
        out.push(Conflict {
            kind: ConflictKind::Ineligible,
            dataset: e.dataset.clone(),
            other_dataset: None,
            message: format!(
                "record {} of {} fails rule `{}` on the base registry's data of resident {}: {}",
                e.record_key, e.dataset, outcome.rule, e.resident.resident_id, outcome.message
            ),
            records: vec![record.clone()],
            card_number: None,
            rule: Some(outcome.rule),
        });
    }
    if e.resident.life_status == LifeStatus::Deceased {
        out.push(Conflict {
            kind: ConflictKind::Deceased,
            dataset: e.dataset.clone(),
            other_dataset: None,
            message: format!(
                "record {} of {} is active, but resident {} is marked deceased in the base \
                 registry",
                e.record_key, e.dataset, e.resident.resident_id
            ),
            records: vec![record],
            card_number: None,
            rule: None,
        });
    }
    out
}

/// Rows grouped by a key, in the order the keys are given.
fn grouped<'a, K: Ord + Clone>(
    order: &[K],
    rows: &'a [LinkedEnrolment],
    key: impl Fn(&LinkedEnrolment) -> K,
) -> Vec<(K, Vec<&'a LinkedEnrolment>)> {
    let mut groups: BTreeMap<K, Vec<&LinkedEnrolment>> = BTreeMap::new();
    for row in rows {
        groups.entry(key(row)).or_default().push(row);
    }
    order
        .iter()
        .filter_map(|k| groups.remove(k).map(|g| (k.clone(), g)))
        .collect()
}

// ------------------------------------------------------------------ a scheme's report

/// Where a report stands: the phase it is in and the last key it has read there.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Position {
    Duplicates(Option<String>),
    Households(Option<RationCardNumber>),
    Exclusive(Option<String>),
    Records(Option<String>),
    Done,
}

impl Position {
    /// An opaque token for resuming at this position (URL-safe).
    fn token(&self) -> Option<String> {
        let key = |k: &Option<String>| k.clone().unwrap_or_default();
        let (phase, key) = match self {
            Position::Duplicates(k) => ("d", key(k)),
            Position::Households(k) => (
                "h",
                k.as_ref()
                    .map_or_else(String::new, |c| c.as_str().to_owned()),
            ),
            Position::Exclusive(k) => ("x", key(k)),
            Position::Records(k) => ("r", key(k)),
            Position::Done => return None,
        };
        Some(URL_SAFE_NO_PAD.encode(format!("{phase}:{key}")))
    }

    fn from_token(token: &str) -> HubResult<Self> {
        let bad = || HubError::Invalid {
            field: "after".into(),
            code: "cursor.invalid",
            message: "this is not a cursor the conflict report gave; start without one".into(),
        };
        let text = URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let (phase, key) = text.split_once(':').ok_or_else(bad)?;
        let key = (!key.is_empty()).then(|| key.to_owned());
        Ok(match phase {
            "d" => Position::Duplicates(key),
            "h" => Position::Households(
                key.map(|k| RationCardNumber::parse(&k).map_err(|_| bad()))
                    .transpose()?,
            ),
            "x" => Position::Exclusive(key),
            "r" => Position::Records(key),
            _ => return Err(bad()),
        })
    }
}

/// One scheme's conflict report, read a page at a time with [`ConflictReport::next_page`].
/// Conflicts come grouped by kind: duplicates, household limits, mutually exclusive
/// schemes, then per record (ineligible, deceased) in record-key order.
#[derive(Debug)]
pub struct ConflictReport {
    hub: Hub,
    dataset: DatasetWithSpec,
    exclusive_with: Vec<String>,
    unknown_exclusive_with: Vec<String>,
    today: NaiveDate,
    position: Position,
    page: u32,
}

impl ConflictReport {
    /// The dataset reported on, with its current spec.
    pub fn dataset(&self) -> &DatasetWithSpec {
        &self.dataset
    }

    /// The existing datasets this one excludes or is excluded by (the relation is symmetric).
    pub fn exclusive_with(&self) -> &[String] {
        &self.exclusive_with
    }

    /// Names in the spec's `exclusive_with` that are not datasets (not declared yet, or
    /// misspelt): nothing can conflict with them.
    pub fn unknown_exclusive_with(&self) -> &[String] {
        &self.unknown_exclusive_with
    }

    /// A token to resume the report where it stands now
    /// ([`Hub::dataset_conflicts_after`]); `None` once it is complete.
    pub fn cursor(&self) -> Option<String> {
        self.position.token()
    }

    /// Sets how many groups or records one store query reads (at least 1).
    pub fn with_page_size(mut self, page: u32) -> Self {
        self.page = page.max(1);
        self
    }

    /// The next conflicts, or `None` when the report is complete. A page is never empty;
    /// reaching the next conflict may take several store queries over a clean stretch.
    pub async fn next_page(&mut self) -> HubResult<Option<Vec<Conflict>>> {
        while self.position != Position::Done {
            let found = self.step().await?;
            if !found.is_empty() {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Reads conflicts until at least `at_least` were found, the report is complete, or
    /// [`COLLECT_READS`] store queries were made: a request for one page must answer in
    /// time even over a long stretch without conflicts, so the result may be short (even
    /// empty) while [`ConflictReport::cursor`] still says there is more.
    pub async fn collect(&mut self, at_least: usize) -> HubResult<Vec<Conflict>> {
        let mut all = Vec::new();
        let mut reads = 0;
        while all.len() < at_least && reads < COLLECT_READS && self.position != Position::Done {
            all.extend(self.step().await?);
            reads += 1;
        }
        Ok(all)
    }

    /// One store query's worth of the report.
    async fn step(&mut self) -> HubResult<Vec<Conflict>> {
        let store = self.hub.store.clone();
        let name = self.dataset.dataset.name.clone();
        let page = self.page;
        let full = |n: usize| n >= page as usize;
        let mut out = Vec::new();
        match self.position.clone() {
            Position::Duplicates(after) => {
                let ids = store
                    .residents_enrolled_twice(&name, after.as_deref(), page)
                    .await?;
                let rows = store
                    .active_enrolments_of_residents(&ids, Some(std::slice::from_ref(&name)))
                    .await?;
                for (id, group) in grouped(&ids, &rows, |e| e.resident.resident_id.clone()) {
                    let records = group.into_iter().map(ConflictRecord::of).collect();
                    out.push(duplicate(&name, &id, records));
                }
                self.position = match ids.last() {
                    Some(last) if full(ids.len()) => Position::Duplicates(Some(last.clone())),
                    _ => Position::Households(None),
                };
            }
            Position::Households(after) => {
                if !self.dataset.spec.one_per_household {
                    self.position = Position::Exclusive(None);
                    return Ok(out);
                }
                let cards = store
                    .households_enrolled_twice(&name, after.as_ref(), page)
                    .await?;
                let rows = store.active_enrolments_of_households(&name, &cards).await?;
                for (card, group) in grouped(&cards, &rows, |e| e.resident.card_number.clone()) {
                    let records = group.into_iter().map(ConflictRecord::of).collect();
                    out.push(household(&name, card.as_str(), records));
                }
                self.position = match cards.last() {
                    Some(last) if full(cards.len()) => Position::Households(Some(last.clone())),
                    _ => Position::Exclusive(None),
                };
            }
            Position::Exclusive(after) => {
                if self.exclusive_with.is_empty() {
                    self.position = Position::Records(None);
                    return Ok(out);
                }
                let ids = store
                    .residents_enrolled_in_both(&name, &self.exclusive_with, after.as_deref(), page)
                    .await?;
                let mut datasets = self.exclusive_with.clone();
                datasets.push(name.clone());
                let rows = store
                    .active_enrolments_of_residents(&ids, Some(&datasets))
                    .await?;
                for (id, group) in grouped(&ids, &rows, |e| e.resident.resident_id.clone()) {
                    for other in &self.exclusive_with {
                        let involved: Vec<ConflictRecord> = group
                            .iter()
                            .filter(|e| e.dataset == name || e.dataset == *other)
                            .map(|e| ConflictRecord::of(e))
                            .collect();
                        let in_both = involved.iter().any(|r| r.dataset == name)
                            && involved.iter().any(|r| r.dataset == *other);
                        if in_both {
                            out.push(exclusive(&name, other, &id, involved));
                        }
                    }
                }
                self.position = match ids.last() {
                    Some(last) if full(ids.len()) => Position::Exclusive(Some(last.clone())),
                    _ => Position::Records(None),
                };
            }
            Position::Records(after) => {
                let rows = store
                    .linked_enrolments(&name, after.as_deref(), page)
                    .await?;
                for e in &rows {
                    out.extend(record_conflicts(&self.dataset.spec, e, self.today));
                }
                self.position = match rows.last() {
                    Some(last) if full(rows.len()) => {
                        Position::Records(Some(last.record_key.clone()))
                    }
                    _ => Position::Done,
                };
            }
            Position::Done => {}
        }
        Ok(out)
    }
}

// ------------------------------------------------------------------ CSV

/// The columns of a conflict report in CSV: one row per enrolment a conflict involves,
/// `conflict` numbering the conflicts so that the rows of one can be put back together.
pub const CSV_HEADER: [&str; 11] = [
    "conflict",
    "kind",
    "dataset",
    "other_dataset",
    "record_dataset",
    "record_key",
    "resident_id",
    "ref_key",
    "card_number",
    "rule",
    "message",
];

/// An in-memory output the CSV writer appends to and the report takes pieces from.
#[derive(Debug, Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("the report buffer was poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One row of the CSV: the conflict's columns with one of its records.
fn csv_row<'a>(number: &'a str, c: &'a Conflict, r: Option<&'a ConflictRecord>) -> [&'a str; 11] {
    [
        number,
        c.kind.code(),
        c.dataset.as_str(),
        c.other_dataset.as_deref().unwrap_or(""),
        r.map_or("", |r| r.dataset.as_str()),
        r.map_or("", |r| r.record_key.as_str()),
        r.map_or("", |r| r.resident_id.as_str()),
        r.and_then(|r| r.ref_key.as_deref()).unwrap_or(""),
        c.card_number.as_deref().unwrap_or(""),
        c.rule.as_deref().unwrap_or(""),
        c.message.as_str(),
    ]
}

/// A conflict report written as CSV a page at a time (UTF-8 with a byte order mark, every
/// cell neutralised against spreadsheet formulas), so that a large report streams.
#[derive(Debug)]
pub struct ConflictCsv {
    writer: SafeCsvWriter<SharedBuffer>,
    buffer: SharedBuffer,
    numbered: u64,
}

fn csv_error(e: sangam_ingest::report::ReportError) -> HubError {
    HubError::Internal(format!("cannot write the conflict report: {e}"))
}

impl ConflictCsv {
    /// Starts the report; the first [`ConflictCsv::write`] returns the header with its rows.
    pub fn new() -> HubResult<Self> {
        let buffer = SharedBuffer::default();
        let writer = SafeCsvWriter::new(buffer.clone(), &CSV_HEADER).map_err(csv_error)?;
        Ok(ConflictCsv {
            writer,
            buffer,
            numbered: 0,
        })
    }

    /// Writes these conflicts and returns the bytes written since the last call.
    pub fn write(&mut self, conflicts: &[Conflict]) -> HubResult<Vec<u8>> {
        for c in conflicts {
            self.numbered += 1;
            let number = self.numbered.to_string();
            if c.records.is_empty() {
                self.writer
                    .write_row(&csv_row(&number, c, None))
                    .map_err(csv_error)?;
            }
            for r in &c.records {
                self.writer
                    .write_row(&csv_row(&number, c, Some(r)))
                    .map_err(csv_error)?;
            }
        }
        self.writer.flush().map_err(csv_error)?;
        Ok(self.buffer.take())
    }

    /// How many conflicts have been written.
    pub fn conflicts(&self) -> u64 {
        self.numbered
    }
}

// ------------------------------------------------------------------ the services

impl Hub {
    async fn schemes(&self) -> HubResult<Schemes> {
        let mut by_name = BTreeMap::new();
        for dataset in self.store.datasets().await? {
            let spec = self
                .dataset_spec(&dataset.name, dataset.current_version)
                .await?;
            by_name.insert(dataset.name.clone(), DatasetWithSpec { dataset, spec });
        }
        Ok(Schemes { by_name })
    }

    /// A scheme by name for a conflict question: unknown is "not found", and the base
    /// registry has no enrolments to be in conflict.
    fn scheme<'a>(&self, schemes: &'a Schemes, name: &str) -> HubResult<&'a DatasetWithSpec> {
        refuse_base(name)?;
        schemes.get(name)
    }

    /// The conflict report of one scheme, for its own organisation's users and for
    /// administrators; read it with [`ConflictReport::next_page`]. Audited.
    pub async fn dataset_conflicts(
        &self,
        actor: &User,
        dataset: &str,
    ) -> HubResult<ConflictReport> {
        self.open_report(actor, dataset, Position::Duplicates(None))
            .await
    }

    /// The same report resumed from a [`ConflictReport::cursor`] token. Audited.
    pub async fn dataset_conflicts_after(
        &self,
        actor: &User,
        dataset: &str,
        cursor: &str,
    ) -> HubResult<ConflictReport> {
        let position = Position::from_token(cursor)?;
        self.open_report(actor, dataset, position).await
    }

    async fn open_report(
        &self,
        actor: &User,
        name: &str,
        position: Position,
    ) -> HubResult<ConflictReport> {
        self.scheme_for(name, actor).await?;
        let schemes = self.schemes().await?;
        let dataset = self.scheme(&schemes, name)?.clone();
        let resumed = position != Position::Duplicates(None);
        self.audit(
            &actor.username,
            AuditEvent::DatasetConflictsRead {
                dataset: name.to_owned(),
                resumed,
            },
        )
        .await?;
        Ok(ConflictReport {
            hub: self.clone(),
            exclusive_with: schemes.exclusive_of(name),
            unknown_exclusive_with: schemes.unknown_exclusive_of(name),
            dataset,
            today: self.now().date_naive(),
            position,
            page: REPORT_PAGE,
        })
    }

    /// Every conflict a resident is in, across all schemes. Administrators see all; a nodal
    /// officer sees those involving their organisation's datasets, and only for a resident
    /// enrolled in one of them (otherwise the resident is "not found", so that officers
    /// cannot probe the registry). Audited.
    pub async fn resident_conflicts(
        &self,
        actor: &User,
        resident_id: &str,
    ) -> HubResult<Vec<Conflict>> {
        let resident = self.resident(resident_id).await?;
        let schemes = self.schemes().await?;
        let enrolments = self
            .store
            .active_enrolments_of_residents(std::slice::from_ref(&resident.resident_id), None)
            .await?;
        let mut by_dataset: BTreeMap<&str, Vec<&LinkedEnrolment>> = BTreeMap::new();
        for e in &enrolments {
            by_dataset.entry(e.dataset.as_str()).or_default().push(e);
        }
        let organisation_of = |d: &str| {
            schemes
                .by_name
                .get(d)
                .map(|d| d.dataset.organisation.clone())
        };
        let mine = |d: &str| organisation_of(d).is_some_and(|org| acts_for(actor, &org));
        if actor.role != Role::Admin && !by_dataset.keys().any(|d| mine(d)) {
            return Err(HubError::NotFound(format!(
                "resident {resident_id} among the beneficiaries of your organisation"
            )));
        }
        let today = self.now().date_naive();
        let mut out = Vec::new();
        for (dataset, rows) in &by_dataset {
            let records = || {
                rows.iter()
                    .map(|e| ConflictRecord::of(e))
                    .collect::<Vec<_>>()
            };
            if rows.len() > 1 {
                out.push(duplicate(dataset, resident_id, records()));
            }
            let Ok(scheme) = schemes.get(dataset) else {
                continue;
            };
            if scheme.spec.one_per_household {
                let household_rows = self
                    .store
                    .active_enrolments_of_households(
                        dataset,
                        std::slice::from_ref(&resident.card_number),
                    )
                    .await?;
                if household_rows
                    .iter()
                    .any(|e| e.resident.resident_id != resident.resident_id)
                {
                    let all = household_rows.iter().map(ConflictRecord::of).collect();
                    out.push(household(dataset, resident.card_number.as_str(), all));
                }
            }
            for (other, other_rows) in by_dataset.range::<&str, _>((
                std::ops::Bound::Excluded(dataset),
                std::ops::Bound::Unbounded,
            )) {
                if schemes.excludes(dataset, other) {
                    let mut all = records();
                    all.extend(other_rows.iter().map(|e| ConflictRecord::of(e)));
                    out.push(exclusive(dataset, other, resident_id, all));
                }
            }
            for e in rows {
                out.extend(record_conflicts(&scheme.spec, e, today));
            }
        }
        if actor.role != Role::Admin {
            out.retain(|c| c.records.iter().any(|r| mine(&r.dataset)));
        }
        out.sort_by_key(|c| c.kind);
        self.audit(
            &actor.username,
            AuditEvent::ResidentConflictsRead {
                resident_id: resident.resident_id.clone(),
                conflicts: out.len() as u64,
            },
        )
        .await?;
        Ok(out)
    }

    /// The conflicts that enrolling this resident into `dataset` would create, and nothing
    /// else: already enrolled there, enrolled in a scheme that excludes it, another member of
    /// the household already enrolled in a one-per-household scheme, or deceased. Eligibility
    /// rules are not checked here (the row being validated carries its own values); see
    /// [`eligibility_on_resident`]. Not audited and not access-checked: the caller (the
    /// validation endpoint) does both.
    pub async fn conflicts_if_enrolled(
        &self,
        resident_id: &str,
        dataset: &str,
    ) -> HubResult<Vec<Conflict>> {
        let resident = self.resident(resident_id).await?;
        let schemes = self.schemes().await?;
        let scheme = self.scheme(&schemes, dataset)?;
        let enrolments = self
            .store
            .active_enrolments_of_residents(std::slice::from_ref(&resident.resident_id), None)
            .await?;
        let mut out = Vec::new();
        let here: Vec<ConflictRecord> = enrolments
            .iter()
            .filter(|e| e.dataset == dataset)
            .map(ConflictRecord::of)
            .collect();
        if !here.is_empty() {
            out.push(Conflict {
                kind: ConflictKind::DuplicateInScheme,
                dataset: dataset.to_owned(),
                other_dataset: None,
                message: format!(
                    "resident {resident_id} is already enrolled in {dataset} (records {})",
                    keys_of(&here)
                ),
                records: here,
                card_number: None,
                rule: None,
            });
        }
        for other in schemes.exclusive_of(dataset) {
            let there: Vec<ConflictRecord> = enrolments
                .iter()
                .filter(|e| e.dataset == other)
                .map(ConflictRecord::of)
                .collect();
            if !there.is_empty() {
                out.push(Conflict {
                    kind: ConflictKind::MutuallyExclusive,
                    dataset: dataset.to_owned(),
                    message: format!(
                        "resident {resident_id} is enrolled in {other} (records {}), which \
                         excludes {dataset}",
                        keys_of(&there)
                    ),
                    other_dataset: Some(other),
                    records: there,
                    card_number: None,
                    rule: None,
                });
            }
        }
        if scheme.spec.one_per_household {
            let members: Vec<ConflictRecord> = self
                .store
                .active_enrolments_of_households(
                    dataset,
                    std::slice::from_ref(&resident.card_number),
                )
                .await?
                .iter()
                .filter(|e| e.resident.resident_id != resident.resident_id)
                .map(ConflictRecord::of)
                .collect();
            if !members.is_empty() {
                out.push(Conflict {
                    kind: ConflictKind::HouseholdLimit,
                    dataset: dataset.to_owned(),
                    other_dataset: None,
                    message: format!(
                        "another member of household {} is already enrolled in {dataset}, which \
                         allows one per household (records {})",
                        resident.card_number.as_str(),
                        keys_of(&members)
                    ),
                    records: members,
                    card_number: Some(resident.card_number.as_str().to_owned()),
                    rule: None,
                });
            }
        }
        if resident.life_status == LifeStatus::Deceased {
            out.push(Conflict {
                kind: ConflictKind::Deceased,
                dataset: dataset.to_owned(),
                other_dataset: None,
                message: format!("resident {resident_id} is marked deceased in the base registry"),
                records: Vec::new(),
                card_number: None,
                rule: None,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sangam_domain::{EkycStatus, PersonName};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn resident(dob: DateOfBirth, gender: &str) -> Resident {
        let now = chrono::Utc::now();
        Resident {
            resident_id: "r1".into(),
            card_number: RationCardNumber::parse("PY0000000001").expect("card"),
            name: PersonName::parse("Lakshmi").expect("name"),
            relative_name: None,
            gender: Gender::parse(gender).expect("gender"),
            dob,
            relationship: Relationship::parse("HEAD").expect("relationship"),
            mobile_masked: None,
            mobile_blind_index: None,
            id_ref_key: None,
            ekyc_status: EkycStatus::default(),
            life_status: LifeStatus::Alive,
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }

    const SPEC: &str = r#"
dataset = "widow_pension"
version = 1
title = "Widow pension"
record_key = "id"

[[columns]]
name = "id"
kind = "text"
required = true

[[columns]]
name = "dob"
kind = "dob"

[[columns]]
name = "gender"
kind = "gender"

[[columns]]
name = "status"
kind = "life_status"

[[columns]]
name = "amount"
kind = "decimal"

[[columns]]
name = "paid_on"
kind = "date"

[[rules]]
name = "adult"
check = "age_at_least"
column = "dob"
years = 60
message = "sixty or more"

[[rules]]
name = "not_too_old"
check = "age_at_most"
column = "dob"
years = 80
message = "eighty or less"

[[rules]]
name = "women"
check = "one_of"
column = "gender"
values = ["F", "T"]
message = "women and transgender persons"

[[rules]]
name = "alive"
check = "equals"
column = "status"
value = "alive"
message = "living beneficiaries"

[[rules]]
name = "paid"
check = "not_empty"
column = "amount"
message = "an amount"

[[rules]]
name = "recent"
check = "age_at_most"
column = "paid_on"
years = 1
message = "paid within a year"
"#;

    fn outcomes(r: &Resident, today: NaiveDate) -> Vec<(String, Outcome)> {
        let spec = DataSpec::from_toml(SPEC).expect("spec");
        eligibility_on_resident(&spec, r, today)
            .into_iter()
            .map(|o| (o.rule, o.outcome))
            .collect()
    }

    fn of(list: &[(String, Outcome)], rule: &str) -> Outcome {
        list.iter()
            .find(|(r, _)| r == rule)
            .map(|(_, o)| *o)
            .expect("rule")
    }

    #[test]
    fn rules_are_evaluated_on_the_registry_and_others_skipped() {
        let today = date(2026, 3, 1);
        let young_man = resident(DateOfBirth::Full(date(1990, 5, 1)), "M");
        let got = outcomes(&young_man, today);
        assert_eq!(of(&got, "adult"), Outcome::Fail);
        assert_eq!(of(&got, "not_too_old"), Outcome::Pass);
        assert_eq!(of(&got, "women"), Outcome::Fail);
        assert_eq!(of(&got, "alive"), Outcome::Pass);
        assert_eq!(
            of(&got, "paid"),
            Outcome::NotChecked,
            "amounts are not registry data"
        );
        assert_eq!(
            of(&got, "recent"),
            Outcome::NotChecked,
            "a date column other than the birth date"
        );
        let mut widow = resident(DateOfBirth::Full(date(1960, 2, 28)), "F");
        widow.life_status = LifeStatus::Deceased;
        let got = outcomes(&widow, today);
        assert_eq!(of(&got, "adult"), Outcome::Pass, "66");
        assert_eq!(of(&got, "women"), Outcome::Pass);
        assert_eq!(of(&got, "alive"), Outcome::Fail);
        let spec = DataSpec::from_toml(SPEC).expect("spec");
        let failing = eligibility_on_resident(&spec, &widow, today)
            .into_iter()
            .find(|o| o.outcome == Outcome::Fail)
            .expect("one fails");
        assert_eq!(
            failing.message, "living beneficiaries",
            "the author's words"
        );
    }

    #[test]
    fn an_imprecise_birth_fails_a_rule_only_when_every_reading_fails() {
        let today = date(2026, 3, 1);
        // Born some day of 1966: 59 or 60 today.
        let got = outcomes(&resident(DateOfBirth::Year(1966), "F"), today);
        assert_eq!(of(&got, "adult"), Outcome::NotChecked);
        let got = outcomes(&resident(DateOfBirth::Year(1967), "F"), today);
        assert_eq!(of(&got, "adult"), Outcome::Fail, "58 or 59");
        let got = outcomes(&resident(DateOfBirth::Year(1965), "F"), today);
        assert_eq!(of(&got, "adult"), Outcome::Pass, "60 or 61");
        let declared = DateOfBirth::DeclaredAge {
            age: 80,
            as_of: date(2025, 6, 1),
        };
        let got = outcomes(&resident(declared, "F"), today);
        assert_eq!(of(&got, "not_too_old"), Outcome::NotChecked, "80 or 81");
        let declared = DateOfBirth::DeclaredAge {
            age: 85,
            as_of: date(2025, 6, 1),
        };
        let got = outcomes(&resident(declared, "F"), today);
        assert_eq!(of(&got, "not_too_old"), Outcome::Fail);
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        for p in [
            Position::Duplicates(None),
            Position::Duplicates(Some("0190-abc".into())),
            Position::Households(Some(RationCardNumber::parse("PY0000000001").expect("card"))),
            Position::Exclusive(Some("r".into())),
            Position::Records(Some("OAP:1/2".into())),
        ] {
            let token = p.token().expect("token");
            assert_eq!(Position::from_token(&token).expect("parses"), p);
        }
        assert_eq!(Position::Done.token(), None);
        for junk in [
            "",
            "%%%",
            &URL_SAFE_NO_PAD.encode("q:1"),
            &URL_SAFE_NO_PAD.encode("x"),
        ] {
            assert!(Position::from_token(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn kinds_have_stable_codes() {
        let codes: Vec<&str> = ConflictKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(
            codes,
            [
                "duplicate_in_scheme",
                "household_limit",
                "mutually_exclusive",
                "ineligible",
                "deceased"
            ]
        );
        for k in ConflictKind::ALL {
            assert_eq!(
                serde_json::to_value(k).expect("json"),
                serde_json::Value::from(k.code())
            );
        }
    }
}
