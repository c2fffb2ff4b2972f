//! Datasets: the base registry (built in) and the welfare schemes' beneficiary lists, each
//! with a versioned data spec declared by an administrator or the scheme's organisation, and
//! the data updation policy (which datasets are overdue for a refresh).

use chrono::{DateTime, Duration, Utc};
use sangam_ingest::spec::{DataSpec, SpecError, base_registry};
use sangam_store::{Dataset, DatasetSpecVersion, Role, User};
use serde::Serialize;

use crate::accounts::check_organisation;
use crate::audit::AuditEvent;
use crate::uploads::BASE_DATASET;
use crate::{Hub, HubError, HubResult};

/// The organisation that owns the base registry (the ration-card data of Civil Supplies).
pub const BASE_ORGANISATION: &str = "civil-supplies";
/// How often the base registry is expected to be refreshed.
pub const BASE_UPDATE_FREQUENCY_DAYS: u32 = 30;

/// The text of a spec as sent: TOML or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    Toml,
    Json,
}

impl SpecFormat {
    /// JSON if the text starts with `{`, TOML otherwise.
    pub fn sniff(text: &str) -> Self {
        if text.trim_start().starts_with('{') {
            SpecFormat::Json
        } else {
            SpecFormat::Toml
        }
    }
}

fn spec_error(e: SpecError) -> HubError {
    HubError::Invalid {
        field: "spec".into(),
        code: "spec.invalid",
        message: e.to_string(),
    }
}

fn parse_spec(text: &str, format: SpecFormat) -> HubResult<DataSpec> {
    match format {
        SpecFormat::Toml => DataSpec::from_toml(text),
        SpecFormat::Json => DataSpec::from_json(text),
    }
    .map_err(spec_error)
}

/// A dataset the hub accepts uploads of, with the spec they are validated against now.
#[derive(Debug, Clone)]
pub struct DatasetWithSpec {
    pub dataset: Dataset,
    pub spec: DataSpec,
}

/// One dataset's place on the overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Freshness {
    pub dataset: String,
    pub organisation: String,
    pub update_frequency_days: u32,
    pub last_upload_id: Option<String>,
    pub last_upload_at: Option<DateTime<Utc>>,
    /// When the next upload is (or was) due.
    pub due_at: DateTime<Utc>,
    pub overdue: bool,
    /// Whole days past due (0 when not overdue).
    pub days_overdue: i64,
}

/// Whether `user` may act for `organisation`: administrators for all, a nodal officer for
/// their own.
pub fn acts_for(user: &User, organisation: &str) -> bool {
    match user.role {
        Role::Admin => true,
        Role::NodalOfficer => user.organisation.as_deref() == Some(organisation),
    }
}

/// Refuses the base registry where only a scheme makes sense: it has no enrolments to link,
/// review or be in conflict.
pub(crate) fn refuse_base(name: &str) -> HubResult<()> {
    if name == BASE_DATASET {
        return Err(HubError::Invalid {
            field: "dataset".into(),
            code: "dataset.base",
            message: "the base registry is the residents themselves, not enrolments; links, \
                      reviews and conflicts are per scheme"
                .into(),
        });
    }
    Ok(())
}

impl Hub {
    /// A scheme's dataset whose reports (links, reviews, conflicts, validation) `user` may
    /// have: administrators any, a nodal officer their organisation's. Datasets are listed to
    /// every user, so another organisation's is forbidden rather than hidden; the base
    /// registry has no enrolments and is refused with its own code.
    pub async fn scheme_for(&self, name: &str, user: &User) -> HubResult<Dataset> {
        refuse_base(name)?;
        let dataset = self
            .store
            .dataset(name)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("dataset {name}")))?;
        if !acts_for(user, &dataset.organisation) {
            return Err(HubError::Forbidden(format!(
                "dataset {name} is {}'s: its reports go to that organisation and to hub \
                 administrators",
                dataset.organisation
            )));
        }
        Ok(dataset)
    }

    /// Declares a new dataset with its first spec (version 1). Administrators declare one for
    /// any organisation; a nodal officer only for their own.
    pub async fn create_dataset(
        &self,
        spec_text: &str,
        format: SpecFormat,
        organisation: &str,
        actor: &User,
    ) -> HubResult<DatasetWithSpec> {
        check_organisation(organisation)?;
        if !acts_for(actor, organisation) {
            return Err(HubError::Forbidden(format!(
                "you may declare datasets only for your own organisation, not {organisation}"
            )));
        }
        let spec = parse_spec(spec_text, format)?;
        if spec.dataset == BASE_DATASET {
            return Err(HubError::Invalid {
                field: "spec.dataset".into(),
                code: "dataset.reserved",
                message: "`base` is the built-in base registry; give the scheme its own name"
                    .into(),
            });
        }
        if spec.version != 1 {
            return Err(HubError::Invalid {
                field: "spec.version".into(),
                code: "spec.version",
                message: format!(
                    "a new dataset starts at version 1, not {} (later versions go to \
                     POST /v1/datasets/{}/specs)",
                    spec.version, spec.dataset
                ),
            });
        }
        let now = self.now();
        let dataset = Dataset {
            name: spec.dataset.clone(),
            title: spec.title.clone(),
            organisation: organisation.to_owned(),
            current_version: 1,
            update_frequency_days: spec.update_frequency_days,
            created_by: actor.username.clone(),
            created_at: now,
            updated_at: now,
        };
        let stored = DatasetSpecVersion {
            dataset: spec.dataset.clone(),
            version: 1,
            spec_json: spec.to_json().map_err(spec_error)?,
            created_by: actor.username.clone(),
            created_at: now,
        };
        self.store
            .insert_dataset(&dataset, &stored)
            .await
            .map_err(|e| match e {
                sangam_store::StoreError::Conflict(_) => HubError::Conflict(format!(
                    "dataset {} exists; send a new version of its spec to \
                     POST /v1/datasets/{}/specs",
                    dataset.name, dataset.name
                )),
                other => other.into(),
            })?;
        self.audit(
            &actor.username,
            AuditEvent::DatasetCreated {
                dataset: dataset.name.clone(),
                organisation: dataset.organisation.clone(),
                version: 1,
            },
        )
        .await?;
        Ok(DatasetWithSpec { dataset, spec })
    }

    /// Makes a new version of a dataset's spec current. The version must be the next one.
    pub async fn add_dataset_spec(
        &self,
        name: &str,
        spec_text: &str,
        format: SpecFormat,
        actor: &User,
    ) -> HubResult<DatasetWithSpec> {
        let current = self.dataset(name).await?.dataset;
        if !acts_for(actor, &current.organisation) {
            return Err(HubError::Forbidden(format!(
                "dataset {name} belongs to {}",
                current.organisation
            )));
        }
        let spec = parse_spec(spec_text, format)?;
        if spec.dataset != name {
            return Err(HubError::Invalid {
                field: "spec.dataset".into(),
                code: "spec.dataset_mismatch",
                message: format!(
                    "the spec is for dataset {:?}, but was sent to dataset {name:?}",
                    spec.dataset
                ),
            });
        }
        let next = current.current_version + 1;
        if spec.version != next {
            return Err(HubError::Invalid {
                field: "spec.version".into(),
                code: "spec.version",
                message: format!(
                    "dataset {name} is at version {}; the new spec must be version {next}",
                    current.current_version
                ),
            });
        }
        let now = self.now();
        let dataset = Dataset {
            title: spec.title.clone(),
            current_version: next,
            update_frequency_days: spec.update_frequency_days,
            updated_at: now,
            ..current
        };
        let stored = DatasetSpecVersion {
            dataset: name.to_owned(),
            version: next,
            spec_json: spec.to_json().map_err(spec_error)?,
            created_by: actor.username.clone(),
            created_at: now,
        };
        self.store.add_spec_version(&dataset, &stored).await?;
        self.audit(
            &actor.username,
            AuditEvent::DatasetSpecChanged {
                dataset: name.to_owned(),
                version: next,
            },
        )
        .await?;
        Ok(DatasetWithSpec { dataset, spec })
    }

    /// The base registry as a dataset (it is built in, not stored).
    fn base_dataset(&self) -> DatasetWithSpec {
        let spec = base_registry();
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        DatasetWithSpec {
            dataset: Dataset {
                name: BASE_DATASET.into(),
                title: spec.title.clone(),
                organisation: BASE_ORGANISATION.into(),
                current_version: spec.version,
                update_frequency_days: Some(BASE_UPDATE_FREQUENCY_DAYS),
                created_by: "system".into(),
                created_at: epoch,
                updated_at: epoch,
            },
            spec,
        }
    }

    /// A dataset with its current spec; `base` is the built-in base registry.
    pub async fn dataset(&self, name: &str) -> HubResult<DatasetWithSpec> {
        if name == BASE_DATASET {
            return Ok(self.base_dataset());
        }
        let Some(dataset) = self.store.dataset(name).await? else {
            let known: Vec<String> = std::iter::once(BASE_DATASET.to_owned())
                .chain(self.store.datasets().await?.into_iter().map(|d| d.name))
                .collect();
            return Err(HubError::Invalid {
                field: "dataset".into(),
                code: "dataset.unknown",
                message: format!(
                    "there is no dataset {name:?}; the hub has: {}",
                    known.join(", ")
                ),
            });
        };
        let spec = self.dataset_spec(name, dataset.current_version).await?;
        Ok(DatasetWithSpec { dataset, spec })
    }

    /// One version of a dataset's spec.
    pub async fn dataset_spec(&self, name: &str, version: u32) -> HubResult<DataSpec> {
        if name == BASE_DATASET {
            return Ok(base_registry());
        }
        let stored = self
            .store
            .spec_version(name, version)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("version {version} of dataset {name}")))?;
        DataSpec::from_json(&stored.spec_json).map_err(|e| {
            HubError::Internal(format!(
                "the stored spec version {version} of {name} no longer parses: {e}"
            ))
        })
    }

    /// Every dataset, the base registry first.
    pub async fn datasets(&self) -> HubResult<Vec<Dataset>> {
        let mut all = vec![self.base_dataset().dataset];
        all.extend(self.store.datasets().await?);
        Ok(all)
    }

    /// The data updation policy: every dataset with an expected update frequency, when its
    /// organisation last uploaded it, and whether it is overdue, most overdue first.
    pub async fn dataset_freshness(&self) -> HubResult<Vec<Freshness>> {
        let now = self.now();
        let last = self.store.last_uploads().await?;
        let mut out = Vec::new();
        for d in self.datasets().await? {
            let Some(days) = d.update_frequency_days else {
                continue;
            };
            let latest = last
                .iter()
                .filter(|l| l.dataset == d.name && l.organisation == d.organisation)
                .max_by_key(|l| l.finished_at);
            // A dataset never uploaded is due one period after it was declared (the base
            // registry, built in, is due at once).
            let since = latest.map_or(d.created_at, |l| l.finished_at);
            let due_at = since + Duration::days(i64::from(days));
            let overdue = now > due_at;
            out.push(Freshness {
                dataset: d.name.clone(),
                organisation: d.organisation.clone(),
                update_frequency_days: days,
                last_upload_id: latest.map(|l| l.upload_id.clone()),
                last_upload_at: latest.map(|l| l.finished_at),
                due_at,
                overdue,
                days_overdue: if overdue {
                    (now - due_at).num_days()
                } else {
                    0
                },
            });
        }
        out.sort_by(|a, b| a.due_at.cmp(&b.due_at).then(a.dataset.cmp(&b.dataset)));
        Ok(out)
    }
}
