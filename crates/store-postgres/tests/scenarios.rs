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

    // The migration ran once and is recorded once.
    let (client, connection) = tokio_postgres_connect(&db.url).await;
    let applied: i64 = client
        .query_one("SELECT COUNT(*) FROM refinery_schema_history", &[])
        .await
        .expect("read history")
        .get(0);
    assert_eq!(applied, 1);
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
