//! Record linkage for Indian welfare data, usable without the hub.
//!
//! The engine answers "is this the same person?" between records that may lack an ID
//! number and spell names many ways. The steps, each in its own module:
//!
//! - [`roles`]: what each input column means, recognised from common header names;
//! - [`normalise`]: names folded across transliterations, dates in any layout or as ages,
//!   numbers, places and addresses;
//! - [`compare`]: levels of agreement per field;
//! - [`blocking`]: which pairs are worth comparing, by several keys with bounded blocks;
//! - [`model`]: Fellegi–Sunter weights, `u` from random pairs and `m` by expectation
//!   maximisation, with term-frequency adjustments and optional reviewer labels;
//! - [`cluster`]: pairs joined into persons, never two ID numbers in one;
//! - [`engine`]: training and running a linkage or de-duplication;
//! - [`io`]: CSV files in and out, and the configuration file.
//!
//! ```
//! use sangam_matching::{Engine, Options, Task, record::RawFields, roles::{DateKind, Role}};
//!
//! let people = [("Lakshmi Devi", "12-04-1980"), ("Laxmi Devy", "1980-04-12"), ("Ramesh Kumar", "01-06-1975")];
//! let records: Vec<_> = people
//!     .iter()
//!     .map(|(name, dob)| {
//!         let mut raw = RawFields::new();
//!         raw.push(Role::FullName, DateKind::Date, name).push(Role::BirthDate, DateKind::Date, dob);
//!         raw.prepare(chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap())
//!     })
//!     .collect();
//! let engine = Engine::train(Task::Dedupe(&records), Options::default()).unwrap();
//! let outcome = engine.run(Task::Dedupe(&records));
//! assert_eq!(outcome.cluster[0], outcome.cluster[1]);
//! assert_ne!(outcome.cluster[0], outcome.cluster[2]);
//! ```

pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod engine;
pub mod error;
pub mod io;
pub mod model;
pub mod normalise;
pub mod record;
pub mod roles;

pub use engine::{Engine, IdPolicy, Options, Outcome, Task, TrainingReport};
pub use error::MatchError;
pub use model::Explanation;
pub use record::Record;
