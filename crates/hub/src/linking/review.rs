//! The clerical review queue: pairs the model was unsure of, each with its explanation, for a
//! reviewer of the dataset's organisation (or an administrator) to accept or reject. Accepting
//! links the record; rejecting every candidate of a record reports it not found. Decisions
//! are kept and train the next model as labels.

use sangam_store::{MatchReview, ReviewStatus, Role, User};

use crate::audit::AuditEvent;
use crate::{Hub, HubError, HubResult};

impl Hub {
    /// Pairs in the queue, oldest first after `after`; of one dataset and status when given.
    /// A nodal officer must name one of their organisation's datasets.
    pub async fn match_reviews(
        &self,
        user: &User,
        dataset: Option<&str>,
        status: Option<ReviewStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> HubResult<Vec<MatchReview>> {
        if !(1..=500).contains(&limit) {
            return Err(HubError::Invalid {
                field: "limit".into(),
                code: "limit.range",
                message: "must be between 1 and 500".into(),
            });
        }
        match dataset {
            Some(name) => {
                self.scheme_for(name, user).await?;
            }
            None if user.role != Role::Admin => {
                return Err(HubError::Invalid {
                    field: "dataset".into(),
                    code: "field.missing",
                    message: "name the dataset whose review queue you want".into(),
                });
            }
            None => {}
        }
        Ok(self
            .store
            .match_reviews(dataset, status, after, limit)
            .await?)
    }

    /// One pair, with the model's explanation, if `user` may review its dataset.
    pub async fn match_review(&self, id: &str, user: &User) -> HubResult<MatchReview> {
        let review = self
            .store
            .match_review(id)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("review {id}")))?;
        self.scheme_for(&review.dataset, user)
            .await
            .map_err(|_| HubError::NotFound(format!("review {id}")))?;
        Ok(review)
    }

    /// Records a reviewer's verdict: `true` for the same person.
    pub async fn decide_match_review(
        &self,
        id: &str,
        same_person: bool,
        user: &User,
    ) -> HubResult<MatchReview> {
        self.match_review(id, user).await?;
        let actor = user.username.as_str();
        let verdict = if same_person {
            ReviewStatus::Accepted
        } else {
            ReviewStatus::Rejected
        };
        let decided = self
            .store
            .decide_match_review(id, verdict, actor, self.now())
            .await?;
        self.audit(
            actor,
            AuditEvent::MatchReviewDecided {
                review_id: decided.id.clone(),
                dataset: decided.dataset.clone(),
                record_key: decided.record_key.clone(),
                accepted: same_person,
            },
        )
        .await?;
        Ok(decided)
    }
}
