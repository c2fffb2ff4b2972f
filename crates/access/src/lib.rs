//! How consuming applications get in, and how the hub keeps them within their agreement.
//!
//! These are the building blocks, free of storage and HTTP so each can be tested alone: the
//! hub's sharing service persists their state and the server applies them on every call.
//!
//! - [`tokens`]: short-lived signed access tokens (EdDSA JWTs) and the published key set;
//! - [`secrets`]: client secrets and their keyed hashes;
//! - [`network`]: IP allow-lists and the client address behind trusted proxies;
//! - [`limits`]: burst rate limits and daily and monthly quotas;
//! - [`scraping`]: signs that an application is harvesting records.

pub mod limits;
pub mod network;
pub mod scraping;
pub mod secrets;
pub mod tokens;
