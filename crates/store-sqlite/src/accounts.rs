//! Users, sessions and client credentials.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sangam_store::{AccountStore, Role, Session, StoreError, StoreResult, User};

use crate::SqliteStore;
use crate::sql::{map_err, parse_ts, ts};

#[async_trait]
impl AccountStore for SqliteStore {
    async fn upsert_user(&self, user: &User) -> StoreResult<()> {
        let u = user.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO users (username, password_hash, role, disabled, created_at, \
                     organisation) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (username) DO \
                     UPDATE SET password_hash = excluded.password_hash, role = excluded.role, \
                     disabled = excluded.disabled, organisation = excluded.organisation",
                    params![
                        u.username,
                        u.password_hash,
                        u.role.code(),
                        u.disabled,
                        ts(&u.created_at),
                        u.organisation
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn user(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.conns
            .read(move |c| {
                let row = c
                    .query_row(
                        "SELECT username, password_hash, role, disabled, created_at, \
                         organisation FROM users WHERE username = ?1",
                        [&username],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, bool>(3)?,
                                r.get::<_, String>(4)?,
                                r.get::<_, Option<String>>(5)?,
                            ))
                        },
                    )
                    .optional()
                    .map_err(map_err)?;
                row.map(
                    |(username, password_hash, role, disabled, created, organisation)| {
                        Ok(User {
                            username,
                            password_hash,
                            organisation,
                            role: Role::from_code(&role)
                                .ok_or_else(|| StoreError::corrupt("users.role", &role))?,
                            disabled,
                            created_at: parse_ts("users.created_at", &created)?,
                        })
                    },
                )
                .transpose()
            })
            .await
    }

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let s = session.clone();
        self.conns
            .write(move |c| {
                c.execute(
                    "INSERT INTO sessions (token_hash, username, created_at, expires_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        &s.token_hash[..],
                        s.username,
                        ts(&s.created_at),
                        ts(&s.expires_at)
                    ],
                )
                .map_err(map_err)?;
                Ok(())
            })
            .await
    }

    async fn session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<Session>> {
        let hash = *token_hash;
        self.conns
            .read(move |c| {
                let row = c
                    .query_row(
                        "SELECT username, created_at, expires_at FROM sessions WHERE token_hash = ?1",
                        [&hash[..]],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
                    )
                    .optional()
                    .map_err(map_err)?;
                row.map(|(username, created, expires)| {
                    Ok(Session {
                        token_hash: hash,
                        username,
                        created_at: parse_ts("sessions.created_at", &created)?,
                        expires_at: parse_ts("sessions.expires_at", &expires)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        let hash = *token_hash;
        self.conns
            .write(move |c| {
                c.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash[..]])
                    .map_err(map_err)?;
                Ok(())
            })
            .await
    }
}
