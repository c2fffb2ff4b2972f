//! Users, sessions and client credentials.

use async_trait::async_trait;
use sangam_store::{AccountStore, Role, Session, StoreError, StoreResult, User};

use crate::PostgresStore;
use crate::sql::{execute, get, query_opt};

#[async_trait]
impl AccountStore for PostgresStore {
    async fn upsert_user(&self, user: &User) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO users (username, password_hash, role, disabled, created_at, \
             organisation) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO UPDATE \
             SET password_hash = EXCLUDED.password_hash, role = EXCLUDED.role, \
             disabled = EXCLUDED.disabled, organisation = EXCLUDED.organisation",
            &[
                &user.username,
                &user.password_hash,
                &user.role.code(),
                &user.disabled,
                &user.created_at,
                &user.organisation,
            ],
        )
        .await?;
        Ok(())
    }

    async fn user(&self, username: &str) -> StoreResult<Option<User>> {
        const T: &str = "users";
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT username, password_hash, role, disabled, created_at, organisation \
             FROM users WHERE username = $1",
            &[&username],
        )
        .await?;
        row.map(|row| {
            let role: String = get(T, &row, 2)?;
            Ok(User {
                username: get(T, &row, 0)?,
                password_hash: get(T, &row, 1)?,
                role: Role::from_code(&role)
                    .ok_or_else(|| StoreError::corrupt("users.role", &role))?,
                disabled: get(T, &row, 3)?,
                created_at: get(T, &row, 4)?,
                organisation: get(T, &row, 5)?,
            })
        })
        .transpose()
    }

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "INSERT INTO sessions (token_hash, username, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                &&session.token_hash[..],
                &session.username,
                &session.created_at,
                &session.expires_at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &[u8; 32]) -> StoreResult<Option<Session>> {
        const T: &str = "sessions";
        let c = self.client().await?;
        let row = query_opt(
            &c,
            "SELECT username, created_at, expires_at FROM sessions WHERE token_hash = $1",
            &[&&token_hash[..]],
        )
        .await?;
        row.map(|row| {
            Ok(Session {
                token_hash: *token_hash,
                username: get(T, &row, 0)?,
                created_at: get(T, &row, 1)?,
                expires_at: get(T, &row, 2)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> StoreResult<()> {
        let c = self.client().await?;
        execute(
            &c,
            "DELETE FROM sessions WHERE token_hash = $1",
            &[&&token_hash[..]],
        )
        .await?;
        Ok(())
    }
}
