//! Linking scheme records to residents of the base registry (issue 4, "in the hub").
//!
//! An upload links a row exactly when its ID number's reference key belongs to a resident.
//! Every other row waits as `pending` for the link job, which runs after the upload commits:
//! it looks each record up in the resident index (`index.rs`) with the matching model, and
//!
//! - at or above the link threshold, links it (method `model`);
//! - between the review threshold and the link threshold, puts its best candidates in the
//!   clerical review queue (`review.rs`), where a reviewer accepts or rejects each pair and
//!   the decisions become labels the next model trains with;
//! - below the review threshold, records it as not found in the base data, which the
//!   department gets back as a report.
//!
//! `validate.rs` answers the same question online for one candidate beneficiary.

pub mod index;
mod job;
pub mod review;
pub mod subjects;
pub mod validate;

pub use index::{LinkIndex, Linker};
pub use job::{LinkStep, LinkSummary};

use serde::Serialize;

/// The thresholds that decide what a model match means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LinkPolicy {
    /// At or above: linked without review.
    pub link_at: f64,
    /// At or above (and below `link_at`): a reviewer decides. Below: not found.
    pub review_at: f64,
    /// Candidates put in the queue for one record at most.
    pub review_candidates: usize,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        LinkPolicy {
            link_at: 0.9,
            review_at: 0.5,
            review_candidates: 3,
        }
    }
}
