//! The scenario suite every storage backend must pass. Each backend's tests open a fresh store
//! and call [`run_all`]; a failure names the scenario and the broken expectation.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

mod rejected_rows;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use sangam_domain::{
    CardType, DateOfBirth, EkycStatus, Gender, LifeStatus, PersonName, RationCardNumber, RefKey,
    Relationship, VillageCode,
};

use crate::audit::{self, ChainVerifier};
use crate::linking::*;
use crate::records::*;
use crate::sharing::*;
use crate::{Store, StoreError};

/// Runs every scenario against `store`, which must be freshly created and empty.
pub async fn run_all(store: Arc<dyn Store>) {
    meta(&*store).await;
    vault_keys(&*store).await;
    vault_entries(&*store).await;
    registry(&*store).await;
    audit_chain(store.clone()).await;
    jobs(store.clone()).await;
    accounts(&*store).await;
    uploads(&*store).await;
    datasets(&*store).await;
    upload_outputs_and_enrolments(&*store).await;
    conflict_reads(&*store).await;
    linking(&*store).await;
    sharing(&*store).await;
    registry_changes_in_a_load(&*store).await;
    code_lists(&*store).await;
    rejected_rows::rejected_rows(&*store).await;
    rejected_rows::singleton_jobs(store.clone()).await;
    // Last: it moves scheme records to another key version.
    resealed_enrolments(&*store).await;
}

/// Key rotation's walk over scheme records: those sealed under a version below the active
/// one, a page at a time in (dataset, record key) order after an exclusive cursor, each
/// re-sealed only if still at the version read, its own version left as it was.
async fn resealed_enrolments(store: &dyn Store) {
    let all = store.enrolments_below_version(2, None, 100).await.unwrap();
    let keys: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.dataset.as_str(), e.record_key.as_str()))
        .collect();
    assert!(keys.len() >= 3, "the earlier scenarios' records: {keys:?}");
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "in key order: {keys:?}"
    );
    assert!(all.iter().all(|e| e.key_version < 2));
    let first = store.enrolments_below_version(2, None, 1).await.unwrap();
    assert_eq!(first, all[..1], "paged");
    let rest = store
        .enrolments_below_version(2, Some(keys[0]), 100)
        .await
        .unwrap();
    assert_eq!(rest, all[1..], "the cursor is exclusive");

    let (a, b) = (&all[0], &all[1]);
    let before = store
        .enrolment(&a.dataset, &a.record_key)
        .await
        .unwrap()
        .unwrap();
    let reseal = |e: &SealedEnrolment, expected_version: u32| EnrolmentReseal {
        dataset: e.dataset.clone(),
        record_key: e.record_key.clone(),
        expected_version,
        new_version: 2,
        sealed: vec![7; 41],
    };
    let mut missing = reseal(a, a.key_version);
    missing.record_key = "no-such-record".into();
    // `b` was re-sealed meanwhile by another worker (it is not at the version this one read).
    let updates = [
        reseal(a, a.key_version),
        reseal(b, b.key_version + 5),
        missing,
    ];
    assert_eq!(store.reseal_enrolments(&updates).await.unwrap(), 1);
    assert_eq!(
        store.reseal_enrolments(&updates).await.unwrap(),
        0,
        "a second worker with the same batch replaces nothing"
    );
    assert_eq!(store.reseal_enrolments(&[]).await.unwrap(), 0);

    let after = store
        .enrolment(&a.dataset, &a.record_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (after.key_version, after.sealed.as_slice()),
        (2, &[7; 41][..])
    );
    assert_eq!(
        after.version, before.version,
        "the record's content did not change"
    );
    assert_eq!(after.fields, before.fields);
    assert_eq!(after.digest, before.digest);
    let untouched = store
        .enrolment(&b.dataset, &b.record_key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (untouched.key_version, &untouched.sealed),
        (b.key_version, &b.sealed)
    );
    assert_eq!(
        store.enrolments_below_version(2, None, 100).await.unwrap(),
        all[1..],
        "a re-sealed record is no longer walked"
    );
    assert!(
        store
            .sealed_count_by_version()
            .await
            .unwrap()
            .contains(&("enrolments", 2, 1))
    );
}

/// Loads into an empty registry and vault (a first-time migration), where a backend may
/// build its indexes at the commit instead of row by row: every row must still be judged
/// as it would be with the indexes live. Needs a fresh, empty store of its own.
pub async fn first_loads(store: Arc<dyn Store>) {
    let store = &*store;

    // Two entries with one reference key: refused, at the latest by the commit, with an
    // error that names the key, and nothing of the load is kept.
    store
        .insert_upload(&sample_upload("f0", "f0"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("f0").await.unwrap();
    let a = vault_entry(11, 1);
    load.put_vault(vec![a.clone()]).await.unwrap();
    let mut b = vault_entry(12, 1);
    b.ref_key = a.ref_key.clone();
    let refused = match load.put_vault(vec![b]).await {
        Err(e) => {
            drop(load);
            e
        }
        Ok(_) => {
            let mut done = sample_upload("f0", "f0");
            done.status = UploadStatus::Committed;
            load.commit(done).await.unwrap_err()
        }
    };
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    if store.backend_name() == "sqlite" {
        assert!(
            refused.to_string().contains(a.ref_key.as_str()),
            "{refused}"
        );
    }
    assert!(store.vault_get(&a.ref_key).await.unwrap().is_none());
    assert_eq!(store.registry_counts().await.unwrap().vault_entries, 0);

    // A resident stored twice in one batch of many rows: refused, naming the resident.
    store
        .insert_upload(&sample_upload("fd", "fd"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("fd").await.unwrap();
    let mut residents: Vec<Resident> = (0..150)
        .map(|i| {
            let mut r = sample_resident("PY4200000001", "Member", None);
            r.resident_id = format!("r-{i:03}");
            r
        })
        .collect();
    residents[120].resident_id = "r-070".into();
    let refused = match load
        .insert(vec![sample_household("PY4200000001")], residents)
        .await
    {
        Err(e) => {
            drop(load);
            e
        }
        Ok(()) => {
            let mut done = sample_upload("fd", "fd");
            done.status = UploadStatus::Committed;
            load.commit(done).await.unwrap_err()
        }
    };
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    assert!(refused.to_string().contains("r-070"), "{refused}");
    assert_eq!(store.registry_counts().await.unwrap().residents, 0);

    // The same resident id in two batches, where a backend may see it only when the commit
    // builds the key: refused, naming the resident, and nothing of the load is kept.
    store
        .insert_upload(&sample_upload("fr", "fr"))
        .await
        .unwrap();
    let load = store.begin_registry_load("fr").await.unwrap();
    let mut first = sample_resident("PY4300000001", "Member", None);
    first.resident_id = "r-twice".into();
    let mut second = sample_resident("PY4300000002", "Member", None);
    second.resident_id = "r-twice".into();
    let batches = vec![
        (vec![sample_household("PY4300000001")], vec![first]),
        (vec![sample_household("PY4300000002")], vec![second]),
    ];
    let refused = refused_insert(load, batches, "fr").await;
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    assert!(refused.to_string().contains("r-twice"), "{refused}");
    let counts = store.registry_counts().await.unwrap();
    assert_eq!((counts.households, counts.residents), (0, 0));

    // A resident whose card no household has (the store is told to insert it, beside a
    // household of another card): refused, at the latest by the commit, and nothing is kept.
    store
        .insert_upload(&sample_upload("fc", "fc"))
        .await
        .unwrap();
    let load = store.begin_registry_load("fc").await.unwrap();
    let batches = vec![
        (
            vec![sample_household("PY4500000001")],
            vec![sample_resident("PY4500000001", "Member", None)],
        ),
        (
            Vec::new(),
            vec![sample_resident("PY4500000002", "Orphan", None)],
        ),
    ];
    let refused = refused_insert(load, batches, "fc").await;
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    let counts = store.registry_counts().await.unwrap();
    assert_eq!((counts.households, counts.residents), (0, 0));

    // Two residents given one reference key in two batches (the store is told to, without
    // asking `ref_keys_in_use`): refused, at the latest by the commit, and nothing is kept.
    store
        .insert_upload(&sample_upload("fk", "fk"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("fk").await.unwrap();
    let keys = load.put_vault(vec![vault_entry(61, 1)]).await.unwrap();
    let first = sample_resident("PY4400000001", "Member", Some(keys[0].clone()));
    let second = sample_resident("PY4400000002", "Member", Some(keys[0].clone()));
    let batches = vec![
        (vec![sample_household("PY4400000001")], vec![first]),
        (vec![sample_household("PY4400000002")], vec![second]),
    ];
    let refused = refused_insert(load, batches, "fk").await;
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused}");
    let counts = store.registry_counts().await.unwrap();
    assert_eq!(
        (counts.households, counts.residents, counts.vault_entries),
        (0, 0, 0)
    );
    assert!(store.vault_get(&keys[0]).await.unwrap().is_none());

    // An ID number sent again in a later batch gets the key it got first; one whose blind
    // index only begins like another's is a number of its own.
    store
        .insert_upload(&sample_upload("f1", "f1"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("f1").await.unwrap();
    let first = vault_entry(41, 1);
    let mut batch = vec![first.clone()];
    batch.extend((0..100u8).map(|i| {
        let mut e = vault_entry(i, 1);
        e.blind_index[1] = 0xAA;
        e
    }));
    let keys = load.put_vault(batch.clone()).await.unwrap();
    assert_eq!(
        keys,
        batch.iter().map(|e| e.ref_key.clone()).collect::<Vec<_>>()
    );
    let again = vault_entry(41, 1);
    let mut lookalike = vault_entry(41, 1);
    lookalike.blind_index[31] = 0;
    let later = vault_entry(200, 1);
    let keys = load
        .put_vault(vec![again, lookalike.clone(), later.clone()])
        .await
        .unwrap();
    assert_eq!(
        keys,
        vec![
            first.ref_key.clone(),
            lookalike.ref_key.clone(),
            later.ref_key.clone()
        ]
    );
    // After a batch that repeated a number, a new number is a number of its own, and one of
    // that batch sent again gets the key it got there.
    let fresh = vault_entry(201, 1);
    let mut lookalike_again = vault_entry(41, 1);
    lookalike_again.blind_index[31] = 0;
    assert_eq!(
        load.put_vault(vec![fresh.clone()]).await.unwrap(),
        vec![fresh.ref_key.clone()]
    );
    assert_eq!(
        load.put_vault(vec![lookalike_again]).await.unwrap(),
        vec![lookalike.ref_key.clone()]
    );
    let household = sample_household("PY4100000001");
    let resident = sample_resident("PY4100000001", "Meena", Some(first.ref_key.clone()));
    load.insert(vec![household], vec![resident]).await.unwrap();
    // Cards of an earlier batch and of the last one are there, others not, in the order asked
    // (a backend may answer from what the load wrote rather than by looking them up).
    load.insert(
        vec![
            sample_household("PY4100000003"),
            sample_household("PY4100000002"),
        ],
        Vec::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        load.existing_cards(vec![
            "PY4100000002".into(),
            "PY4100000009".into(),
            "PY4100000001".into(),
        ])
        .await
        .unwrap(),
        ["PY4100000002", "PY4100000001"]
    );
    assert_eq!(
        load.ref_keys_in_use(vec![first.ref_key.clone(), later.ref_key.clone()])
            .await
            .unwrap(),
        vec![first.ref_key.clone()]
    );
    let mut done = sample_upload("f1", "f1");
    done.status = UploadStatus::Committed;
    load.commit(done).await.unwrap();
    let counts = store.registry_counts().await.unwrap();
    assert_eq!(counts.vault_entries, 104);
    assert_eq!(counts.residents, 1);
    assert_eq!(
        store.vault_find(&[41; 32]).await.unwrap().unwrap().ref_key,
        first.ref_key
    );
    assert_eq!(
        store
            .vault_find(&lookalike.blind_index)
            .await
            .unwrap()
            .unwrap()
            .ref_key,
        lookalike.ref_key
    );
    assert!(store.vault_get(&later.ref_key).await.unwrap().is_some());
}

/// Inserts `batches` in `load` and commits it, when every row of them should be refused at
/// some step (at the latest by the commit): the refusal, with the load gone.
async fn refused_insert(
    mut load: Box<dyn crate::RegistryLoad>,
    batches: Vec<(Vec<Household>, Vec<Resident>)>,
    upload_id: &str,
) -> StoreError {
    for (households, residents) in batches {
        if let Err(e) = load.insert(households, residents).await {
            return e;
        }
    }
    let mut done = sample_upload(upload_id, upload_id);
    done.status = UploadStatus::Committed;
    load.commit(done).await.unwrap_err()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

/// A household with a given card number, for scenarios.
pub fn sample_household(card: &str) -> Household {
    let now = audit::truncate_to_micros(Utc::now());
    Household {
        card_number: RationCardNumber::parse(card).unwrap(),
        card_type: CardType::parse("PHH").unwrap(),
        address: Address {
            house_no: Some("12/3".into()),
            street: Some("Mission Street".into()),
            locality: Some("Muthialpet".into()),
            pincode: Some("605003".into()),
        },
        village_code: VillageCode::parse("640001").unwrap(),
        head_resident_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

/// A resident of `card`, for scenarios.
pub fn sample_resident(card: &str, name: &str, id_ref_key: Option<RefKey>) -> Resident {
    let now = audit::truncate_to_micros(Utc::now());
    Resident {
        resident_id: uuid::Uuid::now_v7().to_string(),
        card_number: RationCardNumber::parse(card).unwrap(),
        name: PersonName::parse(name).unwrap(),
        relative_name: Some(PersonName::parse("K. Subramanian").unwrap()),
        gender: Gender::parse("F").unwrap(),
        dob: DateOfBirth::parse("12-04-1981", today()).unwrap(),
        relationship: Relationship::parse("SPOUSE").unwrap(),
        mobile_masked: Some("XXXXXX3210".into()),
        mobile_blind_index: Some([7u8; 32]),
        id_ref_key,
        ekyc_status: EkycStatus::default(),
        life_status: LifeStatus::default(),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

fn vault_entry(blind: u8, version: u32) -> NewVaultEntry {
    NewVaultEntry {
        ref_key: RefKey::generate(),
        blind_index: [blind; 32],
        key_version: version,
        sealed: vec![blind, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
        consent_ref: format!("FORM-{blind}"),
        created_at: audit::truncate_to_micros(Utc::now()),
    }
}

async fn meta(store: &dyn Store) {
    store.ping().await.expect("ping");
    assert_eq!(store.get_meta("color").await.unwrap(), None);
    assert_eq!(store.init_meta("color", "blue").await.unwrap(), "blue");
    assert_eq!(
        store.init_meta("color", "red").await.unwrap(),
        "blue",
        "init_meta never overwrites"
    );
    assert_eq!(
        store.get_meta("color").await.unwrap().as_deref(),
        Some("blue")
    );
}

async fn vault_keys(store: &dyn Store) {
    let key = StoredDataKey {
        version: 1,
        purpose: "encryption".into(),
        wrapped: vec![1; 60],
        status: KeyStatus::Active,
        created_at: audit::truncate_to_micros(Utc::now()),
    };
    store.insert_vault_key(&key).await.unwrap();
    let blind = StoredDataKey {
        purpose: "blind_index".into(),
        ..key.clone()
    };
    store.insert_vault_key(&blind).await.unwrap();
    assert!(
        matches!(
            store.insert_vault_key(&key).await,
            Err(StoreError::Conflict(_))
        ),
        "a key version cannot be inserted twice"
    );
    let v2 = StoredDataKey {
        version: 2,
        wrapped: vec![2; 60],
        ..key.clone()
    };
    store.insert_vault_key(&v2).await.unwrap();
    store
        .set_vault_key_status("encryption", 1, KeyStatus::Retired)
        .await
        .unwrap();
    let keys = store.vault_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    let v1 = keys
        .iter()
        .find(|k| k.purpose == "encryption" && k.version == 1)
        .unwrap();
    assert_eq!(v1.status, KeyStatus::Retired);
    assert_eq!(keys.iter().find(|k| k.version == 2).unwrap(), &v2);
    assert!(matches!(
        store
            .set_vault_key_status("encryption", 9, KeyStatus::Retired)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn vault_entries(store: &dyn Store) {
    let a = vault_entry(10, 1);
    let b = vault_entry(11, 1);
    let keys = store.vault_put(&[a.clone(), b.clone()]).await.unwrap();
    assert_eq!(keys, vec![a.ref_key.clone(), b.ref_key.clone()]);

    // The same number again, offered with a new reference key, keeps its first one; a batch
    // that holds one number twice gets one key for both.
    let a_again = vault_entry(10, 1);
    let c = vault_entry(12, 1);
    let c_twice = vault_entry(12, 1);
    let keys = store
        .vault_put(&[a_again, c.clone(), c_twice])
        .await
        .unwrap();
    assert_eq!(
        keys,
        vec![a.ref_key.clone(), c.ref_key.clone(), c.ref_key.clone()]
    );

    let got = store.vault_get(&a.ref_key).await.unwrap().unwrap();
    assert_eq!(got.sealed, a.sealed);
    assert_eq!(got.consent_ref, "FORM-10");
    assert_eq!(got.blind_index, [10; 32]);
    assert_eq!(got.created_at, a.created_at);
    assert_eq!(
        store.vault_find(&[11; 32]).await.unwrap().unwrap().ref_key,
        b.ref_key
    );
    assert!(store.vault_find(&[99; 32]).await.unwrap().is_none());
    assert!(
        store
            .vault_get(&RefKey::generate())
            .await
            .unwrap()
            .is_none()
    );

    let old = store.vault_entries_below_version(2, None, 2).await.unwrap();
    assert_eq!(old.len(), 2, "limit respected");
    assert!(
        old[0].ref_key.as_str() < old[1].ref_key.as_str(),
        "in reference-key order"
    );
    let rest = store
        .vault_entries_below_version(2, Some(&old[1].ref_key), 100)
        .await
        .unwrap();
    assert_eq!(
        rest.len(),
        1,
        "the cursor continues after the last key seen"
    );
    assert!(rest[0].ref_key.as_str() > old[1].ref_key.as_str());
    let reseal = |sealed: u8| Reseal {
        ref_key: a.ref_key.clone(),
        expected_version: 1,
        new_version: 2,
        sealed: vec![sealed; 20],
    };
    assert_eq!(store.vault_reseal(&[reseal(9)]).await.unwrap(), 1);
    assert_eq!(
        store.vault_reseal(&[reseal(8)]).await.unwrap(),
        0,
        "a reseal against a stale version is refused"
    );
    assert_eq!(store.vault_reseal(&[]).await.unwrap(), 0);
    let resealed = store.vault_get(&a.ref_key).await.unwrap().unwrap();
    assert_eq!(
        (resealed.key_version, resealed.sealed.clone()),
        (2, vec![9; 20])
    );
    assert_eq!(
        store
            .vault_entries_below_version(2, None, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    let mut counts = store.vault_count_by_version().await.unwrap();
    counts.sort();
    assert_eq!(counts, vec![(1, 2), (2, 1)]);
}

async fn registry(store: &dyn Store) {
    let h1 = sample_household("PY0100000001");
    let h2 = sample_household("TN-33-ABC/123");
    let rk = store
        .vault_put(&[vault_entry(20, 1)])
        .await
        .unwrap()
        .remove(0);
    let r1 = sample_resident("PY0100000001", "Lakshmi", Some(rk.clone()));
    let mut r2 = sample_resident("PY0100000001", "K. Ramesh", None);
    r2.gender = Gender::parse("M").unwrap();
    r2.relationship = Relationship::parse("HEAD").unwrap();
    r2.mobile_masked = None;
    r2.mobile_blind_index = None;
    r2.relative_name = None;
    r2.dob = DateOfBirth::parse("1975", today()).unwrap();
    let r3 = sample_resident("TN-33-ABC/123", "Mohammed Iqbal", None);
    store
        .insert_registry(
            &[h1.clone(), h2.clone()],
            &[r1.clone(), r2.clone(), r3.clone()],
        )
        .await
        .unwrap();

    assert_eq!(store.household(&h1.card_number).await.unwrap().unwrap(), h1);
    assert_eq!(store.household(&h2.card_number).await.unwrap().unwrap(), h2);
    let members = store.residents_of(&h1.card_number).await.unwrap();
    assert_eq!(members.len(), 2);
    assert!(
        members.contains(&r1) && members.contains(&r2),
        "residents read back unchanged"
    );
    assert_eq!(store.resident(&r3.resident_id).await.unwrap().unwrap(), r3);
    assert_eq!(store.resident_by_ref_key(&rk).await.unwrap().unwrap(), r1);
    assert!(store.resident("no-such-id").await.unwrap().is_none());
    assert!(
        store
            .household(&RationCardNumber::parse("XX9999").unwrap())
            .await
            .unwrap()
            .is_none()
    );

    // A duplicate card in a later batch is refused and nothing of that batch is kept.
    let h3 = sample_household("PY0100000003");
    let r4 = sample_resident("PY0100000003", "Anbu", None);
    let err = store
        .insert_registry(&[h3.clone(), h1.clone()], std::slice::from_ref(&r4))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(
        store.household(&h3.card_number).await.unwrap().is_none(),
        "the batch is atomic"
    );
    assert!(store.resident(&r4.resident_id).await.unwrap().is_none());

    // Updates check the version and keep history.
    let ctx = ChangeContext {
        actor: "admin".into(),
        reason: Some("death registered".into()),
        at: audit::truncate_to_micros(Utc::now()),
    };
    let mut updated = r1.clone();
    updated.life_status = LifeStatus::parse("deceased").unwrap();
    updated.version = 2;
    updated.updated_at = ctx.at;
    let changes = vec![FieldChange {
        field: "life_status",
        old_value: Some("alive".into()),
        new_value: Some("deceased".into()),
    }];
    store
        .update_resident(&updated, &changes, &ctx)
        .await
        .unwrap();
    assert_eq!(
        store.resident(&r1.resident_id).await.unwrap().unwrap(),
        updated
    );
    let err = store
        .update_resident(&updated, &changes, &ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(_)),
        "a stale version is refused: {err}"
    );
    let history = store
        .history(EntityKind::Resident, &r1.resident_id)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].field, "life_status");
    assert_eq!(history[0].old_value.as_deref(), Some("alive"));
    assert_eq!(history[0].new_value.as_deref(), Some("deceased"));
    assert_eq!(history[0].actor, "admin");
    assert_eq!(history[0].reason.as_deref(), Some("death registered"));
    assert_eq!(history[0].at, ctx.at);

    let mut household = h1.clone();
    household.head_resident_id = Some(r2.resident_id.clone());
    household.version = 2;
    let changes = vec![FieldChange {
        field: "head_resident_id",
        old_value: None,
        new_value: Some(r2.resident_id.clone()),
    }];
    store
        .update_household(&household, &changes, &ctx)
        .await
        .unwrap();
    assert_eq!(
        store.household(&h1.card_number).await.unwrap().unwrap(),
        household
    );
    assert_eq!(
        store
            .history(EntityKind::Household, h1.card_number.as_str())
            .await
            .unwrap()
            .len(),
        1
    );

    let counts = store.registry_counts().await.unwrap();
    assert_eq!(
        (
            counts.households,
            counts.residents,
            counts.residents_with_id_number
        ),
        (2, 3, 1)
    );
    assert!(counts.vault_entries >= 1);
}

async fn audit_chain(store: Arc<dyn Store>) {
    let draft = |i: usize| AuditDraft {
        at: Utc::now(),
        actor: format!("actor-{i}"),
        action: "test.event".into(),
        target: i.is_multiple_of(2).then(|| format!("target-{i}")),
        details: format!("{{\"i\":{i},\"note\":\"ünïcode ✓\"}}"),
    };
    let first = store.append_audit(&draft(0)).await.unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, audit::GENESIS_HASH);

    // Appends from many tasks at once still form one chain.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                store.append_audit(&draft(t * 100 + i)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, 16).await.unwrap();
        if page.is_empty() {
            break;
        }
        for entry in &page {
            verifier
                .check(entry)
                .unwrap_or_else(|e| panic!("chain broken: {e}"));
        }
        after = page.last().unwrap().seq;
    }
    assert_eq!(verifier.checked(), 81);
    let stored_first = store.audit_entries(0, 1).await.unwrap().remove(0);
    assert_eq!(
        stored_first, first,
        "the entry reads back exactly as it was hashed"
    );
}

async fn jobs(store: Arc<dyn Store>) {
    let now = Utc::now();
    let later = now + Duration::hours(1);
    let a = store
        .enqueue_job("kind.a", &serde_json::json!({"n": 1}), now)
        .await
        .unwrap();
    let b = store
        .enqueue_job("kind.b", &serde_json::json!({"n": 2}), now)
        .await
        .unwrap();
    let future = store
        .enqueue_job("kind.c", &serde_json::json!({}), later)
        .await
        .unwrap();

    let lease = now + Duration::minutes(5);
    let first = store.claim_job(now, lease).await.unwrap().unwrap();
    assert_eq!(first.id, a, "the oldest due job comes first");
    assert_eq!(first.status, JobStatus::Running);
    assert_eq!(first.attempts, 1);
    assert_eq!(first.payload, serde_json::json!({"n": 1}));
    let second = store.claim_job(now, lease).await.unwrap().unwrap();
    assert_eq!(second.id, b);
    assert!(
        store.claim_job(now, lease).await.unwrap().is_none(),
        "a job not due stays queued"
    );

    // A lease that runs out lets another worker take the job over.
    let after_lease = lease + Duration::seconds(1);
    let retaken = store
        .claim_job(after_lease, after_lease + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(retaken.map(|j| (j.id, j.attempts)), Some((a, 2)));

    store.complete_job(a, now).await.unwrap();
    store
        .requeue_job(
            b,
            &serde_json::json!({"cursor": "x"}),
            now,
            Some("transient"),
        )
        .await
        .unwrap();
    let b_again = store.claim_job(now, lease).await.unwrap().unwrap();
    assert_eq!(b_again.id, b);
    assert_eq!(b_again.payload, serde_json::json!({"cursor": "x"}));
    assert_eq!(b_again.last_error.as_deref(), Some("transient"));
    assert_eq!(b_again.attempts, 2, "a failed attempt counts");
    // A step that succeeded puts the count of attempts back to zero.
    store
        .requeue_job(b, &serde_json::json!({"cursor": "y"}), now, None)
        .await
        .unwrap();
    let b_next = store.claim_job(now, lease).await.unwrap().unwrap();
    assert_eq!((b_next.id, b_next.attempts), (b, 1));
    assert_eq!(b_next.payload, serde_json::json!({"cursor": "y"}));
    store.fail_job(b, "gave up", now).await.unwrap();
    assert_eq!(
        store.job(b).await.unwrap().unwrap().status,
        JobStatus::Failed
    );
    assert_eq!(store.job(a).await.unwrap().unwrap().status, JobStatus::Done);
    let pending: Vec<i64> = store
        .pending_jobs()
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(pending, vec![b, future]);

    // Concurrent workers never take the same job.
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            store
                .enqueue_job("kind.many", &serde_json::json!({"i": i}), now)
                .await
                .unwrap(),
        );
    }
    let mut workers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            while let Some(job) = store.claim_job(now, lease).await.unwrap() {
                taken.push(job.id);
            }
            taken
        }));
    }
    let mut seen = HashSet::new();
    for worker in workers {
        for id in worker.await.unwrap() {
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(seen, ids.into_iter().collect::<HashSet<_>>());
}

async fn accounts(store: &dyn Store) {
    let now = audit::truncate_to_micros(Utc::now());
    let user = User {
        username: "admin".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$abc$def".into(),
        role: Role::Admin,
        organisation: None,
        disabled: false,
        created_at: now,
    };
    store.upsert_user(&user).await.unwrap();
    assert_eq!(store.user("admin").await.unwrap().unwrap(), user);
    let changed = User {
        password_hash: "other".into(),
        role: Role::NodalOfficer,
        organisation: Some("social-welfare".into()),
        disabled: true,
        ..user.clone()
    };
    store.upsert_user(&changed).await.unwrap();
    assert_eq!(store.user("admin").await.unwrap().unwrap(), changed);
    assert!(store.user("nobody").await.unwrap().is_none());

    let session = Session {
        token_hash: [3; 32],
        username: "admin".into(),
        created_at: now,
        expires_at: now + Duration::hours(8),
    };
    store.insert_session(&session).await.unwrap();
    assert_eq!(store.session(&[3; 32]).await.unwrap().unwrap(), session);
    store.delete_session(&[3; 32]).await.unwrap();
    assert!(store.session(&[3; 32]).await.unwrap().is_none());
}

fn sample_upload(id: &str, sha: &str) -> UploadRecord {
    UploadRecord {
        id: id.into(),
        dataset: "base".into(),
        organisation: "civil-supplies".into(),
        uploaded_by: "officer".into(),
        file_name: "cards.csv".into(),
        file_sha256: sha.into(),
        idempotency_key: "first".into(),
        mode: "full".into(),
        status: UploadStatus::Received,
        counts: UploadCounts::default(),
        corrects: None,
        error: None,
        received_at: audit::truncate_to_micros(Utc::now()),
        finished_at: None,
        rejections_purged_at: None,
    }
}

async fn uploads(store: &dyn Store) {
    let first = sample_upload("u1", "aa");
    store.insert_upload(&first).await.unwrap();
    assert!(
        matches!(
            store.insert_upload(&sample_upload("u1-again", "aa")).await,
            Err(StoreError::Conflict(_))
        ),
        "the same file with the same idempotency key is one upload"
    );
    assert_eq!(store.upload("u1").await.unwrap().unwrap(), first);
    assert_eq!(
        store
            .find_upload("base", "civil-supplies", "aa", "first")
            .await
            .unwrap()
            .unwrap()
            .id,
        "u1"
    );
    assert!(
        store
            .find_upload("base", "civil-supplies", "aa", "second")
            .await
            .unwrap()
            .is_none()
    );

    // A load is invisible until it commits, and a live load is never reaped.
    let mut load = store.begin_registry_load("u1").await.unwrap();
    let entry = vault_entry(77, 1);
    let keys = load
        .put_vault(vec![entry.clone(), vault_entry(78, 1)])
        .await
        .unwrap();
    assert_eq!(keys[0], entry.ref_key);
    let household = sample_household("PY7700000001");
    let resident = sample_resident("PY7700000001", "Meena", Some(keys[0].clone()));
    load.insert(vec![household.clone()], vec![resident.clone()])
        .await
        .unwrap();
    assert_eq!(
        load.existing_cards(vec!["PY7700000001".into(), "PY7700000002".into()])
            .await
            .unwrap(),
        vec!["PY7700000001".to_owned()]
    );
    assert_eq!(
        load.ref_keys_in_use(keys.clone()).await.unwrap(),
        vec![keys[0].clone()]
    );
    assert!(
        store
            .household(&household.card_number)
            .await
            .unwrap()
            .is_none(),
        "not visible before commit"
    );
    assert!(
        store.vault_get(&entry.ref_key).await.unwrap().is_none(),
        "vault entries too"
    );
    assert_eq!(
        store.reap_interrupted_uploads(Utc::now()).await.unwrap(),
        0,
        "a live load is not reaped"
    );
    let mut done = first.clone();
    done.status = UploadStatus::Committed;
    done.counts = UploadCounts {
        rows: 1,
        accepted: 1,
        added: 1,
        ..UploadCounts::default()
    };
    done.finished_at = Some(audit::truncate_to_micros(Utc::now()));
    load.commit(done.clone()).await.unwrap();
    assert_eq!(
        store
            .household(&household.card_number)
            .await
            .unwrap()
            .unwrap(),
        household
    );
    assert_eq!(
        store
            .resident(&resident.resident_id)
            .await
            .unwrap()
            .unwrap(),
        resident
    );
    assert_eq!(store.upload("u1").await.unwrap().unwrap(), done);

    // A load that is dropped leaves nothing, and its upload is reaped as interrupted.
    let second = sample_upload("u2", "bb");
    store.insert_upload(&second).await.unwrap();
    let mut load = store.begin_registry_load("u2").await.unwrap();
    load.insert(vec![sample_household("PY7700000009")], vec![])
        .await
        .unwrap();
    drop(load);
    // The status write of a dropped load is rolled back with it; mark it as the loader would
    // have before beginning, then let the reaper find it.
    let mut validating = second.clone();
    validating.status = UploadStatus::Validating;
    store.update_upload(&validating).await.unwrap();
    let ids = |uploads: Vec<UploadRecord>| uploads.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(ids(store.uploads_validating().await.unwrap()), ["u2"]);
    let mut reaped = 0;
    for _ in 0..50 {
        reaped = store.reap_interrupted_uploads(Utc::now()).await.unwrap();
        if reaped > 0 {
            break;
        }
        // The dropped load's connection may take a moment to let go of its locks.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(reaped, 1);
    let reaped = store.upload("u2").await.unwrap().unwrap();
    assert_eq!(reaped.status, UploadStatus::Interrupted);
    assert!(reaped.error.is_some());
    assert!(store.uploads_validating().await.unwrap().is_empty());
    assert!(
        store
            .household(&RationCardNumber::parse("PY7700000009").unwrap())
            .await
            .unwrap()
            .is_none(),
        "nothing of a dropped load is kept"
    );
    let listed: Vec<String> = store
        .uploads(Some("civil-supplies"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(
        store
            .uploads(Some("other-department"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

fn sample_dataset(name: &str, version: u32) -> (Dataset, DatasetSpecVersion) {
    let now = audit::truncate_to_micros(Utc::now());
    (
        Dataset {
            name: name.into(),
            title: format!("{name} beneficiaries"),
            organisation: "social-welfare".into(),
            current_version: version,
            update_frequency_days: Some(30),
            created_by: "admin".into(),
            created_at: now,
            updated_at: now,
        },
        DatasetSpecVersion {
            dataset: name.into(),
            version,
            spec_json: format!("{{\"dataset\":\"{name}\",\"version\":{version}}}"),
            created_by: "admin".into(),
            created_at: now,
        },
    )
}

async fn datasets(store: &dyn Store) {
    let (d, spec) = sample_dataset("old_age_pension", 1);
    store.insert_dataset(&d, &spec).await.unwrap();
    assert!(matches!(
        store.insert_dataset(&d, &spec).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.dataset("old_age_pension").await.unwrap().unwrap(), d);
    assert!(store.dataset("nothing").await.unwrap().is_none());

    let (mut d2, spec2) = sample_dataset("old_age_pension", 2);
    d2.created_at = d.created_at;
    d2.update_frequency_days = None;
    store.add_spec_version(&d2, &spec2).await.unwrap();
    assert!(
        matches!(
            store.add_spec_version(&d2, &spec2).await,
            Err(StoreError::Conflict(_))
        ),
        "a spec version is written once"
    );
    let (other, other_spec) = sample_dataset("missing", 2);
    assert!(matches!(
        store.add_spec_version(&other, &other_spec).await,
        Err(StoreError::NotFound(_))
    ));
    let now_current = store.dataset("old_age_pension").await.unwrap().unwrap();
    assert_eq!(now_current.current_version, 2);
    assert_eq!(now_current.update_frequency_days, None);
    assert_eq!(
        store
            .spec_version("old_age_pension", 1)
            .await
            .unwrap()
            .unwrap(),
        spec,
        "earlier versions stay readable"
    );
    assert!(
        store
            .spec_version("old_age_pension", 3)
            .await
            .unwrap()
            .is_none()
    );
    let (widow, widow_spec) = sample_dataset("widow_pension", 1);
    store.insert_dataset(&widow, &widow_spec).await.unwrap();
    let names: Vec<String> = store
        .datasets()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["old_age_pension", "widow_pension"]);
}

fn sample_enrolment(key: &str, upload: &str, ref_key: Option<RefKey>) -> Enrolment {
    let now = audit::truncate_to_micros(Utc::now());
    Enrolment {
        dataset: "old_age_pension".into(),
        record_key: key.into(),
        ref_key,
        resident_id: None,
        fields: serde_json::json!({"name": "Lakshmi", "pension_amount": 1500.0}),
        key_version: 1,
        sealed: vec![9; 40],
        digest: [key.len() as u8; 32],
        status: EnrolmentStatus::Active,
        spec_version: 1,
        upload_id: upload.into(),
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

async fn upload_outputs_and_enrolments(store: &dyn Store) {
    let mut first = sample_upload("s1", "cc");
    first.dataset = "old_age_pension".into();
    first.organisation = "social-welfare".into();
    store.insert_upload(&first).await.unwrap();

    // The registry the enrolments link to.
    let entry = vault_entry(91, 1);
    store.vault_put(std::slice::from_ref(&entry)).await.unwrap();
    let resident = sample_resident("PY9100000001", "Lakshmi", Some(entry.ref_key.clone()));
    store
        .insert_registry(
            &[sample_household("PY9100000001")],
            std::slice::from_ref(&resident),
        )
        .await
        .unwrap();

    let mut load = store.begin_registry_load("s1").await.unwrap();
    load.put_header(vec!["beneficiary_id".into(), "name".into()])
        .await
        .unwrap();
    load.put_rejections(vec![
        StoredRejection {
            line: 3,
            key_version: 1,
            sealed: vec![1, 2, 3],
        },
        StoredRejection {
            line: 9,
            key_version: 1,
            sealed: vec![4, 5],
        },
    ])
    .await
    .unwrap();
    let unknown = RefKey::generate();
    assert_eq!(
        load.residents_by_ref_keys(vec![entry.ref_key.clone(), unknown])
            .await
            .unwrap(),
        vec![(entry.ref_key.clone(), resident.resident_id.clone())]
    );
    let mut linked = sample_enrolment("OAP-1", "s1", Some(entry.ref_key.clone()));
    linked.resident_id = Some(resident.resident_id.clone());
    let enrolments = vec![
        linked.clone(),
        sample_enrolment("OAP-2", "s1", None),
        sample_enrolment("OAP-33", "s1", None),
    ];
    load.upsert_enrolments(enrolments.clone()).await.unwrap();
    load.put_mapping(
        enrolments
            .iter()
            .enumerate()
            .map(|(i, e)| MappingEntry {
                seq: i as u64 + 1,
                record_key: e.record_key.clone(),
                ref_key: e.ref_key.clone(),
                id_masked: e.ref_key.as_ref().map(|_| "XXXX XXXX 1234".into()),
                resident_id: e.resident_id.clone(),
                outcome: "added".into(),
            })
            .collect(),
    )
    .await
    .unwrap();
    assert!(
        store
            .enrolment("old_age_pension", "OAP-1")
            .await
            .unwrap()
            .is_none(),
        "enrolments are invisible until the load commits"
    );
    assert!(
        store
            .upload_rejections("s1", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut done = first.clone();
    done.status = UploadStatus::Committed;
    done.finished_at = Some(audit::truncate_to_micros(Utc::now()));
    load.commit(done.clone()).await.unwrap();

    assert_eq!(
        store.upload_header("s1").await.unwrap().unwrap(),
        ["beneficiary_id", "name"]
    );
    assert!(store.upload_header("u2").await.unwrap().is_none());
    let rejections = store.upload_rejections("s1", 0, 10).await.unwrap();
    assert_eq!(
        rejections.iter().map(|r| r.line).collect::<Vec<_>>(),
        [3, 9]
    );
    assert_eq!(rejections[1].sealed, [4, 5]);
    assert_eq!(store.upload_rejections("s1", 3, 10).await.unwrap().len(), 1);
    let mapping = store.upload_mapping("s1", 0, 2).await.unwrap();
    assert_eq!(mapping.len(), 2, "paged");
    assert_eq!(mapping[0].record_key, "OAP-1");
    assert_eq!(mapping[0].ref_key.as_ref(), Some(&entry.ref_key));
    assert_eq!(
        mapping[0].resident_id.as_deref(),
        Some(resident.resident_id.as_str())
    );
    assert_eq!(store.upload_mapping("s1", 2, 10).await.unwrap().len(), 1);
    assert_eq!(store.upload_mapping_len("s1").await.unwrap(), 3);
    assert_eq!(store.upload_mapping_len("no-such-upload").await.unwrap(), 0);
    assert_eq!(
        store
            .enrolment("old_age_pension", "OAP-1")
            .await
            .unwrap()
            .unwrap(),
        linked
    );
    assert_eq!(
        store
            .count_active_enrolments("old_age_pension")
            .await
            .unwrap(),
        3
    );
    let page: Vec<String> = store
        .enrolments("old_age_pension", Some("OAP-1"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record_key)
        .collect();
    assert_eq!(page, ["OAP-2", "OAP-33"]);
    let last = store.last_uploads().await.unwrap();
    let oap = last
        .iter()
        .find(|l| l.dataset == "old_age_pension")
        .expect("the committed upload is the dataset's last");
    assert_eq!(oap.upload_id, "s1");
    assert_eq!(Some(oap.finished_at), done.finished_at);

    // A second, full upload: one record changes, one is unchanged, one is absent.
    let mut second = sample_upload("s2", "dd");
    second.dataset = "old_age_pension".into();
    second.organisation = "social-welfare".into();
    store.insert_upload(&second).await.unwrap();
    let mut load = store.begin_registry_load("s2").await.unwrap();
    let states = load
        .enrolment_states(
            "old_age_pension",
            vec!["OAP-1".into(), "OAP-2".into(), "OAP-new".into()],
        )
        .await
        .unwrap();
    assert_eq!(states.len(), 2);
    let one = states.iter().find(|s| s.record_key == "OAP-1").unwrap();
    assert_eq!(one.digest, linked.digest);
    assert_eq!(one.status, EnrolmentStatus::Active);
    assert_eq!(one.ref_key.as_ref(), Some(&entry.ref_key));
    let mut changed = sample_enrolment("OAP-1", "s2", Some(entry.ref_key.clone()));
    changed.fields = serde_json::json!({"name": "Lakshmi", "pension_amount": 2000.0});
    changed.version = 2;
    changed.created_at = linked.created_at;
    load.upsert_enrolments(vec![changed.clone()]).await.unwrap();
    load.touch_enrolments("old_age_pension", vec!["OAP-2".into()], "s2")
        .await
        .unwrap();
    let now = audit::truncate_to_micros(Utc::now());
    let removed = load
        .remove_enrolments_not_seen("old_age_pension", "s2", now, 1000)
        .await
        .unwrap();
    assert_eq!(removed, ["OAP-33"]);
    assert!(
        load.remove_enrolments_not_seen("old_age_pension", "s2", now, 1000)
            .await
            .unwrap()
            .is_empty(),
        "a removed record is not removed twice"
    );
    assert_eq!(
        load.remove_enrolments(
            "old_age_pension",
            vec!["OAP-2".into(), "OAP-33".into()],
            "s2",
            now
        )
        .await
        .unwrap(),
        ["OAP-2"],
        "only active records are removed"
    );
    let mut done = second.clone();
    done.status = UploadStatus::Committed;
    done.finished_at = Some(now);
    load.commit(done).await.unwrap();
    assert_eq!(
        store
            .enrolment("old_age_pension", "OAP-1")
            .await
            .unwrap()
            .unwrap(),
        changed
    );
    let gone = store
        .enrolment("old_age_pension", "OAP-33")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.status, EnrolmentStatus::Removed);
    assert_eq!(gone.upload_id, "s2");
    assert_eq!(gone.version, 2);
    assert_eq!(
        store
            .count_active_enrolments("old_age_pension")
            .await
            .unwrap(),
        1
    );

    // Records found by the reference key an incremental row names them by: only active ones
    // of the dataset, every one that holds the key (a person enrolled twice), and the load's
    // own writes are seen. Left uncommitted: nothing of it stays.
    let mut third = sample_upload("s3", "ee");
    third.dataset = "old_age_pension".into();
    third.organisation = "social-welfare".into();
    store.insert_upload(&third).await.unwrap();
    let mut load = store.begin_registry_load("s3").await.unwrap();
    let by_ref_key = |states: Vec<EnrolmentState>| -> Vec<(String, Option<RefKey>, i64)> {
        let mut found: Vec<_> = states
            .into_iter()
            .inspect(|s| assert_eq!(s.status, EnrolmentStatus::Active))
            .map(|s| (s.record_key, s.ref_key, s.version))
            .collect();
        found.sort();
        found
    };
    let unknown = RefKey::generate();
    assert_eq!(
        by_ref_key(
            load.active_enrolments_by_ref_keys(
                "old_age_pension",
                vec![entry.ref_key.clone(), unknown.clone()]
            )
            .await
            .unwrap()
        ),
        [("OAP-1".to_owned(), Some(entry.ref_key.clone()), 2)]
    );
    let twice = sample_enrolment("OAP-44", "s3", Some(entry.ref_key.clone()));
    let mut gone = sample_enrolment("OAP-45", "s3", Some(entry.ref_key.clone()));
    gone.status = EnrolmentStatus::Removed;
    load.upsert_enrolments(vec![twice, gone]).await.unwrap();
    assert_eq!(
        by_ref_key(
            load.active_enrolments_by_ref_keys("old_age_pension", vec![entry.ref_key.clone()])
                .await
                .unwrap()
        ),
        [
            ("OAP-1".to_owned(), Some(entry.ref_key.clone()), 2),
            ("OAP-44".to_owned(), Some(entry.ref_key.clone()), 1)
        ]
    );
    assert!(
        load.active_enrolments_by_ref_keys("widow_pension", vec![entry.ref_key.clone()])
            .await
            .unwrap()
            .is_empty(),
        "another dataset's records"
    );
    drop(load);
    assert!(
        store
            .enrolment("old_age_pension", "OAP-44")
            .await
            .unwrap()
            .is_none()
    );
}

/// The reads conflict reports are made of: a resident enrolled twice in one scheme, two
/// members of one household in one scheme, residents in two schemes; removed and unlinked
/// records never count.
async fn conflict_reads(store: &dyn Store) {
    for name in ["conflict_a", "conflict_b"] {
        let (d, spec) = sample_dataset(name, 1);
        store.insert_dataset(&d, &spec).await.unwrap();
    }
    let (card1, card2, card3) = ("PY9200000001", "PY9200000002", "PY9200000003");
    let r1 = sample_resident(card1, "Lakshmi", None);
    let r2 = sample_resident(card1, "Meena", None);
    let r3 = sample_resident(card2, "Kamala", None);
    let r4 = sample_resident(card3, "Saroja", None);
    store
        .insert_registry(
            &[
                sample_household(card1),
                sample_household(card2),
                sample_household(card3),
            ],
            &[r1.clone(), r2.clone(), r3.clone(), r4.clone()],
        )
        .await
        .unwrap();

    let mut upload = sample_upload("c1", "c1");
    upload.dataset = "conflict_a".into();
    store.insert_upload(&upload).await.unwrap();
    let enrolment = |dataset: &str, key: &str, resident: Option<&Resident>| {
        let mut e = sample_enrolment(key, "c1", None);
        e.dataset = dataset.into();
        e.resident_id = resident.map(|r| r.resident_id.clone());
        e
    };
    let mut removed = enrolment("conflict_a", "A-6", Some(&r3));
    removed.status = EnrolmentStatus::Removed;
    let mut load = store.begin_registry_load("c1").await.unwrap();
    load.upsert_enrolments(vec![
        enrolment("conflict_a", "A-1", Some(&r1)),
        enrolment("conflict_a", "A-2", Some(&r1)),
        enrolment("conflict_a", "A-3", Some(&r2)),
        enrolment("conflict_a", "A-4", Some(&r3)),
        enrolment("conflict_a", "A-5", None),
        removed,
        enrolment("conflict_b", "B-1", Some(&r3)),
        enrolment("conflict_b", "B-2", Some(&r2)),
        enrolment("conflict_b", "B-3", Some(&r4)),
    ])
    .await
    .unwrap();
    let mut done = upload.clone();
    done.status = UploadStatus::Committed;
    done.finished_at = Some(audit::truncate_to_micros(Utc::now()));
    load.commit(done).await.unwrap();

    let keys = |page: &[LinkedEnrolment]| -> Vec<String> {
        page.iter()
            .map(|e| format!("{}:{}", e.dataset, e.record_key))
            .collect()
    };
    let page = store
        .linked_enrolments("conflict_a", None, 2)
        .await
        .unwrap();
    assert_eq!(keys(&page), ["conflict_a:A-1", "conflict_a:A-2"], "paged");
    assert_eq!(
        page[0].resident, r1,
        "with the resident as the registry holds them"
    );
    let page = store
        .linked_enrolments("conflict_a", Some("A-2"), 10)
        .await
        .unwrap();
    assert_eq!(
        keys(&page),
        ["conflict_a:A-3", "conflict_a:A-4"],
        "the unlinked A-5 and the removed A-6 are left out"
    );
    assert!(
        store
            .linked_enrolments("nothing", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store
            .residents_enrolled_twice("conflict_a", None, 10)
            .await
            .unwrap(),
        std::slice::from_ref(&r1.resident_id),
        "A-6 is removed, so r3 is enrolled once"
    );
    assert!(
        store
            .residents_enrolled_twice("conflict_a", Some(&r1.resident_id), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .residents_enrolled_twice("conflict_b", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let card = |c: &str| RationCardNumber::parse(c).unwrap();
    assert_eq!(
        store
            .households_enrolled_twice("conflict_a", None, 10)
            .await
            .unwrap(),
        [card(card1)],
        "r1 and r2 share a card; r1 twice is not two members"
    );
    assert!(
        store
            .households_enrolled_twice("conflict_a", Some(&card(card1)), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .households_enrolled_twice("conflict_b", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let mut both = vec![r2.resident_id.clone(), r3.resident_id.clone()];
    both.sort();
    let others = ["conflict_b".to_owned()];
    assert_eq!(
        store
            .residents_enrolled_in_both("conflict_a", &others, None, 10)
            .await
            .unwrap(),
        both
    );
    assert_eq!(
        store
            .residents_enrolled_in_both("conflict_a", &others, None, 1)
            .await
            .unwrap(),
        both[..1]
    );
    assert_eq!(
        store
            .residents_enrolled_in_both("conflict_a", &others, Some(&both[0]), 10)
            .await
            .unwrap(),
        both[1..]
    );
    assert!(
        store
            .residents_enrolled_in_both("conflict_a", &[], None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let ids = [r1.resident_id.clone(), r3.resident_id.clone()];
    let all = store
        .active_enrolments_of_residents(&ids, None)
        .await
        .unwrap();
    let mut expected = vec![
        (r1.resident_id.clone(), "conflict_a:A-1"),
        (r1.resident_id.clone(), "conflict_a:A-2"),
        (r3.resident_id.clone(), "conflict_a:A-4"),
        (r3.resident_id.clone(), "conflict_b:B-1"),
    ];
    expected.sort();
    let got: Vec<(String, String)> = all
        .iter()
        .map(|e| {
            (
                e.resident.resident_id.clone(),
                format!("{}:{}", e.dataset, e.record_key),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(r, k)| (r, k.to_owned()))
        .collect();
    assert_eq!(got, expected, "ordered by resident, dataset, record key");
    let in_b = store
        .active_enrolments_of_residents(&ids, Some(&others))
        .await
        .unwrap();
    assert_eq!(keys(&in_b), ["conflict_b:B-1"]);
    assert!(
        store
            .active_enrolments_of_residents(&[], None)
            .await
            .unwrap()
            .is_empty()
    );

    let household = store
        .active_enrolments_of_households("conflict_a", &[card(card1), card(card3)])
        .await
        .unwrap();
    let mut members = vec![
        (r1.resident_id.clone(), "conflict_a:A-1".to_owned()),
        (r1.resident_id.clone(), "conflict_a:A-2".to_owned()),
        (r2.resident_id.clone(), "conflict_a:A-3".to_owned()),
    ];
    members.sort();
    let got: Vec<(String, String)> = household
        .iter()
        .map(|e| {
            (
                e.resident.resident_id.clone(),
                format!("{}:{}", e.dataset, e.record_key),
            )
        })
        .collect();
    assert_eq!(got, members, "card3's member is in conflict_b only");
}

/// Linking: the link an upload writes, the link job's decisions (only on a record still at
/// its version and pending), the review queue and its verdicts, relinking, and a changed
/// record going back to pending.
async fn linking(store: &dyn Store) {
    let (d, spec) = sample_dataset("link_a", 1);
    store.insert_dataset(&d, &spec).await.unwrap();
    let card = "PY9300000001";
    let r1 = sample_resident(card, "Anjali", None);
    let r2 = sample_resident(card, "Bhavani", None);
    store
        .insert_registry(&[sample_household(card)], &[r1.clone(), r2.clone()])
        .await
        .unwrap();
    let stamp = store.registry_stamp().await.unwrap();
    assert!(
        stamp.residents >= 2 && stamp.last_change.is_some(),
        "{stamp:?}"
    );

    let mut upload = sample_upload("l1", "l1");
    upload.dataset = "link_a".into();
    store.insert_upload(&upload).await.unwrap();
    let enrolment = |key: &str, resident: Option<&Resident>| {
        let mut e = sample_enrolment(key, "l1", None);
        e.dataset = "link_a".into();
        e.resident_id = resident.map(|r| r.resident_id.clone());
        e
    };
    let mut load = store.begin_registry_load("l1").await.unwrap();
    load.upsert_enrolments(vec![
        enrolment("L-1", Some(&r1)),
        enrolment("L-2", None),
        enrolment("L-3", None),
        enrolment("L-4", None),
    ])
    .await
    .unwrap();
    let mut done = upload.clone();
    done.status = UploadStatus::Committed;
    load.commit(done).await.unwrap();

    // Pending, linked, review, not found; a status with no record is absent.
    let counts = |pairs: Vec<(LinkStatus, u64)>| -> Vec<u64> {
        LinkStatus::ALL
            .iter()
            .map(|s| pairs.iter().find(|p| p.0 == *s).map_or(0, |p| p.1))
            .collect()
    };
    assert_eq!(
        counts(store.link_counts("link_a").await.unwrap()),
        [3, 1, 0, 0],
        "pending, linked, review, not found: a row with a resident is linked at upload"
    );
    let l1 = store
        .enrolment_link("link_a", "L-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (l1.status, l1.method, l1.probability),
        (LinkStatus::Linked, Some(LinkMethod::IdNumber), Some(1.0))
    );
    let pending = store
        .enrolments_by_link_status("link_a", LinkStatus::Pending, None, 2)
        .await
        .unwrap();
    let keys: Vec<&str> = pending.iter().map(|e| e.record_key.as_str()).collect();
    assert_eq!(keys, ["L-2", "L-3"], "paged in key order");

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .matchable_residents(after.as_deref(), 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.resident.resident_id.clone());
        seen.extend(page);
    }
    let ours: Vec<&MatchableResident> = seen
        .iter()
        .filter(|m| m.resident.card_number.as_str() == card)
        .collect();
    assert_eq!(ours.len(), 2);
    assert!(ours.iter().all(|m| m.village_code == "640001"));
    assert!(
        seen.windows(2)
            .all(|w| w[0].resident.resident_id < w[1].resident.resident_id),
        "in resident-id order"
    );

    let now = audit::truncate_to_micros(Utc::now());
    let decision = |key: &str, status, resident: Option<&Resident>, p: f64| LinkDecision {
        dataset: "link_a".into(),
        record_key: key.into(),
        version: 1,
        status,
        resident_id: resident.map(|r| r.resident_id.clone()),
        probability: Some(p),
        reviews: Vec::new(),
    };
    let review = |id: &str, r: &Resident, p: f64| NewReview {
        id: id.into(),
        resident_id: r.resident_id.clone(),
        probability: p,
        explanation: serde_json::json!({"steps": [{"comparison": "name"}]}),
        created_at: now,
    };
    let mut stale = decision("L-4", LinkStatus::Linked, Some(&r1), 0.99);
    stale.version = 7;
    let applied = store
        .apply_link_decisions(&[
            decision("L-2", LinkStatus::Linked, Some(&r2), 0.97),
            LinkDecision {
                reviews: vec![review("rv-1", &r1, 0.7), review("rv-2", &r2, 0.6)],
                ..decision("L-3", LinkStatus::Review, None, 0.7)
            },
            stale,
            decision("L-1", LinkStatus::NotFound, None, 0.1),
        ])
        .await
        .unwrap();
    assert_eq!(
        applied, 2,
        "neither a stale version nor a record no longer pending changes"
    );
    assert_eq!(
        counts(store.link_counts("link_a").await.unwrap()),
        [1, 2, 1, 0]
    );
    let l2 = store
        .enrolment_link("link_a", "L-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (l2.method, l2.resident_id.as_deref()),
        (Some(LinkMethod::Model), Some(r2.resident_id.as_str()))
    );
    assert_eq!(
        store
            .enrolment("link_a", "L-2")
            .await
            .unwrap()
            .unwrap()
            .resident_id,
        Some(r2.resident_id.clone()),
        "the model's link is the enrolment's resident"
    );

    let queue = store
        .match_reviews(Some("link_a"), Some(ReviewStatus::Pending), None, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = queue.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["rv-1", "rv-2"]);
    assert_eq!(queue[0].explanation["steps"][0]["comparison"], "name");
    assert!(
        store
            .match_reviews(Some("other"), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let rejected = store
        .decide_match_review("rv-1", ReviewStatus::Rejected, "reviewer", now)
        .await
        .unwrap();
    assert_eq!(rejected.status, ReviewStatus::Rejected);
    assert_eq!(rejected.decided_by.as_deref(), Some("reviewer"));
    assert_eq!(
        store
            .enrolment_link("link_a", "L-3")
            .await
            .unwrap()
            .unwrap()
            .status,
        LinkStatus::Review,
        "one candidate is still open"
    );
    assert!(matches!(
        store
            .decide_match_review("rv-1", ReviewStatus::Accepted, "reviewer", now)
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .decide_match_review("rv-2", ReviewStatus::Accepted, "reviewer", now)
        .await
        .unwrap();
    let l3 = store
        .enrolment_link("link_a", "L-3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (l3.status, l3.method, l3.resident_id.as_deref()),
        (
            LinkStatus::Linked,
            Some(LinkMethod::Review),
            Some(r2.resident_id.as_str())
        )
    );
    assert!(matches!(
        store
            .decide_match_review("nope", ReviewStatus::Accepted, "reviewer", now)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.decided_match_reviews(10).await.unwrap().len(), 2);
    assert_eq!(
        store
            .rejected_pairs("link_a", &["L-2".into(), "L-3".into()])
            .await
            .unwrap(),
        [("L-3".to_owned(), r1.resident_id.clone())],
        "the accepted pair is not rejected"
    );
    assert!(
        store
            .rejected_pairs("other", &["L-3".into()])
            .await
            .unwrap()
            .is_empty()
    );

    // Statistics refresh on a store with data in it.
    store.refresh_statistics().await.unwrap();

    // The last pending record is not found; a relink sends it back.
    store
        .apply_link_decisions(&[decision("L-4", LinkStatus::NotFound, None, 0.2)])
        .await
        .unwrap();
    assert_eq!(
        store
            .requeue_links("link_a", LinkStatus::NotFound)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .enrolment_link("link_a", "L-4")
            .await
            .unwrap()
            .unwrap()
            .status,
        LinkStatus::Pending
    );

    // A changed record written without an exact link waits to be linked again.
    let mut upload2 = sample_upload("l2", "l2");
    upload2.dataset = "link_a".into();
    store.insert_upload(&upload2).await.unwrap();
    let mut changed = enrolment("L-2", None);
    changed.version = 2;
    changed.upload_id = "l2".into();
    let mut load = store.begin_registry_load("l2").await.unwrap();
    load.upsert_enrolments(vec![changed]).await.unwrap();
    let mut done = upload2.clone();
    done.status = UploadStatus::Committed;
    load.commit(done).await.unwrap();
    let l2 = store
        .enrolment_link("link_a", "L-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (l2.status, l2.method, l2.resident_id),
        (LinkStatus::Pending, None, None)
    );

    // A resident who joined the registry after the records came: the pending record holding
    // their reference key is linked exactly; one whose key nobody holds stays pending.
    let (d, spec) = sample_dataset("link_b", 1);
    store.insert_dataset(&d, &spec).await.unwrap();
    let (joined, nobody) = (vault_entry(97, 1), vault_entry(98, 1));
    store
        .vault_put(&[joined.clone(), nobody.clone()])
        .await
        .unwrap();
    let mut upload = sample_upload("lk2", "lk2");
    upload.dataset = "link_b".into();
    store.insert_upload(&upload).await.unwrap();
    let mut load = store.begin_registry_load("lk2").await.unwrap();
    let pending = |key: &str, ref_key: &RefKey| {
        let mut e = sample_enrolment(key, "lk2", Some(ref_key.clone()));
        e.dataset = "link_b".into();
        e
    };
    load.upsert_enrolments(vec![
        pending("P-1", &joined.ref_key),
        pending("P-2", &nobody.ref_key),
    ])
    .await
    .unwrap();
    let mut done = upload.clone();
    done.status = UploadStatus::Committed;
    load.commit(done).await.unwrap();
    let card = "PY9300000002";
    let newcomer = sample_resident(card, "Chitra", Some(joined.ref_key.clone()));
    store
        .insert_registry(&[sample_household(card)], std::slice::from_ref(&newcomer))
        .await
        .unwrap();
    assert_eq!(store.link_pending_by_ref_key("link_b").await.unwrap(), 1);
    let p1 = store
        .enrolment_link("link_b", "P-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p1.status, p1.method, p1.probability, p1.resident_id),
        (
            LinkStatus::Linked,
            Some(LinkMethod::IdNumber),
            Some(1.0),
            Some(newcomer.resident_id.clone())
        )
    );
    let p2 = store
        .enrolment_link("link_b", "P-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p2.status, p2.resident_id), (LinkStatus::Pending, None));
    assert_eq!(
        store.link_pending_by_ref_key("link_b").await.unwrap(),
        0,
        "a linked record is not linked again"
    );
    assert_eq!(store.link_pending_by_ref_key("link_a").await.unwrap(), 0);
}

/// Organisations and applications (optimistic versions), the batched access log and its
/// searches, usage counts, decoys and enrolment requests.
async fn sharing(store: &dyn Store) {
    let now = audit::truncate_to_micros(Utc::now());
    let org = StoredOrganisation {
        id: "health".into(),
        name: "Health Department".into(),
        doc: r#"{"category":"government"}"#.into(),
        created_at: now,
        updated_at: now,
    };
    store.put_organisation(&org).await.unwrap();
    let renamed = StoredOrganisation {
        name: "Department of Health".into(),
        ..org.clone()
    };
    store.put_organisation(&renamed).await.unwrap();
    assert_eq!(
        store.organisation("health").await.unwrap().unwrap(),
        renamed
    );
    assert_eq!(store.organisations().await.unwrap(), vec![renamed]);

    let app = StoredApplication {
        id: "app-1".into(),
        organisation: "health".into(),
        client_id: None,
        status: "submitted".into(),
        version: 1,
        doc: "{}".into(),
        created_at: now,
        updated_at: now,
    };
    store.insert_application(&app).await.unwrap();
    assert!(matches!(
        store.insert_application(&app).await,
        Err(StoreError::Conflict(_))
    ));
    let orphan = StoredApplication {
        id: "app-x".into(),
        organisation: "nobody".into(),
        ..app.clone()
    };
    assert!(
        store.insert_application(&orphan).await.is_err(),
        "an application needs a registered organisation"
    );
    let live = StoredApplication {
        client_id: Some("cl-1".into()),
        status: "live".into(),
        version: 2,
        doc: r#"{"x":1}"#.into(),
        ..app.clone()
    };
    store.update_application(&live).await.unwrap();
    assert!(
        matches!(
            store.update_application(&live).await,
            Err(StoreError::Conflict(_))
        ),
        "a second change from the same version loses"
    );
    assert_eq!(store.application("app-1").await.unwrap().unwrap(), live);
    assert_eq!(
        store.application_by_client("cl-1").await.unwrap().unwrap(),
        live
    );
    assert!(store.application_by_client("cl-2").await.unwrap().is_none());
    assert_eq!(store.applications(Some("health")).await.unwrap().len(), 1);
    assert!(store.applications(Some("other")).await.unwrap().is_empty());
    assert_eq!(store.applications(None).await.unwrap().len(), 1);

    // The access log: a batch chains like single appends, and the searches find it.
    let drafts: Vec<AuditDraft> = (0..2500)
        .map(|i| AuditDraft {
            at: now,
            actor: "app:app-1".into(),
            action: "record.served".into(),
            target: Some(format!("resident:R{}", i % 10)),
            details: format!(r#"{{"i":{i}}}"#),
        })
        .collect();
    let last = store.append_audit_batch(&drafts).await.unwrap();
    assert_eq!(store.append_audit_batch(&[]).await.unwrap(), last);
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, 1000).await.unwrap();
        if page.is_empty() {
            break;
        }
        for entry in &page {
            verifier.check(entry).unwrap();
        }
        after = page.last().unwrap().seq;
    }
    assert_eq!(after, last);
    let seen = store
        .search_audit(
            &AuditFilter {
                target: Some("resident:R3".into()),
                ..AuditFilter::default()
            },
            0,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(seen.len(), 250);
    assert!(seen.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let older = store
        .search_audit(
            &AuditFilter {
                target: Some("resident:R3".into()),
                actor: Some("app:app-1".into()),
                action: Some("record.served".into()),
            },
            seen[9].seq,
            5,
        )
        .await
        .unwrap();
    assert_eq!(older.len(), 5);
    assert_eq!(older[0].seq, seen[10].seq);
    assert!(
        store
            .search_audit(
                &AuditFilter {
                    actor: Some("app:other".into()),
                    ..AuditFilter::default()
                },
                0,
                10
            )
            .await
            .unwrap()
            .is_empty()
    );
    let counts = store
        .audit_target_counts("app:app-1", "record.served", 3)
        .await
        .unwrap();
    assert_eq!(counts.len(), 3);
    assert!(counts.iter().all(|(_, n)| *n == 250));

    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let usage = |d: NaiveDate, n: u64| DailyUsage {
        application_id: "app-1".into(),
        day: d,
        requests: n,
    };
    store
        .add_usage(&[
            usage(day, 5),
            usage(day, 7),
            usage(day.succ_opt().unwrap(), 1),
        ])
        .await
        .unwrap();
    store.add_usage(&[usage(day, 3)]).await.unwrap();
    assert_eq!(
        store
            .usage("app-1", day, day.succ_opt().unwrap())
            .await
            .unwrap(),
        vec![usage(day, 15), usage(day.succ_opt().unwrap(), 1)]
    );
    assert!(
        store
            .usage("app-1", day.pred_opt().unwrap(), day.pred_opt().unwrap())
            .await
            .unwrap()
            .is_empty()
    );

    store
        .add_honeytokens(&["R9".into(), "R1".into()], now)
        .await
        .unwrap();
    store.add_honeytokens(&["R1".into()], now).await.unwrap();
    assert_eq!(store.honeytokens().await.unwrap(), vec!["R1", "R9"]);

    let request = ResidentRequest {
        id: "rq-1".into(),
        application_id: "app-1".into(),
        status: "pending_verification".into(),
        key_version: 1,
        sealed: vec![1, 2, 3],
        created_at: now,
    };
    store.insert_resident_request(&request).await.unwrap();
    assert_eq!(
        store.resident_requests("app-1").await.unwrap(),
        vec![request]
    );
}

/// What an incremental upload of the base registry reads and writes inside its load: the
/// households and residents of its cards (its own inserts included), residents found by the
/// blind index of their ID number without touching the vault, and changes written at the
/// version read, with history, visible only once the load commits.
async fn registry_changes_in_a_load(store: &dyn Store) {
    let keys = store
        .vault_put(&[vault_entry(120, 1), vault_entry(121, 1)])
        .await
        .unwrap();
    let h1 = sample_household("PY8800000001");
    let h2 = sample_household("PY8800000002");
    let a = sample_resident("PY8800000001", "Selvi", Some(keys[0].clone()));
    let b = sample_resident("PY8800000001", "Murugan", None);
    let c = sample_resident("PY8800000002", "Ameena", Some(keys[1].clone()));
    store
        .insert_registry(
            &[h1.clone(), h2.clone()],
            &[a.clone(), b.clone(), c.clone()],
        )
        .await
        .unwrap();

    store
        .insert_upload(&sample_upload("rc1", "rc1"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("rc1").await.unwrap();
    let mut found = load
        .households_of(vec![
            "PY8800000002".into(),
            "PY8800009999".into(),
            "PY8800000001".into(),
        ])
        .await
        .unwrap();
    found.sort_by(|x, y| x.card_number.cmp(&y.card_number));
    assert_eq!(found, vec![h1.clone(), h2.clone()], "only cards that exist");

    // A card and a member this load adds are seen by the load itself.
    let fresh = vault_entry(122, 1);
    let fresh_key = load.put_vault(vec![fresh.clone()]).await.unwrap().remove(0);
    let h3 = sample_household("PY8800000003");
    let d = sample_resident("PY8800000003", "Devi", Some(fresh_key));
    load.insert(vec![h3.clone()], vec![d.clone()])
        .await
        .unwrap();
    assert_eq!(
        load.households_of(vec!["PY8800000003".into()])
            .await
            .unwrap(),
        vec![h3.clone()]
    );
    let members = load
        .residents_of_cards(vec!["PY8800000003".into(), "PY8800000001".into()])
        .await
        .unwrap();
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(members.contains(&a) && members.contains(&b) && members.contains(&d));
    let cards: Vec<&str> = members.iter().map(|m| m.card_number.as_str()).collect();
    let grouped = cards.windows(2).filter(|w| w[0] != w[1]).count();
    assert_eq!(grouped, 1, "by card: {cards:?}");
    assert!(
        load.residents_of_cards(vec!["PY8800009999".into()])
            .await
            .unwrap()
            .is_empty()
    );

    // By blind index: a stored number finds its resident, this load's number too, and an
    // unknown one finds nobody and is not stored.
    let mut by_blind = load
        .residents_by_blind_indexes(vec![[120; 32], [122; 32], [123; 32], [121; 32]])
        .await
        .unwrap();
    by_blind.sort_by_key(|(blind, _)| *blind);
    assert_eq!(
        by_blind,
        vec![
            ([120; 32], a.clone()),
            ([121; 32], c.clone()),
            ([122; 32], d.clone())
        ]
    );

    // Changes at the version read, with history.
    let ctx = ChangeContext {
        actor: "cs-officer".into(),
        reason: Some("upload rc1".into()),
        at: audit::truncate_to_micros(Utc::now()),
    };
    let mut household = h1.clone();
    household.card_type = CardType::parse("AAY").unwrap();
    household.version = 2;
    household.updated_at = ctx.at;
    let mut member = b.clone();
    member.name = PersonName::parse("Murugan K").unwrap();
    member.life_status = LifeStatus::parse("migrated").unwrap();
    member.version = 2;
    member.updated_at = ctx.at;
    load.update_registry(
        vec![RegistryUpdate {
            record: household.clone(),
            changes: vec![FieldChange {
                field: "card_type",
                old_value: Some("PHH".into()),
                new_value: Some("AAY".into()),
            }],
        }],
        vec![RegistryUpdate {
            record: member.clone(),
            changes: vec![
                FieldChange {
                    field: "name",
                    old_value: Some("Murugan".into()),
                    new_value: Some("Murugan K".into()),
                },
                FieldChange {
                    field: "life_status",
                    old_value: Some("alive".into()),
                    new_value: Some("migrated".into()),
                },
            ],
        }],
        ctx.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        load.residents_of_cards(vec!["PY8800000001".into()])
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.resident_id == b.resident_id),
        Some(member.clone()),
        "the load reads its own change"
    );
    assert_eq!(
        store.resident(&b.resident_id).await.unwrap().unwrap(),
        b,
        "nothing is visible before the commit"
    );
    assert!(
        store
            .history(EntityKind::Resident, &b.resident_id)
            .await
            .unwrap()
            .is_empty()
    );
    let mut done = sample_upload("rc1", "rc1");
    done.status = UploadStatus::Committed;
    load.commit(done).await.unwrap();

    assert_eq!(
        store.household(&h1.card_number).await.unwrap().unwrap(),
        household
    );
    assert_eq!(
        store.resident(&b.resident_id).await.unwrap().unwrap(),
        member
    );
    assert_eq!(store.resident(&d.resident_id).await.unwrap().unwrap(), d);
    let history = store
        .history(EntityKind::Resident, &b.resident_id)
        .await
        .unwrap();
    let fields: Vec<(&str, Option<&str>, Option<&str>)> = history
        .iter()
        .map(|h| {
            (
                h.field.as_str(),
                h.old_value.as_deref(),
                h.new_value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("name", Some("Murugan"), Some("Murugan K")),
            ("life_status", Some("alive"), Some("migrated"))
        ]
    );
    assert!(
        history
            .iter()
            .all(|h| h.actor == "cs-officer" && h.reason.as_deref() == Some("upload rc1"))
    );
    assert_eq!(
        store
            .history(EntityKind::Household, h1.card_number.as_str())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store.vault_find(&[123; 32]).await.unwrap().is_none(),
        "looking a number up stores nothing"
    );

    // A change against a version someone else moved on is refused, and a load dropped
    // without its commit leaves nothing of its changes.
    store
        .insert_upload(&sample_upload("rc2", "rc2"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("rc2").await.unwrap();
    let mut stale = c.clone();
    stale.version = 3;
    let err = load
        .update_registry(
            Vec::new(),
            vec![RegistryUpdate {
                record: stale,
                changes: Vec::new(),
            }],
            ctx.clone(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    drop(load);
    store
        .insert_upload(&sample_upload("rc3", "rc3"))
        .await
        .unwrap();
    let mut load = store.begin_registry_load("rc3").await.unwrap();
    let mut renamed = c.clone();
    renamed.name = PersonName::parse("Ameena Begum").unwrap();
    renamed.version = 2;
    load.update_registry(
        Vec::new(),
        vec![RegistryUpdate {
            record: renamed,
            changes: vec![FieldChange {
                field: "name",
                old_value: Some("Ameena".into()),
                new_value: Some("Ameena Begum".into()),
            }],
        }],
        ctx,
    )
    .await
    .unwrap();
    drop(load);
    assert_eq!(store.resident(&c.resident_id).await.unwrap().unwrap(), c);
    assert!(
        store
            .history(EntityKind::Resident, &c.resident_id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Code lists: each name holds one list, replaced whole by the next load; the listing leaves
/// the bodies out; a name the hub does not know is refused by the store too.
async fn code_lists(store: &dyn Store) {
    let list = |name: &str, body: &str, entries: u64| StoredCodeList {
        name: name.to_owned(),
        body: body.to_owned(),
        entries,
        sha256: format!("{:064x}", entries),
        loaded_by: "admin".to_owned(),
        loaded_at: Utc::now(),
    };
    let villages = list("villages", "village_code,village_name\n1,A\n", 1);
    store.put_code_list(&villages).await.unwrap();
    let first = list("ifsc", "ifsc\nSBIN0000001\n", 1);
    store.put_code_list(&first).await.unwrap();
    let second = list("ifsc", "ifsc\nSBIN0000001\nIDIB000P042\n", 2);
    store.put_code_list(&second).await.unwrap();
    let stored = store
        .code_list("ifsc")
        .await
        .unwrap()
        .expect("the ifsc list");
    assert_eq!(stored.body, second.body, "code_lists: replaced whole");
    assert_eq!(stored.entries, 2);
    assert_eq!(stored.loaded_at.timestamp(), second.loaded_at.timestamp());
    let listed = store.code_lists().await.unwrap();
    let names: Vec<(&str, u64, &str)> = listed
        .iter()
        .map(|l| (l.name.as_str(), l.entries, l.body.as_str()))
        .collect();
    assert_eq!(
        names,
        [("ifsc", 2, ""), ("villages", 1, "")],
        "code_lists: listed by name, without bodies"
    );
    assert!(store.code_list("schemes").await.unwrap().is_none());
    assert!(
        store
            .put_code_list(&list("lgd", "x\n1\n", 1))
            .await
            .is_err(),
        "code_lists: an unknown list is refused"
    );
}
