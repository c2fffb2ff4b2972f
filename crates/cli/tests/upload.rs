//! `sangam upload` against a running `sangam serve`, on every backend: the officer sends a
//! file with one bad row, gets the counts, the rejected rows and the mapping, fixes the row
//! and sends it again as a correction; and a scheme's full file that would remove most of
//! the records stops with how to confirm, and loads with `--confirm-removals`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::io::Write;

use common::{run, sangam, save_officer, serve, sign_in, signal, stderr};
use sangam_testkit::backends;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_uploads_from_the_command_line() {
    for backend in backends("an_officer_uploads_from_the_command_line").await {
        let dir = tempfile::tempdir().unwrap();
        let password = save_officer(&backend, dir.path(), "cs-officer", "civil-supplies");

        let (mut server, base) = serve(&backend);

        let file = dir.path().join("cards.csv");
        let o = run(sangam()
            .args(["synth", "--households", "30", "--seed", "9", "--out"])
            .arg(&file));
        assert!(o.status.success(), "{}", stderr(&o));
        let good = std::fs::read_to_string(&file).unwrap().lines().count() as u64 - 1;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&file)
            .unwrap();
        writeln!(
            f,
            "PYX000000009,PHH,1,Main St,Ward 1,640001,605001,Ravi,Kumar,M,2090-01-01,HEAD,,,alive"
        )
        .unwrap();
        drop(f);

        let rejections = dir.path().join("rejected.csv");
        let mapping = dir.path().join("mapping.csv");
        let upload = |file: &std::path::Path, extra: &[&str]| {
            let mut cmd = sangam();
            cmd.args([
                "upload",
                "--url",
                &base,
                "--user",
                "cs-officer",
                "--password-file",
            ])
            .arg(&password)
            .args(["--dataset", "base"])
            .args(extra)
            .arg(file);
            run(&mut cmd)
        };
        let out = upload(
            &file,
            &[
                "--rejections",
                rejections.to_str().unwrap(),
                "--mapping",
                mapping.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let counts: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        assert_eq!(counts["status"], "committed", "{counts}");
        assert_eq!(counts["rows"].as_u64(), Some(good + 1));
        assert_eq!(counts["accepted"].as_u64(), Some(good));
        assert_eq!(counts["rejected"].as_u64(), Some(1));
        let report = std::fs::read_to_string(&rejections).unwrap();
        assert!(report.contains("dob.in_future"), "{report}");
        let mapped = std::fs::read_to_string(&mapping).unwrap();
        assert_eq!(
            mapped.lines().count() as u64,
            good + 1,
            "a header and one line a member"
        );

        // The fixed row goes back as a correction of the first upload.
        let fixed = dir.path().join("fixed.csv");
        let mut lines = report.trim_start_matches('\u{feff}').lines();
        let header = lines.next().unwrap();
        let row = lines.next().unwrap().replace("2090-01-01", "1990-01-01");
        let keep = |l: &str| l.split(',').take(15).collect::<Vec<_>>().join(",");
        std::fs::write(&fixed, format!("{}\n{}\n", keep(header), keep(&row))).unwrap();
        let first_id = counts["upload_id"].as_str().unwrap();
        let out = upload(&fixed, &["--corrects", first_id]);
        assert!(out.status.success(), "{}", stderr(&out));
        let counts: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        assert_eq!(counts["accepted"].as_u64(), Some(1), "{counts}");

        // A wrong password is one clear line, not a panic.
        let wrong = dir.path().join("wrong");
        std::fs::write(&wrong, "not the password at all\n").unwrap();
        let out = run(sangam()
            .args([
                "upload",
                "--url",
                &base,
                "--user",
                "cs-officer",
                "--password-file",
            ])
            .arg(&wrong)
            .args(["--dataset", "base"])
            .arg(&file));
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("401"), "{err}");
        assert!(!err.contains("panicked"), "{err}");

        signal(&server, "TERM");
        let _ = server.wait();
        backend.cleanup().await;
    }
}

/// A full scheme file that would remove most of the records: `sangam upload` follows the load,
/// ends with one clear error that says how to confirm, and with `--confirm-removals` loads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_removal_is_confirmed_from_the_command_line() {
    for backend in backends("a_mass_removal_is_confirmed_from_the_command_line").await {
        let dir = tempfile::tempdir().unwrap();
        let password = save_officer(&backend, dir.path(), "sw-officer", "social-welfare");
        let (mut server, base) = serve(&backend);

        // The officer declares the scheme over the API.
        let client = reqwest::Client::new();
        let token = sign_in(&base, "sw-officer").await;
        let declared = client
            .post(format!("{base}/v1/datasets"))
            .bearer_auth(&token)
            .body(sangam_testkit::fixtures::scheme_spec(
                "old_age_pension",
                "",
                "",
            ))
            .send()
            .await
            .unwrap();
        assert!(
            declared.status().is_success(),
            "{}",
            declared.text().await.unwrap()
        );

        let file = |name: &str, n: u32| {
            let path = dir.path().join(name);
            let mut csv = String::from("beneficiary_id,dob\n");
            for k in 0..n {
                csv.push_str(&format!("B-{k:03},1950\n"));
            }
            std::fs::write(&path, csv).unwrap();
            path
        };
        let upload = |file: &std::path::Path, extra: &[&str]| {
            let mut cmd = sangam();
            cmd.args([
                "upload",
                "--url",
                &base,
                "--user",
                "sw-officer",
                "--password-file",
            ])
            .arg(&password)
            .args(["--dataset", "old_age_pension"])
            .args(extra)
            .arg(file);
            run(&mut cmd)
        };
        let out = upload(&file("all.csv", 100), &[]);
        assert!(out.status.success(), "{}", stderr(&out));

        let cut = file("cut.csv", 10);
        let out = upload(&cut, &[]);
        let line = common::assert_one_clear_error(&out, "--confirm-removals");
        assert!(line.contains("remove 90 of the 100 records"), "{line}");

        let out = upload(&cut, &["--confirm-removals"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let counts: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
        assert_eq!(counts["status"], "committed", "{counts}");
        assert_eq!(counts["deleted"].as_u64(), Some(90), "{counts}");

        signal(&server, "TERM");
        let _ = server.wait();
        backend.cleanup().await;
    }
}
