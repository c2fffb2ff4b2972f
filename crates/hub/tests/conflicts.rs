//! Conflict reports through the hub's services, on every backend: two schemes that exclude
//! each other (named on one side only), a one-per-household scheme with an age rule, rows
//! linked to registry residents through their ID numbers, one resident marked deceased; each
//! kind of conflict appears exactly where expected, per scheme, per resident and for a
//! resident who would be enrolled, and removed records stop counting.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;
use sangam_domain::{DateOfBirth, IdNumber, LifeStatus};
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::SystemClock;
use sangam_hub::conflicts::{Conflict, ConflictCsv, ConflictKind};
use sangam_hub::datasets::SpecFormat;
use sangam_hub::registry::ResidentPatch;
use sangam_hub::uploads::reports::DiscardRejections;
use sangam_hub::uploads::{UploadMode, UploadRequest};
use sangam_hub::{Hub, HubError};
use sangam_store::{Resident, Role, User};
use sangam_synth::{Generator, GeneratorConfig};
use sangam_testkit::{
    backends,
    fixtures::{ADULT_RULE, scheme_spec},
};

const SEED: u64 = 11;
const HOUSEHOLDS: u64 = 30;
const PASSWORD: &str = "correct horse battery staple";

async fn user(hub: &Hub, name: &str, role: Role, organisation: Option<&str>) -> User {
    hub.save_user(name, PASSWORD, role, organisation, "test")
        .await
        .unwrap();
    hub.store().user(name).await.unwrap().unwrap()
}

async fn upload(hub: &Hub, dataset: &str, mode: UploadMode, rows: &[[&str; 4]], by: &str) {
    let mut csv = String::from("operation,beneficiary_id,aadhaar,dob\n");
    for r in rows {
        csv.push_str(&r.join(","));
        csv.push('\n');
    }
    let (_, source) = sangam_ingest::read::open_reader(
        Some("rows.csv"),
        std::io::Cursor::new(csv.clone().into_bytes()),
    )
    .unwrap();
    let outcome = hub
        .run_upload(
            UploadRequest {
                dataset: dataset.into(),
                mode,
                organisation: None,
                uploaded_by: by.into(),
                file_name: "rows.csv".into(),
                file_sha256: format!("{:x}", csv.len() * 7919 + dataset.len()),
                idempotency_key: format!("{dataset}-{}", csv.len()),
                corrects: None,
                confirm_removals: false,
            },
            source,
            &mut DiscardRejections,
            &|_| {},
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.upload().counts.rejected,
        0,
        "{dataset}: {:?}",
        outcome.upload()
    );
}

/// Everything a report can be compared on: kind, other dataset, record keys, rule.
fn shape(conflicts: &[Conflict]) -> BTreeSet<(String, String, String, String)> {
    conflicts
        .iter()
        .map(|c| {
            let mut keys: Vec<String> = c
                .records
                .iter()
                .map(|r| format!("{}:{}", r.dataset, r.record_key))
                .collect();
            keys.sort();
            (
                c.kind.code().to_owned(),
                c.other_dataset.clone().unwrap_or_default(),
                keys.join(" "),
                c.rule.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn expect(items: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String, String)> {
    items
        .iter()
        .map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into()))
        .collect()
}

async fn whole_report(hub: &Hub, actor: &User, dataset: &str) -> Vec<Conflict> {
    let mut report = hub.dataset_conflicts(actor, dataset).await.unwrap();
    let mut all = Vec::new();
    while let Some(page) = report.next_page().await.unwrap() {
        assert!(!page.is_empty(), "a page is never empty");
        all.extend(page);
    }
    assert_eq!(report.cursor(), None, "complete");
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_conflict_appears_exactly_where_expected() {
    for backend in backends("each_conflict_appears_exactly_where_expected").await {
        let key = sangam_vault::MasterKey::generate();
        let hub = open_hub(&backend.location, &key, Arc::new(SystemClock))
            .await
            .unwrap();
        hub.seed_demo(HOUSEHOLDS, SEED, |_| {}).await.unwrap();
        let admin = user(&hub, "admin", Role::Admin, None).await;
        let welfare = user(&hub, "welfare", Role::NodalOfficer, Some("social-welfare")).await;
        let food = user(&hub, "food", Role::NodalOfficer, Some("food-dept")).await;

        // Residents with ID numbers: two of one household, two others of other households.
        let generator = Generator::new(GeneratorConfig {
            seed: SEED,
            households: HOUSEHOLDS,
            ..Default::default()
        });
        let numbered = |h: &sangam_synth::Household| -> Vec<String> {
            h.members
                .iter()
                .filter_map(|m| m.id_number.clone())
                .collect()
        };
        let households: Vec<_> = generator.households().collect();
        let pair = households
            .iter()
            .find(|h| numbered(h).len() >= 2)
            .expect("a household with two ID numbers");
        let singles: Vec<String> = households
            .iter()
            .filter(|h| h.card_number != pair.card_number)
            .filter_map(|h| numbered(h).into_iter().next())
            .take(2)
            .collect();
        let ids = [
            numbered(pair)[0].clone(),
            numbered(pair)[1].clone(),
            singles[0].clone(),
            singles[1].clone(),
        ];
        let mut people: Vec<Resident> = Vec::new();
        for id in &ids {
            let number = IdNumber::parse(id).unwrap();
            people.push(hub.resident_by_id_number(&number).await.unwrap());
        }
        // Registry dates of birth the test decides: three adults and a child.
        for (i, person) in people.iter_mut().enumerate() {
            let dob = if i == 3 { (2015, 1, 1) } else { (1970, 1, 1) };
            let patch = ResidentPatch {
                dob: Some(DateOfBirth::Full(
                    NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2).unwrap(),
                )),
                ..Default::default()
            };
            *person = hub
                .update_resident(&person.resident_id, patch, "admin", None)
                .await
                .unwrap();
        }
        let [m1, m2, m3, m4] = [&people[0], &people[1], &people[2], &people[3]];
        assert_eq!(m1.card_number, m2.card_number);
        assert_ne!(m1.card_number, m3.card_number);

        // Bad specs are refused with the reason.
        let err = hub
            .create_dataset(
                &scheme_spec("pension_a", "exclusive_with = [\"pension_a\"]", ""),
                SpecFormat::Toml,
                "social-welfare",
                &admin,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HubError::Invalid { code: "spec.invalid", message, .. }
                if message.contains("exclusive_with[0]") && message.contains("cannot exclude itself")),
            "{err}"
        );

        // pension_a names pension_b (and a scheme not declared yet); pension_b names nobody.
        hub.create_dataset(
            &scheme_spec(
                "pension_a",
                "exclusive_with = [\"pension_b\", \"not_declared\"]",
                "",
            ),
            SpecFormat::Toml,
            "social-welfare",
            &welfare,
        )
        .await
        .unwrap();
        hub.create_dataset(
            &scheme_spec("pension_b", "", ""),
            SpecFormat::Toml,
            "social-welfare",
            &welfare,
        )
        .await
        .unwrap();
        hub.create_dataset(
            &scheme_spec("ration_kit", "one_per_household = true", ADULT_RULE),
            SpecFormat::Toml,
            "food-dept",
            &food,
        )
        .await
        .unwrap();

        let full = UploadMode::Full;
        upload(
            &hub,
            "pension_a",
            full,
            &[
                ["", "A-1", &ids[0], "1970"],
                ["", "A-3", &ids[2], "1970"],
                ["", "A-4", "", "1970"],
            ],
            "welfare",
        )
        .await;
        // The same person again, in a later file (one file may not hold a number twice).
        upload(
            &hub,
            "pension_a",
            UploadMode::Incremental,
            &[["A", "A-2", &ids[0], "1970"]],
            "welfare",
        )
        .await;
        upload(
            &hub,
            "pension_b",
            full,
            &[["", "B-1", &ids[2], "1970"], ["", "B-2", &ids[1], "1970"]],
            "welfare",
        )
        .await;
        // The file says K-3 is an adult (so the row is accepted); the registry says a child.
        upload(
            &hub,
            "ration_kit",
            full,
            &[
                ["", "K-1", &ids[0], "1970"],
                ["", "K-2", &ids[1], "1970"],
                ["", "K-3", &ids[3], "1970"],
                ["", "K-4", &ids[2], "1970"],
            ],
            "food",
        )
        .await;

        // Before anyone is deceased.
        let a = whole_report(&hub, &welfare, "pension_a").await;
        assert_eq!(
            shape(&a),
            expect(&[
                ("duplicate_in_scheme", "", "pension_a:A-1 pension_a:A-2", ""),
                (
                    "mutually_exclusive",
                    "pension_b",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
            ]),
            "{a:#?}"
        );
        let dup = a
            .iter()
            .find(|c| c.kind == ConflictKind::DuplicateInScheme)
            .unwrap();
        assert!(dup.records.iter().all(|r| r.resident_id == m1.resident_id
            && r.ref_key == m1.id_ref_key.as_ref().map(|k| k.as_str().to_owned())));

        // m3 dies: every active enrolment of theirs is a conflict.
        hub.update_resident(
            &m3.resident_id,
            ResidentPatch {
                life_status: Some(LifeStatus::Deceased),
                ..Default::default()
            },
            "admin",
            Some("death registered".into()),
        )
        .await
        .unwrap();

        let report = hub.dataset_conflicts(&welfare, "pension_a").await.unwrap();
        assert_eq!(report.exclusive_with(), ["pension_b"]);
        assert_eq!(report.unknown_exclusive_with(), ["not_declared"]);
        let a = whole_report(&hub, &admin, "pension_a").await;
        assert_eq!(
            shape(&a),
            expect(&[
                ("duplicate_in_scheme", "", "pension_a:A-1 pension_a:A-2", ""),
                (
                    "mutually_exclusive",
                    "pension_b",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
                ("deceased", "", "pension_a:A-3", ""),
            ]),
            "{a:#?}"
        );
        let b = whole_report(&hub, &welfare, "pension_b").await;
        assert_eq!(
            shape(&b),
            expect(&[
                (
                    "mutually_exclusive",
                    "pension_a",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
                ("deceased", "", "pension_b:B-1", ""),
            ]),
            "seen from the side that names nobody too: {b:#?}"
        );
        let k = whole_report(&hub, &food, "ration_kit").await;
        assert_eq!(
            shape(&k),
            expect(&[
                ("household_limit", "", "ration_kit:K-1 ration_kit:K-2", ""),
                ("ineligible", "", "ration_kit:K-3", "adult"),
                ("deceased", "", "ration_kit:K-4", ""),
            ]),
            "{k:#?}"
        );
        let limit = k
            .iter()
            .find(|c| c.kind == ConflictKind::HouseholdLimit)
            .unwrap();
        assert_eq!(limit.card_number.as_deref(), Some(m1.card_number.as_str()));
        let ineligible = k
            .iter()
            .find(|c| c.kind == ConflictKind::Ineligible)
            .unwrap();
        assert!(
            ineligible
                .message
                .contains("a ration kit goes to an adult member"),
            "{}",
            ineligible.message
        );
        assert!(
            !ineligible.message.contains("2015"),
            "the registry's values stay in the registry"
        );

        // Paged one group or record at a time, and resumed from a cursor: the same report.
        let mut report = hub
            .dataset_conflicts(&admin, "pension_a")
            .await
            .unwrap()
            .with_page_size(1);
        let first = report.next_page().await.unwrap().unwrap();
        let cursor = report.cursor().expect("more to come");
        let mut resumed = hub
            .dataset_conflicts_after(&admin, "pension_a", &cursor)
            .await
            .unwrap()
            .with_page_size(1);
        let mut paged = first;
        while let Some(page) = resumed.next_page().await.unwrap() {
            paged.extend(page);
        }
        assert_eq!(paged, a, "paging changes nothing");
        assert!(matches!(
            hub.dataset_conflicts_after(&admin, "pension_a", "junk!")
                .await,
            Err(HubError::Invalid {
                code: "cursor.invalid",
                ..
            })
        ));

        // CSV: one row per record, header first, numbered conflicts.
        let mut csv = ConflictCsv::new().unwrap();
        let mut bytes = csv.write(&k).unwrap();
        bytes.extend(csv.write(&[]).unwrap());
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(
            lines[0],
            "conflict,kind,dataset,other_dataset,record_dataset,record_key,resident_id,ref_key,card_number,rule,message"
        );
        assert_eq!(lines.len(), 1 + 4, "{text}");
        assert_eq!(csv.conflicts(), 3);

        // Per resident.
        let m1_conflicts = hub
            .resident_conflicts(&admin, &m1.resident_id)
            .await
            .unwrap();
        assert_eq!(
            shape(&m1_conflicts),
            expect(&[
                ("duplicate_in_scheme", "", "pension_a:A-1 pension_a:A-2", ""),
                ("household_limit", "", "ration_kit:K-1 ration_kit:K-2", ""),
            ])
        );
        let m3_conflicts = hub
            .resident_conflicts(&admin, &m3.resident_id)
            .await
            .unwrap();
        assert_eq!(
            shape(&m3_conflicts),
            expect(&[
                (
                    "mutually_exclusive",
                    "pension_b",
                    "pension_a:A-3 pension_b:B-1",
                    ""
                ),
                ("deceased", "", "pension_a:A-3", ""),
                ("deceased", "", "pension_b:B-1", ""),
                ("deceased", "", "ration_kit:K-4", ""),
            ])
        );
        // An officer sees the conflicts that involve their own datasets only.
        let seen_by_food = hub
            .resident_conflicts(&food, &m3.resident_id)
            .await
            .unwrap();
        assert_eq!(
            shape(&seen_by_food),
            expect(&[("deceased", "", "ration_kit:K-4", "")])
        );
        let m4_for_welfare = hub.resident_conflicts(&welfare, &m4.resident_id).await;
        assert!(
            matches!(m4_for_welfare, Err(HubError::NotFound(_))),
            "m4 is in no dataset of social-welfare: {m4_for_welfare:?}"
        );
        assert!(matches!(
            hub.resident_conflicts(&admin, "no-such-resident").await,
            Err(HubError::NotFound(_))
        ));

        // What enrolling would create, and nothing else.
        let would = |r: &Resident, d: &'static str| {
            let (hub, id) = (hub.clone(), r.resident_id.clone());
            async move { hub.conflicts_if_enrolled(&id, d).await.unwrap() }
        };
        assert_eq!(
            shape(&would(m2, "pension_a").await),
            expect(&[("mutually_exclusive", "pension_b", "pension_b:B-2", "")])
        );
        assert_eq!(
            shape(&would(m2, "ration_kit").await),
            expect(&[
                ("duplicate_in_scheme", "", "ration_kit:K-2", ""),
                ("household_limit", "", "ration_kit:K-1", ""),
            ])
        );
        assert_eq!(
            shape(&would(m3, "pension_a").await),
            expect(&[
                ("duplicate_in_scheme", "", "pension_a:A-3", ""),
                ("mutually_exclusive", "pension_b", "pension_b:B-1", ""),
                ("deceased", "", "", ""),
            ])
        );
        assert!(
            would(m4, "pension_b").await.is_empty(),
            "an ineligible age is not what enrolling checks"
        );
        assert!(matches!(
            hub.conflicts_if_enrolled(&m1.resident_id, "nothing").await,
            Err(HubError::NotFound(_))
        ));

        // Access and bad input.
        assert!(matches!(
            hub.dataset_conflicts(&food, "pension_a").await,
            Err(HubError::Forbidden(_))
        ));
        assert!(matches!(
            hub.dataset_conflicts(&admin, "nothing").await,
            Err(HubError::NotFound(_))
        ));
        assert!(matches!(
            hub.dataset_conflicts(&admin, "base").await,
            Err(HubError::Invalid {
                code: "dataset.base",
                ..
            })
        ));

        // A removed record stops counting: A-2 deleted, the duplicate is gone.
        upload(
            &hub,
            "pension_a",
            UploadMode::Incremental,
            &[["D", "A-2", "", ""]],
            "welfare",
        )
        .await;
        let a = whole_report(&hub, &welfare, "pension_a").await;
        assert!(
            a.iter().all(|c| c.kind != ConflictKind::DuplicateInScheme),
            "{a:#?}"
        );

        // Every read is in the audit log.
        let log = hub.recent_audit(0, 1000).await.unwrap();
        let reads = log
            .iter()
            .filter(|e| e.action == "dataset.conflicts_read")
            .count();
        assert!(reads >= 8, "{reads}");
        assert!(log.iter().any(|e| e.action == "resident.conflicts_read"
            && e.target.as_deref() == Some(&format!("resident:{}", m3.resident_id))));

        drop(hub);
        backend.cleanup().await;
    }
}

/// A larger scheme, read page by page: `SANGAM_CONFLICT_SCALE` households (default 20,000),
/// one member of each enrolled, one household in a hundred with two, one resident in a
/// hundred enrolled twice or also in an exclusive scheme. Run with `--ignored`; prints
/// how long the whole report took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing run; cargo test -p sangam-hub --test conflicts -- --ignored --nocapture"]
async fn a_large_scheme_is_reported_page_by_page() {
    use chrono::Utc;
    use sangam_domain::{
        CardType, EkycStatus, Gender, PersonName, RationCardNumber, Relationship, VillageCode,
    };
    use sangam_store::{
        Address, Enrolment, EnrolmentStatus, Household, UploadCounts, UploadRecord, UploadStatus,
    };

    let households: usize = std::env::var("SANGAM_CONFLICT_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    for backend in backends("a_large_scheme_is_reported_page_by_page").await {
        let key = sangam_vault::MasterKey::generate();
        let hub = open_hub(&backend.location, &key, Arc::new(SystemClock))
            .await
            .unwrap();
        let admin = user(&hub, "admin", Role::Admin, None).await;
        hub.create_dataset(
            &scheme_spec(
                "big",
                "exclusive_with = [\"other\"]\none_per_household = true",
                ADULT_RULE,
            ),
            SpecFormat::Toml,
            "social-welfare",
            &admin,
        )
        .await
        .unwrap();
        hub.create_dataset(
            &scheme_spec("other", "", ""),
            SpecFormat::Toml,
            "social-welfare",
            &admin,
        )
        .await
        .unwrap();
        let now = sangam_store::audit::truncate_to_micros(Utc::now());
        let mut homes = Vec::new();
        let mut people = Vec::new();
        for h in 0..households {
            let card = RationCardNumber::parse(&format!("PY{:010}", h + 1)).unwrap();
            homes.push(Household {
                card_number: card.clone(),
                card_type: CardType::parse("PHH").unwrap(),
                address: Address::default(),
                village_code: VillageCode::parse("640001").unwrap(),
                head_resident_id: None,
                created_at: now,
                updated_at: now,
                version: 1,
            });
            for m in 0..2 {
                people.push(Resident {
                    resident_id: format!("R{h:08}-{m}"),
                    card_number: card.clone(),
                    name: PersonName::parse("Lakshmi").unwrap(),
                    relative_name: None,
                    gender: Gender::Female,
                    dob: DateOfBirth::Full(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()),
                    relationship: Relationship::parse("HEAD").unwrap(),
                    mobile_masked: None,
                    mobile_blind_index: None,
                    id_ref_key: None,
                    ekyc_status: EkycStatus::default(),
                    life_status: LifeStatus::Alive,
                    created_at: now,
                    updated_at: now,
                    version: 1,
                });
            }
        }
        let store = hub.store();
        for (hs, rs) in homes.chunks(5000).zip(people.chunks(10_000)) {
            store.insert_registry(hs, rs).await.unwrap();
        }
        let upload = UploadRecord {
            id: "big-1".into(),
            dataset: "big".into(),
            organisation: "social-welfare".into(),
            uploaded_by: "admin".into(),
            file_name: "big.csv".into(),
            file_sha256: "00".into(),
            idempotency_key: "big".into(),
            mode: "full".into(),
            status: UploadStatus::Received,
            counts: UploadCounts::default(),
            corrects: None,
            error: None,
            received_at: now,
            finished_at: None,
            rejections_purged_at: None,
        };
        store.insert_upload(&upload).await.unwrap();
        let enrolment = |dataset: &str, key: String, resident: String| Enrolment {
            dataset: dataset.into(),
            record_key: key,
            ref_key: None,
            resident_id: Some(resident),
            fields: serde_json::json!({}),
            key_version: 1,
            sealed: vec![0; 16],
            digest: [0; 32],
            status: EnrolmentStatus::Active,
            spec_version: 1,
            upload_id: "big-1".into(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut rows = Vec::new();
        let (mut expected_dup, mut expected_household, mut expected_exclusive) = (0, 0, 0);
        for h in 0..households {
            rows.push(enrolment("big", format!("B{h:08}"), format!("R{h:08}-0")));
            if h % 100 == 1 {
                rows.push(enrolment("big", format!("C{h:08}"), format!("R{h:08}-1")));
                expected_household += 1;
            }
            if h % 100 == 2 {
                rows.push(enrolment("big", format!("D{h:08}"), format!("R{h:08}-0")));
                expected_dup += 1;
            }
            if h % 100 == 3 {
                rows.push(enrolment("other", format!("O{h:08}"), format!("R{h:08}-0")));
                expected_exclusive += 1;
            }
        }
        let total = rows.len();
        let mut load = store.begin_registry_load("big-1").await.unwrap();
        for chunk in rows.chunks(10_000) {
            load.upsert_enrolments(chunk.to_vec()).await.unwrap();
        }
        let mut done = upload.clone();
        done.status = UploadStatus::Committed;
        done.finished_at = Some(now);
        load.commit(done).await.unwrap();

        // PostgreSQL plans by table statistics, which a bulk load leaves stale until
        // autovacuum's analyze: without them every page sorts the whole dataset.
        if let Some(url) = backend.database_url()
            && std::env::var("SANGAM_CONFLICT_NO_ANALYZE").is_err()
        {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute("ANALYZE enrolments; ANALYZE residents")
                .await
                .unwrap();
        }
        let started = std::time::Instant::now();
        let mut report = hub.dataset_conflicts(&admin, "big").await.unwrap();
        let mut counts = std::collections::BTreeMap::new();
        let mut pages = 0;
        while let Some(page) = report.next_page().await.unwrap() {
            pages += 1;
            for c in page {
                *counts.entry(c.kind.code()).or_insert(0) += 1;
            }
        }
        eprintln!(
            "{}: {total} enrolments, {households} households: the whole report in {:?} ({pages} pages): {counts:?}",
            backend.name,
            started.elapsed()
        );
        assert_eq!(counts.get("duplicate_in_scheme"), Some(&expected_dup));
        assert_eq!(counts.get("household_limit"), Some(&expected_household));
        assert_eq!(counts.get("mutually_exclusive"), Some(&expected_exclusive));
        assert_eq!(counts.get("ineligible"), None);

        let started = std::time::Instant::now();
        let conflicts = hub
            .conflicts_if_enrolled(&format!("R{:08}-1", 5), "big")
            .await
            .unwrap();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        eprintln!(
            "{}: conflicts_if_enrolled in {:?}",
            backend.name,
            started.elapsed()
        );
        drop(hub);
        backend.cleanup().await;
    }
}
