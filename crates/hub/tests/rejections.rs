//! The rejected rows an upload keeps, through the hub's services, on every backend: re-sealed
//! when the vault's key rotates (the old version cannot be retired before, and the report
//! still gives the original rows back after).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use sangam_hub::uploads::UploadMode;
use sangam_hub::uploads::reports::ReportFormat;
use sangam_hub::{Hub, HubError};
use sangam_store::User;
use sangam_testkit::backends;
use serde_json::Value;

use common::{hub_with_officers, id, upload_csv};

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

        // The rows' own walk, and the pass the refusal queued, which finds nothing left.
        let runs = hub.run_jobs_until_idle().await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.kind.as_str(), r.outcome))
                .collect::<Vec<_>>(),
            [
                ("vault.reencrypt_rejections", "done"),
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
