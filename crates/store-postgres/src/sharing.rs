//! Organisations, consuming applications, their daily usage, decoys and enrolment requests.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sangam_store::{
    DailyUsage, ResidentRequest, SharingStore, StoreError, StoreResult, StoredApplication,
    StoredOrganisation,
};
use tokio_postgres::Row;

use crate::PostgresStore;
use crate::sql::{count, execute, get, query, query_opt, version_from_db};

fn organisation(row: &Row) -> StoreResult<StoredOrganisation> {
    const T: &str = "organisations";
    Ok(StoredOrganisation {
        id: get(T, row, 0)?,
        name: get(T, row, 1)?,
        doc: get(T, row, 2)?,
        created_at: get(T, row, 3)?,
        updated_at: get(T, row, 4)?,
    })
}

const APPLICATION: &str = "SELECT id, organisation, client_id, status, version, doc, created_at, updated_at \
     FROM applications";

fn application(row: &Row) -> StoreResult<StoredApplication> {
    const T: &str = "applications";
    Ok(StoredApplication {
        id: get(T, row, 0)?,
        organisation: get(T, row, 1)?,
        client_id: get(T, row, 2)?,
        status: get(T, row, 3)?,
        version: get(T, row, 4)?,
        doc: get(T, row, 5)?,
        created_at: get(T, row, 6)?,
        updated_at: get(T, row, 7)?,
    })
}

#[async_trait]
impl SharingStore for PostgresStore {
    async fn put_organisation(&self, o: &StoredOrganisation) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO organisations (id, name, doc, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             name = EXCLUDED.name, doc = EXCLUDED.doc, updated_at = EXCLUDED.updated_at",
            &[&o.id, &o.name, &o.doc, &o.created_at, &o.updated_at],
        )
        .await
        .map(|_| ())
    }

    async fn organisation(&self, id: &str) -> StoreResult<Option<StoredOrganisation>> {
        let c = self.client().await?;
        query_opt(
            &c,
            "SELECT id, name, doc, created_at, updated_at FROM organisations WHERE id = $1",
            &[&id],
        )
        .await?
        .as_ref()
        .map(organisation)
        .transpose()
    }

    async fn organisations(&self) -> StoreResult<Vec<StoredOrganisation>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT id, name, doc, created_at, updated_at FROM organisations ORDER BY name",
            &[],
        )
        .await?
        .iter()
        .map(organisation)
        .collect()
    }

    async fn insert_application(&self, a: &StoredApplication) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO applications (id, organisation, client_id, status, version, doc, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &a.id,
                &a.organisation,
                &a.client_id,
                &a.status,
                &a.version,
                &a.doc,
                &a.created_at,
                &a.updated_at,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn update_application(&self, a: &StoredApplication) -> StoreResult<()> {
        let c = self.client().await?;
        let changed = execute(
            &c,
            "UPDATE applications SET client_id = $2, status = $3, version = $4, doc = $5, \
             updated_at = $6 WHERE id = $1 AND version = $4::bigint - 1",
            &[
                &a.id,
                &a.client_id,
                &a.status,
                &a.version,
                &a.doc,
                &a.updated_at,
            ],
        )
        .await?;
        if changed == 0 {
            return Err(StoreError::Conflict(format!(
                "application {} changed since version {}",
                a.id,
                a.version - 1
            )));
        }
        Ok(())
    }

    async fn application(&self, id: &str) -> StoreResult<Option<StoredApplication>> {
        let c = self.client().await?;
        query_opt(&c, &format!("{APPLICATION} WHERE id = $1"), &[&id])
            .await?
            .as_ref()
            .map(application)
            .transpose()
    }

    async fn application_by_client(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<StoredApplication>> {
        let c = self.client().await?;
        query_opt(
            &c,
            &format!("{APPLICATION} WHERE client_id = $1"),
            &[&client_id],
        )
        .await?
        .as_ref()
        .map(application)
        .transpose()
    }

    async fn applications(
        &self,
        organisation: Option<&str>,
    ) -> StoreResult<Vec<StoredApplication>> {
        let c = self.client().await?;
        query(
            &c,
            &format!(
                "{APPLICATION} WHERE $1::text IS NULL OR organisation = $1 ORDER BY created_at, id"
            ),
            &[&organisation],
        )
        .await?
        .iter()
        .map(application)
        .collect()
    }

    async fn add_usage(&self, deltas: &[DailyUsage]) -> StoreResult<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = deltas.iter().map(|d| d.application_id.as_str()).collect();
        let days: Vec<NaiveDate> = deltas.iter().map(|d| d.day).collect();
        let requests: Vec<i64> = deltas
            .iter()
            .map(|d| i64::try_from(d.requests).unwrap_or(i64::MAX))
            .collect();
        let c = self.client().await?;
        // Deltas of one key are summed first: one statement cannot update a row twice.
        execute(
            &c,
            "INSERT INTO usage_daily (application_id, day, requests) \
             SELECT a, d, SUM(n) FROM UNNEST($1::text[], $2::date[], $3::bigint[]) AS t(a, d, n) \
             GROUP BY a, d ON CONFLICT (application_id, day) \
             DO UPDATE SET requests = usage_daily.requests + EXCLUDED.requests",
            &[&ids, &days, &requests],
        )
        .await
        .map(|_| ())
    }

    async fn usage(
        &self,
        application_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<DailyUsage>> {
        const T: &str = "usage_daily";
        let c = self.client().await?;
        query(
            &c,
            "SELECT day, requests FROM usage_daily WHERE application_id = $1 \
             AND day >= $2 AND day <= $3 ORDER BY day",
            &[&application_id, &from, &to],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(DailyUsage {
                application_id: application_id.to_owned(),
                day: get(T, row, 0)?,
                requests: count(get(T, row, 1)?),
            })
        })
        .collect()
    }

    async fn add_honeytokens(&self, resident_ids: &[String], at: DateTime<Utc>) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO honeytokens (resident_id, created_at) \
             SELECT id, $2 FROM UNNEST($1::text[]) AS t(id) ON CONFLICT DO NOTHING",
            &[&resident_ids, &at],
        )
        .await
        .map(|_| ())
    }

    async fn honeytokens(&self) -> StoreResult<Vec<String>> {
        let c = self.client().await?;
        query(
            &c,
            "SELECT resident_id FROM honeytokens ORDER BY resident_id",
            &[],
        )
        .await?
        .iter()
        .map(|row| get("honeytokens", row, 0))
        .collect()
    }

    async fn insert_resident_request(&self, r: &ResidentRequest) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO resident_requests (id, application_id, status, key_version, sealed, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &r.id,
                &r.application_id,
                &r.status,
                &i64::from(r.key_version),
                &r.sealed,
                &r.created_at,
            ],
        )
        .await
        .map(|_| ())
    }

    async fn resident_requests(&self, application_id: &str) -> StoreResult<Vec<ResidentRequest>> {
        const T: &str = "resident_requests";
        let c = self.client().await?;
        query(
            &c,
            "SELECT id, application_id, status, key_version, sealed, created_at \
             FROM resident_requests WHERE application_id = $1 ORDER BY created_at, id",
            &[&application_id],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(ResidentRequest {
                id: get(T, row, 0)?,
                application_id: get(T, row, 1)?,
                status: get(T, row, 2)?,
                key_version: version_from_db(T, get(T, row, 3)?)?,
                sealed: get(T, row, 4)?,
                created_at: get(T, row, 5)?,
            })
        })
        .collect()
    }
}
