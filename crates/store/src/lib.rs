//! The storage abstraction of the Sangam hub.
//!
//! One [`Store`] trait, made of one sub-trait per concern, with two implementations in their own
//! crates: `sangam-store-sqlite` (the embedded default) and `sangam-store-postgres`
//! (production). Backends are deliberately thin: rules that must hold whatever the backend (the
//! audit hash chain, the diff of a registry change) live here or in the hub, and every backend
//! runs the same scenario suite (`scenarios` feature) in its tests.

pub mod audit;
pub mod blind_prefix;
pub mod columns;
mod error;
pub mod linking;
pub mod mapping_block;
pub mod raw;
pub mod records;
#[cfg(feature = "scenarios")]
pub mod scenarios;
pub mod sharing;
mod traits;

pub use error::{StoreError, StoreResult};
pub use linking::*;
pub use records::*;
pub use sharing::*;
pub use traits::*;
