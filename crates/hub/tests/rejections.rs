//! The rejected rows an upload keeps, through the hub's services, on every backend: re-sealed
//! when the vault's key rotates (the old version cannot be retired before, and the report
//! still gives the original rows back after), and removed once the retention period has
//! passed (the report is then gone, saying when and why; the counts stay, a newer upload's
//! rows stay, and the purge is in the audit log).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use chrono::Duration;
use sangam_hub::uploads::UploadMode;
use sangam_hub::uploads::reports::ReportFormat;
use sangam_hub::uploads::retention::RetentionPolicy;
use sangam_hub::{Hub, HubError};
use sangam_store::{Job, User};
use sangam_testkit::backends;
use serde_json::Value;

use common::{hub_with_officers, hub_with_officers_and_clock, id, upload_csv};

const OFFICER: &str = "cs-officer";
const HEADER: &str = "ration_card_no,card_type,house_no,village_code,member_name,relative_name,\
                      gender,dob,relationship,aadhaar,mobile,life_status";

/// A base file of two members on `card`, the second refused (born in the future) with the
/// ID number `refused_id` and a mobile number.
fn base_file(card: &str, head_id: &str, refused_id: &str) -> String {
    format!(
        "{HEADER}\n\
         {card},PHH,12,640001,Ravi Kumar,,M,1970-01-01,HEAD,{head_id},,alive\n\
         {card},PHH,12,640001,Meena Ravi,Ravi Kumar,F,2090-01-01,SPOUSE,{refused_id},9876543210,alive\n"
    )
}

async fn report(hub: &Hub, upload_id: &str, officer: &User) -> Result<String, HubError> {
    hub.rejection_report(upload_id, ReportFormat::Csv, officer)
        .await
        .map(|bytes| String::from_utf8(bytes).unwrap())
}

/// The purge jobs queued or running.
async fn purge_jobs(hub: &Hub) -> Vec<Job> {
    hub.store()
        .pending_jobs()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "uploads.purge_rejections")
        .collect()
}

/// The audit entries of `action`, as (details, actor).
async fn audited(hub: &Hub, action: &str) -> Vec<(Value, String)> {
    hub.recent_audit(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| (serde_json::from_str(&e.details).unwrap(), e.actor))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_are_resealed_at_rotation_before_the_old_key_retires() {
    for backend in
        backends("rejected_rows_are_resealed_at_rotation_before_the_old_key_retires").await
    {
        let (hub, mut officers) = hub_with_officers(&backend, &[(OFFICER, "civil-supplies")]).await;
        let officer = officers.pop().unwrap();
        let refused_id = id("34567890123");
        let (loaded, refused) = upload_csv(
            &hub,
            "base",
            UploadMode::Full,
            OFFICER,
            "first.csv",
            &base_file("PYR0000001", &id("23456789012"), &refused_id),
        )
        .await;
        let upload_id = loaded.upload().id.clone();
        assert_eq!(loaded.upload().counts.rejected, 1, "{:?}", refused.codes());
        let before = report(&hub, &upload_id, &officer).await.unwrap();
        assert!(
            before.contains(&refused_id) && before.contains("9876543210"),
            "the officer gets the row back as typed: {before}"
        );
        // (entries, rejected rows) a version seals.
        let sealed_by = |status: &sangam_hub::vault::VaultStatus, version: u32| {
            let v = status
                .versions
                .iter()
                .find(|v| v.version == version)
                .unwrap();
            (v.entries, v.rejected_rows)
        };
        assert_eq!(sealed_by(&hub.vault().status().await.unwrap(), 1), (1, 1));
        // The base upload's relink (nothing waits to be linked).
        hub.run_jobs_until_idle().await.unwrap();

        assert_eq!(hub.rotate_data_key("admin").await.unwrap(), 2);
        // The vault's walk first: after it, version 1 seals no entry, but still the row.
        let vault_run = hub.run_next_job().await.unwrap().unwrap();
        assert_eq!(
            (vault_run.kind.as_str(), vault_run.outcome),
            ("vault.reencrypt", "done")
        );
        let status = hub.vault().status().await.unwrap();
        assert_eq!(
            (sealed_by(&status, 1), sealed_by(&status, 2)),
            ((0, 1), (1, 0))
        );
        let refused_retire = hub.retire_data_key(1, "admin").await.unwrap_err();
        let HubError::Conflict(message) = &refused_retire else {
            panic!("retiring a key rejected rows use is a conflict: {refused_retire}")
        };
        assert!(
            message.contains("still seals 1 rejected rows of uploads")
                && message.contains("a re-encryption job is queued"),
            "{message}"
        );
        assert!(!message.contains(&refused_id));

        // The rows' own walk, the scheme records' (none here), and the pass the refusal
        // queued, which finds nothing left.
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.kind.as_str(), r.outcome))
                .collect::<Vec<_>>(),
            [
                ("vault.reencrypt_rejections", "done"),
                ("vault.reencrypt_enrolments", "done"),
                ("vault.reencrypt_rejections", "done")
            ]
        );
        let status = hub.vault().status().await.unwrap();
        assert_eq!(
            (sealed_by(&status, 1), sealed_by(&status, 2)),
            ((0, 0), (1, 1))
        );
        let stored = hub
            .store()
            .upload_rejections(&upload_id, 0, 10)
            .await
            .unwrap();
        assert_eq!(
            stored.iter().map(|r| r.key_version).collect::<Vec<_>>(),
            [2]
        );
        let resealed = audited(&hub, "vault.rejections_reencrypted").await;
        assert_eq!(
            resealed
                .iter()
                .map(|(d, actor)| (d["resealed"].as_u64(), actor.as_str()))
                .collect::<Vec<_>>(),
            [(Some(1), "system"), (Some(0), "system")]
        );

        // Version 1 retires, and the report still gives the original rows back.
        hub.retire_data_key(1, "admin").await.unwrap();
        assert_eq!(
            hub.vault().status().await.unwrap().versions[0].status,
            "retired"
        );
        let after = report(&hub, &upload_id, &officer).await.unwrap();
        assert_eq!(after, before, "the same report, opened with the new key");
        drop(hub);
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_are_purged_after_the_retention_period() {
    for backend in backends("rejected_rows_are_purged_after_the_retention_period").await {
        let (hub, mut officers, clock) =
            hub_with_officers_and_clock(&backend, &[(OFFICER, "civil-supplies")]).await;
        let officer = officers.pop().unwrap();
        hub.set_retention_policy(RetentionPolicy::new(30).unwrap());
        let (old_refused, new_refused) = (id("45678901234"), id("56789012345"));
        let (old, _) = upload_csv(
            &hub,
            "base",
            UploadMode::Full,
            OFFICER,
            "old.csv",
            &base_file("PYR0000002", &id("23456789012"), &old_refused),
        )
        .await;
        let old = old.upload().clone();
        assert_eq!(old.counts.rejected, 1);
        // The base upload's relink (nothing waits to be linked).
        hub.run_jobs_until_idle().await.unwrap();

        // Queued once, however often and by however many hubs it is asked for.
        let purge_job = hub.schedule_rejection_purge().await.unwrap();
        assert!(purge_job.is_some());
        assert_eq!(hub.schedule_rejection_purge().await.unwrap(), None);
        assert_eq!(purge_jobs(&hub).await.len(), 1);

        // Today nothing is old enough: the pass removes nothing and comes back tomorrow.
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.kind.as_str(), r.outcome))
                .collect::<Vec<_>>(),
            [("uploads.purge_rejections", "scheduled")]
        );
        let queued = purge_jobs(&hub).await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].run_at, hub.now() + Duration::days(1));
        assert!(report(&hub, &old.id, &officer).await.is_ok());

        // Twenty days on, a newer upload.
        clock.advance(Duration::days(20));
        let (new, _) = upload_csv(
            &hub,
            "base",
            UploadMode::Full,
            OFFICER,
            "new.csv",
            &base_file("PYR0000003", &id("67890123456"), &new_refused),
        )
        .await;
        let new = new.upload().clone();
        assert_eq!(new.counts.rejected, 1);
        // The purge due since day one, which finds nothing old enough, and the upload's
        // relink.
        let mut kinds: Vec<String> = hub
            .run_jobs_until_idle()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.kind)
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            ["registry.relink_after_upload", "uploads.purge_rejections"]
        );
        assert!(audited(&hub, "upload.rejections_purged").await.is_empty());

        // Past thirty-one days, the old upload's rows go; the new one's stay.
        clock.advance(Duration::days(11));
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            ["scheduled"]
        );
        let purged_at = hub.now();
        let gone = report(&hub, &old.id, &officer).await.unwrap_err();
        let HubError::Gone(message) = &gone else {
            panic!("the report of a purged upload is gone: {gone}")
        };
        assert_eq!(
            message,
            "the rejected rows of this upload were removed on 2026-12-02, 31 days after it \
             finished, under the hub's retention policy; the counts remain"
        );
        let old_now = hub.upload_for(&old.id, &officer).await.unwrap();
        assert_eq!(old_now.rejections_purged_at, Some(purged_at));
        assert_eq!(old_now.counts, old.counts, "the counts stay");
        assert!(
            hub.store()
                .upload_rejections(&old.id, 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(hub.store().upload_header(&old.id).await.unwrap().is_none());
        let newer = report(&hub, &new.id, &officer).await.unwrap();
        assert!(
            newer.contains(&new_refused),
            "a newer upload's rows stay: {newer}"
        );
        assert!(
            hub.upload_for(&new.id, &officer)
                .await
                .unwrap()
                .rejections_purged_at
                .is_none()
        );
        let purges = audited(&hub, "upload.rejections_purged").await;
        assert_eq!(purges.len(), 1);
        assert_eq!(
            purges[0].0,
            serde_json::json!({"uploads": 1, "rows": 1, "retention_days": 30})
        );
        assert_eq!(purges[0].1, "system");
        for (details, _) in &purges {
            assert!(!details.to_string().contains(&old_refused));
        }

        // Still one purge job, due tomorrow; another hub's worker starting changes nothing.
        let queued = purge_jobs(&hub).await;
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].run_at, purged_at + Duration::days(1));
        assert_eq!(hub.schedule_rejection_purge().await.unwrap(), None);

        // When the newer upload's time comes, it goes too, and its report says so.
        clock.advance(Duration::days(20));
        hub.run_jobs_until_idle().await.unwrap();
        assert!(matches!(
            report(&hub, &new.id, &officer).await,
            Err(HubError::Gone(_))
        ));
        assert_eq!(audited(&hub, "upload.rejections_purged").await.len(), 2);
        drop(hub);
        backend.cleanup().await;
    }
}
