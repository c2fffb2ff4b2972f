//! Code lists over HTTP, on every backend: an administrator loads the LGD village directory
//! or the directory of bank branches; from then on an upload rejects a row whose village or
//! IFSC is not in it (before, only the code's format was checked), and a list with a bad row
//! changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::ManualClock;
use sangam_store::Role;
use sangam_synth::{Generator, GeneratorConfig, write_base_registry_csv};
use sangam_testkit::backends;
use serde_json::{Value, json};

use common::{Api, PASSWORD, served_hub, to_csv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_checked_against_the_loaded_village_directory() {
    for backend in backends("uploads_are_checked_against_the_loaded_village_directory").await {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
        ));
        let hub = open_hub(
            &backend.location,
            &sangam_vault::MasterKey::generate(),
            clock,
        )
        .await
        .unwrap();
        hub.save_user("admin", PASSWORD, Role::Admin, None, "test")
            .await
            .unwrap();
        hub.save_user(
            "cs-officer",
            PASSWORD,
            Role::NodalOfficer,
            Some("civil-supplies"),
            "test",
        )
        .await
        .unwrap();
        let server = sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        let api = Api::new(server.addr);
        let (base, client) = (api.base.clone(), api.client.clone());
        let admin = api.sign_in("admin").await;
        let officer = api.sign_in("cs-officer").await;

        let generator = Generator::new(GeneratorConfig {
            seed: 5,
            households: 40,
            ..Default::default()
        });
        // The directory holds every village of the data but one.
        let mut villages = BTreeMap::new();
        let mut members_of = BTreeMap::<u32, u64>::new();
        for h in generator.households() {
            *members_of.entry(h.village.village_code).or_default() += h.members.len() as u64;
            villages.insert(h.village.village_code, h.village.clone());
        }
        assert!(villages.len() >= 2, "{}", villages.len());
        let (&left_out, _) = villages.iter().next().unwrap();
        let mut directory =
            String::from("state_code,district_code,sub_district_code,village_code,village_name\n");
        for v in villages.values().filter(|v| v.village_code != left_out) {
            directory.push_str(&format!(
                "{},{},{},{},{}\n",
                v.state_code, v.district_code, v.sub_district_code, v.village_code, v.village_name
            ));
        }
        let put = |path: String, body: String, auth: String| {
            let client = client.clone();
            async move {
                client
                    .put(path)
                    .header("authorization", auth)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
            }
        };

        // Only an administrator loads a list; a bad row or an unknown list changes nothing.
        let url = format!("{base}/v1/code-lists/villages");
        let r = put(url.clone(), directory.clone(), officer.clone()).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let broken = format!("{directory}34,601,6001,12,\n");
        let r = put(url.clone(), broken, admin.clone()).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem.to_string().contains("code_list.invalid"),
            "{problem}"
        );
        let r = put(
            format!("{base}/v1/code-lists/ifsc"),
            directory.clone(),
            admin.clone(),
        )
        .await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "villages are not branches"
        );
        let r = put(
            format!("{base}/v1/code-lists/banks"),
            directory.clone(),
            admin.clone(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let lists: Value = client
            .get(format!("{base}/v1/code-lists"))
            .header("authorization", &officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(lists, json!([]), "nothing was loaded");

        let r = put(url.clone(), directory.clone(), admin.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let loaded: Value = r.json().await.unwrap();
        assert_eq!(loaded["entries"], villages.len() as u64 - 1);
        assert_eq!(loaded["loaded_by"], "admin");

        // The upload: rows of the village left out are rejected, and only those.
        let mut file = Vec::new();
        let rows = write_base_registry_csv(&generator, &mut file).unwrap();
        let answer: Value = client
            .post(format!(
                "{base}/v1/uploads?dataset=base&file_name=cards.csv"
            ))
            .header("authorization", &officer)
            .body(file)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let rejected = members_of[&left_out];
        assert_eq!(answer["upload"]["counts"]["rejected"], rejected, "{answer}");
        assert_eq!(
            answer["upload"]["counts"]["accepted"],
            rows - rejected,
            "{answer}"
        );
        let id = answer["upload"]["id"].as_str().unwrap();
        let report = client
            .get(format!("{base}/v1/uploads/{id}/rejections"))
            .header("authorization", &officer)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            report.matches("village_code.unknown").count() as u64,
            rejected,
            "{report}"
        );
        // A new version of the list replaces the old one at once: with the village added,
        // the same rows load (as a correction of the rejected ones).
        let full = format!(
            "{directory}{},{},{},{},{}\n",
            villages[&left_out].state_code,
            villages[&left_out].district_code,
            villages[&left_out].sub_district_code,
            left_out,
            villages[&left_out].village_name
        );
        let r = put(url.clone(), full, admin.clone()).await;
        assert_eq!(r.status(), StatusCode::OK);
        let mut fixed = Vec::new();
        write_base_registry_csv(&generator, &mut fixed).unwrap();
        let text = String::from_utf8(fixed).unwrap();
        let mut lines = text.lines();
        let mut only_left_out = format!("{}\n", lines.next().unwrap());
        for line in lines.filter(|l| l.contains(&format!(",{left_out},"))) {
            only_left_out.push_str(line);
            only_left_out.push('\n');
        }
        let again: Value = client
            .post(format!(
                "{base}/v1/uploads?dataset=base&file_name=fixed.csv&corrects={id}"
            ))
            .header("authorization", &officer)
            .body(only_left_out)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (
                &again["upload"]["counts"]["accepted"],
                &again["upload"]["counts"]["rejected"]
            ),
            (&json!(rejected), &json!(0)),
            "{again}"
        );
        let audit = hub.store().audit_entries(0, 1000).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "code_list.loaded"));
        server.shutdown().await.unwrap();
    }
}

/// A scheme whose beneficiaries are paid into bank accounts.
const WIDOW_PENSION_SPEC: &str = r#"
dataset = "widow_pension"
version = 1
title = "Widow pension"
record_key = "beneficiary_id"

[[columns]]
name = "beneficiary_id"
kind = "text"
required = true

[[columns]]
name = "name"
kind = "person_name"
required = true

[[columns]]
name = "ifsc"
aliases = ["ifsc_code"]
kind = "ifsc"
required = true
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheme_uploads_are_checked_against_the_loaded_bank_branches() {
    for backend in backends("scheme_uploads_are_checked_against_the_loaded_bank_branches").await {
        let (_hub, server, api) = served_hub(
            &backend,
            &[
                ("admin", Role::Admin, None),
                ("sw-officer", Role::NodalOfficer, Some("social-welfare")),
            ],
        )
        .await;
        let admin = api.sign_in("admin").await;
        let officer = api.sign_in("sw-officer").await;
        let r = api
            .post("/v1/datasets", WIDOW_PENSION_SPEC.into(), &officer)
            .await;
        api.json(r, StatusCode::CREATED).await;

        let header = ["beneficiary_id", "name", "IFSC Code"];
        let rows: Vec<Vec<String>> = [
            ("WP-1", "Lakshmi", "IDIB000P042"),
            ("WP-2", "Meena", "sbin0000001"),
            ("WP-3", "Valli", "UTIB0000999"),
            ("WP-4", "Kamala", "UTIB1000999"),
        ]
        .iter()
        .map(|(k, n, i)| vec![(*k).to_owned(), (*n).to_owned(), (*i).to_owned()])
        .collect();
        let upload = |file_name: &'static str| {
            let (api, officer, body) = (&api, &officer, to_csv(&header, &rows));
            async move {
                // The same file twice: a key of its own each time, or the second is the first.
                let query = format!(
                    "dataset=widow_pension&mode=full&file_name={file_name}&idempotency_key={file_name}"
                );
                api.upload(&query, body, officer, StatusCode::CREATED).await
            }
        };
        let rejections = |answer: Value| {
            let api = &api;
            let officer = &officer;
            async move {
                let id = answer["upload"]["id"].as_str().unwrap().to_owned();
                api.get(&format!("/v1/uploads/{id}/rejections"), officer)
                    .await
                    .text()
                    .await
                    .unwrap()
            }
        };

        // No list loaded: only the format is checked.
        let before = upload("before.csv").await;
        assert_eq!(before["upload"]["counts"]["accepted"], 3, "{before}");
        let report = rejections(before).await;
        assert!(report.contains("ifsc.format"), "{report}");

        // The RBI's list has many more columns; only the code (and names) are kept.
        let branches = "BANK,IFSC,BRANCH,CENTRE,ADDRESS\n\
            Indian Bank,IDIB000P042,Puducherry,Puducherry,\"Rue Mahe de Labourdonnais\"\n\
            State Bank of India,SBIN0000001,Kolkata Main,Kolkata,\"1 Strand Road\"\n";
        let r = api
            .client
            .put(format!("{}/v1/code-lists/ifsc", api.base))
            .header("authorization", &admin)
            .body(branches)
            .send()
            .await
            .unwrap();
        let loaded = api.json(r, StatusCode::OK).await;
        assert_eq!(loaded["entries"], 2, "{loaded}");
        assert_eq!(loaded["name"], "ifsc");
        let lists = api
            .get_json("/v1/code-lists", &officer, StatusCode::OK)
            .await;
        assert_eq!(lists[0]["name"], "ifsc", "{lists}");

        let after = upload("after.csv").await;
        assert_eq!(
            (
                &after["upload"]["counts"]["accepted"],
                &after["upload"]["counts"]["rejected"],
                &after["upload"]["counts"]["unchanged"],
                &after["upload"]["counts"]["deleted"],
            ),
            (&json!(2), &json!(2), &json!(2), &json!(0)),
            "a refused row's record is kept as it was: {after}"
        );
        let report = rejections(after).await;
        assert_eq!(report.matches("ifsc.unknown").count(), 1, "{report}");
        assert!(
            report.contains("WP-3") && report.contains("ifsc.format"),
            "{report}"
        );
        server.shutdown().await.unwrap();
    }
}
