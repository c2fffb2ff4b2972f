//! The shared scenario suite, on a fresh PostgreSQL database per test.
//!
//! Set `SANGAM_TEST_DATABASE_URL` (for example `postgres://postgres@127.0.0.1:5432/test`) to
//! run them; each test creates a database `sangam_test_<random>` on that server and drops it
//! afterwards. Without it the tests that need a server say so and pass.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sangam_store::{MetaStore, StoreError};
use sangam_store_postgres::{PostgresStore, create_database, drop_database, with_database};

const URL_VAR: &str = "SANGAM_TEST_DATABASE_URL";

/// A database of its own for one test, dropped at the end of it.
struct FreshDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshDatabase {
    /// A fresh database, or `None` (after saying so) when no server is configured.
    async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var(URL_VAR) else {
            // The stderr handle itself: libtest hides `eprintln!` of passing tests, and a
            // skipped backend must show in every run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {URL_VAR} is not set; the PostgreSQL backend was not tested"
            );
            return None;
        };
        let name = format!("sangam_test_{}", uuid::Uuid::new_v4().simple());
        create_database(&admin_url, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let url = with_database(&admin_url, &name);
        Some(FreshDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// Drops the database now, reporting a failure.
    async fn remove(mut self) {
        let name = std::mem::take(&mut self.name);
        drop_database(&self.admin_url, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot drop test database {name}: {e}"));
    }
}

impl Drop for FreshDatabase {
    /// A test that panicked before dropping its database still drops it, from a thread of
    /// its own (the test's runtime may be the one unwinding).
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), std::mem::take(&mut self.name));
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            if let Err(e) = runtime.block_on(drop_database(&admin_url, &name)) {
                eprintln!("cannot drop test database {name}: {e}");
            }
        });
        let _ = cleanup.join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_store_scenarios() {
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    assert_eq!(sangam_store::Store::backend_name(&store), "postgres");
    sangam_store::scenarios::run_all(Arc::new(store)).await;
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_first_load_scenarios() {
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    sangam_store::scenarios::first_loads(Arc::new(store)).await;
    db.remove().await;
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    store.init_meta("k", "v").await.expect("write");
    drop(store);
    let store = PostgresStore::connect(&db.url).await.expect("reconnect");
    assert_eq!(
        store.get_meta("k").await.expect("read").as_deref(),
        Some("v")
    );
    drop(store);

    // Each migration ran once and is recorded once.
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations folder")
        .count() as i64;
    let (client, connection) = tokio_postgres_connect(&db.url).await;
    let applied: i64 = client
        .query_one("SELECT COUNT(*) FROM refinery_schema_history", &[])
        .await
        .expect("read history")
        .get(0);
    assert_eq!(applied, migrations);
    drop(client);
    connection
        .await
        .expect("connection task")
        .expect("connection");
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_together_migrate_once() {
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    for start in starts {
        let store = start.await.expect("task").expect("connect");
        store.ping().await.expect("ping");
    }
    db.remove().await;
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    use sangam_store::{AuditDraft, AuditStore};
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    let details = r#"{"z":1,"a":[2, 3]}"#;
    store
        .append_audit(&AuditDraft {
            at: chrono::Utc::now(),
            actor: "admin".into(),
            action: "test".into(),
            target: None,
            details: details.into(),
        })
        .await
        .expect("append");
    assert_eq!(
        store.audit_entries(0, 10).await.expect("read")[0].details,
        details,
        "details are kept as the exact text"
    );
    let (client, connection) = tokio_postgres_connect(&db.url).await;
    for statement in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = client.batch_execute(statement).await.unwrap_err();
        let db_err = err.as_db_error().expect("a server error");
        assert!(
            db_err.message().contains("append-only"),
            "{statement}: {db_err}"
        );
    }
    drop(client);
    connection
        .await
        .expect("connection task")
        .expect("connection");
    drop(store);
    db.remove().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_without_the_password() {
    for url in [
        "postgres://postgres@127.0.0.1:1/x?connect_timeout=2",
        "postgres://u:s3cretpw@127.0.0.1:1/x?connect_timeout=2",
        "postgres://u:s3cretpw@127.0.0.1:1/x",
    ] {
        let started = Instant::now();
        let err = PostgresStore::connect(url).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
        let message = err.to_string();
        assert!(message.contains("127.0.0.1:1/x"), "{message}");
        assert!(!message.contains("s3cretpw"), "{message}");
        eprintln!("{message}");
    }
}

#[tokio::test]
async fn a_malformed_url_is_unavailable_without_the_password() {
    let err = PostgresStore::connect("postgres://u:s3cretpw@127.0.0.1:notaport/x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    assert!(!err.to_string().contains("s3cretpw"), "{err}");
}

/// A plain driver connection, to look under the store.
async fn tokio_postgres_connect(
    url: &str,
) -> (
    tokio_postgres::Client,
    tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    (client, tokio::spawn(connection))
}

#[tokio::test]
async fn a_registry_conflict_names_the_record_and_a_large_batch_is_atomic() {
    use sangam_store::RegistryStore;
    use sangam_store::scenarios::{sample_household, sample_resident};
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    let households: Vec<_> = (0..2_000)
        .map(|i| sample_household(&format!("PY01{i:08}")))
        .collect();
    let residents: Vec<_> = households
        .iter()
        .flat_map(|h| {
            let card = h.card_number.as_str().to_owned();
            (0..4).map(move |_| sample_resident(&card, "Lakshmi", None))
        })
        .collect();
    let started = Instant::now();
    store
        .insert_registry(&households, &residents)
        .await
        .expect("bulk insert");
    eprintln!(
        "inserted {} rows in {:?}",
        households.len() + residents.len(),
        started.elapsed()
    );
    let counts = store.registry_counts().await.expect("counts");
    assert_eq!((counts.households, counts.residents), (2_000, 8_000));

    // A batch whose last household exists already keeps nothing, and the conflict names it.
    let mut again: Vec<_> = (0..500)
        .map(|i| sample_household(&format!("PY02{i:08}")))
        .collect();
    again.push(households[7].clone());
    let err = store.insert_registry(&again, &[]).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("PY0100000007"), "{err}");
    // So does one that holds a resident twice.
    let fresh = sample_household("PY0300000001");
    let twice = sample_resident("PY0300000001", "Anbu", None);
    let err = store
        .insert_registry(
            std::slice::from_ref(&fresh),
            &[twice.clone(), twice.clone()],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains(&twice.resident_id), "{err}");
    let counts = store.registry_counts().await.expect("counts");
    assert_eq!((counts.households, counts.residents), (2_000, 8_000));
    drop(store);
    db.remove().await;
}

/// An upload record for the load tests.
fn upload_record(id: &str) -> sangam_store::UploadRecord {
    sangam_store::UploadRecord {
        id: id.into(),
        dataset: "base".into(),
        organisation: "civil-supplies".into(),
        uploaded_by: "officer".into(),
        file_name: format!("{id}.csv"),
        file_sha256: format!("sha-{id}"),
        idempotency_key: "k".into(),
        mode: "full".into(),
        status: sangam_store::UploadStatus::Received,
        counts: sangam_store::UploadCounts::default(),
        corrects: None,
        error: None,
        received_at: sangam_store::audit::truncate_to_micros(chrono::Utc::now()),
        finished_at: None,
        rejections_purged_at: None,
    }
}

/// A vault entry whose blind index is `n`, for the load tests.
fn numbered_vault_entry(n: u64) -> sangam_store::NewVaultEntry {
    let mut blind_index = [0u8; 32];
    blind_index[..8].copy_from_slice(&n.to_be_bytes());
    sangam_store::NewVaultEntry {
        ref_key: sangam_domain::RefKey::generate(),
        blind_index,
        key_version: 1,
        sealed: vec![7; 48],
        consent_ref: format!("FORM-{n}"),
        created_at: sangam_store::audit::truncate_to_micros(chrono::Utc::now()),
    }
}

#[tokio::test]
async fn a_failed_step_of_a_load_names_the_record_and_keeps_nothing() {
    use sangam_store::scenarios::sample_household;
    use sangam_store::{RegistryStore, UploadStatus, UploadStore};
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    store
        .insert_registry(&[sample_household("PY0500000001")], &[])
        .await
        .expect("insert");
    let upload = upload_record("clash");
    store.insert_upload(&upload).await.expect("insert upload");
    assert!(matches!(
        store.begin_registry_load("missing").await.err(),
        Some(StoreError::NotFound(_))
    ));

    let mut load = store.begin_registry_load("clash").await.expect("begin");
    load.insert(vec![sample_household("PY0500000002")], vec![])
        .await
        .expect("first chunk");
    // An insert may return before its rows are written: its failure comes back then, or at
    // the latest from the next step that answers.
    let err = match load
        .insert(vec![sample_household("PY0500000001")], vec![])
        .await
    {
        Err(e) => e,
        Ok(()) => load
            .existing_cards(vec!["PY0500000002".into()])
            .await
            .unwrap_err(),
    };
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(err.to_string().contains("PY0500000001"), "{err}");
    // The transaction is aborted: the load refuses to go on, and a commit keeps nothing.
    assert!(
        load.existing_cards(vec!["PY0500000002".into()])
            .await
            .is_err()
    );
    let mut done = upload.clone();
    done.status = UploadStatus::Committed;
    assert!(load.commit(done).await.is_err());
    assert_eq!(
        store
            .upload("clash")
            .await
            .expect("read")
            .expect("upload")
            .status,
        UploadStatus::Received
    );
    let counts = store.registry_counts().await.expect("counts");
    assert_eq!(counts.households, 1);

    // The upload can be loaded again at once: its lock went with the failed load.
    let load = store
        .begin_registry_load("clash")
        .await
        .expect("begin again");
    let mut done = upload.clone();
    done.status = UploadStatus::Failed;
    done.error = Some("tested".into());
    load.commit(done.clone()).await.expect("commit");
    assert_eq!(store.upload("clash").await.expect("read"), Some(done));
    assert_eq!(
        store
            .reap_interrupted_uploads(chrono::Utc::now())
            .await
            .expect("reap"),
        0
    );
    // The committed load's connection went back to the pool without its lock or an open
    // transaction.
    let (client, connection) = tokio_postgres_connect(&db.url).await;
    let row = client
        .query_one(
            "SELECT (SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND database = \
              (SELECT oid FROM pg_database WHERE datname = current_database())), \
             (SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
              AND state LIKE 'idle in transaction%')",
            &[],
        )
        .await
        .expect("look");
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (0, 0));
    drop(client);
    connection
        .await
        .expect("connection task")
        .expect("connection");
    drop(store);
    db.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_load_commits_whole() {
    use sangam_store::scenarios::{sample_household, sample_resident};
    use sangam_store::{RegistryStore, UploadCounts, UploadStatus, UploadStore};
    const HOUSEHOLDS: u64 = 20_000;
    const MEMBERS: u64 = 4;
    const CHUNK: usize = 5_000;
    let Some(db) = FreshDatabase::create().await else {
        return;
    };
    let store = PostgresStore::connect(&db.url).await.expect("connect");
    let upload = upload_record("large");
    store.insert_upload(&upload).await.expect("insert upload");

    // The records, built before the clock starts: one vault entry per resident.
    let households: Vec<_> = (0..HOUSEHOLDS)
        .map(|i| sample_household(&format!("PY01{i:08}")))
        .collect();
    let members: Vec<_> = (0..HOUSEHOLDS * MEMBERS)
        .map(numbered_vault_entry)
        .collect();

    let started = Instant::now();
    let mut load = store.begin_registry_load("large").await.expect("begin");
    for (c, chunk) in households.chunks(CHUNK).enumerate() {
        let cards: Vec<String> = chunk
            .iter()
            .map(|h| h.card_number.as_str().to_owned())
            .collect();
        assert!(load.existing_cards(cards).await.expect("cards").is_empty());
        let first = c * CHUNK * MEMBERS as usize;
        let entries = members[first..first + chunk.len() * MEMBERS as usize].to_vec();
        let keys = load.put_vault(entries).await.expect("vault");
        assert!(
            load.ref_keys_in_use(keys.clone())
                .await
                .expect("keys")
                .is_empty()
        );
        let residents: Vec<_> = chunk
            .iter()
            .flat_map(|h| std::iter::repeat_n(h.card_number.as_str(), MEMBERS as usize))
            .zip(keys)
            .map(|(card, key)| sample_resident(card, "Lakshmi", Some(key)))
            .collect();
        load.insert(chunk.to_vec(), residents)
            .await
            .expect("insert");
    }
    let mut done = upload.clone();
    done.status = UploadStatus::Committed;
    done.counts = UploadCounts {
        rows: HOUSEHOLDS,
        accepted: HOUSEHOLDS,
        added: HOUSEHOLDS,
        ..UploadCounts::default()
    };
    load.commit(done.clone()).await.expect("commit");
    let elapsed = started.elapsed();
    let rows = HOUSEHOLDS * (1 + 2 * MEMBERS);
    eprintln!(
        "loaded {rows} rows ({HOUSEHOLDS} households, {} residents, {} vault entries) in \
         {elapsed:?}: {:.0} rows/s",
        HOUSEHOLDS * MEMBERS,
        HOUSEHOLDS * MEMBERS,
        rows as f64 / elapsed.as_secs_f64()
    );

    let counts = store.registry_counts().await.expect("counts");
    assert_eq!(
        (
            counts.households,
            counts.residents,
            counts.residents_with_id_number,
            counts.vault_entries
        ),
        (
            HOUSEHOLDS,
            HOUSEHOLDS * MEMBERS,
            HOUSEHOLDS * MEMBERS,
            HOUSEHOLDS * MEMBERS
        )
    );
    assert_eq!(store.upload("large").await.expect("read"), Some(done));
    drop(store);
    db.remove().await;
}
