//! The shared scenario suite, on a fresh SQLite file.

use std::sync::Arc;

use sangam_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_store_scenarios() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).await.expect("open store");
    sangam_store::scenarios::run_all(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_passes_the_first_load_scenarios() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).await.expect("open store");
    sangam_store::scenarios::first_loads(Arc::new(store)).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    use sangam_store::MetaStore;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).await.expect("open store");
    store.init_meta("k", "v").await.expect("write");
    drop(store);
    let store = SqliteStore::open(dir.path()).await.expect("reopen store");
    assert_eq!(
        store.get_meta("k").await.expect("read").as_deref(),
        Some("v")
    );
}

#[tokio::test]
async fn a_missing_directory_is_reported_as_unavailable() {
    let err = SqliteStore::open(std::path::Path::new("/nonexistent/sangam"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, sangam_store::StoreError::Unavailable(_)),
        "{err}"
    );
    assert!(err.to_string().contains("/nonexistent/sangam"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).await.expect("open store");
    for suffix in ["", "-wal"] {
        let file = dir
            .path()
            .join(format!("{}{suffix}", sangam_store_sqlite::DATABASE_FILE));
        let mode = std::fs::metadata(&file)
            .expect("file exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    drop(store);
}

fn page_size(dir: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(dir.join(sangam_store_sqlite::DATABASE_FILE))
        .expect("open the file");
    conn.query_row("PRAGMA page_size", [], |r| r.get(0))
        .expect("page size")
}

#[tokio::test]
async fn a_new_database_has_large_pages_and_an_old_one_keeps_its_own() {
    use sangam_store::MetaStore;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).await.expect("open store");
    drop(store);
    assert_eq!(page_size(dir.path()), 16 * 1024);

    // A hub created before the change: its file has SQLite's 4 KiB pages, which no pragma
    // changes once tables exist. It opens, migrates and works as it is.
    let old = tempfile::tempdir().expect("temp dir");
    {
        let conn = rusqlite::Connection::open(old.path().join(sangam_store_sqlite::DATABASE_FILE))
            .expect("create the file");
        conn.execute_batch("PRAGMA page_size = 4096; CREATE TABLE before_the_hub (x)")
            .expect("an old file");
    }
    let store = SqliteStore::open(old.path())
        .await
        .expect("open the old file");
    store.init_meta("k", "v").await.expect("write");
    assert_eq!(
        store.get_meta("k").await.expect("read").as_deref(),
        Some("v")
    );
    drop(store);
    assert_eq!(page_size(old.path()), 4096);
}

fn journal_mode(dir: &std::path::Path) -> String {
    rusqlite::Connection::open(dir.join(sangam_store_sqlite::DATABASE_FILE))
        .expect("open the file")
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode")
}

#[tokio::test]
async fn a_bulk_load_keeps_the_rollback_journal_unless_another_process_has_the_store_open() {
    use sangam_store::MetaStore;
    use sangam_store_sqlite::Journal;
    let dir = tempfile::tempdir().expect("temp dir");

    // On its own, a bulk load writes through the rollback journal, and works.
    let bulk = SqliteStore::open_with(dir.path(), Journal::Rollback)
        .await
        .expect("open for a bulk load");
    assert_eq!(bulk.journal(), Journal::Rollback);
    bulk.init_meta("k", "v").await.expect("write");
    assert_eq!(
        bulk.get_meta("k").await.expect("read").as_deref(),
        Some("v")
    );
    drop(bulk);
    assert_eq!(journal_mode(dir.path()), "delete");

    // A store opened shared switches it back to WAL; a bulk load beside it stays in WAL
    // (SQLite leaves WAL only when no one else has the file open) and still works.
    let shared = SqliteStore::open(dir.path()).await.expect("open shared");
    assert_eq!(shared.journal(), Journal::Wal);
    let beside = SqliteStore::open_with(dir.path(), Journal::Rollback)
        .await
        .expect("open for a bulk load beside a shared store");
    assert_eq!(beside.journal(), Journal::Wal);
    beside.init_meta("k2", "v2").await.expect("write beside");
    assert_eq!(
        shared.get_meta("k2").await.expect("read").as_deref(),
        Some("v2")
    );
    drop(beside);
    drop(shared);
    assert_eq!(journal_mode(dir.path()), "wal");
}
