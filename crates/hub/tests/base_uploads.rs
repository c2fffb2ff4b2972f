//! Incremental uploads of the base registry through the hub's services, on every backend: a
//! full load, then a month's changes (members added to a new card and to an existing one,
//! members changed found by ID number, by name and date of birth and by reference key, one
//! row that changes nothing, members leaving as deceased and by default as migrated, and bad
//! rows of every kind), checked in the counts, the registry, its history, the rejection
//! report and the mapping; members given their first ID number by a changes file; and a
//! changes file that breaks off midway leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::BTreeMap;

use sangam_domain::{IdNumber, LifeStatus, RationCardNumber};
use sangam_hub::Hub;
use sangam_hub::uploads::reports::{DiscardRejections, ReportFormat};
use sangam_hub::uploads::{UploadMode, UploadOutcome, UploadRequest};
use sangam_ingest::read::{ReadError, RecordSource};
use sangam_ingest::{RawRecord, RecordError};
use sangam_store::{EntityKind, HistoryEntry, Resident, User};
use sangam_testkit::{TestBackend, backends};

use common::{counts, hub_with_officers, id, upload_csv};

const OFFICER: &str = "cs-officer";

/// A hub on `backend` with Civil Supplies' nodal officer, and that officer.
async fn officer_hub(backend: &TestBackend) -> (Hub, User) {
    let (hub, mut officers) = hub_with_officers(backend, &[(OFFICER, "civil-supplies")]).await;
    (hub, officers.pop().unwrap())
}

/// Uploads `csv` to the base registry as the officer.
async fn upload(hub: &Hub, mode: UploadMode, name: &str, csv: &str) -> UploadOutcome {
    upload_csv(hub, "base", mode, OFFICER, name, csv).await.0
}

async fn members(hub: &Hub, card: &str) -> BTreeMap<String, Resident> {
    hub.household(&RationCardNumber::parse(card).unwrap())
        .await
        .unwrap()
        .members
        .into_iter()
        .map(|m| (m.name.as_str().to_owned(), m))
        .collect()
}

/// The `i`th of a run of distinct names made of letters only: "Person Aaaa", "Person Aaab", ...
fn person_name(i: usize) -> String {
    let letter = |n: usize| char::from(b'a' + u8::try_from(n % 26).unwrap());
    format!("Person A{}{}{}", letter(i / 676), letter(i / 26), letter(i))
}

/// The rejection report of `loaded`, as the officer downloads it in CSV.
async fn rejections_csv(hub: &Hub, loaded: &UploadOutcome, officer: &User) -> String {
    let report = hub
        .rejection_report(&loaded.upload().id, ReportFormat::Csv, officer)
        .await
        .unwrap();
    String::from_utf8(report).unwrap()
}

/// A file whose reading breaks off after its rows (a lost connection, a damaged disk).
struct BreaksOff {
    header: Vec<String>,
    rows: std::vec::IntoIter<RawRecord>,
    stopped: Option<ReadError>,
}

impl Iterator for BreaksOff {
    type Item = Result<RawRecord, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.rows.next() {
            return Some(Ok(row));
        }
        if self.stopped.is_some() {
            return None;
        }
        self.stopped = Some(ReadError::Io("the connection was reset".into()));
        Some(Err(RecordError::Malformed {
            line: 3,
            message: "reading stopped".into(),
        }))
    }
}

impl RecordSource for BreaksOff {
    fn header(&self) -> &[String] {
        &self.header
    }

    fn stopped(&self) -> Option<&ReadError> {
        self.stopped.as_ref()
    }
}

fn changes(history: &[HistoryEntry]) -> Vec<(&str, Option<&str>, Option<&str>)> {
    history
        .iter()
        .map(|h| {
            (
                h.field.as_str(),
                h.old_value.as_deref(),
                h.new_value.as_deref(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_changes_reaches_the_registry_with_its_history() {
    for backend in backends("a_month_of_changes_reaches_the_registry_with_its_history").await {
        let (hub, officer) = officer_hub(&backend).await;
        let (ravi_id, arun_id, lakshmi_id, selvam_id) = (
            id("23456789012"),
            id("34567890123"),
            id("45678901234"),
            id("56789012345"),
        );

        // ---- the first-time load, one row per member.
        let full = format!(
            "ration_card_no,card_type,house_no,village_code,member_name,relative_name,gender,dob,relationship,aadhaar,mobile,life_status\n\
             PYA0000001,PHH,12,640001,Ravi Kumar,,M,1970-01-01,HEAD,{ravi_id},,alive\n\
             PYA0000001,PHH,12,640001,Meena Ravi,Ravi Kumar,F,1975-05-05,SPOUSE,,,alive\n\
             PYA0000001,PHH,12,640001,Arun Ravi,Ravi Kumar,M,2000-02-02,SON,{arun_id},,alive\n\
             PYA0000002,AAY,7,640002,Lakshmi,,F,1950,HEAD,{lakshmi_id},,alive\n\
             PYA0000002,AAY,7,640002,Kannan,,M,1980,SON,,,alive\n"
        );
        let loaded = upload(&hub, UploadMode::Full, "full.csv", &full).await;
        assert_eq!(counts(&loaded.upload().counts), [5, 5, 5, 0, 0, 0, 0]);
        let before_1 = members(&hub, "PYA0000001").await;
        let before_2 = members(&hub, "PYA0000002").await;

        // ---- the month's changes.
        let changes_csv = format!(
            "operation,ration_card_no,card_type,village_code,member_name,relative_name,gender,dob,relationship,aadhaar,mobile,life_status\n\
             A,PYA0000003,PHH,640003,Selvam,,M,1985-03-03,HEAD,{selvam_id},,\n\
             add,PYA0000003,PHH,640003,Priya,Selvam,F,1990-04-04,SPOUSE,,,\n\
             A,PYA0000001,PHH,640001,Divya,Ravi Kumar,F,2020-06-06,DAUGHTER,,,\n\
             M,PYA0000001,PHH,640001,Ravi Kumar,,M,1970-01-01,HEAD,{ravi_id},9876543210,\n\
             modify,PYA0000002,AAY,640002,KANNAN,Lakshmi,M,1980,SON,,,\n\
             M,PYA0000001,PHH,640001,Meena Ravi,Ravi Kumar,F,1975-05-05,SPOUSE,,,\n\
             D,PYA0000002,,,,,,,,{lakshmi_id},,deceased\n\
             delete,PYA0000001,,,Arun Ravi,,,2000-02-02,,,,\n\
             M,PYA0000002,AAY,640002,Nobody,,M,1999,SON,,,\n\
             A,PYA0000001,PHH,640001,Meena Ravi,,F,1975-05-05,SPOUSE,,,\n\
             A,PYA0000004,PHH,640004,Someone,,M,1960,HEAD,{arun_id},,\n\
             X,PYA0000001,PHH,640001,Ravi Kumar,,M,1970-01-01,HEAD,,,\n\
             A,PYA0000002,PHH,640002,Kavya,,F,2010,DAUGHTER,,,\n\
             M,PYA0000003,PHH,640003,Selvam,,M,1985-03-03,HEAD,{selvam_id},,\n"
        );
        let changed = upload(&hub, UploadMode::Incremental, "changes.csv", &changes_csv).await;
        let changed = changed.upload();
        // rows, accepted, added, modified, unchanged, deleted, rejected
        assert_eq!(
            counts(&changed.counts),
            [14, 8, 3, 2, 1, 2, 6],
            "{changed:?}"
        );
        let reason = format!("upload {}", changed.id);

        // A new card with its two members, the first its head.
        let card_3 = hub
            .household(&RationCardNumber::parse("PYA0000003").unwrap())
            .await
            .unwrap();
        assert_eq!(card_3.household.card_type.code(), "PHH");
        assert_eq!(card_3.members.len(), 2);
        let selvam = card_3
            .members
            .iter()
            .find(|m| m.name.as_str() == "Selvam")
            .unwrap();
        assert_eq!(
            card_3.household.head_resident_id.as_deref(),
            Some(selvam.resident_id.as_str())
        );
        assert!(
            selvam.id_ref_key.is_some(),
            "its ID number went to the vault"
        );
        let found = hub
            .resident_by_id_number(&IdNumber::parse(&selvam_id).unwrap())
            .await
            .unwrap();
        assert_eq!(found.resident_id, selvam.resident_id);

        // The existing card: one member more, the head's mobile, the son gone.
        let after_1 = members(&hub, "PYA0000001").await;
        assert_eq!(
            after_1.keys().map(String::as_str).collect::<Vec<_>>(),
            ["Arun Ravi", "Divya", "Meena Ravi", "Ravi Kumar"],
            "the member who left is kept"
        );
        let ravi = &after_1["Ravi Kumar"];
        assert_eq!(ravi.mobile_masked.as_deref(), Some("XXXXXX3210"));
        assert_eq!(ravi.version, 2);
        assert_eq!(ravi.id_ref_key, before_1["Ravi Kumar"].id_ref_key);
        let ravi_history = hub.resident_history(&ravi.resident_id).await.unwrap();
        assert_eq!(
            changes(&ravi_history),
            [("mobile", None, Some("XXXXXX3210"))]
        );
        assert!(
            ravi_history
                .iter()
                .all(|h| h.actor == OFFICER && h.reason.as_deref() == Some(reason.as_str()))
        );
        assert_eq!(after_1["Meena Ravi"], before_1["Meena Ravi"], "unchanged");
        assert!(
            hub.resident_history(&after_1["Meena Ravi"].resident_id)
                .await
                .unwrap()
                .is_empty()
        );
        let arun = &after_1["Arun Ravi"];
        assert_eq!(arun.life_status, LifeStatus::Migrated, "leaving by default");
        assert_eq!(
            arun.id_ref_key, before_1["Arun Ravi"].id_ref_key,
            "the reference key stays with the resident"
        );
        assert_eq!(
            changes(&hub.resident_history(&arun.resident_id).await.unwrap()),
            [("life_status", Some("alive"), Some("migrated"))]
        );

        // The other card: a son found by name and date of birth, the head deceased.
        let after_2 = members(&hub, "PYA0000002").await;
        let kannan = &after_2["KANNAN"];
        assert_eq!(kannan.resident_id, before_2["Kannan"].resident_id);
        assert_eq!(
            kannan.relative_name.as_ref().map(|n| n.as_str()),
            Some("Lakshmi")
        );
        assert_eq!(
            changes(&hub.resident_history(&kannan.resident_id).await.unwrap()),
            [
                ("name", Some("Kannan"), Some("KANNAN")),
                ("relative_name", None, Some("Lakshmi"))
            ]
        );
        let lakshmi = &after_2["Lakshmi"];
        assert_eq!(lakshmi.life_status, LifeStatus::Deceased);
        let lakshmi_history = hub.resident_history(&lakshmi.resident_id).await.unwrap();
        assert_eq!(
            changes(&lakshmi_history),
            [("life_status", Some("alive"), Some("deceased"))]
        );
        assert_eq!(lakshmi_history[0].actor, OFFICER);
        assert_eq!(after_2.len(), 2, "no member was added to a card refused");
        let card_4 = hub
            .household(&RationCardNumber::parse("PYA0000004").unwrap())
            .await;
        assert!(card_4.is_err(), "a refused row creates no card");

        // Every refused row with its reason, in the report with the file's own header.
        let report = hub
            .rejection_report(&changed.id, ReportFormat::Csv, &officer)
            .await
            .unwrap();
        let report = String::from_utf8(report).unwrap();
        let report = report.trim_start_matches('\u{feff}');
        assert!(
            report.starts_with("operation,ration_card_no,card_type,"),
            "{report}"
        );
        let mut reader = csv::Reader::from_reader(report.as_bytes());
        let header = reader.headers().unwrap().clone();
        let line_at = header.iter().position(|h| h == "line").unwrap();
        let codes_at = header.iter().position(|h| h == "error_codes").unwrap();
        let messages_at = header.iter().position(|h| h == "error_messages").unwrap();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let refused: BTreeMap<u64, String> = records
            .iter()
            .map(|r| (r[line_at].parse().unwrap(), r[codes_at].to_owned()))
            .collect();
        for r in &records {
            for number in [&ravi_id, &arun_id, &lakshmi_id, &selvam_id] {
                assert!(
                    !r[messages_at].contains(number.as_str()),
                    "no ID number in a message: {}",
                    &r[messages_at]
                );
            }
        }
        let expected: BTreeMap<u64, String> = [
            (10, "member.not_found"),
            (11, "member.already_on_card"),
            (12, "id_number.already_registered"),
            (13, "operation.unknown"),
            (14, "card.mismatch"),
            (15, "row.duplicate_in_file"),
        ]
        .into_iter()
        .map(|(line, code)| (line, code.to_owned()))
        .collect();
        assert_eq!(refused, expected, "{report}");

        // One mapping entry per accepted row, with its outcome.
        let mapping = hub.upload_mapping(&changed.id, &officer).await.unwrap();
        let outcomes: Vec<(&str, &str)> = mapping
            .iter()
            .map(|m| (m.record_key.as_str(), m.outcome.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("PYA0000003", "added"),
                ("PYA0000003", "added"),
                ("PYA0000001", "added"),
                ("PYA0000001", "modified"),
                ("PYA0000002", "modified"),
                ("PYA0000001", "unchanged"),
                ("PYA0000002", "deleted"),
                ("PYA0000001", "deleted"),
            ]
        );
        assert_eq!(mapping[0].ref_key, selvam.id_ref_key);
        assert!(
            mapping[0]
                .id_masked
                .as_deref()
                .unwrap()
                .ends_with(&selvam_id[8..])
        );
        assert_eq!(mapping[1].ref_key, None, "added without an ID number");
        assert_eq!(mapping[6].ref_key, lakshmi.id_ref_key);
        assert_eq!(
            mapping[6].resident_id.as_deref(),
            Some(lakshmi.resident_id.as_str())
        );

        // ---- a members file of changes: found by reference key, and a card it cannot join.
        let lakshmi_key = lakshmi.id_ref_key.clone().unwrap();
        let members_csv = format!(
            "operation,ration_card_no,ref_key,member_name,gender,dob,relationship,life_status\n\
             M,PYA0000002,{lakshmi_key},Lakshmi,F,1950,HEAD,alive\n\
             A,PYA0000099,,Stranger,M,1990,HEAD,\n"
        );
        let second = upload(&hub, UploadMode::Incremental, "members.csv", &members_csv).await;
        assert_eq!(
            counts(&second.upload().counts),
            [2, 1, 0, 1, 0, 0, 1],
            "{second:?}"
        );
        let lakshmi_now = hub.resident(&lakshmi.resident_id).await.unwrap();
        assert_eq!(lakshmi_now.life_status, LifeStatus::Alive, "a correction");
        let report = hub
            .rejection_report(&second.upload().id, ReportFormat::Csv, &officer)
            .await
            .unwrap();
        assert!(
            String::from_utf8(report).unwrap().contains("card.unknown"),
            "a members file does not create cards"
        );

        // ---- an incremental cards file: a card changed (with its history) and one added;
        // a card is not deleted on its own, nor added twice, nor changed unknown.
        let cards_csv = "operation,ration_card_no,card_type,house_no,village_code\n\
                         M,PYA0000002,PHH,7A,640002\n\
                         A,PYA0000005,NPHH,1,640005\n\
                         D,PYA0000001,,,\n\
                         A,PYA0000001,PHH,12,640001\n\
                         M,PYA0000077,PHH,3,640007\n\
                         M,PYA0000003,PHH,,640003\n";
        let cards = upload(&hub, UploadMode::Incremental, "cards.csv", cards_csv).await;
        // rows, accepted, added, modified, unchanged, deleted, rejected
        assert_eq!(
            counts(&cards.upload().counts),
            [6, 3, 1, 1, 1, 0, 3],
            "{cards:?}"
        );
        let card_2 = hub
            .household(&RationCardNumber::parse("PYA0000002").unwrap())
            .await
            .unwrap()
            .household;
        assert_eq!(
            (card_2.card_type.code(), card_2.address.house_no.as_deref()),
            ("PHH", Some("7A"))
        );
        let history = hub
            .store()
            .history(EntityKind::Household, "PYA0000002")
            .await
            .unwrap();
        assert_eq!(
            changes(&history),
            [
                ("card_type", Some("AAY"), Some("PHH")),
                ("house_no", Some("7"), Some("7A"))
            ]
        );
        assert!(history.iter().all(
            |h| h.actor == OFFICER && h.reason == Some(format!("upload {}", cards.upload().id))
        ));
        assert!(
            hub.household(&RationCardNumber::parse("PYA0000005").unwrap())
                .await
                .unwrap()
                .members
                .is_empty(),
            "a card waits for its members"
        );
        let report = hub
            .rejection_report(&cards.upload().id, ReportFormat::Csv, &officer)
            .await
            .unwrap();
        let report = String::from_utf8(report).unwrap();
        for code in ["operation.unsupported", "card.exists", "card.unknown"] {
            assert!(report.contains(code), "{code}: {report}");
        }

        // ---- a changes file that breaks off midway: nothing of it is kept.
        let header = [
            "operation",
            "ration_card_no",
            "member_name",
            "dob",
            "life_status",
        ];
        let source = BreaksOff {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: vec![RawRecord {
                line: 2,
                fields: ["D", "PYA0000003", "Priya", "1990-04-04", "deceased"]
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
            }]
            .into_iter(),
            stopped: None,
        };
        let failed = hub
            .run_upload(
                UploadRequest {
                    dataset: "base".into(),
                    mode: UploadMode::Incremental,
                    organisation: None,
                    uploaded_by: OFFICER.into(),
                    file_name: "broken.csv".into(),
                    file_sha256: "broken".into(),
                    idempotency_key: "broken".into(),
                    corrects: None,
                    confirm_removals: false,
                },
                Box::new(source),
                &mut DiscardRejections,
                &|_| {},
            )
            .await;
        assert!(failed.is_err(), "{failed:?}");
        let priya = members(&hub, "PYA0000003").await["Priya"].clone();
        assert_eq!(priya.life_status, LifeStatus::Alive);
        assert!(
            hub.resident_history(&priya.resident_id)
                .await
                .unwrap()
                .is_empty()
        );
        // Its relink, queued before the load began, finds the upload failed and does
        // nothing.
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert!(
            runs.iter()
                .any(|r| r.kind == "registry.relink_after_upload" && r.outcome == "done"),
            "{runs:?}"
        );
        assert!(runs.iter().all(|r| r.kind != "enrolments.link"), "{runs:?}");

        drop(hub);
        backend.cleanup().await;
    }
}

/// A first-time load defers the unique indexes of the vault and of the residents' reference
/// keys to its commit. An ID number sent again in a later chunk must still be found and
/// refused, with the first person kept, and the indexes must stand after the commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_refuses_an_id_number_repeated_in_a_later_chunk() {
    for backend in backends("a_first_load_refuses_an_id_number_repeated_in_a_later_chunk").await {
        let (hub, officer) = officer_hub(&backend).await;
        // One head per card, each with an ID number of its own, past the first chunk
        // (sangam_hub::uploads::CHUNK_ROWS rows); then the first person's number again, on
        // another card under another name.
        let rows = sangam_hub::uploads::CHUNK_ROWS + 10;
        let mut csv = String::from(
            "ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n",
        );
        // Names are letters only: "Person Aaa", "Person Aab", ...
        for i in 0..rows {
            let number = id(&format!("{}", 23_000_000_000_u64 + i as u64));
            csv.push_str(&format!(
                "PYB{i:07},PHH,640001,{},M,1970,HEAD,{number}\n",
                person_name(i)
            ));
        }
        let repeated = id("23000000000");
        csv.push_str(&format!(
            "PYC0000001,PHH,640001,Someone Else,F,1980,HEAD,{repeated}\n"
        ));
        let loaded = upload(&hub, UploadMode::Full, "first.csv", &csv).await;
        let n = rows as u64;
        assert_eq!(
            counts(&loaded.upload().counts),
            [n + 1, n, n, 0, 0, 0, 1],
            "{loaded:?}"
        );
        let report = rejections_csv(&hub, &loaded, &officer).await;
        assert!(report.contains("id_number.already_registered"), "{report}");
        assert!(report.contains("Someone Else"), "{report}");
        assert!(!report.contains("Person Aaaa"), "{report}");

        // The number belongs to the first person, and lookups by number and by reference key
        // (through the indexes built at the commit) find them.
        let first = hub
            .resident_by_id_number(&IdNumber::parse(&repeated).unwrap())
            .await
            .unwrap();
        assert_eq!(first.name.as_str(), "Person Aaaa");
        let by_key = hub
            .resident_by_ref_key(first.id_ref_key.as_ref().unwrap())
            .await
            .unwrap();
        assert_eq!(by_key.resident_id, first.resident_id);
        let refused_card = RationCardNumber::parse("PYC0000001").unwrap();
        assert!(
            hub.household(&refused_card).await.is_err(),
            "the refused row's card was not created"
        );
        backend.cleanup().await;
    }
}

/// The members of one card may be anywhere in a first-load file: a card whose members
/// straddle the end of a chunk, and one whose members are in the first and the third chunk,
/// are each created once, with all their members and their head; the head's ID number again on
/// the next row, the first of a chunk written after it, is refused as already registered. (The
/// hub admits a chunk before the one before it is written, and tells it what that one adds.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_load_creates_a_card_whose_members_span_chunks_once() {
    for backend in backends("a_first_load_creates_a_card_whose_members_span_chunks_once").await {
        let (hub, officer) = officer_hub(&backend).await;
        let chunk = sangam_hub::uploads::CHUNK_ROWS;
        let mut csv = String::from(
            "ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n",
        );
        let mut line = |card: &str, who: &str, relationship: &str, number: usize| {
            let number = id(&format!("{}", 24_000_000_000_u64 + number as u64));
            csv.push_str(&format!(
                "{card},PHH,640001,{who},M,1970,{relationship},{number}\n"
            ));
        };
        // Rows 1 to 3 chunks and a bit, one card each, but for:
        // - PYS0000001: its head on the last row of the first chunk, a son on the first row
        //   of the second, and the head's ID number again on the second row of the second;
        // - PYS0000002: its head on the first row of the file, a daughter in the third chunk.
        let rows = 2 * chunk + 10;
        for i in 0..rows {
            match i {
                0 => line("PYS0000002", "Far Head", "HEAD", i),
                i if i == chunk - 1 => line("PYS0000001", "Near Head", "HEAD", i),
                i if i == chunk => line("PYS0000001", "Near Son", "SON", i),
                i if i == chunk + 1 => line("PYS0000001", "Near Again", "SON", chunk - 1),
                i if i == 2 * chunk + 5 => line("PYS0000002", "Far Daughter", "DAUGHTER", i),
                _ => line(&format!("PYB{i:07}"), &person_name(i), "HEAD", i),
            }
        }
        let loaded = upload(&hub, UploadMode::Full, "spanning.csv", &csv).await;
        let n = rows as u64;
        assert_eq!(
            counts(&loaded.upload().counts),
            [n, n - 1, n - 1, 0, 0, 0, 1],
            "{loaded:?}"
        );
        let report = rejections_csv(&hub, &loaded, &officer).await;
        assert!(report.contains("id_number.already_registered"), "{report}");
        assert!(report.contains("Near Again"), "{report}");
        for (card, expected) in [
            ("PYS0000001", ["Near Head", "Near Son"]),
            ("PYS0000002", ["Far Daughter", "Far Head"]),
        ] {
            let household = hub
                .household(&RationCardNumber::parse(card).unwrap())
                .await
                .unwrap();
            let names: Vec<&str> = household.members.iter().map(|m| m.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, expected, "{card}");
            let head = household
                .members
                .iter()
                .find(|m| m.name.as_str().ends_with("Head"))
                .unwrap();
            assert_eq!(
                household.household.head_resident_id.as_deref(),
                Some(head.resident_id.as_str()),
                "{card}"
            );
        }
        backend.cleanup().await;
    }
}

/// Aadhaar seeding: the month's file brings the ID numbers of members registered without one.
/// Each goes to the vault and the member holds its reference key; a member holding another
/// number, a number given to two members, one held on another card, and a delete row whose
/// number is no one's are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_upload_gives_members_their_first_id_number() {
    for backend in backends("an_incremental_upload_gives_members_their_first_id_number").await {
        let (hub, officer) = officer_hub(&backend).await;
        let (ravi_id, meena_id, arun_id, kannan_id, other_id) = (
            id("23456789012"),
            id("34567890123"),
            id("45678901234"),
            id("56789012345"),
            id("67890123456"),
        );
        let full = format!(
            "ration_card_no,card_type,village_code,member_name,relative_name,gender,dob,relationship,aadhaar\n\
             PYB0000001,PHH,640001,Ravi Kumar,,M,1970-01-01,HEAD,{ravi_id}\n\
             PYB0000001,PHH,640001,Meena Ravi,Ravi Kumar,F,1975-05-05,SPOUSE,\n\
             PYB0000001,PHH,640001,Arun Ravi,Ravi Kumar,M,2000-02-02,SON,\n\
             PYB0000002,AAY,640002,Lakshmi,,F,1950,HEAD,\n\
             PYB0000002,AAY,640002,Kannan,,M,1980,SON,\n"
        );
        let loaded = upload(&hub, UploadMode::Full, "full.csv", &full).await;
        assert_eq!(counts(&loaded.upload().counts), [5, 5, 5, 0, 0, 0, 0]);

        let seeding = format!(
            "operation,ration_card_no,member_name,relative_name,gender,dob,relationship,aadhaar\n\
             M,PYB0000001,Meena Ravi,Ravi Kumar,F,1975-05-05,SPOUSE,{meena_id}\n\
             M,PYB0000001,Ravi Kumar,,M,1970-01-01,HEAD,{other_id}\n\
             M,PYB0000001,Arun Ravi,Ravi Kumar,M,2000-02-02,SON,{meena_id}\n\
             M,PYB0000002,Lakshmi,,F,1950,HEAD,{ravi_id}\n\
             D,PYB0000002,Kannan,,M,1980,SON,{kannan_id}\n\
             M,PYB0000002,Nobody,,M,1999,SON,{arun_id}\n\
             M,PYB0000002,KANNAN,Lakshmi,M,1980,SON,{kannan_id}\n"
        );
        let (outcome, refused) = upload_csv(
            &hub,
            "base",
            UploadMode::Incremental,
            OFFICER,
            "seeding.csv",
            &seeding,
        )
        .await;
        let seeded = outcome.upload();
        // rows, accepted, added, modified, unchanged, deleted, rejected
        assert_eq!(counts(&seeded.counts), [7, 2, 0, 2, 0, 0, 5], "{seeded:?}");
        assert_eq!(
            refused.codes(),
            BTreeMap::from([
                (3, "id_number.mismatch".to_owned()),
                (4, "row.duplicate_in_file".to_owned()),
                (5, "member.other_card".to_owned()),
                (6, "member.not_found".to_owned()),
                (7, "member.not_found".to_owned()),
            ])
        );
        assert!(
            refused.message(4).contains("line 2"),
            "{}",
            refused.message(4)
        );
        assert!(
            refused
                .message(7)
                .contains("nor this name and date of birth"),
            "{}",
            refused.message(7)
        );
        for line in 3..=7 {
            for number in [&ravi_id, &meena_id, &arun_id, &kannan_id, &other_id] {
                assert!(!refused.message(line).contains(number.as_str()));
            }
        }

        // Meena and Kannan hold their numbers' reference keys; the history says so, masked.
        let card_1 = members(&hub, "PYB0000001").await;
        let meena = &card_1["Meena Ravi"];
        let meena_key = meena
            .id_ref_key
            .clone()
            .expect("Meena's number is in the vault");
        assert_eq!(meena.version, 2);
        let found = hub
            .resident_by_id_number(&IdNumber::parse(&meena_id).unwrap())
            .await
            .unwrap();
        assert_eq!(found.resident_id, meena.resident_id);
        let masked = IdNumber::parse(&meena_id).unwrap().masked();
        assert_eq!(
            changes(&hub.resident_history(&meena.resident_id).await.unwrap()),
            [("id_number", None, Some(masked.as_str()))]
        );
        assert_eq!(
            card_1["Arun Ravi"].id_ref_key, None,
            "refused as a duplicate"
        );
        let ravi = &card_1["Ravi Kumar"];
        assert_eq!(ravi.version, 1, "refused: his number is not overwritten");
        let kannan = &members(&hub, "PYB0000002").await["KANNAN"];
        assert!(kannan.id_ref_key.is_some());
        assert_ne!(kannan.id_ref_key, Some(meena_key.clone()));
        assert_eq!(
            members(&hub, "PYB0000002").await["Lakshmi"].id_ref_key,
            None
        );

        // The mapping hands the department the new reference keys.
        let mapping = hub.upload_mapping(&seeded.id, &officer).await.unwrap();
        assert_eq!(mapping.len(), 2);
        assert_eq!(mapping[0].ref_key, Some(meena_key.clone()));
        assert_eq!(mapping[0].id_masked.as_deref(), Some(masked.as_str()));
        assert_eq!(mapping[0].outcome, "modified");
        assert_eq!(mapping[1].ref_key, kannan.id_ref_key);

        // From now on the number finds her, and a second number for her is refused.
        let next = format!(
            "operation,ration_card_no,member_name,relative_name,gender,dob,relationship,aadhaar,mobile\n\
             M,PYB0000001,Meena Ravi,Ravi Kumar,F,1975-05-05,SPOUSE,{meena_id},9876501234\n"
        );
        let outcome = upload(&hub, UploadMode::Incremental, "next.csv", &next).await;
        assert_eq!(counts(&outcome.upload().counts), [1, 1, 0, 1, 0, 0, 0]);
        let again = format!(
            "operation,ration_card_no,member_name,relative_name,gender,dob,relationship,aadhaar\n\
             M,PYB0000001,Meena Ravi,Ravi Kumar,F,1975-05-05,SPOUSE,{other_id}\n"
        );
        let (outcome, refused) = upload_csv(
            &hub,
            "base",
            UploadMode::Incremental,
            OFFICER,
            "again.csv",
            &again,
        )
        .await;
        assert_eq!(counts(&outcome.upload().counts), [1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            refused.codes(),
            BTreeMap::from([(2, "id_number.mismatch".to_owned())])
        );
        let meena = &members(&hub, "PYB0000001").await["Meena Ravi"];
        assert_eq!(meena.id_ref_key, Some(meena_key));
        assert_eq!(meena.mobile_masked.as_deref(), Some("XXXXXX1234"));
        backend.cleanup().await;
    }
}

/// A member moves to another card (a marriage): a modify row with their ID number on the card
/// they join. They stay the same resident, with their reference key; the card they leave
/// loses its head if they were; the history records it. A card not in the registry, a delete
/// on another card, and an add of a number someone holds are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modify_row_moves_a_member_to_another_card() {
    for backend in backends("a_modify_row_moves_a_member_to_another_card").await {
        let (hub, _officer) = officer_hub(&backend).await;
        let (ravi_id, meena_id, suresh_id, arun_id) = (
            id("23456789012"),
            id("34567890123"),
            id("45678901234"),
            id("56789012345"),
        );
        let full = format!(
            "ration_card_no,card_type,village_code,member_name,relative_name,gender,dob,relationship,aadhaar\n\
             PYM0000001,PHH,640001,Ravi Kumar,,M,1960-01-01,HEAD,{ravi_id}\n\
             PYM0000001,PHH,640001,Meena Ravi,Ravi Kumar,F,1998-05-05,DAUGHTER,{meena_id}\n\
             PYM0000001,PHH,640001,Arun Ravi,Ravi Kumar,M,2000-02-02,SON,{arun_id}\n\
             PYM0000002,PHH,640002,Suresh,,M,1995-03-03,HEAD,{suresh_id}\n"
        );
        let loaded = upload(&hub, UploadMode::Full, "full.csv", &full).await;
        assert_eq!(loaded.upload().counts.accepted, 4);
        let before = members(&hub, "PYM0000001").await;
        let meena_before = before["Meena Ravi"].clone();
        let ravi_before = before["Ravi Kumar"].clone();

        let moves = format!(
            "operation,ration_card_no,member_name,relative_name,gender,dob,relationship,aadhaar\n\
             M,PYM0000002,Meena Suresh,Suresh,F,1998-05-05,SPOUSE,{meena_id}\n\
             M,PYM0000003,Ravi Kumar,,M,1960-01-01,HEAD,{ravi_id}\n\
             D,PYM0000002,Arun Ravi,,M,2000-02-02,SON,{arun_id}\n\
             A,PYM0000002,Arun Ravi,,M,2000-02-02,SON,{arun_id}\n\
             M,PYM0000002,Kavya,,F,2001-01-01,DAUGHTER,{arun_id}\n"
        );
        let (outcome, refused) = upload_csv(
            &hub,
            "base",
            UploadMode::Incremental,
            OFFICER,
            "moves.csv",
            &moves,
        )
        .await;
        // rows, accepted, added, modified, unchanged, deleted, rejected
        assert_eq!(
            counts(&outcome.upload().counts),
            [5, 1, 0, 1, 0, 0, 4],
            "{:?}",
            refused.codes()
        );
        assert_eq!(
            refused.codes(),
            BTreeMap::from([
                (3, "card.unknown".to_owned()),
                (4, "member.other_card".to_owned()),
                (5, "id_number.already_registered".to_owned()),
                (6, "member.other_card".to_owned()),
            ])
        );
        assert!(
            refused.message(5).contains("modify row"),
            "{}",
            refused.message(5)
        );
        assert!(
            refused.message(6).contains("sex or date of birth"),
            "a wrong number on another person's row moves no one: {}",
            refused.message(6)
        );

        // Meena is on Suresh's card now: the same resident, under her new name.
        let card_2 = members(&hub, "PYM0000002").await;
        let meena = &card_2["Meena Suresh"];
        assert_eq!(meena.resident_id, meena_before.resident_id);
        assert_eq!(meena.id_ref_key, meena_before.id_ref_key);
        assert_eq!(meena.card_number.as_str(), "PYM0000002");
        let history = hub.resident_history(&meena.resident_id).await.unwrap();
        let fields = changes(&history);
        assert!(
            fields.contains(&("card_number", Some("PYM0000001"), Some("PYM0000002"))),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("relationship", Some("DAUGHTER"), Some("SPOUSE"))),
            "{fields:?}"
        );
        let card_1 = members(&hub, "PYM0000001").await;
        assert!(!card_1.contains_key("Meena Ravi") && !card_1.contains_key("Meena Suresh"));
        assert_eq!(card_1.len(), 2);
        let found = hub
            .resident_by_id_number(&IdNumber::parse(&meena_id).unwrap())
            .await
            .unwrap();
        assert_eq!(found.card_number.as_str(), "PYM0000002");
        assert_eq!(
            card_1["Ravi Kumar"], ravi_before,
            "a refused move changes nothing"
        );

        // The head of a card moves: the card is left without one, and says so.
        let head = format!(
            "operation,ration_card_no,member_name,relative_name,gender,dob,relationship,aadhaar\n\
             M,PYM0000002,Ravi Kumar,,M,1960-01-01,FATHER,{ravi_id}\n"
        );
        let outcome = upload(&hub, UploadMode::Incremental, "head.csv", &head).await;
        assert_eq!(counts(&outcome.upload().counts), [1, 1, 0, 1, 0, 0, 0]);
        let left = hub
            .household(&RationCardNumber::parse("PYM0000001").unwrap())
            .await
            .unwrap();
        assert_eq!(left.household.head_resident_id, None);
        assert_eq!(left.members.len(), 1);
        let joined = hub
            .household(&RationCardNumber::parse("PYM0000002").unwrap())
            .await
            .unwrap();
        assert_eq!(joined.members.len(), 3);
        assert_eq!(
            joined.household.head_resident_id.as_deref(),
            Some(card_2["Suresh"].resident_id.as_str()),
            "the card joined keeps its head"
        );
        backend.cleanup().await;
    }
}
