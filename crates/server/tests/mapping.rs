//! The reference-key mapping of a large upload over HTTP, on every backend: it is sent a page
//! at a time as it is read, so the test takes one over several pages and checks that the
//! pieces make one file (CSV: one byte order mark and header, then every row once; JSON: one
//! array of every entry), and that the download is audited with its number of rows.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashSet;

use reqwest::StatusCode;
use sangam_store::Role;
use sangam_synth::{Generator, GeneratorConfig, write_base_registry_csv};
use sangam_testkit::backends;
use serde_json::Value;

use common::served_hub;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_of_many_pages_comes_whole() {
    for backend in backends("a_mapping_of_many_pages_comes_whole").await {
        let (hub, server, api) = served_hub(
            &backend,
            &[("cs-officer", Role::NodalOfficer, Some("civil-supplies"))],
        )
        .await;
        let cs = api.sign_in("cs-officer").await;

        // Over two pages of the store's 5,000 entries.
        let generator = Generator::new(GeneratorConfig {
            seed: 11,
            households: 2_600,
            ..Default::default()
        });
        let mut file = Vec::new();
        let rows = write_base_registry_csv(&generator, &mut file).unwrap();
        assert!(rows > 10_000, "{rows} rows");
        let answer = api
            .upload(
                "dataset=base&file_name=base.csv",
                file,
                &cs,
                StatusCode::CREATED,
            )
            .await;
        let accepted = answer["upload"]["counts"]["accepted"].as_u64().unwrap();
        assert!(accepted > 10_000, "{answer}");
        let id = answer["upload"]["id"].as_str().unwrap().to_owned();

        let csv = api
            .get(&format!("/v1/uploads/{id}/mapping"), &cs)
            .await
            .text()
            .await
            .unwrap();
        let csv = csv
            .strip_prefix('\u{feff}')
            .expect("a byte order mark first");
        assert!(!csv.contains('\u{feff}'), "one byte order mark");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("record_key,ref_key,id_number_masked,resident_id,outcome")
        );
        let body: Vec<&str> = lines.collect();
        assert_eq!(
            body.len() as u64,
            accepted,
            "every entry once, the header once"
        );
        let residents: HashSet<&str> = body.iter().map(|l| l.split(',').nth(3).unwrap()).collect();
        assert_eq!(residents.len() as u64, accepted, "no entry twice");

        let json: Vec<Value> = serde_json::from_str(
            &api.get(&format!("/v1/uploads/{id}/mapping?format=json"), &cs)
                .await
                .text()
                .await
                .unwrap(),
        )
        .expect("one JSON array");
        assert_eq!(json.len() as u64, accepted);
        assert_eq!(json[0]["outcome"], "added");
        let keys: HashSet<&str> = json.iter().filter_map(|m| m["ref_key"].as_str()).collect();
        assert!(keys.len() > 10_000, "{} reference keys", keys.len());

        let audit = hub.store().audit_entries(0, 1000).await.unwrap();
        let downloads: Vec<Value> = audit
            .iter()
            .filter(|e| e.action == "upload.mapping_downloaded")
            .map(|e| serde_json::from_str(&e.details).unwrap())
            .collect();
        assert_eq!(downloads.len(), 2, "{downloads:?}");
        assert!(
            downloads.iter().all(|d| d["rows"] == accepted),
            "{downloads:?}"
        );
        server.shutdown().await.unwrap();
    }
}
