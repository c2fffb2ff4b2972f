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
//!   department gets back as a report (`reports.rs`, with the counts and explanations).
//!
//! `validate.rs` answers the same question online for one candidate beneficiary.

pub mod index;
mod job;
pub mod reports;
pub mod review;
pub mod subjects;
pub mod validate;

pub use index::{LinkIndex, Linker};
pub use job::{LinkStep, LinkSummary};

use serde::Serialize;

use crate::{HubError, HubResult};

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

impl LinkPolicy {
    /// Thresholds are probabilities, the review band sits below the link threshold, and a
    /// record in review has at least one candidate.
    pub fn check(&self) -> HubResult<()> {
        let probability = |p: f64| (0.0..=1.0).contains(&p);
        if !probability(self.link_at) || !probability(self.review_at) {
            return Err(HubError::Invalid {
                field: "link_policy".into(),
                code: "link_policy.range",
                message: format!(
                    "link_at ({}) and review_at ({}) are probabilities, from 0 to 1",
                    self.link_at, self.review_at
                ),
            });
        }
        if self.review_at > self.link_at {
            return Err(HubError::Invalid {
                field: "link_policy".into(),
                code: "link_policy.order",
                message: format!(
                    "review_at ({}) must not exceed link_at ({}): records between them go to review",
                    self.review_at, self.link_at
                ),
            });
        }
        if self.review_candidates == 0 {
            return Err(HubError::Invalid {
                field: "link_policy".into(),
                code: "link_policy.candidates",
                message: "a record in review needs at least one candidate".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(p: LinkPolicy) -> Option<&'static str> {
        match p.check() {
            Ok(()) => None,
            Err(HubError::Invalid { code, .. }) => Some(code),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn thresholds_must_be_ordered_probabilities() {
        let default = LinkPolicy::default();
        assert_eq!(code(default), None);
        assert_eq!(
            code(LinkPolicy {
                link_at: 1.2,
                ..default
            }),
            Some("link_policy.range")
        );
        assert_eq!(
            code(LinkPolicy {
                review_at: f64::NAN,
                ..default
            }),
            Some("link_policy.range")
        );
        assert_eq!(
            code(LinkPolicy {
                link_at: 0.5,
                review_at: 0.9,
                ..default
            }),
            Some("link_policy.order")
        );
        assert_eq!(
            code(LinkPolicy {
                review_candidates: 0,
                ..default
            }),
            Some("link_policy.candidates")
        );
    }
}
