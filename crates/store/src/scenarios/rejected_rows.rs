//! Scenarios of the rejected rows an upload keeps after its commit: re-sealed under a newer
//! key when the vault's key rotates (walked by keyset, written only at the version read), and
//! purged when the retention period of their upload has passed. Also the recurring job that
//! purges them, of which only one may be queued.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::sample_upload;
use crate::Store;
use crate::audit;
use crate::records::*;

/// Key versions no other scenario uses, so that counts per version are this scenario's own.
const OLD: u32 = 7;
const NEW: u32 = 8;

/// Commits upload `id` as finished at `finished`, with a header and rejected rows of the
/// given (line, key version).
async fn committed_upload(
    store: &dyn Store,
    id: &str,
    finished: DateTime<Utc>,
    rows: &[(u64, u32)],
) -> UploadRecord {
    let mut upload = sample_upload(id, &format!("sha-{id}"));
    upload.organisation = "health".into();
    upload.dataset = "maternity_benefit".into();
    store.insert_upload(&upload).await.unwrap();
    let mut load = store.begin_registry_load(id).await.unwrap();
    load.put_header(vec!["beneficiary_id".into(), "aadhaar".into()])
        .await
        .unwrap();
    load.put_rejections(
        rows.iter()
            .map(|&(line, key_version)| StoredRejection {
                line,
                key_version,
                sealed: vec![key_version as u8, line as u8],
            })
            .collect(),
    )
    .await
    .unwrap();
    upload.status = UploadStatus::Committed;
    upload.counts = UploadCounts {
        rows: 10,
        accepted: 10 - rows.len() as u64,
        rejected: rows.len() as u64,
        ..UploadCounts::default()
    };
    upload.finished_at = Some(finished);
    load.commit(upload.clone()).await.unwrap();
    upload
}

fn versions_of(counts: &[(u32, u64)]) -> (u64, u64) {
    let of = |v: u32| counts.iter().find(|(k, _)| *k == v).map_or(0, |(_, n)| *n);
    (of(OLD), of(NEW))
}

/// The whole walk below `version`, a page of `page` at a time, as (upload, line).
async fn walk(store: &dyn Store, version: u32, page: u32) -> Vec<RejectionEntry> {
    let mut all: Vec<RejectionEntry> = Vec::new();
    loop {
        let after = all.last().map(|e| (e.upload_id.as_str(), e.line));
        let got = store
            .rejections_below_version(version, after, page)
            .await
            .unwrap();
        assert!(got.len() <= page as usize, "a page holds at most its limit");
        let done = got.len() < page as usize;
        all.extend(got);
        if done {
            return all;
        }
    }
}

pub(super) async fn rejected_rows(store: &dyn Store) {
    let now = audit::truncate_to_micros(Utc::now());
    let days = Duration::days;
    // Ids that sort before every other scenario's uploads, and are this scenario's own.
    let mine = ["0r1", "0r2", "0r3", "0r4"];
    let r1 = committed_upload(
        store,
        mine[0],
        now - days(100),
        &[(2, OLD), (3, OLD), (4, OLD), (5, OLD), (6, OLD)],
    )
    .await;
    let r2 = committed_upload(
        store,
        mine[1],
        now - days(95),
        &[(2, OLD), (4, OLD), (7, NEW)],
    )
    .await;
    let r3 = committed_upload(store, mine[2], now - days(10), &[(3, OLD), (8, NEW)]).await;
    // An old upload that refused nothing: its report (the header alone) goes too.
    let r4 = committed_upload(store, mine[3], now - days(92), &[]).await;
    // An upload that failed long ago has nothing kept and is left alone.
    let mut failed = sample_upload("0r0", "sha-0r0");
    failed.status = UploadStatus::Failed;
    failed.finished_at = Some(now - days(200));
    store.insert_upload(&failed).await.unwrap();
    assert_eq!(
        versions_of(&store.rejection_count_by_version().await.unwrap()),
        (8, 2)
    );

    // ---- key rotation: the rows below the active version, by keyset, in pages.
    let below = walk(store, NEW, 3).await;
    assert_eq!(
        below
            .iter()
            .map(|e| (e.upload_id.clone(), e.line))
            .collect::<Vec<_>>(),
        walk(store, NEW, 1000)
            .await
            .iter()
            .map(|e| (e.upload_id.clone(), e.line))
            .collect::<Vec<_>>(),
        "pages of 3 walk what one page of 1000 does"
    );
    let ours: Vec<(&str, u64)> = below
        .iter()
        .filter(|e| mine.contains(&e.upload_id.as_str()))
        .map(|e| (e.upload_id.as_str(), e.line))
        .collect();
    assert_eq!(
        ours,
        [
            ("0r1", 2),
            ("0r1", 3),
            ("0r1", 4),
            ("0r1", 5),
            ("0r1", 6),
            ("0r2", 2),
            ("0r2", 4),
            ("0r3", 3)
        ],
        "in (upload, line) order, without the rows at the newer version"
    );
    let r1_line_3 = below
        .iter()
        .find(|e| e.upload_id == "0r1" && e.line == 3)
        .unwrap();
    assert_eq!(
        (r1_line_3.key_version, r1_line_3.sealed.as_slice()),
        (OLD, &[OLD as u8, 3][..])
    );
    assert!(
        store
            .rejections_below_version(NEW, Some(("0r2", 4)), 100)
            .await
            .unwrap()
            .iter()
            .all(|e| (e.upload_id.as_str(), e.line) > ("0r2", 4)),
        "the cursor is exclusive"
    );

    // Re-sealed only where still at the version read: a row written meanwhile by another
    // worker (or at another version) is left as it is.
    let reseal = |upload_id: &str, line: u64, expected_version: u32| RejectionReseal {
        upload_id: upload_id.into(),
        line,
        expected_version,
        new_version: NEW,
        sealed: vec![99, line as u8],
    };
    let updates: Vec<RejectionReseal> = ours
        .iter()
        .map(|(id, line)| reseal(id, *line, OLD))
        .chain([reseal("0r2", 7, OLD), reseal("0r9", 1, OLD)])
        .collect();
    assert_eq!(store.reseal_rejections(&updates).await.unwrap(), 8);
    assert_eq!(
        store.reseal_rejections(&updates[..2]).await.unwrap(),
        0,
        "a second worker with the same batch replaces nothing"
    );
    assert_eq!(store.reseal_rejections(&[]).await.unwrap(), 0);
    assert_eq!(
        versions_of(&store.rejection_count_by_version().await.unwrap()),
        (0, 10)
    );
    let r1_rows = store.upload_rejections("0r1", 0, 10).await.unwrap();
    assert_eq!(r1_rows.len(), 5);
    assert!(
        r1_rows
            .iter()
            .all(|r| r.key_version == NEW && r.sealed == [99, r.line as u8])
    );
    let r2_rows = store.upload_rejections("0r2", 0, 10).await.unwrap();
    assert_eq!(
        r2_rows.last().map(|r| r.sealed.clone()),
        Some(vec![NEW as u8, 7]),
        "the row at the newer version keeps its seal"
    );
    assert!(
        walk(store, NEW, 3)
            .await
            .iter()
            .all(|e| !mine.contains(&e.upload_id.as_str()))
    );

    // ---- retention: the rows of uploads finished before the cut-off go, in batches.
    let cut_off = now - days(90);
    let first = store.purge_rejections(cut_off, now, 4).await.unwrap();
    assert_eq!(
        first,
        RejectionPurge {
            uploads: 0,
            rows: 4,
            more: true
        },
        "the oldest upload's rows, up to the limit"
    );
    assert_eq!(
        store
            .upload_rejections("0r1", 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.line)
            .collect::<Vec<_>>(),
        [6]
    );
    assert!(
        store
            .upload("0r1")
            .await
            .unwrap()
            .unwrap()
            .rejections_purged_at
            .is_none(),
        "an upload with rows left is not purged yet"
    );
    assert!(store.upload_header("0r1").await.unwrap().is_some());
    let second = store.purge_rejections(cut_off, now, 4).await.unwrap();
    assert_eq!(
        second,
        RejectionPurge {
            uploads: 2,
            rows: 4,
            more: true
        }
    );
    let third = store.purge_rejections(cut_off, now, 4).await.unwrap();
    assert_eq!(
        third,
        RejectionPurge {
            uploads: 1,
            rows: 0,
            more: false
        },
        "the upload without rows is purged too"
    );
    assert_eq!(
        store.purge_rejections(cut_off, now, 4).await.unwrap(),
        RejectionPurge::default(),
        "nothing is left to purge"
    );
    for old in [&r1, &r2, &r4] {
        let after = store.upload(&old.id).await.unwrap().unwrap();
        assert_eq!(after.rejections_purged_at, Some(now), "{}", old.id);
        assert_eq!(after.counts, old.counts, "{}: the counts stay", old.id);
        assert_eq!(after.status, UploadStatus::Committed);
        assert!(
            store
                .upload_rejections(&old.id, 0, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.upload_header(&old.id).await.unwrap().is_none());
    }
    // The newer upload keeps everything, and the failed one is not marked.
    assert_eq!(store.upload(&r3.id).await.unwrap().unwrap(), r3);
    assert_eq!(
        store
            .upload_rejections(&r3.id, 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.line)
            .collect::<Vec<_>>(),
        [3, 8]
    );
    assert!(store.upload_header(&r3.id).await.unwrap().is_some());
    assert!(
        store
            .upload("0r0")
            .await
            .unwrap()
            .unwrap()
            .rejections_purged_at
            .is_none()
    );
    assert_eq!(
        versions_of(&store.rejection_count_by_version().await.unwrap()),
        (0, 2)
    );
    // Later, the newer upload's turn comes.
    let later = store
        .purge_rejections(now + days(1), now + days(1), 100)
        .await
        .unwrap();
    assert!(later.uploads >= 1 && later.rows >= 2, "{later:?}");
    assert!(
        store
            .upload_rejections(&r3.id, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A recurring job is queued once, however many processes ask, until it ends for good.
pub(super) async fn singleton_jobs(store: Arc<dyn Store>) {
    let now = audit::truncate_to_micros(Utc::now());
    let due = now - Duration::days(1);
    let payload = serde_json::json!({"kind": "daily"});
    let first = store
        .enqueue_singleton_job("kind.daily", &payload, due)
        .await
        .unwrap()
        .expect("the first is queued");
    let mut askers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        let payload = payload.clone();
        askers.push(tokio::spawn(async move {
            store
                .enqueue_singleton_job("kind.daily", &payload, due)
                .await
                .unwrap()
        }));
    }
    for asker in askers {
        assert_eq!(asker.await.unwrap(), None, "one is queued already");
    }
    // An ordinary job of the same kind is not held back, nor does it count.
    let ordinary = store
        .enqueue_job("kind.daily", &payload, now + Duration::days(30))
        .await
        .unwrap();
    let claimed = store
        .claim_job(now, now + Duration::minutes(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, first);
    assert_eq!(
        store
            .enqueue_singleton_job("kind.daily", &payload, due)
            .await
            .unwrap(),
        None,
        "nor while it runs"
    );
    store
        .requeue_job(first, &payload, now + Duration::days(1), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .enqueue_singleton_job("kind.daily", &payload, due)
            .await
            .unwrap(),
        None,
        "nor when it has queued itself again"
    );
    let kinds: HashSet<i64> = store
        .pending_jobs()
        .await
        .unwrap()
        .iter()
        .filter(|j| j.kind == "kind.daily")
        .map(|j| j.id)
        .collect();
    assert_eq!(kinds, HashSet::from([first, ordinary]));
    // Given up for good, it may be queued anew (the next start of a hub does).
    store.fail_job(first, "gave up", now).await.unwrap();
    let again = store
        .enqueue_singleton_job("kind.daily", &payload, due)
        .await
        .unwrap();
    assert!(again.is_some_and(|id| id != first));
    for id in [again.unwrap_or(first), ordinary] {
        store.fail_job(id, "scenario over", now).await.unwrap();
    }
}
