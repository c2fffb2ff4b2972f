//! People who sign in (administrators, nodal officers) and the client credentials of
//! applications. Passwords are hashed with Argon2id; session tokens and client secrets are
//! random and stored only as hashes, so a copy of the database lets no one sign in.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use rand::RngCore;
use sangam_store::{Role, Session, User};
use sha2::{Digest, Sha256};

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::hours(8);
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn check_username(username: &str) -> HubResult<()> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid {
            field: "username".into(),
            code: "username.format",
            message: "3 to 64 characters of a-z, 0-9, '.', '_', '-' or '@'".into(),
        })
    }
}

/// Organisation identifiers are short slugs (`social-welfare`), used in URLs and filters.
pub fn check_organisation(organisation: &str) -> HubResult<()> {
    let ok = (2..=64).contains(&organisation.len())
        && organisation
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(HubError::Invalid {
            field: "organisation".into(),
            code: "organisation.format",
            message: "2 to 64 characters of a-z, 0-9, '-' or '_'".into(),
        })
    }
}

fn hash_password(password: &str) -> HubResult<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(HubError::Invalid {
            field: "password".into(),
            code: "password.too_short",
            message: format!("at least {MIN_PASSWORD_CHARS} characters"),
        });
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| HubError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HubError::Internal(format!("password hashing failed: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new session's bearer token, shown once.
#[derive(Clone)]
pub struct SessionToken {
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionToken")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Creates a user or sets its password, role and organisation. A nodal officer acts for
    /// exactly one organisation; an administrator for none.
    pub async fn save_user(
        &self,
        username: &str,
        password: &str,
        role: Role,
        organisation: Option<&str>,
        actor: &str,
    ) -> HubResult<()> {
        check_username(username)?;
        match (role, organisation) {
            (Role::NodalOfficer, None) => {
                return Err(HubError::Invalid {
                    field: "organisation".into(),
                    code: "organisation.missing",
                    message: "a nodal officer needs the organisation they upload for".into(),
                });
            }
            (Role::Admin, Some(_)) => {
                return Err(HubError::Invalid {
                    field: "organisation".into(),
                    code: "organisation.not_allowed",
                    message: "an administrator acts for the whole hub, not one organisation".into(),
                });
            }
            (_, Some(org)) => check_organisation(org)?,
            (Role::Admin, None) => {}
        }
        let password_hash = hash_password(password)?;
        let created_at = match self.store.user(username).await? {
            Some(existing) => existing.created_at,
            None => self.now(),
        };
        self.store
            .upsert_user(&User {
                username: username.to_owned(),
                password_hash,
                role,
                organisation: organisation.map(str::to_owned),
                disabled: false,
                created_at,
            })
            .await?;
        self.audit(
            actor,
            AuditEvent::UserSaved {
                username: username.into(),
                role: role.code().into(),
            },
        )
        .await?;
        Ok(())
    }

    /// Checks a password and opens a session. Every attempt is audited.
    pub async fn sign_in(&self, username: &str, password: &str) -> HubResult<SessionToken> {
        let user = self.store.user(username).await?;
        let ok = match &user {
            Some(u) => verify_password(password, &u.password_hash) && !u.disabled,
            None => {
                // Spend the same time on an unknown user, so timing does not tell who exists.
                let _ = hash_password("a-password-that-matches-nothing");
                false
            }
        };
        // Usernames in the log are only those that exist, so a typed password never lands there.
        let logged_name = if user.is_some() {
            username.to_owned()
        } else {
            "(unknown)".to_owned()
        };
        if !ok {
            self.audit(
                &logged_name,
                AuditEvent::SignInRefused {
                    username: logged_name.clone(),
                },
            )
            .await?;
            return Err(HubError::BadCredentials);
        }
        let token = random_token(32);
        let now = self.now();
        let session = Session {
            token_hash: token_hash(&token),
            username: username.to_owned(),
            created_at: now,
            expires_at: now + SESSION_LIFETIME,
        };
        self.store.insert_session(&session).await?;
        self.audit(
            username,
            AuditEvent::SignedIn {
                username: username.into(),
            },
        )
        .await?;
        Ok(SessionToken {
            token,
            expires_at: session.expires_at,
        })
    }

    /// The signed-in user of a bearer token.
    pub async fn authenticate(&self, token: &str) -> HubResult<User> {
        let session = self
            .store
            .session(&token_hash(token))
            .await?
            .ok_or(HubError::Unauthenticated)?;
        if session.expires_at <= self.now() {
            return Err(HubError::Unauthenticated);
        }
        let user = self
            .store
            .user(&session.username)
            .await?
            .ok_or(HubError::Unauthenticated)?;
        if user.disabled {
            return Err(HubError::Unauthenticated);
        }
        Ok(user)
    }

    pub async fn sign_out(&self, token: &str) -> HubResult<()> {
        Ok(self.store.delete_session(&token_hash(token)).await?)
    }
}
