//! Short-lived signed access tokens and the key set that verifies them.
//!
//! An application exchanges its client id and secret (OAuth 2.0 client credentials) for an
//! access token: a JWT signed with Ed25519 (`alg` `EdDSA`, `typ` `at+jwt` as in RFC 9068) that
//! it then presents on every data request. The server verifies it without a database round
//! trip; what a signature cannot say (the secret behind it was revoked, the application was
//! suspended) the hub checks through the `sid` and `app` claims.
//!
//! Keys rotate: [`TokenKeys`] signs with the current key and still accepts the previous ones
//! until the tokens they signed have expired, and [`TokenKeys::jwks`] publishes all of them so
//! that other parties can verify tokens too.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The `typ` header of our tokens: RFC 9068 asks verifiers to insist on it, so that an ID
/// token or any other JWT signed by the same key cannot pass for an access token.
const TOKEN_TYPE: &str = "at+jwt";

/// The only algorithm accepted, by name, before anything else of the token is looked at.
const ALGORITHM: &str = "EdDSA";

/// How far in the future `iat` may be: the clocks of several server instances drift a little.
const CLOCK_SKEW_SECONDS: i64 = 60;

/// Our tokens are well under 1 KiB; a longer one is refused before it is hashed or decoded,
/// so that a flood of huge headers costs nothing.
const MAX_TOKEN_LENGTH: usize = 8 * 1024;

/// Enough for every token alive at once on a busy hub (tokens live minutes, not days).
const DEFAULT_CACHE_CAPACITY: usize = 100_000;

/// Why a token could not be issued or was refused. Messages never contain the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is not a well-formed JWT with the expected claims")]
    Malformed,
    #[error("the access token is not signed with EdDSA, the only algorithm accepted")]
    UnsupportedAlgorithm,
    #[error("the access token is not of type at+jwt")]
    WrongType,
    #[error("the access token names a signing key that is unknown or retired")]
    UnknownKey,
    #[error("the access token signature does not verify")]
    BadSignature,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token was issued in the future")]
    NotYetValid,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is meant for another audience")]
    WrongAudience,
    #[error("the claims cannot be put in an access token: {0}")]
    InvalidClaims(&'static str),
    #[error("the access token could not be signed: {0}")]
    Signing(String),
}

impl TokenError {
    /// A stable identifier for API error bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "token.malformed",
            TokenError::UnsupportedAlgorithm => "token.unsupported_algorithm",
            TokenError::WrongType => "token.wrong_type",
            TokenError::UnknownKey => "token.unknown_key",
            TokenError::BadSignature => "token.bad_signature",
            TokenError::Expired => "token.expired",
            TokenError::NotYetValid => "token.not_yet_valid",
            TokenError::WrongIssuer => "token.wrong_issuer",
            TokenError::WrongAudience => "token.wrong_audience",
            TokenError::InvalidClaims(_) => "token.invalid_claims",
            TokenError::Signing(_) => "token.signing",
        }
    }
}

/// An Ed25519 key pair and the id (`kid`) tokens name it by.
///
/// The secret half is wiped from memory when the key is dropped (by `ed25519-dalek`); the
/// PKCS#8 copy `jsonwebtoken` signs with cannot be wiped, as that crate does not zeroize it.
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
}

impl SigningKey {
    /// A new random key with a random `kid`.
    pub fn generate() -> SigningKey {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(secret.as_mut());
        // 16 hex digits of a v4 UUID: 60 random bits, plenty to tell a handful of keys apart.
        let uuid = uuid::Uuid::new_v4().simple().to_string();
        SigningKey::from_secret(&uuid[..16], &secret)
    }

    /// The key with this secret, as sealed in the vault by an earlier [`SigningKey::secret`].
    pub fn from_secret(kid: &str, secret: &[u8; 32]) -> SigningKey {
        let key = ed25519_dalek::SigningKey::from_bytes(secret);
        // jsonwebtoken signs with a PKCS#8 document; encoding a valid 32-byte key as one
        // cannot fail.
        let der = key
            .to_pkcs8_der()
            .expect("an Ed25519 key always encodes as PKCS#8");
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        SigningKey {
            kid: kid.to_owned(),
            key,
            encoding,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32-byte secret, for the hub to seal in its vault. Never log it.
    pub fn secret(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(self.public_key()),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("public_key", &URL_SAFE_NO_PAD.encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

/// What an access token says: who holds it, for what, and until when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The client id.
    pub sub: String,
    /// The application id.
    pub app: String,
    /// The id of the client secret that obtained the token, so that revoking the secret cuts
    /// off the tokens it obtained.
    pub sid: String,
    /// One space-separated string in the JWT (RFC 6749 section 3.3, RFC 9068), a list here.
    #[serde(with = "scope_string")]
    pub scope: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub purpose: Option<String>,
    /// `live` or `sandbox`.
    pub env: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

mod scope_string {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(scope: &[String], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&scope.join(" "))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<String>, D::Error> {
        let joined = String::deserialize(deserializer)?;
        Ok(joined
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// A verification key and the id tokens name it by.
struct VerifyingKey {
    kid: String,
    decoding: DecodingKey,
}

/// The issuer's keys: the current one signs, it and the previous ones verify.
///
/// Verified tokens are remembered (by their SHA-256) so that the many requests made with one
/// token pay for one signature check; a remembered token is still refused once expired. A
/// key set rebuilt without a retired key starts with an empty memory, so that key's tokens
/// stop working at once.
pub struct TokenKeys {
    issuer: String,
    audience: String,
    current: SigningKey,
    previous: Vec<SigningKey>,
    verifying: Vec<VerifyingKey>,
    validation: Validation,
    cache: RwLock<HashMap<[u8; 32], AccessClaims>>,
    cache_capacity: usize,
}

impl TokenKeys {
    /// Keys for tokens from `issuer` to `audience`. Should a `kid` appear twice, the first key
    /// with it (the current key first) is the one that verifies.
    pub fn new(
        issuer: &str,
        audience: &str,
        current: SigningKey,
        previous: Vec<SigningKey>,
    ) -> TokenKeys {
        let mut verifying: Vec<VerifyingKey> = Vec::with_capacity(1 + previous.len());
        for key in std::iter::once(&current).chain(&previous) {
            if verifying.iter().all(|known| known.kid != key.kid) {
                verifying.push(VerifyingKey {
                    kid: key.kid.clone(),
                    // Despite its name, jsonwebtoken's Ed25519 verifier reads the raw 32-byte
                    // public key here, not a SubjectPublicKeyInfo DER (tested below).
                    decoding: DecodingKey::from_ed_der(&key.public_key()),
                });
            }
        }

        let mut validation = Validation::new(Algorithm::EdDSA);
        // Time is checked against the injected clock in `check_time`, never the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        // Every claim is required by `AccessClaims` itself.
        validation.required_spec_claims.clear();
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);

        TokenKeys {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            current,
            previous,
            verifying,
            validation,
            cache: RwLock::new(HashMap::new()),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }

    /// The same keys with room for `capacity` remembered tokens (at least one).
    pub fn with_cache_capacity(mut self, capacity: usize) -> TokenKeys {
        self.cache_capacity = capacity.max(1);
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn current_kid(&self) -> &str {
        self.current.kid()
    }

    /// Signs the claims with the current key. Refuses claims that this key set would not
    /// verify back (other issuer or audience, no lifetime) or that do not survive the
    /// space-separated `scope` (an empty or space-containing scope).
    pub fn issue(&self, claims: &AccessClaims) -> Result<String, TokenError> {
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != self.audience {
            return Err(TokenError::WrongAudience);
        }
        if claims.exp <= claims.iat {
            return Err(TokenError::InvalidClaims("exp must be after iat"));
        }
        if claims
            .scope
            .iter()
            .any(|s| s.is_empty() || s.chars().any(|c| c.is_whitespace()))
        {
            return Err(TokenError::InvalidClaims(
                "a scope is empty or contains whitespace",
            ));
        }
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.current.encoding)
            .map_err(|error| TokenError::Signing(error.to_string()))
    }

    /// The claims of a token signed by one of our keys, for our audience, and alive at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_LENGTH {
            return Err(TokenError::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let remembered = self
            .cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        if let Some(claims) = remembered {
            check_time(&claims, now)?;
            return Ok(claims);
        }

        let claims = self.verify_uncached(token)?;
        check_time(&claims, now)?;
        self.remember(digest, &claims, now);
        Ok(claims)
    }

    fn verify_uncached(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let header = peek_header(token)?;
        // Decided on the header alone, before any key is chosen: a token must never get to
        // pick how it is checked (`none`, or HS256 keyed with our public key).
        if header.alg != ALGORITHM {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let typ_ok = header.typ.as_deref().is_some_and(|typ| {
            typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
        });
        if !typ_ok {
            return Err(TokenError::WrongType);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .verifying
            .iter()
            .find(|key| key.kid == kid)
            .ok_or(TokenError::UnknownKey)?;

        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::UnsupportedAlgorithm
                }
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                _ => TokenError::Malformed,
            })?;
        let claims = data.claims;
        // jsonwebtoken checked these already; the exact comparison stays here so that it does
        // not depend on how that crate treats lists of issuers or audiences.
        if claims.iss != self.issuer {
            return Err(TokenError::WrongIssuer);
        }
        if claims.aud != self.audience {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }

    fn remember(&self, digest: [u8; 32], claims: &AccessClaims, now: DateTime<Utc>) {
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= self.cache_capacity {
            let now = now.timestamp();
            cache.retain(|_, claims| claims.exp > now);
            // Still full of live tokens: forgetting them all only costs one signature check
            // each, and keeps this simple and the memory bounded.
            if cache.len() >= self.cache_capacity {
                cache.clear();
            }
        }
        cache.insert(digest, claims.clone());
    }

    #[cfg(test)]
    fn cached(&self) -> usize {
        self.cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The public keys as a JSON Web Key Set (RFC 7517, OKP keys as in RFC 8037): the current
    /// key first, then the previous ones.
    pub fn jwks(&self) -> serde_json::Value {
        let mut published: Vec<&str> = Vec::new();
        let mut keys = Vec::new();
        for key in std::iter::once(&self.current).chain(&self.previous) {
            // A duplicate kid is published once, like it is verified once.
            if !published.contains(&key.kid()) {
                published.push(key.kid());
                keys.push(key.jwk());
            }
        }
        serde_json::json!({ "keys": keys })
    }
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("current", &self.current)
            .field("previous", &self.previous)
            .field("cache_capacity", &self.cache_capacity)
            .finish_non_exhaustive()
    }
}

/// The header fields needed to decide how to verify, read leniently so that an unknown `alg`
/// is reported as unsupported rather than as malformed.
#[derive(Deserialize)]
struct PeekedHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

fn peek_header(token: &str) -> Result<PeekedHeader, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)
}

fn check_time(claims: &AccessClaims, now: DateTime<Utc>) -> Result<(), TokenError> {
    let now = now.timestamp();
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    if claims.iat > now.saturating_add(CLOCK_SKEW_SECONDS) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    const ISSUER: &str = "https://hub.example.in";
    const AUDIENCE: &str = "https://hub.example.in/api";

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0)
            .single()
            .expect("a valid timestamp")
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: "client-1".to_owned(),
            app: "app-1".to_owned(),
            sid: "secret-1".to_owned(),
            scope: vec!["a".to_owned(), "b".to_owned()],
            purpose: Some("scheme eligibility".to_owned()),
            env: "live".to_owned(),
            iat: 1_700_000_000,
            exp: 1_700_000_900,
            jti: "jti-1".to_owned(),
        }
    }

    fn keys() -> TokenKeys {
        TokenKeys::new(ISSUER, AUDIENCE, SigningKey::generate(), Vec::new())
    }

    fn payload_json(token: &str) -> serde_json::Value {
        let payload = token.split('.').nth(1).expect("a payload part");
        let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    }

    fn b64_json(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
    }

    #[test]
    fn key_set_is_shared_across_threads() {
        // The server holds one key set for all its workers.
        fn shared<T: Send + Sync>() {}
        shared::<TokenKeys>();
        shared::<SigningKey>();
    }

    #[test]
    fn round_trip() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(keys.current_kid()));
        assert_eq!(keys.verify(&token, at(1_700_000_100)), Ok(claims()));
        // Again, from the cache.
        assert_eq!(keys.verify(&token, at(1_700_000_200)), Ok(claims()));
        assert_eq!(keys.cached(), 1);
    }

    #[test]
    fn purpose_is_optional() {
        let keys = keys();
        let mut without = claims();
        without.purpose = None;
        let token = keys.issue(&without).expect("issued");
        assert!(payload_json(&token).get("purpose").is_none());
        assert_eq!(keys.verify(&token, at(1_700_000_100)), Ok(without));
    }

    #[test]
    fn reloaded_key_verifies_tokens_of_the_original() {
        let original = SigningKey::generate();
        let reloaded = SigningKey::from_secret(original.kid(), original.secret());
        assert_eq!(original.public_key(), reloaded.public_key());
        let token = TokenKeys::new(ISSUER, AUDIENCE, original, Vec::new())
            .issue(&claims())
            .expect("issued");
        let keys = TokenKeys::new(ISSUER, AUDIENCE, reloaded, Vec::new());
        assert_eq!(keys.verify(&token, at(1_700_000_100)), Ok(claims()));
    }

    #[test]
    fn jwks_lists_current_and_previous_keys() {
        let previous = SigningKey::generate();
        let previous_kid = previous.kid().to_owned();
        let keys = TokenKeys::new(ISSUER, AUDIENCE, SigningKey::generate(), vec![previous]);
        let jwks = keys.jwks();
        let list = jwks["keys"].as_array().expect("a keys array");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["kid"], keys.current_kid());
        assert_eq!(list[1]["kid"], previous_kid.as_str());
        for key in list {
            assert_eq!(key["kty"], "OKP");
            assert_eq!(key["crv"], "Ed25519");
            assert_eq!(key["alg"], "EdDSA");
            assert_eq!(key["use"], "sig");
            let x = URL_SAFE_NO_PAD
                .decode(key["x"].as_str().expect("x is a string"))
                .expect("x is base64url");
            assert_eq!(x.len(), 32);
            assert!(key.get("d").is_none(), "no private part");
        }
    }

    #[test]
    fn jwks_key_verifies_through_jsonwebtoken() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(keys.jwks()).expect("a JWK set jsonwebtoken reads");
        let jwk = jwks.find(keys.current_kid()).expect("the current key");
        let decoding = DecodingKey::from_jwk(jwk).expect("a decoding key");
        let data = jsonwebtoken::decode::<AccessClaims>(&token, &decoding, &keys.validation)
            .expect("verifies");
        assert_eq!(data.claims, claims());
    }

    #[test]
    fn other_key_with_the_same_kid_is_a_bad_signature() {
        let keys = keys();
        let impostor = SigningKey::from_secret(keys.current_kid(), &[7u8; 32]);
        let token = TokenKeys::new(ISSUER, AUDIENCE, impostor, Vec::new())
            .issue(&claims())
            .expect("issued");
        assert_eq!(
            keys.verify(&token, at(1_700_000_100)),
            Err(TokenError::BadSignature)
        );
        assert_eq!(keys.cached(), 0);
    }

    #[test]
    fn tampered_payload_is_a_bad_signature() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        let mut payload = payload_json(&token);
        payload["scope"] = "a b admin".into();
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64_json(&payload), parts[2]);
        assert_eq!(
            keys.verify(&tampered, at(1_700_000_100)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = keys();
        let header = serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": keys.current_kid()});
        let payload = serde_json::to_value(claims()).expect("JSON");
        for signature in ["", "c2lnbmF0dXJl"] {
            let token = format!("{}.{}.{signature}", b64_json(&header), b64_json(&payload));
            assert_eq!(
                keys.verify(&token, at(1_700_000_100)),
                Err(TokenError::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn hs256_keyed_with_the_public_key_is_refused() {
        let keys = keys();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(keys.current_kid().to_owned());
        let public = keys.current.public_key();
        let x = URL_SAFE_NO_PAD.encode(public);
        for secret in [public.as_slice(), x.as_bytes()] {
            let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret))
                .expect("HS256 token");
            assert_eq!(
                keys.verify(&token, at(1_700_000_100)),
                Err(TokenError::UnsupportedAlgorithm)
            );
        }
    }

    #[test]
    fn other_type_is_refused() {
        let keys = keys();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.current_kid().to_owned());
        let token = jsonwebtoken::encode(&header, &claims(), &keys.current.encoding)
            .expect("signed with our key, typ JWT");
        assert_eq!(
            keys.verify(&token, at(1_700_000_100)),
            Err(TokenError::WrongType)
        );
    }

    #[test]
    fn expiry_follows_the_injected_clock() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        // Long past by the system clock, valid by the injected one.
        assert!(keys.verify(&token, at(1_700_000_899)).is_ok());
        assert_eq!(
            keys.verify(&token, at(1_700_000_900)),
            Err(TokenError::Expired)
        );
        // iat up to a minute ahead is clock skew; beyond, the token is not valid yet.
        assert!(keys.verify(&token, at(1_700_000_000 - 60)).is_ok());
        assert_eq!(
            keys.verify(&token, at(1_700_000_000 - 61)),
            Err(TokenError::NotYetValid)
        );
        // The same without the cache.
        let fresh = TokenKeys::new(ISSUER, AUDIENCE, keys.current, Vec::new());
        assert_eq!(
            fresh.verify(&token, at(1_700_000_000 - 61)),
            Err(TokenError::NotYetValid)
        );
        assert_eq!(
            fresh.verify(&token, at(1_700_000_900)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn cached_token_is_still_refused_once_expired() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        assert!(keys.verify(&token, at(1_700_000_100)).is_ok());
        assert_eq!(keys.cached(), 1);
        assert_eq!(
            keys.verify(&token, at(1_700_000_900)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token, at(1_700_001_000)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn cache_stays_bounded() {
        let keys = keys().with_cache_capacity(3);
        let mut tokens = Vec::new();
        for i in 0..10 {
            let mut c = claims();
            c.jti = format!("jti-{i}");
            // Half of them short-lived, so that the eviction of expired entries has work.
            c.exp = if i % 2 == 0 {
                1_700_000_200
            } else {
                1_700_000_900
            };
            tokens.push(keys.issue(&c).expect("issued"));
        }
        for (i, token) in tokens.iter().enumerate() {
            let now = if i < 5 { 1_700_000_100 } else { 1_700_000_300 };
            let result = keys.verify(token, at(now));
            assert_eq!(result.is_ok(), i < 5 || i % 2 == 1, "token {i}");
            assert!(keys.cached() <= 3);
        }
    }

    #[test]
    fn wrong_audience_and_issuer_are_refused() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        let other_audience = TokenKeys::new(
            ISSUER,
            "https://other.example.in",
            SigningKey::from_secret(keys.current_kid(), keys.current.secret()),
            Vec::new(),
        );
        assert_eq!(
            other_audience.verify(&token, at(1_700_000_100)),
            Err(TokenError::WrongAudience)
        );
        let other_issuer = TokenKeys::new(
            "https://other.example.in",
            AUDIENCE,
            SigningKey::from_secret(keys.current_kid(), keys.current.secret()),
            Vec::new(),
        );
        assert_eq!(
            other_issuer.verify(&token, at(1_700_000_100)),
            Err(TokenError::WrongIssuer)
        );
    }

    #[test]
    fn issue_refuses_claims_it_would_not_verify() {
        let keys = keys();
        let mut c = claims();
        c.aud = "elsewhere".to_owned();
        assert_eq!(keys.issue(&c), Err(TokenError::WrongAudience));
        let mut c = claims();
        c.iss = "elsewhere".to_owned();
        assert_eq!(keys.issue(&c), Err(TokenError::WrongIssuer));
        let mut c = claims();
        c.scope = vec!["a b".to_owned()];
        assert_eq!(
            keys.issue(&c).map_err(|e| e.code()),
            Err("token.invalid_claims")
        );
        let mut c = claims();
        c.exp = c.iat;
        assert_eq!(
            keys.issue(&c).map_err(|e| e.code()),
            Err("token.invalid_claims")
        );
    }

    #[test]
    fn unknown_kid_is_refused() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        let stranger = TokenKeys::new(ISSUER, AUDIENCE, SigningKey::generate(), Vec::new());
        assert_eq!(
            stranger.verify(&token, at(1_700_000_100)),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn previous_key_verifies_until_dropped() {
        let old = SigningKey::generate();
        let (old_kid, old_secret) = (old.kid().to_owned(), *old.secret());
        let token = TokenKeys::new(ISSUER, AUDIENCE, old, Vec::new())
            .issue(&claims())
            .expect("issued");

        let rotated = TokenKeys::new(
            ISSUER,
            AUDIENCE,
            SigningKey::generate(),
            vec![SigningKey::from_secret(&old_kid, &old_secret)],
        );
        assert_eq!(rotated.verify(&token, at(1_700_000_100)), Ok(claims()));
        let new_token = rotated.issue(&claims()).expect("issued");
        assert_ne!(
            jsonwebtoken::decode_header(&new_token)
                .expect("header")
                .kid
                .as_deref(),
            Some(old_kid.as_str())
        );

        let retired = TokenKeys::new(ISSUER, AUDIENCE, rotated.current, Vec::new());
        assert_eq!(
            retired.verify(&token, at(1_700_000_100)),
            Err(TokenError::UnknownKey)
        );
        assert!(retired.verify(&new_token, at(1_700_000_100)).is_ok());
    }

    #[test]
    fn scope_is_one_space_separated_string() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        assert_eq!(payload_json(&token)["scope"], "a b");
        let back = keys.verify(&token, at(1_700_000_100)).expect("verifies");
        assert_eq!(back.scope, vec!["a".to_owned(), "b".to_owned()]);

        let mut none = claims();
        none.scope = Vec::new();
        let token = keys.issue(&none).expect("issued");
        assert_eq!(payload_json(&token)["scope"], "");
        assert_eq!(
            keys.verify(&token, at(1_700_000_100)).map(|c| c.scope),
            Ok(Vec::new())
        );
    }

    #[test]
    fn junk_is_malformed() {
        let keys = keys();
        for junk in [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "!!!.e30.sig",
            &"a".repeat(MAX_TOKEN_LENGTH + 1),
        ] {
            assert_eq!(
                keys.verify(junk, at(1_700_000_100)),
                Err(TokenError::Malformed),
                "{junk:.20}"
            );
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = SigningKey::from_secret("k1", &[42u8; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("k1"));
        assert!(!shown.contains("42, 42"));
        assert!(!shown.contains(&URL_SAFE_NO_PAD.encode([42u8; 32])));
        let keys = TokenKeys::new(ISSUER, AUDIENCE, key, Vec::new());
        assert!(!format!("{keys:?}").contains("42, 42"));
    }

    #[test]
    fn error_messages_do_not_echo_the_token() {
        let keys = keys();
        let token = keys.issue(&claims()).expect("issued");
        let error = keys.verify(&token, at(1_800_000_000)).expect_err("expired");
        assert_eq!(error.code(), "token.expired");
        assert!(!error.to_string().contains(&token[..20]));
    }
}
