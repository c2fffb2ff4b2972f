//! The retention of rejected rows over HTTP, on every backend: once the purge has removed an
//! upload's rejected rows, its rejection report answers 410 Gone as problem+json saying when
//! and why, the upload shows when, and its counts stay; and serving hubs' workers keep one
//! purge job queued between them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use chrono::Duration;
use reqwest::StatusCode;
use sangam_hub::uploads::retention::RetentionPolicy;
use sangam_store::Role;
use sangam_testkit::backends;

use common::served_hub_with_clock;

/// A valid ID number made from eleven digits.
fn id(first11: &str) -> String {
    sangam_domain::IdNumber::from_eleven_digits(first11)
        .unwrap()
        .expose_digits()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_of_purged_rejected_rows_is_gone() {
    for backend in backends("the_report_of_purged_rejected_rows_is_gone").await {
        let (hub, server, api, clock) = served_hub_with_clock(
            &backend,
            &[("cs-officer", Role::NodalOfficer, Some("civil-supplies"))],
        )
        .await;
        hub.set_retention_policy(RetentionPolicy::new(7).unwrap());
        let refused_id = id("34567890123");
        let file = format!(
            "ration_card_no,card_type,house_no,village_code,member_name,relative_name,gender,dob,relationship,aadhaar,mobile,life_status\n\
             PYG0000001,PHH,12,640001,Ravi Kumar,,M,1970-01-01,HEAD,{},,alive\n\
             PYG0000001,PHH,12,640001,Meena Ravi,Ravi Kumar,F,2090-01-01,SPOUSE,{refused_id},9876543210,alive\n",
            id("23456789012")
        );
        let cs = api.sign_in("cs-officer").await;
        let loaded = api
            .upload(
                "dataset=base&file_name=members.csv",
                file.into_bytes(),
                &cs,
                StatusCode::CREATED,
            )
            .await;
        let upload_id = loaded["upload"]["id"].as_str().unwrap().to_owned();
        assert!(loaded["upload"]["rejections_purged_at"].is_null());
        let path = format!("/v1/uploads/{upload_id}/rejections?format=csv");
        let r = api.get(&path, &cs).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("dob.in_future"));

        // Eight days on, the hub's purge runs (a session lasts 8 hours: sign in again).
        clock.advance(Duration::days(8));
        hub.schedule_rejection_purge().await.unwrap();
        let runs = hub.run_jobs_until_idle().await.unwrap();
        let purges = runs
            .iter()
            .filter(|r| r.kind == "uploads.purge_rejections")
            .count();
        assert_eq!(purges, 1, "{runs:?}");
        let cs = api.sign_in("cs-officer").await;

        for format in ["csv", "xlsx"] {
            let r = api
                .get(
                    &format!("/v1/uploads/{upload_id}/rejections?format={format}"),
                    &cs,
                )
                .await;
            assert_eq!(r.status(), StatusCode::GONE);
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            let text = r.text().await.unwrap();
            assert!(!text.contains(&refused_id), "{text}");
            assert!(!text.contains("9876543210"), "{text}");
            let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(problem["status"], 410);
            assert_eq!(problem["title"], "Gone");
            assert!(
                problem["type"].as_str().unwrap().ends_with("/gone"),
                "{problem}"
            );
            assert_eq!(
                problem["detail"],
                "the rejected rows of this upload were removed on 2026-11-09, 8 days after it \
                 finished, under the hub's retention policy; the counts remain"
            );
        }
        let upload = api
            .get_json(&format!("/v1/uploads/{upload_id}"), &cs, StatusCode::OK)
            .await;
        assert_eq!(
            upload["rejections_purged_at"],
            serde_json::to_value(hub.now()).unwrap()
        );
        assert_eq!(upload["counts"]["rejected"], 1);
        assert_eq!(upload["counts"]["accepted"], 1);

        server.shutdown().await.unwrap();
        drop(hub);
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_serving_worker_makes_sure_of_one_purge_job() {
    for backend in backends("every_serving_worker_makes_sure_of_one_purge_job").await {
        use chrono::TimeZone;
        let clock = std::sync::Arc::new(sangam_hub::clock::ManualClock::new(
            chrono::Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
        ));
        let key = sangam_vault::MasterKey::generate();
        // Two hub processes sharing one store, each serving with its worker.
        let mut servers = Vec::new();
        let mut hubs = Vec::new();
        for _ in 0..2 {
            let hub = sangam_hub::bootstrap::open_hub(&backend.location, &key, clock.clone())
                .await
                .unwrap();
            servers.push(
                sangam_server::start(hub.clone(), "127.0.0.1:0".parse().unwrap(), true)
                    .await
                    .unwrap(),
            );
            hubs.push(hub);
        }
        // A worker runs the first pass at once (nothing is old enough) and queues the next for
        // a day later; the other worker finds it queued and adds none.
        let tomorrow = hubs[0].now() + Duration::days(1);
        let started = std::time::Instant::now();
        loop {
            let jobs = purge_jobs(&hubs[0]).await;
            if jobs.iter().any(|j| j.run_at == tomorrow) {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "no worker ran the purge: {jobs:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // Both workers have been round their loop more than once by now.
        tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
        let jobs = purge_jobs(&hubs[0]).await;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        assert_eq!(jobs[0].run_at, tomorrow);
        for server in servers {
            server.shutdown().await.unwrap();
        }
        drop(hubs);
        backend.cleanup().await;
    }
}

/// The purge jobs the store holds that are not done (queued, running or failed).
async fn purge_jobs(hub: &sangam_hub::Hub) -> Vec<sangam_store::Job> {
    hub.store()
        .pending_jobs()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "uploads.purge_rejections")
        .collect()
}
