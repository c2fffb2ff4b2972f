//! A scheme's uploads through the hub's services, on every backend: a full upload, then
//! incremental rows that name their records by the reference key of the first upload's
//! mapping instead of the record key (a modify, a delete, a file without the record key
//! column) and every way such a row is refused, checked in the counts, the codes, the mapping
//! and the enrolments afterwards; and a record not found in the registry that a later base
//! upload's new resident links, through the link job the base upload queues.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::BTreeMap;

use sangam_domain::{IdNumber, RefKey};
use sangam_hub::Hub;
use sangam_hub::datasets::SpecFormat;
use sangam_hub::uploads::{Prepared, UploadMode, UploadRequest};
use sangam_store::{EnrolmentStatus, LinkMethod, LinkStatus, UploadRecord, User};
use sangam_testkit::fixtures::scheme_spec;

use common::{Refused, counts, hub_with_officers, id, upload_csv};
use sangam_testkit::{TestBackend, backends};

const SCHEME: &str = "old_age_pension";

/// A hub on `backend` with the nodal officers of Civil Supplies and of Social Welfare, and
/// the scheme declared by the latter.
async fn scheme_hub(backend: &TestBackend) -> (Hub, User, User) {
    let (hub, mut officers) = hub_with_officers(
        backend,
        &[
            ("cs-officer", "civil-supplies"),
            ("sw-officer", "social-welfare"),
        ],
    )
    .await;
    let welfare = officers.pop().unwrap();
    let civil = officers.pop().unwrap();
    hub.create_dataset(
        &scheme_spec(SCHEME, "", ""),
        SpecFormat::Toml,
        "social-welfare",
        &welfare,
    )
    .await
    .unwrap();
    (hub, civil, welfare)
}

/// Uploads `csv` to `dataset` as `by`; the upload's record and its refused rows.
async fn upload(
    hub: &Hub,
    dataset: &str,
    mode: UploadMode,
    by: &User,
    name: &str,
    csv: &str,
) -> (UploadRecord, Refused) {
    let (outcome, refused) = upload_csv(hub, dataset, mode, &by.username, name, csv).await;
    (outcome.upload().clone(), refused)
}

/// An upload seals with the keys it began with, and what it seals is invisible until it
/// commits: no key version is retired while one loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_version_retires_while_an_upload_loads() {
    for backend in backends("no_key_version_retires_while_an_upload_loads").await {
        let (hub, _, welfare) = scheme_hub(&backend).await;
        let first = format!(
            "beneficiary_id,aadhaar,dob\nR-0,{},1950\n",
            id("34567890171")
        );
        upload(&hub, SCHEME, UploadMode::Full, &welfare, "r.csv", &first).await;
        assert_eq!(hub.rotate_data_key("admin").await.unwrap(), 2);
        hub.run_jobs_until_idle().await.unwrap();

        let second = format!("{first}R-1,{},1951\n", id("34567890172"));
        let (_, source) = sangam_ingest::read::open_reader(
            Some("r2.csv"),
            std::io::Cursor::new(second.clone().into_bytes()),
        )
        .unwrap();
        let request = UploadRequest {
            dataset: SCHEME.into(),
            mode: UploadMode::Full,
            organisation: None,
            uploaded_by: welfare.username.clone(),
            file_name: "r2.csv".into(),
            file_sha256: "r2".into(),
            idempotency_key: "r2".into(),
            corrects: None,
            confirm_removals: false,
        };
        let Prepared::Ready(prepared) = hub.prepare_upload(request, source).await.unwrap() else {
            panic!("a new file is loaded");
        };
        let upload_id = prepared.upload().id.clone();
        let refused = hub.retire_data_key(1, "admin").await.unwrap_err();
        let sangam_hub::HubError::Conflict(message) = &refused else {
            panic!("{refused:?}");
        };
        assert!(
            message.contains("1 upload(s) are loading") && message.contains(&upload_id),
            "{message}"
        );

        let mut rejected = Refused::default();
        hub.load_prepared(prepared, &mut rejected, &|_| {})
            .await
            .unwrap();
        let added = hub.store().enrolment(SCHEME, "R-1").await.unwrap().unwrap();
        assert_eq!(
            added.key_version, 2,
            "sealed with the keys the load began with"
        );
        hub.retire_data_key(1, "admin").await.unwrap();
        backend.cleanup().await;
    }
}

/// How the scheme's record `key` is linked.
async fn link_of(hub: &Hub, key: &str) -> sangam_store::EnrolmentLink {
    hub.store()
        .enrolment_link(SCHEME, key)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_rows_name_their_records_by_reference_key() {
    for backend in backends("incremental_rows_name_their_records_by_reference_key").await {
        let (hub, civil, welfare) = scheme_hub(&backend).await;
        let ids: Vec<String> = (1..=7).map(|i| id(&format!("2345678901{i}"))).collect();

        // The first beneficiary is a resident of the registry, so that their record is linked.
        let base = format!(
            "ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n\
             PYB0000001,PHH,640001,Lakshmi,F,1950,HEAD,{}\n",
            ids[0]
        );
        let (loaded, _) = upload(&hub, "base", UploadMode::Full, &civil, "base.csv", &base).await;
        assert_eq!(loaded.counts.accepted, 1);

        // ---- the scheme in full; B-5 is the same person as B-4, sent in a later file.
        let mut full = String::from("beneficiary_id,aadhaar,dob\n");
        for (key, i) in [
            ("B-1", 0),
            ("B-2", 1),
            ("B-3", 2),
            ("B-4", 3),
            ("B-6", 5),
            ("B-7", 6),
        ] {
            full.push_str(&format!("{key},{},1950\n", ids[i]));
        }
        let (first, refused) =
            upload(&hub, SCHEME, UploadMode::Full, &welfare, "full.csv", &full).await;
        assert_eq!(
            counts(&first.counts),
            [6, 6, 6, 0, 0, 0, 0],
            "{:?}",
            refused.codes()
        );
        let again = format!(
            "operation,beneficiary_id,aadhaar,dob\nA,B-5,{},1950\n",
            ids[3]
        );
        let (second, _) = upload(
            &hub,
            SCHEME,
            UploadMode::Incremental,
            &welfare,
            "b5.csv",
            &again,
        )
        .await;
        assert_eq!(counts(&second.counts), [1, 1, 1, 0, 0, 0, 0]);

        // The reference keys the department got back.
        let key: BTreeMap<String, RefKey> = hub
            .upload_mapping(&first.id, &welfare)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.record_key, m.ref_key.unwrap()))
            .collect();
        let k = |record: &str| key[record].as_str().to_owned();
        let b1_before = hub.store().enrolment(SCHEME, "B-1").await.unwrap().unwrap();
        assert!(b1_before.resident_id.is_some(), "linked by its ID number");
        let unknown = RefKey::generate();

        // ---- the month's changes, named by reference key.
        let changes = format!(
            "operation,beneficiary_id,aadhaar,dob,ref_key\n\
             M,,,1951,{b1}\n\
             D,,,,{b2}\n\
             M,,,1950,not-a-key\n\
             M,,,1950,{unknown}\n\
             D,,,,{b4}\n\
             M,B-3,,1950,{b1}\n\
             M,,{id1},1950,{b6}\n\
             M,,,1952,{b1}\n\
             M,B-1,,1953,\n\
             M,B-7,{id7},1950,{b7}\n\
             A,B-8,,1950,{b7}\n\
             A,,,1950,{b6}\n",
            b1 = k("B-1"),
            b2 = k("B-2"),
            b4 = k("B-4"),
            b6 = k("B-6"),
            b7 = k("B-7"),
            id1 = ids[0],
            id7 = ids[6],
        );
        let (changed, refused) = upload(
            &hub,
            SCHEME,
            UploadMode::Incremental,
            &welfare,
            "changes.csv",
            &changes,
        )
        .await;
        assert_eq!(
            counts(&changed.counts),
            [12, 3, 0, 1, 1, 1, 9],
            "{:?}",
            refused.codes()
        );
        let expected: BTreeMap<u64, String> = [
            (4, "ref_key.format"),
            (5, "record.not_found"),
            (6, "record.ambiguous"),
            (7, "ref_key.mismatch"),
            (8, "ref_key.id_mismatch"),
            (9, "row.duplicate_in_file"),
            (10, "row.duplicate_in_file"),
            (12, "ref_key.on_add"),
            (13, "record_key.missing"),
        ]
        .into_iter()
        .map(|(line, code)| (line, code.to_owned()))
        .collect();
        assert_eq!(refused.codes(), expected);
        // Messages name the keys, never an ID number.
        assert!(refused.message(5).contains(unknown.as_str()));
        let ambiguous = refused.message(6);
        assert!(
            ambiguous.contains("B-4") && ambiguous.contains("B-5") && ambiguous.contains(&k("B-4")),
            "{ambiguous}"
        );
        let mismatch = refused.message(7);
        assert!(
            mismatch.contains("B-3")
                && mismatch.contains(&k("B-1"))
                && mismatch.contains(&k("B-3")),
            "{mismatch}"
        );
        assert!(refused.message(9).contains("line 2"));
        assert!(refused.message(13).contains("add"));
        for r in &refused.0 {
            for e in &r.errors {
                assert!(
                    ids.iter().all(|n| !e.message.contains(n.as_str())),
                    "{}",
                    e.message
                );
            }
            if r.line != 4 {
                assert_eq!(
                    r.errors[0].column.as_deref(),
                    [5, 6, 7, 8, 12].contains(&r.line).then_some("ref_key"),
                    "line {}",
                    r.line
                );
            }
        }

        // The mapping names each record and its reference key.
        let outcomes: Vec<(String, String, Option<RefKey>)> = hub
            .upload_mapping(&changed.id, &welfare)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.record_key, m.outcome, m.ref_key))
            .collect();
        assert_eq!(
            outcomes,
            [
                (
                    "B-1".to_owned(),
                    "modified".to_owned(),
                    Some(key["B-1"].clone())
                ),
                (
                    "B-2".to_owned(),
                    "deleted".to_owned(),
                    Some(key["B-2"].clone())
                ),
                (
                    "B-7".to_owned(),
                    "unchanged".to_owned(),
                    Some(key["B-7"].clone())
                ),
            ]
        );

        // The store: B-1 changed and still linked to its person, B-2 removed, the rest as
        // they were.
        let b1 = hub.store().enrolment(SCHEME, "B-1").await.unwrap().unwrap();
        assert_ne!(b1.fields["dob"], b1_before.fields["dob"]);
        assert_eq!(
            b1.fields["beneficiary_id"], "B-1",
            "stored as if named by its key"
        );
        assert_eq!(b1.ref_key.as_ref(), Some(&key["B-1"]));
        assert_eq!(b1.resident_id, b1_before.resident_id);
        assert_eq!(b1.version, 2);
        assert_eq!(b1.upload_id, changed.id);
        let b2 = hub.store().enrolment(SCHEME, "B-2").await.unwrap().unwrap();
        assert_eq!(b2.status, EnrolmentStatus::Removed);
        for record in ["B-3", "B-4", "B-5", "B-6", "B-7"] {
            let e = hub
                .store()
                .enrolment(SCHEME, record)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (e.status, e.version),
                (EnrolmentStatus::Active, 1),
                "{record}"
            );
        }
        assert!(
            hub.store()
                .enrolment(SCHEME, "B-8")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            hub.store().count_active_enrolments(SCHEME).await.unwrap(),
            6
        );

        // ---- a file of changes by reference key alone, without the record key column.
        let deletions = format!("operation,dob,ref_key\nD,,{}\nM,,{}\n", k("B-6"), k("B-3"));
        let (deleted, refused) = upload(
            &hub,
            SCHEME,
            UploadMode::Incremental,
            &welfare,
            "deletions.csv",
            &deletions,
        )
        .await;
        assert_eq!(counts(&deleted.counts), [2, 1, 0, 0, 0, 1, 1]);
        assert_eq!(
            refused.codes().into_values().collect::<Vec<_>>(),
            ["field.missing"],
            "a modify row still describes the record (its dob)"
        );
        let b6 = hub.store().enrolment(SCHEME, "B-6").await.unwrap().unwrap();
        assert_eq!(b6.status, EnrolmentStatus::Removed);

        // ---- a full upload names every record by its record key.
        let full_again = format!(
            "beneficiary_id,aadhaar,dob,ref_key\n,,1950,{}\nB-9,,1950,{}\n",
            k("B-3"),
            k("B-3")
        );
        let (whole, refused) = upload(
            &hub,
            SCHEME,
            UploadMode::Full,
            &welfare,
            "full-again.csv",
            &full_again,
        )
        .await;
        assert_eq!(whole.counts.rejected, 2);
        assert_eq!(
            refused.codes().into_values().collect::<Vec<_>>(),
            ["record_key.missing", "ref_key.on_add"]
        );
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residents_added_by_a_base_upload_link_records_not_found() {
    for backend in backends("residents_added_by_a_base_upload_link_records_not_found").await {
        let (hub, civil, welfare) = scheme_hub(&backend).await;
        let (known, newcomer) = (id("34567890121"), id("34567890122"));
        let base = format!(
            "ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n\
             PYC0000001,PHH,640001,Kamala,F,1948,HEAD,{known}\n"
        );
        let (loaded, _) = upload(&hub, "base", UploadMode::Full, &civil, "base.csv", &base).await;
        assert_eq!(loaded.counts.accepted, 1);

        // A beneficiary whose person is not in the registry yet: not found by the link job.
        let scheme = format!("beneficiary_id,aadhaar,dob\nC-1,{newcomer},1961\n");
        let (first, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "c.csv", &scheme).await;
        assert_eq!(first.counts.accepted, 1);
        hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(link_of(&hub, "C-1").await.status, LinkStatus::NotFound);
        assert!(hub.store().pending_jobs().await.unwrap().is_empty());

        // The base registry's month of changes adds that person.
        let changes = format!(
            "operation,ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n\
             A,PYC0000002,PHH,640002,Selvi,F,1961,HEAD,{newcomer}\n"
        );
        let (added, _) = upload(
            &hub,
            "base",
            UploadMode::Incremental,
            &civil,
            "add.csv",
            &changes,
        )
        .await;
        assert_eq!(counts(&added.counts), [1, 1, 1, 0, 0, 0, 0]);
        let selvi = hub
            .resident_by_id_number(&IdNumber::parse(&newcomer).unwrap())
            .await
            .unwrap();

        // The relink waits in the store's job queue, written before the load began: a
        // process that died right after the commit would leave it for the next worker.
        assert_eq!(link_of(&hub, "C-1").await.status, LinkStatus::NotFound);
        let jobs = hub.store().pending_jobs().await.unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
            ["registry.relink_after_upload"]
        );
        assert_eq!(jobs[0].payload["upload_id"], added.id);
        let run = hub.run_next_job().await.unwrap().unwrap();
        assert_eq!(
            (run.kind.as_str(), run.outcome),
            ("registry.relink_after_upload", "done")
        );

        // The record waits again, its dataset's link job is queued, and the system says why.
        assert_eq!(link_of(&hub, "C-1").await.status, LinkStatus::Pending);
        let jobs = hub.store().pending_jobs().await.unwrap();
        assert_eq!(
            jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
            ["enrolments.link"]
        );
        assert_eq!(jobs[0].payload["dataset"], SCHEME);
        let audit = hub.store().audit_entries(0, 1000).await.unwrap();
        let relinks: Vec<_> = audit
            .iter()
            .filter(|e| e.action == "match.relink_after_registry_change")
            .collect();
        assert_eq!(relinks.len(), 1);
        assert_eq!(relinks[0].actor, "system");
        assert_eq!(
            relinks[0].target.as_deref(),
            Some(&*format!("dataset:{SCHEME}"))
        );
        let details: serde_json::Value = serde_json::from_str(&relinks[0].details).unwrap();
        assert_eq!(details["records"], 1);
        assert_eq!(details["upload_id"], added.id);

        // The worker, one step at a time, links it to the new resident.
        let mut runs = Vec::new();
        while let Some(run) = hub.run_next_job().await.unwrap() {
            runs.push((run.kind, run.outcome));
        }
        assert!(
            runs.iter().all(|(kind, _)| kind == "enrolments.link"),
            "{runs:?}"
        );
        assert_eq!(runs.last().map(|r| r.1), Some("done"), "{runs:?}");
        let linked = link_of(&hub, "C-1").await;
        assert_eq!(
            (linked.status, linked.method),
            (LinkStatus::Linked, Some(LinkMethod::IdNumber))
        );
        assert_eq!(
            linked.resident_id.as_deref(),
            Some(selvi.resident_id.as_str())
        );

        // Nothing left not found: the relink of a base upload that changes a resident sends
        // nothing back and queues no link job.
        let fix = format!(
            "operation,ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n\
             M,PYC0000001,PHH,640001,Kamala Devi,F,1948,HEAD,{known}\n"
        );
        let (modified, _) = upload(
            &hub,
            "base",
            UploadMode::Incremental,
            &civil,
            "fix.csv",
            &fix,
        )
        .await;
        assert_eq!(modified.counts.modified, 1);
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.kind.as_str(), r.outcome))
                .collect::<Vec<_>>(),
            [("registry.relink_after_upload", "done")]
        );
        assert!(hub.store().pending_jobs().await.unwrap().is_empty());
        let relinks = hub
            .store()
            .audit_entries(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "match.relink_after_registry_change")
            .count();
        assert_eq!(relinks, 1, "no audit entry when nothing went back");
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_given_an_id_number_by_upload_links_the_records_waiting_for_it() {
    for backend in
        backends("a_member_given_an_id_number_by_upload_links_the_records_waiting_for_it").await
    {
        let (hub, civil, welfare) = scheme_hub(&backend).await;
        let number = id("34567890131");
        let base = "ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n\
                    PYC0000011,PHH,640001,Kamala,F,1948,HEAD,\n";
        let (loaded, _) = upload(&hub, "base", UploadMode::Full, &civil, "base.csv", base).await;
        assert_eq!(loaded.counts.accepted, 1);

        // The scheme knows her by her ID number, which the registry does not hold yet.
        let scheme = format!("beneficiary_id,aadhaar,dob\nC-11,{number},1948\n");
        let (first, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "c.csv", &scheme).await;
        assert_eq!(first.counts.accepted, 1);
        hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(link_of(&hub, "C-11").await.status, LinkStatus::NotFound);
        let scheme_key = hub.upload_mapping(&first.id, &welfare).await.unwrap()[0]
            .ref_key
            .clone();
        assert!(scheme_key.is_some());

        // Civil Supplies seeds her number: she takes the reference key the vault already had
        // for it, and the scheme's record links to her by it.
        let seeding = format!(
            "operation,ration_card_no,member_name,gender,dob,relationship,aadhaar\n\
             M,PYC0000011,Kamala,F,1948,HEAD,{number}\n"
        );
        let (seeded, _) = upload(
            &hub,
            "base",
            UploadMode::Incremental,
            &civil,
            "seed.csv",
            &seeding,
        )
        .await;
        assert_eq!(counts(&seeded.counts), [1, 1, 0, 1, 0, 0, 0]);
        let kamala = hub
            .resident_by_id_number(&IdNumber::parse(&number).unwrap())
            .await
            .unwrap();
        assert_eq!(
            kamala.id_ref_key, scheme_key,
            "one number, one reference key"
        );
        hub.run_jobs_until_idle().await.unwrap();
        let linked = link_of(&hub, "C-11").await;
        assert_eq!(
            (linked.status, linked.method),
            (LinkStatus::Linked, Some(LinkMethod::IdNumber))
        );
        assert_eq!(
            linked.resident_id.as_deref(),
            Some(kamala.resident_id.as_str())
        );
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_upload_keeps_the_records_whose_rows_it_refuses() {
    for backend in backends("a_full_upload_keeps_the_records_whose_rows_it_refuses").await {
        let (hub, _civil, welfare) = scheme_hub(&backend).await;
        let ids: Vec<String> = (1..=4).map(|i| id(&format!("3456789012{i}"))).collect();
        let mut full = String::from("beneficiary_id,aadhaar,dob\n");
        for (i, key) in ["B-1", "B-2", "B-3", "B-4"].iter().enumerate() {
            full.push_str(&format!("{key},{},1950\n", ids[i]));
        }
        let (first, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "full.csv", &full).await;
        assert_eq!(counts(&first.counts), [4, 4, 4, 0, 0, 0, 0]);

        // The next month's file: B-1 as it was, B-2 with a date of birth the validation
        // refuses, B-3 with an operation a full upload refuses, and B-4 left out.
        let next = format!(
            "operation,beneficiary_id,aadhaar,dob\n\
             ,B-1,{},1950\n,B-2,{},31-02-1950\nD,B-3,{},1950\n",
            ids[0], ids[1], ids[2]
        );
        let (second, refused) =
            upload(&hub, SCHEME, UploadMode::Full, &welfare, "next.csv", &next).await;
        assert_eq!(
            counts(&second.counts),
            [3, 1, 0, 0, 1, 1, 2],
            "{:?}",
            refused.codes()
        );
        assert_eq!(
            refused.codes(),
            BTreeMap::from([
                (3, "dob.invalid_date".to_owned()),
                (4, "operation.not_in_full_upload".to_owned()),
            ])
        );
        for (key, status) in [
            ("B-1", EnrolmentStatus::Active),
            ("B-2", EnrolmentStatus::Active),
            ("B-3", EnrolmentStatus::Active),
            ("B-4", EnrolmentStatus::Removed),
        ] {
            let held = hub.store().enrolment(SCHEME, key).await.unwrap().unwrap();
            assert_eq!(
                held.status, status,
                "{key}: only what the file left out goes"
            );
        }
    }
}

/// A full file of `keys` as beneficiaries (no ID numbers: the guard is about counts).
fn beneficiaries(keys: std::ops::Range<u32>) -> String {
    let mut csv = String::from("beneficiary_id,dob\n");
    for k in keys {
        csv.push_str(&format!("B-{k:04},1950\n"));
    }
    csv
}

async fn full_upload(
    hub: &Hub,
    by: &User,
    name: &str,
    csv: &str,
    confirm_removals: bool,
) -> Result<sangam_hub::uploads::UploadOutcome, sangam_hub::HubError> {
    let (_, source) =
        sangam_ingest::read::open_reader(Some(name), std::io::Cursor::new(csv.as_bytes().to_vec()))
            .unwrap();
    hub.run_upload(
        sangam_hub::uploads::UploadRequest {
            dataset: SCHEME.into(),
            mode: UploadMode::Full,
            organisation: None,
            uploaded_by: by.username.clone(),
            file_name: name.into(),
            file_sha256: format!("{name}-{}", csv.len()),
            idempotency_key: name.into(),
            corrects: None,
            confirm_removals,
        },
        source,
        &mut Refused::default(),
        &|_| {},
    )
    .await
}

/// A full file that has lost most of its rows would end the benefits of everyone it leaves
/// out: it stops, keeps nothing and says how to confirm; confirmed, it loads. A month's
/// ordinary removals never stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_upload_that_would_remove_most_records_waits_for_confirmation() {
    for backend in
        backends("a_full_upload_that_would_remove_most_records_waits_for_confirmation").await
    {
        let (hub, _, welfare) = scheme_hub(&backend).await;
        let held = full_upload(&hub, &welfare, "all.csv", &beneficiaries(0..100), false)
            .await
            .unwrap();
        assert_eq!(held.upload().counts.added, 100);

        // 15 leave in a month: 15%, loaded as it is.
        let month = full_upload(&hub, &welfare, "month.csv", &beneficiaries(15..100), false)
            .await
            .unwrap();
        assert_eq!(counts(&month.upload().counts), [85, 85, 0, 0, 85, 15, 0]);
        assert_eq!(
            hub.store().count_active_enrolments(SCHEME).await.unwrap(),
            85
        );

        // A file cut off after 30 rows (and one new beneficiary) would remove 55 of 85.
        let mut cut = beneficiaries(15..45);
        cut.push_str("B-9000,1955\n");
        let err = full_upload(&hub, &welfare, "cut.csv", &cut, false)
            .await
            .unwrap_err();
        let sangam_hub::HubError::Invalid {
            field,
            code,
            message,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(
            (field.as_str(), *code),
            ("confirm_removals", "upload.removals_unconfirmed")
        );
        assert!(
            message.contains("remove 55 of the 85 records")
                && message.contains("confirm_removals=true"),
            "{message}"
        );
        assert_eq!(
            hub.store().count_active_enrolments(SCHEME).await.unwrap(),
            85,
            "nothing of it was kept, not even the new record"
        );
        let uploads = hub.uploads(Some("social-welfare"), 10).await.unwrap();
        let stopped = uploads.iter().find(|u| u.file_name == "cut.csv").unwrap();
        assert_eq!(stopped.status, sangam_store::UploadStatus::Failed);
        assert_eq!(stopped.error.as_deref(), Some(message.as_str()));

        // The officer checks: the file is whole. Sent again, confirmed, it loads.
        let confirmed = full_upload(&hub, &welfare, "cut.csv", &cut, true)
            .await
            .unwrap();
        let confirmed = confirmed.upload();
        assert_eq!(confirmed.id, stopped.id, "the same upload, run again");
        assert_eq!(counts(&confirmed.counts), [31, 31, 1, 0, 30, 55, 0]);
        assert_eq!(
            hub.store().count_active_enrolments(SCHEME).await.unwrap(),
            31
        );
        backend.cleanup().await;
    }
}

/// A row that names its record by the department's key alone (the ID number left out, as a
/// department does when it changes something else) keeps the record's reference key and its
/// person; a full file without the number does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_without_the_id_number_keeps_the_records_person() {
    for backend in backends("a_row_without_the_id_number_keeps_the_records_person").await {
        let (hub, civil, welfare) = scheme_hub(&backend).await;
        let number = id("34567890141");
        let base = format!(
            "ration_card_no,card_type,village_code,member_name,gender,dob,relationship,aadhaar\n\
             PYC0000021,PHH,640001,Kamala,F,1948,HEAD,{number}\n"
        );
        upload(&hub, "base", UploadMode::Full, &civil, "base.csv", &base).await;
        let first = format!("beneficiary_id,aadhaar,dob\nK-1,{number},1948\n");
        let (first, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "k1.csv", &first).await;
        let key = hub.upload_mapping(&first.id, &welfare).await.unwrap()[0]
            .ref_key
            .clone()
            .unwrap();
        hub.run_jobs_until_idle().await.unwrap();
        let kamala = link_of(&hub, "K-1").await.resident_id.unwrap();

        let change = "operation,beneficiary_id,dob\nM,K-1,01-01-1948\n";
        let (changed, refused) = upload(
            &hub,
            SCHEME,
            UploadMode::Incremental,
            &welfare,
            "k2.csv",
            change,
        )
        .await;
        assert!(refused.0.is_empty(), "{:?}", refused.codes());
        assert_eq!(changed.counts.modified, 1);
        let mapping = hub.upload_mapping(&changed.id, &welfare).await.unwrap();
        assert_eq!(mapping[0].ref_key.as_ref(), Some(&key));
        assert_eq!(mapping[0].resident_id.as_deref(), Some(kamala.as_str()));
        hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(
            link_of(&hub, "K-1").await.resident_id.as_deref(),
            Some(kamala.as_str())
        );
        let held = hub.store().enrolment(SCHEME, "K-1").await.unwrap().unwrap();
        assert_eq!(held.ref_key.as_ref(), Some(&key));

        let full = "beneficiary_id,dob\nK-1,1948\n";
        let (again, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "k3.csv", full).await;
        let mapping = hub.upload_mapping(&again.id, &welfare).await.unwrap();
        assert_eq!(mapping[0].ref_key.as_ref(), Some(&key));
        backend.cleanup().await;
    }
}

/// Rotation re-seals scheme records' sensitive fields too: the old version is not retired
/// while a record still uses it (the refusal queues another pass), and retires once the
/// walk has re-sealed them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheme_records_are_resealed_before_the_old_key_retires() {
    for backend in backends("scheme_records_are_resealed_before_the_old_key_retires").await {
        let (hub, _, welfare) = scheme_hub(&backend).await;
        let mut scheme = String::from("beneficiary_id,aadhaar,dob\n");
        for (k, first11) in ["34567890151", "34567890152", "34567890153"]
            .iter()
            .enumerate()
        {
            scheme.push_str(&format!("R-{k},{},1950\n", id(first11)));
        }
        let (loaded, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "r.csv", &scheme).await;
        assert_eq!(loaded.counts.accepted, 3);
        let before = hub.store().enrolment(SCHEME, "R-1").await.unwrap().unwrap();
        assert_eq!(before.key_version, 1);
        assert_eq!(hub.rotate_data_key("admin").await.unwrap(), 2);

        let refused = hub.retire_data_key(1, "admin").await.unwrap_err();
        let sangam_hub::HubError::Conflict(message) = &refused else {
            panic!("{refused:?}");
        };
        assert!(
            message.contains("3 scheme records") && message.contains("re-encryption job is queued"),
            "{message}"
        );

        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert!(
            runs.iter()
                .any(|r| r.kind == "vault.reencrypt_enrolments" && r.outcome == "done"),
            "{runs:?}"
        );
        for key in ["R-0", "R-1", "R-2"] {
            let after = hub.store().enrolment(SCHEME, key).await.unwrap().unwrap();
            assert_eq!(after.key_version, 2, "{key}");
            assert_eq!(after.version, 1, "re-sealing does not change the record");
        }
        let after = hub.store().enrolment(SCHEME, "R-1").await.unwrap().unwrap();
        assert_ne!(after.sealed, before.sealed);
        let audit = hub.store().audit_entries(0, 1000).await.unwrap();
        let resealed: u64 = audit
            .iter()
            .filter(|e| e.action == "vault.enrolments_reencrypted")
            .map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.details).unwrap()["resealed"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(resealed, 3);

        hub.retire_data_key(1, "admin").await.unwrap();
        // The records are as they were: a full upload of the same file changes none.
        let (again, _) = upload(&hub, SCHEME, UploadMode::Full, &welfare, "r2.csv", &scheme).await;
        assert_eq!(again.counts.unchanged, 3, "{:?}", again.counts);
        backend.cleanup().await;
    }
}
