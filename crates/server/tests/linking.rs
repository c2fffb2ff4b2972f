//! Linking a scheme's records to the base registry over HTTP, on every backend: rows with an
//! ID number of a resident link at upload; the link job links the rest through the matching
//! model, reports strangers as not found, and queues uncertain pairs for a reviewer, whose
//! decisions link the record or report it not found. Another organisation sees none of it.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{Datelike, TimeZone, Utc};
use reqwest::StatusCode;
use sangam_domain::{DateOfBirth, IdNumber};
use sangam_hub::bootstrap::open_hub;
use sangam_hub::clock::ManualClock;
use sangam_hub::linking::LinkPolicy;
use sangam_store::{LinkMethod, LinkStatus, MatchableResident, Role};
use sangam_synth::{Generator, GeneratorConfig, write_base_registry_csv};
use sangam_testkit::backends;
use serde_json::{Value, json};

use common::{Api, PASSWORD, to_csv};

const SCHEME_SPEC: &str = r#"
dataset = "widow_pension"
version = 1
title = "Widow pension"
record_key = "beneficiary_id"

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
name = "name"
kind = "person_name"
required = true

[[columns]]
name = "father_husband_name"
kind = "person_name"

[[columns]]
name = "dob"
kind = "dob"

[[columns]]
name = "gender"
kind = "gender"

[[columns]]
name = "village_code"
kind = "village_code"
"#;

const HEADER: [&str; 7] = [
    "beneficiary_id",
    "aadhaar",
    "name",
    "father_husband_name",
    "dob",
    "gender",
    "village_code",
];

/// A scheme row copied from a resident, as a department would have typed it.
fn row_of(key: &str, aadhaar: &str, m: &MatchableResident, name: &str) -> Vec<String> {
    let r = &m.resident;
    let dob = match r.dob {
        DateOfBirth::Full(d) => d.format("%d-%m-%Y").to_string(),
        DateOfBirth::Year(y) => y.to_string(),
        DateOfBirth::DeclaredAge { age, as_of } => (as_of.year() - i32::from(age)).to_string(),
    };
    vec![
        key.to_owned(),
        aadhaar.to_owned(),
        name.to_owned(),
        r.relative_name
            .as_ref()
            .map_or(String::new(), |n| n.as_str().to_owned()),
        dob,
        r.gender.code().to_owned(),
        m.village_code.clone(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheme_records_link_to_residents_through_ids_the_model_and_review() {
    for backend in
        backends("scheme_records_link_to_residents_through_ids_the_model_and_review").await
    {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
        ));
        let key = sangam_vault::MasterKey::generate();
        let hub = open_hub(&backend.location, &key, clock.clone())
            .await
            .unwrap();
        for (user, role, org) in [
            ("admin", Role::Admin, None),
            ("cs-officer", Role::NodalOfficer, Some("civil-supplies")),
            ("sw-officer", Role::NodalOfficer, Some("social-welfare")),
            ("hd-officer", Role::NodalOfficer, Some("health")),
        ] {
            hub.save_user(user, PASSWORD, role, org, "test")
                .await
                .unwrap();
        }
        let server = sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), false)
            .await
            .unwrap();
        let api = Api::new(server.addr);
        let (cs, sw, hd, admin) = (
            api.sign_in("cs-officer").await,
            api.sign_in("sw-officer").await,
            api.sign_in("hd-officer").await,
            api.sign_in("admin").await,
        );

        // The base registry.
        let generator = Generator::new(GeneratorConfig {
            seed: 11,
            households: 120,
            ..Default::default()
        });
        let mut base = Vec::new();
        write_base_registry_csv(&generator, &mut base).unwrap();
        api.upload(
            "dataset=base&file_name=cards.csv",
            base,
            &cs,
            StatusCode::CREATED,
        )
        .await;
        let residents = hub.store().matchable_residents(None, 10_000).await.unwrap();
        assert!(residents.len() > 300, "{}", residents.len());
        let by_ref: HashMap<String, &MatchableResident> = residents
            .iter()
            .filter_map(|m| Some((m.resident.id_ref_key.as_ref()?.to_string(), m)))
            .collect();

        // The scheme: 30 rows with a resident's ID number, 20 without one (copied from
        // other residents, some with the name's tokens swapped), and 5 strangers.
        api.json(
            api.client
                .post(format!("{}/v1/datasets", api.base))
                .header("authorization", &sw)
                .body(SCHEME_SPEC)
                .send()
                .await
                .unwrap(),
            StatusCode::CREATED,
        )
        .await;
        let mut rows = Vec::new();
        let mut expected: HashMap<String, String> = HashMap::new();
        let mut used = std::collections::HashSet::new();
        for member in generator.households().flat_map(|h| h.members) {
            if rows.len() == 30 {
                break;
            }
            let Some(number) = member.id_number else {
                continue;
            };
            let id = IdNumber::parse(&number).unwrap();
            let entry = hub
                .store()
                .vault_find(&hub.vault().blind_index(&id))
                .await
                .unwrap()
                .unwrap();
            let Some(m) = by_ref.get(entry.ref_key.as_str()) else {
                continue;
            };
            let key = format!("WP-ID-{}", rows.len());
            rows.push(row_of(&key, &number, m, m.resident.name.as_str()));
            expected.insert(key, m.resident.resident_id.clone());
            used.insert(m.resident.resident_id.clone());
        }
        assert_eq!(rows.len(), 30);
        // Distinct by name and relative, so that each copy has one right answer.
        let mut seen_names = std::collections::HashSet::new();
        let demographic: Vec<&MatchableResident> = residents
            .iter()
            .filter(|m| !used.contains(&m.resident.resident_id))
            .filter(|m| m.resident.relative_name.is_some())
            .filter(|m| matches!(m.resident.dob, DateOfBirth::Full(_)))
            .filter(|m| seen_names.insert(m.resident.name.as_str().to_owned()))
            .step_by(5)
            .take(20)
            .collect();
        assert_eq!(demographic.len(), 20);
        for (i, m) in demographic.iter().enumerate() {
            let name = m.resident.name.as_str();
            let typed = if i % 4 == 0 {
                // "Ramesh Kumar" written "Kumar Ramesh".
                name.split_whitespace().rev().collect::<Vec<_>>().join(" ")
            } else {
                name.to_owned()
            };
            let key = format!("WP-DEMO-{i}");
            rows.push(row_of(&key, "", m, &typed));
            expected.insert(key, m.resident.resident_id.clone());
        }
        let strangers = [
            ("Zorawar Qadri Xylo", "Ignatius Qadri", "03-03-1931", "M"),
            ("Philomena Wojcik", "Stanislaw Wojcik", "17-09-1944", "F"),
            ("Quentin Oyelaran", "Babatunde Oyelaran", "1939", "M"),
            ("Ingrid Valkonen", "Eero Valkonen", "29-02-1948", "F"),
            ("Xiomara Quispe", "Wayra Quispe", "11-11-1951", "F"),
        ];
        for (i, (name, father, dob, gender)) in strangers.iter().enumerate() {
            rows.push(vec![
                format!("WP-NEW-{i}"),
                String::new(),
                (*name).to_owned(),
                (*father).to_owned(),
                (*dob).to_owned(),
                (*gender).to_owned(),
                residents[i].village_code.clone(),
            ]);
        }
        let uploaded = api
            .upload(
                "dataset=widow_pension&file_name=wp.csv",
                to_csv(&HEADER, &rows),
                &sw,
                StatusCode::CREATED,
            )
            .await;
        assert_eq!(uploaded["upload"]["counts"]["accepted"], 55, "{uploaded}");

        // Before the link job: the ID rows are linked, the rest wait.
        let counts = api
            .get_json("/v1/datasets/widow_pension/links", &sw, StatusCode::OK)
            .await;
        assert_eq!(
            (counts["linked"].as_u64(), counts["pending"].as_u64()),
            (Some(30), Some(25)),
            "{counts}"
        );
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert!(
            runs.iter()
                .any(|r| r.kind == "enrolments.link" && r.outcome == "done"),
            "{runs:?}"
        );
        let counts = api
            .get_json("/v1/datasets/widow_pension/links", &sw, StatusCode::OK)
            .await;
        assert_eq!(counts["pending"], 0, "{counts}");
        assert_eq!(
            counts["linked"], 50,
            "every copy of a resident links: {counts}"
        );
        assert_eq!(counts["not_found"], 5, "{counts}");
        assert_eq!(counts["review"], 0, "{counts}");
        for (key, resident) in &expected {
            let link = hub
                .store()
                .enrolment_link("widow_pension", key)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(link.status, LinkStatus::Linked, "{key}");
            assert_eq!(link.resident_id.as_ref(), Some(resident), "{key}");
            let method = if key.starts_with("WP-ID") {
                LinkMethod::IdNumber
            } else {
                LinkMethod::Model
            };
            assert_eq!(link.method, Some(method), "{key}");
            if method == LinkMethod::Model {
                assert!(link.probability.unwrap() >= 0.9, "{key}: {link:?}");
            }
        }

        // Any pair can be explained: the right resident scores high, another low.
        let d0 = &expected["WP-DEMO-0"];
        let other = &expected["WP-DEMO-1"];
        let why = api
            .get_json(
                &format!("/v1/datasets/widow_pension/records/WP-DEMO-0/explain?resident_id={d0}"),
                &sw,
                StatusCode::OK,
            )
            .await;
        assert!(why["probability"].as_f64().unwrap() >= 0.9, "{why}");
        let steps = why["steps"].as_array().unwrap();
        assert!(
            steps.iter().any(|s| s["comparison"] == "birth_date"),
            "{why}"
        );
        let why_not = api
            .get_json(
                &format!(
                    "/v1/datasets/widow_pension/records/WP-DEMO-0/explain?resident_id={other}"
                ),
                &sw,
                StatusCode::OK,
            )
            .await;
        assert!(why_not["probability"].as_f64().unwrap() < 0.5, "{why_not}");
        for (path, who, status) in [
            (
                format!("/v1/datasets/widow_pension/records/WP-DEMO-0/explain?resident_id={d0}"),
                &hd,
                StatusCode::FORBIDDEN,
            ),
            (
                "/v1/datasets/widow_pension/records/NOPE/explain?resident_id=x".to_owned(),
                &sw,
                StatusCode::NOT_FOUND,
            ),
            (
                "/v1/datasets/widow_pension/records/WP-DEMO-0/explain?resident_id=nobody"
                    .to_owned(),
                &sw,
                StatusCode::NOT_FOUND,
            ),
        ] {
            assert_eq!(api.get(&path, who).await.status(), status, "{path}");
        }

        // The not-found report names the strangers and no one else.
        let r = api.get("/v1/datasets/widow_pension/not-found", &sw).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()["content-disposition"],
            "attachment; filename=\"widow_pension-not-found.csv\""
        );
        assert_eq!(r.headers()["cache-control"], "no-store");
        let report = r.text().await.unwrap();
        let keys: Vec<String> = csv::Reader::from_reader(report.as_bytes())
            .records()
            .map(|r| r.unwrap()[0].to_owned())
            .collect();
        assert_eq!(
            keys,
            (0..5).map(|i| format!("WP-NEW-{i}")).collect::<Vec<_>>()
        );
        assert!(
            report.trim_start_matches('\u{feff}').lines().next()
                == Some("record_key,upload_id,name,father_husband_name,dob,gender,village_code"),
            "the department's own columns, never the ID number: {report}"
        );
        assert!(report.contains("Philomena Wojcik"), "{report}");
        // Another department gets neither the counts nor the report; the base registry has
        // no links; an unknown dataset is not found.
        for path in [
            "/v1/datasets/widow_pension/links",
            "/v1/datasets/widow_pension/not-found",
            "/v1/reviews?dataset=widow_pension",
        ] {
            assert_eq!(
                api.get(path, &hd).await.status(),
                StatusCode::FORBIDDEN,
                "{path}"
            );
        }
        assert_eq!(
            api.get("/v1/datasets/nope/links", &admin).await.status(),
            StatusCode::NOT_FOUND
        );
        let p = api
            .get_json(
                "/v1/datasets/base/links",
                &admin,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        assert!(p.to_string().contains("dataset.base"), "{p}");

        // Online validation: by ID number, by details alone, and a stranger.
        let id_row = &rows[0];
        let v = api
            .post_json(
                "/v1/validate",
                json!({"dataset": "widow_pension", "id_number": id_row[1]}),
                &sw,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            (&v["in_base_data"], &v["found_by"], &v["resident_id"]),
            (
                &json!("yes"),
                &json!("id_number"),
                &json!(expected["WP-ID-0"])
            ),
            "{v}"
        );
        assert!(!v.to_string().contains(id_row[1].as_str()), "{v}");
        // The person is already enrolled: enrolling them again conflicts.
        let kinds: Vec<&str> = v["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["duplicate_in_scheme"], "{v}");
        // Only the scheme's own department (or an administrator) validates for it.
        api.post_json(
            "/v1/validate",
            json!({"dataset": "widow_pension", "id_number": id_row[1]}),
            &hd,
            StatusCode::FORBIDDEN,
        )
        .await;
        let d = demographic[1];
        let demo = row_of("x", "", d, d.resident.name.as_str());
        let v = api
            .post_json(
                "/v1/validate",
                json!({"dataset": "widow_pension", "name": demo[2], "relative_name": demo[3],
                       "dob": demo[4], "gender": demo[5], "village_code": demo[6]}),
                &sw,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            (&v["in_base_data"], &v["found_by"], &v["resident_id"]),
            (
                &json!("yes"),
                &json!("model"),
                &json!(d.resident.resident_id)
            ),
            "{v}"
        );
        assert!(v["match_probability"].as_f64().unwrap() >= 0.9, "{v}");
        let v = api
            .post_json(
                "/v1/validate",
                json!({"dataset": "widow_pension", "name": "Philomena Wojcik",
                       "relative_name": "Stanislaw Wojcik", "dob": "17-09-1944", "gender": "F"}),
                &sw,
                StatusCode::OK,
            )
            .await;
        assert_eq!(v["in_base_data"], "no", "{v}");
        assert!(v["resident_id"].is_null(), "{v}");
        assert_eq!(v["conflicts"], json!([]), "{v}");
        for (body, code) in [
            (
                json!({"dataset": "widow_pension", "gender": "F"}),
                "validate.nothing_to_match",
            ),
            (
                json!({"dataset": "widow_pension", "id_number": "1234"}),
                "id_number.format",
            ),
        ] {
            let p = api
                .post_json("/v1/validate", body, &sw, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
            assert!(p.to_string().contains(code), "{code}: {p}");
        }

        api.post_json(
            "/v1/validate",
            json!({"dataset": "nope", "name": "Ravi"}),
            &sw,
            StatusCode::NOT_FOUND,
        )
        .await;

        // With a stricter policy, new records the model is unsure of go to review.
        hub.set_link_policy(LinkPolicy {
            link_at: 1.0,
            review_at: 0.2,
            review_candidates: 3,
        })
        .unwrap();
        let unsure: Vec<&MatchableResident> = residents
            .iter()
            .filter(|m| !used.contains(&m.resident.resident_id))
            .filter(|m| {
                !demographic
                    .iter()
                    .any(|d| d.resident.resident_id == m.resident.resident_id)
            })
            .filter(|m| matches!(m.resident.dob, DateOfBirth::Full(_)))
            .take(2)
            .collect();
        let mut added = vec![];
        for (i, m) in unsure.iter().enumerate() {
            // Only the name and the birth year: likely, not certain.
            let mut row = row_of(&format!("WP-UNSURE-{i}"), "", m, m.resident.name.as_str());
            row[3] = String::new();
            row[4] = match m.resident.dob {
                DateOfBirth::Full(d) => d.year().to_string(),
                _ => unreachable!(),
            };
            row[6] = String::new();
            row.insert(0, "add".into());
            added.push(row);
        }
        let mut header = vec!["operation"];
        header.extend(HEADER);
        api.upload(
            "dataset=widow_pension&mode=incremental&file_name=wp-add.csv",
            to_csv(&header, &added),
            &sw,
            StatusCode::CREATED,
        )
        .await;
        hub.run_jobs_until_idle().await.unwrap();
        let counts = api
            .get_json("/v1/datasets/widow_pension/links", &sw, StatusCode::OK)
            .await;
        assert_eq!(counts["review"], 2, "{counts}");
        let queue = api
            .get_json("/v1/reviews?dataset=widow_pension", &sw, StatusCode::OK)
            .await;
        let queue = queue.as_array().unwrap();
        let of = |key: &str| -> Vec<&Value> {
            queue.iter().filter(|r| r["record_key"] == key).collect()
        };
        let (first, second) = (of("WP-UNSURE-0"), of("WP-UNSURE-1"));
        assert!(!first.is_empty() && !second.is_empty(), "{queue:?}");
        let right = first
            .iter()
            .find(|r| r["resident_id"] == unsure[0].resident.resident_id.as_str())
            .expect("the right resident is among the candidates");
        let explained = api
            .get_json(
                &format!("/v1/reviews/{}", right["id"].as_str().unwrap()),
                &sw,
                StatusCode::OK,
            )
            .await;
        let steps = explained["explanation"]["steps"].as_array().unwrap();
        assert!(
            steps.iter().any(|s| s["comparison"] == "name"),
            "{explained}"
        );
        // Another department cannot see or decide the pair.
        let path = format!("/v1/reviews/{}", right["id"].as_str().unwrap());
        assert_eq!(api.get(&path, &hd).await.status(), StatusCode::NOT_FOUND);
        let decision = format!("{path}/decision");
        api.post_json(
            &decision,
            json!({"same_person": true}),
            &hd,
            StatusCode::NOT_FOUND,
        )
        .await;
        // The department accepts the right one: the record links, its other pairs close.
        let decided = api
            .post_json(&decision, json!({"same_person": true}), &sw, StatusCode::OK)
            .await;
        assert_eq!(decided["status"], "accepted");
        assert_eq!(decided["decided_by"], "sw-officer");
        api.post_json(
            &decision,
            json!({"same_person": false}),
            &sw,
            StatusCode::CONFLICT,
        )
        .await;
        let link = hub
            .store()
            .enrolment_link("widow_pension", "WP-UNSURE-0")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (link.status, link.method, link.resident_id.as_deref()),
            (
                LinkStatus::Linked,
                Some(LinkMethod::Review),
                Some(unsure[0].resident.resident_id.as_str())
            )
        );
        let still_open = api
            .get_json("/v1/reviews?dataset=widow_pension", &sw, StatusCode::OK)
            .await;
        assert!(
            still_open
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["record_key"] == "WP-UNSURE-1"),
            "{still_open}"
        );
        // Rejecting every candidate of the other record reports it not found.
        for r in &second {
            api.post_json(
                &format!("/v1/reviews/{}/decision", r["id"].as_str().unwrap()),
                json!({"same_person": false}),
                &admin,
                StatusCode::OK,
            )
            .await;
        }
        let link = hub
            .store()
            .enrolment_link("widow_pension", "WP-UNSURE-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (link.status, link.resident_id),
            (LinkStatus::NotFound, None)
        );
        let decided = api
            .get_json(
                "/v1/reviews?dataset=widow_pension&status=all",
                &sw,
                StatusCode::OK,
            )
            .await;
        assert!(decided.as_array().unwrap().len() >= first.len() + second.len());
        // A nodal officer names the dataset; a bad status is refused.
        api.get_json("/v1/reviews", &sw, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
        api.get_json(
            "/v1/reviews?dataset=widow_pension&status=maybe",
            &sw,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;

        // The registry grows: one of the strangers gets a ration card. Not-found records go
        // again on request, and the index, rebuilt for the new registry, finds her.
        hub.set_link_policy(LinkPolicy::default()).unwrap();
        let village = residents[1].village_code.clone();
        let card = to_csv(
            sangam_synth::BASE_REGISTRY_HEADER,
            &[[
                "PYX900000001",
                "PHH",
                "4",
                "Church St",
                "Ward 2",
                village.as_str(),
                "605001",
                "Philomena Wojcik",
                "Stanislaw Wojcik",
                "F",
                "1944-09-17",
                "HEAD",
                "",
                "",
                "alive",
            ]
            .map(str::to_owned)
            .to_vec()],
        );
        api.upload(
            "dataset=base&file_name=new-card.csv",
            card,
            &cs,
            StatusCode::CREATED,
        )
        .await;
        // The base upload that added a resident queued the relink of the records not found;
        // once the worker ran it, a relink asked for now finds none left to send.
        let run = hub.run_next_job().await.unwrap().unwrap();
        assert_eq!(
            (run.kind.as_str(), run.outcome),
            ("registry.relink_after_upload", "done")
        );
        let counts = api
            .get_json("/v1/datasets/widow_pension/links", &sw, StatusCode::OK)
            .await;
        assert_eq!(
            (counts["pending"].as_u64(), counts["not_found"].as_u64()),
            (Some(6), Some(0)),
            "{counts}"
        );
        let relinked = api
            .post_json(
                "/v1/datasets/widow_pension/relink",
                json!({}),
                &sw,
                StatusCode::ACCEPTED,
            )
            .await;
        assert_eq!(relinked["records"], 0, "{relinked}");
        hub.run_jobs_until_idle().await.unwrap();
        let counts = api
            .get_json("/v1/datasets/widow_pension/links", &sw, StatusCode::OK)
            .await;
        assert_eq!(counts["pending"], 0, "{counts}");
        let philomena = hub
            .store()
            .enrolment_link("widow_pension", "WP-NEW-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (philomena.status, philomena.method),
            (LinkStatus::Linked, Some(LinkMethod::Model)),
            "{philomena:?}"
        );
        let new_resident = hub
            .store()
            .residents_of(&sangam_domain::RationCardNumber::parse("PYX900000001").unwrap())
            .await
            .unwrap();
        assert_eq!(
            philomena.resident_id.as_deref(),
            Some(new_resident[0].resident_id.as_str())
        );
        assert_eq!(
            counts["not_found"], 5,
            "the other four strangers and WP-UNSURE-1: {counts}"
        );

        let audit = hub.store().audit_entries(0, 10_000).await.unwrap();
        for action in [
            "match.review_decided",
            "match.relink_requested",
            "match.not_found_downloaded",
            "match.pair_explained",
        ] {
            assert!(audit.iter().any(|e| e.action == action), "{action}");
        }
        server.shutdown().await.unwrap();
    }
}
