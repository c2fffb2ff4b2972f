//! Client credentials and access tokens: the token-signing key and the secret-hashing key
//! (made once, sealed by the vault, shared by every hub process through the store), client
//! secrets with an overlap window on rotation, and the client-credentials grant.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use sangam_access::secrets::{ClientSecret, SecretHasher};
use sangam_access::tokens::{AccessClaims, SigningKey, TokenKeys};
use sangam_vault::Sealed;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::gate::Denial;
use super::model::{Environment, SecretRecord};
use super::{Keys, new_id};
use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

/// Access tokens live five minutes: short enough that a leaked one is soon useless, long
/// enough that a client asks for few.
pub const TOKEN_LIFETIME_SECONDS: i64 = 300;
/// The `iss` and `aud` of access tokens.
pub const ISSUER: &str = "sangam";
pub const AUDIENCE: &str = "sangam-api";
/// How long a replaced secret keeps working by default, so the consumer can deploy the new one.
pub const DEFAULT_OVERLAP_HOURS: i64 = 24;

const SIGNING_KEY_META: &str = "sharing.signing_key";
const SECRET_KEY_META: &str = "sharing.secret_hash_key";
const SEAL_KIND: &str = "sharing_key";

/// A key as kept in the store's settings: sealed by the vault.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    key_version: u32,
    sealed: String,
}

/// A secret just issued: shown once, never again.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedSecret {
    pub client_id: String,
    pub client_secret: String,
    pub secret_id: String,
    pub environment: Environment,
}

impl std::fmt::Debug for IssuedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSecret")
            .field("client_id", &self.client_id)
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

/// An access token issued by the client-credentials grant.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    /// The scopes granted, space separated.
    pub scope: String,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// The signing and hashing keys: made by the first process that needs them, read by the
    /// others.
    pub(crate) async fn sharing_keys(&self) -> HubResult<&Keys> {
        self.sharing()
            .keys
            .get_or_try_init(|| async {
                let signing = self.shared_key(SIGNING_KEY_META).await?;
                let hashing = self.shared_key(SECRET_KEY_META).await?;
                Ok::<_, HubError>(Keys {
                    tokens: TokenKeys::new(
                        ISSUER,
                        AUDIENCE,
                        SigningKey::from_secret(&signing.0, &signing.1),
                        Vec::new(),
                    ),
                    secrets: SecretHasher::new(*hashing.1),
                })
            })
            .await
    }

    /// The data-key versions sealing the keys kept in the store's settings (none before
    /// the first token is issued).
    pub(crate) async fn sealed_meta_key_versions(&self) -> HubResult<Vec<u32>> {
        let mut versions = Vec::new();
        for name in [SIGNING_KEY_META, SECRET_KEY_META] {
            if let Some(stored) = self.store().get_meta(name).await? {
                let stored: StoredKey = serde_json::from_str(&stored).map_err(|e| {
                    HubError::Internal(format!("the stored {name} is unreadable: {e}"))
                })?;
                versions.push(stored.key_version);
            }
        }
        Ok(versions)
    }

    async fn shared_key(&self, name: &str) -> HubResult<(String, Zeroizing<[u8; 32]>)> {
        let fresh = SigningKey::generate();
        let ring = self.vault().sealing_ring().await?;
        let sealed = ring.seal_record(SEAL_KIND, name, fresh.secret());
        let proposal = serde_json::to_string(&StoredKey {
            kid: fresh.kid().to_owned(),
            key_version: sealed.key_version,
            sealed: STANDARD.encode(&sealed.blob),
        })
        .map_err(|e| HubError::Internal(e.to_string()))?;
        let stored = self.store().init_meta(name, &proposal).await?;
        let stored: StoredKey = serde_json::from_str(&stored)
            .map_err(|e| HubError::Internal(format!("the stored {name} is unreadable: {e}")))?;
        let blob = STANDARD
            .decode(&stored.sealed)
            .map_err(|e| HubError::Internal(format!("the stored {name} is unreadable: {e}")))?;
        let plain = self.vault().ring().open_record(
            SEAL_KIND,
            name,
            &Sealed {
                key_version: stored.key_version,
                blob,
            },
        )?;
        let mut key = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(HubError::Internal(format!(
                "the stored {name} has the wrong length"
            )));
        }
        key.copy_from_slice(&plain);
        Ok((stored.kid, key))
    }

    /// The public keys that verify access tokens (`/.well-known/jwks.json`).
    pub async fn jwks(&self) -> HubResult<serde_json::Value> {
        Ok(self.sharing_keys().await?.tokens.jwks())
    }

    /// Issues a new client secret for `environment`. Earlier secrets of that environment keep
    /// working for `overlap` (then stop), so the consumer can roll the new one out.
    pub async fn issue_client_secret(
        &self,
        application_id: &str,
        environment: Environment,
        overlap: Duration,
        actor: &str,
    ) -> HubResult<IssuedSecret> {
        use super::model::ApplicationStatus::*;
        let keys = self.sharing_keys().await?;
        let secret = ClientSecret::generate();
        let secret_id = new_id("sec_");
        let now = self.now();
        let app = self
            .change_application(application_id, |app, stored| {
                let allowed = match environment {
                    Environment::Sandbox => matches!(app.status, Approved | Sandbox | Live),
                    Environment::Live => matches!(app.status, Sandbox | Live),
                };
                if !allowed {
                    return Err(HubError::Conflict(format!(
                        "an application in status {} cannot get {} credentials",
                        app.status.code(),
                        environment.code()
                    )));
                }
                let mut doc = app.doc.clone();
                for old in doc
                    .secrets
                    .iter_mut()
                    .filter(|s| s.environment == environment && s.usable_at(now))
                {
                    let until = now + overlap;
                    old.expires_at = Some(old.expires_at.map_or(until, |at| at.min(until)));
                }
                doc.secrets.push(SecretRecord {
                    id: secret_id.clone(),
                    hash_hex: hex::encode(keys.secrets.hash(secret.expose())),
                    environment,
                    created_at: now,
                    expires_at: None,
                    revoked_at: None,
                });
                if stored.client_id.is_none() {
                    stored.client_id = Some(new_id("cl_"));
                }
                Ok(doc)
            })
            .await?;
        self.audit(
            actor,
            AuditEvent::ClientSecretIssued {
                application_id: application_id.into(),
                secret_id: secret_id.clone(),
                environment: environment.code().into(),
            },
        )
        .await?;
        Ok(IssuedSecret {
            client_id: app.client_id.clone().unwrap_or_default(),
            client_secret: secret.expose().to_owned(),
            secret_id,
            environment,
        })
    }

    /// Revokes a secret: tokens it obtained stop working at once.
    pub async fn revoke_client_secret(
        &self,
        application_id: &str,
        secret_id: &str,
        actor: &str,
    ) -> HubResult<()> {
        let now = self.now();
        self.change_application(application_id, |app, _| {
            let mut doc = app.doc.clone();
            let secret = doc
                .secrets
                .iter_mut()
                .find(|s| s.id == secret_id)
                .ok_or_else(|| HubError::NotFound(format!("secret {secret_id}")))?;
            if secret.revoked_at.is_some() {
                return Err(HubError::Conflict(format!(
                    "secret {secret_id} is revoked already"
                )));
            }
            secret.revoked_at = Some(now);
            Ok(doc)
        })
        .await?;
        self.audit(
            actor,
            AuditEvent::ClientSecretRevoked {
                application_id: application_id.into(),
                secret_id: secret_id.into(),
            },
        )
        .await?;
        Ok(())
    }

    /// The client-credentials grant (RFC 6749 section 4.4): a short-lived access token with
    /// the scopes asked for (all the agreement's when none are), for the purpose given.
    pub async fn client_credentials_grant(
        &self,
        client_id: &str,
        client_secret: &str,
        scope: Option<&str>,
        purpose: Option<&str>,
        client_ip: std::net::IpAddr,
    ) -> HubResult<TokenResponse> {
        let invalid_client = || {
            Denial::unauthenticated(
                "invalid_client",
                "unknown client, or a wrong, expired or revoked secret",
            )
        };
        let keys = self.sharing_keys().await?;
        let Some(stored) = self.store().application_by_client(client_id).await? else {
            return Err(invalid_client().into());
        };
        let app = self.remember(&stored)?;
        let now = self.now();
        let secret = app
            .doc
            .secrets
            .iter()
            .filter(|s| s.usable_at(now))
            .find(|s| {
                hex::decode(&s.hash_hex)
                    .is_ok_and(|stored| keys.secrets.matches(client_secret, &stored))
            })
            .ok_or_else(invalid_client)?;
        self.check_standing(&app, secret.environment, client_ip, now)?;
        let agreement = app.doc.agreement().ok_or_else(|| {
            Denial::forbidden("agreement.missing", "the application has no agreement")
        })?;
        let granted: Vec<String> = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => agreement.scopes.clone(),
            Some(asked) => {
                let asked: Vec<String> = asked.split_whitespace().map(str::to_owned).collect();
                if let Some(bad) = asked.iter().find(|s| !agreement.scopes.contains(s)) {
                    return Err(Denial::bad_request(
                        "invalid_scope",
                        format!("scope {bad:?} is not in the application's agreement"),
                    )
                    .into());
                }
                asked
            }
        };
        if let Some(purpose) = purpose
            && agreement.purpose(purpose).is_none()
        {
            return Err(Denial::forbidden(
                "purpose.not_approved",
                format!("purpose {purpose:?} is not one the agreement approved"),
            )
            .into());
        }
        let claims = AccessClaims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: client_id.into(),
            app: app.id.clone(),
            sid: secret.id.clone(),
            scope: granted.clone(),
            purpose: purpose.map(str::to_owned),
            env: secret.environment.code().into(),
            iat: now.timestamp(),
            exp: now.timestamp() + TOKEN_LIFETIME_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = keys
            .tokens
            .issue(&claims)
            .map_err(|e| HubError::Internal(format!("signing an access token: {e}")))?;
        self.audit(
            &format!("app:{}", app.id),
            AuditEvent::AccessTokenIssued {
                application_id: app.id.clone(),
                secret_id: secret.id.clone(),
                scopes: granted.clone(),
            },
        )
        .await?;
        Ok(TokenResponse {
            access_token: token,
            token_type: "Bearer",
            expires_in: TOKEN_LIFETIME_SECONDS,
            scope: granted.join(" "),
        })
    }
}

impl Hub {
    /// Signs arbitrary claims with the hub's token key. Only for tests that must present a
    /// well-signed token with a wrong audience or issuer: the hub itself issues tokens only
    /// through [`Hub::client_credentials_grant`].
    #[doc(hidden)]
    pub async fn sign_claims_for_tests(&self, claims: &AccessClaims) -> HubResult<String> {
        // The key set checks the audience and issuer of what it signs; a key set with the
        // claims' own names signs them with the same key.
        let secret = self.shared_key(SIGNING_KEY_META).await?;
        TokenKeys::new(
            &claims.iss,
            &claims.aud,
            SigningKey::from_secret(&secret.0, &secret.1),
            Vec::new(),
        )
        .issue(claims)
        .map_err(|e| HubError::Internal(e.to_string()))
    }
}
