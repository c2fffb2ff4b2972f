//! Organisations, consuming applications, their daily usage, decoys and enrolment requests.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use sangam_store::{
    DailyUsage, ResidentRequest, SharingStore, StoreError, StoreResult, StoredApplication,
    StoredOrganisation,
};

use crate::SqliteStore;
use crate::sql::{begin, map_err, parse_ts, ts};

type RawOrganisation = (String, String, String, String, String);

fn organisation(raw: RawOrganisation) -> StoreResult<StoredOrganisation> {
    let (id, name, doc, created_at, updated_at) = raw;
    Ok(StoredOrganisation {
        id,
        name,
        doc,
        created_at: parse_ts("organisations.created_at", &created_at)?,
        updated_at: parse_ts("organisations.updated_at", &updated_at)?,
    })
}

fn raw_organisation(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawOrganisation> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

const APPLICATION: &str = "SELECT id, organisation, client_id, status, version, doc, created_at, updated_at \
     FROM applications";

type RawApplication = (
    String,
    String,
    Option<String>,
    String,
    i64,
    String,
    String,
    String,
);

fn raw_application(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawApplication> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

fn application(raw: RawApplication) -> StoreResult<StoredApplication> {
    let (id, organisation, client_id, status, version, doc, created_at, updated_at) = raw;
    Ok(StoredApplication {
        id,
        organisation,
        client_id,
        status,
        version,
        doc,
        created_at: parse_ts("applications.created_at", &created_at)?,
        updated_at: parse_ts("applications.updated_at", &updated_at)?,
    })
}

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

#[async_trait]
impl SharingStore for SqliteStore {
    async fn put_organisation(&self, o: &StoredOrganisation) -> StoreResult<()> {
        let o = o.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO organisations (id, name, doc, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                     name = excluded.name, doc = excluded.doc, updated_at = excluded.updated_at",
                    params![o.id, o.name, o.doc, ts(&o.created_at), ts(&o.updated_at)],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn organisation(&self, id: &str) -> StoreResult<Option<StoredOrganisation>> {
        let id = id.to_owned();
        self.conns
            .read(move |c| {
                c.query_row(
                    "SELECT id, name, doc, created_at, updated_at FROM organisations \
                     WHERE id = ?1",
                    [&id],
                    raw_organisation,
                )
                .optional()
                .map_err(map_err)?
                .map(organisation)
                .transpose()
            })
            .await
    }

    async fn organisations(&self) -> StoreResult<Vec<StoredOrganisation>> {
        self.conns
            .read(|c| {
                let mut stmt = c
                    .prepare(
                        "SELECT id, name, doc, created_at, updated_at FROM organisations \
                         ORDER BY name",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([], raw_organisation)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter().map(organisation).collect()
            })
            .await
    }

    async fn insert_application(&self, a: &StoredApplication) -> StoreResult<()> {
        let a = a.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO applications (id, organisation, client_id, status, version, \
                     doc, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        a.id,
                        a.organisation,
                        a.client_id,
                        a.status,
                        a.version,
                        a.doc,
                        ts(&a.created_at),
                        ts(&a.updated_at)
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn update_application(&self, a: &StoredApplication) -> StoreResult<()> {
        let a = a.clone();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                let changed = tx
                    .execute(
                        "UPDATE applications SET client_id = ?2, status = ?3, version = ?4, \
                         doc = ?5, updated_at = ?6 WHERE id = ?1 AND version = ?4 - 1",
                        params![
                            a.id,
                            a.client_id,
                            a.status,
                            a.version,
                            a.doc,
                            ts(&a.updated_at)
                        ],
                    )
                    .map_err(map_err)?;
                if changed == 0 {
                    return Err(StoreError::Conflict(format!(
                        "application {} changed since version {}",
                        a.id,
                        a.version - 1
                    )));
                }
                tx.commit().map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn application(&self, id: &str) -> StoreResult<Option<StoredApplication>> {
        let id = id.to_owned();
        self.conns
            .read(move |c| {
                c.prepare_cached(&format!("{APPLICATION} WHERE id = ?1"))
                    .map_err(map_err)?
                    .query_row([&id], raw_application)
                    .optional()
                    .map_err(map_err)?
                    .map(application)
                    .transpose()
            })
            .await
    }

    async fn application_by_client(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<StoredApplication>> {
        let client_id = client_id.to_owned();
        self.conns
            .read(move |c| {
                c.prepare_cached(&format!("{APPLICATION} WHERE client_id = ?1"))
                    .map_err(map_err)?
                    .query_row([&client_id], raw_application)
                    .optional()
                    .map_err(map_err)?
                    .map(application)
                    .transpose()
            })
            .await
    }

    async fn applications(
        &self,
        organisation: Option<&str>,
    ) -> StoreResult<Vec<StoredApplication>> {
        let organisation = organisation.map(str::to_owned);
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare(&format!(
                        "{APPLICATION} WHERE ?1 IS NULL OR organisation = ?1 ORDER BY created_at, id"
                    ))
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([&organisation], raw_application)
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter().map(application).collect()
            })
            .await
    }

    async fn add_usage(&self, deltas: &[DailyUsage]) -> StoreResult<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let deltas = deltas.to_vec();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO usage_daily (application_id, day, requests) \
                             VALUES (?1, ?2, ?3) ON CONFLICT (application_id, day) \
                             DO UPDATE SET requests = requests + excluded.requests",
                        )
                        .map_err(map_err)?;
                    for d in &deltas {
                        stmt.execute(params![
                            d.application_id,
                            day_text(d.day),
                            i64::try_from(d.requests).unwrap_or(i64::MAX)
                        ])
                        .map_err(map_err)?;
                    }
                }
                tx.commit().map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn usage(
        &self,
        application_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DailyUsage>> {
        let application_id = application_id.to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT day, requests FROM usage_daily WHERE application_id = ?1 \
                         AND day >= ?2 AND day <= ?3 ORDER BY day",
                    )
                    .map_err(map_err)?;
                stmt.query_map(params![application_id, day_text(from), day_text(to)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(map_err)?
                .map(|row| {
                    let (day, requests) = row.map_err(map_err)?;
                    Ok(DailyUsage {
                        application_id: application_id.clone(),
                        day: NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                            .map_err(|e| StoreError::corrupt("usage_daily.day", e))?,
                        requests: u64::try_from(requests).unwrap_or_default(),
                    })
                })
                .collect()
            })
            .await
    }

    async fn add_honeytokens(&self, resident_ids: &[String], at: DateTime<Utc>) -> StoreResult<()> {
        let ids = resident_ids.to_vec();
        self.conns
            .write(move |c| {
                let tx = begin(c)?;
                {
                    let mut stmt = tx
                        .prepare_cached(
                            "INSERT INTO honeytokens (resident_id, created_at) VALUES (?1, ?2) \
                             ON CONFLICT DO NOTHING",
                        )
                        .map_err(map_err)?;
                    for id in &ids {
                        stmt.execute(params![id, ts(&at)]).map_err(map_err)?;
                    }
                }
                tx.commit().map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn honeytokens(&self) -> StoreResult<Vec<String>> {
        self.conns
            .read(|c| {
                let mut stmt = c
                    .prepare("SELECT resident_id FROM honeytokens ORDER BY resident_id")
                    .map_err(map_err)?;
                stmt.query_map([], |r| r.get(0))
                    .map_err(map_err)?
                    .collect::<Result<Vec<String>, _>>()
                    .map_err(map_err)
            })
            .await
    }

    async fn insert_resident_request(&self, r: &ResidentRequest) -> StoreResult<()> {
        let r = r.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO resident_requests (id, application_id, status, key_version, \
                     sealed, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        r.id,
                        r.application_id,
                        r.status,
                        r.key_version,
                        r.sealed,
                        ts(&r.created_at)
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn resident_requests(&self, application_id: &str) -> StoreResult<Vec<ResidentRequest>> {
        let application_id = application_id.to_owned();
        self.conns
            .read(move |c| {
                let mut stmt = c
                    .prepare(
                        "SELECT id, application_id, status, key_version, sealed, created_at \
                         FROM resident_requests WHERE application_id = ?1 ORDER BY created_at, id",
                    )
                    .map_err(map_err)?;
                let rows = stmt
                    .query_map([&application_id], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, u32>(3)?,
                            r.get::<_, Vec<u8>>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })
                    .map_err(map_err)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(map_err)?;
                rows.into_iter()
                    .map(|(id, application_id, status, key_version, sealed, at)| {
                        Ok(ResidentRequest {
                            id,
                            application_id,
                            status,
                            key_version,
                            sealed,
                            created_at: parse_ts("resident_requests.created_at", &at)?,
                        })
                    })
                    .collect()
            })
            .await
    }
}
