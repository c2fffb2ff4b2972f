//! What the hub's upload tests share: a hub on a test backend with its clock set, nodal
//! officers, an upload of CSV text through the hub's services with its refused rows kept, and
//! the counts and ID numbers the tests compare.

#![allow(dead_code, reason = "each test file uses its own share of the helpers")]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use sangam_domain::IdNumber;
use sangam_hub::Hub;
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::ManualClock;
use sangam_hub::uploads::{RejectionSink, UploadMode, UploadOutcome, UploadRequest};
use sangam_ingest::report::RejectedRow;
use sangam_store::{Role, UploadCounts, User};
use sangam_testkit::TestBackend;

/// Every test user's password.
pub const PASSWORD: &str = "correct horse battery staple";

/// A valid ID number made from eleven digits.
pub fn id(first11: &str) -> String {
    IdNumber::from_eleven_digits(first11)
        .unwrap()
        .expose_digits()
        .to_owned()
}

/// A fresh hub on `backend`, its clock at 1 November 2026, 09:00 UTC, with a nodal officer
/// for each (username, organisation) of `officers`, returned in that order.
pub async fn hub_with_officers(
    backend: &TestBackend,
    officers: &[(&str, &str)],
) -> (Hub, Vec<User>) {
    let (hub, users, _) = hub_with_officers_and_clock(backend, officers).await;
    (hub, users)
}

/// [`hub_with_officers`], with the hub's clock, for tests that move time on.
pub async fn hub_with_officers_and_clock(
    backend: &TestBackend,
    officers: &[(&str, &str)],
) -> (Hub, Vec<User>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
    ));
    let key = sangam_vault::MasterKey::generate();
    let hub = open_hub(&backend.location, &key, clock.clone())
        .await
        .unwrap();
    let mut users = Vec::new();
    for (name, organisation) in officers {
        hub.save_user(
            name,
            PASSWORD,
            Role::NodalOfficer,
            Some(organisation),
            "test",
        )
        .await
        .unwrap();
        users.push(hub.store().user(name).await.unwrap().unwrap());
    }
    (hub, users, clock)
}

/// Rejected rows as the uploader gets them.
#[derive(Default)]
pub struct Refused(pub Vec<RejectedRow>);

impl RejectionSink for Refused {
    fn reject(&mut self, row: RejectedRow) -> sangam_hub::HubResult<()> {
        self.0.push(row);
        Ok(())
    }
}

impl Refused {
    /// Line → the codes of its problems.
    pub fn codes(&self) -> BTreeMap<u64, String> {
        self.0
            .iter()
            .map(|r| {
                let codes: Vec<&str> = r.errors.iter().map(|e| e.code.as_str()).collect();
                (r.line, codes.join(" "))
            })
            .collect()
    }

    /// The first problem's message on `line`, empty if the line was not refused.
    pub fn message(&self, line: u64) -> String {
        self.0
            .iter()
            .find(|r| r.line == line)
            .map(|r| r.errors[0].message.clone())
            .unwrap_or_default()
    }
}

/// Uploads `csv` (named `name`, which is also its idempotency key) to `dataset` as the user
/// `by`; the outcome and the refused rows.
pub async fn upload_csv(
    hub: &Hub,
    dataset: &str,
    mode: UploadMode,
    by: &str,
    name: &str,
    csv: &str,
) -> (UploadOutcome, Refused) {
    let (_, source) =
        sangam_ingest::read::open_reader(Some(name), std::io::Cursor::new(csv.as_bytes().to_vec()))
            .unwrap();
    let mut refused = Refused::default();
    let outcome = hub
        .run_upload(
            UploadRequest {
                dataset: dataset.into(),
                mode,
                organisation: None,
                uploaded_by: by.into(),
                file_name: name.into(),
                file_sha256: format!("{name}-{}", csv.len()),
                idempotency_key: name.into(),
                corrects: None,
                confirm_removals: false,
            },
            source,
            &mut refused,
            &|_| {},
        )
        .await
        .unwrap();
    (outcome, refused)
}

/// rows, accepted, added, modified, unchanged, deleted, rejected
pub fn counts(c: &UploadCounts) -> [u64; 7] {
    [
        c.rows,
        c.accepted,
        c.added,
        c.modified,
        c.unchanged,
        c.deleted,
        c.rejected,
    ]
}
