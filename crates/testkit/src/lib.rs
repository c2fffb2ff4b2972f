//! Test support shared by the integration tests of several crates.
//!
//! [`backends`] gives a fresh, empty store on every backend under test: always an SQLite
//! file in a new temporary directory, and a new PostgreSQL database when
//! `SANGAM_TEST_DATABASE_URL` names a server (otherwise the PostgreSQL run is reported as
//! skipped, loudly, so that a green run cannot hide it).

#![allow(
    clippy::print_stderr,
    reason = "tests report skipped backends on stderr"
)]

use std::path::{Path, PathBuf};

use sangam_hub::bootstrap::StoreLocation;

/// The environment variable that names the PostgreSQL server for tests.
pub const DATABASE_URL_VAR: &str = "SANGAM_TEST_DATABASE_URL";

/// One fresh store: where it is, and a data directory (for key files and the SQLite file).
#[derive(Debug)]
pub struct TestBackend {
    pub name: &'static str,
    pub location: StoreLocation,
    pub data_dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestBackend {
    pub fn data_path(&self) -> &Path {
        self.data_dir.path()
    }

    /// The PostgreSQL URL of this backend's database, if it is PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        match &self.location {
            StoreLocation::Postgres(url) => Some(url),
            StoreLocation::Sqlite(_) => None,
        }
    }

    /// The name of the fresh PostgreSQL database.
    pub fn database_name(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, name)| name.as_str())
    }

    /// Drops the PostgreSQL database (the temporary directory goes on drop).
    pub async fn cleanup(self) {
        if let Some((admin, name)) = &self.postgres {
            let _ = sangam_store_postgres::drop_database(admin, name).await;
        }
    }
}

/// A fresh SQLite store in a new temporary directory.
pub fn sqlite() -> TestBackend {
    #[allow(
        clippy::expect_used,
        reason = "a test cannot go on without a temporary directory"
    )]
    let dir = tempfile::tempdir().expect("create a temporary directory");
    TestBackend {
        name: "sqlite",
        location: StoreLocation::Sqlite(dir.path().to_owned()),
        data_dir: dir,
        postgres: None,
    }
}

/// A fresh PostgreSQL database, or `None` (with a note on stderr) when no server is configured.
pub async fn postgres(test: &str) -> Option<TestBackend> {
    let Ok(admin) = std::env::var(DATABASE_URL_VAR) else {
        // Written to the stderr handle itself: libtest captures `eprintln!` of passing tests,
        // and a skipped backend must show in every run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {DATABASE_URL_VAR} is not set; {test} did not run on PostgreSQL"
        );
        return None;
    };
    let name = format!("sangam_test_{}", uuid::Uuid::new_v4().simple());
    #[allow(clippy::expect_used, reason = "the configured test server must work")]
    sangam_store_postgres::create_database(&admin, &name)
        .await
        .expect("create a fresh PostgreSQL test database");
    #[allow(clippy::expect_used, reason = "as above")]
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = sangam_store_postgres::with_database(&admin, &name);
    Some(TestBackend {
        name: "postgres",
        location: StoreLocation::Postgres(url),
        data_dir: dir,
        postgres: Some((admin, name)),
    })
}

/// Every backend under test, each fresh.
pub async fn backends(test: &str) -> Vec<TestBackend> {
    let mut all = vec![sqlite()];
    all.extend(postgres(test).await);
    all
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    out.push(p)
                }
            }
        }
    }
    out
}

/// The first of `needles` found in `haystack`, if any. One pass per needle length, so that
/// scanning a database file for thousands of numbers stays fast.
pub fn find_any<'a>(haystack: &[u8], needles: &'a [String]) -> Option<&'a str> {
    let mut by_len: std::collections::BTreeMap<usize, std::collections::HashMap<&[u8], &'a str>> =
        Default::default();
    for n in needles.iter().filter(|n| !n.is_empty()) {
        by_len
            .entry(n.len())
            .or_default()
            .insert(n.as_bytes(), n.as_str());
    }
    by_len
        .iter()
        .find_map(|(len, set)| haystack.windows(*len).find_map(|w| set.get(w).copied()))
}

/// Runs `pg_dump` on a backend's database and returns the dump, data included.
pub fn pg_dump(backend: &TestBackend) -> Vec<u8> {
    let Some(url) = backend.database_url() else {
        return Vec::new();
    };
    #[allow(
        clippy::expect_used,
        reason = "pg_dump is part of the PostgreSQL client tools"
    )]
    let out = std::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(url)
        .output()
        .expect("run pg_dump (install the PostgreSQL client tools)");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Fixtures more than one crate's tests use.
pub mod fixtures {
    /// A scheme's data spec: a record key, an operation column, an ID number and a date of birth,
    /// with `extra` settings (e.g. `one_per_household = true`) and `rules` appended.
    pub fn scheme_spec(name: &str, extra: &str, rules: &str) -> String {
        format!(
            r#"
    dataset = "{name}"
    version = 1
    title = "{name} beneficiaries"
    record_key = "beneficiary_id"
    {extra}

    [[columns]]
    name = "operation"
    kind = "operation"

    [[columns]]
    name = "beneficiary_id"
    kind = "text"
    required = true

    [[columns]]
    name = "aadhaar"
    kind = "id_number"

    [[columns]]
    name = "dob"
    kind = "dob"
    required = true
    {rules}
    "#
        )
    }

    /// An eligibility rule: the beneficiary is at least 18.
    pub const ADULT_RULE: &str = r#"
    [[rules]]
    name = "adult"
    check = "age_at_least"
    column = "dob"
    years = 18
    message = "a ration kit goes to an adult member"
    "#;
}
