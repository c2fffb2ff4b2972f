//! The nodal officer's loop over HTTP, on every backend: upload, see the counts, download the
//! rejected rows, fix them, upload them again as a correction, and download the
//! reference-key mapping; for the base registry (one file of a row per member, or a cards
//! file and then a members file) and for a scheme with its own spec (full uploads with their
//! difference, and incremental ones). Only the uploading organisation gets its rows back,
//! and no response carries a full ID number.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use reqwest::{StatusCode, multipart};
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::ManualClock;
use sangam_store::Role;
use sangam_synth::{BASE_REGISTRY_HEADER, Generator, GeneratorConfig, write_base_registry_csv};
use sangam_testkit::backends;
use serde_json::Value;

use common::{Api, save_users, served_hub, to_csv};

/// The named counts of an upload result, in order (a missing one fails the test).
fn counts(result: &Value, names: &[&str]) -> Vec<u64> {
    names
        .iter()
        .map(|n| result["upload"]["counts"][n].as_u64().unwrap())
        .collect()
}

fn error_codes(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|p| p["code"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The report's rows as the officer would fix them: the file's own columns only.
fn rows_of_report(report: &str, width: usize) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_reader(report.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().take(width).map(str::to_owned).collect())
        .collect()
}

/// A bank account number of a beneficiary: sensitive, so stored only sealed.
const BANK_ACCOUNT: &str = "987650001234";

const PENSION_SPEC: &str = r#"
dataset = "old_age_pension"
version = 1
title = "Old-age pension beneficiaries"
record_key = "beneficiary_id"
update_frequency_days = 30

[[columns]]
name = "operation"
kind = "operation"

[[columns]]
name = "beneficiary_id"
kind = "text"
required = true

[[columns]]
name = "aadhaar"
aliases = ["uid"]
kind = "id_number"

[[columns]]
name = "name"
kind = "person_name"
required = true

[[columns]]
name = "dob"
kind = "dob"
required = true

[[columns]]
name = "bank_account"
kind = "bank_account"

[[columns]]
name = "pension_amount"
kind = "decimal"
required = true
min = 0

[[rules]]
name = "old_age"
check = "age_at_least"
column = "dob"
years = 60
message = "an old-age pension beneficiary must be 60 years old or more"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_runs_the_whole_upload_loop_over_http() {
    for backend in backends("an_officer_runs_the_whole_upload_loop_over_http").await {
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let key = sangam_vault::MasterKey::generate();
        let hub = open_hub(&backend.location, &key, clock.clone())
            .await
            .unwrap();
        save_users(
            &hub,
            &[
                ("admin", Role::Admin, None),
                ("cs-officer", Role::NodalOfficer, Some("civil-supplies")),
                ("sw-officer", Role::NodalOfficer, Some("social-welfare")),
            ],
        )
        .await;
        let server = sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        let api = Api::new(server.addr);
        let (cs, sw, admin) = (
            api.sign_in("cs-officer").await,
            api.sign_in("sw-officer").await,
            api.sign_in("admin").await,
        );
        let generator = Generator::new(GeneratorConfig {
            seed: 3,
            households: 20,
            ..Default::default()
        });
        let numbers: Vec<String> = generator
            .households()
            .flat_map(|h| h.members.into_iter().filter_map(|m| m.id_number))
            .collect();
        let no_full_number = |text: &str| {
            if let Some(n) = sangam_testkit::find_any(text.as_bytes(), &numbers) {
                panic!(
                    "a full ID number (ending {}) appeared in a response",
                    &n[8..]
                );
            }
        };

        // ---- the base registry: upload with two bad rows, one of them with a valid ID
        // number that only the rejected row holds (it must never be stored in clear).
        let outsider = Generator::new(GeneratorConfig {
            seed: 77,
            households: 5,
            ..Default::default()
        })
        .households()
        .flat_map(|h| h.members)
        .find_map(|m| m.id_number)
        .unwrap();
        let mut file = Vec::new();
        let good = write_base_registry_csv(&generator, &mut file).unwrap();
        file.extend_from_slice(
            format!(
                "PYX000000001,PHH,1,Main St,Ward 1,640001,605001,Ravi,Kumar,M,1980-01-01,HEAD,234567890120,,alive\n\
                 PYX000000002,PHH,1,Main St,Ward 1,640001,605001,Meena,Ravi,F,2090-01-01,HEAD,{outsider},,alive\n"
            )
            .as_bytes(),
        );
        let first = api
            .upload(
                "dataset=base&file_name=cards.csv",
                file.clone(),
                &cs,
                StatusCode::CREATED,
            )
            .await;
        let upload_id = first["upload"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["upload"]["status"], "committed");
        assert_eq!(first["upload"]["counts"]["rows"], good + 2);
        assert_eq!(first["upload"]["counts"]["accepted"], good);
        assert_eq!(first["upload"]["counts"]["rejected"], 2);
        assert_eq!(first["upload"]["uploaded_by"], "cs-officer");
        assert_eq!(first["upload"]["organisation"], "civil-supplies");

        // The same file again loads nothing.
        let again = api
            .upload(
                "dataset=base&file_name=cards.csv",
                file,
                &cs,
                StatusCode::OK,
            )
            .await;
        assert_eq!(again["already_loaded"], true);
        assert_eq!(again["upload"]["id"], upload_id.as_str());

        // The rejected rows, with reasons, only for the uploading organisation.
        let r = api
            .get(
                &format!("/v1/uploads/{upload_id}/rejections?format=csv"),
                &cs,
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let report = r.text().await.unwrap();
        assert!(report.contains("id_number.checksum"), "{report}");
        assert!(report.contains("dob.in_future"), "{report}");
        let xlsx = api
            .get(
                &format!("/v1/uploads/{upload_id}/rejections?format=xlsx"),
                &cs,
            )
            .await;
        assert_eq!(xlsx.status(), StatusCode::OK);
        assert!(
            xlsx.bytes().await.unwrap().starts_with(b"PK"),
            "an XLSX (zip) file"
        );
        assert_eq!(
            api.get(&format!("/v1/uploads/{upload_id}/rejections"), &sw)
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "another organisation does not see the upload"
        );
        assert_eq!(
            api.get(&format!("/v1/uploads/{upload_id}/rejections"), &admin)
                .await
                .status(),
            StatusCode::FORBIDDEN,
            "the rows go back to the department only"
        );
        assert_eq!(
            api.get(
                &format!("/v1/uploads/{upload_id}/rejections?format=pdf"),
                &cs
            )
            .await
            .status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );

        // Fixed and sent again as a correction, as a multipart form.
        let mut fixed = rows_of_report(&report, BASE_REGISTRY_HEADER.len());
        assert_eq!(fixed.len(), 2);
        for row in &mut fixed {
            row[10] = "1980-01-01".into(); // dob
            row[12] = String::new(); // the mistyped ID number, left out until it is checked
        }
        let form = multipart::Form::new()
            .text("dataset", "base")
            .text("corrects", upload_id.clone())
            .part(
                "file",
                multipart::Part::bytes(to_csv(BASE_REGISTRY_HEADER, &fixed)).file_name("fixed.csv"),
            );
        let r = api
            .client
            .post(format!("{}/v1/uploads", api.base))
            .header("authorization", &cs)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let correction = api.json(r, StatusCode::CREATED).await;
        assert_eq!(correction["upload"]["counts"]["accepted"], 2);
        assert_eq!(correction["upload"]["counts"]["rejected"], 0);
        assert_eq!(correction["upload"]["corrects"], upload_id.as_str());

        // The mapping: every accepted row's reference key, the number masked.
        let r = api
            .get(&format!("/v1/uploads/{upload_id}/mapping?format=json"), &cs)
            .await;
        let text = r.text().await.unwrap();
        no_full_number(&text);
        let mapping: Vec<Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(mapping.len() as u64, good);
        let with_number = mapping
            .iter()
            .find(|m| m["ref_key"].is_string())
            .expect("some rows have ID numbers");
        let masked = with_number["id_number_masked"].as_str().unwrap();
        assert!(masked.starts_with("XXXX XXXX "), "{masked}");
        assert!(
            mapping
                .iter()
                .all(|m| m["outcome"] == "added" && m["resident_id"].is_string())
        );
        let csv_mapping = api
            .get(&format!("/v1/uploads/{upload_id}/mapping"), &cs)
            .await
            .text()
            .await
            .unwrap();
        assert!(csv_mapping.contains("record_key,ref_key,id_number_masked,resident_id,outcome"));
        no_full_number(&csv_mapping);
        assert_eq!(
            api.get(&format!("/v1/uploads/{upload_id}/mapping"), &sw)
                .await
                .status(),
            StatusCode::NOT_FOUND
        );

        // The officer sees their own uploads; the other department sees none of them.
        let mine: Vec<Value> = api
            .json(api.get("/v1/uploads", &cs).await, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(mine.len(), 2);
        let theirs = api
            .json(api.get("/v1/uploads", &sw).await, StatusCode::OK)
            .await;
        assert_eq!(theirs.as_array().unwrap().len(), 0);

        // Bad input: an unknown dataset, a file without a mandatory column, an empty file,
        // another organisation's dataset.
        let p = api
            .upload(
                "dataset=pensions",
                b"a,b\n1,2\n".to_vec(),
                &cs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(error_codes(&p), ["dataset.unknown"]);
        let p = api.upload("dataset=base&file_name=no-name.csv&idempotency_key=x",
                    b"ration_card_no,card_type,village_code,gender,dob,relationship\nPY1,PHH,640001,M,1980,HEAD\n".to_vec(),
                    &cs, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(p["detail"].as_str().unwrap().contains("member_name"), "{p}");
        let p = api
            .upload(
                "dataset=base&file_name=empty.csv",
                Vec::new(),
                &cs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(error_codes(&p), ["file.unreadable"]);
        assert_eq!(
            api.upload_raw("dataset=base", b"x".to_vec(), &sw)
                .await
                .status(),
            StatusCode::FORBIDDEN,
            "the base registry is Civil Supplies' to upload"
        );
        let p = api
            .upload(
                "dataset=base&corrects=no-such-upload",
                b"x".to_vec(),
                &cs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert_eq!(error_codes(&p), ["corrects.unknown"]);
        let p = api
            .upload(
                "dataset=base&mode=incremental&file_name=changes.csv",
                b"ration_card_no,card_type,village_code,member_name,gender,dob,relationship\n\
                  PY1,PHH,640001,Ravi,M,1980,HEAD\n"
                    .to_vec(),
                &cs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(
            p["detail"].as_str().unwrap().contains("operation column"),
            "incremental base rows need their operation: {p}"
        );

        // ---- a scheme with its own spec, declared by its department.
        let created = api
            .json(
                api.client
                    .post(format!("{}/v1/datasets", api.base))
                    .header("authorization", &sw)
                    .body(PENSION_SPEC)
                    .send()
                    .await
                    .unwrap(),
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(created["dataset"]["organisation"], "social-welfare");
        assert_eq!(created["dataset"]["current_version"], 1);
        let r = api
            .client
            .post(format!("{}/v1/datasets/old_age_pension/specs", api.base))
            .header("authorization", &cs)
            .body(PENSION_SPEC.replace("version = 1", "version = 2"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "only its own department changes it"
        );
        let spec_problem = |path: String, body: String| {
            let (api, sw) = (&api, &sw);
            async move {
                let r = api
                    .client
                    .post(format!("{}{path}", api.base))
                    .header("authorization", sw)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let body: Value = r.json().await.unwrap();
                (status, error_codes(&body))
            }
        };
        let unprocessable = |code: &str| (StatusCode::UNPROCESSABLE_ENTITY, vec![code.to_owned()]);
        assert_eq!(
            spec_problem("/v1/datasets".into(), PENSION_SPEC.into()).await,
            (StatusCode::CONFLICT, vec![]),
            "a dataset is declared once"
        );
        assert_eq!(
            spec_problem(
                "/v1/datasets".into(),
                PENSION_SPEC.replace("old_age_pension", "base")
            )
            .await,
            unprocessable("dataset.reserved")
        );
        assert_eq!(
            spec_problem(
                "/v1/datasets".into(),
                PENSION_SPEC
                    .replace("old_age_pension", "widow_pension")
                    .replace("version = 1", "version = 2")
            )
            .await,
            unprocessable("spec.version")
        );
        assert_eq!(
            spec_problem(
                "/v1/datasets".into(),
                PENSION_SPEC.replace("required = true", "requried = true")
            )
            .await,
            unprocessable("spec.invalid"),
            "a misspelt key is refused, not ignored"
        );
        assert_eq!(
            spec_problem(
                "/v1/datasets/old_age_pension/specs".into(),
                PENSION_SPEC.replace("version = 1", "version = 3")
            )
            .await,
            unprocessable("spec.version"),
            "versions follow one another"
        );
        assert_eq!(
            spec_problem(
                "/v1/datasets/old_age_pension/specs".into(),
                PENSION_SPEC
                    .replace("old_age_pension", "widow_pension")
                    .replace("version = 1", "version = 2")
            )
            .await,
            unprocessable("spec.dataset_mismatch")
        );

        let elder = generator
            .households()
            .flat_map(|h| h.members)
            .find(|m| m.id_number.is_some())
            .unwrap();
        let elder_id = elder.id_number.clone().unwrap();
        let header = [
            "beneficiary_id",
            "uid",
            "name",
            "dob",
            "bank_account",
            "pension_amount",
        ];
        let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();
        let full = to_csv(
            &header,
            &[
                row(&[
                    "OAP-1",
                    &elder_id,
                    "Lakshmi Devi",
                    "1950",
                    BANK_ACCOUNT,
                    "1500",
                ]),
                row(&["OAP-2", "", "Muniammal", "01-02-1948", "", "1500"]),
                row(&["OAP-3", "", "Young Person", "1990", "", "1500"]),
                row(&["OAP-1", "", "Lakshmi again", "1950", "", "1500"]),
            ],
        );
        let r = api
            .upload(
                "dataset=old_age_pension&file_name=pension.csv",
                full,
                &sw,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(counts(&r, &["rows", "added", "rejected"]), [4, 2, 2], "{r}");
        let scheme_upload = r["upload"]["id"].as_str().unwrap().to_owned();
        let report = api
            .get(&format!("/v1/uploads/{scheme_upload}/rejections"), &sw)
            .await
            .text()
            .await
            .unwrap();
        assert!(report.contains("rule.old_age"), "{report}");
        assert!(report.contains("row.duplicate_in_file"), "{report}");
        assert!(
            !report.contains(BANK_ACCOUNT),
            "no bank number among the rejected rows here"
        );
        let mapping: Vec<Value> = api
            .json(
                api.get(
                    &format!("/v1/uploads/{scheme_upload}/mapping?format=json"),
                    &sw,
                )
                .await,
                StatusCode::OK,
            )
            .await
            .as_array()
            .unwrap()
            .clone();
        let linked = mapping.iter().find(|m| m["record_key"] == "OAP-1").unwrap();
        assert!(
            linked["resident_id"].is_string(),
            "linked through the ID number: {linked}"
        );
        let unlinked = mapping.iter().find(|m| m["record_key"] == "OAP-2").unwrap();
        assert!(
            unlinked["resident_id"].is_null(),
            "no number: unlinked, kept for matching"
        );

        // A second full upload: one record changed, one gone, one new, none the same.
        let full = to_csv(
            &header,
            &[
                row(&[
                    "OAP-1",
                    &elder_id,
                    "Lakshmi Devi",
                    "1950",
                    BANK_ACCOUNT,
                    "2000",
                ]),
                row(&["OAP-4", "", "Ponnammal", "1944", "", "1500"]),
            ],
        );
        let r = api
            .upload(
                "dataset=old_age_pension&file_name=pension2.csv",
                full.clone(),
                &sw,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(
            counts(&r, &["added", "modified", "deleted", "unchanged"]),
            [1, 1, 1, 0],
            "{r}"
        );
        // The same content under another idempotency key: nothing changes.
        let r = api
            .upload(
                "dataset=old_age_pension&file_name=pension2.csv&idempotency_key=again",
                full,
                &sw,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(
            counts(&r, &["added", "modified", "deleted", "unchanged"]),
            [0, 0, 0, 2],
            "{r}"
        );

        // Incremental: rows say what to do.
        let header = [
            "operation",
            "beneficiary_id",
            "uid",
            "name",
            "dob",
            "pension_amount",
        ];
        let changes = to_csv(
            &header,
            &[
                row(&["A", "OAP-4", "", "Ponnammal", "1944", "1500"]),
                row(&["D", "OAP-1", "", "", "", ""]),
                row(&["A", "OAP-2", "", "Muniammal", "1948", "1500"]),
                row(&["M", "OAP-9", "", "Nobody", "1940", "1500"]),
            ],
        );
        let r = api
            .upload(
                "dataset=old_age_pension&mode=incremental&file_name=changes.csv",
                changes,
                &sw,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(
            counts(&r, &["added", "modified", "deleted", "rejected"]),
            [1, 0, 1, 2],
            "{r}"
        );
        let id = r["upload"]["id"].as_str().unwrap();
        let report = api
            .get(&format!("/v1/uploads/{id}/rejections"), &sw)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            report.contains("record.not_found") && report.contains("record.exists"),
            "{report}"
        );
        let mapping: Vec<Value> = api
            .json(
                api.get(&format!("/v1/uploads/{id}/mapping?format=json"), &sw)
                    .await,
                StatusCode::OK,
            )
            .await
            .as_array()
            .unwrap()
            .clone();
        let deleted = mapping.iter().find(|m| m["record_key"] == "OAP-1").unwrap();
        assert_eq!(deleted["outcome"], "deleted");
        assert!(
            deleted["ref_key"].is_string(),
            "a deleted record's mapping keeps its reference key: {deleted}"
        );
        let modify = to_csv(
            &header,
            &[row(&["M", "OAP-4", "", "Ponnammal", "1944", "1800"])],
        );
        let r = api
            .upload(
                "dataset=old_age_pension&mode=incremental&file_name=m.csv",
                modify,
                &sw,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(r["upload"]["counts"]["modified"], 1, "{r}");
        let no_op = api
            .upload_raw(
                "dataset=old_age_pension&mode=incremental&file_name=x.csv",
                to_csv(
                    &["beneficiary_id", "name", "dob", "pension_amount"],
                    &[row(&["OAP-5", "A", "1940", "1"])],
                ),
                &sw,
            )
            .await;
        assert_eq!(
            no_op.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "incremental rows need their operation"
        );

        // The data updation policy: due 30 days after the last upload.
        let overdue = api
            .json(
                api.get("/v1/datasets/overdue", &admin).await,
                StatusCode::OK,
            )
            .await;
        assert!(overdue.as_array().unwrap().is_empty(), "{overdue}");
        clock.advance(Duration::days(31));
        let admin = api.sign_in("admin").await; // the morning's session has long expired
        let overdue = api
            .json(
                api.get("/v1/datasets/overdue", &admin).await,
                StatusCode::OK,
            )
            .await;
        let names: Vec<&str> = overdue
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["dataset"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["base", "old_age_pension"], "{overdue}");
        assert_eq!(overdue[0]["days_overdue"], 1);

        server.shutdown().await.unwrap();
        // Nothing at rest holds the rejected row's ID number or the scheme's bank account
        // number in clear: rejected rows and sensitive fields are sealed.
        let secrets = [outsider.clone(), BANK_ACCOUNT.to_owned()];
        if backend.database_url().is_some() {
            let dump = sangam_testkit::pg_dump(&backend);
            assert_eq!(
                sangam_testkit::find_any(&dump, &secrets),
                None,
                "in the dump"
            );
        } else {
            for file in sangam_testkit::files_under(backend.data_path()) {
                let bytes = std::fs::read(&file).unwrap();
                assert_eq!(
                    sangam_testkit::find_any(&bytes, &secrets),
                    None,
                    "in {}",
                    file.display()
                );
            }
        }
        drop(hub);
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_uploads_the_base_registry_as_cards_then_members() {
    for backend in backends("an_officer_uploads_the_base_registry_as_cards_then_members").await {
        let (hub, server, api) = served_hub(
            &backend,
            &[
                ("admin", Role::Admin, None),
                ("cs-officer", Role::NodalOfficer, Some("civil-supplies")),
            ],
        )
        .await;
        let (cs, admin) = (api.sign_in("cs-officer").await, api.sign_in("admin").await);
        let number = sangam_domain::IdNumber::from_eleven_digits("23456789012")
            .unwrap()
            .expose_digits()
            .to_owned();
        let row = |cells: &[&str]| cells.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>();

        // ---- the cards: households only, one of them sent twice.
        let cards = to_csv(
            &[
                "Ration Card No",
                "Card Type",
                "House No",
                "Locality",
                "Village Code",
                "Pincode",
            ],
            &[
                row(&["PYB0000001", "PHH", "4", "Ward 2", "640001", "605001"]),
                row(&["PYB0000002", "AAY", "9", "Ward 3", "640002", "605002"]),
                row(&["PYB0000002", "AAY", "9", "Ward 3", "640002", "605002"]),
            ],
        );
        let r = api
            .upload(
                "dataset=base&file_name=cards.csv",
                cards,
                &cs,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(
            counts(&r, &["rows", "accepted", "added", "rejected"]),
            [3, 2, 2, 1],
            "{r}"
        );
        let cards_upload = r["upload"]["id"].as_str().unwrap().to_owned();
        let mapping: Vec<Value> = api
            .get_json(
                &format!("/v1/uploads/{cards_upload}/mapping?format=json"),
                &cs,
                StatusCode::OK,
            )
            .await
            .as_array()
            .unwrap()
            .clone();
        let entries: Vec<(&str, &str)> = mapping
            .iter()
            .map(|m| {
                (
                    m["record_key"].as_str().unwrap(),
                    m["outcome"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [("PYB0000001", "added"), ("PYB0000002", "added")],
            "one entry per card"
        );
        assert!(mapping.iter().all(|m| m["resident_id"].is_null()));
        let household = api
            .get_json("/v1/households/PYB0000001", &admin, StatusCode::OK)
            .await;
        assert_eq!(household["card_type"], "PHH");
        assert_eq!(household["address"]["locality"], "Ward 2");
        assert_eq!(household["members"].as_array().unwrap().len(), 0);
        let report = api
            .get(&format!("/v1/uploads/{cards_upload}/rejections"), &cs)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            report
                .trim_start_matches('\u{feff}')
                .starts_with("Ration Card No,Card Type,"),
            "the report has the file's own header: {report}"
        );
        assert!(report.contains("row.duplicate_in_file"), "{report}");

        // ---- the members: each joins a card loaded above; a card never loaded is refused.
        let header = [
            "ration_card_no",
            "member_name",
            "gender",
            "dob",
            "relationship",
            "aadhaar",
        ];
        let members = to_csv(
            &header,
            &[
                row(&["PYB0000001", "Senthil", "M", "1972", "HEAD", &number]),
                row(&["PYB0000001", "Valli", "F", "1976", "SPOUSE", ""]),
                row(&["PYB0000002", "Rani", "F", "1961", "HEAD", ""]),
                row(&["PYB0000009", "Stranger", "M", "1990", "HEAD", ""]),
            ],
        );
        let r = api
            .upload(
                "dataset=base&file_name=members.csv",
                members.clone(),
                &cs,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(
            counts(&r, &["rows", "accepted", "added", "rejected"]),
            [4, 3, 3, 1],
            "{r}"
        );
        let members_upload = r["upload"]["id"].as_str().unwrap().to_owned();
        let report = api
            .get(&format!("/v1/uploads/{members_upload}/rejections"), &cs)
            .await
            .text()
            .await
            .unwrap();
        let report = report.trim_start_matches('\u{feff}');
        assert!(
            report.starts_with("ration_card_no,member_name,gender,dob,relationship,aadhaar"),
            "{report}"
        );
        let rejected = rows_of_report(report, header.len());
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0][0], "PYB0000009");
        assert!(report.contains("card.unknown"), "{report}");
        let text = api
            .get(
                &format!("/v1/uploads/{members_upload}/mapping?format=json"),
                &cs,
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(!text.contains(&number), "the mapping masks ID numbers");
        let mapping: Vec<Value> = serde_json::from_str(&text).unwrap();
        let cards_of: Vec<&str> = mapping
            .iter()
            .map(|m| m["record_key"].as_str().unwrap())
            .collect();
        assert_eq!(cards_of, ["PYB0000001", "PYB0000001", "PYB0000002"]);
        assert!(
            mapping
                .iter()
                .all(|m| m["outcome"] == "added" && m["resident_id"].is_string())
        );
        assert!(mapping[0]["ref_key"].is_string());
        assert!(
            mapping[0]["id_number_masked"]
                .as_str()
                .unwrap()
                .ends_with(&number[8..])
        );
        let household = api
            .get_json("/v1/households/PYB0000001", &admin, StatusCode::OK)
            .await;
        assert_eq!(household["members"].as_array().unwrap().len(), 2);
        assert_eq!(
            household["head_resident_id"], mapping[0]["resident_id"],
            "the head who joined is the card's head"
        );
        assert_eq!(household["version"], 2);

        // The same members again (another key): the cards have their members already.
        let r = api
            .upload(
                "dataset=base&file_name=members.csv&idempotency_key=again",
                members,
                &cs,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(counts(&r, &["accepted", "rejected"]), [0, 4], "{r}");
        let again = r["upload"]["id"].as_str().unwrap().to_owned();
        let report = api
            .get(&format!("/v1/uploads/{again}/rejections"), &cs)
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(report.matches("card.already_loaded").count(), 3, "{report}");

        // ---- a file of neither form is refused whole, naming the columns it lacks.
        let p = api
            .upload(
                "dataset=base&file_name=people.csv",
                to_csv(
                    &["member_name", "gender", "dob"],
                    &[row(&["Ravi", "M", "1980"])],
                ),
                &cs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains("`ration_card_no`"), "{p}");
        assert!(detail.contains("member_name, gender, dob"), "{p}");
        let p = api
            .upload(
                "dataset=base&file_name=other.csv",
                to_csv(&["ration_card_no", "remarks"], &[row(&["PYB0000001", "x"])]),
                &cs,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains("`card_type`") && detail.contains("`member_name`"),
            "{p}"
        );
        let failed: Vec<Value> = api
            .get_json("/v1/uploads", &cs, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            failed.iter().filter(|u| u["status"] == "failed").count(),
            2,
            "a refused file is recorded as a failed upload"
        );

        server.shutdown().await.unwrap();
        drop(hub);
        backend.cleanup().await;
    }
}

/// A full scheme file that would remove most of what the hub holds stops with a problem that
/// names the code and how to confirm; the same file sent again with `confirm_removals=true`
/// loads; a flag that is not yes or no is refused, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_removal_waits_for_the_uploader_to_confirm_it() {
    for backend in backends("a_mass_removal_waits_for_the_uploader_to_confirm_it").await {
        let (hub, server, api) = served_hub(
            &backend,
            &[("sw-officer", Role::NodalOfficer, Some("social-welfare"))],
        )
        .await;
        let officer = hub.store().user("sw-officer").await.unwrap().unwrap();
        hub.create_dataset(
            &sangam_testkit::fixtures::scheme_spec("old_age_pension", "", ""),
            sangam_hub::datasets::SpecFormat::Toml,
            "social-welfare",
            &officer,
        )
        .await
        .unwrap();
        let auth = api.sign_in("sw-officer").await;
        let file = |n: u32| {
            let rows: Vec<Vec<String>> = (0..n)
                .map(|k| vec![format!("B-{k:03}"), "1950".to_owned()])
                .collect();
            to_csv(&["beneficiary_id", "dob"], &rows)
        };
        let query = "dataset=old_age_pension&file_name=list.csv";
        let all = api
            .upload(
                &format!("{query}&idempotency_key=all"),
                file(100),
                &auth,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(counts(&all, &["added"]), [100]);

        let cut = format!("{query}&idempotency_key=cut");
        let problem = api
            .upload(&cut, file(10), &auth, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
        assert_eq!(
            error_codes(&problem),
            ["upload.removals_unconfirmed"],
            "{problem}"
        );
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("remove 90 of the 100 records")
                && detail.contains("confirm_removals=true"),
            "{detail}"
        );
        let held = hub
            .store()
            .count_active_enrolments("old_age_pension")
            .await
            .unwrap();
        assert_eq!(held, 100);

        let problem = api
            .upload(
                &format!("{cut}&confirm_removals=perhaps"),
                file(10),
                &auth,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("confirm_removals"),
            "{problem}"
        );

        let confirmed = api
            .upload(
                &format!("{cut}&confirm_removals=true"),
                file(10),
                &auth,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(counts(&confirmed, &["unchanged", "deleted"]), [10, 90]);
        drop(server);
        backend.cleanup().await;
    }
}

/// `Prefer: respond-async`: the answer comes once the file is received and its header
/// checked (202, the upload validating, its address in `Location`), and the load goes on
/// behind it until the upload reads committed. A file refused whole is still refused in the
/// answer, and the same file again is the same upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_asks_not_to_wait_loads_behind_the_answer() {
    for backend in backends("an_upload_that_asks_not_to_wait_loads_behind_the_answer").await {
        let (_hub, server, api) = served_hub(
            &backend,
            &[("cs-officer", Role::NodalOfficer, Some("civil-supplies"))],
        )
        .await;
        let auth = api.sign_in("cs-officer").await;
        let generator = Generator::new(GeneratorConfig {
            seed: 5,
            households: 300,
            ..Default::default()
        });
        let mut file = Vec::new();
        let rows = write_base_registry_csv(&generator, &mut file).unwrap();
        let send = |query: &'static str, body: Vec<u8>| {
            api.client
                .post(format!("{}/v1/uploads?{query}", api.base))
                .header("authorization", &auth)
                .header("prefer", "respond-async")
                .body(body)
                .send()
        };

        let answer = send("dataset=base&file_name=base.csv", file.clone())
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert_eq!(
            answer.headers()["preference-applied"].to_str().unwrap(),
            "respond-async"
        );
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        let accepted: Value = answer.json().await.unwrap();
        let id = accepted["upload"]["id"].as_str().unwrap().to_owned();
        assert_eq!(location, format!("/v1/uploads/{id}"));
        assert_eq!(accepted["upload"]["status"], "validating", "{accepted}");

        let mut seen = Value::Null;
        for _ in 0..600 {
            seen = api.get_json(&location, &auth, StatusCode::OK).await;
            if seen["status"] != "validating" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(seen["status"], "committed", "{seen}");
        assert_eq!(seen["counts"]["accepted"].as_u64(), Some(rows));

        let again = send("dataset=base&file_name=base.csv", file).await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        let again: Value = again.json().await.unwrap();
        assert_eq!(again["already_loaded"], true);
        assert_eq!(again["upload"]["id"], id.as_str());

        let headless = b"ration_card_no,member_name\nPYZ0000001,Ravi\n".to_vec();
        let refused = send("dataset=base&file_name=bad.csv", headless)
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        drop(server);
        backend.cleanup().await;
    }
}
