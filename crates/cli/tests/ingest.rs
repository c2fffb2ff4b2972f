//! `sangam ingest` as a nodal officer's first-time migration meets it, on every backend:
//! counts, a rejection report that names line and reason, a file that never loads twice, and
//! an upload killed at any moment that leaves nothing behind and loads whole when retried,
//! whether `sangam ingest` is killed or the `sangam serve` loading a file sent over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use common::{sangam, save_officer, serve, sign_in, signal, with_store};
use sangam_testkit::{TestBackend, backends};
use serde_json::Value;

fn synth(households: u64, out: &Path) {
    let o = sangam()
        .args([
            "synth",
            "--households",
            &households.to_string(),
            "--seed",
            "5",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn ingest(backend: &TestBackend, file: &Path) -> Output {
    with_store(sangam().args(["ingest", "--dataset", "base"]), backend)
        .arg(file)
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(o.stdout.trim_ascii()).unwrap()
}

/// Households in the store, read directly (not through the hub). A store killed before its
/// tables were created holds none.
async fn households(backend: &TestBackend) -> i64 {
    match backend.database_url() {
        None => {
            let conn = rusqlite::Connection::open(backend.data_path().join("sangam.db")).unwrap();
            match conn.query_row("SELECT COUNT(*) FROM households", [], |r| r.get(0)) {
                Ok(n) => n,
                Err(e) if e.to_string().contains("no such table") => 0,
                Err(e) => panic!("{e}"),
            }
        }
        Some(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            match client
                .query_one("SELECT COUNT(*) FROM households", &[])
                .await
            {
                Ok(row) => row.get(0),
                Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => 0,
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_loads_valid_rows_and_reports_the_rest() {
    for backend in backends("ingest_loads_valid_rows_and_reports_the_rest").await {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cards.csv");
        synth(50, &file);
        let original = std::fs::read_to_string(&file).unwrap();
        let good_rows = original.lines().count() as u64 - 1;
        let first = original.lines().nth(1).unwrap().to_owned();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        // ration_card_no,card_type,house_no,street,locality,village_code,pincode,member_name,
        // relative_name,gender,dob,relationship,aadhaar,mobile,life_status
        let bad = [
            "PYX000000001,PHH,1,Main St,Ward 1,640001,605001,Ravi,Kumar,M,1980-01-01,HEAD,234567890120,,alive", // checksum
            "PYX000000002,PHH,1,Main St,Ward 1,640001,605001,Ravi,Kumar,M,2090-01-01,HEAD,,,alive", // future dob
            "PYX000000003,PHH,1,Main St,Ward 1,640001,605001,,Kumar,M,1980-01-01,HEAD,,,alive", // no name
            "PYX000000004,PHH,1,Main St,Ward 1,640001,605001,=HYPERLINK(\"http://x\"),Kumar,M,1980-01-01,HEAD,,,alive", // formula
            "PYX000000005,PHH,1,Main St,Ward 1,640001,605001,Meena,Kumar,F,1985-01-01,HEAD,,98765,alive", // mobile
        ];
        for line in bad {
            writeln!(f, "{line}").unwrap();
        }
        f.write_all(b"PYX000000006,PHH,1,Main St,Ward 1,640001,605001,R\xffvi,Kumar,M,1980-01-01,HEAD,,,alive\n").unwrap();
        // The first data row again: a duplicate inside the file.
        writeln!(f, "{first}").unwrap();
        drop(f);

        let out = json(&ingest(&backend, &file));
        assert_eq!(out["rows"].as_u64(), Some(good_rows + 7), "{out}");
        assert_eq!(out["accepted"].as_u64(), Some(good_rows), "{out}");
        assert_eq!(out["rejected"].as_u64(), Some(7), "{out}");
        assert_eq!(out["status"], "committed");
        assert_eq!(households(&backend).await, 50);

        let report_path = out["report"].as_str().unwrap().to_owned();
        let report = std::fs::read_to_string(&report_path).unwrap();
        for code in [
            "id_number.checksum",
            "dob.in_future",
            "field.missing",
            "name.invalid_character",
            "mobile.format",
            "row.invalid_utf8",
            "row.duplicate_in_file",
        ] {
            assert!(report.contains(code), "{code} in the report:\n{report}");
        }
        assert!(
            report.contains("'=HYPERLINK"),
            "formulas are neutralised:\n{report}"
        );
        assert!(
            !report.contains(",=HYPERLINK"),
            "no live formula:\n{report}"
        );
        assert!(
            !report.contains("234567890120,") || report.contains("id_number.checksum"),
            "the officer gets the row back to fix"
        );

        // The same file again loads nothing and keeps the first report.
        let again = json(&ingest(&backend, &file));
        assert_eq!(again["already_loaded"], true);
        assert_eq!(again["upload_id"], out["upload_id"]);
        assert_eq!(std::fs::read_to_string(&report_path).unwrap(), report);
        assert_eq!(households(&backend).await, 50);

        // A file without a mandatory column is refused before any row is read.
        let no_name = dir.path().join("no-name.csv");
        std::fs::write(&no_name, "ration_card_no,card_type,village_code,gender,dob,relationship\nPY1,PHH,640001,M,1980,HEAD\n").unwrap();
        let o = ingest(&backend, &no_name);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("member_name"),
            "names the missing column: {err}"
        );
        assert!(!err.contains("panicked"));

        // An unknown dataset is named, and nothing is written.
        let o = with_store(sangam().args(["ingest", "--dataset", "pensions"]), &backend)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&o.stderr).contains("dataset.unknown"));
        assert_eq!(households(&backend).await, 50);
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_killed_at_any_moment_leaves_nothing_and_retries_whole() {
    for backend in backends("an_upload_killed_at_any_moment_leaves_nothing_and_retries_whole").await
    {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.csv");
        synth(15_000, &file);
        let mut killed_upload = None;
        for delay_ms in [150, 600, 1500] {
            let mut child = with_store(sangam().args(["ingest", "--dataset", "base"]), &backend)
                .arg(&file)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay_ms));
            signal(&child, "KILL");
            let status = child.wait().unwrap();
            let finished = status.success();
            let n = households(&backend).await;
            if finished {
                assert_eq!(n, 15_000, "a finished upload is whole");
                break;
            }
            assert_eq!(n, 0, "killed after {delay_ms} ms: no half-batch is visible");
            killed_upload = Some(delay_ms);
        }
        assert!(
            killed_upload.is_some(),
            "at least one kill landed mid-upload"
        );

        // A retry reaps the interrupted upload and loads the whole file. The server may take
        // a moment to notice the killed client and release its lock; until then the upload
        // is rightly reported as being loaded.
        let mut attempt = ingest(&backend, &file);
        for _ in 0..20 {
            if attempt.status.success()
                || !String::from_utf8_lossy(&attempt.stderr).contains("being loaded now")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
            attempt = ingest(&backend, &file);
        }
        let out = json(&attempt);
        assert!(out["status"] == "committed", "{out}");
        assert_eq!(households(&backend).await, 15_000);
        let rows = std::fs::read_to_string(&file).unwrap().lines().count() as u64 - 1;
        assert_eq!(out["accepted"].as_u64(), Some(rows));
        if backend.database_url().is_none() {
            // The kills above hit loads that wrote through the rollback journal, which is
            // what `sangam ingest` keeps when it has the store to itself.
            let conn = rusqlite::Connection::open(backend.data_path().join("sangam.db")).unwrap();
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "delete");
        }
        backend.cleanup().await;
    }
}

fn kill(child: &mut Child) {
    signal(child, "KILL");
    let _ = child.wait();
}

/// Signs the officer in; the `authorization` header value.
async fn officer(base: &str) -> String {
    format!("Bearer {}", sign_in(base, "cs-officer").await)
}

/// Sends `file` to the base registry without waiting for the load; the upload's id.
async fn send(client: &reqwest::Client, base: &str, auth: &str, file: &Path) -> String {
    let r = client
        .post(format!("{base}/v1/uploads?dataset=base&file_name=big.csv"))
        .header("authorization", auth)
        .header("prefer", "respond-async")
        .body(std::fs::read(file).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["upload"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The upload's status, once it is no longer loading (a killed server's load is seen as
/// interrupted once its lock is gone, which on PostgreSQL can take a moment).
async fn settled(client: &reqwest::Client, base: &str, auth: &str, id: &str) -> Value {
    let mut upload = Value::Null;
    for _ in 0..600 {
        upload = client
            .get(format!("{base}/v1/uploads/{id}"))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if upload["status"] != "validating" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    upload
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_while_it_loads_an_upload_leaves_nothing_and_retries_whole() {
    for backend in
        backends("a_server_killed_while_it_loads_an_upload_leaves_nothing_and_retries_whole").await
    {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.csv");
        synth(15_000, &file);
        save_officer(&backend, dir.path(), "cs-officer", "civil-supplies");
        let client = reqwest::Client::new();

        let mut interrupted = None;
        for delay_ms in [0, 300, 1000] {
            let (mut server, base) = serve(&backend);
            let auth = officer(&base).await;
            let id = send(&client, &base, &auth, &file).await;
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            kill(&mut server);
            let n = households(&backend).await;
            let (mut server, base) = serve(&backend);
            let auth = officer(&base).await;
            let upload = settled(&client, &base, &auth, &id).await;
            kill(&mut server);
            if upload["status"] == "committed" {
                assert_eq!(n, 15_000, "a committed upload is whole");
                break;
            }
            assert_eq!(upload["status"], "interrupted", "{upload}");
            assert_eq!(
                n, 0,
                "killed {delay_ms} ms after the answer: no half-batch is visible"
            );
            interrupted = Some(id);
        }
        let interrupted = interrupted.expect("at least one kill landed mid-load");

        // Sent again, the interrupted upload runs again under its own id and loads whole.
        let (mut server, base) = serve(&backend);
        let auth = officer(&base).await;
        let id = send(&client, &base, &auth, &file).await;
        assert_eq!(id, interrupted);
        let upload = settled(&client, &base, &auth, &id).await;
        kill(&mut server);
        assert_eq!(upload["status"], "committed", "{upload}");
        let rows = std::fs::read_to_string(&file).unwrap().lines().count() as u64 - 1;
        assert_eq!(upload["counts"]["accepted"].as_u64(), Some(rows));
        assert_eq!(households(&backend).await, 15_000);
        backend.cleanup().await;
    }
}

/// `sangam jobs run` after `sangam ingest`: the relink the ingest queued runs at once instead
/// of when a server next starts, the purge of old rejected rows is scheduled and runs, and a
/// second run finds nothing due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_does_the_work_an_ingest_left_for_a_worker() {
    for backend in backends("jobs_run_does_the_work_an_ingest_left_for_a_worker").await {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("base.csv");
        synth(20, &file);
        assert_eq!(json(&ingest(&backend, &file))["status"], "committed");

        let run = |backend: &TestBackend| {
            let o = with_store(sangam().args(["jobs", "run"]), backend)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .map(|v| {
                    (
                        v["kind"].as_str().unwrap().to_owned(),
                        v["outcome"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let first = run(&backend);
        assert!(
            first.contains(&("registry.relink_after_upload".into(), "done".into())),
            "{first:?}"
        );
        assert!(
            first.contains(&("uploads.purge_rejections".into(), "scheduled".into())),
            "{first:?}"
        );
        assert_eq!(run(&backend), Vec::<(String, String)>::new());
        backend.cleanup().await;
    }
}
