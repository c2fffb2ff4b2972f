//! The vault and the audit log through the hub's services, on every backend: numbers stored
//! once, never in plain text at rest, revealed only with a purpose and an audit entry, keys
//! rotated while serving, a foreign master key refused, and tampering with the audit log found.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use sangam_domain::{ConsentRef, IdNumber, RefKey};
use sangam_hub::bootstrap::{StoreLocation, open_hub};
use sangam_hub::clock::SystemClock;
use sangam_hub::{Hub, HubError};
use sangam_testkit::{TestBackend, backends, files_under, find_any, pg_dump};
use sangam_vault::MasterKey;

async fn open(backend: &TestBackend, key: &MasterKey) -> Hub {
    open_hub(&backend.location, key, Arc::new(SystemClock))
        .await
        .expect("open hub")
}

fn id(n: u64) -> IdNumber {
    IdNumber::from_eleven_digits(&format!("{}", 23_456_000_000 + n)).unwrap()
}

fn consent() -> ConsentRef {
    ConsentRef::parse("CF-0001").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_stores_once_reveals_with_purpose_and_refuses_a_foreign_key() {
    for backend in backends("vault_stores_once…").await {
        let key = MasterKey::generate();
        let hub = open(&backend, &key).await;

        let first = hub.vault().put(&id(1), &consent()).await.unwrap();
        let again = hub.vault().put(&id(1), &consent()).await.unwrap();
        assert_eq!(
            first, again,
            "{}: storing a number twice gives the same reference key",
            backend.name
        );
        let many = hub
            .vault()
            .put_many((0..1200).map(|i| (id(i), consent())).collect())
            .await
            .unwrap();
        assert_eq!(many.len(), 1200);
        assert_eq!(
            many[1], first,
            "{}: the bulk path agrees with the single path",
            backend.name
        );
        assert_eq!(
            hub.vault().find(&id(7)).await.unwrap(),
            Some(many[7].clone())
        );
        assert_eq!(hub.vault().find(&id(5000)).await.unwrap(), None);

        // A reveal needs a purpose and leaves an audit entry naming the reference key.
        let err = hub
            .reveal_id_number(&first, "", "officer")
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                HubError::Invalid {
                    code: "purpose.format",
                    ..
                }
            ),
            "{err}"
        );
        let revealed = hub
            .reveal_id_number(&first, "grievance.redressal", "officer")
            .await
            .unwrap();
        assert_eq!(revealed.expose_digits(), id(1).expose_digits());
        let log = hub.recent_audit(0, 1000).await.unwrap();
        let entry = log
            .iter()
            .find(|e| e.action == "vault.id_number_revealed")
            .expect("reveal audited");
        assert_eq!(entry.actor, "officer");
        assert_eq!(
            entry.target.as_deref(),
            Some(format!("ref_key:{first}").as_str())
        );
        assert!(entry.details.contains("grievance.redressal"));
        assert!(
            !entry.details.contains(id(1).expose_digits()),
            "the audit entry holds no number"
        );
        let unknown = hub
            .reveal_id_number(&RefKey::generate(), "ekyc", "officer")
            .await
            .unwrap_err();
        assert!(matches!(unknown, HubError::NotFound(_)));

        // No ID number is stored in plain text.
        let numbers: Vec<String> = (0..1200)
            .map(|i| id(i).expose_digits().to_owned())
            .collect();
        match backend.location {
            StoreLocation::Sqlite(_) => {
                drop(hub);
                for file in files_under(backend.data_path()) {
                    let bytes = std::fs::read(&file).unwrap();
                    assert_eq!(
                        find_any(&bytes, &numbers),
                        None,
                        "plain number in {}",
                        file.display()
                    );
                }
            }
            StoreLocation::Postgres(_) => {
                let dump = pg_dump(&backend);
                assert!(dump.len() > 10_000, "the dump holds the data");
                assert_eq!(
                    find_any(&dump, &numbers),
                    None,
                    "plain number in the PostgreSQL dump"
                );
                drop(hub);
            }
        }

        // The same store refuses another master key, and says so plainly.
        let err = open_hub(
            &backend.location,
            &MasterKey::generate(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, HubError::WrongMasterKey { .. }),
            "{}: {err}",
            backend.name
        );
        assert!(err.to_string().contains("not the master key"), "{err}");
        // The right key still opens it.
        let hub = open(&backend, &key).await;
        assert_eq!(hub.vault().find(&id(1)).await.unwrap(), Some(first));
        drop(hub);
        backend.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_reencrypts_in_steps_and_retires_the_old_version() {
    for backend in backends("key_rotation…").await {
        let key = MasterKey::generate();
        let hub = open(&backend, &key).await;
        let keys = hub
            .vault()
            .put_many((0..1234).map(|i| (id(i), consent())).collect())
            .await
            .unwrap();
        assert_eq!(hub.vault().active_version(), 1);

        let version = hub.rotate_data_key("admin").await.unwrap();
        assert_eq!(version, 2);
        // Before re-encryption, old entries still decrypt and new ones use version 2.
        assert_eq!(
            hub.reveal_id_number(&keys[3], "key.check", "admin")
                .await
                .unwrap()
                .expose_digits(),
            id(3).expose_digits()
        );
        let fresh = hub.vault().put(&id(99_999), &consent()).await.unwrap();
        let err = hub.retire_data_key(1, "admin").await.unwrap_err();
        assert!(
            matches!(err, HubError::Conflict(_)),
            "retiring a key in use is refused: {err}"
        );

        // A second hub process sharing the store sees the rotation.
        let other = open(&backend, &key).await;
        assert_eq!(
            other
                .reveal_id_number(&fresh, "key.check", "admin")
                .await
                .unwrap()
                .expose_digits(),
            id(99_999).expose_digits()
        );

        // The worker re-encrypts one batch per step until none is left.
        let mut steps = 0;
        while let Some(run) = hub.run_next_job().await.unwrap() {
            steps += 1;
            assert!(
                run.outcome == "continues" || run.outcome == "done",
                "{run:?}"
            );
        }
        // Three steps of 500 for the rotation, one pass queued by the refused retire, and the
        // walks over uploads' rejected rows and scheme records (none here) that the rotation
        // queued too.
        assert_eq!(
            steps, 6,
            "1234 entries in steps of 500, plus the extra pass and the rejected rows' and scheme \
             records' walks"
        );
        let status = hub.vault().status().await.unwrap();
        let v1 = status.versions.iter().find(|v| v.version == 1).unwrap();
        let v2 = status.versions.iter().find(|v| v.version == 2).unwrap();
        assert_eq!((v1.entries, v2.entries), (0, 1235));

        hub.retire_data_key(1, "admin").await.unwrap();
        let status = hub.vault().status().await.unwrap();
        assert_eq!(
            status
                .versions
                .iter()
                .find(|v| v.version == 1)
                .unwrap()
                .status,
            "retired"
        );
        let v2 = status.versions.iter().find(|v| v.version == 2).unwrap();
        assert_eq!(v2.status, "active");
        assert!(
            matches!(
                hub.retire_data_key(2, "admin").await,
                Err(HubError::Conflict(_))
            ),
            "the active key stays"
        );
        for (i, k) in keys.iter().enumerate().step_by(97) {
            assert_eq!(
                hub.reveal_id_number(k, "key.check", "admin")
                    .await
                    .unwrap()
                    .expose_digits(),
                id(i as u64).expose_digits()
            );
        }
        let actions: Vec<String> = hub
            .recent_audit(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for expected in [
            "vault.data_key_added",
            "vault.reencryption_completed",
            "vault.rejections_reencrypted",
            "vault.data_key_retired",
        ] {
            assert!(actions.iter().any(|a| a == expected), "{expected} audited");
        }
        drop((hub, other));
        backend.cleanup().await;
    }
}

/// Alters one audit entry behind the hub's back, as someone with database access could.
async fn tamper(backend: &TestBackend, seq: i64) {
    match &backend.location {
        StoreLocation::Sqlite(dir) => {
            let conn = rusqlite::Connection::open(dir.join("sangam.db")).unwrap();
            let refused = conn.execute(
                "UPDATE audit_log SET actor = 'mallory' WHERE seq = ?1",
                [seq],
            );
            assert!(refused.is_err(), "the append-only trigger refuses updates");
            conn.execute_batch("DROP TRIGGER audit_log_no_update")
                .unwrap();
            conn.execute(
                "UPDATE audit_log SET actor = 'mallory' WHERE seq = ?1",
                [seq],
            )
            .unwrap();
        }
        StoreLocation::Postgres(url) => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            let refused = client
                .execute(
                    "UPDATE audit_log SET actor = 'mallory' WHERE seq = $1",
                    &[&seq],
                )
                .await;
            assert!(refused.is_err(), "the append-only trigger refuses updates");
            client
                .batch_execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
                .await
                .unwrap();
            client
                .execute(
                    "UPDATE audit_log SET actor = 'mallory' WHERE seq = $1",
                    &[&seq],
                )
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_first_broken_link() {
    for backend in backends("audit_verify…").await {
        let hub = open(&backend, &MasterKey::generate()).await;
        let keys = hub
            .vault()
            .put_many((0..5).map(|i| (id(i), consent())).collect())
            .await
            .unwrap();
        for k in &keys {
            hub.reveal_id_number(k, "ekyc", "officer").await.unwrap();
        }
        let report = hub.verify_audit().await.unwrap();
        assert!(report.broken.is_none(), "{}: {report:?}", backend.name);
        assert_eq!(report.entries, 6, "hub initialised plus five reveals");

        tamper(&backend, 4).await;
        let report = hub.verify_audit().await.unwrap();
        let broken = report.broken.expect("tampering is found");
        assert_eq!(
            broken.to_string(),
            "entry 4 was altered: its content does not match its hash"
        );
        assert_eq!(
            report.entries, 3,
            "the entries before the broken link verified"
        );
        drop(hub);
        backend.cleanup().await;
    }
}
